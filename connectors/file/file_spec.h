// Declarations of the file input (tail or read files matched by a path or glob) and the
// file output (JSON lines, optionally rotated).
#pragma once

#include "core/params/registry.h"

namespace weir::connectors {

params::component_info file_input_component();
params::component_info file_output_component();

}  // namespace weir::connectors
