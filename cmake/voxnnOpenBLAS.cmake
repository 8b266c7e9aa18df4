# Finds OpenBLAS for this project's own targets and wraps it in the non-exported INTERFACE target
# voxnn_openblas (cblas.h include dir + libopenblas). Sets VOXNN_OPENBLAS_FOUND.
# Debian ships an OpenBLASConfig.cmake; other systems may only have pkg-config or a bare cblas.h.
set(VOXNN_OPENBLAS_FOUND OFF)
if(TARGET voxnn_openblas)
  set(VOXNN_OPENBLAS_FOUND ON)
  return()
endif()

# Prefer Debian's OpenMP build of OpenBLAS: it shares voxnn's OpenMP thread pool. The default pthread
# build runs its own threads, which fight OpenMP's spinning workers for the cores (measured: the demo
# ran 10x slower, most of its time in sched_yield).
find_path(VOXNN_CBLAS_OPENMP_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas-openmp NO_CMAKE_SYSTEM_PATH
          PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
find_library(VOXNN_OPENBLAS_OPENMP_LIBRARY openblas NO_DEFAULT_PATH
             PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
if(VOXNN_CBLAS_OPENMP_INCLUDE_DIR AND VOXNN_OPENBLAS_OPENMP_LIBRARY)
  set(_voxnn_blas_inc ${VOXNN_CBLAS_OPENMP_INCLUDE_DIR})
  set(_voxnn_blas_lib ${VOXNN_OPENBLAS_OPENMP_LIBRARY})
else()
  find_package(OpenBLAS CONFIG QUIET)
endif()
if(_voxnn_blas_lib)
  # found above
elseif(OpenBLAS_FOUND AND OpenBLAS_INCLUDE_DIRS AND OpenBLAS_LIBRARIES)
  set(_voxnn_blas_inc ${OpenBLAS_INCLUDE_DIRS})
  set(_voxnn_blas_lib ${OpenBLAS_LIBRARIES})
else()
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(VOXNN_PC_OPENBLAS QUIET openblas)
  endif()
  find_path(VOXNN_CBLAS_INCLUDE_DIR cblas.h
            HINTS ${VOXNN_PC_OPENBLAS_INCLUDE_DIRS} PATH_SUFFIXES openblas openblas-pthread)
  find_library(VOXNN_OPENBLAS_LIBRARY openblas
               HINTS ${VOXNN_PC_OPENBLAS_LIBRARY_DIRS} PATH_SUFFIXES openblas-pthread)
  if(VOXNN_CBLAS_INCLUDE_DIR AND VOXNN_OPENBLAS_LIBRARY)
    set(_voxnn_blas_inc ${VOXNN_CBLAS_INCLUDE_DIR})
    set(_voxnn_blas_lib ${VOXNN_OPENBLAS_LIBRARY})
  endif()
endif()

if(_voxnn_blas_inc AND _voxnn_blas_lib)
  add_library(voxnn_openblas INTERFACE)
  target_include_directories(voxnn_openblas SYSTEM INTERFACE ${_voxnn_blas_inc})
  target_link_libraries(voxnn_openblas INTERFACE ${_voxnn_blas_lib})
  set(VOXNN_OPENBLAS_FOUND ON)
  message(STATUS "voxnn: OpenBLAS ${_voxnn_blas_lib}")
endif()
unset(_voxnn_blas_inc)
unset(_voxnn_blas_lib)
