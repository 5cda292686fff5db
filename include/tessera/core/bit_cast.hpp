// std::bit_cast stand-in: Emscripten 3.1.6's libc++ has no std::bit_cast, but clang 14 and
// gcc 12 both provide the builtin it is made of.
#pragma once

#include <type_traits>

namespace tessera {

template <class To, class From>
constexpr To bit_cast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From), "bit_cast needs equal sizes");
  static_assert(std::is_trivially_copyable_v<To> && std::is_trivially_copyable_v<From>);
  return __builtin_bit_cast(To, from);
}

}  // namespace tessera
