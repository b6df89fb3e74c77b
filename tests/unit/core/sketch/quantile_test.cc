// DDSketch against exact nearest-rank quantiles over many seeds and distributions (uniform,
// normal, lognormal, mixed signs with zeros), merged in random panes, round-tripped; plus
// collapsing, 64-bit counts and corrupt input.
#include "core/sketch/quantile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace weir::sketch {
namespace {

// Nearest rank: the value of rank ceil(q n) (1-based) in ascending order, rank 1 for q = 0.
double exact_quantile(std::vector<double> sorted, double q) {
    const auto n = sorted.size();
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    rank = std::clamp<std::size_t>(rank, 1, n);
    return sorted[rank - 1];
}

std::vector<double> sample(std::mt19937_64& rng, int dist, std::size_t n) {
    std::vector<double> xs;
    std::uniform_real_distribution<double> uniform(0, 1000);
    std::normal_distribution<double> normal(0, 50);  // half negative
    std::lognormal_distribution<double> lognormal(0, 2.5);
    std::uniform_int_distribution<int> small(-3, 3);
    for (std::size_t i = 0; i < n; ++i) {
        switch (dist) {
            case 0:
                xs.push_back(uniform(rng));
                break;
            case 1:
                xs.push_back(normal(rng));
                break;
            case 2:
                xs.push_back(lognormal(rng));
                break;
            case 3:
                xs.push_back((rng() & 1 ? 1 : -1) * lognormal(rng));
                break;
            default:
                xs.push_back(small(rng) * 0.5);
                break;  // many zeros and repeats
        }
    }
    return xs;
}

void expect_within_alpha(const ddsketch& d, std::vector<double> xs, double alpha,
                         const char* what) {
    std::sort(xs.begin(), xs.end());
    for (double q : {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
        const double want = exact_quantile(xs, q);
        const auto got = d.quantile(q);
        ASSERT_TRUE(got.has_value());
        // alpha, plus a hair for rounding in log() at bucket boundaries.
        EXPECT_LE(std::abs(*got - want), alpha * std::abs(want) * (1 + 1e-9) + 1e-300)
            << what << " q " << q << " want " << want << " got " << *got;
    }
}

TEST(ddsketch, relative_error_within_alpha_over_distributions_and_seeds) {
    for (double alpha : {0.01, 0.05, 0.001}) {
        for (int dist = 0; dist < 5; ++dist) {
            for (int seed = 0; seed < 15; ++seed) {
                std::mt19937_64 rng(seed * 31 + dist);
                const std::size_t n = 1 + rng() % 20000;
                const auto xs = sample(rng, dist, n);
                // At alpha = 0.1% a decade takes ~1150 buckets: give room so nothing collapses.
                ddsketch d(alpha, alpha < 0.01 ? 1u << 15 : ddsketch::k_default_max_buckets);
                for (double x : xs) d.add(x);
                EXPECT_EQ(d.count(), n);
                EXPECT_FALSE(d.collapsed());
                expect_within_alpha(d, xs, alpha, "sequential");
            }
        }
    }
}

TEST(ddsketch, merged_panes_answer_like_one_sketch) {
    for (int dist = 0; dist < 5; ++dist) {
        for (int seed = 0; seed < 10; ++seed) {
            std::mt19937_64 rng(seed + 100 * dist);
            const auto xs = sample(rng, dist, 1 + rng() % 5000);
            std::vector<ddsketch> parts(1 + rng() % 8);
            ddsketch whole;
            for (double x : xs) {
                parts[rng() % parts.size()].add(x);
                whole.add(x);
            }
            while (parts.size() > 1) {  // random tree, random order
                const std::size_t i = rng() % parts.size();
                std::size_t j = rng() % (parts.size() - 1);
                if (j >= i) ++j;
                ASSERT_TRUE(parts[i].merge(parts[j]));
                parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(j));
            }
            expect_within_alpha(parts[0], xs, 0.01, "merged");
            // Counts add exactly, so every quantile matches the single sketch.
            for (double q : {0.0, 0.1, 0.5, 0.9, 1.0})
                EXPECT_EQ(parts[0].quantile(q), whole.quantile(q));
        }
    }
    ddsketch a(0.01);
    ddsketch b(0.02);
    EXPECT_FALSE(a.merge(b));
}

TEST(ddsketch, empty_zero_and_non_finite) {
    ddsketch d;
    EXPECT_FALSE(d.median());
    d.add(std::nan(""));
    d.add(std::numeric_limits<double>::infinity());
    EXPECT_EQ(d.count(), 0u);
    d.add(0.0);
    d.add(-0.0);
    d.add(5.0);
    EXPECT_EQ(*d.median(), 0.0);
    EXPECT_EQ(*d.quantile(1), 5.0);
    EXPECT_EQ(*d.quantile(0), 0.0);
    EXPECT_EQ(d.memory_bytes(), 4u);  // one bucket
}

TEST(ddsketch, collapsing_keeps_the_large_magnitudes_accurate) {
    ddsketch d(0.01, 64);  // 64 buckets: magnitudes over a ratio of ~3.6
    std::vector<double> xs;
    for (int i = 0; i < 2000; ++i) xs.push_back(std::pow(10.0, (i % 100) / 10.0));  // 1..1e10
    for (double x : xs) d.add(x);
    EXPECT_TRUE(d.collapsed());
    EXPECT_LE(d.memory_bytes(), 64 * 4u + 64);
    std::sort(xs.begin(), xs.end());
    // The top buckets cover magnitudes down to max / gamma^63: quantiles there are within
    // alpha; lower ones are over-estimated in magnitude, never under.
    const double gamma = 1.01 / 0.99;
    const double floor = xs.back() / std::pow(gamma, 63);
    int accurate = 0;
    for (double q : {0.05, 0.5, 0.9, 0.97, 0.99, 1.0}) {
        const double want = exact_quantile(xs, q);
        const double got = *d.quantile(q);
        if (want >= floor) {
            ++accurate;
            EXPECT_LE(std::abs(got - want), 0.01 * want * (1 + 1e-9)) << q;
        } else {
            EXPECT_GE(got, want * (1 - 1e-9)) << q;
        }
    }
    EXPECT_GE(accurate, 3);
    // Negative values: the store collapses its smallest magnitudes, i.e. the values nearest 0.
    ddsketch n(0.01, 64);
    std::vector<double> neg;
    for (double x : xs) neg.push_back(-x);
    for (double x : neg) n.add(x);
    EXPECT_TRUE(n.collapsed());
    std::sort(neg.begin(), neg.end());
    for (double q : {0.0, 0.01, 0.03, 0.1, 0.5, 0.95}) {
        const double want = exact_quantile(neg, q);
        const double got = *n.quantile(q);
        if (-want >= floor) {
            EXPECT_LE(std::abs(got - want), 0.01 * -want * (1 + 1e-9)) << q;
        } else {
            EXPECT_LE(got, want * (1 - 1e-9)) << q;  // more negative than the truth
        }
    }
}

TEST(ddsketch, counts_beyond_32_bits_stay_exact) {
    ddsketch d;
    ddsketch big;
    // Build a state with a bucket count above 2^32 via merges of a 2^31-count state.
    byte_writer w;
    w.f64(0.01);
    w.varint(2048);
    w.varint(std::uint64_t{3} << 31);  // count
    w.varint(0);                       // zeros
    w.f64(1.0);
    w.f64(100.0);
    w.boolean(false);  // positive store
    w.svarint(0);
    w.varint(1);
    w.varint(std::uint64_t{3} << 31);  // one bucket at index 0 (value 1)
    w.boolean(false);                  // negative store
    w.svarint(0);
    w.varint(0);
    byte_reader r(w.data());
    ASSERT_TRUE(big.deserialize(r)) << to_string(r.error());
    ASSERT_TRUE(d.merge(big));
    ASSERT_TRUE(d.merge(big));  // 3 * 2^32 in one bucket
    d.add(100.0);
    EXPECT_EQ(d.count(), (std::uint64_t{3} << 32) + 1);
    EXPECT_NEAR(*d.median(), 1.0, 0.01);
    EXPECT_EQ(*d.quantile(1), 100.0);
    byte_writer w2;
    d.serialize(w2);
    ddsketch back;
    byte_reader r2(w2.data());
    ASSERT_TRUE(back.deserialize(r2));
    EXPECT_EQ(back.count(), d.count());
    EXPECT_EQ(back.quantile(0.9999999999), d.quantile(0.9999999999));
}

TEST(ddsketch, serialization_round_trips_and_rejects_corruption) {
    std::mt19937_64 rng(5);
    for (int dist = 0; dist < 5; ++dist) {
        ddsketch d;
        for (double x : sample(rng, dist, 3000)) d.add(x);
        byte_writer w;
        d.serialize(w);
        ddsketch back;
        byte_reader r(w.data());
        ASSERT_TRUE(back.deserialize(r));
        EXPECT_TRUE(r.at_end());
        for (double q = 0; q <= 1; q += 0.01) EXPECT_EQ(back.quantile(q), d.quantile(q));
        for (std::size_t cut = 0; cut < w.size(); cut += 1 + w.size() / 60) {
            ddsketch partial;
            byte_reader pr(std::string_view(w.data()).substr(0, cut));
            EXPECT_FALSE(partial.deserialize(pr));
        }
    }
    ddsketch empty;
    byte_writer w;
    empty.serialize(w);
    byte_reader r(w.data());
    ddsketch back;
    EXPECT_TRUE(back.deserialize(r));
    EXPECT_FALSE(back.median());
    {  // counts that do not add up
        ddsketch d;
        d.add(1);
        d.add(2);
        byte_writer w2;
        d.serialize(w2);
        std::string bytes = w2.take();
        bytes[10] = 5;  // count (after alpha and max_buckets' two varint bytes) now 5
        byte_reader r2(bytes);
        ddsketch bad;
        EXPECT_FALSE(bad.deserialize(r2));
    }
}

}  // namespace
}  // namespace weir::sketch
