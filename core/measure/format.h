// The value formats of valid_count(f, email), invalid_fraction(f, date) and friends, declared
// once: each a name, an RE2 pattern (full match) and, where a pattern cannot say it all, a check
// (calendar dates, IPv4 octets, IPv6 groups, phone digit counts, the Luhn checksum).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/record/field_value.h"

namespace weir::measure {

enum class value_format : std::uint8_t {
    email,
    uuid,
    ipv4,
    ipv6,
    date,
    date_time,
    phone,
    url,
    integer,
    decimal,
    percentage,
    credit_card,
};

struct format_info {
    value_format format;
    std::string_view name;     // the keyword of a measure call: valid_count(f, email)
    std::string_view pattern;  // RE2, fully matched against the whole string
    std::string_view summary;  // for the docs and messages
};

// Every format, in the order of value_format.
std::span<const format_info> formats();

// nullptr when `name` is no format.
const format_info* find_format(std::string_view name);

// Whether a present value has the format. Strings are matched as they are (no trimming); a
// number is an `integer` when finite and integral and a `decimal` when finite, and has no other
// format; booleans, objects and arrays have none. Missing values are neither valid nor invalid:
// callers skip them before asking. Patterns are compiled once, on first use, and shared.
bool has_format(value_format f, const field_value& v);
bool has_format(value_format f, std::string_view s);

// The predicate of valid_count/valid_fraction and of invalid_count/invalid_fraction with a
// format (predicate_acc counts the values for which test() holds).
struct format_config {
    value_format format = value_format::email;
    bool valid = true;  // false: the invalid ones are counted

    bool test(const field_value& v) const { return has_format(format, v) == valid; }
};

}  // namespace weir::measure
