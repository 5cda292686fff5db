// Tokenizer part: the vocabulary read from GGUF metadata (token texts, scores, types, BPE
// merges, special token ids) with its text -> id and merge indexes.
//
// The metadata is untrusted. Every count comes from an array the GGUF reader has already
// bounded by the file's size (a string element takes at least 8 bytes), and every table here
// is a small multiple of such a count, so memory stays within a few times the file's size.
// Empty tokens, token types outside 0..6, NaN scores, merges that are not "left right" over
// known tokens whose concatenation is a token, and special ids outside the vocabulary are
// errors naming the key and the entry.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tessera/core/error.hpp>
#include <tessera/io/excerpt.hpp>
#include <tessera/io/gguf.hpp>

namespace tessera::llm {

// tokenizer.ggml.token_type values (llama.cpp's numbering, which every GGUF uses).
enum class token_type : std::uint8_t {
  undefined = 0, normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6,
};

inline constexpr std::int32_t no_token = -1;

namespace detail::tok {

inline std::uint64_t hash_bytes(std::string_view s) noexcept {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  const char* p = s.data();
  std::size_t n = s.size();
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  std::uint64_t v = 0;
  std::memcpy(&v, p, n);
  h = (h ^ v) * 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 29);
}

// Removes and returns the top of a heap ordered by `later` (std::pop_heap's order).
template <class T, class Later>
T pop_top(std::vector<T>& heap, Later later) {
  std::pop_heap(heap.begin(), heap.end(), later);
  T top = heap.back();
  heap.pop_back();
  return top;
}

inline std::size_t table_size_for(std::size_t n) {
  std::size_t size = 16;
  while (size < 2 * n) size *= 2;
  return size;
}

// A BPE merge: the pair (left, right) becomes `result`; lower rank merges first.
struct merge_entry {
  std::uint64_t key = ~std::uint64_t{0};  // left << 32 | right; ~0 marks an empty slot
  std::uint32_t rank = 0;
  std::int32_t result = no_token;
};

inline std::uint64_t pair_key(std::int32_t left, std::int32_t right) noexcept {
  return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
}

// Reads an integer metadata value of any integer type (writers differ: u32, i32, u64).
inline expected<std::int64_t> read_integer(const io::gguf_value& v) {
  using t = io::gguf_value_type;
  switch (v.type()) {
    case t::uint8: return std::int64_t{*v.as<std::uint8_t>()};
    case t::int8: return std::int64_t{*v.as<std::int8_t>()};
    case t::uint16: return std::int64_t{*v.as<std::uint16_t>()};
    case t::int16: return std::int64_t{*v.as<std::int16_t>()};
    case t::uint32: return std::int64_t{*v.as<std::uint32_t>()};
    case t::int32: return std::int64_t{*v.as<std::int32_t>()};
    case t::uint64: {
      const std::uint64_t u = *v.as<std::uint64_t>();
      return u > std::uint64_t(std::numeric_limits<std::int64_t>::max()) ? std::numeric_limits<std::int64_t>::max() : std::int64_t(u);
    }
    case t::int64: return *v.as<std::int64_t>();
    default: return make_error(errc::parse_error, "is " + v.type_name() + ", not an integer");
  }
}

class vocab {
 public:
  std::int32_t size() const noexcept { return static_cast<std::int32_t>(types_.size()); }
  bool contains(std::int32_t id) const noexcept { return id >= 0 && id < size(); }

  std::string_view text(std::int32_t id) const noexcept {
    return std::string_view(pool_).substr(offsets_[std::size_t(id)], offsets_[std::size_t(id) + 1] - offsets_[std::size_t(id)]);
  }
  float score(std::int32_t id) const noexcept { return scores_.empty() ? 0.0f : scores_[std::size_t(id)]; }
  token_type type(std::int32_t id) const noexcept { return static_cast<token_type>(types_[std::size_t(id)]); }
  std::size_t max_token_bytes() const noexcept { return max_token_bytes_; }

  // The id of the token spelled exactly `s`, or no_token. When texts repeat, the last id wins.
  std::int32_t find(std::string_view s) const noexcept {
    const std::uint64_t h = hash_bytes(s);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = std::size_t(h) & mask;; i = (i + 1) & mask) {
      const std::int32_t id = slots_[i];
      if (id == no_token) return no_token;
      if (hashes_[std::size_t(id)] == std::uint32_t(h) && text(id) == s) return id;
    }
  }

