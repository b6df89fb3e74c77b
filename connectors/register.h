// The one list of component types built into weir.
#pragma once

#include "core/params/registry.h"

namespace weir::connectors {

// Adds every built-in input and output type. Throws std::logic_error if one is already there.
void register_builtin_connectors(params::component_registry& registry);

}  // namespace weir::connectors
