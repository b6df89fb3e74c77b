// Tests of the live taps' bounds (the rate limiter, the session's buffer cap and drop counts,
// the hub's cap on open taps), of GET /api/v1/tap's refusals, and of `weir top`'s screen.
#include "daemon/tap.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "daemon/live_views.h"

namespace weir::daemon {
namespace {

constexpr std::int64_t k_second = 1'000'000'000;

std::size_t count_of(const std::string& text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST(rate_limiter, allows_a_burst_then_the_rate) {
    rate_limiter r(10, 10, 0);
    int taken = 0;
    for (int i = 0; i < 100; ++i) taken += r.take(0);
    EXPECT_EQ(taken, 10);                 // the burst
    EXPECT_FALSE(r.take(k_second / 20));  // half a token in 50 ms
    EXPECT_TRUE(r.take(k_second / 10));   // one token in 100 ms
    EXPECT_FALSE(r.take(k_second / 10));
    // A long pause saves up no more than the burst.
    taken = 0;
    for (int i = 0; i < 100; ++i) taken += r.take(100 * k_second);
    EXPECT_EQ(taken, 10);
}

TEST(rate_limiter, never_gives_more_than_rate_times_time_plus_burst) {
    rate_limiter r(50, 5, 0);
    int taken = 0;
    // Offered 1000 a second for 10 s.
    for (std::int64_t t = 0; t <= 10 * k_second; t += k_second / 1000) taken += r.take(t);
    EXPECT_LE(taken, 50 * 10 + 5);
    EXPECT_GE(taken, 50 * 10 - 1);
}

TEST(tap_session, drops_and_counts_beyond_its_rate) {
    tap_session s(tap_kind::records, tap_limits{.rate = 3, .buffer_bytes = 1 << 20}, 0);
    for (int i = 0; i < 10; ++i) {
        if (s.admit(0)) s.push(R"({"x":1})");
    }
    const std::string text = s.take();
    EXPECT_EQ(count_of(text, "event: record\ndata: {\"x\":1}\n\n"), 3u);
    EXPECT_NE(text.find("event: dropped\ndata: {\"dropped\":7,\"dropped_total\":7}\n\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(s.take(), "");  // dropped once told, and nothing new
    EXPECT_EQ(s.dropped_total(), 7u);
}

TEST(tap_session, holds_at_most_its_buffer_for_a_slow_reader) {
    tap_session s(tap_kind::results, tap_limits{.rate = 1e9, .buffer_bytes = 1000}, 0);
    const std::string item(100, 'a');
    const std::string json = "\"" + item + "\"";
    for (int i = 0; i < 1000; ++i) {
        if (s.admit(i)) s.push(json);
    }
    const std::string text = s.take();
    EXPECT_LE(text.size(), 1000u + 100u);  // the buffer, and the note of what was dropped
    const std::size_t kept = count_of(text, "event: result\n");
    EXPECT_GT(kept, 0u);
    EXPECT_EQ(kept + s.dropped_total(), 1000u);
    // Once read, there is room again.
    s.push(json);
    EXPECT_EQ(count_of(s.take(), "event: result\n"), 1u);
}

TEST(tap_session, keeps_one_event_per_line) {
    tap_session s(tap_kind::records, tap_limits{}, 0);
    s.push("{\"a\":\"x\"}\r\n");
    EXPECT_EQ(s.take(), "event: record\ndata: {\"a\":\"x\"}  \n\n");
}

TEST(tap_point, is_wanted_only_while_a_session_of_that_kind_is_attached) {
    tap_hub hub(2);
    auto point = hub.point("p", "n");
    EXPECT_FALSE(point->wanted(tap_kind::records));
    EXPECT_FALSE(point->offer(tap_kind::records, "{}"));
    {
        auto h = hub.open("p", "n", tap_kind::records, tap_limits{.rate = 2});
        ASSERT_TRUE(h);
        EXPECT_TRUE(point->wanted(tap_kind::records));
        EXPECT_FALSE(point->wanted(tap_kind::results));
        EXPECT_TRUE(point->offer(tap_kind::records, "{\"i\":1}"));
        EXPECT_TRUE(point->offer(tap_kind::records, "{\"i\":2}"));
        EXPECT_FALSE(point->offer(tap_kind::records, "{\"i\":3}"));  // beyond the rate
        EXPECT_FALSE(point->offer(tap_kind::results, "{}"));
        const std::string text = h->session().take();
        EXPECT_EQ(count_of(text, "event: record\n"), 2u);
        EXPECT_EQ(hub.open_sessions(), 1u);
    }
    EXPECT_FALSE(point->wanted(tap_kind::records));
    EXPECT_EQ(hub.open_sessions(), 0u);
    EXPECT_EQ(hub.point("p", "n"), point);  // the same point for a query restarted later
}

TEST(tap_hub, refuses_beyond_its_sessions) {
    tap_hub hub(2);
    auto a = hub.open("p", "n", tap_kind::records, {});
    auto b = hub.open("p", "m", tap_kind::results, {});
    EXPECT_TRUE(a && b);
    EXPECT_FALSE(hub.open("p", "n", tap_kind::records, {}));
    a.reset();
    EXPECT_TRUE(hub.open("p", "n", tap_kind::records, {}));
}

TEST(query_parameter, reads_and_decodes_values) {
    const std::string t = "/api/v1/tap?pipeline=my%20p&node=a+b&kind=&x";
    EXPECT_EQ(query_parameter(t, "pipeline"), "my p");
    EXPECT_EQ(query_parameter(t, "node"), "a b");
    EXPECT_EQ(query_parameter(t, "kind"), "");
    EXPECT_EQ(query_parameter(t, "x"), "");
    EXPECT_EQ(query_parameter(t, "rate"), std::nullopt);
    EXPECT_EQ(query_parameter("/api/v1/tap", "node"), std::nullopt);
}

struct open_tap_case {
    tap_settings settings;
    std::string target;
    bool loopback;
    unsigned status;
    std::string message;  // a part of it
};

TEST(open_tap, refuses_with_a_reason) {
    const tap_settings on{.enabled = true};
    const std::vector<open_tap_case> cases = {
        {{}, "/api/v1/tap?pipeline=p&node=n", true, 403, "http.tap: true"},
        {on, "/api/v1/tap?pipeline=p&node=n", false, 403, "http.tap_remote"},
        {on, "/api/v1/tap?pipeline=p", true, 400, "?pipeline=PIPELINE&node=NODE"},
        {on, "/api/v1/tap?pipeline=p&node=n&kind=rows", true, 400, "kind"},
        {on, "/api/v1/tap?pipeline=p&node=n&rate=-1", true, 400, "rate"},
        {on, "/api/v1/tap?pipeline=p&node=zz", true, 404, "no node \"zz\""},
    };
    for (const auto& c : cases) {
        tap_hub hub;
        const auto answer = open_tap(hub, c.settings, c.target, c.loopback,
                                     [](std::string_view, std::string_view node, tap_kind) {
                                         return node == "n" ? "" : "no node \"zz\"";
                                     });
        EXPECT_FALSE(answer.stream) << c.target;
        EXPECT_EQ(answer.status, c.status) << c.target;
        EXPECT_NE(answer.message.find(c.message), std::string::npos) << answer.message;
        EXPECT_EQ(hub.open_sessions(), 0u);
    }
}

TEST(open_tap, opens_a_stream_that_ends_its_session_when_dropped) {
    tap_hub hub;
    const tap_settings on{.enabled = true, .remote = true, .max_rate = 5};
    auto answer = open_tap(hub, on, "/api/v1/tap?pipeline=p&node=n&kind=results&rate=50", false,
                           [](auto, auto, auto) { return std::string(); });
    ASSERT_TRUE(answer.stream);
    EXPECT_EQ(hub.open_sessions(), 1u);
    auto point = hub.point("p", "n");
    EXPECT_TRUE(point->wanted(tap_kind::results));
    int offered = 0;
    while (point->offer(tap_kind::results, "{}")) ++offered;
    EXPECT_EQ(offered, 5);  // the settings' rate caps the one asked for
    EXPECT_EQ(count_of(answer.stream->poll(), "event: result\n"), 5u);
    answer.stream.reset();
    EXPECT_EQ(hub.open_sessions(), 0u);
    EXPECT_FALSE(point->wanted(tap_kind::results));
}

daemon_status sample_status(std::uint64_t records) {
    daemon_status s;
    s.state = "running";
    query_status q;
    q.pipeline = "sensors_with_a_rather_long_pipeline_name";
    q.query = "quality";
    q.nodes = {"parse", "quality"};
    q.state = "degraded";
    q.degraded_reason = "outputs full (back-pressure)";
    q.failing_checks = {{"quality", "volume", 3}, {"quality", "impossible", std::nullopt}};
    q.restarts = 2;
    query_figures& f = q.figures.emplace();
    f.input_records = records;
    f.invalid_records = 4;
    f.lag_seconds = 75.5;
    s.queries.push_back(q);
    query_status idle;
    idle.pipeline = "orders";
    idle.query = "orders";
    idle.state = "starting";
    s.queries.push_back(idle);
    return s;
}

TEST(render_top, shows_rates_lag_failing_checks_within_the_width) {
    const auto before = sample_status(1000);
    const auto now = sample_status(3500);
    const std::string screen = render_top(now, &before, 2.0);
    std::istringstream in(screen);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    for (const auto& l : lines) EXPECT_LE(l.size(), 100u) << l;
    ASSERT_GE(lines.size(), 5u);
    EXPECT_NE(lines[0].find("weir: running, 2 queries, 2 failing checks"), std::string::npos);
    EXPECT_NE(lines[2].find("QUERY"), std::string::npos);
    // 2500 records in 2 s; 75.5 s behind; two failing checks; two restarts.
    EXPECT_NE(lines[3].find("sensors_with_a_rather_long_pi~"), std::string::npos) << lines[3];
    EXPECT_NE(lines[3].find("1250"), std::string::npos) << lines[3];
    EXPECT_NE(lines[3].find("1m15s"), std::string::npos) << lines[3];
    EXPECT_NE(lines[3].find("degraded"), std::string::npos) << lines[3];
    EXPECT_NE(lines[4].find("orders/orders"), std::string::npos);
    EXPECT_NE(screen.find("failing: quality.volume(3 groups), quality.impos~\n"), std::string::npos)
        << screen;
    EXPECT_NE(screen.find("degraded: outputs full"), std::string::npos) << screen;
}

TEST(render_top, has_no_rate_without_an_earlier_sample_or_after_a_restart) {
    const auto now = sample_status(500);
    const auto later_restarted = sample_status(100);
    for (const std::string& screen :
         {render_top(now, nullptr, 0), render_top(later_restarted, &now, 1.0)}) {
        std::istringstream in(screen);
        std::string line;
        for (int i = 0; i < 4; ++i) std::getline(in, line);
        EXPECT_EQ(line.find("1250"), std::string::npos);
        EXPECT_NE(line.find(" - "), std::string::npos) << line;
    }
}

}  // namespace
}  // namespace weir::daemon
