// validate(): every kind of problem, its message, dotted path and position.
#include "core/params/spec.h"

#include <gtest/gtest.h>

#include <memory>

namespace weir::params {
namespace {

// Hand-built documents: each value gets the line given; keys sit at column 1, values at 10.
value scalar(std::string text, int line, bool quoted = false) {
    value v;
    v.type = value::kind::scalar;
    v.text = std::move(text);
    v.quoted = quoted;
    v.pos = {"t.yaml", line, 10};
    v.text_column = quoted ? 11 : 10;
    return v;
}

value null_at(int line) {
    value v;
    v.pos = {"t.yaml", line, 10};
    return v;
}

value secret(std::string text, int line) {
    value v = scalar(std::move(text), line);
    v.from_env = true;
    v.secret = true;
    v.text_column = 0;
    return v;
}

value mapping(int line, std::vector<std::pair<std::string, value>> entries) {
    value v;
    v.type = value::kind::mapping;
    v.pos = {"t.yaml", line, 1};
    for (auto& [key, val] : entries) {
        source_pos key_pos{"t.yaml", val.pos.line, 1};
        v.entries.push_back({key, key_pos, std::move(val)});
    }
    return v;
}

value list(int line, std::vector<value> items) {
    value v;
    v.type = value::kind::sequence;
    v.pos = {"t.yaml", line, 10};
    v.items = std::move(items);
    return v;
}

param_spec param(std::string name, param_type type, bool required = false) {
    param_spec p;
    p.name = std::move(name);
    p.type = type;
    p.required = required;
    return p;
}

std::vector<std::string> problems(const object_spec& spec, const value& v,
                                  const std::string& path = "x") {
    diagnostics d;
    const bool ok = validate(spec, v, path, d);
    EXPECT_EQ(ok, !d.has_errors());
    std::vector<std::string> out;
    for (const auto& item : d.sorted()) out.push_back(format(item));
    return out;
}

using lines = std::vector<std::string>;

std::shared_ptr<object_spec> window_spec() {
    auto s = std::make_shared<object_spec>();
    s->name = "window";
    param_spec type = param("type", param_type::enumeration, true);
    type.choices = {"tumbling", "sliding", "session"};
    s->params.push_back(type);
    param_spec size = param("size", param_type::duration);
    size.minimum = 1;
    s->params.push_back(size);
    s->params.push_back(param("slide", param_type::duration));
    s->params.push_back(param("gap", param_type::duration));
    param_spec lateness = param("allowed_lateness", param_type::duration);
    lateness.default_text = "0";
    lateness.maximum = 3'600'000;
    s->params.push_back(lateness);
    s->conditionals.push_back({"type", "tumbling", {"size"}, {"slide", "gap"}});
    s->conditionals.push_back({"type", "sliding", {"size", "slide"}, {"gap"}});
    s->conditionals.push_back({"type", "session", {"gap"}, {"size", "slide"}});
    return s;
}

TEST(validate, accepts_a_valid_mapping) {
    auto w = window_spec();
    value v = mapping(
        1, {{"type", scalar("sliding", 1)}, {"size", scalar("5m", 2)}, {"slide", scalar("1m", 3)}});
    EXPECT_EQ(problems(*w, v), lines{});
}

TEST(validate, bad_duration) {
    auto w = window_spec();
    value v = mapping(1, {{"type", scalar("tumbling", 1)}, {"size", scalar("sixty", 2)}});
    EXPECT_EQ(problems(*w, v, "nodes.quality.window"),
              lines{"t.yaml:2:10: error: nodes.quality.window.size: expected a duration such as "
                    "\"60s\", got \"sixty\""});
}

TEST(validate, unknown_key_with_suggestion) {
    auto w = window_spec();
    value v = mapping(1, {{"type", scalar("tumbling", 1)}, {"sise", scalar("5m", 2)}});
    EXPECT_EQ(problems(*w, v, "w"),
              (lines{"t.yaml:1:1: error: w: \"size\" is required when type is \"tumbling\"",
                     "t.yaml:2:1: error: w: unknown key \"sise\"; did you mean \"size\"?"}));
}

TEST(validate, nearest_key_suggestions) {
    auto w = window_spec();
    const std::pair<const char*, const char*> typos[] = {
        {"sldie", "slide"},                        // adjacent letters swapped
        {"allowed_latenes", "allowed_lateness"},   // a letter missing
        {"Size", "size"},                          // wrong case
        {"gapp", "gap"},                           // a letter too many
        {"allowed-lateness", "allowed_lateness"},  // dash for underscore
    };
    for (const auto& [typo, meant] : typos) {
        value v = mapping(
            1, {{"type", scalar("session", 1)}, {"gap", scalar("1m", 2)}, {typo, scalar("1m", 3)}});
        EXPECT_EQ(problems(*w, v, "w"),
                  lines{"t.yaml:3:1: error: w: unknown key \"" + std::string(typo) +
                        "\"; did you mean \"" + meant + "\"?"})
            << typo;
    }
}

TEST(validate, unknown_key_without_near_match_lists_valid_keys) {
    auto w = window_spec();
    value v = mapping(
        1,
        {{"type", scalar("session", 1)}, {"gap", scalar("1m", 2)}, {"colour", scalar("red", 3)}});
    EXPECT_EQ(problems(*w, v, "w"),
              lines{"t.yaml:3:1: error: w: unknown key \"colour\"; valid keys are: type, size, "
                    "slide, gap, allowed_lateness"});
}

TEST(validate, unknown_key_where_none_are_allowed) {
    object_spec empty;
    value v = mapping(1, {{"x", scalar("1", 1)}});
    EXPECT_EQ(problems(empty, v, "p"),
              lines{"t.yaml:1:1: error: p: unknown key \"x\"; no keys are allowed here"});
}

TEST(validate, missing_required_key_is_reported_at_the_mapping) {
    object_spec s;
    s.params.push_back(param("path", param_type::string, true));
    s.params.push_back(param("follow", param_type::boolean));
    value v = mapping(4, {{"follow", scalar("true", 5)}});
    EXPECT_EQ(problems(s, v, "inputs.devices"),
              lines{"t.yaml:4:1: error: inputs.devices: missing required key \"path\""});
}

TEST(validate, enumeration_with_and_without_suggestion) {
    auto w = window_spec();
    value v = mapping(1, {{"type", scalar("hopping", 1)}});
    EXPECT_EQ(problems(*w, v, "w"),
              lines{"t.yaml:1:10: error: w.type: expected one of tumbling, sliding, session, got "
                    "\"hopping\""});
    value typo = mapping(1, {{"type", scalar("slidnig", 1)}});
    EXPECT_EQ(problems(*w, typo, "w"),
              lines{"t.yaml:1:10: error: w.type: expected one of tumbling, sliding, session, got "
                    "\"slidnig\"; did you mean \"sliding\"?"});
}

TEST(validate, conditionals_require_and_forbid) {
    auto w = window_spec();
    value sliding = mapping(1, {{"type", scalar("sliding", 1)}, {"size", scalar("5m", 2)}});
    EXPECT_EQ(problems(*w, sliding, "w"),
              lines{"t.yaml:1:1: error: w: \"slide\" is required when type is \"sliding\""});
    value tumbling = mapping(
        1, {{"type", scalar("tumbling", 1)}, {"size", scalar("5m", 2)}, {"gap", scalar("1m", 3)}});
    EXPECT_EQ(problems(*w, tumbling, "w"),
              lines{"t.yaml:3:1: error: w: \"gap\" cannot be used when type is \"tumbling\""});
}

TEST(validate, integer_number_boolean_types) {
    object_spec s;
    s.params.push_back(param("count", param_type::integer));
    s.params.push_back(param("ratio", param_type::number));
    s.params.push_back(param("follow", param_type::boolean));
    value v = mapping(
        1,
        {{"count", scalar("12.5", 1)}, {"ratio", scalar("abc", 2)}, {"follow", scalar("yes", 3)}});
    EXPECT_EQ(problems(s, v, "n"),
              (lines{"t.yaml:1:10: error: n.count: expected an integer, got \"12.5\"",
                     "t.yaml:2:10: error: n.ratio: expected a number, got \"abc\"",
                     "t.yaml:3:10: error: n.follow: expected true or false, got \"yes\"; write "
                     "true (yes, no, on and off are words in YAML 1.2, which weir reads, not "
                     "booleans)"}));
    value ok = mapping(
        1,
        {{"count", scalar("-3", 1)}, {"ratio", scalar("1e-3", 2)}, {"follow", scalar("false", 3)}});
    EXPECT_EQ(problems(s, ok), lines{});
}

// YAML 1.1's boolean words and capitalised spellings: the message says what to write.
TEST(validate, boolean_words_say_what_to_write) {
    object_spec s;
    s.params.push_back(param("follow", param_type::boolean));
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"yes", "; write true (yes, no, on and off are words"},
        {"On", "; write true (yes, no"},
        {"Y", "; write true (yes, no"},
        {"no", "; write false (yes, no"},
        {"OFF", "; write false (yes, no"},
        {"True", "; write true, in lower case"},
        {"FALSE", "; write false, in lower case"},
    };
    for (const auto& [written, hint] : cases) {
        value v = mapping(1, {{"follow", scalar(std::string(written), 2)}});
        const auto got = problems(s, v, "n");
        ASSERT_EQ(got.size(), 1u) << written;
        EXPECT_NE(got[0].find("n.follow: expected true or false, got \"" + std::string(written) +
                              "\"" + std::string(hint)),
                  std::string::npos)
            << got[0];
    }
    // Anything else gets no guess.
    value other = mapping(1, {{"follow", scalar("maybe", 2)}});
    EXPECT_EQ(problems(s, other, "n"),
              lines{"t.yaml:2:10: error: n.follow: expected true or false, got \"maybe\""});
}

