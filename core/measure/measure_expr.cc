// Parser, canonicaliser and evaluator of `measure:` strings.
#include "core/measure/measure_expr.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/diag/diagnostic.h"
#include "core/expr/ast.h"
#include "core/expr/lexer.h"
#include "core/expr/program.h"
#include "core/measure/distribution.h"

namespace weir::measure {

using expr::token;
using expr::token_kind;

namespace {

constexpr std::size_t k_max_parse_depth = 64;

std::string plural(std::size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string ordinal(std::size_t i) {
    static const char* names[] = {"first", "second", "third", "fourth"};
    return i < 4 ? names[i] : std::to_string(i + 1) + "th";
}

std::string list_key(const std::vector<measure_value>& list) {
    std::string s = "[";
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (i > 0) s += ", ";
        s += to_string(list[i]);
    }
    return s + "]";
}

}  // namespace

class measure_parser {
  public:
    explicit measure_parser(std::span<const function_info> functions) : functions_(functions) {}

    parse_result<measure_expr> run(std::string_view text) {
        text_ = text;
        auto lexed = expr::tokenize(text);
        if (!lexed) return parse_result<measure_expr>(lexed.errors());
        tokens_ = std::move(*lexed);
        if (!additive(0)) return std::move(*error_);
        if (cur().kind != token_kind::end) {
            return syntax_error{cur().offset, "unexpected " + describe(cur()) +
                                                  " after the measure; expected an operator "
                                                  "(+ - * /) or the end"};
        }
        if (m_.calls_.empty()) {
            return syntax_error{0,
                                "a measure must call at least one aggregate function, such "
                                "as count() or mean(field)"};
        }
        if (m_.program_.size() == 1) {
            m_.result_ = m_.calls_.front().function->result;
        } else {
            for (std::size_t i = 0; i < m_.program_.size(); ++i) {
                const auto& ins = m_.program_[i];
                if (ins.op != measure_expr::opcode::push_call) continue;
                const auto* fn = m_.calls_[ins.index].function;
                if (fn->result != result_type::number) {
                    return syntax_error{occurrence_[i],
                                        std::string(fn->name) + "() yields " +
                                            std::string(to_string(fn->result)) +
                                            ", which cannot take part in arithmetic"};
                }
            }
        }
        std::size_t depth = 0;
        std::size_t max_depth = 0;
        for (const auto& ins : m_.program_) {
            using op = measure_expr::opcode;
            if (ins.op == op::push_call || ins.op == op::push_number)
                ++depth;
            else if (ins.op != op::negate)
                --depth;
            max_depth = std::max(max_depth, depth);
        }
        if (max_depth > k_max_measure_depth) {
            return syntax_error{0, "the measure is too deeply nested"};
        }
        return std::move(m_);
    }

  private:
    std::span<const function_info> functions_;

    const token& cur() const { return tokens_[pos_]; }
    const token& next() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
    bool fail(std::size_t offset, std::string message) {
        error_ = syntax_error{offset, std::move(message)};
        return false;
    }
    void emit(measure_expr::opcode op, std::size_t offset, std::uint32_t index = 0,
              double number = 0) {
        m_.program_.push_back({op, index, number});
        occurrence_.push_back(offset);
    }

    bool additive(std::size_t depth) {
        if (depth > k_max_parse_depth)
            return fail(cur().offset, "the measure is too deeply nested");
        if (!multiplicative(depth)) return false;
        while (cur().kind == token_kind::plus || cur().kind == token_kind::minus) {
            const token& op = cur();
            ++pos_;
            if (!multiplicative(depth)) return false;
            emit(op.kind == token_kind::plus ? measure_expr::opcode::add
                                             : measure_expr::opcode::subtract,
                 op.offset);
        }
        return true;
    }

    bool multiplicative(std::size_t depth) {
        if (!unary(depth)) return false;
        while (cur().kind == token_kind::star || cur().kind == token_kind::slash) {
            const token& op = cur();
            ++pos_;
            if (!unary(depth)) return false;
            emit(op.kind == token_kind::star ? measure_expr::opcode::multiply
                                             : measure_expr::opcode::divide,
                 op.offset);
        }
        return true;
    }

