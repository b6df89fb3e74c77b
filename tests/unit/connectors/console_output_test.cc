// The console output: text and JSON lines, colours, records, and the factory's parameters.
#include "connectors/stdio/console_output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

#include "connectors/stdio/stdio_spec.h"
#include "core/result/format.h"
#include "tests/unit/connectors/output_test_util.h"

namespace weir::connectors {
namespace {

using namespace weir::connectors::testing;

struct console_fixture : ::testing::Test {
    boost::asio::io_context io;
    temp_dir dir;
    output_context ctx{.executor = boost::asio::make_strand(io),
                       .pipeline = "sensors",
                       .output = "log",
                       .clock = {}};
    int fd = -1;

    console_fixture() {
        fd = ::open((dir.path() / "console").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    }
    ~console_fixture() override { ::close(fd); }

    std::string flushed(output& out) {
        bool called = false;
        bool ok = false;
        out.flush([&](bool o, const std::string&) {
            called = true;
            ok = o;
        });
        EXPECT_TRUE(run_until(io, [&] { return called; }));
        EXPECT_TRUE(ok);
        return read_file(dir.path() / "console");
    }
};

TEST_F(console_fixture, text_line_per_result) {
    auto out = std::make_shared<console_output>(ctx, fd, console_options{});
    out->write_result(sample_result(outcome::fail));
    check_result ungrouped = sample_result(outcome::pass, "");
    ungrouped.check = "temperature";
    ungrouped.measure = "mean(temp_c)";
    ungrouped.value = measure_value::make_number(21.5);
    ungrouped.must_be = "[15, 35]";
    ungrouped.should_be = "[18, 30]";
    out->write_result(ungrouped);
    check_result empty = sample_result(outcome::no_data);
    empty.value = measure_value::make_null();
    out->write_result(empty);
    EXPECT_EQ(flushed(*out),
              "2026-11-20T10:01:00Z FAIL sensors/quality volume {device_id=d-17} count() = 42 "
              "(must be > 50)\n"
              "2026-11-20T10:01:00Z PASS sensors/quality temperature mean(temp_c) = 21.5 "
              "(must be [15, 35])\n"
              "2026-11-20T10:01:00Z NO_DATA sensors/quality volume {device_id=d-17} = no data "
              "(must be > 50)\n");
    EXPECT_EQ(out->stats().records, 3u);
    EXPECT_EQ(out->stats().errors, 0u);
}

TEST_F(console_fixture, several_group_fields_and_value_kinds) {
    check_result r = sample_result(outcome::warn);
    r.group.emplace_back("zone", measure_value::make_number(3));
    r.value = measure_value::make_string("x\"y");
    std::string line;
    append_console_text(r, false, line);
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z WARN sensors/quality volume {device_id=d-17, zone=3} = x\"y "
              "(must be > 50)\n");
}

TEST_F(console_fixture, schema_drift_results_name_their_fields) {
    check_result r = sample_result(outcome::fail, "");
    r.check = "new";
    r.measure = "new_fields()";
    r.value = measure_value::make_number(2);
    r.must_be = "== 0";
    r.fields = {"coupon", "customer.tier"};
    std::string line;
    append_console_text(r, false, line);
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z FAIL sensors/quality new = 2 (must be == 0) "
              "fields: coupon, customer.tier\n");
}

TEST_F(console_fixture, values_in_the_assessments_unit) {
    check_result r = sample_result(outcome::fail, "");
    r.check = "completeness";
    r.measure = "missing_fraction(temperature)";
    r.value = measure_value::make_number(0.009900990099009901);
    r.must_be = "< 0.5%";
    std::string line;
    append_console_text(r, false, line);
    EXPECT_EQ(
        line,
        "2026-11-20T10:01:00Z FAIL sensors/quality completeness = 0.99 % (must be < 0.5 %)\n");
    r.check = "freshness";
    r.measure = "freshness()";
    r.value = measure_value::make_number(72.4);
    r.must_be = "< 60s";
    r.outcome = outcome::warn;
    r.should_be = "< 30s";
    line.clear();
    append_console_text(r, false, line);
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z WARN sensors/quality freshness freshness() = 1m 12s "
              "(should be < 30 s)\n");
}

