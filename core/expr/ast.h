// The syntax tree of an expression, as the parser builds it and the type checker annotates it.
// Nodes live in one vector and refer to each other by index (no per-node allocation).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/expr/field_path.h"
#include "core/expr/syntax.h"

namespace weir::expr {

// Static types. A field is `any` unless a schema declares it; `null` is the type of the
// literal null only.
enum class value_type : std::uint8_t { any, number, string, boolean, null };

// "a number", "a string", "a boolean", "null", "any value".
std::string describe(value_type t);

enum class node_kind : std::uint8_t { literal, field, negate, logical_not, binary, call };

enum class binary_op : std::uint8_t {
    add,
    subtract,
    multiply,
    divide,
    modulo,
    equal,
    not_equal,
    less,
    less_equal,
    greater,
    greater_equal,
    logical_and,
    logical_or,
};

std::string_view spelling(binary_op op);  // "+", "==", "and", ...

struct node {
    node_kind kind = node_kind::literal;
    std::size_t start = 0;   // first character of the whole subexpression
    std::size_t offset = 0;  // the operator (unary, binary), the name (call, field), or start
    std::size_t end = 0;     // call: offset of ")"
    value_type type = value_type::any;  // literal: its type; others: set by the type checker

    double number = 0;     // literal number
    bool boolean = false;  // literal boolean
    std::string text;      // literal string, or the function name of a call
    field_path path;       // field
    binary_op op = binary_op::add;
    std::vector<std::uint32_t> children;  // operands, or call arguments
};

struct syntax_tree {
    std::vector<node> nodes;
    std::uint32_t root = 0;
};

// Precedence, loosest first: or, and, not, comparisons (not chainable), + -, * / %, unary -.
// Keywords and, or, not, true, false, null cannot name fields; write ["and"] instead.
parse_result<syntax_tree> parse_expression(std::string_view text);

// Canonical text of a parsed expression: one space around binary operators, parentheses only
// where precedence needs them, literals and field paths in their canonical spelling. Equal for
// expressions that differ only in layout (`a>1` and `(a > 1)`), so equal conditions of measures
// share their state; it parses back to the same tree.
std::string canonical_text(const syntax_tree& tree);

}  // namespace weir::expr
