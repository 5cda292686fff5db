// Fast batched predictor for the forest IR (forest.hpp). Bit-exact with the reference
// interpreter (predict_ref.hpp): same leaves, same accumulation precision and order.
//
// compile() = compile_flat() (compile.hpp: the forest -> the flat layout of forest_view.hpp)
// plus a predictor over its arrays; wrap() runs a view whose arrays live elsewhere, such as
// the constexpr arrays of a generated header (compiled.hpp). The traversal kernels are the
// private part trees/predict/traversal.hpp.
//
// Batches are processed in blocks of kBlock rows: for each tree (in order), every row of
// the block advances one level at a time, so the loads of different rows overlap (the walk
// of one row is a chain of dependent loads; a block hides that latency). The block's
// rows and the tree (a few KB) stay in L1. Blocks go to threads in tasks of a few blocks
// taken as threads finish (see run()). Accumulation per row is in tree order, in float for
// XGBoost and double for LightGBM, exactly as the reference.
//
// Scratch: a call's temporaries (a block's accumulators and feature-major copy, double rows
// rounded to float, one row's margins) come from an arena, the caller's or else the calling
// thread's thread_arena(), for every pool thread before any work starts. So running out is
// errc::out_of_memory before any output is written, and repeating a call allocates nothing.
#pragma once

#ifndef TESSERA_PUBLIC_FRONT
#define TESSERA_PUBLIC_FRONT
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "tessera/core/arena.hpp"
#include "tessera/core/error.hpp"
#include "tessera/runtime/thread_pool.hpp"
#include "tessera/trees/compile.hpp"
#include "tessera/trees/forest.hpp"
#include "tessera/trees/forest_view.hpp"
#include "tessera/trees/objective.hpp"
#include "tessera/trees/predict/traversal.hpp"

namespace tessera::trees {

class predictor {
 public:
  predictor() = default;

  // Runs a compiled forest, sharing its arrays (compile_flat checked them as it built them).
  explicit predictor(flat_forest compiled) : owned_(std::move(compiled)), view_(owned_.view()) { set_meta(); }

  // Runs from a view whose arrays outlive the predictor (e.g. a generated header). Checks
  // every index in the view first, so a corrupt view is an error, not a wild read.
  static expected<predictor> wrap(const forest_view& v) {
    TESSERA_TRY(v.validate());
    predictor p;
    p.view_ = v;
    p.set_meta();
    return p;
  }

  const forest_view& view() const noexcept { return view_; }
  std::int32_t num_features() const noexcept { return view_.num_features; }
  std::int32_t num_outputs() const noexcept { return view_.num_outputs; }
  std::int32_t num_transformed_outputs() const noexcept { return view_.num_transformed_outputs(); }
  std::size_t num_trees() const noexcept { return view_.trees.size(); }
  std::size_t num_complete_trees() const noexcept {
    std::size_t c = 0;
    for (const tree_info& t : view_.trees) c += t.kind == tree_kind::complete;
    return c;
  }

