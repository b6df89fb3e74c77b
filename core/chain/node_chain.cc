// The node chain of one managed query; see node_chain.h.
#include "core/chain/node_chain.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "core/checkpoint/byte_codec.h"
#include "core/decode/csv_decoder.h"
#include "core/decode/json_decoder.h"
#include "core/diag/assert.h"
#include "core/measure/measure_value.h"

namespace weir::chain {

namespace {

constexpr std::uint32_t k_no_engine_source = 0xffffffffu;
const std::string k_decoder_section = "decoder/";
const std::string k_engine_section = "engine/";
const std::string k_drift_section = "drift/";
const std::string k_history_section = "history/";
const std::string k_dependency_section = "dependencies/";
const std::string k_ended_section = "ended/";

const std::string k_join_section = "join/";

// A join node's readers know their records by the join's source and side: this number.
std::uint32_t join_source(std::size_t source, join::join_side side) {
    return static_cast<std::uint32_t>(source * 2 + static_cast<std::size_t>(side));
}

join::join_side side_of(const join_plan& j, std::uint32_t from) {
    return from == j.left_from ? join::join_side::left : join::join_side::right;
}

// A record the node works with: valid, or kept despite a schema violation.
bool usable(invalid_reason r) {
    return r == invalid_reason::none || r == invalid_reason::schema_kept;
}

}  // namespace

const char* to_string(record_format f) {
    switch (f) {
        case record_format::json:
            return "json";
        case record_format::csv:
            return "csv";
    }
    return "json";
}

// Records on their way through the chain, with the raw text of each (for late_output, dead
// letters and derived records whose transforms did not reshape them).
struct node_chain::flow {
    record_batch batch;
    std::vector<std::string_view> raw;  // JSON lines, or CSV rows when `csv` is set
    decode::csv_decoder* csv = nullptr;
    // Where the records were read (for dead letters and messages): the input, its source as
    // people name it, and what maps a raw text to its offset there — the bytes the texts point
    // into, the offset of their first byte, and per-record ends and metadata (Kafka offsets).
    std::size_t input = 0;
    std::string_view source;
    const char* base = nullptr;
    std::int64_t base_offset = -1;
    std::span<const std::uint32_t> ends;
    std::span<const record_metadata> metadata;
    std::size_t decode_invalid = 0;  // records the decoder refused (malformed, too_long)
    // Per record, for the dead letters: its schema violation (empty: none), and how many
    // records the event time step refused.
    std::vector<std::uint32_t> verdict;
    std::size_t bad_time = 0;
    bool joined = false;  // the rows of a derived join: `raw` is each row as written

    void reset(std::size_t slots) {
        batch.clear();
        batch.slots = slots;
        raw.clear();
        csv = nullptr;
        input = 0;
        source = {};
        base = nullptr;
        base_offset = -1;
        ends = {};
        metadata = {};
        decode_invalid = 0;
        verdict.clear();
        bad_time = 0;
        joined = false;
    }

    void copy_from(const flow& other) {
        batch.slots = other.batch.slots;
        batch.values = other.batch.values;
        batch.status = other.batch.status;
        raw = other.raw;
        csv = other.csv;
        input = other.input;
        source = other.source;
        base = other.base;
        base_offset = other.base_offset;
        ends = other.ends;
        metadata = other.metadata;
        decode_invalid = other.decode_invalid;
        verdict = other.verdict;
        bad_time = other.bad_time;
        joined = other.joined;
    }

    // Keeps the records for which keep(i) is true, in order; returns how many were dropped.
    template <class Keep>
    std::size_t compact(Keep keep) {
        std::size_t out = 0;
        const std::size_t n = batch.size();
        for (std::size_t i = 0; i < n; ++i) {
            if (!keep(i)) continue;
            if (out != i) {
                std::memmove(batch.values.data() + out * batch.slots,
                             batch.values.data() + i * batch.slots,
                             batch.slots * sizeof(field_value));
                batch.status[out] = batch.status[i];
                raw[out] = raw[i];
                if (!verdict.empty()) verdict[out] = verdict[i];
            }
            ++out;
        }
        const std::size_t dropped = n - out;
        batch.values.resize(out * batch.slots);
        batch.status.resize(out);
        raw.resize(out);
        if (!verdict.empty()) verdict.resize(out);
        return dropped;
    }
};

// A node (or the next step of the chain) that reads an input's or a node's records, and the
// engine source its records arrive on.
struct reader {
    std::uint32_t node = 0;
    std::uint32_t from = 0;  // index into the reader's `from`
};

struct node_chain::input_state {
    const input_plan* plan = nullptr;
    std::unique_ptr<decode::json_decoder> json;
    std::unique_ptr<decode::csv_decoder> csv;
    // A CSV record that spans deliveries (a quoted cell with a newline), kept for the next.
    std::string csv_carry;
    std::string csv_buffer;
    // Where csv_carry was read: its source and the offset of its first byte (-1: unknown).
    std::string carry_origin;
    std::int64_t carry_offset = -1;
    std::vector<reader> readers;
    // The input's live sources; for each, per reader, the engine source its records feed
    // (k_no_engine_source for readers without an engine).
    struct source {
        std::string id;
        std::vector<std::uint32_t> engine_source;
    };
    std::vector<source> sources;
    std::size_t last_source = 0;  // the source of the previous delivery (one lookup less)
    bool ended = false;           // end_when matched: nothing more is taken from it
};

// Per watermark source of a node: what time.max_jump compares with. Not checkpointed: after a
// restore the engine's newest event time stands in for every source.
struct jump_guard {
    time::timestamp_ns newest = window::k_no_time;   // the newest event time accepted
    time::timestamp_ns pending = window::k_no_time;  // the first of the suspicious run
    std::uint32_t agreeing = 0;                      // consecutive suspicious records near it
};

// Consecutive records that agree on a jump past time.max_jump make it real.
constexpr std::uint32_t k_confirming_records = 3;

struct node_chain::node_state {
    std::vector<jump_guard> guards;  // per engine source
    std::unique_ptr<engine::node_engine> engine;
    // Partition-local chains: per engine source, its own engine (the one above only keeps the
    // sources' indices).
    std::vector<std::unique_ptr<engine::node_engine>> locals;
    // Per engine source: the epoch its next local engine takes (0: a random one; see cut()).
    std::vector<std::uint64_t> next_epoch;
    engine::engine_stats let_go;  // what the local engines of sources that went counted
    std::unique_ptr<schema::record_schema> schema;
    std::unique_ptr<schema::drift_tracker> drift;  // nodes with schema-drift measures
    std::unique_ptr<join::stream_join> join;       // nodes with `join:`
    std::vector<reader> readers;                   // nodes reading this node's derived records
    std::vector<std::uint32_t> reader_source;      // per reader: its engine source
    std::vector<window::dependency_monitor> dependencies;  // per node_plan::depends_on
    // Per dependency: the newest event time of its records, late ones included (the engine's
    // watermark sources see only records it takes), so a dependency replaying what is
    // already closed is seen catching up.
    std::vector<time::timestamp_ns> dependency_seen;
    // A derived join: its rows as JSON lines (padded), decoded into their flow for the
    // nodes reading them.
    std::unique_ptr<decode::json_decoder> joined_decoder;
    std::unique_ptr<flow> joined_flow;
    std::string joined_text;
};

std::string node_chain::source_key(std::string_view from, std::string_view source) {
    std::string key(from);
    key += '/';
    key += source;
    return key;
}

node_chain::node_chain(std::shared_ptr<const chain_plan> plan, chain_sink& sink,
                       const std::vector<std::vector<std::string>>& initial_sources,
                       time::timestamp_ns wall_now, chain_options opts)
    : plan_(std::move(plan)),
      sink_(sink),
      partition_local_(opts.partition_local),
      flow_(std::make_unique<flow>()),
      join_flow_(std::make_unique<flow>()) {
    const chain_plan& p = *plan_;
    if (partition_local_ && !partitionable(p)) {
        throw std::invalid_argument("node chain: the plan cannot be kept per partition");
    }
    if (initial_sources.size() != p.inputs.size()) {
        throw std::invalid_argument("node chain: initial sources for " +
                                    std::to_string(initial_sources.size()) +
                                    " inputs, the plan has " + std::to_string(p.inputs.size()));
    }
    for (const auto& in : p.inputs) {
        auto s = std::make_unique<input_state>();
        s->plan = &in;
        if (in.decode.format == record_format::csv) {
            decode::csv_decoder_options csv = in.decode.csv;
            csv.max_record_size = in.decode.max_record_size;
            s->csv = std::make_unique<decode::csv_decoder>(p.fields, csv);
        } else {
            decode::json_decoder_options options;
            options.max_record_size = in.decode.max_record_size;
            options.number_text_slots = p.number_text_slots;
            s->json = std::make_unique<decode::json_decoder>(p.fields, options);
        }
        inputs_.push_back(std::move(s));
    }
    for (std::size_t n = 0; n < p.nodes.size(); ++n) {
        const node_plan& node = p.nodes[n];
        auto s = std::make_unique<node_state>();
        if (node.schema) s->schema = std::make_unique<schema::record_schema>(*node.schema);
        for (const auto& d : node.depends_on) s->dependencies.emplace_back(d.spec, wall_now);
        s->dependency_seen.assign(node.depends_on.size(), window::k_no_time);
        if (node.join && node.join->derived) {
            // Each side's record as one value; the rows decoded like an input's records.
            s->join = std::make_unique<join::stream_join>(node.join->options, 1, 1, wall_now);
            decode::json_decoder_options options;
            for (const auto& in : p.inputs) {
                options.max_record_size =
                    std::max(options.max_record_size, in.decode.max_record_size);
            }
            options.max_record_size = 2 * options.max_record_size + 64;
            options.number_text_slots = p.number_text_slots;
            s->joined_decoder = std::make_unique<decode::json_decoder>(p.fields, options);
            s->joined_flow = std::make_unique<flow>();
        }
        if (node.engine) {
            // Watermark sources: each source of each input the node reads, and each node it
            // reads derived records from, in the order of `from`.
            engine::node_plan ep = *node.engine;
            ep.source_ids.clear();
            if (node.join) {
                // The joined rows: one source, whose event time the join promises.
                ep.source_ids.push_back(source_key(node.name, "join"));
                s->join = std::make_unique<join::stream_join>(
                    node.join->options, node.join->left_fields.size(),
                    node.join->right_fields.size(), wall_now);
            }
            for (const auto& f : node.from) {
                if (node.join) break;
                if (f.type == source_ref::kind::input) {
                    for (const auto& src : initial_sources[f.index]) {
                        ep.source_ids.push_back(source_key(p.inputs[f.index].name, src));
                    }
                } else {
                    ep.source_ids.push_back(source_key(p.nodes[f.index].name, ""));
                }
            }
            // None at all is fine: an input whose sources come later (Kafka partitions)
            // holds nothing back until they do.
            ep.sources = ep.source_ids.size();
            s->engine = std::make_unique<engine::node_engine>(std::move(ep), wall_now);
            if (node.drift_slot) {
                std::vector<std::string> declared;
                if (node.schema) {
                    for (const auto& f : node.schema->fields) declared.push_back(f.name);
                }
                s->drift = std::make_unique<schema::drift_tracker>(declared);
                s->engine->attach_drift(s->drift.get());
            }
        }
        nodes_.push_back(std::move(s));
    }
    // Readers, in node order.
    for (std::uint32_t n = 0; n < p.nodes.size(); ++n) {
        const auto& from = p.nodes[n].from;
        for (std::uint32_t f = 0; f < from.size(); ++f) {
            if (from[f].type == source_ref::kind::input) {
                inputs_[from[f].index]->readers.push_back({n, f});
            } else {
                node_state& up = *nodes_[from[f].index];
                up.readers.push_back({n, f});
                std::uint32_t src = k_no_engine_source;
                if (join::stream_join* j = nodes_[n]->join.get()) {
                    const auto side = side_of(*p.nodes[n].join, f);
                    src = join_source(
                        j->add_source(side, source_key(p.nodes[from[f].index].name, ""), wall_now),
                        side);
                } else if (nodes_[n]->engine) {
                    const auto at = nodes_[n]->engine->watermark_sources().find_source(
                        source_key(p.nodes[from[f].index].name, ""));
                    src = static_cast<std::uint32_t>(at);
                }
                up.reader_source.push_back(src);
            }
        }
    }
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        for (const auto& src : initial_sources[i]) add_source(i, src, wall_now);
    }
    stats_.bad_time.assign(nodes_.size(), 0);
    stats_.future_time.assign(nodes_.size(), 0);
    stats_.dead_letters.assign(nodes_.size(), 0);
    stats_.join_late_left.assign(nodes_.size(), 0);
    stats_.join_late_right.assign(nodes_.size(), 0);
    stats_.join_buffered.assign(nodes_.size(), 0);
    // Results go out while a window closes for many groups, not all at its end.
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        if (!nodes_[n]->engine) continue;
        nodes_[n]->engine->set_result_flush(4096, [this, n](std::vector<check_result>& out) {
            if (&out == &results_) dispatch(n);
        });
    }
}

