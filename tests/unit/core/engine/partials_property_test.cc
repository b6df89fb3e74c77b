// Scale-out's local-global aggregation against the single chain: a stream spread over random
// partitions, each read by a partition-local engine whose partials (through their wire form)
// reach the merge step interleaved at random, some twice (a local engine that crashed and
// replayed its partition from a checkpoint), gives the results of one engine reading every
// partition. For every window kind, grouped and not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/engine/partials.h"
#include "tests/unit/core/engine/engine_harness.h"

namespace weir::test {
namespace {

using engine::node_engine;
using engine::node_plan;
using engine::partial_batch;

// Measures whose value does not depend on the order in which records arrive. (ordered_fraction,
// is_frozen and the samples of a failing check follow the arrival order across partitions,
// which no partitioning keeps; freshness() reads the clock at the close.)
const std::vector<std::string> k_measures = {
    "count()",
    "count(x)",
    "missing_count(x)",
    "missing_fraction(x, [\"N/A\"])",
    "sum(x)",
    "mean(x)",
    "min(x)",
    "max(x)",
    "median(x)",
    "percentile(x, 0.9)",
    "distinct_count(x)",
    "approx_distinct_count(x)",
    "unique_count(x)",
    "duplicate_count(x, y)",
    "most_frequent(x)",
    "in_range_fraction(x, 10, 40)",
    "in_set_count(x, [1, 2, \"a\", true])",
    "matches_fraction(x, \"[a-z].*\")",
    "max_length(x)",
    "invalid_count()",
    "count_where(x >= 10 and x <= 40)",
    "fraction_where(y > 3)",
    "rate()",
    "window_duration()",
    "benford_deviation(x)",
    // Floating-point state merged in another order: equal within rounding.
    "std_dev(x)",
    "variance(x)",
    "correlation(x, y)",
    "trend(x, y)",
    "entropy(x)",
    "approx_quantile(x, 0.9)",
};

bool rounded(const std::string& measure) {
    for (const char* f : {"std_dev", "variance", "correlation", "trend", "entropy"}) {
        if (measure.starts_with(f)) return true;
    }
    return false;
}

node_plan plan_of(window::window_spec w, bool grouped) {
    node_plan p = basic_plan(w);
    if (grouped) p.group_by = {field_path{{"g"}}};
    p.max_groups = 1'000'000;
    // Every empty window: the share of them per advance of the watermark depends on how far
    // it moves at once, record by record in one engine, hand-over by hand-over in the merge.
    p.max_empty_windows_per_group = std::numeric_limits<std::size_t>::max();
    for (std::size_t i = 0; i < k_measures.size(); ++i) {
        p.checks.push_back(
            {"c" + std::to_string(i), k_measures[i], "", "", engine::emit_mode::all});
    }
    return p;
}

struct chunk {
    std::size_t source;
    std::vector<test_record> records;
    timestamp_ns arrival;
};

struct scenario {
    window::window_spec w;
    bool grouped = true;
    std::size_t sources = 1;
    std::vector<chunk> chunks;  // the order the single engine reads them
    std::shared_ptr<string_pool> strings = std::make_shared<string_pool>();  // records view it
};

// Wall clock of the engines' creation: after every event time, so no window is partial
// (old data replayed) and the results do not depend on which record came first.
constexpr timestamp_ns k_wall = 4'000'000'000 * k_s;

// `fractional`: x takes values whose sums round, so the order of merging shows in the bits.
scenario make_scenario(std::mt19937_64& rng, int kind, bool fractional = false) {
    scenario sc;
    const timestamp_ns lateness = (1 + rng() % 5) * k_s;
    if (kind == 0) sc.w = tumbling((5 + rng() % 20) * k_s, lateness);
    if (kind == 1) sc.w = sliding(20 * k_s, (5 + 5 * (rng() % 2)) * k_s, lateness);
    if (kind == 2) sc.w = session((2 + rng() % 8) * k_s, lateness);
    sc.grouped = rng() % 4 != 0;
    sc.sources = 1 + rng() % 6;
    std::vector<std::deque<test_record>> pending(sc.sources);
    const timestamp_ns base = 1'800'000'000 * k_s;
    for (std::size_t s = 0; s < sc.sources; ++s) {
        // A source's records drift within its lateness, so none is late anywhere; the sources
        // run at different speeds, and some pause (sessions end).
        const std::size_t n = 50 + rng() % 400;
        timestamp_ns t = base + static_cast<timestamp_ns>(rng() % 30) * k_s;
        std::vector<test_record> recs;
        for (std::size_t i = 0; i < n; ++i) {
            t += static_cast<timestamp_ns>(rng() % 1500) * k_ms;
            if (rng() % 40 == 0) t += static_cast<timestamp_ns>(rng() % 30) * k_s;
            const timestamp_ns back =
                static_cast<timestamp_ns>(rng() % static_cast<std::uint64_t>(lateness / k_ms)) *
                k_ms;
            const double x = fractional ? static_cast<double>(rng() % 5000) / 97.0
                                        : static_cast<double>(rng() % 50);
            test_record r = num(t - back, x, static_cast<double>(rng() % 7));
            r.y = field_value::make_number(static_cast<double>(rng() % 6));
            const auto roll = rng() % 20;
            if (roll == 0) r.x = field_value::make_null();
            if (roll == 1) r.x = sc.strings->make(rng() % 2 ? "a" : "N/A");
            if (roll == 2) r.valid = false;
            recs.push_back(r);
        }
        pending[s].assign(recs.begin(), recs.end());
    }
    timestamp_ns arrival = k_wall;
    for (;;) {
        std::vector<std::size_t> live;
        for (std::size_t s = 0; s < sc.sources; ++s) {
            if (!pending[s].empty()) live.push_back(s);
        }
        if (live.empty()) break;
        const std::size_t s = live[rng() % live.size()];
        chunk c{s, {}, arrival += k_ms};
        const std::size_t take = std::min<std::size_t>(pending[s].size(), 1 + rng() % 30);
        for (std::size_t i = 0; i < take; ++i) {
            c.records.push_back(pending[s].front());
            pending[s].pop_front();
        }
        sc.chunks.push_back(std::move(c));
    }
    return sc;
}

std::string source_id(std::size_t s) {
    return "events/" + std::to_string(s);
}

using result_key = std::tuple<std::string, timestamp_ns, timestamp_ns, std::string>;

std::map<result_key, check_result> keyed(const std::vector<check_result>& results) {
    std::map<result_key, check_result> m;
    for (const auto& r : results) {
        std::string g;
        for (const auto& [name, v] : r.group) g += name + "=" + to_string(v) + ";";
        const bool fresh =
            m.emplace(result_key{r.check, r.window_start, r.window_end, g}, r).second;
        EXPECT_TRUE(fresh) << "a window emitted twice: " << r.check << " " << r.window_start;
    }
    return m;
}

std::vector<check_result> run_single(const scenario& sc) {
    node_plan p = plan_of(sc.w, sc.grouped);
    for (std::size_t s = 0; s < sc.sources; ++s) p.source_ids.push_back(source_id(s));
    node_engine e(p, k_wall);
    std::vector<check_result> out;
    for (const chunk& c : sc.chunks) feed(e, c.records, c.arrival, out, nullptr, c.source);
    e.finish(k_wall + 10'000 * k_s, out);
    EXPECT_EQ(e.stats().late, 0u);
    return out;
}

struct local_run {
    std::deque<std::string> wire;  // the hand-overs, encoded, in order
};

// One partition's local engine over its chunks. `crash`: it is snapshot after chunk `a`, dies
// after chunk `b` (what it handed over stays), and a new engine restored from the snapshot reads
// chunks a.. again, cut into other batches.
// `flush`: instead, as a lane of a daemon before its query's checkpoint, it hands everything
// over after chunk `a`, and (the daemon restarted) a fresh engine, without a checkpoint of its
// own, goes on from there.
// `daemons`: see run_daemon_lanes.
local_run run_daemon_lanes(const scenario& sc, std::size_t s, std::mt19937_64& rng);

local_run run_local(const scenario& sc, std::size_t s, std::mt19937_64& rng, bool crash, bool flush,
                    bool daemons) {
    if (daemons) return run_daemon_lanes(sc, s, rng);
    local_run run;
    node_plan p = plan_of(sc.w, sc.grouped);
    p.source_ids = {source_id(s)};
    const auto sink = [&run](partial_batch& b) {
        byte_writer w;
        engine::encode_partial(b, w);
        run.wire.push_back(w.take());
    };
    std::vector<const chunk*> mine;
    for (const chunk& c : sc.chunks) {
        if (c.source == s) mine.push_back(&c);
    }
    std::vector<check_result> none;
    auto e = std::make_unique<node_engine>(p, k_wall);
    e->set_partial_sink(sink);
    std::size_t from = 0;
    if (crash && mine.size() >= 2) {
        const std::size_t a = rng() % mine.size();
        const std::size_t b = a + rng() % (mine.size() - a);
        for (std::size_t i = 0; i < a; ++i) feed(*e, mine[i]->records, mine[i]->arrival, none);
        byte_writer snap;
        e->snapshot(snap);
        for (std::size_t i = a; i < b; ++i) feed(*e, mine[i]->records, mine[i]->arrival, none);
        e = std::make_unique<node_engine>(p, k_wall);
        e->set_partial_sink(sink);
        byte_reader r(snap.data());
        EXPECT_TRUE(e->restore(r));
        // The replay in batches of other sizes.
        std::vector<test_record> again;
        for (std::size_t i = a; i < mine.size(); ++i) {
            again.insert(again.end(), mine[i]->records.begin(), mine[i]->records.end());
        }
        for (std::size_t i = 0; i < again.size();) {
            const std::size_t n = std::min<std::size_t>(again.size() - i, 1 + rng() % 50);
            feed(*e,
                 {again.begin() + static_cast<std::ptrdiff_t>(i),
                  again.begin() + static_cast<std::ptrdiff_t>(i + n)},
                 k_wall + 1, none);
            i += n;
        }
        from = mine.size();
    }
    if (flush && mine.size() >= 2) {
        const std::size_t a = rng() % mine.size();
        for (std::size_t i = 0; i < a; ++i) feed(*e, mine[i]->records, mine[i]->arrival, none);
        e->hand_over_all();
        e = std::make_unique<node_engine>(p, k_wall);
        e->set_partial_sink(sink);
        from = a;
    }
    for (std::size_t i = from; i < mine.size(); ++i) {
        feed(*e, mine[i]->records, mine[i]->arrival, none);
    }
    e->finish(k_wall + 10'000 * k_s, none);
    EXPECT_TRUE(none.empty()) << "a partition-local engine emitted windows";
    return run;
}

// A partition read by the lane of one of several daemons, with the cuts of its cut_ledger
// (core/engine/partials.h): it cuts at random chunk boundaries, each cut committed before what
// follows it is handed over, and its daemon dies at a random point; what it handed over stays.
// The commit of its last cut may not have come back: what it held since dies with it. A lane
// of another daemon then starts from the commit as a new owner does, and reads on to the end
// in batches of other sizes, cutting as it goes once past the end it was given the partition
// at.
local_run run_daemon_lanes(const scenario& sc, std::size_t s, std::mt19937_64& rng) {
    local_run run;
    node_plan p = plan_of(sc.w, sc.grouped);
    p.source_ids = {source_id(s)};
    std::deque<std::string> held;  // hand-overs after a cut whose commit is out
    const engine::cut_ledger* ledger = nullptr;
    const auto sink = [&](partial_batch& b) {
        byte_writer w;
        engine::encode_partial(b, w);
        (ledger != nullptr && ledger->holding() ? held : run.wire).push_back(w.take());
    };
    std::vector<const chunk*> mine;
    for (const chunk& c : sc.chunks) {
        if (c.source == s) mine.push_back(&c);
    }
    std::vector<check_result> none;
    const auto fresh = [&](std::int64_t at) {
        auto e = std::make_unique<node_engine>(p, k_wall);
        e->set_partial_sink(sink);
        e->set_epoch(engine::epoch_at(at));
        return e;
    };
    std::optional<engine::cut_ledger::commit> committed;  // the broker's
    // A cut at chunk `i`: registered, the lane's engine hands over (held) and starts afresh;
    // `acked`: the commit comes back and what was held leaves.
    const auto cut = [&](engine::cut_ledger& l, std::unique_ptr<node_engine>& e, std::size_t i,
                         bool acked) {
        const auto c = l.cut(static_cast<std::int64_t>(i));
        ASSERT_TRUE(c.has_value());
        e->hand_over_all();
        e = fresh(static_cast<std::int64_t>(i));
        if (!acked) return;
        committed = *c;
        l.registered(true);
        EXPECT_FALSE(l.holding());
        for (auto& h : held) run.wire.push_back(std::move(h));
        held.clear();
    };
    const std::size_t n = mine.size();
    const std::size_t dies = rng() % (n + 1);
    {
        engine::cut_ledger first(-1, "");
        ledger = &first;
        auto e = fresh(0);
        first.began(0);
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < dies; ++i) {
            if (rng() % 3 == 0) cuts.push_back(i);
        }
        const bool lost = rng() % 2 == 0;
        for (std::size_t i = 0; i < dies; ++i) {
            if (std::find(cuts.begin(), cuts.end(), i) != cuts.end()) {
                cut(first, e, i, !(lost && i == cuts.back()));
            }
            feed(*e, mine[i]->records, mine[i]->arrival, none);
        }
        held.clear();  // dies with the daemon
    }
    // The new owner, given the partition when its end was where the dead lane stopped, or
    // later.
    const auto end = static_cast<std::int64_t>(dies + rng() % 3);
    engine::cut_ledger next(committed ? committed->offset : -1, committed ? committed->note : "",
                            end);
    ledger = &next;
    const std::size_t start = next.start() < 0 ? 0 : static_cast<std::size_t>(next.start());
    auto e = fresh(static_cast<std::int64_t>(start));
    next.began(static_cast<std::int64_t>(start));
    for (std::size_t i = start; i < n;) {
        const auto replay = next.replay_cut();
        if (replay && static_cast<std::size_t>(*replay) == i) {
            e->hand_over_all();
            e = fresh(*replay);
            next.replayed();
        } else if (!replay && i > start && static_cast<std::int64_t>(i) >= end && rng() % 4 == 0) {
            cut(next, e, i, true);
        }
        // Batches of other sizes, never across a cut to replay.
        const std::size_t end =
            replay && static_cast<std::size_t>(*replay) > i ? static_cast<std::size_t>(*replay) : n;
        std::vector<test_record> again;
        const std::size_t upto = std::min(end, i + 1 + rng() % 3);
        for (std::size_t k = i; k < upto; ++k) {
            again.insert(again.end(), mine[k]->records.begin(), mine[k]->records.end());
        }
        for (std::size_t k = 0; k < again.size();) {
            const std::size_t m = std::min<std::size_t>(again.size() - k, 1 + rng() % 50);
            feed(*e,
                 {again.begin() + static_cast<std::ptrdiff_t>(k),
                  again.begin() + static_cast<std::ptrdiff_t>(k + m)},
                 k_wall + 1, none);
            k += m;
        }
        i = upto;
    }
    e->finish(k_wall + 10'000 * k_s, none);
    EXPECT_TRUE(none.empty()) << "a partition-local engine emitted windows";
    return run;
}

enum class mishap { none, replay, flush, daemons };

std::vector<check_result> run_partitioned(const scenario& sc, std::mt19937_64& rng, mishap how,
                                          std::uint64_t& duplicates) {
    std::vector<local_run> locals;
    for (std::size_t s = 0; s < sc.sources; ++s) {
        const bool hit = how != mishap::none && rng() % 2 == 0;
        locals.push_back(run_local(sc, s, rng, hit && how == mishap::replay,
                                   hit && how == mishap::flush, hit && how == mishap::daemons));
    }
    node_plan p = plan_of(sc.w, sc.grouped);
    // The merge step knows the partitions of its input (as a daemon knows a topic's), so a
    // partition whose first partials come late still holds the windows back.
    for (std::size_t s = 0; s < sc.sources; ++s) p.source_ids.push_back(source_id(s));
    node_engine merge(p, k_wall);
    std::vector<check_result> out;
    // Each source's hand-overs in their order, the sources interleaved at random; halfway,
    // the merge step itself is restored from its snapshot.
    timestamp_ns now = k_wall;
    bool restored = false;
    std::unique_ptr<node_engine> replacement;
    node_engine* m = &merge;
    for (;;) {
        std::vector<std::size_t> live;
        for (std::size_t s = 0; s < locals.size(); ++s) {
            if (!locals[s].wire.empty()) live.push_back(s);
        }
        if (live.empty()) break;
        const std::size_t s = live[rng() % live.size()];
        partial_batch b;
        byte_reader r(locals[s].wire.front());
        EXPECT_TRUE(engine::decode_partial(r, b));
        EXPECT_TRUE(r.at_end());
        locals[s].wire.pop_front();
        m->absorb(b, now += k_ms, out);
        if (!restored && rng() % 50 == 0) {
            restored = true;
            byte_writer w;
            m->snapshot(w);
            replacement = std::make_unique<node_engine>(p, k_wall);
            byte_reader rr(w.data());
            EXPECT_TRUE(replacement->restore(rr));
            m = replacement.get();
        }
    }
    m->finish(k_wall + 10'000 * k_s, out);
    EXPECT_EQ(m->stats().late, 0u);
    duplicates = m->stats().duplicate_cells;
    return out;
}

bool same_value(const std::string& measure, const measure_value& a, const measure_value& b) {
    if (a.is_number() && b.is_number() && !rounded(measure)) {
        // Bit for bit (NaN alike).
        return std::memcmp(&a.number, &b.number, sizeof(double)) == 0 ||
               (std::isnan(a.number) && std::isnan(b.number));
    }
    if (to_string(a) == to_string(b)) return true;
    if (!rounded(measure) || !a.is_number() || !b.is_number()) return false;
    const double x = a.number;
    const double y = b.number;
    return std::fabs(x - y) <= 1e-9 * std::max({1.0, std::fabs(x), std::fabs(y)});
}

// Returns the cells the merge step recognised as taken already.
std::uint64_t compare(const scenario& sc, std::uint64_t seed, mishap m) {
    std::mt19937_64 rng(seed * 7919 + 1);
    const auto single = keyed(run_single(sc));
    std::uint64_t duplicates = 0;
    const auto merged = keyed(run_partitioned(sc, rng, m, duplicates));
    EXPECT_FALSE(single.empty());
    EXPECT_EQ(single.size(), merged.size()) << "seed " << seed;
    for (const auto& [key, got] : merged) {
        EXPECT_TRUE(single.contains(key))
            << "more: " << std::get<0>(key) << " window " << std::get<1>(key) << " group "
            << std::get<3>(key) << " seed " << seed;
    }
    for (const auto& [key, want] : single) {
        const auto it = merged.find(key);
        if (it == merged.end()) {
            ADD_FAILURE() << "missing " << std::get<0>(key) << " window " << std::get<1>(key)
                          << ".." << std::get<2>(key) << " group " << std::get<3>(key) << " seed "
                          << seed;
            continue;
        }
        const check_result& got = it->second;
        EXPECT_TRUE(same_value(want.measure, want.value, got.value))
            << want.measure << " window " << want.window_start << " group " << std::get<3>(key)
            << ": " << to_string(want.value) << " vs " << to_string(got.value) << " seed " << seed;
        EXPECT_EQ(want.records, got.records) << want.measure << " seed " << seed;
        EXPECT_EQ(want.outcome, got.outcome) << want.measure << " seed " << seed;
        EXPECT_EQ(want.approximate, got.approximate) << want.measure << " seed " << seed;
        EXPECT_EQ(want.partial, got.partial) << want.measure << " seed " << seed;
    }
    return duplicates;
}

TEST(Partials, TheMergeStepCountsRecordsAsOneEngineDoes) {
    // Valid records received, late ones and those beyond max_groups included: a record far
    // behind the watermark (its window closed), and a third group where two are allowed.
    node_plan p = plan_of(tumbling(10 * k_s), true);
    p.max_groups = 2;
    p.source_ids = {source_id(0)};
    string_pool strings;
    const auto rec = [&](timestamp_ns t, const char* g) {
        return test_record{.t = t, .g = strings.make(g), .x = field_value::make_number(1)};
    };
    const std::vector<test_record> records = {rec(1 * k_s, "a"),  rec(2 * k_s, "b"),
                                              rec(25 * k_s, "a"), rec(3 * k_s, "a"),
                                              rec(26 * k_s, "c"), rec(27 * k_s, "b")};
    std::vector<check_result> out;
    node_engine single(p, k_wall);
    for (const auto& r : records) feed(single, {r}, k_wall, out);
    single.finish(k_wall + k_s, out);

    node_engine local(p, k_wall);
    std::deque<std::string> wire;
    local.set_partial_sink([&wire](partial_batch& b) {
        byte_writer w;
        engine::encode_partial(b, w);
        wire.push_back(w.take());
    });
    for (const auto& r : records) feed(local, {r}, k_wall, out);
    local.finish(k_wall + k_s, out);
    node_engine merge(p, k_wall);
    for (const auto& bytes : wire) {
        partial_batch b;
        byte_reader r(bytes);
        ASSERT_TRUE(engine::decode_partial(r, b));
        merge.absorb(b, k_wall, out);
    }
    merge.finish(k_wall + k_s, out);

    EXPECT_EQ(single.stats().records, 6u);
    EXPECT_EQ(single.stats().late, 1u);
    EXPECT_EQ(single.stats().group_overflow, 1u);
    // The local engine dropped the third group's record (its own max_groups), so it never
    // reached the merge step: a daemon adds the lanes' drops to the merge step's counts.
    EXPECT_EQ(merge.stats().records + local.stats().group_overflow, single.stats().records);
    EXPECT_EQ(merge.stats().late, single.stats().late);
    EXPECT_EQ(merge.stats().group_overflow + local.stats().group_overflow,
              single.stats().group_overflow);
    EXPECT_EQ(local.stats().late, 0u) << "the merge step judges lateness";
}

TEST(Partials, ProgressAloneIsHandedOverAtPanesEndsAndEveryTenthOfASecond) {
    // A source read a record at a time (a Kafka partition read in small bites): without cells
    // to give up, its progress goes where it may close a window at the merge step (the
    // progress less allowed_lateness passes a pane's end), and otherwise no more often than
    // every 100 ms of wall clock; the records since are told as activity when it goes.
    node_plan p = plan_of(tumbling(10 * k_s, 2 * k_s), true);
    p.source_ids = {source_id(0)};
    string_pool strings;
    std::vector<partial_batch> got;
    node_engine local(p, k_wall);
    local.set_partial_sink([&got](partial_batch& b) {
        got.push_back(b);
        b.cells.clear();
    });
    std::vector<check_result> out;
    const auto rec = [&](timestamp_ns t) {
        return test_record{.t = t, .g = strings.make("a"), .x = field_value::make_number(1)};
    };
    // 2.5 s to 12 s of event time, a record each 100 ms, all at the same wall clock time.
    for (int i = 25; i <= 120; ++i) feed(local, {rec(i * k_s / 10)}, k_wall, out);
    // The first record, then 12 s (10 s less lateness: the first pane ends) with its cell.
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].newest, 25 * k_s / 10);
    EXPECT_TRUE(got[0].active);
    EXPECT_EQ(got[1].newest, 12 * k_s);
    EXPECT_EQ(got[1].cells.size(), 1u);
    // No cell to give up until 22 s: each record 50 ms of wall clock after the last.
    got.clear();
    for (int i = 1; i <= 10; ++i) {
        feed(local, {rec(12 * k_s + i * k_s / 10)}, k_wall + i * 50'000'000, out);
    }
    ASSERT_EQ(got.size(), 5u) << "every other record: 100 ms apart";
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].newest, 12 * k_s + static_cast<timestamp_ns>(2 * i + 2) * k_s / 10);
        EXPECT_TRUE(got[i].active);
        EXPECT_TRUE(got[i].cells.empty());
    }
    // What was not told yet goes with everything else once the source is caught up.
    got.clear();
    feed(local, {rec(13 * k_s + k_s / 10)}, k_wall + 11 * 50'000'000, out);
    EXPECT_TRUE(got.empty());
    local.set_caught_up(true);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].newest, 13 * k_s + k_s / 10);
    EXPECT_TRUE(got[0].active);
    EXPECT_EQ(got[0].cells.size(), 1u);
}

