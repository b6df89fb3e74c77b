// Property tests of the node engine against a brute-force reference: random disordered streams
// (late records, nulls, wrong types, invalid records, many groups) for every window kind and
// every measure, also under check filters; and checkpoint round trips at random points
// mid-stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include "core/sketch/hash.h"
#include "core/window/window_spec.h"
#include "tests/unit/core/engine/engine_harness.h"

namespace weir {
// Readable failures.
inline void PrintTo(const measure_value& v, std::ostream* os) {
    *os << to_string(v);
}
}  // namespace weir

namespace weir::test {
namespace {

using engine::node_engine;
using engine::node_plan;

const std::vector<std::string> k_measures = {
    "count()",
    "count(x)",
    "missing_count(x)",
    "missing_fraction(x, [\"N/A\"])",
    "missing_count(x, [1, 40.0, \"1\", false])",
    "sum(x)",
    "mean(x)",
    "min(x)",
    "max(x)",
    "std_dev(x)",
    "variance(x)",
    "median(x)",
    "percentile(x, 0.9)",
    "percentile(x, 0.9, linear)",
    "percentile(x, 0.9, nearest)",
    "median(x, nearest)",
    "distinct_count(x)",
    "distinct_fraction(x)",
    "approx_distinct_count(x)",
    "unique_count(x)",
    "duplicate_count(x)",
    "most_frequent(x)",
    "most_frequent_count(x)",
    "in_range_count(x, 10, 40)",
    "in_range_fraction(x, 10, 40)",
    "in_set_count(x, [1, 2, \"a\", true])",
    "in_set_fraction(x, [1, 2, \"a\", true])",
    "matches_count(x, \"[a-z].*\")",
    "matches_fraction(x, \"[a-z].*\")",
    "min_length(x)",
    "max_length(x)",
    "mean_length(x)",
    "is_frozen(y)",
    "ordered_fraction(y)",
    "correlation(x, y)",
    "freshness()",
    "max_delay()",
    "rate()",
    "invalid_count()",
    "invalid_fraction()",
    "missing_count(x) / count()",
    "count_where(x >= 10 and x <= 40)",
    "fraction_where(y > 3)",
    "count_where(y == 0 or x == \"a\")",
    "fraction_where(x == null)",
    "count_where(y > 3) / count()",
    "row_count()",
    "avg(x)",
    "avg_length(x)",
    "missing_percent(x, [\"N/A\"])",
    "duplicate_fraction(x)",
    "duplicate_percent(x)",
    "duplicate_count(x, y)",
    "duplicate_fraction(x, y)",
    "duplicate_percent(y, x)",
    "entropy(x)",
    "mutual_information(x, y)",
    "approx_quantile(x, 0.9)",
    "valid_count(x, integer)",
    "invalid_fraction(x, decimal)",
    "invalid_percent(x, email)",
    "trend(x, y)",
    "trend(y)",
    "median_length(x)",
    "above_mean_count(x)",
    "above_mean_fraction(x)",
    "window_duration()",
    "min_int_digits(x)",
    "max_int_digits(x)",
    "mean_int_digits(x)",
    "median_int_digits(x)",
    "min_frac_digits(x)",
    "max_frac_digits(x)",
    "mean_frac_digits(x)",
    "median_frac_digits(x)",
    "benford_deviation(x)",
    "spearman_correlation(x, y)",
    "kendall_correlation(x, y)",
    "cramers_v(x, y)",
    "distinct_placeholder_count(x, [\"N/A\", 1, -999, true, null])",
    "distinct_placeholder_fraction(x, [\"zz\", 2, \"\"])",
    "most_frequent_in_range(x, 10, 40)",
    "most_frequent_in_set(x, [1, 2, \"a\", true])",
    "heavy_hitters(x, 0.1)",
    "heavy_hitters(y, 0.3)",
    "std_dev_pop(x)",
    "variance_pop(x)",
    "distinct_fraction(x, records)",
    "in_range_fraction(x, 10, 40, records)",
    "in_set_fraction(x, [1, 2, \"a\", true], records)",
    "matches_count(x, \"[a-z]\", search)",
    "matches_fraction(x, \"[a-z]\", search, records)",
    "ordered_fraction(y, strictly_descending)",
    "ordered_fraction(y, ascending, event_time)",
    "ordered_fraction(y, strictly_ascending, event_time)",
    "ordered_fraction(y, descending, event_time)"};

// Checks with a filter: each filter with each of these measures (the unfiltered ones above
// share nothing with them).
const std::vector<std::string> k_filters = {"y >= 4", "x > 25 or x == \"bb\""};
const std::vector<std::string> k_filtered_measures = {"count()",
                                                      "count(x)",
                                                      "sum(x)",
                                                      "mean(x)",
                                                      "min(x)",
                                                      "max(x)",
                                                      "std_dev(x)",
                                                      "variance_pop(x)",
                                                      "median(x)",
                                                      "distinct_count(x)",
                                                      "missing_fraction(x, [\"N/A\"])",
                                                      "in_range_count(x, 10, 40)",
                                                      "in_range_fraction(x, 10, 40)",
                                                      "in_range_fraction(x, 10, 40, records)",
                                                      "ordered_fraction(y, descending, event_time)",
                                                      "rate()",
                                                      "freshness()",
                                                      "max_delay()",
                                                      "count_where(x >= 10 and x <= 40)",
                                                      "fraction_where(y > 3)",
                                                      "duplicate_count(x, y)",
                                                      "entropy(x)"};

// What the filters and conditions above mean, written out: only a true result matches (a
// comparison with null, absent or another kind of value is null or false).
bool holds(const std::string& condition, const test_record& r) {
    const auto number = [](const field_value& v, double& x) {
        if (v.kind != value_kind::number) return false;
        x = v.number;
        return true;
    };
    double x = 0, y = 0;
    const bool xn = number(r.x, x), yn = number(r.y, y);
    if (condition == "x >= 10 and x <= 40") return xn && x >= 10 && x <= 40;
    if (condition == "y > 3") return yn && y > 3;
    if (condition == "y >= 4") return yn && y >= 4;
    if (condition == "y == 0 or x == \"a\"") {
        return (yn && y == 0) || (r.x.is_string() && r.x.string() == "a");
    }
    if (condition == "x == null") return r.x.missing() && !r.x.is_string();
    if (condition == "x > 25 or x == \"bb\"") {
        return (xn && x > 25) || (r.x.is_string() && r.x.string() == "bb");
    }
    ADD_FAILURE() << "no reference for condition " << condition;
    return false;
}

// The checks of the property tests: the measures over every record, then each filter with
// each filtered measure.
struct test_check {
    std::string measure;
    std::string filter;  // "" for none
};

std::vector<test_check> all_checks() {
    std::vector<test_check> out;
    for (const auto& m : k_measures) out.push_back({m, ""});
    for (const auto& f : k_filters) {
        for (const auto& m : k_filtered_measures) out.push_back({m, f});
    }
    return out;
}

struct stream_record {
    test_record rec;
    timestamp_ns arrival;
    std::size_t seq = 0;  // arrival order among the accepted records
};

struct scenario {
    window::window_spec w;
    bool grouped;
    timestamp_ns ttl;
    // median and percentile: exact up to this many values per (window or pane, group). The
    // small limits make windows cross it, also in merges of panes that are exact on their own.
    std::uint32_t exact_quantile_limit = measure::k_default_exact_quantile_limit;
    bool empty_is_missing = true;  // the node's empty_is_missing
    // Only the checks whose state owns no heap memory: sliding windows then merge folds of
    // their panes (suffixes and prefixes, see node_engine::pane_folds) instead of each pane.
    bool plain_counters = false;
};

// The reference's "missing": absent, null, and "" unless the scenario's node says otherwise.
bool g_empty_is_missing = true;
bool is_missing(const field_value& v) {
    return v.kind == value_kind::absent || v.kind == value_kind::null ||
           (g_empty_is_missing && v.is_string() && v.string().empty());
}

struct generated {
    std::vector<std::vector<test_record>> batches;
    std::vector<timestamp_ns> arrivals;
};

generated generate(std::mt19937_64& rng, string_pool& pool, std::size_t n, int groups) {
    generated g;
    std::uniform_real_distribution<double> unit(0, 1);
    static const char* const words[] = {"a", "bb", "N/A", "", "h\xc3\xa9llo", "zz", "1"};
    timestamp_ns now = 1'000 * k_s;
    std::vector<test_record> batch;
    for (std::size_t i = 0; i < n; ++i) {
        now += static_cast<timestamp_ns>(unit(rng) * 400) * k_ms;
        if (unit(rng) < 0.03) now += 7 * k_s;  // pauses, so sessions end
        test_record r;
        // Disorder: most records a little behind, some far behind (late), a few ahead.
        const double d = unit(rng);
        r.t = now - static_cast<timestamp_ns>(unit(rng) * (d < 0.9 ? 3 : 25) * k_s);
        if (d > 0.98) r.t = now + 2 * k_s;
        const double gk = unit(rng);
        if (gk < 0.05) {
            r.g = field_value::make_null();
        } else if (gk < 0.08) {
            r.g = field_value::make_absent();
        } else if (gk < 0.5) {
            r.g = field_value::make_number(static_cast<double>(rng() % groups));
        } else {
            r.g = pool.make("k" + std::to_string(rng() % groups));
        }
        const double xk = unit(rng);
        if (xk < 0.45) {
            r.x = field_value::make_number(static_cast<double>(rng() % 50));
        } else if (xk < 0.6) {
            r.x = field_value::make_number(unit(rng) * 100 - 20);
        } else if (xk < 0.67) {
            r.x = field_value::make_null();
        } else if (xk < 0.72) {
            r.x = field_value::make_absent();
        } else if (xk < 0.87) {
            r.x = pool.make(words[rng() % 7]);
        } else if (xk < 0.92) {
            r.x = field_value::make_boolean(rng() % 2 == 0);
        } else if (xk < 0.95) {
            r.x = field_value::make_other();
        } else if (xk < 0.97) {
            r.x = field_value::make_number(std::nan(""));
        } else {
            r.x = field_value::make_number(static_cast<double>(rng() % 3));
        }
        r.y = unit(rng) < 0.9 ? field_value::make_number(std::floor(unit(rng) * 8))
                              : field_value::make_null();
        r.valid = unit(rng) > 0.04;
        if (unit(rng) < 0.01) r.t = window::k_no_time;
        batch.push_back(r);
        if (unit(rng) < 0.15 || i + 1 == n) {
            g.batches.push_back(std::move(batch));
            g.arrivals.push_back(now + 500 * k_ms);
            batch.clear();
        }
    }
    return g;
}

// ---- the reference ----

struct ref_window {
    timestamp_ns start, end;
    std::string group;
    std::vector<const stream_record*> recs;  // accepted, valid or not, arrival order
    timestamp_ns now;
    // Aligned windows: the newest valid record of the group accepted before the window closed
    // with t < end (what freshness() of an empty window measures), and whether one of them is
    // within the group's ttl (else the group may have been forgotten since: not compared).
    timestamp_ns newest_valid = window::k_no_time;
    bool valid_within_ttl = false;
};

std::string group_text(const field_value& g) {
    switch (g.kind) {
        case value_kind::number:
            return to_string(measure_value::make_number(g.number == 0 ? 0 : g.number));
        case value_kind::string:
            return to_string(measure_value::make_string(std::string(g.string())));
        case value_kind::boolean:
            return g.boolean ? "true" : "false";
        default:
            return "null";
    }
}

std::string group_text(const group_key& k) {
    return k.empty() ? "" : to_string(k[0].second);
}

bool finite(const field_value& v, double& x) {
    if (v.kind != value_kind::number || !std::isfinite(v.number)) return false;
    x = v.number;
    return true;
}

std::uint32_t u8len(std::string_view s) {
    std::uint32_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0u) != 0x80u;
    return n;
}

struct expectation {
    measure_value value;
    double tolerance = 0;  // absolute
    // median and percentile: how many numbers they saw, and the sketch's bound, which applies
    // instead of exactness when that is more than the scenario's exact_quantile_limit.
    bool quantile = false;
    std::size_t quantile_values = 0;
    bool always_sketched = false;  // approx_quantile: the sketch's answer at any size
    double sketch_tolerance = 0;
    bool most_frequent = false;
    std::map<std::uint64_t, std::size_t> counts;  // for most_frequent
};

expectation reference(const std::string& m, const ref_window& w, timestamp_ns pane,
                      bool check_order) {
    std::vector<const test_record*> valid;
    std::vector<timestamp_ns> arrivals;
    std::size_t invalid = 0;
    for (const auto* s : w.recs) {
        if (s->rec.valid) {
            valid.push_back(&s->rec);
            arrivals.push_back(s->arrival);
        } else {
            ++invalid;
        }
    }
    // Aliases give their target's value.
    if (m == "row_count()") return reference("count()", w, pane, check_order);
    if (m == "avg(x)") return reference("mean(x)", w, pane, check_order);
    if (m == "avg_length(x)") return reference("mean_length(x)", w, pane, check_order);
    const double n = static_cast<double>(valid.size());
    const auto num = [](double d) { return measure_value::make_number(d); };
    const auto null = measure_value::make_null();
    expectation e;
    std::vector<double> xs;
    std::size_t present = 0, missing = 0, missing_na = 0, missing_sentinels = 0;
    std::map<std::uint64_t, std::size_t> freq;
    for (const auto* r : valid) {
        double x;
        if (finite(r->x, x)) xs.push_back(x);
        if (is_missing(r->x)) {
            ++missing;
            ++missing_na;
        } else {
            ++present;
            if (r->x.is_string() && r->x.string() == "N/A") ++missing_na;
        }
        // [1, 40.0, "1", false]: numbers by value, the text "1", the boolean false.
        if (is_missing(r->x) || (r->x.is_number() && (r->x.number == 1 || r->x.number == 40)) ||
            (r->x.is_string() && r->x.string() == "1") ||
            (r->x.kind == value_kind::boolean && !r->x.boolean)) {
            ++missing_sentinels;
        }
        if (!is_missing(r->x) && r->x.kind != value_kind::other) {
            ++freq[hashing::hash_value(r->x)];
        }
    }
    const double sum = [&] {
        long double s = 0;
        for (double x : xs) s += x;
        return static_cast<double>(s);
    }();
    const double scale = [&] {
        double s = 1;
        for (double x : xs) s += std::abs(x);
        return s;
    }();
    const auto frac = [&](std::size_t a, std::size_t b) {
        return b == 0 ? null : num(double(a) / double(b));
    };
    if (m == "count()") {
        e.value = num(n);
        return e;
    }
    if (m == "count(x)") {
        e.value = num(double(present));
        return e;
    }
    if (m == "missing_count(x)") {
        e.value = num(double(missing));
        return e;
    }
    if (m == "missing_fraction(x, [\"N/A\"])") {
        e.value = frac(missing_na, valid.size());
        return e;
    }
    if (m == "missing_percent(x, [\"N/A\"])") {
        e.value = valid.empty() ? null : num(100.0 * double(missing_na) / n);
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "missing_count(x, [1, 40.0, \"1\", false])") {
        e.value = num(double(missing_sentinels));
        return e;
    }
    if (m == "missing_count(x) / count()") {
        e.value = frac(missing, valid.size());
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "sum(x)") {
        e.value = xs.empty() ? null : num(sum);
        e.tolerance = 1e-9 * scale;
        return e;
    }
    if (m == "mean(x)") {
        e.value = xs.empty() ? null : num(sum / double(xs.size()));
        e.tolerance = 1e-9 * scale / std::max<double>(1, double(xs.size()));
        return e;
    }
    if (m == "min(x)") {
        e.value = xs.empty() ? null : num(*std::min_element(xs.begin(), xs.end()));
        return e;
    }
    if (m == "max(x)") {
        e.value = xs.empty() ? null : num(*std::max_element(xs.begin(), xs.end()));
        return e;
    }
    if (m == "std_dev(x)" || m == "variance(x)" || m == "std_dev_pop(x)" ||
        m == "variance_pop(x)") {
        // Sample statistics divide by n - 1 and need 2 numbers; population ones by n and 1.
        const bool pop = m.ends_with("_pop(x)");
        if (xs.size() < (pop ? 1u : 2u)) {
            e.value = null;
            return e;
        }
        const double mean = sum / double(xs.size());
        long double ss = 0;
        for (double x : xs) ss += (x - mean) * (x - mean);
        const double var = static_cast<double>(ss) / double(xs.size() - (pop ? 0 : 1));
        e.value = num(m.starts_with("variance") ? var : std::sqrt(var));
        e.tolerance = 1e-9 * std::max(1.0, e.value.number);
        return e;
    }
    if (m.starts_with("median(x") || m.starts_with("percentile(x, 0.9") ||
        m == "approx_quantile(x, 0.9)") {
        e.quantile = true;
        e.quantile_values = xs.size();
        e.always_sketched = m.starts_with("approx_quantile");
        if (xs.empty()) {
            e.value = null;
            return e;
        }
        std::sort(xs.begin(), xs.end());
        const double q = m.starts_with("median") ? 0.5 : 0.9;
        if (m.ends_with("nearest)") || e.always_sketched) {
            // The value of rank ceil(q n) (rank 1 for q = 0).
            const std::size_t rank = std::max<std::size_t>(
                1, static_cast<std::size_t>(std::ceil(q * double(xs.size()))));
            e.value = num(xs[rank - 1]);
            e.sketch_tolerance = 0.01 * std::abs(xs[rank - 1]) + 1e-9;  // DDSketch alpha = 1%
            return e;
        }
        // Linear (the default): between the values of 0-based ranks floor(h) and ceil(h),
        // h = (n - 1) q.
        const double h = double(xs.size() - 1) * q;
        const auto lo = static_cast<std::size_t>(std::floor(h));
        const auto hi = static_cast<std::size_t>(std::ceil(h));
        const double d = h - std::floor(h);
        e.value = num(d == 0 ? xs[lo] : xs[lo] * (1 - d) + xs[hi] * d);
        // Both closest ranks within alpha = 1%, so their interpolation too.
        e.sketch_tolerance = 0.01 * std::max(std::abs(xs[lo]), std::abs(xs[hi])) + 1e-9;
        return e;
    }
    std::size_t distinct = freq.size(), unique = 0, considered = 0, top = 0;
    for (const auto& [h, c] : freq) {
        unique += c == 1;
        considered += c;
        top = std::max(top, c);
    }
    // Counts of distinct values are 0 (not "no data") in an empty window.
    if (m == "distinct_count(x)") {
        e.value = num(double(distinct));
        return e;
    }
    if (m == "distinct_fraction(x)") {
        e.value = frac(distinct, considered);
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "distinct_fraction(x, records)") {
        e.value = frac(distinct, valid.size());
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "unique_count(x)") {
        e.value = num(double(unique));
        return e;
    }
    if (m == "duplicate_count(x)") {
        e.value = num(double(considered - distinct));
        return e;
    }
    if (m == "duplicate_fraction(x)" || m == "duplicate_percent(x)") {
        e.value = frac(considered - distinct, considered);
        if (e.value.is_number() && m == "duplicate_percent(x)") e.value.number *= 100;
        e.tolerance = 1e-12;
        return e;
    }
    // Entropies in bits from counts (0 without values, which callers turn into no data).
    const auto entropy = [](const auto& counts) {
        double total = 0, h = 0;
        for (const auto& [k, c] : counts) total += double(c);
        for (const auto& [k, c] : counts) h -= double(c) / total * std::log2(double(c) / total);
        return h;
    };
    if (m == "entropy(x)") {
        e.value = considered ? num(entropy(freq)) : null;
        e.tolerance = 1e-9;
        return e;
    }
    // The pairs of x and y where both are present and not objects/arrays.
    std::map<std::uint64_t, std::size_t> xs_of_pairs, ys_of_pairs;
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::size_t> pairs;
    std::size_t pair_count = 0;
    for (const auto* r : valid) {
        const auto considered_value = [](const field_value& v) {
            return !is_missing(v) && v.kind != value_kind::other;
        };
        if (!considered_value(r->x) || !considered_value(r->y)) continue;
        const std::uint64_t hx = hashing::hash_value(r->x), hy = hashing::hash_value(r->y);
        ++xs_of_pairs[hx];
        ++ys_of_pairs[hy];
        ++pairs[{hx, hy}];
        ++pair_count;
    }
    if (m == "duplicate_count(x, y)") {
        e.value = num(double(pair_count - pairs.size()));
        return e;
    }
    if (m == "duplicate_fraction(x, y)" || m == "duplicate_percent(y, x)") {
        // (y, x) has as many distinct tuples as (x, y).
        e.value = frac(pair_count - pairs.size(), pair_count);
        if (e.value.is_number() && m == "duplicate_percent(y, x)") e.value.number *= 100;
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "mutual_information(x, y)") {
        e.value =
            pair_count == 0
                ? null
                : num(std::max(0.0, entropy(xs_of_pairs) + entropy(ys_of_pairs) - entropy(pairs)));
        e.tolerance = 1e-9;
        return e;
    }
    if (m == "approx_distinct_count(x)") {
        e.value = num(double(distinct));
        e.tolerance = 1 + 0.02 * double(distinct);
        return e;
    }
    if (m == "most_frequent_count(x)") {
        e.value = considered ? num(double(top)) : null;
        return e;
    }
    if (m.starts_with("most_frequent_in_")) {
        // The most frequent value is any of those tied at the top (most_frequent's tie rule is
        // its own): the answer is known when they all agree.
        std::optional<bool> answer;
        bool agree = true;
        for (const auto* r : valid) {
            const field_value& v = r->x;
            if (is_missing(v) || v.kind == value_kind::other) continue;
            if (freq[hashing::hash_value(v)] != top) continue;
            const bool in = m == "most_frequent_in_range(x, 10, 40)"
                                ? v.is_number() && v.number >= 10 && v.number <= 40
                                : (v.is_number() && (v.number == 1 || v.number == 2)) ||
                                      (v.is_string() && v.string() == "a") ||
                                      (v.kind == value_kind::boolean && v.boolean);
            if (answer && *answer != in) agree = false;
            answer = in;
        }
        if (!answer) {
            e.value = null;
        } else if (!agree) {
            e.value = measure_value::make_string("skip");
        } else {
            e.value = measure_value::make_boolean(*answer);
        }
        return e;
    }
    if (m.starts_with("heavy_hitters(")) {
        // No value with share >= phi is missed, none with share <= phi / 2 is counted: the
        // result lies between those two counts (equal while the summary is exact).
        std::map<std::uint64_t, std::size_t> counts;
        std::size_t k = 0;
        for (const auto* r : valid) {
            const field_value& v = m == "heavy_hitters(x, 0.1)" ? r->x : r->y;
            if (is_missing(v) || v.kind == value_kind::other) continue;
            ++counts[hashing::hash_value(v)];
            ++k;
        }
        const double phi = m == "heavy_hitters(x, 0.1)" ? 0.1 : 0.3;
        double at_least = 0, above_half = 0;
        for (const auto& [h, c] : counts) {
            at_least += double(c) >= phi * double(k) * (1 - 1e-12);
            above_half += double(c) > phi / 2 * double(k);
        }
        if (k == 0) {
            e.value = null;
            return e;
        }
        e.value = num((at_least + above_half) / 2);
        e.tolerance = (above_half - at_least) / 2 + 1e-9;
        return e;
    }
    if (m.starts_with("distinct_placeholder_")) {
        const bool count = m.starts_with("distinct_placeholder_count");
        std::set<int> seen;  // indices into the list as written
        for (const auto* r : valid) {
            const field_value& v = r->x;
            if (count) {
                if (v.is_string() && v.string() == "N/A") seen.insert(0);
                if (v.is_number() && v.number == 1) seen.insert(1);
                if (v.is_number() && v.number == -999) seen.insert(2);
                if (v.kind == value_kind::boolean && v.boolean) seen.insert(3);
                if (v.kind == value_kind::null || v.kind == value_kind::absent) seen.insert(4);
            } else {
                if (v.is_string() && v.string() == "zz") seen.insert(0);
                if (v.is_number() && v.number == 2) seen.insert(1);
                if (v.is_string() && v.string().empty()) seen.insert(2);
            }
        }
        e.value = count ? num(double(seen.size())) : num(double(seen.size()) / 3);
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "most_frequent(x)") {
        e.most_frequent = true;
        e.counts = freq;
        return e;
    }
    std::size_t in_range = 0, in_set = 0, matches = 0, found = 0, slen = 0, lsum = 0,
                lmin = 1u << 30, lmax = 0;
    for (const auto* r : valid) {
        const field_value& v = r->x;
        if (is_missing(v)) continue;
        if (v.is_number() && v.number >= 10 && v.number <= 40) ++in_range;
        if ((v.is_number() && (v.number == 1 || v.number == 2)) ||
            (v.is_string() && v.string() == "a") || (v.kind == value_kind::boolean && v.boolean)) {
            ++in_set;
        }
        if (v.is_string() && !v.string().empty() && v.string()[0] >= 'a' && v.string()[0] <= 'z') {
            // "[a-z].*" fully matches any string starting with a lowercase letter (no newlines
            // here).
            ++matches;
        }
        // "[a-z]" with search: any lowercase letter anywhere.
        if (v.is_string() && std::any_of(v.string().begin(), v.string().end(),
                                         [](char c) { return c >= 'a' && c <= 'z'; })) {
            ++found;
        }
        if (v.is_string()) {
            const std::size_t l = u8len(v.string());
            ++slen;
            lsum += l;
            lmin = std::min(lmin, l);
            lmax = std::max(lmax, l);
        }
    }
    // The formats, written out for the values of these streams: digits with an optional sign
    // (integer), with an optional fraction (decimal); no value here is an email address.
    const auto digits = [](std::string_view s) {
        if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
        return !s.empty() &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    const auto has_format = [&](const std::string& format, const field_value& v) {
        if (v.is_number()) {
            if (!std::isfinite(v.number)) return false;
            return format == "decimal" || (format == "integer" && std::trunc(v.number) == v.number);
        }
        if (!v.is_string() || format == "email") return false;
        const std::string_view s = v.string();
        if (format == "integer") return digits(s);
        const std::size_t dot = s.find('.');
        if (dot == std::string_view::npos) return digits(s);
        const std::string_view whole = s.substr(0, dot), fraction = s.substr(dot + 1);
        return digits(fraction) && fraction[0] != '+' && fraction[0] != '-' &&
               (whole.empty() || whole == "+" || whole == "-" || digits(whole));
    };
    if ((m.starts_with("valid_") || m.starts_with("invalid_")) && m.find(", ") != m.npos) {
        const std::string format = m.substr(m.find(", ") + 2, m.find(')') - m.find(", ") - 2);
        std::size_t with = 0, of = 0;
        for (const auto* r : valid) {
            if (is_missing(r->x)) continue;
            ++of;
            with += has_format(format, r->x);
        }
        if (m.starts_with("valid_count")) {
            e.value = num(double(with));
        } else {
            e.value = frac(of - with, of);
            if (e.value.is_number() && m.starts_with("invalid_percent")) e.value.number *= 100;
            e.tolerance = 1e-12;
        }
        return e;
    }
    if (m == "in_range_count(x, 10, 40)") {
        e.value = num(double(in_range));
        return e;
    }
    if (m == "in_range_fraction(x, 10, 40)") {
        e.value = frac(in_range, present);
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "in_set_count(x, [1, 2, \"a\", true])") {
        e.value = num(double(in_set));
        return e;
    }
    if (m == "in_set_fraction(x, [1, 2, \"a\", true])") {
        e.value = frac(in_set, present);
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "matches_count(x, \"[a-z].*\")") {
        e.value = num(double(matches));
        return e;
    }
    if (m == "matches_fraction(x, \"[a-z].*\")") {
        e.value = frac(matches, present);
        e.tolerance = 1e-12;
        return e;
    }
    // The records denominator: every (valid) record of the window, or those a filter matched.
    if (m == "in_range_fraction(x, 10, 40, records)") {
        e.value = frac(in_range, valid.size());
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "in_set_fraction(x, [1, 2, \"a\", true], records)") {
        e.value = frac(in_set, valid.size());
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "matches_count(x, \"[a-z]\", search)") {
        e.value = num(double(found));
        return e;
    }
    if (m == "matches_fraction(x, \"[a-z]\", search, records)") {
        e.value = frac(found, valid.size());
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "min_length(x)") {
        e.value = slen ? num(double(lmin)) : null;
        return e;
    }
    if (m == "max_length(x)") {
        e.value = slen ? num(double(lmax)) : null;
        return e;
    }
    if (m == "mean_length(x)") {
        e.value = frac(lsum, slen);
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "is_frozen(y)") {
        std::set<double> ys;
        std::size_t k = 0;
        for (const auto* r : valid) {
            if (r->y.is_number()) {
                ys.insert(r->y.number);
                ++k;
            }
        }
        e.value = k == 0 ? null : measure_value::make_boolean(k >= 2 && ys.size() == 1);
        return e;
    }
    if (m == "ordered_fraction(y)") {
        if (!check_order) {
            e.value = measure_value::make_string("skip");
            return e;
        }
        // Panes are merged in time order; within a pane, arrival order.
        std::vector<std::pair<timestamp_ns, double>> seq;
        for (const auto* r : valid) {
            if (r->y.is_number()) seq.emplace_back(window::align_down(r->t, pane), r->y.number);
        }
        std::stable_sort(seq.begin(), seq.end(),
                         [](auto& a, auto& b) { return a.first < b.first; });
        std::size_t ok = 0;
        for (std::size_t i = 1; i < seq.size(); ++i) ok += seq[i - 1].second <= seq[i].second;
        e.value = seq.size() < 2 ? null : num(double(ok) / double(seq.size() - 1));
        e.tolerance = 1e-12;
        return e;
    }
    if (m.starts_with("ordered_fraction(y, ")) {
        // ordered_fraction(y, order [, by]): the order's comparison of each number with the
        // one before it, in arrival order (panes in time order, as above) or in event-time
        // order (ties in arrival order).
        const bool by_event_time = m.ends_with(", event_time)");
        if (!by_event_time && !check_order) {
            e.value = measure_value::make_string("skip");
            return e;
        }
        std::vector<std::tuple<timestamp_ns, std::size_t, double>> seq;
        for (const auto* s : w.recs) {
            if (!s->rec.valid || !s->rec.y.is_number()) continue;
            seq.emplace_back(by_event_time ? s->rec.t : window::align_down(s->rec.t, pane),
                             by_event_time ? s->seq : seq.size(), s->rec.y.number);
        }
        std::stable_sort(seq.begin(), seq.end(), [](auto& a, auto& b) {
            return std::tie(std::get<0>(a), std::get<1>(a)) <
                   std::tie(std::get<0>(b), std::get<1>(b));
        });
        const auto in_order = [&](double a, double b) {
            if (m.find("strictly_descending") != std::string::npos) return b < a;
            if (m.find("descending") != std::string::npos) return b <= a;
            if (m.find("strictly_ascending") != std::string::npos) return b > a;
            return b >= a;
        };
        std::size_t ok = 0;
        for (std::size_t i = 1; i < seq.size(); ++i) {
            ok += in_order(std::get<2>(seq[i - 1]), std::get<2>(seq[i]));
        }
        e.value = seq.size() < 2 ? null : num(double(ok) / double(seq.size() - 1));
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "correlation(x, y)") {
        std::vector<std::pair<double, double>> ps;
        for (const auto* r : valid) {
            double a, b;
            if (finite(r->x, a) && finite(r->y, b)) ps.emplace_back(a, b);
        }
        if (ps.size() < 2) {
            e.value = null;
            return e;
        }
        double ma = 0, mb = 0;
        for (auto [a, b] : ps) {
            ma += a;
            mb += b;
        }
        ma /= double(ps.size());
        mb /= double(ps.size());
        double sa = 0, sb = 0, sab = 0;
        for (auto [a, b] : ps) {
            sa += (a - ma) * (a - ma);
            sb += (b - mb) * (b - mb);
            sab += (a - ma) * (b - mb);
        }
        if (sa == 0 || sb == 0) {
            e.value = null;
            return e;
        }
        e.value = num(sab / std::sqrt(sa * sb));
        e.tolerance = 1e-9;
        return e;
    }
    if (m == "trend(x, y)" || m == "trend(y)") {
        // Least squares from the centred sums, over (t, x) pairs of finite numbers.
        std::vector<std::pair<double, double>> ps;
        for (const auto* r : valid) {
            double a, b;
            if (m == "trend(x, y)" && finite(r->x, a) && finite(r->y, b)) ps.emplace_back(b, a);
            if (m == "trend(y)" && finite(r->y, a)) ps.emplace_back(double(r->t) / 1e9, a);
        }
        long double mt = 0, mx = 0;
        for (auto [t, x] : ps) {
            mt += t;
            mx += x;
        }
        mt /= std::max<long double>(1, ps.size());
        mx /= std::max<long double>(1, ps.size());
        long double stt = 0, stx = 0;
        for (auto [t, x] : ps) {
            stt += (t - mt) * (t - mt);
            stx += (t - mt) * (x - mx);
        }
        // Event times are whole milliseconds apart here: no spread means all equal.
        if (ps.size() < 2 || stt == 0) {
            e.value = null;
            return e;
        }
        e.value = num(static_cast<double>(stx / stt));
        e.tolerance = 1e-6 * (1 + std::abs(e.value.number));
        return e;
    }
    if (m == "median_length(x)") {
        std::vector<std::size_t> ls;
        for (const auto* r : valid) {
            if (r->x.is_string() && !r->x.string().empty()) ls.push_back(u8len(r->x.string()));
        }
        std::sort(ls.begin(), ls.end());
        const std::size_t k = ls.size();
        e.value = k == 0 ? null : num((double(ls[(k - 1) / 2]) + double(ls[k / 2])) / 2);
        return e;
    }
    if (m == "above_mean_count(x)" || m == "above_mean_fraction(x)") {
        if (xs.empty()) {
            e.value = null;
            return e;
        }
        const double mean = sum / double(xs.size());
        std::size_t above = 0;
        for (const double x : xs) above += x > mean;
        e.value = m == "above_mean_count(x)" ? num(double(above)) : frac(above, xs.size());
        e.tolerance = 1e-12;
        return e;
    }
    if (m.ends_with("_int_digits(x)") || m.ends_with("_frac_digits(x)")) {
        // Digits of the shortest round-trip text, here from printf's %.17g trimmed back to the
        // shortest precision that reads back as the same double.
        std::vector<double> ds;
        for (const double x : xs) {
            std::string text;
            for (int p = 1; p <= 17; ++p) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.*e", p - 1, x);
                if (std::strtod(buf, nullptr) == x) {
                    // Write it out in fixed notation with just the significant digits.
                    const int exp = std::atoi(std::strchr(buf, 'e') + 1);
                    const int decimals = std::max(0, p - 1 - exp);
                    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::abs(x));
                    text = buf;
                    break;
                }
            }
            const std::size_t dot = text.find('.');
            const bool integer = m.find("_int_") != std::string::npos;
            if (dot == std::string::npos) {
                ds.push_back(integer ? double(text.size()) : 0);
            } else {
                ds.push_back(integer ? double(dot) : double(text.size() - dot - 1));
            }
        }
        if (ds.empty()) {
            e.value = null;
            return e;
        }
        std::sort(ds.begin(), ds.end());
        const std::size_t k = ds.size();
        double mean = 0;
        for (const double d : ds) mean += d;
        mean /= double(k);
        e.value = num(m.starts_with("min_")    ? ds.front()
                      : m.starts_with("max_")  ? ds.back()
                      : m.starts_with("mean_") ? mean
                                               : (ds[(k - 1) / 2] + ds[k / 2]) / 2);
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "spearman_correlation(x, y)" || m == "kendall_correlation(x, y)") {
        std::vector<std::pair<double, double>> ps;
        for (const auto* r : valid) {
            double a, b;
            if (finite(r->x, a) && finite(r->y, b)) ps.emplace_back(a, b);
        }
        const std::size_t k = ps.size();
        if (m.starts_with("kendall")) {
            // Pair by pair: tau-b.
            double s = 0, ta = 0, tb = 0;
            for (std::size_t i = 0; i < k; ++i) {
                for (std::size_t j = i + 1; j < k; ++j) {
                    const double da = ps[i].first - ps[j].first;
                    const double db = ps[i].second - ps[j].second;
                    s += (da * db > 0) - (da * db < 0);
                    ta += da == 0;
                    tb += db == 0;
                }
            }
            const double n0 = double(k) * (double(k) - 1) / 2;
            e.value =
                k < 2 || n0 == ta || n0 == tb ? null : num(s / std::sqrt((n0 - ta) * (n0 - tb)));
            e.tolerance = 1e-9;
            return e;
        }
        // Spearman: Pearson's r of mean ranks (1 + values below + (values equal - 1) / 2).
        std::vector<double> ra(k), rb(k);
        for (std::size_t i = 0; i < k; ++i) {
            double below_a = 0, equal_a = 0, below_b = 0, equal_b = 0;
            for (std::size_t j = 0; j < k; ++j) {
                below_a += ps[j].first < ps[i].first;
                equal_a += ps[j].first == ps[i].first;
                below_b += ps[j].second < ps[i].second;
                equal_b += ps[j].second == ps[i].second;
            }
            ra[i] = 1 + below_a + (equal_a - 1) / 2;
            rb[i] = 1 + below_b + (equal_b - 1) / 2;
        }
        double saa = 0, sbb = 0, sab = 0;
        const double mid = (double(k) + 1) / 2;
        for (std::size_t i = 0; i < k; ++i) {
            saa += (ra[i] - mid) * (ra[i] - mid);
            sbb += (rb[i] - mid) * (rb[i] - mid);
            sab += (ra[i] - mid) * (rb[i] - mid);
        }
        e.value = k < 2 || saa == 0 || sbb == 0 ? null : num(sab / std::sqrt(saa * sbb));
        e.tolerance = 1e-9;
        return e;
    }
    if (m == "cramers_v(x, y)") {
        std::map<std::pair<std::uint64_t, std::uint64_t>, double> cells;
        std::map<std::uint64_t, double> rows, cols;
        double k = 0;
        for (const auto* r : valid) {
            if (is_missing(r->x) || r->x.kind == value_kind::other || is_missing(r->y)) continue;
            const auto a = hashing::hash_value(r->x), b = hashing::hash_value(r->y);
            ++cells[{a, b}];
            ++rows[a];
            ++cols[b];
            ++k;
        }
        if (rows.size() < 2 || cols.size() < 2) {
            e.value = null;
            return e;
        }
        double chi2 = 0;
        for (const auto& [a, an] : rows) {
            for (const auto& [b, bn] : cols) {
                const double ex = an * bn / k;
                const auto it = cells.find({a, b});
                const double o = it == cells.end() ? 0 : it->second;
                chi2 += (o - ex) * (o - ex) / ex;
            }
        }
        e.value = num(std::sqrt(chi2 / (k * double(std::min(rows.size(), cols.size()) - 1))));
        e.tolerance = 1e-9;
        return e;
    }
    if (m == "benford_deviation(x)") {
        std::size_t counts[10] = {}, k = 0;
        for (const double x : xs) {
            if (x == 0) continue;
            double a = std::abs(x);
            while (a >= 10) a /= 10;
            while (a < 1) a *= 10;
            ++counts[static_cast<int>(a)];
            ++k;
        }
        if (k == 0) {
            e.value = null;
            return e;
        }
        double total = 0;
        for (int d = 1; d <= 9; ++d) {
            total += std::abs(double(counts[d]) / double(k) - std::log10(1 + 1.0 / d));
        }
        e.value = num(total / 9);
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "window_duration()") {
        e.value = num(double(w.end - w.start) / 1e9);
        e.tolerance = 1e-9;
        return e;
    }
    if (m == "freshness()") {
        if (valid.empty()) {
            if (w.newest_valid != window::k_no_time && !w.valid_within_ttl) {
                e.value = measure_value::make_string("skip");
            } else if (w.newest_valid != window::k_no_time) {
                // An empty window: the age of the group's newest record before it.
                e.value = num(double(w.now - w.newest_valid) / 1e9);
                e.tolerance = 1e-9;
            } else {
                e.value = null;
            }
            return e;
        }
        timestamp_ns newest = valid[0]->t;
        for (const auto* r : valid) newest = std::max(newest, r->t);
        e.value = num(double(w.now - newest) / 1e9);
        e.tolerance = 1e-9;
        return e;
    }
    if (m == "max_delay()") {
        if (valid.empty()) {
            e.value = null;
            return e;
        }
        timestamp_ns d = arrivals[0] - valid[0]->t;
        for (std::size_t i = 0; i < valid.size(); ++i) d = std::max(d, arrivals[i] - valid[i]->t);
        e.value = num(double(d) / 1e9);
        e.tolerance = 1e-9;
        return e;
    }
    if (m == "rate()") {
        e.value = num(n / (double(w.end - w.start) / 1e9));
        e.tolerance = 1e-9;
        return e;
    }
    if (m == "invalid_count()") {
        e.value = num(double(invalid));
        return e;
    }
    if (m == "invalid_fraction()") {
        e.value = frac(invalid, invalid + valid.size());
        e.tolerance = 1e-12;
        return e;
    }
    if (m == "count_where(y > 3) / count()") {
        std::size_t hits = 0;
        for (const auto* r : valid) hits += holds("y > 3", *r);
        e.value = frac(hits, valid.size());
        e.tolerance = 1e-12;
        return e;
    }
    if (m.starts_with("count_where(") || m.starts_with("fraction_where(")) {
        const std::string condition = m.substr(m.find('(') + 1, m.rfind(')') - m.find('(') - 1);
        std::size_t hits = 0;
        for (const auto* r : valid) hits += holds(condition, *r);
        e.value = m.starts_with("count") ? num(double(hits)) : frac(hits, valid.size());
        e.tolerance = 1e-12;
        return e;
    }
    ADD_FAILURE() << "no reference for " << m;
    return e;
}

