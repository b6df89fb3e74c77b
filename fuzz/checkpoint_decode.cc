// Fuzz target: checkpoint decoding — the file envelope (core/checkpoint/checkpoint_file.h) and
// the node chain's state restored from its sections (core/chain/node_chain.h), for a plan
// whose engine holds every kind of accumulator. The input is a checkpoint file. It is decoded
// as it is, and then sealed again (its length and checksum recomputed over the bytes after the
// header) so that mutations of the payload reach the state decoders instead of the checksum.
// A state that restores must then be usable: records go through it, it is snapshotted and
// every window closes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/load.h"
#include "config/plan.h"
#include "connectors/register.h"
#include "core/chain/node_chain.h"
#include "core/checkpoint/byte_codec.h"
#include "core/checkpoint/checkpoint_file.h"
#include "core/record/padded_buffer.h"

namespace {

using namespace weir;

constexpr std::string_view k_pipeline = R"yaml(pipeline: fuzz
inputs:
  readings: {type: file, path: /nonexistent/readings.csv, format: csv}
nodes:
  quality:
    from: readings
    schema:
      fields: {value: {type: number}}
    time: {field: ts, format: epoch_s}
    window: {type: sliding, size: 20s, slide: 10s, allowed_lateness: 5s}
    group_by: [device]
    checks:
      - {name: volume, measure: count(), must_be: "> 1"}
      - {name: mean, measure: mean(value), must_be: "[0, 100]"}
      - {name: spread, measure: std_dev(value), must_be: "< 10"}
      - {name: p90, measure: "percentile(value, 0.9)",
                           must_be : "< 90"
}
      - {name: median, measure: median(value), must_be: "< 90"}
      - {name: distinct, measure: distinct_count(label), must_be: "> 0"}
      - {name: approx, measure: approx_distinct_count(label), must_be: "> 0"}
      - {name: unique, measure: unique_count(label), must_be: ">= 0"}
      - {name: top, measure: most_frequent_count(label), must_be: ">= 0"}
      - {name: frozen, measure: is_frozen(value), must_be: "== false"}
      - {name: ordered, measure: ordered_fraction(ts), must_be: "> 0.5"}
      - {name: corr, measure: "correlation(value, ts)", must_be: "> -2"}
      - {name: lengths, measure: max_length(label), must_be: "< 20"}
      - {name: missing, measure: missing_fraction(value), must_be: "< 50%"}
      - {name: fresh, measure: freshness(), must_be: "< 1d"}
    outputs: [out]
outputs:
  out: {type: console}
)yaml";

constexpr time::timestamp_ns k_now = 1'795'000'000 * time::ns_per_s;

std::shared_ptr<const chain::chain_plan> plan() {
    static const std::shared_ptr<const chain::chain_plan> p = [] {
        params::component_registry registry;
        connectors::register_builtin_connectors(registry);
        const auto r = config::load_text(std::string(k_pipeline), "fuzz.yaml", registry,
                                         [](const std::string&) { return std::nullopt; });
        if (r.diags.has_errors() || r.config.pipelines.empty()) __builtin_trap();
        return r.config.pipelines[0].plan->queries.at(0).chain;
    }();
    return p;
}

class null_sink final : public chain::chain_sink {
  public:
    bool on_decoded(std::size_t, std::size_t, std::size_t, std::size_t,
                    const chain::record_problem*) override {
        return true;
    }
    bool on_rejected(std::size_t, std::size_t, const chain::record_problem&) override {
        return true;
    }
    void on_failure(const std::string&) override {}
    void on_results(std::size_t, std::span<const check_result>) override {}
    bool admit(std::size_t, chain::output_index, std::size_t) override { return true; }
    void write_result(chain::output_index, const check_result& r) override {
        std::string json;
        append_json(r, json);
    }
    void write_record(chain::output_index, std::string_view) override {}
};

void restore_and_use(const checkpoint::checkpoint_data& data) {
    null_sink sink;
    chain::node_chain chain(plan(), sink, {{""}}, k_now);
    std::string error;
    if (!chain.restore(data.sections, error)) return;
    padded_buffer records;
    records.append(
        "device,value,label,ts\n"
        "d1,12.5,a,1795000000\nd2,,bb,1795000004\nd1,99,a,1795000011\nd3,7,ccc,1794999000\n");
    chain.deliver(0, "", record_delivery{records.view(), {}, {}}, k_now);
    (void)chain.snapshot();
    chain.advance(k_now + 60 * time::ns_per_s);
    chain.finish(k_now + 60 * time::ns_per_s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::string_view file(reinterpret_cast<const char*>(bytes), size);
    std::string error;
    if (const auto data = checkpoint::decode(file, error)) restore_and_use(*data);

    // Sealed again: magic, version, then length and checksum of everything after the header.
    constexpr std::size_t k_header = 8 + 4 + 8;
    if (size < k_header || file.substr(0, 8) != "WEIRCKPT") return 0;
    std::string_view payload = file.substr(k_header);
    if (payload.size() >= 4) payload.remove_suffix(4);  // the old checksum
    byte_writer sealed;
    sealed.raw(file.data(), 12);  // magic and version as written
    sealed.u64(payload.size());
    sealed.raw(payload.data(), payload.size());
    sealed.u32(crc32c(payload));
    if (const auto data = checkpoint::decode(sealed.data(), error)) restore_and_use(*data);
    return 0;
}
