// The console output: text and JSON lines, colours, records, and the factory's parameters.
#include "connectors/stdio/console_output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

#include "connectors/stdio/stdio_spec.h"
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
              "2026-11-20T10:01:00.000Z sensors/quality volume {device_id=d-17} FAIL "
              "count()=42 must_be \"> 50\"\n"
              "2026-11-20T10:01:00.000Z sensors/quality temperature PASS mean(temp_c)=21.5 "
              "must_be \"[15, 35]\" should_be \"[18, 30]\"\n"
              "2026-11-20T10:01:00.000Z sensors/quality volume {device_id=d-17} NO_DATA "
              "count()=null must_be \"> 50\"\n");
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
              "2026-11-20T10:01:00.000Z sensors/quality volume {device_id=d-17, zone=3} WARN "
              "count()=\"x\\\"y\" must_be \"> 50\"\n");
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
              "2026-11-20T10:01:00.000Z sensors/quality new FAIL new_fields()=2 must_be \"== 0\" "
              "fields: coupon, customer.tier\n");
}

TEST_F(console_fixture, colours_the_outcome_only_when_asked) {
    auto out = std::make_shared<console_output>(ctx, fd, console_options{.color = true});
    out->write_result(sample_result(outcome::fail));
    out->write_result(sample_result(outcome::pass));
    out->write_result(sample_result(outcome::warn));
    const std::string text = flushed(*out);
    EXPECT_NE(text.find("} \x1b[1;31mFAIL\x1b[0m count()"), std::string::npos) << text;
    EXPECT_NE(text.find("} \x1b[32mPASS\x1b[0m count()"), std::string::npos) << text;
    EXPECT_NE(text.find("} \x1b[33mWARN\x1b[0m count()"), std::string::npos) << text;

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
    bool called = false;
    bool ok = true;
    std::string error;
    out->flush([&](bool o, const std::string& e) {
        called = true;
        ok = o;
        error = e;
    });
    ASSERT_TRUE(run_until(io, [&] { return called; }));
    EXPECT_FALSE(ok);
    EXPECT_NE(error.find("console write failed"), std::string::npos) << error;
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
