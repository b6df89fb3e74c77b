// HyperLogLog: accuracy against true cardinalities over many seeds (1 .. 1e6), exactness of the
// sparse mode for small counts, merge in every mode combination, and serialisation.
#include "core/sketch/hyperloglog.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/sketch/hash.h"

namespace weir::sketch {
namespace {

// Distinct values v = seed * 2^40 + i, hashed as numbers are.
void fill(hyperloglog& h, std::uint64_t seed, std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t i = from; i < to; ++i)
        h.add_hash(hashing::hash_u64((seed << 40) + i, 0x5eed));
}

TEST(hyperloglog, sparse_mode_is_exact_for_small_counts) {
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
        for (std::uint64_t n : {0u, 1u, 2u, 3u, 10u, 57u, 100u}) {
            hyperloglog h;
            fill(h, seed, 0, n);
            fill(h, seed, 0, n);  // repeats change nothing
            ASSERT_TRUE(h.is_sparse());
            EXPECT_EQ(std::llround(h.estimate()), static_cast<long long>(n))
                << "seed " << seed << " n " << n;
        }
    }
}

TEST(hyperloglog, empty_and_tiny_memory) {
    hyperloglog h;
    EXPECT_EQ(h.estimate(), 0);
    EXPECT_EQ(h.memory_bytes(), 0u);
    fill(h, 1, 0, 20);
    EXPECT_LE(h.memory_bytes(), 256u);  // a group with few values costs little
}

// Over many seeds, each estimate within 3 standard errors, and the root-mean-square error
// close to the documented standard error (it would be far off with a biased estimator).
// With very few registers (p < 8) the error distribution is far from normal — its right tail
// is long — so there only the RMS error and the bias are checked.
void check_accuracy(int precision, const std::vector<std::uint64_t>& cardinalities, int seeds) {
    const double se = 1.04 / std::sqrt(std::ldexp(1.0, precision));
    for (std::uint64_t n : cardinalities) {
        double sum_sq = 0;
        double sum = 0;
        int samples = 0;
        for (int s = 0; s < seeds; ++s) {
            hyperloglog h(precision);
            fill(h, static_cast<std::uint64_t>(s) + 1000 * precision, 0, n);
            const double rel = (h.estimate() - static_cast<double>(n)) / static_cast<double>(n);
            if (precision >= 8) {
                EXPECT_LE(std::abs(rel), 3 * se)
                    << "p " << precision << " n " << n << " seed " << s;
            }
            sum_sq += rel * rel;
            sum += rel;
            ++samples;
        }
        const double rmse = std::sqrt(sum_sq / samples);
        EXPECT_LE(rmse, 1.5 * se) << "p " << precision << " n " << n;
        // Bias: the mean error must be small against the error of a mean of `samples`.
        EXPECT_LE(std::abs(sum / samples), 4 * se / std::sqrt(samples) + 1e-3)
            << "p " << precision << " n " << n;
    }
}

TEST(hyperloglog, accuracy_default_precision) {
    check_accuracy(14, {1, 10, 100, 1000, 5000, 20000, 100000}, 30);
    check_accuracy(14, {1000000}, 5);
}

TEST(hyperloglog, accuracy_other_precisions) {
    check_accuracy(10, {10, 300, 800, 3000, 50000}, 40);
    check_accuracy(4, {5, 12, 40, 200, 5000}, 60);
    check_accuracy(18, {50000, 400000}, 4);
}

TEST(hyperloglog, switches_to_dense_at_the_dense_size) {
    hyperloglog h(12);
    fill(h, 3, 0, 500);
    EXPECT_TRUE(h.is_sparse());
    fill(h, 3, 500, 5000);
    EXPECT_FALSE(h.is_sparse());
    EXPECT_LE(h.memory_bytes(), 3 * 1024 + 1u);  // 4096 registers * 6 bits, + 1 pad byte
}

