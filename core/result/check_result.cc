// Check results: id, severity and the JSON line; see check_result.h.
// The JSON line is written through a raw pointer into room reserved once per call (an upper
// bound of its length): outputs of busy pipelines spend their time here.
#include "core/result/check_result.h"

#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>

#include "core/sketch/hash.h"

namespace weir {

const group_key& result_group::empty_key() {
    static const group_key empty;
    return empty;
}

group_key& result_group::own() {
    if (!shared_) {
        shared_ = std::make_shared<shared>(group_key{});
    } else if (shared_.use_count() > 1) {
        shared_ = std::make_shared<shared>(shared_->key);
    } else {
        delete shared_->text.exchange(nullptr, std::memory_order_acq_rel);  // about to change
    }
    return shared_->key;
}

namespace {

// Each outcome's text, NUL-terminated (to_string hands out its data()).
std::string_view outcome_text(outcome o) {
    static constexpr std::string_view texts[] = {"pass", "warn", "fail", "no_data"};
    const auto i = static_cast<std::size_t>(o);
    return i < std::size(texts) ? texts[i] : "no_data";
}

}  // namespace

const char* to_string(outcome o) {
    return outcome_text(o).data();
}

std::string_view severity_of(const check_result& r) {
    return r.must_be.empty() ? "warn" : "fail";
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

constexpr char k_hex[] = "0123456789abcdef";

// Longest JSON text of n bytes of string: each byte as \u00XX, and the quotes.
constexpr std::size_t string_bound(std::size_t n) {
    return 6 * n + 2;
}
// Longest non-string value: std::to_chars of a double takes at most 24 characters.
constexpr std::size_t number_bound = 32;

std::size_t value_bound(const measure_value& v) {
    return v.kind == measure_kind::string ? string_bound(v.text.size()) : number_bound;
}

char* put(char* p, std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
}

// True when one of the 8 bytes of w is below 0x20, '"' or '\\' (exact for "any": a borrow
// can only start at a byte that matches).
bool needs_escape(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101ull;
    constexpr std::uint64_t highs = 0x8080808080808080ull;
    const std::uint64_t quote = w ^ (ones * '"');
    const std::uint64_t backslash = w ^ (ones * '\\');
    const std::uint64_t hit =
        ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash);
    return (hit & highs) != 0;
}

char* put_char(char* p, char c) {
    const auto u = static_cast<unsigned char>(c);
    if (!k_escape[u]) {
        *p = c;
        return p + 1;
    }
    p[0] = '\\';
    switch (c) {
        case '"':
            p[1] = '"';
            return p + 2;
        case '\\':
            p[1] = '\\';
            return p + 2;
        case '\n':
            p[1] = 'n';
            return p + 2;
        case '\r':
            p[1] = 'r';
            return p + 2;
        case '\t':
            p[1] = 't';
            return p + 2;
        case '\b':
            p[1] = 'b';
            return p + 2;
        case '\f':
            p[1] = 'f';
            return p + 2;
        default:
            p[1] = 'u';
            p[2] = '0';
            p[3] = '0';
            p[4] = k_hex[u >> 4];
            p[5] = k_hex[u & 15];
            return p + 6;
    }
}

std::uint64_t load64(const char* q) {
    std::uint64_t w;
    std::memcpy(&w, q, 8);
    return w;
}

std::uint32_t load32(const char* q) {
    std::uint32_t w;
    std::memcpy(&w, q, 4);
    return w;
}

// Needs string_bound(s.size()) bytes of room. Words of eight bytes are copied whole when none
// needs an escape (the room always holds them: 6n + 2 >= n + 8 when n >= 8); so are the last
// eight bytes for the tail, overlapping bytes that, needing no escape, were written as they
// are just before; strings of 4 to 7 bytes take two overlapping loads.
char* put_string(char* p, std::string_view s) {
    *p++ = '"';
    const char* q = s.data();
    const std::size_t n = s.size();
    const char* const end = q + n;
    if (n >= 8) {
        for (; end - q >= 8; q += 8) {
            const std::uint64_t w = load64(q);
            if (!needs_escape(w)) {
                std::memcpy(p, &w, 8);
                p += 8;
            } else {
                for (int i = 0; i < 8; ++i) p = put_char(p, q[i]);
            }
        }
        const auto tail = static_cast<std::size_t>(end - q);
        if (tail > 0) {
            const std::uint64_t w = load64(end - 8);
            if (!needs_escape(w)) {
                std::memcpy(p + tail - 8, &w, 8);
                p += tail;
                q = end;
            }
        }
    } else if (n >= 4) {
        const std::uint32_t head = load32(q);
        const std::uint32_t last = load32(end - 4);
        if (!needs_escape(head | static_cast<std::uint64_t>(last) << 32)) {
            std::memcpy(p, &head, 4);
            std::memcpy(p + n - 4, &last, 4);
            p += n;
            q = end;
        }
    }
    while (q < end) p = put_char(p, *q++);
    *p++ = '"';
    return p;
}

// Needs number_bound bytes of room. Integers of up to five digits (counts, small extremes)
// skip the shortest-representation search: std::to_chars prints them in fixed notation
// anyway, since no scientific form is shorter. -0.0 takes the general path ("-0").
char* put_number(char* p, double d) {
    if (!std::isfinite(d)) return put(p, "null");
    if (d > -100000.0 && d < 100000.0) {
        const auto i = static_cast<std::int32_t>(d);
        if (static_cast<double>(i) == d && (i != 0 || !std::signbit(d))) {
            return std::to_chars(p, p + number_bound, i).ptr;
        }
    }
    const auto [end, ec] = std::to_chars(p, p + number_bound, d);
    return ec == std::errc() ? end : p;
}

char* put_value(char* p, const measure_value& v) {
    switch (v.kind) {
        case measure_kind::null:
            return put(p, "null");
        case measure_kind::boolean:
            return v.boolean ? put(p, "true") : put(p, "false");
        case measure_kind::string:
            return put_string(p, v.text);
        case measure_kind::number:
            return put_number(p, v.number);
    }
    return p;
}

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Copies short parts inline, by overlapping loads, rather than through a call to memcpy.
char* put_short(char* p, std::string_view s) {
    const char* q = s.data();
    const std::size_t n = s.size();
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 <= n; i += 8) std::memcpy(p + i, q + i, 8);
        std::memcpy(p + n - 8, q + n - 8, 8);
    } else if (n >= 4) {
        std::memcpy(p, q, 4);
        std::memcpy(p + n - 4, q + n - 4, 4);
    } else {
        for (std::size_t i = 0; i < n; ++i) p[i] = q[i];
    }
    return p + n;
}

