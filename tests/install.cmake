# Installs the build into a temporary prefix and builds against it with
# pkg-config and with the CMake package (find_package, sgbpf_add_reduction).
add_test(NAME test_install
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_install.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(test_install PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180 LABELS install)
