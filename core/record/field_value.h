// The value of one referenced field of one record, as decoding produces it and expressions,
// schema checks and measures consume it. Trivially copyable and 24 bytes: the hot path moves
// these in batches and never allocates for them. Strings point into memory owned by the batch
// (the decoded input buffer or the batch's arena) and live as long as the batch.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace weir {

enum class value_kind : std::uint8_t {
    absent,  // the field is not in the record
    null,    // JSON null, or an empty CSV cell declared nullable
    boolean,
    number,  // always a double; integers up to 2^53 are exact
    string,
    other,  // an object or array where a scalar was expected (a wrong type)
};

struct field_value {
    value_kind kind = value_kind::absent;
    bool boolean = false;
    // A string of length 0 that counts as a present value, not as missing: what the measures
    // of a node with `empty_is_missing: false` see (engine::aggregate_layout sets it).
    bool empty_present = false;
    std::uint32_t length = 0;  // string length
    union {
        double number;
        const char* chars;  // string data (not NUL-terminated)
    };

    constexpr field_value() : number(0) {}

    static constexpr field_value make_absent() { return {}; }
    static constexpr field_value make_null() {
        field_value v;
        v.kind = value_kind::null;
        return v;
    }
    static constexpr field_value make_boolean(bool b) {
        field_value v;
        v.kind = value_kind::boolean;
        v.boolean = b;
        return v;
    }
    static constexpr field_value make_number(double d) {
        field_value v;
        v.kind = value_kind::number;
        v.number = d;
        return v;
    }
    static field_value make_string(std::string_view s) {
        field_value v;
        v.kind = value_kind::string;
        v.length = static_cast<std::uint32_t>(s.size());
        v.chars = s.data();
        return v;
    }
    static constexpr field_value make_other() {
        field_value v;
        v.kind = value_kind::other;
        return v;
    }

    bool is_number() const { return kind == value_kind::number; }
    bool is_string() const { return kind == value_kind::string; }
    std::string_view string() const { return {chars, length}; }

    // Missing in the sense of missing_count(): absent, null or "" (unless empty_present).
    // (Placeholders listed by a check are handled by the measure itself.)
    bool missing() const {
        return kind == value_kind::absent || kind == value_kind::null ||
               (kind == value_kind::string && length == 0 && !empty_present);
    }
};

}  // namespace weir
