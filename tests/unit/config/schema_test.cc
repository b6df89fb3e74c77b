// The schemas of `weir schema`: the assessment pattern accepts what the assessment parser
// accepts, measure completions come from the catalogue, and the settings schema from the
// settings declaration.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "config/load.h"
#include "core/check/assessment.h"
#include "core/measure/catalog.h"
#include "tests/unit/config/builtin_registry.h"

namespace weir::config {
namespace {

using json = nlohmann::ordered_json;

bool regex_accepts(const std::regex& pattern, const std::string& text) {
    return std::regex_search(text, pattern);
}

bool pattern_accepts(const std::string& pattern, const std::string& text) {
    return regex_accepts(std::regex(pattern, std::regex::ECMAScript), text);
}

// What the parser refuses beyond the shape a pattern can see: the order of a range's bounds,
// empty ranges and numbers too large for a double.
bool refused_beyond_shape(const std::string& message) {
    return message.find("is greater than end") != std::string::npos ||
           message.find("is empty") != std::string::npos ||
           message.find("out of range") != std::string::npos;
}

void expect_pattern_agrees(const std::regex& pattern, const std::string& text) {
    const auto parsed = check::parse_assessment(text);
    const bool matches = regex_accepts(pattern, text);
    if (parsed.ok()) {
        EXPECT_TRUE(matches) << "the parser accepts, the schema refuses: " << text;
    } else if (matches) {
        EXPECT_TRUE(refused_beyond_shape(parsed.error().message))
            << "the schema accepts, the parser refuses (" << parsed.error().message
            << "): " << text;
    }
}

TEST(schema, assessment_pattern_accepts_the_grammar) {
    const std::string pattern = assessment_pattern();
    for (const char* text : {"> 50",
                             ">= 0.5",
                             "< 5%",
                             "!= 0",
                             "< 60s",
                             "<= 5m",
                             "< 250ms",
                             "[15, 35]",
                             "(0, 1]",
                             "[0, inf)",
                             "(-inf, 0]",
                             "in {ok, warn}",
                             "not in {\"n/a\", 0}",
                             "== true",
                             "== \"EUR\"",
                             "== 'it\\'s'",
                             "  >5  ",
                             ">=1e3",
                             "> .5",
                             "> 5.",
                             "in{a}",
                             "not\tin {warn-3, a.b:c/d}",
                             "== -inf",
                             "> +2.5e-3h",
                             "in {true, false, inf, 1%}"}) {
        EXPECT_TRUE(pattern_accepts(pattern, text)) << text;
        EXPECT_TRUE(check::parse_assessment(text).ok()) << text;
    }
    for (const char* text :
         {"",           "50",          "about 5", "> fifty", "5 < x",  "[1, 2",    "in [a, b]",
          "=> 5",       "> 5 and < 9", "> 5x",    "> true",  "== yes", "in {}",    "notin {a}",
          "> infinity", "< 5%%",       "true",    "[1 2]",   "> 1e",   "== \"open"}) {
        EXPECT_FALSE(pattern_accepts(pattern, text)) << text;
        EXPECT_FALSE(check::parse_assessment(text).ok()) << text;
    }
    // A ${VARIABLE} is checked after interpolation.
    EXPECT_TRUE(pattern_accepts(pattern, "${LIMIT}"));
}

TEST(schema, assessment_pattern_agrees_with_the_parser_on_random_texts) {
    const std::regex pattern(assessment_pattern(), std::regex::ECMAScript);
    const std::vector<std::string> tokens = {
        ">",  ">=", "<",  "<=",     "==",   "!=",    "[",      "]",   "(",    ")", "{",
        "}",  ",",  "in", "not",    "inf",  "-inf",  "5",      "1e3", "-2.5", "%", "ms",
        "s",  "m",  "h",  "d",      "true", "false", "\"ok\"", "\"",  "'",    "x", "=>",
        "1e", ".",  "\\", "warn-3", "a.b",  "+",     "\t",     "e",   "7.",   "_"};
    std::mt19937_64 rng(18);
    for (int i = 0; i < 3000; ++i) {
        std::string text;
        const int n = 1 + static_cast<int>(rng() % 8);
        for (int t = 0; t < n; ++t) {
            if (rng() % 3 == 0) text += ' ';
            text += tokens[rng() % tokens.size()];
        }
        expect_pattern_agrees(pattern, text);
    }
}

json pipeline_schema() {
    return json::parse(pipeline_json_schema(test::registry()));
}

const json& check_schema(const json& schema) {
    return schema["properties"]["nodes"]["additionalProperties"]["properties"]["checks"]["items"];
}

TEST(schema, every_catalogue_function_is_offered_for_measure) {
    const json schema = pipeline_schema();
    const json& measure = check_schema(schema)["properties"]["measure"];
    const json& snippets = measure["defaultSnippets"];
    ASSERT_EQ(snippets.size(), measure::catalog().size());
    for (std::size_t i = 0; i < snippets.size(); ++i) {
        const auto& fi = measure::catalog()[i];
        EXPECT_EQ(snippets[i]["label"], fi.signature);
        EXPECT_EQ(snippets[i]["description"], fi.summary);
        const std::string body = snippets[i]["body"];
        EXPECT_EQ(body.rfind(std::string(fi.name) + "(", 0), 0u) << body;
        // One placeholder per required argument.
        std::size_t placeholders = 0;
        for (std::size_t at = body.find("${"); at != std::string::npos;
             at = body.find("${", at + 1)) {
            ++placeholders;
        }
        EXPECT_EQ(placeholders, fi.min_args) << body;
        EXPECT_NE(measure["markdownDescription"].get<std::string>().find(std::string(fi.name)),
                  std::string::npos);
    }
    EXPECT_EQ(snippets[0]["body"], "above_mean_count(${1:field})");
}

TEST(schema, measure_pattern_wants_a_function_call) {
    const json schema = pipeline_schema();
    const std::string pattern = check_schema(schema)["properties"]["measure"]["pattern"];
    for (const char* good : {"count()", "missing_count(x) / count()", "100 * mean ( t )",
                             "percentile(latency_ms, 0.99)", "${MEASURE}"}) {
        EXPECT_TRUE(pattern_accepts(pattern, good)) << good;
    }
    for (const char* bad : {"count", "average(x)", "x + 1", "recount(x)", ""}) {
        EXPECT_FALSE(pattern_accepts(pattern, bad)) << bad;
    }
}

TEST(schema, patterns_carry_messages_for_people) {
    const json schema = pipeline_schema();
    // Every pattern anywhere in the schema has a patternErrorMessage beside it.
    int patterns = 0;
    std::function<void(const json&)> walk = [&](const json& j) {
        if (j.is_object()) {
            if (j.contains("pattern") && j["pattern"].is_string()) {
                ++patterns;
                EXPECT_TRUE(j.contains("patternErrorMessage")) << j.dump();
            }
            for (const auto& [key, val] : j.items()) walk(val);
        } else if (j.is_array()) {
            for (const auto& val : j) walk(val);
        }
    };
    walk(schema);
    EXPECT_GT(patterns, 20);
    const json& name = check_schema(schema)["properties"]["name"];
    const std::string name_pattern = name["pattern"];
    EXPECT_TRUE(pattern_accepts(name_pattern, "volume_5"));
    EXPECT_FALSE(pattern_accepts(name_pattern, "Volume"));
    EXPECT_FALSE(pattern_accepts(name_pattern, "5xx"));
    const std::string pipeline_pattern = schema["properties"]["pipeline"]["pattern"];
    EXPECT_TRUE(pattern_accepts(pipeline_pattern, "sensors"));
    EXPECT_FALSE(pattern_accepts(pipeline_pattern, "my-pipeline"));
}

TEST(schema, settings_schema_follows_the_settings_declaration) {
    const json schema = json::parse(settings_json_schema());
    EXPECT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    EXPECT_EQ(schema["title"], "weir settings");
    EXPECT_EQ(schema["additionalProperties"], false);
    std::vector<std::string> keys;
    for (const auto& [key, val] : schema["properties"].items()) {
        keys.push_back(key);
        EXPECT_TRUE(val.contains("markdownDescription")) << key;
    }
    EXPECT_EQ(keys, settings_spec().names());
    EXPECT_EQ(schema["properties"]["log"]["properties"]["level"]["default"], "info");
}

}  // namespace
}  // namespace weir::config
