// The alertmanager output against a fake Alertmanager on loopback: firing alerts and their
// labels, re-sending, resolution, severities, no_data, label sanitising and retries.
#include "connectors/http/alertmanager_output.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include "connectors/http/http_spec.h"
#include "tests/unit/connectors/http_test_server.h"
#include "tests/unit/connectors/output_test_util.h"

namespace weir::connectors {
namespace {

using json = nlohmann::json;
using namespace weir::connectors::testing;

struct alertmanager_fixture : ::testing::Test {
    boost::asio::io_context io;
    test_http_server server{io};
    // The wall clock: 2026-11-20T10:05:00Z, moved by the tests.
    time::timestamp_ns wall = t0 + 300 * time::ns_per_s;
    output_context ctx{.executor = boost::asio::make_strand(io),
                       .pipeline = "sensors",
                       .output = "alerts",
                       .clock = [this] { return wall; }};

    std::shared_ptr<output> make(std::vector<std::pair<std::string, params::value>> entries,
                                 const std::string& path = "") {
        entries.emplace_back("url", scalar(server.url(path)));
        const params::value v = mapping(std::move(entries));
        return make_alertmanager_output(params::reader(*alertmanager_output_component().spec, v),
                                        ctx);
    }

    bool flush(output& out) {
        const flush_answer a = flush_and_wait(io, out);
        EXPECT_TRUE(a.answered);
        return a.ok;
    }

    // Every alert of every request, in order.
    std::vector<json> alerts() const {
        std::vector<json> out;
        for (const auto& r : server.requests) {
            const json body = json::parse(r.body);
            EXPECT_TRUE(body.is_array());
            for (const auto& a : body) out.push_back(a);
        }
        return out;
    }

    static std::string at(time::timestamp_ns t) { return time::format_rfc3339_ms(t); }
};

TEST_F(alertmanager_fixture, failing_check_fires_an_alert_with_labels_and_annotations) {
    auto out = make({{"labels", mapping({{"team", scalar("data")}, {"env-name", scalar("prod")}})},
                     {"annotations", mapping({{"runbook_url", scalar("http://wiki/rb")}})},
                     {"generator_url", scalar("http://grafana/d/weir")},
                     {"resolve_timeout", scalar("5m")}});
    out->write_result(sample_result(outcome::fail));
    ASSERT_TRUE(flush(*out));
    ASSERT_EQ(server.requests.size(), 1u);
    EXPECT_EQ(server.requests[0].method, "POST");
    EXPECT_EQ(server.requests[0].target, "/api/v2/alerts");
    EXPECT_EQ(server.requests[0].headers.at("content-type"), "application/json");
    const auto all = alerts();
    ASSERT_EQ(all.size(), 1u);
    const json& a = all[0];
    EXPECT_EQ(a["labels"], json({{"alertname", "weir_check_failed"},
                                 {"pipeline", "sensors"},
                                 {"node", "quality"},
                                 {"check", "volume"},
                                 {"device_id", "d-17"},
                                 {"severity", "critical"},
                                 {"team", "data"},
                                 {"env_name", "prod"}}));
    EXPECT_EQ(a["annotations"]["value"], "42");
    EXPECT_EQ(a["annotations"]["measure"], "count()");
    EXPECT_EQ(a["annotations"]["must_be"], "> 50");
    EXPECT_EQ(a["annotations"]["window_start"], "2026-11-20T10:00:00.000Z");
    EXPECT_EQ(a["annotations"]["window_end"], "2026-11-20T10:01:00.000Z");
    EXPECT_EQ(a["annotations"]["records"], "42");
    EXPECT_EQ(a["annotations"]["result_id"], result_id(sample_result()));
    EXPECT_EQ(a["annotations"]["runbook_url"], "http://wiki/rb");
    EXPECT_EQ(
        a["annotations"]["summary"],
        "check volume failed on sensors/quality {device_id=d-17}: count() = 42, must be > 50");
    EXPECT_EQ(a["startsAt"], "2026-11-20T10:00:00.000Z");
    EXPECT_EQ(a["endsAt"], at(wall + 300 * time::ns_per_s));
    EXPECT_EQ(a["generatorURL"], "http://grafana/d/weir");
    EXPECT_EQ(a.size(), 5u) << a.dump();
    EXPECT_EQ(out->stats().records, 1u);
}

TEST_F(alertmanager_fixture, schema_drift_alerts_name_the_fields) {
    auto out = make({});
    check_result r = sample_result(outcome::fail);
    r.measure = "missing_fields()";
    r.fields = {"amount", "customer.id"};
    out->write_result(r);
    ASSERT_TRUE(flush(*out));
    const auto all = alerts();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0]["annotations"]["fields"], "amount, customer.id");
    EXPECT_TRUE(all[0]["annotations"]["description"].get<std::string>().ends_with(
        " Fields: amount, customer.id."))
        << all[0].dump();
}