TEST(validate, quoted_numbers_are_accepted_and_any_scalar_is_a_string) {
    object_spec s;
    s.params.push_back(param("port", param_type::integer));
    s.params.push_back(param("size", param_type::size));
    s.params.push_back(param("name", param_type::string));
    s.params.push_back(param("on", param_type::boolean));
    value v = mapping(1, {{"port", scalar("9092", 1, true)},
                          {"size", scalar("64KiB", 2, true)},
                          {"name", scalar("true", 3)},
                          {"on", scalar("true", 4, true)}});
    EXPECT_EQ(problems(s, v), lines{});
}

TEST(validate, ranges_in_the_parameter_units) {
    object_spec s;
    param_spec count = param("max_records", param_type::integer);
    count.minimum = 1;
    count.maximum = 1000;
    s.params.push_back(count);
    param_spec buffer = param("buffer", param_type::size);
    buffer.minimum = 4096;
    s.params.push_back(buffer);
    param_spec per = param("per", param_type::duration);
    per.minimum = 1000;
    per.maximum = 3'600'000;
    s.params.push_back(per);
    param_spec ratio = param("ratio", param_type::number);
    ratio.minimum = 0;
    ratio.maximum = 0.5;
    s.params.push_back(ratio);
    value v = mapping(1, {{"max_records", scalar("0", 1)},
                          {"buffer", scalar("1KB", 2)},
                          {"per", scalar("500ms", 3)},
                          {"ratio", scalar("0.75", 4)}});
    EXPECT_EQ(problems(s, v, "b"),
              (lines{"t.yaml:1:10: error: b.max_records: must be at least 1, got 0",
                     "t.yaml:2:10: error: b.buffer: must be at least 4KiB, got 1KB",
                     "t.yaml:3:10: error: b.per: must be at least 1s, got 500ms",
                     "t.yaml:4:10: error: b.ratio: must be at most 0.5, got 0.75"}));
    value high = mapping(1, {{"max_records", scalar("1001", 1)}, {"per", scalar("2h", 2)}});
    EXPECT_EQ(problems(s, high, "b"),
              (lines{"t.yaml:1:10: error: b.max_records: must be at most 1000, got 1001",
                     "t.yaml:2:10: error: b.per: must be at most 1h, got 2h"}));
}