node_chain::~node_chain() = default;

void node_chain::add_source(std::size_t input, std::string_view source,
                            time::timestamp_ns wall_now) {
    input_state& in = *inputs_[input];
    for (const auto& s : in.sources) {
        if (s.id == source) return;
    }
    input_state::source s;
    s.id = std::string(source);
    const std::string key = source_key(in.plan->name, source);
    for (const auto& r : in.readers) {
        if (join::stream_join* j = nodes_[r.node]->join.get()) {
            const auto side = side_of(*plan_->nodes[r.node].join, r.from);
            std::size_t at = j->find_source(side, key);
            if (at == join::stream_join::npos) at = j->add_source(side, key, wall_now);
            s.engine_source.push_back(join_source(at, side));
            continue;
        }
        engine::node_engine* e = nodes_[r.node]->engine.get();
        if (e == nullptr) {
            s.engine_source.push_back(k_no_engine_source);
            continue;
        }
        std::size_t at = e->watermark_sources().find_source(key);
        if (at == e->watermark_sources().sources()) at = e->add_source(key, wall_now);
        s.engine_source.push_back(static_cast<std::uint32_t>(at));
    }
    in.sources.push_back(std::move(s));
    for (const auto& r : in.readers) refresh_dependencies(r.node, wall_now);
}

void node_chain::remove_source(std::size_t input, std::string_view source, bool hand_over) {
    input_state& in = *inputs_[input];
    for (std::size_t i = 0; i < in.sources.size(); ++i) {
        if (in.sources[i].id != source) continue;
        for (std::size_t r = 0; r < in.readers.size(); ++r) {
            const std::uint32_t es = in.sources[i].engine_source[r];
            node_state& reader = *nodes_[in.readers[r].node];
            if (reader.join) {
                reader.join->remove_source(static_cast<join::join_side>(es % 2), es / 2);
            } else if (es != k_no_engine_source) {
                if (es < reader.locals.size() && reader.locals[es]) {
                    // What the partition's engine holds goes to the merge step first.
                    if (hand_over) reader.locals[es]->hand_over_all();
                    reader.let_go += reader.locals[es]->stats();
                    reader.locals[es].reset();
                }
                reader.engine->remove_source(es);
            }
        }
        in.sources.erase(in.sources.begin() + static_cast<std::ptrdiff_t>(i));
        in.last_source = 0;
        return;
    }
}

void node_chain::set_caught_up(std::size_t input, std::string_view source, bool caught_up) {
    using mode_t = window::watermark_tracker::hold_mode;
    const mode_t want = caught_up ? mode_t::caught_up : mode_t::normal;
    const auto adjustable = [](mode_t m) { return m == mode_t::normal || m == mode_t::caught_up; };
    input_state& in = *inputs_[input];
    for (const auto& src : in.sources) {
        if (src.id != source) continue;
        for (std::size_t r = 0; r < in.readers.size(); ++r) {
            const std::uint32_t es = src.engine_source[r];
            if (es == k_no_engine_source) continue;
            node_state& reader = *nodes_[in.readers[r].node];
            if (reader.join) {
                const auto side = static_cast<join::join_side>(es % 2);
                if (adjustable(reader.join->source_hold(side, es / 2))) {
                    reader.join->set_source_hold(side, es / 2, want);
                }
            } else if (partition_local_) {
                if (reader.engine) local_engine(in.readers[r].node, es).set_caught_up(caught_up);
            } else if (reader.engine && adjustable(reader.engine->source_hold(es))) {
                reader.engine->set_source_hold(es, want);
            }
        }
        return;
    }
}

std::size_t node_chain::find_source(input_state& in, std::string_view source) {
    if (in.last_source < in.sources.size() && in.sources[in.last_source].id == source) {
        return in.last_source;
    }
    for (std::size_t i = 0; i < in.sources.size(); ++i) {
        if (in.sources[i].id == source) return in.last_source = i;
    }
    return in.sources.size();
}

