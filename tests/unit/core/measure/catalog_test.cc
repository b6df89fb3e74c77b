// The aggregate function catalogue: complete against DESIGN.md §2 and the conditional
// measures of issue #18, sorted, consistent.
#include "core/measure/catalog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/measure/format.h"

namespace weir::measure {
namespace {

TEST(catalog, lists_every_function_of_the_design) {
    const char* design[] = {
        "count", "missing_count", "missing_fraction", "sum", "mean", "min", "max", "std_dev",
        "variance", "median", "percentile", "distinct_count", "distinct_fraction",
        "approx_distinct_count", "unique_count", "duplicate_count", "most_frequent",
        "most_frequent_count", "in_range_count", "in_range_fraction", "in_set_count",
        "in_set_fraction", "matches_count", "matches_fraction", "min_length", "max_length",
        "mean_length", "is_frozen", "ordered_fraction", "correlation", "freshness", "max_delay",
        "rate", "invalid_count", "invalid_fraction",
        // issue #18: schema drift
        "new_fields", "missing_fields", "type_changes",
        // issue #18: conditional measures
        "count_where", "fraction_where",
        // issue #15: SodaCL and Deequ names
        "avg", "avg_length", "row_count", "duplicate_fraction", "duplicate_percent",
        "missing_percent", "entropy", "mutual_information", "approx_quantile", "invalid_percent",
        "valid_count", "valid_fraction",
        // issue #15: the measures of Stream DaQ that weir lacked
        "window_duration", "median_length", "above_mean_count", "above_mean_fraction", "trend",
        "min_int_digits", "max_int_digits", "mean_int_digits", "median_int_digits",
        "min_frac_digits", "max_frac_digits", "mean_frac_digits", "median_frac_digits",
        "benford_deviation", "spearman_correlation", "kendall_correlation", "cramers_v",
        "distinct_placeholder_count", "distinct_placeholder_fraction", "most_frequent_in_range",
        "most_frequent_in_set", "heavy_hitters",
        // issue #15: population statistics
        "std_dev_pop", "variance_pop",
        // issue #16: weir's own view of its inputs, as measures
        "input_lag", "input_lag_seconds",
        // issue #12: keyed reconciliation of two inputs
        "reconcile"};
    for (const char* name : design) {
        const auto* fn = find_function(name);
        ASSERT_NE(fn, nullptr) << name;
        EXPECT_EQ(fn->name, name);
    }
    EXPECT_EQ(catalog().size(), std::size(design));
    EXPECT_EQ(find_function("average"), nullptr);
    EXPECT_EQ(find_function(""), nullptr);
    EXPECT_EQ(function_names().size(), catalog().size());
}

TEST(catalog, is_sorted_and_consistent) {
    const auto all = catalog();
    for (std::size_t i = 1; i < all.size(); ++i) {
        EXPECT_LT(all[i - 1].name, all[i].name);
    }
    for (const auto& fn : all) {
        EXPECT_LE(fn.min_args, fn.max_args) << fn.name;
        EXPECT_LE(fn.max_args, fn.args.size()) << fn.name;
        EXPECT_EQ(fn.signature.substr(0, fn.name.size()), fn.name);
        EXPECT_FALSE(fn.summary.empty()) << fn.name;
        EXPECT_EQ(find_function(fn.name), &fn);
        // Every field-taking function takes the field first; the conditional ones take
        // nothing but their condition.
        if (fn.max_args > 0 && fn.name.ends_with("_where")) {
            EXPECT_EQ(fn.args[0], arg_kind::expression) << fn.name;
            EXPECT_EQ(fn.max_args, 1) << fn.name;
        } else if (fn.max_args > 0) {
            EXPECT_EQ(fn.args[0], arg_kind::field) << fn.name;
        }
        for (const auto k : fn.arguments()) EXPECT_NE(to_string(k), "?") << fn.name;
    }
}

TEST(catalog, arities_kinds_and_results) {
    const auto* count = find_function("count");
    EXPECT_EQ(count->min_args, 0);
    EXPECT_EQ(count->max_args, 1);
    const auto* p = find_function("percentile");
    EXPECT_EQ(p->min_args, 2);
    EXPECT_EQ(p->args[1], arg_kind::probability);
    const auto* range = find_function("in_range_fraction");
    EXPECT_EQ(range->min_args, 3);
    EXPECT_EQ(range->max_args, 4);  // the denominator keyword
    EXPECT_EQ(range->args[1], arg_kind::number);
    EXPECT_EQ(range->args[2], arg_kind::number);
    EXPECT_EQ(range->args[3], arg_kind::keyword);
    EXPECT_EQ(range->default_keyword(3), "present");
    const auto* matches = find_function("matches_fraction");
    EXPECT_EQ(matches->keyword_position("search"), 2u);
    EXPECT_EQ(matches->keyword_position("records"), 3u);
    EXPECT_EQ(find_function("ordered_fraction")->default_keyword(1), "ascending");
    EXPECT_EQ(find_function("ordered_fraction")->default_keyword(2), "arrival");
    EXPECT_EQ(find_function("in_set_count")->args[1], arg_kind::literal_list);
    EXPECT_EQ(find_function("matches_fraction")->args[1], arg_kind::regex);
    EXPECT_EQ(find_function("correlation")->args[1], arg_kind::field);
    EXPECT_EQ(find_function("most_frequent")->result, result_type::field_value);
    EXPECT_EQ(find_function("is_frozen")->result, result_type::boolean);
    EXPECT_EQ(find_function("mean")->result, result_type::number);
    EXPECT_EQ(find_function("freshness")->max_args, 0);
}

TEST(catalog, format_keywords_are_the_format_table) {
    std::string words = "!";
    for (const auto& f : formats()) words += std::string(f.name) + "|";
    words.pop_back();
    for (const char* name : {"invalid_count", "invalid_fraction", "invalid_percent", "valid_count",
                             "valid_fraction"}) {
        const auto* fn = find_function(name);
        ASSERT_NE(fn, nullptr) << name;
        EXPECT_EQ(fn->args[1], arg_kind::keyword) << name;
        EXPECT_EQ(fn->words[1], words) << name;
        EXPECT_EQ(fn->default_keyword(1), "") << name;  // required with a field
    }
    EXPECT_EQ(find_function("invalid_count")->min_args, 0);  // invalid_count() stays
    EXPECT_EQ(find_function("valid_count")->min_args, 2);
    EXPECT_EQ(find_function("duplicate_count")->max_args, k_max_args);
}

TEST(catalog, aliases_stand_for_their_targets) {
    EXPECT_EQ(alias_target(*find_function("avg")), find_function("mean"));
    EXPECT_EQ(alias_target(*find_function("avg_length")), find_function("mean_length"));
    EXPECT_EQ(alias_target(*find_function("row_count")), find_function("count"));
    EXPECT_EQ(find_function("row_count")->max_args, 0);
    EXPECT_EQ(alias_target(*find_function("mean")), nullptr);
    for (const auto& fn : catalog()) {
        const function_info* target = alias_target(fn);
        if (target == nullptr) continue;
        EXPECT_EQ(alias_target(*target), nullptr) << fn.name;  // no chains
        EXPECT_EQ(fn.result, target->result) << fn.name;
        EXPECT_LE(fn.max_args, target->max_args) << fn.name;
        EXPECT_TRUE(fn.summary.starts_with("alias of " + std::string(target->name) + "("))
            << fn.name;
    }
}

TEST(catalog, only_freshness_max_delay_and_the_input_lags_read_the_clock) {
    for (const auto& fn : catalog()) {
        const bool clock = fn.name == "freshness" || fn.name == "max_delay" ||
                           fn.name == "input_lag" || fn.name == "input_lag_seconds";
        EXPECT_EQ(fn.reads_clock, clock) << fn.name;
    }
}

}  // namespace
}  // namespace weir::measure

