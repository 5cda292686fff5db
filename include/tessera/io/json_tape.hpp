// The parsed form of a JSON or UBJSON document: a flat tape of fixed-size tokens
// (json_document) read through a small view type (json_ref).
//
// A DOM of nested vectors and std::strings cost 60 to 150 times the input (a 20 MB array of
// nulls took 0.66 GB). The tape is one contiguous array of 16-byte tokens in document order:
// a container token is followed by its elements (an object's by key, value, key, value...)
// and records the index one past its subtree, so skipping a value is O(1). Every token
// consumes at least one distinct input byte, so a document holds at most max(1, input size)
// tokens: the tape is at most 16 bytes per input byte, and strings with escapes add at most
// one byte per input byte to the shared unescaped-string buffer. Other strings and keys are
// not copied: they point into the input, which must outlive the document. So are UBJSON's
// typed numeric arrays (XGBoost's node arrays, most of a .ubj model): one packed token
// refers to the big-endian values in the input, decoded when read, so json_ref shows them
// as arrays of numbers like any other and the tape of a .ubj model is a few kilobytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include "tessera/core/aligned.hpp"
#include "tessera/core/bit_cast.hpp"
#include "tessera/core/error.hpp"

namespace tessera::io {

enum class json_kind : std::uint8_t { null = 0, boolean, number, string, array, object };

inline const char* json_kind_name(json_kind k) noexcept {
  switch (k) {
    case json_kind::null: return "null";
    case json_kind::boolean: return "boolean";
    case json_kind::number: return "number";
    case json_kind::string: return "string";
    case json_kind::array: return "array";
    case json_kind::object: return "object";
  }
  return "?";
}

// One tape entry. The low byte of `head` is the kind; the rest depends on it:
//   boolean        head bit 8: the value
//   number         head bits 32-63: the value read directly as a float (strtof, so float
//                  fields are exact without double rounding); payload: the double's bits
//   string         head bit 8: the text is in the unescaped-string buffer (else in the
//                  input); head bits 9-63: length in bytes; payload: offset
//   array, object  head bit 8: every element is a number (true for an empty array);
//                  head bits 9-63: element (member) count; payload: index one past the subtree
//   packed array   (a UBJSON typed numeric array) head bits 8-15: the UBJSON marker of its
//                  numbers; head bits 16-63: element count; payload: input offset of the first
struct json_token {
  static constexpr std::uint8_t packed_array = 6;  // the kind byte; json_ref calls it an array

  std::uint64_t head = 0;
  std::uint64_t payload = 0;

  std::uint8_t raw_kind() const noexcept { return static_cast<std::uint8_t>(head & 0xFF); }
  json_kind kind() const noexcept {
    return raw_kind() == packed_array ? json_kind::array : static_cast<json_kind>(raw_kind());
  }
  bool is_container() const noexcept {
    return raw_kind() == static_cast<std::uint8_t>(json_kind::array) || raw_kind() == static_cast<std::uint8_t>(json_kind::object);
  }
  bool is_packed() const noexcept { return raw_kind() == packed_array; }
  bool flag() const noexcept { return (head >> 8) & 1; }
  std::uint64_t count() const noexcept { return is_packed() ? head >> 16 : head >> 9; }

