// CSV decoding throughput: the benchmark suite's schema S written as CSV (schema C: ts, key,
// value with 5% empty cells, status, country, latency), every column or the four a typical
// plan references.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "core/decode/csv_decoder.h"

namespace {

std::string schema_c_text(std::size_t n) {
    std::mt19937 rng(1);
    const char* statuses[] = {"ok", "ok", "ok", "warn", "error"};
    const char* countries[] = {"DE", "FR", "US", "BR", "JP", "IN"};
    std::string out = "ts,key,value,status,country,latency\n";
    for (std::size_t i = 0; i < n; ++i) {
        char line[256];
        const int ms = static_cast<int>(i % 60000);
        const bool empty_value = rng() % 20 == 0;
        std::snprintf(
            line, sizeof line, "2026-11-20T10:%02d:%02d.%03dZ,k-%u,%s,%s,%s,%u\n", ms / 1000 / 60,
            ms / 1000 % 60, ms % 1000, static_cast<unsigned>(rng() % 1000),
            empty_value ? "" : std::to_string((rng() % 10000) / 100.0).c_str(), statuses[rng() % 5],
            countries[rng() % 6], static_cast<unsigned>(rng() % 500));
        out += line;
    }
    return out;
}

void run(benchmark::State& state, const std::vector<weir::field_path>& fields) {
    constexpr std::size_t records = 4096;
    const std::string text = schema_c_text(records);
    weir::decode::csv_decoder decoder(fields);
    weir::record_batch batch;
    for (auto _ : state) {
        batch.clear();
        decoder.reset();
        const auto r = decoder.decode(text, batch, true);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(batch.values.data());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(records));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}

void bm_csv_decode_schema_c_all_columns(benchmark::State& state) {
    run(state, {{{"ts"}}, {{"key"}}, {{"value"}}, {{"status"}}, {{"country"}}, {{"latency"}}});
}
BENCHMARK(bm_csv_decode_schema_c_all_columns);

void bm_csv_decode_schema_c_four_columns(benchmark::State& state) {
    run(state, {{{"ts"}}, {{"key"}}, {{"value"}}, {{"status"}}});
}
BENCHMARK(bm_csv_decode_schema_c_four_columns);

}  // namespace
