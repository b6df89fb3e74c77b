// Parser, evaluator and canonical printer of assessments (`must_be` / `should_be`).
#include "core/check/assessment.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "core/check/history.h"
#include "core/diag/assert.h"

namespace weir::check {

namespace {

constexpr double k_inf = std::numeric_limits<double>::infinity();

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_word_char(char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == ':' || c == '/';
}
bool is_operator_char(char c) {
    return c == '<' || c == '>' || c == '=' || c == '!';
}

const char* op_text(assessment::form f) {
    switch (f) {
        case assessment::form::greater:
            return ">";
        case assessment::form::greater_equal:
            return ">=";
        case assessment::form::less:
            return "<";
        case assessment::form::less_equal:
            return "<=";
        case assessment::form::equal:
            return "==";
        case assessment::form::not_equal:
            return "!=";
        default:
            return "";
    }
}

// A short quotation of the text at `pos` for messages: the next word, or the next character.
std::string excerpt(std::string_view text, std::size_t pos) {
    std::size_t end = pos;
    while (end < text.size() && is_word_char(text[end]) && end - pos < 24) ++end;
    if (end == pos) end = pos + 1;
    return "\"" + std::string(text.substr(pos, end - pos)) + "\"";
}

}  // namespace

class assessment_parser {
  public:
    explicit assessment_parser(std::string_view text) : text_(text) {}

    parse_result<assessment> run() {
        assessment a;
        skip_space();
        if (at_end()) {
            return fail(pos_,
                        "empty assessment; expected a comparison such as \"> 50\", a range "
                        "such as \"[15, 35]\" or a set such as \"in {a, b}\"");
        }
        const char c = peek();
        if (is_operator_char(c)) {
            if (!comparison(a)) return std::move(*error_);
        } else if (c == '[' || c == '(') {
            if (!range(a)) return std::move(*error_);
        } else if (is_alpha(c)) {
            if (!word_form(a)) return std::move(*error_);
        } else if (is_digit(c) || c == '-' || c == '+' || c == '.' || c == '"' || c == '\'') {
            return fail(pos_, "missing comparison operator before " + excerpt(text_, pos_) +
                                  "; write e.g. \"> 50\", \"== 50\" or \"[0, 50]\"");
        } else if (c == ']' || c == ')' || c == '{' || c == '}') {
            return fail(pos_, "unexpected \"" + std::string(1, c) +
                                  "\"; ranges look like \"[a, b]\" and sets like \"in {a, b}\"");
        } else {
            return fail(pos_, "unexpected " + excerpt(text_, pos_) +
                                  "; expected a comparison (> >= < <= == !=), a range "
                                  "(\"[a, b]\") or a set (\"in {a, b}\")");
        }
        skip_space();
        if (!at_end()) {
            return fail(pos_, "unexpected " + excerpt(text_, pos_) +
                                  " after the assessment; combine bounds with a range such as "
                                  "\"[a, b]\"");
        }
        a.unit_ = mixed_units_ ? value_unit::none : unit_;
        return a;
    }

  private:
    void saw_unit(value_unit u) {
        if (unit_ != value_unit::none && unit_ != u) mixed_units_ = true;
        unit_ = u;
    }

    bool at_end() const { return pos_ >= text_.size(); }
    char peek(std::size_t ahead = 0) const {
        return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
    }
    void skip_space() {
        while (!at_end() && is_space(text_[pos_])) ++pos_;
    }
    syntax_error fail(std::size_t offset, std::string message) {
        error_ = syntax_error{offset, std::move(message)};
        return *error_;
    }
    bool failed(std::size_t offset, std::string message) {
        fail(offset, std::move(message));
        return false;
    }

