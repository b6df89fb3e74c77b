// Window engine cost per record (assignment + the W1 measures: count, missing_fraction, mean,
// min, max, std_dev of one field) for tumbling, sliding (10 min / 10 s) and session windows,
// and the bytes held per live (window, group); and what conditional measures and a check
// filter add to that (tumbling).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/engine/node_engine.h"

namespace {

using namespace weir;
using time::timestamp_ns;
constexpr timestamp_ns k_s = time::ns_per_s;

engine::node_plan w1_plan(window::window_spec w, bool grouped) {
    engine::node_plan p;
    p.pipeline = "bench";
    p.node = "w1";
    p.window = w;
    p.fields = {field_path{{"g"}}, field_path{{"x"}}};
    if (grouped) p.group_by = {field_path{{"g"}}};
    p.max_groups = 10'000'000;
    p.checks = {{"volume", "count()", "> 50", "", engine::emit_mode::all},
                {"completeness", "missing_fraction(x)", "< 5%", "", engine::emit_mode::all},
                {"mean", "mean(x)", "[15, 35]", "", engine::emit_mode::all},
                {"min", "min(x)", "> -100", "", engine::emit_mode::all},
                {"max", "max(x)", "< 100", "", engine::emit_mode::all},
                {"spread", "std_dev(x)", "< 10", "", engine::emit_mode::all}};
    return p;
}

// W1's checks plus two conditions and two checks under one filter.
engine::node_plan conditional_plan(window::window_spec w, bool grouped) {
    engine::node_plan p = w1_plan(w, grouped);
    p.checks.push_back({"hot", "count_where(x > 30)", "< 100", "", engine::emit_mode::all});
    p.checks.push_back(
        {"hot_share", "fraction_where(x > 30 and x < 40)", "< 5%", "", engine::emit_mode::all});
    p.checks.push_back({"warm_mean", "mean(x)", "> 0", "", engine::emit_mode::all});
    p.checks.back().filter = "x > 25";
    p.checks.push_back({"warm", "count()", "> 0", "", engine::emit_mode::all});
    p.checks.back().filter = "x > 25";
    return p;
}

window::window_spec spec(int kind) {
    window::window_spec w;
    if (kind == 0) {
        w.kind = window::window_kind::tumbling;
        w.size = 60 * k_s;
    } else if (kind == 1) {
        w.kind = window::window_kind::sliding;
        w.size = 600 * k_s;
        w.slide = 10 * k_s;
    } else {
        w.kind = window::window_kind::session;
        w.gap = 30 * k_s;
    }
    w.allowed_lateness = 5 * k_s;
    return w;
}

// Records 1 ms apart (1000 per second), `groups` device ids, 2% missing values.
void run(benchmark::State& state, int kind, std::size_t groups, bool conditional = false) {
    engine::node_engine e(conditional ? conditional_plan(spec(kind), groups > 1)
                                      : w1_plan(spec(kind), groups > 1));
    record_batch batch;
    batch.slots = 2;
    std::vector<timestamp_ns> times;
    std::mt19937_64 rng(1);
    std::normal_distribution<double> temp(25, 3);
    constexpr std::size_t k_batch = 1024;
    timestamp_ns t = 1'790'000'000 * k_s;
    std::vector<check_result> out;
    std::uint64_t records = 0;
    for (auto _ : state) {
        state.PauseTiming();
        batch.clear();
        times.clear();
        for (std::size_t i = 0; i < k_batch; ++i) {
            const std::size_t r = batch.add_record();
            auto rec = batch.record(r);
            rec[0] = field_value::make_number(static_cast<double>(rng() % groups));
            rec[1] =
                rng() % 50 == 0 ? field_value::make_null() : field_value::make_number(temp(rng));
            t += time::ns_per_ms;
            times.push_back(t - static_cast<timestamp_ns>(rng() % 1000) * time::ns_per_ms);
        }
        out.clear();
        state.ResumeTiming();
        e.process(batch, times, t, out);
        records += k_batch;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(records));
    state.counters["ns_per_record"] = benchmark::Counter(
        static_cast<double>(records), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    // Live (window, group) pairs: cells are panes; a sliding window spans size / pane of them.
    const double cells = static_cast<double>(e.live_cells());
    state.counters["live_cells"] = cells;
    state.counters["bytes_per_cell"] =
        cells > 0 ? static_cast<double>(e.memory_bytes()) / cells : 0;
    state.counters["block_bytes"] = static_cast<double>(e.layout().block_bytes());
}

void BM_tumbling_1m(benchmark::State& s) {
    run(s, 0, static_cast<std::size_t>(s.range(0)));
}
void BM_sliding_10m_10s(benchmark::State& s) {
    run(s, 1, static_cast<std::size_t>(s.range(0)));
}
void BM_session_30s(benchmark::State& s) {
    run(s, 2, static_cast<std::size_t>(s.range(0)));
}
void BM_tumbling_1m_conditional(benchmark::State& s) {
    run(s, 0, static_cast<std::size_t>(s.range(0)), true);
}

BENCHMARK(BM_tumbling_1m)->Arg(1)->Arg(1000)->Arg(100000);
BENCHMARK(BM_sliding_10m_10s)->Arg(1)->Arg(1000);
BENCHMARK(BM_session_30s)->Arg(1)->Arg(1000)->Arg(100000);
BENCHMARK(BM_tumbling_1m_conditional)->Arg(1)->Arg(1000);

}  // namespace
