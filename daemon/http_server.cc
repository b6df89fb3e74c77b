// The daemon's HTTP server; see http_server.h. One listener and one object per connection, each
// on its own strand; every read and write has a deadline, so no client can hold the loop.
#include "daemon/http_server.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace weir::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace detail {

class http_connection;

struct http_state {
    http_handlers handlers;
    http_limits limits;
    std::size_t max_connections = 0;  // limits.max_connections within the open-file limit
    std::atomic<bool> shutting_down{false};
    std::atomic<bool> stopped{false};
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> rejected{0};
    std::atomic<std::uint64_t> evicted{0};
    std::atomic<std::size_t> open{0};
    std::mutex mutex;  // guards connections, idle and next_idle
    std::unordered_map<http_connection*, std::weak_ptr<http_connection>> connections;
    // Connections waiting for the first byte of their next request, oldest first.
    std::map<std::uint64_t, std::weak_ptr<http_connection>> idle;
    std::uint64_t next_idle = 0;
    // The cap was reached, and the server has not been half empty since: idle connections are
    // closed sooner, and the episode is logged once.
    std::atomic<bool> crowded{false};

    bool under_pressure() const { return crowded.load(); }

    // Closes the connection idle longest to make room for a new one; false when none is idle.
    // Any thread.
    bool evict_oldest_idle();
};

namespace {

// After an error response the request may still be arriving; closing at once would make the
// kernel reset the connection and the client could lose the response. Read and discard for a
// bounded time and amount instead.
constexpr std::chrono::milliseconds k_linger_time{1000};
constexpr std::size_t k_linger_bytes = 1024 * 1024;
// Leftover bytes of pipelined requests; well above max_header_bytes in practice.
constexpr std::size_t k_read_buffer_bytes = 64 * 1024;
// What an idle connection reads when its next request begins.
constexpr std::size_t k_first_read_bytes = 4096;

std::string_view path_of(std::string_view target) {
    const auto query = target.find('?');
    return query == std::string_view::npos ? target : target.substr(0, query);
}

constexpr std::string_view k_baselines = "/api/v1/baselines/";

// "reset" of /api/v1/baselines/reset: the command a path names, "" for other paths.
std::string_view command_of(std::string_view path) {
    if (!path.starts_with(k_baselines)) return "";
    const auto action = path.substr(k_baselines.size());
    return action == "reset" || action == "acknowledge" ? action : "";
}

std::string error_json(std::string_view message) {
    std::string out = "{\"error\":\"";
    for (const char c : message) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
            out += c;
        }
    }
    return out + "\"}\n";
}

// application/json, with parameters or not, in any case.
bool is_json(std::string_view content_type) {
    const auto semicolon = content_type.find(';');
    auto type = content_type.substr(0, semicolon);
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    constexpr std::string_view json = "application/json";
    if (type.size() != json.size()) return false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(type[i])) != json[i]) return false;
    }
    return true;
}

}  // namespace

class http_connection : public std::enable_shared_from_this<http_connection> {
  public:
    http_connection(tcp::socket socket, std::shared_ptr<http_state> state)
        : stream_(std::move(socket)),
          state_(std::move(state)),
          buffer_(k_read_buffer_bytes),
          poll_timer_(stream_.get_executor()) {
        ++state_->open;
    }

    ~http_connection() {
        --state_->open;
        std::lock_guard lock(state_->mutex);
        state_->connections.erase(this);
        if (idle_key_) state_->idle.erase(*idle_key_);
    }

    void start() {
        {
            std::lock_guard lock(state_->mutex);
            if (state_->stopped) return;  // the socket closes with this object
            state_->connections.emplace(this, weak_from_this());
        }
        asio::dispatch(
            stream_.get_executor(),
            beast::bind_front_handler(&http_connection::await_request, shared_from_this()));
    }

    // From any thread.
    void close() {
        asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
    }

