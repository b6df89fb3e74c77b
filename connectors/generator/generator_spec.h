// Declaration of the generator input: a synthetic, seeded, reproducible stream of records with
// injectable data-quality problems (silent groups, stuck values, out-of-range values, ...),
// for demos, tests and benchmarks.
#pragma once

#include "core/params/registry.h"

namespace weir::connectors {

params::component_info generator_input_component();

}  // namespace weir::connectors