// The reference of a check with a filter: the same measure over the window's valid records
// that the filter matches. freshness() of a window without such records has no data (a
// filter does not look at earlier windows).
expectation filtered_reference(const test_check& c, const ref_window& w, timestamp_ns pane) {
    if (c.filter.empty()) return reference(c.measure, w, pane, true);
    ref_window f = w;
    f.recs.clear();
    for (const auto* s : w.recs) {
        if (s->rec.valid && holds(c.filter, s->rec)) f.recs.push_back(s);
    }
    f.newest_valid = window::k_no_time;
    f.valid_within_ttl = false;
    return reference(c.measure, f, pane, false);
}

struct reference_run {
    std::vector<ref_window> windows;
    // Owns the records the windows point to (deques: appending never moves them).
    std::map<std::string, std::deque<stream_record>> accepted;
    std::deque<stream_record> emitted_sessions;
};

// Runs the reference: which (window, group) pairs are emitted, with which records.
void reference_windows(const scenario& sc, const generated& g, reference_run& run) {
    std::vector<ref_window>& out = run.windows;
    const bool sessions = sc.w.kind == window::window_kind::session;
    const timestamp_ns size = sc.w.size, step = sc.w.step();
    const timestamp_ns ttl = sc.grouped ? sc.ttl : std::numeric_limits<timestamp_ns>::max();
    auto& accepted = run.accepted;                              // all accepted, per group
    std::map<std::string, std::vector<stream_record>> pending;  // sessions not yet emitted
    timestamp_ns closed = window::k_no_time, max_t = window::k_no_time;
    std::size_t seq = 0;
    const auto emit_aligned = [&](timestamp_ns from, timestamp_ns to, timestamp_ns now) {
        timestamp_ns min_t = std::numeric_limits<timestamp_ns>::max();
        for (auto& [k, v] : accepted)
            for (auto& s : v) min_t = std::min(min_t, s.rec.t);
        if (min_t == std::numeric_limits<timestamp_ns>::max()) return;
        timestamp_ns e = window::first_window_end(min_t, size, step);
        if (from != window::k_no_time) e = std::max(e, window::first_window_end(from, size, step));
        for (; e <= to; e += step) {
            const timestamp_ns s = e - size;
            for (auto& [k, v] : accepted) {
                ref_window rw{s, e, k, {}, now};
                bool live = false;
                for (auto& r : v) {
                    if (r.rec.t >= s && r.rec.t < e) rw.recs.push_back(&r);
                    const bool within =
                        ttl == std::numeric_limits<timestamp_ns>::max() || r.rec.t >= s - ttl;
                    if (r.rec.t < e && within) live = true;
                    if (r.rec.t < e && r.rec.valid) {
                        rw.newest_valid = std::max(rw.newest_valid, r.rec.t);
                        rw.valid_within_ttl |= within;
                    }
                }
                if (live) out.push_back(std::move(rw));
            }
        }
    };
    const auto emit_sessions = [&](timestamp_ns wm, timestamp_ns now) {
        for (auto& [k, v] : pending) {
            std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.rec.t < b.rec.t; });
            std::vector<stream_record> rest;
            std::size_t i = 0;
            while (i < v.size()) {
                std::size_t j = i + 1;
                timestamp_ns last = v[i].rec.t;
                while (j < v.size() && v[j].rec.t < last + sc.w.gap)
                    last = std::max(last, v[j++].rec.t);
                if (last + sc.w.gap <= wm) {
                    ref_window rw{v[i].rec.t, last + sc.w.gap, k, {}, now};
                    for (std::size_t q = i; q < j; ++q) {
                        run.emitted_sessions.push_back(v[q]);
                        rw.recs.push_back(&run.emitted_sessions.back());
                    }
                    out.push_back(std::move(rw));
                } else {
                    rest.insert(rest.end(), v.begin() + i, v.begin() + j);
                }
                i = j;
            }
            v = std::move(rest);
        }
    };
    for (std::size_t b = 0; b < g.batches.size(); ++b) {
        const timestamp_ns arrival = g.arrivals[b];
        for (const auto& r : g.batches[b]) {
            if (r.t == window::k_no_time) continue;
            const std::string key = sc.grouped ? group_text(r.g) : "";
            bool late = false;
            if (closed != window::k_no_time) {
                if (!sessions) {
                    late = window::last_window_end(r.t, size, step) <= closed;
                } else if (r.t + sc.w.gap <= closed) {
                    late = true;
                    for (auto& p : pending[key]) {
                        if (std::abs(p.rec.t - r.t) < sc.w.gap) late = false;
                    }
                }
            }
            if (late) continue;
            accepted[key].push_back({r, arrival, seq});
            if (sessions) pending[key].push_back({r, arrival, seq});
            ++seq;
            // The watermark moves record by record: windows close as soon as a record's event
            // time passes them, whatever the batch boundaries.
            if (max_t != window::k_no_time && r.t <= max_t) continue;
            max_t = r.t;
            const timestamp_ns wm = max_t - sc.w.allowed_lateness;
            if (closed != window::k_no_time && wm <= closed) continue;
            if (sessions) {
                emit_sessions(wm, arrival);
            } else {
                emit_aligned(closed, wm, arrival);
            }
            closed = wm;
        }
        if (max_t == window::k_no_time) continue;
        const timestamp_ns wm = max_t - sc.w.allowed_lateness;
        if (closed != window::k_no_time && wm <= closed) continue;
        if (sessions) {
            emit_sessions(wm, arrival);
        } else {
            emit_aligned(closed, wm, arrival);
        }
        closed = wm;
    }
    const timestamp_ns finish_now = g.arrivals.back() + k_s;
    if (sessions) {
        emit_sessions(std::numeric_limits<timestamp_ns>::max() / 2, finish_now);
    } else {
        timestamp_ns horizon = window::k_no_time;
        for (auto& [k, v] : accepted) {
            for (auto& r : v)
                horizon = std::max(horizon, window::last_window_end(r.rec.t, size, step));
        }
        if (horizon > closed) emit_aligned(closed, horizon, finish_now);
    }
}

