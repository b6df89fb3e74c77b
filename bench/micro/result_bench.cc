// Cost of turning check results into JSON lines (append_json, result_id): the output path of
// workloads that emit millions of results (W2, W5, W9).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/result/check_result.h"

namespace {

using weir::check_result;
using weir::measure_value;
namespace time = weir::time;

// One window closing: `groups` groups x W1's ten checks, as the engine emits them (every
// result of the window shares window_start, window_end and emitted_at).
std::vector<check_result> window_results(int groups, time::timestamp_ns start) {
    static const char* const checks[][3] = {
        {"volume", "count()", "> 0"},
        {"value_missing", "missing_fraction(value)", "< 10%"},
        {"value_mean", "mean(value)", "[10, 30]"},
        {"value_min", "min(value)", "> -100"},
        {"value_max", "max(value)", "< 100"},
        {"value_std_dev", "std_dev(value)", "< 10"},
        {"latency_mean", "mean(latency_ms)", "< 500"},
        {"latency_min", "min(latency_ms)", ">= 1"},
        {"latency_max", "max(latency_ms)", "< 100000"},
        {"latency_std_dev", "std_dev(latency_ms)", "< 1000"},
    };
    std::vector<check_result> out;
    std::uint64_t x = 42;
    auto next = [&x] {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        return x >> 11;
    };
    for (int g = 0; g < groups; ++g) {
        char key[16];
        std::snprintf(key, sizeof key, "k-%04d", g);
        for (int i = 0; i < 10; ++i) {
            const auto& c = checks[i];
            check_result r;
            r.pipeline = "w5";
            r.node = "quality";
            r.check = c[0];
            r.window_start = start;
            r.window_end = start + 600 * time::ns_per_s;
            if (groups > 1) r.group = {{"key", measure_value::make_string(key)}};
            r.measure = c[1];
            const auto u = static_cast<double>(next()) / static_cast<double>(1ull << 53);
            // Counts and latency extremes are integers; the rest have full fractions.
            const bool integral = i == 0 || i == 7 || i == 8;
            r.value = measure_value::make_number(integral ? std::floor(u * 4000) : u * 40);
            r.must_be = c[2];
            r.outcome = weir::outcome::pass;
            r.records = 600;
            r.emitted_at = start + 605 * time::ns_per_s + 123 * time::ns_per_ms;
            out.push_back(std::move(r));
        }
    }
    return out;
}

void run_append(benchmark::State& state, int groups) {
    // Consecutive windows, as a sliding window emits them.
    std::vector<std::vector<check_result>> windows;
    for (int w = 0; w < 4; ++w) {
        windows.push_back(
            window_results(groups, 1'795'600'000 * time::ns_per_s + w * 10 * time::ns_per_s));
    }
    std::string out;
    std::size_t results = 0;
    std::size_t bytes = 0;
    for (auto _ : state) {
        for (const auto& window : windows) {
            for (const auto& r : window) {
                weir::append_json(r, out);
                out += '\n';
            }
            results += window.size();
            bytes += out.size();
            // An output's buffer is drained by its writes and reused.
            benchmark::DoNotOptimize(out.data());
            out.clear();
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(results));
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

// 1 000 groups x 10 checks per window (W1/W5).
void BM_append_json_grouped(benchmark::State& state) {
    run_append(state, 1000);
}
BENCHMARK(BM_append_json_grouped)->Unit(benchmark::kMillisecond);

// An ungrouped node: 10 results per window, "group":null.
void BM_append_json_ungrouped(benchmark::State& state) {
    run_append(state, 1);
}
BENCHMARK(BM_append_json_ungrouped);

void BM_result_id(benchmark::State& state) {
    const auto results = window_results(100, 1'795'600'000 * time::ns_per_s);
    std::size_t n = 0;
    for (auto _ : state) {
        for (const auto& r : results) benchmark::DoNotOptimize(weir::result_id(r));
        n += results.size();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
}
BENCHMARK(BM_result_id);

}  // namespace
