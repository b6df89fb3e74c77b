// Environment interpolation of scalars: every form, errors with their offsets, secrets.
#include "config/interpolate.h"

#include <gtest/gtest.h>

#include <map>

namespace weir::config {
namespace {

env_lookup fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

const env_lookup env = fake_env({{"HOST", "kafka:9092"}, {"EMPTY", ""}, {"PASS", "s3cret"}});

TEST(interpolate, text_without_references_is_unchanged) {
    auto r = interpolate("plain text", env);
    EXPECT_EQ(r.text, "plain text");
    EXPECT_FALSE(r.from_env);
    EXPECT_FALSE(r.changed);
    EXPECT_TRUE(r.errors.empty());
}

TEST(interpolate, plain_reference) {
    auto r = interpolate("tcp://${HOST}/x", env);
    EXPECT_EQ(r.text, "tcp://kafka:9092/x");
    EXPECT_TRUE(r.from_env);
    EXPECT_TRUE(r.changed);
    EXPECT_TRUE(r.errors.empty());
}

TEST(interpolate, several_references) {
    auto r = interpolate("${HOST},${PASS}", env);
    EXPECT_EQ(r.text, "kafka:9092,s3cret");
    EXPECT_TRUE(r.errors.empty());
}

TEST(interpolate, set_but_empty_variable_expands_to_nothing) {
    auto r = interpolate("a${EMPTY}b", env);
    EXPECT_EQ(r.text, "ab");
    EXPECT_TRUE(r.errors.empty());
}

TEST(interpolate, unset_variable_is_an_error_at_its_dollar) {
    auto r = interpolate("abc ${NOPE} def", env);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].offset, 4u);
    EXPECT_EQ(r.errors[0].message, "environment variable \"NOPE\" is not set");
    EXPECT_EQ(r.text, "abc  def");
}

TEST(interpolate, default_when_unset_or_empty) {
    EXPECT_EQ(interpolate("${NOPE:-localhost:9092}", env).text, "localhost:9092");
    EXPECT_EQ(interpolate("${EMPTY:-fallback}", env).text, "fallback");
    EXPECT_EQ(interpolate("${HOST:-fallback}", env).text, "kafka:9092");
    EXPECT_EQ(interpolate("${NOPE:-}", env).text, "");
    EXPECT_TRUE(interpolate("${NOPE:-x}", env).errors.empty());
    // A default is conservatively treated as possibly secret too.
    EXPECT_TRUE(interpolate("${NOPE:-x}", env).from_env);
}

TEST(interpolate, default_may_contain_colons_and_references) {
    EXPECT_EQ(interpolate("${NOPE:-http://a:1/b}", env).text, "http://a:1/b");
    EXPECT_EQ(interpolate("${NOPE:-${HOST}}", env).text, "kafka:9092");
    EXPECT_EQ(interpolate("${NOPE:-x${EMPTY:-y}z}", env).text, "xyz");
}

TEST(interpolate, unused_default_is_not_evaluated) {
    auto r = interpolate("${HOST:-${MISSING}}", env);
    EXPECT_EQ(r.text, "kafka:9092");
    EXPECT_TRUE(r.errors.empty());
}

TEST(interpolate, used_default_reports_its_own_errors_at_their_offsets) {
    auto r = interpolate("${NOPE:-${MISSING}}", env);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].offset, 8u);
    EXPECT_EQ(r.errors[0].message, "environment variable \"MISSING\" is not set");
}

TEST(interpolate, required_with_message) {
    auto r = interpolate("x ${NOPE:?set it in /etc/default/weir}", env);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].offset, 2u);
    EXPECT_EQ(r.errors[0].message,
              "environment variable \"NOPE\" is not set: set it in /etc/default/weir");

    auto empty = interpolate("${EMPTY:?needed}", env);
    ASSERT_EQ(empty.errors.size(), 1u);
    EXPECT_EQ(empty.errors[0].message, "environment variable \"EMPTY\" is empty: needed");

    auto bare = interpolate("${NOPE:?}", env);
    ASSERT_EQ(bare.errors.size(), 1u);
    EXPECT_EQ(bare.errors[0].message, "environment variable \"NOPE\" is not set");

    auto ok = interpolate("${PASS:?needed}", env);
    EXPECT_EQ(ok.text, "s3cret");
    EXPECT_TRUE(ok.errors.empty());
    EXPECT_TRUE(ok.from_env);
}

TEST(interpolate, double_dollar_is_a_literal_dollar) {
    auto r = interpolate("price $$5 and $${HOST}", env);
    EXPECT_EQ(r.text, "price $5 and ${HOST}");
    EXPECT_FALSE(r.from_env);
    EXPECT_TRUE(r.changed);
    EXPECT_TRUE(r.errors.empty());
    EXPECT_EQ(interpolate("$$$$", env).text, "$$");
}

TEST(interpolate, lone_dollar_is_kept) {
    EXPECT_EQ(interpolate("a$b $ c$", env).text, "a$b $ c$");
    EXPECT_FALSE(interpolate("a$b", env).changed);
    EXPECT_EQ(interpolate("^sensor-.*$", env).text, "^sensor-.*$");
    EXPECT_EQ(interpolate("$HOST", env).text, "$HOST");  // only the braced form expands
}

