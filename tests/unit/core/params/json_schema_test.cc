// json_schema(): the JSON Schema generated from declarations, checked structurally.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "core/params/spec.h"

namespace weir::params {
namespace {

using json = nlohmann::ordered_json;

param_spec param(std::string name, param_type type, bool required = false) {
    param_spec p;
    p.name = std::move(name);
    p.type = type;
    p.required = required;
    return p;
}

std::shared_ptr<object_spec> window_spec() {
    auto s = std::make_shared<object_spec>();
    s->name = "window";
    param_spec type = param("type", param_type::enumeration, true);
    type.choices = {"tumbling", "sliding", "session"};
    type.description = "The kind of window.";
    s->params.push_back(type);
    s->params.push_back(param("size", param_type::duration));
    s->params.push_back(param("slide", param_type::duration));
    s->params.push_back(param("gap", param_type::duration));
    s->conditionals.push_back({"type", "sliding", {"size", "slide"}, {"gap"}});
    return s;
}

object_spec node_spec() {
    object_spec s;
    s.name = "node";
    s.description = "A node of the pipeline graph.";
    s.params.push_back(param("from", param_type::string_list, true));
    param_spec critical = param("critical", param_type::boolean);
    critical.default_text = "false";
    s.params.push_back(critical);
    param_spec max_groups = param("max_groups", param_type::integer);
    max_groups.minimum = 1;
    max_groups.default_text = "10000";
    s.params.push_back(max_groups);
    param_spec buffer = param("buffer", param_type::size);
    buffer.default_text = "64KiB";
    s.params.push_back(buffer);
    param_spec window = param("window", param_type::object);
    window.object = window_spec();
    s.params.push_back(window);
    param_spec time = param("time", param_type::object);
    time.object = std::make_shared<object_spec>();
    time.scalar_forms = {"processing"};
    s.params.push_back(time);
    auto check = std::make_shared<object_spec>();
    check->params.push_back(param("name", param_type::string, true));
    check->params.push_back(param("must_be", param_type::string));
    param_spec assess = param("assess", param_type::string);
    assess.alias_of = "must_be";
    check->params.push_back(assess);
    check->rules.push_back({key_rule::kind::exactly_one, {"must_be"}});
    param_spec checks = param("checks", param_type::object_list);
    checks.object = check;
    s.params.push_back(checks);
    param_spec outputs = param("outputs", param_type::object_map);
    outputs.object = std::make_shared<object_spec>();
    s.params.push_back(outputs);
    s.params.push_back(param("kafka", param_type::string_map));
    s.params.push_back(param("topics", param_type::string_list));
    s.params.push_back(param("topic_pattern", param_type::string));
    s.rules.push_back({key_rule::kind::at_most_one, {"topics", "topic_pattern"}});
    s.rules.push_back({key_rule::kind::at_least_one, {"topics", "topic_pattern"}});
    return s;
}

TEST(json_schema, object_structure) {
    const json schema = json::parse(json_schema(node_spec()));
    EXPECT_EQ(schema["type"], "object");
    EXPECT_EQ(schema["title"], "node");
    EXPECT_EQ(schema["description"], "A node of the pipeline graph.");
    EXPECT_EQ(schema["additionalProperties"], false);
    EXPECT_EQ(schema["required"], json::array({"from"}));
    const json& props = schema["properties"];
    ASSERT_TRUE(props.is_object());
    EXPECT_EQ(props.size(), node_spec().params.size());
    // Declaration order is kept, so editors list keys as the docs do.
    EXPECT_EQ(props.begin().key(), "from");
}

TEST(json_schema, scalar_types) {
    const json props = json::parse(json_schema(node_spec()))["properties"];
    EXPECT_EQ(props["critical"]["default"], false);
    EXPECT_EQ(props["critical"]["pattern"], "^(true|false)$|\\$\\{");
    EXPECT_EQ(props["max_groups"]["minimum"], 1);
    EXPECT_EQ(props["max_groups"]["default"], 10000);
    EXPECT_EQ(props["max_groups"]["type"], json::array({"integer", "string"}));
    EXPECT_EQ(props["buffer"]["default"], "64KiB");
    ASSERT_TRUE(props["buffer"]["anyOf"].is_array());
    EXPECT_EQ(props["buffer"]["anyOf"][1]["type"], "integer");
    EXPECT_EQ(props["from"]["oneOf"][0]["type"], "string");
    EXPECT_EQ(props["from"]["oneOf"][1]["items"]["type"], "string");
    EXPECT_EQ(props["kafka"]["type"], "object");
    EXPECT_TRUE(props["kafka"]["additionalProperties"].is_object());
}

TEST(json_schema, nested_objects_and_conditionals) {
    const json props = json::parse(json_schema(node_spec()))["properties"];
    const json& window = props["window"];
    EXPECT_EQ(window["additionalProperties"], false);
    EXPECT_EQ(window["required"], json::array({"type"}));
    EXPECT_EQ(window["properties"]["type"]["description"], "The kind of window.");
    EXPECT_EQ(window["properties"]["type"]["anyOf"][0]["enum"],
              json::array({"tumbling", "sliding", "session"}));
    ASSERT_EQ(window["allOf"].size(), 1u);
    const json& cond = window["allOf"][0];
    EXPECT_EQ(cond["if"]["properties"]["type"]["const"], "sliding");
    EXPECT_EQ(cond["if"]["required"], json::array({"type"}));
    EXPECT_EQ(cond["then"]["allOf"][0]["required"], json::array({"size"}));
    EXPECT_EQ(cond["then"]["allOf"][2]["not"]["required"], json::array({"gap"}));

    EXPECT_EQ(props["time"]["oneOf"][0]["enum"], json::array({"processing"}));
    EXPECT_EQ(props["time"]["oneOf"][1]["type"], "object");
    EXPECT_EQ(props["checks"]["type"], "array");
    EXPECT_EQ(props["checks"]["items"]["required"], json::array({"name"}));
    EXPECT_EQ(props["outputs"]["propertyNames"]["pattern"], "^[a-z][a-z0-9_]*$");
    EXPECT_EQ(props["outputs"]["additionalProperties"]["additionalProperties"], false);
}

TEST(json_schema, key_rules_and_aliases) {
    const json schema = json::parse(json_schema(node_spec()));
    const json& all_of = schema["allOf"];
    ASSERT_EQ(all_of.size(), 2u);
    EXPECT_EQ(all_of[0]["not"]["allOf"][0]["required"], json::array({"topics"}));
    EXPECT_EQ(all_of[0]["not"]["allOf"][1]["required"], json::array({"topic_pattern"}));
    EXPECT_EQ(all_of[1]["anyOf"].size(), 2u);

    const json& check = schema["properties"]["checks"]["items"];
    EXPECT_EQ(check["properties"]["assess"]["deprecated"], true);
    EXPECT_EQ(check["properties"]["assess"]["type"], "string");
    EXPECT_EQ(check["allOf"][0]["not"]["required"], json::array({"assess", "must_be"}));
    // exactly_one over a key with an alias: either spelling counts.
    const json& one = check["allOf"][1]["oneOf"][0]["anyOf"];
    EXPECT_EQ(one[0]["required"], json::array({"must_be"}));
    EXPECT_EQ(one[1]["required"], json::array({"assess"}));
}

TEST(json_schema, messages_and_markdown_for_people) {
    const json schema = json::parse(json_schema(node_spec()));
    const json& props = schema["properties"];
    EXPECT_EQ(props["critical"]["patternErrorMessage"],
              "write true or false (or a ${VARIABLE}); yes, no, on and off are not booleans "
              "here");
    EXPECT_EQ(props["max_groups"]["patternErrorMessage"],
              "write a whole number such as 100 (or a ${VARIABLE})");
    EXPECT_EQ(props["buffer"]["anyOf"][0]["patternErrorMessage"],
              "write a size such as 512B, 64KiB or 1MB, or a number of bytes (or a ${VARIABLE})");
    EXPECT_EQ(props["outputs"]["propertyNames"]["patternErrorMessage"],
              "names are snake_case: a lowercase letter, then lowercase letters, digits and _ "
              "(e.g. cpu_load)");
    const json& window = props["window"]["properties"];
    EXPECT_EQ(window["type"]["anyOf"][1]["patternErrorMessage"],
              "write one of tumbling, sliding or session (or a ${VARIABLE})");
    EXPECT_EQ(window["size"]["anyOf"][0]["patternErrorMessage"],
              "write a duration such as 250ms, 30s, 5m, 1h or 1d (or a ${VARIABLE})");
    // The description, then the type, limits and default in words.
    EXPECT_EQ(window["type"]["markdownDescription"],
              "The kind of window.\n\n*Type:* one of `tumbling`, `sliding` or `session` · "
              "*required*");
    EXPECT_EQ(props["max_groups"]["markdownDescription"],
              "*Type:* an integer, at least `1` · *default:* `10000`");
    EXPECT_EQ(props["critical"]["markdownDescription"],
              "*Type:* `true` or `false` · *default:* `false`");
}

TEST(json_schema, roles_get_their_keywords) {
    object_spec check;
    param_spec name = param("name", param_type::string, true);
    name.role = string_role::name;
    name.description = "The check's name, e.g. `volume` (a * b).";
    check.params.push_back(name);
    param_spec must_be = param("must_be", param_type::string);
    must_be.role = string_role::assessment;
    check.params.push_back(must_be);
    param_spec note = param("note", param_type::string);
    check.params.push_back(note);

    json_schema_options options;
    options.role_keywords[string_role::assessment] =
        R"({"pattern": "^[<>]", "patternErrorMessage": "write a comparison",)"
        R"( "markdownDescription": "An assessment.", "defaultSnippets": [{"body": "> 0"}]})";
    const json schema = json::parse(json_schema(check, options));
    const json& props = schema["properties"];
    EXPECT_EQ(props["must_be"]["pattern"], "^[<>]");
    EXPECT_EQ(props["must_be"]["patternErrorMessage"], "write a comparison");
    EXPECT_EQ(props["must_be"]["defaultSnippets"][0]["body"], "> 0");
    // A role's Markdown follows the parameter's own.
    EXPECT_EQ(props["must_be"]["markdownDescription"], "*Type:* text\n\nAn assessment.");
    EXPECT_FALSE(props["note"].contains("pattern"));
    // Names: snake_case or a ${VARIABLE}; Markdown escaped outside code spans.
    EXPECT_EQ(props["name"]["pattern"], "^([a-z][a-z0-9_]*)$|\\$\\{");
    EXPECT_NE(props["name"]["patternErrorMessage"].get<std::string>().find("snake_case"),
              std::string::npos);
    EXPECT_EQ(props["name"]["markdownDescription"],
              "The check's name, e.g. `volume` (a \\* b).\n\n*Type:* text · *required*");
}

}  // namespace
}  // namespace weir::params
