// The command line of the example tools (tessera-gbt, tessera-onnx, tessera-llm): options as
// "--name value" pairs, repeatable, kept in order, and value-less flags the tool names.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera_cli {

struct args {
  std::vector<std::pair<std::string, std::string>> values;  // in command-line order
  std::vector<std::string> flags;

  bool has(std::string_view k) const {
    return std::any_of(values.begin(), values.end(), [&](const auto& kv) { return kv.first == k; });
  }
  bool flag(std::string_view k) const { return std::find(flags.begin(), flags.end(), k) != flags.end(); }
  // The last value given for k (a later option overrides an earlier one), else d.
  std::string get(std::string_view k, const std::string& d = "") const {
    for (auto it = values.rbegin(); it != values.rend(); ++it)
      if (it->first == k) return it->second;
    return d;
  }
  // Every value given for a repeatable option, in order.
  std::vector<std::string> all(std::string_view k) const {
    std::vector<std::string> out;
    for (const auto& [key, v] : values)
      if (key == k) out.push_back(v);
    return out;
  }
};

struct short_name {
  std::string_view from, to;  // "-n" stands for "--n"
};

// Parses argv[first..]; on a malformed command line returns false with the reason in err.
inline bool parse(int argc, char** argv, int first, std::initializer_list<std::string_view> flag_names,
                  std::initializer_list<short_name> short_names, args& a, std::string& err) {
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    for (const short_name& n : short_names)
      if (s == n.from) s = "--" + std::string(n.to);
    if (s.rfind("--", 0) != 0 || s.size() == 2) {
      err = "unexpected argument '" + s + "'";
      return false;
    }
    s = s.substr(2);
    if (std::find(flag_names.begin(), flag_names.end(), s) != flag_names.end()) {
      a.flags.push_back(s);
      continue;
    }
    if (i + 1 >= argc) {
      err = "option '--" + s + "' needs a value";
      return false;
    }
    a.values.emplace_back(s, argv[++i]);
  }
  return true;
}

}  // namespace tessera_cli
