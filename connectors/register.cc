// The one list of built-in connector types (adding a type means adding a line here), and the
// registration of a list, loud on any inconsistency.
#include "connectors/register.h"

#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "connectors/descriptor.h"
#include "connectors/file/file_input.h"
#include "connectors/file/file_output.h"
#include "connectors/file/file_spec.h"
#include "connectors/generator/generator_input.h"
#include "connectors/generator/generator_spec.h"
#include "connectors/http/alertmanager_output.h"
#include "connectors/http/http_client.h"
#include "connectors/http/http_output.h"
#include "connectors/http/http_spec.h"
#include "connectors/kafka/kafka_input.h"
#include "connectors/kafka/kafka_output.h"
#include "connectors/kafka/kafka_spec.h"
#include "connectors/socket/socket_spec.h"
#include "connectors/socket/tcp_input.h"
#include "connectors/socket/udp_input.h"
#include "connectors/stdio/console_output.h"
#include "connectors/stdio/stdin_input.h"
#include "connectors/stdio/stdio_spec.h"

namespace weir::connectors {

namespace {

// A type's preflight (params::component_info::preflight) from a function of its parameters.
using preflight_fn = void (*)(const params::reader&, const std::string&, diagnostics&);

params::component_info with_preflight(params::component_info info, preflight_fn check) {
    info.preflight = [spec = info.spec, check](const params::value& v, const std::string& path,
                                               diagnostics& out) {
        check(params::reader(*spec, v), path, out);
    };
    return info;
}

// Every input may end its stream on a marker record; the node chain applies it (the input
// itself never sees it), so it is declared here once for all of them.
params::component_info with_end_when(params::component_info info) {
    auto spec = std::make_shared<params::object_spec>(*info.spec);
    spec->params.push_back(
        {.name = "end_when",
         .type = params::param_type::string,
         .description = "A boolean expression over the input's records: the first record for "
                        "which it is true ends the input's stream. That record is not measured, "
                        "the input stops reading, its windows close, and `weir run --once` ends "
                        "once every input has ended.",
         .role = params::string_role::expression});
    info.spec = std::move(spec);
    return info;
}

}  // namespace

std::vector<connector_descriptor> builtin_connectors() {
    std::vector<connector_descriptor> list;
    auto input = [&list](params::component_info info, input_factory make) {
        list.push_back({.info = with_end_when(std::move(info)), .make_input = std::move(make)});
    };
    auto output = [&list](params::component_info info, output_factory make) {
        list.push_back({.info = std::move(info), .make_output = std::move(make)});
    };
    // Inputs
    input(with_preflight(file_input_component(), &preflight_file_input), &make_file_input);
    input(generator_input_component(), &make_generator_input);
    input(kafka_input_component(), &make_kafka_input);
    input(stdin_input_component(), &make_stdin_input);
    input(tcp_input_component(), &make_tcp_input);
    input(udp_input_component(), &make_udp_input);
    // Outputs
    output(with_preflight(alertmanager_output_component(), &preflight_http_output),
           &make_alertmanager_output);
    output(console_output_component(), &make_console_output);
    output(with_preflight(file_output_component(), &preflight_file_output), &make_file_output);
    output(with_preflight(http_output_component(), &preflight_http_output), &make_http_output);
    output(kafka_output_component(), &make_kafka_output);
    return list;
}

namespace {

std::string name(const params::component_info& info) {
    return std::string(info.kind == params::component_kind::input ? "input" : "output") +
           " type \"" + info.type + "\"";
}

void check(std::span<const connector_descriptor> list) {
    std::set<std::pair<params::component_kind, std::string>> seen;
    for (const auto& d : list) {
        const bool input = d.info.kind == params::component_kind::input;
        if (d.info.type.empty()) throw std::logic_error("connector type without a name");
        if (input ? d.make_output != nullptr : d.make_input != nullptr) {
            throw std::logic_error(name(d.info) + " carries an " + (input ? "output" : "input") +
                                   " factory");
        }
        const bool has_factory = input ? d.make_input != nullptr : d.make_output != nullptr;
        if (d.info.implemented && !has_factory) {
            throw std::logic_error(name(d.info) + " is marked implemented but has no factory");
        }
        if (!d.info.implemented && has_factory) {
            throw std::logic_error(name(d.info) + " has a factory but is marked not implemented");
        }
        if (!seen.emplace(d.info.kind, d.info.type).second) {
            throw std::logic_error(name(d.info) + " is listed twice");
        }
    }
}

}  // namespace

void register_connectors(std::span<const connector_descriptor> list,
                         params::component_registry& registry) {
    check(list);
    for (const auto& d : list) {
        if (registry.find(d.info.kind, d.info.type) != nullptr) {
            throw std::logic_error(name(d.info) + " is registered twice");
        }
    }
    for (const auto& d : list) registry.add(d.info);
}

void register_factories(std::span<const connector_descriptor> list,
                        connector_factories& factories) {
    check(list);
    for (const auto& d : list) {
        const bool taken = d.info.kind == params::component_kind::input
                               ? factories.inputs.contains(d.info.type)
                               : factories.outputs.contains(d.info.type);
        if (taken) throw std::logic_error(name(d.info) + " is registered twice");
    }
    for (const auto& d : list) {
        if (d.make_input) factories.inputs.emplace(d.info.type, d.make_input);
        if (d.make_output) factories.outputs.emplace(d.info.type, d.make_output);
    }
}

void register_builtin_connectors(params::component_registry& registry) {
    register_connectors(builtin_connectors(), registry);
}

void register_builtin_factories(connector_factories& factories) {
    register_factories(builtin_connectors(), factories);
}

}  // namespace weir::connectors
