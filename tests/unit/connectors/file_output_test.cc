// The file output: exact JSON lines, flush and timers, truncation, rotation without losing
// lines, and write errors that keep the data for a later attempt.
#include "connectors/file/file_output.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <csignal>
#include <stdexcept>
#include <thread>

#include "connectors/file/file_spec.h"
#include "tests/unit/connectors/output_test_util.h"

namespace weir::connectors {
namespace {

namespace fs = std::filesystem;
using namespace weir::connectors::testing;

struct flush_outcome {
    bool called = false;
    bool ok = false;
    std::string error;
};

struct file_fixture : ::testing::Test {
    boost::asio::io_context io;
    temp_dir dir;
    output_context ctx{.executor = boost::asio::make_strand(io),
                       .pipeline = "sensors",
                       .output = "results",
                       .clock = {}};

    fs::path path() const { return dir.path() / "results.jsonl"; }

    file_output_options options() const {
        file_output_options o;
        o.path = path().string();
        o.flush_interval = std::chrono::hours(1);  // only explicit flushes write
        return o;
    }

    flush_outcome flush(output& out) {
        flush_outcome f;
        out.flush([&](bool ok, const std::string& error) {
            f.called = true;
            f.ok = ok;
            f.error = error;
        });
        EXPECT_TRUE(run_until(io, [&] { return f.called; }));
        return f;
    }

    // Results that differ by check name, so every line is distinct.
    static check_result numbered(int i) {
        check_result r = sample_result(outcome::fail);
        r.check = "check_" + std::to_string(i);
        return r;
    }
};

TEST_F(file_fixture, writes_exact_json_lines_on_flush) {
    auto out = file_output::open(ctx, options());
    const check_result a = sample_result(outcome::fail);
    const check_result b = sample_result(outcome::pass, "");
    out->write_result(a);
    out->write_record(R"({"device_id":"d-1","temperature":20.5})");
    out->write_result(b);
    run_for(io, std::chrono::milliseconds(30));
    EXPECT_EQ(read_file(path()), "") << "nothing is written before the flush interval";
    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(read_file(path()),
              json_line(a) + "{\"device_id\":\"d-1\",\"temperature\":20.5}\n" + json_line(b));
    EXPECT_EQ(out->stats().records, 3u);
    EXPECT_EQ(out->stats().errors, 0u);
    struct stat st {};
    ASSERT_EQ(::stat(path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0007, 0u) << "no access for others";
}

TEST_F(file_fixture, flush_interval_writes_without_a_flush) {
    file_output_options o = options();
    o.flush_interval = std::chrono::milliseconds(20);
    auto out = file_output::open(ctx, o);
    const check_result r = sample_result();
    out->write_result(r);
    EXPECT_TRUE(run_until(io, [&] { return read_file(path()) == json_line(r); }));
    out->write_result(r);
    EXPECT_TRUE(run_until(io, [&] { return read_file(path()) == json_line(r) + json_line(r); }));
}

TEST_F(file_fixture, zero_interval_writes_at_once_from_many_threads) {
    file_output_options o = options();
    o.flush_interval = std::chrono::milliseconds(0);
    auto out = file_output::open(ctx, o);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&out] {
            for (int i = 0; i < 500; ++i) out->write_record(R"({"n":1})");
        });
    }
    for (auto& t : threads) t.join();
    std::string expected;
    for (int i = 0; i < 2000; ++i) expected += "{\"n\":1}\n";
    EXPECT_TRUE(run_until(io, [&] { return out->stats().records == 2000; }));
    EXPECT_EQ(read_file(path()), expected);
}

TEST_F(file_fixture, appends_or_truncates_and_cuts_a_torn_line_off) {
    // A crash in the middle of a write left half a line: no checkpoint covers it (its result
    // is produced again), and every line of the file must stay valid JSON.
    { std::ofstream(path()) << "{\"old\":1}\n{\"torn\":"; }
    auto out = file_output::open(ctx, options());
    EXPECT_EQ(read_file(path()), "{\"old\":1}\n");
    out->write_record(R"({"new":2})");
    EXPECT_TRUE(flush(*out).ok);
    EXPECT_EQ(read_file(path()), "{\"old\":1}\n{\"new\":2}\n");

    { std::ofstream(path()) << std::string(10000, 'x'); }  // no newline at all
    auto again = file_output::open(ctx, options());
    EXPECT_EQ(read_file(path()), "");

    file_output_options o = options();
    o.append = false;
    auto truncating = file_output::open(ctx, o);
    EXPECT_EQ(read_file(path()), "");
    truncating->write_record(R"({"new":3})");
    EXPECT_TRUE(flush(*truncating).ok);
    EXPECT_EQ(read_file(path()), "{\"new\":3}\n");
}