  static json_token scalar(json_kind k, bool flag = false) noexcept {
    return {static_cast<std::uint64_t>(k) | (std::uint64_t{flag} << 8), 0};
  }
  static json_token number(double d, float f) noexcept {
    return {static_cast<std::uint64_t>(json_kind::number) | (std::uint64_t{tessera::bit_cast<std::uint32_t>(f)} << 32),
            tessera::bit_cast<std::uint64_t>(d)};
  }
  static json_token string(std::size_t offset, std::size_t length, bool in_buffer) noexcept {
    return {static_cast<std::uint64_t>(json_kind::string) | (std::uint64_t{in_buffer} << 8) |
                (static_cast<std::uint64_t>(length) << 9),
            offset};
  }
  static json_token container(json_kind k, std::size_t count, bool numbers_only, std::size_t end) noexcept {
    return {static_cast<std::uint64_t>(k) | (std::uint64_t{numbers_only} << 8) | (static_cast<std::uint64_t>(count) << 9),
            end};
  }
  static json_token packed(std::uint8_t marker, std::size_t count, std::size_t offset) noexcept {
    return {packed_array | (std::uint64_t{marker} << 8) | (static_cast<std::uint64_t>(count) << 16), offset};
  }
};
static_assert(sizeof(json_token) == 16, "the memory bound of a document assumes 16-byte tokens");

namespace detail {

// Bytes of a UBJSON number of marker m (i U I l L d D), 0 for other markers.
inline std::size_t ubjson_width(std::uint8_t m) noexcept {
  switch (m) {
    case 'i': case 'U': case 'C': return 1;
    case 'I': return 2;
    case 'l': case 'd': return 4;
    case 'L': case 'D': return 8;
    default: return 0;
  }
}

inline std::uint64_t read_big_endian(const std::uint8_t* p, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// The integer of marker m (i U I l L) stored big-endian at p.
inline std::int64_t ubjson_integer(std::uint8_t m, const std::uint8_t* p) noexcept {
  const std::uint64_t raw = read_big_endian(p, ubjson_width(m));
  switch (m) {
    case 'i': return static_cast<std::int8_t>(raw);
    case 'U': return static_cast<std::uint8_t>(raw);
    case 'I': return static_cast<std::int16_t>(raw);
    case 'l': return static_cast<std::int32_t>(raw);
    default: return static_cast<std::int64_t>(raw);
  }
}

// The number of marker m (i U I l L d D) at p as double and float: float32 values widen
// exactly, float64 ones round once to float, integers convert.
inline void ubjson_number(std::uint8_t m, const std::uint8_t* p, double& d, float& f) noexcept {
  if (m == 'd') {
    f = tessera::bit_cast<float>(static_cast<std::uint32_t>(read_big_endian(p, 4)));
    d = f;
  } else if (m == 'D') {
    d = tessera::bit_cast<double>(read_big_endian(p, 8));
    f = static_cast<float>(d);
  } else {
    const std::int64_t i = ubjson_integer(m, p);
    d = static_cast<double>(i);
    f = static_cast<float>(i);
  }
}

// What a json_ref needs to read the tape: the tokens and the two places strings live.
struct tape_view {
  const json_token* tokens = nullptr;
  const char* input = nullptr;
  const char* unescaped = nullptr;
};
}  // namespace detail

// A view of one value of a json_document (cheap to copy; valid while the document and its
// input live). A default-constructed json_ref is "absent", what find() returns for a
// missing key; it tests false and has kind null.
class json_ref {
 public:
  json_ref() = default;
  json_ref(detail::tape_view tape, std::size_t index, std::size_t element = in_place) noexcept
      : tape_(tape), index_(index), element_(element) {}

  explicit operator bool() const noexcept { return tape_.tokens != nullptr; }
  json_kind kind() const noexcept {
    if (!*this) return json_kind::null;
    return element_ != in_place ? json_kind::number : token().kind();
  }
  bool is_null() const noexcept { return kind() == json_kind::null; }
  bool is_boolean() const noexcept { return kind() == json_kind::boolean; }
  bool is_number() const noexcept { return kind() == json_kind::number; }
  bool is_string() const noexcept { return kind() == json_kind::string; }
  bool is_array() const noexcept { return kind() == json_kind::array; }
  bool is_object() const noexcept { return kind() == json_kind::object; }
  // An array holding numbers only (an empty one too): its elements can be indexed in O(1).
  bool numbers_only() const noexcept { return is_array() && (token().is_packed() || token().flag()); }

  // The value; false, 0 or "" when the value is of another kind.
  bool boolean() const noexcept { return is_boolean() && token().flag(); }
  double number() const noexcept {
    if (element_ != in_place) return packed_number().first;
    return is_number() ? tessera::bit_cast<double>(token().payload) : 0.0;
  }
  float number_f32() const noexcept {
    if (element_ != in_place) return packed_number().second;
    return is_number() ? tessera::bit_cast<float>(static_cast<std::uint32_t>(token().head >> 32)) : 0.0f;
  }
  std::string_view str() const noexcept {
    if (!is_string()) return {};
    const json_token& t = token();
    return {(t.flag() ? tape_.unescaped : tape_.input) + t.payload, static_cast<std::size_t>(t.count())};
  }

  // Elements of an array or members of an object; 0 for other values.
  std::size_t size() const noexcept {
    return is_array() || is_object() ? static_cast<std::size_t>(token().count()) : 0;
  }

  // Element i of an array, or absent. O(1) when the elements are scalars (numeric arrays,
  // the bulk of a model); else O(i): iterate elements() to visit them all.
  json_ref operator[](std::size_t i) const noexcept {
    if (!is_array() || i >= size()) return {};
    const json_token& t = token();
    if (t.is_packed()) return {tape_, index_, i};
    if (t.payload == index_ + 1 + t.count()) return {tape_, index_ + 1 + i};  // one token per element
    std::size_t at = index_ + 1;
    while (i-- > 0) at = skip(at);
    return {tape_, at};
  }

  // The first member named `key` of an object, or absent.
  json_ref find(std::string_view key) const noexcept;

