// The checkpoint byte codec: round trips of every type, bounds-checked reads of truncated and
// malformed input, and CRC32C against its published check value and a bitwise reference.
#include "core/checkpoint/byte_codec.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

namespace weir {
namespace {

TEST(byte_codec, round_trips_every_type) {
    std::mt19937_64 rng(7);
    for (int iter = 0; iter < 500; ++iter) {
        const auto u8v = static_cast<std::uint8_t>(rng());
        const auto u32v = static_cast<std::uint32_t>(rng());
        const std::uint64_t u64v = rng();
        const auto i64v = static_cast<std::int64_t>(rng());
        const std::uint64_t var = rng() >> (rng() % 64);
        const auto svar = static_cast<std::int64_t>(rng()) >> (rng() % 64);
        const double d = std::bit_cast<double>(rng());
        std::string s(rng() % 300, '\0');
        for (auto& c : s) c = static_cast<char>(rng());

        byte_writer w;
        w.u8(u8v);
        w.u32(u32v);
        w.u64(u64v);
        w.i64(i64v);
        w.varint(var);
        w.svarint(svar);
        w.f64(d);
        w.str(s);
        w.boolean(iter % 2 == 0);
        byte_reader r(w.data());
        EXPECT_EQ(r.u8(), u8v);
        EXPECT_EQ(r.u32(), u32v);
        EXPECT_EQ(r.u64(), u64v);
        EXPECT_EQ(r.i64(), i64v);
        EXPECT_EQ(r.varint(), var);
        EXPECT_EQ(r.svarint(), svar);
        EXPECT_EQ(std::bit_cast<std::uint64_t>(r.f64()), std::bit_cast<std::uint64_t>(d));
        EXPECT_EQ(r.str(), s);
        EXPECT_EQ(r.boolean(), iter % 2 == 0);
        EXPECT_TRUE(r.ok());
        EXPECT_TRUE(r.at_end());
    }
}

TEST(byte_codec, layout_is_little_endian_and_varints_are_short) {
    byte_writer w;
    w.u32(0x01020304);
    w.varint(0);
    w.varint(127);
    w.varint(128);
    w.svarint(-1);
    w.varint(std::numeric_limits<std::uint64_t>::max());
    const std::string expected = std::string("\x04\x03\x02\x01", 4) + std::string("\x00", 1) +
                                 "\x7f" + "\x80\x01" + "\x01" +
                                 "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
    EXPECT_EQ(w.data(), expected);
    byte_reader r(w.data());
    r.u32();
    r.varint();
    r.varint();
    r.varint();
    EXPECT_EQ(r.svarint(), -1);
    EXPECT_EQ(r.varint(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(std::numeric_limits<std::int64_t>::min(), [] {
        byte_writer w2;
        w2.svarint(std::numeric_limits<std::int64_t>::min());
        byte_reader r2(w2.data());
        return r2.svarint();
    }());
}

TEST(byte_codec, truncation_is_sticky_and_reads_return_zero) {
    byte_writer w;
    w.u64(42);
    const std::string bytes = w.data().substr(0, 5);
    byte_reader r(bytes);
    EXPECT_EQ(r.u64(), 0u);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), codec_error::truncated);
    // Later reads that would fit still fail: the position is unreliable after an error.
    EXPECT_EQ(r.u8(), 0u);
    EXPECT_EQ(r.str(), "");
    EXPECT_EQ(r.remaining(), 0u);
    EXPECT_EQ(to_string(r.error()), "truncated");
}

TEST(byte_codec, malformed_inputs_are_errors) {
    {  // an 11-byte varint
        const std::string bytes(11, '\x80');
        byte_reader r(bytes);
        r.varint();
        EXPECT_EQ(r.error(), codec_error::malformed);
    }
    {  // a tenth varint byte with more than the 64th bit
        std::string bytes(9, '\xff');
        bytes += '\x02';
        byte_reader r(bytes);
        r.varint();
        EXPECT_EQ(r.error(), codec_error::malformed);
    }
    {  // a boolean that is neither 0 nor 1
        byte_reader r("\x02");
        r.boolean();
        EXPECT_EQ(r.error(), codec_error::malformed);
    }
    {  // a string longer than the input
        byte_writer w;
        w.varint(1000);
        w.raw("abc", 3);
        byte_reader r(w.data());
        EXPECT_EQ(r.str(), "");
        EXPECT_EQ(r.error(), codec_error::truncated);
    }
    {  // a huge element count cannot drive an allocation
        byte_writer w;
        w.varint(std::uint64_t{1} << 60);
        w.u64(0);
        byte_reader r(w.data());
        EXPECT_EQ(r.count(8), 0u);
        EXPECT_FALSE(r.ok());
    }
    {  // fail() keeps the first error
        byte_reader r("");
        r.u8();
        r.fail(codec_error::malformed);
        EXPECT_EQ(r.error(), codec_error::truncated);
    }
}

TEST(byte_codec, every_prefix_of_a_record_fails_cleanly) {
    byte_writer w;
    w.u32(7);
    w.str("hello world");
    w.varint(1u << 20);
    w.f64(2.5);
    const std::string bytes = w.data();
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        byte_reader r(std::string_view(bytes).substr(0, cut));
        r.u32();
        r.str();
        r.varint();
        r.f64();
        EXPECT_FALSE(r.ok()) << cut;
    }
}

std::uint32_t crc32c_bitwise(std::string_view s) {
    std::uint32_t c = 0xffffffffu;
    for (unsigned char b : s) {
        c ^= b;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

TEST(crc32c, matches_check_value_and_bitwise_reference) {
    EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the standard CRC-32C check value
    EXPECT_EQ(crc32c(""), 0u);
    std::mt19937_64 rng(3);
    for (int iter = 0; iter < 300; ++iter) {
        std::string s(rng() % 100, '\0');
        for (auto& c : s) c = static_cast<char>(rng());
        EXPECT_EQ(crc32c(s), crc32c_bitwise(s));
        // Incremental use gives the same checksum as one pass.
        const std::size_t cut = s.empty() ? 0 : rng() % s.size();
        EXPECT_EQ(crc32c(s.substr(cut), crc32c(s.substr(0, cut))), crc32c(s));
    }
    std::string flipped = "checkpoint payload";
    const auto good = crc32c(flipped);
    flipped[3] ^= 0x10;
    EXPECT_NE(crc32c(flipped), good);
}

// crc32c() takes the processor's instruction where there is one: the same sums as the tables,
// at every length and alignment, and when extending a running sum.
TEST(crc32c, the_fast_path_gives_the_portable_sums) {
    EXPECT_EQ(crc32c_portable("123456789"), 0xE3069283u);
    std::mt19937_64 rng(5);
    std::string buffer(4096 + 16, '\0');
    for (auto& c : buffer) c = static_cast<char>(rng());
    for (int iter = 0; iter < 2000; ++iter) {
        const std::size_t offset = rng() % 16;
        const std::size_t length = iter < 64 ? static_cast<std::size_t>(iter) : rng() % 4096;
        const std::string_view s(buffer.data() + offset, length);
        const auto seed = static_cast<std::uint32_t>(rng());
        ASSERT_EQ(crc32c(s, seed), crc32c_portable(s, seed)) << offset << " " << length;
    }
    EXPECT_EQ(crc32c_portable(std::string_view(buffer).substr(0, 1000)),
              crc32c_bitwise(std::string_view(buffer).substr(0, 1000)));
}

}  // namespace
}  // namespace weir
