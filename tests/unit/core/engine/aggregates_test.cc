// The flat accumulator block against its accumulators fed one by one: the per-record steps that
// read a field once for many accumulators (numbers of a field, all in_range bounds of a field)
// must give bit-identical results, on streams with every awkward value kind.
#include "core/engine/aggregates.h"

#include <gtest/gtest.h>

#include <bit>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/measure/basic.h"
#include "core/measure/measure_expr.h"
#include "core/measure/predicate.h"
#include "core/window/window_spec.h"
#include "tests/unit/core/measure/random_values.h"

namespace weir::engine {
namespace {

struct compiled {
    std::vector<measure::measure_expr> exprs;
    std::vector<const measure::aggregate_call*> calls;
};

compiled compile(const std::vector<std::string>& measures) {
    compiled c;
    for (const auto& text : measures) {
        auto parsed = measure::parse_measure(text);
        EXPECT_TRUE(parsed.ok()) << text;
        c.exprs.push_back(std::move(*parsed));
    }
    for (const auto& e : c.exprs) {
        for (const auto& call : e.calls()) c.calls.push_back(&call);
    }
    return c;
}

// Same bits, or both null: "equal" for doubles would let -0.0 and 0.0 pass.
void expect_same(const measure_value& got, std::optional<double> want, const std::string& what) {
    if (!want) {
        EXPECT_TRUE(got.is_null()) << what;
        return;
    }
    ASSERT_EQ(got.kind, measure_kind::number) << what;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(got.number), std::bit_cast<std::uint64_t>(*want))
        << what << ": " << got.number << " vs " << *want;
}

TEST(AggregateLayout, FusedStepsMatchAccumulatorsOneByOne) {
    // Interleaved fields and kinds, several bounds per field (wide, narrow and one-point
    // ranges), as a node with many checks over the same fields writes them.
    struct range {
        int field;
        double lo;
        double hi;
        std::string text;
    };
    std::vector<range> ranges;
    const auto bound = [](double d) { return std::to_string(d); };
    // Bounds as the parser reads them back (6 decimals); 1e300 admits +-inf values too.
    const double los[] = {0, 5, -1e300, 49.5, 19.99, 30};
    const double his[] = {10, 60, 20, 1e300, 20.01, 30};
    for (int i = 0; i < 6; ++i) {
        for (int f = 0; f < 2; ++f) {
            const std::string name = f == 0 ? "x" : "y";
            ranges.push_back(
                {f, los[i], his[i],
                 "in_range_fraction(" + name + ", " + bound(los[i]) + ", " + bound(his[i]) + ")"});
        }
    }
    std::vector<std::string> measures = {"count()", "missing_fraction(x)", "mean(x)", "min(y)"};
    for (const auto& r : ranges) measures.push_back(r.text);
    for (const char* m : {"std_dev(x)", "max(x)", "min(x)", "sum(y)", "variance(y)", "max(y)",
                          "std_dev_pop(x)", "variance_pop(y)", "in_range_count(x, 10, 40)"}) {
        measures.emplace_back(m);
    }
    const compiled c = compile(measures);
    const std::vector<field_path> fields = {field_path{{"x"}}, field_path{{"y"}}};
    aggregate_layout layout(c.calls, fields);
    for (int trial = 0; trial < 20; ++trial) {
        std::mt19937_64 rng(1000 + static_cast<std::uint64_t>(trial));
        const std::size_t n = 1 + rng() % 400;
        const test::value_stream xs = test::random_values(rng, n);
        const test::value_stream ys = test::random_values(rng, n, 0.9);

        std::vector<std::byte> storage(layout.block_bytes() + 8);
        std::byte* block = storage.data();
        layout.construct(block);
        measure::sum_acc sum_x, sum_y;
        measure::moments_acc mom_x, mom_y;
        measure::min_acc min_x, min_y;
        measure::max_acc max_x, max_y;
        measure::missing_acc miss_x;
        const measure::missing_config no_placeholders;
        std::vector<measure::predicate_acc> preds(ranges.size() + 1);
        for (std::size_t i = 0; i < n; ++i) {
            const field_value rec[2] = {xs.values[i], ys.values[i]};
            layout.add(block, rec, 0, 0);
            sum_x.add(rec[0]);
            sum_y.add(rec[1]);
            mom_x.add(rec[0]);
            mom_y.add(rec[1]);
            min_x.add(rec[0]);
            min_y.add(rec[1]);
            max_x.add(rec[0]);
            max_y.add(rec[1]);
            miss_x.add(rec[0], no_placeholders);
            for (std::size_t r = 0; r < ranges.size(); ++r) {
                measure::in_range_config cfg;
                cfg.lo = ranges[r].lo;
                cfg.hi = ranges[r].hi;
                preds[r].add(rec[ranges[r].field], cfg);
            }
            measure::in_range_config cfg;
            cfg.lo = 10;
            cfg.hi = 40;
            preds.back().add(rec[0], cfg);
        }
        const auto value = [&](const std::string& call_key) {
            return layout.evaluate(block, layout.call_index(call_key), 1, 0, window::k_no_time);
        };
        const std::string t = " (trial " + std::to_string(trial) + ")";
        expect_same(value("count()"), static_cast<double>(n), "count" + t);
        expect_same(value("missing_fraction(x)"), miss_x.missing_fraction(), "missing" + t);
        expect_same(value("mean(x)"), sum_x.mean(), "mean(x)" + t);
        expect_same(value("sum(y)"), sum_y.sum_result(), "sum(y)" + t);
        expect_same(value("std_dev(x)"), mom_x.std_dev(), "std_dev(x)" + t);
        expect_same(value("variance(y)"), mom_y.variance(), "variance(y)" + t);
        expect_same(value("std_dev_pop(x)"), mom_x.std_dev_pop(), "std_dev_pop(x)" + t);
        expect_same(value("variance_pop(y)"), mom_y.variance_pop(), "variance_pop(y)" + t);
        expect_same(value("min(x)"), min_x.result(), "min(x)" + t);
        expect_same(value("min(y)"), min_y.result(), "min(y)" + t);
        expect_same(value("max(x)"), max_x.result(), "max(x)" + t);
        expect_same(value("max(y)"), max_y.result(), "max(y)" + t);
        for (std::size_t r = 0; r < ranges.size(); ++r) {
            const std::string key = c.exprs[4 + r].calls().at(0).key;
            expect_same(value(key), preds[r].fraction(), ranges[r].text + t);
        }
        expect_same(value(c.exprs.back().calls().at(0).key), preds.back().count(),
                    "in_range_count" + t);
        layout.destroy(block);
    }
}

TEST(AggregateLayout, NumericPlaceholdersCountAndKeepTheirOwnState) {
    // The defect of issue 15: missing_fraction(x, [-999]) on [-999, 5] was 0. Numbers match
    // numbers by value, strings strings: each list is its own accumulator, and lists of
    // strings only keep the state key (and so the checkpoints) of plans before numbers counted.
    const compiled c =
        compile({"missing_fraction(x, [-999])", "missing_fraction(x, [\"-999\"])",
                 "missing_count(x, [-999, \"-999\", false])", "missing_count(x, [\"N/A\", \"-\"])",
                 "missing_count(x)", "missing_count(x, [9999.0, -999])"});
    ASSERT_EQ(c.calls.size(), 6u);
    const std::vector<field_path> fields = {field_path{{"x"}}};
    aggregate_layout layout(c.calls, fields);
    std::vector<std::byte> storage(layout.block_bytes() + 8);
    std::byte* block = storage.data();
    layout.construct(block);
    const field_value values[] = {
        field_value::make_number(-999),   field_value::make_number(5),
        field_value::make_number(-999.0), field_value::make_string("-999"),
        field_value::make_string("N/A"),  field_value::make_boolean(false),
        field_value::make_number(9999),   field_value::make_null()};
    for (const auto& v : values) layout.add(block, std::span<const field_value>(&v, 1), 0, 0);
    const auto value = [&](std::size_t call) {
        return layout.evaluate(block, layout.call_index(c.calls[call]->key), 1, 0,
                               window::k_no_time);
    };
    expect_same(value(0), 3.0 / 8, "missing_fraction(x, [-999])");  // two -999 and null
    expect_same(value(1), 2.0 / 8, "missing_fraction(x, [\"-999\"])");
    expect_same(value(2), 5.0, "missing_count(x, [-999, \"-999\", false])");
    expect_same(value(3), 2.0, "missing_count(x, [\"N/A\", \"-\"])");
    expect_same(value(4), 1.0, "missing_count(x)");
    expect_same(value(5), 4.0, "missing_count(x, [9999.0, -999])");  // and null
    EXPECT_NE(layout.fingerprint().find(";missing(x, -, N/A);"), std::string::npos)
        << layout.fingerprint();
    layout.destroy(block);
}

}  // namespace
}  // namespace weir::engine