TEST(interpolate, unterminated_reference) {
    auto r = interpolate("ab ${HOST", env);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].offset, 3u);
    EXPECT_EQ(r.errors[0].message, "unterminated \"${\" (missing \"}\")");

    auto nested = interpolate("${NOPE:-abc", env);
    ASSERT_EQ(nested.errors.size(), 1u);
    EXPECT_EQ(nested.errors[0].offset, 0u);
    EXPECT_EQ(interpolate("${", env).errors.size(), 1u);
    // An unterminated reference inside a default leaves the outer one unterminated too:
    // one error, at the outer '$'.
    auto inner = interpolate("x${NOPE:-${A", env);
    ASSERT_EQ(inner.errors.size(), 1u);
    EXPECT_EQ(inner.errors[0].offset, 1u);
}

TEST(interpolate, invalid_names_and_forms) {
    auto digit = interpolate("${1ABC}", env);
    ASSERT_EQ(digit.errors.size(), 1u);
    EXPECT_EQ(digit.errors[0].message, "invalid environment variable name \"1ABC\"");

    auto empty = interpolate("a ${}", env);
    ASSERT_EQ(empty.errors.size(), 1u);
    EXPECT_EQ(empty.errors[0].offset, 2u);
    EXPECT_EQ(empty.errors[0].message, "missing environment variable name in \"${\"");

    auto dash = interpolate("${HOST-x} ${A.B}", env);
    ASSERT_EQ(dash.errors.size(), 2u);
    EXPECT_EQ(dash.errors[0].offset, 0u);
    EXPECT_EQ(dash.errors[0].message,
              "invalid reference \"${HOST-x}\": use ${NAME}, ${NAME:-default} or "
              "${NAME:?message}");
    EXPECT_EQ(dash.errors[1].offset, 10u);
}

TEST(interpolate, all_errors_are_collected) {
    auto r = interpolate("${A} ${B} ${HOST}", env);
    ASSERT_EQ(r.errors.size(), 2u);
    EXPECT_EQ(r.errors[0].offset, 0u);
    EXPECT_EQ(r.errors[1].offset, 5u);
    EXPECT_EQ(r.text, "  kafka:9092");
}

TEST(interpolate, messages_never_contain_values) {
    // A required-message built from another variable could leak it.
    auto r = interpolate("${NOPE:?${PASS}}", env);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].message.find("s3cret"), std::string::npos);
}

std::string nested_defaults(int depth, bool terminated) {
    std::string text;
    for (int i = 0; i < depth; ++i) text += "${A:-";
    text += "x";
    if (terminated) text += std::string(static_cast<std::size_t>(depth), '}');
    return text;
}

TEST(interpolate, deeply_nested_defaults_are_bounded) {
    // 32 levels expand; one more is an error at the 33rd '$', and the scan goes on after it.
    auto ok = interpolate(nested_defaults(32, true), env);
    EXPECT_EQ(ok.text, "x");
    EXPECT_TRUE(ok.errors.empty());

    auto deep = interpolate(nested_defaults(33, true) + " ${HOST}", env);
    ASSERT_EQ(deep.errors.size(), 1u);
    EXPECT_EQ(deep.errors[0].offset, 32u * 5u);
    EXPECT_EQ(deep.errors[0].message, "references are nested too deeply (more than 32 levels)");
    EXPECT_EQ(deep.text, " kafka:9092");

    // 20 000 levels (a 120 KB scalar) once overflowed the stack.
    auto huge = interpolate(nested_defaults(20000, true), env);
    ASSERT_EQ(huge.errors.size(), 1u);
    EXPECT_EQ(huge.errors[0].offset, 32u * 5u);

    auto unterminated = interpolate("a" + nested_defaults(20000, false), env);
    ASSERT_EQ(unterminated.errors.size(), 1u);
    EXPECT_EQ(unterminated.errors[0].offset, 1u);
    EXPECT_EQ(unterminated.errors[0].message, "unterminated \"${\" (missing \"}\")");
}

TEST(interpolate, secret_masking_marks_only_secret_variables) {
    const env_lookup vars =
        fake_env({{"LOG_DIR", "/var/log/app"}, {"DB_PASSWORD", "hunter2"}, {"API_KEY", "k-1"}});
    const auto plain = interpolate("${LOG_DIR}/x", vars);
    EXPECT_TRUE(plain.from_env);
    EXPECT_FALSE(plain.secret);
    EXPECT_TRUE(interpolate("a ${DB_PASSWORD}", vars).secret);
    EXPECT_TRUE(interpolate("${UNSET_TOKEN:-default}", vars).secret);  // its default, too
    EXPECT_TRUE(interpolate("${UNSET:-${API_KEY}}", vars).secret);
    EXPECT_FALSE(interpolate("${UNSET:-/tmp}", vars).secret);
    EXPECT_FALSE(interpolate("${LOG_DIR:-${API_KEY}}", vars).secret);  // the default is unused
    // A required-message built from a plain variable is shown; from a secret one it is not.
    EXPECT_EQ(interpolate("${UNSET:?not in ${LOG_DIR}}", vars).errors.at(0).message,
              "environment variable \"UNSET\" is not set: not in /var/log/app");
    EXPECT_EQ(interpolate("${UNSET:?${DB_PASSWORD}}", vars).errors.at(0).message,
              "environment variable \"UNSET\" is not set");
}

TEST(interpolate, missing_lookup_function_means_nothing_is_set) {
    auto r = interpolate("${HOST:-d}", env_lookup{});
    EXPECT_EQ(r.text, "d");
}

}  // namespace
}  // namespace weir::config
