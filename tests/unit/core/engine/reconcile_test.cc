// reconcile(orders.x, payments.x): keyed reconciliation of two inputs per window and group,
// against a brute-force reference over disordered streams with duplicate keys, with snapshots
// and restores at random points, in tumbling and sliding windows.
#include "core/measure/reconcile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <variant>

#include "core/engine/node_engine.h"
#include "core/result/check_result.h"
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

engine::node_plan two_inputs(window::window_spec w, std::vector<check_plan> checks,
                             bool grouped = false) {
    auto plan = basic_plan(w);
    plan.sources = 2;
    plan.origins = {"orders", "payments"};
    plan.checks = std::move(checks);
    if (grouped) plan.group_by = {field_path{{"g"}}};
    engine::add_referenced_fields(plan);
    return plan;
}

test_record keyed(timestamp_ns t, field_value key, double g = 0) {
    return {t, field_value::make_number(g), key, field_value::make_number(0), true};
}
test_record keyed(timestamp_ns t, double key, double g = 0) {
    return keyed(t, field_value::make_number(key), g);
}

const check_result& find(const std::vector<check_result>& out, const std::string& name,
                         timestamp_ns start) {
    for (const auto& r : out) {
        if (r.check == name && r.window_start == start) return r;
    }
    throw std::runtime_error("no result of " + name);
}

TEST(Reconcile, CountsMatchedAndMissingKeysOfEachSide) {
    string_pool pool;
    node_engine e(two_inputs(
        tumbling(10 * k_s),
        {check("missing", "reconcile(orders.x, payments.x)"),
         check("unpaid", "reconcile(orders.x, payments.x, missing_right)"),
         check("unordered", "reconcile(orders.x, payments.x, missing_left)"),
         check("matched", "reconcile(orders.x, payments.x, matched)"),
         check("unpaid_share", "reconcile(orders.x, payments.x, missing_right, fraction)"),
         check("share", "reconcile(orders.x, payments.x, fraction)")}));
    std::vector<check_result> out;
    // Orders 1, 2, 2 (a duplicate), 3, "4", and one without a key; payments 1.0, 3, 4, 5.
    feed(e,
         {keyed(1 * k_s, 1), keyed(2 * k_s, 2), keyed(3 * k_s, 2), keyed(4 * k_s, 3),
          keyed(5 * k_s, pool.make("4")), keyed(6 * k_s, field_value::make_null())},
         0, out, nullptr, 0);
    feed(e, {keyed(2 * k_s, 1.0), keyed(3 * k_s, 3), keyed(4 * k_s, 4), keyed(5 * k_s, 5)}, 0, out,
         nullptr, 1);
    e.finish(0, out);
    // Matched 1 and 3; orders without payment 2 and "4" ("4" is not 4); payments without
    // order 4 and 5.
    EXPECT_EQ(find(out, "missing", 0).value, measure_value::make_number(4));
    EXPECT_EQ(find(out, "unpaid", 0).value, measure_value::make_number(2));
    EXPECT_EQ(find(out, "unordered", 0).value, measure_value::make_number(2));
    EXPECT_EQ(find(out, "matched", 0).value, measure_value::make_number(2));
    EXPECT_EQ(find(out, "unpaid_share", 0).value, measure_value::make_number(2.0 / 4.0));
    EXPECT_EQ(find(out, "share", 0).value, measure_value::make_number(4.0 / 6.0));
    const auto& r = find(out, "missing", 0);
    ASSERT_NE(r.reconciliation, nullptr);
    EXPECT_EQ(r.reconciliation->left, "orders");
    EXPECT_EQ(r.reconciliation->right, "payments");
    EXPECT_EQ(r.reconciliation->matched, 2u);
    EXPECT_EQ(r.reconciliation->missing_right, 2u);
    EXPECT_EQ(r.reconciliation->missing_left, 2u);
    EXPECT_EQ(r.reconciliation->sample_missing_right, (std::vector<std::string>{"2", "\"4\""}));
    EXPECT_EQ(r.reconciliation->sample_missing_left, (std::vector<std::string>{"4", "5"}));
    EXPECT_FALSE(r.approximate);
    std::string json;
    append_json(r, json);
    EXPECT_NE(json.find("\"reconciliation\":{\"left\":\"orders\",\"right\":\"payments\","
                        "\"matched\":2,\"missing_left\":2,\"missing_right\":2,"
                        "\"sample_missing_left\":[4,5],\"sample_missing_right\":[2,\"4\"]}"),
              std::string::npos)
        << json;
}