TEST_F(alertmanager_fixture, results_without_a_dependencys_data_say_so_in_an_annotation) {
    auto out = make({});
    check_result r = sample_result(outcome::fail);
    r.dependency_down = {"weather"};
    out->write_result(r);
    ASSERT_TRUE(flush(*out));
    const auto all = alerts();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0]["annotations"]["dependency_down"], "weather");
    EXPECT_FALSE(all[0]["labels"].contains("dependency_down")) << "the same alert either way";
    EXPECT_NE(all[0]["annotations"]["description"].get<std::string>().find(
                  "without the data of dependencies that were down: weather"),
              std::string::npos)
        << all[0].dump();
}

TEST_F(alertmanager_fixture, checks_against_history_carry_their_evidence) {
    auto out = make({});
    check_result r = sample_result(outcome::fail);
    r.measure = "count()";
    r.value = measure_value::make_number(40);
    r.must_be = "relative change vs 1w > -30%";
    auto e = std::make_shared<expected_evidence>();
    e->value = 100;
    e->low = 70;
    e->high = std::numeric_limits<double>::infinity();
    e->tested = "relative_change";
    e->tested_value = -0.6;
    e->history = 1;
    e->reference = 1'763'028'000'000'000'000;  // 2025-11-13T10:00:00Z
    r.expected = e;
    out->write_result(r);
    ASSERT_TRUE(flush(*out));
    const auto all = alerts();
    ASSERT_EQ(all.size(), 1u);
    const auto& notes = all[0]["annotations"];
    const json expected = json::parse(notes["expected"].get<std::string>());
    EXPECT_EQ(expected["value"], 100);
    EXPECT_EQ(expected["low"], 70);
    EXPECT_FALSE(expected.contains("high"));
    EXPECT_EQ(expected["relative_change"], -0.6);
    EXPECT_EQ(expected["reference"], "2025-11-13T10:00:00.000Z");
    const std::string description = notes["description"];
    EXPECT_NE(description.find("Judged against its history: expected 100 (at least 70), change "
                               "-60 % vs 2025-11-13T10:00Z."),
              std::string::npos)
        << description;
    EXPECT_NE(notes["summary"].get<std::string>().find("must be relative change vs 1w > -30 %"),
              std::string::npos)
        << notes["summary"];
}

TEST_F(alertmanager_fixture, reconciliations_say_which_keys_are_missing) {
    auto out = make({});
    check_result r = sample_result(outcome::fail);
    r.measure = "reconcile(orders.id, payments.id, missing_right)";
    r.value = measure_value::make_number(2);
    r.must_be = "== 0";
    auto s = std::make_shared<reconciliation_summary>();
    s->left = "orders";
    s->right = "payments";
    s->matched = 7;
    s->missing_right = 2;
    s->sample_missing_right = {"12", "\"a-9\""};
    r.reconciliation = s;
    out->write_result(r);
    ASSERT_TRUE(flush(*out));
    const auto all = alerts();
    ASSERT_EQ(all.size(), 1u);
    const auto& notes = all[0]["annotations"];
    const json keys = json::parse(notes["reconciliation"].get<std::string>());
    EXPECT_EQ(keys["left"], "orders");
    EXPECT_EQ(keys["matched"], 7);
    EXPECT_EQ(keys["missing_right"], 2);
    EXPECT_EQ(keys["sample_missing_right"], json::parse(R"([12, "a-9"])"));
    EXPECT_FALSE(keys.contains("sample_missing_left"));
    EXPECT_TRUE(notes["description"].get<std::string>().ends_with(
        " Keys: 7 matched; 2 orders keys missing in payments (12, \"a-9\"); 0 payments keys "
        "missing in orders."))
        << notes["description"];
}

