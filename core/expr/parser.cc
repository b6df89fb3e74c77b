// Expression parser: tokens to a syntax tree by precedence climbing.
#include <optional>

#include "core/expr/ast.h"
#include "core/expr/lexer.h"

namespace weir::expr {

std::string describe(value_type t) {
    switch (t) {
        case value_type::any:
            return "any value";
        case value_type::number:
            return "a number";
        case value_type::string:
            return "a string";
        case value_type::boolean:
            return "a boolean";
        case value_type::null:
            return "null";
    }
    return "?";
}

std::string_view spelling(binary_op op) {
    switch (op) {
        case binary_op::add:
            return "+";
        case binary_op::subtract:
            return "-";
        case binary_op::multiply:
            return "*";
        case binary_op::divide:
            return "/";
        case binary_op::modulo:
            return "%";
        case binary_op::equal:
            return "==";
        case binary_op::not_equal:
            return "!=";
        case binary_op::less:
            return "<";
        case binary_op::less_equal:
            return "<=";
        case binary_op::greater:
            return ">";
        case binary_op::greater_equal:
            return ">=";
        case binary_op::logical_and:
            return "and";
        case binary_op::logical_or:
            return "or";
    }
    return "?";
}

namespace {

constexpr int k_prec_or = 1;
constexpr int k_prec_and = 2;
constexpr int k_prec_not = 3;
constexpr int k_prec_compare = 4;
constexpr int k_prec_additive = 5;
constexpr int k_prec_multiplicative = 6;
constexpr int k_prec_unary = 7;
constexpr std::size_t k_max_depth = 64;

bool is_keyword(std::string_view w) {
    return w == "and" || w == "or" || w == "not" || w == "true" || w == "false" || w == "null";
}

class parser {
  public:
    explicit parser(std::vector<token> tokens) : tokens_(std::move(tokens)) {}

    parse_result<syntax_tree> run() {
        const auto root = expression(k_prec_or, 0);
        if (!root) return std::move(*error_);
        if (cur().kind != token_kind::end) {
            const token& t = cur();
            std::string msg = "unexpected " + describe(t) + " after a complete expression";
            if (t.kind == token_kind::identifier || t.kind == token_kind::number ||
                t.kind == token_kind::string) {
                msg += "; a missing operator?";
            }
            return syntax_error{t.offset, std::move(msg)};
        }
        tree_.root = *root;
        return std::move(tree_);
    }

  private:
    const token& cur() const { return tokens_[pos_]; }
    const token& peek(std::size_t n = 1) const {
        return tokens_[std::min(pos_ + n, tokens_.size() - 1)];
    }
    std::nullopt_t fail(std::size_t offset, std::string message) {
        if (!error_) error_ = syntax_error{offset, std::move(message)};
        return std::nullopt;
    }
    std::uint32_t add(node n) {
        tree_.nodes.push_back(std::move(n));
        return static_cast<std::uint32_t>(tree_.nodes.size() - 1);
    }

    // The binary operator at the cursor and its precedence, if any.
    std::optional<std::pair<binary_op, int>> binary_at_cursor() const {
        const token& t = cur();
        switch (t.kind) {
            case token_kind::plus:
                return std::pair{binary_op::add, k_prec_additive};
            case token_kind::minus:
                return std::pair{binary_op::subtract, k_prec_additive};
            case token_kind::star:
                return std::pair{binary_op::multiply, k_prec_multiplicative};
            case token_kind::slash:
                return std::pair{binary_op::divide, k_prec_multiplicative};
            case token_kind::percent:
                return std::pair{binary_op::modulo, k_prec_multiplicative};
            case token_kind::eq:
                return std::pair{binary_op::equal, k_prec_compare};
            case token_kind::ne:
                return std::pair{binary_op::not_equal, k_prec_compare};
            case token_kind::lt:
                return std::pair{binary_op::less, k_prec_compare};
            case token_kind::le:
                return std::pair{binary_op::less_equal, k_prec_compare};
            case token_kind::gt:
                return std::pair{binary_op::greater, k_prec_compare};
            case token_kind::ge:
                return std::pair{binary_op::greater_equal, k_prec_compare};
            case token_kind::identifier:
                if (t.text == "and") return std::pair{binary_op::logical_and, k_prec_and};
                if (t.text == "or") return std::pair{binary_op::logical_or, k_prec_or};
                return std::nullopt;
            default:
                return std::nullopt;
        }
    }

