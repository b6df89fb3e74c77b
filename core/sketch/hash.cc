// hash_bytes: a multiply-fold hash over 16-byte blocks, with overlapping loads for the tail so
// that short strings (the common case: ids, codes, names) take one or two multiplies.
#include "core/sketch/hash.h"

namespace weir::hashing {

namespace {

std::uint64_t load64(const unsigned char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
}

std::uint64_t load32(const unsigned char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
    return v;
}

}  // namespace

std::uint64_t hash_bytes(const void* data, std::size_t n, std::uint64_t seed) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t s = fold_mul(seed ^ k0, k4) ^ k2;
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    if (n <= 16) {
        if (n >= 8) {
            a = load64(p);
            b = load64(p + n - 8);
        } else if (n >= 4) {
            a = load32(p);
            b = load32(p + n - 4);
        } else if (n > 0) {
            // Three bytes cover lengths 1..3 (first, middle, last), with the length mixed later.
            a = (static_cast<std::uint64_t>(p[0]) << 16) |
                (static_cast<std::uint64_t>(p[n >> 1]) << 8) | p[n - 1];
        }
    } else {
        std::size_t left = n;
        while (left > 16) {
            s = fold_mul(load64(p) ^ k1, load64(p + 8) ^ s);
            p += 16;
            left -= 16;
        }
        // The last 16 bytes, overlapping the previous block when n is not a multiple of 16.
        a = load64(p + left - 16);
        b = load64(p + left - 8);
    }
    const std::uint64_t h = fold_mul(a ^ k1, b ^ s ^ k3);
    return fold_mul(h ^ k0 ^ static_cast<std::uint64_t>(n), k4 ^ s);
}

}  // namespace weir::hashing
