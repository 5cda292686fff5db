// Data movement layers of any element type: transpose, slice, concat, split, expand, tile,
// gather, pad, depth/space rearrangements. Each builds a strided view of its source (or of
// its destination) and hands it to nn::copy, which walks the destination in memory order; so
// they also read channels-last views of logical NCHW tensors without a layout change.
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/nn/elementwise.hpp>
#include <tessera/nn/tensor.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tessera::nn {

// out = in with axes permuted: axis i of out is axis perm[i] of in.
inline status transpose(const any_view& out, const any_view& in, const int* perm) { return copy(out, in.permuted(perm)); }

// A view of elements start, start + step, ... (count of them) along each axis; step may be
// negative. The caller has validated start/step/count against the extents.
inline any_view slice_view(const any_view& in, const index_t* start, const index_t* step, const index_t* count) {
  any_view v = in;
  index_t off = 0;
  for (int i = 0; i < in.rank(); ++i) {
    if (count[i] > 0) off += start[i] * in.strides[i];
    v.shape[i] = count[i];
    v.strides[i] = count[i] > 1 ? in.strides[i] * step[i] : in.strides[i];  // a lone element's step may be any int64
  }
  v.data = static_cast<unsigned char*>(in.data) + off * static_cast<index_t>(elem_size(in.type));
  return v;
}

// The part [begin, begin + extent) of `v` along `axis` (extent may be 0).
inline any_view narrow(const any_view& v, int axis, index_t begin, index_t extent) {
  any_view r = v;
  r.shape[axis] = extent;
  if (extent > 0) r.data = static_cast<unsigned char*>(v.data) + begin * v.strides[axis] * static_cast<index_t>(elem_size(v.type));
  return r;
}

// out = the inputs stacked along `axis` (their other extents equal out's).
inline status concat(const any_view& out, const any_view* inputs, std::size_t n, int axis) {
  index_t at = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const index_t e = inputs[i].shape[axis];
    if (at + e > out.shape[axis]) return make_error(errc::shape_mismatch, "concat: inputs exceed the output along the axis");
    TESSERA_TRY(copy(narrow(out, axis, at, e), inputs[i]));
    at += e;
  }
  if (at != out.shape[axis]) return make_error(errc::shape_mismatch, "concat: inputs do not fill the output");
  return {};
}

// outputs[i] = the consecutive parts of `in` along `axis`.
inline status split(const any_view* outputs, std::size_t n, const any_view& in, int axis) {
  index_t at = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const index_t e = outputs[i].shape[axis];
    if (at + e > in.shape[axis]) return make_error(errc::shape_mismatch, "split: parts exceed the input");
    TESSERA_TRY(copy(outputs[i], narrow(in, axis, at, e)));
    at += e;
  }
  return {};
}

// out = in broadcast to out's shape (NumPy rules).
inline status expand(const any_view& out, const any_view& in) {
  TESSERA_ASSIGN_OR_RETURN(const any_view b, detail::broadcast_view(in, out.shape, "expand"));
  return copy(out, b);
}

// out = in repeated repeats[i] times along each axis (out extent = in extent * repeats).
inline status tile(const any_view& out, const any_view& in) {
  const int r = in.rank();
  if (2 * r > TESSERA_MAX_RANK) return make_error(errc::unsupported, "tile: rank too large");
  // out as [rep0, d0, rep1, d1, ...]; in broadcast over the rep axes.
  any_view o = out, i = in;
  o.shape = shape_t{};
  o.strides = strides_t{};
  i.shape = shape_t{};
  i.strides = strides_t{};
  for (int a = 0; a < r; ++a) {
    const index_t d = in.shape[a], rep = d == 0 ? 0 : out.shape[a] / d;
    o.shape.push_back(rep);
    o.shape.push_back(d);
    o.strides.push_back(out.strides[a] * d);
    o.strides.push_back(out.strides[a]);
    i.shape.push_back(rep);
    i.shape.push_back(d);
    i.strides.push_back(0);
    i.strides.push_back(in.strides[a]);
  }
  return copy(o, i);
}

