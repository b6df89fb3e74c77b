// Assessments: every accepted form with its semantics, canonical spelling, and malformed input
// rejected at the exact offset.
#include "core/check/assessment.h"

#include <gtest/gtest.h>

#include <limits>

namespace weir::check {
namespace {

measure_value num(double d) {
    return measure_value::make_number(d);
}
measure_value str(const char* s) {
    return measure_value::make_string(s);
}
measure_value boolean(bool b) {
    return measure_value::make_boolean(b);
}

assessment parse_ok(std::string_view text) {
    auto r = parse_assessment(text);
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message) << " at "
                        << (r.ok() ? 0 : r.error().offset);
    return r.ok() ? *r : assessment{};
}

bool holds(std::string_view text, const measure_value& v) {
    return parse_ok(text).holds(v);
}

TEST(assessment, comparisons_respect_their_boundaries) {
    EXPECT_TRUE(holds("> 50", num(51)));
    EXPECT_FALSE(holds("> 50", num(50)));
    EXPECT_TRUE(holds(">= 50", num(50)));
    EXPECT_FALSE(holds(">= 50", num(49.999)));
    EXPECT_TRUE(holds("< 5", num(4.9)));
    EXPECT_FALSE(holds("< 5", num(5)));
    EXPECT_TRUE(holds("<= 5", num(5)));
    EXPECT_FALSE(holds("<= 5", num(5.0001)));
    EXPECT_TRUE(holds("== 3", num(3)));
    EXPECT_FALSE(holds("== 3", num(3.0000001)));
    EXPECT_TRUE(holds("!= 3", num(4)));
    EXPECT_FALSE(holds("!= 3", num(3)));
    EXPECT_TRUE(holds("> -2.5", num(-2)));
    EXPECT_TRUE(holds("< +7", num(6)));
}

TEST(assessment, whitespace_is_optional_and_tolerated) {
    EXPECT_TRUE(holds(">50", num(51)));
    EXPECT_TRUE(holds("  >=\t50  ", num(50)));
    EXPECT_TRUE(holds("[1,2]", num(2)));
    EXPECT_TRUE(holds(" ( 1 , 2 ) ", num(1.5)));
    EXPECT_TRUE(holds("in{a,b}", str("b")));
    EXPECT_TRUE(holds("not   in {a}", str("b")));
}

TEST(assessment, ranges_have_inclusive_and_exclusive_ends) {
    const auto closed = parse_ok("[15, 35]");
    EXPECT_TRUE(closed.holds(num(15)));
    EXPECT_TRUE(closed.holds(num(35)));
    EXPECT_FALSE(closed.holds(num(14.99)));
    EXPECT_FALSE(closed.holds(num(35.01)));
    const auto open = parse_ok("(15, 35)");
    EXPECT_FALSE(open.holds(num(15)));
    EXPECT_FALSE(open.holds(num(35)));
    EXPECT_TRUE(open.holds(num(15.0001)));
    const auto half = parse_ok("[15, 35)");
    EXPECT_TRUE(half.holds(num(15)));
    EXPECT_FALSE(half.holds(num(35)));
    const auto other_half = parse_ok("(15, 35]");
    EXPECT_FALSE(other_half.holds(num(15)));
    EXPECT_TRUE(other_half.holds(num(35)));
    EXPECT_TRUE(holds("[5, 5]", num(5)));
}

TEST(assessment, ranges_accept_infinite_ends) {
    const auto up = parse_ok("(0, inf)");
    EXPECT_TRUE(up.holds(num(1e300)));
    EXPECT_FALSE(up.holds(num(0)));
    EXPECT_FALSE(up.holds(num(std::numeric_limits<double>::infinity())));
    EXPECT_TRUE(holds("(0, inf]", num(std::numeric_limits<double>::infinity())));
    const auto down = parse_ok("[-inf, 0]");
    EXPECT_TRUE(down.holds(num(-1e300)));
    EXPECT_TRUE(down.holds(num(0)));
    EXPECT_FALSE(down.holds(num(1e-300)));
    EXPECT_TRUE(holds("(-inf, +inf)", num(123)));
    EXPECT_TRUE(holds("< inf", num(1e308)));
    EXPECT_TRUE(holds("> -inf", num(-1e308)));
}

TEST(assessment, percent_divides_by_one_hundred) {
    const auto a = parse_ok("< 5%");
    EXPECT_TRUE(a.holds(num(0.0499)));
    EXPECT_FALSE(a.holds(num(0.05)));
    EXPECT_FALSE(a.holds(num(4)));
    EXPECT_DOUBLE_EQ(parse_ok(">= 99.5%").operand().number, 0.995);
    EXPECT_TRUE(holds("[1%, 2.5%]", num(0.025)));
    EXPECT_FALSE(holds("[1%, 2.5%]", num(0.026)));
}

TEST(assessment, exponents) {
    EXPECT_DOUBLE_EQ(parse_ok("< 1e-3").operand().number, 0.001);
    EXPECT_DOUBLE_EQ(parse_ok("> -2.5E+4").operand().number, -25000);
    EXPECT_DOUBLE_EQ(parse_ok("== 1E2").operand().number, 100);
    EXPECT_DOUBLE_EQ(parse_ok("> .5e1").operand().number, 5);
    EXPECT_TRUE(holds("[1e-3, 2e-3]", num(0.0015)));
}

TEST(assessment, durations_are_seconds) {
    EXPECT_DOUBLE_EQ(parse_ok("< 250ms").operand().number, 0.25);
    EXPECT_DOUBLE_EQ(parse_ok("< 30s").operand().number, 30);
    EXPECT_DOUBLE_EQ(parse_ok("< 5m").operand().number, 300);
    EXPECT_DOUBLE_EQ(parse_ok("< 1h").operand().number, 3600);
    EXPECT_DOUBLE_EQ(parse_ok("< 1d").operand().number, 86400);
    EXPECT_DOUBLE_EQ(parse_ok("< 1.5h").operand().number, 5400);
    EXPECT_TRUE(holds("< 60s", num(59.9)));
    EXPECT_FALSE(holds("< 60s", num(60)));
    const auto r = parse_ok("[500ms, 2m]");
    EXPECT_TRUE(r.holds(num(0.5)));
    EXPECT_TRUE(r.holds(num(120)));
    EXPECT_FALSE(r.holds(num(0.499)));
    EXPECT_FALSE(r.holds(num(120.5)));
}

TEST(assessment, booleans) {
    EXPECT_TRUE(holds("== true", boolean(true)));
    EXPECT_FALSE(holds("== true", boolean(false)));
    EXPECT_TRUE(holds("== false", boolean(false)));
    EXPECT_TRUE(holds("!= true", boolean(false)));
    EXPECT_FALSE(holds("== true", num(1)));  // no truthiness: kinds must match
}

TEST(assessment, string_equality) {
    EXPECT_TRUE(holds("== \"ok\"", str("ok")));
    EXPECT_TRUE(holds("== 'ok'", str("ok")));
    EXPECT_FALSE(holds("== \"ok\"", str("OK")));
    EXPECT_TRUE(holds("!= \"ok\"", str("warn")));
    EXPECT_TRUE(holds(R"(== "say \"hi\"")", str("say \"hi\"")));
}

