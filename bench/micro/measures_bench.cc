// Measure accumulators and sketches: add() throughput per accumulator, merge cost, and the
// bytes a (window, group) holds (reported as counters; sizeof and heap bytes).
#include <benchmark/benchmark.h>

#include <deque>
#include <random>
#include <string>
#include <vector>

#include "core/measure/approx.h"
#include "core/measure/basic.h"
#include "core/measure/frequency.h"
#include "core/measure/predicate.h"
#include "core/measure/sequence.h"
#include "core/sketch/hash.h"

namespace {

using namespace weir;
using namespace weir::measure;

constexpr std::size_t k_n = 4096;  // values cycled through; a power of two

// Sensor-like numbers with 2% nulls.
const std::vector<field_value>& numbers() {
    static const std::vector<field_value> v = [] {
        std::mt19937_64 rng(1);
        std::normal_distribution<double> normal(20, 5);
        std::vector<field_value> out;
        for (std::size_t i = 0; i < k_n; ++i) {
            out.push_back(rng() % 50 == 0 ? field_value::make_null()
                                          : field_value::make_number(normal(rng)));
        }
        return out;
    }();
    return v;
}

// Short strings drawn from `distinct` values.
std::vector<field_value> strings(std::size_t distinct, std::deque<std::string>& storage) {
    std::mt19937_64 rng(2);
    for (std::size_t i = 0; i < distinct; ++i) storage.push_back("device-" + std::to_string(i));
    std::vector<field_value> out;
    for (std::size_t i = 0; i < k_n; ++i)
        out.push_back(field_value::make_string(storage[rng() % distinct]));
    return out;
}

template <class Acc, class Add>
void run_add(benchmark::State& state, const std::vector<field_value>& vs, Add add) {
    Acc acc;
    std::size_t i = 0;
    for (auto _ : state) {
        add(acc, vs[i & (k_n - 1)]);
        ++i;
        // The accumulator lives in memory, as in a window's block: without this a count folds
        // into one addition after the loop.
        benchmark::DoNotOptimize(acc);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["sizeof"] = sizeof(Acc);
}

void bm_count(benchmark::State& s) {
    run_add<count_acc>(s, numbers(), [](count_acc& a, const field_value&) { a.add(); });
}
void bm_missing(benchmark::State& s) {
    static const missing_config cfg{{"N/A"}};
    run_add<missing_acc>(s, numbers(), [](missing_acc& a, const field_value& v) { a.add(v, cfg); });
}
void bm_sum_mean(benchmark::State& s) {
    run_add<sum_acc>(s, numbers(), [](sum_acc& a, const field_value& v) { a.add(v); });
}
void bm_variance(benchmark::State& s) {
    run_add<moments_acc>(s, numbers(), [](moments_acc& a, const field_value& v) { a.add(v); });
}
void bm_min(benchmark::State& s) {
    run_add<min_acc>(s, numbers(), [](min_acc& a, const field_value& v) { a.add(v); });
}
void bm_max(benchmark::State& s) {
    run_add<max_acc>(s, numbers(), [](max_acc& a, const field_value& v) { a.add(v); });
}
void bm_in_range(benchmark::State& s) {
    static const in_range_config cfg{10, 30};
    run_add<predicate_acc>(s, numbers(),
                           [](predicate_acc& a, const field_value& v) { a.add(v, cfg); });
}
void bm_frozen(benchmark::State& s) {
    run_add<frozen_acc>(s, numbers(), [](frozen_acc& a, const field_value& v) { a.add(v); });
}
void bm_ordered(benchmark::State& s) {
    run_add<ordered_acc>(s, numbers(), [](ordered_acc& a, const field_value& v) { a.add(v); });
}
void bm_correlation(benchmark::State& s) {
    const auto& vs = numbers();
    correlation_acc acc;
    std::size_t i = 0;
    for (auto _ : s) {
        acc.add(vs[i & (k_n - 1)], vs[(i + 7) & (k_n - 1)]);
        ++i;
    }
    benchmark::DoNotOptimize(acc);
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations()));
    s.counters["sizeof"] = sizeof(correlation_acc);
}
void bm_freshness(benchmark::State& s) {
    freshness_acc acc;
    time_ns t = 1'700'000'000'000'000'000;
    for (auto _ : s) acc.add(t += 1000);
    benchmark::DoNotOptimize(acc);
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations()));
    s.counters["sizeof"] = sizeof(freshness_acc);
}

void bm_length(benchmark::State& s) {
    static std::deque<std::string> storage;
    static const auto vs = strings(100, storage);
    run_add<length_acc>(s, vs, [](length_acc& a, const field_value& v) { a.add(v); });
}
void bm_in_set_strings(benchmark::State& s) {
    static std::deque<std::string> storage;
    static const auto vs = strings(100, storage);
    static const in_set_config cfg = [] {
        in_set_config c;
        for (int i = 0; i < 20; ++i) c.add_string("device-" + std::to_string(i * 3));
        c.finish();
        return c;
    }();
    run_add<predicate_acc>(s, vs, [](predicate_acc& a, const field_value& v) { a.add(v, cfg); });
}
void bm_matches(benchmark::State& s) {
    static std::deque<std::string> storage;
    static const auto vs = strings(100, storage);
    static const auto cfg = matches_config::compile("device-[0-9]+", nullptr);
    run_add<predicate_acc>(s, vs, [](predicate_acc& a, const field_value& v) { a.add(v, *cfg); });
}

