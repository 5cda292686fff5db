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
#include <tessera/trees.hpp>
#include <tessera/trees/compiled.hpp>
#include <tessera/trees/predict.hpp>

#include "breast_cancer_model.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tessera;

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

struct args {
  std::map<std::string, std::string> kv;
  bool margin = false;
  bool has(const std::string& k) const { return kv.count(k) != 0; }
  std::string get(const std::string& k, const std::string& d = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? d : it->second;
  }
};

bool parse_args(int argc, char** argv, int first, args& a, std::string& err) {
  for (int i = first; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--margin") { a.margin = true; continue; }
    if (s.rfind("--", 0) != 0 || i + 1 >= argc) { err = "unexpected argument '" + s + "'"; return false; }
    a.kv[s.substr(2)] = argv[++i];
  }
  return true;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  std::string out(s.substr(b, e - b));
  if (out.size() >= 2 && out.front() == '"' && out.back() == '"') out = out.substr(1, out.size() - 2);
  return out;
}

// A number, or missing (empty, nan, NaN, NA, null). False if neither.
bool parse_value(const std::string& s, double& v) {
  if (s.empty() || s == "nan" || s == "NaN" || s == "NAN" || s == "NA" || s == "null" || s == "?") {
    v = std::nan("");
    return true;
  }
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0';
}

// The next line of `text` from `pos` (without its '\n'; callers trim a '\r'); false at the end.
bool next_line(std::string_view text, std::size_t& pos, std::string_view& line) {
  if (pos >= text.size()) return false;
  std::size_t e = text.find('\n', pos);
  if (e == std::string_view::npos) e = text.size();
  line = text.substr(pos, e - pos);
  pos = e + 1;
  return true;
}

std::vector<std::string> split_csv(std::string_view line) {
  std::vector<std::string> cells;
  std::size_t s = 0;
  while (true) {
    const std::size_t e = line.find(',', s);
    cells.push_back(trim(line.substr(s, e == std::string_view::npos ? std::string_view::npos : e - s)));
    if (e == std::string_view::npos) break;
    s = e + 1;
  }
  return cells;
}

// Receives rows (row-major doubles, n_rows x num_features) a chunk at a time: rows are
// predicted and written per chunk, so memory is bounded by the chunk rather than by
// records x num_features (large for sparse JSON records or a model declaring many features).
using row_sink = std::function<status(const std::vector<double>& x, std::size_t n_rows)>;
constexpr std::size_t kChunkValues = std::size_t{1} << 20;

// Hands a full chunk to the sink and starts the next one.
status flush_rows(const row_sink& sink, std::vector<double>& x, std::size_t& n_rows, bool force) {
  if (n_rows == 0 || (!force && x.size() < kChunkValues)) return {};
  TESSERA_TRY(sink(x, n_rows));
  x.clear();
  n_rows = 0;
  return {};
}

