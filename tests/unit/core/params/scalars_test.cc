// Scalar parameter parsers and printers: durations, sizes, integers, numbers, booleans.
#include <gtest/gtest.h>

#include <limits>

#include "core/params/spec.h"

namespace weir::params {
namespace {

using std::chrono::milliseconds;

TEST(parse_duration, units) {
    EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
    EXPECT_EQ(parse_duration("30s"), milliseconds(30'000));
    EXPECT_EQ(parse_duration("5m"), milliseconds(300'000));
    EXPECT_EQ(parse_duration("1h"), milliseconds(3'600'000));
    EXPECT_EQ(parse_duration("1d"), milliseconds(86'400'000));
    EXPECT_EQ(parse_duration("0"), milliseconds(0));
    EXPECT_EQ(parse_duration("0s"), milliseconds(0));
    EXPECT_EQ(parse_duration("0ms"), milliseconds(0));
    EXPECT_EQ(parse_duration("007s"), milliseconds(7'000));
}

TEST(parse_duration, compound) {
    EXPECT_EQ(parse_duration("1h30m"), milliseconds(5'400'000));
    EXPECT_EQ(parse_duration("1d2h3m4s5ms"),
              milliseconds(86'400'000 + 2 * 3'600'000 + 3 * 60'000 + 4'000 + 5));
    EXPECT_EQ(parse_duration("1m500ms"), milliseconds(60'500));
    EXPECT_EQ(parse_duration("90s"), milliseconds(90'000));
}

TEST(parse_duration, rejects) {
    for (const char* bad :
         {"",       "sixty", "60",  "5",     "1.5s", "-5s",  "+5s",   "5 s",  "5S",
          "5sec",   "5us",   "5ns", "1w",    "s",    "ms",   "30m1h", "1s1s", "1m1m",
          "1h 30m", " 5s",   "5s ", "0x10s", "5m0",  "1e3s", "∞s"}) {
        EXPECT_FALSE(parse_duration(bad)) << bad;
    }
}

TEST(parse_duration, rejects_overflow) {
    // int64 milliseconds hold about 292 million years.
    EXPECT_TRUE(parse_duration("106751991167d"));
    EXPECT_FALSE(parse_duration("106751991168d"));
    EXPECT_FALSE(parse_duration("99999999999999999999s"));
    EXPECT_EQ(parse_duration("9223372036854775807ms"),
              milliseconds(std::numeric_limits<std::int64_t>::max()));
    EXPECT_FALSE(parse_duration("9223372036854775808ms"));
    EXPECT_FALSE(parse_duration("106751991167d23h59m59s999ms"));
}

TEST(format_duration, shortest_exact_spelling) {
    EXPECT_EQ(format_duration(milliseconds(0)), "0s");
    EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
    EXPECT_EQ(format_duration(milliseconds(1'500)), "1500ms");
    EXPECT_EQ(format_duration(milliseconds(30'000)), "30s");
    EXPECT_EQ(format_duration(milliseconds(300'000)), "5m");
    EXPECT_EQ(format_duration(milliseconds(5'400'000)), "90m");
    EXPECT_EQ(format_duration(milliseconds(3'600'000)), "1h");
    EXPECT_EQ(format_duration(milliseconds(172'800'000)), "2d");
    EXPECT_EQ(format_duration(milliseconds(-60'000)), "-1m");
    for (std::int64_t ms : {1LL, 999LL, 1000LL, 61'000LL, 3'600'001LL, 86'400'000LL * 400}) {
        EXPECT_EQ(parse_duration(format_duration(milliseconds(ms))), milliseconds(ms)) << ms;
    }
}

TEST(parse_size, units) {
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("512"), 512u);
    EXPECT_EQ(parse_size("512B"), 512u);
    EXPECT_EQ(parse_size("1KB"), 1000u);
    EXPECT_EQ(parse_size("64KiB"), 65'536u);
    EXPECT_EQ(parse_size("1MB"), 1'000'000u);
    EXPECT_EQ(parse_size("1MiB"), 1'048'576u);
    EXPECT_EQ(parse_size("1GB"), 1'000'000'000u);
    EXPECT_EQ(parse_size("1GiB"), 1'073'741'824u);
    EXPECT_EQ(parse_size("2TiB"), 2ULL << 40);
    EXPECT_EQ(parse_size("3TB"), 3'000'000'000'000ULL);
}

TEST(parse_size, rejects) {
    for (const char* bad : {"", "KiB", "1.5MiB", "-1", "+1", "1 KiB", "1kib", "1kb", "1k", "1Ki",
                            "1MBs", "1KiBB", "big", "1e3", "0x10"}) {
        EXPECT_FALSE(parse_size(bad)) << bad;
    }
}

TEST(parse_size, rejects_overflow) {
    EXPECT_EQ(parse_size("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
    EXPECT_FALSE(parse_size("18446744073709551616"));
    EXPECT_EQ(parse_size("16777215TiB"), 16777215ULL << 40);
    EXPECT_FALSE(parse_size("16777216TiB"));
    EXPECT_FALSE(parse_size("18446744073709552GB"));
}

TEST(format_size, shortest_exact_spelling) {
    EXPECT_EQ(format_size(0), "0B");
    EXPECT_EQ(format_size(1), "1B");
    EXPECT_EQ(format_size(1000), "1KB");
    EXPECT_EQ(format_size(1024), "1KiB");
    EXPECT_EQ(format_size(65'536), "64KiB");
    EXPECT_EQ(format_size(1'000'000'000'000ULL), "1TB");
    EXPECT_EQ(format_size(1500), "1500B");
    EXPECT_EQ(format_size(1ULL << 30), "1GiB");
    for (std::uint64_t b : {7ULL, 4096ULL, 3'000'000ULL, 123'456'789ULL, 5ULL << 40}) {
        EXPECT_EQ(parse_size(format_size(b)), b) << b;
    }
}

TEST(parse_integer, values_and_rejects) {
    EXPECT_EQ(parse_integer("0"), 0);
    EXPECT_EQ(parse_integer("42"), 42);
    EXPECT_EQ(parse_integer("-7"), -7);
    EXPECT_EQ(parse_integer("+7"), 7);
    EXPECT_EQ(parse_integer("9223372036854775807"), std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(parse_integer("-9223372036854775808"), std::numeric_limits<std::int64_t>::min());
    for (const char* bad : {"", "+", "-", "12.5", "1e3", "9223372036854775808",
                            "-9223372036854775809", "0x10", " 1", "1 ", "one", "+-1", "1_000"}) {
        EXPECT_FALSE(parse_integer(bad)) << bad;
    }
}

TEST(parse_number, values_and_rejects) {
    EXPECT_EQ(parse_number("0"), 0.0);
    EXPECT_EQ(parse_number("12.5"), 12.5);
    EXPECT_EQ(parse_number("-0.25"), -0.25);
    EXPECT_EQ(parse_number("+3"), 3.0);
    EXPECT_EQ(parse_number("1e3"), 1000.0);
    EXPECT_EQ(parse_number("2.5E-2"), 0.025);
    EXPECT_EQ(parse_number(".5"), 0.5);
    for (const char* bad : {"", "inf", "-inf", "nan", "NaN", ".inf", "infinity", "1e999", "abc",
                            "1,5", "0x1p3", " 1", "1 ", "+-1", "1.2.3", "--1"}) {
        EXPECT_FALSE(parse_number(bad)) << bad;
    }
}

TEST(parse_boolean, only_true_and_false) {
    EXPECT_EQ(parse_boolean("true"), true);
    EXPECT_EQ(parse_boolean("false"), false);
    for (const char* bad : {"", "yes", "no", "on", "off", "True", "FALSE", "1", "0", "y"}) {
        EXPECT_FALSE(parse_boolean(bad)) << bad;
    }
}

}  // namespace
}  // namespace weir::params
