// Declarations of the HTTP webhook output (batches of results POSTed as JSON) and the
// Alertmanager output (failing checks as alerts, resent while they fail).
#pragma once

#include "core/params/registry.h"

namespace weir::connectors {

params::component_info http_output_component();
params::component_info alertmanager_output_component();

}  // namespace weir::connectors
