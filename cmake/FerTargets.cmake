# Helpers shared by every folder's CMakeLists.txt.

# Warnings on everywhere; errors when FER_WERROR (CI).
function(fer_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unknown-pragmas>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${FER_WERROR}>>:-Werror>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra --expt-relaxed-constexpr>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${FER_WERROR}>>:-Werror=all-warnings>
    # __FILE__ relative to the project root, so error messages name "kernels/conv2d.cu:42".
    $<$<COMPILE_LANGUAGE:CXX>:-ffile-prefix-map=${PROJECT_SOURCE_DIR}/=>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-ffile-prefix-map=${PROJECT_SOURCE_DIR}/=>)
endfunction()

# The sources of one folder: *.cpp always; *.cu and *_cuda.cpp only when the CUDA backend is built.
# Files are globbed so that adding an op is adding files (CONFIGURE_DEPENDS re-globs on build).
function(fer_folder_sources out dir)
  file(GLOB _cpp CONFIGURE_DEPENDS ${dir}/*.cpp)
  list(FILTER _cpp EXCLUDE REGEX "_cuda\\.cpp$")
  set(_all ${_cpp})
  if(FER_CUDA_ENABLED)
    file(GLOB _cu CONFIGURE_DEPENDS ${dir}/*.cu ${dir}/*_cuda.cpp)
    list(APPEND _all ${_cu})
  endif()
  set(${out} ${_all} PARENT_SCOPE)
endfunction()

# A static library made of one folder's sources.
function(fer_folder_library name dir)
  fer_folder_sources(_src ${dir})
  if(NOT _src)  # a folder that has no code yet still gives a target to link against
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
    return()
  endif()
  add_library(${name} STATIC ${_src})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON CUDA_SEPARABLE_COMPILATION OFF)
  fer_warnings(${name})
endfunction()

# Link a folder library to what it depends on (PUBLIC, or INTERFACE while the folder is empty).
function(fer_link name)
  get_target_property(_type ${name} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    target_link_libraries(${name} INTERFACE ${ARGN})
  else()
    target_link_libraries(${name} PUBLIC ${ARGN})
  endif()
endfunction()
