// The http (webhook) output against a scripted server on loopback: batches, encodings,
// headers, retries of 5xx and timeouts, permanent 4xx failures, keep-alive reuse.
#include "connectors/http/http_output.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <stdexcept>

#include "connectors/http/http_spec.h"
#include "tests/unit/connectors/http_test_server.h"
#include "tests/unit/connectors/output_test_util.h"

namespace weir::connectors {
namespace {

using namespace weir::connectors::testing;

struct flush_outcome {
    bool called = false;
    bool ok = false;
    std::string error;
    std::size_t requests_seen = 0;  // by the server when done ran
};

struct http_fixture : ::testing::Test {
    boost::asio::io_context io;
    test_http_server server{io};
    output_context ctx{.executor = boost::asio::make_strand(io),
                       .pipeline = "sensors",
                       .output = "hook",
                       .clock = {}};

    std::shared_ptr<output> make(std::vector<std::pair<std::string, params::value>> entries) {
        entries.emplace_back("url", scalar(server.url("/hook?team=a")));
        const params::value v = mapping(std::move(entries));
        return make_http_output(params::reader(*http_output_component().spec, v), ctx);
    }

    flush_outcome flush(output& out) {
        flush_outcome f;
        out.flush([&](bool ok, const std::string& error) {
            f.called = true;
            f.ok = ok;
            f.error = error;
            f.requests_seen = server.requests.size();
        });
        EXPECT_TRUE(run_until(io, [&] { return f.called; }));
        return f;
    }

    static check_result numbered(int i) {
        check_result r = sample_result(outcome::fail);
        r.check = "check_" + std::to_string(i);
        return r;
    }
};

TEST_F(http_fixture, ndjson_batches_with_headers_on_one_connection) {
    params::value headers = mapping({{"X-Scope-OrgID", scalar("team-a")}});
    auto out = make({{"batch_max_records", scalar("2")},
                     {"batch_timeout", scalar("1h")},
                     {"headers", headers},
                     {"bearer_token", scalar("s3cret")}});
    for (int i = 0; i < 3; ++i) out->write_result(numbered(i));
    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(f.requests_seen, 2u) << "flush completes after delivery";
    ASSERT_EQ(server.requests.size(), 2u);
    const recorded_request& first = server.requests[0];
    EXPECT_EQ(first.method, "POST");
    EXPECT_EQ(first.target, "/hook?team=a");
    EXPECT_EQ(first.body, json_line(numbered(0)) + json_line(numbered(1)));
    EXPECT_EQ(server.requests[1].body, json_line(numbered(2)));
    EXPECT_EQ(first.headers.at("content-type"), "application/x-ndjson");
    EXPECT_EQ(first.headers.at("x-scope-orgid"), "team-a");
    EXPECT_EQ(first.headers.at("authorization"), "Bearer s3cret");
    EXPECT_EQ(first.headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(server.connections, 1) << "the connection is kept alive";
    EXPECT_EQ(out->stats().records, 3u);
    EXPECT_EQ(out->stats().errors, 0u);
}

TEST_F(http_fixture, json_array_put_with_basic_auth) {
    auto out =
        make({{"encoding", scalar("json_array")},
              {"method", scalar("PUT")},
              {"basic_auth", mapping({{"user", scalar("weir")}, {"password", scalar("pw")}})}});
    out->write_result(numbered(0));
    out->write_result(numbered(1));
    ASSERT_TRUE(flush(*out).ok);
    ASSERT_EQ(server.requests.size(), 1u);
    std::string a, b;
    append_json(numbered(0), a);
    append_json(numbered(1), b);
    EXPECT_EQ(server.requests[0].method, "PUT");
    EXPECT_EQ(server.requests[0].body, "[" + a + "," + b + "]");
    EXPECT_EQ(server.requests[0].headers.at("content-type"), "application/json");
    EXPECT_EQ(server.requests[0].headers.at("authorization"), "Basic d2Vpcjpwdw==");
}

TEST_F(http_fixture, batch_timeout_sends_without_flush) {
    auto out = make({{"batch_timeout", scalar("20ms")}});
    out->write_result(numbered(0));
    ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 1; }));
    EXPECT_EQ(server.requests[0].body, json_line(numbered(0)));
    out->write_result(numbered(1));
    ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 2; }));
    EXPECT_EQ(server.requests[1].body, json_line(numbered(1)));
}

