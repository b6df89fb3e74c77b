// The measure language: parsing into shared aggregate calls, canonical keys, arithmetic over
// aggregate results, and malformed measures rejected at the exact offset.
#include "core/measure/measure_expr.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

namespace weir::measure {
namespace {

measure_expr parse_ok(std::string_view text) {
    auto r = parse_measure(text);
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message) << " at "
                        << (r.ok() ? 0 : r.error().offset);
    return r.ok() ? *r : measure_expr{};
}

measure_value num(double d) {
    return measure_value::make_number(d);
}

std::vector<std::string> keys(const measure_expr& m) {
    std::vector<std::string> out;
    for (const auto& c : m.calls()) out.push_back(c.key);
    return out;
}

TEST(measure_expr, single_calls_and_their_arguments) {
    const auto m = parse_ok("percentile(latency, 0.99)");
    ASSERT_EQ(m.calls().size(), 1u);
    const auto& c = m.calls()[0];
    EXPECT_EQ(c.function->name, "percentile");
    ASSERT_EQ(c.args.size(), 2u);
    EXPECT_EQ(c.args[0].kind, arg_kind::field);
    EXPECT_EQ(c.args[0].field.segments, std::vector<std::string>{"latency"});
    EXPECT_EQ(c.args[1].kind, arg_kind::probability);
    EXPECT_DOUBLE_EQ(c.args[1].number, 0.99);
    EXPECT_EQ(c.args[1].offset, 20u);
    EXPECT_EQ(c.key, "percentile(latency, 0.99)");

    const auto r = parse_ok("in_range_fraction(t, -40, 85)");
    EXPECT_DOUBLE_EQ(r.calls()[0].args[1].number, -40);
    EXPECT_DOUBLE_EQ(r.calls()[0].args[2].number, 85);
    EXPECT_EQ(r.calls()[0].key, "in_range_fraction(t, -40, 85)");

    const auto s = parse_ok(R"(in_set_count(status, ["ok", 'warn', 3, true, null]))");
    const auto& list = s.calls()[0].args[1].list;
    ASSERT_EQ(list.size(), 5u);

    const auto re = parse_ok(R"(matches_fraction(email, "^[^@]+@[^@]+$"))");
    const auto& arg = re.calls()[0].args[1];
    EXPECT_EQ(arg.pattern, "^[^@]+@[^@]+$");
    ASSERT_NE(arg.regex, nullptr);
    EXPECT_TRUE(re2::RE2::FullMatch("a@b", *arg.regex));
    EXPECT_FALSE(re2::RE2::FullMatch("a@b@c", *arg.regex));
    // Backslashes other than \\ \" \' \n \t \r reach RE2 as written.
    EXPECT_EQ(parse_ok(R"(matches_count(id, "^\d+$"))").calls()[0].args[1].pattern, R"(^\d+$)");

    const auto two = parse_ok("correlation(a, orders.b)");
    EXPECT_EQ(two.calls()[0].args[1].field.segments, (std::vector<std::string>{"orders", "b"}));
    EXPECT_EQ(parse_ok(R"(mean(a["odd key"].x))").calls()[0].key, R"(mean(a["odd key"].x))");
    EXPECT_EQ(parse_ok("count()").calls()[0].args.size(), 0u);
    EXPECT_EQ(parse_ok("missing_count(x, ['N/A', -1])").calls()[0].args[1].list.size(), 2u);
}

TEST(measure_expr, equal_calls_share_one_canonical_key) {
    const auto m = parse_ok("mean(x) + mean( x ) * 2 - mean(x)");
    ASSERT_EQ(m.calls().size(), 1u);
    EXPECT_EQ(m.calls()[0].key, "mean(x)");

    EXPECT_EQ(keys(parse_ok("count(orders) - count(payments) + count(orders) / count()")),
              (std::vector<std::string>{"count(orders)", "count(payments)", "count()"}));
    // Different spellings of the same call give the same key, so two checks share it.
    EXPECT_EQ(keys(parse_ok(R"(mean(a["b"]))")), keys(parse_ok("mean(a.b)")));
    EXPECT_EQ(keys(parse_ok("percentile(x, 0.990)")), keys(parse_ok("percentile(x,.99)")));
    EXPECT_EQ(keys(parse_ok(R"(in_set_count(s, ['b', "a", 'b']))")),
              std::vector<std::string>{R"(in_set_count(s, ["a", "b"]))"});
    EXPECT_EQ(keys(parse_ok("in_range_count(t, 1e1, 2E1)")),
              std::vector<std::string>{"in_range_count(t, 10, 20)"});
    EXPECT_NE(keys(parse_ok("count()")), keys(parse_ok("count(x)")));
    EXPECT_NE(keys(parse_ok("percentile(x, 0.5)")), keys(parse_ok("median(x)")));
    // The quantile method: linear is the default, left out of the key.
    EXPECT_EQ(keys(parse_ok("percentile(x, 0.9, linear)")), keys(parse_ok("percentile(x, 0.9)")));
    EXPECT_EQ(keys(parse_ok("median(x, linear)")), keys(parse_ok("median(x)")));
    EXPECT_EQ(keys(parse_ok("median(x, nearest)")), std::vector<std::string>{"median(x, nearest)"});
    EXPECT_EQ(parse_ok("percentile(x, 0.9, nearest)").calls().front().word(2), "nearest");
    EXPECT_EQ(parse_ok("percentile(x, 0.9)").calls().front().word(2), "linear");
    EXPECT_EQ(parse_ok("count() - count()").calls().size(), 1u);
}

TEST(measure_expr, aliases_parse_as_their_targets) {
    const auto m = parse_ok("avg(x) + avg_length(s) + row_count() + mean(x) + count()");
    EXPECT_EQ(keys(m), (std::vector<std::string>{"mean(x)", "mean_length(s)", "count()"}));
    EXPECT_EQ(m.calls()[0].function->name, "mean");
    EXPECT_EQ(m.calls()[2].function->name, "count");
    EXPECT_EQ(m.to_string(), "mean(x) + mean_length(s) + count() + mean(x) + count()");
    // The alias's own arity: row_count() takes no field, avg a field.
    const auto r = parse_measure("row_count(x)");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "row_count() takes 0 arguments: row_count()");
    EXPECT_EQ(r.error().offset, 10u);
    const auto a = parse_measure("avg()");
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().message, "avg() takes 1 argument: avg(field)");
}

