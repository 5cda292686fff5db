// ONNX op part: Gemm and MatMul over nn/linear.hpp. A constant B is packed at load (with
// alpha folded in, a constant C that is a row vector or scalar becoming the bias, a following
// activation fused); other operands go through the general GEMM per call.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/nn/elementwise.hpp>
#include <tessera/nn/linear.hpp>
#include <tessera/nn/shape_ops.hpp>
#include <tessera/onnx/ops/common.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tessera::onnx::ops {

class gemm_node : public op {
 public:
  gemm_node(float alpha, float beta, bool ta, bool tb) : alpha_(alpha), beta_(beta), ta_(ta), tb_(tb) {}

  status infer(infer_ctx& c) const override {
    if (!c.has(0) || (!linear_ && !c.has(1))) return bad("Gemm needs A and B");
    TESSERA_TRY(expect_float32(c, 0, "A"));
    const shape_t& a = c.in(0).shape;
    if (a.rank() != 2) return bad("A " + a.str() + " must be 2-D");
    const index_t M = ta_ ? a[1] : a[0], K = ta_ ? a[0] : a[1];
    index_t N = 0;
    if (linear_) {
      if (static_cast<index_t>(linear_->in_features()) != K) return bad("A " + a.str() + " does not fit B's " + std::to_string(linear_->in_features()) + " rows");
      N = static_cast<index_t>(linear_->out_features());
    } else {
      TESSERA_TRY(expect_float32(c, 1, "B"));
      const shape_t& b = c.in(1).shape;
      if (b.rank() != 2) return bad("B " + b.str() + " must be 2-D");
      if ((tb_ ? b[1] : b[0]) != K) return bad("A " + a.str() + " and B " + b.str() + " do not fit");
      N = tb_ ? b[0] : b[1];
    }
    if (c.has(2) && !bias_in_linear_) {
      TESSERA_TRY(expect_float32(c, 2, "C"));
      TESSERA_ASSIGN_OR_RETURN(const shape_t s, broadcast_shapes(shape_t{M, N}, c.in(2).shape));
      if (s != shape_t({M, N})) return bad("C " + c.in(2).shape.str() + " does not broadcast to [" + std::to_string(M) + "," + std::to_string(N) + "]");
    }
    c.set_output(0, elem_type::f32, shape_t{M, N});
    return {};
  }

  status prepare(prepare_ctx& c) override {
    const any_view* b = c.constant(1);
    if (!b || b->type != elem_type::f32 || b->rank() != 2) return {};
    const std::size_t K = static_cast<std::size_t>(tb_ ? b->shape[1] : b->shape[0]);
    const std::size_t N = static_cast<std::size_t>(tb_ ? b->shape[0] : b->shape[1]);
    // A constant C that is a row of N (or a scalar) becomes the bias: beta * C.
    std::vector<float> bias;
    const any_view* cv = c.num_inputs() > 2 ? c.constant(2) : nullptr;
    if (cv && cv->type == elem_type::f32 && beta_ != 0.0f) {
      const shape_t& s = cv->shape;
      const bool row = cv->size() == 1 || (s.rank() >= 1 && s[s.rank() - 1] == static_cast<index_t>(N) && cv->size() == static_cast<index_t>(N));
      if (row) {
        bias.resize(N);
        for (std::size_t j = 0; j < N; ++j) bias[j] = beta_ * cv->ptr<const float>()[cv->size() == 1 ? 0 : j];
      }
    }
    TESSERA_ASSIGN_OR_RETURN(nn::linear l, nn::linear::create(K, N, b->ptr<const float>(), tb_ ? kernels::transpose::yes : kernels::transpose::no,
                                                              bias.empty() ? nullptr : bias.data(), alpha_));
    linear_ = std::make_shared<nn::linear>(std::move(l));
    c.consume(1);
    if (!bias.empty()) {
      bias_in_linear_ = true;
      c.consume(2);
    }
    if (cv && beta_ == 0.0f) {  // beta 0: C is never read
      bias_in_linear_ = true;
      c.consume(2);
    }
    return {};
  }
  bool fuse_activation(const fused_activation& a) override {
    if (!linear_ || linear_->activation() != kernels::activation::none) return false;
    linear_->set_activation(a.act, a.clip_min, a.clip_max);
    return true;
  }

