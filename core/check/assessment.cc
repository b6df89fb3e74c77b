// Parser, evaluator and canonical printer of assessments (`must_be` / `should_be`).
#include "core/check/assessment.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

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
        } else if (w == "true" || w == "false") {
            return failed(
                start, "missing comparison operator; did you mean \"== " + std::string(w) + "\"?");
        } else {
            return failed(start, "unknown assessment \"" + std::string(w) +
                                     "\"; expected a comparison such as \"> 50\", a range such "
                                     "as \"[15, 35]\" or a set such as \"in {a, b}\"");
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
            pos_ = p + 3;
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
        if (peek() == '%') {
            ++pos_;
            saw_unit(value_unit::percent);
            return value / 100;
        }
        if (is_alpha(peek())) {
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
};

parse_result<assessment> parse_assessment(std::string_view text) {
    return assessment_parser(text).run();
}

bool assessment::accepts(measure_kind k) const {
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
