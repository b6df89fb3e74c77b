// The aggregate function table. Kept sorted by name (checked by a test) so lookups can bisect.
#include "core/measure/catalog.h"

#include <algorithm>
#include <utility>

#include "core/diag/diagnostic.h"

namespace weir::measure {

namespace {

using enum arg_kind;
constexpr arg_kind f = field;

// The formats of valid_count(field, format) and friends (core/measure/format.h), required.
constexpr std::string_view k_formats =
    "!email|uuid|ipv4|ipv6|date|date_time|phone|url|integer|decimal|percentage|credit_card";

// One function per entry reads better than one field per line.
// clang-format off
constexpr function_info k_functions[] = {
    {"above_mean_count", {f}, 1, 1, result_type::number, false,
     "above_mean_count(field)",
     "finite numbers strictly greater than the mean of the window's finite numbers (exact up "
     "to 65 536 numbers, no data beyond)"},
    {"above_mean_fraction", {f}, 1, 1, result_type::number, false,
     "above_mean_fraction(field)",
     "above_mean_count / finite numbers"},
    {"approx_distinct_count", {f}, 1, 1, result_type::number, false,
     "approx_distinct_count(field)",
     "distinct non-missing values, estimated with HyperLogLog++"},
    {"approx_quantile", {f, probability}, 2, 2, result_type::number, false,
     "approx_quantile(field, p)",
     "the p-quantile of numeric values from the DDSketch, always (1% relative accuracy)"},
    {"avg", {f}, 1, 1, result_type::number, false,
     "avg(field)",
     "alias of mean(field)"},
    {"avg_length", {f}, 1, 1, result_type::number, false,
     "avg_length(field)",
     "alias of mean_length(field)"},
    {"benford_deviation", {f}, 1, 1, result_type::number, false,
     "benford_deviation(field)",
     "mean absolute deviation of the first-significant-digit shares of finite non-zero "
     "numbers from Benford's law, log10(1 + 1/d)"},
    {"correlation", {f, f}, 2, 2, result_type::number, false,
     "correlation(a, b)",
     "Pearson correlation of two numeric fields over records where both are numbers"},
    {"count", {f}, 0, 1, result_type::number, false,
     "count() | count(field)",
     "records in the window; with a field, records where it is not missing (in a node reading "
     "several inputs, count(input) counts that input's records)"},
    {"count_where", {expression}, 1, 1, result_type::number, false,
     "count_where(condition)",
     "records for which the condition (an expression, as in filter:) is true"},
    {"cramers_v", {f, f}, 2, 2, result_type::number, false,
     "cramers_v(a, b)",
     "Cramér's V (no bias correction) of the contingency table of two fields' values over "
     "records where both are present (exact up to 65 536 pairs, no data beyond)"},
    {"distinct_count", {f}, 1, 1, result_type::number, false,
     "distinct_count(field)",
     "distinct non-missing values"},
    {"distinct_fraction", {f, keyword}, 1, 2, result_type::number, false,
     "distinct_fraction(field [, present|records])",
     "distinct non-missing values / non-missing values (records: / records)",
     {"", "present|records"}},
    {"distinct_placeholder_count", {f, literal_list}, 2, 2, result_type::number, false,
     "distinct_placeholder_count(field, [v, ...])",
     "how many of the listed literals (at most 64) occur in the field in the window"},
    {"distinct_placeholder_fraction", {f, literal_list}, 2, 2, result_type::number, false,
     "distinct_placeholder_fraction(field, [v, ...])",
     "distinct_placeholder_count / the number of listed literals"},
    {"duplicate_count", {f, f, f, f, f, f}, 1, 6, result_type::number, false,
     "duplicate_count(field, ...)",
     "non-missing values - distinct non-missing values; with several fields, records whose "
     "tuple of values occurred before in the window (records missing a field are skipped)"},
    {"duplicate_fraction", {f, f, f, f, f, f}, 1, 6, result_type::number, false,
     "duplicate_fraction(field, ...)",
     "duplicate_count / values (or records with every key field) considered"},
    {"duplicate_percent", {f, f, f, f, f, f}, 1, 6, result_type::number, false,
     "duplicate_percent(field, ...)",
     "100 * duplicate_fraction"},
    {"entropy", {f}, 1, 1, result_type::number, false,
     "entropy(field)",
     "Shannon entropy in bits of the distribution of non-missing values"},
    {"fraction_where", {expression}, 1, 1, result_type::number, false,
     "fraction_where(condition)",
     "count_where(condition) / records (no data when the window has none)"},
    {"freshness", {}, 0, 0, result_type::number, true,
     "freshness()",
     "seconds between the wall clock at window close and the newest event time"},
    {"heavy_hitters", {f, probability}, 2, 2, result_type::number, false,
     "heavy_hitters(field, phi)",
     "distinct values that make up at least phi (0 < phi < 1) of the present values, from a "
     "bounded Misra-Gries summary: none missed, none counted below phi / 2"},
    {"in_range_count", {f, number, number}, 3, 3, result_type::number, false,
     "in_range_count(field, lo, hi)",
     "numeric values v with lo <= v <= hi"},
    {"in_range_fraction", {f, number, number, keyword}, 3, 4, result_type::number, false,
     "in_range_fraction(field, lo, hi [, present|records])",
     "in_range_count / non-missing values (records: / records)",
     {"", "", "", "present|records"}},
    {"in_set_count", {f, literal_list}, 2, 2, result_type::number, false,
     "in_set_count(field, [v, ...])",
     "values equal to one of the listed literals"},
    {"in_set_fraction", {f, literal_list, keyword}, 2, 3, result_type::number, false,
     "in_set_fraction(field, [v, ...] [, present|records])",
     "in_set_count / non-missing values (records: / records)",
     {"", "", "present|records"}},
    {"input_lag", {}, 0, 0, result_type::number, true,
     "input_lag()",
     "records the node's inputs are behind the end of what they read when the window closes "
     "(Kafka: messages behind the partitions' high watermarks, summed); no data for inputs that "
     "do not know (files, sockets)"},
    {"input_lag_seconds", {}, 0, 0, result_type::number, true,
     "input_lag_seconds()",
     "event-time age of the last record the node's inputs read while behind, when the window "
     "closes (the largest of its Kafka partitions'; 0 when caught up); no data for inputs that "
     "do not know"},
    {"invalid_count", {f, keyword}, 0, 2, result_type::number, false,
     "invalid_count() | invalid_count(field, format)",
     "records that violated the node's schema; with a field and a format, present values "
     "that do not have the format",
     {"", k_formats}},
    {"invalid_fraction", {f, keyword}, 0, 2, result_type::number, false,
     "invalid_fraction() | invalid_fraction(field, format)",
     "invalid_count / records; with a field and a format, invalid values / present values",
     {"", k_formats}},
    {"invalid_percent", {f, keyword}, 2, 2, result_type::number, false,
     "invalid_percent(field, format)",
     "100 * invalid_fraction(field, format)",
     {"", k_formats}},
    {"is_frozen", {f}, 1, 1, result_type::boolean, false,
     "is_frozen(field)",
     "true when every non-missing value in the window is the same (a stuck sensor)"},
    {"kendall_correlation", {f, f}, 2, 2, result_type::number, false,
     "kendall_correlation(a, b)",
     "Kendall's tau-b of two numeric fields over records where both are numbers (exact up to "
     "65 536 pairs, no data beyond)"},
    {"matches_count", {f, regex, keyword}, 2, 3, result_type::number, false,
     "matches_count(field, \"regex\" [, full|search])",
     "string values the RE2 pattern fully matches (search: matches anywhere)",
     {"", "", "full|search"}},
    {"matches_fraction", {f, regex, keyword, keyword}, 2, 4, result_type::number, false,
     "matches_fraction(field, \"regex\" [, search] [, records])",
     "matches_count / non-missing values (records: / records)",
     {"", "", "full|search", "present|records"}},
    {"max", {f}, 1, 1, result_type::number, false,
     "max(field)",
     "largest numeric value"},
    {"max_delay", {}, 0, 0, result_type::number, true,
     "max_delay()",
     "largest arrival time - event time, in seconds"},
    {"max_frac_digits", {f}, 1, 1, result_type::number, false,
     "max_frac_digits(field)",
     "largest number of digits of the fractional part of finite numbers, as their shortest round-trip "
     "decimal text writes them"},
    {"max_int_digits", {f}, 1, 1, result_type::number, false,
     "max_int_digits(field)",
     "largest number of digits of the integer part of finite numbers, as their shortest round-trip "
     "decimal text writes them"},
    {"max_length", {f}, 1, 1, result_type::number, false,
     "max_length(field)",
     "longest string value, in characters"},
    {"mean", {f}, 1, 1, result_type::number, false,
     "mean(field)",
     "mean of numeric values"},
    {"mean_frac_digits", {f}, 1, 1, result_type::number, false,
     "mean_frac_digits(field)",
     "mean number of digits of the fractional part of finite numbers, as their shortest round-trip "
     "decimal text writes them"},
    {"mean_int_digits", {f}, 1, 1, result_type::number, false,
     "mean_int_digits(field)",
     "mean number of digits of the integer part of finite numbers, as their shortest round-trip "
     "decimal text writes them"},
    {"mean_length", {f}, 1, 1, result_type::number, false,
     "mean_length(field)",
     "mean string length, in characters"},
    {"median", {f, keyword}, 1, 2, result_type::number, false,
     "median(field [, linear|nearest])",
     "percentile(field, 0.5): exact while the window holds at most exact_quantile_limit "
     "numbers, a bounded-memory sketch beyond",
     {"", "linear|nearest"}},
    {"median_frac_digits", {f}, 1, 1, result_type::number, false,
     "median_frac_digits(field)",
     "median number of digits of the fractional part of finite numbers, as their shortest round-trip "
     "decimal text writes them"},
    {"median_int_digits", {f}, 1, 1, result_type::number, false,
     "median_int_digits(field)",
     "median number of digits of the integer part of finite numbers, as their shortest round-trip "
     "decimal text writes them"},
    {"median_length", {f}, 1, 1, result_type::number, false,
     "median_length(field)",
     "median string length, in characters (exact; the mean of the two middle lengths for an "
     "even count)"},
    {"min", {f}, 1, 1, result_type::number, false,
     "min(field)",
     "smallest numeric value"},
    {"min_frac_digits", {f}, 1, 1, result_type::number, false,
     "min_frac_digits(field)",
     "smallest number of digits of the fractional part of finite numbers, as their shortest round-trip "
     "decimal text writes them"},
    {"min_int_digits", {f}, 1, 1, result_type::number, false,
     "min_int_digits(field)",
     "smallest number of digits of the integer part of finite numbers, as their shortest round-trip "
     "decimal text writes them"},
    {"min_length", {f}, 1, 1, result_type::number, false,
     "min_length(field)",
     "shortest string value, in characters"},
    {"missing_count", {f, literal_list}, 1, 2, result_type::number, false,
     "missing_count(field [, [placeholder, ...]])",
     "records where the field is absent, null, \"\" or one of the listed placeholders"},
    {"missing_fields", {}, 0, 0, result_type::number, false,
     "missing_fields()",
     "expected fields (the schema's, or those of the first window) that no record of the "
     "window has; the result's `fields` names them"},
    {"missing_fraction", {f, literal_list}, 1, 2, result_type::number, false,
     "missing_fraction(field [, [placeholder, ...]])",
     "missing_count / records"},
    {"missing_percent", {f, literal_list}, 1, 2, result_type::number, false,
     "missing_percent(field [, [placeholder, ...]])",
     "100 * missing_fraction"},
    {"most_frequent", {f}, 1, 1, result_type::field_value, false,
     "most_frequent(field)",
     "the most frequent non-missing value"},
    {"most_frequent_count", {f}, 1, 1, result_type::number, false,
     "most_frequent_count(field)",
     "how often the most frequent value occurs"},
    {"most_frequent_in_range", {f, number, number}, 3, 3, result_type::boolean, false,
     "most_frequent_in_range(field, lo, hi)",
     "whether the most frequent value (as most_frequent picks it) is a number v with "
     "lo <= v <= hi"},
    {"most_frequent_in_set", {f, literal_list}, 2, 2, result_type::boolean, false,
     "most_frequent_in_set(field, [v, ...])",
     "whether the most frequent value (as most_frequent picks it) is one of the listed literals"},
    {"mutual_information", {f, f}, 2, 2, result_type::number, false,
     "mutual_information(a, b)",
     "mutual information in bits of two fields over records where both are present"},
    {"new_fields", {}, 0, 0, result_type::number, false,
     "new_fields()",
     "fields (nested ones too) that records of the window have and the node does not expect; "
     "the result's `fields` names them"},
    {"ordered_fraction", {f, keyword, keyword}, 1, 3, result_type::number, false,
     "ordered_fraction(field [, order] [, arrival|event_time])",
     "fraction of consecutive numeric values (in arrival or event-time order) in the order: "
     "ascending (not decreasing), strictly_ascending, descending or strictly_descending",
     {"", "ascending|strictly_ascending|descending|strictly_descending", "arrival|event_time"}},
    {"percentile", {f, probability, keyword}, 2, 3, result_type::number, false,
     "percentile(field, p [, linear|nearest])",
     "the p-quantile (0 <= p <= 1) of numeric values: linear between the closest ranks, or the "
     "nearest rank; exact while the window holds at most exact_quantile_limit numbers, a "
     "bounded-memory sketch beyond",
     {"", "", "linear|nearest"}},
    {"rate", {}, 0, 0, result_type::number, false,
     "rate()",
     "records per second of window length"},
    {"reconcile", {f, f, keyword, keyword}, 2, 4, result_type::number, false,
     "reconcile(left.key, right.key [, side] [, count|fraction])",
     "in a node reading several inputs: the distinct keys of two inputs compared per window "
     "and group; side is missing (the default), missing_left, missing_right or matched: the "
     "keys missing on either side (missing_left: right keys no left record "
     "has; missing_right: left keys no right record has; matched: keys of both), as a count "
     "or a fraction (of the keys of both sides; of the left keys for missing_right, of the "
     "right keys for missing_left)",
     {"", "", "missing|missing_left|missing_right|matched", "count|fraction"}},
    {"row_count", {}, 0, 0, result_type::number, false,
     "row_count()",
     "alias of count(): records in the window"},
    {"spearman_correlation", {f, f}, 2, 2, result_type::number, false,
     "spearman_correlation(a, b)",
     "Spearman's rank correlation of two numeric fields over records where both are numbers, "
     "ties sharing their mean rank (exact up to 65 536 pairs, no data beyond)"},
    {"std_dev", {f}, 1, 1, result_type::number, false,
     "std_dev(field)",
     "sample standard deviation (n - 1) of numeric values"},
    {"std_dev_pop", {f}, 1, 1, result_type::number, false,
     "std_dev_pop(field)",
     "population standard deviation (n) of numeric values"},
    {"sum", {f}, 1, 1, result_type::number, false,
     "sum(field)",
     "sum of numeric values"},
    {"trend", {f, f}, 1, 2, result_type::number, false,
     "trend(x [, t])",
     "least-squares slope of x against the numeric field t over records where both are finite "
     "numbers; without t, against event time in seconds"},
    {"type_changes", {}, 0, 0, result_type::number, false,
     "type_changes()",
     "fields that records of the window have with a JSON type other than the field's "
     "first-seen one (null aside); the result's `fields` names them"},
    {"unique_count", {f}, 1, 1, result_type::number, false,
     "unique_count(field)",
     "values seen exactly once"},
    {"valid_count", {f, keyword}, 2, 2, result_type::number, false,
     "valid_count(field, format)",
     "present values that have the format (email, uuid, ipv4, date, ...)",
     {"", k_formats}},
    {"valid_fraction", {f, keyword}, 2, 2, result_type::number, false,
     "valid_fraction(field, format)",
     "valid_count / present values",
     {"", k_formats}},
    {"variance", {f}, 1, 1, result_type::number, false,
     "variance(field)",
     "sample variance (n - 1) of numeric values"},
    {"variance_pop", {f}, 1, 1, result_type::number, false,
     "variance_pop(field)",
     "population variance (n) of numeric values"},
    {"window_duration", {}, 0, 0, result_type::number, false,
     "window_duration()",
     "seconds from the window's start to its end (a session: its first record's event time to "
     "its last one's + gap)"},
};
// clang-format on

// Names users of other tools reach for: a call of one is a call of its target, with the
// target's canonical key (avg(x) and mean(x) share one accumulator). Each has its own entry
// above, so that its arity and signature are its own (row_count() takes no field).
constexpr std::pair<std::string_view, std::string_view> k_alias_targets[] = {
    {"avg", "mean"},
    {"avg_length", "mean_length"},
    {"row_count", "count"},
};

}  // namespace

bool is_drift_function(std::string_view name) {
    return name == "new_fields" || name == "missing_fields" || name == "type_changes";
}

const function_info* alias_target(const function_info& fn) {
    for (const auto& [alias, target] : k_alias_targets) {
        if (alias == fn.name) return find_function(target);
    }
    return nullptr;
}

std::vector<std::string_view> function_info::keywords(std::size_t position) const {
    std::vector<std::string_view> out;
    if (position >= max_args || args[position] != arg_kind::keyword) return out;
    std::string_view w = words[position];
    if (!w.empty() && w.front() == '!') w.remove_prefix(1);
    while (!w.empty()) {
        const std::size_t bar = w.find('|');
        out.push_back(w.substr(0, bar));
        if (bar == std::string_view::npos) break;
        w.remove_prefix(bar + 1);
    }
    return out;
}

std::string_view function_info::default_keyword(std::size_t position) const {
    if (position >= max_args || args[position] != arg_kind::keyword) return {};
    const std::string_view w = words[position];
    if (w.empty() || w.front() == '!') return {};
    return w.substr(0, w.find('|'));
}

std::size_t function_info::keyword_position(std::string_view word) const {
    for (std::size_t i = 0; i < max_args; ++i) {
        for (const std::string_view k : keywords(i)) {
            if (k == word) return i;
        }
    }
    return max_args;
}

std::span<const function_info> catalog() {
    return k_functions;
}

const function_info* find_function(std::string_view name) {
    const auto it =
        std::lower_bound(std::begin(k_functions), std::end(k_functions), name,
                         [](const function_info& fi, std::string_view n) { return fi.name < n; });
    if (it == std::end(k_functions) || it->name != name) return nullptr;
    return &*it;
}

std::vector<std::string> function_names() {
    std::vector<std::string> out;
    for (const auto& fi : k_functions) out.emplace_back(fi.name);
    return out;
}

std::string suggest_function(std::string_view name) {
    static constexpr std::pair<std::string_view, std::string_view> k_aliases[] = {
        {"avg", "mean"},
        {"average", "mean"},
        {"stddev", "std_dev"},
        {"stdev", "std_dev"},
        {"std", "std_dev"},
        {"var", "variance"},
        {"var_samp", "variance"},
        {"var_pop", "variance_pop"},
        {"stddev_samp", "std_dev"},
        {"stddev_pop", "std_dev_pop"},
        {"pstdev", "std_dev_pop"},
        {"pvariance", "variance_pop"},
        {"quantile", "percentile"},
        {"nunique", "distinct_count"},
        {"null_count", "missing_count"},
        {"null_fraction", "missing_fraction"},
        {"lag", "freshness"},
        {"total", "sum"},
        {"count_if", "count_where"},
        {"countif", "count_where"},
        {"fraction_if", "fraction_where"},
        {"ratio_where", "fraction_where"},
    };
    for (const auto& [alias, target] : k_aliases) {
        if (alias == name) return std::string(target);
    }
    std::string best = nearest(name, function_names());
    if (!best.empty() || name.size() < 2) return best;
    // An abbreviation: the letters of `name` appear in order in exactly one short-enough name.
    std::string only;
    for (const auto& fi : k_functions) {
        if (fi.name.size() > name.size() + 3) continue;
        std::size_t j = 0;
        for (const char c : fi.name) {
            if (j < name.size() && c == name[j]) ++j;
        }
        if (j == name.size() && name.front() == fi.name.front()) {
            if (!only.empty()) return "";
            only = fi.name;
        }
    }
    return only;
}

std::string_view to_string(arg_kind k) {
    switch (k) {
        case arg_kind::field:
            return "a field";
        case arg_kind::number:
            return "a number";
        case arg_kind::probability:
            return "a probability between 0 and 1";
        case arg_kind::literal_list:
            return "a list of literals such as [\"a\", 1]";
        case arg_kind::regex:
            return "a quoted regular expression";
        case arg_kind::expression:
            return "a condition such as status >= 500";
        case arg_kind::keyword:
            return "a keyword";
    }
    return "?";
}

std::string_view to_string(result_type t) {
    switch (t) {
        case result_type::number:
            return "number";
        case result_type::string:
            return "string";
        case result_type::boolean:
            return "boolean";
        case result_type::field_value:
            return "the field's value";
    }
    return "?";
}

}  // namespace weir::measure
