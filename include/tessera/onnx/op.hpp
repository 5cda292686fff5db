// The interface every imported ONNX operator implements, and what the importer and the
// runtime hand it.
//
// An op is built once per node from its attributes (onnx/ops.def names the builder of each
// op type), may take its constant inputs at load (prepare: pack weights) and absorb a
// neighbour (fusions), and is then immutable. Per set of input shapes the planner calls
// infer() (output types and shapes; constant inputs are visible, so shape-computing chains
// fold), and run() computes the outputs into buffers the plan placed. Errors an op returns
// are prefixed by the planner with the node's op type and name.
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/nn/tensor.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera::onnx {

using nn::any_view;
using nn::elem_type;

// How a tensor's elements lie in memory. channels_last: a logical [N, C, S...] tensor
// (rank 3 to 5) stored as [N, S..., C], the layout of the conv and pooling kernels.
enum class layout : std::uint8_t { plain, channels_last };

// What an op accepts. The planner inserts layout changes where a tensor's layout differs.
enum class layout_rule : std::uint8_t {
  plain,          // every input and output plain (contiguous row-major)
  channels_last,  // input 0 and output 0 channels-last; the other inputs plain
  any,            // inputs in any layout (the op reads strided views); outputs follow the
                  // layout of the first input of their rank (>= 3), else plain
};

// An input as infer() sees it: type, shape, and the value when it is known at plan time.
struct value_desc {
  elem_type type = elem_type::f32;
  shape_t shape;
  const any_view* constant = nullptr;  // null: computed at run time
  bool present = false;                // false: an omitted optional input
  // The value is a graph input's, known at this plan only: reading it through constant()
  // makes the plan depend on it (re-planned when it changes). `runtime_value` without
  // `constant`: a graph input whose value is not available here.
  bool runtime_value = false;
};

// Per-plan state an op may compute in infer() (tap tables, weights prepared for the actual
// padding); run() gets it back.
struct op_state {
  virtual ~op_state() = default;
};

// An activation an op can apply in its epilogue (kernels/epilogue.hpp: fused == unfused bits).
struct fused_activation {
  kernels::activation act = kernels::activation::none;
  float clip_min = 0, clip_max = 0;
};

class infer_ctx {
 public:
  infer_ctx(int opset, const std::vector<value_desc>& inputs, std::vector<value_desc>& outputs)
      : opset_(opset), in_(inputs), out_(outputs), read_(inputs.size(), false) {}
  int opset() const noexcept { return opset_; }
  std::size_t num_inputs() const noexcept { return in_.size(); }
  std::size_t num_outputs() const noexcept { return out_.size(); }
  // Present (listed and not the empty name of an omitted optional input).
  bool has(std::size_t i) const noexcept { return i < in_.size() && in_[i].present; }
  const value_desc& in(std::size_t i) const noexcept { return in_[i]; }
  // The value of input i when it is known at plan time, else null.
  const any_view* constant(std::size_t i) const {
    if (!has(i)) return nullptr;
    if (in_[i].runtime_value) read_[i] = true;
    return in_[i].constant;
  }
  // The value of input i when it is a constant of the model (never a fed input's value).
  const any_view* fixed(std::size_t i) const noexcept { return has(i) && !in_[i].runtime_value ? in_[i].constant : nullptr; }
  // Inputs whose graph-input value infer() read.
  const std::vector<bool>& read_values() const noexcept { return read_; }
  void set_output(std::size_t i, elem_type t, const shape_t& s) {
    if (i < out_.size()) out_[i] = value_desc{t, s, nullptr, true};
  }
  void set_state(std::unique_ptr<op_state> s) { state_ = std::move(s); }
  std::unique_ptr<op_state> take_state() { return std::move(state_); }
  // The memory bound of the plan (or of folding) this inference is for: an op whose per-plan
  // state grows with an output's extents checks the output against it before building that
  // state (a hostile 1.4e9-wide Resize must not allocate its tables first).
  std::uint64_t max_bytes() const noexcept { return max_bytes_; }
  void set_max_bytes(std::uint64_t b) noexcept { max_bytes_ = b; }

 private:
  int opset_;
  const std::vector<value_desc>& in_;
  std::vector<value_desc>& out_;
  std::unique_ptr<op_state> state_;
  mutable std::vector<bool> read_;
  std::uint64_t max_bytes_ = UINT64_MAX;
};

class run_ctx {
 public:
  run_ctx(const any_view* in, const bool* present, std::size_t n_in, const any_view* out, std::size_t n_out,
          arena& scratch, runtime::thread_pool* pool, const op_state* state)
      : in_(in), present_(present), n_in_(n_in), out_(out), n_out_(n_out), scratch_(scratch), pool_(pool), state_(state) {}
  std::size_t num_inputs() const noexcept { return n_in_; }
  std::size_t num_outputs() const noexcept { return n_out_; }
  bool has(std::size_t i) const noexcept { return i < n_in_ && present_[i]; }
  const any_view& in(std::size_t i) const noexcept { return in_[i]; }
  // An output the graph does not use still gets a buffer (ops may always write it).
  const any_view& out(std::size_t i) const noexcept { return out_[i]; }
  arena& scratch() const noexcept { return scratch_; }
  runtime::thread_pool* pool() const noexcept { return pool_; }
  const op_state* state() const noexcept { return state_; }
  // A residual the planner fused into this step (output-shaped, output layout), or null.
  const float* residual = nullptr;
  fused_activation residual_act;

 private:
  const any_view* in_;
  const bool* present_;
  std::size_t n_in_;
  const any_view* out_;
  std::size_t n_out_;
  arena& scratch_;
  runtime::thread_pool* pool_;
  const op_state* state_;
};

// What prepare() sees at load: the constant inputs (initializers and folded constants).
class prepare_ctx {
 public:
  explicit prepare_ctx(std::vector<const any_view*> constants, std::vector<std::shared_ptr<const void>> owners = {})
      : constants_(std::move(constants)), owners_(std::move(owners)), consumed_(constants_.size(), false) {}
  std::size_t num_inputs() const noexcept { return constants_.size(); }
  const any_view* constant(std::size_t i) const noexcept { return i < constants_.size() ? constants_[i] : nullptr; }
  // What keeps constant(i)'s bytes alive (null when unknown): an op that holds it may read
  // the bytes until finalize() instead of copying them at prepare().
  std::shared_ptr<const void> constant_owner(std::size_t i) const { return i < owners_.size() ? owners_[i] : nullptr; }
  // The op took input i into its own state: the runtime need not keep or pass it.
  void consume(std::size_t i) {
    if (i < consumed_.size()) consumed_[i] = true;
  }
  const std::vector<bool>& consumed() const noexcept { return consumed_; }

 private:
  std::vector<const any_view*> constants_;
  std::vector<std::shared_ptr<const void>> owners_;
  std::vector<bool> consumed_;
};

class op {
 public:
  virtual ~op() = default;

  // Output types and shapes (every input shape is concrete here).
  virtual status infer(infer_ctx& c) const = 0;
  // Computes the outputs. Must not allocate from the heap when its inputs are planned
  // buffers: temporaries come from c.scratch().
  virtual status run(run_ctx& c) const = 0;

  virtual layout_rule layouts() const { return layout_rule::plain; }
  // Output 0 holds input 0's bytes under another shape (Reshape, Flatten, Squeeze, Identity):
  // the planner aliases the buffers and skips the step.
  virtual bool is_view() const { return false; }
  // Whether run() reads the elements of input i (Shape reads only the shape).
  virtual bool reads_data(std::size_t) const { return true; }
  // Load time, after constant folding: take constant inputs (weights) into the op.
  virtual status prepare(prepare_ctx&) { return {}; }
  // Load time, after the fusions: pack what prepare() took (conv and GEMM weights).
  virtual status finalize() { return {}; }

  // ---- fusion hooks (load time, between prepare and finalize) --------------------------
  // This op is an activation an epilogue can apply.
  virtual bool as_activation(fused_activation&) const { return false; }
  // Apply `a` to output 0 in the epilogue; false if this op cannot.
  virtual bool fuse_activation(const fused_activation&) { return false; }
  // Scale and shift output channel c of output 0 (a BatchNormalization folded into a conv).
  virtual bool fuse_channel_affine(const std::vector<float>& /*scale*/, const std::vector<float>& /*shift*/) { return false; }
  // This op is a per-channel affine (inference BatchNormalization) with constant parameters.
  virtual bool as_channel_affine(std::vector<float>& /*scale*/, std::vector<float>& /*shift*/) const { return false; }
  // Plan time: run() honours run_ctx::residual (added before the activation, output layout).
  virtual bool accepts_residual() const { return false; }
  // This op is an element-wise Add (with the activation it applies after the sum).
  virtual bool is_add(fused_activation&) const { return false; }
  // Whether a fused residual may carry this activation (the op applies it after the sum).
  virtual bool has_activation() const { return false; }
};

}  // namespace tessera::onnx
