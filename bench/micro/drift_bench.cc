// Schema-drift cost per record: the tracker's walk of a whole record alone, and a node chain
// whose checks are count() and mean(v), without and with the three drift measures (the same
// deliveries, event-time windows of 1 s). The difference is what a drift check adds per
// record; a pipeline without drift measures builds no tracker at all.
#include <benchmark/benchmark.h>

#include <string>

#include "config/load.h"
#include "config/plan.h"
#include "connectors/register.h"
#include "core/chain/node_chain.h"
#include "core/record/padded_buffer.h"
#include "core/schema/drift.h"
#include "core/time/timestamp.h"

namespace {

using namespace weir;

constexpr std::size_t k_records = 4096;
constexpr time::timestamp_ns k_start = 1'795'000'000 * time::ns_per_s;

// A 12-field order record (one nested object), about 230 bytes; event times 1 ms apart from
// `first` on.
std::string records(std::size_t first) {
    std::string out;
    for (std::size_t i = first; i < first + k_records; ++i) {
        out += "{\"ts\":\"" +
               time::format_rfc3339_ms(k_start +
                                       static_cast<time::timestamp_ns>(i) * time::ns_per_ms) +
               "\",\"id\":\"o-" + std::to_string(i) + "\",\"v\":" + std::to_string(i % 97) +
               ",\"status\":\"ok\",\"country\":\"DE\",\"customer\":{\"id\":\"c-" +
               std::to_string(i % 500) +
               "\",\"tier\":\"gold\"},\"items\":[1,2],\"paid\":true,\"note\":null,"
               "\"channel\":\"web\"}\n";
    }
    return out;
}

void bm_drift_observe(benchmark::State& state) {
    const std::string text = records(0);
    padded_buffer buffer;
    buffer.append(text);
    const std::string_view all = buffer.view();
    schema::drift_tracker tracker({});
    tracker.start_learning(k_start + 1);
    std::size_t n = 0;
    for (auto _ : state) {
        std::size_t at = 0;
        while (at < all.size()) {
            const std::size_t nl = all.find('\n', at);
            benchmark::DoNotOptimize(tracker.observe(all.substr(at, nl - at), k_start));
            at = nl + 1;
            ++n;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
}
BENCHMARK(bm_drift_observe);

struct null_sink : chain::chain_sink {
    std::size_t results = 0;
    bool on_decoded(std::size_t, std::size_t, std::size_t, std::size_t,
                    const chain::record_problem*) override {
        return true;
    }
    bool on_rejected(std::size_t, std::size_t, const chain::record_problem&) override {
        return true;
    }
    void on_failure(const std::string&) override {}
    void on_results(std::size_t, std::span<const check_result> r) override { results += r.size(); }
    bool admit(std::size_t, chain::output_index, std::size_t) override { return true; }
    void write_result(chain::output_index, const check_result&) override {}
    void write_record(chain::output_index, std::string_view) override {}
};

std::shared_ptr<const config::compiled_pipeline> compile(bool drift) {
    static const params::component_registry registry = [] {
        params::component_registry r;
        connectors::register_builtin_connectors(r);
        return r;
    }();
    std::string yaml = R"(pipeline: p
inputs:
  in: {type: stdin, format: json}
nodes:
  quality:
    from: in
    time: {field: ts, format: rfc3339}
    window: {type: tumbling, size: 1s}
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
      - {name: level, measure: mean(v), must_be: "< 100"}
)";
    if (drift) {
        yaml += R"(      - {name: new, measure: new_fields(), must_be: "== 0"}
      - {name: missing, measure: missing_fields(), must_be: "== 0"}
      - {name: types, measure: type_changes(), must_be: "== 0"}
)";
    }
    yaml += R"(    outputs: [results]
outputs:
  results: {type: console}
)";
    const auto r = config::load_text(yaml, "bench.yaml", registry,
                                     [](const std::string&) { return std::nullopt; });
    if (r.diags.has_errors() || r.config.pipelines.empty()) return nullptr;
    return r.config.pipelines[0].plan;
}

void bm_chain(benchmark::State& state) {
    const auto p = compile(state.range(0) != 0);
    if (!p) {
        state.SkipWithError("the pipeline does not compile");
        return;
    }
    const auto& plan = p->queries.at(0).chain;
    null_sink sink;
    chain::node_chain chain(plan, sink, {{""}}, k_start);
    std::size_t first = 0;
    std::size_t n = 0;
    padded_buffer buffer;
    for (auto _ : state) {
        state.PauseTiming();
        buffer.clear();
        buffer.append(records(first));
        first += k_records;
        state.ResumeTiming();
        chain.deliver(0, "", record_delivery{buffer.view(), {}, {}}, k_start);
        n += k_records;
    }
    benchmark::DoNotOptimize(sink.results);
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
}
BENCHMARK(bm_chain)->Arg(0)->Arg(1)->ArgName("drift");

}  // namespace