TEST_F(http_fixture, the_end_of_a_nodes_results_sends_the_open_batch_at_once) {
    auto out = make({{"batch_max_records", scalar("2")}, {"batch_timeout", scalar("1h")}});
    for (int i = 0; i < 3; ++i) out->write_result(numbered(i));
    out->end_of_results();
    // A second end before the strand ran sends nothing more: one batch is open.
    out->end_of_results();
    ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 2; }));
    EXPECT_EQ(server.requests[0].body, json_line(numbered(0)) + json_line(numbered(1)));
    EXPECT_EQ(server.requests[1].body, json_line(numbered(2)));
    EXPECT_TRUE(run_until(io, [&] { return out->pending() == 0; }));
    // Nothing open: an end sends no empty request; the next results wait for their own end.
    out->end_of_results();
    out->write_result(numbered(3));
    run_for(io, std::chrono::milliseconds(50));
    EXPECT_EQ(server.requests.size(), 2u) << "the batch waits for its end or its timeout";
    out->end_of_results();
    ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 3; }));
    EXPECT_EQ(server.requests[2].body, json_line(numbered(3)));
    EXPECT_EQ(out->stats().records, 4u);
}

TEST_F(http_fixture, server_error_is_retried_and_delivered_once) {
    server.statuses = {500, 503};
    auto out = make({{"retry_backoff", scalar("10ms")}});
    out->write_result(numbered(0));
    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    ASSERT_EQ(server.requests.size(), 3u);
    for (const auto& r : server.requests) EXPECT_EQ(r.body, json_line(numbered(0)));
    EXPECT_EQ(out->stats().records, 1u);
    EXPECT_EQ(out->stats().errors, 0u);
    run_for(io, std::chrono::milliseconds(50));
    EXPECT_EQ(server.requests.size(), 3u) << "nothing is sent twice after success";
}

TEST_F(http_fixture, by_default_a_failing_request_is_retried_until_delivered) {
    // Giving results up is an explicit choice (`retries`): by default nothing is lost.
    server.statuses = {503, 503, 503, 503, 503, 503};
    auto out = make({{"retry_backoff", scalar("10ms")}});
    out->write_result(numbered(0));
    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(server.requests.size(), 7u);
    EXPECT_EQ(out->stats().records, 1u);
    EXPECT_EQ(out->stats().errors, 0u);
    EXPECT_EQ(out->blocked(), "") << "delivered: no longer blocked";
}

TEST_F(http_fixture, too_many_requests_is_retried) {
    server.statuses = {429};
    auto out = make({{"retry_backoff", scalar("10ms")}});
    out->write_result(numbered(0));
    EXPECT_TRUE(flush(*out).ok);
    EXPECT_EQ(server.requests.size(), 2u);
}

TEST_F(http_fixture, client_error_is_dropped_and_counted) {
    server.statuses = {400};
    auto out = make({{"retry_backoff", scalar("10ms")}});
    out->write_result(numbered(0));
    flush_outcome f = flush(*out);
    EXPECT_FALSE(f.ok);
    EXPECT_NE(f.error.find("HTTP 400"), std::string::npos) << f.error;
    EXPECT_EQ(server.requests.size(), 1u) << "a 4xx is not retried";
    EXPECT_EQ(out->stats().errors, 1u);
    EXPECT_EQ(out->stats().records, 0u);

    out->write_result(numbered(1));
    f = flush(*out);
    EXPECT_TRUE(f.ok) << "the next batch is not affected: " << f.error;
    EXPECT_EQ(server.requests.back().body, json_line(numbered(1)));
    EXPECT_EQ(out->stats().records, 1u);
}