// The checks of a scenario: every one, or (plain_counters) those of a layout without heap
// memory.
std::vector<test_check> scenario_checks(const scenario& sc) {
    std::vector<test_check> out = all_checks();
    if (!sc.plain_counters) return out;
    std::erase_if(out, [&](const test_check& c) {
        node_plan p = basic_plan(sc.w);
        p.checks.push_back({"c", c.measure, "", "", engine::emit_mode::all});
        p.checks.back().filter = c.filter;
        return node_engine(p).layout().owns_heap();
    });
    return out;
}

node_plan plan_for(const scenario& sc) {
    node_plan p = basic_plan(sc.w);
    if (sc.grouped) p.group_by = {field_path{{"g"}}};
    p.group_ttl = sc.ttl;
    p.empty_is_missing = sc.empty_is_missing;
    p.max_groups = 1'000'000;
    // The oracle emits every empty window; the share per advance has a test of its own.
    p.max_empty_windows_per_group = std::numeric_limits<std::size_t>::max();
    p.exact_quantile_limit = sc.exact_quantile_limit;
    const auto checks = scenario_checks(sc);
    for (std::size_t i = 0; i < checks.size(); ++i) {
        p.checks.push_back(
            {"c" + std::to_string(i), checks[i].measure, "", "", engine::emit_mode::all});
        p.checks.back().filter = checks[i].filter;
    }
    return p;
}