    bool comparison(assessment& a) {
        const std::size_t start = pos_;
        while (!at_end() && is_operator_char(peek())) ++pos_;
        const std::string_view op = text_.substr(start, pos_ - start);
        using form = assessment::form;
        if (op == ">")
            a.form_ = form::greater;
        else if (op == ">=")
            a.form_ = form::greater_equal;
        else if (op == "<")
            a.form_ = form::less;
        else if (op == "<=")
            a.form_ = form::less_equal;
        else if (op == "==")
            a.form_ = form::equal;
        else if (op == "!=")
            a.form_ = form::not_equal;
        else {
            std::string hint;
            if (op == "=>")
                hint = ">=";
            else if (op == "=<")
                hint = "<=";
            else if (op == "=" || op == "===")
                hint = "==";
            else if (op == "<>" || op == "!" || op == "!==" || op == "=!")
                hint = "!=";
            std::string msg = "unknown operator \"" + std::string(op) + "\"";
            if (!hint.empty()) msg += "; did you mean \"" + hint + "\"?";
            return failed(start, std::move(msg));
        }
        const bool equality = a.form_ == form::equal || a.form_ == form::not_equal;
        const std::string expected =
            equality ? "a number, true, false or a quoted string" : "a number";
        skip_space();
        if (at_end()) {
            return failed(pos_, "expected " + expected + " after \"" + std::string(op) + "\"");
        }
        const std::size_t value_pos = pos_;
        const char c = peek();
        if (c == '"' || c == '\'') {
            std::string s;
            if (!quoted(s)) return false;
            if (!equality) {
                return failed(value_pos, "\"" + std::string(op) +
                                             "\" cannot compare with a string; only == and != "
                                             "can");
            }
            a.operand_ = measure_value::make_string(std::move(s));
            return true;
        }
        if (is_alpha(c)) {
            const std::string_view w = word();
            if (w == "true" || w == "false") {
                if (!equality) {
                    return failed(value_pos, "\"" + std::string(op) +
                                                 "\" cannot compare with a boolean; only == and "
                                                 "!= can");
                }
                a.operand_ = measure_value::make_boolean(w == "true");
                return true;
            }
            if (w != "inf") {
                return failed(value_pos, "expected " + expected + " after \"" + std::string(op) +
                                             "\", got \"" + std::string(w) + "\"" +
                                             (equality ? "; quote strings" : ""));
            }
            pos_ = value_pos;  // "inf": read it as a number below
        }
        const auto n = number();
        if (!n) {
            if (error_) return false;
            return failed(value_pos, "expected " + expected + " after \"" + std::string(op) +
                                         "\", got " + excerpt(text_, value_pos));
        }
        a.operand_ = measure_value::make_number(*n);
        return true;
    }

    bool range(assessment& a) {
        const std::size_t open = pos_;
        a.form_ = assessment::form::range;
        a.low_closed_ = peek() == '[';
        ++pos_;
        skip_space();
        const std::size_t low_pos = pos_;
        const auto low = number();
        if (!low) {
            if (error_) return false;
            return failed(pos_, at_end() ? "unterminated range: expected the range start (a "
                                           "number)"
                                         : "expected the range start (a number), got " +
                                               excerpt(text_, pos_));
        }
        skip_space();
        if (peek() != ',') {
            if (at_end()) return failed(pos_, "unterminated range: expected \",\" and the end");
            return failed(pos_, "expected \",\" between the range start and end, got " +
                                    excerpt(text_, pos_));
        }
        ++pos_;
        skip_space();
        const auto high = number();
        if (!high) {
            if (error_) return false;
            return failed(
                pos_, at_end() ? "unterminated range: expected the range end (a "
                                 "number)"
                               : "expected the range end (a number), got " + excerpt(text_, pos_));
        }
        skip_space();
        if (peek() != ']' && peek() != ')') {
            if (at_end()) return failed(pos_, "unterminated range: expected \"]\" or \")\"");
            return failed(
                pos_, "expected \"]\" or \")\" to close the range, got " + excerpt(text_, pos_));
        }
        a.high_closed_ = peek() == ']';
        ++pos_;
        a.low_ = *low;
        a.high_ = *high;
        if (a.low_ > a.high_) {
            return failed(low_pos, "range start " + format_number(a.low_) +
                                       " is greater than end " + format_number(a.high_));
        }
        if (a.low_ == a.high_ && !(a.low_closed_ && a.high_closed_)) {
            return failed(open, "range " + a.to_string() + " is empty; write \"== " +
                                    format_number(a.low_) + "\" to require one value");
        }
        return true;
    }

