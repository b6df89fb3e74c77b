// Event-time parsing and formatting, checked against libc's gmtime_r as the exact reference.
#include "core/time/timestamp.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>

namespace weir::time {
namespace {

timestamp_ns must_parse(const time_parser& p, std::string_view text) {
    timestamp_ns t = 0;
    EXPECT_TRUE(p.parse_text(text, t)) << text;
    return t;
}

time_parser compile(std::string_view format) {
    time_parser::error err;
    auto p = time_parser::compile(format, &err);
    EXPECT_TRUE(p.has_value()) << format << ": " << err.message;
    return p.value_or(*time_parser::compile("rfc3339"));
}

TEST(rfc3339, known_instants) {
    timestamp_ns t;
    ASSERT_TRUE(parse_rfc3339("1970-01-01T00:00:00Z", t));
    EXPECT_EQ(t, 0);
    ASSERT_TRUE(parse_rfc3339("2026-11-20T10:00:00.123Z", t));
    EXPECT_EQ(t, 1'795'168'800'123'000'000);
    ASSERT_TRUE(parse_rfc3339("2026-11-20T12:00:00.123+02:00", t));
    EXPECT_EQ(t, 1'795'168'800'123'000'000);
    ASSERT_TRUE(parse_rfc3339("2026-11-20 04:30:00.123456789-05:30", t));
    EXPECT_EQ(t, 1'795'168'800'123'456'789);
    ASSERT_TRUE(parse_rfc3339("2026-11-20t10:00:00.1234567891234z", t));  // truncated
    EXPECT_EQ(t, 1'795'168'800'123'456'789);
    ASSERT_TRUE(parse_rfc3339("1969-12-31T23:59:59.5Z", t));
    EXPECT_EQ(t, -500'000'000);
    ASSERT_TRUE(parse_rfc3339("2016-12-31T23:59:60Z", t));  // leap second
    EXPECT_EQ(t, 1'483'228'800'000'000'000 - 1);
}

TEST(rfc3339, malformed_is_rejected) {
    timestamp_ns t;
    for (const char* bad :
         {"", "2026-11-20", "2026-11-20T10:00:00", "2026-11-20T10:00:00+0200x",
          "2026-13-20T10:00:00Z", "2026-02-29T10:00:00Z", "2026-11-31T10:00:00Z",
          "2026-11-20T24:00:00Z", "2026-11-20T10:60:00Z", "2026-11-20T10:00:61Z",
          "2026-11-20T10:00:00.Z", "2026/11/20T10:00:00Z", "2026-11-20T10:00:00+25:00",
          "2026-11-20T10:00:00Zjunk", "20261120T100000Z", "2026-1-20T10:00:00Z"}) {
        EXPECT_FALSE(parse_rfc3339(bad, t)) << bad;
    }
    EXPECT_TRUE(parse_rfc3339("2024-02-29T10:00:00Z", t));  // leap year
}

TEST(rfc3339, random_instants_match_gmtime) {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<std::int64_t> secs(-2'000'000'000, 8'000'000'000);
    std::uniform_int_distribution<int> frac(0, 999'999'999);
    std::uniform_int_distribution<int> offset_minutes(-14 * 60, 14 * 60);
    for (int i = 0; i < 20000; ++i) {
        const std::int64_t s = secs(rng);
        const int ns = frac(rng);
        const int off = offset_minutes(rng);
        const std::time_t local = static_cast<std::time_t>(s + off * 60);
        std::tm tm{};
        ASSERT_NE(gmtime_r(&local, &tm), nullptr);
        char text[64];
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%09d%c%02d:%02d",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, ns, off < 0 ? '-' : '+', std::abs(off) / 60, std::abs(off) % 60);
        timestamp_ns t;
        ASSERT_TRUE(parse_rfc3339(text, t)) << text;
        EXPECT_EQ(t, s * ns_per_s + ns) << text;
    }
}

TEST(rfc3339, consecutive_times_of_one_minute_are_fully_checked) {
    // The date and minute of the previous time are remembered: what follows a valid time of
    // the same minute must still be checked in full, and an invalid date is never remembered.
    timestamp_ns t = 0;
    ASSERT_TRUE(parse_rfc3339("2026-11-20T10:00:00.123Z", t));
    for (const char* bad :
         {"2026-11-20T10:00:61Z", "2026-11-20T10:00:6xZ", "2026-11-20T10:00:00", "2026-11-20T10:00",
          "2026-11-20T10:00:00.Z", "2026-11-20T10:00:00+24:00", "2026-11-20T10:00-00Z",
          "2026-11-20T10:00:00Zjunk", "2026-02-30T10:00:00Z", "2026-02-30T10:00:00Z",
          "2026-11-20T10:00:00.1a3Z", "2026-11-20T10:00:00.123z0", "2026-11-20T10:00:00.123+"}) {
        EXPECT_FALSE(parse_rfc3339(bad, t)) << bad;
    }
    ASSERT_TRUE(parse_rfc3339("2026-11-20T10:00:59.5+01:00", t));
    EXPECT_EQ(t, 1'795'168'800'000'000'000 + 59'500'000'000 - 3'600'000'000'000);
    ASSERT_TRUE(parse_rfc3339("2026-11-20T10:00:60Z", t));  // leap second of a known minute
    EXPECT_EQ(t, 1'795'168'860'000'000'000 - 1);
    ASSERT_TRUE(parse_rfc3339("2026-11-20T10:00:60.123Z", t));
    EXPECT_EQ(t, 1'795'168'860'000'000'000 - 1);
    ASSERT_TRUE(parse_rfc3339("2026-11-20T10:00:07.089Z", t));
    EXPECT_EQ(t, 1'795'168'807'089'000'000);
    ASSERT_TRUE(parse_rfc3339("2026-11-20T10:00:07.08Z", t));
    EXPECT_EQ(t, 1'795'168'807'080'000'000);
    ASSERT_TRUE(parse_rfc3339("2026-11-20t10:00:01z", t));  // another spelling: another minute
    EXPECT_EQ(t, 1'795'168'801'000'000'000);
    ASSERT_TRUE(parse_rfc3339("2026-11-20T10:00:01Z", t));
    EXPECT_EQ(t, 1'795'168'801'000'000'000);
}

TEST(rfc3339, runs_of_one_minute_match_gmtime) {
    // Like random_instants_match_gmtime, with times in runs that share their minute.
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<std::int64_t> minutes(-30'000'000, 130'000'000);
    for (int run = 0; run < 2000; ++run) {
        const std::int64_t minute = minutes(rng) * 60;
        const int length = 1 + static_cast<int>(rng() % 20);
        for (int i = 0; i < length; ++i) {
            const std::int64_t s = minute + static_cast<std::int64_t>(rng() % 60);
            const int ms = static_cast<int>(rng() % 1000);
            const std::time_t tt = static_cast<std::time_t>(s);
            std::tm tm{};
            ASSERT_NE(gmtime_r(&tt, &tm), nullptr);
            char text[64];
            std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                          tm.tm_sec, ms);
            timestamp_ns t;
            ASSERT_TRUE(parse_rfc3339(text, t)) << text;
            ASSERT_EQ(t, s * ns_per_s + ms * ns_per_ms) << text;
        }
    }
}

TEST(rfc3339, formatting_matches_gmtime_and_round_trips) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::int64_t> ns(-3'000'000'000'000'000'000,
                                                   7'000'000'000'000'000'000);
    for (int i = 0; i < 20000; ++i) {
        const timestamp_ns t = ns(rng);
        const std::string text = format_rfc3339_ms(t);
        const std::int64_t floor_ms = t >= 0 ? t / ns_per_ms : -((-t + ns_per_ms - 1) / ns_per_ms);
        const std::int64_t floor_s = floor_ms >= 0 ? floor_ms / 1000 : -((-floor_ms + 999) / 1000);
        const std::time_t tt = static_cast<std::time_t>(floor_s);
        std::tm tm{};
        ASSERT_NE(gmtime_r(&tt, &tm), nullptr);
        char want[64];
        std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                      static_cast<int>(floor_ms - floor_s * 1000));
        ASSERT_EQ(text, want);
        timestamp_ns back;
        ASSERT_TRUE(parse_rfc3339(text, back));
        EXPECT_EQ(back, floor_ms * ns_per_ms);
    }
}