TEST_F(alertmanager_fixture, failed_value_samples_are_one_annotation) {
    auto out = make({});
    check_result r = sample_result(outcome::fail);
    r.measure = "missing_fraction(t)";
    r.samples = {R"({"time":"2026-11-20T10:00:01.000Z","t":null})",
                 R"({"time":"2026-11-20T10:00:02.000Z","t":null})"};
    out->write_result(r);
    ASSERT_TRUE(flush(*out));
    const auto all = alerts();
    ASSERT_FALSE(all.empty());
    const json samples = json::parse(all[0]["annotations"]["samples"].get<std::string>());
    EXPECT_EQ(samples, json::parse(R"([{"time":"2026-11-20T10:00:01.000Z","t":null},
                                       {"time":"2026-11-20T10:00:02.000Z","t":null}])"));
    check_result plain = sample_result(outcome::fail);
    plain.check = "other";
    out->write_result(plain);
    ASSERT_TRUE(flush(*out));
    for (const auto& a : alerts()) {
        if (a["labels"]["check"] == "other") {
            EXPECT_FALSE(a["annotations"].contains("samples"));
        }
    }
}

TEST_F(alertmanager_fixture, firing_alerts_are_resent_and_resolve_when_the_check_passes) {
    auto out = make({{"resend_interval", scalar("50ms")}, {"resolve_timeout", scalar("10m")}});
    out->write_result(sample_result(outcome::fail));
    ASSERT_TRUE(flush(*out));
    // Still failing, with a new value: no immediate send, the resend carries it.
    check_result again = sample_result(outcome::fail);
    again.window_start += 60 * time::ns_per_s;
    again.window_end += 60 * time::ns_per_s;
    again.value = measure_value::make_number(7);
    out->write_result(again);
    wall += 60 * time::ns_per_s;
    ASSERT_TRUE(run_until(io, [&] { return server.requests.size() >= 3; }));
    auto all = alerts();
    EXPECT_EQ(all[1]["labels"], all[0]["labels"]) << "the same alert";
    EXPECT_EQ(all[1]["startsAt"], all[0]["startsAt"]) << "startsAt stays the first window's";
    EXPECT_EQ(all[1]["annotations"]["value"], "7");
    EXPECT_EQ(all[1]["endsAt"], at(wall + 600 * time::ns_per_s));

    wall += 60 * time::ns_per_s;
    out->write_result(sample_result(outcome::pass));
    ASSERT_TRUE(flush(*out));
    all = alerts();
    const json& resolved = all.back();
    EXPECT_EQ(resolved["labels"], all[0]["labels"]);
    EXPECT_EQ(resolved["endsAt"], at(wall)) << "endsAt = now: resolved";
    EXPECT_EQ(resolved["startsAt"], all[0]["startsAt"]);
    const std::size_t requests = server.requests.size();
    run_for(io, std::chrono::milliseconds(200));
    EXPECT_EQ(server.requests.size(), requests) << "a resolved alert is forgotten";
}

TEST_F(alertmanager_fixture, passing_results_without_an_alert_send_nothing) {
    auto out = make({});
    out->write_result(sample_result(outcome::pass));
    out->write_result(sample_result(outcome::no_data));
    ASSERT_TRUE(flush(*out));
    EXPECT_TRUE(server.requests.empty());
}

TEST_F(alertmanager_fixture, no_data_keeps_the_alert_firing) {
    auto out = make({{"resend_interval", scalar("30ms")}});
    out->write_result(sample_result(outcome::fail));
    out->write_result(sample_result(outcome::no_data));
    ASSERT_TRUE(flush(*out));
    ASSERT_TRUE(run_until(io, [&] { return server.requests.size() >= 3; }));
    for (const json& a : alerts()) {
        EXPECT_EQ(a["endsAt"], at(wall + 300 * time::ns_per_s)) << "never resolved";
    }
}

