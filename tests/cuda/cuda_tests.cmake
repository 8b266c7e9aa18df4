# CUDA tests (label cuda): built wherever nvcc is, run where a GPU is, skipped (exit 77) elsewhere.
# The runner is host-only main.cpp: g++ builds the Catch2 runner in a third of nvcc's time.
file(GLOB _cuda_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.cu
     ${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.cpp)
add_executable(voxnn_tests_cuda ${_cuda_sources})
set_source_files_properties(cuda/main.cpp PROPERTIES COMPILE_OPTIONS -O1)  # see voxnn_catch_main
# Own runner (main.cpp), so Catch2 directly rather than voxnn_catch_main.
target_link_libraries(voxnn_tests_cuda PRIVATE voxnn::cuda voxnn_project_flags Catch2::Catch2)
target_compile_definitions(voxnn_tests_cuda PRIVATE
  VOXNN_TEST_FIXTURES="${PROJECT_SOURCE_DIR}/tests/fixtures")
catch_discover_tests(voxnn_tests_cuda TEST_PREFIX "cuda."
  PROPERTIES LABELS cuda SKIP_RETURN_CODE 77 WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})

# backend/cuda headers compile alone: .hpp with the host compiler, .cuh with nvcc.
file(GLOB _cuda_headers CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}/include
     ${PROJECT_SOURCE_DIR}/include/voxnn/backend/cuda/*.hpp
     ${PROJECT_SOURCE_DIR}/include/voxnn/backend/cuda/*.cuh)
set(_cuda_check_sources)
foreach(header IN LISTS _cuda_headers)
  string(MAKE_C_IDENTIFIER ${header} _name)
  if(header MATCHES "\\.cuh$")
    set(_file ${CMAKE_CURRENT_BINARY_DIR}/header_check/${_name}.cu)
  else()
    set(_file ${CMAKE_CURRENT_BINARY_DIR}/header_check/${_name}.cpp)
  endif()
  file(CONFIGURE OUTPUT ${_file} CONTENT "#include <${header}>\n")
  list(APPEND _cuda_check_sources ${_file})
endforeach()
# The CPU umbrella under nvcc too: .cu files that use Tensor<T, Cuda> include it, and nvcc's
# front end rejects some code g++ accepts.
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/header_check/voxnn_voxnn_hpp.cu
     CONTENT "#include <voxnn/voxnn.hpp>\n")
list(APPEND _cuda_check_sources ${CMAKE_CURRENT_BINARY_DIR}/header_check/voxnn_voxnn_hpp.cu)
add_library(voxnn_cuda_header_check STATIC ${_cuda_check_sources})
target_link_libraries(voxnn_cuda_header_check PRIVATE voxnn::cuda)
target_compile_options(voxnn_cuda_header_check PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-O0>)
add_test(NAME cuda.headers_compile_alone
         COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target voxnn_cuda_header_check)
set_tests_properties(cuda.headers_compile_alone PROPERTIES LABELS cuda RESOURCE_LOCK voxnn_build_tree)
