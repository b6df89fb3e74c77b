// The expression evaluator: one switch loop over the flat instruction vector with a fixed-size
// value stack. Hot path: no exceptions, no allocation (run-time strings go to the caller's
// scratch arena).
#include "core/expr/program.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace weir::expr {

namespace {

bool nullish(const field_value& v) {
    return v.kind == value_kind::absent || v.kind == value_kind::null;
}

// Kleene truth value: 0 false, 1 true, 2 unknown (any non-boolean).
int truth(const field_value& v) {
    if (v.kind != value_kind::boolean) return 2;
    return v.boolean ? 1 : 0;
}

field_value from_truth(int t) {
    return t == 2 ? field_value::make_null() : field_value::make_boolean(t == 1);
}

std::optional<double> number_from_string(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
    double d = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), d);
    if (res.ec != std::errc() || res.ptr != s.data() + s.size() || !std::isfinite(d)) {
        return std::nullopt;
    }
    return d;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
    if (at + n > s.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

}  // namespace

std::optional<double> parse_rfc3339(std::string_view s) {
    int year, month, day, hour, minute, second;
    if (s.size() < 20 || !digits(s, 0, 4, year) || s[4] != '-' || !digits(s, 5, 2, month) ||
        s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
        !digits(s, 17, 2, second)) {
        return std::nullopt;
    }
    static constexpr int k_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12 || day < 1 || day > k_days[month - 1] ||
        (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 60) {
        return std::nullopt;
    }
    std::size_t i = 19;
    double fraction = 0;
    if (i < s.size() && s[i] == '.') {
        ++i;
        double scale = 0.1;
        const std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            fraction += (s[i] - '0') * scale;
            scale /= 10;
            ++i;
        }
        if (i == start) return std::nullopt;
    }
    if (i >= s.size()) return std::nullopt;
    int offset_seconds = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
    } else if (s[i] == '+' || s[i] == '-') {
        int oh, om;
        if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
            !digits(s, i + 4, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset_seconds = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    const std::int64_t days =
        days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
    return static_cast<double>(secs) + fraction;
}

field_value program::evaluate(std::span<const field_value> record, scratch_arena& arena,
                              const eval_context& ctx) const {
    field_value stack[k_max_stack];
    std::size_t top = 0;  // stack[top - 1] is the top
    const std::size_t size = code_.size();
    for (std::size_t pc = 0; pc < size; ++pc) {
        const instruction ins = code_[pc];
        switch (ins.op) {
            case opcode::push_const:
                stack[top++] = constants_[ins.arg];
                break;
            case opcode::load_field:
                stack[top++] = ins.arg < record.size() ? record[ins.arg] : field_value{};
                break;
            case opcode::negate: {
                field_value& a = stack[top - 1];
                a = a.is_number() ? field_value::make_number(-a.number) : field_value::make_null();
                break;
            }
            case opcode::logical_not: {
                field_value& a = stack[top - 1];
                const int t = truth(a);
                a = from_truth(t == 2 ? 2 : 1 - t);
                break;
            }
            case opcode::add:
            case opcode::subtract:
            case opcode::multiply:
            case opcode::divide:
            case opcode::modulo: {
                const field_value b = stack[--top];
                field_value& a = stack[top - 1];
                if (ins.op == opcode::add && a.is_string() && b.is_string()) {
                    char* p = arena.allocate(a.length + b.length);
                    std::copy_n(a.chars, a.length, p);
                    std::copy_n(b.chars, b.length, p + a.length);
                    a = field_value::make_string(std::string_view(p, a.length + b.length));
                    break;
                }
                if (!a.is_number() || !b.is_number()) {
                    a = field_value::make_null();
                    break;
                }
                double r = 0;
                switch (ins.op) {
                    case opcode::add:
                        r = a.number + b.number;
                        break;
                    case opcode::subtract:
                        r = a.number - b.number;
                        break;
                    case opcode::multiply:
                        r = a.number * b.number;
                        break;
                    case opcode::divide:
                        r = a.number / b.number;
                        break;
                    default:
                        r = std::fmod(a.number, b.number);
                        break;
                }
                const bool by_zero =
                    (ins.op == opcode::divide || ins.op == opcode::modulo) && b.number == 0;
                a = by_zero ? field_value::make_null() : field_value::make_number(r);
                break;
            }
            case opcode::equal:
            case opcode::not_equal: {
                const field_value b = stack[--top];
                field_value& a = stack[top - 1];
                if (nullish(a) || nullish(b) || a.kind == value_kind::other ||
                    b.kind == value_kind::other) {
                    a = field_value::make_null();
                    break;
                }
                bool same = false;
                if (a.kind == b.kind) {
                    switch (a.kind) {
                        case value_kind::number:
                            same = a.number == b.number;
                            break;
                        case value_kind::string:
                            same = a.string() == b.string();
                            break;
                        case value_kind::boolean:
                            same = a.boolean == b.boolean;
                            break;
                        default:
                            break;
                    }
                }
                a = field_value::make_boolean(same == (ins.op == opcode::equal));
                break;
            }
            case opcode::less:
            case opcode::less_equal:
            case opcode::greater:
            case opcode::greater_equal: {
                const field_value b = stack[--top];
                field_value& a = stack[top - 1];
                int cmp = 0;
                if (a.is_number() && b.is_number()) {
                    if (std::isnan(a.number) || std::isnan(b.number)) {
                        a = field_value::make_null();
                        break;
                    }
                    cmp = a.number < b.number ? -1 : (a.number > b.number ? 1 : 0);
                } else if (a.is_string() && b.is_string()) {
                    const int c = a.string().compare(b.string());
                    cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
                } else {
                    a = field_value::make_null();
                    break;
                }
                bool r = false;
                switch (ins.op) {
                    case opcode::less:
                        r = cmp < 0;
                        break;
                    case opcode::less_equal:
                        r = cmp <= 0;
                        break;
                    case opcode::greater:
                        r = cmp > 0;
                        break;
                    default:
                        r = cmp >= 0;
                        break;
                }
                a = field_value::make_boolean(r);
                break;
            }
            case opcode::is_null:
            case opcode::is_not_null: {
                field_value& a = stack[top - 1];
                a = field_value::make_boolean(nullish(a) == (ins.op == opcode::is_null));
                break;
            }
            case opcode::and_short:
                if (truth(stack[top - 1]) == 0) pc = ins.arg - 1;
                break;
            case opcode::or_short:
                if (truth(stack[top - 1]) == 1) pc = ins.arg - 1;
                break;
            case opcode::and_combine: {
                const int b = truth(stack[--top]);
                const int a = truth(stack[top - 1]);
                stack[top - 1] = from_truth(a == 0 || b == 0 ? 0 : (a == 1 && b == 1 ? 1 : 2));
                break;
            }
            case opcode::or_combine: {
                const int b = truth(stack[--top]);
                const int a = truth(stack[top - 1]);
                stack[top - 1] = from_truth(a == 1 || b == 1 ? 1 : (a == 0 && b == 0 ? 0 : 2));
                break;
            }
            case opcode::lower:
            case opcode::upper: {
                field_value& a = stack[top - 1];
                if (!a.is_string()) {
                    a = field_value::make_null();
                    break;
                }
                char* p = arena.allocate(a.length);
                const bool up = ins.op == opcode::upper;
                for (std::uint32_t i = 0; i < a.length; ++i) {
                    const char c = a.chars[i];
                    if (up && c >= 'a' && c <= 'z')
                        p[i] = static_cast<char>(c - 'a' + 'A');
                    else if (!up && c >= 'A' && c <= 'Z')
                        p[i] = static_cast<char>(c - 'A' + 'a');
                    else
                        p[i] = c;
                }
                a = field_value::make_string(std::string_view(p, a.length));
                break;
            }
            case opcode::len: {
                field_value& a = stack[top - 1];
                if (!a.is_string()) {
                    a = field_value::make_null();
                    break;
                }
                std::size_t n = 0;  // UTF-8 code points: bytes that are not continuation bytes
                for (std::uint32_t i = 0; i < a.length; ++i) {
                    if ((static_cast<unsigned char>(a.chars[i]) & 0xC0) != 0x80) ++n;
                }
                a = field_value::make_number(static_cast<double>(n));
                break;
            }
            case opcode::abs: {
                field_value& a = stack[top - 1];
                a = a.is_number() ? field_value::make_number(std::fabs(a.number))
                                  : field_value::make_null();
                break;
            }
            case opcode::round: {
                field_value& a = stack[top - 1];
                a = a.is_number() ? field_value::make_number(std::round(a.number))
                                  : field_value::make_null();
                break;
            }
            case opcode::round_digits: {
                const field_value d = stack[--top];
                field_value& a = stack[top - 1];
                if (!a.is_number() || !d.is_number() || std::isnan(d.number)) {
                    a = field_value::make_null();
                    break;
                }
                const double digits = std::clamp(std::round(d.number), -15.0, 15.0);
                const double scale = std::pow(10.0, digits);
                a = field_value::make_number(std::round(a.number * scale) / scale);
                break;
            }
            case opcode::to_number: {
                field_value& a = stack[top - 1];
                if (a.is_number()) break;
                if (a.kind == value_kind::boolean) {
                    a = field_value::make_number(a.boolean ? 1 : 0);
                } else if (a.is_string()) {
                    const auto d = number_from_string(a.string());
                    a = d ? field_value::make_number(*d) : field_value::make_null();
                } else {
                    a = field_value::make_null();
                }
                break;
            }
            case opcode::to_string: {
                field_value& a = stack[top - 1];
                if (a.is_string()) break;
                if (a.kind == value_kind::boolean) {
                    a = field_value::make_string(a.boolean ? "true" : "false");
                } else if (a.is_number()) {
                    char buf[32];
                    const double d = a.number == 0 ? 0.0 : a.number;  // no "-0"
                    const auto res = std::to_chars(buf, buf + sizeof buf, d);
                    a = field_value::make_string(
                        arena.copy(std::string_view(buf, static_cast<std::size_t>(res.ptr - buf))));
                } else {
                    a = field_value::make_null();
                }
                break;
            }
            case opcode::contains:
            case opcode::starts_with: {
                const field_value b = stack[--top];
                field_value& a = stack[top - 1];
                if (!a.is_string() || !b.is_string()) {
                    a = field_value::make_null();
                    break;
                }
                const std::string_view s = a.string();
                const std::string_view t = b.string();
                a = field_value::make_boolean(ins.op == opcode::contains
                                                  ? s.find(t) != std::string_view::npos
                                                  : s.substr(0, t.size()) == t);
                break;
            }
            case opcode::matches: {
                field_value& a = stack[top - 1];
                a = a.is_string() ? field_value::make_boolean(re2::RE2::FullMatch(
                                        re2::StringPiece(a.chars, a.length), *regexes_[ins.arg]))
                                  : field_value::make_null();
                break;
            }
            case opcode::parse_time: {
                // Seconds since the Unix epoch (a number), or null when unreadable.
                field_value& a = stack[top - 1];
                time::timestamp_ns t = 0;
                if (time_parsers_[ins.arg].parse(a, t)) {
                    // Whole seconds and the fraction apart: t / 1e9 as one double would round.
                    std::int64_t whole = t / time::ns_per_s, frac = t % time::ns_per_s;
                    if (frac < 0) {
                        --whole;
                        frac += time::ns_per_s;
                    }
                    a = field_value::make_number(static_cast<double>(whole) +
                                                 static_cast<double>(frac) / 1e9);
                } else {
                    a = field_value::make_null();
                }
                break;
            }
            case opcode::now:
                stack[top++] = field_value::make_number(ctx.now);
                break;
        }
    }
    return top > 0 ? stack[top - 1] : field_value::make_null();
}

}  // namespace weir::expr