TEST(measure_expr, formats_are_required_keywords_after_the_field) {
    // A field may be named like a format: the word goes with the field.
    const auto m = parse_ok("invalid_count(email, email) + valid_fraction(ip, ipv4)");
    ASSERT_EQ(m.calls().size(), 2u);
    const auto& c = m.calls()[0];
    EXPECT_EQ(c.key, "invalid_count(email, email)");
    ASSERT_EQ(c.args.size(), 2u);
    EXPECT_EQ(c.args[0].kind, arg_kind::field);
    EXPECT_EQ(c.args[0].field.to_string(), "email");
    EXPECT_EQ(c.word(1), "email");
    EXPECT_EQ(m.calls()[1].word(1), "ipv4");
    EXPECT_EQ(parse_ok("invalid_count()").calls()[0].args.size(), 0u);
    EXPECT_EQ(parse_ok("invalid_percent(d, date_time)").calls()[0].key,
              "invalid_percent(d, date_time)");

    const auto alone = parse_measure("invalid_count(email)");
    ASSERT_FALSE(alone.ok());
    EXPECT_EQ(alone.error().offset, 19u);
    EXPECT_EQ(alone.error().message,
              "invalid_count() needs one of email, uuid, ipv4, ipv6, date, date_time, phone, url, "
              "integer, decimal, percentage, credit_card: invalid_count() | "
              "invalid_count(field, format)");
    const auto unknown = parse_measure("valid_count(email, emial)");
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().offset, 19u);
    EXPECT_EQ(unknown.error().message,
              "unknown keyword \"emial\" for valid_count(): expected one of: email, uuid, ipv4, "
              "ipv6, date, date_time, phone, url, integer, decimal, percentage, credit_card");
    const auto quoted = parse_measure("valid_count(email, \"email\")");
    ASSERT_FALSE(quoted.ok());
    EXPECT_EQ(quoted.error().offset, 19u);
    const auto short_call = parse_measure("valid_count(email)");
    ASSERT_FALSE(short_call.ok());
    EXPECT_EQ(short_call.error().message,
              "valid_count() takes 2 arguments: valid_count(field, format)");
}

