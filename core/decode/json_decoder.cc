// JSON-lines decoding; see json_decoder.h. The fields wanted form a small trie of key
// names; each record's object is walked once, matching keys against the trie's level.
//
// Lines are decoded many at a time: one simdjson document stream runs stage 1 over a chunk of
// lines, and every document it yields must begin and end exactly on its own line. Anything
// else (an error, a document spanning lines, two on one line) sends the line concerned to the
// one-line path, which is the reference for what a line means; the fast path only ever agrees
// with it.
#include "core/decode/json_decoder.h"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/record/padded_buffer.h"

namespace weir::decode {

namespace ondemand = simdjson::ondemand;

// Inputs hand over their records with k_record_padding readable bytes after them, not knowing
// which decoder reads them: simdjson must need no more.
static_assert(simdjson::SIMDJSON_PADDING <= weir::k_record_padding);

namespace {

// Lines per stream are gathered up to this many bytes: large enough that stage 1's set-up is
// amortised, small enough that a chunk sent to the one-line path after repeated errors costs
// little. Also the stream parser's fixed capacity, so it never reallocates.
constexpr std::size_t k_chunk_bytes = 64 << 10;
// Streams restarted within one chunk after bad lines, before the chunk's rest goes line by
// line: bounds the stage-1 work that input full of bad lines can cause.
constexpr int k_max_runs_per_chunk = 8;

constexpr bool is_json_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// One line of the input, as decode_lines sees it.
struct line_info {
    const char* begin = nullptr;
    const char* end = nullptr;      // without the '\n' and a '\r' before it
    const char* next = nullptr;     // the start of the following line
    const char* content = nullptr;  // the first non-JSON-space byte, or nullptr
    bool blank = false;             // only spaces and tabs: not a record
};

line_info scan_line(const char* p, const char* end) {
    line_info l;
    l.begin = p;
    const std::size_t size = static_cast<std::size_t>(end - p);
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', size));
    l.end = nl ? nl : end;
    l.next = nl ? nl + 1 : end;
    if (l.end > p && l.end[-1] == '\r') --l.end;
    const char* q = p;
    while (q < l.end && (*q == ' ' || *q == '\t')) ++q;
    l.blank = q == l.end;
    while (q < l.end && is_json_space(*q)) ++q;
    l.content = q < l.end ? q : nullptr;
    return l;
}

std::uint64_t load8(const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// Whether [p, p + n) holds a backslash, 8 bytes at a time; reads up to 7 bytes past the end
// (the input's padding). Strings are short: a call to memchr would cost more than the scan.
bool has_backslash(const char* p, std::size_t n) {
    if constexpr (std::endian::native != std::endian::little) {
        return std::memchr(p, '\\', n) != nullptr;
    }
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t x = load8(p + i) ^ (ones * '\\');
        std::uint64_t zero = (x - ones) & ~x & highs;  // a high bit under each 0 byte (and above)
        if (n - i < 8) zero &= (std::uint64_t{1} << (8 * (n - i))) - 1;
        if (zero) return true;
    }
    return false;
}

}  // namespace

struct json_decoder::impl {
    // A child of a trie level, with the bytes that identify its key. `prefix` holds the first
    // bytes of the raw key text followed by its closing quote (as many as fit in 8), so most
    // keys are matched by one masked 8-byte compare.
    struct child {
        std::uint64_t prefix = 0;
        std::uint64_t mask = 0;
        std::size_t node = 0;
    };

    struct trie_node {
        std::string name;
        int slot = -1;       // the slot this path fills, or -1
        int text_slot = -1;  // the slot it fills with numbers kept as text, or -1
        std::vector<child> children;
    };

    std::vector<trie_node> nodes;  // nodes[0] is the root (the record object)
    std::size_t slot_count = 0;
    json_decoder_options options;
    ondemand::parser line_parser;    // one line at a time; its capacity follows the longest
    ondemand::parser stream_parser;  // chunks of lines, at the fixed capacity k_chunk_bytes

