// Parameter declarations shared by several connectors: record formats (json, csv), TLS and
// HTTP authentication. Each connector's own declaration pulls these in.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/diag/diagnostic.h"
#include "core/params/spec.h"
#include "core/params/value.h"

namespace weir::connectors {

// `format` (json | csv, default json) and `csv` {delimiter, quote, header, columns}.
void add_format_params(std::vector<params::param_spec>& params);

// Cross-field rules of the format parameters: `csv:` only with `format: csv`. Call it from
// the connector's own check callback.
void check_format_params(const params::value& v, const std::string& path, diagnostics& out);

// `max_line_length` (size, default 1MiB) for line-oriented inputs.
params::param_spec max_line_length_param();

// `tls` {ca_file, cert_file, key_file, verify} for clients of HTTPS endpoints.
params::param_spec tls_param();

// `bearer_token` and `basic_auth` {user, password}, mutually exclusive (add the rule too).
void add_http_auth_params(std::vector<params::param_spec>& params,
                          std::vector<params::key_rule>& rules);

// `key` of mapping `v`, when present, must be host:port ("0.0.0.0:5170", "[::1]:9797",
// "localhost:0"; port 0 lets the system choose). Reports at the value.
void check_host_port(const params::value& v, std::string_view key, const std::string& path,
                     diagnostics& out);

// `key` of mapping `v`, when present, must be an http:// or https:// URL with a host.
void check_http_url(const params::value& v, std::string_view key, const std::string& path,
                    diagnostics& out);

// The scalar text of key `name` in mapping `v`, or "" when absent or not a scalar.
std::string scalar_text(const params::value& v, std::string_view name);

}  // namespace weir::connectors
