// in_range, in_set and matches: counts and fractions against brute-force references over random
// streams, merged in random panes, round-tripped; plus the documented edge cases.
#include "core/measure/predicate.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <cmath>
#include <random>

#include "tests/unit/core/measure/random_values.h"

namespace weir::measure {
namespace {

using test::merge_randomly;
using test::random_panes;
using test::random_values;
using test::round_trip;

template <class Config, class Reference>
void check_against_reference(const Config& cfg, Reference want_hit) {
    for (int seed = 0; seed < 200; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = random_values(rng, rng() % 300, 0.4);
        std::uint64_t present = 0;
        std::uint64_t hits = 0;
        for (const auto& v : s.values) {
            if (v.kind == value_kind::absent || v.kind == value_kind::null ||
                (v.kind == value_kind::string && v.length == 0)) {
                continue;
            }
            ++present;
            hits += want_hit(v) ? 1 : 0;
        }
        const auto cuts = random_panes(rng, s.values.size());
        std::vector<predicate_acc> parts;
        for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
            predicate_acc a;
            for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i) a.add(s.values[i], cfg);
            parts.push_back(a);
        }
        auto merged = merge_randomly(rng, parts, true,
                                     [](predicate_acc& a, const predicate_acc& b) { a.merge(b); });
        merged = round_trip(merged);
        EXPECT_EQ(merged.count(), static_cast<double>(hits));
        if (present == 0) {
            EXPECT_FALSE(merged.fraction());
        } else {
            EXPECT_DOUBLE_EQ(*merged.fraction(), static_cast<double>(hits) / present);
        }
    }
}

TEST(in_range, matches_reference_inclusive_bounds) {
    in_range_config cfg{10, 60};
    check_against_reference(cfg, [](const field_value& v) {
        return v.kind == value_kind::number && !std::isnan(v.number) && v.number >= 10 &&
               v.number <= 60;
    });
    EXPECT_TRUE(cfg.test(field_value::make_number(10)));
    EXPECT_TRUE(cfg.test(field_value::make_number(60)));
    EXPECT_FALSE(cfg.test(field_value::make_number(std::nextafter(60.0, 61.0))));
    EXPECT_FALSE(cfg.test(field_value::make_string("20")));
    in_range_config open{0, std::numeric_limits<double>::infinity()};
    EXPECT_TRUE(open.test(field_value::make_number(std::numeric_limits<double>::infinity())));
    EXPECT_FALSE(open.test(field_value::make_number(std::nan(""))));
}

TEST(in_range, wrong_types_count_against_the_fraction) {
    in_range_config cfg{0, 100};
    predicate_acc a;
    a.add(field_value::make_number(5), cfg);
    a.add(field_value::make_string("five"), cfg);
    a.add(field_value::make_other(), cfg);
    a.add(field_value::make_number(std::nan("")), cfg);
    a.add(field_value::make_null(), cfg);  // missing: not counted at all
    a.add(field_value::make_string(""), cfg);
    EXPECT_EQ(a.count(), 1);
    EXPECT_DOUBLE_EQ(*a.fraction(), 0.25);
}

TEST(in_set, matches_reference_without_conversions) {
    in_set_config cfg;
    for (double d : {0.0, 3.0, 7.0, 19.0, std::nan("")}) cfg.add_number(d);
    for (const char* s : {"a", "ok", "\xe2\x82\xac", "1"}) cfg.add_string(s);
    cfg.add_boolean(true);
    cfg.finish();
    check_against_reference(cfg, [](const field_value& v) {
        if (v.kind == value_kind::number)
            return v.number == 0.0 || v.number == 3 || v.number == 7 || v.number == 19;
        if (v.kind == value_kind::string) {
            const auto s = v.string();
            return s == "a" || s == "ok" || s == "\xe2\x82\xac" || s == "1";
        }
        if (v.kind == value_kind::boolean) return v.boolean;
        return false;
    });
    EXPECT_TRUE(cfg.test(field_value::make_number(-0.0)));
    EXPECT_FALSE(cfg.test(field_value::make_number(1)));  // "1" is in the set, 1 is not
    EXPECT_FALSE(cfg.test(field_value::make_string("3")));
    EXPECT_FALSE(cfg.test(field_value::make_number(std::nan(""))));
    EXPECT_FALSE(cfg.test(field_value::make_boolean(false)));
}

TEST(matches, full_match_on_strings_only) {
    std::string error;
    auto cfg = matches_config::compile("[a-z]+", &error);
    ASSERT_TRUE(cfg) << error;
    const RE2 reference("[a-z]+");
    check_against_reference(*cfg, [&](const field_value& v) {
        return v.kind == value_kind::string && RE2::FullMatch(std::string(v.string()), reference);
    });
    EXPECT_TRUE(cfg->test(field_value::make_string("spaces")));
    EXPECT_FALSE(cfg->test(field_value::make_string("spaces here")));  // partial: no
    auto digits = matches_config::compile("[0-9]+", &error);
    EXPECT_FALSE(digits->test(field_value::make_number(42)));  // numbers are not text
    EXPECT_FALSE(matches_config::compile("(unclosed", &error));
    EXPECT_FALSE(error.empty());
}

TEST(matches_config, search_finds_the_pattern_anywhere) {
    std::string error;
    auto cfg = matches_config::compile("[0-9]+", &error, true);
    ASSERT_TRUE(cfg) << error;
    const RE2 reference("[0-9]+");
    check_against_reference(*cfg, [&](const field_value& v) {
        return v.kind == value_kind::string &&
               RE2::PartialMatch(std::string(v.string()), reference);
    });
    EXPECT_TRUE(cfg->test(field_value::make_string("order 42")));
    EXPECT_TRUE(cfg->test(field_value::make_string("7")));
    EXPECT_FALSE(cfg->test(field_value::make_string("none")));
    EXPECT_FALSE(cfg->test(field_value::make_number(42)));  // numbers are still not text
    // Anchors still anchor.
    auto anchored = matches_config::compile("^a", &error, true);
    EXPECT_TRUE(anchored->test(field_value::make_string("abc")));
    EXPECT_FALSE(anchored->test(field_value::make_string("cba")));
}

TEST(predicate_acc, corrupt_counts_are_rejected) {
    byte_writer w;
    w.varint(2);
    w.varint(3);
    byte_reader r(w.data());
    predicate_acc a;
    EXPECT_FALSE(a.deserialize(r));
    EXPECT_EQ(sizeof(predicate_acc), 16u);
}

}  // namespace
}  // namespace weir::measure
