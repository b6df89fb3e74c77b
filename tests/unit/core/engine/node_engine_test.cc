// Focused behaviour of the node engine: exactly-once emission, lateness, empty windows, idle
// timeouts, group caps and ttl, emit modes, sessions and checkpoint corruption.
#include "core/engine/node_engine.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/unit/core/engine/engine_harness.h"

namespace weir::test {
namespace {

using engine::check_plan;
using engine::emit_mode;
using engine::node_engine;

check_plan check(std::string name, std::string measure, std::string must_be = "",
                 std::string should_be = "", emit_mode emit = emit_mode::all) {
    return {std::move(name), std::move(measure), std::move(must_be), std::move(should_be), emit};
}

std::vector<check_result> only(const std::vector<check_result>& rs, const std::string& name) {
    std::vector<check_result> out;
    for (const auto& r : rs) {
        if (r.check == name) out.push_back(r);
    }
    return out;
}

TEST(NodeEngine, TumblingEmitsEachWindowOnceWhenWatermarkPassesEnd) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {check("volume", "count()", "> 1"), check("avg", "mean(x)")};
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 1), num(2 * k_s, 3), num(9 * k_s, 5)}, 100, out);
    EXPECT_TRUE(out.empty());
    feed(e, {num(10 * k_s, 7)}, 200, out);  // watermark 10 s = end of [0, 10)
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].check, "volume");
    EXPECT_EQ(out[0].window_start, 0);
    EXPECT_EQ(out[0].window_end, 10 * k_s);
    EXPECT_EQ(out[0].value, measure_value::make_number(3));
    EXPECT_EQ(out[0].outcome, outcome::pass);
    EXPECT_EQ(out[0].records, 3);
    EXPECT_EQ(out[0].emitted_at, 200);
    EXPECT_TRUE(out[0].group.empty());
    EXPECT_EQ(out[1].value, measure_value::make_number(3));
    out.clear();
    feed(e, {num(11 * k_s, 1)}, 300, out);  // same window, nothing closes
    EXPECT_TRUE(out.empty());
    e.finish(400, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].window_start, 10 * k_s);
    EXPECT_EQ(out[0].value, measure_value::make_number(2));
    out.clear();
    e.finish(500, out);
    e.advance(600, out);
    EXPECT_TRUE(out.empty());
}

TEST(NodeEngine, LateRecordsAreCountedReturnedAndNeverAdded) {
    auto plan = basic_plan(tumbling(10 * k_s, 2 * k_s));
    plan.checks = {check("volume", "count()")};
    node_engine e(plan);
    std::vector<check_result> out;
    std::vector<std::uint32_t> late;
    feed(e, {num(1 * k_s, 1), num(12 * k_s, 1)}, 0, out, &late);  // watermark 10 s
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].value, measure_value::make_number(1));
    // 9 s belongs to the emitted [0, 10); 8 s too; 15 s is fine.
    feed(e, {num(9 * k_s, 1), num(15 * k_s, 1), num(8 * k_s, 1)}, 0, out, &late);
    EXPECT_EQ(late, (std::vector<std::uint32_t>{0, 2}));
    EXPECT_EQ(e.stats().late, 2u);
    out.clear();
    e.finish(0, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].window_start, 10 * k_s);
    EXPECT_EQ(out[0].value, measure_value::make_number(2));
}

TEST(NodeEngine, AllowedLatenessKeepsWindowsOpen) {
    auto plan = basic_plan(tumbling(10 * k_s, 5 * k_s));
    plan.checks = {check("volume", "count()")};
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 1), num(13 * k_s, 1)}, 0, out);  // watermark 8 s
    EXPECT_TRUE(out.empty());
    feed(e, {num(2 * k_s, 1)}, 0, out);  // not late yet
    feed(e, {num(15 * k_s, 1)}, 0, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].value, measure_value::make_number(2));
    EXPECT_EQ(e.stats().late, 0u);
}

TEST(NodeEngine, UngroupedEmptyWindowsFailWhenDataStops) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {check("volume", "count()", "> 0"), check("avg", "mean(x)", "> 0")};
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(5 * k_s, 1)}, 0, out);
    feed(e, {num(45 * k_s, 1)}, 0, out);
    auto vol = only(out, "volume");
    ASSERT_EQ(vol.size(), 4u);  // [0,10) with data, then [10,20) .. [30,40) empty
    EXPECT_EQ(vol[0].outcome, outcome::pass);
    for (std::size_t i = 1; i < 4; ++i) {
        EXPECT_EQ(vol[i].window_start, static_cast<timestamp_ns>(i) * 10 * k_s);
        EXPECT_EQ(vol[i].value, measure_value::make_number(0));
        EXPECT_EQ(vol[i].outcome, outcome::fail);
        EXPECT_EQ(vol[i].records, 0);
    }
    auto avg = only(out, "avg");
    EXPECT_EQ(avg[1].outcome, outcome::no_data);
    EXPECT_TRUE(avg[1].value.is_null());
}

