// Measures over several inputs in one node: a call whose fields start with an input's name
// (`count(orders)`, `sum(orders.x)`) sees that input's records alone; the engine tells a
// batch's input by its watermark source.
#include <gtest/gtest.h>

#include <map>

#include "core/engine/node_engine.h"
#include "tests/unit/core/engine/engine_harness.h"

namespace weir::test {
namespace {

using engine::check_plan;
using engine::node_engine;

check_plan check(std::string name, std::string measure) {
    check_plan c;
    c.name = std::move(name);
    c.measure = std::move(measure);
    return c;
}

constexpr std::size_t k_orders = 0;
constexpr std::size_t k_payments = 1;

engine::node_plan two_inputs(window::window_spec w, std::vector<check_plan> checks) {
    auto plan = basic_plan(w);
    plan.sources = 2;  // anonymous sources "0" and "1": inputs 0 and 1
    plan.origins = {"orders", "payments"};
    plan.checks = std::move(checks);
    engine::add_referenced_fields(plan);
    return plan;
}

// check name -> window start -> value (null as NaN is not comparable: absent instead).
using values = std::map<std::string, std::map<timestamp_ns, double>>;
values by_check(const std::vector<check_result>& out) {
    values v;
    for (const auto& r : out) {
        if (r.value.is_number()) v[r.check][r.window_start] = r.value.number;
    }
    return v;
}

test_record missing_x(timestamp_ns t) {
    return {t, field_value::make_number(0), field_value::make_null(), field_value::make_number(0),
            true};
}

TEST(Origins, CallsNamingAnInputMeasureItsRecordsAlone) {
    node_engine e(
        two_inputs(tumbling(10 * k_s),
                   {check("orders", "count(orders)"), check("payments", "count(payments)"),
                    check("all", "count()"), check("gap", "count(orders) - count(payments)"),
                    check("amount_gap", "sum(orders.x) - sum(payments.x)"),
                    check("paid", "count(payments) / count(orders)"), check("total", "sum(x)"),
                    check("order_mean", "mean(orders.x)"),
                    check("unpaid_amounts", "missing_fraction(payments.x)")}));
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 10), num(2 * k_s, 20), num(3 * k_s, 30), num(4 * k_s, 40)}, 0, out,
         nullptr, k_orders);
    feed(e, {num(2 * k_s, 10), missing_x(3 * k_s), num(5 * k_s, 25)}, 0, out, nullptr, k_payments);
    e.finish(0, out);
    const auto v = by_check(out);
    EXPECT_EQ(v.at("orders").at(0), 4);
    EXPECT_EQ(v.at("payments").at(0), 3);
    EXPECT_EQ(v.at("all").at(0), 7);
    EXPECT_EQ(v.at("gap").at(0), 1);
    EXPECT_EQ(v.at("amount_gap").at(0), 100 - 35);
    EXPECT_DOUBLE_EQ(v.at("paid").at(0), 3.0 / 4.0);
    EXPECT_EQ(v.at("total").at(0), 135);
    EXPECT_EQ(v.at("order_mean").at(0), 25);
    EXPECT_DOUBLE_EQ(v.at("unpaid_amounts").at(0), 1.0 / 3.0);
}

// Payments stop: the amount gap of a window without a payment is the whole amount, never no
// data (which would keep the check quiet in the very window it must fail); a sum over every
// input still has no data without a number.
TEST(Origins, ASumOfAnInputThatSentNothingIsZero) {
    node_engine e(two_inputs(tumbling(10 * k_s),
                             {check("amount_gap", "sum(orders.x) - sum(payments.x)"),
                              check("paid", "sum(payments.x)"), check("total", "sum(x)")}));
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 10), num(2 * k_s, 20), num(12 * k_s, 5)}, 0, out, nullptr, k_orders);
    feed(e, {num(13 * k_s, 5), missing_x(14 * k_s)}, 0, out, nullptr, k_payments);
    e.finish(0, out);
    const auto v = by_check(out);
    EXPECT_EQ(v.at("amount_gap").at(0), 30);
    EXPECT_EQ(v.at("paid").at(0), 0);
    EXPECT_EQ(v.at("amount_gap").at(10 * k_s), 0);
    EXPECT_EQ(v.at("total").at(10 * k_s), 10);
}

TEST(Origins, StateOfBoundCallsIsKeptApartAndSingleInputKeysStay) {
    const std::vector<check_plan> checks = {check("a", "sum(x)"), check("b", "sum(orders.x)"),
                                            check("c", "count(orders)")};
    node_engine bound(two_inputs(tumbling(10 * k_s), checks));
    const std::string& fp = bound.layout().fingerprint();
    EXPECT_NE(fp.find("sum(x)"), std::string::npos) << fp;
    EXPECT_NE(fp.find("sum(x) from orders"), std::string::npos) << fp;
    EXPECT_NE(fp.find("records() from orders"), std::string::npos) << fp;

    // A node of one input keeps the keys its checkpoints were written with.
    auto single = basic_plan(tumbling(10 * k_s));
    single.checks = {check("a", "sum(x)"), check("d", "count()")};
    node_engine one(single);
    EXPECT_EQ(one.layout().fingerprint(), "v1;sum(x)");
}