TEST(validate, null_values) {
    object_spec s;
    s.params.push_back(param("size", param_type::duration));
    s.params.push_back(param("name", param_type::string));
    s.params.push_back(param("window", param_type::object));
    s.params.back().object = window_spec();
    value v = mapping(1, {{"size", null_at(1)}, {"name", null_at(2)}, {"window", null_at(3)}});
    EXPECT_EQ(problems(s, v, "n"),
              (lines{"t.yaml:1:10: error: n.size: expected a duration such as \"60s\", got nothing",
                     "t.yaml:2:10: error: n.name: expected a string, got nothing",
                     "t.yaml:3:10: error: n.window: expected a mapping, got nothing"}));
}

TEST(validate, structure_mismatches) {
    object_spec s;
    s.params.push_back(param("window", param_type::object));
    s.params.back().object = window_spec();
    s.params.push_back(param("topics", param_type::string_list));
    s.params.push_back(param("checks", param_type::object_list));
    s.params.back().object = window_spec();
    s.params.push_back(param("kafka", param_type::string_map));
    s.params.push_back(param("name", param_type::string));
    value v = mapping(1, {{"window", list(1, {})},
                          {"topics", mapping(2, {{"a", scalar("b", 2)}})},
                          {"checks", mapping(3, {})},
                          {"kafka", scalar("x", 4)},
                          {"name", list(5, {})}});
    EXPECT_EQ(problems(s, v, "n"),
              (lines{"t.yaml:1:10: error: n.window: expected a mapping, got a list",
                     "t.yaml:2:1: error: n.topics: expected a string or a list of strings, got a "
                     "mapping",
                     "t.yaml:3:1: error: n.checks: expected a list of mappings, got a mapping",
                     "t.yaml:4:10: error: n.kafka: expected a mapping of keys to values, got \"x\"",
                     "t.yaml:5:10: error: n.name: expected a string, got a list"}));
    EXPECT_EQ(problems(s, list(7, {}), "n"),
              lines{"t.yaml:7:10: error: n: expected a mapping, got a list"});
}