void node_chain::decode(input_state& in, const record_delivery& records, bool end_of_data,
                        flow& f) {
    f.base = records.bytes.data();
    f.base_offset = records.offset;
    f.ends = records.ends;
    f.metadata = records.metadata;
    if (in.csv) {
        f.csv = in.csv.get();
        if (!records.ends.empty()) {
            // Whole records (messages): each one on its own.
            std::uint32_t begin = 0;
            for (const std::uint32_t end : records.ends) {
                const std::string_view record = records.bytes.substr(begin, end - begin);
                begin = end;
                if (in.csv->decode_record(record, f.batch)) f.raw.push_back(record);
            }
            return;
        }
        // The decoder reads past the end (padding), and a record may span deliveries: decode
        // from the carried bytes plus the new ones, keep what is not consumed.
        if (in.csv_carry.empty()) {
            in.carry_offset = records.offset;
            in.carry_origin.assign(records.origin);
        } else if (!end_of_data && records.offset >= 0 && in.carry_offset >= 0 &&
                   records.offset !=
                       in.carry_offset + static_cast<std::int64_t>(in.csv_carry.size())) {
            in.carry_offset = -1;  // not the continuation it follows: offsets unknown
        }
        in.csv_buffer.assign(in.csv_carry);
        in.csv_buffer.append(records.bytes);
        const std::size_t size = in.csv_buffer.size();
        in.csv_buffer.append(k_record_padding, '\0');
        f.base = in.csv_buffer.data();
        f.base_offset = in.carry_offset;
        const auto result =
            in.csv->decode({in.csv_buffer.data(), size}, f.batch, end_of_data, &f.raw);
        in.csv_carry.assign(in.csv_buffer.data() + result.consumed, size - result.consumed);
        if (in.carry_offset >= 0) in.carry_offset += static_cast<std::int64_t>(result.consumed);
        // The batch's strings and the rows point into csv_buffer, which stays as it is until
        // the next call; the carried rest was copied out above.
        return;
    }
    if (records.ends.empty()) {
        in.json->decode_lines(records.bytes, f.batch, &f.raw);
        return;
    }
    std::uint32_t begin = 0;
    for (const std::uint32_t end : records.ends) {
        const std::string_view record = records.bytes.substr(begin, end - begin);
        begin = end;
        in.json->decode_record(record, f.batch);
        f.raw.push_back(record);
    }
}

void node_chain::deliver(std::size_t input, std::string_view source, const record_delivery& records,
                         time::timestamp_ns wall_now) {
    input_state& in = *inputs_[input];
    if (in.ended) return;  // end_when matched: the input is being stopped
    std::size_t s = find_source(in, source);
    if (s == in.sources.size()) {
        add_source(input, source, wall_now);
        s = find_source(in, source);
    }
    // One flow for every delivery: its vectors keep their capacity (no allocation and page
    // faults per buffer).
    flow& f = *flow_;
    f.reset(plan_->fields.size());
    f.input = input;
    f.source = records.origin.empty() ? std::string_view(in.sources[s].id) : records.origin;
    decode(in, records, false, f);
    const std::size_t marker = find_end_marker(in, f);
    if (marker < f.batch.size()) {
        // The marker and what follows it are not measured: the stream ended before them.
        f.compact([marker](std::size_t i) { return i < marker; });
        accept(input, s, records.bytes.size(), f, wall_now);
        end_stream(input, wall_now);
        return;
    }
    accept(input, s, records.bytes.size(), f, wall_now);
}

void node_chain::end_input(std::size_t input, time::timestamp_ns wall_now) {
    input_state& in = *inputs_[input];
    if (in.ended || !in.csv || in.csv_carry.empty() || in.sources.empty()) return;
    flow f;
    f.reset(plan_->fields.size());
    const std::size_t source = std::min(in.last_source, in.sources.size() - 1);
    f.input = input;
    record_delivery rest;
    rest.origin = in.carry_origin;
    rest.offset = in.carry_offset;
    f.source = rest.origin.empty() ? std::string_view(in.sources[source].id) : rest.origin;
    decode(in, rest, true, f);
    const std::size_t marker = find_end_marker(in, f);
    const bool ends = marker < f.batch.size();
    if (ends) f.compact([marker](std::size_t i) { return i < marker; });
    accept(input, source, 0, f, wall_now);
    if (ends) end_stream(input, wall_now);
}

void node_chain::accept(std::size_t input, std::size_t source, std::size_t bytes, flow& f,
                        time::timestamp_ns wall_now) {
    stopped_ = false;
    std::size_t invalid = 0;
    std::size_t first = f.batch.size();
    for (std::size_t i = 0; i < f.batch.size(); ++i) {
        if (f.batch.status[i] == invalid_reason::none) continue;
        if (invalid++ == 0) first = i;
    }
    f.decode_invalid = invalid;
    stats_.records += f.batch.size();
    bool go_on = true;
    if (invalid > 0) {
        const record_problem problem = decode_problem(f, first);
        go_on = sink_.on_decoded(input, f.batch.size(), bytes, invalid, &problem);
    } else {
        go_on = sink_.on_decoded(input, f.batch.size(), bytes, 0, nullptr);
    }
    if (!go_on) {
        stopped_ = true;
        return;
    }
    input_state& in = *inputs_[input];
    WEIR_ASSERT(source < in.sources.size(), "a delivery of a source the chain does not know");
    const auto& readers = in.readers;
    const auto& engine_source = in.sources[source].engine_source;
    for (std::size_t r = 0; r < readers.size() && !stopped_; ++r) {
        if (r + 1 == readers.size()) {
            run_node(readers[r].node, engine_source[r], f, wall_now, true);
        } else {
            flow copy;  // another reader transforms its own copy
            copy.copy_from(f);
            run_node(readers[r].node, engine_source[r], copy, wall_now, true);
        }
    }
}

void node_chain::run_node(std::size_t index, std::uint32_t engine_source, flow& f,
                          time::timestamp_ns wall_now, bool from_input) {
    const node_plan& node = plan_->nodes[index];
    node_state& state = *nodes_[index];
    scratch_.reset();
    future_.clear();  // another node's

    // Schema.
    if (const schema::record_schema* rules = state.schema.get()) {
        const auto summary = rules->check(f.batch, verdicts_, schema_stats_);
        if (summary.invalid > 0) {
            std::size_t first_bad = 0;
            while (!verdicts_.invalid(first_bad)) ++first_bad;
            const record_problem first =
                schema_problem(index, f, first_bad, verdicts_.first[first_bad]);
            if (node.schema->on_invalid == schema::invalid_action::fail) {
                stopped_ = true;
                std::string where;
                if (!first.source.empty()) where = " in " + std::string(first.source);
                if (first.offset >= 0) where += " at offset " + std::to_string(first.offset);
                sink_.on_failure("node \"" + node.name + "\": a record of input \"" +
                                 plan_->inputs[first.input].name + "\"" + where +
                                 " violates the schema (" + std::string(first.field) + ": " +
                                 first.message + "); schema.on_invalid is fail");
                return;
            }
            // The violations travel with their records to the dead letters (written in record
            // order once the node is through with them).
            if (node.dead_letter) f.verdict = verdicts_.first;
            if (node.schema->on_invalid == schema::invalid_action::keep) {
                for (std::size_t i = 0; i < f.batch.size(); ++i) {
                    if (verdicts_.invalid(i)) f.batch.status[i] = invalid_reason::schema_kept;
                }
            }
            if (!sink_.on_rejected(index, summary.invalid, first)) {
                stopped_ = true;
                return;
            }
        }
    }

    // Transforms.
    for (const auto& t : node.transforms) {
        if (t.type == transform_plan::kind::filter) {
            // Invalid records pass untouched: invalid_count() must still see them.
            stats_.filtered += f.compact([&](std::size_t i) {
                return !usable(f.batch.status[i]) || t.filter->test(f.batch.record(i), scratch_);
            });
            continue;
        }
        for (std::size_t i = 0; i < f.batch.size(); ++i) {
            if (!usable(f.batch.status[i])) continue;
            auto record = f.batch.record(i);
            for (const auto& [slot, program] : t.assignments) {
                field_value v = program->evaluate(record, scratch_);
                if (v.is_string()) v = field_value::make_string(f.batch.strings.copy(v.string()));
                record[slot] = v;
            }
        }
    }

    if (sink_.tapping(index)) {
        std::size_t i = 0;
        while (i < f.batch.size()) {
            const bool use = usable(f.batch.status[i]);
            ++i;
            // A join node's visible fields are the joined ones: its sides' records as read.
            if (use &&
                !sink_.tap_record(index, record_json(node, f, i - 1, node.join.has_value()))) {
                break;
            }
        }
        std::size_t skipped = 0;
        for (; i < f.batch.size(); ++i) skipped += usable(f.batch.status[i]) ? 1 : 0;
        if (skipped > 0) sink_.tap_skipped(index, skipped);
    }

    if (state.join) {
        join_step(index, engine_source, f, wall_now, from_input);
        return;
    }

    engine::node_engine* e = state.engine.get();
    if (e != nullptr && partition_local_) e = &local_engine(index, engine_source);
    if (e == nullptr) {
        write_dead_letters(index, f, from_input);
        f.verdict.clear();  // this node's: the nodes reading on have their own
        route_derived(index, f, wall_now);
        return;
    }

    // Event time, then the engine.
    if (!read_event_times(index, f, engine_source, wall_now)) {
        stopped_ = true;
        return;
    }
    write_dead_letters(index, f, from_input);
    if (state.drift) observe_drift(index, f, wall_now);
    observe_dependencies(index, f, from_input, wall_now);
    late_.clear();
    const bool want_late = node.late_output.has_value();
    e->process(f.batch, times_, wall_now, results_, want_late ? &late_ : nullptr,
               partition_local_ ? 0 : engine_source);
    if (want_late && !late_.empty() && sink_.admit(index, *node.late_output, late_.size())) {
        for (auto i : late_) sink_.write_record(*node.late_output, record_json(node, f, i));
    }
    dispatch(index);
}

