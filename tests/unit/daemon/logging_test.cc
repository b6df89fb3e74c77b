// Tests of the daemon's log: the JSON line format (parsed back), the text format, levels, and the
// rate limiter's exact lines and counts with an injected clock.
#include "daemon/logging.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace weir::daemon {
namespace {

// Captures the default logger's lines for one test and restores the previous logger after.
class captured_log {
  public:
    explicit captured_log(log_format format, spdlog::level::level_enum level = spdlog::level::trace)
        : previous_(spdlog::default_logger()) {
        logging_options o;
        o.level = level;
        o.format = format;
        o.sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
        configure_logging(o);
    }
    ~captured_log() { spdlog::set_default_logger(previous_); }

    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        std::istringstream in(stream_.str());
        for (std::string line; std::getline(in, line);) out.push_back(line);
        return out;
    }

  private:
    std::shared_ptr<spdlog::logger> previous_;
    std::ostringstream stream_;
};

// A clock the test moves by hand.
struct manual_clock {
    std::chrono::steady_clock::time_point now{std::chrono::seconds(1000)};
    log_limiter::clock_fn fn() {
        return [this] { return now; };
    }
};

std::vector<std::string> messages(const std::vector<std::string>& json_lines) {
    std::vector<std::string> out;
    for (const auto& l : json_lines) out.push_back(nlohmann::json::parse(l).at("msg"));
    return out;
}

TEST(log_levels_and_formats, parse_the_names_of_flags_and_settings) {
    EXPECT_EQ(parse_log_level("trace"), spdlog::level::trace);
    EXPECT_EQ(parse_log_level("warn"), spdlog::level::warn);
    EXPECT_EQ(parse_log_level("error"), spdlog::level::err);
    EXPECT_EQ(parse_log_level("loud"), std::nullopt);
    EXPECT_EQ(parse_log_format("json"), log_format::json);
    EXPECT_EQ(parse_log_format("text"), log_format::text);
    EXPECT_EQ(parse_log_format("xml"), std::nullopt);
}

TEST(json_log, one_object_per_line_with_ts_level_logger_and_escaped_msg) {
    captured_log log(log_format::json);
    spdlog::info("plain");
    spdlog::warn("quote \" backslash \\ newline \n tab \t bell \a end");
    spdlog::error("record {}", R"({"a": "x"})");
    const auto lines = log.lines();
    ASSERT_EQ(lines.size(), 3u);
    const std::regex ts(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
    for (const auto& l : lines) {
        const auto j = nlohmann::json::parse(l);  // throws on a malformed line
        ASSERT_TRUE(j.is_object());
        EXPECT_EQ(j.size(), 4u) << l;
        EXPECT_TRUE(std::regex_match(j.at("ts").get<std::string>(), ts)) << l;
        EXPECT_EQ(j.at("logger"), "weir");
    }
    EXPECT_EQ(nlohmann::json::parse(lines[0]).at("level"), "info");
    EXPECT_EQ(nlohmann::json::parse(lines[1]).at("level"), "warning");
    EXPECT_EQ(nlohmann::json::parse(lines[2]).at("level"), "error");
    EXPECT_EQ(messages(lines), (std::vector<std::string>{
                                   "plain", "quote \" backslash \\ newline \n tab \t bell \a end",
                                   R"(record {"a": "x"})"}));
}

// Lines logged inside a scope carry its fields as keys of their own; nested scopes add to the
// enclosing one, and text lines are left as they were.
TEST(json_log, scopes_add_their_fields_to_the_lines_logged_inside) {
    captured_log log(log_format::json);
    spdlog::info("outside");
    {
        const log_scope query({.pipeline = "web", .query = "errors"});
        spdlog::info("in the query");
        {
            const log_scope input({.input = "access", .error_type = "decode"});
            spdlog::warn("bad \"records\"");
        }
        spdlog::info("in the query again");
    }
    spdlog::info("outside again");
    const auto lines = log.lines();
    ASSERT_EQ(lines.size(), 5u);
    std::vector<nlohmann::json> j;
    for (const auto& l : lines) j.push_back(nlohmann::json::parse(l));
    EXPECT_FALSE(j[0].contains("pipeline")) << lines[0];
    EXPECT_EQ(j[1].at("pipeline"), "web");
    EXPECT_EQ(j[1].at("query"), "errors");
    EXPECT_FALSE(j[1].contains("input")) << lines[1];
    EXPECT_FALSE(j[1].contains("node")) << lines[1];
    EXPECT_EQ(j[2].at("pipeline"), "web");
    EXPECT_EQ(j[2].at("input"), "access");
    EXPECT_EQ(j[2].at("error_type"), "decode");
    EXPECT_EQ(j[2].at("msg"), "bad \"records\"");
    EXPECT_FALSE(j[3].contains("input")) << lines[3];
    EXPECT_EQ(j[3].at("query"), "errors");
    EXPECT_EQ(j[4].size(), 4u) << lines[4];

    captured_log text(log_format::text);
    const log_scope query({.pipeline = "web", .query = "errors"});
    spdlog::info("plain");
    ASSERT_EQ(text.lines().size(), 1u);
    EXPECT_EQ(text.lines()[0].find("web"), std::string::npos) << text.lines()[0];
}

TEST(json_log, the_timestamp_is_utc_with_milliseconds) {
    std::string line;
    // 2026-11-20T10:01:10.204Z
    const auto t =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(1'795'168'870'204LL));
    format_json_log_line(t, spdlog::level::info, "weir", "m", line);
    EXPECT_EQ(line,
              R"({"ts":"2026-11-20T10:01:10.204Z","level":"info","logger":"weir","msg":"m"})");
}

