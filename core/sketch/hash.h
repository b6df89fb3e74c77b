// The 64-bit hash of field values that distinct counting, HyperLogLog and is_frozen rely on.
// Fast (one or two 64x64->128 multiplies per 16 bytes), well mixed in every output bit.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "core/record/field_value.h"

namespace weir::hashing {

// Odd multipliers: the first 64 bits of the fractional parts of the square roots of the
// primes 2, 3, 5, 7 and 11 (low bit forced to 1). Any odd, bit-dense constants would do.
inline constexpr std::uint64_t k0 = 0x6a09e667f3bcc909ull;
inline constexpr std::uint64_t k1 = 0xbb67ae8584caa73bull;
inline constexpr std::uint64_t k2 = 0x3c6ef372fe94f82bull;
inline constexpr std::uint64_t k3 = 0xa54ff53a5f1d36f1ull;
inline constexpr std::uint64_t k4 = 0x510e527fade682d1ull;

// Folds the 128-bit product: every input bit reaches the middle output bits, and hi ^ lo
// spreads them to both ends.
inline std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) {
    __extension__ using u128 = unsigned __int128;
    const u128 p = static_cast<u128>(a) * b;
    return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}

// A bijection-quality mixer for one 64-bit word (two rounds, so that flipping any input bit
// flips each output bit with probability close to 1/2).
inline std::uint64_t hash_u64(std::uint64_t x, std::uint64_t seed = 0) {
    const std::uint64_t h = fold_mul(x ^ k0, k1 ^ seed);
    return fold_mul(h ^ k2, k3 ^ (seed + x));
}

// Hashes n bytes. Not designed against adversarial collisions (no secret key); fine for
// counting values an operator's own streams carry.
std::uint64_t hash_bytes(const void* data, std::size_t n, std::uint64_t seed = 0);

// Domain seeds, so that the number 1, the string "1" and true never share a hash by design.
inline constexpr std::uint64_t k_seed_number = 0x1f83d9abfb41bd6bull;
inline constexpr std::uint64_t k_seed_string = 0x5be0cd19137e2179ull;
inline constexpr std::uint64_t k_seed_bool = 0x9b05688c2b3e6c1full;
inline constexpr std::uint64_t k_seed_other = 0xcbbb9d5dc1059ed8ull;

// Numbers hash by value: -0.0 and +0.0 hash alike (they compare equal), and every NaN hashes
// to one canonical NaN. Integers and the same value written as 1.0 are the same double already.
inline std::uint64_t hash_number(double d) {
    if (d == 0.0) d = 0.0;                                            // folds -0.0 into +0.0
    if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();  // canonical NaN
    return hash_u64(std::bit_cast<std::uint64_t>(d), k_seed_number);
}

inline std::uint64_t hash_string(std::string_view s) {
    return hash_bytes(s.data(), s.size(), k_seed_string);
}

// The hash of a value as distinct counting sees it: numbers, strings and booleans live in
// separate domains (1 != "1" != true). absent, null and other hash to fixed constants; measures
// normally skip those before hashing.
inline std::uint64_t hash_value(const field_value& v) {
    switch (v.kind) {
        case value_kind::number:
            return hash_number(v.number);
        case value_kind::string:
            return hash_string(v.string());
        case value_kind::boolean:
            return hash_u64(v.boolean ? 1 : 0, k_seed_bool);
        case value_kind::absent:
            return hash_u64(0, k_seed_other);
        case value_kind::null:
            return hash_u64(1, k_seed_other);
        case value_kind::other:
            return hash_u64(2, k_seed_other);
    }
    return 0;
}

}  // namespace weir::hashing
