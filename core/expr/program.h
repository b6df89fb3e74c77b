// Compiled expressions (`filter`, `set`, join keys): text -> tokens -> syntax tree -> type check
// -> a flat instruction vector evaluated over one record's field slots.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/expr/ast.h"
#include "core/expr/field_path.h"
#include "core/expr/scratch_arena.h"
#include "core/expr/syntax.h"
#include "core/record/field_value.h"
#include "core/time/timestamp.h"

namespace re2 {
class RE2;
}

namespace weir::expr {

// Declared field types, keyed by canonical path (field_path::to_string()).
using field_types = std::map<std::string, value_type, std::less<>>;

// Maps a field path to its slot in the record span; nullopt rejects the field as unknown.
using field_resolver = std::function<std::optional<std::uint32_t>(const field_path&)>;

struct compile_options {
    // When set, the complete set of fields records have (from a schema or an upstream node):
    // any other field is an error with a "did you mean". Unset: any field, of type any.
    const field_types* fields = nullptr;
    // Unset: slots are numbered 0, 1, ... in order of first appearance (see program::fields()).
    field_resolver resolve;
    // The type the caller needs (boolean for a filter). A statically different type is an error;
    // `any` in the expression is accepted (checked at run time by the caller).
    value_type expected = value_type::any;
};

// What the evaluator needs besides the record. `now` comes from the caller's (injectable) clock,
// read once per batch, in seconds since the Unix epoch.
struct eval_context {
    double now = 0;
};

struct field_ref {
    field_path path;
    std::uint32_t slot = 0;
};

// Run-time semantics (no exceptions, no allocation except from the caller's scratch_arena):
// - A slot beyond the record span reads as absent.
// - Arithmetic (+ - * / %, unary -) on numbers; + also concatenates two strings. Any other
//   operand (absent, null, another kind, an object) gives null; so does / or % by zero.
// - == and != compare values of the same kind; values of different kinds are unequal. With an
//   absent or null operand they give null, except `x == null` / `x != null` (a literal null),
//   which test for absent-or-null and are always true or false.
// - < <= > >= order two numbers, or two strings bytewise; anything else gives null.
// - and, or, not use three-valued (Kleene) logic where every non-boolean acts as "unknown":
//   false and X is false, true or X is true, otherwise unknown gives null. The right operand
//   of and/or is evaluated only when it can change the result.
// - Functions return null for an argument of the wrong kind (lower(5) is null).
// - A filter keeps a record only when the result is the boolean true (see program::test()).
class program {
  public:
    // The static result type.
    value_type type() const { return type_; }

    // The distinct fields read, with their slots, in order of first appearance.
    const std::vector<field_ref>& fields() const { return fields_; }

    // Whether now() is used (results then depend on the clock, not only on the record).
    bool reads_clock() const { return reads_clock_; }

    // Strings in the result point into the record, the program's literals or `arena`.
    field_value evaluate(std::span<const field_value> record, scratch_arena& arena,
                         const eval_context& ctx = {}) const;

    // For filters: true only when the result is the boolean true.
    bool test(std::span<const field_value> record, scratch_arena& arena,
              const eval_context& ctx = {}) const {
        const field_value v = evaluate(record, arena, ctx);
        return v.kind == value_kind::boolean && v.boolean;
    }

    enum class opcode : std::uint8_t {
        push_const,  // arg: constant index
        load_field,  // arg: slot
        negate,
        logical_not,
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
        is_null,
        is_not_null,
        and_short,  // arg: jump target when the top is false (leaves it)
        and_combine,
        or_short,  // arg: jump target when the top is true (leaves it)
        or_combine,
        lower,
        upper,
        len,
        abs,
        round,
        round_digits,
        to_number,
        to_string,
        contains,
        starts_with,
        matches,     // arg: regex index
        parse_time,  // arg: index into time_parsers_
        now,
    };

    struct instruction {
        opcode op;
        std::uint32_t arg = 0;
    };

    // The deepest evaluation stack an expression may need; deeper ones are rejected at compile.
    static constexpr std::size_t k_max_stack = 48;

  private:
    friend class compiler;

    std::vector<instruction> code_;
    std::vector<field_value> constants_;               // strings point into literal_text_
    std::shared_ptr<const std::string> literal_text_;  // stable across copies and moves
    std::vector<std::shared_ptr<const re2::RE2>> regexes_;
    std::vector<time::time_parser> time_parsers_;  // parse_time(): the same formats as time.format
    std::vector<field_ref> fields_;
    value_type type_ = value_type::any;
    bool reads_clock_ = false;
};

// Parses, type-checks and compiles. Never throws on bad input; every error found is returned
// (type errors are collected across the whole expression; syntax errors stop at the first).
parse_result<program> compile(std::string_view text, const compile_options& options = {});

// The names of the expression functions, for docs and suggestions.
std::vector<std::string> function_names();

// Seconds since the Unix epoch of an RFC 3339 timestamp ("2026-11-20T10:00:00.250Z",
// "...+02:00"; 't', 'z' and a space separator accepted), or nullopt.
std::optional<double> parse_rfc3339(std::string_view s);

}  // namespace weir::expr
