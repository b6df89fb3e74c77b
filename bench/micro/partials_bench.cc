// Scale-out's local-global aggregation on W1's shape (1 K keys, 10 checks, tumbling 60 s,
// 10 K events per second of event time, ~119 bytes per JSON line): the bytes of the partials
// six partitions hand over per byte of input, and the engine time of six partition-local
// engines plus the merge step against one engine reading the six partitions. Partitions are
// keyed (a key always in the same partition, as Kafka producers place them) or spread (any
// record anywhere: every partition holds every key).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/engine/node_engine.h"
#include "core/engine/partials.h"

namespace {

using namespace weir;
using time::timestamp_ns;
constexpr timestamp_ns k_s = time::ns_per_s;
constexpr std::size_t k_partitions = 6;
constexpr std::size_t k_keys = 1000;
constexpr double k_line_bytes = 119;  // W1's dataset: 595 472 671 bytes, 5 M lines

engine::node_plan w1_plan() {
    engine::node_plan p;
    p.pipeline = "bench";
    p.node = "quality";
    window::window_spec w;
    w.kind = window::window_kind::tumbling;
    w.size = 60 * k_s;
    w.allowed_lateness = 5 * k_s;
    p.window = w;
    p.fields = {field_path{{"key"}}, field_path{{"value"}}, field_path{{"latency_ms"}}};
    p.group_by = {field_path{{"key"}}};
    p.max_groups = 100'000;
    const auto check = [&](const char* name, const char* measure) {
        p.checks.push_back({name, measure, "> -1e300", "", engine::emit_mode::all});
    };
    check("volume", "count()");
    check("value_missing", "missing_fraction(value)");
    check("value_mean", "mean(value)");
    check("value_min", "min(value)");
    check("value_max", "max(value)");
    check("value_std_dev", "std_dev(value)");
    check("latency_mean", "mean(latency_ms)");
    check("latency_min", "min(latency_ms)");
    check("latency_max", "max(latency_ms)");
    check("latency_std_dev", "std_dev(latency_ms)");
    return p;
}

struct stream {
    std::vector<std::string> keys;
    std::mt19937_64 rng{42};
    std::normal_distribution<double> value{20, 5};
    timestamp_ns t = 1'795'000'000 * k_s;

    stream() {
        for (std::size_t k = 0; k < k_keys; ++k) {
            keys.push_back("k-" + std::to_string(10000 + k).substr(1));
        }
    }
    // The next batch of each partition: 1024 records of event time at 10 K per second, up to
    // 2 s out of order.
    void next(std::vector<record_batch>& batches, std::vector<std::vector<timestamp_ns>>& times,
              bool keyed) {
        for (std::size_t p = 0; p < k_partitions; ++p) {
            batches[p].clear();
            batches[p].slots = 3;
            times[p].clear();
        }
        for (std::size_t i = 0; i < 1024 * k_partitions; ++i) {
            const std::size_t key = rng() % k_keys;
            const std::size_t p = keyed ? key % k_partitions : rng() % k_partitions;
            const std::size_t r = batches[p].add_record();
            auto rec = batches[p].record(r);
            rec[0] = field_value::make_string(keys[key]);
            rec[1] =
                rng() % 20 == 0 ? field_value::make_null() : field_value::make_number(value(rng));
            rec[2] = field_value::make_number(static_cast<double>(1 + rng() % 80));
            t += 100'000;  // 10 K per second
            times[p].push_back(t - static_cast<timestamp_ns>(rng() % 2000) * time::ns_per_ms);
        }
    }
};

std::string source_id(std::size_t p) {
    return "events/" + std::to_string(p);
}

// One engine reading the six partitions.
void BM_w1_one_engine(benchmark::State& state) {
    engine::node_plan plan = w1_plan();
    for (std::size_t p = 0; p < k_partitions; ++p) plan.source_ids.push_back(source_id(p));
    engine::node_engine e(plan, 0);
    stream s;
    std::vector<record_batch> batches(k_partitions);
    std::vector<std::vector<timestamp_ns>> times(k_partitions);
    std::vector<check_result> out;
    std::uint64_t records = 0;
    std::uint64_t results = 0;
    for (auto _ : state) {
        state.PauseTiming();
        s.next(batches, times, state.range(0) != 0);
        out.clear();
        state.ResumeTiming();
        for (std::size_t p = 0; p < k_partitions; ++p) {
            e.process(batches[p], times[p], s.t, out, nullptr, p);
            records += batches[p].size();
        }
        results += out.size();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(records));
    state.counters["results"] = static_cast<double>(results);
}

// Six partition-local engines, their partials through the wire form, and the merge step.
void BM_w1_partitions_and_merge(benchmark::State& state) {
    engine::node_plan plan = w1_plan();
    std::vector<engine::partial_batch> handed;
    std::vector<std::unique_ptr<engine::node_engine>> locals;
    std::uint64_t partial_bytes = 0;
    byte_writer w;
    for (std::size_t p = 0; p < k_partitions; ++p) {
        engine::node_plan local = plan;
        local.source_ids = {source_id(p)};
        locals.push_back(std::make_unique<engine::node_engine>(local, 0));
        locals.back()->set_partial_sink([&](engine::partial_batch& b) {
            w.clear();
            engine::encode_partial(b, w);
            partial_bytes += w.size();
            engine::partial_batch copy;
            byte_reader r(w.data());
            engine::decode_partial(r, copy);
            handed.push_back(std::move(copy));
        });
    }
    engine::node_plan merge_plan = plan;
    for (std::size_t p = 0; p < k_partitions; ++p) merge_plan.source_ids.push_back(source_id(p));
    engine::node_engine merge(merge_plan, 0);
    stream s;
    std::vector<record_batch> batches(k_partitions);
    std::vector<std::vector<timestamp_ns>> times(k_partitions);
    std::vector<check_result> out;
    std::uint64_t records = 0;
    std::uint64_t results = 0;
    std::uint64_t heartbeats = 0;
    for (auto _ : state) {
        state.PauseTiming();
        s.next(batches, times, state.range(0) != 0);
        out.clear();
        state.ResumeTiming();
        for (std::size_t p = 0; p < k_partitions; ++p) {
            locals[p]->process(batches[p], times[p], s.t, out, nullptr, 0);
            records += batches[p].size();
        }
        for (auto& b : handed) {
            if (b.cells.empty()) ++heartbeats;
            merge.absorb(b, s.t, out);
        }
        handed.clear();
        results += out.size();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(records));
    state.counters["results"] = static_cast<double>(results);
    state.counters["partial_bytes_per_input_byte"] =
        static_cast<double>(partial_bytes) / (static_cast<double>(records) * k_line_bytes);
    state.counters["hand_overs_without_cells"] = static_cast<double>(heartbeats);
}

BENCHMARK(BM_w1_one_engine)->Arg(1)->Arg(0)->ArgName("keyed")->MinTime(2);
BENCHMARK(BM_w1_partitions_and_merge)->Arg(1)->Arg(0)->ArgName("keyed")->MinTime(2);

}  // namespace
