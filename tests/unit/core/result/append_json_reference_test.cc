// The fast JSON line writer against a plain reference (the straightforward encoder weir had
// before): byte for byte, on random results with escapes, groups, nulls, NaN/inf and odd
// numbers, appended into buffers that already hold text.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "core/result/check_result.h"
#include "core/sketch/hash.h"

namespace weir {
namespace {

namespace reference {

void json_string(std::string_view s, std::string& out) {
    out += '"';
    for (const char c : s) {
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
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char esc[7];
                    std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned char>(c));
                    out += esc;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

void json_value(const measure_value& v, std::string& out) {
    switch (v.kind) {
        case measure_kind::null:
            out += "null";
            return;
        case measure_kind::boolean:
            out += v.boolean ? "true" : "false";
            return;
        case measure_kind::string:
            json_string(v.text, out);
            return;
        case measure_kind::number: {
            if (!std::isfinite(v.number)) {
                out += "null";
                return;
            }
            char buf[32];
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.number);
            out.append(buf, ec == std::errc() ? end : buf);
            return;
        }
    }
}

std::string id(const check_result& r) {
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
        json_value(value, v);
        add(v);
    }
    const std::uint64_t h = hashing::hash_bytes(key.data(), key.size(), 0x7765697221ull);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

void line(const check_result& r, std::string& out) {
    auto field = [&](const char* key, bool first = false) {
        if (!first) out += ',';
        json_string(key, out);
        out += ':';
    };
    out += '{';
    field("id", true);
    json_string(id(r), out);
    field("pipeline");
    json_string(r.pipeline, out);
    field("node");
    json_string(r.node, out);
    field("check");
    json_string(r.check, out);
    field("window_start");
    json_string(time::format_rfc3339_ms(r.window_start), out);
    field("window_end");
    json_string(time::format_rfc3339_ms(r.window_end), out);
    field("group");
    if (r.group.empty()) {
        out += "null";
    } else {
        out += '{';
        for (std::size_t i = 0; i < r.group.size(); ++i) {
            if (i) out += ',';
            json_string(r.group[i].first, out);
            out += ':';
            json_value(r.group[i].second, out);
        }
        out += '}';
    }
    field("measure");
    json_string(r.measure, out);
    field("value");
    json_value(r.value, out);
    if (!r.must_be.empty()) {
        field("must_be");
        json_string(r.must_be, out);
    }
    if (!r.should_be.empty()) {
        field("should_be");
        json_string(r.should_be, out);
    }
    field("outcome");
    json_string(to_string(r.outcome), out);
    field("severity");
    json_string(r.must_be.empty() ? "warn" : "fail", out);
    field("records");
    out += std::to_string(r.records);
    if (r.partial) {
        field("partial");
        out += "true";
    }
    if (r.approximate) {
        field("approximate");
        out += "true";
    }
    if (!r.fields.empty()) {
        field("fields");
        for (std::size_t i = 0; i < r.fields.size(); ++i) {
            out += i == 0 ? '[' : ',';
            json_string(r.fields[i], out);
        }
        out += ']';
    }
    if (!r.samples.empty()) {
        field("samples");
        for (std::size_t i = 0; i < r.samples.size(); ++i) {
            out += i == 0 ? '[' : ',';
            out += r.samples[i];  // a JSON object already
        }
        out += ']';
    }
    if (r.expected) {
        const expected_evidence& e = *r.expected;
        field("expected");
        out += "{\"state\":";
        json_string(e.state, out);
        if (!e.reason.empty()) {
            out += ",\"reason\":";
            json_string(e.reason, out);
        }
        const auto number = [&](std::string_view key, double v) {
            if (!std::isfinite(v)) return;
            out += ',';
            json_string(key, out);
            out += ':';
            json_value(measure_value::make_number(v), out);
        };
        number("value", e.value);
        number("low", e.low);
        number("high", e.high);
        if (*e.tested != '\0') number(e.tested, e.tested_value);
        out += ",\"history\":" + std::to_string(e.history);
        if (e.needed > 0) out += ",\"needed\":" + std::to_string(e.needed);
        if (!e.bucket.empty()) {
            out += ",\"bucket\":";
            json_string(e.bucket, out);
        }
        if (e.reference != 0) {
            out += ",\"reference\":";
            json_string(time::format_rfc3339_ms(e.reference), out);
        }
        out += '}';
    }
    field("emitted_at");
    json_string(time::format_rfc3339_ms(r.emitted_at), out);
    out += '}';
}

}  // namespace reference

class random_results {
  public:
    explicit random_results(std::uint64_t seed) : rng_(seed) {}

