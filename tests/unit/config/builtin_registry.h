// The registry of weir's built-in connectors, built once, for config tests that load real
// pipelines.
#pragma once

#include "config/load.h"
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

// Only the language: tests of Kafka and joins as the language has them, which this
// build refuses to run (load_options::refuse_unbuilt).
inline const config::load_options language_only{.refuse_unbuilt = false};

}  // namespace weir::test