    bool word_form(assessment& a) {
        const std::size_t start = pos_;
        const std::string_view w = word();
        if (w == "not") {
            skip_space();
            const std::size_t in_pos = pos_;
            if (word() != "in") return failed(in_pos, "expected \"in\" after \"not\"");
            a.form_ = assessment::form::not_in_set;
        } else if (w == "in") {
            a.form_ = assessment::form::in_set;
        } else if (w == "change" || w == "relative" || w == "zscore") {
            return history(a, w);
        } else if (w == "true" || w == "false") {
            return failed(
                start, "missing comparison operator; did you mean \"== " + std::string(w) + "\"?");
        } else {
            return failed(start, "unknown assessment \"" + std::string(w) +
                                     "\"; expected a comparison such as \"> 50\", a range such "
                                     "as \"[15, 35]\", a set such as \"in {a, b}\" or a check "
                                     "against history such as \"zscore(last 24) < 3\"");
        }
        return set(a);
    }

    bool set(assessment& a) {
        skip_space();
        if (peek() != '{') {
            if (peek() == '[' || peek() == '(') {
                return failed(pos_, "sets are written with braces: \"in {a, b}\"");
            }
            return failed(pos_, "expected \"{\" to start the set");
        }
        const std::size_t open = pos_;
        ++pos_;
        skip_space();
        if (peek() == '}') return failed(open, "empty set; list at least one element");
        while (true) {
            skip_space();
            if (at_end()) return failed(pos_, "unterminated set: expected an element and \"}\"");
            measure_value v;
            if (!element(v)) return false;
            a.elements_.push_back(std::move(v));
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == '}') {
                ++pos_;
                return true;
            }
            if (at_end()) return failed(pos_, "unterminated set: expected \",\" or \"}\"");
            return failed(pos_, "expected \",\" or \"}\" in the set, got " + excerpt(text_, pos_));
        }
    }

    bool element(measure_value& v) {
        const char c = peek();
        if (c == '"' || c == '\'') {
            std::string s;
            if (!quoted(s)) return false;
            v = measure_value::make_string(std::move(s));
            return true;
        }
        if (is_alpha(c)) {
            const std::size_t start = pos_;
            while (!at_end() && is_word_char(peek())) ++pos_;
            const std::string_view w = text_.substr(start, pos_ - start);
            if (w == "true" || w == "false")
                v = measure_value::make_boolean(w == "true");
            else if (w == "inf")
                v = measure_value::make_number(k_inf);
            else
                v = measure_value::make_string(std::string(w));
            return true;
        }
        const std::size_t start = pos_;
        const auto n = number();
        if (!n) {
            if (error_) return false;
            return failed(start,
                          "expected a set element (a number, a quoted string, true, "
                          "false or a word), got " +
                              excerpt(text_, start));
        }
        v = measure_value::make_number(*n);
        return true;
    }

    // ---- Checks against history (core/check/history.h) ----

    bool history(assessment& a, std::string_view first) {
        history_spec spec;
        if (first == "zscore") {
            spec.subject = history_subject::zscore;
            if (!zscore(spec)) return false;
        } else {
            if (first == "relative") {
                skip_space();
                const std::size_t change_pos = pos_;
                if (word() != "change") {
                    return failed(change_pos, "expected \"change\" after \"relative\"");
                }
                spec.subject = history_subject::relative_change;
            }
            if (!reference(spec)) return false;
        }
        if (!history_test(a, spec)) return false;
        skip_space();
        const std::size_t option_pos = pos_;
        if (is_alpha(peek())) {
            const std::string_view w = word();
            if (w != "min_change") {
                return failed(option_pos, "unexpected \"" + std::string(w) +
                                              "\" after the test; only \"min_change\" may "
                                              "follow it (e.g. \"min_change 10\")");
            }
            skip_space();
            const std::size_t value_pos = pos_;
            const value_unit saved_unit = unit_;
            const bool saved_mixed = mixed_units_;
            const auto v = number();
            unit_ = saved_unit;  // min_change is in the measure's unit, not the test's
            mixed_units_ = saved_mixed;
            if (!v) {
                if (error_) return false;
                return failed(value_pos, "expected a number after \"min_change\"");
            }
            if (!(*v >= 0) || std::isinf(*v)) {
                return failed(value_pos, "min_change must be a finite number >= 0");
            }
            spec.min_change = *v;
        }
        a.history_ = std::make_shared<const history_spec>(spec);
        return true;
    }