TEST_F(file_fixture, missing_directory_fails_at_start_unless_create_dirs) {
    file_output_options o = options();
    o.path = (dir.path() / "a" / "b" / "out.jsonl").string();
    EXPECT_THROW(file_output::open(ctx, o), std::runtime_error);
    o.create_dirs = true;
    auto out = file_output::open(ctx, o);
    out->write_record("{}");
    EXPECT_TRUE(flush(*out).ok);
    EXPECT_EQ(read_file(o.path), "{}\n");
}

TEST_F(file_fixture, rotation_by_size_loses_no_line) {
    file_output_options o = options();
    o.rotate_max_size = 4096;
    o.rotate_max_files = 50;
    auto out = file_output::open(ctx, o);
    std::string expected;
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 20; ++i) {
            const check_result r = numbered(round * 20 + i);
            out->write_result(r);
            expected += json_line(r);
        }
        ASSERT_TRUE(flush(*out).ok);
    }
    std::string all;
    int files = 0;
    for (int i = 50; i >= 1; --i) {
        const fs::path rotated = path().string() + "." + std::to_string(i);
        if (!fs::exists(rotated)) continue;
        ++files;
        EXPECT_LE(fs::file_size(rotated), 4096u);
        const std::string text = read_file(rotated);
        EXPECT_EQ(text.back(), '\n') << "rotation happens between lines";
        all += text;
    }
    EXPECT_LE(fs::file_size(path()), 4096u);
    all += read_file(path());
    EXPECT_EQ(all, expected);
    EXPECT_GE(files, static_cast<int>(expected.size() / 4096));
    EXPECT_EQ(out->stats().records, 100u);
}

TEST_F(file_fixture, rotation_keeps_max_files) {
    file_output_options o = options();
    o.rotate_max_size = 4096;
    o.rotate_max_files = 2;
    auto out = file_output::open(ctx, o);
    std::string expected;
    for (int i = 0; i < 100; ++i) {
        const check_result r = numbered(i);
        out->write_result(r);
        expected += json_line(r);
    }
    ASSERT_TRUE(flush(*out).ok);
    EXPECT_TRUE(fs::exists(path().string() + ".1"));
    EXPECT_TRUE(fs::exists(path().string() + ".2"));
    EXPECT_FALSE(fs::exists(path().string() + ".3"));
    const std::string kept =
        read_file(path().string() + ".2") + read_file(path().string() + ".1") + read_file(path());
    ASSERT_LT(kept.size(), expected.size());
    EXPECT_EQ(expected.substr(expected.size() - kept.size()), kept) << "the newest lines, whole";
}

TEST_F(file_fixture, disk_full_keeps_lines_until_the_problem_is_fixed) {
    // /dev/full fails every write with ENOSPC. The output reopens its path before retrying,
    // so replacing the link by a real file "fixes the disk".
    fs::create_symlink("/dev/full", path());
    auto out = file_output::open(ctx, options());
    std::string expected;
    for (int i = 0; i < 3; ++i) {
        out->write_result(numbered(i));
        expected += json_line(numbered(i));
    }
    flush_outcome f = flush(*out);
    EXPECT_FALSE(f.ok);
    EXPECT_NE(f.error.find("No space left on device"), std::string::npos) << f.error;
    EXPECT_GE(out->stats().errors, 1u);
    EXPECT_EQ(out->stats().records, 0u);

    out->write_result(numbered(3));
    expected += json_line(numbered(3));
    EXPECT_FALSE(flush(*out).ok);

    fs::remove(path());
    f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(read_file(path()), expected);
    EXPECT_EQ(out->stats().records, 4u);
}

TEST_F(file_fixture, a_partial_write_is_completed_later) {
    // RLIMIT_FSIZE makes write() stop part-way through a line, then fail with EFBIG.
    auto out = file_output::open(ctx, options());
    std::string expected;
    for (int i = 0; i < 5; ++i) {
        out->write_result(numbered(i));
        expected += json_line(numbered(i));
    }
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
    auto* previous = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved;
    small.rlim_cur = 100;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    const flush_outcome failed = flush(*out);
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, previous);
    EXPECT_FALSE(failed.ok);
    EXPECT_EQ(read_file(path()).size(), 100u) << "a partial line is in the file";

    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(read_file(path()), expected);
}

