// A field path as the expression and measure languages write it: `a.b`, `a["odd key"]`,
// `orders.amount`. Resolution to a record slot is the caller's business.
#pragma once

#include <compare>
#include <string>
#include <vector>

namespace weir {

struct field_path {
    std::vector<std::string> segments;  // never empty once parsed

    // Canonical spelling: identifiers joined by ".", other segments as ["..."]:
    // `a.b`, `a["odd key"]`, `["9lives"].x`.
    std::string to_string() const;

    friend bool operator==(const field_path&, const field_path&) = default;
    friend auto operator<=>(const field_path&, const field_path&) = default;
};

// Whether `s` can be written bare in a path: [A-Za-z_][A-Za-z0-9_]*.
bool is_identifier(const std::string& s);

}  // namespace weir
