// Explicit registration of the built-in connectors: adding a type means adding a line here.
#include "connectors/register.h"

#include "connectors/file/file_spec.h"
#include "connectors/generator/generator_spec.h"
#include "connectors/http/http_spec.h"
#include "connectors/kafka/kafka_spec.h"
#include "connectors/socket/socket_spec.h"
#include "connectors/stdio/stdio_spec.h"

namespace weir::connectors {

void register_builtin_connectors(params::component_registry& registry) {
    // Inputs
    registry.add(file_input_component());
    registry.add(generator_input_component());
    registry.add(kafka_input_component());
    registry.add(stdin_input_component());
    registry.add(tcp_input_component());
    registry.add(udp_input_component());
    // Outputs
    registry.add(alertmanager_output_component());
    registry.add(console_output_component());
    registry.add(file_output_component());
    registry.add(http_output_component());
    registry.add(kafka_output_component());
}

}  // namespace weir::connectors
