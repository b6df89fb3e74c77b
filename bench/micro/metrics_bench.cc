// Cost of a Prometheus scrape of a large daemon (GET /metrics serializes the whole registry on the
// event loop; target < 50 ms for 10 000 series) and of a hot-path counter update.
#include <benchmark/benchmark.h>

#include <string>

#include "daemon/metrics.h"

namespace {

using weir::daemon::metrics;
using weir::daemon::metrics_options;

void populate(metrics& m, int nodes, int checks_per_node, bool grouped) {
    for (int n = 0; n < nodes; ++n) {
        const std::string node = "node_" + std::to_string(n);
        auto& h = m.node("bench", node);
        h.records.Increment(12345);
        h.watermark_seconds.Set(1.7e9 + n);
        h.emit_delay_seconds.Observe(0.2);
        for (int c = 0; c < checks_per_node; ++c) {
            const std::string check = "check_" + std::to_string(c);
            if (grouped) {
                const std::string device = "d-" + std::to_string(c);
                m.group("bench", node, "mean", "device_id=" + device, {{"device_id", device}})
                    ->value.Set(c * 0.5);
            } else {
                auto& k = m.check("bench", node, check);
                k.value->Set(c * 1.25);
                k.results_of(weir::daemon::check_outcome::pass).Increment(c);
            }
        }
    }
}

// 100 nodes x 100 groups: 10 000 weir_check_value and 10 000 weir_check_failing series (+ ~2 600
// node series).
void BM_serialize_10k_group_series(benchmark::State& state) {
    metrics m({.version = "bench", .max_group_series = 10'000});
    populate(m, 100, 100, true);
    std::size_t bytes = 0;
    for (auto _ : state) {
        auto text = m.serialize();
        bytes = text.size();
        benchmark::DoNotOptimize(text);
    }
    state.counters["bytes"] = static_cast<double>(bytes);
    state.counters["series"] = 20'000;
}
BENCHMARK(BM_serialize_10k_group_series)->Unit(benchmark::kMillisecond);

// 100 nodes x 100 ungrouped checks, each with its 6 series (4 outcomes, value, failing):
// 60 000 check series.
void BM_serialize_10k_checks(benchmark::State& state) {
    metrics m({.version = "bench"});
    populate(m, 100, 100, false);
    std::size_t bytes = 0;
    for (auto _ : state) {
        auto text = m.serialize();
        bytes = text.size();
        benchmark::DoNotOptimize(text);
    }
    state.counters["bytes"] = static_cast<double>(bytes);
    state.counters["series"] = 60'000;
}
BENCHMARK(BM_serialize_10k_checks)->Unit(benchmark::kMillisecond);

// What a query pays per batch on the hot path.
void BM_counter_increment(benchmark::State& state) {
    metrics m;
    auto& records = m.node("bench", "n").records;
    for (auto _ : state) records.Increment(64);
    benchmark::DoNotOptimize(records.Value());
}
BENCHMARK(BM_counter_increment);

}  // namespace