    bool unary(std::size_t depth) {
        if (cur().kind == token_kind::minus) {
            const std::size_t at = cur().offset;
            ++pos_;
            if (depth > k_max_parse_depth) return fail(at, "the measure is too deeply nested");
            if (!unary(depth + 1)) return false;
            emit(measure_expr::opcode::negate, at);
            return true;
        }
        return primary(depth);
    }

    bool primary(std::size_t depth) {
        const token& t = cur();
        switch (t.kind) {
            case token_kind::number:
                ++pos_;
                emit(measure_expr::opcode::push_number, t.offset, 0, t.number);
                return true;
            case token_kind::lparen: {
                ++pos_;
                if (!additive(depth + 1)) return false;
                if (cur().kind != token_kind::rparen) {
                    return fail(cur().offset, "expected \")\" to close the \"(\" at offset " +
                                                  std::to_string(t.offset) + ", got " +
                                                  describe(cur()));
                }
                ++pos_;
                return true;
            }
            case token_kind::identifier:
                if (next().kind == token_kind::lparen) return call();
                if (find(t.text) != nullptr) {
                    return fail(t.offset, "\"" + std::string(t.text) +
                                              "\" is a function; call it with parentheses: " +
                                              std::string(t.text) + "(...)");
                }
                return fail(t.offset, "\"" + std::string(t.text) +
                                          "\" is a field, not a measure; aggregate it, e.g. "
                                          "mean(" +
                                          std::string(t.text) + ") or count(" +
                                          std::string(t.text) + ")");
            default:
                return fail(t.offset,
                            "expected an aggregate function call such as count(), a "
                            "number or \"(\", got " +
                                describe(t));
        }
    }

    bool call() {
        const token& name = cur();
        const function_info* fn = find(name.text);
        if (fn == nullptr) {
            std::string msg = "unknown function \"" + std::string(name.text) + "\"";
            const std::string near = suggest_function(name.text);
            if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
            return fail(name.offset, std::move(msg));
        }
        pos_ += 2;  // name and "("
        aggregate_call c;
        c.function = fn;
        c.offset = name.offset;
        if (cur().kind != token_kind::rparen) {
            while (true) {
                const std::size_t i = c.args.size();
                if (i >= fn->max_args) {
                    return fail(cur().offset, std::string(fn->name) + "() takes " +
                                                  (fn->min_args == fn->max_args ? "" : "at most ") +
                                                  plural(fn->max_args, "argument") + ": " +
                                                  std::string(fn->signature));
                }
                call_argument a;
                if (is_keyword(*fn, i)) {
                    if (!keyword(*fn, c, a)) return false;
                } else {
                    if (!argument(*fn, i, a)) return false;
                    a.position = static_cast<std::uint8_t>(i);
                }
                c.args.push_back(std::move(a));
                if (cur().kind == token_kind::comma) {
                    ++pos_;
                    continue;
                }
                if (cur().kind == token_kind::rparen) break;
                return fail(cur().offset, "expected \",\" or \")\" after the " + ordinal(i) +
                                              " argument of " + std::string(fn->name) + "(), got " +
                                              describe(cur()));
            }
        }
        const std::size_t close = cur().offset;
        ++pos_;
        if (c.args.size() < fn->min_args) {
            return fail(close, std::string(fn->name) + "() takes " +
                                   (fn->min_args == fn->max_args ? "" : "at least ") +
                                   plural(fn->min_args, "argument") + ": " +
                                   std::string(fn->signature));
        }
        if (!keywords_complete(*fn, c, close)) return false;
        if (fn->name == "heavy_hitters" && (c.args[1].number <= 0 || c.args[1].number >= 1)) {
            return fail(c.args[1].offset,
                        "phi of heavy_hitters() must be greater than 0 and less than 1 (0.1 for "
                        "the values that make up at least 10% of the window), got " +
                            format_number(c.args[1].number));
        }
        if (fn->name.starts_with("distinct_placeholder_") &&
            (c.args[1].list.empty() || c.args[1].list.size() > k_max_placeholders)) {
            return fail(c.args[1].offset, std::string(fn->name) + "() takes 1 to " +
                                              std::to_string(k_max_placeholders) +
                                              " placeholders, got " +
                                              std::to_string(c.args[1].list.size()));
        }
        if (fn->name == "in_range_count" || fn->name == "in_range_fraction" ||
            fn->name == "most_frequent_in_range") {
            if (c.args[1].number > c.args[2].number) {
                return fail(c.args[1].offset, "range start " + format_number(c.args[1].number) +
                                                  " is greater than end " +
                                                  format_number(c.args[2].number));
            }
        }
        if (const function_info* target = alias_target(*fn)) {
            fn = target;  // checked against the alias's own arity above
            c.function = target;
        }
        c.key = std::string(fn->name) + "(";
        for (std::size_t i = 0; i < c.args.size(); ++i) {
            if (i > 0) c.key += ", ";
            const auto& a = c.args[i];
            switch (a.kind) {
                case arg_kind::field:
                    c.key += a.field.to_string();
                    break;
                case arg_kind::number:
                case arg_kind::probability:
                    c.key += format_number(a.number);
                    break;
                case arg_kind::literal_list:
                    c.key += list_key(a.list);
                    break;
                case arg_kind::regex:
                    c.key += quote(a.pattern);
                    break;
                case arg_kind::expression:
                    c.key += a.condition;
                    break;
                case arg_kind::keyword:
                    c.key += a.word;
                    break;
            }
        }
        c.key += ")";
        std::uint32_t index = 0;
        while (index < m_.calls_.size() && m_.calls_[index].key != c.key) ++index;
        if (index == m_.calls_.size()) m_.calls_.push_back(std::move(c));
        emit(measure_expr::opcode::push_call, name.offset, index);
        return true;
    }

