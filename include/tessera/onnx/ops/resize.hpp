// ONNX op part: Resize (opsets 10 to 19: scales or sizes, axes, ROI, every coordinate mode,
// nearest rounding modes, linear, cubic, antialias, keep_aspect_ratio_policy) and Upsample,
// over nn/resize.hpp. The tap tables are built when the input shape is known (plan time).
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/nn/resize.hpp>
#include <tessera/onnx/ops/common.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace tessera::onnx::ops {

class resize_node : public op {
 public:
  enum class aspect : std::uint8_t { stretch, not_larger, not_smaller };
  struct attrs {
    nn::resize_params p;
    std::optional<std::vector<std::int64_t>> axes;
    aspect policy = aspect::stretch;
    bool upsample = false;       // Upsample: scales from the attribute (opset 7) or input 1
    bool legacy_inputs = false;  // Resize-10 / Upsample-9: (X, scales)
    std::optional<std::vector<float>> attr_scales;
  };
  explicit resize_node(attrs a) : a_(std::move(a)) {}
  layout_rule layouts() const override { return layout_rule::any; }

  struct plan_state : op_state {
    std::vector<nn::resize_axis> axes;
  };

  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing X");
    TESSERA_TRY(expect_float32(c, 0, "X"));
    const shape_t& x = c.in(0).shape;
    const int r = x.rank();
    std::vector<int> axes;
    if (a_.axes) {
      TESSERA_ASSIGN_OR_RETURN(axes, normalize_axes(*a_.axes, r));
    } else {
      for (int i = 0; i < r; ++i) axes.push_back(i);
    }
    const std::size_t k = axes.size();
    std::vector<double> scales(static_cast<std::size_t>(r), 1.0), roi_start(static_cast<std::size_t>(r), 0.0), roi_end(static_cast<std::size_t>(r), 1.0);
    shape_t out = x;
    std::vector<double> given_scales;
    std::vector<std::int64_t> sizes;
    if (a_.attr_scales) {
      given_scales.assign(a_.attr_scales->begin(), a_.attr_scales->end());
    } else if (a_.legacy_inputs) {
      if (!c.has(1)) return bad("missing scales");
      TESSERA_ASSIGN_OR_RETURN(given_scales, constant_floats(c, 1, "scales"));
    } else {
      if (c.has(2) && numel(c.in(2).shape) > 0) {
        TESSERA_ASSIGN_OR_RETURN(given_scales, constant_floats(c, 2, "scales"));
      }
      if (c.has(3) && numel(c.in(3).shape) > 0) {
        TESSERA_ASSIGN_OR_RETURN(sizes, constant_ints(c, 3, "sizes"));
      }
      if (given_scales.empty() == sizes.empty()) return bad("exactly one of scales and sizes must be given");
      if (a_.p.coordinates == nn::resize_coordinates::tf_crop_and_resize && c.has(1) && numel(c.in(1).shape) > 0) {
        TESSERA_ASSIGN_OR_RETURN(const std::vector<double> roi, constant_floats(c, 1, "roi"));
        if (roi.size() != 2 * k) return bad("roi has " + std::to_string(roi.size()) + " values for " + std::to_string(k) + " axes");
        for (std::size_t i = 0; i < k; ++i) {
          roi_start[static_cast<std::size_t>(axes[i])] = roi[i];
          roi_end[static_cast<std::size_t>(axes[i])] = roi[i + k];
        }
      }
    }
    if (!given_scales.empty()) {
      if (given_scales.size() != k) return bad("scales has " + std::to_string(given_scales.size()) + " values for " + std::to_string(k) + " axes");
      for (std::size_t i = 0; i < k; ++i) {
        const int a = axes[i];
        const double s = given_scales[i];
        if (!(s > 0) || !std::isfinite(s)) return bad("scale " + std::to_string(s) + " must be positive");
        const double o = std::floor(static_cast<double>(x[a]) * s);
        if (o > static_cast<double>(index_t{1} << 40)) return bad("output too large");
        scales[static_cast<std::size_t>(a)] = s;
        out[a] = static_cast<index_t>(o);
      }
    } else {
      if (sizes.size() != k) return bad("sizes has " + std::to_string(sizes.size()) + " values for " + std::to_string(k) + " axes");
      for (std::size_t i = 0; i < k; ++i)
        if (sizes[i] < 0 || x[axes[i]] < 1) return bad("sizes must be >= 0 and the input not empty");
      if (a_.policy == aspect::stretch) {
        for (std::size_t i = 0; i < k; ++i) {
          const int a = axes[i];
          out[a] = sizes[i];
          scales[static_cast<std::size_t>(a)] = static_cast<double>(sizes[i]) / static_cast<double>(x[a]);
        }
      } else {
        double s = a_.policy == aspect::not_larger ? INFINITY : 0;
        for (std::size_t i = 0; i < k; ++i) {
          const double r_i = static_cast<double>(sizes[i]) / static_cast<double>(x[axes[i]]);
          s = a_.policy == aspect::not_larger ? std::min(s, r_i) : std::max(s, r_i);
        }
        for (std::size_t i = 0; i < k; ++i) {
          const int a = axes[i];
          out[a] = static_cast<index_t>(std::floor(s * static_cast<double>(x[a]) + 0.5));
          scales[static_cast<std::size_t>(a)] = s;
        }
      }
    }
    TESSERA_ASSIGN_OR_RETURN(const index_t out_count, checked_numel(out));
    // The axis tables below are as long as the output's extents: refuse an output over the
    // memory bound before building them.
    std::uint64_t extents = 0;  // an empty output may still have one huge axis
    for (int a = 0; a < r; ++a) extents += static_cast<std::uint64_t>(out[a]);
    if (static_cast<std::uint64_t>(out_count) * sizeof(float) > c.max_bytes() || extents > c.max_bytes() / 16)
      return make_error(errc::out_of_memory, "output " + out.str() + " exceeds the memory limit");
    auto st = std::make_unique<plan_state>();
    for (int a = 0; a < r; ++a) {
      if (out[a] > 0 && x[a] < 1) return bad("cannot resize an empty axis");
      if (x[a] < 1) {
        nn::resize_axis ax;
        ax.in = x[a];
        ax.out = out[a];
        st->axes.push_back(std::move(ax));
        continue;
      }
      const std::size_t u = static_cast<std::size_t>(a);
      TESSERA_ASSIGN_OR_RETURN(nn::resize_axis ax, nn::make_resize_axis(x[a], out[a], scales[u], roi_start[u], roi_end[u], a_.p));
      st->axes.push_back(std::move(ax));
    }
    c.set_state(std::move(st));
    c.set_output(0, elem_type::f32, out);
    return {};
  }

  status run(run_ctx& c) const override {
    const auto* st = static_cast<const plan_state*>(c.state());
    return nn::resize(c.out(0), c.in(0), st->axes.data(), a_.p.extrapolation_value, c.scratch());
  }

 private:
  attrs a_;
};

