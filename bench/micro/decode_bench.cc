// Decoding throughput: JSON lines of the benchmark suite's schema S (~100 bytes), extracting
// the fields a typical plan references, and RFC 3339 time parsing.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "core/decode/json_decoder.h"
#include "core/time/timestamp.h"

namespace {

std::string schema_s_lines(std::size_t n) {
    std::mt19937 rng(1);  // 32-bit results, printed with %u below
    const char* statuses[] = {"ok", "ok", "ok", "warn", "error"};
    const char* countries[] = {"DE", "FR", "US", "BR", "JP", "IN"};
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        char line[256];
        const int ms = static_cast<int>(i % 60000);
        const bool null_value = rng() % 20 == 0;
        std::snprintf(
            line, sizeof line,
            "{\"ts\":\"2026-11-20T10:%02d:%02d.%03dZ\",\"key\":\"k-%u\",\"value\":%s,"
            "\"status\":\"%s\",\"country\":\"%s\",\"latency\":%u}\n",
            ms / 1000 / 60, ms / 1000 % 60, ms % 1000, static_cast<unsigned>(rng() % 1000),
            null_value ? "null" : std::to_string((rng() % 10000) / 100.0).c_str(),
            statuses[rng() % 5], countries[rng() % 6], static_cast<unsigned>(rng() % 500));
        out += line;
    }
    return out;
}

void bm_json_decode_schema_s(benchmark::State& state) {
    const std::string text = schema_s_lines(4096);
    const std::string padded = text + std::string(weir::decode::json_decoder::padding(), ' ');
    const std::vector<weir::field_path> fields = {{{"ts"}}, {{"key"}}, {{"value"}}, {{"status"}}};
    weir::decode::json_decoder decoder(fields);
    weir::record_batch batch;
    for (auto _ : state) {
        batch.clear();
        decoder.decode_lines({padded.data(), text.size()}, batch);
        benchmark::DoNotOptimize(batch.values.data());
    }
    state.SetItemsProcessed(state.iterations() * 4096);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(bm_json_decode_schema_s);

void bm_parse_rfc3339(benchmark::State& state) {
    const std::string ts = "2026-11-20T10:00:00.123Z";
    weir::time::timestamp_ns t = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(weir::time::parse_rfc3339(ts, t));
        benchmark::DoNotOptimize(t);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_parse_rfc3339);

}  // namespace