    // Whether the argument at index i is a keyword: a keyword parameter's place, or an optional
    // parameter's place taken by one of the function's words (`median(x, linear)` when a
    // function has an optional field before its keywords).
    bool is_keyword(const function_info& fn, std::size_t i) const {
        if (fn.args[i] == arg_kind::keyword) return true;
        const token& t = cur();
        if (i < fn.min_args || t.kind != token_kind::identifier || next().kind == token_kind::dot ||
            next().kind == token_kind::lbracket) {
            return false;
        }
        const std::size_t p = fn.keyword_position(t.text);
        // A word of a keyword without default does not take a field's place: such a keyword
        // goes with the field, so `invalid_count(email, email)` measures the field email.
        return p < fn.max_args && !(fn.args[i] == arg_kind::field && fn.default_keyword(p).empty());
    }

    // The words of keyword parameters [from, to), comma-separated.
    static std::string word_list(const function_info& fn, std::size_t from,
                                 std::size_t to = k_max_args) {
        std::string out;
        for (std::size_t p = from; p < std::min<std::size_t>(to, fn.max_args); ++p) {
            for (const std::string_view w : fn.keywords(p)) {
                if (!out.empty()) out += ", ";
                out += w;
            }
        }
        return out;
    }

    static std::size_t first_keyword(const function_info& fn) {
        std::size_t p = 0;
        while (p < fn.max_args && fn.args[p] != arg_kind::keyword) ++p;
        return p;
    }

    // The function called `name` in the table the parser was given (sorted by name).
    const function_info* find(std::string_view name) const {
        const auto it = std::lower_bound(
            functions_.begin(), functions_.end(), name,
            [](const function_info& fi, std::string_view n) { return fi.name < n; });
        if (it == functions_.end() || it->name != name) return nullptr;
        return &*it;
    }

