// Schema drift: the tracker's first-seen types, nesting and bounds, learning versus declared
// fields, its snapshot, and the per-window accumulator's three measures with their names.
#include "core/schema/drift.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weir::schema {
namespace {

using names = std::vector<std::string>;

// One window: the records observed at `t` into a fresh accumulator.
drift_acc window(drift_tracker& tracker, const std::vector<std::string>& records,
                 time::timestamp_ns t) {
    drift_acc acc;
    for (const auto& r : records) acc.add(tracker.observe(r, t, false));
    return acc;
}

TEST(drift_tracker, learns_the_first_window_then_reports_new_missing_and_retyped_fields) {
    drift_tracker tracker({});
    EXPECT_FALSE(tracker.declared());
    tracker.start_learning(100);
    const drift_acc learned = window(tracker, {R"({"a":1,"b":"x"})", R"({"a":2,"c":null})"}, 10);
    names found;
    EXPECT_EQ(learned.new_fields(tracker, &found), 0u);
    EXPECT_EQ(learned.missing_fields(tracker, 2, &found), 0u);
    EXPECT_EQ(learned.type_changes(tracker, &found), 0u);
    EXPECT_TRUE(found.empty());

    // After the learning period: d is new, b is missing, a changed from number to string; c
    // (only ever null so far) has no type to change from.
    const drift_acc later =
        window(tracker, {R"({"a":"3","c":null,"d":true})", R"({"a":4,"c":5,"d":false})"}, 150);
    found.clear();
    EXPECT_EQ(later.new_fields(tracker, &found), 1u);
    EXPECT_EQ(found, names{"d"});
    found.clear();
    EXPECT_EQ(later.missing_fields(tracker, 2, &found), 1u);
    EXPECT_EQ(found, names{"b"});
    found.clear();
    EXPECT_EQ(later.type_changes(tracker, &found), 1u);
    EXPECT_EQ(found, names{"a"});
    EXPECT_EQ(tracker.first_type(2), json_type::number);  // c: its first non-null type

    // A new field stays new (it is reported in every window that has it), and a window
    // without records misses nothing.
    const drift_acc again = window(tracker, {R"({"a":1,"b":"y","c":1,"d":true})"}, 200);
    EXPECT_EQ(again.new_fields(tracker, nullptr), 1u);
    EXPECT_EQ(again.missing_fields(tracker, 1, nullptr), 0u);
    EXPECT_EQ(again.type_changes(tracker, nullptr), 0u);
    EXPECT_EQ(drift_acc{}.missing_fields(tracker, 0, nullptr), 0u);
}

TEST(drift_tracker, declared_fields_are_expected_and_nothing_is_learned) {
    drift_tracker tracker({"id", "payload.size"});
    EXPECT_TRUE(tracker.declared());
    tracker.start_learning(1000);  // ignored: the schema decides
    const drift_acc acc = window(tracker, {R"({"id":"1","extra":1,"payload":{"kind":"a"}})"}, 0);
    names found;
    EXPECT_EQ(acc.new_fields(tracker, &found), 2u);
    EXPECT_EQ(found, (names{"extra", "payload.kind"}));
    found.clear();
    EXPECT_EQ(acc.missing_fields(tracker, 1, &found), 1u);
    EXPECT_EQ(found, names{"payload.size"});
}

TEST(drift_tracker, nested_paths_arrays_and_odd_keys) {
    drift_tracker tracker({});
    tracker.start_learning(1);
    window(tracker, {R"({"a":{"b":{"c":{"d":{"e":1}}}},"list":[{"x":1}],"odd key":1,"e\u0301":2})"},
           0);
    names all;
    for (std::size_t i = 0; i < tracker.fields(); ++i) all.push_back(tracker.name(i));
    // Four levels at most (a.b.c.d is an object, not walked into); arrays are one field.
    EXPECT_EQ(all,
              (names{"a", "a.b", "a.b.c", "a.b.c.d", "list", "[\"odd key\"]", "[\"e\xcc\x81\"]"}));
    EXPECT_EQ(tracker.first_type(3), json_type::object);
    EXPECT_EQ(tracker.first_type(4), json_type::array);
    // A nested field that changes type; a parent that stops being an object.
    const drift_acc acc = window(tracker, {R"({"a":{"b":[1]},"list":{}})"}, 5);
    names found;
    EXPECT_EQ(acc.type_changes(tracker, &found), 2u);
    EXPECT_EQ(found, (names{"a.b", "list"}));
    found.clear();
    EXPECT_EQ(acc.missing_fields(tracker, 1, &found), 4u);
    EXPECT_EQ(found, (names{"a.b.c", "a.b.c.d", "[\"odd key\"]", "[\"e\xcc\x81\"]"}));
}

TEST(drift_tracker, tracks_a_bounded_number_of_fields_and_counts_the_rest) {
    drift_tracker tracker({});
    tracker.start_learning(1);
    std::string wide = "{";
    for (std::size_t i = 0; i < k_max_drift_fields + 10; ++i) {
        wide += (i ? ",\"f" : "\"f") + std::to_string(i) + "\":" + std::to_string(i);
    }
    wide += "}";
    const drift_acc acc = window(tracker, {wide}, 0);
    EXPECT_EQ(tracker.fields(), k_max_drift_fields);
    EXPECT_EQ(tracker.untracked(), 10u);
    EXPECT_EQ(acc.missing_fields(tracker, 1, nullptr), 0u);
    // A record of untracked fields only: nothing of it is counted, its occurrences are.
    const drift_acc later = window(tracker, {R"({"zz":1})"}, 5);
    EXPECT_EQ(later.new_fields(tracker, nullptr), 0u);
    EXPECT_EQ(tracker.untracked(), 11u);
}

TEST(drift_tracker, malformed_text_yields_no_fields) {
    drift_tracker tracker({});
    tracker.start_learning(1);
    EXPECT_TRUE(tracker.observe("[1,2]", 0, false).empty());
    EXPECT_TRUE(tracker.observe("{\"a\":", 0, false).empty());
    EXPECT_TRUE(tracker.observe("nope", 0, false).empty());
    EXPECT_EQ(tracker.fields(), 0u);
}

TEST(drift_tracker, snapshot_round_trip_keeps_ids_types_and_learning) {
    drift_tracker tracker({"id"});
    window(tracker, {R"({"id":1,"x":"s","y":{"z":null}})"}, 0);
    byte_writer w;
    tracker.snapshot(w);
    const std::string bytes = w.take();

    drift_tracker restored({"id"});
    byte_reader r(bytes);
    ASSERT_TRUE(restored.restore(r));
    ASSERT_EQ(restored.fields(), tracker.fields());
    for (std::size_t i = 0; i < tracker.fields(); ++i) {
        EXPECT_EQ(restored.name(i), tracker.name(i));
        EXPECT_EQ(restored.expected(i), tracker.expected(i));
        EXPECT_EQ(restored.first_type(i), tracker.first_type(i));
    }
    // The restored tracker goes on as the original does.
    const drift_acc a = window(tracker, {R"({"id":"1","x":"t","w":1})"}, 10);
    const drift_acc b = window(restored, {R"({"id":"1","x":"t","w":1})"}, 10);
    EXPECT_EQ(a.types, b.types);
    names fa;
    names fb;
    a.new_fields(tracker, &fa);
    b.new_fields(restored, &fb);
    EXPECT_EQ(fa, fb);

    // Learning period too.
    drift_tracker learner({});
    learner.start_learning(42);
    byte_writer lw;
    learner.snapshot(lw);
    const std::string learned = lw.take();
    drift_tracker back({});
    byte_reader lr(learned);
    ASSERT_TRUE(back.restore(lr));
    EXPECT_TRUE(back.learning_started());
    EXPECT_EQ(back.learn_until(), 42);

    // Every truncation fails cleanly.
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        drift_tracker t({"id"});
        byte_reader cut(std::string_view(bytes).substr(0, n));
        EXPECT_FALSE(t.restore(cut)) << n;
    }
}

TEST(drift_acc, merge_serialize_and_deserialize) {
    drift_tracker tracker({});
    tracker.start_learning(1);
    drift_acc a = window(tracker, {R"({"a":1})"}, 0);
    const drift_acc b = window(tracker, {R"({"a":"x","b":2})"}, 0);
    a.merge(b);
    EXPECT_EQ(a.type_changes(tracker, nullptr), 1u);
    byte_writer w;
    a.serialize(w);
    const std::string bytes = w.take();
    drift_acc back;
    byte_reader r(bytes);
    ASSERT_TRUE(back.deserialize(r));
    EXPECT_EQ(back.types, a.types);
}

}  // namespace
}  // namespace weir::schema
