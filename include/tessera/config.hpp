// Compile-time switches. Every switch is a macro with a default here; the CMake options
// only forward them as INTERFACE definitions, so a plain `g++ -I include` build works too.
#pragma once

// Threads: on by default natively. Under Emscripten only when built with -pthread
// (__EMSCRIPTEN_PTHREADS__); a single-threaded WASM build runs parallel_for inline.
#ifndef TESSERA_THREADS
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define TESSERA_THREADS 0
#else
#define TESSERA_THREADS 1
#endif
#endif

// Alignment of every owned buffer and arena block: one cache line, enough for AVX-512 loads.
#ifndef TESSERA_ALIGNMENT
#define TESSERA_ALIGNMENT 64
#endif

// Largest rank a tensor can have. Shapes live inline (no heap), so this bounds their size.
#ifndef TESSERA_MAX_RANK
#define TESSERA_MAX_RANK 8
#endif

#if defined(__EMSCRIPTEN__)
#define TESSERA_WASM 1
#else
#define TESSERA_WASM 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TESSERA_ALWAYS_INLINE inline __attribute__((always_inline))
#define TESSERA_LIKELY(x) __builtin_expect(!!(x), 1)
#define TESSERA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TESSERA_RESTRICT __restrict__
#else
#define TESSERA_ALWAYS_INLINE inline
#define TESSERA_LIKELY(x) (x)
#define TESSERA_UNLIKELY(x) (x)
#define TESSERA_RESTRICT
#endif