    bool keyword(const function_info& fn, const aggregate_call& c, call_argument& a) {
        const token& t = cur();
        a.kind = arg_kind::keyword;
        a.offset = t.offset;
        const std::size_t from = std::min(first_keyword(fn), c.args.size());
        const std::string expected = "one of: " + word_list(fn, from);
        if (t.kind != token_kind::identifier) {
            return fail(t.offset, std::string(fn.name) + "() expects a keyword here, " + expected +
                                      "; got " + describe(t));
        }
        const std::size_t p = fn.keyword_position(t.text);
        if (p == fn.max_args) {
            return fail(t.offset, "unknown keyword \"" + std::string(t.text) + "\" for " +
                                      std::string(fn.name) + "(): expected " + expected);
        }
        for (const auto& b : c.args) {
            if (b.kind == arg_kind::keyword && b.position == p) {
                return fail(t.offset, std::string(fn.name) + "() takes one of " +
                                          word_list(fn, p, p + 1) + ", and \"" +
                                          std::string(b.word) + "\" was given already");
            }
        }
        for (const std::string_view w : fn.keywords(p)) {
            if (w == t.text) a.word = w;  // the catalogue's storage, not the text's
        }
        a.position = static_cast<std::uint8_t>(p);
        ++pos_;
        return true;
    }

    // Orders the arguments by the parameter they set, requires the keywords that have no
    // default, and leaves out those equal to their default.
    bool keywords_complete(const function_info& fn, aggregate_call& c, std::size_t close) {
        std::stable_sort(
            c.args.begin(), c.args.end(),
            [](const call_argument& a, const call_argument& b) { return a.position < b.position; });
        const bool any_other = std::any_of(c.args.begin(), c.args.end(), [](const auto& a) {
            return a.kind != arg_kind::keyword;
        });
        for (std::size_t p = 0; p < fn.max_args; ++p) {
            if (fn.args[p] != arg_kind::keyword || !fn.default_keyword(p).empty()) continue;
            const bool given = std::any_of(c.args.begin(), c.args.end(), [&](const auto& a) {
                return a.kind == arg_kind::keyword && a.position == p;
            });
            if (any_other && !given) {
                return fail(close, std::string(fn.name) + "() needs one of " +
                                       word_list(fn, p, p + 1) + ": " + std::string(fn.signature));
            }
        }
        std::erase_if(c.args, [&](const call_argument& a) {
            return a.kind == arg_kind::keyword && a.word == fn.default_keyword(a.position);
        });
        return true;
    }

    bool argument(const function_info& fn, std::size_t i, call_argument& a) {
        const arg_kind kind = fn.args[i];
        const token& t = cur();
        a.kind = kind;
        a.offset = t.offset;
        const auto wrong = [&](const char* extra = "") {
            return fail(t.offset, "the " + ordinal(i) + " argument of " + std::string(fn.name) +
                                      "() must be " + std::string(to_string(kind)) + ", got " +
                                      describe(t) + extra);
        };
        switch (kind) {
            case arg_kind::field:
                if (t.kind == token_kind::identifier && next().kind == token_kind::lparen) {
                    return fail(t.offset,
                                "aggregate functions take fields, not expressions: "
                                "compute \"" +
                                    std::string(t.text) +
                                    "(...)\" in a set: transform and aggregate that field");
                }
                if (t.kind != token_kind::identifier && t.kind != token_kind::lbracket) {
                    return wrong();
                }
                return path(a.field);
            case arg_kind::number:
            case arg_kind::probability: {
                bool negative = false;
                if (t.kind == token_kind::minus) {
                    negative = true;
                    ++pos_;
                }
                if (cur().kind != token_kind::number) {
                    if (t.kind == token_kind::identifier && (t.text == "inf")) {
                        return wrong("; ranges need finite bounds");
                    }
                    return wrong();
                }
                a.number = negative ? -cur().number : cur().number;
                ++pos_;
                if (kind == arg_kind::probability && (a.number < 0 || a.number > 1)) {
                    return fail(t.offset,
                                "p must be between 0 and 1 (0.99 for the 99th "
                                "percentile), got " +
                                    format_number(a.number));
                }
                return true;
            }
            case arg_kind::literal_list:
                if (t.kind != token_kind::lbracket) return wrong();
                return list(a.list);
            case arg_kind::regex: {
                if (t.kind != token_kind::string) return wrong();
                a.pattern = t.value;
                auto re = std::make_shared<const re2::RE2>(a.pattern, re2::RE2::Quiet);
                if (!re->ok()) {
                    return fail(t.offset, "invalid regular expression: " + re->error());
                }
                a.regex = std::move(re);
                ++pos_;
                return true;
            }
            case arg_kind::expression:
                return condition(fn, a);
            case arg_kind::keyword:
                break;  // parsed by keyword()
        }
        return wrong();
    }

