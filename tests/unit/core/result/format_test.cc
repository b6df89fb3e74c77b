// Values and assessments for people: exact strings in the assessment's unit.
#include "core/result/format.h"

#include <gtest/gtest.h>

#include <limits>

namespace weir {
namespace {

measure_value num(double d) {
    return measure_value::make_number(d);
}

check::assessment parse(const char* text) {
    auto a = check::parse_assessment(text);
    EXPECT_TRUE(a.ok()) << text;
    return *a;
}

TEST(format_value, plain_numbers_keep_three_significant_digits_and_integers_in_full) {
    EXPECT_EQ(format_value(num(0.009900990099009901)), "0.0099");
    EXPECT_EQ(format_value(num(0.26666666666666666)), "0.267");
    EXPECT_EQ(format_value(num(12.3456)), "12.3");
    EXPECT_EQ(format_value(num(1234.567)), "1235");
    EXPECT_EQ(format_value(num(12345)), "12345");
    EXPECT_EQ(format_value(num(-42)), "-42");
    EXPECT_EQ(format_value(num(0)), "0");
    EXPECT_EQ(format_value(num(-0.0)), "0");
    EXPECT_EQ(format_value(num(0.5)), "0.5");
    EXPECT_EQ(format_value(num(9.9996)), "10");
    EXPECT_EQ(format_value(num(1.23456e-7)), "1.23e-07");
    EXPECT_EQ(format_value(num(2e20)), "2e+20");
    EXPECT_EQ(format_value(num(std::numeric_limits<double>::infinity())), "inf");
    EXPECT_EQ(format_value(num(-std::numeric_limits<double>::infinity())), "-inf");
    EXPECT_EQ(format_value(num(std::numeric_limits<double>::quiet_NaN())), "nan");
    EXPECT_EQ(format_value(num(12.3456), value_unit::none, 5), "12.346");
}

TEST(format_value, other_kinds_as_they_are) {
    EXPECT_EQ(format_value(measure_value::make_null()), "no data");
    EXPECT_EQ(format_value(measure_value::make_null(), value_unit::percent), "no data");
    EXPECT_EQ(format_value(measure_value::make_boolean(true)), "true");
    EXPECT_EQ(format_value(measure_value::make_boolean(false)), "false");
    EXPECT_EQ(format_value(measure_value::make_string("d-17 \"x\"")), "d-17 \"x\"");
}

TEST(format_value, percent) {
    EXPECT_EQ(format_value(num(0.26666666666666666), value_unit::percent), "26.7 %");
    EXPECT_EQ(format_value(num(0.009900990099009901), value_unit::percent), "0.99 %");
    EXPECT_EQ(format_value(num(1), value_unit::percent), "100 %");
    EXPECT_EQ(format_value(num(0.07), value_unit::percent), "7 %");
    EXPECT_EQ(format_value(num(0), value_unit::percent), "0 %");
    EXPECT_EQ(format_value(num(0.000123), value_unit::percent), "0.0123 %");
}

TEST(format_value, durations) {
    const auto d = [](double s) { return format_value(num(s), value_unit::duration); };
    EXPECT_EQ(d(0), "0 s");
    EXPECT_EQ(d(0.25), "250 ms");
    EXPECT_EQ(d(0.0123456), "12.3 ms");
    EXPECT_EQ(d(0.9999), "1 s");
    EXPECT_EQ(d(1.5), "1.5 s");
    EXPECT_EQ(d(12.345), "12.3 s");
    EXPECT_EQ(d(59.99), "1m");
    EXPECT_EQ(d(60), "1m");
    EXPECT_EQ(d(72), "1m 12s");
    EXPECT_EQ(d(72.4), "1m 12s");
    EXPECT_EQ(d(3599.7), "1h");
    EXPECT_EQ(d(3600 + 5 * 60 + 20), "1h 5m");
    EXPECT_EQ(d(7170), "2h");
    EXPECT_EQ(d(3 * 86400 + 4 * 3600 + 100), "3d 4h");
    EXPECT_EQ(d(-72), "-1m 12s");
    EXPECT_EQ(d(std::numeric_limits<double>::infinity()), "inf");
}

TEST(format_value, more_digits_where_rounding_would_meet_a_bound) {
    const auto must_be = parse("< 5%");
    EXPECT_EQ(format_value(num(0.049996), {&must_be}), "4.9996 %");
    EXPECT_EQ(format_value(num(0.05), {&must_be}), "5 %");
    EXPECT_EQ(format_value(num(0.26666666666666666), {&must_be}), "26.7 %");
    const auto range = parse("[15, 35]");
    EXPECT_EQ(format_value(num(35.0004), {&range}), "35.0004");
    EXPECT_EQ(format_value(num(35.0004), {nullptr, &range}), "35.0004");
    // The unit of the first assessment that has one.
    const auto plain = parse("> 0");
    const auto seconds = parse("< 60s");
    EXPECT_EQ(format_value(num(72), {&plain, &seconds}), "1m 12s");
    EXPECT_EQ(format_value(num(59.9996), {&seconds}), "59.9996 s");
}

TEST(format_assessment, bounds_exact_in_their_unit) {
    const auto f = [](const char* text) { return format_assessment(parse(text)); };
    EXPECT_EQ(f("< 20%"), "< 20 %");
    EXPECT_EQ(f("<5%"), "< 5 %");
    EXPECT_EQ(f("< 7%"), "< 7 %");
    EXPECT_EQ(f("> 50"), "> 50");
    EXPECT_EQ(f("> 0.123456"), "> 0.123456");
    EXPECT_EQ(f("< 60s"), "< 1m");
    EXPECT_EQ(f("< 90s"), "< 1m 30s");
    EXPECT_EQ(f("<= 250ms"), "<= 250 ms");
    EXPECT_EQ(f("< 1d"), "< 1d");
    EXPECT_EQ(f("< 90061s"), "< 1d 1h 1m 1s");
    EXPECT_EQ(f("[15, 35)"), "[15, 35)");
    EXPECT_EQ(f("[0, 5%]"), "[0 %, 5 %]");
    EXPECT_EQ(f("(-inf, 0]"), "(-inf, 0]");
    EXPECT_EQ(f("[250ms, 90s]"), "[250 ms, 1m 30s]");
    EXPECT_EQ(f("in {ok, 'warn 2', 3}"), "in {ok, \"warn 2\", 3}");
    EXPECT_EQ(f("not in {true}"), "not in {true}");
    EXPECT_EQ(f("== true"), "== true");
    EXPECT_EQ(f("== 'a'"), "== a");
    EXPECT_EQ(f("[1%, 5s]"), "[0.01, 5]");  // mixed units: plain numbers
}

TEST(assessment_unit, the_suffix_kind_as_written) {
    EXPECT_EQ(parse("< 5%").unit(), value_unit::percent);
    EXPECT_EQ(parse("[0, 5%]").unit(), value_unit::percent);
    EXPECT_EQ(parse("< 250ms").unit(), value_unit::duration);
    EXPECT_EQ(parse("< 1h").unit(), value_unit::duration);
    EXPECT_EQ(parse("> 50").unit(), value_unit::none);
    EXPECT_EQ(parse("in {1%, 2%}").unit(), value_unit::percent);
    EXPECT_EQ(parse("[1%, 5s]").unit(), value_unit::none);
    // The canonical spelling is unchanged.
    EXPECT_EQ(parse("< 5%").to_string(), "< 0.05");
    EXPECT_EQ(parse("< 60s").to_string(), "< 60");
}

TEST(format_group, names_and_values) {
    EXPECT_EQ(format_group({}), "");
    EXPECT_EQ(format_group({{"host", measure_value::make_string("web-3")},
                            {"code", num(500)},
                            {"zone", measure_value::make_null()}}),
              "host=web-3, code=500, zone=null");
}

TEST(format_result, from_the_texts_the_result_carries) {
    check_result r;
    r.value = num(0.26666666666666666);
    r.must_be = "< 20%";
    r.should_be = "< 10%";
    auto t = format_result(r);
    EXPECT_EQ(t.unit, value_unit::percent);
    EXPECT_EQ(t.value, "26.7 %");
    EXPECT_EQ(t.must_be, "< 20 %");
    EXPECT_EQ(t.should_be, "< 10 %");
    r.must_be = "";
    r.should_be = "[18, 30]";
    r.value = num(31.26);
    t = format_result(r);
    EXPECT_EQ(t.unit, value_unit::none);
    EXPECT_EQ(t.value, "31.3");
    EXPECT_EQ(t.must_be, "");
    EXPECT_EQ(t.should_be, "[18, 30]");
    r.should_be = "nonsense";
    r.value = measure_value::make_null();
    t = format_result(r);
    EXPECT_EQ(t.should_be, "nonsense");
    EXPECT_EQ(t.value, "no data");
}

}  // namespace
}  // namespace weir
