// Results do not depend on how a stream is cut into batches: the watermark moves record by
// record, so a restart that cuts batches differently (after a crash) changes nothing.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/unit/core/engine/engine_harness.h"

namespace weir::test {
namespace {

std::map<std::string, std::string> run(const engine::node_plan& plan,
                                       const std::vector<test_record>& stream,
                                       const std::vector<std::size_t>& cuts) {
    engine::node_engine e(plan);
    std::vector<check_result> out;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        std::vector<test_record> batch(stream.begin() + from, stream.begin() + cut);
        feed(e, batch, 1'000'000 * k_s, out);  // one arrival time: only the cuts differ
        from = cut;
    }
    e.finish(1'000'000 * k_s, out);
    std::map<std::string, std::string> by_id;
    for (auto r : out) {
        r.emitted_at = 0;
        std::string json;
        append_json(r, json);
        EXPECT_TRUE(by_id.emplace(result_id(r), json).second) << "emitted twice: " << json;
    }
    return by_id;
}

TEST(engine_batching, results_do_not_depend_on_batch_boundaries) {
    for (const auto kind : {window::window_kind::tumbling, window::window_kind::sliding,
                            window::window_kind::session}) {
        engine::node_plan plan;
        plan.pipeline = "p";
        plan.node = "n";
        plan.window.kind = kind;
        plan.window.size = 10 * k_s;
        plan.window.slide = kind == window::window_kind::sliding ? 5 * k_s : 0;
        plan.window.gap = 4 * k_s;
        plan.window.allowed_lateness = 2 * k_s;
        plan.fields = {field_path{{"g"}}, field_path{{"x"}}, field_path{{"y"}}};
        plan.group_by = {field_path{{"g"}}};
        plan.group_ttl = 30 * k_s;
        for (const char* m : {"count()", "mean(x)", "max(x)", "missing_count(x)"}) {
            plan.checks.push_back({m, m, "", "", engine::emit_mode::all});
        }
        for (int seed = 0; seed < 20; ++seed) {
            std::mt19937_64 rng(seed);
            std::uniform_real_distribution<double> unit(0, 1);
            std::vector<test_record> stream;
            timestamp_ns now = 1000 * k_s;
            for (int i = 0; i < 600; ++i) {
                now += static_cast<timestamp_ns>(unit(rng) * 300) * k_ms;
                // Disorder beyond the allowed lateness, so some records are late.
                const timestamp_ns t = now - static_cast<timestamp_ns>(unit(rng) * 6 * k_s);
                stream.push_back(
                    num(t, std::floor(unit(rng) * 100), static_cast<double>(rng() % 3)));
            }
            std::vector<std::size_t> one_batch{stream.size()}, singles, random_cuts;
            for (std::size_t i = 1; i <= stream.size(); ++i) singles.push_back(i);
            for (std::size_t i = 0; i < stream.size();) {
                i = std::min(stream.size(), i + 1 + rng() % 50);
                random_cuts.push_back(i);
            }
            const auto whole = run(plan, stream, one_batch);
            ASSERT_FALSE(whole.empty());
            EXPECT_EQ(run(plan, stream, singles), whole) << "seed " << seed;
            EXPECT_EQ(run(plan, stream, random_cuts), whole) << "seed " << seed;
        }
    }
}

}  // namespace
}  // namespace weir::test