TEST(NodeEngine, IdleSourceStopsHoldingTheWatermarkBack) {
    auto w = tumbling(10 * k_s);
    w.idle_timeout = 30 * k_s;
    auto plan = basic_plan(w);
    plan.sources = 2;
    plan.checks = {check("volume", "count()")};
    node_engine e(plan, 0);
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 1), num(25 * k_s, 1)}, 1 * k_s, out, nullptr, 0);
    EXPECT_TRUE(out.empty());  // source 1 has seen nothing: no watermark
    e.advance(29 * k_s, out);
    EXPECT_TRUE(out.empty());
    e.advance(31 * k_s, out);  // source 1 idle since 0 + 30 s; watermark = 25 s
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].window_end, 20 * k_s);
    out.clear();
    // Everything quiet: the watermark moves on with the wall clock.
    e.advance(31 * k_s + 30 * k_s + 10 * k_s, out);
    ASSERT_GE(out.size(), 1u);
    EXPECT_EQ(out[0].window_start, 20 * k_s);
    EXPECT_EQ(out[0].value, measure_value::make_number(1));
}

TEST(NodeEngine, MaxGroupsOverflowIsCountedAndDropped) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.max_groups = 2;
    plan.checks = {check("volume", "count()")};
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 1, 1), num(1 * k_s, 1, 2), num(1 * k_s, 1, 3), num(2 * k_s, 1, 1)}, 0,
         out);
    EXPECT_EQ(e.stats().group_overflow, 1u);
    EXPECT_EQ(e.live_groups(), 2u);
    e.finish(0, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].group.size(), 1u);
    EXPECT_EQ(out[0].group[0].first, "g");
    EXPECT_EQ(out[0].group[0].second, measure_value::make_number(1));
    EXPECT_EQ(out[0].value, measure_value::make_number(2));
    // Once the windows closed the groups are gone and a new group fits again.
    EXPECT_EQ(e.live_groups(), 0u);
}

TEST(NodeEngine, GroupTtlEmitsEmptyWindowsThenForgetsTheGroup) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.group_ttl = 25 * k_s;
    plan.checks = {check("volume", "count()", "> 0")};
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(5 * k_s, 1, 1), num(5 * k_s, 1, 2)}, 0, out);
    feed(e, {num(95 * k_s, 1, 2)}, 0, out);
    std::map<double, std::vector<timestamp_ns>> starts;
    for (const auto& r : out) starts[r.group[0].second.number].push_back(r.window_start);
    // Record at 5 s: live while a record lies in [start - 25 s, end): starts 0, 10, 20, 30.
    const std::vector<timestamp_ns> expected = {0, 10 * k_s, 20 * k_s, 30 * k_s};
    EXPECT_EQ(starts[1], expected);
    EXPECT_EQ(starts[2], expected);
    EXPECT_EQ(e.live_groups(), 1u);  // group 2 again, with its record at 95 s
}

TEST(NodeEngine, GroupValuesAbsentAndNullShareAGroup) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.checks = {check("volume", "count()")};
    node_engine e(plan);
    std::vector<check_result> out;
    string_pool pool;
    auto a = num(1 * k_s, 1);
    a.g = field_value::make_absent();
    auto b = num(1 * k_s, 1);
    b.g = field_value::make_null();
    auto c = num(1 * k_s, 1);
    c.g = pool.make("d-1");
    auto d = num(1 * k_s, 1);
    d.g = field_value::make_number(-0.0);
    auto z = num(1 * k_s, 1);
    z.g = field_value::make_number(0.0);
    feed(e, {a, b, c, d, z}, 0, out);
    e.finish(0, out);
    ASSERT_EQ(out.size(), 3u);
    std::map<std::string, double> counts;
    for (const auto& r : out) counts[to_string(r.group[0].second)] = r.value.number;
    EXPECT_EQ(counts["null"], 2);
    EXPECT_EQ(counts["\"d-1\""], 1);
    EXPECT_EQ(counts["0"], 2);
}

