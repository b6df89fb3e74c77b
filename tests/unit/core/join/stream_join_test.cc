// The interval and temporal joins against a brute-force reference over disordered, late and
// duplicate-key random streams, for every kind, and with snapshot/restore at random points
// equal to an uninterrupted run; plus idle sides, bounded state and the documented edge cases.
#include "core/join/stream_join.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace weir::join {
namespace {

constexpr timestamp_ns k_s = 1'000'000'000;

struct event {
    join_side side;
    timestamp_ns time;
    std::optional<int> key;  // nullopt: the key is missing
    int id;                  // the record's value
};

// A row as (time, left id or -1, right id or -1), comparable.
using row_t = std::tuple<timestamp_ns, int, int>;

// Values of a record: its id as a number and as a string (so string copies are checked).
struct values_t {
    field_value v[2];
    std::string text;
    explicit values_t(int id) : text("record-" + std::to_string(id)) {
        v[0] = field_value::make_number(id);
        v[1] = field_value::make_string(text);
    }
};

int id_of(std::span<const field_value> values) {
    const int id = static_cast<int>(values[0].number);
    EXPECT_EQ(values[1].string(), "record-" + std::to_string(id));
    return id;
}

void take_rows(stream_join& j, std::vector<row_t>& out) {
    for (std::size_t i = 0; i < j.rows(); ++i) {
        const joined_row r = j.row(i);
        out.emplace_back(r.time, r.has_left ? id_of(r.left) : -1,
                         r.has_right ? id_of(r.right) : -1);
    }
    j.clear_rows();
}

// `far`: now and then a left record minutes ahead of its side, or more than a day ahead.
std::vector<event> random_stream(std::mt19937_64& rng, int n, int keys, timestamp_ns jitter,
                                 bool far = false) {
    std::vector<event> out;
    std::uniform_int_distribution<int> side(0, 1), key(0, keys), late(0, 19), ahead(0, 99);
    // Whole seconds, so equal times (ties, a `within` of 1 ns) happen.
    std::uniform_int_distribution<timestamp_ns> jit(-jitter / k_s, jitter / k_s);
    timestamp_ns clock[2] = {1000 * k_s, 1000 * k_s};
    for (int i = 0; i < n; ++i) {
        const auto s = static_cast<join_side>(side(rng));
        timestamp_ns& c = clock[static_cast<int>(s)];
        c += std::uniform_int_distribution<timestamp_ns>(0, 2)(rng) * k_s;
        timestamp_ns t = c + jit(rng) * k_s;
        if (late(rng) == 0) t -= 60 * k_s;  // far behind: late, mostly
        // (Only on the left side: the right one holds the watermark back meanwhile.)
        const int a = far && s == join_side::left ? ahead(rng) : -1;
        if (a >= 0 && a < 3) t += 150 * k_s;
        if (a == 3) t += 30 * 3600 * k_s;
        const int k = key(rng);
        out.push_back({s, t, k == keys ? std::nullopt : std::optional<int>(k), i});
    }
    return out;
}

// The watermarks the join has when each event arrives (one source per side, no idle): which
// events are late.
std::vector<bool> late_events(const std::vector<event>& events, const join_options& o) {
    std::vector<bool> late;
    timestamp_ns max[2] = {std::numeric_limits<timestamp_ns>::min(),
                           std::numeric_limits<timestamp_ns>::min()};
    timestamp_ns w_all = std::numeric_limits<timestamp_ns>::min();
    timestamp_ns w_right = w_all;
    for (const event& e : events) {
        const bool temporal_right = o.type == join_type::temporal && e.side == join_side::right;
        late.push_back(e.time < (temporal_right ? w_right : w_all));
        timestamp_ns& m = max[static_cast<int>(e.side)];
        m = std::max(m, e.time);
        const timestamp_ns lowest = std::min(max[0], max[1]);
        if (lowest != std::numeric_limits<timestamp_ns>::min()) {
            w_all = std::max(w_all, lowest - o.allowed_lateness);
        }
        if (max[1] != std::numeric_limits<timestamp_ns>::min()) {
            w_right = std::max(w_right, max[1] - o.allowed_lateness);
        }
    }
    return late;
}

std::vector<row_t> reference(const std::vector<event>& events, const join_options& o) {
    const std::vector<bool> late = late_events(events, o);
    std::vector<row_t> rows;
    std::vector<std::size_t> lefts, rights;
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (late[i]) continue;
        (events[i].side == join_side::left ? lefts : rights).push_back(i);
    }
    if (o.type == join_type::interval) {
        std::vector<bool> matched(events.size());
        for (const std::size_t l : lefts) {
            for (const std::size_t r : rights) {
                const event& a = events[l];
                const event& b = events[r];
                if (!a.key || !b.key || *a.key != *b.key) continue;
                if (std::max(a.time - b.time, b.time - a.time) > o.within) continue;
                rows.emplace_back(a.time, a.id, b.id);
                matched[l] = matched[r] = true;
            }
        }
        if (o.kind != join_kind::inner) {
            for (const std::size_t l : lefts) {
                if (!matched[l]) rows.emplace_back(events[l].time, events[l].id, -1);
            }
        }
        if (o.kind == join_kind::full) {
            for (const std::size_t r : rights) {
                if (!matched[r]) rows.emplace_back(events[r].time, -1, events[r].id);
            }
        }
    } else {
        for (const std::size_t l : lefts) {
            const event& a = events[l];
            std::optional<std::size_t> best;
            for (const std::size_t r : rights) {  // in arrival order: ties go to the last
                const event& b = events[r];
                if (!a.key || !b.key || *a.key != *b.key || b.time > a.time) continue;
                if (!best || b.time >= events[*best].time) best = r;
            }
            if (best && o.within > 0 && a.time - events[*best].time > o.within) best.reset();
            if (best) {
                rows.emplace_back(a.time, a.id, events[*best].id);
            } else if (o.kind != join_kind::inner) {
                rows.emplace_back(a.time, a.id, -1);
            }
        }
    }
    std::sort(rows.begin(), rows.end());
    return rows;
}