TEST(Reconcile, AnEmptyWindowHasNothingMissingAndNoFraction) {
    node_engine e(
        two_inputs(tumbling(10 * k_s), {check("n", "reconcile(orders.x, payments.x)"),
                                        check("f", "reconcile(orders.x, payments.x, fraction)")}));
    std::vector<check_result> out;
    feed(e, {keyed(1 * k_s, 1)}, 0, out, nullptr, 0);
    feed(e, {keyed(1 * k_s, 1), keyed(25 * k_s, 2)}, 0, out, nullptr, 1);
    feed(e, {keyed(25 * k_s, 2)}, 0, out, nullptr, 0);
    e.finish(0, out);
    EXPECT_EQ(find(out, "n", 10 * k_s).value, measure_value::make_number(0));
    EXPECT_TRUE(find(out, "f", 10 * k_s).value.is_null());
    EXPECT_EQ(find(out, "f", 0).value, measure_value::make_number(0));
}

TEST(Reconcile, KeysBeyondTheLimitAreCountedAndTheResultSaysApproximate) {
    measure::reconcile_acc a;
    std::string scratch;
    for (std::size_t i = 0; i < measure::k_reconcile_key_limit + 5; ++i) {
        a.add(field_value::make_number(static_cast<double>(i)), measure::reconcile_acc::k_left,
              scratch);
    }
    EXPECT_EQ(a.size(), measure::k_reconcile_key_limit);
    EXPECT_EQ(a.overflow(), 5u);
    EXPECT_EQ(a.counts().missing_right, measure::k_reconcile_key_limit);
    EXPECT_EQ(a.sample_missing(false).size(), measure::k_reconcile_samples);
    byte_writer w;
    a.serialize(w);
    measure::reconcile_acc b;
    byte_reader r(w.data());
    ASSERT_TRUE(b.deserialize(r));
    byte_writer again;
    b.serialize(again);
    EXPECT_EQ(again.data(), w.data());
    EXPECT_EQ(b.counts().missing_right, measure::k_reconcile_key_limit);
    EXPECT_EQ(b.overflow(), 5u);
}

TEST(Reconcile, DamagedCheckpointsAreRefused) {
    for (const std::string& key :
         {std::string("n12"), std::string("b\2"), std::string("s"), std::string("x1"),
          std::string("l") + std::string(20, 'a'), std::string("s") + std::string(200, 'a')}) {
        byte_writer w;
        w.varint(0);
        w.varint(1);
        w.str(key);
        w.u8(1);
        measure::reconcile_acc a;
        byte_reader r(w.data());
        EXPECT_FALSE(a.deserialize(r)) << key;
    }
    byte_writer w;
    w.varint(0);
    w.varint(1);
    w.str("s1");
    w.u8(4);  // no such side
    measure::reconcile_acc a;
    byte_reader r(w.data());
    EXPECT_FALSE(a.deserialize(r));
}

