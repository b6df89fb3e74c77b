// Interned text: the names a result carries (pipeline, node, check, measure, assessments) come
// from the compiled plans, so every result of a check repeats the same few strings. An
// interned_text is one pointer to a process-wide copy of its text (with the text's JSON string
// literal beside it): copying one copies the pointer, two are equal exactly when their
// pointers are, and an output writes the JSON literal as it is instead of escaping the text
// again for every result.
//
// The copies live as long as the process: texts are interned once each, so memory grows only
// with the distinct texts ever seen (names in configurations), never with results. Text from
// data must not be interned.
#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace weir {

class interned_text {
  public:
    interned_text() = default;
    // Implicit: a result's fields are assigned from plain strings (r.check = "volume").
    interned_text(std::string_view text);   // NOLINT(google-explicit-constructor)
    interned_text(const std::string& text)  // NOLINT(google-explicit-constructor)
        : interned_text(std::string_view(text)) {}
    interned_text(const char* text)  // NOLINT(google-explicit-constructor)
        : interned_text(std::string_view(text)) {}

    const std::string& str() const { return get().text; }
    std::string_view view() const { return get().text; }
    // The text as a JSON string literal, quotes included.
    std::string_view json() const { return get().json; }
    operator const std::string&() const { return get().text; }  // NOLINT
    operator std::string_view() const { return get().text; }    // NOLINT

    void clear() { entry_ = nullptr; }

    bool empty() const { return entry_ == nullptr; }
    std::size_t size() const { return get().text.size(); }
    const char* data() const { return get().text.data(); }
    const char* c_str() const { return get().text.c_str(); }
    std::string::const_iterator begin() const { return get().text.begin(); }
    std::string::const_iterator end() const { return get().text.end(); }
    char operator[](std::size_t i) const { return get().text[i]; }

    // One interned copy per text: equal texts share it.
    friend bool operator==(const interned_text& a, const interned_text& b) {
        return a.entry_ == b.entry_;
    }
    friend bool operator==(const interned_text& a, std::string_view b) { return a.view() == b; }
    friend bool operator==(const interned_text& a, const std::string& b) { return a.view() == b; }
    friend bool operator==(const interned_text& a, const char* b) { return a.view() == b; }
    friend std::strong_ordering operator<=>(const interned_text& a, const interned_text& b) {
        return a.entry_ == b.entry_ ? std::strong_ordering::equal : a.view() <=> b.view();
    }
    friend std::strong_ordering operator<=>(const interned_text& a, std::string_view b) {
        return a.view() <=> b;
    }
    friend std::strong_ordering operator<=>(const interned_text& a, const std::string& b) {
        return a.view() <=> std::string_view(b);
    }
    friend std::strong_ordering operator<=>(const interned_text& a, const char* b) {
        return a.view() <=> std::string_view(b);
    }
    // With a std::string, a literal or a view on either side (they convert to the view).
    friend std::string operator+(const interned_text& a, std::string_view b) {
        return std::string(a.view()).append(b);
    }
    friend std::string operator+(std::string_view a, const interned_text& b) {
        return std::string(a).append(b.view());
    }
    friend std::ostream& operator<<(std::ostream& os, const interned_text& t) {
        return os << t.view();
    }

    struct entry {
        std::string text;
        std::string json;
    };

  private:
    static const entry& empty_entry();
    const entry& get() const { return entry_ != nullptr ? *entry_ : empty_entry(); }

    const entry* entry_ = nullptr;  // null: the empty text
};

}  // namespace weir

template <>
struct std::hash<weir::interned_text> {
    std::size_t operator()(const weir::interned_text& t) const noexcept {
        return std::hash<std::string_view>{}(t.view());
    }
};

template <>
struct fmt::formatter<weir::interned_text> : fmt::formatter<std::string_view> {
    template <class Context>
    auto format(const weir::interned_text& t, Context& ctx) const {
        return fmt::formatter<std::string_view>::format(t.view(), ctx);
    }
};
