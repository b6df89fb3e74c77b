// The one compile (DESIGN.md §3): a loaded pipeline becomes an immutable, typed, self-contained
// plan — its inputs and outputs with their validated parameters, and its managed queries, each
// with the node chain's plan (core/chain/chain_plan.h), its run-time policy as enums and its
// fingerprint. `weir validate` and `weir run` both get it from load() (load.h), so validate
// refuses everything run would: errors of the languages inside strings (expressions, measures,
// assessments, time formats, patterns), at their exact characters, and what this build cannot
// run yet (joins, measures of one input), at the key that asks for it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "core/chain/chain_plan.h"
#include "core/diag/diagnostic.h"
#include "core/params/spec.h"
#include "core/params/value.h"

namespace weir::config {

// An input or output to build: its type, its declaration and its validated parameters (read
// with params::reader(*spec, params)).
struct component_plan {
    std::string name;
    std::string type;
    std::shared_ptr<const params::object_spec> spec;
    params::value params;
};

enum class error_action : std::uint8_t { keep_going, stop };                // on_error.action
enum class full_action : std::uint8_t { block, drop_newest, drop_oldest };  // buffer.when_full
const char* to_string(error_action a);
const char* to_string(full_action a);

// What the daemon's query does around the chain: the terminal node's on_error and buffer, and
// whether the query is critical (any of its nodes is).
struct query_policy {
    bool critical = false;
    error_action on_error = error_action::keep_going;
    std::uint64_t max_errors = 100;
    std::chrono::milliseconds error_period{60'000};
    std::uint64_t buffer_max_records = 100'000;
    full_action when_full = full_action::block;
};

struct compiled_query {
    std::string name;  // the terminal node's
    std::shared_ptr<const chain::chain_plan> chain;
    // chain->inputs[i] is compiled_pipeline::inputs[inputs[i]].
    std::vector<std::size_t> inputs;
    query_policy policy;
    // Hex digests of the plan's canonical serialisation (everything that shapes what the query
    // reads and measures; not how it judges results, its outputs or policy): a checkpoint of
    // another fingerprint cannot resume, and a reload that changes it drops the open windows.
    std::string fingerprint;
    // How its checks judge and emit results (assessments, emit, on_no_data, on_partial): a
    // reload that changes only this (or the outputs) resumes the query's open windows.
    std::string judgement_fingerprint;
    // The fingerprint as weir computed it while it still covered the judgements: checkpoints
    // written then resume.
    std::string fingerprint_before_judgements;
    // The fingerprint format-1 checkpoints carry (weir before the compiled plan), so an
    // upgraded weir resumes them.
    std::string legacy_fingerprint;
};

struct compiled_pipeline {
    std::string name;
    std::string file;
    std::vector<component_plan> inputs;   // in source order
    std::vector<component_plan> outputs;  // in source order
    std::vector<compiled_query> queries;  // sorted by name
    // Equal exactly when the outputs section is equal: a reload keeps the outputs then.
    std::string outputs_fingerprint;

    const component_plan* find_output(std::string_view name) const;
};

// Compiles `pipeline` (loaded, its graph checked) and reports into `out`: every error of the
// languages inside its strings and, with `refuse_unbuilt`, everything this build cannot run
// (connector types are refused where they are read, load.cc). Returns the plan when the
// pipeline (with `had_errors`: errors reported for it earlier) is free of errors and uses
// nothing unbuilt, else null. Nodes read leniently after errors (complete == false) are
// skipped.
std::shared_ptr<const compiled_pipeline> compile_pipeline(const pipeline_config& pipeline,
                                                          bool had_errors, bool refuse_unbuilt,
                                                          diagnostics& out);

// A parameter tree as canonical text: equal exactly when the settings are equal.
std::string canonical_text(const params::value& v);

}  // namespace weir::config
