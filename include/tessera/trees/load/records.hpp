// Records in and out: CSV rows and JSON records (an array of objects or JSON lines) into
// row-major doubles for a forest, with category names mapped to codes, and the names of the
// columns a prediction is answered with as a record ({"0": 0.15, "1": 0.85}). tessera-gbt
// (examples/tessera-gbt), the WebAssembly C ABI (wasm/trees_abi.hpp) and the fuzz target
// tests/fuzz/cli_records_fuzz.cpp all run this one code, so the CLI and the JS package answer
// alike.
#pragma once

#include "tessera/io/file.hpp"
#include "tessera/io/json.hpp"
#include "tessera/trees/forest.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::trees {

// Receives rows (row-major doubles, n_rows x num_features) a chunk at a time: rows are
// predicted and written per chunk, so memory is bounded by the chunk rather than by
// records x num_features (large for sparse JSON records or a model declaring many features).
using row_sink = std::function<status(const std::vector<double>& x, std::size_t n_rows)>;
inline constexpr std::size_t kChunkValues = std::size_t{1} << 20;

// Text helpers of the readers (tessera-gbt's demo reads its CSV with them too).
namespace detail {

inline std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  std::string out(s.substr(b, e - b));
  if (out.size() >= 2 && out.front() == '"' && out.back() == '"') out = out.substr(1, out.size() - 2);
  return out;
}

// A number, or missing (empty, nan, NaN, NA, null). False if neither.
inline bool parse_value(const std::string& s, double& v) {
  if (s.empty() || s == "nan" || s == "NaN" || s == "NAN" || s == "NA" || s == "null" || s == "?") {
    v = std::nan("");
    return true;
  }
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0';
}

// The next line of `text` from `pos` (without its '\n'; callers trim a '\r'); false at the end.
inline bool next_line(std::string_view text, std::size_t& pos, std::string_view& line) {
  if (pos >= text.size()) return false;
  std::size_t e = text.find('\n', pos);
  if (e == std::string_view::npos) e = text.size();
  line = text.substr(pos, e - pos);
  pos = e + 1;
  return true;
}

inline std::vector<std::string> split_csv(std::string_view line) {
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

// Hands a full chunk to the sink and starts the next one.
inline status flush_rows(const row_sink& sink, std::vector<double>& x, std::size_t& n_rows, bool force) {
  if (n_rows == 0 || (!force && x.size() < kChunkValues)) return {};
  TESSERA_TRY(sink(x, n_rows));
  x.clear();
  n_rows = 0;
  return {};
}

}  // namespace detail

// CSV -> rows. A header naming the model's features picks the columns by name (other
// columns are ignored); otherwise columns are positional.
inline status read_csv(const std::string& text, const forest& f, const row_sink& sink) {
  const std::size_t nf = static_cast<std::size_t>(f.num_features);
  std::vector<std::size_t> column_of;  // empty: positional (not sized by num_features up front)
  std::size_t n_columns = nf;
  std::size_t pos = 0, line_no = 0, n_rows = 0;
  bool first = true;
  std::vector<double> x;
  std::string_view line;
  while (detail::next_line(text, pos, line)) {
    ++line_no;
    if (detail::trim(line).empty()) continue;
    std::vector<std::string> cells = detail::split_csv(line);
    if (first) {
      first = false;
      bool header = false;
      double v;
      for (const std::string& c : cells) header |= !detail::parse_value(c, v);
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
      if (!detail::parse_value(cell, v))
        return make_error(errc::parse_error, "line " + std::to_string(line_no) + ", column " +
                                                 std::to_string(column + 1) + ": cannot read '" + io::excerpt(cell) +
                                                 "' as a number");
      x.push_back(v);
    }
    ++n_rows;
    TESSERA_TRY(detail::flush_rows(sink, x, n_rows, false));
  }
  return detail::flush_rows(sink, x, n_rows, true);
}

// Category name -> code, per feature index.
using category_maps = std::map<std::size_t, std::map<std::string, double>>;