namespace weir::measure {
namespace {

TEST(catalog, suggests_what_an_unknown_name_probably_meant) {
    EXPECT_EQ(suggest_function("meen"), "mean");
    EXPECT_EQ(suggest_function("cnt"), "count");
    EXPECT_EQ(suggest_function("avg"), "mean");
    EXPECT_EQ(suggest_function("stddev"), "std_dev");
    // DuckDB's and SQL's names of the sample and population statistics.
    EXPECT_EQ(suggest_function("stddev_pop"), "std_dev_pop");
    EXPECT_EQ(suggest_function("var_pop"), "variance_pop");
    EXPECT_EQ(suggest_function("stddev_samp"), "std_dev");
    EXPECT_EQ(suggest_function("var_samp"), "variance");
    EXPECT_EQ(suggest_function("quantile"), "percentile");
    EXPECT_EQ(suggest_function("percentil"), "percentile");
    EXPECT_EQ(suggest_function("frobnicate"), "");
    EXPECT_EQ(suggest_function("x"), "");
    EXPECT_EQ(suggest_function("count_if"), "count_where");
    EXPECT_EQ(suggest_function("fraction_if"), "fraction_where");
    EXPECT_EQ(suggest_function("count_wher"), "count_where");
}

}  // namespace
}  // namespace weir::measure
