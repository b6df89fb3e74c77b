// Declarations of the stdin input and the console output (standard output or error).
#pragma once

#include "core/params/registry.h"

namespace weir::connectors {

params::component_info stdin_input_component();
params::component_info console_output_component();

}  // namespace weir::connectors
