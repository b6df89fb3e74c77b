// The console output: one readable line per check result (or the result as JSON) on stdout or
// stderr; derived records print as the JSON objects they are.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/runtime.h"

namespace weir::connectors {

struct console_options {
    bool json = false;   // format: json (else text)
    bool color = false;  // resolved: `auto` was decided by the factory
};

// Appends the text form of a result, with a newline:
// `2026-11-20T10:01:00.000Z sensors/quality volume {device_id=d-17} FAIL count()=42 must_be "> 50"`
// — the window's end, pipeline/node, check, group (when grouped), outcome, measure=value and
// the assessments. With `color`, the outcome is wrapped in ANSI colours.
void append_console_text(const check_result& r, bool color, std::string& out);

// Whether `color: auto` colours a stream: it is a terminal and NO_COLOR is unset or empty
// (https://no-color.org).
bool console_wants_color(int fd);

class console_output final : public output, public std::enable_shared_from_this<console_output> {
  public:
    // Writes to `fd` (stdout, stderr, or a pipe in tests); the caller keeps it open for the
    // output's lifetime. Writes are blocking and happen on ctx.executor.
    console_output(const output_context& ctx, int fd, console_options options);

    void write_result(const check_result& result) override;
    void write_record(std::string_view json) override;
    void flush(std::function<void(bool ok, const std::string& error)> done) override;
    void stop(std::function<void()> done) override;
    output_stats stats() const override;

  private:
    // Called with mutex_ held after a line was added to pending_.
    void added_locked(std::unique_lock<std::mutex>& lock);
    void drain();  // on the executor

    boost::asio::any_io_executor executor_;
    const int fd_;
    const console_options options_;

    std::mutex mutex_;  // guards pending_ and drain_posted_: producers run on any thread
    std::string pending_;
    std::size_t pending_lines_ = 0;
    bool drain_posted_ = false;
    bool stopped_ = false;

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