TEST(time_parser, epoch_numbers_and_strings) {
    const auto s = compile("epoch_s"), ms = compile("epoch_ms"), us = compile("epoch_us"),
               ns = compile("epoch_ns");
    timestamp_ns t;
    ASSERT_TRUE(s.parse(field_value::make_number(1.5), t));
    EXPECT_EQ(t, 1'500'000'000);
    ASSERT_TRUE(ms.parse(field_value::make_number(1'795'168'800'123), t));
    EXPECT_EQ(t, 1'795'168'800'123'000'000);
    ASSERT_TRUE(us.parse(field_value::make_number(-1), t));
    EXPECT_EQ(t, -1000);
    // epoch_ns as text is exact, beyond what a double holds.
    EXPECT_EQ(must_parse(ns, "1795168800123456789"), 1'795'168'800'123'456'789);
    EXPECT_EQ(must_parse(s, "1795168800.123456789"), 1'795'168'800'123'456'789);
    EXPECT_EQ(must_parse(ms, "-1.5"), -1'500'000);
    EXPECT_EQ(must_parse(s, "1.7951688e9"), 1'795'168'800'000'000'000);
    for (const char* bad : {"", "-", ".", "12a", "1e", "99999999999999999999", "1.2.3"}) {
        EXPECT_FALSE(s.parse_text(bad, t)) << bad;
    }
    EXPECT_FALSE(s.parse(field_value::make_number(1e300), t));
    EXPECT_FALSE(s.parse(field_value::make_null(), t));
    EXPECT_FALSE(s.parse(field_value::make_absent(), t));
    EXPECT_FALSE(s.parse(field_value::make_boolean(true), t));
    EXPECT_FALSE(compile("rfc3339").parse(field_value::make_number(5), t));
}

TEST(time_parser, patterns) {
    EXPECT_EQ(must_parse(compile("%Y-%m-%d %H:%M:%S"), "2026-11-20 10:00:00"),
              1'795'168'800 * ns_per_s);
    EXPECT_EQ(must_parse(compile("%d/%b/%Y:%H:%M:%S %z"), "20/Nov/2026:12:00:00 +0200"),
              1'795'168'800 * ns_per_s);
    EXPECT_EQ(must_parse(compile("%B %e, %Y %I:%M %p"), "November 20, 2026 10:00 AM"),
              1'795'168'800 * ns_per_s);
    EXPECT_EQ(must_parse(compile("%B %e, %Y %I:%M %p"), "November 20, 2026 12:30 am"),
              (1'795'168'800 - 10 * 3600 + 30 * 60) * ns_per_s);
    EXPECT_EQ(must_parse(compile("%FT%T.%f%z"), "2026-11-20T10:00:00.25Z"),
              1'795'168'800 * ns_per_s + 250'000'000);
    EXPECT_EQ(must_parse(compile("%Y.%j"), "2026.324"), 1'795'132'800 * ns_per_s);
    EXPECT_EQ(must_parse(compile("%s"), "1795168800"), 1'795'168'800 * ns_per_s);
    EXPECT_EQ(must_parse(compile("%y%m%d"), "691231"), -86'400 * ns_per_s);
    EXPECT_EQ(must_parse(compile("100%% %Y"), "100% 1970"), 0);

    timestamp_ns t;
    const auto p = compile("%Y-%m-%d %H:%M:%S");
    for (const char* bad : {"2026-11-20", "2026-11-20 10:00:00 ", "2026-02-30 10:00:00",
                            "2026-11-20 10:00:60", "x026-11-20 10:00:00"}) {
        EXPECT_FALSE(p.parse_text(bad, t)) << bad;
    }
}

TEST(time_parser, bad_formats_point_at_the_problem) {
    time_parser::error err;
    EXPECT_FALSE(time_parser::compile("%Y-%m-%d %Q", &err));
    EXPECT_EQ(err.offset, 9u);
    EXPECT_NE(err.message.find("%Q"), std::string::npos);
    EXPECT_FALSE(time_parser::compile("%Y %", &err));
    EXPECT_EQ(err.offset, 3u);
    EXPECT_FALSE(time_parser::compile("iso8601", &err));
    EXPECT_EQ(err.offset, 0u);
}

TEST(time_zone, fixed_offsets_and_iana_names) {
    std::string error;
    EXPECT_TRUE(time_zone::find("UTC")->is_utc());
    EXPECT_EQ(time_zone::find("+02:00")->to_utc(7200), 0);
    EXPECT_EQ(time_zone::find("-0530")->to_utc(0), 5 * 3600 + 30 * 60);
    EXPECT_EQ(time_zone::find("+05")->to_utc(5 * 3600), 0);
    EXPECT_FALSE(time_zone::find("+25:00", &error));
    EXPECT_NE(error.find("+02:00"), std::string::npos) << error;
    EXPECT_FALSE(time_zone::find("Europe/Nowhere", &error));
    EXPECT_NE(error.find("unknown time zone \"Europe/Nowhere\""), std::string::npos) << error;

    const auto berlin = time_zone::find("Europe/Berlin", &error);
    ASSERT_TRUE(berlin) << error;
    const std::int64_t dec_3 = days_from_civil(2026, 12, 3) * 86'400 + 10 * 3600;
    EXPECT_EQ(berlin->to_utc(dec_3), dec_3 - 3600);  // CET, +01:00
    const std::int64_t jul_3 = days_from_civil(2026, 7, 3) * 86'400 + 10 * 3600;
    EXPECT_EQ(berlin->to_utc(jul_3), jul_3 - 7200);  // CEST, +02:00
    // 2026-03-29 02:30 does not exist (clocks go from 02:00 to 03:00): read with the offset
    // before the change, it is 01:30 UTC, half an hour after the change.
    const std::int64_t gap = days_from_civil(2026, 3, 29) * 86'400 + 2 * 3600 + 1800;
    EXPECT_EQ(berlin->to_utc(gap), gap - 3600);
    // 2026-10-25 02:30 happens twice: the first time, still in summer time.
    const std::int64_t twice = days_from_civil(2026, 10, 25) * 86'400 + 2 * 3600 + 1800;
    EXPECT_EQ(berlin->to_utc(twice), twice - 7200);
}

TEST(time_parser, a_pattern_reads_local_times_in_its_zone) {
    auto p = compile("%Y-%m-%d %H:%M:%S");
    EXPECT_TRUE(p.reads_local_time());
    EXPECT_EQ(must_parse(p, "2026-12-03 10:00:00"), 1'796'292'000 * ns_per_s);  // as UTC
    p.set_zone(*time_zone::find("Europe/Berlin"));
    EXPECT_EQ(must_parse(p, "2026-12-03 10:00:00"), (1'796'292'000 - 3600) * ns_per_s);
    p.set_zone(*time_zone::find("-03:00"));
    EXPECT_EQ(must_parse(p, "2026-12-03 10:00:00"), (1'796'292'000 + 3 * 3600) * ns_per_s);
    // A pattern with %z or %s carries its own offset.
    EXPECT_FALSE(compile("%Y-%m-%d %H:%M:%S%z").reads_local_time());
    EXPECT_FALSE(compile("%s").reads_local_time());
    EXPECT_FALSE(compile("rfc3339").reads_local_time());
}

TEST(time_parser, explains_what_it_cannot_read_with_a_hint) {
    const auto rfc = compile("rfc3339");
    EXPECT_EQ(rfc.explain(field_value::make_string("2026-12-03 10:00:00")),
              "\"2026-12-03 10:00:00\": no time zone: try format: \"%Y-%m-%d %H:%M:%S\" and "
              "timezone:");
    EXPECT_EQ(rfc.explain(field_value::make_string("2026-12-03T10:00:00.250")),
              "\"2026-12-03T10:00:00.250\": no time zone: try format: \"%Y-%m-%dT%H:%M:%S.%f\" "
              "and timezone:");
    EXPECT_EQ(rfc.explain(field_value::make_number(1'796'292'000'000)),
              "a number, not a date-time text: try format: epoch_ms");
    EXPECT_EQ(rfc.explain(field_value::make_string("1796292000")),
              "\"1796292000\" is a number: try format: epoch_s");
    EXPECT_EQ(rfc.explain(field_value::make_absent()), "the field is absent");
    EXPECT_EQ(rfc.explain(field_value::make_null()), "the field is null");
    EXPECT_NE(rfc.explain(field_value::make_string("yesterday")).find("not an RFC 3339"),
              std::string::npos);
    EXPECT_EQ(rfc.explain(field_value::make_string("2026-12-03T10:00:00Z")), "");
    EXPECT_EQ(compile("epoch_s").explain(field_value::make_string("2026-12-03T10:00:00Z")),
              "\"2026-12-03T10:00:00Z\" is an RFC 3339 time: try format: rfc3339");
    EXPECT_EQ(compile("%d/%m/%Y").explain(field_value::make_string("2026-12-03")),
              "\"2026-12-03\" does not match the format's pattern");
    // Long values are cut, control characters hidden.
    const std::string shown = rfc.explain(field_value::make_string(std::string(100, 'x') + "\n"));
    EXPECT_NE(shown.find(std::string(64, 'x') + "…\""), std::string::npos) << shown;
    EXPECT_EQ(shown.find(std::string(65, 'x')), std::string::npos) << shown;
    EXPECT_EQ(shown.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace weir::time
