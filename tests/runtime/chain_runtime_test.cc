// Whole pipelines in process, through the node chain (core/chain/node_chain.h): YAML compiled
// by the one compile (config/plan.h), records handed over by a memory input in random
// deliveries, everything the chain produces captured by a sink. The property every restart
// rests on: a snapshot at any record boundary, restored into a fresh chain that reads on from
// there, gives exactly what an uninterrupted run gives — results, derived records, late records
// and dead letters — for JSON and CSV inputs, with schemas, transforms and late records.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "config/load.h"
#include "config/plan.h"
#include "connectors/register.h"
#include "core/chain/node_chain.h"
#include "core/engine/partials.h"
#include "core/record/padded_buffer.h"
#include "tests/runtime/compile_pipeline.h"

namespace weir::test {
namespace {

using time::timestamp_ns;
constexpr timestamp_ns k_s = time::ns_per_s;
constexpr timestamp_ns k_now = 1'795'000'000 * k_s;  // a fixed wall clock

// Everything the chain hands out, as text lines in order: "<output> <json>".
class capture_sink : public chain::chain_sink {
  public:
    explicit capture_sink(const chain::chain_plan& plan) : plan_(plan) {}

    std::vector<std::string> lines;
    std::uint64_t decoded = 0;
    std::uint64_t invalid = 0;
    std::uint64_t schema_invalid = 0;
    std::string failure;

    std::uint64_t bad_time = 0;
    std::vector<chain::record_problem> problems;  // the first of each report

    bool on_decoded(std::size_t, std::size_t records, std::size_t, std::size_t bad,
                    const chain::record_problem* first) override {
        decoded += records;
        invalid += bad;
        if (first != nullptr) problems.push_back(*first);
        return true;
    }
    bool on_rejected(std::size_t, std::size_t n, const chain::record_problem& first) override {
        (first.reason == invalid_reason::bad_time ? bad_time : schema_invalid) += n;
        problems.push_back(first);
        return true;
    }
    void on_failure(const std::string& message) override { failure = message; }
    void on_results(std::size_t, std::span<const check_result>) override {}
    bool admit(std::size_t, chain::output_index, std::size_t) override { return true; }
    void write_result(chain::output_index output, const check_result& r) override {
        std::string json;
        append_json(r, json);
        lines.push_back(plan_.outputs[output] + " " + json);
    }
    void write_record(chain::output_index output, std::string_view json) override {
        lines.push_back(plan_.outputs[output] + " " + std::string(json));
    }
    // Where each end_of_results came: after lines[at - 1], to the output named.
    std::vector<std::pair<std::size_t, std::string>> result_ends;
    void end_of_results(chain::output_index output) override {
        result_ends.emplace_back(lines.size(), plan_.outputs[output]);
    }

  private:
    const chain::chain_plan& plan_;
};

// Hands `text` (complete lines) to input 0 in deliveries of random sizes, each a whole number
// of lines, in a padded buffer as inputs do.
void deliver_lines(chain::node_chain& chain, std::string_view text, std::mt19937& rng,
                   std::size_t max_lines) {
    std::size_t at = 0;
    padded_buffer buffer;
    while (at < text.size()) {
        std::size_t end = at;
        const std::size_t lines = 1 + rng() % max_lines;
        for (std::size_t i = 0; i < lines && end < text.size(); ++i) {
            const std::size_t nl = text.find('\n', end);
            end = nl == std::string_view::npos ? text.size() : nl + 1;
        }
        buffer.clear();
        buffer.append(text.substr(at, end - at));
        chain.deliver(0, "", record_delivery{buffer.view(), {}, {}}, k_now);
        at = end;
    }
}

// The byte offset after the first `n` lines of `text`.
std::size_t after_lines(std::string_view text, std::size_t n) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < n; ++i) at = text.find('\n', at) + 1;
    return at;
}

std::size_t count_lines(std::string_view text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

struct run_output {
    std::vector<std::string> lines;
    std::uint64_t decoded = 0;
    std::vector<std::pair<std::size_t, std::string>> result_ends;  // capture_sink's

    // Per output, in order. (Across outputs the interleaving follows the deliveries: a
    // batch's dead letters leave before the results its records close.)
    std::map<std::string, std::vector<std::string>> by_output() const {
        std::map<std::string, std::vector<std::string>> out;
        for (const auto& l : lines) out[l.substr(0, l.find(' '))].push_back(l);
        return out;
    }
};

run_output uninterrupted(const std::shared_ptr<const config::compiled_pipeline>& p,
                         std::string_view text, std::uint32_t seed) {
    const auto& plan = p->queries.at(0).chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}}, k_now);
    std::mt19937 rng(seed);
    deliver_lines(chain, text, rng, 7);
    chain.end_input(0, k_now);
    chain.finish(k_now);
    return {sink.lines, sink.decoded, sink.result_ends};
}

// Reads `text` up to `cut` bytes, snapshots, and goes on in a fresh chain restored from the
// snapshot (as a restart does: the input resumes at its position).
run_output restarted(const std::shared_ptr<const config::compiled_pipeline>& p,
                     std::string_view text, std::size_t cut, std::uint32_t seed) {
    const auto& plan = p->queries.at(0).chain;
    std::mt19937 rng(seed);
    run_output out;
    chain::node_chain::sections saved;
    {
        capture_sink sink(*plan);
        chain::node_chain first(plan, sink, {{""}}, k_now);
        deliver_lines(first, text.substr(0, cut), rng, 7);
        saved = first.snapshot();
        out.lines = sink.lines;
        out.decoded = sink.decoded;
    }
    capture_sink sink(*plan);
    chain::node_chain second(plan, sink, {{""}}, k_now);
    std::string error;
    EXPECT_TRUE(second.restore(saved, error)) << error;
    deliver_lines(second, text.substr(cut), rng, 7);
    second.end_input(0, k_now);
    second.finish(k_now);
    out.lines.insert(out.lines.end(), sink.lines.begin(), sink.lines.end());
    out.decoded += sink.decoded;
    return out;
}