namespace {

// Whether event time `t` is a suspicious jump past the source's newest (see read_event_times).
bool suspicious(jump_guard& g, time::timestamp_ns t, time::timestamp_ns wall_now,
                time::timestamp_ns max_jump) {
    if (g.newest == window::k_no_time || t <= g.newest + max_jump ||
        (t >= wall_now - max_jump && t <= wall_now + max_jump)) {
        g.agreeing = 0;
        return false;
    }
    if (g.agreeing > 0 && t >= g.pending - max_jump && t <= g.pending + max_jump) {
        ++g.agreeing;
    } else {
        g.pending = t;
        g.agreeing = 1;
    }
    if (g.agreeing < k_confirming_records) return true;
    g.agreeing = 0;
    return false;
}

}  // namespace

bool node_chain::read_event_times(std::size_t index, flow& f, std::uint32_t engine_source,
                                  time::timestamp_ns wall_now) {
    const node_plan& node = plan_->nodes[index];
    times_.clear();
    future_.clear();
    f.bad_time = 0;
    if (!node.time) return true;
    times_.reserve(f.batch.size());
    future_.assign(f.batch.size(), 0);
    jump_guard* guard = nullptr;
    node_state& state = *nodes_[index];
    const time::timestamp_ns max_jump = node.time->max_jump;
    if (max_jump > 0 && state.engine) {
        if (state.guards.size() <= engine_source) state.guards.resize(engine_source + 1);
        guard = &state.guards[engine_source];
        if (guard->newest == window::k_no_time) {
            guard->newest = state.engine->watermark_sources().max_event_time();
        }
    }
    std::size_t first_bad = 0;
    std::size_t future = 0;
    std::size_t first_future = 0;
    for (std::size_t i = 0; i < f.batch.size(); ++i) {
        time::timestamp_ns t = window::k_no_time;
        if (usable(f.batch.status[i]) &&
            !node.time->parser.parse(f.batch.record(i)[node.time->read_slot], t)) {
            t = window::k_no_time;
            // Dropped, and said so: counted, reported and dead-lettered.
            f.batch.status[i] = invalid_reason::bad_time;
            if (f.bad_time++ == 0) first_bad = i;
        } else if (guard != nullptr && t != window::k_no_time && usable(f.batch.status[i])) {
            if (suspicious(*guard, t, wall_now, max_jump)) {
                // Dropped like an unreadable time, and reported as a jump.
                t = window::k_no_time;
                f.batch.status[i] = invalid_reason::bad_time;
                future_[i] = 1;
                if (future++ == 0) first_future = i;
            } else if (t > guard->newest || guard->newest == window::k_no_time) {
                guard->newest = t;
            }
        }
        times_.push_back(t);
    }
    const std::size_t unreadable = f.bad_time;
    f.bad_time += future;
    if (future > 0) {
        stats_.future_time[index] += future;
        if (!sink_.on_rejected(index, future, time_problem(index, f, first_future))) {
            return false;
        }
    }
    if (unreadable == 0) return true;
    stats_.bad_time[index] += unreadable;
    return sink_.on_rejected(index, unreadable, time_problem(index, f, first_bad));
}

void node_chain::write_dead_letters(std::size_t index, const flow& f, bool from_input) {
    const node_plan& node = plan_->nodes[index];
    const bool decoded_badly = from_input && f.decode_invalid > 0;
    if (!node.dead_letter || (!decoded_badly && f.verdict.empty() && f.bad_time == 0)) return;
    // One dead letter per record, for the first step that refused it, in record order (so the
    // letters do not depend on how deliveries cut the stream).
    enum class kind { none, decode, schema, time };
    auto kind_of = [&](std::size_t i) {
        const invalid_reason r = f.batch.status[i];
        if (decoded_badly && (r == invalid_reason::malformed || r == invalid_reason::too_long)) {
            return kind::decode;
        }
        if (!f.verdict.empty() && f.verdict[i] != schema::k_no_violation) return kind::schema;
        if (r == invalid_reason::bad_time) return kind::time;
        return kind::none;
    };
    std::size_t count = 0;
    for (std::size_t i = 0; i < f.batch.size(); ++i) count += kind_of(i) != kind::none;
    if (count == 0 || !sink_.admit(index, *node.dead_letter, count)) return;
    for (std::size_t i = 0; i < f.batch.size(); ++i) {
        switch (kind_of(i)) {
            case kind::decode:
                write_dead_letter(index, f, i, decode_problem(f, i), false);
                break;
            case kind::schema:
                write_dead_letter(index, f, i, schema_problem(index, f, i, f.verdict[i]), true);
                break;
            case kind::time:
                write_dead_letter(index, f, i, time_problem(index, f, i), true);
                break;
            case kind::none:
                break;
        }
    }
}

record_problem node_chain::schema_problem(std::size_t index, const flow& f, std::size_t i,
                                          std::uint32_t code) const {
    const schema::record_schema& rules = *nodes_[index]->schema;
    record_problem p = locate(f, i);
    p.reason = invalid_reason::schema;
    p.field = rules.fields()[schema::violation_field(code)].name;
    p.rule = schema::to_string(schema::violation_rule(code));
    // The reason names the field first: the field is said apart here.
    std::string_view text = rules.reason(code);
    if (text.starts_with(p.field) && text.substr(p.field.size()).starts_with(": ")) {
        text.remove_prefix(p.field.size() + 2);
    }
    p.message = std::string(text);
    return p;
}

