// YAML text to a positioned params::value tree: yaml-cpp parsing, 1-based positions of every
// key and value, duplicate-key detection, quoted-scalar marking and environment
// interpolation of scalar values. yaml-cpp stays behind this interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/load.h"
#include "core/diag/diagnostic.h"
#include "core/params/value.h"

namespace weir::config {

// Reads one YAML document. Returns nullopt when the text cannot be parsed at all (not valid
// UTF-8, a YAML syntax error): the reason is in `out` as "file:line:col: error: YAML syntax:
// …". Otherwise returns the tree, even when `out` received other problems: duplicate keys
// (the first occurrence is kept), interpolation errors (the faulty reference expands to
// ""), non-scalar keys (skipped), a second document (ignored). An empty document is a null
// value at 1:1. Keys are never interpolated; scalar values always are (quoted ones too).
std::optional<params::value> read_yaml(std::string_view text, const std::string& file,
                                       const env_lookup& env, diagnostics& out);

}  // namespace weir::config
