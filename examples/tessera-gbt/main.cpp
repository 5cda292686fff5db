// tessera-gbt: gradient-boosted tree models from the command line, natively or under Node.
//
//   tessera-gbt predict --model M --input X.csv|X.json|X.jsonl [--output P] [--margin]
//                       [--threads N] [--categories map.json]
//   tessera-gbt compile --model M --name NAME > NAME.hpp
//   tessera-gbt demo [--input breast_cancer.csv]
//
// Models: XGBoost JSON/UBJSON or LightGBM text (detected from the content).
// CSV input: one row per line, num_features columns; an empty field or "nan" is missing; an
// optional header line (detected when a field is not a number) naming the model's features
// selects columns by name. Output: one line per row, one column per class (or one value).
// JSON input: one object per record (an array of objects, or one object per line), keyed by
// feature name; null or absent = missing; strings are categories, mapped through
// --categories ({"feature": ["cat_a", "cat_b", ...]} or {"feature": {"cat_a": 0, ...}}) or
// through the category lists the model carries (LightGBM pandas_categorical). Output: one
// JSON object per record, e.g. {"0": 0.15, "1": 0.85}.
#include <tessera/io/json_string.hpp>
#include <tessera/trees.hpp>
#include <tessera/trees/compiled.hpp>
#include <tessera/trees/load/records.hpp>
#include <tessera/trees/predict.hpp>

#include "../common/cli_args.hpp"
#include "../common/cli_main.hpp"
#include "breast_cancer_model.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tessera;
using trees::category_maps;
using trees::row_sink;
using trees::detail::next_line;
using trees::detail::parse_value;
using trees::detail::split_csv;
using trees::detail::trim;

int fail(const std::string& msg) {
  std::fprintf(stderr, "tessera-gbt: %s\n", msg.c_str());
  return 1;
}

int usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  tessera-gbt predict --model M --input X.csv|X.json|X.jsonl [--output P] [--margin] [--threads N]\n"
               "                      [--categories map.json]\n"
               "  tessera-gbt compile --model M --name NAME > NAME.hpp\n"
               "  tessera-gbt demo [--input breast_cancer.csv]\n");
  return 2;
}

using tessera_cli::args;

std::string read_text(const std::string& path, status& st) {
  auto bytes = io::read_file_bytes(path);
  if (!bytes) {
    st = bytes.err();
    return {};
  }
  return std::string(bytes->begin(), bytes->end());
}

