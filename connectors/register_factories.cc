// The one list of implemented connector types (see runtime.h).
#include <stdexcept>

#include "connectors/builtin.h"
#include "connectors/runtime.h"

namespace weir::connectors {

namespace {
template <class Map, class Factory>
void add(Map& map, const char* type, Factory factory) {
    if (!map.emplace(type, factory).second) {
        throw std::logic_error(std::string("connector type registered twice: ") + type);
    }
}
}  // namespace

void register_builtin_factories(connector_factories& f) {
    add(f.inputs, "generator", &make_generator_input);
    add(f.inputs, "file", &make_file_input);
    add(f.inputs, "stdin", &make_stdin_input);
    add(f.inputs, "tcp", &make_tcp_input);
    add(f.inputs, "udp", &make_udp_input);

    add(f.outputs, "console", &make_console_output);
    add(f.outputs, "file", &make_file_output);
    add(f.outputs, "http", &make_http_output);
    add(f.outputs, "alertmanager", &make_alertmanager_output);
}

}  // namespace weir::connectors
