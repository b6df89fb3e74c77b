// Checks against history: the cost of one (check, group, window) evaluation — judge() then
// learn() on a warm series — for each kind of history, and the memory one series holds
// (counter bytes_per_series). 1000 groups take turns, hourly windows, a noisy daily profile.
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/check/assessment.h"
#include "core/check/history.h"
#include "core/time/timestamp.h"

namespace {

using namespace weir;

constexpr std::size_t k_groups = 1000;
constexpr time::timestamp_ns k_hour = 3600 * time::ns_per_s;
constexpr time::timestamp_ns k_start = 1'704'067'200 * time::ns_per_s;  // a Monday

void bm_history(benchmark::State& state, const char* text) {
    const auto parsed = check::parse_assessment(text);
    if (!parsed) {
        state.SkipWithError("the assessment does not parse");
        return;
    }
    const check::assessment test = *parsed;
    check::history_store store(check::history_model(test, k_hour), k_groups);
    std::vector<std::string> keys;
    for (std::size_t g = 0; g < k_groups; ++g)
        keys.push_back("[\"group-" + std::to_string(g) + "\"]");
    std::mt19937_64 rng(1);
    std::normal_distribution<double> noise(0, 0.05);
    std::vector<double> values(4096);
    for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] =
            1000 * (1 + 0.5 * std::sin(static_cast<double>(i % 24) * 0.26)) * (1 + noise(rng));
    }
    // Warm every series: six weeks of hourly windows.
    time::timestamp_ns window = k_start;
    std::size_t v = 0;
    const auto one_window = [&](benchmark::State* timed) {
        for (const auto& key : keys) {
            const double x = values[v++ % values.size()];
            const auto j = store.judge(key, window, x);
            // Anomalies learned too: the steady path, and bytes_per_series without held-out
            // values (at most 256 a series, 16 bytes each).
            store.learn(key, window, x, j.st == check::history_judgement::state::judged && !j.holds,
                        true);
            if (timed) benchmark::DoNotOptimize(j.holds);
        }
        window += k_hour;
    };
    for (int w = 0; w < 6 * 168; ++w) one_window(nullptr);
    std::int64_t n = 0;
    for (auto _ : state) {
        one_window(&state);
        n += static_cast<std::int64_t>(k_groups);
    }
    state.SetItemsProcessed(n);
    state.counters["bytes_per_series"] =
        static_cast<double>(store.memory_bytes()) / static_cast<double>(store.series());
}

BENCHMARK_CAPTURE(bm_history, zscore_last_24, "zscore(last 24) < 3");
BENCHMARK_CAPTURE(bm_history, zscore_last_24_robust, "zscore(last 24, robust) < 3");
BENCHMARK_CAPTURE(bm_history, zscore_hour_of_week_last_4, "zscore(last 4 by hour_of_week) < 3");
BENCHMARK_CAPTURE(bm_history, zscore_hour_of_week_last_4_robust,
                  "zscore(last 4 by hour_of_week, robust) < 3");
BENCHMARK_CAPTURE(bm_history, change_vs_1w, "change vs 1w in [-30%, 30%]");
BENCHMARK_CAPTURE(bm_history, change_vs_previous, "change in [-100, 100]");

}  // namespace