// Records over a few minutes of event time, out of order, some late, some violating the
// schema, some malformed.
std::string json_records(std::uint32_t seed, std::size_t n) {
    std::mt19937 rng(seed);
    std::ostringstream os;
    timestamp_ns newest = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t kind = rng() % 40;
        if (kind == 0) {
            os << "{not json\n";
            continue;
        }
        newest += (rng() % 3000) * time::ns_per_ms;
        // Mostly a little behind the newest; now and then far behind (late).
        const timestamp_ns behind = (kind == 1 ? 30'000 + rng() % 60'000 : rng() % 4000);
        const timestamp_ns t = 1'795'000'000 * k_s + newest - behind * time::ns_per_ms;
        os << "{\"ts\":\"" << time::format_rfc3339_ms(t) << "\",\"host\":\"h" << rng() % 3 << "\"";
        if (kind != 2) os << ",\"v\":" << (kind == 3 ? -5 : static_cast<int>(rng() % 100));
        if (kind == 4) os << ",\"status\":\"test\"";
        os << ",\"note\":\"n" << i << "\"}\n";
    }
    return os.str();
}

const char* const k_json_pipeline = R"(pipeline: p
inputs:
  in: {type: stdin, format: json}
nodes:
  clean:
    from: in
    schema:
      fields:
        v: {type: number, min: 0}
        ts: {type: timestamp, required: true}
      on_invalid: drop
      dead_letter: letters
    transforms:
      - filter: 'status == null or status != "test"'
      - set: {v2: 'v * 2'}
      - rename: {note: remark}
      - drop: [host_alias]
    outputs: [derived]
  quality:
    from: clean
    time: {field: ts, format: rfc3339}
    window: {type: tumbling, size: 10s, allowed_lateness: 2s}
    group_by: [host]
    checks:
      - {name: volume, measure: count(), must_be: "> 2"}
      - {name: level, measure: mean(v2), must_be: "< 150"}
      - {name: spread, measure: max(v) - min(v), should_be: "< 90"}
      - {name: gaps, measure: missing_fraction(v), must_be: "< 10%"}
    late_output: late
    outputs: [results]
outputs:
  results: {type: console}
  derived: {type: console}
  late: {type: console}
  letters: {type: console}
)";

TEST(chain_runtime, json_snapshot_at_every_record_boundary_equals_an_uninterrupted_run) {
    const auto p = compile(k_json_pipeline);
    ASSERT_TRUE(p);
    const std::string text = json_records(7, 160);
    const run_output whole = uninterrupted(p, text, 1);
    // The run exercises every product: results, derived records, late records, dead letters.
    std::set<std::string> kinds;
    for (const auto& l : whole.lines) kinds.insert(l.substr(0, l.find(' ')));
    EXPECT_EQ(kinds, (std::set<std::string>{"derived", "late", "letters", "results"}));
    const std::size_t n = count_lines(text);
    for (std::size_t k = 0; k <= n; ++k) {
        const run_output cut = restarted(p, text, after_lines(text, k), 100 + k);
        ASSERT_EQ(cut.by_output(), whole.by_output()) << "restart after record " << k;
        EXPECT_EQ(cut.decoded, whole.decoded);
    }
}

TEST(chain_runtime, deliveries_of_any_size_give_the_same_products) {
    const auto p = compile(k_json_pipeline);
    ASSERT_TRUE(p);
    const std::string text = json_records(11, 300);
    const run_output first = uninterrupted(p, text, 1);
    for (std::uint32_t seed = 2; seed < 12; ++seed) {
        EXPECT_EQ(uninterrupted(p, text, seed).by_output(), first.by_output()) << seed;
    }
}

TEST(chain_runtime, each_windows_results_end_with_a_word_to_their_output) {
    // Outputs that gather lines write a window's results when told they are all there: the
    // word must follow every run of results, and come nowhere else.
    const auto p = compile(k_json_pipeline);
    ASSERT_TRUE(p);
    const run_output run = uninterrupted(p, json_records(13, 300), 3);

    const auto is_result = [&](std::size_t i) { return run.lines[i].starts_with("results "); };
    std::set<std::size_t> ends;
    for (const auto& [at, output] : run.result_ends) {
        EXPECT_EQ(output, "results");
        ASSERT_GT(at, 0u);
        EXPECT_TRUE(is_result(at - 1)) << "an end after a line that is no result: " << at;
        EXPECT_TRUE(ends.insert(at).second) << "two ends at " << at;
    }
    std::size_t runs = 0;
    for (std::size_t i = 0; i < run.lines.size(); ++i) {
        if (is_result(i) && (i + 1 == run.lines.size() || !is_result(i + 1))) {
            ++runs;
            EXPECT_TRUE(ends.contains(i + 1)) << "results without an end, up to line " << i;
        }
    }
    EXPECT_GT(runs, 5u) << "windows close all along the run";
}

// Whole records (messages, datagrams) rather than lines: the same products.
TEST(chain_runtime, deliveries_with_record_ends_read_like_lines) {
    const auto p = compile(k_json_pipeline);
    ASSERT_TRUE(p);
    const std::string text = json_records(5, 200);
    const run_output lines = uninterrupted(p, text, 1);

    const auto& plan = p->queries.at(0).chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}}, k_now);
    padded_buffer bytes;
    std::vector<std::uint32_t> ends;
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t nl = text.find('\n', at);
        bytes.append(std::string_view(text).substr(at, nl - at));  // no line ends at all
        ends.push_back(static_cast<std::uint32_t>(bytes.size()));
        at = nl + 1;
        if (ends.size() == 13) {
            chain.deliver(0, "", record_delivery{bytes.view(), ends, {}}, k_now);
            bytes.clear();
            ends.clear();
        }
    }
    chain.deliver(0, "", record_delivery{bytes.view(), ends, {}}, k_now);
    chain.finish(k_now);
    EXPECT_EQ((run_output{sink.lines, 0}.by_output()), lines.by_output());
}

const char* const k_csv_pipeline = R"(pipeline: p
inputs:
  in: {type: stdin, format: csv, csv: {delimiter: ",", null_values: [NA]}}
nodes:
  quality:
    from: in
    schema:
      fields:
        v: {type: number}
        host: {type: string, enum: [h0, h1, h2]}
      on_invalid: keep
      dead_letter: letters
    transforms:
      - filter: 'host != "h2" or v == null'
    time: {field: ts, format: epoch_s}
    window: {type: sliding, size: 20s, slide: 5s, allowed_lateness: 1s}
    group_by: [host]
    checks:
      - {name: volume, measure: count(), must_be: "> 1"}
      - {name: level, measure: mean(v), must_be: "< 60"}
      - {name: invalid, measure: invalid_count(), must_be: "== 0"}
    late_output: late
    outputs: [results]
