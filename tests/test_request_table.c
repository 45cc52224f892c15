// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The user-space request table: slots, id wrap, -EBUSY, deadlines. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "request_table.h"

static struct sgbpf_reqtab t;

static void setup(void)
{
	ck_assert_int_eq(sgbpf_reqtab_init(&t, 8), 0);
}

static void teardown(void)
{
	sgbpf_reqtab_free(&t);
}

START_TEST(test_sizes)
{
	struct sgbpf_reqtab bad;

	ck_assert_int_eq(sgbpf_reqtab_init(&bad, 6), -EINVAL);
	ck_assert_int_eq(sgbpf_reqtab_init(&bad, 0), -EINVAL);
}
END_TEST

START_TEST(test_busy_when_full)
{
	uint32_t id;

	for (int i = 0; i < 8; i++)
		ck_assert_int_ge(sgbpf_reqtab_alloc(&t, 0, 0, NULL, &id), 0);
	ck_assert_int_eq(sgbpf_reqtab_alloc(&t, 0, 0, NULL, &id), -EBUSY);
	ck_assert_uint_eq(t.inflight, 8);
	sgbpf_reqtab_release(&t, 3);
	ck_assert_int_eq(sgbpf_reqtab_alloc(&t, 0, 0, NULL, &id), 3);
	ck_assert_uint_eq(id & 7, 3);
}
END_TEST

START_TEST(test_ids_skip_busy_slots_and_zero)
{
	uint32_t id, slow;
	int slot;

	t.next_id = UINT32_MAX - 2;
	slot = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &slow);	/* stays in flight */
	ck_assert_uint_eq(slow, UINT32_MAX - 2);
	for (int i = 0; i < 20; i++) {
		slot = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &id);
		ck_assert_int_ge(slot, 0);
		ck_assert_uint_ne(id, 0);
		ck_assert_uint_ne(id & 7, slow & 7);
		ck_assert_ptr_eq(sgbpf_reqtab_find(&t, id), &t.reqs[slot]);
		sgbpf_reqtab_release(&t, slot);
		/* Released: the id is not found any more (late event). */
		ck_assert_ptr_null(sgbpf_reqtab_find(&t, id));
	}
	ck_assert_ptr_nonnull(sgbpf_reqtab_find(&t, slow));
	/* An id of the same slot but another round is not the request. */
	ck_assert_ptr_null(sgbpf_reqtab_find(&t, slow + 8));
}
END_TEST

START_TEST(test_deadlines_in_order)
{
	uint64_t timeouts[] = { 500, 100, 900, 300, 700 };
	uint32_t ids[5];
	int slots[5], due;

	for (int i = 0; i < 5; i++)
		slots[i] = sgbpf_reqtab_alloc(&t, 1000, timeouts[i], NULL, &ids[i]);
	ck_assert_uint_eq(sgbpf_reqtab_next_deadline(&t), 1100);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 1099), -1);
	/* Releasing the earliest moves the next one up. */
	sgbpf_reqtab_release(&t, slots[1]);
	ck_assert_uint_eq(sgbpf_reqtab_next_deadline(&t), 1300);
	sgbpf_reqtab_release(&t, slots[2]);
	due = sgbpf_reqtab_due(&t, 2000);
	ck_assert_int_eq(due, slots[3]);
	sgbpf_reqtab_release(&t, due);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 2000), slots[0]);
	sgbpf_reqtab_release(&t, slots[0]);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 2000), slots[4]);
	sgbpf_reqtab_release(&t, slots[4]);
	ck_assert_uint_eq(sgbpf_reqtab_next_deadline(&t), 0);
	ck_assert_uint_eq(t.inflight, 0);
}
END_TEST

START_TEST(test_live_array_tracks_inflight)
{
	uint32_t id;
	int slots[6];

	for (int i = 0; i < 6; i++)
		slots[i] = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &id);
	sgbpf_reqtab_release(&t, slots[0]);
	sgbpf_reqtab_release(&t, slots[4]);
	ck_assert_uint_eq(t.inflight, 4);
	for (uint32_t i = 0; i < t.inflight; i++) {
		uint32_t s = sgbpf_reqtab_live(&t, i);

		ck_assert(t.reqs[s].busy);
		ck_assert_uint_eq(t.reqs[s].live_pos, i);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("request_table");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_busy_when_full);
	tcase_add_test(tc, test_ids_skip_busy_slots_and_zero);
	tcase_add_test(tc, test_deadlines_in_order);
	tcase_add_test(tc, test_live_array_tracks_inflight);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
