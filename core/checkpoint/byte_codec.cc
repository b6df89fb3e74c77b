// Binary checkpoint codec and CRC32C (table-driven, slicing by 8, tables built at compile time).
#include "core/checkpoint/byte_codec.h"

#include <array>
#include <bit>
#include <cstring>

namespace weir {

namespace {

void put_le(std::string& buf, std::uint64_t v, int bytes) {
    char tmp[8];
    for (int i = 0; i < bytes; ++i) tmp[i] = static_cast<char>((v >> (8 * i)) & 0xffu);
    buf.append(tmp, static_cast<std::size_t>(bytes));
}

std::uint64_t get_le(const char* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
        v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    }
    return v;
}

}  // namespace

void byte_writer::u32(std::uint32_t v) {
    put_le(buf_, v, 4);
}
void byte_writer::u64(std::uint64_t v) {
    put_le(buf_, v, 8);
}
void byte_writer::f64(double v) {
    u64(std::bit_cast<std::uint64_t>(v));
}

void byte_writer::varint(std::uint64_t v) {
    char tmp[10];
    int n = 0;
    while (v >= 0x80) {
        tmp[n++] = static_cast<char>((v & 0x7f) | 0x80);
        v >>= 7;
    }
    tmp[n++] = static_cast<char>(v);
    buf_.append(tmp, static_cast<std::size_t>(n));
}

void byte_writer::svarint(std::int64_t v) {
    const auto u = static_cast<std::uint64_t>(v);
    varint((u << 1) ^ (v < 0 ? ~std::uint64_t{0} : 0));
}

void byte_writer::str(std::string_view s) {
    varint(s.size());
    buf_.append(s.data(), s.size());
}

void byte_writer::raw(const void* data, std::size_t n) {
    buf_.append(static_cast<const char*>(data), n);
}

std::string_view to_string(codec_error e) {
    switch (e) {
        case codec_error::none:
            return "ok";
        case codec_error::truncated:
            return "truncated";
        case codec_error::malformed:
            return "malformed";
    }
    return "unknown";
}

const char* byte_reader::take(std::size_t n) {
    if (!ok()) return nullptr;
    if (n > data_.size() - pos_) {
        fail(codec_error::truncated);
        return nullptr;
    }
    const char* p = data_.data() + pos_;
    pos_ += n;
    return p;
}

std::uint8_t byte_reader::u8() {
    const char* p = take(1);
    return p ? static_cast<std::uint8_t>(*p) : 0;
}

bool byte_reader::boolean() {
    const std::uint8_t v = u8();
    if (v > 1) fail();
    return v == 1;
}

std::uint32_t byte_reader::u32() {
    const char* p = take(4);
    return p ? static_cast<std::uint32_t>(get_le(p, 4)) : 0;
}

std::uint64_t byte_reader::u64() {
    const char* p = take(8);
    return p ? get_le(p, 8) : 0;
}

double byte_reader::f64() {
    return std::bit_cast<double>(u64());
}

std::uint64_t byte_reader::varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const char* p = take(1);
        if (!p) return 0;
        const auto byte = static_cast<std::uint8_t>(*p);
        const std::uint64_t bits = byte & 0x7fu;
        // The tenth byte may carry only the top bit of a 64-bit value.
        if (shift == 63 && bits > 1) {
            fail();
            return 0;
        }
        v |= bits << shift;
        if ((byte & 0x80u) == 0) return v;
    }
    fail();
    return 0;
}

std::int64_t byte_reader::svarint() {
    const std::uint64_t u = varint();
    return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

std::string_view byte_reader::str() {
    const std::uint64_t n = varint();
    if (!ok()) return {};
    if (n > remaining()) {
        fail(codec_error::truncated);
        return {};
    }
    return raw(static_cast<std::size_t>(n));
}

std::string_view byte_reader::raw(std::size_t n) {
    const char* p = take(n);
    return p ? std::string_view(p, n) : std::string_view();
}

std::size_t byte_reader::count(std::size_t min_bytes_per_item) {
    const std::uint64_t n = varint();
    if (!ok()) return 0;
    const std::size_t per = min_bytes_per_item == 0 ? 1 : min_bytes_per_item;
    if (n > remaining() / per) {
        fail(codec_error::truncated);
        return 0;
    }
    return static_cast<std::size_t>(n);
}

namespace {

constexpr std::uint32_t k_crc32c_poly = 0x82F63B78u;  // reflected Castagnoli polynomial

using crc_tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr crc_tables make_crc_tables() {
    crc_tables t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? k_crc32c_poly : 0u);
        t[0][i] = c;
    }
    // t[k][i] is the CRC of byte i followed by k zero bytes: lets the loop fold 8 bytes at once.
    for (std::size_t k = 1; k < 8; ++k) {
        for (std::uint32_t i = 0; i < 256; ++i) {
            const std::uint32_t prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][prev & 0xffu];
        }
    }
    return t;
}

constexpr crc_tables k_crc = make_crc_tables();

}  // namespace

std::uint32_t crc32c_portable(std::string_view data, std::uint32_t crc) {
    std::uint32_t c = ~crc;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    std::size_t n = data.size();
    while (n >= 8) {
        const std::uint32_t lo =
            c ^ static_cast<std::uint32_t>(get_le(reinterpret_cast<const char*>(p), 4));
        const auto hi = static_cast<std::uint32_t>(get_le(reinterpret_cast<const char*>(p + 4), 4));
        c = k_crc[7][lo & 0xffu] ^ k_crc[6][(lo >> 8) & 0xffu] ^ k_crc[5][(lo >> 16) & 0xffu] ^
            k_crc[4][lo >> 24] ^ k_crc[3][hi & 0xffu] ^ k_crc[2][(hi >> 8) & 0xffu] ^
            k_crc[1][(hi >> 16) & 0xffu] ^ k_crc[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) c = (c >> 8) ^ k_crc[0][(c ^ *p++) & 0xffu];
    return ~c;
}

#if defined(__x86_64__)
namespace {

// The crc32 instruction computes CRC32C, reflected, on the running value as the tables do.
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::string_view data,
                                                             std::uint32_t crc) {
    std::uint64_t c = ~crc;
    const char* p = data.data();
    std::size_t n = data.size();
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
    }
    auto c32 = static_cast<std::uint32_t>(c);
    for (; n > 0; ++p, --n) c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*p));
    return ~c32;
}

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) {
    static const bool hardware = __builtin_cpu_supports("sse4.2");
    return hardware ? crc32c_sse42(data, crc) : crc32c_portable(data, crc);
}
#else
std::uint32_t crc32c(std::string_view data, std::uint32_t crc) {
    return crc32c_portable(data, crc);
}
#endif

}  // namespace weir