// 9 significant digits for f32 models (XGBoost), 17 for f64 models (LightGBM): enough to
// read back the same float / double.
std::string fmt_value(double v, bool f64) {
  char buf[40];
  if (!f64) {
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

int cmd_predict(const args& a) {
  if (!a.has("model") || !a.has("input")) return usage();
  auto f = trees::load_forest(a.get("model"));
  if (!f) return fail(f.what());  // load_forest names the file
  auto p = trees::compile(*f);
  if (!p) return fail(p.what());
  const bool f64 = f->accumulate == trees::accum_type::f64;
  status st;
  const std::string input = a.get("input");
  const std::string text = read_text(input, st);
  if (!st.ok()) return fail(input + ": " + st.what());
  std::size_t first = 0;
  while (first < text.size() && std::isspace(static_cast<unsigned char>(text[first]))) ++first;
  const bool json = input.ends_with(".json") || input.ends_with(".jsonl") ||
                    (first < text.size() && (text[first] == '{' || text[first] == '['));
  const int threads = std::max(1, std::atoi(a.get("threads", "1").c_str()));
  runtime::thread_pool pool(static_cast<std::size_t>(threads));
  const std::size_t k = static_cast<std::size_t>(a.flag("margin") ? p->num_outputs() : p->num_transformed_outputs());
  const std::size_t nf = static_cast<std::size_t>(f->num_features);
  // JSON records: the columns tessera-gbt and the JS package name alike (trees/load/records.hpp).
  const trees::record_columns columns = trees::record_columns_of(*f, a.flag("margin"));
  std::vector<double> record(columns.keys.size());
  // Opened at the first chunk, so an input error found before it leaves no output file.
  std::FILE* fp = nullptr;
  std::vector<double> out;
  std::string line;
  const row_sink write_rows = [&](const std::vector<double>& x, std::size_t n_rows) -> status {
    out.assign(n_rows * k, 0.0);
    TESSERA_TRY(a.flag("margin") ? p->predict_margin(std::span<double>(out), std::span<const double>(x), nf, &pool)
                         : p->predict(std::span<double>(out), std::span<const double>(x), nf, &pool));
    if (!fp) {
      fp = a.has("output") ? std::fopen(a.get("output").c_str(), "wb") : stdout;
      if (!fp) return make_error(errc::io_error, "cannot write '" + a.get("output") + "'");
    }
    for (std::size_t r = 0; r < n_rows; ++r) {
      line.clear();
      const double* o = out.data() + r * k;
      if (json) {
        trees::record_values(record.data(), o, columns);
        line += '{';
        for (std::size_t c = 0; c < record.size(); ++c) {
          if (c) line += ", ";  // appended piecewise: GCC 12 warns (-Wrestrict) on "" + string here
          line += io::json_quote(columns.keys[c]) + ": " + fmt_value(record[c], f64);  // labels may be any UTF-8
        }
        line += "}\n";
      } else {
        for (std::size_t c = 0; c < k; ++c) {
          if (c) line += ',';
          line += fmt_value(o[c], f64);
        }
        line += '\n';
      }
      std::fwrite(line.data(), 1, line.size(), fp);
    }
    return {};
  };
  if (json) {
    category_maps cats;
    if (status s = trees::model_categories(*f, cats); !s.ok()) return fail(s.what());
    if (a.has("categories"))
      if (status s = trees::read_categories_file(a.get("categories"), *f, cats); !s.ok()) return fail(s.what());
    st = trees::read_json_records(text, *f, cats, write_rows);
  } else {
    st = trees::read_csv(text, *f, write_rows);
  }
  if (fp && fp != stdout) std::fclose(fp);
  if (!st.ok()) return fail(input + ": " + st.what());
  // An empty input still creates the (empty) output file.
  if (!fp && a.has("output")) {
    fp = std::fopen(a.get("output").c_str(), "wb");
    if (!fp) return fail("cannot write '" + a.get("output") + "'");
    std::fclose(fp);
  }
  return 0;
}

int cmd_compile(const args& a) {
  if (!a.has("model") || !a.has("name")) return usage();
  auto f = trees::load_forest(a.get("model"));
  if (!f) return fail(f.what());  // load_forest names the file
  std::string header;
  if (status s = trees::write_compiled_header(header, *f, a.get("name")); !s.ok()) return fail(s.what());
  std::fwrite(header.data(), 1, header.size(), stdout);
  return 0;
}

// The embedded breast-cancer model (XGBoost binary:logistic, compiled into this binary) on
// the rows stored with it, next to XGBoost's own probabilities.
int cmd_demo(const args& a) {
  auto p = breast_cancer_predictor();
  if (!p) return fail(p.what());
  const std::string path = a.get("input", std::string(TESSERA_SOURCE_DIR) + "/tests/models/trees/breast_cancer.csv");
  status st;
  const std::string text = read_text(path, st);
  if (!st.ok()) return fail(path + ": " + st.what());
  const std::size_t nf = static_cast<std::size_t>(breast_cancer_num_features);
  std::printf("tessera-gbt demo: XGBoost model compiled into this binary (%s, %zu trees, %zu features)\n",
              breast_cancer_objective, p->num_trees(), nf);
  std::printf("%5s  %12s  %12s  %s\n", "row", "tessera", "xgboost", "");
  std::size_t pos = 0, row = 0, line_no = 0, mismatches = 0;
  std::string_view line;
  while (next_line(text, pos, line)) {
    if (++line_no == 1 || trim(line).empty()) continue;  // header
    const std::vector<std::string> cells = split_csv(line);
    if (cells.size() != nf + 2) return fail(path + ": line " + std::to_string(line_no) + ": expected " + std::to_string(nf + 2) + " columns");
    std::vector<float> x(nf);
    for (std::size_t i = 0; i < nf; ++i) {
      double v;
      if (!parse_value(cells[i], v)) return fail(path + ": line " + std::to_string(line_no) + ": bad number '" + cells[i] + "'");
      x[i] = static_cast<float>(v);
    }
    const float xgb = std::strtof(cells[nf + 1].c_str(), nullptr);
    float prob = 0;
    if (status s = p->predict(std::span<float>(&prob, 1), std::span<const float>(x), nf); !s.ok()) return fail(s.what());
    const bool same = prob == xgb;
    mismatches += !same;
    std::printf("%5zu  %12.9f  %12.9f  %s\n", row++, prob, xgb, same ? "same" : "DIFFERENT");
  }
  std::printf("%zu rows, %zu differ from XGBoost\n", row, mismatches);
  return mismatches == 0 && row > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  args a;
  std::string err;
  if (!tessera_cli::parse(argc, argv, 2, {"margin"}, {}, a, err)) {
    std::fprintf(stderr, "tessera-gbt: %s\n", err.c_str());
    return usage();
  }
  return tessera_cli::guarded_main("tessera-gbt", [&] {
    if (cmd == "predict") return cmd_predict(a);
    if (cmd == "compile") return cmd_compile(a);
    if (cmd == "demo") return cmd_demo(a);
    return usage();
  });
}