    // ["vs" ("previous" | duration)] after "change".
    bool reference(history_spec& spec) {
        skip_space();
        const std::size_t vs_pos = pos_;
        if (!is_alpha(peek())) return true;
        const std::string_view w = word();
        if (w != "vs") {
            pos_ = vs_pos;  // not a reference: the test, or an error there
            return true;
        }
        skip_space();
        const std::size_t ref_pos = pos_;
        if (is_alpha(peek())) {
            const std::string_view r = word();
            if (r == "previous") return true;
            if (r == "in") {
                return failed(ref_pos,
                              "expected \"previous\" or a duration such as 1d or 1w "
                              "after \"vs\"");
            }
            return failed(ref_pos, "unknown reference \"" + std::string(r) +
                                       "\"; expected \"previous\" or a duration such as 1d or "
                                       "1w");
        }
        if (!is_digit(peek()) && peek() != '.') {
            return failed(ref_pos, at_end() ? "expected \"previous\" or a duration such as 1d "
                                              "or 1w after \"vs\""
                                            : "expected \"previous\" or a duration such as 1d "
                                              "or 1w after \"vs\", got " +
                                                  excerpt(text_, ref_pos));
        }
        std::size_t p = pos_;
        while (p < text_.size() && (is_digit(text_[p]) || text_[p] == '.')) ++p;
        double value = 0;
        const auto res = std::from_chars(text_.data() + pos_, text_.data() + p, value);
        if (res.ec != std::errc() || res.ptr != text_.data() + p) {
            return failed(ref_pos, "expected a duration such as 1d or 1w after \"vs\", got " +
                                       excerpt(text_, ref_pos));
        }
        const std::size_t unit_pos = p;
        while (p < text_.size() && is_alpha(text_[p])) ++p;
        const std::string_view unit = text_.substr(unit_pos, p - unit_pos);
        double ms = 0;
        if (unit == "ms")
            ms = 1;
        else if (unit == "s")
            ms = 1e3;
        else if (unit == "m")
            ms = 60e3;
        else if (unit == "h")
            ms = 3600e3;
        else if (unit == "d")
            ms = 86400e3;
        else if (unit == "w")
            ms = 7 * 86400e3;
        else if (unit.empty())
            return failed(unit_pos,
                          "the reference duration needs a unit: ms, s, m, h, d or w "
                          "(e.g. \"vs 1w\")");
        else
            return failed(unit_pos, "unknown unit \"" + std::string(unit) +
                                        "\"; expected ms, s, m, h, d or w");
        const double total_ms = value * ms;
        // Up to ten years: enough for any reference, far from overflowing nanoseconds.
        if (!(total_ms >= 1) || total_ms > 3650 * 86400e3 || total_ms != std::floor(total_ms)) {
            return failed(ref_pos,
                          "the reference duration must be a whole number of "
                          "milliseconds between 1ms and 3650d");
        }
        spec.versus = static_cast<time::timestamp_ns>(total_ms) * time::ns_per_ms;
        pos_ = p;
        return true;
    }

    // An unsigned integer (no sign, fraction or unit) at pos_, or nullopt with the error set.
    std::optional<std::uint32_t> integer(const char* what) {
        const std::size_t start = pos_;
        std::size_t p = pos_;
        while (p < text_.size() && is_digit(text_[p])) ++p;
        if (p == start || (p < text_.size() && (is_alpha(text_[p]) || text_[p] == '.'))) {
            fail(start, std::string("expected ") + what + " (a whole number), got " +
                            (at_end() ? std::string("the end") : excerpt(text_, start)));
            return std::nullopt;
        }
        std::uint64_t v = 0;
        const auto res = std::from_chars(text_.data() + start, text_.data() + p, v);
        if (res.ec != std::errc() || v > k_max_history_values) {
            fail(start,
                 std::string(what) + " must be at most " + std::to_string(k_max_history_values));
            return std::nullopt;
        }
        pos_ = p;
        return static_cast<std::uint32_t>(v);
    }