TEST_F(console_fixture, reconciliations_name_the_missing_keys) {
    check_result r = sample_result(outcome::fail, "");
    r.check = "unpaid";
    r.measure = "reconcile(orders.id, payments.id)";
    r.value = measure_value::make_number(5);
    r.must_be = "== 0";
    auto s = std::make_shared<reconciliation_summary>();
    s->left = "orders";
    s->right = "payments";
    s->matched = 10;
    s->missing_right = 2;
    s->missing_left = 1;
    s->sample_missing_right = {"2", "4"};
    s->sample_missing_left = {"\"x\""};
    r.reconciliation = s;
    std::string line;
    append_console_text(r, false, line);
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z FAIL quality unpaid = 5 (must be == 0) "
              "[payments lack 2, 4; orders lack \"x\"]\n");
    // Too long for a line: at most 3 keys a side, and the end gives way (the JSON result has
    // every count and sample).
    s->missing_right = 4;
    s->sample_missing_right = {"2", "4", "5", "7"};
    line.clear();
    append_console_text(r, false, line);
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z FAIL quality unpaid = 5 (must be == 0) "
              "[payments lack 2, 4, 5, \u2026; orders lack \u2026\n");
}

TEST_F(console_fixture, checks_against_history_show_what_the_value_was_judged_against) {
    check_result r = sample_result(outcome::warn, "");
    r.check = "level";
    r.measure = "count()";
    r.value = measure_value::make_number(180);
    r.must_be = "";
    r.should_be = "zscore(last 24 by hour_of_day) < 3";
    auto e = std::make_shared<expected_evidence>();
    e->value = 120;
    e->low = 100;
    e->high = 140;
    e->tested = "z";
    e->tested_value = 9;
    e->history = 24;
    e->bucket = "hour_of_day=10";
    r.expected = e;
    std::string line;
    append_console_text(r, false, line);
    // The evidence stays; the long assessment gives way to it (down to 20 columns).
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z WARN quality level = 180 (should be zscore(last 24 \u2026 "
              "[expected 100 to 140, z 9]\n");
    auto w = std::make_shared<expected_evidence>();
    w->state = "warming_up";
    w->reason = "5 of 12 values";
    r.expected = w;
    r.outcome = outcome::no_data;
    line.clear();
    append_console_text(r, false, line);
    EXPECT_NE(line.find("[warming up: 5 of 12 values]"), std::string::npos) << line;
    EXPECT_LE(weir::text_columns(line) - 1, k_console_width);
}

TEST_F(console_fixture, results_without_a_dependencys_data_say_so) {
    check_result r = sample_result(outcome::pass, "");
    r.dependency_down = {"weather", "fx"};
    std::string line;
    append_console_text(r, false, line);
    EXPECT_TRUE(line.ends_with(" (dependency down: weather, fx)\n")) << line;
    EXPECT_LE(weir::text_columns(line) - 1, k_console_width);
}

TEST_F(console_fixture, approximate_quantiles_say_so) {
    check_result r = sample_result(outcome::pass, "");
    r.check = "p50";
    r.measure = "median(latency_ms)";
    r.value = measure_value::make_number(1480);
    r.must_be = "< 2000";
    r.approximate = true;
    std::string line;
    append_console_text(r, false, line);
    // The marker counts: with it the line would pass 100 columns, so the measure is left out.
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z PASS sensors/quality p50 = 1480 (must be < 2000) "
              "(approximate)\n");
    r.approximate = false;
    line.clear();
    append_console_text(r, false, line);
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z PASS sensors/quality p50 median(latency_ms) = 1480 "
              "(must be < 2000)\n");
    r.approximate = true;
    // A long line makes room for the marker like for the rest.
    r.pipeline = "payments_processing_pipeline_for_europe";
    r.node = "card_transactions_quality";
    r.check = "authorisation_latency_median_by_region";
    line.clear();
    append_console_text(r, false, line);
    EXPECT_LE(std::count_if(line.begin(), line.end(),
                            [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }),
              static_cast<std::ptrdiff_t>(k_console_width) + 1)
        << line;
    EXPECT_TRUE(line.ends_with(" = 1480 (must be < 2000) (approximate)\n")) << line;
}