    std::optional<std::uint32_t> expression(int min_prec, std::size_t depth) {
        if (depth > k_max_depth) return fail(cur().offset, "the expression is too deeply nested");
        auto lhs = prefix(depth);
        if (!lhs) return std::nullopt;
        while (true) {
            const auto op = binary_at_cursor();
            if (!op || op->second < min_prec) return lhs;
            const token& op_token = cur();
            ++pos_;
            auto rhs = expression(op->second + 1, depth + 1);
            if (!rhs) return std::nullopt;
            node n;
            n.kind = node_kind::binary;
            n.op = op->first;
            n.start = tree_.nodes[*lhs].start;
            n.offset = op_token.offset;
            n.children = {*lhs, *rhs};
            lhs = add(std::move(n));
            if (op->second == k_prec_compare) {
                const auto again = binary_at_cursor();
                if (again && again->second == k_prec_compare) {
                    return fail(cur().offset,
                                "comparisons cannot be chained; combine them "
                                "with \"and\"");
                }
            }
        }
    }

    std::optional<std::uint32_t> prefix(std::size_t depth) {
        const token& t = cur();
        if (t.kind == token_kind::identifier && t.text == "not") {
            ++pos_;
            auto operand = expression(k_prec_not, depth + 1);
            if (!operand) return std::nullopt;
            node n;
            n.kind = node_kind::logical_not;
            n.start = n.offset = t.offset;
            n.children = {*operand};
            return add(std::move(n));
        }
        if (t.kind == token_kind::minus) {
            ++pos_;
            auto operand = expression(k_prec_unary, depth + 1);
            if (!operand) return std::nullopt;
            node n;
            n.kind = node_kind::negate;
            n.start = n.offset = t.offset;
            n.children = {*operand};
            return add(std::move(n));
        }
        return primary(depth);
    }

    std::optional<std::uint32_t> primary(std::size_t depth) {
        const token& t = cur();
        node n;
        n.start = n.offset = t.offset;
        switch (t.kind) {
            case token_kind::number:
                ++pos_;
                n.type = value_type::number;
                n.number = t.number;
                return add(std::move(n));
            case token_kind::string:
                ++pos_;
                n.type = value_type::string;
                n.text = t.value;
                return add(std::move(n));
            case token_kind::lparen: {
                ++pos_;
                auto inner = expression(k_prec_or, depth + 1);
                if (!inner) return std::nullopt;
                if (cur().kind != token_kind::rparen) {
                    return fail(cur().offset, "expected \")\" to close the \"(\" at offset " +
                                                  std::to_string(t.offset) + ", got " +
                                                  describe(cur()));
                }
                ++pos_;
                tree_.nodes[*inner].start = t.offset;
                return inner;
            }
            case token_kind::lbracket:
                return field(std::move(n));
            case token_kind::identifier:
                if (t.text == "true" || t.text == "false") {
                    ++pos_;
                    n.type = value_type::boolean;
                    n.boolean = t.text == "true";
                    return add(std::move(n));
                }
                if (t.text == "null") {
                    ++pos_;
                    n.type = value_type::null;
                    return add(std::move(n));
                }
                if (is_keyword(t.text)) {
                    return fail(t.offset,
                                "expected a value before \"" + std::string(t.text) + "\"");
                }
                if (peek().kind == token_kind::lparen) return call(std::move(n), depth);
                return field(std::move(n));
            default:
                return fail(t.offset,
                            "expected a value (a field, a literal, a function call or "
                            "\"(\"), got " +
                                describe(t));
        }
    }

    std::optional<std::uint32_t> call(node n, std::size_t depth) {
        n.kind = node_kind::call;
        n.text = std::string(cur().text);
        pos_ += 2;  // name and "("
        if (cur().kind != token_kind::rparen) {
            while (true) {
                auto arg = expression(k_prec_or, depth + 1);
                if (!arg) return std::nullopt;
                n.children.push_back(*arg);
                if (cur().kind == token_kind::comma) {
                    ++pos_;
                    continue;
                }
                if (cur().kind == token_kind::rparen) break;
                return fail(cur().offset, "expected \",\" or \")\" in the arguments of " + n.text +
                                              "(), got " + describe(cur()));
            }
        }
        n.end = cur().offset;
        ++pos_;
        return add(std::move(n));
    }

