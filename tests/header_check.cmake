# Every public header must compile on its own: one generated .cpp per header, each including only
# that header, built into voxnn_header_check as part of ALL. A missing #include fails the build.
# backend/cuda headers need nvcc or the CUDA toolkit; they get their own check in cuda_tests.cmake.
file(GLOB_RECURSE _headers CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}/include
     ${PROJECT_SOURCE_DIR}/include/voxnn/*.hpp)
list(FILTER _headers EXCLUDE REGEX "^voxnn/backend/cuda/")

set(_check_dir ${CMAKE_CURRENT_BINARY_DIR}/header_check)
set(_check_sources)
foreach(header IN LISTS _headers)
  string(MAKE_C_IDENTIFIER ${header} _name)
  # file(CONFIGURE) rewrites only on change, so reconfiguring does not rebuild every check.
  file(CONFIGURE OUTPUT ${_check_dir}/${_name}.cpp CONTENT "#include <${header}>\n")
  list(APPEND _check_sources ${_check_dir}/${_name}.cpp)
endforeach()

if(_check_sources)
  add_library(voxnn_header_check STATIC ${_check_sources})
  # No project flags: a header must not rely on -march=native or VOXNN_USE_CBLAS to compile.
  # -O0 because only the compile matters here; there is no code worth optimising.
  target_link_libraries(voxnn_header_check PRIVATE voxnn::voxnn)
  target_compile_options(voxnn_header_check PRIVATE -O0)
endif()

# Surfaces the check in ctest under the core label; a no-op build when the tree is up to date.
if(TARGET voxnn_header_check)
  add_test(NAME core.headers_compile_alone
           COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target voxnn_header_check)
  # Both header-check tests run a build in this tree: never at the same time.
  set_tests_properties(core.headers_compile_alone PROPERTIES LABELS core RESOURCE_LOCK voxnn_build_tree)
endif()