std::unique_ptr<stream_join> make_join(const join_options& o) {
    auto j = std::make_unique<stream_join>(o, 2, 2, 0);
    j->add_source(join_side::left, "a", 0);
    j->add_source(join_side::right, "b", 0);
    return j;
}

struct run_result {
    std::vector<row_t> rows;  // in the order the join produced them
    std::uint64_t late[2] = {0, 0};
    std::size_t max_buffered = 0;
    bool frontier_broken = false;  // a row came out before a frontier already passed
};

// Runs the stream; snapshots and restores into a fresh join before the events in `cuts`.
run_result run(const std::vector<event>& events, const join_options& o,
               const std::vector<std::size_t>& cuts = {}) {
    run_result out;
    auto j = make_join(o);
    std::string key;
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (std::find(cuts.begin(), cuts.end(), i) != cuts.end()) {
            byte_writer w;
            j->snapshot(w);
            j = make_join(o);
            byte_reader r(w.data());
            EXPECT_TRUE(j->restore(r)) << "at " << i;
            EXPECT_TRUE(r.at_end());
        }
        const event& e = events[i];
        const values_t v(e.id);
        const std::string* k = nullptr;
        if (e.key) {
            field_value kv = field_value::make_number(*e.key);
            encode_key(kv, key);
            k = &key;
        }
        const timestamp_ns frontier = j->frontier();
        j->add(e.side, 0, e.time, k, v.v, 0);
        const std::size_t before = out.rows.size();
        take_rows(*j, out.rows);
        for (std::size_t r = before; r < out.rows.size(); ++r) {
            if (o.ordered && std::get<0>(out.rows[r]) < frontier) out.frontier_broken = true;
        }
        if (!o.ordered && j->held_rows() != 0) out.frontier_broken = true;
        out.max_buffered = std::max(out.max_buffered, j->buffered());
    }
    j->finish();
    take_rows(*j, out.rows);
    EXPECT_EQ(j->buffered(), 0u) << "finish() lets every record out";
    out.late[0] = j->late(join_side::left);
    out.late[1] = j->late(join_side::right);
    return out;
}

