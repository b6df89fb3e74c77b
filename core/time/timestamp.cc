// Event-time parsing and formatting; see timestamp.h for the accepted forms.
#include "core/time/timestamp.h"

#include <date/tz.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>

namespace weir::time {

namespace {

constexpr std::int64_t seconds_per_day = 86'400;
// The range of timestamp_ns in whole seconds, kept a little inside int64 limits.
constexpr std::int64_t max_seconds = 9'223'372'035;

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

constexpr bool is_leap(std::int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
    constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Reads exactly `n` digits at `p`; false if any is not a digit.
bool fixed_digits(const char* p, int n, int& out) {
    int v = 0;
    for (int i = 0; i < n; ++i) {
        if (!is_digit(p[i])) return false;
        v = v * 10 + (p[i] - '0');
    }
    out = v;
    return true;
}

// Seconds and nanoseconds to timestamp_ns, false when out of range.
bool combine(std::int64_t seconds, std::int64_t nanos, timestamp_ns& out) {
    if (seconds > max_seconds || seconds < -max_seconds) return false;
    out = seconds * ns_per_s + nanos;
    return true;
}

bool civil_seconds(std::int64_t y, int mon, int d, int h, int mi, int s, std::int64_t& out) {
    if (mon < 1 || mon > 12 || d < 1 || d > static_cast<int>(days_in_month(y, mon))) return false;
    if (h > 23 || mi > 59 || s > 60) return false;
    out =
        days_from_civil(y, static_cast<unsigned>(mon), static_cast<unsigned>(d)) * seconds_per_day +
        h * 3600 + mi * 60 + s;
    return true;
}

// Reads up to 9 fraction digits into nanoseconds, skipping (truncating) further digits.
const char* read_fraction(const char* p, const char* end, std::int64_t& nanos) {
    std::int64_t v = 0;
    int digits = 0;
    while (p < end && is_digit(*p)) {
        if (digits < 9) {
            v = v * 10 + (*p - '0');
            ++digits;
        }
        ++p;
    }
    for (int i = digits; i < 9; ++i) v *= 10;
    nanos = v;
    return p;
}

// A zone designator: Z, z, +hh, +hhmm, +hh:mm (and -). Returns the end or nullptr.
const char* read_zone(const char* p, const char* end, std::int64_t& offset_seconds,
                      bool allow_short) {
    if (p >= end) return nullptr;
    if (*p == 'Z' || *p == 'z') {
        offset_seconds = 0;
        return p + 1;
    }
    if (*p != '+' && *p != '-') return nullptr;
    const int sign = *p == '-' ? -1 : 1;
    ++p;
    int hh = 0, mm = 0;
    if (end - p < 2 || !fixed_digits(p, 2, hh)) return nullptr;
    p += 2;
    if (p < end && *p == ':') {
        if (end - p < 3 || !fixed_digits(p + 1, 2, mm)) return nullptr;
        p += 3;
    } else if (end - p >= 2 && is_digit(p[0])) {
        if (!fixed_digits(p, 2, mm)) return nullptr;
        p += 2;
    } else if (!allow_short) {
        return nullptr;
    }
    if (hh > 23 || mm > 59) return nullptr;
    offset_seconds = sign * (hh * 3600 + mm * 60);
    return p;
}

constexpr const char* month_names[] = {"january",   "february", "march",    "april",
                                       "may",       "june",     "july",     "august",
                                       "september", "october",  "november", "december"};

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Matches an English month name (full, or its first three letters when `abbreviated`).
const char* read_month(const char* p, const char* end, int& month, bool abbreviated) {
    for (int m = 0; m < 12; ++m) {
        const std::size_t full = std::strlen(month_names[m]);
        const std::size_t want = abbreviated ? 3 : full;
        if (static_cast<std::size_t>(end - p) < want) continue;
        bool ok = true;
        for (std::size_t i = 0; i < want && ok; ++i) ok = lower(p[i]) == month_names[m][i];
        if (ok) {
            month = m + 1;
            return p + want;
        }
    }
    return nullptr;
}

// Reads 1..max_digits digits (at least min_digits).
const char* read_number(const char* p, const char* end, int min_digits, int max_digits,
                        std::int64_t& out) {
    std::int64_t v = 0;
    int n = 0;
    while (p < end && n < max_digits && is_digit(*p)) {
        v = v * 10 + (*p - '0');
        ++p;
        ++n;
    }
    if (n < min_digits) return nullptr;
    out = v;
    return p;
}

// Consecutive records mostly share their minute: the last `YYYY-MM-DDTHH:MM` prefix this
// thread validated, with its seconds since the epoch, spares re-reading and re-validating the
// date and the calendar arithmetic. Per thread because queries decode on their own threads.
struct rfc3339_minute_cache {
    char prefix[16] = {};
    std::int64_t seconds = 0;
    bool valid = false;
};
thread_local rfc3339_minute_cache minute_cache;

// Validates `YYYY-MM-DD?HH:MM` (16 bytes, ? one of T t space) into seconds since the epoch.
bool rfc3339_minute(const char* p, std::int64_t& out) {
    int y, mon, d, h, mi;
    if (!fixed_digits(p, 4, y) || p[4] != '-' || !fixed_digits(p + 5, 2, mon) || p[7] != '-' ||
        !fixed_digits(p + 8, 2, d)) {
        return false;
    }
    if (p[10] != 'T' && p[10] != 't' && p[10] != ' ') return false;
    if (!fixed_digits(p + 11, 2, h) || p[13] != ':' || !fixed_digits(p + 14, 2, mi)) return false;
    return civil_seconds(y, mon, d, h, mi, 0, out);
}

}  // namespace

bool parse_rfc3339(std::string_view text, timestamp_ns& out) {
    const char* p = text.data();
    const char* end = p + text.size();
    if (text.size() < 20) return false;
    rfc3339_minute_cache& cache = minute_cache;
    std::int64_t minute;
    if (cache.valid && std::memcmp(p, cache.prefix, sizeof cache.prefix) == 0) {
        minute = cache.seconds;
    } else {
        if (!rfc3339_minute(p, minute)) return false;
        std::memcpy(cache.prefix, p, sizeof cache.prefix);
        cache.seconds = minute;
        cache.valid = true;
    }
    int s;
    if (p[16] != ':' || !fixed_digits(p + 17, 2, s) || s > 60) return false;
    p += 19;
    std::int64_t nanos = 0;
    std::int64_t offset = 0;
    if (end - p == 5 && p[0] == '.' && is_digit(p[1]) && is_digit(p[2]) && is_digit(p[3]) &&
        p[4] == 'Z') {
        // The most common shape, `.123Z` (what weir itself writes), without the general loops.
        nanos = ((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0')) * ns_per_ms;
    } else {
        if (p < end && *p == '.') {
            const char* q = read_fraction(p + 1, end, nanos);
            if (q == p + 1) return false;  // a dot needs digits
            p = q;
        }
        p = read_zone(p, end, offset, false);
        if (p != end) return false;
    }
    if (s == 60) {  // a leap second: the last representable instant of second 59
        s = 59;
        nanos = ns_per_s - 1;
    }
    return combine(minute + s - offset, nanos, out);
}

void format_rfc3339_ms(timestamp_ns t, char* buf) {
    std::int64_t ms = t >= 0 ? t / ns_per_ms : -((-t + ns_per_ms - 1) / ns_per_ms);
    std::int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    const int millis = static_cast<int>(ms - secs * 1000);
    const std::int64_t days =
        secs >= 0 ? secs / seconds_per_day : -((-secs + seconds_per_day - 1) / seconds_per_day);
    const std::int64_t sod = secs - days * seconds_per_day;
    const auto [y, m, d] = civil_from_days(days);

    auto put = [](char* at, std::int64_t v, int width) {
        for (int i = width - 1; i >= 0; --i) {
            at[i] = static_cast<char>('0' + v % 10);
            v /= 10;
        }
    };
    put(buf, y, 4);
    buf[4] = '-';
    put(buf + 5, m, 2);
    buf[7] = '-';
    put(buf + 8, d, 2);
    buf[10] = 'T';
    put(buf + 11, sod / 3600, 2);
    buf[13] = ':';
    put(buf + 14, sod / 60 % 60, 2);
    buf[16] = ':';
    put(buf + 17, sod % 60, 2);
    buf[19] = '.';
    put(buf + 20, millis, 3);
    buf[23] = 'Z';
}

std::string format_rfc3339_ms(timestamp_ns t) {
    std::string s(24, '\0');
    format_rfc3339_ms(t, s.data());
    return s;
}

std::optional<time_zone> time_zone::find(std::string_view name, std::string* error) {
    time_zone z;
    if (name == "UTC" || name == "Z") return z;
    if (!name.empty() && (name[0] == '+' || name[0] == '-')) {
        std::int64_t offset = 0;
        const char* end = name.data() + name.size();
        if (read_zone(name.data(), end, offset, true) == end) {
            z.offset_ = offset;
            return z;
        }
        if (error) {
            *error = "expected an offset such as \"+02:00\", \"+0200\" or \"-05\", got \"" +
                     std::string(name) + "\"";
        }
        return std::nullopt;
    }
    try {
        // Thread-safe; the database (and each zone's rules) is read once, then shared.
        z.zone_ = date::locate_zone(std::string(name));
        return z;
    } catch (const std::exception& e) {
        if (error) {
            *error = "unknown time zone \"" + std::string(name) +
                     "\": expected an IANA name such as \"Europe/Berlin\" (from the system's "
                     "time zone database, /usr/share/zoneinfo), UTC, or an offset such as "
                     "\"+02:00\"";
        }
        return std::nullopt;
    }
}

std::int64_t time_zone::to_utc(std::int64_t local_seconds) const {
    if (zone_ == nullptr) return local_seconds - offset_;
    const date::local_seconds local{std::chrono::seconds(local_seconds)};
    // `first` is the rule in force before an ambiguous or skipped local time, and the only one
    // of a unique one: its offset gives the first occurrence, or a skipped time moved forward.
    const date::local_info info = zone_->get_info(local);
    return local_seconds - info.first.offset.count();
}

std::optional<time_parser> time_parser::compile(std::string_view format, error* err) {
    auto fail = [&](std::size_t offset, std::string message) -> std::optional<time_parser> {
        if (err) *err = {offset, std::move(message)};
        return std::nullopt;
    };
    time_parser p;
    if (format == "rfc3339") return p;
    if (format == "epoch_s")
        p.kind_ = kind::epoch_s;
    else if (format == "epoch_ms")
        p.kind_ = kind::epoch_ms;
    else if (format == "epoch_us")
        p.kind_ = kind::epoch_us;
    else if (format == "epoch_ns")
        p.kind_ = kind::epoch_ns;
    if (p.kind_ != kind::rfc3339) return p;

    if (format.find('%') == std::string_view::npos) {
        return fail(0,
                    "expected rfc3339, epoch_s, epoch_ms, epoch_us, epoch_ns or a strftime "
                    "pattern such as \"%Y-%m-%d %H:%M:%S\"");
    }
    p.kind_ = kind::pattern;
    constexpr std::string_view known = "YymdeHIpMSfzbBjs%";
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') {
            p.steps_.push_back({0, format[i]});
            continue;
        }
        if (i + 1 == format.size()) return fail(i, "a lone \"%\" at the end of the pattern");
        const char c = format[++i];
        if (c == 'T') {
            for (char x : std::string_view("H:M:S"))
                p.steps_.push_back(x == ':' ? step{0, ':'} : step{x, 0});
        } else if (c == 'F') {
            for (char x : std::string_view("Y-m-d"))
                p.steps_.push_back(x == '-' ? step{0, '-'} : step{x, 0});
        } else if (c == '%') {
            p.steps_.push_back({0, '%'});
        } else if (known.find(c) != std::string_view::npos) {
            p.steps_.push_back({c, 0});
        } else {
            return fail(i - 1, std::string("unsupported conversion \"%") + c +
                                   "\"; supported: %Y %y %m %d %e %H %I %p %M %S %f %z %b %B %j "
                                   "%s %T %F %%");
        }
    }
    p.local_ = std::none_of(p.steps_.begin(), p.steps_.end(), [](const step& st) {
        return st.conversion == 'z' || st.conversion == 's';
    });
    return p;
}

namespace {

// The epoch format a number of this size most likely is (times between 1973 and 5138).
const char* epoch_unit_of(double v) {
    const double a = std::fabs(v);
    if (a < 1e11) return "epoch_s";
    if (a < 1e14) return "epoch_ms";
    if (a < 1e17) return "epoch_us";
    return "epoch_ns";
}

bool is_number_text(std::string_view text) {
    double v;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

// A pattern that reads `text`, an RFC 3339 date-time without its zone: the same separators,
// with %f when it has a fraction. Empty when `text` is not one.
std::string local_time_pattern(std::string_view text) {
    if (text.size() < 19 || text.size() > 40) return "";
    char buf[48];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = 'Z';
    timestamp_ns t;
    if (!parse_rfc3339({buf, text.size() + 1}, t)) return "";
    std::string pattern = "%Y-%m-%d";
    pattern += text[10] == ' ' ? ' ' : 'T';
    pattern += "%H:%M:%S";
    if (text.size() > 19) pattern += ".%f";
    return pattern;
}

std::string quoted_text(std::string_view text) {
    constexpr std::size_t k_shown = 64;
    std::string out = "\"";
    for (const char c : text.substr(0, k_shown)) {
        if (c == '"' || c == '\\') out += '\\';
        out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
    }
    if (text.size() > k_shown) out += "…";
    out += '"';
    return out;
}

}  // namespace

std::string time_parser::explain(const field_value& v) const {
    timestamp_ns t;
    if (parse(v, t)) return "";
    const bool epoch = kind_ != kind::rfc3339 && kind_ != kind::pattern;
    switch (v.kind) {
        case value_kind::absent:
            return "the field is absent";
        case value_kind::null:
            return "the field is null";
        case value_kind::number: {
            if (epoch) return "the number is out of range";
            std::string unit = epoch_unit_of(v.number);
            return "a number, not a date-time text: try format: " + unit;
        }
        case value_kind::string:
            break;
        default:
            return "not a string or number";
    }
    const std::string_view text = v.string();
    const std::string shown = quoted_text(text);
    if (epoch) {
        if (parse_rfc3339(text, t)) return shown + " is an RFC 3339 time: try format: rfc3339";
        if (is_number_text(text)) return shown + " is out of range";
        return shown + " is not a number";
    }
    if (const std::string pattern = local_time_pattern(text); !pattern.empty()) {
        if (kind_ == kind::rfc3339) {
            return shown + ": no time zone: try format: \"" + pattern + "\" and timezone:";
        }
    }
    if (is_number_text(text)) {
        double d = 0;
        std::from_chars(text.data(), text.data() + text.size(), d);
        return shown + " is a number: try format: " + epoch_unit_of(d);
    }
    if (kind_ == kind::rfc3339) {
        return shown + " is not an RFC 3339 date-time such as \"2026-11-20T10:00:00Z\"";
    }
    if (parse_rfc3339(text, t)) return shown + " is an RFC 3339 time: try format: rfc3339";
    return shown + " does not match the format's pattern";
}

bool time_parser::parse(const field_value& v, timestamp_ns& out) const {
    switch (v.kind) {
        case value_kind::string:
            return parse_text(v.string(), out);
        case value_kind::number:
            return kind_ != kind::rfc3339 && kind_ != kind::pattern && parse_epoch(v.number, out);
        default:
            return false;
    }
}

bool time_parser::parse_text(std::string_view text, timestamp_ns& out) const {
    switch (kind_) {
        case kind::rfc3339:
            return parse_rfc3339(text, out);
        case kind::pattern:
            return parse_pattern(text, out);
        default:
            return parse_epoch_text(text, out);
    }
}

bool time_parser::parse_epoch(double value, timestamp_ns& out) const {
    // Scale the whole and fractional parts apart: an integral epoch_ms value stays exact,
    // where value * 1e6 as a double would lose the last digits of the nanoseconds.
    if (!std::isfinite(value) || std::fabs(value) >= 9.2e18) return false;
    std::int64_t unit = 1;
    switch (kind_) {
        case kind::epoch_s:
            unit = ns_per_s;
            break;
        case kind::epoch_ms:
            unit = ns_per_ms;
            break;
        case kind::epoch_us:
            unit = ns_per_us;
            break;
        default:
            break;
    }
    const double whole = std::floor(value);
    const auto fraction_ns = static_cast<std::int64_t>(std::floor((value - whole) * unit));
    std::int64_t ns;
    if (__builtin_mul_overflow(static_cast<std::int64_t>(whole), unit, &ns) ||
        __builtin_add_overflow(ns, fraction_ns, &ns)) {
        return false;
    }
    out = ns;
    return true;
}

bool time_parser::parse_epoch_text(std::string_view text, timestamp_ns& out) const {
    // Exact integer arithmetic for plain decimals (a double cannot hold epoch_ns exactly);
    // anything with an exponent goes through a double.
    const char* p = text.data();
    const char* end = p + text.size();
    if (p == end) return false;
    if (text.find_first_of("eE") != std::string_view::npos) {
        double v;
        auto [ptr, ec] = std::from_chars(p, end, v);
        return ec == std::errc() && ptr == end && parse_epoch(v, out);
    }
    const bool negative = *p == '-';
    if (negative || *p == '+') ++p;
    std::int64_t whole = 0;
    const char* digits_start = p;
    while (p < end && is_digit(*p)) {
        if (__builtin_mul_overflow(whole, 10, &whole) ||
            __builtin_add_overflow(whole, *p - '0', &whole)) {
            return false;
        }
        ++p;
    }
    std::int64_t frac_ns = 0;  // the fraction of one unit, in nanoseconds of a second
    if (p < end && *p == '.') {
        const char* q = read_fraction(p + 1, end, frac_ns);
        if (q == p + 1 && p == digits_start) return false;
        p = q;
    }
    if (p != end || p == digits_start) return false;
    std::int64_t unit = 1;
    switch (kind_) {
        case kind::epoch_s:
            unit = ns_per_s;
            break;
        case kind::epoch_ms:
            unit = ns_per_ms;
            break;
        case kind::epoch_us:
            unit = ns_per_us;
            break;
        default:
            unit = 1;
            break;
    }
    std::int64_t ns;
    if (__builtin_mul_overflow(whole, unit, &ns)) return false;
    // frac_ns is a fraction in units of 1e-9; scale it to this unit's nanoseconds.
    ns += frac_ns * unit / ns_per_s;  // < 1e18: no overflow
    out = negative ? -ns : ns;
    return true;
}

bool time_parser::parse_pattern(std::string_view text, timestamp_ns& out) const {
    const char* p = text.data();
    const char* end = p + text.size();
    std::int64_t y = 1970, mon = 1, d = 1, h = 0, mi = 0, s = 0, nanos = 0, offset = 0;
    std::int64_t day_of_year = -1, epoch = 0;
    bool has_epoch = false, pm = false, has_ampm = false, negative_year = false;
    for (const step& st : steps_) {
        if (!st.conversion) {
            if (p == end || *p != st.literal) return false;
            ++p;
            continue;
        }
        switch (st.conversion) {
            case 'Y':
                if (p < end && *p == '-') {
                    negative_year = true;
                    ++p;
                }
                p = read_number(p, end, 4, 4, y);
                if (p && negative_year) y = -y;
                break;
            case 'y':
                p = read_number(p, end, 2, 2, y);
                if (p) y += y < 69 ? 2000 : 1900;  // POSIX: 69-99 are 1969-1999
                break;
            case 'm':
                p = read_number(p, end, 1, 2, mon);
                break;
            case 'd':
                p = read_number(p, end, 1, 2, d);
                break;
            case 'e':
                if (p < end && *p == ' ') ++p;
                p = read_number(p, end, 1, 2, d);
                break;
            case 'H':
                p = read_number(p, end, 1, 2, h);
                break;
            case 'I':
                p = read_number(p, end, 1, 2, h);
                break;
            case 'M':
                p = read_number(p, end, 1, 2, mi);
                break;
            case 'S':
                p = read_number(p, end, 1, 2, s);
                break;
            case 'f': {
                const char* q = read_fraction(p, end, nanos);
                p = q == p ? nullptr : q;
                break;
            }
            case 'z':
                p = read_zone(p, end, offset, true);
                break;
            case 'b':
            case 'B': {
                int m = 0;
                p = read_month(p, end, m, st.conversion == 'b');
                mon = m;
                break;
            }
            case 'j':
                p = read_number(p, end, 3, 3, day_of_year);
                break;
            case 'p':
                if (end - p >= 2 && (lower(p[1]) == 'm') &&
                    (lower(p[0]) == 'a' || lower(p[0]) == 'p')) {
                    pm = lower(p[0]) == 'p';
                    has_ampm = true;
                    p += 2;
                } else {
                    p = nullptr;
                }
                break;
            case 's': {
                const bool neg = p < end && *p == '-';
                p = read_number(neg ? p + 1 : p, end, 1, 18, epoch);
                if (neg) epoch = -epoch;
                has_epoch = true;
                break;
            }
            default:
                return false;
        }
        if (!p) return false;
    }
    if (p != end) return false;
    if (has_epoch) return combine(epoch - offset, nanos, out);
    if (has_ampm) {
        if (h < 1 || h > 12) return false;
        h = h % 12 + (pm ? 12 : 0);
    }
    std::int64_t seconds;
    if (day_of_year >= 0) {
        if (day_of_year < 1 || day_of_year > (is_leap(y) ? 366 : 365)) return false;
        if (!civil_seconds(y, 1, 1, static_cast<int>(h), static_cast<int>(mi), static_cast<int>(s),
                           seconds)) {
            return false;
        }
        seconds += (day_of_year - 1) * seconds_per_day;
    } else if (!civil_seconds(y, static_cast<int>(mon), static_cast<int>(d), static_cast<int>(h),
                              static_cast<int>(mi), static_cast<int>(s), seconds)) {
        return false;
    }
    if (s == 60) return false;  // patterns name no leap seconds
    if (local_ && !zone_.is_utc()) seconds = zone_.to_utc(seconds);
    return combine(seconds - offset, nanos, out);
}

}  // namespace weir::time