    // The condition runs to the ")" that closes the call; the expression language parses it.
    bool condition(const function_info& fn, call_argument& a) {
        std::size_t depth = 0;
        std::size_t close = pos_;
        for (;; ++close) {
            const token& t = tokens_[close];
            if (t.kind == token_kind::end) {
                return fail(t.offset, "expected \")\" to close " + std::string(fn.name) + "(");
            }
            if (t.kind == token_kind::lparen || t.kind == token_kind::lbracket) {
                ++depth;
            } else if (t.kind == token_kind::rparen || t.kind == token_kind::rbracket) {
                if (depth == 0) {
                    if (t.kind == token_kind::rparen) break;
                    return fail(t.offset, "unexpected \"]\" in the condition of " +
                                              std::string(fn.name) + "()");
                }
                --depth;
            }
        }
        const std::size_t start = cur().offset;
        std::string_view text = text_.substr(start, tokens_[close].offset - start);
        while (!text.empty() &&
               std::string_view(" \t\r\n").find(text.back()) != std::string_view::npos) {
            text.remove_suffix(1);
        }
        expr::compile_options options;
        options.expected = expr::value_type::boolean;
        const auto program = expr::compile(text, options);
        if (!program) {
            const syntax_error& e = program.error();
            return fail(start + e.offset, e.message);
        }
        const auto tree = expr::parse_expression(text);
        if (!tree) return fail(start + tree.error().offset, tree.error().message);
        a.expression = std::string(text);
        a.condition = expr::canonical_text(*tree);
        for (const auto& f : program->fields()) a.condition_fields.push_back(f.path);
        a.condition_reads_clock = program->reads_clock();
        pos_ = close;
        return true;
    }

    bool path(field_path& p) {
        bool first = true;
        while (true) {
            const token& t = cur();
            if (first && t.kind == token_kind::identifier) {
                p.segments.emplace_back(t.text);
                ++pos_;
            } else if (!first && t.kind == token_kind::dot) {
                ++pos_;
                if (cur().kind != token_kind::identifier) {
                    return fail(cur().offset,
                                "expected a field name after \".\", got " + describe(cur()));
                }
                p.segments.emplace_back(cur().text);
                ++pos_;
            } else if (t.kind == token_kind::lbracket) {
                ++pos_;
                if (cur().kind != token_kind::string) {
                    return fail(cur().offset,
                                "expected a quoted field name after \"[\", got " + describe(cur()));
                }
                p.segments.push_back(cur().value);
                ++pos_;
                if (cur().kind != token_kind::rbracket) {
                    return fail(cur().offset,
                                "expected \"]\" after the field name, got " + describe(cur()));
                }
                ++pos_;
            } else {
                return true;
            }
            first = false;
        }
    }

