// Test records for the node engine: a few fields (group g, values x and y), an event time and a
// validity flag, turned into record_batch values. The harness owns the strings.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "core/engine/node_engine.h"
#include "core/record/batch.h"

namespace weir::test {

using time::timestamp_ns;
constexpr timestamp_ns k_s = time::ns_per_s;
constexpr timestamp_ns k_ms = time::ns_per_ms;

struct test_record {
    timestamp_ns t = 0;
    field_value g;
    field_value x;
    field_value y;
    bool valid = true;
    bool kept = false;  // invalid, but kept by on_invalid: keep
};

// Slots: 0 = g, 1 = x, 2 = y.
inline std::vector<field_path> test_fields() {
    return {field_path{{"g"}}, field_path{{"x"}}, field_path{{"y"}}};
}

struct string_pool {
    std::deque<std::string> strings;
    field_value make(std::string s) {
        strings.push_back(std::move(s));
        return field_value::make_string(strings.back());
    }
};

inline void fill_batch(const std::vector<test_record>& recs, record_batch& batch,
                       std::vector<timestamp_ns>& times) {
    batch.clear();
    batch.slots = 3;
    times.clear();
    for (const auto& r : recs) {
        const std::size_t i = batch.add_record();
        auto rec = batch.record(i);
        rec[0] = r.g;
        rec[1] = r.x;
        rec[2] = r.y;
        batch.status[i] = r.kept    ? invalid_reason::schema_kept
                          : r.valid ? invalid_reason::none
                                    : invalid_reason::schema;
        times.push_back(r.t);
    }
}

inline engine::node_plan basic_plan(window::window_spec w) {
    engine::node_plan p;
    p.pipeline = "p";
    p.node = "n";
    p.window = w;
    p.fields = test_fields();
    return p;
}

inline window::window_spec tumbling(timestamp_ns size, timestamp_ns lateness = 0) {
    window::window_spec w;
    w.kind = window::window_kind::tumbling;
    w.size = size;
    w.allowed_lateness = lateness;
    return w;
}

inline window::window_spec sliding(timestamp_ns size, timestamp_ns slide,
                                   timestamp_ns lateness = 0) {
    window::window_spec w;
    w.kind = window::window_kind::sliding;
    w.size = size;
    w.slide = slide;
    w.allowed_lateness = lateness;
    return w;
}

inline window::window_spec session(timestamp_ns gap, timestamp_ns lateness = 0) {
    window::window_spec w;
    w.kind = window::window_kind::session;
    w.gap = gap;
    w.allowed_lateness = lateness;
    return w;
}

// Feeds `recs` as one batch.
inline void feed(engine::node_engine& e, const std::vector<test_record>& recs, timestamp_ns arrival,
                 std::vector<check_result>& out, std::vector<std::uint32_t>* late = nullptr,
                 std::size_t source = 0) {
    record_batch batch;
    std::vector<timestamp_ns> times;
    fill_batch(recs, batch, times);
    e.process(batch, times, arrival, out, late, source);
}

inline test_record num(timestamp_ns t, double x, double g = 0) {
    return {t, field_value::make_number(g), field_value::make_number(x),
            field_value::make_number(0), true};
}

}  // namespace weir::test