// The id's key: fields separated by a byte that cannot occur in UTF-8 text, so ("ab", "c")
// and ("a", "bc") differ; window_start in whole milliseconds (what results show); group
// values as JSON. Fixed forever: see result_id().
//
// Consecutive results mostly share their window: its milliseconds are formatted once per
// window (per thread), and the group's part once per group (result_group::text()).
struct window_ms_text {
    time::timestamp_ns window_start = 0;
    std::size_t size = 0;  // 0: nothing cached yet
    char text[24];
};
thread_local window_ms_text t_window_ms;

std::string_view window_ms_of(time::timestamp_ns window_start) {
    window_ms_text& c = t_window_ms;
    if (c.size == 0 || c.window_start != window_start) {
        c.window_start = window_start;
        c.size = static_cast<std::size_t>(
            std::to_chars(c.text, c.text + sizeof c.text, floor_div(window_start, time::ns_per_ms))
                .ptr -
            c.text);
    }
    return {c.text, c.size};
}

char* put_id_key(char* p, const check_result& r, std::string_view group) {
    for (const interned_text* part : {&r.pipeline, &r.node, &r.check}) {
        p = put_short(p, part->view());
        *p++ = '\xff';
    }
    p = put_short(p, window_ms_of(r.window_start));
    *p++ = '\xff';
    return put_short(p, group);
}