TEST(measure_expr, arithmetic_over_aggregate_values) {
    const auto ratio = parse_ok("missing_count(x) / count()");
    EXPECT_EQ(ratio.evaluate(std::vector{num(3), num(12)}), num(0.25));
    EXPECT_EQ(ratio.evaluate(std::vector{num(3), num(0)}), measure_value::make_null());
    EXPECT_EQ(ratio.evaluate(std::vector{measure_value::make_null(), num(2)}),
              measure_value::make_null());
    EXPECT_EQ(ratio.evaluate(std::vector{num(1)}), measure_value::make_null());  // too few

    // Precedence and associativity: * / bind tighter; - and / associate to the left.
    const auto p = parse_ok("1 + 2 * count() - 8 / 4 / 2");
    EXPECT_EQ(p.evaluate(std::vector{num(5)}), num(10));
    EXPECT_EQ(parse_ok("(1 + 2) * count()").evaluate(std::vector{num(5)}), num(15));
    EXPECT_EQ(parse_ok("count() - 3 - 2").evaluate(std::vector{num(10)}), num(5));
    EXPECT_EQ(parse_ok("-count() * -2").evaluate(std::vector{num(4)}), num(8));
    EXPECT_EQ(parse_ok("- -count()").evaluate(std::vector{num(4)}), num(4));
    EXPECT_EQ(parse_ok("count(orders) - count(payments)").evaluate(std::vector{num(7), num(9)}),
              num(-2));
    EXPECT_EQ(parse_ok("sum(x) / (count() - count())").evaluate(std::vector{num(7), num(9)}),
              measure_value::make_null());
    // A string operand is no data for arithmetic.
    EXPECT_EQ(parse_ok("count() * 2").evaluate(std::vector{measure_value::make_string("5")}),
              measure_value::make_null());
    EXPECT_EQ(parse_ok("count() * 1").evaluate(std::vector{num(3.5)}), num(3.5));
}

TEST(measure_expr, single_calls_pass_their_value_through) {
    const auto mf = parse_ok("most_frequent(status)");
    EXPECT_EQ(mf.result(), result_type::field_value);
    EXPECT_EQ(mf.evaluate(std::vector{measure_value::make_string("ok")}),
              measure_value::make_string("ok"));
    const auto frozen = parse_ok("is_frozen(x)");
    EXPECT_EQ(frozen.result(), result_type::boolean);
    EXPECT_EQ(frozen.evaluate(std::vector{measure_value::make_boolean(true)}),
              measure_value::make_boolean(true));
    EXPECT_EQ(parse_ok("mean(x)").evaluate(std::vector{measure_value::make_null()}),
              measure_value::make_null());
    EXPECT_EQ(parse_ok("(mean(x))").result(), result_type::number);
}

TEST(measure_expr, reads_clock) {
    EXPECT_TRUE(parse_ok("freshness()").reads_clock());
    EXPECT_TRUE(parse_ok("count() + max_delay()").reads_clock());
    EXPECT_FALSE(parse_ok("rate() * 60").reads_clock());
    EXPECT_TRUE(parse_ok("count_where(now() - t > 60)").reads_clock());
    EXPECT_FALSE(parse_ok("count_where(t > 60)").reads_clock());
}

