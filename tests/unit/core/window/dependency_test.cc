// The depends_on state machine (up, catching up, down, held, hold expired, ended) and how the
// watermark's hold modes treat a dependency's sources.
#include "core/window/dependency.h"

#include <gtest/gtest.h>

#include <limits>

#include "core/window/watermark.h"

namespace weir::window {
namespace {

constexpr timestamp_ns k_s = 1'000'000'000;

dependency_spec spec(on_down_action on_down, timestamp_ns max_hold = 0) {
    return {.input = "weather", .max_lag = 60 * k_s, .on_down = on_down, .max_hold = max_hold};
}

dependency_observation seen(timestamp_ns dependency, timestamp_ns node, timestamp_ns last_record,
                            std::int64_t backlog = -1) {
    return {.dependency_time = dependency,
            .node_time = node,
            .last_record = last_record,
            .backlog = backlog,
            .ended = false};
}

TEST(dependency, up_while_within_max_lag) {
    dependency_monitor d(spec(on_down_action::hold), 0);
    EXPECT_FALSE(d.update(seen(k_no_time, k_no_time, 0), 0)) << "nothing seen: up";
    EXPECT_EQ(d.state(), dependency_state::up);
    d.update(seen(100 * k_s, 160 * k_s, 0), 500 * k_s);
    EXPECT_EQ(d.state(), dependency_state::up) << "exactly max_lag behind is not behind";
    EXPECT_EQ(d.lag(), 60 * k_s);
    d.update(seen(200 * k_s, 160 * k_s, 0), 500 * k_s);
    EXPECT_EQ(d.lag(), 0) << "ahead of the node";
    EXPECT_TRUE(d.holds_watermark());
    EXPECT_FALSE(d.flags_results());
}

TEST(dependency, behind_with_a_backlog_is_catching_up_never_down) {
    dependency_monitor d(spec(on_down_action::continue_), 0);
    // Kafka: a backlog, and silent for far longer than max_lag: still catching up.
    EXPECT_TRUE(d.update(seen(0, 3600 * k_s, 0, 5000), 7200 * k_s));
    EXPECT_EQ(d.state(), dependency_state::catching_up);
    EXPECT_TRUE(d.holds_watermark());
    EXPECT_FALSE(d.flags_results());
    // The backlog is gone and it is still behind: down.
    EXPECT_TRUE(d.update(seen(0, 3600 * k_s, 0, 0), 7201 * k_s));
    EXPECT_EQ(d.state(), dependency_state::down);
    EXPECT_FALSE(d.holds_watermark());
    EXPECT_TRUE(d.flags_results());
    EXPECT_EQ(d.down_since(), 7201 * k_s);
}

TEST(dependency, without_a_known_backlog_records_within_max_lag_mean_catching_up) {
    dependency_monitor d(spec(on_down_action::continue_), 0);
    // A file replaying old data fast: behind, but its last record came 10 s ago.
    d.update(seen(0, 3600 * k_s, 990 * k_s), 1000 * k_s);
    EXPECT_EQ(d.state(), dependency_state::catching_up);
    // Silent for max_lag of wall clock: down.
    d.update(seen(0, 3600 * k_s, 990 * k_s), 1050 * k_s);
    EXPECT_EQ(d.state(), dependency_state::down);
    // Its records come back and catch up: up again.
    d.update(seen(3590 * k_s, 3600 * k_s, 1100 * k_s), 1100 * k_s);
    EXPECT_EQ(d.state(), dependency_state::up);
    EXPECT_EQ(d.down_since(), k_no_time);
}

TEST(dependency, no_record_yet_while_the_node_has_some_is_behind) {
    dependency_monitor d(spec(on_down_action::continue_), 0);
    d.update(seen(k_no_time, 10 * k_s, 0), 30 * k_s);
    EXPECT_EQ(d.state(), dependency_state::catching_up) << "started 30 s ago: not silent yet";
    EXPECT_EQ(d.lag(), std::numeric_limits<timestamp_ns>::max());
    d.update(seen(k_no_time, 10 * k_s, 0), 60 * k_s);
    EXPECT_EQ(d.state(), dependency_state::down);
}

TEST(dependency, hold_is_held_until_max_hold_then_degrades_to_continue) {
    dependency_monitor d(spec(on_down_action::hold, 600 * k_s), 0);
    d.update(seen(0, 3600 * k_s, 0, 0), 100 * k_s);
    EXPECT_EQ(d.state(), dependency_state::held);
    EXPECT_TRUE(d.holds_watermark());
    EXPECT_FALSE(d.flags_results()) << "held windows are not closed, so nothing to flag";
    d.update(seen(0, 3600 * k_s, 0, 0), 699 * k_s);
    EXPECT_EQ(d.state(), dependency_state::held);
    EXPECT_TRUE(d.update(seen(0, 3600 * k_s, 0, 0), 700 * k_s));
    EXPECT_EQ(d.state(), dependency_state::down);
    EXPECT_TRUE(d.hold_expired());
    EXPECT_EQ(d.holds_expired(), 1u);
    EXPECT_FALSE(d.holds_watermark());
    EXPECT_TRUE(d.flags_results());
    // Still down later: counted once.
    d.update(seen(0, 3700 * k_s, 0, 0), 800 * k_s);
    EXPECT_EQ(d.holds_expired(), 1u);
    // A backlog in between does not re-arm the hold while it stays behind...
    d.update(seen(0, 3700 * k_s, 0, 10), 810 * k_s);
    EXPECT_EQ(d.state(), dependency_state::catching_up);
    d.update(seen(0, 3700 * k_s, 0, 0), 820 * k_s);
    EXPECT_EQ(d.state(), dependency_state::down) << "the expired hold stays expired";
    // ...recovery does: the next outage is held again.
    d.update(seen(3700 * k_s, 3700 * k_s, 900 * k_s, 0), 900 * k_s);
    EXPECT_EQ(d.state(), dependency_state::up);
    EXPECT_FALSE(d.hold_expired());
    d.update(seen(3700 * k_s, 4000 * k_s, 900 * k_s, 0), 1000 * k_s);
    EXPECT_EQ(d.state(), dependency_state::held);
}

TEST(dependency, hold_without_max_hold_never_expires) {
    dependency_monitor d(spec(on_down_action::hold, 0), 0);
    d.update(seen(0, 3600 * k_s, 0, 0), 10 * k_s);
    d.update(seen(0, 3600 * k_s, 0, 0), 1'000'000 * k_s);
    EXPECT_EQ(d.state(), dependency_state::held);
}

TEST(dependency, finish_flags_a_dependency_still_behind_even_when_held) {
    dependency_monitor held(spec(on_down_action::hold, 3600 * k_s), 0);
    held.update(seen(0, 3600 * k_s, 0, 0), 10 * k_s);
    ASSERT_EQ(held.state(), dependency_state::held);
    held.finish(seen(0, 3600 * k_s, 0, 0), 11 * k_s);
    EXPECT_EQ(held.state(), dependency_state::down);
    EXPECT_TRUE(held.flags_results());

    // Behind but catching up when the inputs end: it will not catch up now.
    dependency_monitor busy(spec(on_down_action::hold), 0);
    busy.finish(seen(0, 3600 * k_s, 10 * k_s, -1), 11 * k_s);
    EXPECT_TRUE(busy.flags_results());

    dependency_monitor fine(spec(on_down_action::hold), 0);
    fine.finish(seen(3590 * k_s, 3600 * k_s, 10 * k_s), 11 * k_s);
    EXPECT_EQ(fine.state(), dependency_state::up);
    EXPECT_FALSE(fine.flags_results());
}

TEST(dependency, an_ended_stream_is_neither_down_nor_holding) {
    dependency_monitor d(spec(on_down_action::hold), 0);
    auto o = seen(0, 3600 * k_s, 0, 0);
    o.ended = true;
    d.update(o, 10 * k_s);
    EXPECT_EQ(d.state(), dependency_state::ended);
    EXPECT_FALSE(d.holds_watermark());
    EXPECT_FALSE(d.flags_results());
    d.finish(o, 11 * k_s);
    EXPECT_FALSE(d.flags_results());
}

TEST(dependency, the_state_survives_serialization) {
    dependency_monitor d(spec(on_down_action::hold, 600 * k_s), 0);
    d.update(seen(0, 3600 * k_s, 0, 0), 100 * k_s);
    byte_writer w;
    d.serialize(w);
    dependency_monitor back(spec(on_down_action::hold, 600 * k_s), 0);
    byte_reader r(w.data());
    ASSERT_TRUE(back.deserialize(r));
    EXPECT_EQ(back.state(), dependency_state::held);
    EXPECT_EQ(back.down_since(), 100 * k_s);
    // max_hold counts from the first run's start of the outage.
    back.update(seen(0, 3600 * k_s, 0, 0), 700 * k_s);
    EXPECT_TRUE(back.hold_expired());

    byte_reader bad(std::string_view("\x09", 1));
    EXPECT_FALSE(back.deserialize(bad));
}

// The watermark's side: a pinned source waits while the others go on, and goes quiet with
// them; a released one never holds.
TEST(dependency_watermark, pinned_sources_ignore_idle_timeout_while_others_are_active) {
    watermark_tracker w(0, 10 * k_s, std::vector<std::string>{"orders/", "weather/"}, 0);
    w.set_hold(1, watermark_tracker::hold_mode::pinned);
    w.observe(0, 100 * k_s, 0);
    w.observe(1, 50 * k_s, 0);
    EXPECT_EQ(w.update(1 * k_s), 50 * k_s);
    w.observe(0, 200 * k_s, 20 * k_s);
    EXPECT_EQ(w.update(20 * k_s), 50 * k_s) << "weather silent 20 s but pinned";
    w.set_hold(1, watermark_tracker::hold_mode::normal);
    EXPECT_EQ(w.update(20 * k_s), 200 * k_s) << "a normal source is idle by then";
}

TEST(dependency_watermark, pinned_sources_go_quiet_with_the_rest_of_the_stream) {
    watermark_tracker w(0, 10 * k_s, std::vector<std::string>{"orders/", "weather/"}, 0);
    w.set_hold(1, watermark_tracker::hold_mode::pinned);
    w.observe(0, 100 * k_s, 0);
    w.observe(1, 90 * k_s, 0);
    EXPECT_EQ(w.update(5 * k_s), 90 * k_s);
    // Both silent past idle_timeout: the stream is quiet, the watermark follows the wall clock.
    EXPECT_EQ(w.update(15 * k_s), 105 * k_s);
}

TEST(dependency_watermark, held_sources_hold_even_when_the_stream_is_quiet) {
    watermark_tracker w(0, 10 * k_s, std::vector<std::string>{"orders/", "weather/"}, 0);
    w.set_hold(1, watermark_tracker::hold_mode::held);
    w.observe(0, 100 * k_s, 0);
    w.observe(1, 50 * k_s, 0);
    EXPECT_EQ(w.update(1000 * k_s), 50 * k_s) << "everything silent, but weather is held";
    w.set_hold(1, watermark_tracker::hold_mode::released);
    EXPECT_EQ(w.update(1000 * k_s), 1090 * k_s)
        << "released: quiet, the watermark follows the wall clock from the newest record";
}

TEST(dependency_watermark, released_sources_never_hold) {
    watermark_tracker w(0, 0, std::vector<std::string>{"orders/", "weather/"}, 0);
    w.observe(0, 100 * k_s, 0);
    EXPECT_EQ(w.update(0), k_no_time) << "weather holds it until its first record";
    w.set_hold(1, watermark_tracker::hold_mode::released);
    EXPECT_EQ(w.update(0), 100 * k_s);
    EXPECT_EQ(w.hold(1), watermark_tracker::hold_mode::released);
}

}  // namespace
}  // namespace weir::window