TEST_F(alertmanager_fixture, warnings_raise_alerts_only_with_min_severity_warn) {
    auto out = make({});
    out->write_result(sample_result(outcome::warn));
    ASSERT_TRUE(flush(*out));
    EXPECT_TRUE(server.requests.empty());

    auto warn = make({{"min_severity", scalar("warn")}});
    warn->write_result(sample_result(outcome::warn));
    ASSERT_TRUE(flush(*warn));
    ASSERT_EQ(alerts().size(), 1u);
    EXPECT_EQ(alerts()[0]["labels"]["severity"], "warning");
    EXPECT_NE(alerts()[0]["annotations"]["summary"].get<std::string>().find("warned"),
              std::string::npos);

    // warn -> fail: the warn alert resolves and a fail alert starts, in one request.
    wall += time::ns_per_s;
    warn->write_result(sample_result(outcome::fail));
    ASSERT_TRUE(flush(*warn));
    ASSERT_EQ(server.requests.size(), 2u);
    const json second = json::parse(server.requests[1].body);
    ASSERT_EQ(second.size(), 2u);
    EXPECT_EQ(second[0]["labels"]["severity"], "warning");
    EXPECT_EQ(second[0]["endsAt"], at(wall));
    EXPECT_EQ(second[1]["labels"]["severity"], "critical");
    EXPECT_EQ(second[1]["endsAt"], at(wall + 300 * time::ns_per_s));
}

TEST_F(alertmanager_fixture, severity_map_and_a_static_severity_label) {
    auto mapped = make(
        {{"min_severity", scalar("warn")}, {"severity_map", mapping({{"fail", scalar("page")}})}});
    mapped->write_result(sample_result(outcome::fail, "a"));
    mapped->write_result(sample_result(outcome::warn, "b"));
    ASSERT_TRUE(flush(*mapped));
    auto all = alerts();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0]["labels"]["severity"], "page");
    EXPECT_EQ(all[1]["labels"]["severity"], "warning") << "the default of the other outcome";
    server.requests.clear();
    auto fixed = make({{"labels", mapping({{"severity", scalar("ticket")}})}});
    fixed->write_result(sample_result(outcome::fail, "c"));
    ASSERT_TRUE(flush(*fixed));
    all = alerts();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0]["labels"]["severity"], "ticket") << "a user's severity label wins";
}

// Labels: weir's, then the output's, then the check's (the check wins); annotations likewise.
TEST_F(alertmanager_fixture, check_labels_and_annotations_win_over_the_outputs) {
    auto out = make({{"labels", mapping({{"team", scalar("data")}, {"env", scalar("prod")}})},
                     {"annotations", mapping({{"runbook_url", scalar("http://wiki/all")},
                                              {"dashboard", scalar("http://grafana/d/w")}})}});
    auto meta = std::make_shared<check_metadata>();
    meta->labels = {{"team", "payments"}, {"tier", "1"}};
    meta->annotations = {{"description", "Share of 5xx responses per host"},
                         {"owner", "payments-oncall"},
                         {"runbook_url", "https://runbooks.example/server-errors"}};
    check_result r = sample_result(outcome::fail);
    r.metadata = meta;
    out->write_result(r);
    check_result plain = sample_result(outcome::fail, "d-18");
    out->write_result(plain);
    ASSERT_TRUE(flush(*out));
    const auto all = alerts();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0]["labels"], json({{"alertname", "weir_check_failed"},
                                      {"pipeline", "sensors"},
                                      {"node", "quality"},
                                      {"check", "volume"},
                                      {"device_id", "d-17"},
                                      {"severity", "critical"},
                                      {"team", "payments"},
                                      {"tier", "1"},
                                      {"env", "prod"}}));
    const json& notes = all[0]["annotations"];
    EXPECT_EQ(notes["runbook_url"], "https://runbooks.example/server-errors");
    EXPECT_EQ(notes["owner"], "payments-oncall");
    EXPECT_EQ(notes["description"], "Share of 5xx responses per host");
    EXPECT_EQ(notes["dashboard"], "http://grafana/d/w") << "the output's, not replaced";
    EXPECT_TRUE(notes["summary"].get<std::string>().starts_with("check volume failed"));
    // A result without metadata keeps the output's labels and weir's description.
    EXPECT_EQ(all[1]["labels"]["team"], "data");
    EXPECT_FALSE(all[1]["labels"].contains("tier"));
    EXPECT_EQ(all[1]["annotations"]["runbook_url"], "http://wiki/all");
    EXPECT_TRUE(
        all[1]["annotations"]["description"].get<std::string>().starts_with("In the window from"));
}

