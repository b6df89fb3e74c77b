// The compiled, immutable data path of one managed query (DESIGN.md §3): how each input's
// bytes decode into records, and each node's steps — schema, transforms, event time, engine —
// with the outputs its results, derived records, late records and dead letters go to. The
// config layer compiles it once (config/plan.h); the node chain (node_chain.h) runs it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/decode/csv_decoder.h"
#include "core/engine/node_plan.h"
#include "core/expr/field_path.h"
#include "core/expr/program.h"
#include "core/join/stream_join.h"
#include "core/schema/record_schema.h"
#include "core/time/timestamp.h"
#include "core/window/dependency.h"

namespace weir::chain {

enum class record_format : std::uint8_t { json, csv };
const char* to_string(record_format f);

// How one input's bytes become records. One decoder per input of the query.
struct decode_plan {
    record_format format = record_format::json;
    decode::csv_decoder_options csv;        // format csv; csv.max_record_size is set too
    std::size_t max_record_size = 1 << 20;  // longer records are invalid (too_long)
};

struct input_plan {
    std::string name;  // the input's name in the pipeline
    decode_plan decode;
    // `end_when`: the first record for which it is true ends the input's stream (the record
    // itself is not measured); null: none.
    std::shared_ptr<const expr::program> end_when;
};

struct transform_plan {
    enum class kind : std::uint8_t { filter, set };
    kind type = kind::filter;
    std::shared_ptr<const expr::program> filter;
    // set: slot <- program, in order.
    std::vector<std::pair<std::uint32_t, std::shared_ptr<const expr::program>>> assignments;
};

// Where a node's records come from: an input of the query or an earlier node.
struct source_ref {
    enum class kind : std::uint8_t { input, node };
    kind type = kind::input;
    std::uint32_t index = 0;  // into chain_plan::inputs or chain_plan::nodes
};

struct event_time_plan {
    time::time_parser parser;
    std::string field;       // as written, for messages
    std::string format;      // as written
    std::string timezone;    // as written; "" when not given (UTC)
    std::uint32_t slot = 0;  // the time field's
    // Where the time is read from: `slot`, or for epoch formats the slot its decoder fills
    // with the field's numbers as text (exact digits; the record keeps the number in `slot`).
    std::uint32_t read_slot = 0;
    // A record more than this after the newest event time of its source is suspicious (see
    // node_chain::read_event_times); 0: no check.
    time::timestamp_ns max_jump = 0;
};

// A join of a node's two sources (core/join/stream_join.h). Each side's records pass the
// node's schema and transforms, their event time is read with the node's time field, then they
// go into the join with their key and the values it copies; the joined rows go on to the engine,
// windowed by the join's row time (the left record's), with the join's frontier as watermark.
struct join_plan {
    // allowed_lateness and idle_timeout are the node's window's (its engine then has none).
    join::join_options options;
    std::uint32_t left_from = 0;  // indices into node_plan::from
    std::uint32_t right_from = 1;
    std::shared_ptr<const expr::program> left_key;
    std::shared_ptr<const expr::program> right_key;
    // Per side: (slot of the side's record, slot of the joined row) for each `<source>.<field>`
    // the node reads after the join; the joined row's other slots are absent.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> left_fields;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> right_fields;
    // A node without checks: its rows are derived records, JSON objects with each side's
    // record (as the node's transforms left it) under the side's input name; the fields above
    // are empty.
    bool derived = false;
    std::string left_name;
    std::string right_name;
};

// Indices into chain_plan::outputs.
using output_index = std::uint32_t;

struct node_plan {
    std::string name;
    std::vector<source_ref> from;  // in the order of the node's `from:`
    // Steps, in the order records meet them (a join between transforms and the engine).
    std::optional<schema::schema_description> schema;
    // Records the node cannot use (decode failures of inputs it reads, schema violators,
    // unreadable event times), as they were read, with where and why.
    std::optional<output_index> dead_letter;
    std::vector<transform_plan> transforms;
    // The fields visible after the transforms: name -> slot (derived records are written
    // from these when the transforms reshaped the record or it has no raw line, as CSV).
    std::vector<std::pair<std::string, std::uint32_t>> visible;
    bool transforms_reshape = false;  // set/rename/drop: the raw line no longer is the record
    std::optional<join_plan> join;    // nodes with `join:` (which have an event time)
    // Nodes with checks: the event time (none: processing time) and the engine.
    std::optional<event_time_plan> time;
    std::optional<engine::node_plan> engine;
    // Nodes whose checks measure schema drift: the slot where each record's fields go for the
    // engine (its engine fields name it schema::drift_field()).
    std::optional<std::uint32_t> drift_slot;
    std::optional<output_index> late_output;
    // `depends_on`: inputs among `from` whose lag holds back or flags the results.
    struct dependency {
        std::uint32_t input = 0;  // into chain_plan::inputs
        window::dependency_spec spec;
    };
    std::vector<dependency> depends_on;
    // Results (nodes with checks) or derived records (nodes without) go here.
    std::vector<output_index> outputs;

    bool emits_results() const { return engine.has_value(); }
};

struct chain_plan {
    std::string pipeline;
    std::string query;  // the terminal node's name
    // The query's slot space: slot i of every record is decoded from fields[i] (fields that
    // transforms compute have a path no decoder matches).
    std::vector<field_path> fields;
    // Slots that decoders fill with numbers as their text (json_decoder_options): the digits
    // of epoch event times, a second slot of the time field's path (event_time_plan).
    std::vector<std::size_t> number_text_slots;
    std::vector<input_plan> inputs;
    std::vector<node_plan> nodes;      // topological order, the terminal node last
    std::vector<std::string> outputs;  // names, for the output indices of the nodes
};

}  // namespace weir::chain