TEST(measure_expr, canonical_text) {
    const std::pair<const char*, const char*> cases[] = {
        {"count()", "count()"},
        {"missing_count( x )/count( )", "missing_count(x) / count()"},
        {"(sum(a) - sum(b)) / count()", "(sum(a) - sum(b)) / count()"},
        {"sum(a) - (sum(b) - 1)", "sum(a) - (sum(b) - 1)"},
        {"(sum(a) * 2) + 1", "sum(a) * 2 + 1"},
        {"1 + (2 * count())", "1 + 2 * count()"},
        {"-(count() + 1)", "-(count() + 1)"},
        {"-count()", "-count()"},
        {"percentile(x, 5e-1)", "percentile(x, 0.5)"},
        {R"(in_set_count(s, ['x', 2]))", R"(in_set_count(s, ["x", 2]))"},
    };
    for (const auto& [in, out] : cases) {
        EXPECT_EQ(parse_ok(in).to_string(), out) << in;
        EXPECT_EQ(parse_ok(parse_ok(in).to_string()).to_string(), out) << in;
    }
}

struct malformed {
    const char* text;
    std::size_t offset;
    const char* message;
};

TEST(measure_expr, malformed_measures_are_rejected_at_the_offending_character) {
    const malformed cases[] = {
        {"", 0, "expected an aggregate function call"},
        {"cnt()", 0, R"(unknown function "cnt"; did you mean "count"?)"},
        {"meen(x)", 0, R"(did you mean "mean"?)"},
        {"frobnicate(x)", 0, R"(unknown function "frobnicate")"},
        {"mean()", 5, "mean() takes 1 argument: mean(field)"},
        {"mean(x, y)", 8, "mean() takes 1 argument"},
        {"count(a, b)", 9, "count() takes at most 1 argument"},
        {"percentile(latency)", 18, "percentile() takes at least 2 arguments"},
        {"percentile(latency, 0.9, cubic)", 25,
         R"(unknown keyword "cubic" for percentile(): expected one of: )"},
        {"median(latency, linear, nearest)", 24, "median() takes at most 2 arguments"},
        {"correlation(a)", 13, "correlation() takes 2 arguments"},
        {"freshness(x)", 10, "freshness() takes 0 arguments"},
        {"percentile(latency, 1.5)", 20, "p must be between 0 and 1"},
        {"percentile(latency, -0.1)", 20, "p must be between 0 and 1"},
        {"percentile(latency, p)", 20, "must be a probability between 0 and 1"},
        {R"(matches_fraction(email, "[a-"))", 24, "invalid regular expression"},
        {"matches_count(s, 5)", 17, "must be a quoted regular expression"},
        {R"(matches_count(s, "unterminated))", 17, "unterminated string"},
        {"temperature > 5", 0, R"("temperature" is a field, not a measure)"},
        {"count() count()", 8, R"(unexpected "count" after the measure)"},
        {"count() > 5", 8, R"(unexpected ">" after the measure)"},
        {"sum(x) % 2", 7, R"(unexpected "%")"},
        {"mean(5)", 5, R"(the first argument of mean() must be a field, got "5")"},
        {R"(in_set_count(status, "ok"))", 21, "must be a list of literals"},
        {"in_set_count(status, [])", 21, "empty list"},
        {"in_set_count(status, [ok])", 22, "quote strings"},
        {"in_set_count(status, [1 2])", 24, R"(expected "," or "]" in the list)"},
        {"in_range_fraction(t, 85, -40)", 21, "range start 85 is greater than end -40"},
        {"most_frequent_in_range(x, 5, 1)", 26, "range start 5 is greater than end 1"},
        {"heavy_hitters(x, 0)", 17,
         "phi of heavy_hitters() must be greater than 0 and less than 1"},
        {"heavy_hitters(x, 1)", 17,
         "phi of heavy_hitters() must be greater than 0 and less than 1"},
        {"heavy_hitters(x)", 15, "heavy_hitters() takes 2 arguments"},
        {"trend(x, y, z)", 12, "trend() takes at most 2 arguments"},
        {"window_duration(x)", 16, "window_duration() takes 0 arguments"},
        {"cramers_v(a, 5)", 13, R"(the second argument of cramers_v() must be a field, got "5")"},
        {"most_frequent(x) + 1", 0, "most_frequent() yields the field's value, which cannot"},
        {"count() / is_frozen(x)", 10, "is_frozen() yields boolean"},
        {"(count()", 8, R"x(expected ")" to close the "(")x"},
        {"count(", 6, "must be a field, got the end of the text"},
        {"count(x", 7, R"x(expected "," or ")" after the first argument of count())x"},
        {"mean(abs(x))", 5, "aggregate functions take fields, not expressions"},
        {"count", 0, "is a function; call it with parentheses"},
        {"5", 0, "must call at least one aggregate function"},
        {"count() $ 2", 8, R"(unexpected character "$")"},
        {"mean(a.)", 7, R"(expected a field name after ".")"},
        {"mean(a[1])", 7, R"(expected a quoted field name after "[")"},
        {"mean(x) +", 9, "got the end of the text"},
        {"count() == 5", 8, R"(unexpected "==")"},
        {"mean(x) = 5", 8, R"(unknown operator "="; did you mean "=="?)"},
        {"count() + 1e", 12, "expected digits in the exponent"},
        {"count() * 5m", 11, R"(unexpected "m" after the number 5)"},
    };
    std::size_t checked = 0;
    for (const auto& c : cases) {
        const auto r = parse_measure(c.text);
        ASSERT_FALSE(r.ok()) << "accepted: " << c.text;
        EXPECT_EQ(r.error().offset, c.offset) << c.text << ": " << r.error().message;
        EXPECT_NE(r.error().message.find(c.message), std::string::npos)
            << c.text << ": " << r.error().message;
        ++checked;
    }
    EXPECT_GE(checked, 15u);
    EXPECT_TRUE(parse_measure("count() * 100").ok());
}