TEST(validate, string_lists_and_maps) {
    object_spec s;
    s.params.push_back(param("topics", param_type::string_list));
    s.params.push_back(param("kafka", param_type::string_map));
    value one = mapping(1, {{"topics", scalar("a", 1)}});
    EXPECT_EQ(problems(s, one), lines{});
    value bad =
        mapping(1, {{"topics", list(1, {scalar("a", 1), list(2, {}), null_at(3)})},
                    {"kafka", mapping(4, {{"acks", scalar("all", 4)}, {"bad", list(5, {})}})}});
    EXPECT_EQ(problems(s, bad, "in"),
              (lines{"t.yaml:2:10: error: in.topics[1]: expected a string, got a list",
                     "t.yaml:3:10: error: in.topics[2]: expected a string, got nothing",
                     "t.yaml:5:10: error: in.kafka.bad: expected a scalar value, got a list"}));
}

TEST(validate, key_rules) {
    object_spec s;
    s.params.push_back(param("topics", param_type::string_list));
    s.params.push_back(param("topic_pattern", param_type::string));
    s.params.push_back(param("a", param_type::string));
    s.params.push_back(param("b", param_type::string));
    s.params.push_back(param("c", param_type::string));
    s.rules.push_back({key_rule::kind::exactly_one, {"topics", "topic_pattern"}});
    s.rules.push_back({key_rule::kind::at_least_one, {"a", "b", "c"}});
    value both = mapping(
        1, {{"topics", scalar("t", 1)}, {"topic_pattern", scalar("^t", 2)}, {"a", scalar("1", 3)}});
    EXPECT_EQ(problems(s, both, "in"),
              lines{"t.yaml:2:1: error: in: \"topics\" and \"topic_pattern\" cannot be used "
                    "together"});
    value none = mapping(1, {{"b", scalar("1", 1)}});
    EXPECT_EQ(problems(s, none, "in"),
              lines{"t.yaml:1:1: error: in: one of \"topics\" or \"topic_pattern\" is required"});
    value neither = mapping(1, {{"topics", scalar("t", 1)}});
    EXPECT_EQ(problems(s, neither, "in"),
              lines{"t.yaml:1:1: error: in: one of \"a\", \"b\" or \"c\" is required"});

    object_spec three;
    three.params = s.params;
    three.rules.push_back({key_rule::kind::at_most_one, {"a", "b", "c"}});
    value all = mapping(1, {{"a", scalar("1", 1)}, {"b", scalar("1", 2)}, {"c", scalar("1", 3)}});
    EXPECT_EQ(problems(three, all, "in"),
              lines{"t.yaml:2:1: error: in: \"a\", \"b\" and \"c\" cannot be used together"});
    EXPECT_EQ(problems(three, mapping(1, {}), "in"), lines{});
}