    bool list(std::vector<measure_value>& out) {
        const std::size_t open = cur().offset;
        ++pos_;
        if (cur().kind == token_kind::rbracket) return fail(open, "empty list");
        while (true) {
            const token& t = cur();
            if (t.kind == token_kind::string) {
                out.push_back(measure_value::make_string(t.value));
                ++pos_;
            } else if (t.kind == token_kind::number) {
                out.push_back(measure_value::make_number(t.number));
                ++pos_;
            } else if (t.kind == token_kind::minus && next().kind == token_kind::number) {
                out.push_back(measure_value::make_number(-next().number));
                pos_ += 2;
            } else if (t.kind == token_kind::identifier &&
                       (t.text == "true" || t.text == "false" || t.text == "null")) {
                out.push_back(t.text == "null" ? measure_value::make_null()
                                               : measure_value::make_boolean(t.text == "true"));
                ++pos_;
            } else if (t.kind == token_kind::identifier) {
                return fail(t.offset, "list elements are literals; quote strings: \"" +
                                          std::string(t.text) + "\"");
            } else {
                return fail(t.offset,
                            "expected a list element (a number, a quoted string, "
                            "true, false or null), got " +
                                describe(t));
            }
            if (cur().kind == token_kind::comma) {
                ++pos_;
                continue;
            }
            if (cur().kind == token_kind::rbracket) {
                ++pos_;
                break;
            }
            return fail(cur().offset,
                        "expected \",\" or \"]\" in the list, got " + describe(cur()));
        }
        // Canonical: sorted by spelling and without duplicates, so [b, a] and [a, b, a] share.
        std::sort(out.begin(), out.end(), [](const measure_value& x, const measure_value& y) {
            return to_string(x) < to_string(y);
        });
        out.erase(std::unique(out.begin(), out.end()), out.end());
        return true;
    }

    std::string_view text_;
    std::vector<token> tokens_;
    std::size_t pos_ = 0;
    std::optional<syntax_error> error_;
    measure_expr m_;
    std::vector<std::size_t> occurrence_;  // source offset of each instruction
};

parse_result<measure_expr> parse_measure(std::string_view text) {
    return measure_parser(catalog()).run(text);
}

parse_result<measure_expr> parse_measure(std::string_view text,
                                         std::span<const function_info> functions) {
    return measure_parser(functions).run(text);
}

std::string_view aggregate_call::word(std::size_t position) const {
    for (const auto& a : args) {
        if (a.kind == arg_kind::keyword && a.position == position) return a.word;
    }
    return function == nullptr ? std::string_view() : function->default_keyword(position);
}

bool measure_expr::reads_clock() const {
    return std::any_of(calls_.begin(), calls_.end(), [](const aggregate_call& c) {
        return c.function->reads_clock ||
               std::any_of(c.args.begin(), c.args.end(),
                           [](const call_argument& a) { return a.condition_reads_clock; });
    });
}

measure_value measure_expr::evaluate(std::span<const measure_value> values) const {
    if (program_.size() == 1) {
        const std::uint32_t i = program_.front().index;
        return i < values.size() ? values[i] : measure_value::make_null();
    }
    // NaN stands for "no data" inside the stack: it propagates through every operation.
    constexpr double none = std::numeric_limits<double>::quiet_NaN();
    double stack[k_max_measure_depth];
    std::size_t top = 0;
    for (const auto& ins : program_) {
        switch (ins.op) {
            case opcode::push_call: {
                const bool ok = ins.index < values.size() && values[ins.index].is_number();
                stack[top++] = ok ? values[ins.index].number : none;
                break;
            }
            case opcode::push_number:
                stack[top++] = ins.number;
                break;
            case opcode::negate:
                stack[top - 1] = -stack[top - 1];
                break;
            default: {
                const double b = stack[--top];
                double& a = stack[top - 1];
                switch (ins.op) {
                    case opcode::add:
                        a = a + b;
                        break;
                    case opcode::subtract:
                        a = a - b;
                        break;
                    case opcode::multiply:
                        a = a * b;
                        break;
                    case opcode::divide:
                        a = b == 0 ? none : a / b;
                        break;
                    default:
                        break;
                }
            }
        }
    }
    if (top != 1 || std::isnan(stack[0])) return measure_value::make_null();
    return measure_value::make_number(stack[0]);
}

std::string measure_expr::to_string() const {
    struct part {
        std::string text;
        int precedence;  // 1 additive, 2 multiplicative, 3 unary, 4 atom
    };
    std::vector<part> stack;
    for (const auto& ins : program_) {
        switch (ins.op) {
            case opcode::push_call:
                stack.push_back({calls_[ins.index].key, 4});
                break;
            case opcode::push_number:
                stack.push_back({format_number(ins.number), 4});
                break;
            case opcode::negate: {
                part& p = stack.back();
                p.text = p.precedence <= 3 ? "-(" + p.text + ")" : "-" + p.text;
                p.precedence = 3;
                break;
            }
            default: {
                part right = std::move(stack.back());
                stack.pop_back();
                part& left = stack.back();
                const bool additive = ins.op == opcode::add || ins.op == opcode::subtract;
                const int p = additive ? 1 : 2;
                const char* op = ins.op == opcode::add        ? " + "
                                 : ins.op == opcode::subtract ? " - "
                                 : ins.op == opcode::multiply ? " * "
                                                              : " / ";
                if (left.precedence < p) left.text = "(" + left.text + ")";
                if (right.precedence <= p) right.text = "(" + right.text + ")";
                left.text += op + right.text;
                left.precedence = p;
            }
        }
    }
    return stack.empty() ? std::string() : stack.back().text;
}

}  // namespace weir::measure