TEST(Partials, ProgressAloneIsHandedOverWithinHalfAShortIdleTimeout) {
    // idle_timeout 60 ms: the merge step must hear from the source every 30 ms, or it would
    // take it for idle while its records come.
    node_plan p = plan_of(tumbling(10 * k_s, 2 * k_s), true);
    p.window.idle_timeout = 60'000'000;
    p.source_ids = {source_id(0)};
    string_pool strings;
    std::size_t handed = 0;
    node_engine local(p, k_wall);
    local.set_partial_sink([&handed](partial_batch& b) {
        ++handed;
        b.cells.clear();
    });
    std::vector<check_result> out;
    for (int i = 1; i <= 10; ++i) {
        const test_record r{
            .t = 3 * k_s + i * k_s / 10, .g = strings.make("a"), .x = field_value::make_number(1)};
        feed(local, {r}, k_wall + i * 10'000'000, out);  // 10 ms apart
    }
    // The first record, then every third: 30 ms apart.
    EXPECT_EQ(handed, 4u);
}

TEST(Partials, TheOrderOfArrivalDoesNotChangeABit) {
    for (int kind = 0; kind < 3; ++kind) {
        for (std::uint64_t seed = 1; seed <= 4; ++seed) {
            std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(kind));
            const scenario sc = make_scenario(rng, kind, true);
            std::uint64_t duplicates = 0;
            std::mt19937_64 one(seed);
            std::mt19937_64 other(seed + 1000);
            const auto a = keyed(run_partitioned(sc, one, mishap::none, duplicates));
            const auto b = keyed(run_partitioned(sc, other, mishap::none, duplicates));
            ASSERT_EQ(a.size(), b.size());
            std::size_t compared = 0;
            for (const auto& [key, x] : a) {
                const auto it = b.find(key);
                ASSERT_NE(it, b.end());
                const measure_value& y = it->second.value;
                if (x.value.is_number() && y.is_number()) {
                    EXPECT_TRUE(std::memcmp(&x.value.number, &y.number, sizeof(double)) == 0 ||
                                (std::isnan(x.value.number) && std::isnan(y.number)))
                        << x.measure << ": " << x.value.number << " vs " << y.number;
                    ++compared;
                } else {
                    EXPECT_EQ(to_string(x.value), to_string(y)) << x.measure;
                }
            }
            EXPECT_GT(compared, 0u);
        }
    }
}