  private:
    // Waits for the first byte of the next request while listed as idle, so that a new
    // connection may take this one's place when the server is full.
    void await_request() {
        if (buffer_.size() > 0) {  // a pipelined request is already here
            read();
            return;
        }
        {
            std::lock_guard lock(state_->mutex);
            idle_key_ = state_->next_idle++;
            state_->idle.emplace(*idle_key_, weak_from_this());
        }
        stream_.expires_after(state_->under_pressure() ? state_->limits.idle_timeout_under_pressure
                                                       : state_->limits.request_timeout);
        stream_.async_read_some(buffer_.prepare(k_first_read_bytes),
                                [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                    self->leave_idle();
                                    if (ec) {
                                        self->close_now();
                                        return;
                                    }
                                    self->buffer_.commit(n);
                                    self->read();
                                });
    }

    void leave_idle() {
        if (!idle_key_) return;
        std::lock_guard lock(state_->mutex);
        state_->idle.erase(*idle_key_);
        idle_key_.reset();
    }

    // The header first: only the commands' requests may have a body, read once the route is
    // known.
    void read() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(state_->limits.max_header_bytes));
        parser_->body_limit(state_->limits.max_body_bytes);
        body_parser_.reset();
        stream_.expires_after(state_->limits.request_timeout);
        http::async_read_header(
            stream_, buffer_, *parser_,
            beast::bind_front_handler(&http_connection::on_header, shared_from_this()));
    }

    void on_header(beast::error_code ec, std::size_t) {
        if (ec) {
            on_error(ec);
            return;
        }
        const auto& req = parser_->get();
        const auto path = path_of(std::string_view(req.target().data(), req.target().size()));
        if (req.method() == http::verb::post && !command_of(path).empty() &&
            state_->handlers.baseline) {
            body_parser_.emplace(std::move(*parser_));
            http::async_read(
                stream_, buffer_, *body_parser_,
                beast::bind_front_handler(&http_connection::on_body, shared_from_this()));
            return;
        }
        if (!parser_->is_done()) {  // every other route is a GET: a request body is refused
            refuse(http::status::payload_too_large, "requests take no body\n");
            return;
        }
        respond(req);
    }

    void on_body(beast::error_code ec, std::size_t) {
        if (ec) {
            on_error(ec);
            return;
        }
        command(body_parser_->get());
    }

    void on_error(beast::error_code ec) {
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
            refuse(http::status::request_header_fields_too_large, "request header too large\n");
        } else if (ec == http::error::body_limit || ec == http::error::unexpected_body) {
            const auto& req = body_parser_ ? body_parser_->get().base() : parser_->get().base();
            const auto path = path_of(std::string_view(req.target().data(), req.target().size()));
            if (command_of(path).empty()) {
                refuse(http::status::payload_too_large, "requests take no body\n");
            } else {
                refuse(http::status::payload_too_large,
                       fmt::format("a command's body takes at most {} bytes\n",
                                   state_->limits.max_body_bytes));
            }
        } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                   ec != http::error::end_of_stream && ec != http::error::partial_message) {
            refuse(http::status::bad_request, "malformed request\n");
        } else {
            // The client went away (possibly mid-request), timed out, or we are stopping.
            close_now();
        }
    }

    // Refuses versions other than HTTP/1.0 and 1.1 (false); else starts the response.
    bool begin_response(unsigned version) {
        if (version != 10 && version != 11) {
            refuse(http::status::http_version_not_supported, "HTTP/1.0 and HTTP/1.1 only\n");
            return false;
        }
        res_ = {};
        res_.version(version);
        res_.set(http::field::server, "weir");
        return true;
    }

    void respond(const http::request<http::empty_body>& req) {
        if (!begin_response(req.version())) return;
        const auto path = path_of(std::string_view(req.target().data(), req.target().size()));
        const auto& h = state_->handlers;
        const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
        const bool page = path == "/" || path == "/status";
        if (path == "/api/v1/tap" && req.method() == http::verb::get && h.tap) {
            if (open_stream(req)) return;
        } else if (!command_of(path).empty() && h.baseline) {
            // A POST is command()'s: any other method.
            set(http::status::method_not_allowed, "text/plain; charset=utf-8",
                "method not allowed\n");
            res_.set(http::field::allow, "POST");
        } else if (path != "/metrics" && path != "/health" && path != "/ready" &&
                   path != "/api/v1/status" && !page) {
            set(http::status::not_found, "text/plain; charset=utf-8", "not found\n");
        } else if (!get) {
            set(http::status::method_not_allowed, "text/plain; charset=utf-8",
                "method not allowed\n");
            res_.set(http::field::allow, "GET, HEAD");
        } else {
            if (path == "/health") {
                const bool up = !state_->shutting_down;
                set(up ? http::status::ok : http::status::service_unavailable,
                    "text/plain; charset=utf-8", up ? "ok\n" : "shutting down\n");
            } else if (path == "/ready") {
                try {
                    const bool ready = h.ready && h.ready();
                    set(ready ? http::status::ok : http::status::service_unavailable,
                        "text/plain; charset=utf-8", ready ? "ready\n" : "not ready\n");
                } catch (const std::exception& e) {
                    set(http::status::internal_server_error, "text/plain; charset=utf-8",
                        std::string("internal error: ") + e.what() + "\n");
                }
            } else if (h.render) {
                render_later(std::string(path), page, req.keep_alive(),
                             req.method() == http::verb::head);
                return;
            } else {
                apply(render_answer(h, path, page));
            }
        }
        finish(req.keep_alive(), req.method() == http::verb::head);
    }

    // An answer that takes time to build (http_handlers::render).
    struct rendered {
        http::status status = http::status::ok;
        std::string content_type;
        std::string body;
        bool page = false;  // the status page: its Content-Security-Policy
    };

    // The answer of GET /metrics, the status page or /api/v1/status; from any thread.
    static rendered render_answer(const http_handlers& h, std::string_view path, bool page) {
        try {
            if (path == "/metrics") {
                if (!h.metrics_text) {
                    return {http::status::service_unavailable, "text/plain; charset=utf-8",
                            "no metrics\n"};
                }
                return {http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                        h.metrics_text()};
            }
            if (page) {
                if (!h.status_page) {
                    return {http::status::not_found, "text/plain; charset=utf-8", "not found\n"};
                }
                return {http::status::ok, "text/html; charset=utf-8", h.status_page(), true};
            }
            if (h.status_json) return {http::status::ok, "application/json", h.status_json()};
            return {http::status::service_unavailable, "application/json", "{}\n"};
        } catch (const std::exception& e) {
            return {http::status::internal_server_error, "text/plain; charset=utf-8",
                    std::string("internal error: ") + e.what() + "\n"};
        }
    }

    void apply(rendered a) {
        set(a.status, a.content_type, std::move(a.body));
        if (a.page) {
            // The page is inline CSS and SVG only: nothing else may load or run.
            res_.set("Content-Security-Policy",
                     "default-src 'none'; style-src 'unsafe-inline'; "
                     "img-src data:; form-action 'none'; frame-ancestors 'none'");
        }
    }

    // Builds the answer on the render thread, then writes it from the connection's executor
    // (unless the connection was closed meanwhile: the server stopped).
    void render_later(std::string path, bool page, bool keep_alive, bool head) {
        auto work = [self = shared_from_this(), executor = stream_.get_executor(),
                     path = std::move(path), page, keep_alive, head] {
            rendered a = render_answer(self->state_->handlers, path, page);
            asio::post(executor, [self, a = std::move(a), keep_alive, head]() mutable {
                if (self->closed_) return;
                self->apply(std::move(a));
                self->finish(keep_alive, head);
            });
        };
        try {
            state_->handlers.render(std::move(work));
        } catch (const std::exception& e) {
            set(http::status::internal_server_error, "text/plain; charset=utf-8",
                std::string("internal error: ") + e.what() + "\n");
            finish(keep_alive, head);
        }
    }

    void finish(bool keep_alive, bool head) {
        // While stopping, let clients move on instead of keeping connections open.
        res_.keep_alive(keep_alive && !state_->shutting_down);
        if (head) {
            const auto length = res_.body().size();
            res_.body().clear();
            res_.content_length(length);
        }
        write(!res_.keep_alive());
    }

    // POST /api/v1/baselines/*: hands the body to the handler and answers when it is done, or
    // after command_timeout.
    void command(const http::request<http::string_body>& req) {
        if (!begin_response(req.version())) return;
        command_keep_alive_ = req.keep_alive();
        const auto content_type = req[http::field::content_type];
        if (!is_json(std::string_view(content_type.data(), content_type.size()))) {
            answer_command({415, error_json("the body must be JSON (Content-Type: "
                                            "application/json)")});
            return;
        }
        beast::error_code ec;
        const auto peer = stream_.socket().remote_endpoint(ec).address();
        bool loopback = !ec && peer.is_loopback();
        if (!ec && peer.is_v6() && peer.to_v6().is_v4_mapped()) {
            loopback = asio::ip::make_address_v4(asio::ip::v4_mapped, peer.to_v6()).is_loopback();
        }
        const std::string peer_text = ec ? std::string("?") : peer.to_string();
        const std::uint64_t id = ++command_id_;
        command_pending_ = true;
        poll_timer_.expires_after(state_->limits.command_timeout);
        poll_timer_.async_wait([self = shared_from_this(), id](beast::error_code e) {
            if (e || !self->command_pending_ || self->command_id_ != id) return;
            self->answer_command(
                {503, error_json(fmt::format(
                          "no answer from the query within {} ms; the command may still be "
                          "applied (the daemon's log says when it is)",
                          self->state_->limits.command_timeout.count()))});
        });
        const auto path = path_of(std::string_view(req.target().data(), req.target().size()));
        auto done = [self = shared_from_this(), id](http_answer a) {
            asio::post(self->stream_.get_executor(), [self, id, a = std::move(a)]() mutable {
                if (!self->command_pending_ || self->command_id_ != id) return;
                self->answer_command(std::move(a));
            });
        };
        try {
            state_->handlers.baseline(command_of(path), req.body(), peer_text, loopback,
                                      std::move(done));
        } catch (const std::exception& e) {
            answer_command({500, error_json(std::string("internal error: ") + e.what())});
        }
    }

    void answer_command(http_answer a) {
        command_pending_ = false;
        poll_timer_.cancel();
        if (closed_) return;
        set(static_cast<http::status>(a.status), "application/json", std::move(a.body));
        res_.keep_alive(command_keep_alive_ && !state_->shutting_down);
        write(!res_.keep_alive());
    }

    // GET /api/v1/tap: true when the event stream started (the answer is under way); else the
    // refusal is in res_.
    bool open_stream(const http::request<http::empty_body>& req) {
        beast::error_code ec;
        const auto peer = stream_.socket().remote_endpoint(ec).address();
        bool loopback = !ec && peer.is_loopback();
        if (!ec && peer.is_v6() && peer.to_v6().is_v4_mapped()) {
            loopback = asio::ip::make_address_v4(asio::ip::v4_mapped, peer.to_v6()).is_loopback();
        }
        http_stream_answer answer;
        try {
            answer = state_->handlers.tap(
                std::string_view(req.target().data(), req.target().size()), loopback);
        } catch (const std::exception& e) {
            answer = {nullptr, 500, std::string("internal error: ") + e.what() + "\n"};
        }
        if (!answer.stream) {
            set(static_cast<http::status>(answer.status), "text/plain; charset=utf-8",
                std::move(answer.message));
            return false;
        }
        event_stream_ = std::move(answer.stream);
        // The body ends when the connection closes: no length, no chunks to frame.
        send(
            fmt::format("HTTP/1.{} 200 OK\r\nServer: weir\r\nContent-Type: text/event-stream\r\n"
                        "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
                        "Connection: close\r\n\r\n",
                        req.version() == 10 ? 0 : 1));
        watch_client();
        poll_stream();
        return true;
    }

    // A client of an event stream sends nothing more: reading tells when it goes away. This
    // read has no deadline (one may watch as long as one likes); the stream's writes keep one.
    void watch_client() {
        stream_.socket().async_read_some(
            asio::buffer(discard_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
                if (ec) {
                    self->close_now();
                } else {
                    self->watch_client();
                }
            });
    }

    void poll_stream() {
        poll_timer_.expires_after(state_->limits.stream_poll);
        poll_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (ec || self->closed_) return;
            const auto now = std::chrono::steady_clock::now();
            if (self->writing_) {
                // The client does not read: its tap drops what does not fit meanwhile.
                if (now - self->write_started_ > self->state_->limits.request_timeout) {
                    self->close_now();
                    return;
                }
            } else {
                std::string text = self->event_stream_->poll();
                if (text.empty() &&
                    now - self->write_started_ > self->state_->limits.stream_keepalive) {
                    text = ": keep-alive\n\n";
                }
                if (!text.empty()) self->send(std::move(text));
            }
            self->poll_stream();
        });
    }

    void send(std::string text) {
        out_ = std::move(text);
        writing_ = true;
        write_started_ = std::chrono::steady_clock::now();
        asio::async_write(stream_.socket(), asio::buffer(out_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->writing_ = false;
                              if (ec) self->close_now();
                          });
    }

    void refuse(http::status status, std::string_view text) {
        res_ = {};
        res_.version(11);
        res_.set(http::field::server, "weir");
        set(status, "text/plain; charset=utf-8", std::string(text));
        res_.keep_alive(false);
        write(true);
    }

    void set(http::status status, std::string_view content_type, std::string body) {
        res_.result(status);
        res_.set(http::field::content_type,
                 beast::string_view(content_type.data(), content_type.size()));
        res_.body() = std::move(body);
        res_.prepare_payload();
    }

    void write(bool close_after) {
        stream_.expires_after(state_->limits.request_timeout);
        http::async_write(
            stream_, res_,
            beast::bind_front_handler(&http_connection::on_write, shared_from_this(), close_after));
    }

    void on_write(bool close_after, beast::error_code ec, std::size_t) {
        if (ec) {
            close_now();
        } else if (close_after || state_->stopped) {
            linger();
        } else {
            await_request();
        }
    }

    void linger() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.expires_after(k_linger_time);
        drain();
    }

    void drain() {
        stream_.async_read_some(asio::buffer(discard_),
                                [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                    self->lingered_ += n;
                                    if (ec || self->lingered_ > k_linger_bytes) {
                                        self->close_now();
                                    } else {
                                        self->drain();
                                    }
                                });
    }

    void close_now() {
        closed_ = true;
        poll_timer_.cancel();
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

    beast::tcp_stream stream_;
    std::shared_ptr<http_state> state_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::empty_body>> parser_;
    // A command's request, once its header named a command's route.
    std::optional<http::request_parser<http::string_body>> body_parser_;
    // A command under way (its answer awaited; poll_timer_ bounds the wait), and which: a late
    // answer of an earlier one must not answer the next request.
    bool command_pending_ = false;
    bool command_keep_alive_ = false;
    std::uint64_t command_id_ = 0;
    http::response<http::string_body> res_;
    std::array<char, 4096> discard_;
    std::size_t lingered_ = 0;
    std::optional<std::uint64_t> idle_key_;  // this connection's place in state_->idle
    // An event stream (GET /api/v1/tap), once it started: what it sends, the text being written,
    // since when, and whether the connection is closed. poll_timer_ also bounds a command's
    // wait.
    std::shared_ptr<http_event_stream> event_stream_;
    asio::steady_timer poll_timer_;
    std::string out_;
    bool writing_ = false;
    std::chrono::steady_clock::time_point write_started_;
    bool closed_ = false;
};