struct join_case {
    join_type type;
    join_kind kind;
    timestamp_ns within;
    timestamp_ns lateness;
    bool far = false;  // records minutes and days ahead (random_stream)
};

std::string name_of(const join_case& c) {
    return std::string(to_string(c.type)) + "_" + to_string(c.kind) + "_within" +
           std::to_string(c.within / k_s) + "_lateness" + std::to_string(c.lateness / k_s) +
           (c.far ? "_far_ahead" : "");
}

class join_property : public ::testing::TestWithParam<join_case> {};

TEST_P(join_property, equals_the_reference_and_survives_restores) {
    const join_case& c = GetParam();
    join_options o;
    o.type = c.type;
    o.kind = c.kind;
    o.within = c.within;
    o.allowed_lateness = c.lateness;
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
        std::mt19937_64 rng(seed);
        const int keys = static_cast<int>(seed % 3 == 0 ? 2 : 12);
        const auto events = random_stream(rng, 400, keys, 8 * k_s, c.far);
        const run_result whole = run(events, o);
        std::vector<row_t> sorted = whole.rows;
        std::sort(sorted.begin(), sorted.end());
        const std::vector<row_t> expected = reference(events, o);
        ASSERT_EQ(sorted, expected) << "seed " << seed;
        EXPECT_TRUE(std::any_of(expected.begin(), expected.end(), [](const row_t& r) {
            return std::get<1>(r) >= 0 && std::get<2>(r) >= 0;
        })) << "the stream has pairs";
        const std::vector<bool> late = late_events(events, o);
        std::uint64_t late_count[2] = {0, 0};
        for (std::size_t i = 0; i < events.size(); ++i) {
            late_count[static_cast<int>(events[i].side)] += late[i];
        }
        EXPECT_EQ(whole.late[0], late_count[0]) << "seed " << seed;
        EXPECT_EQ(whole.late[1], late_count[1]) << "seed " << seed;
        EXPECT_GT(late_count[0] + late_count[1], 0u) << "the stream has late records";
        // State stays bounded by the watermark, not by the stream's length (records far
        // ahead wait for it).
        EXPECT_LT(whole.max_buffered, c.far ? 300u : 200u) << "seed " << seed;

        std::vector<std::size_t> cuts;
        std::uniform_int_distribution<std::size_t> at(0, events.size());
        for (int k = 0; k < 4; ++k) cuts.push_back(at(rng));
        const run_result restored = run(events, o, cuts);
        ASSERT_EQ(restored.rows, whole.rows) << "seed " << seed;
        EXPECT_EQ(restored.late[0], whole.late[0]);
        EXPECT_EQ(restored.late[1], whole.late[1]);

        // Ordered: the same rows, in event-time order, none before the frontier it passed.
        join_options ordered = o;
        ordered.ordered = true;
        const run_result in_order = run(events, ordered, cuts);
        EXPECT_TRUE(std::is_sorted(
            in_order.rows.begin(), in_order.rows.end(),
            [](const row_t& a, const row_t& b) { return std::get<0>(a) < std::get<0>(b); }))
            << "seed " << seed;
        std::vector<row_t> in_order_sorted = in_order.rows;
        std::sort(in_order_sorted.begin(), in_order_sorted.end());
        ASSERT_EQ(in_order_sorted, expected) << "seed " << seed;
        EXPECT_FALSE(in_order.frontier_broken) << "seed " << seed;
    }
}

