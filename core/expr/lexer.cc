// Tokenizer shared by the expression and measure languages.
#include "core/expr/lexer.h"

#include <charconv>

namespace weir::expr {

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

std::string describe(token_kind k) {
    switch (k) {
        case token_kind::end:
            return "the end of the text";
        case token_kind::identifier:
            return "a name";
        case token_kind::number:
            return "a number";
        case token_kind::string:
            return "a string";
        case token_kind::lparen:
            return "\"(\"";
        case token_kind::rparen:
            return "\")\"";
        case token_kind::lbracket:
            return "\"[\"";
        case token_kind::rbracket:
            return "\"]\"";
        case token_kind::comma:
            return "\",\"";
        case token_kind::dot:
            return "\".\"";
        case token_kind::plus:
            return "\"+\"";
        case token_kind::minus:
            return "\"-\"";
        case token_kind::star:
            return "\"*\"";
        case token_kind::slash:
            return "\"/\"";
        case token_kind::percent:
            return "\"%\"";
        case token_kind::eq:
            return "\"==\"";
        case token_kind::ne:
            return "\"!=\"";
        case token_kind::lt:
            return "\"<\"";
        case token_kind::le:
            return "\"<=\"";
        case token_kind::gt:
            return "\">\"";
        case token_kind::ge:
            return "\">=\"";
    }
    return "?";
}

std::string describe(const token& t) {
    if (t.kind == token_kind::end) return describe(t.kind);
    return "\"" + std::string(t.text) + "\"";
}

parse_result<std::vector<token>> tokenize(std::string_view text) {
    std::vector<token> out;
    std::size_t i = 0;
    const auto error = [](std::size_t at, std::string message) {
        return parse_result<std::vector<token>>(syntax_error{at, std::move(message)});
    };
    while (true) {
        while (i < text.size() && is_space(text[i])) ++i;
        token t;
        t.offset = i;
        if (i >= text.size()) {
            t.kind = token_kind::end;
            out.push_back(std::move(t));
            return out;
        }
        const char c = text[i];
        const char n = i + 1 < text.size() ? text[i + 1] : '\0';
        if (is_alpha(c)) {
            std::size_t j = i + 1;
            while (j < text.size() && (is_alpha(text[j]) || is_digit(text[j]))) ++j;
            t.kind = token_kind::identifier;
            t.text = text.substr(i, j - i);
            i = j;
        } else if (is_digit(c) || (c == '.' && is_digit(n))) {
            std::size_t j = i;
            while (j < text.size() && is_digit(text[j])) ++j;
            if (j < text.size() && text[j] == '.' && j + 1 < text.size() && is_digit(text[j + 1])) {
                ++j;
                while (j < text.size() && is_digit(text[j])) ++j;
            }
            if (j < text.size() && (text[j] == 'e' || text[j] == 'E')) {
                std::size_t k = j + 1;
                if (k < text.size() && (text[k] == '+' || text[k] == '-')) ++k;
                if (k >= text.size() || !is_digit(text[k])) {
                    return error(k, "expected digits in the exponent of " +
                                        std::string(text.substr(i, k - i)));
                }
                while (k < text.size() && is_digit(text[k])) ++k;
                j = k;
            }
            const auto res = std::from_chars(text.data() + i, text.data() + j, t.number);
            if (res.ec != std::errc()) {
                return error(i,
                             "number " + std::string(text.substr(i, j - i)) + " is out of range");
            }
            if (j < text.size() && (is_alpha(text[j]) || is_digit(text[j]))) {
                return error(j, "unexpected \"" + std::string(1, text[j]) + "\" after the number " +
                                    std::string(text.substr(i, j - i)) +
                                    " (units and % are not part of expressions)");
            }
            t.kind = token_kind::number;
            t.text = text.substr(i, j - i);
            i = j;
        } else if (c == '"' || c == '\'') {
            std::size_t j = i + 1;
            bool closed = false;
            while (j < text.size()) {
                const char d = text[j];
                if (d == c) {
                    closed = true;
                    ++j;
                    break;
                }
                if (d == '\\' && j + 1 < text.size()) {
                    const char e = text[j + 1];
                    switch (e) {
                        case 'n':
                            t.value += '\n';
                            break;
                        case 't':
                            t.value += '\t';
                            break;
                        case 'r':
                            t.value += '\r';
                            break;
                        case '\\':
                        case '"':
                        case '\'':
                            t.value += e;
                            break;
                        default:
                            t.value += '\\';
                            t.value += e;
                    }
                    j += 2;
                    continue;
                }
                t.value += d;
                ++j;
            }
            if (!closed) {
                return error(i, "unterminated string: expected a closing " + std::string(1, c));
            }
            t.kind = token_kind::string;
            t.text = text.substr(i, j - i);
            i = j;
        } else {
            std::size_t len = 1;
            switch (c) {
                case '(':
                    t.kind = token_kind::lparen;
                    break;
                case ')':
                    t.kind = token_kind::rparen;
                    break;
                case '[':
                    t.kind = token_kind::lbracket;
                    break;
                case ']':
                    t.kind = token_kind::rbracket;
                    break;
                case ',':
                    t.kind = token_kind::comma;
                    break;
                case '.':
                    t.kind = token_kind::dot;
                    break;
                case '+':
                    t.kind = token_kind::plus;
                    break;
                case '-':
                    t.kind = token_kind::minus;
                    break;
                case '*':
                    t.kind = token_kind::star;
                    break;
                case '/':
                    t.kind = token_kind::slash;
                    break;
                case '%':
                    t.kind = token_kind::percent;
                    break;
                case '<':
                    if (n == '=')
                        t.kind = token_kind::le, len = 2;
                    else if (n == '>')
                        return error(i, R"(unknown operator "<>"; did you mean "!="?)");
                    else
                        t.kind = token_kind::lt;
                    break;
                case '>':
                    if (n == '=')
                        t.kind = token_kind::ge, len = 2;
                    else
                        t.kind = token_kind::gt;
                    break;
                case '=':
                    if (n == '=') {
                        t.kind = token_kind::eq;
                        len = 2;
                        break;
                    }
                    if (n == '>') return error(i, R"(unknown operator "=>"; did you mean ">="?)");
                    if (n == '<') return error(i, R"(unknown operator "=<"; did you mean "<="?)");
                    return error(i, R"(unknown operator "="; did you mean "=="?)");
                case '!':
                    if (n == '=') {
                        t.kind = token_kind::ne;
                        len = 2;
                        break;
                    }
                    return error(i, R"(unknown operator "!"; use "not" for negation)");
                case '&':
                    return error(i, n == '&' ? R"(unknown operator "&&"; did you mean "and"?)"
                                             : R"(unexpected character "&")");
                case '|':
                    return error(i, n == '|' ? R"(unknown operator "||"; did you mean "or"?)"
                                             : R"(unexpected character "|")");
                default:
                    if (static_cast<unsigned char>(c) >= 0x20 &&
                        static_cast<unsigned char>(c) < 0x7f) {
                        return error(i, "unexpected character \"" + std::string(1, c) + "\"");
                    }
                    return error(i, "unexpected character (byte " +
                                        std::to_string(static_cast<unsigned char>(c)) + ")");
            }
            t.text = text.substr(i, len);
            i += len;
        }
        out.push_back(std::move(t));
    }
}

}  // namespace weir::expr
