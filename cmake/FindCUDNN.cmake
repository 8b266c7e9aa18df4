# FindCUDNN
# ---------
# Locates NVIDIA cuDNN (written for cuDNN 9; 8 also works) and defines the imported target
# CUDNN::cudnn. Installed next to voxnnConfig.cmake so that consumers of voxnn::cuda find it too.
#
# Hints (CMake or environment variables): CUDNN_ROOT, CUDNN_INCLUDE_DIR, CUDNN_LIBRARY.
# Also searched: the CUDA toolkit found by find_package(CUDAToolkit), /usr/local/cuda, and the
# Debian/Ubuntu multiarch locations used by NVIDIA's packages.
#
# Results: CUDNN_FOUND, CUDNN_VERSION, CUDNN_INCLUDE_DIRS, CUDNN_LIBRARIES, target CUDNN::cudnn.
# cuDNN 9 splits into sub-libraries (cudnn_ops, cudnn_cnn, ...) that libcudnn loads at run time,
# so linking libcudnn alone is enough.

set(_cudnn_hints ${CUDNN_ROOT} $ENV{CUDNN_ROOT})
if(CUDAToolkit_LIBRARY_ROOT)
  list(APPEND _cudnn_hints ${CUDAToolkit_LIBRARY_ROOT})
endif()
if(CUDAToolkit_INCLUDE_DIRS)
  foreach(_dir IN LISTS CUDAToolkit_INCLUDE_DIRS)
    cmake_path(GET _dir PARENT_PATH _parent)
    list(APPEND _cudnn_hints ${_parent})
  endforeach()
endif()
list(APPEND _cudnn_hints /usr/local/cuda)

find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${_cudnn_hints} ENV CUDNN_INCLUDE_DIR
  PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu)
# Wheels (nvidia-cudnn-cu*) ship only the versioned soname.
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 libcudnn.so.8
  HINTS ${_cudnn_hints} ENV CUDNN_LIBRARY
  PATH_SUFFIXES lib64 lib lib/x86_64-linux-gnu lib/aarch64-linux-gnu lib/x64)

# The version lives in cudnn_version.h since cuDNN 8, in cudnn.h before.
if(CUDNN_INCLUDE_DIR)
  foreach(_header cudnn_version.h cudnn.h)
    if(EXISTS ${CUDNN_INCLUDE_DIR}/${_header})
      file(STRINGS ${CUDNN_INCLUDE_DIR}/${_header} _cudnn_defines
           REGEX "^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) +[0-9]+")
      if(_cudnn_defines)
        foreach(_part MAJOR MINOR PATCHLEVEL)
          string(REGEX REPLACE ".*#define CUDNN_${_part} +([0-9]+).*" "\\1" _cudnn_${_part}
                 "${_cudnn_defines}")
        endforeach()
        set(CUDNN_VERSION "${_cudnn_MAJOR}.${_cudnn_MINOR}.${_cudnn_PATCHLEVEL}")
        break()
      endif()
    endif()
  endforeach()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDNN
  REQUIRED_VARS CUDNN_LIBRARY CUDNN_INCLUDE_DIR
  VERSION_VAR CUDNN_VERSION)
mark_as_advanced(CUDNN_INCLUDE_DIR CUDNN_LIBRARY)

if(CUDNN_FOUND)
  set(CUDNN_INCLUDE_DIRS ${CUDNN_INCLUDE_DIR})
  set(CUDNN_LIBRARIES ${CUDNN_LIBRARY})
  if(NOT TARGET CUDNN::cudnn)
    add_library(CUDNN::cudnn UNKNOWN IMPORTED)
    set_target_properties(CUDNN::cudnn PROPERTIES
      IMPORTED_LOCATION ${CUDNN_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${CUDNN_INCLUDE_DIR})
  endif()
endif()

unset(_cudnn_hints)
unset(_cudnn_defines)