record_problem node_chain::time_problem(std::size_t index, const flow& f, std::size_t i) const {
    const event_time_plan& time = *plan_->nodes[index].time;
    record_problem p = locate(f, i);
    p.reason = invalid_reason::bad_time;
    p.field = time.field;
    if (i < future_.size() && future_[i] != 0) {
        p.rule = "future_time";
        p.message = "more than time.max_jump (" + std::to_string(time.max_jump / 1'000'000'000) +
                    " s) after the newest event time of its source";
        return p;
    }
    p.rule = "time";
    p.message = time.parser.explain(f.batch.record(i)[time.read_slot]);
    return p;
}

record_problem node_chain::locate(const flow& f, std::size_t i) const {
    record_problem p;
    p.input = f.input;
    p.source = f.source;
    const std::string_view raw = f.raw[i];
    if (raw.empty() || f.base == nullptr || raw.data() < f.base) return p;
    const auto at = static_cast<std::int64_t>(raw.data() - f.base);
    if (!f.metadata.empty()) {
        // Whole records: the record whose bytes hold `at` gives its own offset.
        const auto end =
            std::upper_bound(f.ends.begin(), f.ends.end(), static_cast<std::uint32_t>(at));
        const auto k = static_cast<std::size_t>(end - f.ends.begin());
        if (k < f.metadata.size() && f.metadata[k].offset >= 0) {
            p.offset = f.metadata[k].offset;
            return p;
        }
    }
    if (f.base_offset >= 0) p.offset = f.base_offset + at;
    return p;
}

record_problem node_chain::decode_problem(const flow& f, std::size_t i) const {
    record_problem p = locate(f, i);
    p.reason = f.batch.status[i];
    p.rule = to_string(p.reason);
    const chain_plan& plan = *plan_;
    if (p.reason == invalid_reason::too_long) {
        p.message = "longer than the input's max_record_size (" +
                    std::to_string(plan.inputs[f.input].decode.max_record_size) + " bytes)";
    } else if (f.csv != nullptr) {
        const std::size_t columns = f.csv->columns().size();
        p.message = columns == 0 ? "not a CSV row"
                                 : "not a CSV row of " + std::to_string(columns) +
                                       " cells (as the header's columns), or a quote out of place";
    } else {
        p.message = "not a JSON object on one line";
    }
    return p;
}

void node_chain::write_dead_letter(std::size_t index, const flow& f, std::size_t i,
                                   const record_problem& problem, bool structured) {
    const node_plan& node = plan_->nodes[index];
    std::string& out = dead_letter_json_;
    out.clear();
    out += "{\"pipeline\":";
    append_json_string(plan_->pipeline, out);
    out += ",\"node\":";
    append_json_string(node.name, out);
    out += ",\"input\":";
    append_json_string(plan_->inputs[problem.input].name, out);
    out += ",\"source\":";
    append_json_string(problem.source, out);
    out += ",\"offset\":";
    out += problem.offset >= 0 ? std::to_string(problem.offset) : std::string("null");
    out += ",\"reason\":{\"field\":";
    if (problem.field.empty()) {
        out += "null";
    } else {
        append_json_string(problem.field, out);
    }
    out += ",\"rule\":";
    append_json_string(problem.rule, out);
    out += ",\"message\":";
    append_json_string(problem.message, out);
    out += '}';
    const std::string_view record = structured ? record_json(node, f, i, true) : std::string_view();
    if (structured && record.starts_with('{') && !record.starts_with("{\"_raw\":")) {
        out += ",\"record\":";
        const std::size_t at = out.size();
        out += record;
        // A record of several lines (a pretty-printed message): a line end outside a string is
        // only space, and a dead letter is one line.
        std::replace_if(
            out.begin() + static_cast<std::ptrdiff_t>(at), out.end(),
            [](char c) { return c == '\n' || c == '\r'; }, ' ');
    } else {
        out += ",\"_raw\":";
        append_json_string(f.raw[i], out);
    }
    out += '}';
    ++stats_.dead_letters[index];
    sink_.write_record(*node.dead_letter, out);
}

void node_chain::join_step(std::size_t index, std::uint32_t reader_source, flow& f,
                           time::timestamp_ns wall_now, bool from_input) {
    const node_plan& node = plan_->nodes[index];
    const join_plan& plan = *node.join;
    join::stream_join& j = *nodes_[index]->join;
    // Each side's event time, read before the join (the guard of time.max_jump per side and
    // source).
    if (!read_event_times(index, f, reader_source, wall_now)) {
        stopped_ = true;
        return;
    }
    write_dead_letters(index, f, from_input);
    observe_dependencies(index, f, from_input, wall_now);
    const auto side = static_cast<join::join_side>(reader_source % 2);
    const std::size_t source = reader_source / 2;
    const bool left = side == join::join_side::left;
    const expr::program& key = left ? *plan.left_key : *plan.right_key;
    const auto& fields = left ? plan.left_fields : plan.right_fields;
    join_values_.resize(plan.derived ? 1 : fields.size());
    const bool want_late = node.late_output.has_value();
    late_.clear();
    // The keys first, so each record's place in the join's key table is fetched a few
    // records ahead of its add() (the table is probed at random and larger than the cache).
    join_keys_.clear();
    for (std::size_t i = 0; i < f.batch.size(); ++i) {
        if (!usable(f.batch.status[i]) || times_[i] == window::k_no_time) continue;
        if (join_keys_.size() == join_key_text_.size()) join_key_text_.emplace_back();
        std::string& text = join_key_text_[join_keys_.size()];
        const bool has_key = join::encode_key(key.evaluate(f.batch.record(i), scratch_), text);
        join_keys_.push_back({static_cast<std::uint32_t>(i), has_key,
                              has_key ? join::stream_join::hash_key(text) : 0});
    }
    scratch_.reset();
    constexpr std::size_t k_slot_ahead = 8, k_entry_ahead = 4;
    for (std::size_t n = 0; n < join_keys_.size(); ++n) {
        if (n + k_slot_ahead < join_keys_.size() && join_keys_[n + k_slot_ahead].has_key) {
            j.prefetch_key(join_keys_[n + k_slot_ahead].hash, false);
        }
        if (n + k_entry_ahead < join_keys_.size() && join_keys_[n + k_entry_ahead].has_key) {
            j.prefetch_key(join_keys_[n + k_entry_ahead].hash, true);
        }
        const batch_key& k = join_keys_[n];
        const std::size_t i = k.record;
        const auto record = f.batch.record(i);
        for (std::size_t c = 0; c < fields.size(); ++c) join_values_[c] = record[fields[c].first];
        // A derived join keeps the record as the node's transforms left it (the join copies
        // the text before the next one is written).
        if (plan.derived) join_values_[0] = field_value::make_string(record_json(node, f, i));
        if (!j.add(side, source, times_[i], k.has_key ? &join_key_text_[n] : nullptr, k.hash,
                   join_values_, wall_now) &&
            want_late) {
            late_.push_back(static_cast<std::uint32_t>(i));
        }
    }
    // Late records as they were read (the node's visible fields are the joined ones).
    if (!late_.empty() && sink_.admit(index, *node.late_output, late_.size())) {
        for (const auto i : late_) {
            sink_.write_record(*node.late_output, record_json(node, f, i, true));
        }
    }
    emit_joined(index, wall_now);
}

void node_chain::emit_joined(std::size_t index, time::timestamp_ns wall_now) {
    const node_plan& node = plan_->nodes[index];
    const join_plan& plan = *node.join;
    node_state& state = *nodes_[index];
    join::stream_join& j = *state.join;
    if (plan.derived) {
        emit_derived_join(index, wall_now);
        return;
    }
    engine::node_engine& e = *state.engine;
    if (j.rows() > 0) {
        flow& f = *join_flow_;
        f.reset(plan_->fields.size());
        times_.clear();
        for (std::size_t i = 0; i < j.rows(); ++i) {
            const join::joined_row row = j.row(i);
            const auto record = f.batch.record(f.batch.add_record());
            // The other side of an unmatched row stays absent (null in the measures).
            for (std::size_t k = 0; k < row.left.size(); ++k) {
                record[plan.left_fields[k].second] = row.left[k];
            }
            for (std::size_t k = 0; k < row.right.size(); ++k) {
                record[plan.right_fields[k].second] = row.right[k];
            }
            f.raw.emplace_back();
            times_.push_back(row.time);
        }
        if (state.drift) observe_drift(index, f, wall_now);
        e.process(f.batch, times_, wall_now, results_, nullptr, 0);
        j.clear_rows();
    }
    // Every row before the frontier is out: the engine's watermark follows it.
    // (Once the join finished, the engine's finish() closes what is open.)
    if (const time::timestamp_ns frontier = j.frontier();
        frontier != window::k_no_time &&
        frontier != std::numeric_limits<time::timestamp_ns>::max()) {
        e.promise(0, frontier, wall_now, results_);
    }
    stats_.join_late_left[index] = j.late(join::join_side::left);
    stats_.join_late_right[index] = j.late(join::join_side::right);
    stats_.join_buffered[index] = j.buffered() + j.held_rows();
    dispatch(index);
}

void node_chain::emit_derived_join(std::size_t index, time::timestamp_ns wall_now) {
    const node_plan& node = plan_->nodes[index];
    const join_plan& plan = *node.join;
    node_state& state = *nodes_[index];
    join::stream_join& j = *state.join;
    stats_.join_late_left[index] = j.late(join::join_side::left);
    stats_.join_late_right[index] = j.late(join::join_side::right);
    stats_.join_buffered[index] = j.buffered() + j.held_rows();
    if (j.rows() == 0) return;
    // Each row: {"<left>": <its record>, "<right>": <its record>}, the missing side absent.
    std::string& text = state.joined_text;
    text.clear();
    for (std::size_t i = 0; i < j.rows(); ++i) {
        const join::joined_row row = j.row(i);
        text += '{';
        if (row.has_left && !row.left.empty() && row.left[0].is_string()) {
            append_json_string(plan.left_name, text);
            text += ':';
            text += row.left[0].string();
        }
        if (row.has_right && !row.right.empty() && row.right[0].is_string()) {
            if (text.back() != '{') text += ',';
            append_json_string(plan.right_name, text);
            text += ':';
            text += row.right[0].string();
        }
        text += "}\n";
    }
    j.clear_rows();
    const std::size_t size = text.size();
    text.append(decode::json_decoder::padding(), '\0');
    flow& f = *state.joined_flow;
    f.reset(plan_->fields.size());
    f.joined = true;
    state.joined_decoder->decode_lines(std::string_view(text.data(), size), f.batch, &f.raw);
    route_derived(index, f, wall_now);
}

void node_chain::route_derived(std::size_t index, flow& f, time::timestamp_ns wall_now) {
    // A derived stream: to its outputs, then to the nodes that read it.
    const node_plan& node = plan_->nodes[index];
    for (const output_index o : node.outputs) {
        if (!sink_.admit(index, o, f.batch.size())) continue;
        for (std::size_t i = 0; i < f.batch.size(); ++i) {
            if (!usable(f.batch.status[i])) continue;
            sink_.write_record(o, record_json(node, f, i));
        }
    }
    const node_state& state = *nodes_[index];
    for (std::size_t r = 0; r < state.readers.size() && !stopped_; ++r) {
        if (r + 1 == state.readers.size()) {
            run_node(state.readers[r].node, state.reader_source[r], f, wall_now, false);
        } else {
            flow copy;
            copy.copy_from(f);
            run_node(state.readers[r].node, state.reader_source[r], copy, wall_now, false);
        }
    }
}

void node_chain::observe_drift(std::size_t index, flow& f, time::timestamp_ns wall_now) {
    const node_plan& node = plan_->nodes[index];
    schema::drift_tracker& tracker = *nodes_[index]->drift;
    const std::uint32_t slot = *node.drift_slot;
    for (std::size_t i = 0; i < f.batch.size(); ++i) {
        if (!usable(f.batch.status[i])) continue;
        const time::timestamp_ns t = times_.empty() ? wall_now : times_[i];
        if (t == window::k_no_time) continue;
        if (!tracker.declared() && !tracker.learning_started()) {
            // The learning period: the window of `size` that starts at the last window start
            // at or before the first record (a session: the first record's gap).
            const window::window_spec& w = node.engine->window;
            tracker.start_learning(w.kind == window::window_kind::session
                                       ? t + w.gap
                                       : window::last_window_end(t, w.size, w.step()));
        }
        // The record as read: a JSON line (padded, in the delivery's bytes), or a CSV row as
        // a JSON object of its columns (in a buffer of ours, without padding).
        const std::string_view text = record_json(node, f, i, true);
        const bool padded = f.csv == nullptr && text.data() == f.raw[i].data();
        const std::string_view fields = tracker.observe(text, t, padded);
        f.batch.record(i)[slot] = field_value::make_string(f.batch.strings.copy(fields));
    }
}

const schema::drift_tracker* node_chain::drift(std::size_t node) const {
    return nodes_[node]->drift.get();
}

void node_chain::dispatch(std::size_t index) {
    if (results_.empty()) return;
    // Windows closed while a dependency is down were evaluated without its data: say so.
    // A window that ends at or before the dependency's newest event time had its data: not
    // flagged.
    const auto& dependencies = nodes_[index]->dependencies;
    for (std::size_t k = 0; k < dependencies.size(); ++k) {
        if (!dependencies[k].flags_results()) continue;
        const time::timestamp_ns reached = observe_dependency(index, k).dependency_time;
        for (auto& r : results_) {
            if (reached == window::k_no_time || reached < r.window_end) {
                r.dependency_down.push_back(dependencies[k].spec().input);
            }
        }
    }
    sink_.on_results(index, results_);
    for (const output_index o : plan_->nodes[index].outputs) {
        if (!sink_.admit(index, o, results_.size())) continue;
        for (const auto& r : results_) sink_.write_result(o, r);
        sink_.end_of_results(o);
    }
    results_.clear();
}

std::string_view node_chain::record_json(const node_plan& node, const flow& f, std::size_t i,
                                         bool as_read) {
    const bool raw = (as_read || f.joined || !node.transforms_reshape) && !f.raw[i].empty();
    if (raw && f.csv == nullptr) return f.raw[i];
    if (raw) {
        // A CSV row: every column, as text (a schema's types apply to the fields it names).
        csv_cells_.clear();
        if (f.csv->row_cells(f.raw[i], csv_cells_, csv_strings_)) {
            record_json_.clear();
            record_json_ += '{';
            for (std::size_t c = 0; c < csv_cells_.size(); ++c) {
                if (c > 0) record_json_ += ',';
                append_json_string(csv_cells_[c].first, record_json_);
                record_json_ += ':';
                const field_value& v = csv_cells_[c].second;
                if (v.kind == value_kind::null) {
                    record_json_ += "null";
                } else {
                    append_json_string(v.string(), record_json_);
                }
            }
            record_json_ += '}';
            csv_strings_.reset();
            return record_json_;
        }
        if (as_read) {
            // Malformed: its text, as a JSON string, so nothing is lost in the dead letters.
            record_json_.clear();
            record_json_ += "{\"_raw\":";
            append_json_string(f.raw[i], record_json_);
            record_json_ += '}';
            return record_json_;
        }
    }
    record_json_.clear();
    record_json_ += '{';
    const auto record = f.batch.record(i);
    bool first = true;
    for (const auto& [name, slot] : node.visible) {
        const field_value& v = record[slot];
        if (v.kind == value_kind::absent || v.kind == value_kind::other) continue;
        if (!first) record_json_ += ',';
        first = false;
        append_json_string(name, record_json_);
        record_json_ += ':';
        switch (v.kind) {
            case value_kind::null:
                record_json_ += "null";
                break;
            case value_kind::boolean:
                record_json_ += v.boolean ? "true" : "false";
                break;
            case value_kind::number:
                append_json_value(measure_value::make_number(v.number), record_json_);
                break;
            default:
                append_json_string(v.string(), record_json_);
                break;
        }
    }
    record_json_ += '}';
    return record_json_;
}

void node_chain::advance(time::timestamp_ns wall_now) {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        if (nodes_[n]->join) {
            // Idle sides stop holding the join back: unmatched rows come out when data stops
            // (a dependency holds it as depends_on says).
            refresh_dependencies(n, wall_now);
            nodes_[n]->join->advance(wall_now);
            emit_joined(n, wall_now);
        }
        if (!nodes_[n]->engine) continue;
        refresh_dependencies(n, wall_now);
        nodes_[n]->engine->advance(wall_now, results_);
        dispatch(n);
    }
}