    std::optional<std::uint32_t> field(node n) {
        n.kind = node_kind::field;
        bool first = true;
        while (true) {
            const token& t = cur();
            if (first && t.kind == token_kind::identifier) {
                n.path.segments.emplace_back(t.text);
                ++pos_;
            } else if (!first && t.kind == token_kind::dot) {
                ++pos_;
                if (cur().kind != token_kind::identifier) {
                    return fail(cur().offset,
                                "expected a field name after \".\", got " + describe(cur()));
                }
                n.path.segments.emplace_back(cur().text);
                ++pos_;
            } else if (t.kind == token_kind::lbracket) {
                ++pos_;
                if (cur().kind != token_kind::string) {
                    return fail(cur().offset,
                                "expected a quoted field name after \"[\", got " + describe(cur()));
                }
                n.path.segments.push_back(cur().value);
                ++pos_;
                if (cur().kind != token_kind::rbracket) {
                    return fail(cur().offset,
                                "expected \"]\" after the field name, got " + describe(cur()));
                }
                ++pos_;
            } else {
                break;
            }
            first = false;
        }
        if (cur().kind == token_kind::lparen) {
            return fail(cur().offset, "\"" + n.path.to_string() +
                                          "\" is not a function; functions have plain names "
                                          "such as lower(x)");
        }
        return add(std::move(n));
    }

    std::vector<token> tokens_;
    std::size_t pos_ = 0;
    syntax_tree tree_;
    std::optional<syntax_error> error_;
};

}  // namespace

namespace {

int precedence(const node& n) {
    switch (n.kind) {
        case node_kind::negate:
            return k_prec_unary;
        case node_kind::logical_not:
            return k_prec_not;
        case node_kind::binary:
            switch (n.op) {
                case binary_op::logical_or:
                    return k_prec_or;
                case binary_op::logical_and:
                    return k_prec_and;
                case binary_op::add:
                case binary_op::subtract:
                    return k_prec_additive;
                case binary_op::multiply:
                case binary_op::divide:
                case binary_op::modulo:
                    return k_prec_multiplicative;
                default:
                    return k_prec_compare;
            }
        default:
            return k_prec_unary + 1;  // atoms
    }
}

void write_path(const field_path& p, std::string& out) {
    for (std::size_t i = 0; i < p.segments.size(); ++i) {
        const std::string& s = p.segments[i];
        if (is_identifier(s) && !is_keyword(s)) {
            if (i > 0) out += '.';
            out += s;
        } else {
            out += '[' + quote(s) + ']';
        }
    }
}

void write_node(const syntax_tree& t, std::uint32_t i, std::string& out) {
    const node& n = t.nodes[i];
    const auto operand = [&](std::uint32_t child, bool parens) {
        if (parens) out += '(';
        write_node(t, child, out);
        if (parens) out += ')';
    };
    switch (n.kind) {
        case node_kind::literal:
            switch (n.type) {
                case value_type::number:
                    out += format_number(n.number);
                    break;
                case value_type::string:
                    out += quote(n.text);
                    break;
                case value_type::boolean:
                    out += n.boolean ? "true" : "false";
                    break;
                default:
                    out += "null";
                    break;
            }
            break;
        case node_kind::field:
            write_path(n.path, out);
            break;
        case node_kind::negate: {
            // "-(-x)" rather than "--x", which reads as a typo.
            const node& c = t.nodes[n.children[0]];
            out += '-';
            operand(n.children[0], precedence(c) <= k_prec_unary);
            break;
        }
        case node_kind::logical_not:
            out += "not ";
            operand(n.children[0], precedence(t.nodes[n.children[0]]) < k_prec_not);
            break;
        case node_kind::binary: {
            const int p = precedence(n);
            const int left = precedence(t.nodes[n.children[0]]);
            // Comparisons do not chain: an operand that is one needs parentheses either side.
            operand(n.children[0], p == k_prec_compare ? left <= p : left < p);
            out += ' ';
            out += spelling(n.op);
            out += ' ';
            operand(n.children[1], precedence(t.nodes[n.children[1]]) <= p);
            break;
        }
        case node_kind::call:
            out += n.text;
            out += '(';
            for (std::size_t a = 0; a < n.children.size(); ++a) {
                if (a > 0) out += ", ";
                write_node(t, n.children[a], out);
            }
            out += ')';
            break;
    }
}

}  // namespace

std::string canonical_text(const syntax_tree& tree) {
    std::string out;
    if (!tree.nodes.empty()) write_node(tree, tree.root, out);
    return out;
}

parse_result<syntax_tree> parse_expression(std::string_view text) {
    auto lexed = tokenize(text);
    if (!lexed) return parse_result<syntax_tree>(lexed.errors());
    return parser(std::move(*lexed)).run();
}

}  // namespace weir::expr