  // The merge of (left, right), or nullptr.
  const merge_entry* find_merge(std::int32_t left, std::int32_t right) const noexcept {
    if (merges_.empty()) return nullptr;
    const std::uint64_t key = pair_key(left, right);
    const std::size_t mask = merges_.size() - 1;
    for (std::size_t i = std::size_t(mix(key)) & mask;; i = (i + 1) & mask) {
      const merge_entry& m = merges_[i];
      if (m.key == key) return &m;
      if (m.key == ~std::uint64_t{0}) return nullptr;
    }
  }
  std::size_t merge_count() const noexcept { return merge_count_; }

  // Reads tokenizer.ggml.tokens, .scores and .token_type.
  status load_tokens(const io::gguf_file& f) {
    const io::gguf_value* tokens = f.find("tokenizer.ggml.tokens");
    if (!tokens) return make_error(errc::parse_error, "tokenizer: no tokenizer.ggml.tokens in the GGUF metadata");
    if (tokens->type() != io::gguf_value_type::array || tokens->element_type() != io::gguf_value_type::string)
      return make_error(errc::parse_error, "tokenizer: tokenizer.ggml.tokens is " + tokens->type_name() + ", not an array of string");
    const std::uint64_t n = tokens->count();
    if (n == 0) return make_error(errc::parse_error, "tokenizer: tokenizer.ggml.tokens is empty");
    if (n >= std::uint64_t(std::numeric_limits<std::int32_t>::max()))
      return make_error(errc::parse_error, "tokenizer: " + std::to_string(n) + " tokens (ids are 31-bit)");
    // n is bounded by the file's size (8 bytes per string at least), and so is the pool.
    offsets_.reserve(std::size_t(n) + 1);
    pool_.reserve(tokens->raw().size() - 8 * std::size_t(n));
    offsets_.push_back(0);
    std::size_t index = 0;
    TESSERA_TRY(tokens->for_each_element([&](const io::gguf_value& e) -> status {
      const std::string_view s = *e.as<std::string_view>();
      if (s.empty()) return make_error(errc::parse_error, "tokenizer: tokenizer.ggml.tokens[" + std::to_string(index) + "] is empty");
      pool_.append(s);
      offsets_.push_back(std::uint32_t(pool_.size()));
      max_token_bytes_ = std::max(max_token_bytes_, s.size());
      ++index;
      return {};
    }));
    types_.assign(std::size_t(n), std::uint8_t(token_type::normal));
    if (const io::gguf_value* v = f.find("tokenizer.ggml.token_type")) {
      TESSERA_ASSIGN_OR_RETURN(std::vector<std::int32_t> types, typed_array<std::int32_t>(*v, "tokenizer.ggml.token_type", n));
      for (std::size_t i = 0; i < types.size(); ++i) {
        if (types[i] < 0 || types[i] > 6)
          return make_error(errc::parse_error, "tokenizer: tokenizer.ggml.token_type[" + std::to_string(i) + "] is " +
                                                   std::to_string(types[i]) + " (expected 0 to 6)");
        types_[i] = std::uint8_t(types[i]);
      }
    }
    if (const io::gguf_value* v = f.find("tokenizer.ggml.scores")) {
      TESSERA_ASSIGN_OR_RETURN(scores_, typed_array<float>(*v, "tokenizer.ggml.scores", n));
      for (std::size_t i = 0; i < scores_.size(); ++i)
        if (std::isnan(scores_[i]))
          return make_error(errc::parse_error, "tokenizer: tokenizer.ggml.scores[" + std::to_string(i) + "] is NaN");
    }
    build_index();
    return {};
  }

  // Reads tokenizer.ggml.merges: "left right" lines in rank order. Each side and their
  // concatenation must be tokens; a repeated pair keeps its first (lowest) rank.
  status load_merges(const io::gguf_file& f) {
    const io::gguf_value* v = f.find("tokenizer.ggml.merges");
    if (!v) return make_error(errc::parse_error, "tokenizer: a BPE vocabulary needs tokenizer.ggml.merges");
    if (v->type() != io::gguf_value_type::array || v->element_type() != io::gguf_value_type::string)
      return make_error(errc::parse_error, "tokenizer: tokenizer.ggml.merges is " + v->type_name() + ", not an array of string");
    merges_.assign(table_size_for(std::size_t(v->count())), merge_entry{});
    std::uint32_t rank = 0;
    std::string joined;
    return v->for_each_element([&](const io::gguf_value& e) -> status {
      const std::string_view line = *e.as<std::string_view>();
      const std::string where = "tokenizer: tokenizer.ggml.merges[" + std::to_string(rank) + "] '" + io::excerpt(line) + "'";
      const std::size_t space = line.size() > 1 ? line.find(' ', 1) : std::string_view::npos;
      if (space == std::string_view::npos || space + 1 >= line.size())
        return make_error(errc::parse_error, where + " is not two tokens separated by a space");
      const std::string_view left = line.substr(0, space), right = line.substr(space + 1);
      const std::int32_t l = find(left), r = find(right);
      if (l == no_token) return make_error(errc::parse_error, where + ": '" + io::excerpt(left) + "' is not a token");
      if (r == no_token) return make_error(errc::parse_error, where + ": '" + io::excerpt(right) + "' is not a token");
      joined.assign(left);
      joined.append(right);
      const std::int32_t result = find(joined);
      if (result == no_token) return make_error(errc::parse_error, where + ": '" + io::excerpt(joined) + "' is not a token");
      insert_merge(l, r, rank, result);
      ++rank;
      return {};
    });
  }