TEST(assessment, sets_of_strings_numbers_and_words) {
    const auto s = parse_ok(R"(in {ok, "warn", 'x y', 3, 1e2, 5%, true})");
    EXPECT_TRUE(s.holds(str("ok")));
    EXPECT_TRUE(s.holds(str("warn")));
    EXPECT_TRUE(s.holds(str("x y")));
    EXPECT_TRUE(s.holds(num(3)));
    EXPECT_TRUE(s.holds(num(100)));
    EXPECT_TRUE(s.holds(num(0.05)));
    EXPECT_TRUE(s.holds(boolean(true)));
    EXPECT_FALSE(s.holds(boolean(false)));
    EXPECT_FALSE(s.holds(str("3")));  // the string "3" is not the number 3
    EXPECT_FALSE(s.holds(num(4)));
    EXPECT_FALSE(s.holds(str("OK")));

    const auto n = parse_ok("not in {1, 2, 3}");
    EXPECT_TRUE(n.holds(num(4)));
    EXPECT_FALSE(n.holds(num(2)));
    EXPECT_FALSE(n.holds(str("4")));  // a string measure is never judged by a numeric set
    EXPECT_TRUE(holds("in {-1, -inf}", num(-std::numeric_limits<double>::infinity())));
}

TEST(assessment, null_nan_and_kind_mismatch_never_hold) {
    const measure_value none;
    for (const char* text : {"> 0", "!= 0", "[0, 1]", "not in {1}", "== true", "!= \"a\""}) {
        EXPECT_FALSE(holds(text, none)) << text;
    }
    const auto nan = num(std::numeric_limits<double>::quiet_NaN());
    for (const char* text : {"> 0", "< 0", "!= 0", "[-inf, inf]", "not in {1}"}) {
        EXPECT_FALSE(holds(text, nan)) << text;
    }
    EXPECT_FALSE(holds("> 5", str("9")));
    EXPECT_FALSE(holds("!= 5", str("9")));
}

