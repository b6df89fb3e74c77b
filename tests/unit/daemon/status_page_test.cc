// Tests of the status page's HTML: failing checks first and named in text, every name from a
// pipeline file escaped, no reference to anything outside the page, values as people read them,
// and the graph and sparkline drawn from the model.
#include "daemon/status_page.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace weir::daemon {
namespace {

check_snapshot history_of(std::string check, outcome last, double value) {
    check_snapshot s;
    s.pipeline = "web";
    s.node = "errors";
    s.check = std::move(check);
    s.last_outcome = last;
    s.last_value = measure_value::make_number(value);
    s.last_window_end = 1'700'000'000'000'000'000;
    s.results = 3;
    for (int i = 0; i < 3; ++i) {
        s.recent.push_back({s.last_window_end - (2 - i) * 10'000'000'000LL, value * i, value * i,
                            i == 2 ? last : outcome::pass, 1, i == 2 && last == outcome::fail});
    }
    return s;
}

status_page sample() {
    status_page page;
    page.version = "1.2.3";
    page.generated_at = "2026-12-04T14:00:00.000Z";
    page.status.state = "running";
    query_status q;
    q.pipeline = "web";
    q.query = "errors";
    q.nodes = {"clean", "errors"};
    q.inputs = {"access_log"};
    q.state = "running";
    q.failing_checks = {{"errors", "by_host", 2}};
    q.figures = query_figures{.input_records = 1234, .results = 56};
    page.status.queries.push_back(q);

    pipeline_graph g;
    g.pipeline = "web";
    using kind = graph_vertex::kind;
    const auto in = g.vertex(kind::input, "access_log");
    const auto clean = g.vertex(kind::node, "clean");
    const auto errors = g.vertex(kind::node, "errors");
    const auto out = g.vertex(kind::output, "alerts");
    g.edge(in, clean);
    g.edge(clean, errors);
    g.edge(errors, out);
    g.edge(errors, out);  // once
    page.graphs.push_back(g);

    page_check pass{.pipeline = "web",
                    .query = "errors",
                    .node = "errors",
                    .check = "volume",
                    .measure = "count()",
                    .must_be = "> 10"};
    pass.history = history_of("volume", outcome::pass, 120);
    page_check fail{.pipeline = "web",
                    .query = "errors",
                    .node = "errors",
                    .check = "error_rate",
                    .measure = "fraction_where(status >= 500)",
                    .must_be = "< 20%"};
    fail.history = history_of("error_rate", outcome::fail, 0.26666666666666666);
    page_check grouped{.pipeline = "web",
                       .query = "errors",
                       .node = "errors",
                       .check = "by_host",
                       .measure = "missing_fraction(user)",
                       .must_be = "< 5%",
                       .grouped = true};
    grouped.history = history_of("by_host", outcome::pass, 0.01);
    grouped.history->grouped = true;
    grouped.history->failing_groups = {
        {"host=web-3", measure_value::make_number(0.25), 1},
        {"host=<script>alert(1)</script>", measure_value::make_number(0.5), 1}};
    grouped.failing_groups = 2;
    page_check waiting{.pipeline = "web",
                       .query = "errors",
                       .node = "errors",
                       .check = "<script>alert('x')</script>",
                       .measure = "max(latency_ms)",
                       .should_be = "< 500"};
    page.checks = {pass, fail, grouped, waiting};
    return page;
}

TEST(status_page, failing_checks_come_first_with_their_outcome_in_words) {
    const std::string html = render_status_page(sample());
    const auto first_fail = html.find("error_rate");
    const auto grouped = html.find(">by_host<");
    const auto pass = html.find(">volume<");
    const auto waiting = html.find("WAITING");
    ASSERT_NE(first_fail, std::string::npos);
    ASSERT_NE(grouped, std::string::npos);
    ASSERT_NE(pass, std::string::npos);
    ASSERT_NE(waiting, std::string::npos);
    EXPECT_LT(first_fail, pass);
    EXPECT_LT(grouped, pass);
    EXPECT_LT(pass, waiting);
    EXPECT_NE(html.find("2 checks failing"), std::string::npos);
    EXPECT_NE(html.find("<title>2 failing - weir</title>"), std::string::npos);
    EXPECT_NE(html.find("FAIL</span>"), std::string::npos);
    EXPECT_NE(html.find("PASS</span>"), std::string::npos);
    EXPECT_NE(html.find("2 groups failing"), std::string::npos);
    EXPECT_NE(html.find("host=web-3"), std::string::npos);
}

TEST(status_page, escapes_every_name) {
    const std::string html = render_status_page(sample());
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find("host=&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find("fraction_where(status &gt;= 500)"), std::string::npos);
    EXPECT_EQ(html_escape(R"(<a href="x">&'</a>)"),
              "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
}

TEST(status_page, refers_to_nothing_outside_itself) {
    const std::string html = render_status_page(sample());
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("<link"), std::string::npos);
    EXPECT_EQ(html.find("<img"), std::string::npos);
    EXPECT_EQ(html.find("http://"), std::string::npos);
    EXPECT_EQ(html.find("https://"), std::string::npos);
    EXPECT_EQ(html.find("src="), std::string::npos);
    EXPECT_EQ(html.find("@import"), std::string::npos);
    // Links stay on the daemon: the JSON and the metrics.
    const std::regex href(R"re(href="([^"]*)")re");
    for (auto it = std::sregex_iterator(html.begin(), html.end(), href);
         it != std::sregex_iterator(); ++it) {
        EXPECT_EQ((*it)[1].str().substr(0, 1), "/") << (*it)[1].str();
    }
}

TEST(status_page, values_read_in_the_assessments_unit) {
    const auto page = sample();
    EXPECT_EQ(format_for_display(measure_value::make_number(0.26666666666666666), page.checks[1]),
              "26.7 %");
    EXPECT_EQ(format_for_display(measure_value::make_number(0.009900990099009901), page.checks[2]),
              "0.99 %");
    EXPECT_EQ(format_for_display(measure_value::make_number(120), page.checks[0]), "120");
    EXPECT_EQ(format_for_display(measure_value::make_number(3.14159265), page.checks[0]), "3.14");
    EXPECT_EQ(format_for_display(measure_value::make_null(), page.checks[0]), "no data");
    // Durations through the shared formatter too.
    auto freshness = page.checks[0];
    freshness.must_be = "< 5m";
    EXPECT_EQ(format_for_display(measure_value::make_number(72), freshness), "1m 12s");
    const std::string html = render_status_page(page);
    EXPECT_NE(html.find("26.7 %"), std::string::npos);
    EXPECT_EQ(html.find("0.26666666666666666"), std::string::npos);
}

TEST(status_page, draws_the_graph_and_the_recent_values) {
    const std::string html = render_status_page(sample());
    EXPECT_NE(html.find("<svg class=\"graph\""), std::string::npos);
    EXPECT_NE(html.find(">access_log</text>"), std::string::npos);
    EXPECT_NE(html.find(">alerts</text>"), std::string::npos);
    EXPECT_NE(html.find("2 of 4 checks FAIL"), std::string::npos);
    // Three edges, the repeated one once.
    std::size_t edges = 0;
    for (auto at = html.find("class=\"edge\""); at != std::string::npos;
         at = html.find("class=\"edge\"", at + 1)) {
        ++edges;
    }
    EXPECT_EQ(edges, 3u);
    EXPECT_NE(html.find("<svg class=\"spark\""), std::string::npos);
    EXPECT_NE(html.find("dot-fail"), std::string::npos);
    EXPECT_NE(html.find("1234"), std::string::npos);  // the query's records
}

TEST(status_page, stays_small_with_many_failing_groups) {
    status_page page = sample();
    page_check& grouped = page.checks[2];
    grouped.history->failing_groups.clear();
    for (int i = 0; i < 1000; ++i) {
        grouped.history->failing_groups.push_back(
            {"host=h" + std::to_string(1000 + i), measure_value::make_number(0.5), 1});
    }
    grouped.history->more_failing = true;
    grouped.failing_groups = 25'000;
    const std::string html = render_status_page(page);
    EXPECT_NE(html.find("25000 groups failing"), std::string::npos);
    EXPECT_NE(html.find("and 24990 more"), std::string::npos);
    EXPECT_EQ(html.find("host=h1010"), std::string::npos);  // ten named
    EXPECT_LT(html.size(), 64u * 1024);
}

TEST(status_page, renders_without_pipelines_or_results) {
    status_page page;
    page.status.state = "running";
    const std::string html = render_status_page(page);
    EXPECT_NE(html.find("No check is configured"), std::string::npos);
    EXPECT_NE(html.find("No check fails"), std::string::npos);
}

}  // namespace
}  // namespace weir::daemon
