// JSON-lines decoding; see json_decoder.h. The fields wanted form a small trie of key
// names; each record's object is walked once, matching keys against the trie's level.
#include "core/decode/json_decoder.h"

#include <simdjson.h>

#include <cstring>
#include <string>

namespace weir::decode {

namespace ondemand = simdjson::ondemand;

struct json_decoder::impl {
    struct trie_node {
        std::string name;
        int slot = -1;                  // the slot this path fills, or -1
        bool number_text = false;
        std::vector<std::size_t> children;  // indexes into nodes
    };

    std::vector<trie_node> nodes;  // nodes[0] is the root (the record object)
    std::size_t slot_count = 0;
    json_decoder_options options;
    ondemand::parser parser;

    explicit impl(const std::vector<field_path>& fields, json_decoder_options opts)
        : slot_count(fields.size()), options(std::move(opts)) {
        nodes.emplace_back();
        for (std::size_t slot = 0; slot < fields.size(); ++slot) {
            std::size_t at = 0;
            for (const auto& segment : fields[slot].segments) {
                std::size_t next = 0;
                for (std::size_t c : nodes[at].children) {
                    if (nodes[c].name == segment) next = c;
                }
                if (next == 0) {
                    nodes.push_back({segment, -1, false, {}});
                    next = nodes.size() - 1;
                    nodes[at].children.push_back(next);
                }
                at = next;
            }
            // A path listed twice fills the first slot; later duplicates stay absent.
            if (nodes[at].slot < 0) nodes[at].slot = static_cast<int>(slot);
        }
        for (std::size_t s : options.number_text_slots) {
            for (auto& n : nodes) {
                if (n.slot == static_cast<int>(s)) n.number_text = true;
            }
        }
    }

    static std::string_view trim_token(std::string_view token) {
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t' ||
                                  token.back() == '\n' || token.back() == '\r')) {
            token.remove_suffix(1);
        }
        return token;
    }

    // Reads one scalar (or marks an object/array as `other`) into `out`.
    bool read_leaf(ondemand::value& v, const trie_node& node, record_batch& batch,
                   field_value& out) {
        ondemand::json_type type;
        if (v.type().get(type)) return false;
        switch (type) {
            case ondemand::json_type::number: {
                if (node.number_text) {
                    out = field_value::make_string(trim_token(v.raw_json_token()));
                    return true;
                }
                double d;
                if (v.get_double().get(d)) return false;
                out = field_value::make_number(d);
                return true;
            }
            case ondemand::json_type::string: {
                // Zero copy unless the string has escapes: the raw token is `"…"` plus spaces.
                const std::string_view token = trim_token(v.raw_json_token());
                if (token.size() >= 2 &&
                    std::memchr(token.data(), '\\', token.size()) == nullptr) {
                    out = field_value::make_string(token.substr(1, token.size() - 2));
                    return true;
                }
                std::string_view s;
                if (v.get_string().get(s)) return false;
                out = field_value::make_string(batch.strings.copy(s));
                return true;
            }
            case ondemand::json_type::boolean: {
                bool b;
                if (v.get_bool().get(b)) return false;
                out = field_value::make_boolean(b);
                return true;
            }
            case ondemand::json_type::null: out = field_value::make_null(); return true;
            default: out = field_value::make_other(); return true;
        }
    }

    // Walks one object at trie node `at`. Duplicate keys: the last one wins.
    bool walk(ondemand::object& object, std::size_t at, record_batch& batch,
              field_value* record) {
        const trie_node& level = nodes[at];
        for (auto field_result : object) {
            ondemand::field field;
            if (std::move(field_result).get(field)) return false;
            const ondemand::raw_json_string key = field.key();
            std::size_t match = 0;
            for (std::size_t c : level.children) {
                if (key.unsafe_is_equal(nodes[c].name)) {
                    match = c;
                    break;
                }
            }
            if (match == 0) continue;  // not wanted: On-Demand skips it
            const trie_node& node = nodes[match];
            ondemand::value& v = field.value();
            if (node.children.empty()) {
                if (!read_leaf(v, node, batch, record[node.slot])) return false;
                continue;
            }
            ondemand::json_type type;
            if (v.type().get(type)) return false;
            if (type != ondemand::json_type::object) {
                if (node.slot >= 0 && !read_leaf(v, node, batch, record[node.slot])) return false;
                continue;  // a path through a non-object: the deeper fields are absent
            }
            if (node.slot >= 0) record[node.slot] = field_value::make_other();
            ondemand::object inner;
            if (v.get_object().get(inner)) return false;
            if (!walk(inner, match, batch, record)) return false;
        }
        return true;
    }

    void decode(std::string_view line, record_batch& batch) {
        const std::size_t index = batch.add_record();
        if (line.size() > options.max_record_size) {
            batch.status[index] = invalid_reason::too_long;
            return;
        }
        field_value* record = batch.values.data() + index * batch.slots;
        ondemand::document doc;
        ondemand::object object;
        const simdjson::padded_string_view view(line.data(), line.size(),
                                                line.size() + simdjson::SIMDJSON_PADDING);
        if (parser.iterate(view).get(doc) || doc.get_object().get(object) ||
            !walk(object, 0, batch, record)) {
            batch.status[index] = invalid_reason::malformed;
            return;
        }
        // Anything after the object (a second value, garbage) makes the line malformed.
        const char* rest = nullptr;
        if (!doc.current_location().get(rest)) batch.status[index] = invalid_reason::malformed;
    }
};

json_decoder::json_decoder(const std::vector<field_path>& fields, json_decoder_options options)
    : impl_(std::make_unique<impl>(fields, std::move(options))) {}
json_decoder::~json_decoder() = default;
json_decoder::json_decoder(json_decoder&&) noexcept = default;
json_decoder& json_decoder::operator=(json_decoder&&) noexcept = default;

std::size_t json_decoder::padding() { return simdjson::SIMDJSON_PADDING; }
std::size_t json_decoder::slots() const { return impl_->slot_count; }

void json_decoder::decode_record(std::string_view line, record_batch& out) {
    out.slots = impl_->slot_count;
    impl_->decode(line, out);
}

std::size_t json_decoder::decode_lines(std::string_view data, record_batch& out,
                                       std::vector<std::string_view>* lines) {
    out.slots = impl_->slot_count;
    std::size_t added = 0;
    const char* p = data.data();
    const char* end = p + data.size();
    while (p < end) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
        const char* line_end = nl ? nl : end;
        std::string_view line(p, line_end - p);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        p = nl ? nl + 1 : end;
        // Blank lines are not records.
        std::size_t first = 0;
        while (first < line.size() && (line[first] == ' ' || line[first] == '\t')) ++first;
        if (first == line.size()) continue;
        impl_->decode(line, out);
        if (lines) lines->push_back(line);
        ++added;
    }
    return added;
}

}  // namespace weir::decode
