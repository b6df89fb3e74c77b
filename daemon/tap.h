// Live taps (`weir tap`, GET /api/v1/tap): a bounded sample of the records or check results of
// a running node, for a person watching. A tap must never slow the data path down nor make the
// daemon hold more memory: each session takes at most `rate` items a second and buffers at most
// `buffer_bytes`; what does not fit is dropped and counted, and the reader is told how many.
//
// Threads: a tap_point is shared by the query that feeds it (on the query's strand) and the HTTP
// connections that read it (on theirs); its sessions are guarded by a mutex held only to copy
// one item in or the buffered items out.
#pragma once

#include <atomic>
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
#include <vector>

#include "daemon/http_server.h"

namespace weir::daemon {

enum class tap_kind { records, results };

// A token bucket: `rate` tokens a second, at most `burst` saved up. Time in steady-clock
// nanoseconds, given by the caller (tests pass their own).
class rate_limiter {
  public:
    rate_limiter(double rate, double burst, std::int64_t now_ns);
    // Takes one token when there is one.
    bool take(std::int64_t now_ns);

  private:
    double rate_;
    double burst_;
    double tokens_;
    std::int64_t last_ns_;
};

struct tap_limits {
    double rate = 100;                      // items a second, per session
    std::size_t buffer_bytes = 256 * 1024;  // buffered for a slow reader, per session
};

// One reader's tap: a rate limiter and a bounded buffer of server-sent events.
class tap_session {
  public:
    tap_session(tap_kind kind, tap_limits limits, std::int64_t now_ns);

    tap_kind kind() const { return kind_; }

    // Whether one more item is welcome now (the rate); counts it dropped when not.
    bool admit(std::int64_t now_ns);
    // Buffers one item (a JSON object on one line) as an event; drops and counts it when the
    // buffer is full.
    void push(std::string_view json);
    // `count` items were dropped without being offered.
    void count_dropped(std::uint64_t count);

    // What is buffered, as the text of server-sent events, preceded by a `dropped` event when
    // items were dropped since the last take; "" when there is nothing.
    std::string take();

    std::uint64_t dropped_total() const;

  private:
    const tap_kind kind_;
    const tap_limits limits_;
    mutable std::mutex mutex_;
    rate_limiter limiter_;
    std::string buffer_;
    std::uint64_t dropped_ = 0;  // since the last take()
    std::uint64_t dropped_total_ = 0;
};

// Where the taps of one node attach; one per (pipeline, node), kept while the daemon runs, so a
// tap outlives the restarts of its query.
class tap_point {
  public:
    // Whether any session of `kind` is attached: one relaxed load, asked once per batch.
    bool wanted(tap_kind kind) const {
        return count_[static_cast<int>(kind)].load(std::memory_order_relaxed) > 0;
    }
    // Hands one item to every session of `kind` that admits it now; false when none did (the
    // caller may stop offering the rest of its batch).
    bool offer(tap_kind kind, std::string_view json);
    // `count` items of `kind` were not offered after offer() returned false: dropped, for
    // every session of that kind.
    void skip(tap_kind kind, std::uint64_t count);

    void attach(const std::shared_ptr<tap_session>& s);
    void detach(const tap_session* s);

  private:
    std::mutex mutex_;
    std::vector<std::shared_ptr<tap_session>> sessions_;
    std::atomic<int> count_[2] = {0, 0};
};

// The daemon's taps: the points by node, and how many sessions may be open at once.
class tap_hub {
  public:
    explicit tap_hub(std::size_t max_sessions = 8) : max_sessions_(max_sessions) {}

    // The point of a node (created on first use). Any thread.
    std::shared_ptr<tap_point> point(std::string_view pipeline, std::string_view node);

    // A session attached to its point; it detaches when the returned handle is destroyed.
    // Null when max_sessions are open already.
    class handle;
    std::unique_ptr<handle> open(std::string_view pipeline, std::string_view node, tap_kind kind,
                                 tap_limits limits);

    std::size_t open_sessions() const { return open_->load(); }

  private:
    const std::size_t max_sessions_;
    // Shared with the handles, which may outlive the hub (a connection closing at shutdown).
    std::shared_ptr<std::atomic<std::size_t>> open_ = std::make_shared<std::atomic<std::size_t>>(0);
    std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<tap_point>, std::less<>> points_;
};

class tap_hub::handle {
  public:
    handle(std::shared_ptr<tap_point> point, std::shared_ptr<tap_session> session,
           std::shared_ptr<std::atomic<std::size_t>> open)
        : point_(std::move(point)), session_(std::move(session)), open_(std::move(open)) {}
    ~handle();
    handle(const handle&) = delete;
    handle& operator=(const handle&) = delete;

    tap_session& session() { return *session_; }

  private:
    std::shared_ptr<tap_point> point_;
    std::shared_ptr<tap_session> session_;
    std::shared_ptr<std::atomic<std::size_t>> open_;
};

// Steady-clock nanoseconds, the time base of the limiters.
std::int64_t tap_now_ns();

// http.tap, http.tap_remote and http.tap_rate of the settings file.
struct tap_settings {
    bool enabled = false;
    bool remote = false;
    double max_rate = 100;
};

// The answer to GET /api/v1/tap?pipeline=P&node=N[&kind=records|results][&rate=R]: an event
// stream of the node's records (or check results), at most min(R, max_rate) a second.
// `check(pipeline, node, kind)` says why the node cannot be tapped ("" when it can); it is called
// from the HTTP server's threads.
using tap_check =
    std::function<std::string(std::string_view pipeline, std::string_view node, tap_kind kind)>;
http_stream_answer open_tap(tap_hub& hub, const tap_settings& settings, std::string_view target,
                            bool loopback, const tap_check& check);

// The value of `key` in the query of `target` ("/p?a=1&b=x%20y"), percent-decoded; nullopt
// when it is not there.
std::optional<std::string> query_parameter(std::string_view target, std::string_view key);

}  // namespace weir::daemon
