// The positioned document tree: lookups, positions inside scalars, and how values are shown
// in messages (never revealing what came from the environment).
#include "core/params/value.h"

#include <algorithm>

namespace weir::params {

namespace {

// Long values are cut so one diagnostic stays one readable line.
constexpr std::size_t max_display_chars = 60;

}  // namespace

const value* value::find(std::string_view key) const {
    const entry* e = find_entry(key);
    return e ? &e->val : nullptr;
}

const value::entry* value::find_entry(std::string_view key) const {
    if (type != kind::mapping) return nullptr;
    for (const auto& e : entries) {
        if (e.key == key) return &e;
    }
    return nullptr;
}

source_pos value::pos_at(std::size_t offset) const {
    if (type != kind::scalar || text_column <= 0 || !pos.known()) return pos;
    // text_column is only set for one-line scalars whose text maps 1:1 onto the source.
    offset = std::min(offset, text.size());
    return {pos.file, pos.line, text_column + static_cast<int>(offset)};
}

std::string value::display() const {
    if (from_env) return "(a value from the environment)";
    switch (type) {
        case kind::null:
            return "nothing";
        case kind::sequence:
            return "a list";
        case kind::mapping:
            return "a mapping";
        case kind::scalar:
            break;
    }
    std::string out = "\"";
    std::size_t shown = 0;
    for (char c : text) {
        if (shown == max_display_chars) {
            out += "...";
            break;
        }
        ++shown;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    static const char* hex = "0123456789abcdef";
                    out += "\\x";
                    out += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
                    out += hex[static_cast<unsigned char>(c) & 0xf];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

}  // namespace weir::params
