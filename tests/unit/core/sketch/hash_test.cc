// The value hash: domain separation, -0.0/NaN canonicalisation, avalanche of the mixers, and no
// collisions over a large set of similar keys.
#include "core/sketch/hash.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <string>
#include <unordered_set>

namespace weir::hashing {
namespace {

TEST(hash, numbers_strings_and_booleans_are_separate_domains) {
    EXPECT_NE(hash_value(field_value::make_number(1)), hash_value(field_value::make_string("1")));
    EXPECT_NE(hash_value(field_value::make_number(1)), hash_value(field_value::make_boolean(true)));
    EXPECT_NE(hash_value(field_value::make_number(0)),
              hash_value(field_value::make_boolean(false)));
    EXPECT_NE(hash_value(field_value::make_string("")), hash_value(field_value::make_null()));
}

TEST(hash, equal_numbers_hash_alike) {
    EXPECT_EQ(hash_number(-0.0), hash_number(0.0));
    EXPECT_EQ(hash_number(std::nan("1")), hash_number(-std::nan("2")));
    EXPECT_NE(hash_number(1.0), hash_number(std::nextafter(1.0, 2.0)));
    EXPECT_EQ(hash_value(field_value::make_number(3)), hash_number(3.0));
}

TEST(hash, strings_hash_by_content_not_address) {
    std::string a = "device-17";
    std::string b = "xxdevice-17";
    EXPECT_EQ(hash_string(a), hash_string(std::string_view(b).substr(2)));
    EXPECT_NE(hash_bytes(a.data(), a.size(), 1), hash_bytes(a.data(), a.size(), 2));
}

// Flipping one input bit must flip each output bit about half the time.
template <class F>
void expect_avalanche(F f, std::size_t input_bits, std::mt19937_64& rng) {
    constexpr int k_trials = 2000;
    for (std::size_t bit = 0; bit < input_bits; ++bit) {
        int flips[64] = {};
        for (int t = 0; t < k_trials; ++t) {
            std::string in(input_bits / 8, '\0');
            for (auto& c : in) c = static_cast<char>(rng());
            const std::uint64_t h0 = f(in);
            in[bit / 8] = static_cast<char>(in[bit / 8] ^ (1 << (bit % 8)));
            const std::uint64_t d = h0 ^ f(in);
            for (int o = 0; o < 64; ++o) flips[o] += static_cast<int>((d >> o) & 1);
        }
        for (int o = 0; o < 64; ++o) {
            // 2000 trials: standard deviation ~22; 0.5 +- 0.1 is ~9 sigma.
            EXPECT_NEAR(flips[o] / double(k_trials), 0.5, 0.1) << "in bit " << bit << " out " << o;
        }
    }
}

TEST(hash, mixers_avalanche) {
    std::mt19937_64 rng(11);
    expect_avalanche(
        [](const std::string& s) {
            std::uint64_t x;
            std::memcpy(&x, s.data(), 8);
            return hash_u64(x);
        },
        64, rng);
    for (std::size_t len : {3u, 7u, 12u, 16u, 24u, 40u}) {
        expect_avalanche([](const std::string& s) { return hash_bytes(s.data(), s.size()); },
                         len * 8, rng);
    }
}

TEST(hash, no_collisions_among_similar_keys) {
    std::unordered_set<std::uint64_t> seen;
    std::size_t n = 0;
    for (int i = 0; i < 200000; ++i) {
        seen.insert(hash_string("user-" + std::to_string(i)));
        seen.insert(hash_number(static_cast<double>(i)));
        seen.insert(hash_number(i + 0.5));
        n += 3;
    }
    EXPECT_EQ(seen.size(), n);
    // Every length from 0 to 64, all-zero bytes: lengths must not collide.
    std::unordered_set<std::uint64_t> by_len;
    const std::string zeros(64, '\0');
    for (std::size_t len = 0; len <= 64; ++len) by_len.insert(hash_bytes(zeros.data(), len));
    EXPECT_EQ(by_len.size(), 65u);
}

TEST(hash, low_and_high_bits_are_uniform_for_sequential_integers) {
    // HyperLogLog takes its register index from the high bits and its rank from the rest.
    int high[16] = {};
    int low[16] = {};
    constexpr int k_n = 160000;
    for (int i = 0; i < k_n; ++i) {
        const std::uint64_t h = hash_number(i);
        ++high[h >> 60];
        ++low[h & 15];
    }
    for (int b = 0; b < 16; ++b) {
        EXPECT_NEAR(high[b], k_n / 16, 400);  // sd ~97
        EXPECT_NEAR(low[b], k_n / 16, 400);
    }
}

}  // namespace
}  // namespace weir::hashing