namespace weir::measure {

namespace {

// The index of the input a path starts with, or sources.size().
std::size_t source_of(const field_path& f, std::span<const std::string> sources) {
    if (f.segments.empty()) return sources.size();
    const auto it = std::find(sources.begin(), sources.end(), f.segments.front());
    return static_cast<std::size_t>(it - sources.begin());
}

}  // namespace

std::optional<measure_expr::bind_error> measure_expr::bind_sources(
    std::span<const std::string> sources) {
    for (auto& call : calls_) {
        if (!call.source.empty()) continue;
        const std::string fn(call.function->name);
        const auto fail = [&](std::string message) {
            return std::optional<bind_error>(bind_error{call.offset, std::move(message)});
        };
        std::vector<std::size_t> named;  // per field argument: its input, or sources.size()
        for (const auto& a : call.args) {
            if (a.kind == arg_kind::field) named.push_back(source_of(a.field, sources));
            for (const auto& f : a.condition_fields) {
                if (f.segments.size() > 1 && source_of(f, sources) < sources.size()) {
                    return fail(fn + "(): its condition names the input " + f.segments.front() +
                                " (" + f.to_string() +
                                "); a condition sees the records of every input by their own "
                                "field names");
                }
            }
        }
        const auto strip = [&](call_argument& a) {
            a.field.segments.erase(a.field.segments.begin());
        };
        if (fn == "reconcile") {
            if (named.size() != 2 || named[0] == sources.size() || named[1] == sources.size() ||
                call.args[0].field.segments.size() < 2 || call.args[1].field.segments.size() < 2) {
                return fail(
                    "reconcile() compares a key of one input with a key of another: "
                    "reconcile(<input>.<key>, <other input>.<key>)");
            }
            if (named[0] == named[1]) {
                return fail("reconcile() compares two different inputs; both keys are of " +
                            sources[named[0]]);
            }
            call.source = sources[named[0]];
            call.other = sources[named[1]];
            strip(call.args[0]);
            strip(call.args[1]);
            continue;
        }
        const std::size_t bound = std::count_if(named.begin(), named.end(),
                                                [&](std::size_t s) { return s < sources.size(); });
        if (bound == 0) continue;
        if (bound != named.size() ||
            std::any_of(named.begin(), named.end(), [&](std::size_t s) { return s != named[0]; })) {
            return fail(fn +
                        "(): its fields name different inputs, or some name an input and some "
                        "do not; the records of different inputs are never paired, so measure "
                        "each input in a call of its own");
        }
        call.source = sources[named[0]];
        for (auto it = call.args.begin(); it != call.args.end();) {
            if (it->kind != arg_kind::field) {
                ++it;
                continue;
            }
            strip(*it);
            if (!it->field.segments.empty()) {
                ++it;
            } else if (fn == "count" && call.args.size() == 1) {
                it = call.args.erase(it);  // count(orders): the records of orders
            } else {
                return fail(fn + "(" + call.source + ") names the input " + call.source +
                            ", not a field of it: write " + fn + "(" + call.source + ".<field>)");
            }
        }
    }
    return std::nullopt;
}

}  // namespace weir::measure
