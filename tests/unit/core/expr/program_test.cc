// Expressions: precedence, every function, run-time semantics over absent/null/wrong-typed
// values, type errors, and malformed expressions rejected at the exact offset.
#include "core/expr/program.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <map>

namespace weir::expr {
namespace {

// Fields x, s, b, n live in slots 0..3 of every test record.
const std::map<std::string, std::uint32_t> k_slots = {{"x", 0}, {"s", 1}, {"b", 2}, {"n", 3}};

compile_options slot_options() {
    compile_options o;
    o.resolve = [](const field_path& p) -> std::optional<std::uint32_t> {
        const auto it = k_slots.find(p.to_string());
        if (it == k_slots.end()) return std::nullopt;
        return it->second;
    };
    return o;
}

program compile_ok(std::string_view text, const compile_options& options = slot_options()) {
    auto r = compile(text, options);
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message) << " at "
                        << (r.ok() ? 0 : r.error().offset);
    return r.ok() ? *r : program{};
}

struct fixture : ::testing::Test {
    std::vector<field_value> record = {field_value::make_absent(), field_value::make_absent(),
                                       field_value::make_absent(), field_value::make_absent()};
    scratch_arena arena;
    eval_context ctx{1000.5};

    // Results may point into a program's literals: keep every program alive.
    std::deque<program> programs;
    field_value eval(std::string_view text) {
        programs.push_back(compile_ok(text));
        return programs.back().evaluate(record, arena, ctx);
    }
    double number(std::string_view text) {
        const auto v = eval(text);
        EXPECT_EQ(v.kind, value_kind::number) << text;
        return v.is_number() ? v.number : std::nan("");
    }
    std::string string(std::string_view text) {
        const auto v = eval(text);
        EXPECT_EQ(v.kind, value_kind::string) << text;
        return v.is_string() ? std::string(v.string()) : "<not a string>";
    }
    // 1 true, 0 false, 2 null
    int truth(std::string_view text) {
        const auto v = eval(text);
        if (v.kind == value_kind::null) return 2;
        EXPECT_EQ(v.kind, value_kind::boolean) << text;
        return v.boolean ? 1 : 0;
    }
    bool is_null(std::string_view text) { return eval(text).kind == value_kind::null; }
};

using expression = fixture;

TEST_F(expression, arithmetic_precedence_and_associativity) {
    EXPECT_EQ(number("1 + 2 * 3"), 7);
    EXPECT_EQ(number("(1 + 2) * 3"), 9);
    EXPECT_EQ(number("10 - 4 - 3"), 3);
    EXPECT_EQ(number("64 / 4 / 2"), 8);
    EXPECT_EQ(number("2 * 7 % 4"), 2);
    EXPECT_EQ(number("-2 * 3"), -6);
    EXPECT_EQ(number("- 2 + 3"), 1);
    EXPECT_EQ(number("--2"), 2);
    EXPECT_EQ(number("1.5e1 + .5"), 15.5);
    EXPECT_EQ(number("7 % 3"), 1);
    EXPECT_EQ(number("-7 % 3"), -1);
}

TEST_F(expression, logical_and_comparison_precedence) {
    EXPECT_EQ(truth("1 + 2 == 3"), 1);
    EXPECT_EQ(truth("1 < 2 and 2 < 3 or false"), 1);
    EXPECT_EQ(truth("true or false and false"), 1);  // and binds tighter than or
    EXPECT_EQ(truth("(true or false) and false"), 0);
    EXPECT_EQ(truth("not true or true"), 1);     // not binds tighter than or
    EXPECT_EQ(truth("not false and false"), 0);  // ... and than and
    EXPECT_EQ(truth("not 1 == 2"), 1);           // but looser than comparisons
    EXPECT_EQ(truth("not not true"), 1);
    EXPECT_EQ(truth("2 * 3 >= 6 and 'a' != 'b'"), 1);
    EXPECT_EQ(truth("\"abc\" < \"abd\""), 1);
    EXPECT_EQ(truth("\"b\" > \"abc\""), 1);
    EXPECT_EQ(truth("3 <= 3"), 1);
    EXPECT_EQ(truth("3 > 3"), 0);
    EXPECT_EQ(truth("true == true"), 1);
    EXPECT_EQ(truth("false != true"), 1);
}

TEST_F(expression, fields_are_read_from_their_slots) {
    record[0] = field_value::make_number(20);
    record[1] = field_value::make_string("test");
    EXPECT_EQ(number("(x - 32) * 5 / 9"), (20.0 - 32) * 5 / 9);
    EXPECT_EQ(truth("s != \"test\""), 0);
    const auto p = compile_ok("s == 'a' or x > 1 or s == 'b'");
    ASSERT_EQ(p.fields().size(), 2u);
    EXPECT_EQ(p.fields()[0].path.to_string(), "s");
    EXPECT_EQ(p.fields()[0].slot, 1u);
    EXPECT_EQ(p.fields()[1].slot, 0u);
}

TEST_F(expression, paths_with_dots_and_brackets) {
    std::vector<field_path> seen;
    compile_options o;
    o.resolve = [&](const field_path& p) -> std::optional<std::uint32_t> {
        seen.push_back(p);
        return static_cast<std::uint32_t>(seen.size() - 1);
    };
    const auto p = compile_ok(R"(a.b + a["odd key"].c + ["and"] + orders.amount + a.b)", o);
    ASSERT_EQ(seen.size(), 4u);  // a.b is resolved once
    EXPECT_EQ(seen[0].segments, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(seen[1].segments, (std::vector<std::string>{"a", "odd key", "c"}));
    EXPECT_EQ(seen[2].segments, (std::vector<std::string>{"and"}));
    EXPECT_EQ(seen[3].segments, (std::vector<std::string>{"orders", "amount"}));
    EXPECT_EQ(seen[1].to_string(), R"(a["odd key"].c)");
    const std::vector<field_value> rec = {field_value::make_number(1), field_value::make_number(2),
                                          field_value::make_number(3), field_value::make_number(4)};
    EXPECT_EQ(p.evaluate(rec, arena).number, 11);
}

TEST_F(expression, without_a_resolver_slots_follow_first_appearance) {
    compile_options o;
    const auto p = compile_ok("z > y and y > z and w", o);
    ASSERT_EQ(p.fields().size(), 3u);
    EXPECT_EQ(p.fields()[0].path.to_string(), "z");
    EXPECT_EQ(p.fields()[0].slot, 0u);
    EXPECT_EQ(p.fields()[1].slot, 1u);
    EXPECT_EQ(p.fields()[2].path.to_string(), "w");
    EXPECT_EQ(p.fields()[2].slot, 2u);
}

TEST_F(expression, arithmetic_with_absent_null_or_wrong_types_is_null) {
    EXPECT_TRUE(is_null("x + 1"));  // absent
    record[0] = field_value::make_null();
    EXPECT_TRUE(is_null("x + 1"));
    EXPECT_TRUE(is_null("-x"));
    record[0] = field_value::make_string("5");
    EXPECT_TRUE(is_null("x * 2"));
    record[0] = field_value::make_other();
    EXPECT_TRUE(is_null("x - 1"));
    record[0] = field_value::make_boolean(true);
    EXPECT_TRUE(is_null("x + 1"));
    EXPECT_TRUE(is_null("1 / 0"));
    EXPECT_TRUE(is_null("5 % 0"));
    record[0] = field_value::make_number(0);
    EXPECT_TRUE(is_null("10 / x"));
    // A slot beyond the record reads as absent.
    const auto p = compile_ok("x + 1");
    EXPECT_EQ(p.evaluate({}, arena).kind, value_kind::null);
    EXPECT_EQ(compile_ok("x").evaluate({}, arena).kind, value_kind::absent);
}

TEST_F(expression, comparisons_with_null_and_null_tests) {
    EXPECT_EQ(truth("x == null"), 1);  // absent counts as null
    EXPECT_EQ(truth("x != null"), 0);
    EXPECT_EQ(truth("null == x"), 1);
    EXPECT_EQ(truth("x == 5"), 2);  // unknown ...
    EXPECT_EQ(truth("x != 5"), 2);
    EXPECT_EQ(truth("x < 5"), 2);
    EXPECT_FALSE(compile_ok("x != 5").test(record, arena));  // ... so a filter drops the record
    record[0] = field_value::make_null();
    EXPECT_EQ(truth("x == null"), 1);
    EXPECT_EQ(truth("x > 0"), 2);
    record[0] = field_value::make_number(0);
    EXPECT_EQ(truth("x == null"), 0);
    EXPECT_EQ(truth("x != null"), 1);
    EXPECT_EQ(truth("x == \"0\""), 0);  // different kinds are unequal
    EXPECT_EQ(truth("x != \"0\""), 1);
    EXPECT_EQ(truth("x < \"1\""), 2);  // and unordered
    record[0] = field_value::make_other();
    EXPECT_EQ(truth("x == null"), 0);  // an object is present
    EXPECT_EQ(truth("x == 1"), 2);
}

TEST_F(expression, three_valued_logic_and_short_circuit) {
    EXPECT_EQ(truth("b and true"), 2);
    EXPECT_EQ(truth("b and false"), 0);
    EXPECT_EQ(truth("false and b"), 0);
    EXPECT_EQ(truth("b or true"), 1);
    EXPECT_EQ(truth("b or false"), 2);
    EXPECT_EQ(truth("not b"), 2);
    record[2] = field_value::make_number(1);  // a number is not a boolean: unknown
    EXPECT_EQ(truth("b and true"), 2);
    record[2] = field_value::make_boolean(true);
    EXPECT_EQ(truth("b and true"), 1);
    EXPECT_EQ(truth("not b"), 0);

    record[1] = field_value::make_string("ABC");
    arena.reset();
    EXPECT_EQ(truth("false and lower(s) == 'abc'"), 0);
    EXPECT_EQ(arena.used(), 0u);  // lower() never ran
    EXPECT_EQ(truth("true or lower(s) == 'abc'"), 1);
    EXPECT_EQ(arena.used(), 0u);
    EXPECT_EQ(truth("true and lower(s) == 'abc'"), 1);
    EXPECT_GT(arena.used(), 0u);
}

TEST_F(expression, string_functions) {
    record[1] = field_value::make_string("HeLLo wörld");
    EXPECT_EQ(string("lower(s)"), "hello wörld");
    EXPECT_EQ(string("upper(s)"), "HELLO WöRLD");  // ASCII only
    EXPECT_EQ(number("len(s)"), 11);               // code points, not bytes
    EXPECT_EQ(number("len('')"), 0);
    EXPECT_EQ(truth("contains(s, 'LLo')"), 1);
    EXPECT_EQ(truth("contains(s, 'llo')"), 0);
    EXPECT_EQ(truth("starts_with(s, 'HeL')"), 1);
    EXPECT_EQ(truth("starts_with(s, 'wörld')"), 0);
    EXPECT_EQ(string("s + '!' + \"?\""), "HeLLo wörld!?");
    record[1] = field_value::make_number(5);
    EXPECT_TRUE(is_null("lower(s)"));
    EXPECT_TRUE(is_null("len(s)"));
    EXPECT_TRUE(is_null("contains(s, 'a')"));
    EXPECT_TRUE(is_null("s + 'a'"));
}

TEST_F(expression, numeric_functions) {
    EXPECT_EQ(number("abs(-3.5)"), 3.5);
    EXPECT_EQ(number("round(2.5)"), 3);
    EXPECT_EQ(number("round(-2.5)"), -3);
    EXPECT_DOUBLE_EQ(number("round(3.14159, 2)"), 3.14);
    EXPECT_EQ(number("round(1234, -2)"), 1200);
    EXPECT_TRUE(is_null("abs(x)"));
    EXPECT_TRUE(is_null("round(x, 2)"));
}

TEST_F(expression, conversions) {
    EXPECT_EQ(number("to_number('42')"), 42);
    EXPECT_EQ(number("to_number(' 1e3 ')"), 1000);
    EXPECT_EQ(number("to_number('-0.5')"), -0.5);
    EXPECT_EQ(number("to_number(true)"), 1);
    EXPECT_EQ(number("to_number(7)"), 7);
    EXPECT_TRUE(is_null("to_number('4x')"));
    EXPECT_TRUE(is_null("to_number('')"));
    EXPECT_TRUE(is_null("to_number(x)"));
    EXPECT_EQ(string("to_string(42)"), "42");
    EXPECT_EQ(string("to_string(0.5)"), "0.5");
    EXPECT_EQ(string("to_string(-0)"), "0");
    EXPECT_EQ(string("to_string(false)"), "false");
    EXPECT_EQ(string("to_string('a')"), "a");
    EXPECT_TRUE(is_null("to_string(null)"));
    EXPECT_TRUE(is_null("to_string(x)"));
}

TEST_F(expression, matches_is_a_full_match) {
    record[1] = field_value::make_string("abc");
    EXPECT_EQ(truth("matches(s, '^[a-z]+$')"), 1);
    EXPECT_EQ(truth("matches(s, '[a-z]+')"), 1);
    EXPECT_EQ(truth("matches(s, 'b')"), 0);
    EXPECT_EQ(truth(R"(matches(s, "\d+"))"), 0);
    record[1] = field_value::make_string("123");
    EXPECT_EQ(truth(R"(matches(s, "\d+"))"), 1);
    record[1] = field_value::make_number(123);
    EXPECT_EQ(truth(R"(matches(s, "\d+"))"), 2);
}

TEST_F(expression, parse_time_and_now) {
    EXPECT_EQ(number("parse_time('2026-11-20T10:00:00Z')"), 1795168800);
    // strftime patterns, as for a node's time.format
    EXPECT_EQ(number("parse_time('20/11/2026 10:00', '%d/%m/%Y %H:%M')"), 1795168800);
    EXPECT_EQ(number("parse_time('1795168800123', 'epoch_ms')"), 1795168800.123);
    EXPECT_EQ(number("parse_time('2026-11-20T10:00:00.250Z', 'rfc3339')"), 1795168800.25);
    EXPECT_EQ(number("parse_time('2026-11-20 11:30:00+01:30')"), 1795168800);
    EXPECT_EQ(number("parse_time('1969-12-31T23:59:59z')"), -1);
    EXPECT_EQ(number("parse_time('2024-02-29T12:00:00-00:00')"), 1709208000);
    EXPECT_TRUE(is_null("parse_time('2023-02-29T12:00:00Z')"));
    EXPECT_TRUE(is_null("parse_time('2026-11-20T10:00:00')"));  // no zone
    EXPECT_TRUE(is_null("parse_time('2026-13-20T10:00:00Z')"));
    EXPECT_TRUE(is_null("parse_time('yesterday')"));
    EXPECT_TRUE(is_null("parse_time(5)"));
    EXPECT_EQ(number("parse_time(1500, 'epoch_ms')"), 1.5);
    EXPECT_EQ(number("parse_time('1500', 'epoch_us')"), 0.0015);
    EXPECT_EQ(number("parse_time(2e9, 'epoch_ns')"), 2);
    EXPECT_EQ(number("parse_time(17, 'epoch_s')"), 17);
    EXPECT_EQ(number("now()"), 1000.5);
    EXPECT_EQ(number("now() - 0.5"), 1000);
    EXPECT_TRUE(compile_ok("now() > 5").reads_clock());
    EXPECT_FALSE(compile_ok("x > 5").reads_clock());
}

TEST_F(expression, string_literals_survive_copies_and_moves) {
    record[1] = field_value::make_string("abc");
    std::vector<program> programs;
    for (int i = 0; i < 20; ++i) programs.push_back(compile_ok("s == 'abc' and 'x' + 'y' == 'xy'"));
    const program copy = programs[3];
    programs.clear();
    EXPECT_TRUE(copy.test(record, arena));
}

TEST_F(expression, static_types) {
    field_types types = {{"temperature", value_type::number},
                         {"status", value_type::string},
                         {"ok", value_type::boolean},
                         {"raw", value_type::any}};
    compile_options o;
    o.fields = &types;
    EXPECT_EQ(compile_ok("temperature * 2", o).type(), value_type::number);
    EXPECT_EQ(compile_ok("status + 'x'", o).type(), value_type::string);
    EXPECT_EQ(compile_ok("raw + 1", o).type(), value_type::number);
    EXPECT_EQ(compile_ok("raw", o).type(), value_type::any);
    EXPECT_EQ(compile_ok("ok and raw", o).type(), value_type::boolean);
    EXPECT_EQ(compile_ok("lower(status)", o).type(), value_type::string);
    EXPECT_EQ(compile_ok("len(raw) > 3", o).type(), value_type::boolean);
    o.expected = value_type::boolean;
    EXPECT_TRUE(compile("status != 'test'", o).ok());
    EXPECT_TRUE(compile("raw", o).ok());  // any: checked at run time
    const auto bad = compile("temperature * 2", o);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().offset, 0u);
    EXPECT_EQ(bad.error().message, "the expression must yield a boolean, but it yields a number");
}

TEST_F(expression, every_type_error_is_reported) {
    const auto r = compile("lower(1) + upper(2) + y", slot_options());
    ASSERT_FALSE(r.ok());
    ASSERT_EQ(r.errors().size(), 3u);
    EXPECT_EQ(r.errors()[0].offset, 6u);
    EXPECT_EQ(r.errors()[0].message, "lower() expects a string, got a number");
    EXPECT_EQ(r.errors()[1].offset, 17u);
    EXPECT_EQ(r.errors()[2].offset, 22u);
    EXPECT_EQ(r.errors()[2].message, "unknown field \"y\"");
}

TEST(scratch_arena, reuses_its_memory_after_reset) {
    scratch_arena a(64);
    const auto s = a.copy("hello");
    EXPECT_EQ(s, "hello");
    for (int i = 0; i < 20; ++i) a.allocate(10);
    char* big = a.allocate(1000);  // larger than a block
    big[999] = 'x';
    const std::size_t held = a.capacity();
    EXPECT_GE(held, 1000u + 200u);
    for (int round = 0; round < 3; ++round) {
        a.reset();
        EXPECT_EQ(a.used(), 0u);
        for (int i = 0; i < 20; ++i) a.allocate(10);
        a.allocate(1000);
        EXPECT_EQ(a.capacity(), held);  // nothing new was allocated
    }
}

struct malformed {
    const char* text;
    std::size_t offset;
    const char* message;
};

TEST(expression_errors, malformed_expressions_are_rejected_at_the_offending_character) {
    field_types types = {{"temperature", value_type::number}, {"status", value_type::string}};
    const malformed cases[] = {
        {"", 0, "expected a value"},
        {"\"abc", 0, "unterminated string: expected a closing \""},
        {"x == 'abc", 5, "unterminated string"},
        {"x +", 3, "expected a value (a field, a literal, a function call or \"(\"), got the end"},
        {"x + * n", 4, R"(got "*")"},
        {"(x + n", 6, R"x(expected ")" to close the "(" at offset 0, got the end)x"},
        {"x n", 2, R"(unexpected "n" after a complete expression; a missing operator?)"},
        {"x = 1", 2, R"(unknown operator "="; did you mean "=="?)"},
        {"x => 1", 2, R"(unknown operator "=>"; did you mean ">="?)"},
        {"b && n", 2, R"(unknown operator "&&"; did you mean "and"?)"},
        {"!b", 0, R"(use "not")"},
        {"x @ n", 2, R"(unexpected character "@")"},
        {"5m", 1, R"(unexpected "m" after the number 5)"},
        {"1e+", 3, "expected digits in the exponent"},
        {"lowr(s)", 0, R"(unknown function "lowr"; did you mean "lower"?)"},
        {"frobnicate(s)", 0, R"(unknown function "frobnicate")"},
        {"mean(x) > 5", 0, R"("mean" is an aggregate)"},
        {"lower(s, x)", 9, "lower() takes 1 argument, got 2"},
        {"contains(s)", 10, "contains() takes 2 arguments, got 1"},
        {"round(x, 1, 2)", 12, "round() takes 1 or 2 arguments, got 3"},
        {"now(1)", 4, "now() takes 0 arguments, got 1"},
        {"\"a\" + 1", 4, "cannot add a string and a number"},
        {"true + 1", 5, "cannot add a boolean and a number"},
        {"'a' - x", 4, "cannot subtract any value from a string"},
        {"x * 'a'", 2, "cannot multiply any value by a string"},
        {"x + null", 2, "arithmetic with null always gives null"},
        {"-'a'", 0, "cannot negate a string"},
        {"\"a\" == 1", 4, "cannot compare a string with a number"},
        {"1 < null", 2, R"("<" cannot order null; test with "== null")"},
        {"true > false", 5, R"(">" cannot order booleans)"},
        {"1 < 2 < 3", 6, "comparisons cannot be chained"},
        {"not 5", 4, R"("not" needs a boolean, got a number)"},
        {"x > 1 and 'yes'", 10, R"("and" needs booleans, got a string)"},
        {"5 or b", 0, R"("or" needs booleans, got a number)"},
        {"lower(5)", 6, "lower() expects a string, got a number"},
        {"contains(s, 1)", 12, "contains() expects a string as its second argument, got a number"},
        {"matches(s, '[a-')", 11, "invalid regular expression"},
        {"matches(s, s)", 11, "the pattern of matches() must be a string literal"},
        {"parse_time(s, '%Y-%Q')", 18, "unsupported conversion \"%Q\""},
        {"parse_time(s, s)", 14, "the format of parse_time() must be a string literal"},
        {"x.", 2, R"(expected a field name after ".", got the end)"},
        {"x[1]", 2, R"(expected a quoted field name after "[", got "1")"},
        {"x[\"a\"", 5, R"(expected "]" after the field name)"},
        {"x.lower()", 7, "is not a function"},
        {"and", 0, R"(expected a value before "and")"},
        {"x > and", 4, R"(expected a value before "and")"},
        {"lower(s n)", 8, R"x(expected "," or ")" in the arguments of lower())x"},
        {"f(", 2, "expected a value"},
        {"tempreature > 5", 0, R"(unknown field "tempreature"; did you mean "temperature"?)"},
        {"temperature > 5 and statsu == 'x'", 20, R"(did you mean "status"?)"},
        {"status + 1", 7, "cannot add a string and a number"},
        {"temperature == 'hot'", 12, "cannot compare a number with a string"},
        {"abs(status)", 4, "abs() expects a number, got a string"},
    };
    EXPECT_GE(std::size(cases), 15u);
    for (const auto& c : cases) {
        compile_options o;
        const std::string_view text = c.text;
        const bool schema = text.find("temp") != std::string_view::npos ||
                            text.find("stat") != std::string_view::npos;
        if (schema) o.fields = &types;
        const auto r = compile(c.text, o);
        ASSERT_FALSE(r.ok()) << "accepted: " << c.text;
        EXPECT_EQ(r.error().offset, c.offset) << c.text << ": " << r.error().message;
        EXPECT_NE(r.error().message.find(c.message), std::string::npos)
            << c.text << ": " << r.error().message;
    }
}

TEST(expression_errors, deep_nesting_is_an_error_not_a_crash) {
    std::string deep(500, '(');
    deep += "1" + std::string(500, ')');
    const auto r = compile(deep);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("too deeply nested"), std::string::npos);
    std::string right = "x";
    for (int i = 0; i < 60; ++i) right = "x + (" + right + ")";
    const auto r2 = compile(right);
    ASSERT_FALSE(r2.ok());
    EXPECT_NE(r2.error().message.find("too deeply nested"), std::string::npos);
    std::string fine = "1";
    for (int i = 0; i < 30; ++i) fine = "1 + (" + fine + ")";
    scratch_arena arena;
    EXPECT_EQ(compile_ok(fine, {}).evaluate({}, arena).number, 31);
}

}  // namespace
}  // namespace weir::expr