    // "(" "last" N ["by" season] ("," option)* ")" after "zscore".
    bool zscore(history_spec& spec) {
        skip_space();
        if (peek() != '(') {
            return failed(pos_, "expected \"(\" after \"zscore\", as in \"zscore(last 24) < 3\"");
        }
        ++pos_;
        skip_space();
        const std::size_t last_pos = pos_;
        if (word() != "last") {
            return failed(last_pos,
                          "expected \"last\" and a number of values, as in "
                          "\"zscore(last 24)\"");
        }
        skip_space();
        const std::size_t n_pos = pos_;
        const auto n = integer("the number of values after \"last\"");
        if (!n) return false;
        spec.last = *n;
        skip_space();
        const std::size_t by_pos = pos_;
        if (is_alpha(peek())) {
            const std::string_view w = word();
            if (w != "by") {
                return failed(by_pos, "unexpected \"" + std::string(w) +
                                          "\"; expected \"by\" and a season, \",\" and an option "
                                          "or \")\"");
            }
            skip_space();
            const std::size_t season_pos = pos_;
            const std::string_view s = word();
            if (s == "hour_of_day")
                spec.season = seasonality::hour_of_day;
            else if (s == "day_of_week")
                spec.season = seasonality::day_of_week;
            else if (s == "hour_of_week")
                spec.season = seasonality::hour_of_week;
            else if (s == "day_of_month")
                spec.season = seasonality::day_of_month;
            else {
                return failed(season_pos,
                              (s.empty() ? std::string("expected a season after \"by\"")
                                         : "unknown season \"" + std::string(s) + "\"") +
                                  "; expected hour_of_day, day_of_week, hour_of_week or "
                                  "day_of_month");
            }
            skip_space();
        }
        const std::uint32_t least = spec.season == seasonality::none ? 2 : 1;
        if (spec.last < least) {
            return failed(n_pos, spec.season == seasonality::none
                                     ? "N must be at least 2: a deviation needs two values"
                                     : "N must be at least 1");
        }
        bool direction_given = false;
        while (peek() == ',') {
            ++pos_;
            skip_space();
            const std::size_t opt_pos = pos_;
            const std::string_view o = word();
            if (o == "robust") {
                if (spec.robust) return failed(opt_pos, "\"robust\" is given twice");
                spec.robust = true;
            } else if (o == "spike" || o == "drop" || o == "both") {
                if (direction_given) {
                    return failed(opt_pos,
                                  "the direction is given twice; choose one of spike, "
                                  "drop or both");
                }
                direction_given = true;
                spec.direction = o == "spike"  ? history_direction::spike
                                 : o == "drop" ? history_direction::drop
                                               : history_direction::both;
            } else if (o == "min") {
                if (spec.min_history != 0) return failed(opt_pos, "\"min\" is given twice");
                skip_space();
                const std::size_t min_pos = pos_;
                const auto m = integer("the number of values after \"min\"");
                if (!m) return false;
                if (*m < least || *m > spec.last) {
                    return failed(min_pos, "min must be between " + std::to_string(least) +
                                               " and N (" + std::to_string(spec.last) + ")");
                }
                spec.min_history = *m;
            } else {
                return failed(opt_pos,
                              (o.empty() ? "expected an option after \",\""
                                         : "unknown option \"" + std::string(o) + "\"") +
                                  std::string("; expected robust, spike, drop, both or min N"));
            }
            skip_space();
        }
        if (peek() != ')') {
            return failed(pos_, at_end() ? "unterminated zscore(: expected \")\""
                                         : "expected \",\" and an option or \")\", got " +
                                               excerpt(text_, pos_));
        }
        ++pos_;
        return true;
    }