TEST(NodeEngine, EmitFailuresAndChanges) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {check("fails", "max(x)", "< 10", "< 5", emit_mode::failures),
                   check("changes", "max(x)", "< 10", "", emit_mode::changes),
                   check("all", "max(x)", "< 10", "< 5")};
    node_engine e(plan);
    std::vector<check_result> out;
    // windows: max 1 (pass), 2 (pass), 7 (warn), 20 (fail), 30 (fail), 3 (pass)
    const double maxima[] = {1, 2, 7, 20, 30, 3};
    for (int w = 0; w < 6; ++w) feed(e, {num(w * 10 * k_s + k_s, maxima[w])}, 0, out);
    e.finish(0, out);
    const auto all = only(out, "all");
    ASSERT_EQ(all.size(), 6u);
    EXPECT_EQ(all[2].outcome, outcome::warn);
    EXPECT_EQ(all[3].outcome, outcome::fail);
    const auto fails = only(out, "fails");
    ASSERT_EQ(fails.size(), 3u);
    EXPECT_EQ(fails[0].outcome, outcome::warn);
    EXPECT_EQ(fails[1].value, measure_value::make_number(20));
    const auto changes = only(out, "changes");
    ASSERT_EQ(changes.size(), 3u);  // pass (first), fail at 20, pass at 3
    EXPECT_EQ(changes[0].window_start, 0);
    EXPECT_EQ(changes[1].window_start, 30 * k_s);
    EXPECT_EQ(changes[2].window_start, 50 * k_s);
}

TEST(NodeEngine, SlidingWindowsMergePanes) {
    auto plan = basic_plan(sliding(10 * k_s, 5 * k_s));
    plan.checks = {check("volume", "count()"), check("s", "sum(x)")};
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 1), num(6 * k_s, 2), num(11 * k_s, 4)}, 0, out);
    e.finish(0, out);
    const auto sums = only(out, "s");
    // windows [-5,5) [0,10) [5,15) [10,20)
    ASSERT_EQ(sums.size(), 4u);
    EXPECT_EQ(sums[0].window_start, -5 * k_s);
    EXPECT_EQ(sums[0].value.number, 1);
    EXPECT_EQ(sums[1].value.number, 3);
    EXPECT_EQ(sums[2].value.number, 6);
    EXPECT_EQ(sums[3].value.number, 4);
}

TEST(NodeEngine, SessionsMergeWhenARecordBridgesThem) {
    auto plan = basic_plan(session(5 * k_s, 10 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.checks = {check("volume", "count()"), check("s", "sum(x)")};
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(0, 1), num(8 * k_s, 2)}, 0, out);
    EXPECT_TRUE(out.empty());
    feed(e, {num(4 * k_s, 4)}, 0, out);  // bridges [0,5) and [8,13)
    feed(e, {num(100 * k_s, 1, 7)}, 0, out);
    e.finish(0, out);
    const auto sums = only(out, "s");
    ASSERT_EQ(sums.size(), 2u);
    EXPECT_EQ(sums[0].window_start, 0);
    EXPECT_EQ(sums[0].window_end, 13 * k_s);
    EXPECT_EQ(sums[0].value.number, 7);
    EXPECT_EQ(sums[0].records, 3);
    EXPECT_EQ(sums[1].window_start, 100 * k_s);
}

TEST(NodeEngine, SessionClosesWhenWatermarkPassesGap) {
    auto plan = basic_plan(session(5 * k_s));
    plan.checks = {check("volume", "count()")};
    node_engine e(plan);
    std::vector<check_result> out;
    std::vector<std::uint32_t> late;
    feed(e, {num(0, 1), num(3 * k_s, 1)}, 0, out);
    feed(e, {num(7 * k_s, 1)}, 0, out);  // extends to [0, 12)
    EXPECT_TRUE(out.empty());
    feed(e, {num(20 * k_s, 1)}, 0, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].window_end, 12 * k_s);
    EXPECT_EQ(out[0].value.number, 3);
    feed(e, {num(2 * k_s, 1)}, 0, out, &late);
    EXPECT_EQ(late.size(), 1u);
}

// When its input ends, an engine gives its cells' memory back: every window was emitted. What
// it keeps (its groups) stays whole: its snapshot restores to the same bytes, and records that
// come after are late, not added to released cells.
TEST(NodeEngine, FinishGivesTheCellsMemoryBack) {
    for (const auto& w : {tumbling(10 * k_s), sliding(20 * k_s, 10 * k_s), session(5 * k_s)}) {
        auto plan = basic_plan(w);
        plan.group_by = {field_path{{"g"}}};
        plan.checks = {check("volume", "count()"), check("s", "sum(x)"),
                       check("d", "distinct_count(x)")};
        node_engine e(plan);
        std::vector<check_result> out;
        std::vector<test_record> recs;
        for (int g = 0; g < 3000; ++g) {
            recs.push_back(num(g % 7 * k_s, g % 13, g));
            recs.push_back(num(12 * k_s, g % 5, g));
        }
        feed(e, recs, 0, out);
        const std::size_t before = e.memory_bytes();
        EXPECT_GE(e.live_cells(), 3000u);
        e.finish(0, out);
        EXPECT_EQ(e.live_cells(), 0u);
        EXPECT_LT(e.memory_bytes() + 3000 * 24, before);
        EXPECT_EQ(e.stats().windows * 3, out.size());

        byte_writer w1;
        e.snapshot(w1);
        node_engine back(plan);
        byte_reader r(w1.data());
        ASSERT_TRUE(back.restore(r));
        byte_writer w2;
        back.snapshot(w2);
        EXPECT_EQ(w1.data(), w2.data());
        // The finished engine takes no more records: they are late, and nothing breaks.
        std::vector<std::uint32_t> late;
        out.clear();
        feed(e, {num(100 * k_s, 1, 5), num(101 * k_s, 2, 6000)}, 0, out, &late);
        e.finish(0, out);
        EXPECT_EQ(late.size(), 2u);
        EXPECT_TRUE(out.empty());
    }
}

