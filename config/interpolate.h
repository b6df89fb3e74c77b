// Environment interpolation of one scalar: ${VAR}, ${VAR:-default}, ${VAR:?message} and $$
// (DESIGN.md §1.2). Values of variables whose names say they are secrets are never printed:
// callers mark such a scalar secret.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/load.h"

namespace weir::config {

struct interpolation_error {
    std::size_t offset = 0;  // of the '$' that starts the faulty reference, in the input text
    std::string message;     // names variables, never shows their values
};

struct interpolation_result {
    std::string text;  // best effort when there are errors (faulty references expand to "")
    // A ${...} reference was expanded (from the environment or its default): the text may
    // hold a secret. "$$" alone does not set it.
    bool from_env = false;
    // A reference whose variable names a secret (params::names_a_secret: *PASSWORD*,
    // *TOKEN*, *SECRET*, *KEY* …) gave some of the text, its value or its default.
    bool secret = false;
    bool changed = false;  // text differs from the input (offsets no longer map 1:1)
    std::vector<interpolation_error> errors;
};

// Forms: ${NAME} (an error when NAME is unset; empty is fine), ${NAME:-default} (default
// when unset or empty), ${NAME:?message} (an error with the message when unset or empty),
// $$ for a literal '$'. A '$' followed by anything else is kept as is. Defaults and messages
// may themselves contain references; those are expanded only when used, and may nest 32
// levels deep (deeper is an error, however long the text). NAME is [A-Za-z_][A-Za-z0-9_]*.
interpolation_result interpolate(std::string_view text, const env_lookup& env);

}  // namespace weir::config
