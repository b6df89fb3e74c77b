// Parameters of the TCP and UDP inputs.
#include "connectors/socket/socket_spec.h"

#include "connectors/common/common_spec.h"

namespace weir::connectors {

using params::object_spec;
using params::param_spec;
using params::param_type;
using params::string_role;

namespace {

param_spec listen_param(const char* example) {
    return {.name = "listen",
            .type = param_type::string,
            .description = std::string("Address to listen on as host:port, e.g. ") + example +
                           "; [::]:port for every IPv6 and IPv4 address.",
            .required = true,
            .role = string_role::host_port};
}

param_spec receive_buffer_param() {
    return {.name = "receive_buffer_size",
            .type = param_type::size,
            .description = "SO_RCVBUF of the socket; default: the system's.",
            .minimum = 1024,
            .maximum = 1024.0 * 1024 * 1024};
}

void check_socket(const params::value& v, const std::string& path, diagnostics& out) {
    check_host_port(v, "listen", path, out);
    check_format_params(v, path, out);
}

std::shared_ptr<const object_spec> make_tcp_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "tcp input";
    spec->description =
        "Accepts connections and reads newline-delimited records from each. Positions are not "
        "replayable: records in flight at a crash are lost (use Kafka or files for that).";
    spec->params = {
        listen_param("0.0.0.0:5170"),
        {.name = "max_connections",
         .type = param_type::integer,
         .description = "Connections beyond this are refused until others close.",
         .default_text = "256",
         .minimum = 1,
         .maximum = 65535},
        {.name = "connection_timeout",
         .type = param_type::duration,
         .description = "Close a connection silent for this long; 0 = never.",
         .default_text = "0s"},
        max_line_length_param(),
        receive_buffer_param(),
    };
    add_format_params(spec->params);
    spec->check = check_socket;
    return spec;
}

std::shared_ptr<const object_spec> make_udp_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "udp input";
    spec->description = "Receives datagrams, each holding one or more newline-separated records.";
    spec->params = {
        listen_param("0.0.0.0:5171"),
        {.name = "max_datagram_size",
         .type = param_type::size,
         .description = "Largest datagram read whole; longer ones are truncated by the kernel "
                        "and counted as errors.",
         .default_text = "64KiB",
         .minimum = 512,
         .maximum = 65536},
        receive_buffer_param(),
    };
    add_format_params(spec->params);
    spec->check = check_socket;
    return spec;
}

}  // namespace

params::component_info tcp_input_component() {
    return {.type = "tcp",
            .kind = params::component_kind::input,
            .description = "Listen on a TCP port for newline-delimited records.",
            .spec = make_tcp_spec()};
}

params::component_info udp_input_component() {
    return {.type = "udp",
            .kind = params::component_kind::input,
            .description = "Listen on a UDP port for records in datagrams.",
            .spec = make_udp_spec()};
}

}  // namespace weir::connectors
