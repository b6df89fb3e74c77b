// The stdin input through an injected descriptor: a pipe (partial lines held, EOF ends the
// input), a regular file (which epoll cannot watch), size limits, pause and positions.
#include "connectors/stdio/stdin_input.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "connectors/stdio/stdio_spec.h"
#include "tests/unit/connectors/input_test_util.h"

namespace weir::connectors {
namespace {

struct recorder : input_events {
    std::string data;
    std::size_t batches = 0;
    int ends = 0;
    std::vector<std::string> failures;
    std::vector<std::string> problems;
    std::function<void()> after_data;

    void on_records(std::string_view source, const record_delivery& records) override {
        test::expect_one_stream_lines(source, records);
        data.append(records.bytes);
        ++batches;
        if (after_data) after_data();
    }
    void on_sources_changed(std::span<const source_id> added,
                            std::span<const source_id> removed) override {
        ADD_FAILURE() << "a one-stream input announced " << added.size() << " and retired "
                      << removed.size() << " sources";
    }
    void on_end() override { ++ends; }
    void on_problem(std::string_view type, const std::string& message) override {
        problems.push_back(std::string(type) + ": " + message);
    }
    void on_failure(const std::string& message) override { failures.push_back(message); }
};

void write_all(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        ASSERT_GT(n, 0);
        done += static_cast<std::size_t>(n);
    }
}

class stdin_input_test : public ::testing::Test {
  protected:
    std::unique_ptr<input> make(int fd, const std::string& max_line = "") {
        value_.type = params::value::kind::mapping;
        value_.entries.clear();
        if (!max_line.empty()) {
            params::value v;
            v.type = params::value::kind::scalar;
            v.text = max_line;
            value_.entries.push_back({"max_line_length", {}, v});
        }
        diagnostics diags;
        EXPECT_TRUE(params::validate(*info_.spec, value_, "inputs.in", diags));
        params::reader reader(*info_.spec, value_);
        input_context ctx;
        ctx.executor = boost::asio::make_strand(io_);
        ctx.input = "in";
        return make_stdin_input_from_fd(reader, ctx, fd);
    }

    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            io_.restart();
            io_.run_for(std::chrono::milliseconds(5));
        }
        return done();
    }

    params::component_info info_ = stdin_input_component();
    params::value value_;
    boost::asio::io_context io_;
};

TEST_F(stdin_input_test, pipe_lines_partial_lines_and_eof) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    recorder r;
    auto in = make(fds[0]);
    ::close(fds[0]);  // the input reads its own duplicate
    EXPECT_TRUE(in->bounded());
    in->start(r);
    write_all(fds[1], "{\"a\":1}\n{\"a\":");
    ASSERT_TRUE(run_until([&] { return !r.data.empty(); }));
    io_.restart();
    io_.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(r.data, "{\"a\":1}\n");
    write_all(fds[1], "2}\n{\"a\":3}");
    ASSERT_TRUE(run_until([&] { return r.data.size() == 16; }));
    EXPECT_EQ(r.ends, 0);
    ::close(fds[1]);  // EOF: the final line without newline is a record, then the end
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(r.data, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
    EXPECT_TRUE(r.failures.empty());
    EXPECT_EQ(in->position(), "");
    std::string error;
    EXPECT_TRUE(in->restore("", error));
    EXPECT_FALSE(in->restore("x", error));
    EXPECT_NE(error.find("cannot resume"), std::string::npos);
}

TEST_F(stdin_input_test, regular_file_as_stdin_with_long_lines) {
    char name[] = "/tmp/weir-stdin-XXXXXX";
    const int fd = ::mkstemp(name);
    ASSERT_GE(fd, 0);
    std::string expected;
    std::string content;
    for (int i = 0; i < 20000; ++i) {
        const std::string line = "{\"i\":" + std::to_string(i) + "}\n";
        expected += line;
        content += line;
        if (i == 100) content += std::string(70000, 'x') + "\n";  // over the limit, over reads
        if (i == 200) content += std::string(40, 'y') + "\n";
    }
    content += std::string(100, 'z');  // a final over-long line without newline
    write_all(fd, content);
    ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
    recorder r;
    auto in = make(fd, "32");
    ::close(fd);
    ::unlink(name);
    in->start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_TRUE(r.data == expected);
    EXPECT_EQ(r.problems.size(), 3u);
    for (const auto& p : r.problems) EXPECT_TRUE(p.starts_with("too_long")) << p;
    EXPECT_GT(r.batches, 2u);
}

TEST_F(stdin_input_test, pause_holds_delivery_and_stop_silences) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    recorder r;
    auto in = make(fds[0]);  // fds[0] stays open: writes after stop() must not raise SIGPIPE
    r.after_data = [&] {
        if (r.batches == 1) in->pause();
    };
    in->start(r);
    write_all(fds[1], "{\"a\":1}\n");
    ASSERT_TRUE(run_until([&] { return r.batches == 1; }));
    write_all(fds[1], "{\"a\":2}\n");
    io_.restart();
    io_.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(r.batches, 1u);
    in->resume();
    ASSERT_TRUE(run_until([&] { return r.batches == 2; }));
    EXPECT_EQ(r.data, "{\"a\":1}\n{\"a\":2}\n");
    in->stop();
    write_all(fds[1], "{\"a\":3}\n");
    ::close(fds[1]);
    io_.restart();
    io_.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(r.batches, 2u);
    EXPECT_EQ(r.ends, 0);
    ::close(fds[0]);
}

TEST_F(stdin_input_test, one_source) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    recorder r;
    auto in = make(fds[0]);
    ::close(fds[0]);
    EXPECT_EQ(in->initial_sources(), std::vector<source_id>{""});
    in->start(r);
    write_all(fds[1], "{\"a\":1}\n{\"a\":2}");
    ::close(fds[1]);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(r.data, "{\"a\":1}\n{\"a\":2}\n");  // the recorder checked each delivery's source
    EXPECT_EQ(r.batches, 2u);
}

}  // namespace
}  // namespace weir::connectors