// CSV -> rows. A header naming the model's features picks the columns by name (other
// columns are ignored); otherwise columns are positional.
status read_csv(const std::string& text, const trees::forest& f, const row_sink& sink) {
  const std::size_t nf = static_cast<std::size_t>(f.num_features);
  std::vector<std::size_t> column_of;  // empty: positional (not sized by num_features up front)
  std::size_t n_columns = nf;
  std::size_t pos = 0, line_no = 0, n_rows = 0;
  bool first = true;
  std::vector<double> x;
  std::string_view line;
  while (next_line(text, pos, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    std::vector<std::string> cells = split_csv(line);
    if (first) {
      first = false;
      bool header = false;
      double v;
      for (const std::string& c : cells) header |= !parse_value(c, v);
      if (header) {
        n_columns = cells.size();
        if (!f.feature_names.empty()) {
          // The model's names are part of the model file: this table is bounded by it.
          std::map<std::string_view, std::size_t> column_named;
          for (std::size_t c = 0; c < cells.size(); ++c) column_named[cells[c]] = c;  // last one wins
          column_of.resize(nf);
          for (std::size_t i = 0; i < nf; ++i) {
            const auto found = column_named.find(f.feature_names[i]);
            if (found == column_named.end() && cells.size() != nf)
              return make_error(errc::parse_error, "line 1: the header has no column '" + io::excerpt(f.feature_names[i]) + "'");
            column_of[i] = found == column_named.end() ? i : found->second;  // unnamed header: positional
          }
        } else if (cells.size() != nf) {
          return make_error(errc::parse_error, "line 1: the header has " + std::to_string(cells.size()) +
                                                   " columns, the model has " + std::to_string(nf) + " features");
        }
        continue;
      }
    }
    if (cells.size() != n_columns)
      return make_error(errc::parse_error, "line " + std::to_string(line_no) + ": " + std::to_string(cells.size()) +
                                               " columns, expected " + std::to_string(n_columns));
    for (std::size_t i = 0; i < nf; ++i) {
      double v;
      const std::size_t column = column_of.empty() ? i : column_of[i];
      const std::string& cell = cells[column];
      if (!parse_value(cell, v))
        return make_error(errc::parse_error, "line " + std::to_string(line_no) + ", column " +
                                                 std::to_string(column + 1) + ": cannot read '" + io::excerpt(cell) +
                                                 "' as a number");
      x.push_back(v);
    }
    ++n_rows;
    TESSERA_TRY(flush_rows(sink, x, n_rows, false));
  }
  return flush_rows(sink, x, n_rows, true);
}

// Category name -> code, per feature index.
using category_maps = std::map<std::size_t, std::map<std::string, double>>;

// Feature name -> index: the model's names (a repeated name maps to its last column, as a
// linear scan did), else XGBoost's default names f0, f1, ... parsed rather than listed, so
// nothing here is sized by the declared feature count.
class feature_index {
 public:
  explicit feature_index(const trees::forest& f) : nf_(static_cast<std::size_t>(f.num_features)) {
    for (std::size_t i = 0; i < f.feature_names.size(); ++i) named_[f.feature_names[i]] = i;
  }
  bool find(std::string_view name, std::size_t& idx) const {
    if (!named_.empty()) {
      const auto it = named_.find(name);
      if (it == named_.end()) return false;
      idx = it->second;
      return true;
    }
    // "f<i>" with i in [0, nf), written without leading zeros.
    if (name.size() < 2 || name.size() > 11 || name[0] != 'f' || (name[1] == '0' && name.size() > 2)) return false;
    std::size_t v = 0;
    for (char c : name.substr(1)) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<std::size_t>(c - '0');
    }
    if (v >= nf_) return false;
    idx = v;
    return true;
  }

 private:
  std::size_t nf_;
  std::map<std::string, std::size_t, std::less<>> named_;
};

status model_categories(const trees::forest& f, category_maps& maps) {
  if (f.categorical_values.empty()) return {};
  // LightGBM's pandas_categorical lists the categorical columns in column order: the
  // features the model splits categorically.
  std::vector<std::size_t> cat_features;
  for (std::int32_t n = 0; n < f.num_nodes(); ++n)
    if (f.split_feature[n] >= 0 && f.is_categorical[n]) cat_features.push_back(static_cast<std::size_t>(f.split_feature[n]));
  std::sort(cat_features.begin(), cat_features.end());
  cat_features.erase(std::unique(cat_features.begin(), cat_features.end()), cat_features.end());
  if (cat_features.size() != f.categorical_values.size()) return {};  // ambiguous: use --categories
  for (std::size_t k = 0; k < cat_features.size(); ++k)
    for (std::size_t c = 0; c < f.categorical_values[k].size(); ++c)
      maps[cat_features[k]][f.categorical_values[k][c]] = static_cast<double>(c);
  return {};
}