std::uint64_t id_hash(const check_result& r) {
    constexpr std::uint64_t seed = 0x7765697221ull;
    const std::string& group = r.group.text().id_key;
    const std::size_t bound =
        r.pipeline.size() + r.node.size() + r.check.size() + 24 + 4 + group.size();
    char local[512];
    if (bound <= sizeof local) {
        const char* end = put_id_key(local, r, group);
        return hashing::hash_bytes(local, static_cast<std::size_t>(end - local), seed);
    }
    // Long names or group values: a per-thread buffer, grown once, not per result.
    thread_local std::string big;
    if (big.size() < bound) big.resize(bound);
    const char* end = put_id_key(big.data(), r, group);
    return hashing::hash_bytes(big.data(), static_cast<std::size_t>(end - big.data()), seed);
}

// Each byte's two hex digits.
constexpr auto k_hex_pairs = [] {
    std::array<char, 512> t{};
    for (std::size_t b = 0; b < 256; ++b) {
        t[2 * b] = k_hex[b >> 4];
        t[2 * b + 1] = k_hex[b & 15];
    }
    return t;
}();

char* put_hex16(char* p, std::uint64_t h) {
    for (int i = 14; i >= 0; i -= 2) {
        std::memcpy(p + i, &k_hex_pairs[2 * (h & 0xff)], 2);
        h >>= 8;
    }
    return p + 16;
}

// The text of the last second formatted in one slot (window_start, window_end, emitted_at):
// consecutive results share their window bounds, and mostly their emission second, so
// only the milliseconds are rewritten. Per thread, as outputs may run on any thread.
struct time_text {
    time::timestamp_ns time = 0;  // text is the time of this instant, in this second
    std::int64_t second = 0;
    char text[24] = {'1', '9', '7', '0', '-', '0', '1', '-', '0', '1', 'T', '0',
                     '0', ':', '0', '0', ':', '0', '0', '.', '0', '0', '0', 'Z'};
};
thread_local time_text t_times[3];

// Formats t into the cache: only the milliseconds when the second is the cached one.
void write_time(time::timestamp_ns t, time_text& cache) {
    cache.time = t;
    const std::int64_t ms = floor_div(t, time::ns_per_ms);
    const std::int64_t second = floor_div(ms, 1000);
    if (second != cache.second) {
        time::format_rfc3339_ms(t, cache.text);
        cache.second = second;
    } else {
        const auto millis = static_cast<int>(ms - second * 1000);
        cache.text[20] = static_cast<char>('0' + millis / 100);
        cache.text[21] = static_cast<char>('0' + millis / 10 % 10);
        cache.text[22] = static_cast<char>('0' + millis % 10);
    }
}

// Writes the quoted time (26 bytes).
char* put_time(char* p, time::timestamp_ns t, time_text& cache) {
    if (t != cache.time) write_time(t, cache);
    *p++ = '"';
    p = put(p, {cache.text, sizeof cache.text});
    *p++ = '"';
    return p;
}

// Every byte of a line except its strings, values and times (the keys, punctuation, the
// id, outcome, severity, records, partial and approximate) fits in this: about 260 at most.
constexpr std::size_t fixed_bound = 288;

}  // namespace

const group_text& result_group::render() const {
    static const group_text none{"null", ""};
    if (!shared_ || shared_->key.empty()) return none;
    auto made = std::make_unique<group_text>();
    made->json = "{";
    for (const auto& [name, value] : shared_->key) {
        if (made->json.size() > 1) made->json += ',';
        append_json_string(name, made->json);
        made->json += ':';
        append_json_value(value, made->json);
        made->id_key += name;
        made->id_key += '\xff';
        append_json_value(value, made->id_key);
        made->id_key += '\xff';
    }
    made->json += '}';
    // Another thread may have rendered it meanwhile: the first one stays.
    const group_text* expected = nullptr;
    if (shared_->text.compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel)) {
        return *made.release();
    }
    return *expected;
}