    explicit impl(const std::vector<field_path>& fields, json_decoder_options opts)
        : slot_count(fields.size()), options(std::move(opts)) {
        // Stage 1 of a chunk runs on this thread: a stream never spans two stage-1 batches.
        stream_parser.threaded = false;
        nodes.emplace_back();
        for (std::size_t slot = 0; slot < fields.size(); ++slot) {
            std::size_t at = 0;
            for (const auto& segment : fields[slot].segments) {
                std::size_t next = 0;
                for (const child& c : nodes[at].children) {
                    if (nodes[c.node].name == segment) next = c.node;
                }
                if (next == 0) {
                    nodes.push_back({segment, -1, -1, {}});
                    next = nodes.size() - 1;
                    nodes[at].children.push_back(make_child(segment, next));
                }
                at = next;
            }
            // A path fills at most one slot with its value and one with numbers kept as text
            // (the first of each); later duplicates stay absent.
            const bool text =
                std::find(options.number_text_slots.begin(), options.number_text_slots.end(),
                          slot) != options.number_text_slots.end();
            int& target = text ? nodes[at].text_slot : nodes[at].slot;
            if (target < 0) target = static_cast<int>(slot);
        }
    }

    // Sets the slots `node` fills to `v` (both, when it fills two).
    [[gnu::always_inline]] static void put(const trie_node& node, field_value* record,
                                           field_value v) {
        if (node.slot >= 0) record[node.slot] = v;
        if (node.text_slot >= 0) record[node.text_slot] = v;
    }

    static child make_child(const std::string& name, std::size_t node) {
        std::string quoted = name + '"';
        const std::size_t n = std::min<std::size_t>(quoted.size(), 8);
        child c;
        c.node = node;
        std::memcpy(&c.prefix, quoted.data(), n);
        std::memset(&c.mask, 0xff, n);
        return c;
    }

    // The same test as raw_json_string::unsafe_is_equal(name): the raw key text starts with
    // `name` followed by a quote. `raw` may be read 8 bytes ahead (the input's padding).
    bool key_matches(const char* raw, std::uint64_t head, const child& c) const {
        if ((head & c.mask) != c.prefix) return false;
        const std::string& name = nodes[c.node].name;
        if (name.size() < 8) return true;  // name and quote were both in the prefix
        return std::memcmp(raw + 8, name.data() + 8, name.size() - 8) == 0 &&
               raw[name.size()] == '"';
    }

    static std::string_view trim_token(std::string_view token) {
        while (!token.empty() && is_json_space(token.back())) token.remove_suffix(1);
        return token;
    }

    // Reads one scalar (or marks an object/array as `other`) into the slots `node` fills. The
    // token's first byte tells its type, as value::type() would. Inlined into walk: as a call it
    // cost a seventh of decoding (measured with bench/micro/decode_bench).
    [[gnu::always_inline]] bool read_leaf(ondemand::value& v, const trie_node& node,
                                          record_batch& batch, field_value* record) {
        const std::string_view token = v.raw_json_token();
        if (token.empty()) return false;
        switch (token[0]) {
            case '"': {
                // Zero copy unless the string has escapes: the raw token is `"…"` plus spaces.
                const std::string_view quoted = trim_token(token);
                if (quoted.size() >= 2 && !has_backslash(quoted.data(), quoted.size())) {
                    put(node, record,
                        field_value::make_string(quoted.substr(1, quoted.size() - 2)));
                    return true;
                }
                std::string_view s;
                if (v.get_string().get(s)) return false;
                put(node, record, field_value::make_string(batch.strings.copy(s)));
                return true;
            }
            case 't':
            case 'f': {
                bool b;
                if (v.get_bool().get(b)) return false;
                put(node, record, field_value::make_boolean(b));
                return true;
            }
            case 'n':
                // As value::type(): the token's first letter decides; the skip validates the rest.
                put(node, record, field_value::make_null());
                return true;
            case '{':
            case '[':
                put(node, record, field_value::make_other());
                return true;
            default: {
                if (!(token[0] == '-' || (token[0] >= '0' && token[0] <= '9'))) return false;
                if (node.text_slot >= 0) {
                    record[node.text_slot] = field_value::make_string(trim_token(token));
                    if (node.slot < 0) return true;
                }
                double d;
                if (v.get_double().get(d)) return false;
                record[node.slot] = field_value::make_number(d);
                return true;
            }
        }
    }

