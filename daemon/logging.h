// The daemon's log (spdlog on standard error): text or JSON lines, the level, and a rate limiter
// for per-record problems so a flood of bad records costs a few lines, not the disk.
#pragma once

#include <spdlog/common.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace weir::daemon {

enum class log_format { text, json };

struct logging_options {
    spdlog::level::level_enum level = spdlog::level::info;
    log_format format = log_format::text;
    // Where lines go; null: standard error (stdout belongs to the console output's results).
    spdlog::sink_ptr sink;
};

// "trace", "debug", "info", "warn" (or "warning"), "error", "critical", "off"; nullopt otherwise.
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view text);
// "text" or "json"; nullopt otherwise.
std::optional<log_format> parse_log_format(std::string_view text);

// What a log line is about, beside its message: JSON lines carry each non-empty field as a key
// of its own, so Loki or Elasticsearch can select a pipeline's or an input's lines without
// parsing messages. Text lines leave them out (their messages name what they are about).
struct log_fields {
    std::string_view pipeline;
    std::string_view query;
    std::string_view node;
    std::string_view input;
    std::string_view error_type;  // input_error's names (decode, io, ...), schema, bad_time, ...
};

// The fields of every line logged on this thread while the scope lives, merged over those of
// an enclosing scope (a non-empty field wins). Costs a copy of five views and no allocation;
// the viewed strings must outlive the scope. Scopes nest strictly (they are not movable).
class log_scope {
  public:
    explicit log_scope(const log_fields& fields);
    ~log_scope();
    log_scope(const log_scope&) = delete;
    log_scope& operator=(const log_scope&) = delete;

  private:
    log_fields fields_;
    const log_fields* previous_;
};

// The fields of the innermost log_scope of this thread; null outside any.
const log_fields* current_log_fields();

// Installs the default logger "weir" with the level and format. Set-up code: call before the
// daemon's threads start (spdlog's default logger is not swapped atomically with its users).
// JSON lines are objects {"ts","level","logger","msg"} followed by the log_fields that apply
// ("pipeline","query","node","input","error_type"): ts is RFC 3339 UTC with milliseconds, level
// is spdlog's short name (trace … critical), strings escaped, invalid UTF-8 replaced.
void configure_logging(const logging_options& options);

// The JSON line of one message, without the newline; `out` is cleared first. For tests and for
// the formatter.
void format_json_log_line(std::chrono::system_clock::time_point time,
                          spdlog::level::level_enum level, std::string_view logger,
                          std::string_view message, std::string& out,
                          const log_fields* fields = nullptr);

// At most `burst` messages per key per `interval`; the rest are counted and reported by one
// line "<key>: N similar messages suppressed in the last <interval>" when the key's interval
// has ended (at its next message, or at flush_expired()) or at flush_suppressed().
// Thread-safe. Keys are compared by content: pass a string built once (at query start), not one
// formatted per record. A suppressed message costs a mutex and a map lookup, and no allocation.
class log_limiter {
  public:
    using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

    struct options {
        std::size_t burst = 10;
        std::chrono::milliseconds interval{10'000};
        // Distinct keys tracked at most; beyond, new keys share one bucket named "other".
        std::size_t max_keys = 1024;
    };

    explicit log_limiter(options opts, clock_fn clock = {});
    log_limiter() : log_limiter(options{}) {}

    // True when a message of `key` may be logged now; false when it is suppressed (and counted).
    // `level` is the level of the summary line if one is needed.
    bool allow(std::string_view key, spdlog::level::level_enum level = spdlog::level::warn);

    // Logs `fmt` with `args` at `level` if the key allows it; formats nothing otherwise.
    template <typename... Args>
    void log(std::string_view key, spdlog::level::level_enum level, fmt::format_string<Args...> fmt,
             Args&&... args) {
        if (!spdlog::should_log(level)) return;
        if (!allow(key, level)) return;
        spdlog::log(level, fmt, std::forward<Args>(args)...);
    }

    // Summary lines for keys whose interval has ended; e.g. from a periodic timer, so a burst
    // that stopped is still reported.
    void flush_expired();
    // Summary lines for every key with suppressed messages (at shutdown: no count is lost).
    void flush_suppressed();

    // Messages suppressed since the last summary of `key` (tests, status).
    std::uint64_t suppressed(std::string_view key) const;

  private:
    struct key_state {
        std::chrono::steady_clock::time_point window_start;
        std::size_t allowed = 0;       // in the current window
        std::uint64_t suppressed = 0;  // since the last summary
        spdlog::level::level_enum level = spdlog::level::warn;
    };

    using key_entry = std::pair<const std::string, key_state>;

    key_entry& state_of(std::string_view key,
                        std::chrono::steady_clock::time_point now);  // mutex_ held
    void summarize(const std::string& key, key_state& s);            // mutex_ held

    options options_;
    clock_fn clock_;
    mutable std::mutex mutex_;
    std::map<std::string, key_state, std::less<>> keys_;
};

// A failure that comes back on a schedule (a checkpoint every second while the disk is full, a
// commit the broker keeps refusing): the first is logged, the same message again at most once
// per `every` with the count of those not logged in between, and a different message at once.
// succeeded() then says how many failed before it, to log the recovery once. One owner (a
// query's strand): not thread-safe.
class failure_log {
  public:
    using clock_fn = log_limiter::clock_fn;

    explicit failure_log(std::chrono::milliseconds every = std::chrono::minutes(1),
                         clock_fn clock = {});

    // A failure with this message: when it is to be logged now, how many failures were not
    // logged since the last line (0: none); nullopt when it is not to be logged.
    std::optional<std::uint64_t> failed(std::string_view message);
    // A success: the failures since the last success (0: none), which it forgets.
    std::uint64_t succeeded();

    // The text to append to a repeated failure's line: "" for the first.
    static std::string again(std::uint64_t unlogged);

  private:
    std::chrono::milliseconds every_;
    clock_fn clock_;
    std::string last_;  // the message last logged
    std::chrono::steady_clock::time_point logged_at_{};
    std::uint64_t unlogged_ = 0;  // failures since the last line
    std::uint64_t failures_ = 0;  // since the last success
};

// Secrets: the values of environment variables whose names say so (params::names_a_secret)
// and of parameters declared secret (config::load_result::secrets). Every log line, and every
// message the daemon prints itself through redact(), shows "***" in their place. Values
// shorter than 4 characters are not tracked (too common to be secrets, or to replace safely).
void add_secret(std::string value);
std::string redact(std::string_view text);
// The process environment for config::load that records the value of each variable it hands
// out whose name says it is a secret (*PASSWORD*, *TOKEN*, *SECRET*, *KEY* …).
std::function<std::optional<std::string>(const std::string&)> secret_tracking_env();

// The daemon's limiter for per-record problems (decode, schema, transform errors, input
// problems), with the default options.
log_limiter& record_problem_log();

}  // namespace weir::daemon
