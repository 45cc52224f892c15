// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The user-space request table: slots, id wrap, -EBUSY, deadlines. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "request_table.h"
#include "suite_run.h"

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

	sgbpf_reqtab_set_id_counter(&t, UINT32_MAX - 2);
	slot = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &slow);	/* stays in flight */
	ck_assert_int_eq(slot, (UINT32_MAX - 2) & 7);
	for (int i = 0; i < 40; i++) {
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

/*
 * Ids are not predictable from the ones before: neither consecutive nor
 * one slot-count apart on the same slot, and two tables do not agree.
 */
START_TEST(test_ids_not_sequential)
{
	uint32_t ids[1000], prev_of_slot[8] = { 0 }, id;
	int consecutive = 0, same_step = 0, slot;
	struct sgbpf_reqtab other;
	int differ = 0;

	for (int i = 0; i < 1000; i++) {
		slot = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &ids[i]);
		ck_assert_int_ge(slot, 0);
		sgbpf_reqtab_release(&t, slot);
		if (i && ids[i] == ids[i - 1] + 1)
			consecutive++;
		if (prev_of_slot[slot] && ids[i] == prev_of_slot[slot] + 8)
			same_step++;
		prev_of_slot[slot] = ids[i];
	}
	ck_assert_msg(consecutive < 10, "%d of 1000 ids follow the previous one", consecutive);
	ck_assert_msg(same_step < 10, "%d of 1000 ids are the slot's previous id + 8", same_step);
	ck_assert_int_eq(sgbpf_reqtab_init(&other, 8), 0);
	for (int i = 0; i < 16; i++) {
		slot = sgbpf_reqtab_alloc(&other, 0, 0, NULL, &id);
		sgbpf_reqtab_release(&other, slot);
		differ += id != ids[i];
	}
	sgbpf_reqtab_free(&other);
	ck_assert_msg(differ > 8, "two tables issued %d of 16 ids alike", 16 - differ);
}
END_TEST

/*
 * Over a full cycle of its counter a slot gets every high-bit value once:
 * no id repeats on a slot before 2^(32 - slot bits) opens, and 0 comes up
 * only on slot 0 (where alloc skips it).
 */
START_TEST(test_ids_unique_per_slot_over_a_cycle)
{
	static const uint32_t sizes[] = { 65536, 4096 };
	uint8_t *seen;

	for (unsigned int k = 0; k < 2; k++) {
		struct sgbpf_reqtab big;
		uint32_t bits, cycle, slots[3];

		ck_assert_int_eq(sgbpf_reqtab_init(&big, sizes[k]), 0);
		bits = 32 - (uint32_t)__builtin_ctz(sizes[k]);
		cycle = 1u << bits;
		slots[0] = 0;
		slots[1] = 1;
		slots[2] = sizes[k] - 1;
		seen = calloc(cycle / 8, 1);
		ck_assert_ptr_nonnull(seen);
		for (int j = 0; j < 3; j++) {
			uint32_t zeros = 0;

			memset(seen, 0, cycle / 8);
			for (uint32_t c = 0; c < cycle; c++) {
				uint32_t id = sgbpf_reqtab_id_at(&big, slots[j], c);
				uint32_t high = id >> (32 - bits);

				/* Check writes to a pipe per assertion: test, then fail. */
				if ((id & (sizes[k] - 1)) != slots[j])
					ck_abort_msg("id %#x is not of slot %u", id, slots[j]);
				if (seen[high / 8] & (1u << (high % 8)))
					ck_abort_msg("slot %u: id %#x twice within a cycle", slots[j], id);
				seen[high / 8] |= (uint8_t)(1u << (high % 8));
				zeros += id == 0;
			}
			ck_assert_uint_eq(zeros, slots[j] == 0 ? 1 : 0);
		}
		free(seen);
		sgbpf_reqtab_free(&big);
	}
}
END_TEST

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* One slot, all 32 bits permuted: what alloc hands out never repeats and is never 0. */
START_TEST(test_alloc_ids_distinct)
{
	enum { N = 200000 };
	struct sgbpf_reqtab one;
	uint32_t *ids = calloc(N, sizeof(*ids));

	ck_assert_ptr_nonnull(ids);
	ck_assert_int_eq(sgbpf_reqtab_init(&one, 1), 0);
	for (int i = 0; i < N; i++) {
		if (sgbpf_reqtab_alloc(&one, 0, 0, NULL, &ids[i]) != 0 || ids[i] == 0 ||
		    ids[i] != sgbpf_reqtab_id_at(&one, 0, (uint32_t)i))
			ck_abort_msg("open %d: id %#x", i, ids[i]);
		sgbpf_reqtab_release(&one, 0);
	}
	qsort(ids, N, sizeof(*ids), cmp_u32);
	for (int i = 1; i < N; i++) {
		if (ids[i] == ids[i - 1])
			ck_abort_msg("id %#x issued twice", ids[i]);
	}
	sgbpf_reqtab_free(&one);
	free(ids);
}
END_TEST

