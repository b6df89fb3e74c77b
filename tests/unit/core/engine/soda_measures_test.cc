// The measures ported users of SodaCL and Deequ reach for (aliases, composite duplicates,
// percent shorthands, formats, entropy, approximate quantiles): hand-computed values through
// the accumulator block, merges of partial blocks, and checkpoint round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <string>
#include <vector>

#include "core/engine/aggregates.h"
#include "core/measure/approx.h"
#include "core/measure/frequency.h"
#include "core/measure/measure_expr.h"
#include "core/window/window_spec.h"

namespace weir::engine {
namespace {

// One layout over the fields x, y, z; records are rows of those three values.
class block_fixture {
  public:
    explicit block_fixture(const std::vector<std::string>& measures) {
        for (const auto& text : measures) {
            auto parsed = measure::parse_measure(text);
            EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message);
            if (parsed.ok()) exprs_.push_back(std::move(*parsed));
        }
        for (const auto& e : exprs_) {
            for (const auto& c : e.calls()) calls_.push_back(&c);
        }
        layout_ = std::make_unique<aggregate_layout>(
            calls_,
            std::vector<field_path>{field_path{{"x"}}, field_path{{"y"}}, field_path{{"z"}}});
    }

    const aggregate_layout& layout() const { return *layout_; }

    // A constructed block, destroyed with the fixture.
    std::byte* block() {
        auto& storage = blocks_.emplace_back(layout_->block_bytes() + 8);
        std::byte* b = storage.data();
        layout_->construct(b);
        constructed_.push_back(b);
        return b;
    }

    ~block_fixture() {
        for (std::byte* b : constructed_) layout_->destroy(b);
    }

    void add(std::byte* b, const std::vector<field_value>& row) {
        std::vector<field_value> rec = row;
        rec.resize(3, field_value::make_absent());
        layout_->add(b, rec, 0, 0);
    }

    // The value of measure `i` (as given to the constructor) for a block.
    measure_value value(const std::byte* b, std::size_t i) const {
        std::vector<measure_value> values;
        for (const auto& c : exprs_[i].calls()) {
            values.push_back(layout_->evaluate(b, layout_->call_index(c.key), 1'000'000'000, 0,
                                               window::k_no_time));
        }
        return exprs_[i].evaluate(values);
    }

    // The block after a snapshot and restore.
    std::byte* round_trip(const std::byte* b) {
        byte_writer w;
        layout_->serialize(b, w);
        const std::string bytes = w.take();
        byte_reader r(bytes);
        std::byte* fresh = block();
        EXPECT_TRUE(layout_->deserialize(fresh, r));
        EXPECT_TRUE(r.at_end());
        return fresh;
    }

