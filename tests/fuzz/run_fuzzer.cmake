# cmake -P script behind the io.fuzz_* tests (fuzz_tests.cmake).
#   MODE=build: configure and build the clang sub-project SOURCE into BINARY with compiler CXX.
#   MODE=run:   run BINARY/fuzz_NAME for SECONDS on BINARY/work/NAME/corpus, a copy of the committed
#               seeds SOURCE/corpus/NAME plus what BINARY/make_NAME_seeds writes (new inputs land
#               there, never in the source tree); a crash
#               input is written to BINARY/work/NAME/ and named in the output.
cmake_minimum_required(VERSION 3.25)

if(MODE STREQUAL "build")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE} -B ${BINARY} -G ${GENERATOR}
                          -DCMAKE_CXX_COMPILER=${CXX} COMMAND_ERROR_IS_FATAL ANY)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY} COMMAND_ERROR_IS_FATAL ANY)
  return()
endif()

set(_exe ${BINARY}/fuzz_${NAME})
if(NOT EXISTS ${_exe})
  message(FATAL_ERROR "${_exe} is missing: run io.fuzz_build first")
endif()
set(_work ${BINARY}/work/${NAME})
file(MAKE_DIRECTORY ${_work}/corpus)
file(GLOB _old ${_work}/crash-* ${_work}/leak-* ${_work}/timeout-* ${_work}/oom-* ${_work}/slow-unit-*)
if(_old)
  file(REMOVE ${_old})  # findings of an earlier run would be misreported as this run's
endif()
file(GLOB _seeds ${SOURCE}/corpus/${NAME}/*)
if(_seeds)
  file(COPY ${_seeds} DESTINATION ${_work}/corpus)
endif()
if(EXISTS ${BINARY}/make_${NAME}_seeds)  # seeds written at test time (NIfTI: no volume files committed)
  execute_process(COMMAND ${BINARY}/make_${NAME}_seeds ${_work}/corpus COMMAND_ERROR_IS_FATAL ANY)
endif()
# -max_len: every seed is below it (make_corpus.py checks); longer inputs only slow the search.
set(_cmd ${_exe} -max_total_time=${SECONDS} -max_len=8192 -rss_limit_mb=2048 -timeout=10
         -dict=${SOURCE}/${NAME}.dict -artifact_prefix=${_work}/ -print_final_stats=1 ${_work}/corpus)
string(REPLACE ";" " " _shown "${_cmd}")
message(STATUS "fuzz: ${_shown}")
execute_process(COMMAND ${_cmd} RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  file(GLOB _found ${_work}/crash-* ${_work}/leak-* ${_work}/timeout-* ${_work}/oom-*)
  message(FATAL_ERROR "fuzz_${NAME} found a problem (exit ${_rc}); input(s): ${_found}\n"
                      "reproduce: ${_exe} <input>")
endif()
