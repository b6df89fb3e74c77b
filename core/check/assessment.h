// Assessments: the `must_be` / `should_be` language that judges one measure value
// ("> 50", "[15, 35]", "< 5%", "< 60s", "in {ok, warn}", "== true").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/expr/syntax.h"
#include "core/measure/measure_value.h"

namespace weir::check {

struct history_spec;  // core/check/history.h

// The unit an assessment's numbers were written in, so that people see values the same way
// ("26.7 %" beside "< 20%", "1m 12s" beside "< 60s"). Judging ignores it: numbers are
// resolved at parse time (% divided by 100, durations in seconds).
enum class value_unit : std::uint8_t {
    none,
    percent,   // a number written with %
    duration,  // a number written with ms, s, m, h or d (the value is in seconds)
};

// Grammar (whitespace anywhere between tokens):
//   assessment := op value | range | ["not"] "in" "{" element ("," element)* "}" | history
//   history    := a check against the measure's own history (core/check/history.h)
//   op         := ">" | ">=" | "<" | "<=" | "==" | "!="
//   value      := number | "true" | "false" | quoted string     (non-numbers only with == / !=)
//   range      := ("[" | "(") bound "," bound ("]" | ")")        start <= end, not empty
//   bound      := number | "inf" | "-inf"
//   element    := number | quoted string | "true" | "false" | bare word (a string: ok, warn-3)
//   number     := [+-] (digits [. digits] | . digits) [e [+-] digits] [suffix]  |  [+-] "inf"
//   suffix     := "%" (divides by 100) | "ms" | "s" | "m" | "h" | "d"
// Durations become seconds as a double ("250ms" is 0.25, "5m" is 300): measures of time
// (freshness(), max_delay()) report seconds, and rate() reports records per second. Strings are
// "double" or 'single' quoted with \" \' \\ \n \t escapes.
class assessment {
  public:
    enum class form : std::uint8_t {
        greater,
        greater_equal,
        less,
        less_equal,
        equal,
        not_equal,
        range,
        in_set,
        not_in_set,
    };

    // Whether `v` satisfies the assessment. Contract with the caller: a null value means
    // "no data" and must be reported as outcome `no_data` *before* asking; here it never holds.
    // NaN never holds. A value of a kind the assessment does not compare (a string against
    // "> 5") never holds; `accepts()` lets validation reject such pairs up front.
    // Hot path: no allocation.
    bool holds(const measure_value& v) const;

    // Whether a measure producing values of kind `k` can be judged by this assessment.
    bool accepts(measure_kind k) const;

    // Canonical spelling: one space after operators, numbers in shortest form with units and
    // % resolved ("< 5%" is "< 0.05", "< 60s" is "< 60"), strings double-quoted, set elements
    // in source order: "> 50", "[15, 35)", "(-inf, 0]", "not in {\"a\", 1, true}".
    std::string to_string() const;

    form kind() const { return form_; }
    // The unit of the numbers as written: the one suffix kind they carry ("[0, 5%]" is
    // percent); none when none has a suffix or when they mix kinds ("[1%, 5s]").
    value_unit unit() const { return unit_; }
    // Comparisons: the value compared with.
    const measure_value& operand() const { return operand_; }
    // Ranges.
    double low() const { return low_; }
    double high() const { return high_; }
    bool low_closed() const { return low_closed_; }
    bool high_closed() const { return high_closed_; }
    // Sets.
    const std::vector<measure_value>& elements() const { return elements_; }
    // Checks against history ("change vs 1w in [-30%, +30%]", "zscore(last 24) < 3", see
    // core/check/history.h): the history part, or null for a plain assessment. The comparison
    // or range above then applies to the tested quantity (the change, or z), not to the
    // measure's value, and holds() must not be asked: the engine judges through a
    // history_store.
    const history_spec* history() const { return history_.get(); }

  private:
    friend class assessment_parser;
    // The comparison, range or set alone (for a history assessment: its test).
    std::string plain_text() const;

    form form_ = form::equal;
    value_unit unit_ = value_unit::none;
    measure_value operand_;
    double low_ = 0;
    double high_ = 0;
    bool low_closed_ = true;
    bool high_closed_ = true;
    std::vector<measure_value> elements_;
    std::shared_ptr<const history_spec> history_;
};

// Never throws on bad input: a malformed assessment yields one error positioned at the
// offending character.
parse_result<assessment> parse_assessment(std::string_view text);

}  // namespace weir::check
