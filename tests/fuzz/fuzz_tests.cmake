# Fuzzing in ctest (included from tests/CMakeLists.txt). When clang++-14 with libFuzzer works:
#   io.fuzz_build        configures and builds the clang sub-project tests/fuzz into <build>/tests/fuzz
#   io.fuzz_<reader>     runs fuzz_<reader> for VOXNN_FUZZ_SECONDS on a copy of corpus/<reader> plus the
#                        seeds make_<reader>_seeds writes at test time (NIfTI)
# All are labelled io and fuzz, so `ctest -L io -LE fuzz` skips the minute-long runs.
option(VOXNN_FUZZ "Add the io.fuzz_* tests when clang++-14 with libFuzzer is found" ON)
if(NOT VOXNN_FUZZ)
  message(STATUS "voxnn: fuzz tests (io.fuzz_*) skipped: VOXNN_FUZZ=OFF")
  return()
endif()
set(VOXNN_FUZZ_SECONDS 60 CACHE STRING "How long each io.fuzz_* test fuzzes, in seconds")
find_program(VOXNN_FUZZ_CXX NAMES clang++-14 DOC "clang++ with libFuzzer, for the io.fuzz_* tests")

# Whether that compiler links a libFuzzer target (clang-14 without libclang-rt-14-dev does not).
# The answer is cached per compiler path, so a reconfigure costs nothing.
if(VOXNN_FUZZ_CXX AND NOT VOXNN_FUZZ_LINKS STREQUAL VOXNN_FUZZ_CXX)
  set(_probe ${CMAKE_CURRENT_BINARY_DIR}/fuzz_probe)
  file(WRITE ${_probe}/probe.cpp
       "#include <cstddef>\n#include <cstdint>\n"
       "extern \"C\" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n")
  execute_process(COMMAND ${VOXNN_FUZZ_CXX} -fsanitize=fuzzer,address,undefined ${_probe}/probe.cpp
                          -o ${_probe}/probe
                  RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_VARIABLE _err)
  if(_rc EQUAL 0)
    set(VOXNN_FUZZ_LINKS ${VOXNN_FUZZ_CXX} CACHE INTERNAL "the compiler that linked the libFuzzer probe")
  else()
    string(STRIP "${_err}" _err)
    set(_fuzz_why "${VOXNN_FUZZ_CXX} cannot link -fsanitize=fuzzer (install libclang-rt-14-dev): ${_err}")
  endif()
elseif(NOT VOXNN_FUZZ_CXX)
  set(_fuzz_why "clang++-14 not found (install clang-14 and libclang-rt-14-dev)")
endif()

if(NOT VOXNN_FUZZ_CXX OR NOT VOXNN_FUZZ_LINKS STREQUAL VOXNN_FUZZ_CXX)
  message(STATUS "voxnn: fuzz tests (io.fuzz_*) skipped: ${_fuzz_why}")
  return()
endif()

set(_fuzz_src ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(_fuzz_bin ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
add_test(NAME io.fuzz_build COMMAND ${CMAKE_COMMAND} -DMODE=build -DSOURCE=${_fuzz_src} -DBINARY=${_fuzz_bin}
         -DCXX=${VOXNN_FUZZ_CXX} -DGENERATOR=${CMAKE_GENERATOR} -P ${_fuzz_src}/run_fuzzer.cmake)
set_tests_properties(io.fuzz_build PROPERTIES LABELS "io;fuzz" FIXTURES_SETUP voxnn_fuzz_built TIMEOUT 1200)

math(EXPR _timeout "${VOXNN_FUZZ_SECONDS} + 300")
foreach(name IN ITEMS safetensors nifti)
  if(NOT EXISTS ${_fuzz_src}/fuzz_${name}.cpp)
    continue()
  endif()
  add_test(NAME io.fuzz_${name} COMMAND ${CMAKE_COMMAND} -DMODE=run -DNAME=${name} -DSOURCE=${_fuzz_src}
           -DBINARY=${_fuzz_bin} -DSECONDS=${VOXNN_FUZZ_SECONDS} -P ${_fuzz_src}/run_fuzzer.cmake)
  set_tests_properties(io.fuzz_${name} PROPERTIES LABELS "io;fuzz" FIXTURES_REQUIRED voxnn_fuzz_built
                       TIMEOUT ${_timeout})
endforeach()