// out = data gathered along `axis` at `indices` (int32/int64; negative counts from the end).
// data and out contiguous; out shape = data[:axis] + indices + data[axis+1:].
inline status gather(const any_view& out, const any_view& data, const any_view& indices, int axis) {
  if (!data.is_contiguous() || !out.is_contiguous()) return make_error(errc::invalid_argument, "gather: contiguous tensors only");
  if (indices.type != elem_type::i64 && indices.type != elem_type::i32)
    return make_error(errc::invalid_argument, "gather: indices must be int32 or int64");
  index_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= data.shape[i];
  for (int i = axis + 1; i < data.rank(); ++i) inner *= data.shape[i];
  const index_t D = data.shape[axis], K = indices.size();
  const std::size_t row = static_cast<std::size_t>(inner) * elem_size(data.type);
  const auto* src = static_cast<const unsigned char*>(data.data);
  auto* dst = static_cast<unsigned char*>(out.data);
  auto index_at = [&](index_t k, index_t& idx) -> status {
    if (indices.type == elem_type::i64) idx = indices.ptr<const std::int64_t>()[k];
    else idx = indices.ptr<const std::int32_t>()[k];
    if (idx < -D || idx >= D)
      return make_error(errc::out_of_range, "gather: index " + std::to_string(idx) + " out of range for extent " + std::to_string(D));
    if (idx < 0) idx += D;
    return {};
  };
  if (!indices.is_contiguous()) return make_error(errc::invalid_argument, "gather: contiguous indices only");
  for (index_t k = 0; k < K; ++k) {  // all indices are checked before anything is written
    index_t idx = 0;
    TESSERA_TRY(index_at(k, idx));
  }
  for (index_t o = 0; o < outer; ++o)
    for (index_t k = 0; k < K; ++k) {
      index_t idx = 0;
      (void)index_at(k, idx);
      if (row) std::memcpy(dst + static_cast<std::size_t>(o * K + k) * row, src + static_cast<std::size_t>(o * D + idx) * row, row);
    }
  return {};
}

enum class pad_mode : std::uint8_t { constant, reflect, edge, wrap };