  class element_iterator;
  class member_iterator;
  template <class Iterator>
  struct range {
    Iterator first, last;
    Iterator begin() const noexcept { return first; }
    Iterator end() const noexcept { return last; }
  };
  // Empty ranges for values of another kind.
  range<element_iterator> elements() const noexcept;
  range<member_iterator> members() const noexcept;

  // Where the value is: its token, and for an element of a packed array its position.
  std::size_t tape_index() const noexcept { return index_; }
  bool is_packed_element() const noexcept { return element_ != in_place; }

 private:
  static constexpr std::size_t in_place = static_cast<std::size_t>(-1);

  const json_token& token() const noexcept { return tape_.tokens[index_]; }
  std::pair<double, float> packed_number() const noexcept {
    const json_token& t = token();
    const auto marker = static_cast<std::uint8_t>(t.head >> 8);
    const auto* at = reinterpret_cast<const std::uint8_t*>(tape_.input) + t.payload + element_ * detail::ubjson_width(marker);
    std::pair<double, float> v;
    detail::ubjson_number(marker, at, v.first, v.second);
    return v;
  }
  // Index of the value after the one at `at` (containers record where they end).
  std::size_t skip(std::size_t at) const noexcept {
    const json_token& t = tape_.tokens[at];
    return t.is_container() ? static_cast<std::size_t>(t.payload) : at + 1;
  }
  // Tape range of the children: [index_ + 1, end) for a container, empty otherwise.
  std::pair<std::size_t, std::size_t> children(json_kind want) const noexcept {
    if (kind() != want || token().is_packed()) return {0, 0};
    return {index_ + 1, static_cast<std::size_t>(token().payload)};
  }

  detail::tape_view tape_;
  std::size_t index_ = 0;
  std::size_t element_ = in_place;
};

// An object member: the key (unescaped) and its value.
struct json_member {
  std::string_view key;
  json_ref value;
};

namespace detail {
// The postfix increment of both tape iterators, from their prefix one.
template <class Iterator>
struct postfix_increment {
  using difference_type = std::ptrdiff_t;
  Iterator operator++(int) noexcept {
    Iterator& self = static_cast<Iterator&>(*this);
    Iterator old = self;
    ++self;
    return old;
  }
};
}  // namespace detail

class json_ref::element_iterator : public detail::postfix_increment<element_iterator> {
 public:
  using value_type = json_ref;
  using detail::postfix_increment<element_iterator>::operator++;
  element_iterator() = default;
  explicit element_iterator(json_ref at) noexcept : at_(at) {}
  json_ref operator*() const noexcept { return at_; }
  element_iterator& operator++() noexcept {
    if (at_.element_ != in_place) {
      ++at_.element_;
    } else {
      at_.index_ = at_.skip(at_.index_);
    }
    return *this;
  }
  bool operator==(const element_iterator& o) const noexcept {
    return at_.index_ == o.at_.index_ && at_.element_ == o.at_.element_;
  }

 private:
  json_ref at_;
};

class json_ref::member_iterator : public detail::postfix_increment<member_iterator> {
 public:
  using value_type = json_member;
  using detail::postfix_increment<member_iterator>::operator++;
  member_iterator() = default;
  member_iterator(detail::tape_view tape, std::size_t key_at) noexcept : key_(tape, key_at) {}
  json_member operator*() const noexcept { return {key_.str(), json_ref(key_.tape_, key_.index_ + 1)}; }
  member_iterator& operator++() noexcept {
    key_ = json_ref(key_.tape_, key_.skip(key_.index_ + 1));
    return *this;
  }
  bool operator==(const member_iterator& o) const noexcept { return key_.index_ == o.key_.index_; }

 private:
  json_ref key_;  // the member's key token; its value follows it
};

inline json_ref::range<json_ref::element_iterator> json_ref::elements() const noexcept {
  if (is_array() && token().is_packed())
    return {element_iterator(json_ref(tape_, index_, 0)), element_iterator(json_ref(tape_, index_, size()))};
  const auto [b, e] = children(json_kind::array);
  return {element_iterator(json_ref(tape_, b)), element_iterator(json_ref(tape_, e))};
}

inline json_ref::range<json_ref::member_iterator> json_ref::members() const noexcept {
  const auto [b, e] = children(json_kind::object);
  return {member_iterator(tape_, b), member_iterator(tape_, e)};
}

inline json_ref json_ref::find(std::string_view key) const noexcept {
  for (const json_member m : members())
    if (m.key == key) return m.value;
  return {};
}

namespace detail {

// A growable array of plain T whose capacity never exceeds `limit` elements (the bound a
// parser derives from its input size), with allocation failure as an error value.
template <class T>
class bounded_array {
 public:
  void set_limit(std::size_t limit) noexcept { limit_ = limit; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return buf_.size(); }
  T* data() noexcept { return buf_.data(); }
  T& operator[](std::size_t i) noexcept { return buf_[i]; }

