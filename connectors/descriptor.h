// One descriptor per connector type — its parameter declaration (with the `implemented` mark)
// and its factory — and the one list of the built-in types, from which both the parameter
// registry (register_builtin_connectors, register.h) and the runtime factories
// (register_builtin_factories, runtime.h) are filled.
#pragma once

#include <span>
#include <vector>

#include "connectors/runtime.h"
#include "core/params/registry.h"

namespace weir::connectors {

struct connector_descriptor {
    params::component_info info;  // info.kind says which factory applies
    input_factory make_input;     // implemented inputs only
    output_factory make_output;   // implemented outputs only
};

// Every built-in type, inputs and outputs, each once.
std::vector<connector_descriptor> builtin_connectors();

// Fill a registry or the factories from `list`. Both first check the whole list and throw
// std::logic_error naming the type, adding nothing, when a type marked implemented has no
// factory of its kind, a type with a factory is marked not implemented, an input carries an
// output factory or an output an input factory, or a type is listed twice for its kind.
// register_connectors() also throws when the registry already holds a type (see
// component_registry::add), register_factories() when the factories do.
void register_connectors(std::span<const connector_descriptor> list,
                         params::component_registry& registry);
void register_factories(std::span<const connector_descriptor> list, connector_factories& factories);

}  // namespace weir::connectors