TEST(json_log, invalid_utf8_is_replaced_and_valid_utf8_kept) {
    std::string line;
    const std::string bad = std::string("ok \xC3\xA9 \xE2\x82\xAC bad \xFF \xC3 over \xC0\xAF ") +
                            "sur \xED\xA0\x80 end";
    format_json_log_line({}, spdlog::level::warn, "weir", bad, line);
    const auto j = nlohmann::json::parse(line);  // nlohmann rejects invalid UTF-8
    const std::string msg = j.at("msg");
    const std::string r = "\xEF\xBF\xBD";
    EXPECT_EQ(msg, "ok \xC3\xA9 \xE2\x82\xAC bad " + r + " " + r + " over " + r + r + " sur " + r +
                       r + r + " end");
}

TEST(json_log, control_characters_are_escaped) {
    std::string line;
    format_json_log_line({}, spdlog::level::info, "weir",
                         std::string("a\x01"
                                     "b\x7f"
                                     "c",
                                     5),
                         line);
    EXPECT_NE(line.find("\"msg\":\"a\\u0001b\x7f"
                        "c\""),
              std::string::npos)
        << line;
    EXPECT_EQ(nlohmann::json::parse(line).at("msg"), std::string("a\x01"
                                                                 "b\x7f"
                                                                 "c",
                                                                 5));
}

TEST(secrets, values_from_the_environment_are_starred_in_log_lines_and_redact) {
    add_secret("tok-12345-secret");
    add_secret("tok-12345");  // contained in the first: the longer one is replaced whole
    add_secret("abc");        // too short to track
    EXPECT_EQ(redact("POST http://h/hook/tok-12345-secret and tok-12345, abc"),
              "POST http://h/hook/*** and ***, abc");
    captured_log log(log_format::json);
    spdlog::warn("cannot reach http://h/tok-12345-secret/x");
    spdlog::info("nothing secret here");
    EXPECT_EQ(messages(log.lines()),
              (std::vector<std::string>{"cannot reach http://h/***/x", "nothing secret here"}));
}