TEST(measure_expr, placeholder_lists_are_bounded) {
    std::string list;
    for (int i = 0; i < 65; ++i) list += (i ? ", " : "") + std::to_string(i);
    const auto r = parse_measure("distinct_placeholder_count(x, [" + list + "])");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().offset, 30u);
    EXPECT_NE(
        r.error().message.find("distinct_placeholder_count() takes 1 to 64 placeholders, got 65"),
        std::string::npos)
        << r.error().message;
    list.erase(list.rfind(','));  // 64 of them
    EXPECT_TRUE(parse_measure("distinct_placeholder_fraction(x, [" + list + "])").ok());
}

TEST(measure_expr, conditions_are_expressions_with_canonical_keys) {
    const auto m = parse_ok("fraction_where(status >= 500 and status<600)");
    ASSERT_EQ(m.calls().size(), 1u);
    const auto& arg = m.calls()[0].args.at(0);
    EXPECT_EQ(arg.kind, arg_kind::expression);
    EXPECT_EQ(arg.offset, 15u);
    EXPECT_EQ(arg.expression, "status >= 500 and status<600");
    EXPECT_EQ(arg.condition, "status >= 500 and status < 600");
    ASSERT_EQ(arg.condition_fields.size(), 1u);
    EXPECT_EQ(arg.condition_fields[0].to_string(), "status");
    EXPECT_EQ(m.calls()[0].key, "fraction_where(status >= 500 and status < 600)");
    EXPECT_EQ(m.result(), result_type::number);

    // Layout and redundant parentheses do not matter: equal conditions share one call.
    EXPECT_EQ(keys(parse_ok("count_where((level=='ERROR'))")),
              keys(parse_ok(R"(count_where( level == "ERROR" ))")));
    EXPECT_EQ(keys(parse_ok("count_where(a > 1) + count_where(a>1)")).size(), 1u);
    EXPECT_NE(keys(parse_ok("count_where(a > 1)")), keys(parse_ok("fraction_where(a > 1)")));
    // Parentheses and brackets inside the condition; the call ends at its own ")".
    const auto nested =
        parse_ok(R"(count_where(lower(h["user agent"]) == "bot" or (len(path) > 3)) / count())");
    EXPECT_EQ(nested.calls()[0].key,
              R"(count_where(lower(h["user agent"]) == "bot" or len(path) > 3))");
    EXPECT_EQ(nested.calls()[0].args[0].condition_fields.size(), 2u);
    EXPECT_EQ(nested.calls().size(), 2u);
    EXPECT_EQ(nested.evaluate(std::vector{num(3), num(12)}), num(0.25));
    // Precedence survives canonicalisation: the canonical text parses back to itself.
    const std::pair<const char*, const char*> cases[] = {
        {"count_where(not (a or b))", "count_where(not (a or b))"},
        {"count_where((a or b) and c)", "count_where((a or b) and c)"},
        {"count_where(a - (b - c) > -x)", "count_where(a - (b - c) > -x)"},
        {"count_where((a == b) == false)", "count_where((a == b) == false)"},
        {"count_where(x == null)", "count_where(x == null)"},
        {R"(count_where(["and"] == 'y'))", R"(count_where(["and"] == "y"))"},
        {"count_where(- -a > 1)", "count_where(-(-a) > 1)"},
    };
    for (const auto& [in, out] : cases) {
        EXPECT_EQ(parse_ok(in).to_string(), out) << in;
        EXPECT_EQ(parse_ok(parse_ok(in).to_string()).to_string(), out) << in;
    }
}