    std::string text() {
        static const std::string pieces[] = {
            "a",    "volume",   "k-0042",       "mean(value)", "[10, 30]",
            "> 0",  "\"",       "\\",           "\n",          "\t",
            "\r",   "\b",       "\f",           "\x01",        "\x1f",
            "\x7f", "\xc3\xa9", "\xe2\x82\xac", " ",           "0123456789abcdef",
            "/",    "\xff"};
        std::string s;
        const int n = pick(0, 12);
        for (int i = 0; i < n; ++i) {
            s += pick(0, 3) == 0 ? pieces[pick(0, std::size(pieces) - 1)]
                                 : std::string(1, static_cast<char>(pick(0, 255)));
        }
        if (pick(0, 20) == 0) s += std::string(pick(0, 2000), 'x');  // long runs
        return s;
    }

    double number() {
        switch (pick(0, 11)) {
            case 0:
                return std::numeric_limits<double>::quiet_NaN();
            case 1:
                return pick(0, 1) ? std::numeric_limits<double>::infinity()
                                  : -std::numeric_limits<double>::infinity();
            case 2:
                return pick(0, 1) ? 0.0 : -0.0;
            case 3:
                return static_cast<double>(pick(-200000, 200000));  // the integer fast path
            case 4:
                return pick(0, 1) ? 99999.0 : -99999.0;
            case 5:
                return pick(0, 1) ? 100000.0 : -100000.0;
            case 6:
                return std::ldexp(uniform(), pick(-1074, 1023));  // tiny to huge
            case 7:
                return pick(0, 1) ? std::numeric_limits<double>::denorm_min()
                                  : std::numeric_limits<double>::max();
            case 8:
                return static_cast<double>(pick(-1000000, 1000000)) * 1e12;
            case 9:
                return 99999.5;
            default:
                return (uniform() - 0.5) * 200;
        }
    }

    measure_value value() {
        switch (pick(0, 5)) {
            case 0:
                return measure_value::make_null();
            case 1:
                return measure_value::make_boolean(pick(0, 1));
            case 2:
                return measure_value::make_string(text());
            default:
                return measure_value::make_number(number());
        }
    }

    time::timestamp_ns when() {
        // 1678 to 2261, with consecutive results often in the same second (the writer's cache).
        if (pick(0, 20) == 0) return pick(-1, 1);  // the epoch, and around it
        if (pick(0, 2) == 0) return last_ + pick(0, 1500) * time::ns_per_ms / 3 + pick(0, 999);
        last_ = static_cast<time::timestamp_ns>((uniform() - 0.5) * 1.8e19);
        return last_;
    }

    check_result result() {
        check_result r;
        r.pipeline = text();
        r.node = text();
        r.check = text();
        r.window_start = when();
        r.window_end = when();
        const int groups = pick(0, 3);
        for (int i = 0; i < groups; ++i) r.group.emplace_back(text(), value());
        r.measure = text();
        r.value = value();
        if (pick(0, 1)) r.must_be = text();
        if (pick(0, 1)) r.should_be = text();
        r.outcome = static_cast<outcome>(pick(0, 3));
        r.records = pick(0, 3) == 0 ? static_cast<std::int64_t>(rng_()) : pick(-5, 1000000);
        const int fields = pick(0, 4) == 0 ? pick(1, 5) : 0;
        for (int i = 0; i < fields; ++i) r.fields.push_back(text());
        const int samples = pick(0, 4) == 0 ? pick(1, 5) : 0;
        for (int i = 0; i < samples; ++i) {
            std::string sample = "{\"x\":";
            reference::json_string(text(), sample);
            r.samples.push_back(sample + "}");
        }
        r.emitted_at = when();
        r.partial = pick(0, 3) == 0;
        r.approximate = pick(0, 3) == 0;
        if (pick(0, 3) == 0) {
            auto e = std::make_shared<expected_evidence>();
            const auto number = [&] {
                const measure_value v = value();
                return v.is_number() ? v.number : std::numeric_limits<double>::quiet_NaN();
            };
            if (pick(0, 2) == 0) {
                e->state = "warming_up";
                e->reason = text();
                e->needed = static_cast<std::uint32_t>(pick(1, 700));
            } else {
                e->value = number();
                e->low = number();
                e->high = pick(0, 3) == 0 ? std::numeric_limits<double>::infinity() : number();
                static const char* tested[] = {"", "z", "change", "relative_change"};
                e->tested = tested[pick(0, 3)];
                e->tested_value = number();
                e->bucket = pick(0, 1) ? text() : "";
                e->reference = pick(0, 1) ? when() : 0;
            }
            e->history = static_cast<std::uint32_t>(pick(0, 672));
            r.expected = std::move(e);
        }
        return r;
    }

