// Shapes and strides: small fixed-capacity arrays (no heap), rank <= TESSERA_MAX_RANK.
// Strides are in elements and may be zero (broadcast) or negative (reversed views).
#pragma once

#include <tessera/config.hpp>
#include <tessera/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

namespace tessera {

using index_t = std::int64_t;

// Upper bound on any tensor's element count: keeps size * sizeof(T) far from overflow and
// turns absurd sizes from untrusted input into an error instead of an allocation attempt.
inline constexpr index_t max_tensor_elements = index_t{1} << 48;

class dims {
 public:
  dims() = default;
  dims(std::initializer_list<index_t> values) {
    for (index_t v : values) {
      if (rank_ < TESSERA_MAX_RANK) v_[rank_] = v;
      ++rank_;  // a too-long list is caught by valid()
    }
  }
  static dims filled(int rank, index_t value) {
    dims d;
    d.rank_ = rank;
    for (int i = 0; i < rank && i < TESSERA_MAX_RANK; ++i) d.v_[i] = value;
    return d;
  }

  int rank() const noexcept { return rank_; }
  index_t operator[](int i) const noexcept { return v_[i]; }
  index_t& operator[](int i) noexcept { return v_[i]; }
  const index_t* begin() const noexcept { return v_; }
  const index_t* end() const noexcept { return v_ + (rank_ <= TESSERA_MAX_RANK ? rank_ : TESSERA_MAX_RANK); }

  bool push_back(index_t v) {
    if (rank_ >= TESSERA_MAX_RANK) return false;
    v_[rank_++] = v;
    return true;
  }

  friend bool operator==(const dims& a, const dims& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_ && i < TESSERA_MAX_RANK; ++i)
      if (a.v_[i] != b.v_[i]) return false;
    return true;
  }
  friend bool operator!=(const dims& a, const dims& b) { return !(a == b); }

  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank_ && i < TESSERA_MAX_RANK; ++i) {
      if (i) s += ',';
      s += std::to_string(v_[i]);
    }
    return s + "]";
  }

 private:
  index_t v_[TESSERA_MAX_RANK] = {};
  int rank_ = 0;
};

using shape_t = dims;
using strides_t = dims;

// Element count of a shape, or an error for negative extents, too many dims or overflow.
inline expected<index_t> checked_numel(const shape_t& s) {
  if (s.rank() > TESSERA_MAX_RANK)
    return make_error(errc::invalid_argument, "rank " + std::to_string(s.rank()) + " exceeds TESSERA_MAX_RANK");
  index_t n = 1;
  for (index_t d : s) {
    if (d < 0) return make_error(errc::invalid_argument, "negative extent in shape " + s.str());
    if (d != 0 && n > max_tensor_elements / d)
      return make_error(errc::out_of_memory, "shape " + s.str() + " has too many elements");
    n *= d;
  }
  return n;
}

// a * b, or the largest index_t where that overflows: products of an absurd shape's extents
// stay large, so that size checks after them still refuse it.
inline index_t saturating_mul(index_t a, index_t b) noexcept {
  index_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<index_t>::max() : r;
}

// numel of a shape already known to be valid (an absurd one saturates).
inline index_t numel(const shape_t& s) {
  index_t n = 1;
  for (index_t d : s) n = saturating_mul(n, d);
  return n;
}

// Row-major (C order) strides of a shape.
inline strides_t contiguous_strides(const shape_t& s) {
  strides_t st = dims::filled(s.rank(), 1);
  // Unsigned: an absurd shape (refused later by its element count) must not overflow here.
  std::uint64_t acc = 1;
  for (int i = s.rank() - 1; i >= 0; --i) {
    st[i] = static_cast<index_t>(acc);
    acc *= static_cast<std::uint64_t>(s[i] > 0 ? s[i] : 1);
  }
  return st;
}

// NumPy broadcasting of two shapes (right-aligned; extents equal or one of them 1).
inline expected<shape_t> broadcast_shapes(const shape_t& a, const shape_t& b) {
  const int r = a.rank() > b.rank() ? a.rank() : b.rank();
  if (r > TESSERA_MAX_RANK) return make_error(errc::invalid_argument, "broadcast rank too large");
  shape_t out = dims::filled(r, 1);
  for (int i = 0; i < r; ++i) {
    const int ia = a.rank() - r + i, ib = b.rank() - r + i;
    const index_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else
      return make_error(errc::shape_mismatch, "cannot broadcast " + a.str() + " with " + b.str());
  }
  return out;
}

}  // namespace tessera