using result_map =
    std::map<std::tuple<std::string, timestamp_ns, timestamp_ns, std::string>, check_result>;

std::uint64_t g_late_seen = 0;  // across runs: the streams do produce late records

result_map run_engine(const scenario& sc, const generated& g, std::mt19937_64* checkpoint_rng) {
    auto engine = std::make_unique<node_engine>(plan_for(sc));
    std::vector<check_result> out;
    for (std::size_t b = 0; b < g.batches.size(); ++b) {
        feed(*engine, g.batches[b], g.arrivals[b], out);
        if (checkpoint_rng && (*checkpoint_rng)() % 5 == 0) {
            byte_writer w;
            engine->snapshot(w);
            auto fresh = std::make_unique<node_engine>(plan_for(sc));
            const std::string bytes = w.take();
            byte_reader r(bytes);
            EXPECT_TRUE(fresh->restore(r));
            EXPECT_TRUE(r.at_end());
            engine = std::move(fresh);
        }
    }
    engine->finish(g.arrivals.back() + k_s, out);
    g_late_seen += engine->stats().late;
    result_map m;
    for (auto& r : out) {
        auto key = std::make_tuple(r.check, r.window_start, r.window_end, group_text(r.group));
        EXPECT_TRUE(m.emplace(key, r).second)
            << "emitted twice: " << r.check << " " << r.window_start;
    }
    return m;
}