outputs:
  results: {type: console}
  late: {type: console}
  letters: {type: console}
)";

std::string csv_records(std::uint32_t seed, std::size_t n) {
    std::mt19937 rng(seed);
    std::ostringstream os;
    os << "ts,host,v,comment\n";
    std::int64_t newest = 1'795'000'000;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t kind = rng() % 30;
        newest += rng() % 3;
        const std::int64_t t = newest - (kind == 0 ? 20 + rng() % 20 : rng() % 2);
        os << t << ",h" << rng() % 3 << ",";
        if (kind == 1) {
            os << "NA";
        } else if (kind == 2) {
            os << "lots";  // not a number: kept, counted invalid
        } else {
            os << rng() % 100;
        }
        // Quoted cells with a delimiter and a doubled quote.
        os << (kind == 3 ? ",\"a, \"\"b\"\"\"" : ",c") << "\n";
        if (kind == 4) os << "1,2\n";  // malformed: too few cells
    }
    return os.str();
}

TEST(chain_runtime, csv_snapshot_at_every_record_boundary_equals_an_uninterrupted_run) {
    const auto p = compile(k_csv_pipeline);
    ASSERT_TRUE(p);
    const std::string text = csv_records(3, 150);
    const run_output whole = uninterrupted(p, text, 1);
    std::set<std::string> kinds;
    for (const auto& l : whole.lines) kinds.insert(l.substr(0, l.find(' ')));
    EXPECT_EQ(kinds, (std::set<std::string>{"late", "letters", "results"}));
    const std::size_t n = count_lines(text);
    // From 1: the first line is the header, which the snapshot carries once it was read.
    for (std::size_t k = 1; k <= n; ++k) {
        const run_output cut = restarted(p, text, after_lines(text, k), 100 + k);
        ASSERT_EQ(cut.by_output(), whole.by_output()) << "restart after line " << k;
    }
}

// Two inputs: each source holds the watermark back; a source that goes away no longer does;
// a snapshot restores watermark sources by id when the set changed meanwhile.
const char* const k_two_inputs = R"(pipeline: p
inputs:
  a: {type: stdin}
  b: {type: tcp, listen: "127.0.0.1:0"}
nodes:
  both:
    from: [a, b]
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
    outputs: [results]
outputs:
  results: {type: console}
)";

void deliver_one(chain::node_chain& chain, std::size_t input, std::string_view source,
                 std::int64_t ts) {
    padded_buffer b;
    b.append("{\"ts\":" + std::to_string(ts) + "}\n");
    chain.deliver(input, source, record_delivery{b.view(), {}, {}}, k_now);
}

TEST(chain_runtime, sources_hold_the_watermark_back_until_they_go_away) {
    const auto p = compile(k_two_inputs);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    ASSERT_EQ(plan->inputs.size(), 2u);
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}, {"x"}}, k_now);
    deliver_one(chain, 0, "", 100);
    deliver_one(chain, 0, "", 125);
    EXPECT_TRUE(sink.lines.empty()) << "input b's source x holds the watermark back";
    deliver_one(chain, 1, "x", 121);
    EXPECT_EQ(sink.lines.size(), 2u) << "windows [90,100) and [100,110) and [110,120)";
    // A new source of b holds it back again from now on; its removal releases it.
    chain.add_source(1, "y", k_now);
    deliver_one(chain, 0, "", 140);
    deliver_one(chain, 1, "x", 140);
    const std::size_t before = sink.lines.size();
    EXPECT_EQ(chain.engine(0)->watermark(), 121 * k_s);
    chain.remove_source(1, "y");
    deliver_one(chain, 0, "", 141);
    EXPECT_GT(sink.lines.size(), before);
    EXPECT_EQ(chain.engine(0)->watermark(), 140 * k_s);

    // Restored into a chain whose input b has other sources: x is matched by id, z is new.
    const auto saved = chain.snapshot();
    capture_sink sink2(*plan);
    chain::node_chain next(plan, sink2, {{""}, {"x", "z"}}, k_now);
    std::string error;
    ASSERT_TRUE(next.restore(saved, error)) << error;
    EXPECT_EQ(next.engine(0)->watermark(), 140 * k_s);
    deliver_one(next, 0, "", 200);
    deliver_one(next, 1, "x", 200);
    EXPECT_EQ(next.engine(0)->watermark(), 140 * k_s) << "z holds it back";
    deliver_one(next, 1, "z", 200);
    EXPECT_EQ(next.engine(0)->watermark(), 200 * k_s);
}

// Scale-out over several daemons (core/engine/partials.h): partition-local chains whose
// partials a merge chain takes, each as a daemon's lane would — one lane cuts its partition,
// dies, and a lane of another daemon starts again at the cut with the cut's epoch.
class partials_sink : public capture_sink {
  public:
    using capture_sink::capture_sink;
    std::vector<std::pair<std::size_t, std::string>> wire;  // (node, encoded hand-over)
    void on_partials(std::size_t node, engine::partial_batch& b) override {
        byte_writer w;
        engine::encode_partial(b, w);
        wire.emplace_back(node, w.take());
    }
};

const char* const k_partitioned_pipeline = R"(pipeline: p
inputs:
  in: {type: stdin, format: json}
nodes:
  quality:
    from: in
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s, allowed_lateness: 3s}
    group_by: [host]
    checks:
      - {name: volume, measure: count(), must_be: "> 2"}
      - {name: level, measure: mean(v), must_be: "< 50"}
      - {name: hosts, measure: distinct_count(v), must_be: "< 20"}
    outputs: [results]
outputs:
  results: {type: console}
)";

// A partition's records, one per line, a little out of order (never late).
std::vector<std::string> partition_lines(std::uint32_t seed, std::size_t n) {
    std::mt19937 rng(seed);
    std::vector<std::string> lines;
    std::int64_t t = 1'795'000'000;
    for (std::size_t i = 0; i < n; ++i) {
        t += static_cast<std::int64_t>(rng() % 3);
        lines.push_back("{\"ts\":" + std::to_string(t - static_cast<std::int64_t>(rng() % 2)) +
                        ",\"host\":\"h" + std::to_string(rng() % 3) +
                        "\",\"v\":" + std::to_string(rng() % 60) + "}\n");
    }
    return lines;
}

