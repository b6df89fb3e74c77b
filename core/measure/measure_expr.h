// The `measure:` language: arithmetic (+ - * /, parentheses, numbers) over aggregate calls such as
// `missing_count(x) / count()` or `percentile(latency, 0.99)`. Parsing yields the distinct
// aggregate calls (each with a canonical key, so equal calls share one accumulator across the
// checks of a node) and a compiled arithmetic over their results.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/expr/field_path.h"
#include "core/expr/syntax.h"
#include "core/measure/catalog.h"
#include "core/measure/measure_value.h"

namespace re2 {
class RE2;
}

namespace weir::measure {

struct call_argument {
    arg_kind kind = arg_kind::field;
    std::size_t offset = 0;  // in the measure text
    // The parameter this argument sets: its index in the call's arguments, except for keywords,
    // which may be written in any order and set the parameter their word belongs to.
    std::uint8_t position = 0;
    std::string_view word;                  // keyword: the catalogue's word (static storage)
    field_path field;                       // field (or, in a two-input node, an input's name)
    double number = 0;                      // number, probability
    std::vector<measure_value> list;        // literal_list: sorted canonically, no duplicates
    std::string pattern;                    // regex
    std::shared_ptr<const re2::RE2> regex;  // regex, compiled and known to be valid
    // expression: the text as written (from its first character to the call's ")", trailing
    // blanks removed), its canonical text (expr::canonical_text: equal conditions share
    // state) and the fields it reads. It compiled as a boolean expression with every field of
    // type any; typed checks against a schema are the config layer's.
    std::string expression;
    std::string condition;
    std::vector<field_path> condition_fields;
    bool condition_reads_clock = false;  // now()
};

struct aggregate_call {
    const function_info* function = nullptr;
    std::vector<call_argument> args;
    // Canonical spelling, equal for calls that compute the same thing: `mean(x)`,
    // `percentile(latency, 0.99)`, `in_set_count(status, ["ok", "warn"])`. Accumulators are
    // shared by this key.
    std::string key;
    std::size_t offset = 0;  // of the first occurrence's function name
    // In a node reading several inputs without a join: the input whose records alone the call
    // measures, named by the first segment of its field arguments (`sum(orders.amount)` sums
    // the `amount` of the records of `orders`; `count(orders)` counts them). The arguments
    // then hold the rest of the path (`amount`; count() has none). "" : every record. The key
    // stays as written, so it tells the call apart from the same call over every record.
    // reconcile(orders.k, payments.k) names two inputs: this is the first, `other` the second.
    std::string source;
    std::string other;

    // The word of keyword parameter `position`: as written, else its default. Arguments are
    // ordered by position, and a keyword equal to its default is left out of them (and of the
    // key), so `percentile(x, 0.9)` and `percentile(x, 0.9, nearest)` are one call.
    std::string_view word(std::size_t position) const;
};

class measure_expr {
  public:
    // Distinct calls, in order of first appearance.
    const std::vector<aggregate_call>& calls() const { return calls_; }

    // What the measure yields: `number` unless the measure is a single call of a function with
    // another result type (most_frequent, is_frozen).
    result_type result() const { return result_; }

    // Whether a function or a condition (now()) reads the wall clock.
    bool reads_clock() const;

    // Whether the measure is one call and nothing else (`missing_fraction(x)`, not
    // `missing_count(x) / count()`).
    bool single_call() const { return program_.size() == 1 && program_[0].op == opcode::push_call; }

    // `values[i]` is the result of `calls()[i]` for one window and group. Arithmetic is on
    // numbers; a null or non-number operand gives null (no data), so does a division by zero
    // and any NaN. A single call's value is passed through unchanged.
    measure_value evaluate(std::span<const measure_value> values) const;

    // Canonical text: calls by key, one space around binary operators, parentheses only where
    // needed: "missing_count(x) / count()", "(a - b) / c".
    std::string to_string() const;

    // In a node reading the inputs `sources` (several, without a join): binds each call whose
    // field arguments start with an input's name to that input (aggregate_call::source).
    // Calls already bound are left alone. On a call that mixes inputs, or names an input in a
    // condition, returns the message and the offset of the call; nullopt when all is well.
    struct bind_error {
        std::size_t offset = 0;
        std::string message;
    };
    std::optional<bind_error> bind_sources(std::span<const std::string> sources);

    enum class opcode : std::uint8_t {
        push_call,
        push_number,
        add,
        subtract,
        multiply,
        divide,
        negate
    };
    struct instruction {
        opcode op;
        std::uint32_t index = 0;  // push_call: index into calls()
        double number = 0;        // push_number
    };

  private:
    friend class measure_parser;

    std::vector<aggregate_call> calls_;
    std::vector<instruction> program_;  // postfix; evaluated with a fixed-size stack
    result_type result_ = result_type::number;
};

// The deepest nesting a measure may have (the evaluator's stack is this big and never grows).
inline constexpr std::size_t k_max_measure_depth = 32;

// Never throws on bad input: a malformed measure yields one error positioned at the offending
// character (unknown function with a suggestion, arity, argument kinds, p outside [0, 1], bad
// regex, a bare field outside a function, trailing text, an error of a condition's expression
// at its character in the measure).
parse_result<measure_expr> parse_measure(std::string_view text);

// The same over another table of functions, sorted by name (tests of the argument machinery).
parse_result<measure_expr> parse_measure(std::string_view text,
                                         std::span<const function_info> functions);

}  // namespace weir::measure