void bm_frequency(benchmark::State& s) {
    std::deque<std::string> storage;
    const auto vs = strings(static_cast<std::size_t>(s.range(0)), storage);
    frequency_config cfg;
    cfg.keep_values = s.range(1) != 0;
    frequency_acc acc;
    std::size_t i = 0;
    for (auto _ : s) {
        acc.add(vs[i & (k_n - 1)], cfg);
        ++i;
    }
    benchmark::DoNotOptimize(acc);
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations()));
    s.counters["sizeof"] = sizeof(frequency_acc);
    s.counters["heap_bytes"] = static_cast<double>(acc.memory_bytes());
}

void bm_approx_distinct(benchmark::State& s) {
    // range(0) distinct values, so the sketch is sparse (few) or dense (many).
    const auto distinct = static_cast<std::uint64_t>(s.range(0));
    std::vector<field_value> vs;
    for (std::size_t i = 0; i < k_n; ++i)
        vs.push_back(field_value::make_number(static_cast<double>(i % distinct)));
    approx_distinct_acc acc;
    for (std::uint64_t d = 0; d < distinct; ++d) acc.add(field_value::make_number(double(d)));
    std::size_t i = 0;
    for (auto _ : s) {
        acc.add(vs[i & (k_n - 1)]);
        ++i;
    }
    benchmark::DoNotOptimize(acc);
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations()));
    s.counters["sizeof"] = sizeof(approx_distinct_acc);
    s.counters["heap_bytes"] = static_cast<double>(acc.hll.memory_bytes());
    s.counters["sparse"] = acc.hll.is_sparse() ? 1 : 0;
}

void bm_quantile(benchmark::State& s) {
    run_add<quantile_acc>(s, numbers(), [](quantile_acc& a, const field_value& v) { a.add(v); });
    quantile_acc q;
    for (const auto& v : numbers()) q.add(v);
    s.counters["heap_bytes"] = static_cast<double>(q.memory_bytes());
}

void bm_hash_number(benchmark::State& s) {
    std::uint64_t x = 0;
    double d = 0.5;
    for (auto _ : s) x ^= hashing::hash_number(d += 1.0);
    benchmark::DoNotOptimize(x);
    s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations()));
}

void bm_hash_string(benchmark::State& s) {
    std::string str(static_cast<std::size_t>(s.range(0)), 'x');
    std::uint64_t x = 0;
    for (auto _ : s) {
        str[0] = static_cast<char>(x);
        x ^= hashing::hash_string(str);
    }
    benchmark::DoNotOptimize(x);
    s.SetBytesProcessed(static_cast<std::int64_t>(s.iterations()) * s.range(0));
}

// Merge cost: one pane into another, per merge.
void bm_merge_moments(benchmark::State& s) {
    moments_acc a;
    moments_acc b;
    for (const auto& v : numbers()) b.add(v);
    for (auto _ : s) {
        a.merge(b);
        benchmark::DoNotOptimize(a);
    }
}

void bm_merge_frequency(benchmark::State& s) {
    std::deque<std::string> storage;
    const auto vs = strings(static_cast<std::size_t>(s.range(0)), storage);
    frequency_config cfg;
    frequency_acc b;
    for (const auto& v : vs) b.add(v, cfg);
    for (auto _ : s) {
        frequency_acc a;
        a.merge(b, cfg);
        benchmark::DoNotOptimize(a);
    }
}

void bm_merge_hll(benchmark::State& s) {
    approx_distinct_acc b;
    for (std::int64_t d = 0; d < s.range(0); ++d) b.add(field_value::make_number(double(d)));
    for (auto _ : s) {
        approx_distinct_acc a;
        a.merge(b);
        benchmark::DoNotOptimize(a);
    }
    s.counters["sparse"] = b.hll.is_sparse() ? 1 : 0;
}

void bm_merge_ddsketch(benchmark::State& s) {
    quantile_acc b;
    for (const auto& v : numbers()) b.add(v);
    for (auto _ : s) {
        quantile_acc a;
        a.merge(b);
        benchmark::DoNotOptimize(a);
    }
}

// Estimate/percentile at window close.
void bm_result_hll_dense(benchmark::State& s) {
    approx_distinct_acc a;
    for (int d = 0; d < 100000; ++d) a.add(field_value::make_number(d));
    for (auto _ : s) benchmark::DoNotOptimize(a.result());
}

void bm_result_percentile(benchmark::State& s) {
    quantile_acc q;
    for (const auto& v : numbers()) q.add(v);
    std::vector<double> scratch;
    for (auto _ : s) benchmark::DoNotOptimize(q.quantile(0.95, quantile_method::linear, scratch));
}

}  // namespace

BENCHMARK(bm_count);
BENCHMARK(bm_missing);
BENCHMARK(bm_sum_mean);
BENCHMARK(bm_variance);
BENCHMARK(bm_min);
BENCHMARK(bm_max);
BENCHMARK(bm_in_range);
BENCHMARK(bm_frozen);
BENCHMARK(bm_ordered);
BENCHMARK(bm_correlation);
BENCHMARK(bm_freshness);
BENCHMARK(bm_length);
BENCHMARK(bm_in_set_strings);
BENCHMARK(bm_matches);
BENCHMARK(bm_frequency)->Args({100, 0})->Args({100, 1})->Args({4096, 0});
BENCHMARK(bm_approx_distinct)->Arg(100)->Arg(4096);
BENCHMARK(bm_quantile);
BENCHMARK(bm_hash_number);
BENCHMARK(bm_hash_string)->Arg(8)->Arg(32)->Arg(256);
BENCHMARK(bm_merge_moments);
BENCHMARK(bm_merge_frequency)->Arg(100)->Arg(1000);
BENCHMARK(bm_merge_hll)->Arg(100)->Arg(100000);
BENCHMARK(bm_merge_ddsketch);
BENCHMARK(bm_result_hll_dense);
BENCHMARK(bm_result_percentile);