    // The test on the tested quantity: op number | ["in"] range.
    bool history_test(assessment& a, history_spec& spec) {
        skip_space();
        const std::size_t test_pos = pos_;
        const std::size_t numbers_before = numbers_;
        const std::size_t percents_before = percents_;
        const std::size_t units_before = units_;
        first_plain_ = std::string::npos;
        const char c = peek();
        if (is_operator_char(c)) {
            if (!comparison(a)) return false;
            if (a.operand_.kind != measure_kind::number) {
                return failed(test_pos, "a check against history compares numbers");
            }
        } else if (c == '[' || c == '(') {
            if (!range(a)) return false;
        } else if (is_alpha(c) && word() == "in") {
            skip_space();
            if (peek() != '[' && peek() != '(') {
                return failed(pos_, "expected a range after \"in\", such as \"in [-30%, 30%]\"");
            }
            if (!range(a)) return false;
        } else {
            return failed(
                test_pos,
                std::string(at_end() ? "expected a test"
                                     : "expected a test, got " + excerpt(text_, test_pos)) +
                    ": a comparison such as \"< 3\" or a range such as \"in [-30%, "
                    "30%]\" after the " +
                    (spec.subject == history_subject::zscore ? "zscore" : "change"));
        }
        const std::size_t numbers = numbers_ - numbers_before;
        const std::size_t percents = percents_ - percents_before;
        const std::size_t units = units_ - units_before;
        if (spec.subject == history_subject::zscore) {
            if (percents > 0 || units > 0) {
                return failed(test_pos,
                              "a z-score is a plain number of deviations; write it "
                              "without % or a unit, as in \"< 3\"");
            }
        } else if (percents > 0) {
            if (percents != numbers || units != percents) {
                return failed(first_plain_ != std::string::npos ? first_plain_ : test_pos,
                              "mixes numbers with and without %: a relative change "
                              "is written with % on every bound (\"in [-30%, 30%]\"), "
                              "an absolute change without");
            }
            spec.subject = history_subject::relative_change;
        }
        return true;
    }

    std::string_view word() {
        const std::size_t start = pos_;
        while (!at_end() && is_alpha(peek())) ++pos_;
        return text_.substr(start, pos_ - start);
    }

    bool quoted(std::string& out) {
        const std::size_t open = pos_;
        const char q = peek();
        ++pos_;
        while (!at_end()) {
            const char c = text_[pos_];
            if (c == q) {
                ++pos_;
                return true;
            }
            if (c == '\\' && pos_ + 1 < text_.size()) {
                const char e = text_[pos_ + 1];
                switch (e) {
                    case 'n':
                        out += '\n';
                        break;
                    case 't':
                        out += '\t';
                        break;
                    case 'r':
                        out += '\r';
                        break;
                    case '\\':
                    case '"':
                    case '\'':
                        out += e;
                        break;
                    default:
                        out += '\\';
                        out += e;
                }
                pos_ += 2;
                continue;
            }
            out += c;
            ++pos_;
        }
        return failed(open, "unterminated string: expected a closing " + std::string(1, q));
    }

    // A number with optional suffix, or nullopt. nullopt with error_ set is a malformed number;
    // without error_ there was no number here at all (pos_ unchanged).
    std::optional<double> number() {
        const std::size_t start = pos_;
        std::size_t p = pos_;
        bool negative = false;
        if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) {
            negative = text_[p] == '-';
            ++p;
        }
        if (text_.substr(p, 3) == "inf" && (p + 3 >= text_.size() || !is_word_char(text_[p + 3]))) {
            pos_ = p + 3;  // unit-neutral: not counted in numbers_
            return negative ? -k_inf : k_inf;
        }
        const std::size_t digits_start = p;
        std::size_t digits = 0;
        while (p < text_.size() && is_digit(text_[p])) ++p, ++digits;
        if (p < text_.size() && text_[p] == '.') {
            ++p;
            while (p < text_.size() && is_digit(text_[p])) ++p, ++digits;
        }
        if (digits == 0) {
            if (p > start) {
                fail(start, "expected a number, got " + excerpt(text_, start));
            }
            return std::nullopt;
        }
        if (p < text_.size() && (text_[p] == 'e' || text_[p] == 'E')) {
            std::size_t q = p + 1;
            if (q < text_.size() && (text_[q] == '+' || text_[q] == '-')) ++q;
            if (q >= text_.size() || !is_digit(text_[q])) {
                fail(q, "expected digits in the exponent of " +
                            std::string(text_.substr(start, q - start)));
                return std::nullopt;
            }
            while (q < text_.size() && is_digit(text_[q])) ++q;
            p = q;
        }
        double value = 0;
        const auto res = std::from_chars(text_.data() + digits_start, text_.data() + p, value);
        if (res.ec != std::errc() || res.ptr != text_.data() + p) {
            fail(start,
                 "number " + std::string(text_.substr(start, p - start)) + " is out of range");
            return std::nullopt;
        }
        if (negative) value = -value;
        pos_ = p;
        ++numbers_;
        if (peek() != '%' && first_plain_ == std::string::npos) first_plain_ = start;
        if (peek() == '%') {
            ++pos_;
            ++percents_;
            ++units_;
            saw_unit(value_unit::percent);
            return value / 100;
        }
        if (is_alpha(peek())) {
            ++units_;
            const std::size_t unit_pos = pos_;
            while (!at_end() && is_alpha(peek())) ++pos_;
            const std::string_view unit = text_.substr(unit_pos, pos_ - unit_pos);
            if (unit == "ms" || unit == "s" || unit == "m" || unit == "h" || unit == "d") {
                saw_unit(value_unit::duration);
            }
            if (unit == "ms") return value / 1000;
            if (unit == "s") return value;
            if (unit == "m") return value * 60;
            if (unit == "h") return value * 3600;
            if (unit == "d") return value * 86400;
            fail(unit_pos,
                 "unknown unit \"" + std::string(unit) + "\"; expected %, ms, s, m, h or d");
            return std::nullopt;
        }
        return value;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::optional<syntax_error> error_;
    value_unit unit_ = value_unit::none;
    bool mixed_units_ = false;
    // Finite numbers read so far, those written with % and those with any suffix.
    std::size_t numbers_ = 0;
    std::size_t percents_ = 0;
    std::size_t units_ = 0;
    std::size_t first_plain_ = std::string::npos;  // the first number without % in a test
};