INSTANTIATE_TEST_SUITE_P(
    every_kind, join_property,
    ::testing::Values(join_case{join_type::interval, join_kind::inner, 5 * k_s, 0},
                      join_case{join_type::interval, join_kind::left, 5 * k_s, 0},
                      join_case{join_type::interval, join_kind::full, 5 * k_s, 0},
                      join_case{join_type::interval, join_kind::inner, 3 * k_s, 10 * k_s},
                      join_case{join_type::interval, join_kind::left, 3 * k_s, 10 * k_s},
                      join_case{join_type::interval, join_kind::full, 1, 10 * k_s},
                      join_case{join_type::interval, join_kind::full, 5 * k_s, 2 * k_s, true},
                      join_case{join_type::interval, join_kind::left, 3 * k_s, 0, true},
                      join_case{join_type::temporal, join_kind::inner, 0, 0},
                      join_case{join_type::temporal, join_kind::left, 0, 0},
                      join_case{join_type::temporal, join_kind::inner, 10 * k_s, 5 * k_s},
                      join_case{join_type::temporal, join_kind::left, 4 * k_s, 5 * k_s}),
    [](const ::testing::TestParamInfo<join_case>& info) { return name_of(info.param); });

join_options interval(join_kind kind, timestamp_ns within, timestamp_ns lateness = 0) {
    join_options o;
    o.kind = kind;
    o.within = within;
    o.allowed_lateness = lateness;
    return o;
}

void add(stream_join& j, join_side side, timestamp_ns time, int key, int id,
         timestamp_ns wall = 0) {
    const values_t v(id);
    std::string k;
    encode_key(field_value::make_number(key), k);
    j.add(side, 0, time, &k, v.v, wall);
}

TEST(interval_join, bounds_are_inclusive_both_ways_and_duplicates_multiply) {
    auto j = make_join(interval(join_kind::inner, 5 * k_s, 10 * k_s));
    std::vector<row_t> rows;
    add(*j, join_side::left, 100 * k_s, 1, 1);
    add(*j, join_side::left, 100 * k_s, 1, 2);        // a duplicate key
    add(*j, join_side::right, 105 * k_s, 1, 10);      // +within: pairs
    add(*j, join_side::right, 95 * k_s, 1, 11);       // -within: pairs
    add(*j, join_side::right, 105 * k_s + 1, 1, 12);  // just beyond
    take_rows(*j, rows);
    EXPECT_TRUE(rows.empty()) << "a pair comes out when its left record is final";
    j->finish();
    take_rows(*j, rows);
    std::sort(rows.begin(), rows.end());
    const std::vector<row_t> expected = {
        {100 * k_s, 1, 10}, {100 * k_s, 1, 11}, {100 * k_s, 2, 10}, {100 * k_s, 2, 11}};
    EXPECT_EQ(rows, expected);
}

TEST(interval_join, an_unmatched_left_row_waits_for_within_and_lateness) {
    auto j = make_join(interval(join_kind::left, 5 * k_s, 2 * k_s));
    std::vector<row_t> rows;
    add(*j, join_side::left, 100 * k_s, 1, 1);
    add(*j, join_side::right, 100 * k_s, 2, 10);
    add(*j, join_side::left, 107 * k_s, 3, 2);
    add(*j, join_side::right, 107 * k_s, 4, 11);  // watermark 105: 100 + 5 not passed yet
    take_rows(*j, rows);
    EXPECT_TRUE(rows.empty());
    add(*j, join_side::right, 105 * k_s, 1, 12);  // still a match
    add(*j, join_side::left, 108 * k_s, 5, 3);
    add(*j, join_side::right, 108 * k_s, 6, 13);  // watermark 106 passes 105
    take_rows(*j, rows);
    const std::vector<row_t> expected = {{100 * k_s, 1, 12}};
    EXPECT_EQ(rows, expected) << "matched, so no unmatched row for it";
}