TEST_F(alertmanager_fixture, a_check_severity_label_replaces_the_outputs_severity) {
    auto out = make({{"severity_map", mapping({{"fail", scalar("page")}})},
                     {"labels", mapping({{"team", scalar("data")}})}});
    auto meta = std::make_shared<check_metadata>();
    meta->labels = {{"severity", "info"}};
    check_result r = sample_result(outcome::fail, "a");
    r.metadata = meta;
    out->write_result(r);
    out->write_result(sample_result(outcome::fail, "b"));
    ASSERT_TRUE(flush(*out));
    auto all = alerts();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0]["labels"]["severity"], "info");
    EXPECT_EQ(all[1]["labels"]["severity"], "page");
    // Over an output's own severity label too; the alert is kept while the check still fails.
    server.requests.clear();
    auto fixed = make({{"labels", mapping({{"severity", scalar("ticket")}})}});
    fixed->write_result(r);
    fixed->write_result(r);
    ASSERT_TRUE(flush(*fixed));
    all = alerts();
    ASSERT_EQ(all.size(), 1u) << "still failing: no second alert until the resend";
    EXPECT_EQ(all[0]["labels"]["severity"], "info");
}

TEST_F(alertmanager_fixture, summaries_show_values_in_the_assessments_unit) {
    auto out = make({});
    check_result r = sample_result(outcome::fail, "");
    r.check = "server_errors";
    r.measure = "fraction_where(status >= 500)";
    r.value = measure_value::make_number(0.26666666666666666);
    r.must_be = "< 20%";
    out->write_result(r);
    ASSERT_TRUE(flush(*out));
    const auto all = alerts();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0]["annotations"]["summary"],
              "check server_errors failed on sensors/quality: fraction_where(status >= 500) = "
              "26.7 %, must be < 20 %");
    EXPECT_EQ(all[0]["annotations"]["must_be"], "< 20%") << "as written";
}

TEST_F(alertmanager_fixture, a_warning_resolves_a_fail_alert_below_min_severity) {
    auto out = make({});
    out->write_result(sample_result(outcome::fail));
    out->write_result(sample_result(outcome::warn));
    ASSERT_TRUE(flush(*out));
    const auto all = alerts();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[1]["endsAt"], at(wall));
}

TEST_F(alertmanager_fixture, groups_are_separate_alerts_with_sanitised_labels) {
    auto out =
        make({{"labels", mapping({{"node", scalar("static")}, {"alertname", scalar("DQ")}})}});
    check_result r = sample_result(outcome::fail, "");
    r.group = {{"device.id", measure_value::make_string("a")},
               {"1zone", measure_value::make_number(3)},
               {"node", measure_value::make_boolean(true)},
               {"device_id", measure_value::make_null()}};
    out->write_result(r);
    check_result other = sample_result(outcome::fail, "d-18");
    out->write_result(other);
    ASSERT_TRUE(flush(*out));
    ASSERT_EQ(server.requests.size(), 1u) << "one burst, one request";
    const auto all = alerts();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0]["labels"], json({{"alertname", "DQ"},
                                      {"pipeline", "sensors"},
                                      {"node", "quality"},
                                      {"check", "volume"},
                                      {"severity", "critical"},
                                      {"device_id", "a"},
                                      {"_1zone", "3"},
                                      {"group_node", "true"},
                                      {"device_id_", "null"}}));
    EXPECT_EQ(all[1]["labels"]["device_id"], "d-18");
}

