// The console output: one readable line per check result (or the result as JSON) on stdout or
// stderr; derived records print as the JSON objects they are.
#pragma once

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "connectors/runtime.h"

namespace weir::connectors {

// Which results the console prints (its own `emit`, after the checks' `emit`):
// - all: every result;
// - failures: warn, fail and no_data;
// - changes: warn and fail, and every result whose outcome differs from the previous one of its
//   check and group (a check back to pass, a group that went silent).
// Results not printed are counted in a one-line summary every summary_interval and at stop.
enum class console_emit : std::uint8_t { all, failures, changes };

struct console_options {
    bool json = false;   // format: json (else text)
    bool color = false;  // resolved: `auto` was decided by the factory
    console_emit emit = console_emit::all;
    std::chrono::milliseconds summary_interval{60'000};  // 0: only at stop
};

// The widest text line: results are made to fit by leaving out the measure, then the pipeline,
// then eliding the node, the check name and the group with "…"; the value and the assessment
// stay whole.
inline constexpr std::size_t k_console_width = 100;

// Appends the text form of a result, with a newline, at most k_console_width columns:
// `2026-11-20T10:01:00Z FAIL sensors/quality volume {device_id=d-17} count() = 42 (must be > 50)`
// — the window's end, outcome, pipeline/node, check, group (when grouped), measure, the value
// and the assessment that judged it (must_be for a fail, should_be for a warn), both in the
// assessment's unit (core/result/format.h). With `color`, the outcome is wrapped in ANSI
// colours (not counted as columns).
void append_console_text(const check_result& r, bool color, std::string& out);

// What the console left out since its last summary.
struct console_hidden {
    std::uint64_t passed = 0;
    std::uint64_t no_data = 0;
    std::set<std::string> checks;                            // pipeline/node/check
    std::set<std::pair<std::string, std::int64_t>> windows;  // pipeline/node, window start
    time::timestamp_ns latest_end = 0;

    bool empty() const { return passed == 0 && no_data == 0; }
};

// Appends the summary line of results left out, with a newline:
// `2026-11-20T10:03:00Z PASS 12 results passed (4 checks in 3 windows)`.
void append_console_summary(const console_hidden& hidden, bool color, std::string& out);

// Whether `color: auto` colours a stream: it is a terminal and NO_COLOR is unset or empty
// (https://no-color.org).
bool console_wants_color(int fd);

class console_output final : public output, public std::enable_shared_from_this<console_output> {
  public:
    // Writes to `fd` (stdout, stderr, or a pipe in tests); the caller keeps it open for the
    // output's lifetime. Writes are blocking and happen on ctx.executor.
    console_output(const output_context& ctx, int fd, console_options options);
    // Arms the summary timer (changes and failures); the factory calls it.
    void start();

    void write_result(const check_result& result) override;
    void write_record(std::string_view json) override;
    void flush(std::function<void(bool ok, const std::string& error)> done) override;
    void stop(std::function<void()> done) override;
    output_stats stats() const override;

  private:
    // Called with mutex_ held after a line was added to pending_.
    void added_locked(std::unique_lock<std::mutex>& lock);
    void drain();  // on the executor
    // Whether `r` is printed under options_.emit; counts it in hidden_ otherwise.
    bool shown_locked(const check_result& r);
    void summarize_locked();
    void arm_summary();

    boost::asio::any_io_executor executor_;
    const int fd_;
    const console_options options_;

    std::mutex mutex_;  // guards pending_ and drain_posted_: producers run on any thread
    std::string pending_;
    std::size_t pending_lines_ = 0;
    bool drain_posted_ = false;
    bool stopped_ = false;
    // emit: changes — the last outcome per check and group (bounded: cleared when it grows
    // beyond a cap, after which results count as first seen).
    std::map<std::string, outcome, std::less<>> last_outcome_;
    console_hidden hidden_;
    boost::asio::steady_timer summary_timer_;

    // On the executor only.
    std::string writing_;
    std::string last_error_;
    bool failed_since_flush_ = false;

    std::atomic<std::uint64_t> records_{0};
    std::atomic<std::uint64_t> errors_{0};
};

// The `console` output, writing to standard output.
std::shared_ptr<output> make_console_output(const params::reader& p, const output_context& ctx);

}  // namespace weir::connectors
