# The TCP backend's kernel half: the stream fold on crafted byte streams and
# the SK_LOOKUP steering, over lo in namespaces the tests create (root only).
sgbpf_test(test_tcp_stream SOURCES test_tcp_stream.c LIBS sgbpf_netns_util pthread TIMEOUT 300
  LABELS root)
# Its custom reductions: the example, and an object with UDP programs only.
add_dependencies(test_tcp_stream sgbpf_example_sum_sat sgbpf_test_reducer_no_abi)
sgbpf_test(test_tcp_steer SOURCES test_tcp_steer.c LIBS sgbpf_netns_util TIMEOUT 60 LABELS root)
# A foreign SK_LOOKUP program that must keep working next to ours.
sgbpf_bpf_skeleton(sgbpf_test_foreign_lookup SOURCES tcp_foreign_lookup.bpf.c)
target_link_libraries(test_tcp_steer PRIVATE sgbpf_test_foreign_lookup_skel)
# The TCP backend end to end: a service against `sgbpf worker --backend tcp`
# farms over lo in a namespace (root only).
sgbpf_test(test_tcp_e2e SOURCES test_tcp_e2e.c LIBS sgbpf_netns_util TIMEOUT 180 LABELS root)
add_dependencies(test_tcp_e2e sgbpf_cli)
# Fate allow over TCP: every counted reply read whole, however late the
# application reads and however soon the worker hangs up (root only).
sgbpf_test(test_tcp_allow SOURCES test_tcp_allow.c LIBS sgbpf_netns_util TIMEOUT 180 LABELS root)
add_dependencies(test_tcp_allow sgbpf_cli)
# The TCP backend over veth between two namespaces, with segments dropped
# and duplicated by a TC ingress program of the test's own (root only).
# SGBPF_TCP_LOSS_FULL=1 runs every fan-out x reply size x loss pattern.
sgbpf_bpf_skeleton(sgbpf_test_tcp_loss SOURCES tcp_loss.bpf.c INCLUDES ${CMAKE_CURRENT_SOURCE_DIR})
# The injector on its veth pair, for every test that runs a service under loss.
add_library(sgbpf_tcp_loss_rig STATIC ${CMAKE_CURRENT_SOURCE_DIR}/tcp_loss_rig.c)
target_link_libraries(sgbpf_tcp_loss_rig PUBLIC sgbpf_netns_util sgbpf_test_tcp_loss_skel)
sgbpf_test(test_tcp_loss SOURCES test_tcp_loss.c LIBS sgbpf_tcp_loss_rig TIMEOUT 300 LABELS root)
add_dependencies(test_tcp_loss sgbpf_cli)
# Control-fd delivery over TCP: notes redirected into the control socket,
# each completion announced once, a full control socket losing nothing (root only).
sgbpf_test(test_tcp_ctrl SOURCES test_tcp_ctrl.c LIBS sgbpf_netns_util TIMEOUT 240 LABELS root)
add_dependencies(test_tcp_ctrl sgbpf_cli)
# The stream program's completion notes on crafted byte streams: which skb
# becomes a note, what it names, what is left to the scan (root only).
sgbpf_test(test_tcp_notes SOURCES test_tcp_notes.c LIBS sgbpf_netns_util TIMEOUT 60 LABELS root)
# `sgbpf gather --backend tcp` against TCP workers written apart from sgbpf's
# code, from its documentation (tests/workers/sgbpf_worker.py, python3), over
# veth with and without loss (root only).
sgbpf_test(test_tcp_pyworker SOURCES test_tcp_pyworker.c LIBS sgbpf_tcp_loss_rig TIMEOUT 180
  LABELS root)
target_compile_definitions(test_tcp_pyworker PRIVATE
  SGBPF_PY_WORKER="${CMAKE_CURRENT_SOURCE_DIR}/workers/sgbpf_worker.py")
add_dependencies(test_tcp_pyworker sgbpf_cli)