// Cells come in chunks that double in size (the large ones on huge pages): tens of thousands
// of groups fill several, and a cell in any chunk keeps its own values, also when a later
// window reuses released cells.
TEST(NodeEngine, CellsInEveryChunkKeepTheirValues) {
    constexpr int k_groups = 40000;  // chunks of 1, 2, 4, 8, 16 and 32 Ki cells
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.max_groups = 2 * k_groups;
    plan.checks = {check("s", "sum(x)"), check("d", "distinct_count(x)")};
    node_engine e(plan);
    std::vector<check_result> out;
    for (int window = 0; window < 2; ++window) {
        std::vector<test_record> recs;
        for (int g = 0; g < k_groups; ++g) {
            recs.push_back(num((window * 10 + 1) * k_s, g + window, g));
            recs.push_back(num((window * 10 + 2) * k_s, 1, g));
        }
        feed(e, recs, 0, out);
        EXPECT_GE(e.live_cells(), std::size_t{k_groups});
    }
    e.finish(0, out);
    ASSERT_EQ(out.size(), 2u * 2 * k_groups);
    std::size_t checked = 0;
    for (const auto& r : out) {
        const double g = r.group[0].second.number;
        const double window = r.window_start == 0 ? 0 : 1;
        if (r.measure == "sum(x)") {
            EXPECT_EQ(r.value.number, g + window + 1) << "group " << g;
        } else {
            EXPECT_EQ(r.value.number, g + window == 1 ? 1 : 2) << "group " << g;
        }
        ++checked;
    }
    EXPECT_EQ(checked, out.size());
}

TEST(NodeEngine, InvalidRecordsCountOnlyInInvalidMeasures) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {check("inv", "invalid_fraction()"), check("n", "count()")};
    node_engine e(plan);
    std::vector<check_result> out;
    auto bad = num(2 * k_s, 100);
    bad.valid = false;
    auto no_time = num(window::k_no_time, 1);
    feed(e, {num(1 * k_s, 1), bad, no_time}, 0, out);
    e.finish(0, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].value.number, 0.5);
    EXPECT_EQ(out[1].value.number, 1);
    EXPECT_EQ(e.stats().invalid, 2u);
    EXPECT_EQ(e.stats().kept_invalid, 0u);
    EXPECT_EQ(e.stats().records, 1u);

    // A record kept despite a schema violation is invalid and used: counted in both measures,
    // and not a dropped record (kept_invalid).
    node_engine k(plan);
    out.clear();
    auto kept = num(3 * k_s, 7);
    kept.kept = true;
    feed(k, {num(1 * k_s, 1), kept, bad}, 0, out);
    k.finish(0, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_NEAR(out[0].value.number, 2.0 / 3, 1e-12);
    EXPECT_EQ(out[1].value.number, 2);
    EXPECT_EQ(k.stats().invalid, 2u);
    EXPECT_EQ(k.stats().kept_invalid, 1u);
}

TEST(NodeEngine, BadPlansThrow) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {check("x", "meen(x)")};
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
    plan.checks = {check("x", "mean(nope)")};
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
    plan.checks = {check("x", "mean(x)", "> > 3")};
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
    plan = basic_plan(sliding(10 * k_s, 20 * k_s));
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
}

check_plan filtered(std::string name, std::string measure, std::string filter) {
    check_plan c = check(std::move(name), std::move(measure));
    c.filter = std::move(filter);
    return c;
}

