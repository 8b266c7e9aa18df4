# Package tests: install this build tree to a prefix inside the build dir, then configure, build and
# run small consumer projects against it with find_package(voxnn CONFIG REQUIRED).
# package.install is a ctest fixture so the consumers share one install and never race on it.
set(_pkg ${CMAKE_CURRENT_BINARY_DIR}/package)
set(_script ${CMAKE_CURRENT_SOURCE_DIR}/package/run_consumer.cmake)
set(_common -DPREFIX=${_pkg}/prefix -DGENERATOR=${CMAKE_GENERATOR} -DCONFIG=$<CONFIG>
            -DCXX_COMPILER=${CMAKE_CXX_COMPILER})

add_test(NAME package.install COMMAND ${CMAKE_COMMAND} ${_common} -DMODE=install
         -DBUILD_DIR=${PROJECT_BINARY_DIR} -DFORBIDDEN=${PROJECT_SOURCE_DIR},${PROJECT_BINARY_DIR}
         -P ${_script})
set_tests_properties(package.install PROPERTIES LABELS package FIXTURES_SETUP voxnn_installed)

add_test(NAME package.find_package_consumer COMMAND ${CMAKE_COMMAND} ${_common} -DMODE=consumer
         -DSOURCE=${CMAKE_CURRENT_SOURCE_DIR}/package/consumer -DWORK=${_pkg}/consumer
         -DEXE=consumer -P ${_script})
set_tests_properties(package.find_package_consumer PROPERTIES
  LABELS package FIXTURES_REQUIRED voxnn_installed)

if(VOXNN_WITH_CUDA)
  # Lists cannot pass through add_test arguments; the script turns commas back into semicolons.
  string(REPLACE ";" "," _archs "${CMAKE_CUDA_ARCHITECTURES}")
  add_test(NAME package.find_package_cuda_consumer COMMAND ${CMAKE_COMMAND} ${_common} -DMODE=consumer
           -DSOURCE=${CMAKE_CURRENT_SOURCE_DIR}/package/cuda_consumer -DWORK=${_pkg}/cuda_consumer
           -DEXE=cuda_consumer -DCUDA_COMPILER=${CMAKE_CUDA_COMPILER} -DCUDA_ARCHITECTURES=${_archs}
           -P ${_script})
  set_tests_properties(package.find_package_cuda_consumer PROPERTIES
    LABELS package FIXTURES_REQUIRED voxnn_installed)
endif()