void deliver_range(chain::node_chain& chain, std::string_view source,
                   const std::vector<std::string>& lines, std::size_t from, std::size_t to) {
    padded_buffer b;
    for (std::size_t i = from; i < to; ++i) b.append(lines[i]);
    if (to > from) chain.deliver(0, source, record_delivery{b.view(), {}, {}}, k_now);
}

TEST(chain_runtime, a_lane_that_starts_again_at_a_cut_adds_nothing_twice) {
    const auto p = compile(k_partitioned_pipeline);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    ASSERT_TRUE(chain::node_chain::partitionable(*plan));
    const std::vector<std::string> sources = {"p0", "p1"};
    const std::vector<std::vector<std::string>> lines = {partition_lines(1, 400),
                                                         partition_lines(2, 300)};
    capture_sink single_sink(*plan);
    chain::node_chain single(plan, single_sink, {sources}, k_now);
    for (std::size_t i = 0; i < 400; i += 50) {
        deliver_range(single, "p0", lines[0], i, i + 50);
        if (i < 300) deliver_range(single, "p1", lines[1], i, i + 50);
    }
    single.finish(k_now);
    ASSERT_FALSE(single_sink.lines.empty());

    const chain::chain_options local{.partition_local = true};
    // Daemon A reads p0: it cuts at record 120 and dies at record 260, having handed over
    // what its records let it give up by then (its lane holds the rest, lost with it).
    partials_sink a(*plan);
    {
        chain::node_chain lane(plan, a, {{"p0"}}, k_now, local);
        deliver_range(lane, "p0", lines[0], 0, 70);
        deliver_range(lane, "p0", lines[0], 70, 120);
        lane.cut(0, "p0", 121, k_now);
        deliver_range(lane, "p0", lines[0], 120, 200);
        deliver_range(lane, "p0", lines[0], 200, 260);
    }
    // Daemon C reads p1 to its end.
    partials_sink c(*plan);
    {
        chain::node_chain lane(plan, c, {{"p1"}}, k_now, local);
        deliver_range(lane, "p1", lines[1], 0, 300);
        lane.finish(k_now);
    }
    // Daemon B is given p0 at the cut, and reads it to its end in other deliveries.
    partials_sink b(*plan);
    {
        // As a daemon's lane: it knows no source before the cut.
        chain::node_chain lane(plan, b, {{}}, k_now, local);
        lane.cut(0, "p0", 121, k_now);
        for (std::size_t i = 120; i < 400; i += 35) {
            deliver_range(lane, "p0", lines[0], i, std::min<std::size_t>(i + 35, 400));
        }
        lane.finish(k_now);
    }
    capture_sink merged_sink(*plan);
    chain::node_chain merge(plan, merged_sink, {{"p0", "p1"}}, k_now);
    for (const auto* w : {&a.wire, &c.wire, &b.wire}) {
        for (const auto& [node, bytes] : *w) {
            engine::partial_batch batch;
            byte_reader r(bytes);
            ASSERT_TRUE(engine::decode_partial(r, batch));
            merge.absorb(node, batch, k_now);
        }
    }
    merge.finish(k_now);
    auto want = single_sink.lines;
    auto got = merged_sink.lines;
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);
    EXPECT_GT(merge.engine(0)->stats().duplicate_cells, 0u) << "B handed over again what A did";
}

// A snapshot taken in slices (one per strand turn, so a large state never holds the thread)
// is byte for byte the one taken at once, whatever the slice size.
TEST(chain_runtime, a_snapshot_in_slices_is_the_snapshot) {
    const auto p = compile(k_json_pipeline);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}}, k_now);
    std::mt19937 rng(3);
    deliver_lines(chain, json_records(9, 400), rng, 9);
    const auto whole = chain.snapshot();
    {
        // A deadline already past: a group a call, and still the same bytes.
        chain::node_chain::snapshot_progress progress;
        std::size_t calls = 1;
        engine::node_engine::slice_budget late;
        late.deadline = std::chrono::steady_clock::now();
        while (!chain.snapshot_some(progress, late)) ++calls;
        EXPECT_EQ(progress.join(), whole);
        EXPECT_GE(calls, 2u);
    }
    for (const std::size_t budget : {0, 1, 7, 100, 1000, 100000}) {
        chain::node_chain::snapshot_progress progress;
        std::size_t calls = 1;
        engine::node_engine::slice_budget slice;
        slice.bytes = budget;
        while (!chain.snapshot_some(progress, slice)) ++calls;
        EXPECT_EQ(progress.join(), whole) << budget;
        if (budget < 100) {  // a group a slice
            ASSERT_NE(chain.engine(1), nullptr);
            EXPECT_GE(calls, chain.engine(1)->live_groups()) << budget;
            EXPECT_GE(calls, 3u) << budget;
        }
    }
}

TEST(chain_runtime, a_damaged_section_is_refused_with_its_name) {
    const auto p = compile(k_json_pipeline);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}}, k_now);
    std::mt19937 rng(1);
    deliver_lines(chain, json_records(1, 50), rng, 5);
    auto saved = chain.snapshot();
    ASSERT_EQ(saved.size(), 1u);
    EXPECT_EQ(saved[0].first, "engine/quality");
    saved[0].second.resize(saved[0].second.size() / 2);
    capture_sink sink2(*plan);
    chain::node_chain next(plan, sink2, {{""}}, k_now);
    std::string error;
    EXPECT_FALSE(next.restore(saved, error));
    EXPECT_NE(error.find("node \"quality\""), std::string::npos) << error;
    EXPECT_FALSE(next.restore(chain::node_chain::sections{{"mystery/x", "1"}}, error));
    EXPECT_NE(error.find("mystery/x"), std::string::npos) << error;
}

TEST(chain_runtime, a_schema_that_fails_stops_the_delivery) {
    std::string yaml = k_json_pipeline;
    yaml.replace(yaml.find("on_invalid: drop"), 16, "on_invalid: fail");
    const auto p = compile(yaml);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}}, k_now);
    padded_buffer b;
    b.append("{\"ts\":\"2026-11-20T10:00:00Z\",\"v\":-1,\"host\":\"h\"}\n");
    chain.deliver(0, "", record_delivery{b.view(), {}, {}}, k_now);
    EXPECT_NE(sink.failure.find("violates the schema"), std::string::npos) << sink.failure;
    EXPECT_TRUE(sink.lines.empty());
}