TEST(NodeEngine, CheckFiltersKeepTheirOwnStateAndConditionsCountMatches) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {check("all", "count()"),
                   filtered("big", "count()", "x >= 5"),
                   filtered("big_mean", "mean(x)", "x >= 5"),
                   check("mean", "mean(x)"),
                   check("n_big", "count_where(x >= 5)"),
                   check("f_big", "fraction_where(x >= 5 and x < 100)"),
                   filtered("f_big_of_big", "fraction_where(x >= 7)", "x >= 5"),
                   filtered("none", "fraction_where(x > 0) + rate() * 0", "x > 1000")};
    node_engine e(plan);
    std::vector<check_result> out;
    auto text = num(4 * k_s, 0);
    text.x = field_value::make_string("high");  // a string: x >= 5 is null, not a match
    feed(e, {num(1 * k_s, 1), num(2 * k_s, 5), num(3 * k_s, 9), text}, 0, out);
    e.finish(0, out);
    ASSERT_EQ(out.size(), plan.checks.size());
    const auto value = [&](const std::string& name) { return only(out, name).at(0).value; };
    EXPECT_EQ(value("all"), measure_value::make_number(4));
    EXPECT_EQ(value("big"), measure_value::make_number(2));
    EXPECT_EQ(value("big_mean"), measure_value::make_number(7));
    EXPECT_EQ(value("mean"), measure_value::make_number(5));
    EXPECT_EQ(value("n_big"), measure_value::make_number(2));
    EXPECT_EQ(value("f_big"), measure_value::make_number(0.5));
    EXPECT_EQ(value("f_big_of_big"), measure_value::make_number(0.5));
    // No record matches: the fraction has no data.
    EXPECT_TRUE(value("none").is_null());
    EXPECT_EQ(only(out, "none").at(0).outcome, outcome::no_data);
    // `records` is the window's, whatever the filter.
    EXPECT_EQ(only(out, "big").at(0).records, 4);

    // A checkpoint restores only into the same filters: another filter is other state.
    node_engine a(plan);
    feed(a, {num(1 * k_s, 1), num(2 * k_s, 5)}, 0, out);
    byte_writer w;
    a.snapshot(w);
    const std::string bytes = w.take();
    auto other = plan;
    other.checks[1].filter = "x >= 6";
    node_engine b(other);
    byte_reader r(bytes);
    EXPECT_FALSE(b.restore(r));
    node_engine same(plan);
    byte_reader r2(bytes);
    EXPECT_TRUE(same.restore(r2));

    // Filters that do not compile, or count what they cannot see, are refused at set-up.
    plan.checks = {filtered("x", "count()", "x >")};
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
    plan.checks = {filtered("x", "count()", "nope > 1")};
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
    plan.checks = {filtered("x", "invalid_count()", "x > 1")};
    EXPECT_THROW(node_engine{plan}, std::invalid_argument);
}

