// Values and assessments written for people, in the assessment's unit.
#include "core/result/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <optional>

#include "core/check/history.h"
#include "core/expr/syntax.h"
#include "core/time/timestamp.h"

namespace weir {

namespace {

// Drops trailing zeros of a fraction ("12.300" -> "12.3", "5.000" -> "5"); leaves an exponent.
std::string trim_fraction(std::string s) {
    const std::size_t exp = s.find('e');
    std::string tail = exp == std::string::npos ? std::string() : s.substr(exp);
    std::string head = exp == std::string::npos ? s : s.substr(0, exp);
    if (head.find('.') != std::string::npos) {
        while (!head.empty() && head.back() == '0') head.pop_back();
        if (!head.empty() && head.back() == '.') head.pop_back();
    }
    return head + tail;
}

std::string printf_double(const char* format, int precision, double d) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, precision, d);
    return buf;
}

// A plain number with `digits` significant digits (integers in full).
std::string significant(double d, int digits) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0) return "0";
    const double a = std::fabs(d);
    if (a < 1e-4 || a >= 1e15) return trim_fraction(printf_double("%.*e", digits - 1, d));
    if (d == std::trunc(d)) return printf_double("%.*f", 0, d);
    const int magnitude = static_cast<int>(std::floor(std::log10(a)));
    const int decimals = std::max(0, digits - 1 - magnitude);
    std::string s = trim_fraction(printf_double("%.*f", decimals, d));
    return s == "-0" ? "0" : s;
}

// A number as exactly as a double allows, with 15 significant digits so that unit arithmetic
// (0.07 * 100) shows no noise.
std::string exact(double d) {
    if (std::isnan(d) || std::isinf(d) || d == 0) return format_number(d);
    const double a = std::fabs(d);
    if (a < 1e-4 || a >= 1e15) return trim_fraction(printf_double("%.*e", 14, d));
    return trim_fraction(printf_double("%.*g", 15, d));
}

struct time_unit {
    double seconds;
    const char* name;
};
constexpr time_unit k_units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};

// Seconds >= 60: the two largest units, rounded to the smaller one ("1m 12s", "2h", "3d 4h").
std::string rounded_duration(double s) {
    for (std::size_t i = 0; i + 1 < std::size(k_units); ++i) {
        if (s < k_units[i].seconds) continue;
        const double small = k_units[i + 1].seconds;
        const double total = std::round(s / small) * small;
        // Rounding up may reach the next larger unit (59m 59.9s is 1h).
        if (i > 0 && total >= k_units[i - 1].seconds) return rounded_duration(total);
        const double big = std::floor(total / k_units[i].seconds);
        const double rest = std::round((total - big * k_units[i].seconds) / small);
        std::string out = printf_double("%.*f", 0, big) + k_units[i].name;
        if (rest > 0) out += " " + printf_double("%.*f", 0, rest) + k_units[i + 1].name;
        return out;
    }
    return printf_double("%.*f", 0, s) + "s";
}

// Seconds >= 60, exactly: every unit that is not zero, the seconds possibly fractional
// ("1m 30s", "1d 1h 1m 1s", "1m 30.5s").
std::string exact_duration(double s) {
    std::string out;
    double rest = s;
    for (std::size_t i = 0; i + 1 < std::size(k_units); ++i) {
        const double n = std::floor(rest / k_units[i].seconds);
        if (n <= 0) continue;
        rest -= n * k_units[i].seconds;
        if (!out.empty()) out += ' ';
        out += printf_double("%.*f", 0, n) + k_units[i].name;
    }
    if (rest > 0) out += (out.empty() ? "" : " ") + exact(rest) + "s";
    return out;
}

std::string duration(double s, int digits, bool exact_bound) {
    if (std::isnan(s)) return "nan";
    if (std::isinf(s)) return s > 0 ? "inf" : "-inf";
    if (s < 0) return "-" + duration(-s, digits, exact_bound);
    if (s == 0) return "0 s";
    const auto number = [&](double d) { return exact_bound ? exact(d) : significant(d, digits); };
    if (s < 1) {
        std::string ms = number(s * 1000);
        if (ms != "1000") return ms + " ms";
    }
    if (s < 60) {
        std::string secs = number(s);
        if (secs != "60") return secs + " s";
    }
    return exact_bound ? exact_duration(s) : rounded_duration(std::max(s, 60.0));
}

std::string number_in(double d, value_unit unit, int digits, bool exact_bound) {
    switch (unit) {
        case value_unit::percent:
            return (exact_bound ? exact(d * 100) : significant(d * 100, digits)) + " %";
        case value_unit::duration:
            return duration(d, digits, exact_bound);
        case value_unit::none:
            break;
    }
    return exact_bound ? exact(d) : significant(d, digits);
}

