// Tests of the status model's JSON (GET /api/v1/status): the exact text users parse, the round
// trip model -> JSON -> model, and what from_json accepts and refuses.
#include "daemon/status.h"

#include <gtest/gtest.h>

#include <string>

namespace weir::daemon {
namespace {

daemon_status sample() {
    daemon_status s;
    s.state = "reloading";
    query_status running;
    running.pipeline = "sensors";
    running.query = "quality";
    running.nodes = {"clean", "quality"};
    running.failing_checks = {
        {"quality", "volume", 3, {{{{"device", "d-1"}}, 0.5}, {{{"device", "d-7"}}, std::nullopt}}},
        {"clean", "impossible", std::nullopt, {}}};
    running.inputs = {"readings", "other"};
    running.state = "degraded";
    running.degraded_reason = "outputs full (buffer.max_records)";
    running.figures = query_figures{.critical = true,
                                    .watermark = "2026-11-20T10:01:00.000Z",
                                    .lag_seconds = 12.25,
                                    .input_records = 420,
                                    .invalid_records = 2,
                                    .results = 17,
                                    .checkpoints = 1};
    running.restarts = 0;
    query_status idle;
    idle.pipeline = "web";
    idle.query = "idle";
    idle.nodes = {"idle"};
    idle.inputs = {"b"};
    idle.state = "running";
    idle.figures = query_figures{};  // no window closed yet: watermark and lag null
    idle.restarts = 2;
    query_status starting;
    starting.pipeline = "web";
    starting.query = "late";
    starting.nodes = {"late"};
    starting.state = "starting";
    starting.restarts = 1;
    s.queries = {running, idle, starting};
    return s;
}

// The text on the wire, key by key: integration tests and users' scripts parse it.
TEST(status_json, writes_the_keys_in_their_order_with_their_types) {
    EXPECT_EQ(
        to_json(sample()),
        R"j({"state":"reloading","queries":[)j"
        R"j({"pipeline":"sensors","query":"quality","nodes":["clean","quality"],)j"
        R"j("failing_checks":[{"node":"quality","check":"volume","groups":3,"failing_groups":)j"
        R"j([{"group":{"device":"d-1"},"value":0.5},{"group":{"device":"d-7"},"value":null}]},)j"
        R"j({"node":"clean","check":"impossible","groups":null}],)j"
        R"j("inputs":["readings","other"],"state":"degraded",)j"
        R"j("degraded_reason":"outputs full (buffer.max_records)","critical":true,)j"
        R"j("watermark":"2026-11-20T10:01:00.000Z","lag_seconds":12.25,"input_records":420,)j"
        R"j("invalid_records":2,"results":17,"checkpoints":1,"restarts":0},)j"
        R"j({"pipeline":"web","query":"idle","nodes":["idle"],"failing_checks":[],)j"
        R"j("inputs":["b"],"state":"running","critical":false,"watermark":null,)j"
        R"j("lag_seconds":null,"input_records":0,"invalid_records":0,"results":0,)j"
        R"j("checkpoints":0,"restarts":2},)j"
        R"j({"pipeline":"web","query":"late","nodes":["late"],"failing_checks":[],"inputs":[],)j"
        R"j("state":"starting","restarts":1}]})j");
    EXPECT_EQ(to_json(daemon_status{.state = "running", .queries = {}}),
              R"j({"state":"running","queries":[]})j");
}

TEST(status_json, round_trips_through_json) {
    const daemon_status s = sample();
    const auto back = from_json(to_json(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
    // A negative lag (data from the future) and large counters survive too.
    daemon_status t = s;
    t.queries[0].figures->lag_seconds = -0.5;
    t.queries[0].figures->input_records = 18'446'744'073'709'551'615ull;
    EXPECT_EQ(from_json(to_json(t)), t);
}

// depends_on states and ended inputs: written only when there are any, and read back.
TEST(status_json, dependencies_and_ended_inputs_round_trip) {
    daemon_status s = sample();
    query_figures& f = *s.queries[1].figures;
    f.dependencies = {{.node = "idle", .input = "weather", .state = "held", .lag_seconds = 75.5},
                      {.node = "idle",
                       .input = "fx",
                       .state = "down",
                       .lag_seconds = std::nullopt,
                       .hold_expired = true}};
    f.ended_inputs = {"export"};
    const std::string text = to_json(s);
    EXPECT_NE(text.find(R"j("dependencies":[{"node":"idle","input":"weather","state":"held",)j"
                        R"j("lag_seconds":75.5,"hold_expired":false},)j"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(R"j("ended_inputs":["export"])j"), std::string::npos) << text;
    EXPECT_EQ(from_json(text), s);
}

// The partitions of a partials topic a daemon merges: written only when there are any.
TEST(status_json, merged_partitions_round_trip) {
    daemon_status s = sample();
    s.queries[1].figures->merging = {
        {.partition = 0, .position = 120, .replaying = false, .replay_end = 0},
        {.partition = 2, .position = 7, .replaying = true, .replay_end = 40}};
    const std::string text = to_json(s);
    EXPECT_NE(text.find(R"j("merging":[{"partition":0,"position":120,"replaying":false,)j"
                        R"j("replay_end":0},{"partition":2,"position":7,"replaying":true,)j"
                        R"j("replay_end":40}])j"),
              std::string::npos)
        << text;
    EXPECT_EQ(from_json(text), s);
    EXPECT_EQ(to_json(sample()).find("merging"), std::string::npos);
}

TEST(status_json, reads_leniently_what_another_version_might_send) {
    // Unknown keys are ignored, missing ones default; one figure makes the figures known.
    const auto s = from_json(R"({"queries":[{"pipeline":"p","future":{"x":1},"results":5}],
                                 "uptime":3})");
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->state, "");
    ASSERT_EQ(s->queries.size(), 1u);
    EXPECT_EQ(s->queries[0].pipeline, "p");
    EXPECT_TRUE(s->queries[0].nodes.empty());
    ASSERT_TRUE(s->queries[0].figures.has_value());
    EXPECT_EQ(s->queries[0].figures->results, 5u);
    EXPECT_FALSE(s->queries[0].figures->watermark.has_value());
}

TEST(status_json, refuses_what_is_not_a_status) {
    for (const std::string body : {
             "",
             "not json",
             "[]",
             R"({"state":"running"})",
             R"({"queries":{}})",
             R"({"queries":[1]})",
             R"({"state":3,"queries":[]})",
             R"({"queries":[{"nodes":"a"}]})",
             R"({"queries":[{"nodes":[1]}]})",
             R"({"queries":[{"failing_checks":[{"check":"c","groups":-1}]}]})",
             R"({"queries":[{"failing_checks":[3]}]})",
             R"({"queries":[{"failing_checks":[{"check":"c","failing_groups":[{"value":"x"}]}]}]})",
             R"({"queries":[{"failing_checks":[{"check":"c","failing_groups":[{"group":[]}]}]}]})",
             R"({"queries":[{"critical":"yes"}]})",
             R"({"queries":[{"input_records":-4}]})",
             R"({"queries":[{"lag_seconds":"1s"}]})",
             R"({"queries":[{"restarts":1.5}]})",
         }) {
        EXPECT_FALSE(from_json(body).has_value()) << body;
    }
}

}  // namespace
}  // namespace weir::daemon