TEST(Reconcile, KeysCompareAsValues) {
    std::string a;
    std::string b;
    ASSERT_TRUE(measure::reconcile_key(field_value::make_number(1), a));
    ASSERT_TRUE(measure::reconcile_key(field_value::make_number(1.0), b));
    EXPECT_EQ(a, b);
    ASSERT_TRUE(measure::reconcile_key(field_value::make_number(-0.0), a));
    ASSERT_TRUE(measure::reconcile_key(field_value::make_number(0), b));
    EXPECT_EQ(a, b);
    ASSERT_TRUE(measure::reconcile_key(field_value::make_string("1"), a));
    ASSERT_TRUE(measure::reconcile_key(field_value::make_number(1), b));
    EXPECT_NE(a, b);
    ASSERT_TRUE(measure::reconcile_key(field_value::make_boolean(true), a));
    EXPECT_NE(a, b);
    EXPECT_FALSE(measure::reconcile_key(field_value::make_null(), a));
    EXPECT_FALSE(measure::reconcile_key(field_value::make_string(""), a));
    // Long strings: bounded, still told apart by their whole bytes.
    const std::string long_a(1000, 'a');
    std::string long_b = long_a;
    long_b.back() = 'b';
    ASSERT_TRUE(measure::reconcile_key(field_value::make_string(long_a), a));
    ASSERT_TRUE(measure::reconcile_key(field_value::make_string(long_b), b));
    EXPECT_NE(a, b);
    EXPECT_LE(a.size(), measure::k_reconcile_key_bytes);
}

// ---- property: against a brute-force reference ----

// A key of the reference: numbers by value, strings apart from numbers.
using ref_key = std::variant<double, std::string>;

struct event {
    timestamp_ns t;
    int side;  // 0 orders, 1 payments
    double g;
    ref_key key;
};

struct expected {
    std::uint64_t matched = 0, missing_left = 0, missing_right = 0;
    std::vector<std::string> sample_left, sample_right;
};

std::string key_json(const ref_key& k) {
    if (const double* d = std::get_if<double>(&k)) {
        std::string out;
        append_json_value(measure_value::make_number(*d), out);
        return out;
    }
    return "\"" + std::get<std::string>(k) + "\"";
}

expected reference(const std::vector<event>& events, timestamp_ns start, timestamp_ns end,
                   double g) {
    std::set<ref_key> sides[2];
    for (const auto& e : events) {
        if (e.t >= start && e.t < end && e.g == g) sides[e.side].insert(e.key);
    }
    expected x;
    std::vector<ref_key> left_only;
    std::vector<ref_key> right_only;
    for (const auto& k : sides[0]) {
        if (sides[1].count(k) != 0) {
            ++x.matched;
        } else {
            left_only.push_back(k);
        }
    }
    for (const auto& k : sides[1]) {
        if (sides[0].count(k) == 0) right_only.push_back(k);
    }
    x.missing_right = left_only.size();
    x.missing_left = right_only.size();
    // std::set orders numbers (index 0 of the variant) by value before strings by bytes.
    for (std::size_t i = 0; i < left_only.size() && i < measure::k_reconcile_samples; ++i) {
        x.sample_right.push_back(key_json(left_only[i]));
    }
    for (std::size_t i = 0; i < right_only.size() && i < measure::k_reconcile_samples; ++i) {
        x.sample_left.push_back(key_json(right_only[i]));
    }
    return x;
}

struct run_result {
    // (window start, group) -> the reconciliation of the window
    std::map<std::pair<timestamp_ns, double>, reconciliation_summary> windows;
    std::map<std::pair<timestamp_ns, double>, double> values;
};

run_result run(const engine::node_plan& plan, const std::vector<std::vector<event>>& batches,
               std::mt19937_64* snapshots, string_pool& pool) {
    auto e = std::make_unique<node_engine>(plan);
    std::vector<check_result> out;
    for (const auto& batch : batches) {
        if (snapshots != nullptr && (*snapshots)() % 3 == 0) {
            byte_writer w;
            e->snapshot(w);
            e = std::make_unique<node_engine>(plan);
            byte_reader r(w.data());
            EXPECT_TRUE(e->restore(r));
        }
        std::vector<test_record> recs;
        for (const auto& ev : batch) {
            field_value key = std::holds_alternative<double>(ev.key)
                                  ? field_value::make_number(std::get<double>(ev.key))
                                  : pool.make(std::get<std::string>(ev.key));
            recs.push_back(keyed(ev.t, key, ev.g));
        }
        feed(*e, recs, 0, out, nullptr, static_cast<std::size_t>(batch.front().side));
    }
    e->finish(0, out);
    run_result res;
    for (const auto& r : out) {
        const double g = r.group.empty() ? 0 : r.group.front().second.number;
        const std::pair key{r.window_start, g};
        EXPECT_EQ(res.windows.count(key), 0u) << "a window emitted twice";
        EXPECT_NE(r.reconciliation, nullptr);
        if (r.reconciliation) res.windows[key] = *r.reconciliation;
        res.values[key] = r.value.is_number() ? r.value.number : -1;
    }
    return res;
}