/* Slot 0 skips the counter value whose id would be 0. */
START_TEST(test_alloc_skips_zero)
{
	struct sgbpf_reqtab big;
	uint32_t c0 = UINT32_MAX, id;

	ck_assert_int_eq(sgbpf_reqtab_init(&big, 65536), 0);
	for (uint32_t c = 0; c < 65536 && c0 == UINT32_MAX; c++) {
		if (sgbpf_reqtab_id_at(&big, 0, c) == 0)
			c0 = c;
	}
	ck_assert_uint_ne(c0, UINT32_MAX);
	sgbpf_reqtab_set_id_counter(&big, c0 << 16);	/* slot 0 at c0, cursor on 0 */
	ck_assert_int_eq(sgbpf_reqtab_alloc(&big, 0, 0, NULL, &id), 0);
	ck_assert_uint_ne(id, 0);
	ck_assert_uint_eq(id, sgbpf_reqtab_id_at(&big, 0, c0 + 1));
	sgbpf_reqtab_free(&big);
}
END_TEST

/*
 * sgbpf_reqtab_set_id_counter(counter): the id space wraps after
 * 2^32 - counter more ids, i.e. every slot is back at its first id.
 */
START_TEST(test_set_id_counter_wraps)
{
	uint32_t first[8], id, all[64];
	int slot;

	for (int i = 0; i < 8; i++) {
		slot = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &first[i]);
		ck_assert_int_eq(slot, i);
		sgbpf_reqtab_release(&t, slot);
	}
	sgbpf_reqtab_set_id_counter(&t, (uint32_t)(0x100000000ull - 64));
	for (int i = 0; i < 64; i++) {
		slot = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &all[i]);
		ck_assert_int_eq(slot, i & 7);
		ck_assert_uint_ne(all[i], 0);
		sgbpf_reqtab_release(&t, slot);
		for (int j = 0; j < 8; j++)
			ck_assert_msg(all[i] != first[j], "id %#x came back %d ids before the wrap",
				      all[i], 64 - i);
	}
	qsort(all, 64, sizeof(all[0]), cmp_u32);
	for (int i = 1; i < 64; i++)
		ck_assert_uint_ne(all[i], all[i - 1]);
	/* The 65th: every slot starts its cycle again. */
	for (int i = 0; i < 8; i++) {
		slot = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &id);
		ck_assert_int_eq(slot, i);
		ck_assert_uint_eq(id, first[i]);
		sgbpf_reqtab_release(&t, slot);
	}
	/* An uneven counter: the first (counter % nslots) slots are one open ahead. */
	sgbpf_reqtab_set_id_counter(&t, (uint32_t)(0x100000000ull - 3));
	for (int i = 0; i < 3; i++) {
		slot = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &id);
		ck_assert_int_eq(slot, 5 + i);
		sgbpf_reqtab_release(&t, slot);
	}
	for (int i = 0; i < 8; i++) {
		slot = sgbpf_reqtab_alloc(&t, 0, 0, NULL, &id);
		ck_assert_int_eq(slot, i);
		ck_assert_uint_eq(id, first[i]);
		sgbpf_reqtab_release(&t, slot);
	}
}
END_TEST