// What `weir validate` accepts, `weir run` can build: pipelines whose values are replaced by
// values of other kinds (sizes, types, formats, delimiters, enum entries, ...) are either
// refused by the compile, or every query's chain builds from the plan and takes records. Every
// single replacement in the pipelines of this file, then random multiple ones in the examples
// and the valid corpus too.
class mutations {
  public:
    // The offsets and ends of the values after "key: " that are scalars.
    static std::vector<std::pair<std::size_t, std::size_t>> spots(const std::string& text) {
        std::vector<std::pair<std::size_t, std::size_t>> out;
        for (std::size_t at = text.find(": "); at != std::string::npos;
             at = text.find(": ", at + 1)) {
            const std::size_t b = at + 2;
            std::size_t e = b;
            if (b < text.size() && (text[b] == '"' || text[b] == '\'')) {
                e = text.find(text[b], b + 1);  // a quoted scalar, commas and all
                if (e == std::string::npos || text.find('\n', b) < e) continue;
                ++e;
            } else {
                while (e < text.size() && text[e] != '\n' && text[e] != ',' && text[e] != '}') {
                    ++e;
                }
            }
            if (e > b && text[b] != '{' && text[b] != '[') out.emplace_back(b, e);
        }
        return out;
    }

    static const std::vector<std::string>& values() {
        static const std::vector<std::string> v = {
            "0",       "-1",        "1",         "1s",      "0s",      "1ms",     "25h",
            "abc",     "'\"'",      "','",       "tab",     "csv",     "json",    "true",
            "false",   "1e9",       "[a, 1]",    "[1, 2]",  "{}",      "integer", "string",
            "number",  "boolean",   "timestamp", "sliding", "session", "epoch_s", "epoch_ns",
            "'%Y %m'", "keep",      "fail",      "drop",    "changes", "'> 1'",   "'in {1, 2}'",
            "'a.b'",   "'count()'", "'x + 1'",   "5%",      "100000",  "null",    "[NA, '']"};
        return v;
    }

    // Loads `text`; when it compiles, builds and feeds every query's chain. False when the
    // compile accepted what the build refused.
    bool check(const std::string& text, std::uint32_t seed, std::string& refusal) {
        const auto r = config::load_text(text, "m.yaml", registry(),
                                         [](const std::string&) { return std::nullopt; });
        if (r.diags.has_errors() || r.config.pipelines.empty()) return true;
        const auto& p = r.config.pipelines[0].plan;
        if (!p) {
            refusal = "no errors, yet no plan";
            return false;
        }
        for (const auto& q : p->queries) {
            capture_sink sink(*q.chain);
            std::vector<std::vector<std::string>> sources(q.chain->inputs.size(), {""});
            try {
                chain::node_chain chain(q.chain, sink, sources, k_now);
                for (std::size_t i = 0; i < q.chain->inputs.size(); ++i) {
                    padded_buffer b;
                    b.append(q.chain->inputs[i].decode.format == chain::record_format::csv
                                 ? csv_records(seed, 20)
                                 : json_records(seed, 20));
                    chain.deliver(i, "", record_delivery{b.view(), {}, {}}, k_now);
                    chain.end_input(i, k_now);
                }
                chain.finish(k_now);
                ++built;
            } catch (const std::exception& e) {
                refusal = e.what();
                return false;
            }
        }
        return true;
    }

    int built = 0;
};

// Dead letters: every record the node cannot use, whatever the step that refused it, with
// where it was read and why.
const char* const k_dead_letter_pipeline = R"(pipeline: p
inputs:
  in: {type: stdin, format: json}
nodes:
  quality:
    from: in
    dead_letter: letters
    schema:
      fields:
        v: {type: number, min: 0}
    time: {field: ts}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
    outputs: [results]
outputs:
  results: {type: console}
  letters: {type: console}
)";

std::vector<nlohmann::json> letters_of(const capture_sink& sink) {
    std::vector<nlohmann::json> out;
    for (const auto& l : sink.lines) {
        if (l.starts_with("letters ")) out.push_back(nlohmann::json::parse(l.substr(8)));
    }
    return out;
}

TEST(chain_runtime, every_unusable_record_is_a_dead_letter_with_where_and_why) {
    const auto p = compile(k_dead_letter_pipeline);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    const std::vector<std::string> lines = {
        R"({"ts":"2026-11-20T10:00:00Z","v":1})",  // fine
        "not json at all",
        R"({"ts":"2026-11-20T10:00:01Z","v":-1})",  // below min
        R"({"ts":"2026-12-03 10:00:00","v":2})",    // no time zone
        R"({"v":3})",                               // no time at all
    };
    std::string text;
    std::vector<std::int64_t> offsets;
    for (const auto& l : lines) {
        offsets.push_back(1000 + static_cast<std::int64_t>(text.size()));
        text += l + "\n";
    }
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}}, k_now);
    padded_buffer bytes;
    bytes.append(text);
    record_delivery d{bytes.view(), {}, {}};
    d.origin = "/data/a.jsonl";
    d.offset = 1000;
    chain.deliver(0, "", d, k_now);
    chain.finish(k_now);

    const auto letters = letters_of(sink);
    ASSERT_EQ(letters.size(), 4u) << ::testing::PrintToString(sink.lines);
    for (const auto& l : letters) {
        EXPECT_EQ(l["pipeline"], "p");
        EXPECT_EQ(l["node"], "quality");
        EXPECT_EQ(l["input"], "in");
        EXPECT_EQ(l["source"], "/data/a.jsonl");
    }
    // Not JSON: only its text.
    EXPECT_EQ(letters[0]["offset"], offsets[1]);
    EXPECT_EQ(letters[0]["_raw"], "not json at all");
    EXPECT_FALSE(letters[0].contains("record"));
    EXPECT_EQ(letters[0]["reason"]["rule"], "malformed");
    EXPECT_TRUE(letters[0]["reason"]["field"].is_null());
    // A schema violation: the record as it was read.
    EXPECT_EQ(letters[1]["offset"], offsets[2]);
    EXPECT_EQ(letters[1]["record"], nlohmann::json::parse(lines[2]));
    EXPECT_EQ(letters[1]["reason"]["field"], "v");
    EXPECT_EQ(letters[1]["reason"]["rule"], "min");
    EXPECT_EQ(letters[1]["reason"]["message"], "less than min 0");
    // Unreadable event times, with a hint.
    EXPECT_EQ(letters[2]["offset"], offsets[3]);
    EXPECT_EQ(letters[2]["record"], nlohmann::json::parse(lines[3]));
    EXPECT_EQ(letters[2]["reason"]["field"], "ts");
    EXPECT_EQ(letters[2]["reason"]["rule"], "time");
    EXPECT_EQ(letters[2]["reason"]["message"],
              "\"2026-12-03 10:00:00\": no time zone: try format: \"%Y-%m-%d %H:%M:%S\" and "
              "timezone:");
    EXPECT_EQ(letters[3]["offset"], offsets[4]);
    EXPECT_EQ(letters[3]["reason"]["message"], "the field is absent");

    EXPECT_EQ(sink.invalid, 1u);
    EXPECT_EQ(sink.schema_invalid, 1u);
    EXPECT_EQ(sink.bad_time, 2u);
    EXPECT_EQ(chain.stats().bad_time.at(0), 2u);
    EXPECT_EQ(chain.stats().dead_letters.at(0), 4u);
    // The results count only the one usable record.
    bool counted = false;
    for (const auto& l : sink.lines) {
        if (!l.starts_with("results ")) continue;
        EXPECT_EQ(nlohmann::json::parse(l.substr(8))["value"], 1);
        counted = true;
    }
    EXPECT_TRUE(counted);
}

