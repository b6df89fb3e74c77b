// A managed query compiled for running: one slot space shared by every node of the query
// (decoded fields, and the fields `set` computes), the compiled transforms, time readers and
// node-engine plans, and the fingerprint that ties a checkpoint to this plan.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/graph.h"
#include "config/model.h"
#include "core/engine/node_plan.h"
#include "core/expr/program.h"
#include "core/schema/record_schema.h"
#include "core/time/timestamp.h"

namespace weir::daemon {

struct compiled_transform {
    enum class kind { filter, set };
    kind type = kind::filter;
    std::shared_ptr<const expr::program> filter;
    // set: slot <- program, in order.
    std::vector<std::pair<std::uint32_t, std::shared_ptr<const expr::program>>> assignments;
};

struct compiled_node {
    const config::node_config* config = nullptr;
    // `schema:` over the records the node reads, before its transforms.
    std::optional<schema::schema_description> schema;
    std::vector<compiled_transform> transforms;
    // Records reach this node from these sources: an input's name or a node's name.
    std::vector<std::string> from;
    // The fields visible after the node's transforms: name -> slot (written for derived
    // records).
    std::vector<std::pair<std::string, std::uint32_t>> visible;
    bool transforms_reshape = false;  // set/rename/drop: the raw line no longer is the record
    // Nodes with checks: how to read the event time, and the engine's plan.
    std::optional<time::time_parser> time;
    std::uint32_t time_slot = 0;
    std::optional<engine::node_plan> plan;
};

struct compiled_query {
    std::string pipeline;
    std::string name;
    std::string fingerprint;  // hex; a checkpoint of another fingerprint cannot resume
    std::vector<field_path> decode_fields;       // slot i is decoded from decode_fields[i]
    std::vector<std::size_t> number_text_slots;  // epoch times, kept exact
    std::vector<const config::input_config*> inputs;
    std::vector<compiled_node> nodes;  // topological order, the terminal node last
    std::vector<std::string> outputs;
};

// A parameter tree as canonical text: equal exactly when the settings are equal (for plan
// fingerprints and for telling whether a reload changed a component).
std::string canonical_text(const params::value& v);

// Compiles one query of a pipeline that passed validation. Throws std::invalid_argument on a
// node this runtime cannot run yet (joins), with a message naming it.
compiled_query compile_query(const config::pipeline_config& pipeline,
                             const config::query_plan& query);

}  // namespace weir::daemon