TEST(measure_expr, bad_conditions_are_rejected_at_their_character) {
    const malformed cases[] = {
        {"count_where()", 12, "count_where() takes 1 argument: count_where(condition)"},
        {"count_where(status + 1)", 12, "must yield a boolean"},
        {"fraction_where(status >)", 23, "expected a value"},
        {"count_where(a > 1, b)", 17, R"(unexpected "," after a complete expression)"},
        {"count_where(a > 1", 17, R"x(expected ")" to close count_where()x"},
        {"count_where(a > 1]) ", 17, R"(unexpected "]")"},
        {"count_where(lower(a) > 1)", 21, "cannot compare"},
        {"count_where(frob(a))", 12, "unknown function"},
        {"count_where(a == 1) * is_frozen(x)", 22, "is_frozen() yields boolean"},
    };
    for (const auto& c : cases) {
        const auto r = parse_measure(c.text);
        ASSERT_FALSE(r.ok()) << "accepted: " << c.text;
        EXPECT_EQ(r.error().offset, c.offset) << c.text << ": " << r.error().message;
        EXPECT_NE(r.error().message.find(c.message), std::string::npos)
            << c.text << ": " << r.error().message;
    }
}

TEST(measure_expr, nesting_is_bounded) {
    std::string deep = "count()";
    for (int i = 0; i < 100; ++i) deep = "(" + deep + " + 1)";
    const auto r = parse_measure(deep);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("too deeply nested"), std::string::npos);
    std::string fine = "count()";
    for (int i = 0; i < 20; ++i) fine = "(" + fine + " + 1)";
    EXPECT_EQ(parse_ok(fine).evaluate(std::vector{num(1)}), num(21));
}

