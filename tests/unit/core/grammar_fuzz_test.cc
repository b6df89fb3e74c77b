// The grammars operators write (expressions, measures, assessments, time formats) against
// random text: sequences of their own tokens, mutations of valid strings, and random bytes.
// Nothing crashes or throws; a rejection points inside the text and says something; what is
// accepted evaluates on records of every kind (wrong types, nulls, odd strings) without
// crashing. Run under ASan+UBSan by the test command.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/check/assessment.h"
#include "core/expr/program.h"
#include "core/expr/scratch_arena.h"
#include "core/measure/measure_expr.h"
#include "core/time/timestamp.h"

namespace weir {
namespace {

using check::parse_assessment;
using expr::compile;
using expr::compile_options;
using expr::program;
using expr::scratch_arena;
using measure::parse_measure;

// Text of `n` tokens drawn from `tokens`, joined by nothing or a space at random.
std::string tokens_text(std::mt19937_64& rng, const std::vector<std::string>& tokens, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        if (rng() % 3 == 0) out += ' ';
        out += tokens[rng() % tokens.size()];
    }
    return out;
}

// One of `valid` with a byte flipped, inserted, removed or the text cut.
std::string mutated(std::mt19937_64& rng, const std::vector<std::string>& valid) {
    std::string s = valid[rng() % valid.size()];
    const std::size_t at = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 4) {
        case 0:
            if (!s.empty()) s[at] = static_cast<char>(rng() % 256);
            break;
        case 1:
            s.insert(at, 1, static_cast<char>(rng() % 256));
            break;
        case 2:
            if (!s.empty()) s.erase(at, 1);
            break;
        default:
            s.resize(at);
            break;
    }
    return s;
}

std::string random_bytes(std::mt19937_64& rng) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    return s;
}

// Texts of every kind for one grammar: 4000 token sequences, mutations and random bytes.
template <class Check>
void fuzz(std::uint64_t seed, const std::vector<std::string>& tokens,
          const std::vector<std::string>& valid, Check check) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 4000; ++i) {
        std::string text;
        switch (i % 3) {
            case 0:
                text = tokens_text(rng, tokens, 1 + static_cast<int>(rng() % 12));
                break;
            case 1:
                text = mutated(rng, valid);
                break;
            default:
                text = random_bytes(rng);
                break;
        }
        SCOPED_TRACE(testing::Message() << "text: " << text);
        check(text);
    }
}

template <class Result>
void expect_sound_error(const Result& r, const std::string& text) {
    if (r.ok()) return;
    EXPECT_LE(r.error().offset, text.size());
    EXPECT_FALSE(r.error().message.empty());
}

// Records of every kind for the fields x (slot 0) and s (slot 1).
std::vector<std::vector<field_value>> odd_records() {
    const std::vector<field_value> values = {
        field_value::make_absent(),           field_value::make_null(),
        field_value::make_number(0),          field_value::make_number(-1.5),
        field_value::make_number(1e308),      field_value::make_number(std::nan("")),
        field_value::make_boolean(true),      field_value::make_string(""),
        field_value::make_string("12.5"),     field_value::make_string("h\xc3\xa9llo"),
        field_value::make_string("\xff\xfe"), field_value::make_string("2026-11-22T06:00:00Z"),
    };
    std::vector<std::vector<field_value>> out;
    for (const auto& a : values) {
        for (const auto& b : values) out.push_back({a, b});
    }
    return out;
}

TEST(grammar_fuzz, expressions) {
    const std::vector<std::string> tokens = {"x",
                                             "s",
                                             "b",
                                             "(",
                                             ")",
                                             "[",
                                             "]",
                                             "\"k\"",
                                             ".",
                                             ",",
                                             "+",
                                             "-",
                                             "*",
                                             "/",
                                             "%",
                                             "==",
                                             "!=",
                                             "<",
                                             "<=",
                                             ">",
                                             ">=",
                                             "and",
                                             "or",
                                             "not",
                                             "null",
                                             "true",
                                             "false",
                                             "1",
                                             "2.5e3",
                                             "0",
                                             "'str'",
                                             "\"",
                                             "lower(",
                                             "upper(",
                                             "len(",
                                             "abs(",
                                             "round(",
                                             "to_number(",
                                             "to_string(",
                                             "contains(",
                                             "starts_with(",
                                             "matches(",
                                             "parse_time(",
                                             "now()",
                                             "=",
                                             "&&",
                                             "!",
                                             "@",
                                             "\\",
                                             "1e",
                                             "5m"};
    const std::vector<std::string> valid = {"x > 5 and s != null",
                                            "lower(s) == \"ok\" or not (x % 2 == 0)",
                                            "to_number(s) * 2 + abs(x)",
                                            "matches(s, \"[a-z]+\") and len(s) < 10",
                                            "parse_time(s, \"rfc3339\") < now()",
                                            "round(x / 3, 1) >= -1.5e2",
                                            "contains(to_string(x), \"5\")"};
    compile_options options;
    options.resolve = [](const field_path& p) -> std::optional<std::uint32_t> {
        if (p.to_string() == "x") return 0;
        if (p.to_string() == "s") return 1;
        return std::nullopt;
    };
    const auto records = odd_records();
    scratch_arena arena;
    int accepted = 0;
    fuzz(1, tokens, valid, [&](const std::string& text) {
        auto r = compile(text, options);
        expect_sound_error(r, text);
        if (!r.ok()) return;
        ++accepted;
        for (const auto& rec : records) {
            arena.reset();
            (void)r.value().evaluate(rec, arena);
        }
    });
    EXPECT_GT(accepted, 50);  // some random texts are valid, and they evaluate
}