std::size_t columns_of(const std::string& line) {
    std::size_t n = 0;
    for (const char c : line) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 && c != '\n';
    return n;
}

TEST_F(console_fixture, long_lines_are_shortened_to_fit_100_columns) {
    check_result r = sample_result(outcome::fail, "");
    r.pipeline = "payments_processing_pipeline_for_europe";
    r.node = "card_transactions_quality";
    r.check = "server_error_fraction_by_region";
    r.group = {{"merchant_category", measure_value::make_string("electronics-and-computers")},
               {"region", measure_value::make_string("eu-west-1")}};
    r.measure = "fraction_where(status >= 500 and status < 600 and region != \"test\")";
    r.value = measure_value::make_number(0.26666666666666666);
    r.must_be = "< 20%";
    std::string line;
    append_console_text(r, false, line);
    EXPECT_EQ(columns_of(line), k_console_width) << line;
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z FAIL card_transa\u2026 server_erro\u2026 "
              "{merchant_category=el\u2026 = 26.7 % (must be < 20 %)\n");
    // Short lines stay as they are; a newline in a value does not break the line.
    check_result s = sample_result(outcome::fail);
    s.value = measure_value::make_string("a\nb");
    line.clear();
    append_console_text(s, false, line);
    EXPECT_EQ(line,
              "2026-11-20T10:01:00Z FAIL sensors/quality volume {device_id=d-17} count() = a b "
              "(must be > 50)\n");
}

TEST_F(console_fixture, emit_changes_prints_failures_and_changes_and_counts_the_rest) {
    auto out =
        std::make_shared<console_output>(ctx, fd, console_options{.emit = console_emit::changes});
    const auto at = [](outcome o, int minute, std::string device = "d-17") {
        check_result r = sample_result(o, std::move(device));
        r.window_start += minute * 60 * time::ns_per_s;
        r.window_end += minute * 60 * time::ns_per_s;
        return r;
    };
    out->write_result(at(outcome::pass, 0));          // first seen: counted
    out->write_result(at(outcome::pass, 0, "d-18"));  // counted
    out->write_result(at(outcome::pass, 1));          // counted
    out->write_result(at(outcome::fail, 2));          // printed
    out->write_result(at(outcome::fail, 3));          // printed: still failing
    out->write_result(at(outcome::pass, 4));          // printed: back to pass
    out->write_result(at(outcome::pass, 5));          // counted
    bool stopped = false;
    out->stop([&] { stopped = true; });
    ASSERT_TRUE(run_until(io, [&] { return stopped; }));
    EXPECT_EQ(read_file(dir.path() / "console"),
              "2026-11-20T10:03:00Z FAIL sensors/quality volume {device_id=d-17} count() = 42 "
              "(must be > 50)\n"
              "2026-11-20T10:04:00Z FAIL sensors/quality volume {device_id=d-17} count() = 42 "
              "(must be > 50)\n"
              "2026-11-20T10:05:00Z PASS sensors/quality volume {device_id=d-17} count() = 42 "
              "(must be > 50)\n"
              "2026-11-20T10:06:00Z PASS 4 results passed (1 check in 3 windows)\n");
    EXPECT_EQ(out->stats().records, 4u);
}

TEST_F(console_fixture, emit_failures_and_the_summary_timer) {
    auto out = std::make_shared<console_output>(
        ctx, fd,
        console_options{.emit = console_emit::failures,
                        .summary_interval = std::chrono::milliseconds(20)});
    out->start();
    check_result empty = sample_result(outcome::no_data);
    empty.value = measure_value::make_null();
    out->write_result(empty);
    out->write_result(empty);
    out->write_result(sample_result(outcome::pass));
    out->write_result(sample_result(outcome::pass, "d-18"));
    ASSERT_TRUE(run_until(
        io, [&] { return read_file(dir.path() / "console").find("PASS 2") != std::string::npos; }));
    EXPECT_EQ(read_file(dir.path() / "console"),
              "2026-11-20T10:01:00Z NO_DATA sensors/quality volume {device_id=d-17} = no data "
              "(must be > 50)\n"
              "2026-11-20T10:01:00Z NO_DATA sensors/quality volume {device_id=d-17} = no data "
              "(must be > 50)\n"
              "2026-11-20T10:01:00Z PASS 2 results passed (1 check in 1 window)\n");
    bool stopped = false;
    out->stop([&] { stopped = true; });
    ASSERT_TRUE(run_until(io, [&] { return stopped; }));
}