std::string result_id(const check_result& r) {
    std::string id(16, '0');
    put_hex16(id.data(), id_hash(r));
    return id;
}

void append_json_string(std::string_view s, std::string& out) {
    const std::size_t old = out.size();
    out.resize(old + string_bound(s.size()));
    char* const end = put_string(out.data() + old, s);
    out.resize(static_cast<std::size_t>(end - out.data()));
}

void append_json_value(const measure_value& v, std::string& out) {
    const std::size_t old = out.size();
    out.resize(old + value_bound(v));
    char* const end = put_value(out.data() + old, v);
    out.resize(static_cast<std::size_t>(end - out.data()));
}

void append_json(const check_result& r, std::string& out) {
    std::size_t bound = fixed_bound + r.pipeline.json().size() + r.node.json().size() +
                        r.check.json().size() + r.measure.json().size() + r.must_be.json().size() +
                        r.should_be.json().size() + value_bound(r.value) + 3 * 26;
    const group_text& group = r.group.text();
    bound += group.json.size();
    if (!r.fields.empty()) bound += 12;  // ,"fields":[ and ]
    for (const auto& f : r.fields) bound += string_bound(f.size()) + 1;
    if (!r.samples.empty()) bound += 13;  // ,"samples":[ and ]
    for (const auto& s : r.samples) bound += s.size() + 1;
    if (!r.dependency_down.empty()) bound += 21;  // ,"dependency_down":[ and ]
    for (const auto& d : r.dependency_down) bound += string_bound(d.size()) + 1;
    std::string expected;
    if (r.expected) {
        append_expected_json(*r.expected, expected);
        bound += expected.size() + 12;  // ,"expected":
    }
    std::string reconciliation;
    if (r.reconciliation) {
        append_reconciliation_json(*r.reconciliation, reconciliation);
        bound += reconciliation.size() + 18;  // ,"reconciliation":
    }
    const std::size_t old = out.size();
    out.resize(old + bound);
    char* const begin = out.data() + old;
    char* p = begin;

    p = put(p, "{\"id\":\"");
    p = put_hex16(p, id_hash(r));
    p = put(p, "\",\"pipeline\":");
    p = put_short(p, r.pipeline.json());
    p = put(p, ",\"node\":");
    p = put_short(p, r.node.json());
    p = put(p, ",\"check\":");
    p = put_short(p, r.check.json());
    p = put(p, ",\"window_start\":");
    p = put_time(p, r.window_start, t_times[0]);
    p = put(p, ",\"window_end\":");
    p = put_time(p, r.window_end, t_times[1]);
    p = put(p, ",\"group\":");
    p = put(p, group.json);
    p = put(p, ",\"measure\":");
    p = put_short(p, r.measure.json());
    p = put(p, ",\"value\":");
    p = put_value(p, r.value);
    if (!r.must_be.empty()) {
        p = put(p, ",\"must_be\":");
        p = put_short(p, r.must_be.json());
    }
    if (!r.should_be.empty()) {
        p = put(p, ",\"should_be\":");
        p = put_short(p, r.should_be.json());
    }
    p = put(p, ",\"outcome\":\"");
    p = put(p, outcome_text(r.outcome));
    p = put(p, "\",\"severity\":\"");
    p = put(p, severity_of(r));
    p = put(p, "\",\"records\":");
    p = std::to_chars(p, p + 21, r.records).ptr;
    if (r.partial) p = put(p, ",\"partial\":true");
    if (r.approximate) p = put(p, ",\"approximate\":true");
    if (!r.fields.empty()) {
        char sep = '[';
        p = put(p, ",\"fields\":");
        for (const auto& f : r.fields) {
            *p++ = sep;
            sep = ',';
            p = put_string(p, f);
        }
        *p++ = ']';
    }
    if (!r.samples.empty()) {
        // Each sample is a JSON object already (measure::sample_acc).
        char sep = '[';
        p = put(p, ",\"samples\":");
        for (const auto& s : r.samples) {
            *p++ = sep;
            sep = ',';
            p = put(p, s);
        }
        *p++ = ']';
    }
    if (!r.dependency_down.empty()) {
        char sep = '[';
        p = put(p, ",\"dependency_down\":");
        for (const auto& d : r.dependency_down) {
            *p++ = sep;
            sep = ',';
            p = put_string(p, d);
        }
        *p++ = ']';
    }
    if (!expected.empty()) {
        p = put(p, ",\"expected\":");
        p = put(p, expected);
    }
    if (!reconciliation.empty()) {
        p = put(p, ",\"reconciliation\":");
        p = put(p, reconciliation);
    }
    p = put(p, ",\"emitted_at\":");
    p = put_time(p, r.emitted_at, t_times[2]);
    *p++ = '}';
    assert(p <= begin + bound);
    out.resize(old + static_cast<std::size_t>(p - begin));
}