inline expected<std::unique_ptr<op>> build_resize(const build_ctx& b, bool upsample) {
  resize_node::attrs a;
  a.upsample = upsample;
  TESSERA_ASSIGN_OR_RETURN(const std::string mode, b.attrs.get_string("mode", "nearest"));
  if (mode == "nearest") a.p.mode = nn::resize_mode::nearest;
  else if (mode == "linear" || mode == "bilinear") a.p.mode = nn::resize_mode::linear;
  else if (mode == "cubic") a.p.mode = nn::resize_mode::cubic;
  else return bad("mode '" + mode + "' unknown");
  if (upsample || b.opset < 11) {
    // Upsample and Resize-10: asymmetric coordinates, nearest rounds down (repetition).
    a.p.coordinates = nn::resize_coordinates::asymmetric;
    a.p.rounding = nn::nearest_rounding::floor;
    if (a.p.mode == nn::resize_mode::cubic && upsample) return bad("Upsample has no cubic mode");
    a.legacy_inputs = true;
    if (upsample && b.opset < 9) {
      TESSERA_ASSIGN_OR_RETURN(a.attr_scales, b.attrs.get_floats("scales"));
      if (!a.attr_scales) return bad("Upsample-7 needs the scales attribute");
    }
    return make_op<resize_node>(std::move(a));
  }
  TESSERA_ASSIGN_OR_RETURN(const std::string coord, b.attrs.get_string("coordinate_transformation_mode", "half_pixel"));
  using rc = nn::resize_coordinates;
  if (coord == "half_pixel") a.p.coordinates = rc::half_pixel;
  else if (coord == "half_pixel_symmetric") a.p.coordinates = rc::half_pixel_symmetric;
  else if (coord == "pytorch_half_pixel") a.p.coordinates = rc::pytorch_half_pixel;
  else if (coord == "align_corners") a.p.coordinates = rc::align_corners;
  else if (coord == "asymmetric") a.p.coordinates = rc::asymmetric;
  else if (coord == "tf_crop_and_resize") a.p.coordinates = rc::tf_crop_and_resize;
  else if (coord == "tf_half_pixel_for_nn") a.p.coordinates = rc::tf_half_pixel_for_nn;
  else return bad("coordinate_transformation_mode '" + coord + "' unknown");
  TESSERA_ASSIGN_OR_RETURN(const std::string nearest, b.attrs.get_string("nearest_mode", "round_prefer_floor"));
  using nr = nn::nearest_rounding;
  if (nearest == "round_prefer_floor") a.p.rounding = nr::round_prefer_floor;
  else if (nearest == "round_prefer_ceil") a.p.rounding = nr::round_prefer_ceil;
  else if (nearest == "floor") a.p.rounding = nr::floor;
  else if (nearest == "ceil") a.p.rounding = nr::ceil;
  else return bad("nearest_mode '" + nearest + "' unknown");
  TESSERA_ASSIGN_OR_RETURN(const float cubic_a, b.attrs.get_float("cubic_coeff_a", -0.75f));
  a.p.cubic_a = cubic_a;
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t exclude, b.attrs.get_int("exclude_outside", 0));
  a.p.exclude_outside = exclude != 0;
  TESSERA_ASSIGN_OR_RETURN(a.p.extrapolation_value, b.attrs.get_float("extrapolation_value", 0.0f));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t antialias, b.attrs.get_int("antialias", 0));
  a.p.antialias = antialias != 0;
  TESSERA_ASSIGN_OR_RETURN(a.axes, b.attrs.get_ints("axes"));
  TESSERA_ASSIGN_OR_RETURN(const std::string policy, b.attrs.get_string("keep_aspect_ratio_policy", "stretch"));
  if (policy == "stretch") a.policy = resize_node::aspect::stretch;
  else if (policy == "not_larger") a.policy = resize_node::aspect::not_larger;
  else if (policy == "not_smaller") a.policy = resize_node::aspect::not_smaller;
  else return bad("keep_aspect_ratio_policy '" + policy + "' unknown");
  return make_op<resize_node>(std::move(a));
}

}  // namespace tessera::onnx::ops
