// Tests of the operator commands' requests: the POST body both ways, the group against a node's
// group_by, and the arguments of `weir baseline`.
#include "daemon/baseline.h"

#include <gtest/gtest.h>

#include <string>

namespace weir::daemon {
namespace {

using engine::history_command;

field_path path(std::string s) {
    return field_path{{std::move(s)}};
}

TEST(baseline, a_body_reads_into_a_request) {
    std::string error;
    auto r = parse_baseline_request(
        history_command::acknowledge,
        R"({"pipeline":"web","node":"errors","check":"rate","group":{"host":"web-3","n":2,"up":true,"z":null}})",
        error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->command, history_command::acknowledge);
    EXPECT_EQ(r->pipeline, "web");
    EXPECT_EQ(r->node, "errors");
    EXPECT_EQ(r->check, "rate");
    ASSERT_TRUE(r->group);
    ASSERT_EQ(r->group->size(), 4u);
    EXPECT_EQ((*r->group)[0].second, measure_value::make_string("web-3"));
    EXPECT_EQ((*r->group)[1].second, measure_value::make_number(2));
    EXPECT_EQ((*r->group)[2].second, measure_value::make_boolean(true));
    EXPECT_EQ((*r->group)[3].second, measure_value::make_null());
    // Check and group are optional.
    r = parse_baseline_request(history_command::reset, R"({"pipeline":"web","node":"errors"})",
                               error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->check, "");
    EXPECT_FALSE(r->group);
}

TEST(baseline, malformed_bodies_say_what_is_wrong) {
    const std::pair<const char*, const char*> cases[] = {
        {"", "not JSON"},
        {"{\"pipeline\":", "not JSON"},
        {"[]", "JSON object"},
        {R"({"node":"n"})", "\"pipeline\" is missing"},
        {R"({"pipeline":"p"})", "\"node\" is missing"},
        {R"({"pipeline":1,"node":"n"})", "\"pipeline\" must be a non-empty string"},
        {R"({"pipeline":"","node":"n"})", "\"pipeline\" must be a non-empty string"},
        {R"({"pipeline":"p","node":"n","check":false})", "\"check\" must be"},
        {R"({"pipeline":"p","node":"n","group":[1]})", "\"group\" must be an object"},
        {R"({"pipeline":"p","node":"n","group":{"h":[1]}})", "group field \"h\""},
        {R"({"pipeline":"p","node":"n","nodes":"x"})", "unknown key \"nodes\""},
    };
    for (const auto& [body, message] : cases) {
        std::string error;
        EXPECT_FALSE(parse_baseline_request(history_command::reset, body, error)) << body;
        EXPECT_NE(error.find(message), std::string::npos) << body << ": " << error;
    }
}

TEST(baseline, the_clients_body_reads_back) {
    baseline_request r;
    r.command = history_command::acknowledge;
    r.pipeline = "web";
    r.node = "errors";
    r.check = "rate";
    r.group.emplace();
    r.group->emplace_back("host", measure_value::make_string("web-3"));
    r.group->emplace_back("code", measure_value::make_number(500));
    EXPECT_EQ(
        to_json(r),
        R"({"pipeline":"web","node":"errors","check":"rate","group":{"host":"web-3","code":500}})");
    std::string error;
    const auto back = parse_baseline_request(history_command::acknowledge, to_json(r), error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->group, r.group);
    EXPECT_EQ(back->check, r.check);
}

TEST(baseline, the_group_takes_every_group_by_field_in_order) {
    engine::node_plan node;
    node.node = "errors";
    node.group_by = {path("host"), path("code")};
    baseline_request r;
    r.node = "errors";
    std::string error;
    // No group: every group, an empty key.
    auto key = resolve_group(r, node, error);
    ASSERT_TRUE(key);
    EXPECT_TRUE(key->empty());
    r.group.emplace();
    r.group->emplace_back("code", measure_value::make_number(500));
    r.group->emplace_back("host", measure_value::make_string("web-3"));
    key = resolve_group(r, node, error);
    ASSERT_TRUE(key) << error;
    EXPECT_EQ(*key, (group_key{{"host", measure_value::make_string("web-3")},
                               {"code", measure_value::make_number(500)}}));
    r.group->pop_back();
    EXPECT_FALSE(resolve_group(r, node, error));
    EXPECT_NE(error.find("field \"host\" is missing"), std::string::npos) << error;
    r.group->emplace_back("host", measure_value::make_string("web-3"));
    r.group->emplace_back("region", measure_value::make_string("eu"));
    EXPECT_FALSE(resolve_group(r, node, error));
    EXPECT_NE(error.find("does not group by \"region\""), std::string::npos) << error;
    node.group_by.clear();
    EXPECT_FALSE(resolve_group(r, node, error));
    EXPECT_NE(error.find("has no group_by"), std::string::npos) << error;
}

TEST(baseline, arguments_make_the_request) {
    baseline_options o;
    o.action = "reset";
    o.target = "web/errors/rate";
    o.groups = {"host=web-3",    "code=500", "up=true",  "none=null",
                "quoted=\"42\"", "zip=007",  "list=[1]", "empty="};
    std::string error;
    const auto r = request_of(o, error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->command, history_command::reset);
    EXPECT_EQ(r->pipeline, "web");
    EXPECT_EQ(r->node, "errors");
    EXPECT_EQ(r->check, "rate");
    ASSERT_TRUE(r->group);
    EXPECT_EQ(*r->group, (std::vector<std::pair<std::string, measure_value>>{
                             {"host", measure_value::make_string("web-3")},
                             {"code", measure_value::make_number(500)},
                             {"up", measure_value::make_boolean(true)},
                             {"none", measure_value::make_null()},
                             {"quoted", measure_value::make_string("42")},
                             {"zip", measure_value::make_string("007")},
                             {"list", measure_value::make_string("[1]")},
                             {"empty", measure_value::make_string("")}}));
    EXPECT_EQ(describe_target(*r).substr(0, 35), "web/errors/rate, group host=\"web-3\"");
    o.groups.clear();
    o.target = "web/errors";
    o.action = "acknowledge";
    const auto all = request_of(o, error);
    ASSERT_TRUE(all) << error;
    EXPECT_EQ(all->check, "");
    EXPECT_FALSE(all->group);
    EXPECT_EQ(describe_target(*all), "web/errors (every check against history)");
}

TEST(baseline, bad_arguments_are_refused) {
    const std::pair<baseline_options, const char*> cases[] = {
        {{"", "forget", "web/errors", {}}, "expected reset or acknowledge"},
        {{"", "reset", "web", {}}, "expected PIPELINE/NODE"},
        {{"", "reset", "web/", {}}, "expected PIPELINE/NODE"},
        {{"", "reset", "/errors", {}}, "expected PIPELINE/NODE"},
        {{"", "reset", "a/b/c/d", {}}, "expected PIPELINE/NODE"},
        {{"", "reset", "web/errors", {"host"}}, "expected FIELD=VALUE"},
        {{"", "reset", "web/errors", {"=x"}}, "expected FIELD=VALUE"},
        {{"", "reset", "web/errors", {"h=1", "h=2"}}, "given twice"},
    };
    for (const auto& [options, message] : cases) {
        std::string error;
        EXPECT_FALSE(request_of(options, error)) << options.target;
        EXPECT_NE(error.find(message), std::string::npos) << options.target << ": " << error;
    }
}

}  // namespace
}  // namespace weir::daemon