/*
 * A re-scatter time is a timer like a deadline: the earlier of the two
 * orders the request, with or without a deadline, and clearing it leaves
 * the deadline alone.
 */
START_TEST(test_retry_timers)
{
	uint32_t ids[3];
	int slots[3];

	slots[0] = sgbpf_reqtab_alloc(&t, 1000, 100, NULL, &ids[0]);	/* deadline 1100 */
	slots[1] = sgbpf_reqtab_alloc(&t, 1000, 300, NULL, &ids[1]);	/* deadline 1300 */
	slots[2] = sgbpf_reqtab_alloc(&t, 1000, 0, NULL, &ids[2]);	/* none */
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 1100);
	sgbpf_reqtab_set_retry(&t, slots[1], 1050);
	ck_assert_uint_eq(t.reqs[slots[1]].retry_ns, 1050);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 1050);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 1049), -1);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 1050), slots[1]);
	/* The next re-scatter later than its deadline: the deadline comes first. */
	sgbpf_reqtab_set_retry(&t, slots[1], 1400);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 1100);
	sgbpf_reqtab_release(&t, slots[0]);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 1300);
	/* A request without a deadline gets a timer of its own. */
	sgbpf_reqtab_set_retry(&t, slots[2], 1200);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 1200);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 1250), slots[2]);
	sgbpf_reqtab_set_retry(&t, slots[2], 0);
	ck_assert_uint_eq(t.reqs[slots[2]].retry_ns, 0);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 1300);
	ck_assert_uint_eq(t.reqs[slots[1]].deadline_ns, 1300);
	sgbpf_reqtab_set_retry(&t, slots[1], 0);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 1300), slots[1]);
	/* Released with a re-scatter pending: its timer goes with it. */
	sgbpf_reqtab_set_retry(&t, slots[2], 5000);
	sgbpf_reqtab_release(&t, slots[2]);
	sgbpf_reqtab_release(&t, slots[1]);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 0);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 10000), -1);
	/* A slot's next request starts without one. */
	slots[2] = sgbpf_reqtab_alloc(&t, 6000, 0, NULL, &ids[2]);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 0);
	ck_assert_uint_eq(t.reqs[slots[2]].retry_ns, 0);
}
END_TEST

START_TEST(test_deadlines_in_order)
{
	uint64_t timeouts[] = { 500, 100, 900, 300, 700 };
	uint32_t ids[5];
	int slots[5], due;

	for (int i = 0; i < 5; i++)
		slots[i] = sgbpf_reqtab_alloc(&t, 1000, timeouts[i], NULL, &ids[i]);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 1100);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 1099), -1);
	/* Releasing the earliest moves the next one up. */
	sgbpf_reqtab_release(&t, slots[1]);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 1300);
	sgbpf_reqtab_release(&t, slots[2]);
	due = sgbpf_reqtab_due(&t, 2000);
	ck_assert_int_eq(due, slots[3]);
	sgbpf_reqtab_release(&t, due);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 2000), slots[0]);
	sgbpf_reqtab_release(&t, slots[0]);
	ck_assert_int_eq(sgbpf_reqtab_due(&t, 2000), slots[4]);
	sgbpf_reqtab_release(&t, slots[4]);
	ck_assert_uint_eq(sgbpf_reqtab_next_timer(&t), 0);
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

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_busy_when_full);
	tcase_add_test(tc, test_ids_skip_busy_slots_and_zero);
	tcase_add_test(tc, test_ids_not_sequential);
	tcase_add_test(tc, test_ids_unique_per_slot_over_a_cycle);
	tcase_add_test(tc, test_alloc_ids_distinct);
	tcase_add_test(tc, test_alloc_skips_zero);
	tcase_add_test(tc, test_set_id_counter_wraps);
	tcase_add_test(tc, test_deadlines_in_order);
	tcase_add_test(tc, test_retry_timers);
	tcase_add_test(tc, test_live_array_tracks_inflight);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
