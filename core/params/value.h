// A positioned, format-neutral document tree: what config/ makes of a YAML file after
// environment interpolation, and what parameter specs (params/spec.h) validate. Keeping it
// free of yaml-cpp lets core/ and connectors/ declare and read parameters without YAML.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/diag/diagnostic.h"

namespace weir::params {

class value {
  public:
    enum class kind { null, scalar, sequence, mapping };

    struct entry;  // a mapping's key and value

    kind type = kind::null;
    source_pos pos;  // where the value starts (for a quoted scalar: its opening quote)

    // Scalars (kind::scalar). `text` is after interpolation.
    std::string text;
    bool quoted = false;    // written with quotes or as a block scalar: never a number/bool/null
    bool from_env = false;  // some of `text` came from ${VAR} (or a default of one)
    // A secret, never printed: a ${VAR} whose name says so (names_a_secret) gave some of
    // `text`, or the parameter is declared secret (mark_secrets, params/spec.h).
    bool secret = false;
    // Column of text[0] when the scalar sits on one line (plain or quoted); 0 if unknown
    // (block scalars, or the scalar was changed by interpolation before that point).
    int text_column = 0;

    std::vector<value> items;    // kind::sequence
    std::vector<entry> entries;  // kind::mapping, in source order, duplicates already reported

    bool is_null() const { return type == kind::null; }
    bool is_scalar() const { return type == kind::scalar; }
    bool is_sequence() const { return type == kind::sequence; }
    bool is_mapping() const { return type == kind::mapping; }

    // Mapping lookup; nullptr when absent or when this is not a mapping.
    const value* find(std::string_view key) const;
    const entry* find_entry(std::string_view key) const;

    // Where character `offset` of `text` stands in the source: exact for one-line scalars,
    // the scalar's own position otherwise. Used to point inside expressions and assessments.
    source_pos pos_at(std::size_t offset) const;

    // How to show this value in a message: the text quoted, or "(a secret value)".
    std::string display() const;
};

// Whether a name (an environment variable, a map key such as "sasl.password") says that its
// value is a secret: it contains PASS (PASSWORD, PASSWD, PASSPHRASE), SECRET, TOKEN, KEY, AUTH
// or CREDENTIAL, in any case.
bool names_a_secret(std::string_view name);

struct value::entry {
    std::string key;
    source_pos key_pos;
    value val;
};

}  // namespace weir::params
