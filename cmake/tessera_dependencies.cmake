# Finds tessera's dependencies and defines tessera::xsimd (required) and, when Eigen is
# present, tessera::eigen. Used by the source tree and by the installed package alike.
#
# Under Emscripten the host's /usr/include must never be on the include path (its libc
# headers would shadow Emscripten's), yet Debian installs xsimd, Eigen, doctest and
# nlohmann_json there. So for WASM each dependency's own folder is staged (symlinked) into a
# private directory that holds nothing else.
include_guard(GLOBAL)

set(TESSERA_DEPS_STAGE_DIR "${CMAKE_BINARY_DIR}/_tessera_deps/include")

# tessera_stage_header_dir(<var> <subdir> <marker file>): finds <subdir>/<marker> outside the
# cross-compiling root and sets <var> to a directory that contains only <subdir>.
function(tessera_stage_header_dir out_var subdir marker)
  find_path(_tessera_found_${subdir} NAMES ${subdir}/${marker}
    PATHS /usr/include /usr/local/include /usr/include/eigen3 /usr/local/include/eigen3
    NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
  if(NOT _tessera_found_${subdir})
    set(${out_var} "" PARENT_SCOPE)
    return()
  endif()
  file(MAKE_DIRECTORY "${TESSERA_DEPS_STAGE_DIR}")
  if(NOT EXISTS "${TESSERA_DEPS_STAGE_DIR}/${subdir}")
    file(CREATE_LINK "${_tessera_found_${subdir}}/${subdir}" "${TESSERA_DEPS_STAGE_DIR}/${subdir}" SYMBOLIC)
  endif()
  set(${out_var} "${TESSERA_DEPS_STAGE_DIR}" PARENT_SCOPE)
endfunction()

# xsimd's own CMake package is not used: Debian's links a target `xtl` it does not ship.
# Its headers are all tessera needs.
if(NOT TARGET tessera::xsimd)
  add_library(tessera::xsimd INTERFACE IMPORTED)
  tessera_stage_header_dir(_tessera_xsimd_dir xsimd xsimd.hpp)
  if(NOT _tessera_xsimd_dir)
    message(FATAL_ERROR "tessera needs xsimd (Debian: apt-get install libxsimd-dev)")
  endif()
  set_target_properties(tessera::xsimd PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_tessera_xsimd_dir}")
endif()

# Eigen is optional: only <tessera/eigen.hpp> (interop) and the tests need it.
if(NOT TARGET tessera::eigen)
  if(NOT EMSCRIPTEN)
    find_package(Eigen3 3.3 CONFIG QUIET)
  endif()
  if(TARGET Eigen3::Eigen)
    add_library(tessera::eigen INTERFACE IMPORTED)
    target_link_libraries(tessera::eigen INTERFACE Eigen3::Eigen)
  else()
    find_path(_tessera_eigen_dir NAMES Eigen/Core PATHS /usr/include/eigen3 /usr/local/include/eigen3
      NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
    if(_tessera_eigen_dir)
      add_library(tessera::eigen INTERFACE IMPORTED)
      set_target_properties(tessera::eigen PROPERTIES INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_tessera_eigen_dir}"
        INTERFACE_INCLUDE_DIRECTORIES "${_tessera_eigen_dir}")
    endif()
  endif()
endif()

# stb_image / stb_image_write (Debian: libstb-dev) are optional: only tessera/vision/image_io.hpp
# and its implementation header need them. Staged like xsimd, so em++ sees the stb folder and
# nothing else of /usr/include.
if(NOT TARGET tessera::stb)
  tessera_stage_header_dir(_tessera_stb_dir stb stb_image.h)
  if(_tessera_stb_dir)
    add_library(tessera::stb INTERFACE IMPORTED)
    set_target_properties(tessera::stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_tessera_stb_dir}")
  endif()
endif()