TEST(text_log, a_line_has_the_utc_time_the_level_and_the_message) {
    captured_log log(log_format::text);
    spdlog::info("hello {}", 42);
    const auto lines = log.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(std::regex_match(
        lines[0], std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info hello 42)")))
        << lines[0];
}

TEST(log_level, messages_below_the_level_are_not_written) {
    captured_log log(log_format::json, spdlog::level::warn);
    spdlog::debug("no");
    spdlog::info("no");
    spdlog::warn("yes");
    spdlog::error("yes too");
    EXPECT_EQ(messages(log.lines()), (std::vector<std::string>{"yes", "yes too"}));
}

TEST(log_limiter, at_most_burst_per_interval_then_one_summary_at_the_next_message) {
    captured_log log(log_format::json);
    manual_clock clock;
    log_limiter limiter({.burst = 3, .interval = std::chrono::seconds(10)}, clock.fn());
    for (int i = 0; i < 10; ++i) limiter.log("q/decode", spdlog::level::warn, "bad record {}", i);
    EXPECT_EQ(limiter.suppressed("q/decode"), 7u);
    clock.now += std::chrono::seconds(9);
    limiter.log("q/decode", spdlog::level::warn, "bad record {}", 10);  // same window: suppressed
    clock.now += std::chrono::seconds(1);
    limiter.log("q/decode", spdlog::level::warn, "bad record {}", 11);  // a new window
    EXPECT_EQ(messages(log.lines()),
              (std::vector<std::string>{"bad record 0", "bad record 1", "bad record 2",
                                        "q/decode: 8 similar messages suppressed in the last 10s",
                                        "bad record 11"}));
    EXPECT_EQ(nlohmann::json::parse(log.lines()[3]).at("level"), "warning");
    EXPECT_EQ(limiter.suppressed("q/decode"), 0u);
}

TEST(failure_log, a_failure_that_repeats_is_logged_once_per_interval_with_the_count_between) {
    manual_clock clock;
    failure_log log(std::chrono::seconds(60), clock.fn());
    EXPECT_EQ(log.failed("disk full"), std::optional<std::uint64_t>(0));  // the first
    for (int i = 0; i < 58; ++i) {
        clock.now += std::chrono::seconds(1);
        EXPECT_EQ(log.failed("disk full"), std::nullopt) << i;
    }
    clock.now += std::chrono::seconds(2);  // a minute after the last line
    EXPECT_EQ(log.failed("disk full"), std::optional<std::uint64_t>(58));
    EXPECT_EQ(failure_log::again(58), " (failed 58 more times since the last line)");
    EXPECT_EQ(failure_log::again(1), " (failed 1 more time since the last line)");
    EXPECT_EQ(failure_log::again(0), "");
    // Another message is logged at once, with what the last one did not say.
    clock.now += std::chrono::seconds(1);
    EXPECT_EQ(log.failed("disk full"), std::nullopt);
    EXPECT_EQ(log.failed("permission denied"), std::optional<std::uint64_t>(1));
    // A success says how many failed since the last success, once.
    EXPECT_EQ(log.succeeded(), 62u);
    EXPECT_EQ(log.succeeded(), 0u);
    // And the next failure is a first again, within the minute or not.
    EXPECT_EQ(log.failed("permission denied"), std::optional<std::uint64_t>(0));
}

TEST(log_limiter, keys_are_limited_independently) {
    captured_log log(log_format::json);
    manual_clock clock;
    log_limiter limiter({.burst = 1, .interval = std::chrono::seconds(10)}, clock.fn());
    EXPECT_TRUE(limiter.allow("a"));
    EXPECT_TRUE(limiter.allow("b"));
    EXPECT_FALSE(limiter.allow("a"));
    EXPECT_FALSE(limiter.allow("a"));
    EXPECT_FALSE(limiter.allow("b"));
    EXPECT_EQ(limiter.suppressed("a"), 2u);
    EXPECT_EQ(limiter.suppressed("b"), 1u);
    EXPECT_EQ(limiter.suppressed("never seen"), 0u);
}

TEST(log_limiter, flush_expired_reports_a_burst_that_stopped_and_only_expired_ones) {
    captured_log log(log_format::json);
    manual_clock clock;
    log_limiter limiter({.burst = 1, .interval = std::chrono::seconds(10)}, clock.fn());
    limiter.allow("old", spdlog::level::err);
    limiter.allow("old", spdlog::level::err);
    limiter.allow("old", spdlog::level::err);
    clock.now += std::chrono::seconds(5);
    limiter.allow("young");
    limiter.allow("young");
    limiter.flush_expired();
    EXPECT_TRUE(log.lines().empty());
    clock.now += std::chrono::seconds(5);
    limiter.flush_expired();  // "old" is 10 s old, "young" 5 s
    ASSERT_EQ(log.lines().size(), 1u);
    const auto j = nlohmann::json::parse(log.lines()[0]);
    EXPECT_EQ(j.at("msg"), "old: 2 similar messages suppressed in the last 10s");
    EXPECT_EQ(j.at("level"), "error");
    limiter.flush_expired();  // nothing more to say about "old"
    EXPECT_EQ(log.lines().size(), 1u);
    EXPECT_EQ(limiter.suppressed("young"), 1u);
}

TEST(log_limiter, flush_suppressed_loses_no_count_at_shutdown) {
    captured_log log(log_format::json);
    manual_clock clock;
    log_limiter limiter({.burst = 2, .interval = std::chrono::milliseconds(1500)}, clock.fn());
    for (int i = 0; i < 5; ++i) limiter.allow("x");
    limiter.allow("y");  // nothing suppressed: no line
    limiter.flush_suppressed();
    EXPECT_EQ(messages(log.lines()),
              (std::vector<std::string>{"x: 3 similar messages suppressed in the last 1500ms"}));
    limiter.flush_suppressed();
    EXPECT_EQ(log.lines().size(), 1u);
}

TEST(log_limiter, a_disabled_level_neither_logs_nor_counts) {
    captured_log log(log_format::json, spdlog::level::err);
    log_limiter limiter({.burst = 1, .interval = std::chrono::seconds(10)});
    for (int i = 0; i < 5; ++i) limiter.log("k", spdlog::level::warn, "w {}", i);
    EXPECT_EQ(limiter.suppressed("k"), 0u);
    EXPECT_TRUE(log.lines().empty());
}

TEST(log_limiter, keys_beyond_the_cap_share_one_bucket) {
    captured_log log(log_format::json);
    manual_clock clock;
    log_limiter limiter({.burst = 1, .interval = std::chrono::seconds(10), .max_keys = 2},
                        clock.fn());
    EXPECT_TRUE(limiter.allow("a"));
    EXPECT_TRUE(limiter.allow("b"));
    EXPECT_TRUE(limiter.allow("c"));   // the first key in "other"
    EXPECT_FALSE(limiter.allow("d"));  // also "other", whose burst is spent
    EXPECT_EQ(limiter.suppressed("other"), 1u);
    limiter.flush_suppressed();
    EXPECT_EQ(messages(log.lines()),
              (std::vector<std::string>{"other: 1 similar messages suppressed in the last 10s"}));
}

TEST(log_limiter, counts_exactly_under_concurrent_callers) {
    captured_log log(log_format::json);
    manual_clock clock;  // never moves: one window
    log_limiter limiter({.burst = 5, .interval = std::chrono::seconds(10)}, clock.fn());
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) {
                if (limiter.allow("shared")) ++allowed;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(allowed.load(), 5);
    EXPECT_EQ(limiter.suppressed("shared"), 3995u);
}

}  // namespace
}  // namespace weir::daemon