TEST(assessment, accepts_tells_which_measure_kinds_can_be_judged) {
    EXPECT_TRUE(parse_ok("> 5").accepts(measure_kind::number));
    EXPECT_FALSE(parse_ok("> 5").accepts(measure_kind::string));
    EXPECT_FALSE(parse_ok("[1, 2]").accepts(measure_kind::boolean));
    EXPECT_TRUE(parse_ok("== true").accepts(measure_kind::boolean));
    EXPECT_FALSE(parse_ok("== true").accepts(measure_kind::number));
    EXPECT_TRUE(parse_ok("== \"a\"").accepts(measure_kind::string));
    const auto mixed = parse_ok("in {a, 1}");
    EXPECT_TRUE(mixed.accepts(measure_kind::string));
    EXPECT_TRUE(mixed.accepts(measure_kind::number));
    EXPECT_FALSE(mixed.accepts(measure_kind::boolean));
}

TEST(assessment, canonical_spelling) {
    const std::pair<const char*, const char*> cases[] = {
        {">50", "> 50"},
        {"  >=  1e2 ", ">= 100"},
        {"< 5%", "< 0.05"},
        {"< 60s", "< 60"},
        {"< 250ms", "< 0.25"},
        {"[15,35]", "[15, 35]"},
        {"( -inf , 0 ]", "(-inf, 0]"},
        {"[0, +inf)", "[0, inf)"},
        {"in {ok, 'warn', 2}", R"(in {"ok", "warn", 2})"},
        {"not in{true}", "not in {true}"},
        {"== 'a\"b'", R"(== "a\"b")"},
        {"!= false", "!= false"},
        {"== -0", "== 0"},
    };
    for (const auto& [in, out] : cases) {
        EXPECT_EQ(parse_ok(in).to_string(), out) << in;
        // The canonical form reads back as itself.
        EXPECT_EQ(parse_ok(parse_ok(in).to_string()).to_string(), out) << in;
    }
}

struct malformed {
    const char* text;
    std::size_t offset;
    const char* message;  // a substring of the expected message
};

