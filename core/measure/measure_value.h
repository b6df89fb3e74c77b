// The value of one measure for one window (and group): what accumulators produce, what measure
// arithmetic combines and what assessments judge. Built at window close, never per record, so it
// may own its string.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace weir {

enum class measure_kind : std::uint8_t {
    null,  // no data: e.g. mean() of an empty window, or a division by zero in the measure
    number,
    string,   // most_frequent() of a string field
    boolean,  // is_frozen()
};

struct measure_value {
    measure_kind kind = measure_kind::null;
    bool boolean = false;
    double number = 0;
    std::string text;  // kind == string

    static measure_value make_null() { return {}; }
    static measure_value make_number(double d) {
        measure_value v;
        v.kind = measure_kind::number;
        v.number = d;
        return v;
    }
    static measure_value make_string(std::string s) {
        measure_value v;
        v.kind = measure_kind::string;
        v.text = std::move(s);
        return v;
    }
    static measure_value make_boolean(bool b) {
        measure_value v;
        v.kind = measure_kind::boolean;
        v.boolean = b;
        return v;
    }

    bool is_null() const { return kind == measure_kind::null; }
    bool is_number() const { return kind == measure_kind::number; }

    friend bool operator==(const measure_value&, const measure_value&) = default;
};

// The literal spelling of a value: `null`, `true`, `0.05`, `inf`, `"text"` (JSON-style escapes).
std::string to_string(const measure_value& v);

}  // namespace weir
