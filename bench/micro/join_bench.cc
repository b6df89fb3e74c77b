// Joins of two streams: the cost of one input record through an interval join (100 K live
// keys, within 5m, both sides a record a key every few minutes) and a temporal join, and the
// memory a buffered record takes (counter bytes_per_buffered_record: the record, its copied
// values — an 8-byte number and a 12-byte string —, its key and indexes).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "core/join/stream_join.h"

namespace {

using namespace weir;

constexpr std::size_t k_keys = 100'000;
constexpr time::timestamp_ns k_second = time::ns_per_s;

void bm_join(benchmark::State& state, join::join_type type) {
    join::join_options o;
    o.type = type;
    o.kind = join::join_kind::left;
    o.within = 300 * k_second;
    o.allowed_lateness = 5 * k_second;
    join::stream_join j(o, 2, 2, 0);
    j.add_source(join::join_side::left, "orders", 0);
    j.add_source(join::join_side::right, "payments", 0);
    std::vector<std::string> keys(k_keys);
    for (std::size_t k = 0; k < k_keys; ++k) {
        join::encode_key(field_value::make_string("order-" + std::to_string(k)), keys[k]);
    }
    const std::string text = "customer-123";
    field_value values[2] = {field_value::make_number(12.5), field_value::make_string(text)};
    std::mt19937_64 rng(1);
    std::uniform_int_distribution<std::size_t> key(0, k_keys - 1);
    std::uniform_int_distribution<int> jitter(-2000, 2000);  // ms
    // 100 K keys, each seen about every 5 minutes on each side: ~333 records a second a side.
    time::timestamp_ns now = 1'704'067'200 * k_second;
    const time::timestamp_ns step = k_second / 333;
    std::size_t buffered = 0;
    double bytes = 0;
    std::int64_t n = 0;
    const auto one = [&] {
        now += step;
        const auto side = (n & 1) != 0 ? join::join_side::right : join::join_side::left;
        const time::timestamp_ns t = now + jitter(rng) * (k_second / 1000);
        j.add(side, 0, t, &keys[key(rng)], values, 0);
        j.clear_rows();
        ++n;
    };
    for (int i = 0; i < 400'000; ++i) one();  // warm: the state at its steady size
    n = 0;
    for (auto _ : state) {
        for (int i = 0; i < 1000; ++i) one();
    }
    buffered = j.buffered();
    bytes = static_cast<double>(j.buffered_bytes());
    state.SetItemsProcessed(n);
    state.counters["buffered_records"] = static_cast<double>(buffered);
    state.counters["bytes_per_buffered_record"] =
        buffered == 0 ? 0 : bytes / static_cast<double>(buffered);
}

BENCHMARK_CAPTURE(bm_join, interval, join::join_type::interval);
BENCHMARK_CAPTURE(bm_join, temporal, join::join_type::temporal);

}  // namespace
