// Values and assessments written for people (the console, alert summaries, the status page):
// in the unit the check's assessment was written in, with a few significant digits.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/check/assessment.h"
#include "core/measure/measure_value.h"
#include "core/result/check_result.h"

namespace weir {

using check::value_unit;

// Significant digits of a formatted value (bounds of assessments are always exact).
inline constexpr int k_value_digits = 3;

// A value for people:
// - no data (null): `no data`; booleans `true`/`false`; strings as they are (no quotes);
// - numbers with `digits` significant digits, trailing zeros dropped, integers in full
//   (`0.0099`, `12.3`, `1235`, `12345`; no digit grouping, so a value can be pasted into an
//   assessment), in exponent form below 1e-4 and from 1e15 (`1.23e-07`); `inf`, `-inf`, `nan`;
// - percent: the fraction times 100 and ` %` (`26.7 %`, `100 %`);
// - duration (seconds): below a second `250 ms`, below a minute `12.3 s`, else the two largest
//   units of d, h, m, s, rounded to the smaller one (`1m 12s`, `2h 5m`, `3d`).
std::string format_value(const measure_value& v, value_unit unit = value_unit::none,
                         int digits = k_value_digits);

// The value judged by `assessments` (null entries skipped), in their unit (the first with one),
// with more digits where rounding would make it look equal to a bound it is not equal to
// (0.04996 beside "< 5%" is `4.996 %`, not `5 %`).
std::string format_value(const measure_value& v,
                         const std::vector<const check::assessment*>& assessments);

// An assessment for people, bounds exact and in its unit: `< 20 %`, `< 1m`, `[15, 35]`,
// `[250 ms, 1m 30s]`, `in {ok, warn}`, `== true`.
std::string format_assessment(const check::assessment& a);

// The group as `device_id=d-17, region=eu`; "" for ungrouped results.
std::string format_group(const group_key& group);
// Appends the group as `field=value` pairs joined by `separator` (the metrics' and the status
// page's group label: "device_id=d-17,region=eu").
void append_group(const group_key& group, std::string_view separator, std::string& out);

// Terminal columns of UTF-8 text: its code points.
std::size_t text_columns(std::string_view s);
// `s` cut to `width` columns, the last one "…" when anything was cut; never splits a UTF-8
// sequence.
std::string elide_text(std::string_view s, std::size_t width);

// A result's value, must_be and should_be for people: the assessments are parsed from the text
// the result carries (as written in the pipeline); a text that does not parse is shown as it is.
struct result_text {
    value_unit unit = value_unit::none;
    std::string value;
    std::string must_be;    // "" when the check has none
    std::string should_be;  // "" when the check has none
};
result_text format_result(const check_result& r);

// The evidence of a check against history for people, values in `unit` (the value's):
// `expected 120 (100 to 140), z 3.4 over 24 values, hour_of_day=10`,
// `expected 80 (56 to 104), change +35 % vs 2026-11-27T10:00Z`, `warming up: 3 of 12 values`.
// `brief` (the console): only the values that would have passed and z,
// `expected 100 to 140, z 9`.
std::string format_expected(const expected_evidence& e, value_unit unit, bool brief = false);

// reconcile()'s comparison for people: "12 matched; 3 orders keys missing in payments (2, 7,
// 9); 1 payments key missing in orders (4)", the samples as they are (at most 10 keys each),
// and the keys not compared when there are any. `brief` (one console line): only what is
// missing, at most 3 keys a side: "payments lack 2, 4, 5, …; orders lack 99".
std::string format_reconciliation(const reconciliation_summary& s, bool brief = false);

}  // namespace weir