object_spec check_spec() {
    object_spec s;
    s.params.push_back(param("name", param_type::string, true));
    s.params.push_back(param("must_be", param_type::string));
    param_spec assess = param("assess", param_type::string);
    assess.alias_of = "must_be";
    s.params.push_back(assess);
    s.rules.push_back({key_rule::kind::at_least_one, {"must_be"}});
    return s;
}

TEST(validate, deprecated_alias_warns_and_counts_as_its_target) {
    object_spec s = check_spec();
    value v = mapping(1, {{"name", scalar("volume", 1)}, {"assess", scalar("> 5", 2)}});
    diagnostics d;
    EXPECT_TRUE(validate(s, v, "c", d));
    ASSERT_EQ(d.items().size(), 1u);
    EXPECT_EQ(format(d.items()[0]),
              "t.yaml:2:1: warning: c: \"assess\" is deprecated; use \"must_be\"");

    value both = mapping(1, {{"name", scalar("volume", 1)},
                             {"assess", scalar("> 5", 2)},
                             {"must_be", scalar("> 6", 3)}});
    EXPECT_EQ(problems(s, both, "c"),
              (lines{"t.yaml:2:1: error: c: \"assess\" and \"must_be\" cannot be used together; "
                     "remove the deprecated \"assess\"",
                     "t.yaml:2:1: warning: c: \"assess\" is deprecated; use \"must_be\""}));
}

TEST(validate, alias_value_is_checked_as_the_target_type) {
    object_spec s;
    s.params.push_back(param("timeout", param_type::duration));
    param_spec old = param("wait", param_type::string);
    old.alias_of = "timeout";
    s.params.push_back(old);
    value v = mapping(1, {{"wait", scalar("soon", 1)}});
    EXPECT_EQ(problems(s, v, "o"),
              (lines{"t.yaml:1:1: warning: o: \"wait\" is deprecated; use \"timeout\"",
                     "t.yaml:1:10: error: o.wait: expected a duration such as \"60s\", got "
                     "\"soon\""}));
    // Aliases are not offered as valid keys.
    value unknown = mapping(1, {{"zzz", scalar("1", 1)}});
    EXPECT_EQ(problems(s, unknown, "o"),
              lines{"t.yaml:1:1: error: o: unknown key \"zzz\"; valid keys are: timeout"});
}

