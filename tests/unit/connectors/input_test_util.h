// Shared by the input tests: what every delivery of an input that is one stream of
// newline-delimited records (file, stdin, tcp, udp, generator) must look like under the input
// contract v2 (connectors/runtime.h).
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "connectors/runtime.h"

namespace weir::connectors::test {

// From the one source "", newline-separated (no `ends`, no metadata), ending with a newline,
// with the padding readable after the bytes (ASan checks the last padding byte).
inline void expect_one_stream_lines(std::string_view source, const record_delivery& records) {
    EXPECT_EQ(source, "");
    EXPECT_TRUE(records.ends.empty());
    EXPECT_TRUE(records.metadata.empty());
    ASSERT_FALSE(records.bytes.empty());
    EXPECT_EQ(records.bytes.back(), '\n');
    const volatile char last_padding =
        records.bytes.data()[records.bytes.size() + k_record_padding - 1];
    (void)last_padding;
}

}  // namespace weir::connectors::test