void append_reconciliation_json(const reconciliation_summary& s, std::string& out) {
    out += "{\"left\":";
    append_json_string(s.left, out);
    out += ",\"right\":";
    append_json_string(s.right, out);
    for (const auto& [name, n] :
         {std::pair{"matched", s.matched}, std::pair{"missing_left", s.missing_left},
          std::pair{"missing_right", s.missing_right}}) {
        out += ",\"";
        out += name;
        out += "\":";
        out += std::to_string(n);
    }
    if (s.overflow > 0) out += ",\"overflow\":" + std::to_string(s.overflow);
    for (const auto& [name, keys] : {std::pair{"sample_missing_left", &s.sample_missing_left},
                                     std::pair{"sample_missing_right", &s.sample_missing_right}}) {
        if (keys->empty()) continue;
        out += ",\"";
        out += name;
        out += "\":";
        char sep = '[';
        for (const auto& k : *keys) {
            out += sep;
            sep = ',';
            out += k;  // JSON values already
        }
        out += ']';
    }
    out += '}';
}

void append_expected_json(const expected_evidence& e, std::string& out) {
    const auto number = [&](const char* key, double v) {
        if (!std::isfinite(v)) return;  // not applicable, or unbounded
        out += ",\"";
        out += key;
        out += "\":";
        append_json_value(measure_value::make_number(v), out);
    };
    out += "{\"state\":";
    append_json_string(e.state, out);
    if (!e.reason.empty()) {
        out += ",\"reason\":";
        append_json_string(e.reason, out);
    }
    number("value", e.value);
    number("low", e.low);
    number("high", e.high);
    if (*e.tested != '\0') number(e.tested, e.tested_value);
    out += ",\"history\":";
    out += std::to_string(e.history);
    if (e.needed > 0) {
        out += ",\"needed\":";
        out += std::to_string(e.needed);
    }
    if (!e.bucket.empty()) {
        out += ",\"bucket\":";
        append_json_string(e.bucket, out);
    }
    if (e.reference != 0) {
        time_text cache;
        char buf[32];
        char* end = put_time(buf, e.reference, cache);
        out += ",\"reference\":";
        out.append(buf, end);
    }
    out += '}';
}

void append_series_key(const check_result& r, std::string& out) {
    for (const interned_text* part : {&r.pipeline, &r.node, &r.check}) {
        out += part->view();
        out += '\xff';
    }
    for (const auto& [name, value] : r.group) {
        out += name;
        out += '\xff';
        append_json_value(value, out);
        out += '\xff';
    }
}

}  // namespace weir