TEST(interval_join, a_silent_side_lets_unmatched_rows_out_after_idle_timeout) {
    join_options o = interval(join_kind::left, 5 * k_s);
    o.idle_timeout = 30 * k_s;
    auto j = make_join(o);
    std::vector<row_t> rows;
    add(*j, join_side::right, 100 * k_s, 9, 10, 0);
    add(*j, join_side::left, 101 * k_s, 1, 1, 1 * k_s);
    add(*j, join_side::left, 130 * k_s, 2, 2, 2 * k_s);
    j->advance(20 * k_s);
    take_rows(*j, rows);
    EXPECT_TRUE(rows.empty()) << "the right side is not idle yet";
    j->advance(31 * k_s);  // the right side is idle: the left side alone holds the watermark
    take_rows(*j, rows);
    const std::vector<row_t> expected = {{101 * k_s, 1, -1}};
    EXPECT_EQ(rows, expected);
    j->advance(100 * k_s);  // everything quiet: the watermark moves on with the wall clock
    take_rows(*j, rows);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1], row_t(130 * k_s, 2, -1));
    EXPECT_EQ(j->buffered(), 0u);
}

TEST(interval_join, late_records_are_counted_per_side_and_not_joined) {
    auto j = make_join(interval(join_kind::full, 5 * k_s));
    std::vector<row_t> rows;
    add(*j, join_side::left, 100 * k_s, 1, 1);
    add(*j, join_side::right, 100 * k_s, 1, 10);
    add(*j, join_side::right, 90 * k_s, 1, 11);  // behind the watermark (100)
    add(*j, join_side::left, 99 * k_s, 1, 2);
    j->finish();
    take_rows(*j, rows);
    const std::vector<row_t> expected = {{100 * k_s, 1, 10}};
    EXPECT_EQ(rows, expected);
    EXPECT_EQ(j->late(join_side::left), 1u);
    EXPECT_EQ(j->late(join_side::right), 1u);
}

TEST(temporal_join, a_left_record_waits_for_the_right_watermark) {
    join_options o;
    o.type = join_type::temporal;
    o.kind = join_kind::left;
    auto j = make_join(o);
    std::vector<row_t> rows;
    add(*j, join_side::right, 90 * k_s, 1, 10);
    add(*j, join_side::left, 100 * k_s, 1, 1);
    take_rows(*j, rows);
    EXPECT_TRUE(rows.empty()) << "a version at or before 100 may still come";
    add(*j, join_side::right, 100 * k_s, 1, 11);  // at its time: the newer version
    add(*j, join_side::right, 101 * k_s, 1, 12);
    take_rows(*j, rows);
    const std::vector<row_t> expected = {{100 * k_s, 1, 11}};
    EXPECT_EQ(rows, expected);
}

TEST(temporal_join, state_keeps_the_newest_version_per_key) {
    join_options o;
    o.type = join_type::temporal;
    auto j = make_join(o);
    for (int i = 0; i < 1000; ++i) {
        add(*j, join_side::right, (100 + i) * k_s, i % 3, i);
        add(*j, join_side::left, (100 + i) * k_s, i % 3, 10000 + i);
    }
    EXPECT_LE(j->buffered(), 12u);
    std::vector<row_t> rows;
    take_rows(*j, rows);
    EXPECT_GE(rows.size(), 990u);
}

TEST(interval_join, a_right_record_stays_for_a_left_record_that_pairs_with_it_later) {
    auto j = make_join(interval(join_kind::full, 5 * k_s));
    std::vector<row_t> rows;
    add(*j, join_side::right, 100 * k_s, 1, 10);
    add(*j, join_side::left, 104 * k_s, 1, 1);
    add(*j, join_side::left, 106 * k_s, 2, 2);
    add(*j, join_side::right, 108 * k_s, 3, 11);  // watermark 106: the right record is final
    take_rows(*j, rows);
    EXPECT_TRUE(rows.empty());
    EXPECT_EQ(j->buffered(), 4u) << "the right record waits for the left one";
    byte_writer w;
    j->snapshot(w);
    j = make_join(interval(join_kind::full, 5 * k_s));
    byte_reader r(w.data());
    ASSERT_TRUE(j->restore(r));
    add(*j, join_side::left, 110 * k_s, 4, 3);    // watermark 108: the left record (104) is not
    add(*j, join_side::right, 112 * k_s, 5, 12);  // 110: it is
    take_rows(*j, rows);
    const std::vector<row_t> expected = {{104 * k_s, 1, 10}};
    EXPECT_EQ(rows, expected) << "one pair, no unmatched row for either";
    j->finish();
    take_rows(*j, rows);
    EXPECT_EQ(rows.size(), 5u);
    EXPECT_EQ(j->buffered(), 0u);
}