TEST_F(file_fixture, records_count_the_lines_in_the_file_through_partial_writes) {
    // Lines are counted as they are queued, and by their bytes only when a write stops short.
    auto out = file_output::open(ctx, options());
    for (int i = 0; i < 3; ++i) out->write_result(numbered(i));
    out->write_record("{\"a\":\n1}");  // a record may hold a newline: two lines in the file
    for (int i = 3; i < 6; ++i) out->write_result(numbered(i));
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
    auto* previous = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved;
    small.rlim_cur = json_line(numbered(0)).size() * 2 + 10;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    EXPECT_FALSE(flush(*out).ok);
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, previous);
    EXPECT_EQ(out->stats().records, 2u) << "two whole lines and a part of the third";

    EXPECT_TRUE(flush(*out).ok);
    const std::string text = read_file(path());
    EXPECT_EQ(out->stats().records, 8u);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 8);
    out->write_result(numbered(6));
    EXPECT_TRUE(flush(*out).ok);
    EXPECT_EQ(out->stats().records, 9u);
}

TEST_F(file_fixture, failed_lines_are_retried_by_the_timer_too) {
    fs::create_symlink("/dev/full", path());
    file_output_options o = options();
    o.flush_interval = std::chrono::milliseconds(10);
    auto out = file_output::open(ctx, o);
    out->write_record(R"({"a":1})");
    ASSERT_TRUE(run_until(io, [&] { return out->stats().errors >= 1; }));
    fs::remove(path());
    // The retry waits at least a second after a failure.
    EXPECT_TRUE(run_until(
        io, [&] { return fs::exists(path()) && read_file(path()) == "{\"a\":1}\n"; },
        std::chrono::seconds(5)));
}

TEST_F(file_fixture, a_full_disk_holds_every_line_back_and_reports_back_pressure) {
    fs::create_symlink("/dev/full", path());
    auto out = file_output::open(ctx, options());
    EXPECT_EQ(out->pending(), 0u);
    EXPECT_EQ(out->blocked(), "");
    std::string expected;
    for (int i = 0; i < 3000; ++i) {  // ~1 MB: nothing is shed, however long the outage
        out->write_result(numbered(i));
        expected += json_line(numbered(i));
    }
    EXPECT_FALSE(flush(*out).ok);
    EXPECT_EQ(out->pending(), 3000u) << "the queries writing here pause reading";
    EXPECT_NE(out->blocked().find("No space left on device"), std::string::npos) << out->blocked();
    out->write_result(numbered(3000));
    expected += json_line(numbered(3000));
    EXPECT_EQ(out->pending(), 3001u);
    EXPECT_FALSE(flush(*out).ok) << "no flush succeeds before every line is written";

    fs::remove(path());
    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(read_file(path()), expected);
    EXPECT_EQ(out->stats().records, 3001u);
    EXPECT_EQ(out->pending(), 0u);
    EXPECT_EQ(out->blocked(), "");
}

TEST_F(file_fixture, a_burst_on_a_healthy_file_is_written_whole) {
    auto out = file_output::open(ctx, options());
    std::string expected;
    for (int i = 0; i < 200; ++i) {  // ~60 KB queued before the strand runs once
        out->write_result(numbered(i));
        expected += json_line(numbered(i));
    }
    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(read_file(path()), expected);
    EXPECT_EQ(out->stats().errors, 0u);
    EXPECT_EQ(out->stats().records, 200u);
}

TEST_F(file_fixture, a_large_burst_is_written_by_the_producer_without_waiting_for_the_strand) {
    auto out = file_output::open(ctx, options());
    std::string expected;
    std::size_t n = 0;
    while (expected.size() < (6u << 20)) {  // six times the 1 MiB inline threshold
        out->write_result(numbered(static_cast<int>(n)));
        expected += json_line(numbered(static_cast<int>(n)));
        ++n;
    }
    // The io_context has not run: only the producer can have written, a megabyte at a time (so
    // no more than about a megabyte waits in memory).
    EXPECT_GE(fs::file_size(path()), 5u << 20);
    const flush_outcome f = flush(*out);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(read_file(path()), expected) << "in order, each line once";
    EXPECT_EQ(out->stats().records, n);
}

TEST_F(file_fixture, the_tail_of_a_large_burst_is_written_without_waiting_for_the_interval) {
    // A window closing for many groups: the producer writes the first megabytes itself, and
    // the rest (under a megabyte) must follow as soon as the strand runs, not an interval
    // (here an hour) later.
    auto out = file_output::open(ctx, options());
    std::string expected;
    int n = 0;
    while (expected.size() < (5u << 19)) {  // 2.5 MiB: a tail of about half a megabyte
        out->write_result(numbered(n));
        expected += json_line(numbered(n));
        ++n;
    }
    ASSERT_LT(fs::file_size(path()), expected.size()) << "the tail is still queued";
    EXPECT_TRUE(run_until(io, [&] { return fs::file_size(path()) == expected.size(); }))
        << fs::file_size(path()) << " of " << expected.size() << " bytes written";
    EXPECT_EQ(read_file(path()), expected) << "in order, each line once";
    EXPECT_EQ(out->stats().records, static_cast<std::uint64_t>(n));
}

