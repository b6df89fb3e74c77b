// Tests of `weir status`'s table: columns from /api/v1/status, failing checks with group counts,
// and refusal of answers that are not weir's status.
#include "daemon/status_client.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/metrics.h"
#include "daemon/status.h"

namespace weir::daemon {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// Splits a table row at runs of two or more spaces.
std::vector<std::string> cells(const std::string& row) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < row.size()) {
        std::size_t end = row.find("  ", i);
        if (end == std::string::npos) end = row.size();
        out.push_back(row.substr(i, end - i));
        i = row.find_first_not_of(' ', end);
        if (i == std::string::npos) break;
    }
    return out;
}

TEST(status_table, shows_every_query_with_its_nodes_lag_and_failing_checks) {
    const std::string body = R"({"state":"running","queries":[
      {"pipeline":"sensors","query":"quality","nodes":["quality"],"inputs":["readings"],
       "failing_checks":[{"node":"quality","check":"volume","groups":3},
                         {"node":"quality","check":"impossible","groups":1}],
       "state":"running","critical":true,"watermark":"2026-11-20T10:01:00.000Z",
       "lag_seconds":12.345,"input_records":420,"invalid_records":2,"results":17,
       "checkpoints":1,"restarts":0},
      {"pipeline":"web","query":"joined","nodes":["clean","rates"],"inputs":["a"],
       "failing_checks":[{"node":"rates","check":"freshness","groups":null}],
       "state":"degraded","critical":false,"watermark":null,"lag_seconds":null,
       "input_records":0,"invalid_records":0,"results":0,"checkpoints":0,"restarts":2},
      {"pipeline":"web","query":"idle","nodes":["idle"],"inputs":["b"],"failing_checks":[],
       "state":"starting","restarts":0}]})";
    std::ostringstream out;
    ASSERT_TRUE(render_status(body, out));
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 5u) << out.str();
    EXPECT_EQ(lines[0], "weir: running");
    EXPECT_EQ(cells(lines[1]), (std::vector<std::string>{
                                   "PIPELINE", "QUERY", "NODES", "STATE", "CRITICAL", "WATERMARK",
                                   "LAG", "RECORDS", "INVALID", "RESULTS", "RESTARTS", "FAILING"}));
    EXPECT_EQ(cells(lines[2]),
              (std::vector<std::string>{"sensors", "quality", "quality", "running", "yes",
                                        "2026-11-20T10:01:00.000Z", "12.3s", "420", "2", "17", "0",
                                        "volume(3 groups),impossible(1 group)"}));
    EXPECT_EQ(cells(lines[3]),
              (std::vector<std::string>{"web", "joined", "clean,rates", "degraded", "no", "-", "-",
                                        "0", "0", "0", "2", "rates.freshness"}));
    EXPECT_EQ(cells(lines[4]), (std::vector<std::string>{"web", "idle", "idle", "starting", "-",
                                                         "-", "-", "-", "-", "-", "0", "-"}));
    // Columns line up: every row's FAILING cell starts where the header's does.
    const auto column = lines[1].find("FAILING");
    EXPECT_EQ(lines[2].find("volume"), column);
    EXPECT_EQ(lines[3].find("rates.freshness"), column);
}

// The table straight from the model the daemon builds: the same as from its JSON.
TEST(status_table, prints_a_model_as_it_prints_its_json) {
    daemon_status status;
    status.state = "stopping";
    query_status q;
    q.pipeline = "sensors";
    q.query = "quality";
    q.nodes = {"quality"};
    q.inputs = {"readings"};
    q.failing_checks = {{"quality", "volume", 1, {}}, {"quality", "fresh", std::nullopt, {}}};
    q.state = "running";
    q.figures = query_figures{.critical = false,
                              .watermark = "2026-11-20T10:01:00.000Z",
                              .lag_seconds = -0.04,
                              .input_records = 7,
                              .invalid_records = 0,
                              .results = 3,
                              .checkpoints = 2};
    q.restarts = 4;
    status.queries = {q};
    std::ostringstream out;
    print_status_table(status, out);
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 3u) << out.str();
    EXPECT_EQ(lines[0], "weir: stopping");
    EXPECT_EQ(cells(lines[2]),
              (std::vector<std::string>{"sensors", "quality", "quality", "running", "no",
                                        "2026-11-20T10:01:00.000Z", "-0.0s", "7", "0", "3", "4",
                                        "volume(1 group),fresh"}));
    std::ostringstream via_json;
    ASSERT_TRUE(render_status(to_json(status), via_json));
    EXPECT_EQ(via_json.str(), out.str());
}