// Merging two sketches equals one sketch that saw both streams, bit for bit, in every mode.
TEST(hyperloglog, merge_equals_union_in_every_mode) {
    const std::uint64_t sizes[] = {0, 5, 300, 900, 20000};  // p = 10: dense above ~192 buckets
    for (std::uint64_t a : sizes) {
        for (std::uint64_t b : sizes) {
            hyperloglog ha(10);
            hyperloglog hb(10);
            hyperloglog both(10);
            fill(ha, 7, 0, a);
            fill(hb, 7, a / 2, a / 2 + b);  // overlapping ranges
            fill(both, 7, 0, a);
            fill(both, 7, a / 2, a / 2 + b);
            hyperloglog ab = ha;
            ASSERT_TRUE(ab.merge(hb));
            hyperloglog ba = hb;
            ASSERT_TRUE(ba.merge(ha));
            byte_writer wab;
            byte_writer wba;
            byte_writer wboth;
            ab.serialize(wab);
            ba.serialize(wba);
            both.serialize(wboth);
            if (ab.is_sparse() == both.is_sparse()) {
                EXPECT_EQ(wab.data(), wboth.data());
            }
            EXPECT_EQ(wab.data(), wba.data()) << a << " " << b;
            EXPECT_DOUBLE_EQ(ab.estimate(), ba.estimate());
            // A sparse union may have gone dense only in one of them; estimates still agree.
            EXPECT_NEAR(ab.estimate(), both.estimate(), 0.05 * both.estimate() + 1e-9);
            hyperloglog again = ab;
            again.merge(ab);  // idempotent
            EXPECT_DOUBLE_EQ(again.estimate(), ab.estimate());
        }
    }
    hyperloglog other_precision(12);
    hyperloglog h(10);
    EXPECT_FALSE(h.merge(other_precision));
}

TEST(hyperloglog, serialization_round_trips_and_rejects_corruption) {
    for (std::uint64_t n : {0u, 7u, 150u, 3000u, 100000u}) {
        hyperloglog h(12);
        fill(h, 9, 0, n);
        byte_writer w;
        h.serialize(w);
        hyperloglog back;
        byte_reader r(w.data());
        ASSERT_TRUE(back.deserialize(r));
        EXPECT_TRUE(r.at_end());
        EXPECT_EQ(back.precision(), 12);
        EXPECT_EQ(back.is_sparse(), h.is_sparse());
        EXPECT_DOUBLE_EQ(back.estimate(), h.estimate());
        // Still usable: adding more after a restore behaves as before.
        fill(back, 9, n, n + 100);
        fill(h, 9, n, n + 100);
        EXPECT_DOUBLE_EQ(back.estimate(), h.estimate());
        for (std::size_t cut = 0; cut < w.size(); cut += 1 + w.size() / 50) {
            hyperloglog partial;
            byte_reader pr(std::string_view(w.data()).substr(0, cut));
            EXPECT_FALSE(partial.deserialize(pr));
        }
    }
    {  // bad precision
        const std::string bytes("\x03\x00\x00", 3);
        byte_reader r(bytes);
        hyperloglog h;
        EXPECT_FALSE(h.deserialize(r));
    }
    {  // sparse words out of order
        byte_writer w;
        w.u8(12);
        w.u8(0);
        w.varint(2);
        w.varint((100u << 6) | 3);
        w.varint(0);  // same bucket again
        byte_reader r(w.data());
        hyperloglog h;
        EXPECT_FALSE(h.deserialize(r));
    }
    {  // a dense register above the largest possible rank
        byte_writer w;
        w.u8(4);
        w.u8(1);
        std::string regs(12, '\0');
        regs[0] = 63;
        w.raw(regs.data(), regs.size());
        byte_reader r(w.data());
        hyperloglog h;
        EXPECT_FALSE(h.deserialize(r));
    }
}

}  // namespace
}  // namespace weir::sketch