TEST(NodeEngine, RestoreOfCorruptBytesFailsCleanly) {
    auto plan = basic_plan(sliding(10 * k_s, 2 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.checks = {check("s", "mean(x)"), check("d", "distinct_count(x)"),
                   check("q", "percentile(x, 0.5)")};
    node_engine e(plan);
    std::vector<check_result> out;
    std::vector<test_record> recs;
    for (int i = 0; i < 200; ++i) recs.push_back(num(i * 100 * k_ms, i % 7, i % 5));
    feed(e, recs, 0, out);
    byte_writer w;
    e.snapshot(w);
    const std::string bytes = w.take();
    std::mt19937_64 rng(7);
    for (int trial = 0; trial < 300; ++trial) {
        std::string bad = bytes;
        if (trial % 3 == 0) {
            bad.resize(rng() % bad.size());
        } else {
            for (int k = 0; k < 1 + trial % 4; ++k) {
                bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
            }
        }
        node_engine f(plan);
        byte_reader r(bad);
        const bool ok = f.restore(r);
        // Whatever happened, the engine must stay usable.
        std::vector<check_result> more;
        feed(f, recs, 0, more);
        f.finish(0, more);
        if (!ok) {
            EXPECT_FALSE(r.ok());
            EXPECT_EQ(f.stats().records, 200u);
        }
    }
    node_engine g(plan);
    byte_reader r(bytes);
    EXPECT_TRUE(g.restore(r));
    EXPECT_TRUE(r.at_end());
}

// A jump of the watermark over a gap gives each group a bounded share of empty windows; the
// rest are skipped and counted, and the next small steps report the silence again.
TEST(NodeEngine, AJumpOverAGapEmitsABoundedShareOfEmptyWindowsPerGroup) {
    auto plan = basic_plan(tumbling(1 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.group_ttl = 10'000 * k_s;
    plan.max_empty_windows_per_group = 5;
    plan.checks = {check("volume", "count()", "> 0")};
    node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(0, 1, 1), num(0, 1, 2)}, 0, out);
    feed(e, {num(1000 * k_s, 1, 1)}, 0, out);  // closes [0 s, 1 s) .. [999 s, 1000 s)
    std::size_t empty = 0;
    for (const auto& r : out) empty += r.records == 0;
    EXPECT_EQ(out.size(), 2u + 2u * 5u);  // the first window of each group, then 5 empty each
    EXPECT_EQ(empty, 10u);
    EXPECT_EQ(e.stats().skipped_empty_windows, 2u * (999u - 5u));
    out.clear();
    feed(e, {num(1001 * k_s, 1, 1)}, 0, out);  // a step: [1000 s, 1001 s) for both groups
    ASSERT_EQ(out.size(), 2u);
}

// Silence: freshness() of an empty window is the age of the group's newest record, so it
// fails as soon as data stops and passes again when it returns.
TEST(NodeEngine, FreshnessOfAnEmptyWindowIsTheAgeOfTheGroupsNewestRecord) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.group_ttl = 1000 * k_s;
    plan.checks = {check("fresh", "freshness()", "< 15s"), check("avg", "mean(x)")};
    node_engine e(plan);
    std::vector<check_result> out;
    // Group 2 sends its last record at 8 s; group 1 goes on and moves the watermark.
    feed(e, {num(1 * k_s, 1, 1), num(8 * k_s, 1, 2)}, 9 * k_s, out);
    for (int t = 11; t <= 41; t += 10) feed(e, {num(t * k_s, 1, 1)}, (t + 1) * k_s, out);
    std::vector<check_result> g2;
    for (const auto& r : only(out, "fresh")) {
        if (r.group[0].second.number == 2) g2.push_back(r);
    }
    ASSERT_EQ(g2.size(), 4u);  // [0,10) with the record, then [10,20) .. [30,40) empty
    EXPECT_EQ(g2[0].value, measure_value::make_number(4));  // closed at 12 s, newest 8 s
    EXPECT_EQ(g2[0].outcome, outcome::pass);
    EXPECT_EQ(g2[1].records, 0);
    EXPECT_EQ(g2[1].value, measure_value::make_number(14));  // closed at 22 s
    EXPECT_EQ(g2[1].outcome, outcome::pass);
    EXPECT_EQ(g2[2].value, measure_value::make_number(24));
    EXPECT_EQ(g2[2].outcome, outcome::fail);
    EXPECT_EQ(g2[3].value, measure_value::make_number(34));
    EXPECT_EQ(g2[3].outcome, outcome::fail);
    // Other measures of an empty window still have no data.
    for (const auto& r : only(out, "avg")) {
        if (r.records == 0) {
            EXPECT_EQ(r.outcome, outcome::no_data);
        }
    }
    // Group 2 is back: its window holds a record again.
    out.clear();
    feed(e, {num(45 * k_s, 1, 2), num(51 * k_s, 1, 1)}, 52 * k_s, out);
    const auto back = only(out, "fresh");
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[1].group[0].second, measure_value::make_number(2));
    EXPECT_EQ(back[1].value, measure_value::make_number(7));
    EXPECT_EQ(back[1].outcome, outcome::pass);
}

TEST(NodeEngine, FreshnessOfAnUngroupedStreamGrowsWhileItIsSilent) {
    auto w = tumbling(10 * k_s);
    w.idle_timeout = 5 * k_s;
    auto plan = basic_plan(w);
    plan.checks = {check("fresh", "freshness()", "< 15s")};
    node_engine e(plan, 0);
    std::vector<check_result> out;
    feed(e, {num(1 * k_s, 1), num(3 * k_s, 1)}, 3 * k_s, out);
    // Nothing arrives: the idle source lets the watermark follow the wall clock.
    for (int t = 10; t <= 40; t += 10) e.advance(t * k_s, out);
    ASSERT_GE(out.size(), 3u);
    EXPECT_EQ(out[0].records, 2);
    EXPECT_EQ(out.back().records, 0);
    EXPECT_EQ(out.back().value,
              measure_value::make_number(static_cast<double>(40 * k_s - 3 * k_s) / 1e9));
    EXPECT_EQ(out.back().outcome, outcome::fail);
    // A checkpoint keeps the newest record: the restored engine measures the same.
    byte_writer bw;
    e.snapshot(bw);
    const std::string bytes = bw.take();
    node_engine f(plan, 40 * k_s);
    byte_reader r(bytes);
    ASSERT_TRUE(f.restore(r));
    std::vector<check_result> more;
    f.advance(60 * k_s, more);
    ASSERT_FALSE(more.empty());
    EXPECT_EQ(more.back().value,
              measure_value::make_number(static_cast<double>(60 * k_s - 3 * k_s) / 1e9));
}

