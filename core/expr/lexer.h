// Tokens of the expression and measure languages (the assessment language has its own, smaller
// scanner because "5%" and "30s" are tokens there).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/expr/syntax.h"

namespace weir::expr {

enum class token_kind : std::uint8_t {
    end,  // after the last token; its offset is the text's length
    identifier,
    number,
    string,  // "double" or 'single' quoted
    lparen,
    rparen,
    lbracket,
    rbracket,
    comma,
    dot,
    plus,
    minus,
    star,
    slash,
    percent,
    eq,  // ==
    ne,  // !=
    lt,
    le,
    gt,
    ge,
};

struct token {
    token_kind kind = token_kind::end;
    std::size_t offset = 0;  // of the first character
    std::string_view text;   // the source spelling
    double number = 0;       // token_kind::number
    std::string value;       // token_kind::string, escapes decoded
};

// How a token kind is written, for messages: "\")\"", "a number", "the end".
std::string describe(token_kind k);
// How a token is shown in messages: `"foo"` (its source text) or "the end of the text".
std::string describe(const token& t);

// Strings decode \" \' \\ \n \t \r; any other backslash pair is kept as written, so regular
// expressions such as "^\d+$" need no doubled backslashes. The vector ends with an `end` token.
parse_result<std::vector<token>> tokenize(std::string_view text);

}  // namespace weir::expr