TEST(validate, nested_objects_lists_and_maps_have_dotted_paths) {
    auto node = std::make_shared<object_spec>();
    node->params.push_back(param("window", param_type::object));
    node->params.back().object = window_spec();
    node->params.push_back(param("checks", param_type::object_list));
    node->params.back().object = std::make_shared<object_spec>(check_spec());
    object_spec root;
    param_spec nodes = param("nodes", param_type::object_map);
    nodes.object = node;
    nodes.role = string_role::source_ref;
    root.params.push_back(nodes);

    value v = mapping(
        1,
        {{"nodes",
          mapping(2, {{"quality",
                       mapping(3, {{"window", mapping(3, {{"type", scalar("tumbling", 3)},
                                                          {"size", scalar("sixty", 4)}})},
                                   {"checks", list(5, {mapping(5, {{"must_be", scalar("> 1", 5)}}),
                                                       mapping(6, {{"name", scalar("x", 6)},
                                                                   {"must_be", list(7, {})}})})}})},
                      {"My-Node", mapping(8, {})}})}});
    EXPECT_EQ(
        problems(root, v, ""),
        (lines{"t.yaml:4:10: error: nodes.quality.window.size: expected a duration such as "
               "\"60s\", got \"sixty\"",
               "t.yaml:5:1: error: nodes.quality.checks[0]: missing required key \"name\"",
               "t.yaml:7:10: error: nodes.quality.checks[1].must_be: expected a string, got a list",
               "t.yaml:8:1: error: nodes.My-Node: invalid name \"My-Node\": names are snake_case "
               "([a-z][a-z0-9_]*)"}));
}

TEST(validate, object_map_names_need_not_be_snake_case_for_other_roles) {
    auto field = std::make_shared<object_spec>();
    field->params.push_back(param("type", param_type::string));
    object_spec s;
    param_spec fields = param("fields", param_type::object_map);
    fields.object = field;
    fields.role = string_role::expression;  // record field names are the data's own
    s.params.push_back(fields);
    value v = mapping(1, {{"fields", mapping(1, {{"Device-ID", mapping(2, {})}})}});
    EXPECT_EQ(problems(s, v), lines{});
}

TEST(validate, scalar_forms) {
    auto time = std::make_shared<object_spec>();
    time->params.push_back(param("field", param_type::string, true));
    object_spec s;
    param_spec t = param("time", param_type::object);
    t.object = time;
    t.scalar_forms = {"processing"};
    s.params.push_back(t);
    EXPECT_EQ(problems(s, mapping(1, {{"time", scalar("processing", 1)}})), lines{});
    EXPECT_EQ(problems(s, mapping(1, {{"time", mapping(1, {{"field", scalar("ts", 1)}})}})),
              lines{});
    EXPECT_EQ(problems(s, mapping(1, {{"time", scalar("procesing", 1)}}), "n"),
              lines{"t.yaml:1:10: error: n.time: expected a mapping or \"processing\", got "
                    "\"procesing\"; did you mean \"processing\"?"});
    EXPECT_EQ(problems(s, mapping(1, {{"time", list(1, {})}}), "n"),
              lines{"t.yaml:1:10: error: n.time: expected a mapping or \"processing\", got a "
                    "list"});
}

TEST(validate, secrets_never_appear_in_messages) {
    auto w = window_spec();
    object_spec s;
    s.params.push_back(param("port", param_type::integer));
    param_spec level = param("level", param_type::enumeration);
    level.choices = {"info", "debug"};
    s.params.push_back(level);
    param_spec small = param("small", param_type::integer);
    small.maximum = 5;
    s.params.push_back(small);
    value v = mapping(1, {{"port", secret("hunter2", 1)},
                          {"level", secret("infoo", 2)},
                          {"small", secret("77", 3)}});
    const auto out = problems(s, v, "o");
    EXPECT_EQ(out, (lines{"t.yaml:1:10: error: o.port: expected an integer, got (a secret value)",
                          "t.yaml:2:10: error: o.level: expected one of info, debug, got (a secret "
                          "value)",
                          "t.yaml:3:10: error: o.small: must be at most 5, got (a secret value)"}));
}

