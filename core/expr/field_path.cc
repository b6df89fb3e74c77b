// Canonical spelling of field paths.
#include "core/expr/field_path.h"

#include "core/expr/syntax.h"

namespace weir {

bool is_identifier(const std::string& s) {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        const bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0)) return false;
    }
    return true;
}

std::string field_path::to_string() const {
    std::string out;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (is_identifier(segments[i])) {
            if (i > 0) out += '.';
            out += segments[i];
        } else {
            out += '[';
            out += quote(segments[i]);
            out += ']';
        }
    }
    return out;
}

}  // namespace weir
