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
    // A bare word from a fixed set given by the function (function_info::words): a choice of
    // definition such as `linear` in percentile(x, 0.9, linear). Keyword parameters come last
    // and are optional unless their words say otherwise; a call may write them in any order.
    keyword,
};

// The most parameters a catalogue function has.
inline constexpr std::size_t k_max_args = 6;

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
    std::array<arg_kind, k_max_args> args{};  // the first max_args entries are meaningful
    std::uint8_t min_args = 0;
    std::uint8_t max_args = 0;
    result_type result = result_type::number;
    // Reads the wall clock, so a result re-emitted after a crash may differ: freshness() (clock
    // at window close) and max_delay() (arrival time of records).
    bool reads_clock = false;
    std::string_view signature;  // for messages and docs: "percentile(field, p)"
    std::string_view summary;
    // For each keyword parameter, its words separated by "|", the first the default
    // ("nearest|linear"); a leading "!" means no default: the keyword must be given whenever
    // the call has any other argument ("!email|uuid"). The word sets of one function are
    // disjoint, so a word tells which parameter it sets.
    std::array<std::string_view, k_max_args> words{};

    std::span<const arg_kind> arguments() const { return {args.data(), max_args}; }

    // The words of keyword parameter `position`, without the "!".
    std::vector<std::string_view> keywords(std::size_t position) const;
    // Its default word; "" when it has none.
    std::string_view default_keyword(std::size_t position) const;
    // The keyword parameter `word` belongs to, or max_args when none.
    std::size_t keyword_position(std::string_view word) const;
};

// Every function, sorted by name.
std::span<const function_info> catalog();

// nullptr when `name` is not a catalogue function.
const function_info* find_function(std::string_view name);

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