  // Marks a token's type (the loader promotes end-of-generation tokens to control).
  void set_type(std::int32_t id, token_type t) { types_[std::size_t(id)] = std::uint8_t(t); }

  // Reads an optional special-token id: -1 when the key is absent; an error when it is not
  // an integer in [0, size()).
  expected<std::int32_t> special_id(const io::gguf_file& f, std::string_view key) const {
    const io::gguf_value* v = f.find(key);
    if (!v) return no_token;
    auto id = read_integer(*v);
    if (!id.ok()) return make_error(errc::parse_error, "tokenizer: " + std::string(key) + " " + id.err().message);
    // -1 (also written as the uint32 0xFFFFFFFF) is llama.cpp's "no token" (LLAMA_TOKEN_NULL).
    if (*id == -1 || *id == 0xFFFFFFFFll) return no_token;
    if (*id < 0 || *id >= size())
      return make_error(errc::out_of_range, "tokenizer: " + std::string(key) + " is " + std::to_string(*id) + ", outside the " +
                                                std::to_string(size()) + "-token vocabulary");
    return std::int32_t(*id);
  }

 private:
  static std::uint64_t mix(std::uint64_t k) noexcept {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    return k ^ (k >> 33);
  }

  template <class T>
  static expected<std::vector<T>> typed_array(const io::gguf_value& v, const char* key, std::uint64_t n) {
    auto values = v.as_array<T>();
    if (!values.ok()) return make_error(errc::parse_error, std::string("tokenizer: ") + key + " " + values.err().message);
    if (values->size() != n)
      return make_error(errc::parse_error, std::string("tokenizer: ") + key + " has " + std::to_string(values->size()) + " entries for " +
                                               std::to_string(n) + " tokens");
    return values;
  }

  void build_index() {
    const std::size_t n = types_.size();
    slots_.assign(table_size_for(n), no_token);
    hashes_.resize(n);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t id = 0; id < n; ++id) {
      const std::string_view s = text(std::int32_t(id));
      const std::uint64_t h = hash_bytes(s);
      hashes_[id] = std::uint32_t(h);
      for (std::size_t i = std::size_t(h) & mask;; i = (i + 1) & mask) {
        std::int32_t& slot = slots_[i];
        if (slot == no_token) { slot = std::int32_t(id); break; }
        if (hashes_[std::size_t(slot)] == std::uint32_t(h) && text(slot) == s) { slot = std::int32_t(id); break; }
      }
    }
  }

  void insert_merge(std::int32_t left, std::int32_t right, std::uint32_t rank, std::int32_t result) {
    const std::uint64_t key = pair_key(left, right);
    const std::size_t mask = merges_.size() - 1;
    for (std::size_t i = std::size_t(mix(key)) & mask;; i = (i + 1) & mask) {
      merge_entry& m = merges_[i];
      if (m.key == key) return;  // a repeated pair keeps its first rank
      if (m.key == ~std::uint64_t{0}) {
        m = merge_entry{key, rank, result};
        ++merge_count_;
        return;
      }
    }
  }

  std::string pool_;                   // every token's text, back to back
  std::vector<std::uint32_t> offsets_;  // token i is pool_[offsets_[i], offsets_[i + 1])
  std::vector<float> scores_;          // empty: all 0
  std::vector<std::uint8_t> types_;
  std::vector<std::uint32_t> hashes_;  // low bits of each token's hash: cheap rejects
  std::vector<std::int32_t> slots_;    // open addressing, text -> id
  std::vector<merge_entry> merges_;    // open addressing, (left, right) -> merge
  std::size_t merge_count_ = 0;
  std::size_t max_token_bytes_ = 0;
};

}  // namespace detail::tok
}  // namespace tessera::llm