bool http_state::evict_oldest_idle() {
    std::shared_ptr<http_connection> victim;
    {
        std::lock_guard lock(mutex);
        while (!idle.empty() && !victim) {
            victim = idle.begin()->second.lock();
            idle.erase(idle.begin());
        }
    }
    if (!victim) return false;
    ++evicted;
    victim->close();
    return true;
}

class http_listener : public std::enable_shared_from_this<http_listener> {
  public:
    http_listener(asio::io_context& io, const tcp::endpoint& endpoint,
                  std::shared_ptr<http_state> state)
        : io_(io),
          acceptor_(asio::make_strand(io)),
          retry_timer_(acceptor_.get_executor()),
          state_(std::move(state)) {
        beast::error_code ec;
        acceptor_.open(endpoint.protocol(), ec);
        if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor_.bind(endpoint, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                                     std::to_string(endpoint.port()) + ": " + ec.message());
        }
        port_ = acceptor_.local_endpoint().port();
    }

    unsigned short port() const { return port_; }

    void start() { accept(); }

    void stop() {
        asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
            beast::error_code ignored;
            self->acceptor_.close(ignored);
            self->retry_timer_.cancel();
        });
    }

  private:
    void accept() {
        acceptor_.async_accept(
            asio::make_strand(io_),
            beast::bind_front_handler(&http_listener::on_accept, shared_from_this()));
    }

    void on_accept(beast::error_code ec, tcp::socket socket) {
        if (!acceptor_.is_open() || ec == asio::error::operation_aborted) return;
        if (ec) {
            // Out of descriptors, typically: an idle connection gives its own back; else back
            // off so the loop does not spin on it.
            if ((ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) &&
                state_->evict_oldest_idle()) {
                note_crowded();
                retry_timer_.expires_after(std::chrono::milliseconds(1));
            } else {
                retry_timer_.expires_after(std::chrono::milliseconds(100));
            }
            retry_timer_.async_wait([self = shared_from_this()](beast::error_code e) {
                if (!e) self->accept();
            });
            return;
        }
        const std::size_t open = state_->open;
        if (open >= state_->max_connections && !state_->evict_oldest_idle()) {
            ++state_->rejected;
            note_crowded();
            beast::error_code ignored;
            socket.close(ignored);
        } else {
            if (open >= state_->max_connections) {
                note_crowded();
            } else if (open * 2 < state_->max_connections) {
                state_->crowded = false;
            }
            ++state_->accepted;
            std::make_shared<http_connection>(std::move(socket), state_)->start();
        }
        accept();
    }

    // The server is full: said once until it is half empty again.
    void note_crowded() {
        if (state_->crowded.exchange(true)) return;
        spdlog::warn(
            "HTTP server: {} connections open (at most {}); new connections take the place of "
            "the longest idle ones, and idle connections are closed after {} ms",
            state_->open.load(), state_->max_connections,
            state_->limits.idle_timeout_under_pressure.count());
    }

    asio::io_context& io_;
    tcp::acceptor acceptor_;
    asio::steady_timer retry_timer_;
    std::shared_ptr<http_state> state_;
    unsigned short port_ = 0;
};

}  // namespace detail