TEST(status_table, refuses_what_is_not_weirs_status) {
    for (const std::string body : {"", "not json", "[]", R"({"state":"running"})",
                                   R"({"queries":{}})", R"({"queries":[1]})"}) {
        std::ostringstream out;
        EXPECT_FALSE(render_status(body, out)) << body;
        EXPECT_TRUE(out.str().empty()) << body;
    }
}

// The status API's failing checks come from the metrics registry: the groups each check's
// results marked failing.
TEST(status_failing_checks, lists_the_checks_with_failing_groups_in_node_order) {
    metrics m;
    auto& volume = m.check("p", "b", "volume", true);
    for (const char* d : {"d1", "d2", "d3"}) {
        volume.set_failing(std::string("device=") + d, failing_group{{{"device", d}}, 1.5});
    }
    m.check("p", "a", "zeta").set_failing("", failing_group{{}, 2});
    m.check("p", "a", "passing").clear_failing("");
    m.check("other", "a", "volume").set_failing("", failing_group{{}, 2});
    const auto f = m.failing_checks("p", {"a", "b", "missing"});
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ((std::tuple{f[0].node, f[0].check, f[0].groups}), (std::tuple{"a", "zeta", 1u}));
    EXPECT_EQ((std::tuple{f[1].node, f[1].check, f[1].groups}), (std::tuple{"b", "volume", 3u}));
    EXPECT_EQ(f[1].sample.size(), 3u);
    for (const char* d : {"d1", "d2", "d3"}) volume.clear_failing(std::string("device=") + d);
    EXPECT_EQ(m.failing_checks("p", {"b"}).size(), 0u);
    m.remove_node("p", "a");
    EXPECT_TRUE(m.failing_checks("p", {"a"}).empty());
}

// The groups a grouped check fails in are named under the table, and survive the JSON.
TEST(status_table, names_the_failing_groups_of_grouped_checks) {
    daemon_status status;
    status.state = "running";
    query_status q;
    q.pipeline = "web";
    q.query = "errors";
    q.nodes = {"errors"};
    q.inputs = {"access"};
    failing_check_status f{"errors", "server_errors", 12, {}};
    f.failing_groups = {{{{"host", "web-3"}}, 0.25}, {{{"host", "web-7"}}, std::nullopt}};
    q.failing_checks = {f, {"errors", "volume", std::nullopt, {}}};
    q.state = "running";
    status.queries = {q};
    std::ostringstream out;
    print_status_table(status, out);
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 4u) << out.str();
    EXPECT_EQ(cells(lines[2]).back(), "server_errors(12 groups),volume");
    EXPECT_EQ(lines[3],
              "web/errors: server_errors fails in 12 groups: host=web-3 (0.25), host=web-7 "
              "(null) and 10 more");
    const auto back = from_json(to_json(status));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, status);
    // Additive: an ungrouped failing check has no "failing_groups" key.
    const std::string json = to_json(status);
    EXPECT_NE(json.find(R"("failing_groups":[{"group":{"host":"web-3"},"value":0.25},)"),
              std::string::npos)
        << json;
    EXPECT_NE(json.find(R"({"node":"errors","check":"volume","groups":null})"), std::string::npos)
        << json;
}

TEST(status_table, names_dependencies_not_up_and_ended_inputs) {
    daemon_status status;
    status.state = "running";
    query_status q;
    q.pipeline = "deps";
    q.query = "n";
    q.nodes = {"n"};
    q.state = "running";
    q.figures = query_figures{};
    q.figures->dependencies = {
        {.node = "n", .input = "orders", .state = "up", .lag_seconds = 0.0},
        {.node = "n", .input = "weather", .state = "held", .lag_seconds = 49.0},
        {.node = "n", .input = "fx", .state = "down", .hold_expired = true}};
    q.figures->ended_inputs = {"export"};
    status.queries = {q};
    std::ostringstream out;
    print_status_table(status, out);
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 6u) << out.str();
    EXPECT_EQ(lines[3], "deps/n: node n: dependency weather held (49.0 s behind)");
    EXPECT_EQ(lines[4],
              "deps/n: node n: dependency fx down (no record yet), its hold ran out (max_hold)");
    EXPECT_EQ(lines[5], "deps/n: ended (end_when): export");
}

}  // namespace
}  // namespace weir::daemon
