// Failed-value samples: building, merging and serialising them.
#include "core/measure/sample.h"

#include <utility>

#include "core/result/check_result.h"

namespace weir::measure {

namespace {

// The longest prefix of `s` of at most `n` bytes that does not end inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t n) {
    if (s.size() <= n) return s;
    std::size_t cut = n;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
    return s.substr(0, cut);
}

}  // namespace

void append_sample_value(const field_value& v, std::string& out) {
    switch (v.kind) {
        case value_kind::absent:
        case value_kind::null:
            out += "null";
            return;
        case value_kind::boolean:
            out += v.boolean ? "true" : "false";
            return;
        case value_kind::number:
            append_json_value(measure_value::make_number(v.number), out);
            return;
        case value_kind::string: {
            const std::string_view s = v.string();
            if (s.size() <= k_sample_value_bytes) {
                append_json_string(s, out);
            } else {
                append_json_string(std::string(utf8_prefix(s, k_sample_value_bytes)) + "\u2026",
                                   out);
            }
            return;
        }
        case value_kind::other:
            out += "\"(object or array)\"";
            return;
    }
}

void sample_acc::add(bool is_counted, std::span<const field_value> record,
                     std::span<const sample_field> fields, time_ns event_time,
                     std::uint32_t limit) {
    std::vector<std::string>& side = is_counted ? counted : others;
    if (side.size() >= limit) return;
    std::string& e = side.emplace_back();
    char time[24];
    time::format_rfc3339_ms(event_time, time);
    e += "{\"time\":\"";
    e.append(time, sizeof time);
    e += '"';
    for (const sample_field& f : fields) {
        e += ',';
        append_json_string(f.name, e);
        e += ':';
        if (f.secret && !record[f.slot].missing()) {
            e += "\"***\"";
        } else {
            append_sample_value(record[f.slot], e);
        }
    }
    e += '}';
}

void sample_acc::merge(const sample_acc& o, std::uint32_t limit) {
    for (auto [into, from] : {std::pair{&counted, &o.counted}, std::pair{&others, &o.others}}) {
        for (const auto& e : *from) {
            if (into->size() >= limit) break;
            into->push_back(e);
        }
    }
}

void sample_acc::serialize(byte_writer& w) const {
    for (const auto* side : {&counted, &others}) {
        w.varint(side->size());
        for (const auto& e : *side) w.str(e);
    }
}

bool sample_acc::deserialize(byte_reader& r, std::uint32_t limit) {
    for (auto* side : {&counted, &others}) {
        side->clear();
        const std::size_t n = r.count(1);
        if (!r.ok() || n > limit) {
            r.fail();
            return false;
        }
        for (std::size_t i = 0; i < n && r.ok(); ++i) side->emplace_back(r.str());
    }
    return r.ok();
}

}  // namespace weir::measure