status read_categories_file(const std::string& path, const trees::forest& f, category_maps& maps) {
  TESSERA_ASSIGN_OR_RETURN(auto bytes, io::read_file_bytes(path));
  TESSERA_ASSIGN_OR_RETURN(const io::json_value doc,
                           io::parse_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  if (!doc.is_object()) return make_error(errc::parse_error, path + ": expected an object {feature: categories}");
  const feature_index index(f);
  for (const auto& [feature, cats] : doc.members) {
    std::size_t idx = 0;
    if (!index.find(feature, idx)) return make_error(errc::parse_error, path + ": unknown feature '" + io::excerpt(feature) + "'");
    auto& m = maps[idx];
    m.clear();
    if (cats.kind == io::json_kind::array) {
      for (std::size_t c = 0; c < cats.items.size(); ++c) {
        if (!cats.items[c].is_string())
          return make_error(errc::parse_error, path + ": categories of '" + io::excerpt(feature) + "' must be strings");
        m[cats.items[c].str] = static_cast<double>(c);
      }
    } else if (cats.is_object()) {
      for (const auto& [name, code] : cats.members) {
        if (!code.is_number()) return make_error(errc::parse_error, path + ": code of '" + io::excerpt(name) + "' is not a number");
        m[name] = code.number;
      }
    } else {
      return make_error(errc::parse_error, path + ": categories of '" + io::excerpt(feature) + "' must be a list or an object");
    }
  }
  return {};
}

status read_json_records(const std::string& text, const trees::forest& f, const category_maps& cats,
                         const row_sink& sink) {
  const std::size_t nf = static_cast<std::size_t>(f.num_features);
  const feature_index index(f);
  std::vector<double> x;
  std::size_t n_rows = 0;
  auto add_record = [&](const io::json_value& rec, const std::string& where) -> status {
    if (!rec.is_object()) return make_error(errc::parse_error, where + ": expected a JSON object");
    const std::size_t at = x.size();
    x.resize(at + nf, std::nan(""));
    double* row = x.data() + at;
    for (const auto& [key, val] : rec.members) {
      std::size_t idx = 0;
      if (!index.find(key, idx)) return make_error(errc::parse_error, where + ": unknown feature '" + io::excerpt(key) + "'");
      if (val.is_number()) {
        row[idx] = val.number;
      } else if (val.is_null()) {
        row[idx] = std::nan("");
      } else if (val.kind == io::json_kind::boolean) {
        row[idx] = val.boolean ? 1.0 : 0.0;
      } else if (val.is_string()) {
        auto fm = cats.find(idx);
        if (fm != cats.end()) {
          auto c = fm->second.find(val.str);
          // An unseen category is missing, like pandas' NaN code.
          row[idx] = c == fm->second.end() ? std::nan("") : c->second;
        } else if (!parse_value(val.str, row[idx])) {
          return make_error(errc::parse_error, where + ": feature '" + io::excerpt(key) + "': no category list maps '" +
                                                   io::excerpt(val.str) + "' (give --categories)");
        }
      } else {
        return make_error(errc::parse_error, where + ": feature '" + io::excerpt(key) + "' has an unsupported value");
      }
    }
    ++n_rows;
    return flush_rows(sink, x, n_rows, false);
  };
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) ++i;
  if (i < text.size() && text[i] == '[') {
    TESSERA_ASSIGN_OR_RETURN(const io::json_value doc, io::parse_json(text));
    if (doc.kind != io::json_kind::array) return make_error(errc::parse_error, "expected an array of objects");
    for (std::size_t r = 0; r < doc.items.size(); ++r) TESSERA_TRY(add_record(doc.items[r], "record " + std::to_string(r + 1)));
    return flush_rows(sink, x, n_rows, true);
  }
  // JSON lines: one object per line.
  std::size_t pos = 0, line_no = 0;
  std::string_view raw;
  while (next_line(text, pos, raw)) {
    ++line_no;
    const std::string line = trim(raw);
    if (line.empty()) continue;
    auto doc = io::parse_json(line);
    if (!doc) return make_error(errc::parse_error, "line " + std::to_string(line_no) + ": " + doc.err().message);
    TESSERA_TRY(add_record(*doc, "line " + std::to_string(line_no)));
  }
  return flush_rows(sink, x, n_rows, true);
}

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
  const std::size_t k = static_cast<std::size_t>(a.margin ? p->num_outputs() : p->num_transformed_outputs());
  const std::size_t nf = static_cast<std::size_t>(f->num_features);
  // JSON keys: class labels for classifiers, else "margin" / "prediction".
  std::vector<std::string> keys;
  const auto tr = f->objective.transform;
  const bool classifier = !a.margin && (tr == trees::output_transform::sigmoid || tr == trees::output_transform::softmax);
  if (json) {
    if (classifier && tr == trees::output_transform::sigmoid && k == 1) {
      keys = {f->class_labels.size() == 2 ? f->class_labels[0] : "0", f->class_labels.size() == 2 ? f->class_labels[1] : "1"};
    } else if (classifier) {
      for (std::size_t c = 0; c < k; ++c) keys.push_back(c < f->class_labels.size() ? f->class_labels[c] : std::to_string(c));
    } else {
      const std::string base = a.margin ? "margin" : (tr == trees::output_transform::argmax ? "class" : "prediction");
      for (std::size_t c = 0; c < k; ++c) keys.push_back(k == 1 ? base : base + std::to_string(c));
    }
  }
  // Opened at the first chunk, so an input error found before it leaves no output file.
  std::FILE* fp = nullptr;
  std::vector<double> out;
  std::string line;
  const row_sink write_rows = [&](const std::vector<double>& x, std::size_t n_rows) -> status {
    out.assign(n_rows * k, 0.0);
    TESSERA_TRY(a.margin ? p->predict_margin(std::span<double>(out), std::span<const double>(x), nf, &pool)
                         : p->predict(std::span<double>(out), std::span<const double>(x), nf, &pool));
    if (!fp) {
      fp = a.has("output") ? std::fopen(a.get("output").c_str(), "wb") : stdout;
      if (!fp) return make_error(errc::io_error, "cannot write '" + a.get("output") + "'");
    }
    for (std::size_t r = 0; r < n_rows; ++r) {
      line.clear();
      const double* o = out.data() + r * k;
      if (json) {
        line += '{';
        if (keys.size() == 2 && k == 1) {  // binary: both class probabilities
          line += trees::detail::c_string(keys[0]) + ": " + fmt_value(f->accumulate == trees::accum_type::f32
                                                                          ? static_cast<double>(1.0f - static_cast<float>(o[0]))
                                                                          : 1.0 - o[0], f64);
          line += ", " + trees::detail::c_string(keys[1]) + ": " + fmt_value(o[0], f64);
        } else {
          for (std::size_t c = 0; c < k; ++c) {
            if (c) line += ", ";  // appended piecewise: GCC 12 warns (-Wrestrict) on "" + string here
            line += trees::detail::c_string(keys[c]) + ": " + fmt_value(o[c], f64);
          }
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
    if (status s = model_categories(*f, cats); !s.ok()) return fail(s.what());
    if (a.has("categories"))
      if (status s = read_categories_file(a.get("categories"), *f, cats); !s.ok()) return fail(s.what());
    st = read_json_records(text, *f, cats, write_rows);
  } else {
    st = read_csv(text, *f, write_rows);
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
  if (!parse_args(argc, argv, 2, a, err)) {
    std::fprintf(stderr, "tessera-gbt: %s\n", err.c_str());
    return usage();
  }
#if defined(__cpp_exceptions)
  // Sizes are bounded before allocating; a failure that remains (a big valid model or
  // input on a small heap) is reported, not an abort.
  try {
#endif
    if (cmd == "predict") return cmd_predict(a);
    if (cmd == "compile") return cmd_compile(a);
    if (cmd == "demo") return cmd_demo(a);
#if defined(__cpp_exceptions)
  } catch (const std::bad_alloc&) {
    return fail(cmd + ": out of memory");
  }
#endif
  return usage();
}
