// ONNX op part: helpers every op family shares (axes, constant shape inputs, padding rules).
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/nn/tensor.hpp>
#include <tessera/onnx/attributes.hpp>
#include <tessera/onnx/op.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tessera::onnx::ops {

template <class T, class... A>
expected<std::unique_ptr<op>> make_op(A&&... a) {
  return std::unique_ptr<op>(new T(std::forward<A>(a)...));
}

inline error bad(std::string msg) { return make_error(errc::invalid_argument, std::move(msg)); }
inline error unsupported(std::string msg) { return make_error(errc::unsupported, std::move(msg)); }

// An axis in [-rank, rank) made non-negative.
inline expected<int> normalize_axis(std::int64_t axis, int rank, const char* what = "axis") {
  if (axis < -rank || axis >= rank || rank == 0)
    return bad(std::string(what) + " " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// Axes list normalized, no duplicates.
inline expected<std::vector<int>> normalize_axes(const std::vector<std::int64_t>& axes, int rank) {
  std::vector<int> out;
  std::vector<bool> seen(static_cast<std::size_t>(rank > 0 ? rank : 1), false);
  for (std::int64_t a : axes) {
    TESSERA_ASSIGN_OR_RETURN(const int n, normalize_axis(a, rank));
    if (seen[static_cast<std::size_t>(n)]) return bad("axis " + std::to_string(a) + " repeated");
    seen[static_cast<std::size_t>(n)] = true;
    out.push_back(n);
  }
  return out;
}

// The values of an integer input known at plan time (a shape, axes, pads...). Inputs that are
// only known at run time cannot size anything: an error says so.
inline expected<std::vector<std::int64_t>> constant_ints(const infer_ctx& c, std::size_t i, const char* what) {
  const any_view* v = c.constant(i);
  if (!v)
    return unsupported(std::string("input '") + what + "' must be known when the input shapes are (a constant or computed from shapes)");
  if (nn::is_float(v->type) || v->type == elem_type::boolean)
    return bad(std::string("input '") + what + "' must hold integers, not " + nn::elem_name(v->type));
  if (v->size() > (index_t{1} << 24)) return bad(std::string("input '") + what + "' is too long");
  std::vector<std::int64_t> out(static_cast<std::size_t>(v->size()));
  nn::read_int64s(*v, out.data());
  return out;
}

// The values of a float input known at plan time (scales, Resize's ROI).
inline expected<std::vector<double>> constant_floats(const infer_ctx& c, std::size_t i, const char* what) {
  const any_view* v = c.constant(i);
  if (!v) return unsupported(std::string("input '") + what + "' must be a constant");
  if (v->size() > (index_t{1} << 24)) return bad(std::string("input '") + what + "' is too long");
  std::vector<double> out;
  nn::visit_elem(v->type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = v->ptr<const T>();
    for_each_offset(v->as<const T>(), [&](index_t off) { out.push_back(nn::to_double(p[off])); });
  });
  return out;
}

inline expected<shape_t> to_shape(const std::vector<std::int64_t>& v) {
  if (v.size() > static_cast<std::size_t>(TESSERA_MAX_RANK))
    return unsupported("rank " + std::to_string(v.size()) + " exceeds " + std::to_string(TESSERA_MAX_RANK));
  shape_t s;
  for (std::int64_t d : v) s.push_back(d);
  TESSERA_TRY(checked_numel(s));
  return s;
}

inline status expect_type(const value_desc& d, elem_type t, const char* what) {
  if (d.type == t) return {};
  return bad(std::string(what) + " must be " + nn::elem_name(t) + ", not " + nn::elem_name(d.type));
}

inline status expect_float32(const infer_ctx& c, std::size_t i, const char* what) { return expect_type(c.in(i), elem_type::f32, what); }

// The ints attribute `name` with `n` entries (default `def` for each when absent).
inline expected<std::vector<std::int64_t>> ints_or(const build_ctx& b, const char* name, std::size_t n, std::int64_t def) {
  TESSERA_ASSIGN_OR_RETURN(auto v, b.attrs.get_ints(name));
  if (!v) return std::vector<std::int64_t>(n, def);
  if (v->size() != n) return bad("attribute '" + std::string(name) + "' has " + std::to_string(v->size()) + " values, " + std::to_string(n) + " expected");
  return *v;
}

// auto_pad of Conv / pooling.
enum class auto_pad : std::uint8_t { notset, same_upper, same_lower, valid };

inline expected<auto_pad> read_auto_pad(const build_ctx& b) {
  TESSERA_ASSIGN_OR_RETURN(const std::string s, b.attrs.get_string("auto_pad", "NOTSET"));
  if (s == "NOTSET" || s.empty()) return auto_pad::notset;
  if (s == "SAME_UPPER") return auto_pad::same_upper;
  if (s == "SAME_LOWER") return auto_pad::same_lower;
  if (s == "VALID") return auto_pad::valid;
  return bad("auto_pad '" + s + "' unknown");
}

// SAME padding of one axis: the output is ceil(in / stride); the odd pixel goes at the end
// (SAME_UPPER) or the beginning (SAME_LOWER).
inline void same_pads(auto_pad mode, std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d, std::int64_t& begin,
                      std::int64_t& end) {
  const std::int64_t out = (in + s - 1) / s;
  const std::int64_t total = std::max<std::int64_t>(0, (out - 1) * s + (k - 1) * d + 1 - in);
  begin = mode == auto_pad::same_upper ? total / 2 : total - total / 2;
  end = total - begin;
}

}  // namespace tessera::onnx::ops
