// tessera version: the single source of truth (CMake parses these lines).
#pragma once

#define TESSERA_VERSION_MAJOR 0
#define TESSERA_VERSION_MINOR 1
#define TESSERA_VERSION_PATCH 0

// One integer for comparisons: MAJOR * 10000 + MINOR * 100 + PATCH.
#define TESSERA_VERSION \
  (TESSERA_VERSION_MAJOR * 10000 + TESSERA_VERSION_MINOR * 100 + TESSERA_VERSION_PATCH)

namespace tessera {
struct version_info {
  int major, minor, patch;
};
inline constexpr version_info version{TESSERA_VERSION_MAJOR, TESSERA_VERSION_MINOR,
                                      TESSERA_VERSION_PATCH};
}  // namespace tessera