  status run(run_ctx& c) const override {
    const any_view& A = c.in(0);
    const any_view& Y = c.out(0);
    const std::size_t M = static_cast<std::size_t>(Y.shape[0]), N = static_cast<std::size_t>(Y.shape[1]);
    const arena_scope scope(c.scratch());
    // beta * C broadcast to [M, N], when C is not the packed bias.
    const float* residual = nullptr;
    const bool use_c = c.has(2) && !bias_in_linear_ && beta_ != 0.0f;
    if (use_c) {
      TESSERA_ASSIGN_OR_RETURN(float* r, c.scratch().allocate<float>(std::max<std::size_t>(1, M * N)));
      const any_view rv(r, elem_type::f32, Y.shape);
      TESSERA_TRY(nn::expand(rv, c.in(2)));
      if (beta_ != 1.0f) {
        const any_view k(const_cast<float*>(&beta_), elem_type::f32, shape_t{});
        TESSERA_TRY(nn::binary(rv, rv, k, nn::binary_op::mul));
      }
      residual = r;
    }
    if (linear_) {
      const float* a = A.ptr<const float>();
      if (ta_) {  // A^T packed into scratch
        TESSERA_ASSIGN_OR_RETURN(float* at, c.scratch().allocate<float>(std::max<index_t>(1, A.size())));
        const int perm[2] = {1, 0};
        TESSERA_TRY(nn::transpose(any_view(at, elem_type::f32, shape_t{A.shape[1], A.shape[0]}), A, perm));
        a = at;
      }
      return linear_->forward(Y.ptr<float>(), a, M, residual, c.pool());
    }
    const any_view& B = c.in(1);
    const std::size_t K = static_cast<std::size_t>(ta_ ? A.shape[0] : A.shape[1]);
    if (residual) std::memcpy(Y.data, residual, M * N * sizeof(float));
    return kernels::gemm_f32(M, N, K, alpha_, A.ptr<const float>(), static_cast<std::ptrdiff_t>(A.shape[1]),
                             ta_ ? kernels::transpose::yes : kernels::transpose::no, B.ptr<const float>(),
                             static_cast<std::ptrdiff_t>(B.shape[1]), tb_ ? kernels::transpose::yes : kernels::transpose::no,
                             residual ? 1.0f : 0.0f, Y.ptr<float>(), static_cast<std::ptrdiff_t>(N), {}, c.pool());
  }

 private:
  float alpha_, beta_;
  bool ta_, tb_;
  std::shared_ptr<nn::linear> linear_;
  bool bias_in_linear_ = false;
};

inline expected<std::unique_ptr<op>> build_gemm(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const float alpha, b.attrs.get_float("alpha", 1.0f));
  TESSERA_ASSIGN_OR_RETURN(const float beta, b.attrs.get_float("beta", 1.0f));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t ta, b.attrs.get_int("transA", 0));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t tb, b.attrs.get_int("transB", 0));
  if (!std::isfinite(alpha) || !std::isfinite(beta)) return bad("alpha and beta must be finite");
  return make_op<gemm_node>(alpha, beta, ta != 0, tb != 0);
}

class matmul_node : public op {
 public:
  status infer(infer_ctx& c) const override {
    if (!c.has(0) || (!linear_ && !c.has(1))) return bad("MatMul needs A and B");
    TESSERA_TRY(expect_float32(c, 0, "A"));
    if (linear_) {
      const shape_t& a = c.in(0).shape;
      const shape_t b{static_cast<index_t>(linear_->in_features()), static_cast<index_t>(linear_->out_features())};
      TESSERA_ASSIGN_OR_RETURN(const shape_t out, nn::matmul_shape(a, b));
      c.set_output(0, elem_type::f32, out);
      return {};
    }
    TESSERA_TRY(expect_float32(c, 1, "B"));
    TESSERA_ASSIGN_OR_RETURN(const shape_t out, nn::matmul_shape(c.in(0).shape, c.in(1).shape));
    c.set_output(0, elem_type::f32, out);
    return {};
  }
  status prepare(prepare_ctx& c) override {
    const any_view* b = c.constant(1);
    if (!b || b->type != elem_type::f32 || b->rank() != 2) return {};
    TESSERA_ASSIGN_OR_RETURN(nn::linear l, nn::linear::create(static_cast<std::size_t>(b->shape[0]), static_cast<std::size_t>(b->shape[1]),
                                                              b->ptr<const float>(), kernels::transpose::no, nullptr));
    linear_ = std::make_shared<nn::linear>(std::move(l));
    c.consume(1);
    return {};
  }
  bool fuse_activation(const fused_activation& a) override {
    if (!linear_ || linear_->activation() != kernels::activation::none) return false;
    linear_->set_activation(a.act, a.clip_min, a.clip_max);
    return true;
  }
  status run(run_ctx& c) const override {
    if (linear_) {
      const any_view& A = c.in(0);
      const std::size_t K = linear_->in_features();
      const std::size_t M = K ? static_cast<std::size_t>(A.size()) / K : 0;
      return linear_->forward(c.out(0).ptr<float>(), A.ptr<const float>(), M, nullptr, c.pool());
    }
    return nn::matmul(c.out(0), c.in(0), c.in(1), c.pool());
  }

 private:
  std::shared_ptr<nn::linear> linear_;
};

inline expected<std::unique_ptr<op>> build_matmul(const build_ctx&, int) { return make_op<matmul_node>(); }

}  // namespace tessera::onnx::ops