void check_scenario(const scenario& sc, std::uint64_t seed, std::size_t n, int groups) {
    std::mt19937_64 rng(seed);
    string_pool pool;
    const generated g = generate(rng, pool, n, groups);
    const result_map got = run_engine(sc, g, nullptr);
    g_empty_is_missing = sc.empty_is_missing;
    reference_run run;
    reference_windows(sc, g, run);
    const auto& windows = run.windows;
    const bool sessions = sc.w.kind == window::window_kind::session;
    std::size_t expected_results = 0;
    const auto checks = scenario_checks(sc);
    for (const auto& w : windows) {
        for (std::size_t i = 0; i < checks.size(); ++i) {
            ++expected_results;
            const std::string name = "c" + std::to_string(i);
            const auto it = got.find(std::make_tuple(name, w.start, w.end, w.group));
            ASSERT_NE(it, got.end()) << "missing " << checks[i].measure << " window " << w.start
                                     << ".." << w.end << " group " << w.group << " seed " << seed;
            const check_result& r = it->second;
            std::size_t valid = 0;
            for (const auto* s : w.recs) valid += s->rec.valid;
            EXPECT_EQ(r.records, static_cast<std::int64_t>(valid));
            // `records` is the whole window's, with or without a filter.
            const expectation e =
                checks[i].filter.empty()
                    ? reference(checks[i].measure, w, sessions ? 1 : sc.w.pane(), !sessions)
                    : filtered_reference(checks[i], w, sessions ? 1 : sc.w.pane());
            const std::string what =
                checks[i].measure + (checks[i].filter.empty() ? "" : " if " + checks[i].filter);
            if (e.value.kind == measure_kind::string && e.value.text == "skip") continue;
            if (e.most_frequent) {
                if (e.counts.empty()) {
                    EXPECT_TRUE(r.value.is_null());
                    continue;
                }
                std::size_t top = 0;
                for (auto& [h, c] : e.counts) top = std::max(top, c);
                field_value fv;
                if (r.value.kind == measure_kind::number)
                    fv = field_value::make_number(r.value.number);
                if (r.value.kind == measure_kind::string)
                    fv = field_value::make_string(r.value.text);
                if (r.value.kind == measure_kind::boolean)
                    fv = field_value::make_boolean(r.value.boolean);
                const auto c = e.counts.find(hashing::hash_value(fv));
                ASSERT_NE(c, e.counts.end());
                EXPECT_EQ(c->second, top);
                continue;
            }
            if (e.quantile) {
                // Exact (and not approximate) while the window's numbers are within the limit.
                const bool sketched = e.always_sketched
                                          ? e.quantile_values > 0
                                          : e.quantile_values > sc.exact_quantile_limit;
                EXPECT_EQ(r.approximate, sketched)
                    << what << " window " << w.start << " group " << w.group << " seed " << seed;
                if (sketched && e.value.kind == measure_kind::number) {
                    ASSERT_TRUE(r.value.is_number()) << what;
                    EXPECT_NEAR(r.value.number, e.value.number, e.sketch_tolerance)
                        << what << " window " << w.start << " seed " << seed;
                    continue;
                }
            } else {
                EXPECT_FALSE(r.approximate) << what;
            }
            if (e.value.kind != measure_kind::number || e.tolerance == 0) {
                EXPECT_EQ(r.value, e.value)
                    << what << " window " << w.start << " group " << w.group << " seed " << seed;
            } else {
                ASSERT_TRUE(r.value.is_number()) << what;
                EXPECT_NEAR(r.value.number, e.value.number, e.tolerance)
                    << what << " window " << w.start << " seed " << seed;
            }
        }
    }
    EXPECT_EQ(got.size(), expected_results) << "seed " << seed;
    EXPECT_GT(windows.size(), 4u);  // the stream really spans several windows
}

