# VOXNN_SANITIZE=ON builds this project's own executables (tests, tools, examples, benchmarks) with
# AddressSanitizer and UndefinedBehaviorSanitizer; any undefined-behaviour report aborts the
# program, so a test that triggers one fails. The flags go on voxnn_project_flags, which is never
# installed or exported: consumers of voxnn::voxnn are untouched. Meant for a separate build tree;
# CI runs the core, io and data tests this way (.ci/run). Not for CUDA builds (ASan's shadow memory
# needs ASAN_OPTIONS=protect_shadow_gap=0 there).
option(VOXNN_SANITIZE "Build this project's tests, tools and examples with ASan+UBSan" OFF)
if(NOT VOXNN_SANITIZE)
  return()
endif()

set(_voxnn_sanitize -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
# -O1 -g1 after the build type's -O3: half the compile time of -O3 with the sanitizers (measured on
# tests/core, GCC 12), the optimisation level ASan recommends, and file:line in every report.
set(_voxnn_sanitize_opt -O1 -g1)
include(CheckCXXSourceCompiles)
string(REPLACE ";" " " CMAKE_REQUIRED_FLAGS "${_voxnn_sanitize}")
set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=address,undefined)
check_cxx_source_compiles("int main() { return 0; }" VOXNN_HAS_SANITIZERS)
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
if(NOT VOXNN_HAS_SANITIZERS)
  message(FATAL_ERROR "VOXNN_SANITIZE=ON but ${CMAKE_CXX_COMPILER} cannot build and link with ${_voxnn_sanitize} "
                      "(Debian: the compiler's libasan/libubsan, e.g. gcc's own or libclang-rt-14-dev)")
endif()
target_compile_options(voxnn_project_flags INTERFACE
  "$<$<COMPILE_LANGUAGE:CXX>:${_voxnn_sanitize};${_voxnn_sanitize_opt}>")
target_link_options(voxnn_project_flags INTERFACE -fsanitize=address,undefined)
# GCC 12's _mm512_undefined_* bug (see -Wno-maybe-uninitialized in CMakeLists.txt) surfaces as
# -Wuninitialized inside avx512fintrin.h once the sanitizers instrument Eigen's AVX-512 kernels.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(voxnn_project_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-uninitialized>)
endif()
