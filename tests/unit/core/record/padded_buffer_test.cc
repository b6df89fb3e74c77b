// The padded buffer's shared memory: a handle keeps the bytes as they were while the buffer
// goes on writing, and memory every handle gave up is used again.
#include "core/record/padded_buffer.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace weir {
namespace {

std::string_view padded_view(const char* data, std::size_t size) {
    return {data, size + k_record_padding};
}

TEST(padded_buffer, a_shared_buffer_writes_its_next_bytes_elsewhere) {
    padded_buffer b(16);
    b.append("line one\nline t");
    const char* first = std::as_const(b).data();
    const std::string before(padded_view(first, b.size()));
    auto handle = b.keep();
    ASSERT_TRUE(handle);
    EXPECT_EQ(handle.get(), first);

    b.consume(9);  // what was handed over; the partial line stays
    EXPECT_EQ(b.view(), "line t");
    EXPECT_NE(std::as_const(b).data(), first);
    b.append("wo\n");
    b.push_back('x');
    EXPECT_EQ(b.view(), "line two\nx");
    EXPECT_EQ(padded_view(first, 15), before) << "the shared memory changed";

    // Every write path moves off shared memory: data(), tail(), append, push_back, resize.
    auto again = b.keep();
    const char* second = std::as_const(b).data();
    b.data()[0] = 'L';
    EXPECT_EQ(second[0], 'l');
    EXPECT_EQ(b.view(), "Line two\nx");
}

TEST(padded_buffer, memory_every_handle_gave_up_is_used_again) {
    auto mem = [](const padded_buffer& b) { return static_cast<const void*>(b.data()); };
    padded_buffer b(1024);
    b.append(std::string(1000, 'a'));
    auto first = b.keep();  // memory from before any sharing: freed as usual
    b.clear();
    b.append("b");  // fresh memory: the first is still held
    EXPECT_NE(mem(b), first.get());
    const void* second = mem(b);
    auto handle = b.keep();
    handle.reset();
    first.reset();
    b.clear();
    b.append("c");  // fresh again; the second, held by nobody now, waits for reuse
    EXPECT_NE(mem(b), second);
    b.keep();
    b.clear();
    b.append("d");  // the third is left to (no) handles: the second is taken back
    EXPECT_EQ(mem(b), second);
    EXPECT_EQ(b.view(), "d");
    // Reused memory still ends in zero padding.
    const char* pad = b.view().data() + b.capacity();
    for (std::size_t i = 0; i < k_record_padding; ++i) EXPECT_EQ(pad[i], '\0');
}

TEST(padded_buffer, an_empty_buffer_shares_nothing) {
    padded_buffer b;
    EXPECT_FALSE(b.keep());
    b.append("x");
    EXPECT_EQ(b.view(), "x");
}

}  // namespace
}  // namespace weir