  private:
    int pick(std::int64_t lo, std::int64_t hi) {
        return static_cast<int>(std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_));
    }
    double uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

    std::mt19937_64 rng_;
    time::timestamp_ns last_ = 0;
};

TEST(append_json_reference, random_results_are_written_byte_for_byte_as_the_reference) {
    random_results gen(20261120);
    std::string fast = "previous line\n";
    std::string slow = fast;
    for (int i = 0; i < 20000; ++i) {
        const check_result r = gen.result();
        const std::size_t before = fast.size();
        append_json(r, fast);
        reference::line(r, slow);
        // The new line alone, so a failure prints one line; the text before it is compared too.
        ASSERT_EQ(fast.substr(before), slow.substr(before)) << "result " << i;
        ASSERT_EQ(fast.compare(0, before, slow, 0, before), 0);
        ASSERT_EQ(result_id(r), reference::id(r));
        ASSERT_EQ(fast.substr(before + 7, 16), result_id(r));
        fast += '\n';
        slow += '\n';
        if (fast.size() > (1u << 20)) {
            fast.clear();
            slow.clear();
        }
    }
}

TEST(append_json_reference, values_and_strings_alone_match_the_reference) {
    random_results gen(7);
    for (int i = 0; i < 20000; ++i) {
        const measure_value v = gen.value();
        std::string fast = "x";
        std::string slow = "x";
        append_json_value(v, fast);
        reference::json_value(v, slow);
        ASSERT_EQ(fast, slow);
        const std::string s = gen.text();
        fast.clear();
        slow.clear();
        append_json_string(s, fast);
        reference::json_string(s, slow);
        ASSERT_EQ(fast, slow);
    }
}

TEST(append_json_reference, one_escape_at_every_position_of_short_and_long_strings) {
    // The writer copies words and overlapping tails; each length and position is its own case.
    for (std::size_t n = 0; n <= 40; ++n) {
        for (const char special : {'"', '\\', '\n', '\x01', '\x1f', '\x7f', '\xe9'}) {
            for (std::size_t at = 0; at <= n; ++at) {
                std::string text(n, 'a');
                for (std::size_t i = 0; i < n; ++i) text[i] = static_cast<char>('a' + i % 26);
                if (at < n) text[at] = special;
                std::string fast = "[";
                std::string slow = "[";
                append_json_string(text, fast);
                reference::json_string(text, slow);
                ASSERT_EQ(fast, slow) << "length " << n << ", at " << at;
            }
        }
    }
}

TEST(append_json_reference, every_integer_near_the_fixed_notation_limit_matches_to_chars) {
    // The writer prints small integers without std::to_chars(double); it must agree with it
    // on both sides of the limit (100000 is "1e+05").
    for (int i = -120000; i <= 120000; ++i) {
        std::string fast;
        std::string slow;
        append_json_value(measure_value::make_number(i), fast);
        reference::json_value(measure_value::make_number(i), slow);
        ASSERT_EQ(fast, slow) << i;
    }
    std::string neg_zero;
    append_json_value(measure_value::make_number(-0.0), neg_zero);
    EXPECT_EQ(neg_zero, "-0");
}

}  // namespace
}  // namespace weir
