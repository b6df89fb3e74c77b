// Check results: id, severity and the JSON line; see check_result.h.
#include "core/result/check_result.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/sketch/hash.h"

namespace weir {

const char* to_string(outcome o) {
    switch (o) {
        case outcome::pass: return "pass";
        case outcome::warn: return "warn";
        case outcome::fail: return "fail";
        case outcome::no_data: return "no_data";
    }
    return "no_data";
}

std::string_view severity_of(const check_result& r) {
    return r.must_be.empty() ? "warn" : "fail";
}

std::string result_id(const check_result& r) {
    // Fields separated by a byte that cannot occur in UTF-8 text, so ("ab", "c") and
    // ("a", "bc") differ; window_start in whole milliseconds (what results show).
    std::string key;
    auto add = [&](std::string_view part) {
        key += part;
        key += '\xff';
    };
    add(r.pipeline);
    add(r.node);
    add(r.check);
    const std::int64_t ms = r.window_start >= 0
                                ? r.window_start / time::ns_per_ms
                                : -((-r.window_start + time::ns_per_ms - 1) / time::ns_per_ms);
    add(std::to_string(ms));
    for (const auto& [name, value] : r.group) {
        add(name);
        std::string v;
        append_json_value(value, v);
        add(v);
    }
    const std::uint64_t h = hashing::hash_bytes(key.data(), key.size(), 0x7765697221ull);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

namespace {

// Bytes a JSON string cannot hold as they are: control characters, '"' and '\\'.
constexpr auto k_escape = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
    t['"'] = true;
    t['\\'] = true;
    return t;
}();

}  // namespace

void append_json_string(std::string_view s, std::string& out) {
    // Runs of plain bytes are appended whole: most strings need no escape at all.
    out += '"';
    const char* p = s.data();
    const char* const end = p + s.size();
    while (p < end) {
        const char* run = p;
        while (p < end && !k_escape[static_cast<unsigned char>(*p)]) ++p;
        out.append(run, static_cast<std::size_t>(p - run));
        if (p == end) break;
        const char c = *p++;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default: {
                static constexpr char hex[] = "0123456789abcdef";
                const auto u = static_cast<unsigned char>(c);
                const char esc[6] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 15]};
                out.append(esc, sizeof esc);
            }
        }
    }
    out += '"';
}

void append_json_value(const measure_value& v, std::string& out) {
    switch (v.kind) {
        case measure_kind::null: out += "null"; return;
        case measure_kind::boolean: out += v.boolean ? "true" : "false"; return;
        case measure_kind::string: append_json_string(v.text, out); return;
        case measure_kind::number: {
            if (!std::isfinite(v.number)) {
                out += "null";
                return;
            }
            char buf[32];
            // Integral values print without a fraction ("42", not "42.0").
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.number);
            out.append(buf, ec == std::errc() ? end : buf);
            return;
        }
    }
}

void append_json(const check_result& r, std::string& out) {
    char time_buf[24];
    auto add_key = [&](std::string_view key) {
        out += out.empty() || out.back() == '{' ? "" : ",";
        append_json_string(key, out);
        out += ':';
    };
    out += '{';
    add_key("id");
    append_json_string(result_id(r), out);
    add_key("pipeline");
    append_json_string(r.pipeline, out);
    add_key("node");
    append_json_string(r.node, out);
    add_key("check");
    append_json_string(r.check, out);
    add_key("window_start");
    time::format_rfc3339_ms(r.window_start, time_buf);
    append_json_string({time_buf, sizeof time_buf}, out);
    add_key("window_end");
    time::format_rfc3339_ms(r.window_end, time_buf);
    append_json_string({time_buf, sizeof time_buf}, out);
    add_key("group");
    if (r.group.empty()) {
        out += "null";
    } else {
        out += '{';
        for (std::size_t i = 0; i < r.group.size(); ++i) {
            if (i) out += ',';
            append_json_string(r.group[i].first, out);
            out += ':';
            append_json_value(r.group[i].second, out);
        }
        out += '}';
    }
    add_key("measure");
    append_json_string(r.measure, out);
    add_key("value");
    append_json_value(r.value, out);
    if (!r.must_be.empty()) {
        add_key("must_be");
        append_json_string(r.must_be, out);
    }
    if (!r.should_be.empty()) {
        add_key("should_be");
        append_json_string(r.should_be, out);
    }
    add_key("outcome");
    append_json_string(to_string(r.outcome), out);
    add_key("severity");
    append_json_string(severity_of(r), out);
    add_key("records");
    out += std::to_string(r.records);
    add_key("emitted_at");
    time::format_rfc3339_ms(r.emitted_at, time_buf);
    append_json_string({time_buf, sizeof time_buf}, out);
    out += '}';
}

}  // namespace weir