TEST(Reconcile, MatchesABruteForceReferenceWithSnapshotsAtRandomPoints) {
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
        std::mt19937_64 rng(seed);
        const bool slide = seed % 2 == 0;
        const bool grouped = seed % 3 == 0;
        const timestamp_ns disorder = 4 * k_s;
        auto w = slide ? sliding(10 * k_s, 5 * k_s, disorder) : tumbling(10 * k_s, disorder);
        const auto plan =
            two_inputs(w, {check("missing", "reconcile(orders.x, payments.x)")}, grouped);
        // Two streams, each disordered within `disorder`, keys from a small range (duplicates
        // within and across windows), now and then a string key.
        std::vector<event> events;
        std::vector<std::vector<event>> batches;
        timestamp_ns clock[2] = {0, 0};
        for (int b = 0; b < 60; ++b) {
            const int side = static_cast<int>(rng() % 2);
            std::vector<event> batch;
            const int n = 1 + static_cast<int>(rng() % 6);
            for (int i = 0; i < n; ++i) {
                clock[side] += static_cast<timestamp_ns>(rng() % 1500) * k_ms;
                const timestamp_ns t = std::max<timestamp_ns>(
                    0, clock[side] - static_cast<timestamp_ns>(rng() % 3900) * k_ms);
                ref_key key = static_cast<double>(rng() % 15);
                if (rng() % 10 == 0) key = std::to_string(rng() % 4);
                const double g = grouped ? static_cast<double>(rng() % 2) : 0;
                batch.push_back({t, side, g, key});
            }
            events.insert(events.end(), batch.begin(), batch.end());
            batches.push_back(std::move(batch));
        }
        string_pool pool;
        const run_result whole = run(plan, batches, nullptr, pool);
        std::mt19937_64 cuts(seed * 977);
        const run_result restored = run(plan, batches, &cuts, pool);
        EXPECT_EQ(whole.windows, restored.windows) << "seed " << seed;
        EXPECT_EQ(whole.values, restored.values) << "seed " << seed;
        // Every window holding records was emitted, and agrees with the reference.
        std::set<std::pair<timestamp_ns, double>> held;
        const timestamp_ns step = slide ? 5 * k_s : 10 * k_s;
        for (const auto& ev : events) {
            for (timestamp_ns s = ev.t / step * step; s > ev.t - 10 * k_s; s -= step) {
                held.insert({s, ev.g});
            }
        }
        for (const auto& key : held) {
            EXPECT_EQ(whole.windows.count(key), 1u) << "seed " << seed;
        }
        for (const auto& [key, got] : whole.windows) {
            const expected x = reference(events, key.first, key.first + 10 * k_s, key.second);
            EXPECT_EQ(got.matched, x.matched) << "seed " << seed << " window " << key.first;
            EXPECT_EQ(got.missing_left, x.missing_left) << "seed " << seed;
            EXPECT_EQ(got.missing_right, x.missing_right) << "seed " << seed;
            EXPECT_EQ(got.sample_missing_left, x.sample_left) << "seed " << seed;
            EXPECT_EQ(got.sample_missing_right, x.sample_right) << "seed " << seed;
            EXPECT_EQ(whole.values.at(key), static_cast<double>(x.missing_left + x.missing_right));
        }
    }
}

}  // namespace
}  // namespace weir::test