bool is_bare_word(const std::string& s) {
    if (s.empty() || s == "true" || s == "false" || s == "inf") return false;
    const char c0 = s[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_')) return false;
    for (const char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == ':' ||
                        c == '/';
        if (!ok) return false;
    }
    return true;
}

std::string element(const measure_value& v, value_unit unit) {
    switch (v.kind) {
        case measure_kind::number:
            return number_in(v.number, unit, 0, true);
        case measure_kind::string:
            return is_bare_word(v.text) ? v.text : quote(v.text);
        default:
            return to_string(v);
    }
}

const char* op_text(check::assessment::form f) {
    using form = check::assessment::form;
    switch (f) {
        case form::greater:
            return ">";
        case form::greater_equal:
            return ">=";
        case form::less:
            return "<";
        case form::less_equal:
            return "<=";
        case form::equal:
            return "==";
        case form::not_equal:
            return "!=";
        default:
            return "";
    }
}

// The numbers an assessment compares with.
void bounds_of(const check::assessment& a, std::vector<double>& out) {
    using form = check::assessment::form;
    switch (a.kind()) {
        case form::range:
            out.push_back(a.low());
            out.push_back(a.high());
            break;
        case form::in_set:
        case form::not_in_set:
            for (const auto& e : a.elements()) {
                if (e.is_number()) out.push_back(e.number);
            }
            break;
        default:
            if (a.operand().is_number()) out.push_back(a.operand().number);
    }
}

}  // namespace

std::string format_value(const measure_value& v, value_unit unit, int digits) {
    switch (v.kind) {
        case measure_kind::null:
            return "no data";
        case measure_kind::boolean:
            return v.boolean ? "true" : "false";
        case measure_kind::string:
            return v.text;
        case measure_kind::number:
            break;
    }
    return number_in(v.number, unit, digits, false);
}

std::string format_value(const measure_value& v,
                         const std::vector<const check::assessment*>& assessments) {
    value_unit unit = value_unit::none;
    std::vector<double> bounds;
    for (const check::assessment* a : assessments) {
        if (a == nullptr) continue;
        if (unit == value_unit::none) unit = a->unit();
        bounds_of(*a, bounds);
    }
    std::string s = format_value(v, unit);
    if (!v.is_number() || !std::isfinite(v.number)) return s;
    for (int digits = k_value_digits; digits <= 17; ++digits) {
        bool ambiguous = false;
        for (const double b : bounds) {
            if (b != v.number && std::isfinite(b) &&
                format_value(measure_value::make_number(b), unit, digits) == s) {
                ambiguous = true;
                break;
            }
        }
        if (!ambiguous) return s;
        s = format_value(v, unit, digits + 1);
    }
    return s;
}

std::string format_assessment(const check::assessment& a) {
    using form = check::assessment::form;
    const value_unit unit = a.unit();
    if (const check::history_spec* h = a.history()) {
        // The test applies to the change or z; min_change to the value, in no unit.
        std::string test = a.kind() == form::range
                               ? std::string(a.low_closed() ? "in [" : "in (") +
                                     number_in(a.low(), unit, 0, true) + ", " +
                                     number_in(a.high(), unit, 0, true) +
                                     (a.high_closed() ? "]" : ")")
                               : std::string(op_text(a.kind())) + " " + element(a.operand(), unit);
        std::string s = h->subject_text() + " " + test;
        if (h->min_change > 0) {
            s += " min_change " + number_in(h->min_change, value_unit::none, 0, true);
        }
        return s;
    }
    switch (a.kind()) {
        case form::range:
            return std::string(a.low_closed() ? "[" : "(") + number_in(a.low(), unit, 0, true) +
                   ", " + number_in(a.high(), unit, 0, true) + (a.high_closed() ? "]" : ")");
        case form::in_set:
        case form::not_in_set: {
            std::string s = a.kind() == form::in_set ? "in {" : "not in {";
            for (std::size_t i = 0; i < a.elements().size(); ++i) {
                if (i > 0) s += ", ";
                s += element(a.elements()[i], unit);
            }
            return s + "}";
        }
        default:
            return std::string(op_text(a.kind())) + " " + element(a.operand(), unit);
    }
}

void append_group(const group_key& group, std::string_view separator, std::string& out) {
    for (std::size_t i = 0; i < group.size(); ++i) {
        if (i > 0) out += separator;
        const auto& [name, value] = group[i];
        out += name;
        out += '=';
        out += value.kind == measure_kind::string ? value.text : to_string(value);
    }
}

std::string format_group(const group_key& group) {
    std::string out;
    append_group(group, ", ", out);
    return out;
}

// Terminal columns of UTF-8 text: code points (continuation bytes do not count).
std::size_t text_columns(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

// `s` cut to `width` columns, the last one an ellipsis when anything was cut; never splits a
// UTF-8 sequence.
std::string elide_text(std::string_view s, std::size_t width) {
    if (text_columns(s) <= width) return std::string(s);
    if (width == 0) return {};
    std::string out;
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool starts = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
        if (starts && ++n > width - 1) break;
        out += s[i];
    }
    return out + "\u2026";
}

