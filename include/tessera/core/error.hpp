// Errors without exceptions.
//
// Emscripten builds turn C++ exception catching off by default, and many embedders
// compile with -fno-exceptions, so tessera never throws. Every operation that can fail on
// user input (a shape, a file, a parameter) returns `status` or `expected<T>`; a failure
// carries an error code and a human-readable message. Programming errors inside tessera
// itself (a broken internal invariant) are not reported this way; they are bugs.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace tessera {

enum class errc : int {
  ok = 0,
  invalid_argument,   // a parameter out of its domain (negative size, bad axis, ...)
  shape_mismatch,     // operands whose shapes do not fit together
  out_of_range,       // an index or offset past the end of something
  parse_error,        // malformed input file or text
  unsupported,        // valid input tessera does not handle (yet)
  out_of_memory,      // an allocation failed or would exceed a declared limit
  io_error,           // a file could not be opened or read
  cancelled,          // the caller asked to stop
};

inline const char* errc_name(errc c) noexcept {
  switch (c) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid argument";
    case errc::shape_mismatch: return "shape mismatch";
    case errc::out_of_range: return "out of range";
    case errc::parse_error: return "parse error";
    case errc::unsupported: return "unsupported";
    case errc::out_of_memory: return "out of memory";
    case errc::io_error: return "i/o error";
    case errc::cancelled: return "cancelled";
  }
  return "unknown error";
}

struct error {
  errc code = errc::ok;
  std::string message;

  // "shape mismatch: add: cannot broadcast [2,3] with [4]"
  std::string what() const { return std::string(errc_name(code)) + ": " + message; }
};

inline error make_error(errc code, std::string message) { return error{code, std::move(message)}; }

// Marks the failure branch of `expected` so a bare `error` converts implicitly.
struct unexpected_t {};

// The result of an operation that produces nothing but can fail. Success is spelled
// `return {};` everywhere.
class [[nodiscard]] status {
 public:
  status() = default;
  status(error e) : err_(std::move(e)) {}  // NOLINT: implicit by design, like std::unexpected

  bool ok() const noexcept { return err_.code == errc::ok; }
  explicit operator bool() const noexcept { return ok(); }
  errc code() const noexcept { return err_.code; }
  const std::string& message() const noexcept { return err_.message; }
  const error& err() const noexcept { return err_; }
  std::string what() const { return ok() ? std::string("ok") : err_.what(); }

 private:
  error err_;
};

// A value or an error (C++23's std::expected, restricted to our error type).
template <class T>
class [[nodiscard]] expected {
  static_assert(!std::is_reference_v<T>, "expected<T&> is not supported");

 public:
  using value_type = T;

  template <class U = T,
            std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                 !std::is_same_v<std::decay_t<U>, expected> &&
                                 !std::is_same_v<std::decay_t<U>, error> &&
                                 !std::is_same_v<std::decay_t<U>, status>,
                             int> = 0>
  expected(U&& v) : has_(true) {  // NOLINT: implicit like std::expected
    new (&storage_.value) T(std::forward<U>(v));
  }
  expected(error e) : has_(false) {  // NOLINT
    if (e.code == errc::ok) e = error{errc::invalid_argument, "expected built from an ok error"};
    new (&storage_.err) error(std::move(e));
  }
  // A failed status converts to a failed expected (for TESSERA_TRY chains).
  expected(const status& s) : expected(s.ok() ? error{errc::invalid_argument, "ok status"} : s.err()) {}

  expected(const expected& o) : has_(o.has_) {
    if (has_) new (&storage_.value) T(o.storage_.value);
    else new (&storage_.err) error(o.storage_.err);
  }
  expected(expected&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : has_(o.has_) {
    if (has_) new (&storage_.value) T(std::move(o.storage_.value));
    else new (&storage_.err) error(std::move(o.storage_.err));
  }
  expected& operator=(const expected& o) {
    if (this != &o) { destroy(); has_ = o.has_; construct_from(o); }
    return *this;
  }
  expected& operator=(expected&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &o) {
      destroy();
      has_ = o.has_;
      if (has_) new (&storage_.value) T(std::move(o.storage_.value));
      else new (&storage_.err) error(std::move(o.storage_.err));
    }
    return *this;
  }
  ~expected() { destroy(); }

  bool has_value() const noexcept { return has_; }
  bool ok() const noexcept { return has_; }
  explicit operator bool() const noexcept { return has_; }

  // Accessing the value of a failed expected is a programming error: report and abort
  // rather than read garbage (there are no exceptions to throw).
  T& value() & { check(); return storage_.value; }
  const T& value() const& { check(); return storage_.value; }
  T&& value() && { check(); return std::move(storage_.value); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& err() const noexcept {
    static const error none{};
    return has_ ? none : storage_.err;
  }
  status as_status() const { return has_ ? status() : status(storage_.err); }
  std::string what() const { return has_ ? std::string("ok") : storage_.err.what(); }

 private:
  void check() const {
    if (!has_) {
      std::fprintf(stderr, "tessera: value() of a failed expected: %s\n", storage_.err.what().c_str());
      std::abort();
    }
  }
  void destroy() {
    if (has_) storage_.value.~T();
    else storage_.err.~error();
  }
  void construct_from(const expected& o) {
    if (has_) new (&storage_.value) T(o.storage_.value);
    else new (&storage_.err) error(o.storage_.err);
  }
  union storage {
    storage() {}
    ~storage() {}
    T value;
    error err;
  } storage_;
  bool has_;
};

namespace detail {
inline status to_status(const status& s) { return s; }
template <class T>
status to_status(const expected<T>& e) { return e.as_status(); }
}  // namespace detail

}  // namespace tessera

// Returns the error of a failed status/expected from the enclosing function.
#define TESSERA_TRY(expr)                                                   \
  do {                                                                      \
    auto&& tessera_try_result_ = (expr);                                    \
    if (!tessera_try_result_.ok())                                          \
      return ::tessera::detail::to_status(tessera_try_result_).err();       \
  } while (0)

#define TESSERA_CONCAT_INNER_(a, b) a##b
#define TESSERA_CONCAT_(a, b) TESSERA_CONCAT_INNER_(a, b)
// `TESSERA_ASSIGN_OR_RETURN(auto x, load(...));` declares x from a successful expected.
#define TESSERA_ASSIGN_OR_RETURN(lhs, expr) \
  TESSERA_ASSIGN_OR_RETURN_IMPL_(TESSERA_CONCAT_(tessera_aor_, __LINE__), lhs, expr)
#define TESSERA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.err();                     \
  lhs = std::move(tmp).value()