TEST(Origins, SourcesNamedByInputFindTheirOrigin) {
    auto plan = two_inputs(tumbling(10 * k_s),
                           {check("o", "count(orders)"), check("p", "count(payments)")});
    plan.source_ids = {"orders/a.jsonl", "payments/b.jsonl"};
    node_engine e(plan);
    const std::size_t late_orders = e.add_source("orders/c.jsonl", 0);
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 1)}, 0, out, nullptr, 1);
    feed(e, {num(1 * k_s, 1), num(2 * k_s, 1)}, 0, out, nullptr, 0);
    feed(e, {num(3 * k_s, 1)}, 0, out, nullptr, late_orders);
    e.finish(0, out);
    const auto v = by_check(out);
    EXPECT_EQ(v.at("o").at(0), 3);
    EXPECT_EQ(v.at("p").at(0), 1);
}

TEST(Origins, CheckFiltersAndSlidingWindowsApplyToBoundCalls) {
    auto c1 = check("big_orders", "count(orders)");
    c1.filter = "x > 15";
    auto c2 = check("big_payments", "sum(payments.x)");
    c2.filter = "x > 15";
    node_engine e(two_inputs(sliding(10 * k_s, 5 * k_s), {c1, c2, check("n", "count(orders)")}));
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 10), num(6 * k_s, 20), num(7 * k_s, 30)}, 0, out, nullptr, k_orders);
    feed(e, {num(2 * k_s, 16), num(8 * k_s, 5)}, 0, out, nullptr, k_payments);
    e.finish(0, out);
    const auto v = by_check(out);
    // Windows [-5, 5), [0, 10), [5, 15).
    EXPECT_EQ(v.at("big_orders").at(0), 2);
    EXPECT_EQ(v.at("big_orders").at(5 * k_s), 2);
    EXPECT_EQ(v.at("n").at(-5 * k_s), 1);
    EXPECT_EQ(v.at("n").at(0), 3);
    EXPECT_EQ(v.at("big_payments").at(-5 * k_s), 16);
    EXPECT_EQ(v.at("big_payments").at(0), 16);
}

TEST(Origins, SnapshotAndRestoreMidWindowGiveTheUninterruptedResults) {
    const auto plan =
        two_inputs(tumbling(10 * k_s), {check("gap", "count(orders) - count(payments)"),
                                        check("amount", "sum(orders.x) - sum(payments.x)")});
    std::vector<check_result> whole;
    {
        node_engine e(plan);
        feed(e, {num(1 * k_s, 5), num(12 * k_s, 7)}, 0, whole, nullptr, k_orders);
        feed(e, {num(2 * k_s, 3), num(13 * k_s, 1)}, 0, whole, nullptr, k_payments);
        feed(e, {num(14 * k_s, 2)}, 0, whole, nullptr, k_orders);
        e.finish(0, whole);
    }
    std::vector<check_result> parts;
    byte_writer w;
    {
        node_engine e(plan);
        feed(e, {num(1 * k_s, 5), num(12 * k_s, 7)}, 0, parts, nullptr, k_orders);
        e.snapshot(w);
    }
    node_engine e(plan);
    byte_reader r(w.data());
    ASSERT_TRUE(e.restore(r));
    feed(e, {num(2 * k_s, 3), num(13 * k_s, 1)}, 0, parts, nullptr, k_payments);
    feed(e, {num(14 * k_s, 2)}, 0, parts, nullptr, k_orders);
    e.finish(0, parts);
    EXPECT_EQ(by_check(whole), by_check(parts));
    const auto v = by_check(whole);
    EXPECT_EQ(v.at("gap").at(0), 0);
    EXPECT_EQ(v.at("gap").at(10 * k_s), 1);
    EXPECT_EQ(v.at("amount").at(10 * k_s), 8);
}

TEST(Origins, SamplesOfABoundCallAreRecordsOfItsInput) {
    auto c = check("unpaid_amounts", "missing_count(payments.x)");
    c.must_be = "== 0";
    c.samples = 5;
    node_engine e(two_inputs(tumbling(10 * k_s), {c}));
    std::vector<check_result> out;
    feed(e, {missing_x(1 * k_s), num(2 * k_s, 1)}, 0, out, nullptr, k_orders);
    feed(e, {num(3 * k_s, 4), missing_x(4 * k_s)}, 0, out, nullptr, k_payments);
    e.finish(0, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].value, measure_value::make_number(1));
    EXPECT_EQ(out[0].samples,
              std::vector<std::string>{R"({"time":"1970-01-01T00:00:04.000Z","x":null})"});
}

TEST(Origins, CallsMixingInputsAreRefused) {
    for (const char* m : {"correlation(orders.x, payments.y)", "correlation(orders.x, y)",
                          "sum(orders)", "count_where(orders.x > 1)"}) {
        auto plan = basic_plan(tumbling(10 * k_s));
        plan.sources = 2;
        plan.origins = {"orders", "payments"};
        plan.checks = {check("c", m)};
        EXPECT_THROW(engine::add_referenced_fields(plan), std::invalid_argument) << m;
    }
}

}  // namespace
}  // namespace weir::test
