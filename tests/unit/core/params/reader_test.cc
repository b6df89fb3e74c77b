// reader: typed access with defaults and positions; value lookups, pos_at and display;
// the component registry.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "core/params/registry.h"
#include "core/params/spec.h"

namespace weir::params {
namespace {

using std::chrono::milliseconds;

value scalar(std::string text, int line, int column = 10) {
    value v;
    v.type = value::kind::scalar;
    v.text = std::move(text);
    v.pos = {"r.yaml", line, column};
    return v;
}

value mapping(int line, std::vector<std::pair<std::string, value>> entries) {
    value v;
    v.type = value::kind::mapping;
    v.pos = {"r.yaml", line, 3};
    for (auto& [key, val] : entries) {
        v.entries.push_back({key, {"r.yaml", val.pos.line, 3}, std::move(val)});
    }
    return v;
}

value list(int line, std::vector<value> items) {
    value v;
    v.type = value::kind::sequence;
    v.pos = {"r.yaml", line, 10};
    v.items = std::move(items);
    return v;
}

param_spec param(std::string name, param_type type, std::string default_text = "") {
    param_spec p;
    p.name = std::move(name);
    p.type = type;
    p.default_text = std::move(default_text);
    return p;
}

std::shared_ptr<object_spec> spec() {
    auto inner = std::make_shared<object_spec>();
    inner->params.push_back(param("size", param_type::duration, "1m"));
    inner->params.push_back(param("kind", param_type::enumeration, "tumbling"));

    auto s = std::make_shared<object_spec>();
    s->name = "test object";
    s->params.push_back(param("name", param_type::string));
    s->params.push_back(param("count", param_type::integer, "10"));
    s->params.push_back(param("ratio", param_type::number, "0.5"));
    s->params.push_back(param("follow", param_type::boolean, "false"));
    s->params.push_back(param("timeout", param_type::duration, "30s"));
    s->params.push_back(param("buffer", param_type::size, "64KiB"));
    s->params.push_back(param("topics", param_type::string_list));
    s->params.push_back(param("group_by", param_type::string_list, "all"));
    s->params.push_back(param("kafka", param_type::string_map));
    param_spec window = param("window", param_type::object);
    window.object = inner;
    window.scalar_forms = {"none"};
    s->params.push_back(window);
    param_spec checks = param("checks", param_type::object_list);
    checks.object = inner;
    s->params.push_back(checks);
    param_spec outputs = param("outputs", param_type::object_map);
    outputs.object = inner;
    s->params.push_back(outputs);
    s->params.push_back(param("must_be", param_type::string));
    param_spec assess = param("assess", param_type::string);
    assess.alias_of = "must_be";
    s->params.push_back(assess);
    return s;
}

TEST(reader, defaults_for_absent_keys) {
    auto s = spec();
    value v = mapping(2, {});
    reader r(*s, v);
    EXPECT_FALSE(r.has("count"));
    EXPECT_EQ(r.raw("count"), nullptr);
    const auto count = r.integer("count");
    EXPECT_EQ(count.value, 10);
    EXPECT_FALSE(count.given);
    EXPECT_EQ(count.pos, (source_pos{"r.yaml", 2, 3}));
    EXPECT_EQ(r.number("ratio").value, 0.5);
    EXPECT_FALSE(r.boolean("follow").value);
    EXPECT_EQ(r.duration("timeout").value, milliseconds(30'000));
    EXPECT_EQ(r.size("buffer").value, 65'536u);
    EXPECT_EQ(r.string("name").value, "");
    EXPECT_TRUE(r.strings("topics").empty());
    ASSERT_EQ(r.strings("group_by").size(), 1u);
    EXPECT_EQ(r.strings("group_by")[0].value, "all");
    EXPECT_TRUE(r.string_map("kafka").empty());
    EXPECT_TRUE(r.object_list("checks").empty());
    EXPECT_TRUE(r.object_map("outputs").empty());
    EXPECT_EQ(r.pos_of("count"), (source_pos{"r.yaml", 2, 3}));

    // An absent nested object reads as an empty one with its own defaults.
    auto window = r.object("window");
    ASSERT_TRUE(window);
    EXPECT_EQ(window->duration("size").value, milliseconds(60'000));
    EXPECT_EQ(window->string("kind").value, "tumbling");
    EXPECT_EQ(window->duration("size").pos, (source_pos{"r.yaml", 2, 3}));
}

TEST(reader, written_values_with_positions) {
    auto s = spec();
    value v = mapping(1, {{"name", scalar("n1", 1)},
                          {"count", scalar("-4", 2)},
                          {"ratio", scalar("1e2", 3)},
                          {"follow", scalar("true", 4)},
                          {"timeout", scalar("1h30m", 5)},
                          {"buffer", scalar("2MB", 6)},
                          {"topics", list(7, {scalar("a", 7, 11), scalar("b", 7, 14)})},
                          {"group_by", scalar("device", 8)},
                          {"kafka", mapping(9, {{"acks", scalar("all", 9)}})}});
    reader r(*s, v);
    EXPECT_TRUE(r.has("name"));
    EXPECT_EQ(r.string("name").value, "n1");
    EXPECT_TRUE(r.string("name").given);
    EXPECT_EQ(r.integer("count").value, -4);
    EXPECT_EQ(r.integer("count").pos, (source_pos{"r.yaml", 2, 10}));
    EXPECT_EQ(r.number("ratio").value, 100.0);
    EXPECT_EQ(r.number("count").value, -4.0);  // integers read as numbers too
    EXPECT_TRUE(r.boolean("follow").value);
    EXPECT_EQ(r.duration("timeout").value, milliseconds(5'400'000));
    EXPECT_EQ(r.size("buffer").value, 2'000'000u);
    const auto topics = r.strings("topics");
    ASSERT_EQ(topics.size(), 2u);
    EXPECT_EQ(topics[1].value, "b");
    EXPECT_EQ(topics[1].pos, (source_pos{"r.yaml", 7, 14}));
    ASSERT_EQ(r.strings("group_by").size(), 1u);
    EXPECT_TRUE(r.strings("group_by")[0].given);
    const auto kafka = r.string_map("kafka");
    ASSERT_EQ(kafka.size(), 1u);
    EXPECT_EQ(kafka[0].first, "acks");
    EXPECT_EQ(kafka[0].second.value, "all");
    EXPECT_EQ(r.string("timeout").value, "1h30m");  // any scalar reads as its text
}

TEST(reader, nested_objects) {
    auto s = spec();
    value v = mapping(
        1, {{"window", mapping(2, {{"size", scalar("5m", 2)}})},
            {"checks", list(3, {mapping(3, {{"kind", scalar("sliding", 3)}}), mapping(4, {})})},
            {"outputs", mapping(5, {{"alerts", mapping(5, {})},
                                    {"log", mapping(6, {{"size", scalar("1s", 6)}})}})}});
    reader r(*s, v);
    EXPECT_EQ(r.object("window")->duration("size").value, milliseconds(300'000));
    const auto checks = r.object_list("checks");
    ASSERT_EQ(checks.size(), 2u);
    EXPECT_EQ(checks[0].string("kind").value, "sliding");
    EXPECT_EQ(checks[1].string("kind").value, "tumbling");
    EXPECT_EQ(checks[1].string("kind").pos, (source_pos{"r.yaml", 4, 3}));
    const auto outputs = r.object_map("outputs");
    ASSERT_EQ(outputs.size(), 2u);
    EXPECT_EQ(outputs[0].first.value, "alerts");
    EXPECT_EQ(outputs[1].first.pos, (source_pos{"r.yaml", 6, 3}));
    EXPECT_EQ(outputs[1].second.duration("size").value, milliseconds(1'000));
}

TEST(reader, scalar_form_of_an_object_reads_as_nullopt) {
    auto s = spec();
    value v = mapping(1, {{"window", scalar("none", 1)}});
    reader r(*s, v);
    EXPECT_FALSE(r.object("window"));
    EXPECT_EQ(r.raw("window")->text, "none");
}

TEST(reader, alias_reads_as_its_target) {
    auto s = spec();
    value v = mapping(1, {{"assess", scalar("> 5", 3)}});
    reader r(*s, v);
    EXPECT_TRUE(r.has("must_be"));
    EXPECT_TRUE(r.has("assess"));
    EXPECT_EQ(r.string("must_be").value, "> 5");
    EXPECT_EQ(r.pos_of("must_be"), (source_pos{"r.yaml", 3, 10}));
}

TEST(reader, misuse_is_a_logic_error) {
    auto s = spec();
    value v = mapping(1, {{"count", scalar("x", 1)}});
    reader r(*s, v);
    EXPECT_THROW(r.integer("undeclared"), std::logic_error);
    EXPECT_THROW(r.has("undeclared"), std::logic_error);
    EXPECT_THROW(r.duration("count"), std::logic_error);
    EXPECT_THROW(r.integer("count"), std::logic_error);  // never validated
    EXPECT_THROW(r.strings("name"), std::logic_error);
    EXPECT_THROW(r.object("checks"), std::logic_error);
    EXPECT_THROW(reader(*s, scalar("x", 1)), std::logic_error);
}

TEST(value, find_and_find_entry) {
    value v = mapping(1, {{"a", scalar("1", 1)}, {"b", scalar("2", 2)}});
    ASSERT_NE(v.find("b"), nullptr);
    EXPECT_EQ(v.find("b")->text, "2");
    EXPECT_EQ(v.find_entry("a")->key_pos, (source_pos{"r.yaml", 1, 3}));
    EXPECT_EQ(v.find("c"), nullptr);
    EXPECT_EQ(scalar("x", 1).find("x"), nullptr);
    EXPECT_EQ(list(1, {}).find_entry("x"), nullptr);
}

TEST(value, pos_at) {
    value v = scalar("count() > 5", 4, 12);
    EXPECT_EQ(v.pos_at(3), v.pos);  // no text_column: the scalar's own position
    v.text_column = 12;
    EXPECT_EQ(v.pos_at(0), (source_pos{"r.yaml", 4, 12}));
    EXPECT_EQ(v.pos_at(10), (source_pos{"r.yaml", 4, 22}));
    EXPECT_EQ(v.pos_at(100), (source_pos{"r.yaml", 4, 23}));  // clamped to the end
    value quoted = scalar("x > 1", 2, 9);
    quoted.quoted = true;
    quoted.text_column = 10;
    EXPECT_EQ(quoted.pos_at(4), (source_pos{"r.yaml", 2, 14}));
    EXPECT_EQ(list(3, {}).pos_at(2), (source_pos{"r.yaml", 3, 10}));
}

TEST(value, display) {
    EXPECT_EQ(scalar("sixty", 1).display(), "\"sixty\"");
    EXPECT_EQ(scalar("say \"hi\"\n", 1).display(), "\"say \\\"hi\\\"\\n\"");
    value secret = scalar("hunter2", 1);
    secret.from_env = true;
    EXPECT_EQ(secret.display(), "\"hunter2\"");  // from the environment, but no secret
    secret.secret = true;
    EXPECT_EQ(secret.display(), "(a secret value)");
    EXPECT_EQ(list(1, {}).display(), "a list");
    EXPECT_EQ(mapping(1, {}).display(), "a mapping");
    EXPECT_EQ(value{}.display(), "nothing");
    const std::string shown = scalar(std::string(200, 'a'), 1).display();
    EXPECT_LT(shown.size(), 70u);
    EXPECT_EQ(shown.substr(shown.size() - 4), "...\"");
}

TEST(component_registry, add_find_and_list) {
    component_registry reg;
    auto empty = std::make_shared<object_spec>();
    reg.add({"kafka", component_kind::input, "Kafka topics", empty, false});
    reg.add({"file", component_kind::input, "files", empty, false});
    reg.add({"file", component_kind::output, "JSON lines", empty, true});
    ASSERT_NE(reg.find(component_kind::input, "kafka"), nullptr);
    EXPECT_EQ(reg.find(component_kind::input, "kafka")->description, "Kafka topics");
    EXPECT_EQ(reg.find(component_kind::output, "kafka"), nullptr);
    EXPECT_TRUE(reg.find(component_kind::output, "file")->accepts_records);
    EXPECT_EQ(reg.types(component_kind::input), (std::vector<std::string>{"file", "kafka"}));
    EXPECT_EQ(reg.all(component_kind::output).size(), 1u);
    EXPECT_THROW(reg.add({"kafka", component_kind::input, "again", empty, false}),
                 std::logic_error);
}

}  // namespace
}  // namespace weir::params