// Keyword parameters, over a table of test functions: any order, defaults left out of the
// arguments and the key, required keywords, and errors that list the words.
constexpr arg_kind k_f = arg_kind::field;
constexpr arg_kind k_kw = arg_kind::keyword;
constexpr function_info k_keyword_functions[] = {
    {"kfrac",
     {k_f, arg_kind::literal_list, k_kw, k_kw},
     2,
     4,
     result_type::number,
     false,
     "kfrac(field, [v, ...], present|records, full|search)",
     "",
     {"", "", "present|records", "full|search"}},
    {"kopt",
     {k_f, k_f, k_kw},
     1,
     3,
     result_type::number,
     false,
     "kopt(field [, field] [, nearest|linear])",
     "",
     {"", "", "nearest|linear"}},
    {"kreq",
     {k_f, k_kw},
     0,
     2,
     result_type::number,
     false,
     "kreq() | kreq(field, format)",
     "",
     {"", "!email|uuid"}},
};

parse_result<measure_expr> parse_kw(std::string_view text) {
    return parse_measure(text, k_keyword_functions);
}

TEST(measure_expr, keywords_in_any_order_with_defaults_left_out) {
    const auto a = parse_kw("kfrac(x, [1], search, records)");
    ASSERT_TRUE(a.ok()) << a.error().message;
    const auto& c = a->calls()[0];
    ASSERT_EQ(c.args.size(), 4u);
    EXPECT_EQ(c.args[2].kind, arg_kind::keyword);
    EXPECT_EQ(c.args[2].position, 2u);
    EXPECT_EQ(c.args[2].word, "records");
    EXPECT_EQ(c.args[3].word, "search");
    EXPECT_EQ(c.args[3].offset, 14u);
    EXPECT_EQ(c.key, "kfrac(x, [1], records, search)");
    EXPECT_EQ(c.word(2), "records");
    EXPECT_EQ(c.word(3), "search");

    // Defaults are left out: these are one call, with one key.
    const auto b =
        parse_kw("kfrac(x, [1]) + kfrac(x, [1], present) + kfrac(x, [1], full, present)");
    ASSERT_TRUE(b.ok()) << b.error().message;
    ASSERT_EQ(b->calls().size(), 1u);
    EXPECT_EQ(b->calls()[0].key, "kfrac(x, [1])");
    EXPECT_EQ(b->calls()[0].args.size(), 2u);
    EXPECT_EQ(b->calls()[0].word(2), "present");
    EXPECT_EQ(b->calls()[0].word(3), "full");

    const auto one = parse_kw("kfrac(x, [1], search)");
    ASSERT_TRUE(one.ok()) << one.error().message;
    EXPECT_EQ(one->calls()[0].key, "kfrac(x, [1], search)");
    EXPECT_EQ(one->calls()[0].word(2), "present");
}

TEST(measure_expr, a_keyword_may_take_the_place_of_an_optional_field) {
    const auto a = parse_kw("kopt(x, linear)");
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_EQ(a->calls()[0].args.size(), 2u);
    EXPECT_EQ(a->calls()[0].args[1].kind, arg_kind::keyword);
    EXPECT_EQ(a->calls()[0].word(2), "linear");
    EXPECT_EQ(a->calls()[0].key, "kopt(x, linear)");
    const auto b = parse_kw("kopt(x, y, linear)");
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ(b->calls()[0].args[1].kind, arg_kind::field);
    EXPECT_EQ(b->calls()[0].key, "kopt(x, y, linear)");
    // A field of that name is still reachable as a nested path or in brackets.
    const auto c = parse_kw("kopt(x, linear.y)");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->calls()[0].args[1].kind, arg_kind::field);
}