TEST(grammar_fuzz, measures) {
    const std::vector<std::string> tokens = {"count(",
                                             "count()",
                                             "mean(",
                                             "sum(",
                                             "percentile(",
                                             "in_range_count(",
                                             "in_set_fraction(",
                                             "matches_count(",
                                             "missing_fraction(",
                                             "correlation(",
                                             "count_where(",
                                             "fraction_where(",
                                             "and",
                                             ">",
                                             "==",
                                             "x",
                                             "y",
                                             "a.b",
                                             "a[\"k\"]",
                                             "(",
                                             ")",
                                             "[",
                                             "]",
                                             ",",
                                             "+",
                                             "-",
                                             "*",
                                             "/",
                                             "0.5",
                                             "1",
                                             "-40",
                                             "\"[a-z]+\"",
                                             "\"ok\"",
                                             "\"",
                                             "%",
                                             "$",
                                             "1e"};
    const std::vector<std::string> valid = {"missing_count(x) / count()",
                                            "percentile(latency, 0.99) - median(latency)",
                                            "in_set_fraction(status, [\"ok\", 1, true])",
                                            "matches_count(s, \"[a-z]+\") * 100",
                                            "(sum(a) + 1) / (count(b) + 1)",
                                            "in_range_fraction(t, -40, 85)",
                                            "fraction_where(x > 1 and (y == \"a\" or z)) * 2",
                                            "count_where(lower(s[\"k\"]) == \"ok\") / count()"};
    int accepted = 0;
    fuzz(2, tokens, valid, [&](const std::string& text) {
        const auto r = parse_measure(text);
        expect_sound_error(r, text);
        if (r.ok()) ++accepted;
    });
    EXPECT_GT(accepted, 50);
}

TEST(grammar_fuzz, assessments) {
    const std::vector<std::string> tokens = {
        ">", ">=", "<",  "<=",  "==",   "!=",    "[",      "]",   "(",    ")",  "{",
        "}", ",",  "in", "not", "inf",  "-inf",  "5",      "1e3", "-2.5", "%",  "ms",
        "s", "m",  "h",  "d",   "true", "false", "\"ok\"", "\"",  "x",    "=>", "1e"};
    const std::vector<std::string> valid = {
        "< 5%",    "[15, 35]", "(0, inf]", "in {a, \"b\", 3}", "not in {1}",
        "== true", ">= 1.5e3", "< 250ms",  "!= \"x\""};
    int accepted = 0;
    fuzz(3, tokens, valid, [&](const std::string& text) {
        const auto r = parse_assessment(text);
        expect_sound_error(r, text);
        if (!r.ok()) return;
        ++accepted;
        for (const auto& v :
             {measure_value::make_number(3), measure_value::make_null(),
              measure_value::make_number(std::nan("")), measure_value::make_string("ok"),
              measure_value::make_boolean(true)}) {
            (void)r.value().holds(v);
        }
    });
    EXPECT_GT(accepted, 50);
}

TEST(grammar_fuzz, time_formats) {
    const std::vector<std::string> tokens = {
        "%Y", "%m", "%d", "%H", "%M", "%S", "%f",      "%z",       "%Z", "%j", "%%",
        "%",  "-",  ":",  "T",  " ",  "x",  "rfc3339", "epoch_ms", "%s", "%E", "%9"};
    const std::vector<std::string> valid = {"%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S%z", "rfc3339",
                                            "epoch_ns", "%Y%m%dT%H%M%S.%f"};
    const auto records = odd_records();
    int accepted = 0;
    fuzz(4, tokens, valid, [&](const std::string& text) {
        time::time_parser::error err;
        const auto p = time::time_parser::compile(text, &err);
        if (!p) {
            EXPECT_FALSE(err.message.empty());
            return;
        }
        ++accepted;
        time::timestamp_ns t = 0;
        for (const auto& rec : records) (void)p->parse(rec[1], t);
    });
    EXPECT_GT(accepted, 50);
}

}  // namespace
}  // namespace weir