    // Walks one object at trie node `at`. Duplicate keys: the last one wins.
    bool walk(ondemand::object& object, std::size_t at, record_batch& batch, field_value* record) {
        const trie_node& level = nodes[at];
        // The field is used where the iterator built it: moving it out into a local made the
        // compiler copy it through a store-forwarding stall, the loop's largest cost.
        ondemand::object_iterator it, stop;
        if (object.begin().get(it) || object.end().get(stop)) return false;
        for (; it != stop; ++it) {
            auto field_result = *it;
            if (field_result.error()) return false;
            ondemand::field& field = field_result.value_unsafe();
            const char* raw = field.key().raw();
            const std::uint64_t head = load8(raw);
            std::size_t match = 0;
            for (const child& c : level.children) {
                if (key_matches(raw, head, c)) {
                    match = c.node;
                    break;
                }
            }
            if (match == 0) continue;  // not wanted: On-Demand skips it
            const trie_node& node = nodes[match];
            ondemand::value& v = field.value();
            if (node.children.empty()) {
                if (!read_leaf(v, node, batch, record)) return false;
                continue;
            }
            ondemand::json_type type;
            if (v.type().get(type)) return false;
            if (type != ondemand::json_type::object) {
                if ((node.slot >= 0 || node.text_slot >= 0) && !read_leaf(v, node, batch, record))
                    return false;
                continue;  // a path through a non-object: the deeper fields are absent
            }
            put(node, record, field_value::make_other());
            ondemand::object inner;
            if (v.get_object().get(inner)) return false;
            if (!walk(inner, match, batch, record)) return false;
        }
        return true;
    }

    // The reference meaning of one line, decoded into record `index` (whose slots are absent).
    void decode_alone(std::string_view line, record_batch& batch, std::size_t index) {
        if (line.size() > options.max_record_size) {
            batch.status[index] = invalid_reason::too_long;
            return;
        }
        field_value* record = batch.values.data() + index * batch.slots;
        ondemand::document doc;
        ondemand::object object;
        const simdjson::padded_string_view view(line.data(), line.size(),
                                                line.size() + simdjson::SIMDJSON_PADDING);
        if (line_parser.iterate(view).get(doc) || doc.get_object().get(object) ||
            !walk(object, 0, batch, record)) {
            batch.status[index] = invalid_reason::malformed;
            return;
        }
        // Anything after the object (a second value, garbage) makes the line malformed.
        const char* rest = nullptr;
        if (!doc.current_location().get(rest)) batch.status[index] = invalid_reason::malformed;
    }

    void decode(std::string_view line, record_batch& batch) {
        decode_alone(line, batch, batch.add_record());
    }

    // Record `index` again with the one-line path, forgetting what the stream put there.
    void redo_alone(std::string_view line, record_batch& batch, std::size_t index) {
        field_value* record = batch.values.data() + index * batch.slots;
        std::fill(record, record + batch.slots, field_value{});
        batch.status[index] = invalid_reason::none;
        decode_alone(line, batch, index);
    }

    struct sink {
        record_batch& batch;
        std::vector<std::string_view>* lines;
        std::size_t added = 0;

        void took(const line_info& l) {
            if (lines) lines->emplace_back(l.begin, static_cast<std::size_t>(l.end - l.begin));
            ++added;
        }
    };

    static std::string_view text(const line_info& l) {
        return {l.begin, static_cast<std::size_t>(l.end - l.begin)};
    }

    bool fits_stream(const line_info& l) const {
        return l.content && static_cast<std::size_t>(l.end - l.begin) <= options.max_record_size;
    }

    // Every line of [p, end), one at a time.
    void lines_alone(const char* p, const char* end, sink& out) {
        while (p < end) {
            const line_info l = scan_line(p, end);
            p = l.next;
            if (l.blank) continue;
            decode(text(l), out.batch);
            out.took(l);
        }
    }

