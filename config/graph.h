// The node graph of a pipeline: reference and type checks, cycle detection, and the split
// of a pipeline into managed queries (DESIGN.md §3).
#pragma once

#include <string>
#include <vector>

#include "config/model.h"
#include "core/diag/diagnostic.h"

namespace weir::config {

// Unknown references, cycles (with their path), a node reading results where it expects
// records, outputs that cannot take what a node emits → errors; inputs and nodes nobody
// reads, outputs nobody writes → warnings.
void check_graph(const pipeline_config& pipeline, diagnostics& out);

// A managed query: one node that emits results (or derived records nobody else reads),
// together with the chain of derived-record nodes upstream of it and its own instances of
// the inputs they read. Every name refers to the pipeline's declarations.
struct query_plan {
    std::string pipeline;
    std::string name;                  // the query's terminal node
    std::vector<std::string> inputs;   // sorted
    std::vector<std::string> nodes;    // topological order, terminal node last
    std::vector<std::string> outputs;  // sorted
};

// Queries of a pipeline that passed check_graph(), sorted by name.
std::vector<query_plan> split_queries(const pipeline_config& pipeline);

enum class graph_format { text, dot, mermaid };
std::string render_graph(const config_set& config, graph_format format);

}  // namespace weir::config
