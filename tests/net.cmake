# Interfaces, qdiscs and attachments; all of it inside namespaces the tests create.

# Namespace helpers for any test that needs a network of its own: link
# sgbpf_netns_util (LIBS sgbpf_netns_util) and include "netns_util.h".  The same
# library runs the command line (cli_run.h), starts reference workers
# (worker_farm.h), waits for a service over them (svc_wait.h) and sets up a
# veth pair or a lo namespace for them (netns_topo.h); netns_suite_run()
# (netns_suite.h) ends such a test's main().  It links the reference workers'
# reply contents (sgbpf_reply_gen), with which svc_wait.c checks results.
add_library(sgbpf_netns_util STATIC ${CMAKE_CURRENT_SOURCE_DIR}/netns_util.c
  ${CMAKE_CURRENT_SOURCE_DIR}/worker_farm.c ${CMAKE_CURRENT_SOURCE_DIR}/cli_run.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_wait.c ${CMAKE_CURRENT_SOURCE_DIR}/netns_topo.c
  ${CMAKE_CURRENT_SOURCE_DIR}/netns_suite.c)
target_include_directories(sgbpf_netns_util PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(sgbpf_netns_util PUBLIC PkgConfig::LIBNL PkgConfig::LIBNL_ROUTE PkgConfig::CHECK
  sgbpf_internal sgbpf_reply_gen sgbpf_suite_run)

sgbpf_test(test_netdev SOURCES test_netdev.c LIBS sgbpf_netns_util TIMEOUT 60 LABELS root)
sgbpf_test(test_attach SOURCES test_attach.c LIBS sgbpf_netns_util TIMEOUT 60 LABELS root)

# The in-kernel reference worker (sgbpf worker --xdp): its program on crafted
# frames, then `sgbpf gather` against it across a veth pair.
sgbpf_test(test_xdp_worker SOURCES test_xdp_worker.c LIBS sgbpf_netns_util sgbpf_pkt_build
  xdp_worker_bpf_skel TIMEOUT 120 LABELS root)
target_include_directories(test_xdp_worker PRIVATE ${PROJECT_SOURCE_DIR}/src/worker)
add_dependencies(test_xdp_worker sgbpf_cli)
