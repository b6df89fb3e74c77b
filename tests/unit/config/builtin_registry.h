// The registry of weir's built-in connectors, built once, for config tests that load real
// pipelines.
#pragma once

#include "connectors/register.h"
#include "core/params/registry.h"

namespace weir::test {

inline const params::component_registry& registry() {
    static const params::component_registry r = [] {
        params::component_registry out;
        connectors::register_builtin_connectors(out);
        return out;
    }();
    return r;
}

}  // namespace weir::test