namespace {

tcp::endpoint parse_listen(asio::io_context& io, std::string_view listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
        throw std::runtime_error("http listen address \"" + std::string(listen) +
                                 "\": expected HOST:PORT");
    }
    std::string host(listen.substr(0, colon));
    const auto port_text = listen.substr(colon + 1);
    unsigned port = 0;
    const auto [end, err] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || err != std::errc() || end != port_text.data() + port_text.size() ||
        port > 65535) {
        throw std::runtime_error("http listen address \"" + std::string(listen) +
                                 "\": invalid port \"" + std::string(port_text) + "\"");
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) return tcp::endpoint(tcp::v4(), static_cast<unsigned short>(port));
    beast::error_code ec;
    tcp::resolver resolver(io);
    const auto results =
        resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
        throw std::runtime_error("http listen address \"" + std::string(listen) +
                                 "\": cannot resolve \"" + host +
                                 "\": " + (ec ? ec.message() : std::string("no address")));
    }
    return results.begin()->endpoint();
}

}  // namespace

http_server::http_server(asio::io_context& io, std::string_view listen, http_handlers handlers,
                         http_limits limits)
    : state_(std::make_shared<detail::http_state>()) {
    state_->handlers = std::move(handlers);
    state_->limits = limits;
    state_->max_connections = std::max<std::size_t>(1, limits.max_connections);
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
        state_->max_connections = std::min<std::size_t>(
            state_->max_connections, std::max<std::size_t>(8, files.rlim_cur / 2));
    }
    listener_ = std::make_shared<detail::http_listener>(io, parse_listen(io, listen), state_);
    port_ = listener_->port();
    listener_->start();
}

http_server::~http_server() {
    stop();
}

void http_server::begin_shutdown() {
    state_->shutting_down = true;
}

void http_server::stop() {
    if (state_->stopped.exchange(true)) return;
    listener_->stop();
    std::vector<std::shared_ptr<detail::http_connection>> open;
    {
        std::lock_guard lock(state_->mutex);
        for (auto& [ptr, weak] : state_->connections) {
            if (auto c = weak.lock()) open.push_back(std::move(c));
        }
    }
    // Outside the lock: the last reference may go here, and the destructor takes the lock.
    for (auto& c : open) c->close();
}

http_stats http_server::stats() const {
    std::lock_guard lock(state_->mutex);
    return http_stats{state_->accepted.load(), state_->rejected.load(), state_->evicted.load(),
                      state_->open.load(), state_->idle.size()};
}

}  // namespace weir::daemon
