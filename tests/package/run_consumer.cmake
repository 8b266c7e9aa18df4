# Driven by ctest (see package_tests.cmake):
#   MODE=install : cmake --install BUILD_DIR into PREFIX, then fail if any installed text file
#                  mentions a FORBIDDEN path (the source or build tree: the package must relocate).
#   MODE=consumer: fresh configure + build of the project in SOURCE under WORK against PREFIX,
#                  then run EXE (the consumer itself decides what a machine without a GPU can check).
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

if(NOT CONFIG)
  set(CONFIG Release)
endif()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE ${PREFIX})
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX} --config ${CONFIG})
  string(REPLACE "," ";" forbidden "${FORBIDDEN}")
  file(GLOB_RECURSE installed ${PREFIX}/*.cmake ${PREFIX}/*.hpp ${PREFIX}/*.cuh ${PREFIX}/*.h)
  foreach(file IN LISTS installed)
    file(READ ${file} text)
    foreach(path IN LISTS forbidden)
      string(FIND "${text}" "${path}" at)
      if(NOT at EQUAL -1)
        message(FATAL_ERROR "installed file ${file} contains the build-machine path ${path}")
      endif()
    endforeach()
  endforeach()
  message(STATUS "installed to ${PREFIX}; no source or build paths in the installed files")

elseif(MODE STREQUAL "consumer")
  file(REMOVE_RECURSE ${WORK})
  set(args -S ${SOURCE} -B ${WORK} -G ${GENERATOR} -DCMAKE_BUILD_TYPE=${CONFIG}
           -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
           -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
  if(CUDA_COMPILER)
    string(REPLACE "," ";" archs "${CUDA_ARCHITECTURES}")
    list(APPEND args -DCMAKE_CUDA_COMPILER=${CUDA_COMPILER} "-DCMAKE_CUDA_ARCHITECTURES=${archs}")
  endif()
  run(${CMAKE_COMMAND} ${args})
  run(${CMAKE_COMMAND} --build ${WORK} --config ${CONFIG})
  find_program(exe ${EXE} PATHS ${WORK} ${WORK}/${CONFIG} NO_DEFAULT_PATH REQUIRED)
  run(${exe})

else()
  message(FATAL_ERROR "run_consumer.cmake: MODE must be install or consumer, got '${MODE}'")
endif()