// A batch given up before any flush asked (sent when a window closed) fails the next flush,
// so that the checkpoint is skipped for it and logged; the flush after that succeeds.
TEST_F(http_fixture, a_batch_given_up_between_flushes_fails_the_next_flush_only) {
    server.statuses = {400};
    auto out = make({{"batch_timeout", scalar("10m")}});
    out->write_result(numbered(0));
    out->end_of_results();
    ASSERT_TRUE(run_until(io, [&] { return out->stats().errors == 1; }));
    flush_outcome f = flush(*out);
    EXPECT_FALSE(f.ok);
    EXPECT_NE(f.error.find("HTTP 400"), std::string::npos) << f.error;
    f = flush(*out);
    EXPECT_TRUE(f.ok) << "reported once: " << f.error;
    out->write_result(numbered(1));
    f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(out->stats().records, 1u);
}

TEST_F(http_fixture, retries_exhausted_gives_up) {
    server.statuses = {503, 503, 503, 503};
    auto out = make({{"retry_backoff", scalar("10ms")}, {"retries", scalar("2")}});
    out->write_result(numbered(0));
    const flush_outcome f = flush(*out);
    EXPECT_FALSE(f.ok);
    EXPECT_NE(f.error.find("HTTP 503"), std::string::npos) << f.error;
    EXPECT_NE(f.error.find("after 2 retries"), std::string::npos) << f.error;
    EXPECT_EQ(server.requests.size(), 3u);
    EXPECT_EQ(out->stats().errors, 1u);
}

TEST_F(http_fixture, unanswered_request_times_out_and_is_retried) {
    server.statuses = {-1};
    auto out = make({{"retry_backoff", scalar("10ms")}, {"timeout", scalar("200ms")}});
    out->write_result(numbered(0));
    const auto start = std::chrono::steady_clock::now();
    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
    ASSERT_EQ(server.requests.size(), 2u);
    EXPECT_EQ(server.requests[1].body, json_line(numbered(0)));
    EXPECT_EQ(server.connections, 2) << "the timed-out connection is not reused";
}

TEST_F(http_fixture, pending_counts_queued_records_and_drop_oldest_spares_the_one_in_flight) {
    server.statuses = {-1};  // the first request hangs until its timeout
    auto out = make({{"batch_max_records", scalar("2")},
                     {"timeout", scalar("300ms")},
                     {"retries", scalar("0")}});
    for (int i = 0; i < 6; ++i) out->write_result(numbered(i));
    EXPECT_EQ(out->pending(), 6u) << "written, none delivered yet";
    ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 1; }));
    EXPECT_EQ(out->pending(), 6u) << "one batch in flight, two queued";
    out->drop_oldest(3);  // whole batches: the two after the one in flight
    run_for(io, std::chrono::milliseconds(20));
    EXPECT_EQ(out->pending(), 2u);
    EXPECT_EQ(out->stats().dropped, 4u);
    const flush_outcome f = flush(*out);
    EXPECT_FALSE(f.ok) << "the hung batch timed out without retries";
    EXPECT_EQ(out->pending(), 0u);
    EXPECT_EQ(server.requests.size(), 1u) << "dropped batches are never sent";
    EXPECT_EQ(out->stats().records, 0u);
}

TEST_F(http_fixture, timeout_after_retries_reports_timed_out) {
    server.statuses = {-1, -1};
    auto out = make({{"retry_backoff", scalar("10ms")},
                     {"timeout", scalar("100ms")},
                     {"retries", scalar("1")}});
    out->write_result(numbered(0));
    const flush_outcome f = flush(*out);
    EXPECT_FALSE(f.ok);
    EXPECT_NE(f.error.find("timed out"), std::string::npos) << f.error;
    EXPECT_EQ(out->stats().errors, 1u);
}

