// The format table and its checks.
#include "core/measure/format.h"

#include <re2/re2.h>

#include <array>
#include <cmath>
#include <memory>

namespace weir::measure {

namespace {

// clang-format off
constexpr format_info k_formats[] = {
    {value_format::email, "email",
     R"([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)",
     "local@domain.tld: a local part of at most 64 of the characters RFC 5322 allows unquoted, "
     "without a leading, trailing or doubled dot; a domain of at least two dot-separated labels"},
    {value_format::uuid, "uuid",
     "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
     "8-4-4-4-12 hexadecimal digits, either case, any version"},
    {value_format::ipv4, "ipv4",
     R"([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})",
     "four decimal octets 0-255 separated by dots, without leading zeros (0 itself is fine)"},
    {value_format::ipv6, "ipv6",
     R"([0-9A-Fa-f:.]{2,45})",
     "eight groups of 1-4 hexadecimal digits separated by colons, one :: for a run of zero "
     "groups, optionally ending in an IPv4 address (::ffff:10.0.0.1); no zone (%eth0)"},
    {value_format::date, "date",
     "[0-9]{4}-[0-9]{2}-[0-9]{2}",
     "ISO 8601 calendar date yyyy-mm-dd that exists (2024-02-29 yes, 2023-02-29 no)"},
    {value_format::date_time, "date_time",
     R"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2}))",
     "RFC 3339 date-time: a valid date, T (or t or a space), hh:mm:ss with optional fraction "
     "(seconds up to 60 for a leap second), and Z or an offset +hh:mm"},
    {value_format::phone, "phone",
     R"(\+?(?:[0-9]+[ .-]?)?(?:\([0-9]+\)[ .-]?)?[0-9]+(?:[ .-][0-9]+)*)",
     "E.164-like: an optional +, 7 to 15 digits in all (the first not 0 after +), in groups "
     "separated by single spaces, dots or hyphens, one group may be in parentheses"},
    {value_format::url, "url",
     R"((?i:https?)://(?:[^\s/?#@]+@)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?(?:[/?#][^\s]*)?)",
     "http:// or https:// (either case), an optional user@, a host name or [IPv6] address, an "
     "optional port, then an optional path, query or fragment without spaces"},
    {value_format::integer, "integer",
     "[+-]?[0-9]+",
     "optional sign and decimal digits; a number when it is finite and integral"},
    {value_format::decimal, "decimal",
     R"([+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))",
     "optional sign, digits with an optional fractional part after a dot (no exponent, no "
     "thousands separators); a number when it is finite"},
    {value_format::percentage, "percentage",
     R"([+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+) ?%)",
     "a decimal followed by %, optionally after one space (12.5%, 3 %)"},
    {value_format::credit_card, "credit_card",
     "[0-9]+(?:[ -][0-9]+)*",
     "13 to 19 digits, optionally in groups separated by single spaces or hyphens, whose Luhn "
     "checksum is valid"},
};
// clang-format on

static_assert(std::size(k_formats) == static_cast<std::size_t>(value_format::credit_card) + 1);

const RE2& pattern_of(value_format f) {
    // Compiled once, on first use (thread-safe static initialisation); RE2 is safe to share.
    static const auto compiled = [] {
        std::array<std::unique_ptr<RE2>, std::size(k_formats)> out;
        RE2::Options options;
        options.set_log_errors(false);
        for (std::size_t i = 0; i < out.size(); ++i) {
            const std::string_view p = k_formats[i].pattern;
            out[i] = std::make_unique<RE2>(re2::StringPiece(p.data(), p.size()), options);
        }
        return out;
    }();
    return *compiled[static_cast<std::size_t>(f)];
}

bool digit(char c) {
    return c >= '0' && c <= '9';
}

bool hex_digit(char c) {
    return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The value of a run of ASCII digits known to be short.
int number_at(std::string_view s, std::size_t at, std::size_t length) {
    int n = 0;
    for (std::size_t i = at; i < at + length; ++i) n = n * 10 + (s[i] - '0');
    return n;
}

bool calendar_date(std::string_view s) {  // yyyy-mm-dd, digits already checked
    const int year = number_at(s, 0, 4);
    const int month = number_at(s, 5, 2);
    const int day = number_at(s, 8, 2);
    if (month < 1 || month > 12 || day < 1) return false;
    static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return day <= k_days[month - 1] + (month == 2 && leap ? 1 : 0);
}

bool date_time(std::string_view s) {
    if (!calendar_date(s)) return false;
    if (number_at(s, 11, 2) > 23 || number_at(s, 14, 2) > 59 || number_at(s, 17, 2) > 60) {
        return false;
    }
    const char last = s.back();
    if (last == 'Z' || last == 'z') return true;
    const std::size_t offset = s.size() - 6;  // +hh:mm
    return number_at(s, offset + 1, 2) <= 23 && number_at(s, offset + 4, 2) <= 59;
}

bool ipv4(std::string_view s) {
    std::size_t i = 0;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (i >= s.size() || s[i] != '.') return false;
            ++i;
        }
        const std::size_t start = i;
        while (i < s.size() && digit(s[i]) && i - start < 4) ++i;
        const std::size_t length = i - start;
        if (length == 0 || length > 3) return false;
        if (length > 1 && s[start] == '0') return false;  // 010: octal to some parsers
        if (number_at(s, start, length) > 255) return false;
    }
    return i == s.size();
}

bool ipv6(std::string_view s) {
    int groups = 0;
    bool compressed = false;
    std::size_t i = 0;
    if (s.starts_with("::")) {
        compressed = true;
        i = 2;
    } else if (s.starts_with(":")) {
        return false;
    }
    while (i < s.size()) {
        std::size_t j = i;
        while (j < s.size() && hex_digit(s[j])) ++j;
        if (j < s.size() && s[j] == '.') {  // the last 32 bits as an IPv4 address
            if (!ipv4(s.substr(i))) return false;
            groups += 2;
            break;
        }
        if (j == i || j - i > 4) return false;
        ++groups;
        i = j;
        if (i == s.size()) break;
        if (s[i] != ':') return false;
        ++i;
        if (i < s.size() && s[i] == ':') {
            if (compressed) return false;  // one :: at most
            compressed = true;
            ++i;
        } else if (i == s.size()) {
            return false;  // a single trailing colon
        }
    }
    // :: stands for at least one group of zeros.
    return compressed ? groups <= 7 : groups == 8;
}

bool phone(std::string_view s) {
    int digits = 0;
    for (const char c : s) digits += digit(c) ? 1 : 0;
    if (digits < 7 || digits > 15) return false;
    if (s.front() == '+') {
        for (const char c : s) {
            if (digit(c)) return c != '0';
        }
    }
    return true;
}

bool luhn(std::string_view s) {
    int digits = 0;
    int sum = 0;
    for (auto it = s.rbegin(); it != s.rend(); ++it) {
        if (!digit(*it)) continue;
        int d = *it - '0';
        if (digits % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
        ++digits;
    }
    return digits >= 13 && digits <= 19 && sum % 10 == 0;
}

bool email(std::string_view s) {
    const std::string_view local = s.substr(0, s.find('@'));
    return !local.starts_with('.') && !local.ends_with('.') &&
           local.find("..") == std::string_view::npos;
}

}  // namespace

std::span<const format_info> formats() {
    return k_formats;
}

const format_info* find_format(std::string_view name) {
    for (const auto& f : k_formats) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

bool has_format(value_format f, std::string_view s) {
    if (!RE2::FullMatch(re2::StringPiece(s.data(), s.size()), pattern_of(f))) return false;
    switch (f) {
        case value_format::email:
            return email(s);
        case value_format::ipv4:
            return ipv4(s);
        case value_format::ipv6:
            return ipv6(s);
        case value_format::date:
            return calendar_date(s);
        case value_format::date_time:
            return date_time(s);
        case value_format::phone:
            return phone(s);
        case value_format::credit_card:
            return luhn(s);
        default:
            return true;
    }
}

bool has_format(value_format f, const field_value& v) {
    switch (v.kind) {
        case value_kind::string:
            return has_format(f, v.string());
        case value_kind::number:
            if (!std::isfinite(v.number)) return false;
            if (f == value_format::decimal) return true;
            return f == value_format::integer && std::trunc(v.number) == v.number;
        default:
            return false;
    }
}

}  // namespace weir::measure
