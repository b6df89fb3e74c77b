// The positioned document tree: lookups, positions inside scalars, and how values are shown
// in messages (never revealing secrets).
#include "core/params/value.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace weir::params {

namespace {

// Long values are cut so one diagnostic stays one readable line.
constexpr std::size_t max_display_chars = 60;

}  // namespace

bool names_a_secret(std::string_view name) {
    // PASS covers PASSWORD, PASSWD and PASSPHRASE.
    static constexpr std::array<std::string_view, 6> k_words = {"PASS", "SECRET", "TOKEN",
                                                                "KEY",  "AUTH",   "CREDENTIAL"};
    std::string upper(name);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return std::any_of(k_words.begin(), k_words.end(),
                       [&](std::string_view w) { return upper.find(w) != std::string::npos; });
}

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
    if (secret) return "(a secret value)";
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
