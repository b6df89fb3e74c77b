// Event time: parsing a record's time field (RFC 3339, epoch numbers, strftime-style patterns)
// into nanoseconds since the Unix epoch, and formatting results' RFC 3339 UTC times.
// Parsing is hot-path code: no allocation, no exceptions, no locale. The time zone database is
// read when a zone is looked up (set-up code), never while parsing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/record/field_value.h"

namespace date {
class time_zone;
}

namespace weir::time {

// Nanoseconds since 1970-01-01T00:00:00Z; covers the years 1678 to 2261.
using timestamp_ns = std::int64_t;

inline constexpr timestamp_ns ns_per_us = 1'000;
inline constexpr timestamp_ns ns_per_ms = 1'000'000;
inline constexpr timestamp_ns ns_per_s = 1'000'000'000;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// The proleptic Gregorian date of a day count since 1970-01-01 (the inverse of
// days_from_civil; Howard Hinnant's civil_from_days).
struct civil_date {
    std::int64_t year;
    unsigned month;  // 1..12
    unsigned day;    // 1..31
};
constexpr civil_date civil_from_days(std::int64_t days) {
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

// RFC 3339 / ISO 8601 date-time: `2026-11-20T10:00:00Z`, `…T10:00:00.123456789+02:00`,
// `…t…z`, a space instead of `T`. A time zone is required (RFC 3339 has no local times);
// fractions beyond nanoseconds are truncated; leap second 60 is read as 59.999999999.
bool parse_rfc3339(std::string_view text, timestamp_ns& out);

// "2026-11-20T10:00:00.000Z": UTC with milliseconds (truncated toward minus infinity).
// Writes exactly 24 characters to `buf`.
void format_rfc3339_ms(timestamp_ns t, char* buf);
std::string format_rfc3339_ms(timestamp_ns t);

// The zone of local times (`time.timezone`: patterns without %z): UTC, a fixed offset, or a
// zone of the system's IANA time zone database (/usr/share/zoneinfo, Debian's tzdata), with its
// daylight-saving rules. Cheap to copy; a database zone lives as long as the process.
class time_zone {
  public:
    // UTC.
    time_zone() = default;

    // "UTC", "Z", a fixed offset "+02:00", "+0200", "-05" (the sign required), or an IANA name
    // such as "Europe/Berlin". Set-up code: reads the database on the first lookup of a zone.
    // nullopt with `error` set when the name is neither.
    static std::optional<time_zone> find(std::string_view name, std::string* error = nullptr);

    // Seconds since the epoch of a local date-time given as seconds since 1970-01-01T00:00:00
    // local time. A local time that occurs twice (clocks turned back) is its first occurrence; one
    // that does not occur (clocks turned forward) is read with the offset before the change, so
    // it lands as far after the change as it is after the last valid local time.
    std::int64_t to_utc(std::int64_t local_seconds) const;

    bool is_utc() const { return zone_ == nullptr && offset_ == 0; }

  private:
    const date::time_zone* zone_ = nullptr;  // null: the fixed offset
    std::int64_t offset_ = 0;                // seconds east of UTC
};

// How a node reads its time field (`time.format`), compiled once at load.
class time_parser {
  public:
    enum class kind { rfc3339, epoch_s, epoch_ms, epoch_us, epoch_ns, pattern };

    struct error {
        std::size_t offset = 0;  // inside the format string
        std::string message;
    };

    // `format` is rfc3339, epoch_s|ms|us|ns, or a strftime-style pattern of these
    // conversions: %Y %y %m %d %e %H %I %p %M %S %f (fraction, 1-9 digits) %z (Z, +hh,
    // +hhmm, +hh:mm) %b %B (English month names) %j (day of year) %s (epoch seconds) %T %F
    // %%. Literal characters must match exactly. A pattern without %z reads UTC.
    static std::optional<time_parser> compile(std::string_view format, error* err = nullptr);

    // The time of a field value: epoch formats take numbers (integer or fractional) and
    // numeric strings; rfc3339 and patterns take strings. False when the value is absent,
    // null, of the wrong type, malformed or out of range — the record is then invalid.
    bool parse(const field_value& v, timestamp_ns& out) const;
    bool parse_text(std::string_view text, timestamp_ns& out) const;

    // Why parse() refuses `v`, for an operator who has to fix the format: what the value is not,
    // and a hint where one is likely, e.g. `no time zone: try format: "%Y-%m-%d %H:%M:%S" and
    // timezone:`. Not for the hot path (it may allocate); "" when parse() would accept `v`.
    std::string explain(const field_value& v) const;

    // Local times of a pattern without %z (and without %s) are read in `zone` (default UTC).
    void set_zone(const time_zone& zone) { zone_ = zone; }
    // Whether the zone applies: a pattern that reads neither %z nor %s.
    bool reads_local_time() const { return local_; }

    kind type() const { return kind_; }

  private:
    struct step {
        char conversion = 0;  // 0: a literal character
        char literal = 0;
    };

    bool parse_pattern(std::string_view text, timestamp_ns& out) const;
    bool parse_epoch(double value, timestamp_ns& out) const;
    bool parse_epoch_text(std::string_view text, timestamp_ns& out) const;

    kind kind_ = kind::rfc3339;
    std::vector<step> steps_;
    bool local_ = false;  // a pattern without %z and %s
    time_zone zone_;
};

}  // namespace weir::time