  private:
    std::vector<measure::measure_expr> exprs_;
    std::vector<const measure::aggregate_call*> calls_;
    std::unique_ptr<aggregate_layout> layout_;
    std::deque<std::vector<std::byte>> blocks_;
    std::vector<std::byte*> constructed_;
};

field_value n(double d) {
    return field_value::make_number(d);
}
field_value s(const char* text) {
    return field_value::make_string(text);
}
const field_value k_absent = field_value::make_absent();
const field_value k_null = field_value::make_null();

void expect_number(const measure_value& v, double want, const std::string& what,
                   double tolerance = 0) {
    ASSERT_TRUE(v.is_number()) << what << " is " << to_string(v);
    if (tolerance == 0) {
        EXPECT_EQ(v.number, want) << what;
    } else {
        EXPECT_NEAR(v.number, want, tolerance) << what;
    }
}

TEST(SodaMeasures, AliasesAreTheirTargets) {
    block_fixture f(
        {"row_count()", "avg(x)", "avg_length(y)", "count()", "mean(x)", "mean_length(y)"});
    std::byte* b = f.block();
    f.add(b, {n(1), s("ab")});
    f.add(b, {n(2), s("abcd")});
    f.add(b, {n(6), k_null});
    f.add(b, {s("no"), s("\xc3\xa9")});  // é: one character
    expect_number(f.value(b, 0), 4, "row_count()");
    expect_number(f.value(b, 1), 3, "avg(x)");                      // (1 + 2 + 6) / 3
    expect_number(f.value(b, 2), 7.0 / 3, "avg_length(y)", 1e-15);  // (2 + 4 + 1) / 3
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(f.value(b, i), f.value(b, i + 3));
    // One accumulator each: the alias's call is the target's call.
    EXPECT_EQ(f.layout().calls(), 3u);
    EXPECT_EQ(f.layout().fingerprint(), "v1;sum(x);length(y)");
}

TEST(SodaMeasures, DuplicatesOverACompositeKey) {
    block_fixture f({"duplicate_count(x, y)", "duplicate_fraction(x, y)", "duplicate_percent(x, y)",
                     "duplicate_count(x)", "duplicate_fraction(x)", "duplicate_percent(x)",
                     "duplicate_count(x, z)", "duplicate_count(y, x)"});
    const auto rows = std::vector<std::vector<field_value>>{
        {n(1), s("a"), n(2)},
        {n(1), s("a"), n(1)},  // (1, a) again
        {n(1), s("b"), n(2)},  // (1, 2) again for (x, z)
        {n(2), s("a"), n(1)},  // (2, 1): not (1, 2)
        {n(1), s("a")},        // (1, a) again; z absent
        {n(1), k_null},        // y missing: no key
        {k_absent, s("a")},    // x missing: no key
        {s("1"), s("a")},      // the string "1" is not the number 1
        {field_value::make_boolean(true), s("b")},
        {n(1), s("b")},                       // (1, b) again
        {field_value::make_other(), s("a")},  // an object: no key
    };
    // One block fed everything, and the same rows split over two blocks and merged.
    std::byte* whole = f.block();
    std::byte* left = f.block();
    std::byte* right = f.block();
    for (std::size_t i = 0; i < rows.size(); ++i) {
        f.add(whole, rows[i]);
        f.add(i < 4 ? left : right, rows[i]);
    }
    f.layout().merge(left, right);
    for (std::byte* b : {whole, left, f.round_trip(whole)}) {
        // Keys (x, y): 8 records have both; 5 distinct tuples.
        expect_number(f.value(b, 0), 3, "duplicate_count(x, y)");
        expect_number(f.value(b, 1), 3.0 / 8, "duplicate_fraction(x, y)");
        expect_number(f.value(b, 2), 37.5, "duplicate_percent(x, y)");
        // One field: 9 present values other than the object; 1, 2, "1" and true distinct.
        expect_number(f.value(b, 3), 5, "duplicate_count(x)");
        expect_number(f.value(b, 4), 5.0 / 9, "duplicate_fraction(x)");
        expect_number(f.value(b, 5), 500.0 / 9, "duplicate_percent(x)", 1e-12);
        // (x, z): (1,2) (1,1) (1,2) (2,1): one repeat; order matters.
        expect_number(f.value(b, 6), 1, "duplicate_count(x, z)");
        expect_number(f.value(b, 7), 3, "duplicate_count(y, x)");
    }
    // count, fraction and percent of one key share one table; (x, y) and (y, x) do not.
    EXPECT_EQ(f.layout().fingerprint(),
              "v1;composite(x, y);frequency(x);composite(x, z);composite(y, x)");
    // An empty window: no duplicates, and no fraction.
    std::byte* empty = f.block();
    expect_number(f.value(empty, 0), 0, "duplicate_count(x, y) of nothing");
    EXPECT_TRUE(f.value(empty, 1).is_null());
    EXPECT_TRUE(f.value(empty, 2).is_null());
}

TEST(SodaMeasures, PercentShorthandsAreHundredTimesTheFraction) {
    block_fixture f({"missing_percent(x)", "missing_percent(x, [\"N/A\"])",
                     "missing_fraction(x, [\"N/A\"])", "missing_percent(x) / 100"});
    std::byte* b = f.block();
    for (const auto& v : {n(1), k_null, s("N/A"), s(""), n(5)}) f.add(b, {v});
    expect_number(f.value(b, 0), 40, "missing_percent(x)");  // null, ""
    expect_number(f.value(b, 1), 60, "missing_percent(x, [N/A])");
    expect_number(f.value(b, 2), 0.6, "missing_fraction(x, [N/A])");
    expect_number(f.value(b, 3), 0.4, "missing_percent(x) / 100");
    // The fraction and the percent share the state.
    EXPECT_EQ(f.layout().fingerprint(), "v1;missing(x);missing(x, N/A)");
    EXPECT_TRUE(f.value(f.block(), 0).is_null());  // empty window
}

TEST(SodaMeasures, ValidAndInvalidValuesOfAFormat) {
    block_fixture f({"valid_count(x, email)", "valid_fraction(x, email)", "invalid_count(x, email)",
                     "invalid_fraction(x, email)", "invalid_percent(x, email)",
                     "invalid_fraction(y, integer)", "valid_count(y, decimal)", "invalid_count()",
                     "invalid_fraction()"});
    const auto rows = std::vector<std::vector<field_value>>{
        {s("a@b.co"), s("12")}, {s("bad"), n(12)},
        {s("N/A"), n(12.5)},    {k_null, s("-3")},
        {s(""), s("1e3")},      {s("c@d.org"), k_null},
        {n(5), k_absent},       {field_value::make_boolean(true), s("")},
    };
    std::byte* b = f.block();
    std::byte* other = f.block();
    for (std::size_t i = 0; i < rows.size(); ++i) f.add(i < 3 ? b : other, rows[i]);
    f.layout().add_invalid(other);
    f.layout().merge(b, other);
    for (const std::byte* blk : {b, f.round_trip(b)}) {
        // x present: a@b.co, bad, N/A, c@d.org, 5, true; emails: 2. null and "" are neither.
        expect_number(f.value(blk, 0), 2, "valid_count(x, email)");
        expect_number(f.value(blk, 1), 1.0 / 3, "valid_fraction(x, email)");
        expect_number(f.value(blk, 2), 4, "invalid_count(x, email)");
        expect_number(f.value(blk, 3), 2.0 / 3, "invalid_fraction(x, email)");
        expect_number(f.value(blk, 4), 200.0 / 3, "invalid_percent(x, email)", 1e-12);
        // y present: "12", 12, 12.5, "-3", "1e3"; integers "12", 12, "-3".
        expect_number(f.value(blk, 5), 0.4, "invalid_fraction(y, integer)");
        expect_number(f.value(blk, 6), 4, "valid_count(y, decimal)");
        // Without arguments: the records the schema rejected, as before.
        expect_number(f.value(blk, 7), 1, "invalid_count()");
        expect_number(f.value(blk, 8), 1.0 / 9, "invalid_fraction()");
    }
    // The five measures of (x, email) share one count.
    EXPECT_EQ(f.layout().fingerprint(),
              "v1;format(x, email);format(y, integer);format(y, decimal);invalid()");
    std::byte* empty = f.block();
    expect_number(f.value(empty, 2), 0, "invalid_count(x, email) of nothing");
    EXPECT_TRUE(f.value(empty, 3).is_null());
    EXPECT_TRUE(f.value(empty, 4).is_null());
}

TEST(SodaMeasures, FormatsWorkUnderACheckFilter) {
    auto parsed = measure::parse_measure("invalid_count(x, integer)");
    ASSERT_TRUE(parsed.ok());
    const layout_call lc{&parsed->calls()[0], "y > 0"};
    aggregate_layout layout(std::span(&lc, 1), {field_path{{"x"}}, field_path{{"y"}}});
    std::vector<std::byte> storage(layout.block_bytes() + 8);
    layout.construct(storage.data());
    for (const auto& [x, y] : {std::pair{s("1"), n(1)}, {s("one"), n(1)}, {s("two"), n(0)}}) {
        const field_value rec[] = {x, y};
        layout.add(storage.data(), rec, 0, 0);
    }
    expect_number(layout.evaluate(storage.data(), 0, 1, 0, window::k_no_time), 1,
                  "invalid_count(x, integer) if y > 0");
    layout.destroy(storage.data());
}

TEST(SodaMeasures, EntropyInBits) {
    block_fixture f({"entropy(x)", "entropy(y)", "entropy(z)", "distinct_count(x)"});
    std::byte* b = f.block();
    std::byte* other = f.block();
    f.add(b, {s("a"), n(7), k_null});
    f.add(b, {s("a"), n(7)});
    f.add(b, {k_null, n(7)});
    f.add(other, {s("b"), n(7)});
    f.add(other, {s(""), k_absent});
    f.add(other, {s("c"), n(7)});
    f.layout().merge(b, other);
    for (const std::byte* blk : {b, f.round_trip(b)}) {
        // a, a, b, c: p = 1/2, 1/4, 1/4.
        expect_number(f.value(blk, 0), 1.5, "entropy(x)");
        expect_number(f.value(blk, 1), 0, "entropy(y) of one value");
        EXPECT_TRUE(f.value(blk, 2).is_null()) << "entropy(z) of no value";
        expect_number(f.value(blk, 3), 3, "distinct_count(x)");
    }
    // Shares the frequency table of the distinct-value measures.
    EXPECT_EQ(f.layout().fingerprint(), "v1;frequency(x);frequency(y);frequency(z)");
    // Eight equally frequent values: 3 bits.
    std::byte* eight = f.block();
    for (int i = 0; i < 16; ++i) f.add(eight, {n(i % 8)});
    expect_number(f.value(eight, 0), 3, "entropy of 8 values", 1e-12);
}

TEST(SodaMeasures, EntropyHasNoDataOnceTheTableIsCapped) {
    measure::frequency_config small;
    small.max_bytes = 4096;  // 128 slots of 16 bytes (89 values) at most, counting regrowth
    measure::frequency_acc acc;
    for (int i = 0; i < 40; ++i) acc.add(n(i), small);
    ASSERT_FALSE(acc.capped());
    expect_number(measure_value::make_number(*acc.entropy().value), std::log2(40.0),
                  "entropy of 40 distinct values", 1e-12);
    for (int i = 40; i < 200; ++i) acc.add(n(i), small);
    ASSERT_TRUE(acc.capped());
    EXPECT_FALSE(acc.entropy().value.has_value());
    EXPECT_TRUE(acc.entropy().capped);
}

TEST(SodaMeasures, MutualInformationInBits) {
    block_fixture f(
        {"mutual_information(x, y)", "mutual_information(x, z)", "mutual_information(y, z)"});
    std::byte* b = f.block();
    std::byte* other = f.block();
    // (x, y): y is a function of x: I = H(x) = 1. (x, z): independent: I = 0.
    f.add(b, {n(0), s("p"), n(0)});
    f.add(b, {n(0), s("p"), n(1)});
    f.add(other, {n(1), s("q"), n(0)});
    f.add(other, {n(1), s("q"), n(1)});
    f.add(other, {n(1), k_null, k_absent});  // no pair
    f.layout().merge(b, other);
    for (const std::byte* blk : {b, f.round_trip(b)}) {
        expect_number(f.value(blk, 0), 1, "mutual_information(x, y)", 1e-12);
        expect_number(f.value(blk, 1), 0, "mutual_information(x, z)", 1e-12);
        // (y, z): p0 p1 q0 q1: independent as well.
        expect_number(f.value(blk, 2), 0, "mutual_information(y, z)", 1e-12);
    }
    // (a, x) (a, y) (b, x) (b, x): H(A) = 1, H(B) = H(3/4, 1/4), H(A, B) = 1.5.
    std::byte* c = f.block();
    f.add(c, {s("a"), s("x")});
    f.add(c, {s("a"), s("y")});
    f.add(c, {s("b"), s("x")});
    f.add(c, {s("b"), s("x")});
    const double hb = -(0.75 * std::log2(0.75) + 0.25 * std::log2(0.25));
    expect_number(f.value(c, 0), 1 + hb - 1.5, "mutual_information, partly dependent", 1e-12);
    EXPECT_TRUE(f.value(f.block(), 0).is_null()) << "no pair";
}

TEST(SodaMeasures, ApproxQuantileIsAlwaysTheSketch) {
    block_fixture f({"approx_quantile(x, 0.5)", "approx_quantile(x, 0.9)", "approx_quantile(x, 0)",
                     "approx_quantile(x, 1)"});
    std::byte* b = f.block();
    measure::quantile_acc sketch(0);  // exact up to 0 values: the sketch at once
    for (const double d : {-3.0, 5.0}) {
        f.add(b, {n(d)});
        sketch.add(n(d));
    }
    f.add(b, {s("7")});  // not a number
    f.add(b, {k_null});
    // Two values: the nearest-rank median is -3; the answer is the sketch's, within 1% of it.
    const measure_value median = f.value(b, 0);
    ASSERT_TRUE(median.is_number());
    std::vector<double> scratch;
    const auto nearest = measure::quantile_method::nearest;
    ASSERT_TRUE(sketch.approximate());
    EXPECT_EQ(median.number, *sketch.quantile(0.5, nearest, scratch));
    EXPECT_LE(std::abs(median.number - -3), 0.01 * 3);
    EXPECT_EQ(f.value(b, 1).number, *sketch.quantile(0.9, nearest, scratch));
    EXPECT_LE(std::abs(f.value(b, 1).number - 5), 0.01 * 5);
    expect_number(f.value(b, 2), -3, "approx_quantile(x, 0): the exact minimum");
    expect_number(f.value(b, 3), 5, "approx_quantile(x, 1): the exact maximum");
    EXPECT_EQ(f.value(f.round_trip(b), 0), median);
    EXPECT_TRUE(f.value(f.block(), 0).is_null());
    EXPECT_EQ(f.layout().fingerprint(), "v1;quantiles(x; sketch)");
}

}  // namespace
}  // namespace weir::engine
