// Compiles stb_image (JPEG and PNG decoders only) and stb_image_write for
// tessera/vision/image_io.hpp. Include it in exactly ONE .cpp file of a program:
//
//     // image_codecs.cpp (or the file with main)
//     #include <tessera/vision/stb_implementation.hpp>
//
// A second inclusion in another .cpp gives duplicate-symbol link errors; none gives undefined
// stbi_* symbols. Programs that already compile stb_image themselves, or link a library that
// does (Debian's libstb), leave this header out; tessera then uses their stb, without the
// decoder memory budget of decode_limits::max_decoder_bytes (which needs the allocator below).
//
// Why a header the user places, not an inline definition in image_io.hpp: stb's functions
// are ordinary (non-inline) C functions, so they must be compiled in one translation unit, and
// only the program knows which one. Keeping the choice explicit also lets a program that links
// stb already avoid a clash.
#pragma once

#include <tessera/vision/image_io.hpp>

#if defined(STB_IMAGE_IMPLEMENTATION) || defined(STB_IMAGE_WRITE_IMPLEMENTATION)
#error "tessera/vision/stb_implementation.hpp compiles stb itself: do not define STB_IMAGE_IMPLEMENTATION or STB_IMAGE_WRITE_IMPLEMENTATION too"
#endif

// Every allocation of the decoder goes through the per-thread budget of image_io.hpp.
#define STBI_MALLOC(size) ::tessera::vision::detail::stb_malloc(size)
#define STBI_REALLOC(p, size) ::tessera::vision::detail::stb_realloc(p, size)
#define STBI_FREE(p) ::tessera::vision::detail::stb_free(p)
// Only the formats image_io.hpp accepts: no other decoder is reachable from untrusted bytes.
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wpedantic"
#endif

// stb_image 2.27 (Debian 12) sums a corrupt JPEG's DC differences and multiplies them by the
// quantizer in int without a range check (`dc * dequant[0]`, `dc * (1 << succ_low)`): a few
// blocks of maximal differences overflow it (found by tests/fuzz/vision_fuzz; stb 2.28 rejects
// such files). The product only becomes a coefficient of that corrupt image's pixels, never a
// size or an index, so it is left to wrap rather than refusing real files by a guess: GCC
// compiles stb's functions with -fwrapv semantics, and clang's UBSan skips signed overflow in
// them (clang has no per-function wrapv). Likewise a corrupt scan that runs its bit buffer dry
// makes stbi__grow_buffer_unsafe shift a byte by 32 (`b << (24 - code_bits)` with code_bits -8;
// vision_fuzz in CI, regression_bits_shift32.jpg): the bits only feed that image's coefficients.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("signed-integer-overflow", "shift"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("wrapv")
#endif

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if __has_include(<stb/stb_image.h>)
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#else
#include <stb_image.h>
#include <stb_image_write.h>
#endif

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