TEST(interval_join, a_format_1_snapshot_does_not_repeat_its_pairs) {
    // A snapshot of the version that let a pair out when its second record arrived: a left
    // and a right record of key 1, paired already (their row held for its turn), and a left
    // record of key 2 alone.
    join_options o = interval(join_kind::left, 5 * k_s);
    o.ordered = true;
    const values_t l1(1), r1(10), l2(2);
    std::string v_l1, v_r1, v_l2, key1, key2;
    const auto encoded = [](const values_t& v) {
        // encode_values' layout: a number (tag 4, 8 bytes), a string (tag 5, length, bytes).
        std::string out(1, '\x04');
        out.append(reinterpret_cast<const char*>(&v.v[0].number), 8);
        out.push_back('\x05');
        out.push_back(static_cast<char>(v.text.size()));
        out += v.text;
        return out;
    };
    encode_key(field_value::make_number(1), key1);
    encode_key(field_value::make_number(2), key2);
    byte_writer w;
    w.u8(1);  // format 1
    w.u8(static_cast<std::uint8_t>(join_type::interval));
    // The watermarks: both sides at 101 s (the join's sources are "left/a" and "right/b"; the
    // right side's alone, "b").
    window::watermark_tracker all(0, 0, std::vector<std::string>{"left/a", "right/b"}, 0);
    window::watermark_tracker right(0, 0, std::vector<std::string>{"b"}, 0);
    all.observe(0, 101 * k_s, 0);
    all.observe(1, 101 * k_s, 0);
    right.observe(0, 101 * k_s, 0);
    all.update(0);
    right.update(0);
    all.serialize(w);
    right.serialize(w);
    w.varint(3);  // next_seq
    w.varint(0);
    w.varint(0);
    w.varint(3);
    const auto record = [&](join_side side, timestamp_ns t, std::uint64_t seq, bool matched,
                            const std::string& key, const std::string& values) {
        w.u8(static_cast<std::uint8_t>(side));
        w.i64(t);
        w.varint(seq);
        w.boolean(matched);
        w.str(key);
        w.str(values);
    };
    record(join_side::left, 100 * k_s, 0, true, key1, encoded(l1));
    record(join_side::right, 101 * k_s, 1, true, key1, encoded(r1));
    record(join_side::left, 100 * k_s, 2, false, key2, encoded(l2));
    w.varint(1);  // next_held
    w.varint(1);  // the held pair
    w.i64(100 * k_s);
    w.varint(0);
    w.u8(3);
    w.str(encoded(l1));
    w.str(encoded(r1));

    auto j = make_join(o);
    byte_reader r(w.data());
    ASSERT_TRUE(j->restore(r));
    ASSERT_TRUE(r.at_end());
    add(*j, join_side::right, 102 * k_s, 1, 11);  // a new pair for the left record of key 1
    j->finish();
    std::vector<row_t> rows;
    take_rows(*j, rows);
    const std::vector<row_t> expected = {
        {100 * k_s, 1, 10}, {100 * k_s, 1, 11}, {100 * k_s, 2, -1}};
    std::vector<row_t> sorted = rows;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, expected) << "the held pair once, the new pair, the unmatched row";
}

TEST(stream_join, a_corrupt_snapshot_is_an_error) {
    auto j = make_join(interval(join_kind::full, 5 * k_s));
    add(*j, join_side::left, 100 * k_s, 1, 1);
    byte_writer w;
    j->snapshot(w);
    std::string bytes = w.data();
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        auto k = make_join(interval(join_kind::full, 5 * k_s));
        byte_reader r(std::string_view(bytes).substr(0, cut));
        EXPECT_FALSE(k->restore(r) && r.at_end()) << "cut at " << cut;
    }
}

}  // namespace
}  // namespace weir::join