void node_chain::finish(time::timestamp_ns wall_now) {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        node_state& st = *nodes_[n];
        if (st.engine) {
            refresh_dependencies(n, wall_now);
            // A dependency still behind will not catch up now: the windows closed here (a
            // join's rows included) are evaluated without its data, and flagged (a hold never
            // loses them).
            for (std::size_t k = 0; k < st.dependencies.size(); ++k) {
                window::dependency_monitor& d = st.dependencies[k];
                const window::dependency_state before = d.state();
                d.finish(observe_dependency(n, k), wall_now);
                if (d.state() != before) sink_.on_dependency(n, k, before);
            }
        }
        if (st.join) {
            st.join->finish();
            emit_joined(n, wall_now);
        }
        if (!st.engine) continue;
        for (auto& local : st.locals) {
            if (local) local->finish(wall_now, results_);
        }
        st.engine->finish(wall_now, results_);
        dispatch(n);
    }
}

bool node_chain::partitionable(const chain_plan& plan) {
    if (plan.nodes.size() != 1) return false;
    const node_plan& node = plan.nodes[0];
    if (!node.engine || !node.time || node.engine->processing_time || node.join ||
        node.late_output || !node.depends_on.empty() || node.drift_slot) {
        return false;
    }
    for (const auto& f : node.from) {
        if (f.type != source_ref::kind::input) return false;
    }
    for (const auto& in : plan.inputs) {
        if (in.end_when || in.decode.format != record_format::json) return false;
    }
    return true;
}

engine::node_engine& node_chain::local_engine(std::size_t node, std::uint32_t source) {
    node_state& st = *nodes_[node];
    if (st.locals.size() <= source) st.locals.resize(source + 1);
    auto& local = st.locals[source];
    if (!local) {
        engine::node_plan ep = *plan_->nodes[node].engine;
        ep.source_ids = {st.engine->watermark_sources().source_id(source)};
        ep.sources = 1;
        local = std::make_unique<engine::node_engine>(std::move(ep), 0);
        local->set_partial_sink(
            [this, node](engine::partial_batch& b) { sink_.on_partials(node, b); });
        if (source < st.next_epoch.size() && st.next_epoch[source] != 0) {
            local->set_epoch(st.next_epoch[source]);
        }
    }
    return *local;
}

void node_chain::absorb(std::size_t node, const engine::partial_batch& batch,
                        time::timestamp_ns wall_now) {
    engine::node_engine* e = nodes_.at(node)->engine.get();
    if (e == nullptr || partition_local_) return;
    e->absorb(batch, wall_now, results_);
    dispatch(node);
}

void node_chain::hand_over_all() {
    for (auto& st : nodes_) {
        for (auto& local : st->locals) {
            if (local) local->hand_over_all();
        }
    }
}

void node_chain::cut(std::size_t input, std::string_view source, std::uint64_t epoch,
                     time::timestamp_ns wall_now) {
    if (!partition_local_) return;
    input_state& in = *inputs_[input];
    std::size_t at = find_source(in, source);
    if (at == in.sources.size()) {
        add_source(input, source, wall_now);
        at = find_source(in, source);
        if (at == in.sources.size()) return;
    }
    for (std::size_t r = 0; r < in.readers.size(); ++r) {
        const std::uint32_t es = in.sources[at].engine_source[r];
        node_state& reader = *nodes_[in.readers[r].node];
        if (es == k_no_engine_source || !reader.engine || reader.join) continue;
        if (es < reader.locals.size() && reader.locals[es]) {
            reader.locals[es]->hand_over_all();
            reader.let_go += reader.locals[es]->stats();
            reader.locals[es].reset();
        }
        if (reader.next_epoch.size() <= es) reader.next_epoch.resize(es + 1, 0);
        reader.next_epoch[es] = epoch;
        if (es < reader.guards.size()) reader.guards[es] = jump_guard{};
    }
}