// Whole records with metadata (Kafka messages): each gives its own offset, and the source id
// names the partition.
TEST(chain_runtime, dead_letters_of_messages_carry_their_partition_and_offset) {
    const auto p = compile(k_dead_letter_pipeline);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{}}, k_now);
    padded_buffer bytes;
    std::vector<std::uint32_t> ends;
    std::vector<record_metadata> meta;
    const std::vector<std::string> messages = {R"({"ts":"2026-11-20T10:00:00Z","v":1})", "{oops",
                                               "{\n  \"ts\": 5,\n  \"v\": 1\n}"};
    for (std::size_t i = 0; i < messages.size(); ++i) {
        bytes.append(messages[i]);
        ends.push_back(static_cast<std::uint32_t>(bytes.size()));
        record_metadata m;
        m.partition = 3;
        m.offset = 70 + static_cast<std::int64_t>(i);
        meta.push_back(m);
    }
    chain.deliver(0, "orders/3", record_delivery{bytes.view(), ends, meta}, k_now);
    const auto letters = letters_of(sink);
    ASSERT_EQ(letters.size(), 2u) << ::testing::PrintToString(sink.lines);
    EXPECT_EQ(letters[0]["source"], "orders/3");
    EXPECT_EQ(letters[0]["offset"], 71);
    EXPECT_EQ(letters[0]["_raw"], "{oops");
    EXPECT_EQ(letters[1]["offset"], 72);
    // A record of several lines stays one line, and is the same object.
    EXPECT_EQ(letters[1]["record"], nlohmann::json::parse(messages[2]));
    EXPECT_NE(letters[1]["reason"]["message"].get<std::string>().find("epoch_s"),
              std::string::npos);
    for (const auto& l : sink.lines) EXPECT_EQ(l.find('\n'), std::string::npos) << l;
}

TEST(chain_runtime, csv_rows_that_do_not_parse_are_dead_letters_with_their_offset) {
    std::string yaml = k_dead_letter_pipeline;
    yaml.replace(yaml.find("format: json"), 12, "format: csv");
    yaml.replace(yaml.find("time: {field: ts}"), 17, "time: {field: ts, format: epoch_s}");
    const auto p = compile(yaml);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}}, k_now);
    // The second delivery starts inside a row: its offsets still count from the file's start.
    const std::string first = "ts,v\n1795000000,1\n1795000001,2,extra\n1795000";
    const std::string second = "002,3\n\"open,4\n";
    const auto second_at = static_cast<std::int64_t>(first.size());
    for (const auto& [text, offset] :
         {std::pair<std::string, std::int64_t>{first, 0}, {second, second_at}}) {
        padded_buffer bytes;
        bytes.append(text);
        record_delivery d{bytes.view(), {}, {}};
        d.origin = "/data/b.csv";
        d.offset = offset;
        chain.deliver(0, "", d, k_now);
    }
    chain.end_input(0, k_now);
    const auto letters = letters_of(sink);
    ASSERT_EQ(letters.size(), 2u) << ::testing::PrintToString(sink.lines);
    EXPECT_EQ(letters[0]["_raw"], "1795000001,2,extra");
    EXPECT_EQ(letters[0]["offset"], first.find("1795000001"));
    EXPECT_EQ(letters[0]["reason"]["rule"], "malformed");
    EXPECT_NE(letters[0]["reason"]["message"].get<std::string>().find("2 cells"),
              std::string::npos);
    EXPECT_TRUE(letters[1]["_raw"].get<std::string>().starts_with("\"open,4"));
    EXPECT_EQ(letters[1]["offset"], second_at + static_cast<std::int64_t>(second.find('"')));
    EXPECT_EQ(letters[1]["source"], "/data/b.csv");
}

TEST(chain_runtime, every_plan_that_validates_builds) {
    mutations m;
    std::string refusal;
    std::uint32_t seed = 0;
    for (const std::string text : {k_json_pipeline, k_csv_pipeline, k_two_inputs}) {
        for (const auto& [b, e] : mutations::spots(text)) {
            for (const auto& v : mutations::values()) {
                std::string mutant = text;
                mutant.replace(b, e - b, v);
                ASSERT_TRUE(m.check(mutant, ++seed, refusal))
                    << "validated, but the run-time build refused: " << refusal << "\n"
                    << mutant;
            }
        }
    }
    EXPECT_GT(m.built, 400);

    namespace fs = std::filesystem;
    std::vector<std::string> texts;
    for (const char* dir : {"examples", "tests/configs/valid"}) {
        for (const auto& e : fs::directory_iterator(fs::path(WEIR_SOURCE_DIR) / dir)) {
            if (e.path().extension() != ".yaml" || e.path().filename() == "weir.yaml") continue;
            std::ifstream in(e.path());
            texts.emplace_back(std::istreambuf_iterator<char>(in),
                               std::istreambuf_iterator<char>());
        }
    }
    ASSERT_GE(texts.size(), 5u);
    std::mt19937 rng(2026);
    for (int round = 0; round < 300; ++round) {
        std::string text = texts[rng() % texts.size()];
        for (int k = 2 + static_cast<int>(rng() % 2); k > 0; --k) {
            const auto spots = mutations::spots(text);
            if (spots.empty()) break;
            const auto [b, e] = spots[rng() % spots.size()];
            text.replace(b, e - b, mutations::values()[rng() % mutations::values().size()]);
        }
        ASSERT_TRUE(m.check(text, ++seed, refusal))
            << "validated, but the run-time build refused: " << refusal << "\n"
            << text;
    }
}