TEST(NodeEngine, OnNoDataTurnsANullMeasureIntoTheOutcomeItNames) {
    auto plan = basic_plan(tumbling(10 * k_s));
    const std::pair<const char*, engine::no_data_action> actions[] = {
        {"ignore", engine::no_data_action::ignore},
        {"pass", engine::no_data_action::pass},
        {"warn", engine::no_data_action::warn},
        {"fail", engine::no_data_action::fail}};
    for (const auto& [name, action] : actions) {
        auto c = check(name, "mean(x)", "> 0");
        c.on_no_data = action;
        plan.checks.push_back(c);
    }
    node_engine e(plan);
    std::vector<check_result> out;
    test_record no_x = num(1 * k_s, 0);
    no_x.x = field_value::make_null();
    feed(e, {no_x, num(12 * k_s, 1)}, 0, out);
    ASSERT_EQ(out.size(), 4u);
    const outcome expected[] = {outcome::no_data, outcome::pass, outcome::warn, outcome::fail};
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(out[i].outcome, expected[i]) << out[i].check;
        EXPECT_TRUE(out[i].value.is_null());
    }
    // A value is judged as usual, whatever on_no_data says.
    out.clear();
    e.finish(0, out);
    for (const auto& r : out) EXPECT_EQ(r.outcome, outcome::pass) << r.check;
}

// Partial windows: begun before the first record after a start, and still open at the start.
TEST(NodeEngine, WindowsBegunBeforeTheStartArePartialAndRaiseNothing) {
    auto plan = basic_plan(tumbling(10 * k_s));
    auto judged = check("judged", "count()", "> 2");
    judged.on_partial = engine::partial_action::judge;
    auto quiet = check("quiet", "count()", "> 2");
    quiet.on_partial = engine::partial_action::no_data;
    auto warns = check("warns", "count()", "", "> 2");
    warns.on_partial = engine::partial_action::no_data;
    plan.checks = {judged, quiet, warns};
    // Started at wall-clock 104 s; the first record is at 104 s, inside [100, 110).
    node_engine e(plan, 104 * k_s);
    std::vector<check_result> out;
    feed(e, {num(104 * k_s, 1), num(109 * k_s, 1)}, 109 * k_s, out);
    feed(e, {num(111 * k_s, 1), num(115 * k_s, 1), num(119 * k_s, 1)}, 119 * k_s, out);
    feed(e, {num(121 * k_s, 1)}, 121 * k_s, out);
    ASSERT_EQ(out.size(), 6u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(out[i].window_start, 100 * k_s);
        EXPECT_TRUE(out[i].partial);
        EXPECT_EQ(out[i].value, measure_value::make_number(2));
    }
    EXPECT_EQ(out[0].outcome, outcome::fail);     // judge
    EXPECT_EQ(out[1].outcome, outcome::no_data);  // no fail on a partial window
    EXPECT_EQ(out[2].outcome, outcome::no_data);  // nor a warning
    for (std::size_t i = 3; i < 6; ++i) {
        EXPECT_FALSE(out[i].partial);
        EXPECT_EQ(out[i].outcome, outcome::pass);
    }
    std::string json;
    append_json(out[1], json);
    EXPECT_NE(json.find(",\"records\":2,\"partial\":true,\"emitted_at\":"), std::string::npos)
        << json;
    json.clear();
    append_json(out[4], json);
    EXPECT_EQ(json.find("partial"), std::string::npos) << json;
}

// A window that ended before the start but within allowed_lateness of it still takes
// stragglers: it holds only those that came after the start, so it is partial too, as is the
// window the start fell in. The first whole window is not.
TEST(NodeEngine, AWindowStillTakingStragglersAtTheStartIsPartial) {
    auto plan = basic_plan(tumbling(10 * k_s, 2 * k_s));
    auto c = check("volume", "count()", "> 3");
    c.on_partial = engine::partial_action::no_data;
    plan.checks = {c};
    // Started at wall-clock 111.2 s, 1.2 s after [100, 110) ended.
    node_engine e(plan, 111 * k_s + 200 * k_ms);
    std::vector<check_result> out;
    feed(e, {num(111 * k_s + 300 * k_ms, 1), num(109 * k_s, 1), num(108 * k_s, 1)}, 112 * k_s, out);
    feed(e, {num(115 * k_s, 1), num(119 * k_s, 1), num(125 * k_s, 1)}, 125 * k_s, out);
    feed(e, {num(135 * k_s, 1)}, 135 * k_s, out);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].window_start, 100 * k_s);
    EXPECT_TRUE(out[0].partial);
    EXPECT_EQ(out[0].value, measure_value::make_number(2));
    EXPECT_EQ(out[0].outcome, outcome::no_data);  // two stragglers are no reason to fail
    EXPECT_EQ(out[1].window_start, 110 * k_s);
    EXPECT_TRUE(out[1].partial);
    EXPECT_EQ(out[1].outcome, outcome::no_data);
    EXPECT_EQ(out[2].window_start, 120 * k_s);
    EXPECT_FALSE(out[2].partial);
    EXPECT_EQ(out[2].outcome, outcome::fail);  // a whole window with one record
}

