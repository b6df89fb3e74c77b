// Failed-value samples (`samples: N`): which records a sample holds per measure family, its bound,
// its order across panes and groups, secrets, and its state through a checkpoint.
#include <gtest/gtest.h>

#include <random>

#include "core/engine/node_engine.h"
#include "core/measure/sample.h"
#include "tests/unit/core/engine/engine_harness.h"

namespace weir::test {
namespace {

using engine::check_plan;
using engine::node_engine;

check_plan sampled(std::string name, std::string measure, std::string must_be, std::uint32_t n,
                   std::string should_be = "") {
    check_plan c;
    c.name = std::move(name);
    c.measure = std::move(measure);
    c.must_be = std::move(must_be);
    c.should_be = std::move(should_be);
    c.samples = n;
    return c;
}

const check_result& result(const std::vector<check_result>& rs, const std::string& name,
                           timestamp_ns start = 0, double g = 0) {
    for (const auto& r : rs) {
        if (r.check == name && r.window_start == start &&
            (r.group.empty() || r.group[0].second == measure_value::make_number(g))) {
            return r;
        }
    }
    throw std::runtime_error("no result " + name);
}

test_record missing_x(timestamp_ns t, double g = 0) {
    auto r = num(t, 0, g);
    r.x = field_value::make_null();
    return r;
}

TEST(Samples, EachFamilyKeepsTheRecordsThatCountAgainstTheCheck) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {
        sampled("complete", "missing_fraction(x)", "< 10%", 5),
        sampled("present", "count(x)", "> 3", 5),
        sampled("range", "in_range_fraction(x, 0, 10)", "> 90%", 5),
        sampled("range_high", "in_range_count(x, 0, 10)", "< 1", 5),
        sampled("set", "in_set_fraction(x, [1, 2])", "== 1", 5),
        sampled("errors", "count_where(x > 10)", "< 1", 5),
        sampled("healthy", "fraction_where(x <= 10)", ">= 99%", 5),
    };
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 1), missing_x(2 * k_s), num(3 * k_s, 50), num(4 * k_s, 2)}, 0, out);
    e.finish(0, out);
    ASSERT_EQ(out.size(), plan.checks.size());
    const std::string t2 = R"({"time":"1970-01-01T00:00:02.000Z","x":null})";
    const std::string t3 = R"({"time":"1970-01-01T00:00:03.000Z","x":50})";
    EXPECT_EQ(result(out, "complete").outcome, outcome::fail);
    EXPECT_EQ(result(out, "complete").samples, std::vector<std::string>{t2});
    EXPECT_EQ(result(out, "present").samples, std::vector<std::string>{t2});
    EXPECT_EQ(result(out, "range").samples, std::vector<std::string>{t3});
    // An upper bound on the in-range count: the in-range values are the offending ones.
    EXPECT_EQ(result(out, "range_high").samples.size(), 2u);
    EXPECT_EQ(result(out, "set").samples, std::vector<std::string>{t3});
    EXPECT_EQ(result(out, "errors").samples, std::vector<std::string>{t3});
    // A lower bound on the healthy fraction: the records the condition rejects offend (a null
    // condition, at x = null, rejects too, as fraction_where counts it).
    EXPECT_EQ(result(out, "healthy").samples, (std::vector<std::string>{t2, t3}));
}

TEST(Samples, PassingResultsCarryNoneAndWarningsDo) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {sampled("complete", "missing_fraction(x)", "< 90%", 5),
                   sampled("soft", "missing_fraction(x)", "", 5, "< 10%")};
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 1), missing_x(2 * k_s)}, 0, out);
    e.finish(0, out);
    EXPECT_EQ(result(out, "complete").outcome, outcome::pass);
    EXPECT_TRUE(result(out, "complete").samples.empty());
    EXPECT_EQ(result(out, "soft").outcome, outcome::warn);
    EXPECT_EQ(result(out, "soft").samples.size(), 1u);
    std::string line;
    append_json(result(out, "complete"), line);
    EXPECT_EQ(line.find("samples"), std::string::npos);
    line.clear();
    append_json(result(out, "soft"), line);
    EXPECT_NE(line.find(R"(,"samples":[{"time":"1970-01-01T00:00:02.000Z","x":null}],)"),
              std::string::npos)
        << line;
}

