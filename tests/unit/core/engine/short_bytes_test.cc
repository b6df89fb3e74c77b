#include "core/engine/short_bytes.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace weir::engine {
namespace {

std::string bytes_of(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(i * 37 + 1));
    return s;
}

TEST(short_bytes, keeps_every_length_around_the_inline_limit) {
    for (std::size_t n = 0; n <= 40; ++n) {
        const std::string s = bytes_of(n);
        const short_bytes b(s);
        EXPECT_EQ(b.view(), s) << n;
        EXPECT_EQ(b.size(), n);
        EXPECT_EQ(b.on_heap(), n > short_bytes::k_inline) << n;
        EXPECT_EQ(b.heap_bytes(), n > short_bytes::k_inline ? n : 0) << n;
    }
}

TEST(short_bytes, keeps_zero_bytes_and_high_bytes) {
    const std::string s("\x03\0\0\0\x80\xff", 6);
    EXPECT_EQ(short_bytes(s).view(), s);
    const std::string longer = s + s + s;
    EXPECT_EQ(short_bytes(longer).view(), longer);
}

TEST(short_bytes, copies_and_moves_inline_and_heap_values) {
    for (const std::size_t n :
         {std::size_t{9}, std::size_t{15}, std::size_t{16}, std::size_t{70}}) {
        const std::string s = bytes_of(n);
        short_bytes a(s);
        short_bytes copy(a);
        EXPECT_EQ(copy.view(), s);
        EXPECT_EQ(a.view(), s);
        if (n > short_bytes::k_inline) {
            EXPECT_NE(copy.data(), a.data());  // its own array
        }

        short_bytes moved(std::move(a));
        EXPECT_EQ(moved.view(), s);
        EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): left empty

        short_bytes assigned(bytes_of(40));
        assigned = moved;
        EXPECT_EQ(assigned.view(), s);
        short_bytes move_assigned(bytes_of(3));
        move_assigned = std::move(moved);
        EXPECT_EQ(move_assigned.view(), s);
        EXPECT_TRUE(moved.view().empty());  // NOLINT(bugprone-use-after-move)
    }
}

TEST(short_bytes, assigns_between_inline_and_heap_and_from_its_own_bytes) {
    short_bytes b(bytes_of(4));
    b = std::string_view(bytes_of(30));
    EXPECT_EQ(b.view(), bytes_of(30));
    b = std::string_view(bytes_of(12));
    EXPECT_FALSE(b.on_heap());
    EXPECT_EQ(b.view(), bytes_of(12));
    // A part of its own value: copied before the old bytes go.
    b = b.view().substr(2, 5);
    EXPECT_EQ(b.view(), bytes_of(12).substr(2, 5));
    b = std::string_view(bytes_of(50));
    b = b.view().substr(10, 20);
    EXPECT_EQ(b.view(), bytes_of(50).substr(10, 20));
    b = b.view().substr(1, 3);
    EXPECT_EQ(b.view(), bytes_of(50).substr(11, 3));
    b.clear();
    EXPECT_EQ(b.size(), 0u);
    EXPECT_FALSE(b.on_heap());
}

TEST(short_bytes, survives_a_growing_vector) {
    // As a window engine's groups: the vector moves them when it grows.
    std::vector<short_bytes> v;
    for (std::size_t i = 0; i < 200; ++i) v.emplace_back(bytes_of(i % 40));
    for (std::size_t i = 0; i < 200; ++i) EXPECT_EQ(v[i].view(), bytes_of(i % 40)) << i;
}

}  // namespace
}  // namespace weir::engine