TEST(NodeEngine, ReplayedOldDataHasNoPartialWindow) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.checks = {check("volume", "count()", "> 2")};
    node_engine e(plan, 1000 * k_s);  // started long after the windows ended
    std::vector<check_result> out;
    feed(e, {num(104 * k_s, 1), num(111 * k_s, 1)}, 1000 * k_s, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(out[0].partial);
    EXPECT_EQ(out[0].outcome, outcome::fail);
}

// A restore is not a start: the window open at the checkpoint stays partial (emitted again,
// it is the same), and nothing after it is.
TEST(NodeEngine, RestoreKeepsWherePartialWindowsEnd) {
    auto plan = basic_plan(tumbling(10 * k_s));
    auto c = check("volume", "count()", "> 2");
    c.on_partial = engine::partial_action::no_data;
    plan.checks = {c};
    node_engine e(plan, 104 * k_s);
    std::vector<check_result> out;
    feed(e, {num(104 * k_s, 1)}, 104 * k_s, out);
    byte_writer w;
    e.snapshot(w);
    const std::string bytes = w.take();
    node_engine f(plan, 500 * k_s);  // restarted later, from the checkpoint
    byte_reader r(bytes);
    ASSERT_TRUE(f.restore(r));
    feed(f, {num(112 * k_s, 1), num(121 * k_s, 1)}, 500 * k_s, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(out[0].partial);
    EXPECT_EQ(out[0].outcome, outcome::no_data);
    EXPECT_FALSE(out[1].partial);
    EXPECT_EQ(out[1].outcome, outcome::fail);  // a whole window with one record
    // A checkpoint taken before any record: the first record after the restore starts it.
    node_engine fresh(plan, 204 * k_s);
    byte_writer w2;
    fresh.snapshot(w2);
    const std::string empty = w2.take();
    node_engine g(plan, 205 * k_s);
    byte_reader r2(empty);
    ASSERT_TRUE(g.restore(r2));
    out.clear();
    feed(g, {num(206 * k_s, 1), num(211 * k_s, 1)}, 211 * k_s, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].partial);
}

}  // namespace
}  // namespace weir::test

namespace weir::test {
namespace {

// A window closing for many groups hands its results over in chunks, in the same order and
// with the same content as without a flush.
TEST(NodeEngine, ResultFlushHandsOverChunksInOrder) {
    auto plan = basic_plan(tumbling(10 * k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.checks = {check("volume", "count()", "> 1"), check("avg", "mean(x)")};
    std::vector<test_record> recs;
    for (int g = 0; g < 500; ++g) recs.push_back(num(1 * k_s, g, g));
    recs.push_back(num(20 * k_s, 1, 0));  // closes [0, 10) for every group

    engine::node_engine whole(plan);
    std::vector<check_result> all;
    feed(whole, recs, 100, all);
    ASSERT_EQ(all.size(), 1000u);

    engine::node_engine chunked(plan);
    std::vector<check_result> out;
    std::vector<check_result> flushed;
    std::vector<std::size_t> sizes;
    chunked.set_result_flush(64, [&](std::vector<check_result>& r) {
        sizes.push_back(r.size());
        for (auto& x : r) flushed.push_back(std::move(x));
        r.clear();
    });
    feed(chunked, recs, 100, out);
    for (auto& x : out) flushed.push_back(std::move(x));
    ASSERT_EQ(flushed.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(flushed[i].check, all[i].check);
        EXPECT_EQ(flushed[i].group, all[i].group);
        EXPECT_EQ(flushed[i].value, all[i].value);
    }
    ASSERT_FALSE(sizes.empty());
    for (std::size_t n : sizes) EXPECT_LE(n, 64u + 1u) << "one window's checks past the chunk";
}

}  // namespace
}  // namespace weir::test

namespace weir::test {
namespace {

TEST(NodeEngine, InputLagMeasuresReadWhatTheRuntimeLastReported) {
    auto plan = basic_plan(tumbling(k_s));
    plan.checks = {check("lag", "input_lag()", "< 100"),
                   check("age", "input_lag_seconds()", "< 60s")};
    engine::node_engine e(plan);
    std::vector<check_result> out;
    feed(e, {num(0, 1)}, 0, out);
    feed(e, {num(k_s, 1)}, 0, out);  // closes [0, 1 s) before anything was reported
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(out[0].value.is_null());
    EXPECT_EQ(out[0].outcome, outcome::no_data);
    out.clear();
    e.set_input_gauges(250, 12.5);
    feed(e, {num(2 * k_s, 1)}, 0, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].value, measure_value::make_number(250));
    EXPECT_EQ(out[0].outcome, outcome::fail);
    EXPECT_EQ(out[1].value, measure_value::make_number(12.5));
    EXPECT_EQ(out[1].outcome, outcome::pass);
}

}  // namespace
}  // namespace weir::test