TEST(assessment, malformed_input_is_rejected_at_the_offending_character) {
    const malformed cases[] = {
        {"", 0, "empty assessment"},
        {"   ", 3, "empty assessment"},
        {"=> 5", 0, R"(unknown operator "=>"; did you mean ">="?)"},
        {"=< 5", 0, R"(did you mean "<="?)"},
        {"= 5", 0, R"(did you mean "=="?)"},
        {"<> 5", 0, R"(did you mean "!="?)"},
        {">> 5", 0, R"(unknown operator ">>")"},
        {">", 1, R"(expected a number after ">")"},
        {">=   ", 5, R"(expected a number after ">=")"},
        {"> abc", 2, R"(expected a number after ">", got "abc")"},
        {"== maybe", 3, "quote strings"},
        {"> 5 and < 10", 4, R"(unexpected "and" after the assessment)"},
        {"> 5 5", 4, R"(unexpected "5")"},
        {"> 5%%", 4, R"(unexpected "%")"},
        {"[10, 5]", 1, "range start 10 is greater than end 5"},
        {"[ 1e3 , -inf ]", 2, "range start 1000 is greater than end -inf"},
        {"[1, 5", 5, R"x(unterminated range: expected "]" or ")")x"},
        {"[1, 5 x", 6, R"x(expected "]" or ")" to close the range, got "x")x"},
        {"[1 5]", 3, R"(expected "," between the range start and end)"},
        {"[, 5]", 1, "expected the range start"},
        {"[1, ]", 4, "expected the range end"},
        {"[", 1, "unterminated range"},
        {"(5, 5)", 0, "is empty"},
        {"[5, 5)", 0, "is empty"},
        {"[1, 2] x", 7, R"(unexpected "x")"},
        {"5", 0, "missing comparison operator"},
        {"\"ok\"", 0, "missing comparison operator"},
        {"true", 0, R"(did you mean "== true"?)"},
        {"> 5x", 3, R"(unknown unit "x")"},
        {"< 5min", 3, R"(unknown unit "min"; expected %, ms, s, m, h or d)"},
        {"> 1e", 4, "expected digits in the exponent"},
        {"> 1e+", 5, "expected digits in the exponent"},
        {"> 1e999", 2, "out of range"},
        {"> -", 2, "expected a number"},
        {"> \"x\"", 2, "cannot compare with a string"},
        {"< true", 2, "cannot compare with a boolean"},
        {"== \"abc", 3, "unterminated string"},
        {"in {}", 3, "empty set"},
        {"in {a, b", 8, R"(unterminated set: expected "," or "}")"},
        {"in {a b}", 6, R"(expected "," or "}" in the set, got "b")"},
        {"in {a,}", 6, "expected a set element"},
        {"in [1, 2]", 3, "sets are written with braces"},
        {"not {1}", 4, R"(expected "in" after "not")"},
        {"between 1 and 5", 0, R"(unknown assessment "between")"},
        {"] 1, 2 [", 0, R"(unexpected "]")"},
        {"~ 5", 0, R"(unexpected "~")"},
    };
    EXPECT_GE(std::size(cases), 25u);
    for (const auto& c : cases) {
        const auto r = parse_assessment(c.text);
        ASSERT_FALSE(r.ok()) << "accepted: " << c.text;
        EXPECT_EQ(r.error().offset, c.offset) << c.text << ": " << r.error().message;
        EXPECT_NE(r.error().message.find(c.message), std::string::npos)
            << c.text << ": " << r.error().message;
    }
}

// Checks against history (core/check/history.h, tested in history_test.cc) are assessments
// too: they judge numbers and spell themselves canonically.
TEST(assessment, checks_against_history_are_assessments_of_numbers) {
    const std::pair<const char*, const char*> cases[] = {
        {"change vs 1w in [-30%, +30%]", "relative change vs 1w in [-0.3, 0.3]"},
        {"zscore(last 24) < 3", "zscore(last 24) < 3"},
        {"zscore(last 4 by hour_of_week,drop)<=3", "zscore(last 4 by hour_of_week, drop) <= 3"},
    };
    for (const auto& [in, out] : cases) {
        const auto a = parse_ok(in);
        ASSERT_NE(a.history(), nullptr) << in;
        EXPECT_EQ(a.to_string(), out) << in;
        EXPECT_EQ(parse_ok(out).to_string(), out) << in;
        EXPECT_TRUE(a.accepts(measure_kind::number)) << in;
        EXPECT_FALSE(a.accepts(measure_kind::string)) << in;
    }
    EXPECT_EQ(parse_ok("> 5").history(), nullptr);
    const auto r = parse_assessment("zscores(last 24) < 3");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().offset, 0u);
    EXPECT_NE(r.error().message.find("a check against history"), std::string::npos);
}

}  // namespace
}  // namespace weir::check
