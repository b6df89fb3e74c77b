// Watermark sources by stable id: added and removed while running, and restored by id from a
// snapshot when the set of sources changed meanwhile (a Kafka rebalance between two runs).
#include "core/window/watermark.h"

#include <gtest/gtest.h>

#include <random>

namespace weir::window {
namespace {

constexpr timestamp_ns k_s = 1'000'000'000;

TEST(watermark_sources, the_slowest_live_source_holds_the_watermark) {
    watermark_tracker w(0, 0, std::vector<std::string>{"a/", "b/0"}, 0);
    EXPECT_EQ(w.find_source("a/"), 0u);
    EXPECT_EQ(w.find_source("b/0"), 1u);
    EXPECT_EQ(w.find_source("c"), w.sources());
    w.observe(0, 100 * k_s, 0);
    EXPECT_EQ(w.update(0), k_no_time) << "b/0 has seen nothing yet";
    w.observe(1, 50 * k_s, 0);
    EXPECT_EQ(w.update(0), 50 * k_s);
    const std::size_t c = w.add_source("b/1", 0);
    w.observe(1, 80 * k_s, 0);
    EXPECT_EQ(w.update(0), 50 * k_s) << "a new source holds it where it is";
    w.remove_source(c);
    EXPECT_TRUE(w.removed(c));
    EXPECT_EQ(w.find_source("b/1"), w.sources());
    EXPECT_EQ(w.update(0), 80 * k_s);
    w.remove_source(1);
    EXPECT_EQ(w.update(0), 100 * k_s);
}

TEST(watermark_sources, a_caught_up_source_holds_nothing_back_and_all_caught_up_are_one) {
    using mode = watermark_tracker::hold_mode;
    watermark_tracker w(5 * k_s, 0, std::vector<std::string>{"a.log", "b.log"}, 0);
    w.observe(0, 100 * k_s, 0);
    w.observe(1, 40 * k_s, 0);
    EXPECT_EQ(w.update(0), 35 * k_s) << "b.log, behind, holds it";
    w.set_hold(0, mode::caught_up);
    EXPECT_EQ(w.update(0), 35 * k_s) << "a.log read to its end: b.log still holds it";
    w.set_hold(1, mode::caught_up);
    EXPECT_EQ(w.update(1'000 * k_s), 95 * k_s)
        << "both read to their ends: the newest time less the lateness, not the wall clock";
    w.set_hold(0, mode::normal);  // a.log grows again
    w.observe(0, 120 * k_s, 1'000 * k_s);
    EXPECT_EQ(w.update(1'000 * k_s), 115 * k_s);
    w.set_hold(1, mode::normal);  // b.log too: it holds the watermark, which never goes back
    EXPECT_EQ(w.update(1'000 * k_s), 115 * k_s);
    w.observe(1, 130 * k_s, 1'000 * k_s);
    EXPECT_EQ(w.update(1'000 * k_s), 115 * k_s);
    w.observe(0, 140 * k_s, 1'000 * k_s);
    EXPECT_EQ(w.update(1'000 * k_s), 125 * k_s);
}

TEST(watermark_sources, caught_up_sources_that_went_idle_are_quiet_like_the_rest) {
    using mode = watermark_tracker::hold_mode;
    watermark_tracker w(0, 10 * k_s, std::vector<std::string>{"a.log", "b.log"}, 0);
    w.observe(0, 100 * k_s, 0);
    w.observe(1, 90 * k_s, 0);
    w.set_hold(0, mode::caught_up);
    w.set_hold(1, mode::caught_up);
    EXPECT_EQ(w.update(5 * k_s), 100 * k_s);
    EXPECT_EQ(w.update(30 * k_s), 120 * k_s) << "idle for 20 s beyond the timeout";
}

TEST(watermark_sources, a_snapshot_restores_by_id_into_another_set_of_sources) {
    watermark_tracker before(0, 0, std::vector<std::string>{"a/", "b/0", "b/1"}, 0);
    before.observe(0, 100 * k_s, 0);
    before.observe(1, 90 * k_s, 0);
    before.observe(2, 70 * k_s, 0);
    EXPECT_EQ(before.update(0), 70 * k_s);
    byte_writer w;
    before.serialize(w);

    // b/1 went elsewhere, b/2 came: b/0 and a/ keep their state, b/2 starts fresh, the
    // watermark never goes back.
    watermark_tracker after(0, 0, std::vector<std::string>{"b/2", "b/0", "a/"}, 5);
    byte_reader r(w.data());
    ASSERT_TRUE(after.deserialize(r));
    EXPECT_EQ(after.watermark(), 70 * k_s);
    EXPECT_EQ(after.update(5), 70 * k_s) << "b/2 holds it";
    after.observe(0, 95 * k_s, 5);
    EXPECT_EQ(after.update(5), 90 * k_s) << "b/0 restored at 90 s";
}

TEST(watermark_sources, the_format_before_ids_restores_by_index) {
    byte_writer w;
    w.varint(2);
    w.i64(10 * k_s);
    w.i64(1);
    w.i64(20 * k_s);
    w.i64(2);
    w.i64(10 * k_s);
    watermark_tracker t(0, 0, std::vector<std::string>{"a/", "b/"}, 0);
    byte_reader r(w.data());
    ASSERT_TRUE(t.deserialize_by_index(r));
    EXPECT_EQ(t.watermark(), 10 * k_s);
    t.observe(0, 30 * k_s, 3);
    EXPECT_EQ(t.update(3), 20 * k_s);

    watermark_tracker three(0, 0, std::vector<std::string>{"a/", "b/", "c/"}, 0);
    byte_reader r3(w.data());
    EXPECT_FALSE(three.deserialize_by_index(r3)) << "the count must match";
}

TEST(watermark_sources, corrupt_bytes_are_refused) {
    watermark_tracker before(0, 0, std::vector<std::string>{"a/"}, 0);
    before.observe(0, 5 * k_s, 0);
    before.update(0);
    byte_writer w;
    before.serialize(w);
    const std::string bytes = w.take();
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        watermark_tracker t(0, 0, std::vector<std::string>{"a/"}, 0);
        byte_reader r(std::string_view(bytes).substr(0, n));
        EXPECT_FALSE(t.deserialize(r)) << n;
    }
}

// update() answers in O(1) while only sources other than the slowest advanced: against a
// tracker that recomputes every time, over random records, idle times, holds, sources that
// come and go, resets and restores.
TEST(watermark_sources, the_shortcut_gives_what_a_full_recompute_gives) {
    using mode = watermark_tracker::hold_mode;
    std::mt19937_64 rng(20261205);
    for (int round = 0; round < 400; ++round) {
        const timestamp_ns lateness = static_cast<timestamp_ns>(rng() % 3) * k_s;
        const timestamp_ns idle =
            rng() % 3 == 0 ? 0 : static_cast<timestamp_ns>(1 + rng() % 5) * k_s;
        const std::size_t start = 1 + rng() % 6;
        timestamp_ns now = 0;
        watermark_tracker fast(lateness, idle, start, now);
        watermark_tracker full(lateness, idle, start, now);
        std::vector<timestamp_ns> newest(start, 0);
        for (int step = 0; step < 300; ++step) {
            SCOPED_TRACE("round " + std::to_string(round) + ", step " + std::to_string(step));
            const std::size_t n = fast.sources();
            std::size_t src = rng() % n;
            for (std::size_t k = 0; k < n && fast.removed(src); ++k) src = (src + 1) % n;
            const unsigned op = static_cast<unsigned>(rng() % 100);
            if (rng() % 4 == 0) now += static_cast<timestamp_ns>(rng() % 3000) * 1'000'000;
            if (op < 70 && !fast.removed(src)) {
                if (newest.size() < n) newest.resize(n, 0);
                newest[src] += static_cast<timestamp_ns>(rng() % 2000) * 1'000'000;
                const timestamp_ns t =
                    newest[src] - static_cast<timestamp_ns>(rng() % 3) * 500'000'000;
                fast.observe(src, t, now);
                full.observe(src, t, now);
            } else if (op < 78 && !fast.removed(src)) {
                fast.touch(src, now);
                full.touch(src, now);
            } else if (op < 86 && !fast.removed(src)) {
                const auto m = static_cast<mode>(rng() % 5);
                fast.set_hold(src, m);
                full.set_hold(src, m);
            } else if (op < 90) {
                fast.add_source(now);
                full.add_source(now);
            } else if (op < 93 && !fast.removed(src)) {
                fast.remove_source(src);
                full.remove_source(src);
            } else if (op < 94) {
                fast.reset(now);
                full.reset(now);
                newest.assign(newest.size(), 0);
            } else if (op < 96) {
                byte_writer w;
                fast.serialize(w);
                byte_reader r(w.data());
                ASSERT_TRUE(fast.deserialize(r));
            }
            // The reference recomputes from scratch: setting a hold clears the shortcut.
            for (std::size_t i = 0; i < full.sources(); ++i) {
                if (!full.removed(i)) {
                    full.set_hold(i, full.hold(i));
                    break;
                }
            }
            ASSERT_EQ(fast.update(now), full.update(now));
        }
    }
}

}  // namespace
}  // namespace weir::window