  // Raw margins: rows holds n_rows * n_features values (row-major, NaN = missing) and n_features
  // must equal the model's; out holds n_rows * num_outputs(). pool: null = single thread.
  // scratch: where the call's temporaries come from (null: thread_arena()); it is rewound
  // on return, and errc::out_of_memory reports that it could not provide them.
  template <class Out, class In>
  status predict_margin(std::span<Out> out, std::span<const In> rows, std::size_t n_features,
                        runtime::thread_pool* pool = nullptr, arena* scratch = nullptr) const {
    return run<Out, In>(out, rows, n_features, pool, scratch, false);
  }
  // Transformed predictions (probabilities, class index for argmax, ...): out holds
  // n_rows * num_transformed_outputs().
  template <class Out, class In>
  status predict(std::span<Out> out, std::span<const In> rows, std::size_t n_features,
                 runtime::thread_pool* pool = nullptr, arena* scratch = nullptr) const {
    return run<Out, In>(out, rows, n_features, pool, scratch, true);
  }
  // Same, with pointers (out must hold n_rows * outputs values).
  template <class Out, class In>
  status predict_margin(Out* out, const In* rows, std::size_t n_rows, std::size_t n_features,
                        runtime::thread_pool* pool = nullptr, arena* scratch = nullptr) const {
    return run<Out, In>(std::span<Out>(out, n_rows * static_cast<std::size_t>(num_outputs())),
                        std::span<const In>(rows, n_rows * n_features), n_features, pool, scratch, false);
  }
  template <class Out, class In>
  status predict(Out* out, const In* rows, std::size_t n_rows, std::size_t n_features,
                 runtime::thread_pool* pool = nullptr, arena* scratch = nullptr) const {
    return run<Out, In>(std::span<Out>(out, n_rows * static_cast<std::size_t>(num_transformed_outputs())),
                        std::span<const In>(rows, n_rows * n_features), n_features, pool, scratch, true);
  }

  static status check_view(const forest_view& v) { return v.validate(); }

 private:
  // One thread's temporaries for run_range, sized for the call's blocks.
  template <class Acc>
  struct block_scratch {
    Acc* acc = nullptr;             // a block's margins (rows * num_outputs)
    float* rows_f32 = nullptr;      // double rows rounded to float, for the fast path
    float* columns = nullptr;       // the feature-major block (see detail::block_margins)
    double* row_margins = nullptr;  // one row's margins, for transform_margins
    double* row_outputs = nullptr;  // and its transformed outputs
  };

  void set_meta() {
    meta_ = forest{};
    meta_.num_features = view_.num_features;
    meta_.num_outputs = view_.num_outputs;
    meta_.accumulate = view_.accumulate;
    meta_.objective.transform = view_.transform;
    meta_.objective.sigmoid_scale = view_.sigmoid_scale;
  }

  // Rows per block: fewer with many outputs, so the accumulators stay near kBlock * 64
  // values (a row's margins do not depend on its block: the results are the same).
  std::size_t block_rows() const noexcept {
    return std::clamp<std::size_t>(detail::kBlock * 64 / static_cast<std::size_t>(view_.num_outputs), 1, detail::kBlock);
  }
  // Double rows of an f32-precision forest are rounded to float (as the reference does)
  // and take the fast path; double rows of an f64 forest take the general path.
  template <class In>
  bool all_general() const noexcept {
    return std::is_same_v<In, double> && view_.features == feature_precision::f64;
  }
  // XGBoost's binary:logistic: the sigmoid straight from the float margin, no row buffers.
  bool plain_sigmoid() const noexcept {
    return view_.transform == output_transform::sigmoid && view_.num_outputs == 1 && view_.sigmoid_scale == 1.0 &&
           view_.accumulate == accum_type::f32;
  }

  template <class Out, class In>
  status run(std::span<Out> out, std::span<const In> rows, std::size_t n_features, runtime::thread_pool* pool,
             arena* scratch, bool transformed) const;

  template <class Acc, class Out, class In>
  status run_blocks(arena& scratch, Out* out, const In* rows, std::size_t n_rows, runtime::thread_pool* pool,
                    bool transformed) const;

  template <class Acc, class In>
  expected<block_scratch<Acc>> allocate_scratch(arena& scratch, std::size_t rows, bool transformed) const;

  template <class Acc, class Out, class In>
  void run_range(const block_scratch<Acc>& s, Out* out, const In* rows, std::size_t begin, std::size_t end,
                 bool transformed) const;