    // Decodes lines of [p, end) (whole lines, the last one ending with '\n' or at the end of
    // the data) with one document stream, until the first line the stream cannot vouch for;
    // that line is decoded alone. Returns where the next run starts (end when done).
    const char* run(const char* p, const char* end, sink& out) {
        line_info cur;
        for (;;) {
            if (p >= end) return end;
            cur = scan_line(p, end);
            p = cur.next;
            if (cur.blank) continue;
            if (fits_stream(cur)) break;
            decode(text(cur), out.batch);  // too long, or JSON spaces only: malformed
            out.took(cur);
        }
        const char* base = cur.content;
        ondemand::document_stream stream;
        if (stream_parser.iterate_many(base, static_cast<std::size_t>(end - base), k_chunk_bytes)
                .get(stream)) {
            decode(text(cur), out.batch);
            out.took(cur);
            return cur.next;
        }
        record_batch& batch = out.batch;
        for (auto it = stream.begin();; ++it) {
            ondemand::document_reference doc;
            // A stream that ends early left the rest unparsed (a truncated last document).
            if (!(it != stream.end()) || (*it).get(doc) ||
                it.current_index() != static_cast<std::size_t>(cur.content - base)) {
                decode(text(cur), batch);
                out.took(cur);
                return cur.next;
            }
            const std::size_t index = batch.add_record();
            field_value* record = batch.values.data() + index * batch.slots;
            ondemand::object object;
            if (doc.get_object().get(object) || !walk(object, 0, batch, record)) {
                redo_alone(text(cur), batch, index);
                out.took(cur);
                return cur.next;
            }
            // The next record line; its first byte must be the stream's next token, so that
            // this document's tokens all lie on its own line.
            line_info next;
            bool has_next = false;
            for (const char* q = cur.next; q < end;) {
                next = scan_line(q, end);
                q = next.next;
                if (!next.blank) {
                    has_next = true;
                    break;
                }
            }
            const char* token = nullptr;
            const bool at_end = doc.current_location().get(token) != simdjson::SUCCESS;
            const bool aligned =
                has_next ? !at_end && next.content != nullptr && token == next.content : at_end;
            if (!aligned) {
                redo_alone(text(cur), batch, index);
                out.took(cur);
                return cur.next;
            }
            out.took(cur);
            if (!has_next) return end;
            if (!fits_stream(next)) return next.begin;
            cur = next;
        }
    }

    std::size_t decode_lines(std::string_view data, record_batch& batch,
                             std::vector<std::string_view>* lines) {
        sink out{batch, lines};
        bool reserved = false;
        const char* p = data.data();
        const char* const end = p + data.size();
        while (p < end) {
            // A chunk ends after a '\n' within k_chunk_bytes; a longer line is a chunk alone.
            const char* chunk_end = end;
            if (static_cast<std::size_t>(end - p) > k_chunk_bytes) {
                const char* last_nl = static_cast<const char*>(memrchr(p, '\n', k_chunk_bytes));
                if (last_nl) {
                    chunk_end = last_nl + 1;
                } else {
                    const std::size_t rest = static_cast<std::size_t>(end - p) - k_chunk_bytes;
                    const auto* nl =
                        static_cast<const char*>(std::memchr(p + k_chunk_bytes, '\n', rest));
                    chunk_end = nl ? nl + 1 : end;
                }
            }
            if (static_cast<std::size_t>(chunk_end - p) > k_chunk_bytes) {
                lines_alone(p, chunk_end, out);
            } else {
                int runs = 0;
                while (p < chunk_end && runs++ < k_max_runs_per_chunk) p = run(p, chunk_end, out);
                lines_alone(p, chunk_end, out);
            }
            p = chunk_end;
            if (!reserved && out.added > 0 && p < end) {
                // Room for the rest at the first chunk's bytes per record, so the batch does
                // not grow (and copy itself) a dozen times per buffer.
                reserved = true;
                const auto per_record = static_cast<std::size_t>(p - data.data()) / out.added;
                const std::size_t more = static_cast<std::size_t>(end - p) / (per_record + 1);
                const std::size_t records = batch.size() + more + more / 8 + 16;
                batch.values.reserve(records * batch.slots);
                batch.status.reserve(records);
                if (lines) lines->reserve(lines->size() + more + more / 8 + 16);
            }
        }
        return out.added;
    }
};

json_decoder::json_decoder(const std::vector<field_path>& fields, json_decoder_options options)
    : impl_(std::make_unique<impl>(fields, std::move(options))) {}
json_decoder::~json_decoder() = default;
json_decoder::json_decoder(json_decoder&&) noexcept = default;
json_decoder& json_decoder::operator=(json_decoder&&) noexcept = default;

std::size_t json_decoder::padding() {
    return simdjson::SIMDJSON_PADDING;
}
std::size_t json_decoder::slots() const {
    return impl_->slot_count;
}

void json_decoder::decode_record(std::string_view line, record_batch& out) {
    out.slots = impl_->slot_count;
    impl_->decode(line, out);
}

std::size_t json_decoder::decode_lines(std::string_view data, record_batch& out,
                                       std::vector<std::string_view>* lines) {
    out.slots = impl_->slot_count;
    return impl_->decode_lines(data, out, lines);
}

}  // namespace weir::decode