TEST_F(alertmanager_fixture, starts_at_is_never_in_the_future) {
    auto out = make({});
    wall = t0 - time::ns_per_s;  // event time ahead of this machine's clock
    out->write_result(sample_result(outcome::fail));
    out->write_result(sample_result(outcome::pass));
    ASSERT_TRUE(flush(*out));
    const auto all = alerts();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0]["startsAt"], at(wall));
    EXPECT_EQ(all[1]["endsAt"], at(wall)) << "endsAt is not before startsAt";
}

TEST_F(alertmanager_fixture, base_path_and_retries) {
    server.statuses = {503};
    auto out = make({{"retries", scalar("1")}}, "/am/");
    out->write_result(sample_result(outcome::fail));
    // The first retry waits the default back-off (1s).
    ASSERT_TRUE(flush(*out));
    ASSERT_EQ(server.requests.size(), 2u);
    EXPECT_EQ(server.requests[1].target, "/am/api/v2/alerts");
    EXPECT_EQ(server.requests[1].body, server.requests[0].body);
    EXPECT_EQ(out->stats().errors, 0u);
}

TEST_F(alertmanager_fixture, a_down_alertmanager_holds_alerts_as_back_pressure_until_delivered) {
    // The default: no `retries`, so nothing is given up (the delivery queue is the http
    // output's, tested there with more failures); what waits is back-pressure.
    server.statuses = {503, 503};
    auto out = make({});
    out->write_result(sample_result(outcome::fail));
    ASSERT_TRUE(
        run_until(io, [&] { return server.requests.size() >= 1 && !out->blocked().empty(); }));
    EXPECT_EQ(out->pending(), 1u);
    EXPECT_NE(out->blocked().find("HTTP 503"), std::string::npos) << out->blocked();
    ASSERT_TRUE(flush(*out));  // after 1 s and 2 s of back-off
    EXPECT_EQ(server.requests.size(), 3u);
    EXPECT_EQ(out->pending(), 0u);
    EXPECT_EQ(out->blocked(), "");
    EXPECT_EQ(out->stats().errors, 0u);
}

// Alerts are sent as results come, not at a flush: a request Alertmanager refused (400, not
// retried) before any flush asked fails the next flush, so that the checkpoint is skipped for
// it and logged, and only that one.
TEST_F(alertmanager_fixture, alerts_refused_between_flushes_fail_the_next_flush_only) {
    server.statuses = {400};
    auto out = make({});
    out->write_result(sample_result(outcome::fail));
    ASSERT_TRUE(run_until(io, [&] { return out->stats().errors == 1; }));
    const flush_answer refused = flush_and_wait(io, *out);
    ASSERT_TRUE(refused.answered);
    EXPECT_FALSE(refused.ok);
    EXPECT_NE(refused.error.find("HTTP 400"), std::string::npos) << refused.error;
    EXPECT_TRUE(flush(*out)) << "the refused request is reported once";
    EXPECT_EQ(out->stats().errors, 1u);
}

TEST_F(alertmanager_fixture, stop_sends_what_is_pending_and_stops_resending) {
    auto out = make({{"resend_interval", scalar("20ms")}});
    out->write_result(sample_result(outcome::fail));
    bool stopped = false;
    out->stop([&] { stopped = true; });
    ASSERT_TRUE(run_until(io, [&] { return stopped; }));
    EXPECT_EQ(server.requests.size(), 1u);
    run_for(io, std::chrono::milliseconds(100));
    EXPECT_EQ(server.requests.size(), 1u);
}

TEST(alertmanager, sanitize_label_name) {
    EXPECT_EQ(sanitize_label_name("device_id"), "device_id");
    EXPECT_EQ(sanitize_label_name("device.id"), "device_id");
    EXPECT_EQ(sanitize_label_name("a[\"odd key\"]"), "a__odd_key__");
    EXPECT_EQ(sanitize_label_name("9lives"), "_9lives");
    EXPECT_EQ(sanitize_label_name(""), "_");
    EXPECT_EQ(sanitize_label_name("Zürich"), "Z__rich");
}

}  // namespace
}  // namespace weir::connectors