TEST(secret_masking, names_that_say_secret) {
    for (const char* name :
         {"KAFKA_PASSWORD", "db_passwd", "SSL_KEY_PASSPHRASE", "API_TOKEN", "client_secret",
          "HOOK_KEY", "Authorization", "GCP_CREDENTIALS", "sasl.password"}) {
        EXPECT_TRUE(names_a_secret(name)) << name;
    }
    for (const char* name :
         {"LOG_DIR", "DATA_DIR", "KAFKA_BROKERS", "WINDOW", "bootstrap.servers", "HOSTNAME"}) {
        EXPECT_FALSE(names_a_secret(name)) << name;
    }
}

TEST(secret_masking, declared_secrets_and_secret_map_keys_are_marked) {
    auto inner = std::make_shared<object_spec>();
    param_spec password = param("password", param_type::string);
    password.secret = true;
    inner->params = {param("user", param_type::string), password};
    object_spec s;
    param_spec auth = param("auth", param_type::object);
    auth.object = inner;
    s.params = {param("url", param_type::string), auth, param("props", param_type::string_map)};
    value v = mapping(
        1, {{"url", scalar("http://h", 1)},
            {"auth", mapping(2, {{"user", scalar("weir", 2)}, {"password", scalar("pw-1", 2)}})},
            {"props",
             mapping(3, {{"sasl.password", scalar("pw-2", 3)}, {"client.id", scalar("c", 3)}})}});
    std::vector<std::string> texts;
    mark_secrets(s, v, texts);
    EXPECT_EQ(texts, (std::vector<std::string>{"pw-1", "pw-2"}));
    EXPECT_FALSE(v.find("url")->secret);
    EXPECT_FALSE(v.find("auth")->find("user")->secret);
    EXPECT_TRUE(v.find("auth")->find("password")->secret);
    EXPECT_EQ(v.find("props")->find("sasl.password")->display(), "(a secret value)");
    EXPECT_EQ(v.find("props")->find("client.id")->display(), "\"c\"");
}

TEST(validate, check_callback_runs_only_on_a_clean_mapping) {
    auto w = window_spec();
    int calls = 0;
    w->check = [&](const value& v, const std::string& path, diagnostics& out) {
        ++calls;
        reader r(*w, v);
        const auto size = r.duration("size");
        const auto slide = r.duration("slide");
        if (slide.given && slide.value > size.value) {
            out.error(slide.pos, path + ".slide", "must not be longer than size");
        }
    };
    value good = mapping(
        1, {{"type", scalar("sliding", 1)}, {"size", scalar("1m", 2)}, {"slide", scalar("5m", 3)}});
    EXPECT_EQ(problems(*w, good, "w"),
              lines{"t.yaml:3:10: error: w.slide: must not be longer than size"});
    EXPECT_EQ(calls, 1);
    value bad = mapping(
        1, {{"type", scalar("sliding", 1)}, {"size", scalar("1x", 2)}, {"slide", scalar("5m", 3)}});
    EXPECT_EQ(problems(*w, bad, "w").size(), 1u);
    EXPECT_EQ(calls, 1);
    w->check = nullptr;
}

TEST(validate, every_problem_is_collected) {
    auto w = window_spec();
    value v = mapping(1, {{"type", scalar("sliding", 1)},
                          {"size", scalar("0s", 2)},
                          {"gap", scalar("x", 3)},
                          {"allowed_lateness", scalar("2h", 4)},
                          {"extra", scalar("1", 5)}});
    EXPECT_EQ(problems(*w, v, "w").size(), 6u);
}

TEST(object_spec, find_and_names) {
    object_spec s = check_spec();
    ASSERT_NE(s.find("assess"), nullptr);
    EXPECT_EQ(s.find("assess")->alias_of, "must_be");
    EXPECT_EQ(s.find("nope"), nullptr);
    EXPECT_EQ(s.names(), (std::vector<std::string>{"name", "must_be"}));
}

}  // namespace
}  // namespace weir::params
