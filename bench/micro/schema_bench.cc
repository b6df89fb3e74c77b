// Schema checking cost: check() on schema C records decoded from CSV (strings everywhere, so
// every numeric field is coerced) against a 6-field schema using every kind of rule.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "core/decode/csv_decoder.h"
#include "core/schema/record_schema.h"

namespace {

using namespace weir;

constexpr std::size_t k_records = 4096;

std::string schema_c_text() {
    std::mt19937 rng(2);
    const char* statuses[] = {"ok", "ok", "ok", "warn", "error"};
    const char* countries[] = {"DE", "FR", "US", "BR", "JP", "IN"};
    std::string out = "ts,key,value,status,country,latency\n";
    for (std::size_t i = 0; i < k_records; ++i) {
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

schema::schema_description six_fields() {
    using schema::field_type;
    const auto f = [](const char* name, std::size_t slot, field_type t) {
        schema::field_description d;
        d.name = name;
        d.slot = slot;
        d.type = t;
        return d;
    };
    schema::schema_description d;
    d.fields = {f("ts", 0, field_type::timestamp),   f("key", 1, field_type::string),
                f("value", 2, field_type::number),   f("status", 3, field_type::string),
                f("country", 4, field_type::string), f("latency", 5, field_type::integer)};
    d.fields[0].required = true;
    d.fields[0].time_format = "rfc3339";
    d.fields[1].required = true;
    d.fields[1].pattern = "k-[0-9]+";
    d.fields[2].minimum = 0;
    d.fields[2].maximum = 100;
    d.fields[3].allowed = {"ok", "warn", "error"};
    d.fields[4].allowed = {"DE", "FR", "US", "BR", "JP", "IN"};
    d.fields[5].minimum = 0;
    d.fields[5].maximum = 1000;
    return d;
}

struct fixture {
    std::string text = schema_c_text();
    record_batch pristine;
    fixture() {
        decode::csv_decoder decoder(
            {{{"ts"}}, {{"key"}}, {{"value"}}, {{"status"}}, {{"country"}}, {{"latency"}}});
        decoder.decode(text, pristine, true);
    }
};

// Restores the decoded values (check() coerces in place) without allocating.
void restore(const record_batch& from, record_batch& to) {
    to.slots = from.slots;
    to.values.assign(from.values.begin(), from.values.end());
    to.status.assign(from.status.begin(), from.status.end());
}

void bm_schema_check_six_fields(benchmark::State& state) {
    const fixture fx;
    const schema::record_schema s(six_fields());
    record_batch batch;
    schema::schema_verdicts verdicts;
    schema::schema_stats stats;
    for (auto _ : state) {
        restore(fx.pristine, batch);
        benchmark::DoNotOptimize(s.check(batch, verdicts, stats));
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(k_records));
}
BENCHMARK(bm_schema_check_six_fields);

// The restore alone, to subtract from the figure above.
void bm_schema_restore_only(benchmark::State& state) {
    const fixture fx;
    record_batch batch;
    for (auto _ : state) {
        restore(fx.pristine, batch);
        benchmark::DoNotOptimize(batch.values.data());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(k_records));
}
BENCHMARK(bm_schema_restore_only);

}  // namespace