TEST(Samples, AreTheFirstNInRecordOrderAcrossPanes) {
    auto plan = basic_plan(sliding(20 * k_s, 10 * k_s));
    plan.checks = {sampled("range", "in_range_count(x, 0, 10)", "== 0", 3)};
    node_engine e(plan);
    std::vector<check_result> out;
    // Pane [0, 10): 100, 101; pane [10, 20): 102, 103, 104.
    feed(e, {num(1 * k_s, 100), num(2 * k_s, 5), num(3 * k_s, 101)}, 0, out);
    feed(e, {num(11 * k_s, 102), num(12 * k_s, 103), num(13 * k_s, 104)}, 0, out);
    e.finish(0, out);
    const auto& whole = result(out, "range", 0);
    ASSERT_EQ(whole.samples.size(), 3u);
    EXPECT_NE(whole.samples[0].find("\"x\":100"), std::string::npos);
    EXPECT_NE(whole.samples[1].find("\"x\":101"), std::string::npos);
    EXPECT_NE(whole.samples[2].find("\"x\":102"), std::string::npos);
    const auto& first = result(out, "range", -10 * k_s);  // pane [0, 10) only
    ASSERT_EQ(first.samples.size(), 2u);
    EXPECT_NE(first.samples[1].find("\"x\":101"), std::string::npos);
    // [10, 30) holds no value in range: it passes, and carries none.
    EXPECT_EQ(result(out, "range", 10 * k_s).outcome, outcome::pass);
    EXPECT_TRUE(result(out, "range", 10 * k_s).samples.empty());
}

TEST(Samples, AreBoundedPerWindowAndGroup) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.checks = {sampled("range", "in_range_fraction(x, 0, 10)", "> 99%", 4)};
    node_engine e(plan);
    std::vector<check_result> out;
    std::vector<test_record> recs;
    for (int i = 0; i < 50; ++i) recs.push_back(num(1 * k_s, 1000 + i, i % 2));
    recs.push_back(num(2 * k_s, 5, 2));  // group 2 passes
    feed(e, recs, 0, out);
    e.finish(0, out);
    ASSERT_EQ(out.size(), 3u);
    const auto& even = result(out, "range", 0, 0);
    const auto& odd = result(out, "range", 0, 1);
    ASSERT_EQ(even.samples.size(), 4u);
    ASSERT_EQ(odd.samples.size(), 4u);
    EXPECT_NE(even.samples[0].find("\"x\":1000"), std::string::npos);
    EXPECT_NE(even.samples[3].find("\"x\":1006"), std::string::npos);
    EXPECT_NE(odd.samples[0].find("\"x\":1001"), std::string::npos);
    EXPECT_TRUE(result(out, "range", 0, 2).samples.empty());
}

TEST(Samples, LongStringsAreCutAndTheResultStaysWithinItsByteCap) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {sampled("pattern", "matches_fraction(x, \"ok.*\")", "== 1", 100)};
    node_engine e(plan);
    std::vector<check_result> out;
    string_pool pool;
    std::vector<test_record> recs;
    for (int i = 0; i < 100; ++i) {
        auto r = num(1 * k_s, 0);
        r.x = pool.make(std::string(1000, static_cast<char>('a' + i % 26)));
        recs.push_back(r);
    }
    feed(e, recs, 0, out);
    e.finish(0, out);
    const auto& r = result(out, "pattern");
    ASSERT_FALSE(r.samples.empty());
    std::size_t total = 2;
    for (const auto& s : r.samples) {
        total += s.size() + 1;
        EXPECT_LT(s.size(), measure::k_sample_value_bytes + 60) << s;
        EXPECT_NE(s.find("\u2026\"}"), std::string::npos) << s;
    }
    EXPECT_LE(total, measure::k_sample_result_bytes);
    EXPECT_LT(r.samples.size(), 100u);  // the byte cap, not the count, ended it
}

TEST(Samples, FieldsNamedLikeSecretsAreMasked) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.fields = {field_path{{"g"}}, field_path{{"x"}}, field_path{{"api_token"}}};
    plan.checks = {sampled("tokens", "in_set_fraction(api_token, [\"t-1\"])", "== 1", 5),
                   sampled("where", "count_where(api_token != \"t-1\" and x > 0)", "== 0", 5),
                   sampled("absent", "missing_count(api_token)", "== 0", 5)};
    node_engine e(plan);
    std::vector<check_result> out;
    string_pool pool;
    auto leaked = num(1 * k_s, 3);
    leaked.y = pool.make("hunter2-secret-value");
    auto gone = num(2 * k_s, 3);
    gone.y = field_value::make_null();
    feed(e, {leaked, gone}, 0, out);
    e.finish(0, out);
    for (const auto& r : out) {
        ASSERT_FALSE(r.samples.empty()) << r.check;
        for (const auto& s : r.samples) {
            EXPECT_EQ(s.find("hunter2"), std::string::npos) << s;
        }
    }
    EXPECT_EQ(result(out, "tokens").samples[0],
              R"({"time":"1970-01-01T00:00:01.000Z","api_token":"***"})");
    EXPECT_EQ(result(out, "where").samples[0],
              R"({"time":"1970-01-01T00:00:01.000Z","api_token":"***","x":3})");
    // A missing secret is shown as missing: nothing to hide.
    EXPECT_EQ(result(out, "absent").samples[0],
              R"({"time":"1970-01-01T00:00:02.000Z","api_token":null})");
}