  status append(const T* values, std::size_t n) {
    if (n == 0) return {};
    if (n > buf_.size() - size_) TESSERA_TRY(grow(n));
    std::memcpy(static_cast<void*>(buf_.data() + size_), values, n * sizeof(T));
    size_ += n;
    return {};
  }
  status push_back(const T& v) { return append(&v, 1); }
  // Makes room for n elements in all (at most the limit) in one allocation.
  status reserve(std::size_t n) {
    if (n > limit_) n = limit_;
    return n > buf_.size() ? resize_buffer(n) : status{};
  }
  aligned_buffer<T> release() noexcept {
    size_ = 0;
    return std::move(buf_);
  }

 private:
  status grow(std::size_t extra) {
    if (extra > limit_ - size_)
      return make_error(errc::out_of_memory, "parsed document exceeds its bound of " + std::to_string(limit_) + " entries");
    // Doubling keeps appends amortised O(1); the cap keeps capacity within the proven bound.
    std::size_t cap = buf_.size() < 64 ? 64 : buf_.size() * 2;
    if (cap < size_ + extra) cap = size_ + extra;
    return resize_buffer(cap < limit_ ? cap : limit_);
  }
  status resize_buffer(std::size_t cap) {
    aligned_buffer<T> bigger;
    TESSERA_TRY(bigger.allocate(cap));
    if (size_) std::memcpy(static_cast<void*>(bigger.data()), buf_.data(), size_ * sizeof(T));
    buf_ = std::move(bigger);
    return {};
  }

  aligned_buffer<T> buf_;
  std::size_t size_ = 0;
  std::size_t limit_ = 0;
};

class tape_builder;

}  // namespace detail

// A parsed document: the token tape and the unescaped strings. It refers to the input for
// every string that had no escape, so the input must outlive it.
class json_document {
 public:
  json_document() = default;

  json_ref root() const noexcept { return json_ref(view(), 0); }
  std::size_t tokens() const noexcept { return tokens_; }
  // Heap bytes held (tape and string-buffer capacity): what the memory bound is about.
  std::size_t memory_bytes() const noexcept { return tape_.size() * sizeof(json_token) + unescaped_.size(); }

 private:
  friend class detail::tape_builder;
  detail::tape_view view() const noexcept { return {tape_.data(), input_, unescaped_.data()}; }

  aligned_buffer<json_token> tape_;
  aligned_buffer<char> unescaped_;
  std::size_t tokens_ = 0;
  const char* input_ = nullptr;
};

namespace detail {

// What the JSON and UBJSON parsers share: appending tokens in document order, with
// containers opened as a placeholder and completed once their end is known. Growing the
// tape by doubling would hold up to three times its size while copying, so parsers size it
// first: JSON from an upper bound on its tokens, UBJSON by a counting pass (count_only),
// which writes nothing and then reserve_tokens() with the exact count.
class tape_builder {
 public:
  // At most one token and one unescaped byte per input byte (see the top of the file).
  explicit tape_builder(std::size_t input_size) {
    tokens_.set_limit(input_size > 0 ? input_size : 1);
    unescaped_.set_limit(input_size);
  }

  void count_only(bool on) noexcept {
    counting_ = on;
    counted_ = 0;
  }
  std::size_t counted() const noexcept { return counted_; }
  status reserve_tokens(std::size_t n) { return tokens_.reserve(n); }

  status push(const json_token& t) {
    if (counting_) return ++counted_, status{};
    return tokens_.push_back(t);
  }
  // The placeholder token of a container, completed by close_container.
  expected<std::size_t> open_container() {
    const std::size_t at = counting_ ? counted_ : tokens_.size();
    TESSERA_TRY(push(json_token{}));
    return at;
  }
  void close_container(std::size_t at, json_kind k, std::size_t count, bool numbers_only) noexcept {
    set(at, json_token::container(k, count, numbers_only, tokens_.size()));
  }
  void set(std::size_t at, const json_token& t) noexcept {
    if (!counting_) tokens_[at] = t;
  }
  // Unescaped string text is appended with append_unescaped, then ended by a token.
  std::size_t unescaped_size() const noexcept { return unescaped_.size(); }
  status append_unescaped(const char* s, std::size_t n) { return unescaped_.append(s, n); }

  json_document finish(const char* input) noexcept {
    json_document d;
    d.tokens_ = tokens_.size();
    d.tape_ = tokens_.release();
    d.unescaped_ = unescaped_.release();
    d.input_ = input;
    return d;
  }

 private:
  bounded_array<json_token> tokens_;
  bounded_array<char> unescaped_;
  bool counting_ = false;
  std::size_t counted_ = 0;
};

}  // namespace detail

}  // namespace tessera::io