TEST_F(http_fixture, connection_refused_is_retried_then_given_up) {
    boost::asio::ip::tcp::acceptor closed(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const std::string url = "http://127.0.0.1:" + std::to_string(closed.local_endpoint().port());
    closed.close();
    const params::value v = mapping(
        {{"url", scalar(url)}, {"retry_backoff", scalar("10ms")}, {"retries", scalar("2")}});
    auto out = make_http_output(params::reader(*http_output_component().spec, v), ctx);
    out->write_result(numbered(0));
    const flush_outcome f = flush(*out);
    EXPECT_FALSE(f.ok);
    EXPECT_NE(f.error.find("refused"), std::string::npos) << f.error;
    EXPECT_EQ(out->stats().errors, 1u);
}

TEST_F(http_fixture, a_connection_closed_while_idle_is_reopened_transparently) {
    auto out = make({{"retries", scalar("0")}});
    out->write_result(numbered(0));
    ASSERT_TRUE(flush(*out).ok);
    server.close_connections();
    run_for(io, std::chrono::milliseconds(20));
    out->write_result(numbered(1));
    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << "not a retry: retries is 0. " << f.error;
    EXPECT_EQ(server.requests.size(), 2u);
    EXPECT_EQ(server.connections, 2);
    EXPECT_EQ(out->stats().errors, 0u);
}

TEST_F(http_fixture, flush_with_nothing_queued_completes_at_once) {
    auto out = make({});
    EXPECT_TRUE(flush(*out).ok);
    EXPECT_TRUE(server.requests.empty());
}

TEST_F(http_fixture, stop_delivers_what_is_queued) {
    auto out = make({{"batch_timeout", scalar("1h")}});
    out->write_result(numbered(0));
    bool stopped = false;
    out->stop([&] { stopped = true; });
    ASSERT_TRUE(run_until(io, [&] { return stopped; }));
    EXPECT_EQ(server.requests.size(), 1u);
    out->write_result(numbered(1));
    run_for(io, std::chrono::milliseconds(30));
    EXPECT_EQ(server.requests.size(), 1u) << "ignored after stop";
}

TEST_F(http_fixture, https_outputs_read_their_tls_files_at_start) {
    const auto spec = http_output_component().spec;
    // The system's authorities by default.
    EXPECT_NO_THROW(make_http_output(
        params::reader(*spec, mapping({{"url", scalar("https://example.com/hook")}})), ctx));
    // A file that cannot be used stops the output at start, named in the message.
    const params::value missing_ca =
        mapping({{"url", scalar("https://example.com/hook")},
                 {"tls", mapping({{"ca_file", scalar("/nonexistent/weir-ca.pem")}})}});
    try {
        make_http_output(params::reader(*spec, missing_ca), ctx);
        ADD_FAILURE() << "a missing ca_file was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("tls.ca_file /nonexistent/weir-ca.pem"),
                  std::string::npos)
            << e.what();
    }
}

TEST(http_url, parses_hosts_ports_and_targets) {
    std::string error;
    auto u = http_url::parse("http://127.0.0.1:9093", error);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "127.0.0.1");
    EXPECT_EQ(u->port, "9093");
    EXPECT_EQ(u->target, "/");
    EXPECT_EQ(u->host_header, "127.0.0.1:9093");
    u = http_url::parse("http://[::1]/a/b?c=d#frag", error);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "::1");
    EXPECT_EQ(u->port, "80");
    EXPECT_EQ(u->target, "/a/b?c=d");
    EXPECT_EQ(u->host_header, "[::1]");
    u = http_url::parse("http://h?x=1", error);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->target, "/?x=1");
    EXPECT_FALSE(http_url::parse("http://h:99999/", error));
    EXPECT_FALSE(http_url::parse("http://user:pw@h/", error));
    EXPECT_FALSE(http_url::parse("ftp://h/", error));
    EXPECT_NE(error.find("expected an http:// or https:// URL"), std::string::npos);
    EXPECT_FALSE(u->tls);
    u = http_url::parse("https://hooks.example.com/services/T0/B1", error);
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->tls);
    EXPECT_EQ(u->port, "443");
    EXPECT_EQ(u->host_header, "hooks.example.com");
    EXPECT_EQ(u->to_string(), "https://hooks.example.com/services/T0/B1");
    u = http_url::parse("https://127.0.0.1:8443", error);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host_header, "127.0.0.1:8443");
    u = http_url::parse("http://h:443/", error);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host_header, "h:443");
    EXPECT_EQ(u->to_string(), "http://h:443/");
}

}  // namespace
}  // namespace weir::connectors
