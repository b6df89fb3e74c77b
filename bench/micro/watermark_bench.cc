// The watermark's cost per record over many sources (a Kafka topic's partitions, a glob's
// files), each record raising its source's newest event time, as the engine calls it (observe,
// then update): batches of 500 records of one source after the other, as inputs deliver them,
// and the worst case, one record of each source in turn (the slowest source moves every time).
#include <benchmark/benchmark.h>

#include "core/window/watermark.h"

namespace {

using namespace weir;
using time::timestamp_ns;

void run(benchmark::State& state, std::size_t batch) {
    const auto sources = static_cast<std::size_t>(state.range(0));
    window::watermark_tracker w(5 * time::ns_per_s, 30 * time::ns_per_s, sources, 0);
    timestamp_ns t = 0;
    std::size_t s = 0;
    std::size_t in_batch = 0;
    for (auto _ : state) {
        t += 1000;
        w.observe(s, t, t);
        benchmark::DoNotOptimize(w.update(t));
        if (++in_batch == batch) {
            in_batch = 0;
            if (++s == sources) s = 0;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_watermark_batches(benchmark::State& state) {
    run(state, 500);
}
void BM_watermark_round_robin(benchmark::State& state) {
    run(state, 1);
}

BENCHMARK(BM_watermark_batches)->Arg(1)->Arg(6)->Arg(100)->Arg(1000);
BENCHMARK(BM_watermark_round_robin)->Arg(1)->Arg(6)->Arg(100)->Arg(1000);

}  // namespace