  flat_forest owned_;  // empty when wrapping external arrays
  forest_view view_;
  forest meta_;  // only the fields transform_margins reads
};

// Compiles a forest (validated first) into the predictor's own layout.
inline expected<predictor> compile(const forest& f, const compile_options& opts = {}) {
  TESSERA_ASSIGN_OR_RETURN(flat_forest compiled, compile_flat(f, opts));
  return predictor(std::move(compiled));
}

template <class Acc, class In>
expected<predictor::block_scratch<Acc>> predictor::allocate_scratch(arena& scratch, std::size_t rows,
                                                                    bool transformed) const {
  const std::size_t nf = static_cast<std::size_t>(view_.num_features);
  const std::size_t k = static_cast<std::size_t>(view_.num_outputs);
  const std::size_t ko = transformed ? static_cast<std::size_t>(view_.num_transformed_outputs()) : k;
  block_scratch<Acc> s;
  TESSERA_ASSIGN_OR_RETURN(s.acc, scratch.allocate<Acc>(rows * k));
  if (!all_general<In>()) {
    // Two copies of each block column (kBlock floats each); a single row needs one float each.
    const std::size_t column_rows = rows > 1 ? detail::kBlock : 1;
    TESSERA_ASSIGN_OR_RETURN(s.columns, scratch.allocate<float>(column_rows * 2 * view_.block_columns(),
                                                                detail::kColumnAlignment));
    if constexpr (std::is_same_v<In, double>) {
      TESSERA_ASSIGN_OR_RETURN(s.rows_f32, scratch.allocate<float>(rows * nf));
    }
  }
  if (transformed && !plain_sigmoid()) {
    TESSERA_ASSIGN_OR_RETURN(s.row_margins, scratch.allocate<double>(k + ko));
    s.row_outputs = s.row_margins + k;
  }
  return s;
}

template <class Acc, class Out, class In>
void predictor::run_range(const block_scratch<Acc>& s, Out* out, const In* rows, std::size_t begin, std::size_t end,
                          bool transformed) const {
  const forest_view& v = view_;
  const std::size_t nf = static_cast<std::size_t>(v.num_features);
  const std::size_t k = static_cast<std::size_t>(v.num_outputs);
  const std::size_t ko = transformed ? static_cast<std::size_t>(v.num_transformed_outputs()) : k;
  const std::size_t block = block_rows();
  Acc* acc = s.acc;
  for (std::size_t b = begin; b < end; b += block) {
    const std::size_t nr = std::min(block, end - b);
    const In* x = rows + b * nf;
    if constexpr (std::is_same_v<In, double>) {
      if (all_general<In>()) {
        detail::block_margins<Acc, double>(v, x, nf, nr, acc, true, nullptr);
      } else {
        for (std::size_t i = 0; i < nr * nf; ++i) s.rows_f32[i] = static_cast<float>(x[i]);
        detail::block_margins<Acc, float>(v, s.rows_f32, nf, nr, acc, false, s.columns);
      }
    } else {
      detail::block_margins<Acc, float>(v, x, nf, nr, acc, false, s.columns);
    }
    Out* o = out + b * ko;
    if (!transformed) {
      for (std::size_t i = 0; i < nr * k; ++i) o[i] = static_cast<Out>(acc[i]);
      continue;
    }
    if (plain_sigmoid()) {
      for (std::size_t r = 0; r < nr; ++r) o[r] = static_cast<Out>(sigmoid_f32(static_cast<float>(acc[r])));
      continue;
    }
    double* m = s.row_margins;
    double* tr = s.row_outputs;
    for (std::size_t r = 0; r < nr; ++r) {
      for (std::size_t g = 0; g < k; ++g) m[g] = static_cast<double>(acc[r * k + g]);
      // Shapes were checked by run(): this cannot fail.
      (void)transform_margins(std::span<double>(tr, ko), meta_, std::span<const double>(m, k));
      for (std::size_t g = 0; g < ko; ++g) o[r * ko + g] = static_cast<Out>(tr[g]);
    }
  }
}

template <class Acc, class Out, class In>
status predictor::run_blocks(arena& scratch, Out* out, const In* rows, std::size_t n_rows, runtime::thread_pool* pool,
                             bool transformed) const {
  const bool parallel = pool != nullptr && pool->num_threads() > 1 && n_rows > detail::kBlock;
  // One set of temporaries per pool thread (a task runs on thread t < num_threads() and
  // uses set t), taken here, on the calling thread, before any work starts.
  const std::size_t n_sets = parallel ? pool->num_threads() : 1;
  const std::size_t rows_per_set = std::min(block_rows(), n_rows);
  TESSERA_ASSIGN_OR_RETURN(block_scratch<Acc>* sets, scratch.allocate<block_scratch<Acc>>(n_sets));
  for (std::size_t t = 0; t < n_sets; ++t) {
    TESSERA_ASSIGN_OR_RETURN(sets[t], (allocate_scratch<Acc, In>(scratch, rows_per_set, transformed)));
  }
  if (!parallel) {
    run_range<Acc, Out, In>(sets[0], out, rows, 0, n_rows, transformed);
    return {};
  }
  // Tasks of a few whole blocks (every block but the last is full), many more tasks than
  // threads: threads take them as they finish, so a core that runs slower (a busy neighbour on
  // a shared host) ends up with fewer blocks instead of holding up the end of the call.
  const std::size_t n_blocks = (n_rows + detail::kBlock - 1) / detail::kBlock;
  constexpr std::size_t blocks_per_task = 4;
  const std::size_t n_tasks = (n_blocks + blocks_per_task - 1) / blocks_per_task;
  pool->run(n_tasks, [&](std::size_t t, std::size_t thread) {
    run_range<Acc, Out, In>(sets[thread], out, rows, t * blocks_per_task * detail::kBlock,
                            std::min(n_rows, (t + 1) * blocks_per_task * detail::kBlock), transformed);
  });
  return {};
}

template <class Out, class In>
status predictor::run(std::span<Out> out, std::span<const In> rows, std::size_t n_features,
                      runtime::thread_pool* pool, arena* scratch, bool transformed) const {
  static_assert(std::is_same_v<In, float> || std::is_same_v<In, double>, "rows hold float or double values");
  static_assert(std::is_same_v<Out, float> || std::is_same_v<Out, double>, "outputs are float or double");
  const char* what = transformed ? "predict" : "predict_margin";
  if (view_.trees.data() == nullptr && view_.base_margin.empty())
    return make_error(errc::invalid_argument, std::string(what) + ": empty predictor (use compile or wrap)");
  if (n_features != static_cast<std::size_t>(view_.num_features))
    return make_error(errc::shape_mismatch, std::string(what) + ": rows have " + std::to_string(n_features) +
                                                " features, the model expects " + std::to_string(view_.num_features));
  const std::size_t n_rows = n_features == 0 ? 0 : rows.size() / n_features;
  if (n_features != 0 && rows.size() % n_features != 0)
    return make_error(errc::shape_mismatch, std::string(what) + ": " + std::to_string(rows.size()) +
                                                " values is not a whole number of rows of " + std::to_string(n_features));
  const std::size_t ko = static_cast<std::size_t>(transformed ? num_transformed_outputs() : num_outputs());
  if (n_features == 0 && out.size() % ko != 0)
    return make_error(errc::shape_mismatch, std::string(what) + ": output size is not a multiple of " + std::to_string(ko));
  const std::size_t rows_n = n_features == 0 ? out.size() / ko : n_rows;
  if (out.size() != rows_n * ko)
    return make_error(errc::shape_mismatch, std::string(what) + ": output has " + std::to_string(out.size()) +
                                                " values, expected " + std::to_string(rows_n * ko));
  if (rows_n == 0) return {};  // nothing to size blocks for
  arena& a = scratch != nullptr ? *scratch : thread_arena();
  const arena_scope released_on_return(a);
  if (view_.accumulate == accum_type::f32)
    return run_blocks<float, Out, In>(a, out.data(), rows.data(), rows_n, pool, transformed);
  return run_blocks<double, Out, In>(a, out.data(), rows.data(), rows_n, pool, transformed);
}

}  // namespace tessera::trees