TEST(measure_expr, keyword_errors_name_the_words) {
    const auto unknown = parse_kw("kfrac(x, [1], sideways)");
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().offset, 14u);
    EXPECT_EQ(unknown.error().message,
              "unknown keyword \"sideways\" for kfrac(): expected one of: present, records, full, "
              "search");
    const auto twice = parse_kw("kfrac(x, [1], records, present)");
    ASSERT_FALSE(twice.ok());
    EXPECT_EQ(twice.error().offset, 23u);
    EXPECT_EQ(twice.error().message,
              "kfrac() takes one of present, records, and \"records\" was given already");
    const auto number = parse_kw("kfrac(x, [1], 3)");
    ASSERT_FALSE(number.ok());
    EXPECT_EQ(number.error().message,
              "kfrac() expects a keyword here, one of: present, records, full, search; got \"3\"");
    const auto too_many = parse_kw("kfrac(x, [1], records, search, full)");
    ASSERT_FALSE(too_many.ok());
    EXPECT_EQ(too_many.error().offset, 31u);

    // A keyword without a default is required once the call has other arguments.
    EXPECT_TRUE(parse_kw("kreq()").ok());
    const auto missing = parse_kw("kreq(x)");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().offset, 6u);
    EXPECT_EQ(missing.error().message,
              "kreq() needs one of email, uuid: kreq() | kreq(field, format)");
    const auto given = parse_kw("kreq(x, uuid)");
    ASSERT_TRUE(given.ok()) << given.error().message;
    EXPECT_EQ(given->calls()[0].key, "kreq(x, uuid)");
    const auto email = parse_kw("kreq(x, email)");
    ASSERT_TRUE(email.ok()) << email.error().message;
    EXPECT_EQ(email->calls()[0].key, "kreq(x, email)");  // no default: never left out
}

// The definitions users choose (issue #15), in the real catalogue: their keys, shared calls and
// the words a wrong keyword is told.
TEST(measure_expr, definition_keywords_of_the_catalogue) {
    const auto key = [](std::string_view text) {
        const auto r = parse_measure(text);
        EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
        return r.ok() ? r->calls()[0].key : std::string();
    };
    EXPECT_EQ(key("in_set_fraction(x, [2, 1], records)"), "in_set_fraction(x, [1, 2], records)");
    EXPECT_EQ(key("in_set_fraction(x, [1], present)"), "in_set_fraction(x, [1])");
    EXPECT_EQ(key("in_range_fraction(x, 1, 5, records)"), "in_range_fraction(x, 1, 5, records)");
    EXPECT_EQ(key("distinct_fraction(x, records)"), "distinct_fraction(x, records)");
    EXPECT_EQ(key("matches_count(x, \"a\", search)"), "matches_count(x, \"a\", search)");
    EXPECT_EQ(key("matches_count(x, \"a\", full)"), "matches_count(x, \"a\")");
    // The match mode comes before the denominator in the key, however they are written.
    EXPECT_EQ(key("matches_fraction(x, \"a\", records, search)"),
              "matches_fraction(x, \"a\", search, records)");
    EXPECT_EQ(key("matches_fraction(x, \"a\", search, records)"),
              "matches_fraction(x, \"a\", search, records)");
    EXPECT_EQ(key("ordered_fraction(x, event_time, strictly_descending)"),
              "ordered_fraction(x, strictly_descending, event_time)");
    EXPECT_EQ(key("ordered_fraction(x, ascending, arrival)"), "ordered_fraction(x)");
    const auto of = parse_measure("ordered_fraction(x, event_time)");
    ASSERT_TRUE(of.ok());
    EXPECT_EQ(of->calls()[0].word(1), "ascending");
    EXPECT_EQ(of->calls()[0].word(2), "event_time");

    const auto wrong = parse_measure("in_set_fraction(x, [1], all)");
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.error().offset, 24u);
    EXPECT_EQ(wrong.error().message,
              "unknown keyword \"all\" for in_set_fraction(): expected one of: present, records");
    const auto order = parse_measure("ordered_fraction(x, increasing)");
    ASSERT_FALSE(order.ok());
    EXPECT_EQ(order.error().message,
              "unknown keyword \"increasing\" for ordered_fraction(): expected one of: "
              "ascending, strictly_ascending, descending, strictly_descending, arrival, "
              "event_time");
    const auto twice = parse_measure("matches_count(x, \"a\", search, full)");
    ASSERT_FALSE(twice.ok());
}

}  // namespace
}  // namespace weir::measure
