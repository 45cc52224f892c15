# Compile BPF C sources into one object and turn it into a libbpf skeleton
# header, so that the library embeds its BPF code and needs no file at run time.
#
#   sgbpf_bpf_skeleton(NAME SOURCES a.bpf.c b.bpf.c [INCLUDES dir...] [DEFINES SYM...])
#
# produces ${CMAKE_CURRENT_BINARY_DIR}/NAME.skel.h and an interface target
# NAME_skel whose include directory holds it.  With DEFINES (a variant of
# code built elsewhere too, e.g. for a benchmark) the objects are named
# after NAME, so that both builds can live in one directory.

find_program(BPF_CLANG NAMES clang clang-14)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
# Checked where BPF code is built, so that merely finding the sgbpf package
# does not require the BPF toolchain.
function(sgbpf_bpf_require_tools)
  if(NOT BPF_CLANG)
    message(FATAL_ERROR "clang not found: install the Debian package 'clang'")
  endif()
  if(NOT BPFTOOL)
    message(FATAL_ERROR "bpftool not found: install the Debian package 'bpftool'")
  endif()
  if(NOT EXISTS ${SGBPF_BTF_SOURCE})
    message(FATAL_ERROR "${SGBPF_BTF_SOURCE} is missing: sgbpf needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")
  endif()
endfunction()

set(SGBPF_VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
set(SGBPF_VMLINUX_H ${SGBPF_VMLINUX_DIR}/vmlinux.h)
set(SGBPF_BTF_SOURCE /sys/kernel/btf/vmlinux CACHE FILEPATH
    "BTF of the kernel the BPF programs are built against")
# vmlinux.h is made once, at configure time, from the running kernel's BTF:
# every generator then sees it as a plain source file, whatever directory the
# BPF objects are built in.
function(sgbpf_make_vmlinux_h)
  if(EXISTS ${SGBPF_VMLINUX_H} OR NOT BPFTOOL OR NOT EXISTS ${SGBPF_BTF_SOURCE})
    return()
  endif()
  file(MAKE_DIRECTORY ${SGBPF_VMLINUX_DIR})
  execute_process(
    COMMAND ${BPFTOOL} btf dump file ${SGBPF_BTF_SOURCE} format c
    OUTPUT_FILE ${SGBPF_VMLINUX_H}.tmp
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "bpftool could not dump ${SGBPF_BTF_SOURCE} (exit ${rc})")
  endif()
  file(RENAME ${SGBPF_VMLINUX_H}.tmp ${SGBPF_VMLINUX_H})
  message(STATUS "Generated ${SGBPF_VMLINUX_H} from ${SGBPF_BTF_SOURCE}")
endfunction()
sgbpf_make_vmlinux_h()

# Headers BPF code includes (<sgbpf/aggregation.bpf.h>, ...): the source tree
# here, the installed include directory for users of the CMake package.
if(NOT SGBPF_BPF_INCLUDE_DIR)
  set(SGBPF_BPF_INCLUDE_DIR ${PROJECT_SOURCE_DIR}/include)
endif()

set(SGBPF_BPF_CFLAGS -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Wno-unused-function
    -Wno-compare-distinct-pointer-types)

# Compile one .bpf.c into a .bpf.o; returns the object path in OUT_VAR.
function(sgbpf_bpf_compile SRC OUT_VAR)
  sgbpf_bpf_require_tools()
  cmake_parse_arguments(ARG "" "PREFIX" "INCLUDES;DEPENDS;DEFINES" ${ARGN})
  get_filename_component(abs ${SRC} ABSOLUTE)
  get_filename_component(stem ${SRC} NAME_WE)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${ARG_PREFIX}${stem}.bpf.o)
  set(incs -I${SGBPF_VMLINUX_DIR} -I${SGBPF_BPF_INCLUDE_DIR})
  foreach(d ${ARG_INCLUDES})
    list(APPEND incs -I${d})
  endforeach()
  foreach(d ${ARG_DEFINES})
    list(APPEND incs -D${d})
  endforeach()
  file(GLOB bpf_headers ${SGBPF_BPF_INCLUDE_DIR}/sgbpf/*.h
       ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} ${SGBPF_BPF_CFLAGS} ${incs} -c ${abs} -o ${obj}
    DEPENDS ${abs} ${SGBPF_VMLINUX_H} ${bpf_headers} ${ARG_DEPENDS}
    COMMENT "BPF ${ARG_PREFIX}${stem}.bpf.c"
    VERBATIM)
  set(${OUT_VAR} ${obj} PARENT_SCOPE)
endfunction()

function(sgbpf_bpf_skeleton NAME)
  cmake_parse_arguments(ARG "" "" "SOURCES;INCLUDES;DEFINES" ${ARGN})
  set(objs)
  set(prefix)
  if(ARG_DEFINES)
    set(prefix ${NAME}_)
  endif()
  foreach(src ${ARG_SOURCES})
    sgbpf_bpf_compile(${src} obj INCLUDES ${ARG_INCLUDES} DEFINES ${ARG_DEFINES}
      PREFIX "${prefix}")
    list(APPEND objs ${obj})
  endforeach()
  set(linked ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.skel.h)
  # Static linking lets several source files share one set of maps.
  add_custom_command(
    OUTPUT ${linked}
    COMMAND ${BPFTOOL} gen object ${linked} ${objs}
    DEPENDS ${objs}
    COMMENT "BPF link ${NAME}.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${linked} name ${NAME} > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${linked}
    COMMENT "BPF skeleton ${NAME}.skel.h"
    VERBATIM)
  add_custom_target(${NAME}_skel_gen DEPENDS ${skel})
  add_library(${NAME}_skel INTERFACE)
  target_include_directories(${NAME}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
  add_dependencies(${NAME}_skel ${NAME}_skel_gen)
  set_property(GLOBAL APPEND PROPERTY SGBPF_BPF_OBJECTS ${linked})
endfunction()

# For users and tests: build a custom reduction (a BPF object written with
# <sgbpf/aggregation.bpf.h>) from one source file.
#   sgbpf_add_reduction(TARGET SOURCE)
# builds ${CMAKE_CURRENT_BINARY_DIR}/<source name>.bpf.o, and stores that path
# in the target's BPF_OBJECT property, for sgbpf_service_opts.reduce_obj.
function(sgbpf_add_reduction TARGET SRC)
  sgbpf_bpf_compile(${SRC} obj)
  add_custom_target(${TARGET} ALL DEPENDS ${obj})
  set_target_properties(${TARGET} PROPERTIES BPF_OBJECT ${obj})
endfunction()
