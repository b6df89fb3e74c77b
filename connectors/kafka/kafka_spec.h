// Declarations of the Kafka input (a consumer group member) and the Kafka output (a producer
// of check results). Properties under `kafka:` go to librdkafka unchanged, except those weir
// sets itself (refused with the parameter to use instead).
#pragma once

#include "core/params/registry.h"

namespace weir::connectors {

params::component_info kafka_input_component();
params::component_info kafka_output_component();

}  // namespace weir::connectors