TEST_F(file_fixture, a_windows_results_are_written_when_it_closes_not_an_interval_later) {
    // A window closing for a few groups: far below a burst, its results must still reach the
    // file when the node says it wrote them all, not an interval (here an hour) later.
    auto out = file_output::open(ctx, options());
    const check_result a = sample_result(outcome::fail);
    const check_result b = sample_result(outcome::pass, "");
    out->write_result(a);
    out->write_result(b);
    run_for(io, std::chrono::milliseconds(30));
    ASSERT_EQ(read_file(path()), "") << "lines wait for the interval until the window's end";
    out->end_of_results();
    EXPECT_TRUE(run_until(io, [&] { return read_file(path()) == json_line(a) + json_line(b); }))
        << read_file(path());
    // A record after it waits for the interval again.
    out->write_record(R"({"device_id":"d-1"})");
    run_for(io, std::chrono::milliseconds(30));
    EXPECT_EQ(read_file(path()), json_line(a) + json_line(b));
    EXPECT_EQ(out->stats().records, 2u);
}

TEST_F(file_fixture, the_end_of_a_windows_results_on_a_full_disk_leaves_the_retries_to_the_timer) {
    fs::create_symlink("/dev/full", path());
    auto out = file_output::open(ctx, options());
    out->write_result(sample_result());
    out->end_of_results();  // the first attempt fails
    run_for(io, std::chrono::milliseconds(20));
    ASSERT_EQ(out->stats().errors, 1u);
    for (int i = 0; i < 20; ++i) {
        out->write_result(sample_result());
        out->end_of_results();
        run_for(io, std::chrono::milliseconds(2));
    }
    EXPECT_LE(out->stats().errors, 2u) << "an attempt per window's end while the disk is full";
    EXPECT_EQ(out->pending(), 21u) << "every line is held";
}

TEST_F(file_fixture, after_a_burst_on_a_full_disk_the_retry_timer_paces_the_attempts) {
    // The tail of a burst is written at once only while the file can be written: on a full
    // disk, lines that follow a burst must not each cause a write attempt.
    fs::create_symlink("/dev/full", path());
    auto out = file_output::open(ctx, options());
    int n = 0;
    for (std::size_t bytes = 0; bytes < (3u << 19); ++n) {  // 1.5 MiB: one attempt inline
        out->write_result(numbered(n));
        bytes += json_line(numbered(n)).size();
    }
    for (int i = 0; i < 50; ++i, ++n) {
        out->write_result(numbered(n));
        run_for(io, std::chrono::milliseconds(2));
    }
    EXPECT_LE(out->stats().errors, 4u) << "one failed attempt per line after the burst";
    EXPECT_EQ(out->pending(), static_cast<std::uint64_t>(n)) << "every line is held";
}

TEST_F(file_fixture, stop_writes_everything_and_ignores_later_writes) {
    auto out = file_output::open(ctx, options());
    out->write_record(R"({"a":1})");
    bool stopped = false;
    out->stop([&] { stopped = true; });
    ASSERT_TRUE(run_until(io, [&] { return stopped; }));
    EXPECT_EQ(read_file(path()), "{\"a\":1}\n");
    out->write_record(R"({"b":2})");
    run_for(io, std::chrono::milliseconds(20));
    EXPECT_EQ(read_file(path()), "{\"a\":1}\n");
}

TEST_F(file_fixture, factory_reads_every_parameter) {
    { std::ofstream(path()) << "{\"old\":1}\n"; }
    const auto spec = file_output_component().spec;
    const params::value v = mapping({
        {"path", scalar(path().string())},
        {"append", scalar("false")},
        {"flush_interval", scalar("0s")},
        {"fsync", scalar("true")},
        {"rotate", mapping({{"max_size", scalar("4KiB")}, {"max_files", scalar("1")}})},
    });
    auto out = make_file_output(params::reader(*spec, v), ctx);
    EXPECT_EQ(read_file(path()), "") << "append: false truncates";
    for (int i = 0; i < 60; ++i) out->write_result(numbered(i));
    ASSERT_TRUE(run_until(io, [&] { return out->stats().records == 60; }));
    EXPECT_TRUE(fs::exists(path().string() + ".1"));
    EXPECT_FALSE(fs::exists(path().string() + ".2"));
    EXPECT_LE(fs::file_size(path()), 4096u);

    const params::value missing =
        mapping({{"path", scalar((dir.path() / "no" / "x.jsonl").string())}});
    EXPECT_THROW(make_file_output(params::reader(*spec, missing), ctx), std::runtime_error);
}

}  // namespace
}  // namespace weir::connectors