class PartialsProperty : public ::testing::TestWithParam<int> {};

TEST_P(PartialsProperty, PartitionsMergedInAnyOrderEqualTheSingleEngine) {
    const int kind = GetParam();
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
        std::mt19937_64 rng(seed * 1000 + static_cast<std::uint64_t>(kind));
        const scenario sc = make_scenario(rng, kind);
        compare(sc, seed, mishap::none);
    }
}

TEST_P(PartialsProperty, ALocalEngineThatHandedAllOverAndStartedAfreshLosesNothing) {
    const int kind = GetParam();
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
        std::mt19937_64 rng(seed * 1000 + 29 + static_cast<std::uint64_t>(kind));
        const scenario sc = make_scenario(rng, kind);
        compare(sc, seed, mishap::flush);
    }
}

TEST_P(PartialsProperty, ReplayedPartialsAreMergedOnce) {
    const int kind = GetParam();
    std::uint64_t duplicates = 0;
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
        std::mt19937_64 rng(seed * 1000 + 17 + static_cast<std::uint64_t>(kind));
        const scenario sc = make_scenario(rng, kind);
        duplicates += compare(sc, seed, mishap::replay);
    }
    // The replays did hand cells over again, and each was taken once.
    EXPECT_GT(duplicates, 0u);
}

TEST_P(PartialsProperty, ALaneOfADeadDaemonReplayedFromItsLastCutIsMergedOnce) {
    const int kind = GetParam();
    std::uint64_t duplicates = 0;
    for (std::uint64_t seed = 1; seed <= 16; ++seed) {
        std::mt19937_64 rng(seed * 1000 + 41 + static_cast<std::uint64_t>(kind));
        const scenario sc = make_scenario(rng, kind);
        duplicates += compare(sc, seed, mishap::daemons);
    }
    EXPECT_GT(duplicates, 0u);
}

std::string kind_name(const ::testing::TestParamInfo<int>& info) {
    static const char* const names[] = {"tumbling", "sliding", "session"};
    return names[info.param];
}

INSTANTIATE_TEST_SUITE_P(Windows, PartialsProperty, ::testing::Values(0, 1, 2), kind_name);

}  // namespace
}  // namespace weir::test