// Schema drift through the chain: a stream whose fields change mid-way fails exactly the
// windows that hold the change, names the fields, and a restart from a snapshot taken at any
// record boundary neither learns again nor reports differently.
const char* const k_drift_pipeline = R"(pipeline: p
inputs:
  in: {type: stdin, format: json}
nodes:
  shape:
    from: in
    time: {field: ts, format: rfc3339}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: new, measure: new_fields(), must_be: "== 0"}
      - {name: missing, measure: missing_fields(), must_be: "== 0"}
      - {name: types, measure: type_changes(), must_be: "== 0"}
      - {name: volume, measure: count(), must_be: "> 0"}
    outputs: [results]
outputs:
  results: {type: console}
)";

// Window w (10 s each, from k_now's second on) holds records 4w .. 4w+3. Windows 0-2 are
// steady; window 3 brings a new field `extra` (and so does window 5), window 4 loses `b`,
// window 5 has `a` as a string in one record.
std::string drifting_records() {
    std::ostringstream os;
    for (int w = 0; w < 7; ++w) {
        for (int i = 0; i < 4; ++i) {
            const timestamp_ns t = k_now + (w * 10 + i * 2) * k_s;
            os << "{\"ts\":\"" << time::format_rfc3339_ms(t) << "\"";
            if (w == 5 && i == 2) {
                os << ",\"a\":\"7\"";
            } else {
                os << ",\"a\":" << i;
            }
            if (w != 4) os << ",\"b\":{\"c\":\"x\"}";
            if ((w == 3 && i == 1) || w == 5) os << ",\"extra\":[1]";
            os << "}\n";
        }
    }
    return os.str();
}

TEST(chain_runtime, schema_drift_fails_the_windows_that_drift_and_names_the_fields) {
    const auto p = compile(k_drift_pipeline);
    ASSERT_TRUE(p);
    const std::string text = drifting_records();
    const run_output whole = uninterrupted(p, text, 3);
    // check -> per window: outcome and fields
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> got;
    for (const auto& line : whole.lines) {
        const auto j = nlohmann::json::parse(line.substr(line.find(' ') + 1));
        std::string fields;
        if (j.contains("fields")) {
            for (const auto& f : j["fields"])
                fields += (fields.empty() ? "" : ",") + f.get<std::string>();
        }
        got[j["check"].get<std::string>()].emplace_back(j["outcome"].get<std::string>(), fields);
    }
    using row = std::vector<std::pair<std::string, std::string>>;
    const std::pair<std::string, std::string> ok{"pass", ""};
    EXPECT_EQ(got["new"], (row{ok, ok, ok, {"fail", "extra"}, ok, {"fail", "extra"}, ok}));
    EXPECT_EQ(got["missing"], (row{ok, ok, ok, ok, {"fail", "b,b.c"}, ok, ok}));
    EXPECT_EQ(got["types"], (row{ok, ok, ok, ok, ok, {"fail", "a"}, ok}));
    EXPECT_EQ(got["volume"].size(), 7u);

    const std::size_t n = count_lines(text);
    for (std::size_t k = 0; k <= n; ++k) {
        const run_output cut = restarted(p, text, after_lines(text, k), 200 + k);
        ASSERT_EQ(cut.by_output(), whole.by_output()) << "restart after record " << k;
    }
}

// With a schema, its fields are the expected ones from the first record on; the tracker is
// built only for nodes that measure drift.
TEST(chain_runtime, schema_drift_expects_the_declared_fields) {
    const auto p = compile(R"(pipeline: p
inputs:
  in: {type: stdin, format: json}
nodes:
  shape:
    from: in
    schema:
      fields:
        ts: {type: timestamp, required: true}
        a: {type: number}
        z: {type: string}
    time: {field: ts, format: rfc3339}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: drift, measure: new_fields() + missing_fields(), must_be: "== 0"}
    outputs: [results]
  plain:
    from: in
    time: {field: ts, format: rfc3339}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
    outputs: [results]
outputs:
  results: {type: console}
)");
    ASSERT_TRUE(p);
    ASSERT_EQ(p->queries.size(), 2u);  // a query per node with checks
    const auto& plain = p->queries.at(0).name == "plain" ? p->queries[0] : p->queries[1];
    const auto& shape = p->queries.at(0).name == "plain" ? p->queries[1] : p->queries[0];
    {
        capture_sink sink(*plain.chain);
        chain::node_chain chain(plain.chain, sink, {{""}}, k_now);
        EXPECT_EQ(chain.drift(0), nullptr);
    }
    const auto& plan = shape.chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}}, k_now);
    std::mt19937 rng(1);
    deliver_lines(chain, drifting_records(), rng, 5);
    chain.finish(k_now);
    ASSERT_NE(chain.drift(0), nullptr);
    std::vector<std::string> drift;
    for (const auto& line : sink.lines) {
        const auto j = nlohmann::json::parse(line.substr(line.find(' ') + 1));
        if (j["check"] != "drift") continue;
        std::string fields;
        for (const auto& f : j.value("fields", nlohmann::json::array())) {
            fields += (fields.empty() ? "" : ",") + f.get<std::string>();
        }
        drift.push_back(j["value"].dump() + " " + fields);
    }
    // b and b.c are new in every window that has them, z is missing from every window.
    EXPECT_EQ(drift,
              (std::vector<std::string>{"3 b,b.c,z", "3 b,b.c,z", "3 b,b.c,z", "4 b,b.c,extra,z",
                                        "1 z", "4 b,b.c,extra,z", "3 b,b.c,z"}));
}

