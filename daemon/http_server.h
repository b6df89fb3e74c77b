// The daemon's HTTP/1.1 server (DESIGN.md §1.3): /metrics, /health, /ready, /api/v1/status,
// the status page (/, /status), the event stream of /api/v1/tap and the operator commands of
// POST /api/v1/baselines/* on the daemon's io_context, with limits that keep misbehaving
// clients from hurting the loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace weir::daemon {

namespace detail {
struct http_state;
class http_listener;
}  // namespace detail

// A long-lived answer: server-sent events (text/event-stream), written as the stream gives them
// until the client goes away or the server stops. The connection polls it; nothing waits on a
// reader, so a slow or absent one costs the stream's own buffer only.
class http_event_stream {
  public:
    virtual ~http_event_stream() = default;
    // The events to send now, "" when there are none. On the connection's strand, every
    // http_limits::stream_poll; quick.
    virtual std::string poll() = 0;
};

struct http_stream_answer {
    std::shared_ptr<http_event_stream> stream;  // null: refused, with `status` and `message`
    unsigned status = 404;
    std::string message;
};

// The answer to a command: a status and a JSON body.
struct http_answer {
    unsigned status = 200;
    std::string body;
};

// Called on connection strands, possibly from several io threads at once: each must be
// thread-safe and quick (it runs on the event loop).
struct http_handlers {
    std::function<bool()> ready;                // GET /ready: 200 if true, else 503
    std::function<std::string()> status_json;   // GET /api/v1/status
    std::function<std::string()> metrics_text;  // GET /metrics
    std::function<std::string()> status_page;   // GET / and /status: HTML
    // GET /api/v1/tap?...: `target` is the request target (path and query), `loopback` whether
    // the client connects from this machine. Unset: 404.
    std::function<http_stream_answer(std::string_view target, bool loopback)> tap;
    // POST /api/v1/baselines/reset and /api/v1/baselines/acknowledge, the only routes that take
    // a body (JSON, at most http_limits::max_body_bytes; another Content-Type is refused with
    // 415, so a web page cannot post one from a browser without the browser asking first, which
    // is refused). `action`: "reset" or "acknowledge"; `peer`: the client's address. `done` is
    // called once, from any thread (possibly after this returned); the client waits for it at
    // most http_limits::command_timeout. Unset: 404.
    std::function<void(std::string_view action, std::string body, std::string peer, bool loopback,
                       std::function<void(http_answer)> done)>
        baseline;
    // Runs `work` on a thread other than the event loop's. The answers that take time to build
    // (/metrics, /api/v1/status and the status page: milliseconds to tens of milliseconds with
    // many queries or series) are built there, so that a scrape or a status poll does not hold
    // up the loop, and /health (answered on the loop: it says the loop is responsive) with it.
    // Unset: they are built on the loop.
    std::function<void(std::function<void()> work)> render;
};

struct http_limits {
    std::size_t max_header_bytes = 8 * 1024;  // request line + fields; beyond: 431
    // The body of a command (the only requests that have one); beyond: 413.
    std::size_t max_body_bytes = 16 * 1024;
    // A command's answer is awaited this long; then the client gets 503 (the command may still
    // be applied later: the log says).
    std::chrono::milliseconds command_timeout{10'000};
    // The whole of one request must arrive within this; an idle keep-alive connection and a
    // client that reads its response too slowly are closed after it as well.
    std::chrono::milliseconds request_timeout{10'000};
    // At most this many connections are open (and never more than half of the process's open-file
    // limit, so that inputs and outputs keep descriptors). A new connection beyond it takes the
    // place of the connection that has been idle longest (no request under way), so /health and
    // /metrics stay reachable however many idle connections clients hold; when every connection
    // is in the middle of a request, the new one is accepted and closed at once.
    std::size_t max_connections = 1024;
    // Once max_connections was reached (until the server is half empty again), a connection
    // waiting for its next request is closed after this much silence instead of
    // request_timeout.
    std::chrono::milliseconds idle_timeout_under_pressure{1'000};
    // An event stream is polled this often; with nothing to send for stream_keepalive, it sends
    // a comment, so proxies keep it open. A write to a client that has not taken it after
    // request_timeout closes the stream.
    std::chrono::milliseconds stream_poll{100};
    std::chrono::milliseconds stream_keepalive{10'000};
};

struct http_stats {
    std::uint64_t accepted = 0;  // connections served
    std::uint64_t rejected = 0;  // closed at once: max_connections was reached, none idle
    std::uint64_t evicted = 0;   // idle connections closed to make room for a new one
    std::size_t open = 0;        // connections open now
    std::size_t idle = 0;        // of which waiting for their next request
};

class http_server {
  public:
    // Binds and listens on `listen` ("host:port", "[v6]:port" or ":port" for every address; port 0
    // lets the OS choose) and starts accepting. Throws std::runtime_error when the address is
    // invalid or cannot be bound.
    http_server(boost::asio::io_context& io, std::string_view listen, http_handlers handlers,
                http_limits limits = {});
    ~http_server();  // stop()
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    unsigned short local_port() const { return port_; }

    // From now on GET /health answers 503 (the daemon is stopping); everything else goes on.
    void begin_shutdown();

    // Closes the acceptor and every connection (asynchronously, on their strands). Idempotent,
    // callable from any thread.
    void stop();

    http_stats stats() const;

  private:
    std::shared_ptr<detail::http_state> state_;
    std::shared_ptr<detail::http_listener> listener_;
    unsigned short port_ = 0;
};

}  // namespace weir::daemon