std::vector<scenario> scenarios() {
    return {
        {tumbling(10 * k_s, 0), false, 0},
        {tumbling(10 * k_s, 4 * k_s), true, 0},
        {tumbling(5 * k_s, 2 * k_s), true, 12 * k_s},
        {sliding(10 * k_s, 2 * k_s, 3 * k_s), false, 0},
        {sliding(9 * k_s, 6 * k_s, 1 * k_s), true, 0},
        {sliding(12 * k_s, 4 * k_s, 2 * k_s), true, 20 * k_s},
        {session(3 * k_s, 2 * k_s), false, 0},
        {session(2 * k_s, 4 * k_s), true, 0},
        {tumbling(10 * k_s, 0), false, 0, 8},
        {sliding(10 * k_s, 2 * k_s, 3 * k_s), false, 0, 6},
        {sliding(12 * k_s, 4 * k_s, 2 * k_s), true, 20 * k_s, 3},
        {session(3 * k_s, 2 * k_s), true, 0, 4},
        // empty_is_missing: false ("" is a present empty string for every measure)
        {tumbling(10 * k_s, 4 * k_s), true, 0, measure::k_default_exact_quantile_limit, false},
        {sliding(10 * k_s, 2 * k_s, 3 * k_s), false, 0, measure::k_default_exact_quantile_limit,
         false},
        {session(3 * k_s, 2 * k_s), true, 0, measure::k_default_exact_quantile_limit, false},
        // Folded panes: windows of 5 panes sliding by one, of 3 panes sliding by two (window
        // starts skip panes), of 3 panes with a group ttl.
        {sliding(10 * k_s, 2 * k_s, 3 * k_s), false, 0, measure::k_default_exact_quantile_limit,
         true, true},
        {sliding(9 * k_s, 6 * k_s, 1 * k_s), true, 0, measure::k_default_exact_quantile_limit, true,
         true},
        {sliding(12 * k_s, 4 * k_s, 2 * k_s), true, 20 * k_s,
         measure::k_default_exact_quantile_limit, false, true},
    };
}

