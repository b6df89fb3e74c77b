// The factories of the built-in connector types, listed once in register_builtin_factories()
// (register_factories.cc). Each is implemented beside its type's declaration.
#pragma once

#include <memory>

#include "connectors/runtime.h"

namespace weir::connectors {

std::unique_ptr<input> make_generator_input(const params::reader& p, const input_context& ctx);
std::unique_ptr<input> make_file_input(const params::reader& p, const input_context& ctx);
std::unique_ptr<input> make_stdin_input(const params::reader& p, const input_context& ctx);
std::unique_ptr<input> make_tcp_input(const params::reader& p, const input_context& ctx);
std::unique_ptr<input> make_udp_input(const params::reader& p, const input_context& ctx);

std::shared_ptr<output> make_console_output(const params::reader& p, const output_context& ctx);
std::shared_ptr<output> make_file_output(const params::reader& p, const output_context& ctx);
std::shared_ptr<output> make_http_output(const params::reader& p, const output_context& ctx);
std::shared_ptr<output> make_alertmanager_output(const params::reader& p,
                                                 const output_context& ctx);

}  // namespace weir::connectors
