// What the three small languages of weir (expressions, measures, assessments) share: the error
// a parser reports, positioned by character offset inside the source string so the config layer
// can point at the exact column of a YAML scalar, and the canonical spelling of literals.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir {

// `offset` is a byte offset into the parsed string (0-based; the string's length means "at the
// end"). Messages are complete sentences without a trailing period, quoting source text in "".
struct syntax_error {
    std::size_t offset = 0;
    std::string message;

    friend bool operator==(const syntax_error&, const syntax_error&) = default;
};

// The outcome of parsing or compiling: a value, or at least one error. Parsers never throw on
// bad input; they return errors here.
template <class T>
class parse_result {
  public:
    parse_result(T value) : value_(std::move(value)) {}                        // NOLINT: implicit
    parse_result(syntax_error error) { errors_.push_back(std::move(error)); }  // NOLINT
    explicit parse_result(std::vector<syntax_error> errors) : errors_(std::move(errors)) {}

    bool ok() const { return value_.has_value(); }
    explicit operator bool() const { return ok(); }

    T& value() { return *value_; }
    const T& value() const { return *value_; }
    T& operator*() { return *value_; }
    const T& operator*() const { return *value_; }
    T* operator->() { return &*value_; }
    const T* operator->() const { return &*value_; }

    // Every error, in source order; empty when ok().
    const std::vector<syntax_error>& errors() const { return errors_; }
    // The first error; only when !ok().
    const syntax_error& error() const { return errors_.front(); }

  private:
    std::optional<T> value_;
    std::vector<syntax_error> errors_;
};

// Shortest text that reads back as the same double: "42", "0.05", "1e-09", "inf", "-inf", "nan".
std::string format_number(double d);

// `s` between double quotes, with \" \\ \n \r \t and other control characters escaped.
std::string quote(std::string_view s);

}  // namespace weir