parse_result<assessment> parse_assessment(std::string_view text) {
    return assessment_parser(text).run();
}

bool assessment::accepts(measure_kind k) const {
    if (history_) return k == measure_kind::number;
    switch (form_) {
        case form::equal:
        case form::not_equal:
            return k == operand_.kind;
        case form::in_set:
        case form::not_in_set:
            for (const auto& e : elements_) {
                if (e.kind == k) return true;
            }
            return false;
        default:
            return k == measure_kind::number;
    }
}

bool assessment::holds(const measure_value& v) const {
    // Checks against history are judged by a history_store, never here.
    WEIR_DEBUG_ASSERT(!history_);
    if (history_) return false;
    if (!accepts(v.kind)) return false;  // also rejects null (no data)
    if (v.kind == measure_kind::number && std::isnan(v.number)) return false;
    const auto same = [&v](const measure_value& o) {
        switch (v.kind) {
            case measure_kind::number:
                return v.number == o.number;
            case measure_kind::string:
                return v.text == o.text;
            case measure_kind::boolean:
                return v.boolean == o.boolean;
            case measure_kind::null:
                return false;
        }
        return false;
    };
    switch (form_) {
        case form::greater:
            return v.number > operand_.number;
        case form::greater_equal:
            return v.number >= operand_.number;
        case form::less:
            return v.number < operand_.number;
        case form::less_equal:
            return v.number <= operand_.number;
        case form::equal:
            return same(operand_);
        case form::not_equal:
            return !same(operand_);
        case form::range:
            return (low_closed_ ? v.number >= low_ : v.number > low_) &&
                   (high_closed_ ? v.number <= high_ : v.number < high_);
        case form::in_set:
        case form::not_in_set: {
            bool found = false;
            for (const auto& e : elements_) {
                if (e.kind == v.kind && same(e)) {
                    found = true;
                    break;
                }
            }
            return found == (form_ == form::in_set);
        }
    }
    return false;
}

std::string assessment::to_string() const {
    if (history_) {
        std::string s = history_->subject_text();
        s += form_ == form::range ? " in " : " ";
        s += plain_text();
        if (history_->min_change > 0) s += " min_change " + format_number(history_->min_change);
        return s;
    }
    return plain_text();
}

std::string assessment::plain_text() const {
    switch (form_) {
        case form::range:
            return std::string(low_closed_ ? "[" : "(") + format_number(low_) + ", " +
                   format_number(high_) + (high_closed_ ? "]" : ")");
        case form::in_set:
        case form::not_in_set: {
            std::string s = form_ == form::in_set ? "in {" : "not in {";
            for (std::size_t i = 0; i < elements_.size(); ++i) {
                if (i > 0) s += ", ";
                s += weir::to_string(elements_[i]);
            }
            return s + "}";
        }
        default:
            return std::string(op_text(form_)) + " " + weir::to_string(operand_);
    }
}

}  // namespace weir::check
