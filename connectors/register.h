// Registration of the component types built into weir, from the one list of connector
// descriptors (descriptor.h).
#pragma once

#include "core/params/registry.h"

namespace weir::connectors {

// Adds the declaration of every built-in input and output type, implemented or not. Throws
// std::logic_error if one is already there (or the list is inconsistent).
void register_builtin_connectors(params::component_registry& registry);

}  // namespace weir::connectors