// out = in padded by pads_begin / pads_end per axis (negative pads crop). Out extents are
// in + begin + end. reflect needs in extent >= 2 on padded axes (the mirror excludes the edge).
inline status pad(const any_view& out, const any_view& in, const index_t* begin, const index_t* end, pad_mode mode,
                  double value, arena& scratch) {
  const int r = in.rank();
  for (int i = 0; i < r; ++i)
    if (out.shape[i] != in.shape[i] + begin[i] + end[i]) return make_error(errc::shape_mismatch, "pad: output shape");
  if (out.size() == 0) return {};
  if (mode == pad_mode::constant || in.size() == 0) {
    if (mode != pad_mode::constant && in.size() == 0)
      return make_error(errc::invalid_argument, "pad: cannot pad an empty tensor in this mode");
    fill(out, value);
    // The overlap: out[max(begin,0) ...] = in[max(-begin,0) ...].
    any_view o = out, i = in;
    for (int a = 0; a < r; ++a) {
      const index_t ob = begin[a] > 0 ? begin[a] : 0, ib = begin[a] < 0 ? -begin[a] : 0;
      const index_t ext = std::min(out.shape[a] - ob, in.shape[a] - ib);
      if (ext <= 0) return {};
      o = narrow(o, a, ob, ext);
      i = narrow(i, a, ib, ext);
    }
    return copy(o, i);
  }
  // Edge, reflect and wrap: an index table per axis, then one gather walk.
  const arena_scope scope(scratch);
  index_t* table[TESSERA_MAX_RANK] = {};
  for (int a = 0; a < r; ++a) {
    const index_t n = in.shape[a];
    if (mode == pad_mode::reflect && n < 2 && (begin[a] > 0 || end[a] > 0))
      return make_error(errc::invalid_argument, "pad: reflect needs at least 2 elements along a padded axis");
    TESSERA_ASSIGN_OR_RETURN(table[a], scratch.allocate<index_t>(static_cast<std::size_t>(out.shape[a])));
    for (index_t o = 0; o < out.shape[a]; ++o) {
      index_t x = o - begin[a];
      if (x >= 0 && x < n) {
        // inside the input: itself
      } else if (mode == pad_mode::edge) {
        x = x < 0 ? 0 : x >= n ? n - 1 : x;
      } else if (mode == pad_mode::wrap) {
        x %= n;
        if (x < 0) x += n;
      } else {
        const index_t period = 2 * (n - 1);
        x %= period;
        if (x < 0) x += period;
        if (x >= n) x = period - x;
      }
      table[a][o] = x;
    }
  }
  const std::size_t es = elem_size(in.type);
  index_t idx[TESSERA_MAX_RANK] = {};
  const index_t total = out.size();
  auto* dst = static_cast<unsigned char*>(out.data);
  const auto* src = static_cast<const unsigned char*>(in.data);
  for (index_t t = 0; t < total; ++t) {
    index_t so = 0, si = 0;
    for (int a = 0; a < r; ++a) {
      so += idx[a] * out.strides[a];
      si += table[a][idx[a]] * in.strides[a];
    }
    std::memcpy(dst + so * static_cast<index_t>(es), src + si * static_cast<index_t>(es), es);
    for (int a = r - 1; a >= 0; --a) {
      if (++idx[a] < out.shape[a]) break;
      idx[a] = 0;
    }
  }
  return {};
}

// DepthToSpace ([N, C, H, W] -> [N, C/b^2, H*b, W*b]); DCR (depth-column-row) or CRD order.
inline status depth_to_space(const any_view& out, const any_view& in, index_t b, bool crd) {
  const index_t N = in.shape[0], C = in.shape[1], H = in.shape[2], W = in.shape[3], Co = C / (b * b);
  if (!in.is_contiguous() || !out.is_contiguous()) return make_error(errc::invalid_argument, "depth_to_space: contiguous tensors only");
  // in as 6-D, permuted into out's [N, Co, H, b, W, b].
  any_view v = in;
  int perm[6];
  if (crd) {
    v.shape = shape_t{N, Co, b, b, H, W};
    const int p[6] = {0, 1, 4, 2, 5, 3};
    std::copy(p, p + 6, perm);
  } else {
    v.shape = shape_t{N, b, b, Co, H, W};
    const int p[6] = {0, 3, 4, 1, 5, 2};
    std::copy(p, p + 6, perm);
  }
  v.strides = contiguous_strides(v.shape);
  any_view o = out;
  o.shape = shape_t{N, Co, H, b, W, b};
  o.strides = contiguous_strides(o.shape);
  return copy(o, v.permuted(perm));
}

// SpaceToDepth ([N, C, H, W] -> [N, C*b^2, H/b, W/b]).
inline status space_to_depth(const any_view& out, const any_view& in, index_t b) {
  const index_t N = in.shape[0], C = in.shape[1], H = in.shape[2], W = in.shape[3];
  if (!in.is_contiguous() || !out.is_contiguous()) return make_error(errc::invalid_argument, "space_to_depth: contiguous tensors only");
  any_view v = in;
  v.shape = shape_t{N, C, H / b, b, W / b, b};
  v.strides = contiguous_strides(v.shape);
  const int perm[6] = {0, 3, 5, 1, 2, 4};
  any_view o = out;
  o.shape = shape_t{N, b, b, C, H / b, W / b};
  o.strides = contiguous_strides(o.shape);
  return copy(o, v.permuted(perm));
}

}  // namespace tessera::nn