std::string format_reconciliation(const reconciliation_summary& s, bool brief) {
    if (brief) {
        std::string out;
        const auto side = [&](std::uint64_t n, const std::string& in,
                              const std::vector<std::string>& sample) {
            if (n == 0) return;
            out += (out.empty() ? "" : "; ") + in + " lack ";
            const std::size_t shown = std::min<std::size_t>(sample.size(), 3);
            for (std::size_t i = 0; i < shown; ++i) out += (i > 0 ? ", " : "") + sample[i];
            if (n > shown) out += shown > 0 ? ", …" : std::to_string(n) + " keys";
        };
        side(s.missing_right, s.right, s.sample_missing_right);
        side(s.missing_left, s.left, s.sample_missing_left);
        if (s.overflow > 0) out += (out.empty() ? "" : "; ") + std::string("keys over the limit");
        return out.empty() ? std::to_string(s.matched) + " keys matched" : out;
    }
    std::string out = std::to_string(s.matched) + " matched";
    const auto side = [&](std::uint64_t n, const std::string& of, const std::string& in,
                          const std::vector<std::string>& sample) {
        out +=
            "; " + std::to_string(n) + " " + of + (n == 1 ? " key" : " keys") + " missing in " + in;
        if (sample.empty()) return;
        out += " (";
        for (std::size_t i = 0; i < sample.size(); ++i) out += (i > 0 ? ", " : "") + sample[i];
        out += n > sample.size() ? ", …)" : ")";
    };
    side(s.missing_right, s.left, s.right, s.sample_missing_right);
    side(s.missing_left, s.right, s.left, s.sample_missing_left);
    if (s.overflow > 0) out += "; " + std::to_string(s.overflow) + " keys not compared (limit)";
    return out;
}

std::string format_expected(const expected_evidence& e, value_unit unit, bool brief) {
    const auto value = [&](double v) { return format_value(measure_value::make_number(v), unit); };
    if (std::string_view(e.state) != "judged") {
        return "warming up" + (e.reason.empty() ? std::string() : ": " + e.reason);
    }
    std::string s;
    const bool low = std::isfinite(e.low);
    const bool high = std::isfinite(e.high);
    if (brief) {
        // The range that would have passed (else the expected value) and the tested quantity.
        if (low && high) {
            s = "expected " + value(e.low) + " to " + value(e.high);
        } else if (low) {
            s = "expected at least " + value(e.low);
        } else if (high) {
            s = "expected at most " + value(e.high);
        } else if (std::isfinite(e.value)) {
            s = "expected " + value(e.value);
        }
        const std::string_view tested = e.tested;
        if (tested == "z" && std::isfinite(e.tested_value)) {
            s += (s.empty() ? "z " : ", z ") +
                 format_value(measure_value::make_number(e.tested_value));
        }
        return s;
    }
    if (std::isfinite(e.value)) s = "expected " + value(e.value);
    if (low && high) {
        s += " (" + value(e.low) + " to " + value(e.high) + ")";
    } else if (low) {
        s += " (at least " + value(e.low) + ")";
    } else if (high) {
        s += " (at most " + value(e.high) + ")";
    }
    const std::string_view tested = e.tested;
    if (!tested.empty() && !std::isnan(e.tested_value)) {
        if (!s.empty()) s += ", ";
        if (tested == "relative_change") {
            s += "change " +
                 format_value(measure_value::make_number(e.tested_value), value_unit::percent);
        } else {
            s += std::string(tested) + " " +
                 format_value(measure_value::make_number(e.tested_value));
        }
    }
    if (e.reference != 0) {
        s += " vs " + time::format_rfc3339_ms(e.reference).substr(0, 16) + "Z";
    } else if (e.history > 0) {
        s += " over " + std::to_string(e.history) + (e.history == 1 ? " value" : " values");
    }
    if (!e.bucket.empty()) s += ", " + e.bucket;
    return s;
}

result_text format_result(const check_result& r) {
    result_text out;
    std::optional<check::assessment> must_be;
    std::optional<check::assessment> should_be;
    const auto parse = [](const std::string& text, std::optional<check::assessment>& parsed,
                          std::string& shown) {
        if (text.empty()) return;
        auto p = check::parse_assessment(text);
        if (p) {
            parsed = std::move(*p);
            shown = format_assessment(*parsed);
        } else {
            shown = text;
        }
    };
    parse(r.must_be, must_be, out.must_be);
    parse(r.should_be, should_be, out.should_be);
    // An assessment against history judges the change or z, not the value: its unit is not
    // the value's.
    const check::assessment* m = must_be && must_be->history() == nullptr ? &*must_be : nullptr;
    const check::assessment* s =
        should_be && should_be->history() == nullptr ? &*should_be : nullptr;
    out.unit = m != nullptr && m->unit() != value_unit::none ? m->unit()
               : s != nullptr                                ? s->unit()
                                                             : value_unit::none;
    out.value = format_value(r.value, {m, s});
    return out;
}

}  // namespace weir