// A CSV record's fields are its header's columns, as strings: a steady CSV stream does not
// drift, and the tracker knows its columns.
TEST(chain_runtime, schema_drift_of_csv_records_reads_the_columns) {
    const auto p = compile(R"(pipeline: p
inputs:
  in: {type: stdin, format: csv}
nodes:
  shape:
    from: in
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: drift, measure: new_fields() + missing_fields() + type_changes(), must_be: "== 0"}
    outputs: [results]
outputs:
  results: {type: console}
)");
    ASSERT_TRUE(p);
    std::string text = "ts,host,v\n";
    for (int i = 0; i < 40; ++i) {
        text += std::to_string(1'795'000'000 + i) + ",h" + std::to_string(i % 3) + "," +
                (i % 7 == 0 ? "" : std::to_string(i)) + "\n";
    }
    const auto& plan = p->queries.at(0).chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}}, k_now);
    std::mt19937 rng(4);
    deliver_lines(chain, text, rng, 6);
    chain.end_input(0, k_now);
    chain.finish(k_now);
    const schema::drift_tracker* drift = chain.drift(0);
    ASSERT_NE(drift, nullptr);
    ASSERT_EQ(drift->fields(), 3u);
    EXPECT_EQ(drift->name(0), "ts");
    EXPECT_EQ(drift->name(2), "v");
    EXPECT_EQ(drift->first_type(2), schema::json_type::string);
    std::size_t results = 0;
    for (const auto& line : sink.lines) {
        const auto j = nlohmann::json::parse(line.substr(line.find(' ') + 1));
        EXPECT_EQ(j["value"], 0) << line;
        ++results;
    }
    EXPECT_EQ(results, 4u);
}

}  // namespace
}  // namespace weir::test

namespace weir::test {
namespace {

// Measures over several inputs, through the chain: each delivery's input is told by its
// source ("a/", "b/x"), also for an input of several sources, and after a restore into a chain
// whose sources are listed in another order.
const char* const k_balance = R"yaml(pipeline: p
inputs:
  a: {type: stdin}
  b: {type: tcp, listen: "127.0.0.1:0"}
nodes:
  both:
    from: [a, b]
    time: {field: ts, format: epoch_s}
    window: {type: sliding, size: 20s, slide: 10s, allowed_lateness: 5s}
    checks:
      - {name: gap, measure: "count(a) - count(b)", must_be: "== 0"}
      - {name: amount, measure: "sum(a.v) - sum(b.v)", must_be: "== 0"}
      - {name: all, measure: "count()", must_be: "> 0"}
      - {name: keys, measure: "reconcile(a.id, b.id)", must_be: "== 0"}
    outputs: [results]
outputs:
  results: {type: console}
)yaml";

struct balance_delivery {
    std::size_t input;
    std::string source;
    std::string line;
};

std::vector<balance_delivery> balance_deliveries(std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<balance_delivery> out;
    std::int64_t clock[3] = {100, 100, 100};
    for (int i = 0; i < 120; ++i) {
        const int which = static_cast<int>(rng() % 3);  // a, b/x, b/y
        clock[which] += static_cast<std::int64_t>(rng() % 3);
        const std::int64_t ts = clock[which] - static_cast<std::int64_t>(rng() % 4);
        std::string line = "{\"ts\":" + std::to_string(ts) +
                           ",\"id\":" + std::to_string(rng() % 12) +
                           ",\"v\":" + std::to_string(rng() % 50) + "}\n";
        out.push_back({which == 0 ? 0u : 1u, which == 0 ? "" : which == 1 ? "x" : "y", line});
    }
    return out;
}

std::vector<std::string> run_balance(const std::shared_ptr<const config::compiled_pipeline>& p,
                                     const std::vector<balance_delivery>& deliveries,
                                     std::size_t cut) {
    const auto& plan = p->queries.at(0).chain;
    std::vector<std::string> lines;
    chain::node_chain::sections saved;
    const auto feed = [&](chain::node_chain& chain, std::size_t from, std::size_t to) {
        for (std::size_t i = from; i < to; ++i) {
            padded_buffer b;
            b.append(deliveries[i].line);
            chain.deliver(deliveries[i].input, deliveries[i].source,
                          record_delivery{b.view(), {}, {}}, k_now);
        }
    };
    {
        capture_sink sink(*plan);
        chain::node_chain first(plan, sink, {{""}, {"x", "y"}}, k_now);
        feed(first, 0, cut);
        saved = first.snapshot();
        lines = sink.lines;
    }
    capture_sink sink(*plan);
    chain::node_chain second(plan, sink, {{""}, {"y", "x"}}, k_now);
    std::string error;
    EXPECT_TRUE(second.restore(saved, error)) << error;
    feed(second, cut, deliveries.size());
    second.end_input(0, k_now);
    second.end_input(1, k_now);
    second.finish(k_now);
    lines.insert(lines.end(), sink.lines.begin(), sink.lines.end());
    return lines;
}

TEST(chain_runtime, measures_of_each_input_restore_at_any_delivery) {
    const auto p = compile(k_balance);
    ASSERT_TRUE(p);
    const auto deliveries = balance_deliveries(3);
    const std::vector<std::string> whole = run_balance(p, deliveries, 0);
    // Brute force: the first window, [90 s, 110 s), from the records themselves.
    std::int64_t count[2] = {0, 0};
    std::int64_t sum[2] = {0, 0};
    for (const auto& d : deliveries) {
        const auto j = nlohmann::json::parse(d.line);
        if (j["ts"].get<std::int64_t>() >= 110) continue;
        ++count[d.input];
        sum[d.input] += j["v"].get<std::int64_t>();
    }
    std::map<std::string, double> first_window;
    for (const auto& l : whole) {
        const auto j = nlohmann::json::parse(l.substr(l.find(' ') + 1));
        if (j["window_start"] == time::format_rfc3339_ms(90 * k_s)) {
            first_window[j["check"]] = j["value"].get<double>();
            if (j["check"] == "keys") {
                EXPECT_TRUE(j.contains("reconciliation")) << l;
            }
        }
    }
    ASSERT_EQ(first_window.size(), 4u);
    EXPECT_EQ(first_window["gap"], static_cast<double>(count[0] - count[1]));
    EXPECT_EQ(first_window["amount"], static_cast<double>(sum[0] - sum[1]));
    EXPECT_EQ(first_window["all"], static_cast<double>(count[0] + count[1]));
    for (std::size_t cut = 1; cut <= deliveries.size(); cut += 7) {
        EXPECT_EQ(run_balance(p, deliveries, cut), whole) << "restart after delivery " << cut;
    }
}

}  // namespace
}  // namespace weir::test