window::dependency_observation node_chain::observe_dependency(std::size_t node,
                                                              std::size_t k) const {
    const node_state& st = *nodes_[node];
    const window::watermark_tracker& tracker = st.engine->watermark_sources();
    const node_plan::dependency& dp = plan_->nodes[node].depends_on[k];
    const input_state& in = *inputs_[dp.input];
    window::dependency_observation o;
    o.node_time = st.join ? st.join->max_event_time() : tracker.max_event_time();
    o.dependency_time = st.dependency_seen[k];
    o.ended = in.ended;
    o.backlog = dp.input < input_lags_.size() ? input_lags_[dp.input].first : -1;
    for (std::size_t r = 0; r < in.readers.size(); ++r) {
        if (in.readers[r].node != node) continue;
        for (const auto& src : in.sources) {
            const std::uint32_t es = src.engine_source[r];
            if (es == k_no_engine_source) continue;
            if (st.join) {
                // A join node: the source is one of the join's (its side and index).
                const auto side = static_cast<join::join_side>(es % 2);
                o.dependency_time =
                    std::max(o.dependency_time, st.join->source_max_event(side, es / 2));
                o.last_record = std::max(o.last_record, st.join->source_last_active(side, es / 2));
                continue;
            }
            o.dependency_time = std::max(o.dependency_time, tracker.source_max_event(es));
            o.last_record = std::max(o.last_record, tracker.source_last_active(es));
        }
    }
    return o;
}

void node_chain::observe_dependencies(std::size_t index, const flow& f, bool from_input,
                                      time::timestamp_ns wall_now) {
    node_state& state = *nodes_[index];
    if (state.dependencies.empty()) return;
    const node_plan& node = plan_->nodes[index];
    // The newest event time each dependency's input brought (times_: the batch's).
    for (std::size_t k = 0; from_input && k < node.depends_on.size(); ++k) {
        if (node.depends_on[k].input != f.input) continue;
        for (const time::timestamp_ns t : times_) {
            state.dependency_seen[k] = std::max(state.dependency_seen[k], t);
        }
    }
    refresh_dependencies(index, wall_now);
}

void node_chain::refresh_dependencies(std::size_t node, time::timestamp_ns wall_now) {
    node_state& st = *nodes_[node];
    if (st.dependencies.empty() || !st.engine) return;
    for (std::size_t k = 0; k < st.dependencies.size(); ++k) {
        window::dependency_monitor& d = st.dependencies[k];
        const window::dependency_state before = d.state();
        if (d.update(observe_dependency(node, k), wall_now)) sink_.on_dependency(node, k, before);
        const node_plan::dependency& dp = plan_->nodes[node].depends_on[k];
        const input_state& in = *inputs_[dp.input];
        using mode_t = window::watermark_tracker::hold_mode;
        // Held or catching up: its data is still to come, so the windows wait for it even
        // when the rest of the stream is quiet.
        const bool waits = d.state() == window::dependency_state::held ||
                           d.state() == window::dependency_state::catching_up;
        const mode_t mode = in.ended || !d.holds_watermark() ? mode_t::released
                            : waits                          ? mode_t::held
                                                             : mode_t::pinned;
        for (std::size_t r = 0; r < in.readers.size(); ++r) {
            if (in.readers[r].node != node) continue;
            for (const auto& src : in.sources) {
                const std::uint32_t es = src.engine_source[r];
                if (es == k_no_engine_source) continue;
                if (st.join) {
                    // The engine follows the join's frontier: the join's watermark is held.
                    st.join->set_source_hold(static_cast<join::join_side>(es % 2), es / 2, mode);
                } else {
                    st.engine->set_source_hold(es, mode);
                }
            }
        }
    }
}

std::size_t node_chain::find_end_marker(const input_state& in, const flow& f) {
    if (!in.plan->end_when) return f.batch.size();
    scratch_.reset();
    for (std::size_t i = 0; i < f.batch.size(); ++i) {
        if (!usable(f.batch.status[i])) continue;
        if (in.plan->end_when->test(f.batch.record(i), scratch_)) return i;
    }
    return f.batch.size();
}

bool node_chain::source_ended(const source_ref& from) const {
    if (from.type == source_ref::kind::input) return inputs_[from.index]->ended;
    const auto& up = plan_->nodes[from.index].from;
    return std::all_of(up.begin(), up.end(),
                       [this](const source_ref& f) { return source_ended(f); });
}

void node_chain::end_stream(std::size_t input, time::timestamp_ns wall_now) {
    input_state& in = *inputs_[input];
    if (in.ended) return;
    in.ended = true;
    release_ended(wall_now);
    sink_.on_stream_end(input);
}

void node_chain::release_ended(std::optional<time::timestamp_ns> wall_now) {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        engine::node_engine* e = nodes_[n]->engine.get();
        if (e == nullptr) continue;
        const auto& from = plan_->nodes[n].from;
        bool all = true;
        for (std::size_t f = 0; f < from.size(); ++f) {
            if (!source_ended(from[f])) {
                all = false;
                continue;
            }
            // Its sources stop holding the watermark back.
            if (from[f].type == source_ref::kind::input) {
                const input_state& in = *inputs_[from[f].index];
                for (std::size_t r = 0; r < in.readers.size(); ++r) {
                    if (in.readers[r].node != n) continue;
                    for (const auto& src : in.sources) {
                        const std::uint32_t es = src.engine_source[r];
                        if (es == k_no_engine_source) continue;
                        if (join::stream_join* j = nodes_[n]->join.get()) {
                            // A join node's sources are the join's.
                            j->set_source_hold(static_cast<join::join_side>(es % 2), es / 2,
                                               window::watermark_tracker::hold_mode::released);
                        } else {
                            e->set_source_hold(es, window::watermark_tracker::hold_mode::released);
                        }
                    }
                }
            } else {
                const auto at = e->watermark_sources().find_source(
                    source_key(plan_->nodes[from[f].index].name, ""));
                if (at < e->watermark_sources().sources()) {
                    e->set_source_hold(at, window::watermark_tracker::hold_mode::released);
                }
            }
        }
        if (!wall_now) continue;  // a restore: the windows were closed before the checkpoint
        refresh_dependencies(n, *wall_now);
        if (join::stream_join* j = nodes_[n]->join.get()) {
            // The join's rows first: the engine follows its frontier.
            if (all) {
                j->finish();
            } else {
                j->advance(*wall_now);
            }
            emit_joined(n, *wall_now);
        }
        // Every source ended: the node's windows close; else the watermark moves on without
        // the ended ones.
        if (all) {
            e->finish(*wall_now, results_);
        } else {
            e->advance(*wall_now, results_);
        }
        dispatch(n);
    }
}

std::span<const window::dependency_monitor> node_chain::dependencies(std::size_t node) const {
    return nodes_[node]->dependencies;
}

bool node_chain::input_ended(std::size_t input) const {
    return inputs_[input]->ended;
}

std::size_t node_chain::ended_inputs() const {
    std::size_t n = 0;
    for (const auto& in : inputs_) n += in->ended ? 1 : 0;
    return n;
}

const engine::node_engine* node_chain::engine(std::size_t node) const {
    return nodes_[node]->engine.get();
}

engine::engine_stats node_chain::local_stats(std::size_t node) const {
    const node_state& st = *nodes_[node];
    engine::engine_stats sum = st.let_go;
    for (const auto& local : st.locals) {
        if (local) sum += local->stats();
    }
    return sum;
}

node_chain::sections node_chain::snapshot() const {
    snapshot_progress progress;
    while (!snapshot_some(progress, engine::node_engine::slice_budget{})) {
    }
    return progress.join();
}

node_chain::sections node_chain::snapshot_progress::join() {
    sections out;
    out.reserve(done.size());
    for (auto& [name, parts] : done) {
        std::size_t size = 0;
        for (const auto& p : parts) size += p.size();
        std::string whole;
        if (parts.size() == 1) {
            whole = std::move(parts[0]);
        } else {
            whole.reserve(size);
            for (const auto& p : parts) whole += p;
        }
        out.emplace_back(name, std::move(whole));
    }
    done.clear();
    return out;
}