TEST(Samples, RefusedForMeasuresWithoutOffendingRecords) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {sampled("avg", "mean(x)", "> 0", 5)};
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
    plan.checks = {sampled("ratio", "missing_count(x) / count()", "< 0.1", 5)};
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
    plan.checks = {sampled("many", "missing_count(x)", "< 1", measure::k_max_samples + 1)};
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
}

TEST(Samples, WithoutSamplesTheStateIsUnchanged) {
    // Plans without samples keep their layout (and so their checkpoints).
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {sampled("complete", "missing_fraction(x)", "< 10%", 0)};
    node_engine plain(plan);
    plan.checks[0].samples = 3;
    node_engine with(plan);
    EXPECT_EQ(plain.layout().fingerprint().find("sample"), std::string::npos);
    EXPECT_NE(with.layout().fingerprint(), plain.layout().fingerprint());
    EXPECT_EQ(plain.layout().block_bytes() < with.layout().block_bytes(), true);
}

// Snapshot at random record boundaries, restore into a fresh engine, go on: the results (samples
// included) equal those of an uninterrupted run.
TEST(Samples, SurviveSnapshotAndRestoreAtRandomPoints) {
    auto plan = basic_plan(sliding(20 * k_s, 5 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.checks = {sampled("range", "in_range_fraction(x, 0, 50)", "> 95%", 3),
                   sampled("complete", "missing_count(x)", "== 0", 2),
                   sampled("big", "count_where(x > 80)", "< 1", 4)};
    std::mt19937_64 rng(7);
    std::vector<test_record> recs;
    for (int i = 0; i < 400; ++i) {
        const double g = static_cast<double>(rng() % 3);
        const timestamp_ns t = static_cast<timestamp_ns>(i) * 500 * k_ms;
        recs.push_back(rng() % 7 == 0 ? missing_x(t, g)
                                      : num(t, static_cast<double>(rng() % 100), g));
    }
    const auto run = [&](std::size_t cut) {
        std::vector<check_result> out;
        auto e = std::make_unique<node_engine>(plan);
        for (std::size_t i = 0; i < recs.size(); i += 7) {
            const auto end = std::min(recs.size(), i + 7);
            feed(*e,
                 std::vector<test_record>(recs.begin() + static_cast<std::ptrdiff_t>(i),
                                          recs.begin() + static_cast<std::ptrdiff_t>(end)),
                 0, out);
            if (i / 7 == cut) {
                byte_writer w;
                e->snapshot(w);
                const std::string bytes = w.take();
                e = std::make_unique<node_engine>(plan);
                byte_reader r(bytes);
                EXPECT_TRUE(e->restore(r));
            }
        }
        e->finish(0, out);
        return out;
    };
    const auto whole = run(static_cast<std::size_t>(-1));
    std::size_t with_samples = 0;
    for (const auto& r : whole) with_samples += r.samples.empty() ? 0 : 1;
    EXPECT_GT(with_samples, 20u);
    for (int k = 0; k < 8; ++k) {
        const std::size_t cut = rng() % (recs.size() / 7);
        const auto restored = run(cut);
        ASSERT_EQ(restored.size(), whole.size()) << "cut " << cut;
        for (std::size_t i = 0; i < whole.size(); ++i) {
            std::string a, b;
            append_json(whole[i], a);
            append_json(restored[i], b);
            ASSERT_EQ(a, b) << "cut " << cut;
        }
    }
}

TEST(Samples, RestoreRefusesMoreSamplesThanTheLimit) {
    measure::sample_acc acc;
    for (int i = 0; i < 5; ++i) acc.others.push_back("{}");
    byte_writer w;
    acc.serialize(w);
    const std::string bytes = w.take();
    measure::sample_acc back;
    byte_reader ok(bytes);
    EXPECT_TRUE(back.deserialize(ok, 5));
    EXPECT_EQ(back.others.size(), 5u);
    byte_reader too_many(bytes);
    EXPECT_FALSE(back.deserialize(too_many, 4));
}

}  // namespace
}  // namespace weir::test
