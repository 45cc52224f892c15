# Interfaces, qdiscs and attachments; all of it inside namespaces the tests create.

# Namespace helpers for any test that needs a network of its own: link
# sgbpf_netns_util (LIBS sgbpf_netns_util) and include "netns_util.h".
add_library(sgbpf_netns_util STATIC ${CMAKE_CURRENT_SOURCE_DIR}/netns_util.c
  ${CMAKE_CURRENT_SOURCE_DIR}/worker_farm.c)
target_include_directories(sgbpf_netns_util PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(sgbpf_netns_util PUBLIC PkgConfig::LIBNL PkgConfig::LIBNL_ROUTE)

sgbpf_test(test_netdev SOURCES test_netdev.c LIBS sgbpf_netns_util TIMEOUT 60 LABELS root)
sgbpf_test(test_attach SOURCES test_attach.c LIBS sgbpf_netns_util TIMEOUT 60 LABELS root)
