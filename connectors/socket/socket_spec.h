// Declarations of the TCP input (newline-delimited records from many connections) and the UDP
// input (records in datagrams).
#pragma once

#include "core/params/registry.h"

namespace weir::connectors {

params::component_info tcp_input_component();
params::component_info udp_input_component();

}  // namespace weir::connectors