bool node_chain::snapshot_some(snapshot_progress& progress,
                               const engine::node_engine::slice_budget& budget) const {
    if (!progress.decoders_done) {
        progress.decoders_done = true;
        for (const auto& in : inputs_) {
            // A CSV stream resumed mid-file needs the header it began with.
            if (!in->csv) continue;
            if (std::string header = in->csv->header_row(); !header.empty()) {
                progress.done.emplace_back(k_decoder_section + in->plan->name,
                                           std::vector<std::string>{std::move(header)});
            }
        }
        for (std::size_t n = 0; n < nodes_.size(); ++n) {
            if (!nodes_[n]->drift) continue;
            byte_writer w;
            nodes_[n]->drift->snapshot(w);
            progress.done.emplace_back(k_drift_section + plan_->nodes[n].name,
                                       std::vector<std::string>{w.take()});
        }
        // depends_on: each dependency's state (since when it is down, whether its hold ran
        // out), by input name.
        for (std::size_t n = 0; n < nodes_.size(); ++n) {
            const auto& deps = nodes_[n]->dependencies;
            if (deps.empty()) continue;
            byte_writer w;
            w.varint(deps.size());
            for (std::size_t k = 0; k < deps.size(); ++k) {
                w.str(deps[k].spec().input);
                deps[k].serialize(w);
                w.i64(nodes_[n]->dependency_seen[k]);
            }
            progress.done.emplace_back(k_dependency_section + plan_->nodes[n].name,
                                       std::vector<std::string>{w.take()});
        }
        // end_when: the inputs whose stream ended stay ended after a restart.
        for (const auto& in : inputs_) {
            if (in->ended) {
                progress.done.emplace_back(k_ended_section + in->plan->name,
                                           std::vector<std::string>{std::string()});
            }
        }
        for (std::size_t n = 0; n < nodes_.size(); ++n) {
            if (!nodes_[n]->join) continue;
            byte_writer w;
            nodes_[n]->join->snapshot(w);
            progress.done.emplace_back(k_join_section + plan_->nodes[n].name,
                                       std::vector<std::string>{w.take()});
        }
        // Checks against history: written whole, in the first slice (nothing changes between
        // the slices, so it fits the windows written after it).
        for (std::size_t n = 0; n < nodes_.size(); ++n) {
            const engine::node_engine* e = nodes_[n]->engine.get();
            if (e == nullptr || !e->has_history()) continue;
            byte_writer w;
            e->snapshot_history(w);
            progress.done.emplace_back(k_history_section + plan_->nodes[n].name,
                                       std::vector<std::string>{w.take()});
        }
    }
    for (; progress.node < nodes_.size(); ++progress.node) {
        const engine::node_engine* e = nodes_[progress.node]->engine.get();
        if (e == nullptr) continue;
        progress.section = k_engine_section + plan_->nodes[progress.node].name;
        const bool finished = e->snapshot_some(progress.writer, progress.cursor, budget);
        progress.pieces.push_back(progress.writer.take());
        progress.writer.clear();
        // A piece's string grew by doubling: up to twice its bytes, held until the file is
        // written. Trimmed, the pieces of a large state hold about what they say.
        if (std::string& piece = progress.pieces.back();
            piece.capacity() - piece.size() > piece.size() / 8) {
            piece.shrink_to_fit();
        }
        if (!finished) return false;
        progress.done.emplace_back(progress.section, std::move(progress.pieces));
        progress.pieces.clear();
        progress.cursor = {};
        // One engine's end and the next one's start share no slice: the budget is per call.
        if (progress.node + 1 < nodes_.size()) {
            ++progress.node;
            return false;
        }
    }
    return true;
}

namespace {
node_chain::section_views views_of(const node_chain::sections& saved) {
    node_chain::section_views views;
    views.reserve(saved.size());
    for (const auto& [name, bytes] : saved) views.emplace_back(name, bytes);
    return views;
}
}  // namespace

bool node_chain::restore(const sections& saved, std::string& error) {
    return restore(views_of(saved), error);
}

bool node_chain::restore_history(const sections& saved, std::string& error) {
    return restore_history(views_of(saved), error);
}

bool node_chain::restore(const section_views& saved, std::string& error) {
    for (const auto& [name, bytes] : saved) {
        if (name.starts_with(k_decoder_section)) {
            const std::string_view input = std::string_view(name).substr(k_decoder_section.size());
            for (auto& in : inputs_) {
                if (in->plan->name == input && in->csv) in->csv->set_header(bytes);
            }
            continue;
        }
        if (name.starts_with(k_drift_section)) {
            const std::string_view node = std::string_view(name).substr(k_drift_section.size());
            for (std::size_t n = 0; n < nodes_.size(); ++n) {
                if (plan_->nodes[n].name != node || !nodes_[n]->drift) continue;
                byte_reader r(bytes);
                if (!nodes_[n]->drift->restore(r)) {
                    error =
                        "the schema-drift state of node \"" + std::string(node) + "\" is corrupt";
                    return false;
                }
            }
            continue;
        }
        if (name.starts_with(k_history_section)) {
            if (!restore_history_section(name, bytes, error)) return false;
            continue;
        }
        if (name.starts_with(k_dependency_section)) {
            if (!restore_dependencies(name, bytes, error)) return false;
            continue;
        }
        if (name.starts_with(k_ended_section)) {
            const std::string_view input = std::string_view(name).substr(k_ended_section.size());
            for (auto& in : inputs_) {
                if (in->plan->name == input) in->ended = true;
            }
            continue;
        }
        if (name.starts_with(k_join_section)) {
            const std::string_view node = std::string_view(name).substr(k_join_section.size());
            for (std::size_t n = 0; n < nodes_.size(); ++n) {
                if (plan_->nodes[n].name != node || !nodes_[n]->join) continue;
                byte_reader r(bytes);
                if (!nodes_[n]->join->restore(r) || !r.at_end()) {
                    error = "the join state of node \"" + std::string(node) + "\" is corrupt";
                    return false;
                }
                stats_.join_buffered[n] =
                    nodes_[n]->join->buffered() + nodes_[n]->join->held_rows();
                stats_.join_late_left[n] = nodes_[n]->join->late(join::join_side::left);
                stats_.join_late_right[n] = nodes_[n]->join->late(join::join_side::right);
            }
            continue;
        }
        if (!name.starts_with(k_engine_section)) {
            error = "unknown section \"" + name + "\"";
            return false;
        }
        const std::string_view node = std::string_view(name).substr(k_engine_section.size());
        for (std::size_t n = 0; n < nodes_.size(); ++n) {
            if (plan_->nodes[n].name != node || !nodes_[n]->engine) continue;
            byte_reader r(bytes);
            if (!nodes_[n]->engine->restore(r)) {
                error = "the state of node \"" + std::string(node) + "\" is corrupt";
                return false;
            }
        }
    }
    release_ended(std::nullopt);
    return true;
}

bool node_chain::restore_dependencies(const std::string& name, std::string_view bytes,
                                      std::string& error) {
    const std::string_view node = std::string_view(name).substr(k_dependency_section.size());
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        if (plan_->nodes[n].name != node) continue;
        byte_reader r(bytes);
        const std::size_t count = r.count(2);
        for (std::size_t i = 0; i < count && r.ok(); ++i) {
            const std::string input(r.str());
            // A dependency the node no longer has is skipped (its bytes still read).
            window::dependency_monitor scratch(window::dependency_spec{}, 0);
            time::timestamp_ns seen_scratch = window::k_no_time;
            window::dependency_monitor* into = &scratch;
            time::timestamp_ns* seen = &seen_scratch;
            node_state& st = *nodes_[n];
            for (std::size_t k = 0; k < st.dependencies.size(); ++k) {
                if (st.dependencies[k].spec().input != input) continue;
                into = &st.dependencies[k];
                seen = &st.dependency_seen[k];
            }
            into->deserialize(r);
            *seen = r.i64();
        }
        if (!r.ok()) {
            error = "the dependency state of node \"" + std::string(node) + "\" is corrupt";
            return false;
        }
    }
    return true;
}

bool node_chain::restore_history_section(const std::string& name, std::string_view bytes,
                                         std::string& error) {
    const std::string_view node = std::string_view(name).substr(k_history_section.size());
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        if (plan_->nodes[n].name != node || !nodes_[n]->engine) continue;
        byte_reader r(bytes);
        if (!nodes_[n]->engine->restore_history(r)) {
            error = "the history of the checks of node \"" + std::string(node) + "\" is corrupt";
            return false;
        }
    }
    return true;
}

bool node_chain::restore_history(const section_views& saved, std::string& error) {
    for (const auto& [name, bytes] : saved) {
        if (name.starts_with(k_history_section) && !restore_history_section(name, bytes, error)) {
            return false;
        }
    }
    return true;
}

void node_chain::set_input_lag(std::size_t input, std::int64_t lag, double lag_seconds) {
    if (input >= input_lags_.size()) input_lags_.resize(input + 1, {-1, 0.0});
    input_lags_[input] = {lag, lag_seconds};
    // Each node: the inputs it reads, through earlier nodes too (plan order: a node's
    // sources come before it).
    std::vector<std::pair<double, double>> node_lag(nodes_.size(), {std::nan(""), std::nan("")});
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        double sum = 0;
        double age = 0;
        bool known = false;
        for (const auto& from : plan_->nodes[n].from) {
            double l = std::nan("");
            double a = std::nan("");
            if (from.type == source_ref::kind::input) {
                if (from.index < input_lags_.size() && input_lags_[from.index].first >= 0) {
                    l = static_cast<double>(input_lags_[from.index].first);
                    a = input_lags_[from.index].second;
                }
            } else if (from.index < n) {
                l = node_lag[from.index].first;
                a = node_lag[from.index].second;
            }
            if (std::isnan(l)) continue;
            known = true;
            sum += l;
            age = std::max(age, a);
        }
        if (known) node_lag[n] = {sum, age};
        if (nodes_[n]->engine)
            nodes_[n]->engine->set_input_gauges(node_lag[n].first, node_lag[n].second);
    }
}

std::optional<std::size_t> node_chain::command_history(engine::history_command cmd,
                                                       std::string_view node,
                                                       std::string_view check,
                                                       const group_key* group) {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
        if (plan_->nodes[n].name != node || !nodes_[n]->engine) continue;
        return nodes_[n]->engine->command_history(cmd, check, group);
    }
    return std::nullopt;
}

}  // namespace weir::chain