TEST(NodeEngineProperty, PlainCounterScenariosKeepTheOrderedAndFloatingMeasures) {
    // The folded scenarios must still cover the measures whose merge is order-sensitive or
    // rounds: otherwise they would test nothing the others do not.
    scenario sc{sliding(10 * k_s, 2 * k_s, 3 * k_s), false, 0};
    sc.plain_counters = true;
    std::set<std::string> measures;
    for (const auto& c : scenario_checks(sc)) measures.insert(c.measure);
    for (const char* m : {"ordered_fraction(y)", "std_dev(x)", "sum(x)", "correlation(x, y)",
                          "min(x)", "freshness()", "invalid_count()"}) {
        EXPECT_TRUE(measures.count(m)) << m;
    }
    EXPECT_FALSE(measures.count("median(x)"));
}

TEST(NodeEngineProperty, MatchesBruteForceReference) {
    std::size_t k = 0;
    for (const auto& sc : scenarios()) {
        for (std::uint64_t seed = 1; seed <= 5; ++seed) {
            SCOPED_TRACE("scenario " + std::to_string(k) + " seed " + std::to_string(seed));
            check_scenario(sc, seed * 1000 + k, 400, seed % 2 ? 3 : 40);
            if (HasFatalFailure()) return;
        }
        ++k;
    }
    EXPECT_GT(g_late_seen, 100u);
}

TEST(NodeEngineProperty, CheckpointRoundTripMidStreamChangesNothing) {
    std::size_t k = 0;
    for (const auto& sc : scenarios()) {
        for (std::uint64_t seed = 1; seed <= 2; ++seed) {
            std::mt19937_64 rng(seed + 77 * k);
            string_pool pool;
            const generated g = generate(rng, pool, 500, 10);
            const result_map plain = run_engine(sc, g, nullptr);
            std::mt19937_64 cut(seed);
            const result_map resumed = run_engine(sc, g, &cut);
            ASSERT_EQ(plain.size(), resumed.size()) << "scenario " << k;
            for (const auto& [key, r] : plain) {
                const auto it = resumed.find(key);
                ASSERT_NE(it, resumed.end());
                std::string a, b;
                append_json(r, a);
                append_json(it->second, b);
                EXPECT_EQ(a, b);
            }
        }
        ++k;
    }
}

}  // namespace
}  // namespace weir::test
