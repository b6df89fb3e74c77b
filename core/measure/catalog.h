// The catalogue of aggregate functions a `measure:` may call (DESIGN.md §2, Measures): names,
// arities, argument kinds, result types. The single source for parsing, validation and docs.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weir::measure {

enum class arg_kind : std::uint8_t {
    field,         // a field path (in a two-input node also an input's name: count(orders))
    number,        // a numeric literal
    probability,   // a numeric literal in [0, 1]
    literal_list,  // [1, "a", true, null]
    regex,         // a string literal holding an RE2 pattern (full match)
    // A boolean expression of the `filter:` language (core/expr), e.g. `status >= 500`: the
    // rest of the argument list up to the call's ")"; typed and compiled like a filter.
    expression,
};

enum class result_type : std::uint8_t {
    number,
    string,
    boolean,
    // The measured field's own value (number, string or boolean): most_frequent(). Like string
    // and boolean results it cannot take part in arithmetic.
    field_value,
};

struct function_info {
    std::string_view name;
    std::array<arg_kind, 3> args{};  // the first max_args entries are meaningful
    std::uint8_t min_args = 0;
    std::uint8_t max_args = 0;
    result_type result = result_type::number;
    // Reads the wall clock, so a result re-emitted after a crash may differ: freshness() (clock
    // at window close) and max_delay() (arrival time of records).
    bool reads_clock = false;
    std::string_view signature;  // for messages and docs: "percentile(field, p)"
    std::string_view summary;

    std::span<const arg_kind> arguments() const { return {args.data(), max_args}; }
};

// Every function, sorted by name.
std::span<const function_info> catalog();

// nullptr when `name` is not a catalogue function.
const function_info* find_function(std::string_view name);

// The function an alias stands for (avg -> mean, avg_length -> mean_length, row_count ->
// count), or nullptr when `fn` is no alias. Parsing replaces an alias by its target.
const function_info* alias_target(const function_info& fn);

// The schema-drift measures (new_fields, missing_fields, type_changes): they read every field
// of a record, not one, through the node's drift tracker (core/schema/drift.h).
bool is_drift_function(std::string_view name);

// All names, for "did you mean" hints.
std::vector<std::string> function_names();

// The function a user probably meant by an unknown `name`, or "": a close spelling ("meen"),
// an abbreviation ("cnt") or a name other tools use ("avg", "stddev", "quantile").
std::string suggest_function(std::string_view name);

std::string_view to_string(arg_kind k);
std::string_view to_string(result_type t);

}  // namespace weir::measure