TEST_F(console_fixture, colours_the_outcome_only_when_asked) {
    auto out = std::make_shared<console_output>(ctx, fd, console_options{.color = true});
    out->write_result(sample_result(outcome::fail));
    out->write_result(sample_result(outcome::pass));
    out->write_result(sample_result(outcome::warn));
    const std::string text = flushed(*out);
    EXPECT_NE(text.find("Z \x1b[1;31mFAIL\x1b[0m sensors"), std::string::npos) << text;
    EXPECT_NE(text.find("Z \x1b[32mPASS\x1b[0m sensors"), std::string::npos) << text;
    EXPECT_NE(text.find("Z \x1b[33mWARN\x1b[0m sensors"), std::string::npos) << text;

    std::string plain;
    append_console_text(sample_result(outcome::fail), false, plain);
    EXPECT_EQ(plain.find('\x1b'), std::string::npos);
    // A file is not a terminal: `auto` stays plain.
    EXPECT_FALSE(console_wants_color(fd));
}

TEST_F(console_fixture, json_lines_and_records) {
    auto out = std::make_shared<console_output>(ctx, fd, console_options{.json = true});
    const check_result r = sample_result(outcome::fail);
    out->write_result(r);
    out->write_record(R"({"device_id":"d-1","temperature":20})");
    EXPECT_EQ(flushed(*out), json_line(r) + "{\"device_id\":\"d-1\",\"temperature\":20}\n");
    EXPECT_EQ(out->stats().records, 2u);
}

TEST_F(console_fixture, records_print_as_json_in_text_format_too) {
    auto out = std::make_shared<console_output>(ctx, fd, console_options{.color = true});
    out->write_record(R"({"a":1})");
    EXPECT_EQ(flushed(*out), "{\"a\":1}\n");
}

TEST_F(console_fixture, writes_from_many_threads_keep_lines_whole) {
    auto out = std::make_shared<console_output>(ctx, fd, console_options{.json = true});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&out] {
            for (int i = 0; i < 250; ++i) out->write_record(R"({"n":1234567890})");
        });
    }
    for (auto& t : threads) t.join();
    const std::string text = flushed(*out);
    std::string expected;
    for (int i = 0; i < 1000; ++i) expected += "{\"n\":1234567890}\n";
    EXPECT_EQ(text, expected);
}

TEST_F(console_fixture, a_failed_write_is_counted_and_reported) {
    const int closed = ::open("/dev/null", O_RDONLY);  // writing to a read-only fd fails
    auto out = std::make_shared<console_output>(ctx, closed, console_options{});
    out->write_result(sample_result());
    const flush_answer a = flush_and_wait(io, *out);
    ASSERT_TRUE(a.answered);
    EXPECT_FALSE(a.ok);
    EXPECT_NE(a.error.find("console write failed"), std::string::npos) << a.error;
    EXPECT_EQ(out->stats().errors, 1u);
    EXPECT_EQ(out->stats().records, 0u);
    ::close(closed);
}

TEST_F(console_fixture, factory_reads_format_and_target) {
    const auto spec = console_output_component().spec;
    const params::value v = mapping({{"format", scalar("json")}, {"target", scalar("stderr")}});
    // The factory writes to the real stderr: point it at our file for the test.
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    auto out = make_console_output(params::reader(*spec, v), ctx);
    const check_result r = sample_result();
    out->write_result(r);
    bool stopped = false;
    out->stop([&] { stopped = true; });
    const bool finished = run_until(io, [&] { return stopped; });
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ASSERT_TRUE(finished);
    EXPECT_EQ(read_file(dir.path() / "console"), json_line(r));
    out->write_result(r);  // after stop: ignored
    run_for(io, std::chrono::milliseconds(20));
    EXPECT_EQ(out->stats().records, 1u);
}

}  // namespace
}  // namespace weir::connectors
