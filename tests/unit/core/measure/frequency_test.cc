// Exact distinct counting and most_frequent against a std::map reference over random streams,
// merged in random panes in any order, round-tripped; and the memory cap.
#include "core/measure/frequency.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "tests/unit/core/measure/random_values.h"

namespace weir::measure {
namespace {

using test::merge_randomly;
using test::random_panes;
using test::random_values;
using test::round_trip;

// A reference key with the documented equality: kind + value, -0.0 == 0.0, NaN == NaN.
using ref_key = std::pair<int, std::string>;

ref_key key_of(const field_value& v) {
    switch (v.kind) {
        case value_kind::number: {
            if (std::isnan(v.number)) return {0, "nan"};
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.17g", v.number == 0 ? 0.0 : v.number);
            return {0, buf};
        }
        case value_kind::string:
            return {1, std::string(v.string())};
        case value_kind::boolean:
            return {2, v.boolean ? "t" : "f"};
        default:
            return {3, ""};
    }
}

TEST(frequency_acc, matches_reference) {
    frequency_config cfg;
    cfg.keep_values = true;
    for (int seed = 0; seed < 300; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = random_values(rng, rng() % 400, 0.5);
        std::map<ref_key, std::uint64_t> ref;
        std::uint64_t considered = 0;
        for (const auto& v : s.values) {
            if (v.missing() || v.kind == value_kind::other) continue;
            ++considered;
            ++ref[key_of(v)];
        }
        std::uint64_t unique = 0;
        std::uint64_t top = 0;
        for (const auto& [k, n] : ref) {
            unique += n == 1;
            top = std::max(top, n);
        }

        const auto cuts = random_panes(rng, s.values.size());
        std::vector<frequency_acc> parts;
        for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
            frequency_acc a;
            for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i) a.add(s.values[i], cfg);
            parts.push_back(a);
        }
        auto merged = merge_randomly(
            rng, parts, true, [&](frequency_acc& a, const frequency_acc& b) { a.merge(b, cfg); });
        frequency_acc seq;
        for (const auto& v : s.values) seq.add(v, cfg);
        for (const frequency_acc* acc : {&merged, &seq}) {
            const frequency_acc back = round_trip(*acc);
            for (const frequency_acc* a : {acc, &back}) {
                EXPECT_FALSE(a->capped());
                EXPECT_EQ(a->distinct_count().value, static_cast<double>(ref.size()));
                EXPECT_EQ(a->unique_count().value, static_cast<double>(unique));
                EXPECT_EQ(a->duplicate_count().value, static_cast<double>(considered - ref.size()));
                if (considered == 0) {
                    EXPECT_FALSE(a->distinct_fraction().value);
                    EXPECT_TRUE(a->most_frequent().value.is_null());
                    continue;
                }
                EXPECT_DOUBLE_EQ(*a->distinct_fraction().value,
                                 static_cast<double>(ref.size()) / considered);
                const auto mf = a->most_frequent();
                EXPECT_EQ(mf.count, top);
                // The reported value really has the top count.
                field_value as_field;
                if (mf.value.kind == measure_kind::number)
                    as_field = field_value::make_number(mf.value.number);
                if (mf.value.kind == measure_kind::string)
                    as_field = field_value::make_string(mf.value.text);
                if (mf.value.kind == measure_kind::boolean)
                    as_field = field_value::make_boolean(mf.value.boolean);
                ASSERT_FALSE(mf.value.is_null());
                EXPECT_EQ(ref[key_of(as_field)], top);
            }
        }
        // Ties resolve the same way whatever the merge order.
        const measure_value x = merged.most_frequent().value;
        const measure_value y = seq.most_frequent().value;
        EXPECT_TRUE(x == y || (x.is_number() && y.is_number() && std::isnan(x.number) &&
                               std::isnan(y.number)));
    }
}

TEST(frequency_acc, without_values_counts_but_does_not_name_the_top_value) {
    frequency_config cfg;  // keep_values off
    frequency_acc a;
    for (int i = 0; i < 10; ++i) a.add(field_value::make_string("x"), cfg);
    a.add(field_value::make_string("y"), cfg);
    EXPECT_EQ(a.most_frequent().count, 10u);
    EXPECT_TRUE(a.most_frequent().value.is_null());
    EXPECT_EQ(a.distinct_count().value, 2);
    EXPECT_EQ(a.unique_count().value, 1);
}

TEST(frequency_acc, empty_state_allocates_nothing) {
    frequency_acc a;
    EXPECT_EQ(a.memory_bytes(), 0u);
    a.add(field_value::make_null(), frequency_config{});
    EXPECT_EQ(a.memory_bytes(), 0u);
}

TEST(frequency_acc, memory_cap_flags_results_and_bounds_memory) {
    for (bool keep : {false, true}) {
        frequency_config cfg;
        cfg.max_bytes = 16 * 1024;
        cfg.keep_values = keep;
        frequency_acc a;
        std::vector<std::string> names;
        for (int i = 0; i < 5000; ++i) names.push_back("value-number-" + std::to_string(i));
        for (int round = 0; round < 3; ++round)
            for (const auto& n : names) a.add(field_value::make_string(n), cfg);
        EXPECT_TRUE(a.capped());
        EXPECT_LE(a.memory_bytes(), cfg.max_bytes);
        const auto d = a.distinct_count();
        EXPECT_TRUE(d.capped);
        EXPECT_GT(*d.value, 100);   // it tracked what fitted
        EXPECT_LT(*d.value, 5000);  // a lower bound
        EXPECT_EQ(a.considered(), 15000u);
        // Values tracked before the cap keep exact counts.
        EXPECT_EQ(a.most_frequent().count, 3u);
        EXPECT_TRUE(a.most_frequent().capped);
        EXPECT_TRUE(a.duplicate_count().capped);
        // The flag survives merging and checkpoints.
        frequency_acc b;
        b.merge(a, cfg);
        EXPECT_TRUE(b.capped());
        EXPECT_TRUE(round_trip(a).capped());
    }
}

TEST(frequency_acc, corrupt_state_is_rejected) {
    frequency_acc a;
    frequency_config cfg;
    a.add(field_value::make_number(1), cfg);
    a.add(field_value::make_number(2), cfg);
    byte_writer w;
    a.serialize(w);
    std::string bytes = w.take();
    // Duplicate entry: copy the first entry over the second.
    std::string dup = bytes;
    const std::size_t header = 4;  // considered, capped, with_values, size (one byte each)
    const std::size_t entry = 9;   // hash + one-byte count
    dup.replace(header + entry, entry, bytes.substr(header, entry));
    frequency_acc back;
    byte_reader r(dup);
    EXPECT_FALSE(back.deserialize(r));
    EXPECT_EQ(back.distinct_count().value, 0);  // left empty, not half-filled
    // More entries than values considered.
    std::string inflated = bytes;
    inflated[0] = 1;
    byte_reader r2(inflated);
    EXPECT_FALSE(back.deserialize(r2));
}

}  // namespace
}  // namespace weir::measure