// Feature name -> index: the model's names (a repeated name maps to its last column, as a
// linear scan did), else XGBoost's default names f0, f1, ... parsed rather than listed, so
// nothing here is sized by the declared feature count.
class feature_index {
 public:
  explicit feature_index(const forest& f) : nf_(static_cast<std::size_t>(f.num_features)) {
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

inline status model_categories(const forest& f, category_maps& maps) {
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

// A category map given as JSON text: {"feature": ["cat_a", "cat_b", ...]} (codes 0, 1, ...)
// or {"feature": {"cat_a": 0, ...}}. It replaces the model's own list for the features it names.
// `where` starts every message (a file name, "categories").
inline status read_categories_json(std::string_view text, const forest& f, category_maps& maps,
                                   const std::string& where) {
  TESSERA_ASSIGN_OR_RETURN(const io::json_document parsed, io::parse_json(text));
  const io::json_ref doc = parsed.root();
  if (!doc.is_object()) return make_error(errc::parse_error, where + ": expected an object {feature: categories}");
  const feature_index index(f);
  for (const auto [feature, cats] : doc.members()) {
    std::size_t idx = 0;
    if (!index.find(feature, idx)) return make_error(errc::parse_error, where + ": unknown feature '" + io::excerpt(feature) + "'");
    auto& m = maps[idx];
    m.clear();
    // A list holding only numbers (or nothing) is refused as neither form below.
    if (cats.is_array() && !cats.numbers_only()) {
      double code = 0;
      for (const io::json_ref name : cats.elements()) {
        if (!name.is_string())
          return make_error(errc::parse_error, where + ": categories of '" + io::excerpt(feature) + "' must be strings");
        m[std::string(name.str())] = code++;
      }
    } else if (cats.is_object()) {
      for (const auto [name, code] : cats.members()) {
        if (!code.is_number()) return make_error(errc::parse_error, where + ": code of '" + io::excerpt(name) + "' is not a number");
        m[std::string(name)] = code.number();
      }
    } else {
      return make_error(errc::parse_error, where + ": categories of '" + io::excerpt(feature) + "' must be a list or an object");
    }
  }
  return {};
}

inline status read_categories_file(const std::string& path, const forest& f, category_maps& maps) {
  TESSERA_ASSIGN_OR_RETURN(auto bytes, io::read_file_bytes(path));
  return read_categories_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), f, maps, path);
}

inline status read_json_records(std::string_view text, const forest& f, const category_maps& cats,
                         const row_sink& sink) {
  const std::size_t nf = static_cast<std::size_t>(f.num_features);
  const feature_index index(f);
  std::vector<double> x;
  std::size_t n_rows = 0;
  auto add_record = [&](io::json_ref rec, const std::string& where) -> status {
    if (!rec.is_object()) return make_error(errc::parse_error, where + ": expected a JSON object");
    const std::size_t at = x.size();
    x.resize(at + nf, std::nan(""));
    double* row = x.data() + at;
    for (const auto [key, val] : rec.members()) {
      std::size_t idx = 0;
      if (!index.find(key, idx)) return make_error(errc::parse_error, where + ": unknown feature '" + io::excerpt(key) + "'");
      if (val.is_number()) {
        row[idx] = val.number();
      } else if (val.is_null()) {
        row[idx] = std::nan("");
      } else if (val.is_boolean()) {
        row[idx] = val.boolean() ? 1.0 : 0.0;
      } else if (val.is_string()) {
        auto fm = cats.find(idx);
        if (fm != cats.end()) {
          auto c = fm->second.find(std::string(val.str()));
          // An unseen category is missing, like pandas' NaN code.
          row[idx] = c == fm->second.end() ? std::nan("") : c->second;
        } else if (!detail::parse_value(std::string(val.str()), row[idx])) {
          return make_error(errc::parse_error, where + ": feature '" + io::excerpt(key) + "': no category list maps '" +
                                                   io::excerpt(val.str()) + "' (give a category map)");
        }
      } else {
        return make_error(errc::parse_error, where + ": feature '" + io::excerpt(key) + "' has an unsupported value");
      }
    }
    ++n_rows;
    return detail::flush_rows(sink, x, n_rows, false);
  };
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) ++i;
  if (i < text.size() && text[i] == '[') {
    TESSERA_ASSIGN_OR_RETURN(const io::json_document doc, io::parse_json(text));
    // A list holding only numbers (or nothing) is not a list of records.
    if (!doc.root().is_array() || doc.root().numbers_only())
      return make_error(errc::parse_error, "expected an array of objects");
    std::size_t r = 0;
    for (const io::json_ref rec : doc.root().elements()) TESSERA_TRY(add_record(rec, "record " + std::to_string(++r)));
    return detail::flush_rows(sink, x, n_rows, true);
  }
  // JSON lines: one object per line.
  std::size_t pos = 0, line_no = 0;
  std::string_view raw;
  while (detail::next_line(text, pos, raw)) {
    ++line_no;
    const std::string line = detail::trim(raw);
    if (line.empty()) continue;
    auto doc = io::parse_json(line);
    if (!doc) return make_error(errc::parse_error, "line " + std::to_string(line_no) + ": " + doc.err().message);
    TESSERA_TRY(add_record(doc->root(), "line " + std::to_string(line_no)));
  }
  return detail::flush_rows(sink, x, n_rows, true);
}

// The columns of a prediction answered as a record, as tessera-gbt's JSON output names them:
// a classifier's class labels ("0", "1", ... when the model names none; a binary model answers
// both probabilities), else "prediction" / "class" / "margin" (numbered when there are several).
struct record_columns {
  std::vector<std::string> keys;
  bool binary_pair = false;  // one model output p answered as {keys[0]: 1 - p, keys[1]: p}
  accum_type accumulate = accum_type::f32;
};

inline record_columns record_columns_of(const forest& f, bool margin) {
  record_columns c;
  c.accumulate = f.accumulate;
  const std::size_t k = static_cast<std::size_t>(margin ? f.num_outputs : f.num_transformed_outputs());
  const output_transform tr = f.objective.transform;
  const bool classifier = !margin && (tr == output_transform::sigmoid || tr == output_transform::softmax);
  if (classifier && tr == output_transform::sigmoid && k == 1) {
    c.binary_pair = true;
    c.keys = {f.class_labels.size() == 2 ? f.class_labels[0] : "0", f.class_labels.size() == 2 ? f.class_labels[1] : "1"};
  } else if (classifier) {
    for (std::size_t i = 0; i < k; ++i) c.keys.push_back(i < f.class_labels.size() ? f.class_labels[i] : std::to_string(i));
  } else {
    const std::string base = margin ? "margin" : (tr == output_transform::argmax ? "class" : "prediction");
    for (std::size_t i = 0; i < k; ++i) c.keys.push_back(k == 1 ? base : base + std::to_string(i));
  }
  return c;
}

// One row's record values (c.keys.size() of them) from its model outputs `o`. The binary
// complement is taken in the model's precision: 1 - p in float for XGBoost.
inline void record_values(double* dst, const double* o, const record_columns& c) {
  if (c.binary_pair) {
    dst[0] = c.accumulate == accum_type::f32 ? static_cast<double>(1.0f - static_cast<float>(o[0])) : 1.0 - o[0];
    dst[1] = o[0];
    return;
  }
  for (std::size_t i = 0; i < c.keys.size(); ++i) dst[i] = o[i];
}

}  // namespace tessera::trees
