// Declarations of the pipeline file (its sections and a node) and of the daemon settings
// file, plus the node rules that span several sections and no declaration expresses.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/diag/diagnostic.h"
#include "core/params/registry.h"
#include "core/params/spec.h"
#include "core/params/value.h"

namespace weir::config {

// One node of `nodes:`.
const params::object_spec& node_spec();

// The pipeline file as validated: `pipeline`, `inputs`, `nodes`, `outputs`. Entries of
// `inputs` and `outputs` are only checked to be named mappings here; the loader checks each
// one's `type:` against the registry and then the type's own declaration.
const params::object_spec& pipeline_sections_spec();

// The pipeline file for docs and the schema: like pipeline_sections_spec(), with inputs and
// outputs described by their `type` (the registered types as choices).
std::shared_ptr<const params::object_spec> make_pipeline_spec(
    const params::component_registry& registry);

// Rules of one node that span its sections (checks need a window, a window needs `time`,
// unique snake_case check names, a join reads two sources, ...). They read the raw mapping
// and tolerate any shape, so they run even when the node has other errors.
void check_node_rules(const params::value& node, const std::string& path, diagnostics& out);

// [a-z][a-z0-9_]*: the spelling of pipeline, input, node, output and check names.
bool is_snake_case(std::string_view name);

}  // namespace weir::config
