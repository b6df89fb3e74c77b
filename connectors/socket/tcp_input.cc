// The tcp input: an acceptor and per-connection buffers on the query's strand; complete lines
// delivered, partial lines held back, over-long lines skipped and reported.
#include "connectors/socket/tcp_input.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <vector>

#include "connectors/builtin.h"
#include "core/decode/json_decoder.h"

namespace weir::connectors {

namespace asio = boost::asio;
using asio::ip::tcp;
using steady = std::chrono::steady_clock;

bool resolve_listen(std::string_view listen, const asio::any_io_executor& executor,
                    listen_address& out, std::string& error) {
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        error = "expected host:port, got \"" + std::string(listen) + "\"";
        return false;
    }
    std::string_view host = listen.substr(0, colon);
    const std::string_view port_text = listen.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
        error = "invalid port in \"" + std::string(listen) + "\"";
        return false;
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    out.port = static_cast<std::uint16_t>(port);
    boost::system::error_code parse_error;
    out.address = asio::ip::make_address(std::string(host), parse_error);
    if (!parse_error) return true;
    tcp::resolver resolver(executor);
    boost::system::error_code resolve_error;
    const auto results = resolver.resolve(std::string(host), "", resolve_error);
    if (resolve_error || results.empty()) {
        error = "cannot resolve \"" + std::string(host) +
                "\": " + (resolve_error ? resolve_error.message() : "no address");
        return false;
    }
    out.address = results.begin()->endpoint().address();
    return true;
}

namespace {

constexpr std::size_t chunk_size = 16 * 1024;
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);

struct tcp_settings {
    std::string listen;
    std::size_t max_connections = 256;
    std::chrono::milliseconds connection_timeout{0};
    std::size_t max_line = 1 << 20;
    std::size_t receive_buffer_size = 0;  // 0: the system's
};

// One accepted client. Lives in tcp_impl::connections_ while open and in the handlers of its
// pending operations; `closed` tells late handlers to do nothing.
struct connection {
    explicit connection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}

    tcp::socket socket;
    asio::steady_timer timer;
    std::string peer;
    std::vector<char> buf;   // grows up to max_line + chunk + 1 + padding, never shrinks
    std::size_t filled = 0;  // bytes held in buf
    std::size_t fresh = 0;   // bytes before this hold no newline
    steady::time_point last_activity;
    bool skipping = false;  // inside a line over the limit, discarding to its newline
    bool reading = false;
    bool eof = false;
    bool closed = false;
};

using connection_ptr = std::shared_ptr<connection>;

}  // namespace

namespace detail {

class tcp_impl : public std::enable_shared_from_this<tcp_impl> {
  public:
    tcp_impl(tcp_settings s, const input_context& ctx)
        : s_(std::move(s)),
          executor_(ctx.executor),
          acceptor_(ctx.executor),
          retry_timer_(ctx.executor),
          padding_(decode::json_decoder::padding()) {}

    void start(input_events& events) {
        events_ = &events;
        started_ = true;
        std::string error;
        if (!listen(error)) {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            asio::post(executor_, [self = shared_from_this(), error] {
                if (!self->stopped_) self->events_->on_failure(error);
            });
            return;
        }
        accept();
    }

    void pause() { paused_ = true; }

    void resume() {
        if (!paused_) return;
        paused_ = false;
        if (!started_ || stopped_) return;
        asio::post(executor_, [self = shared_from_this()] {
            if (self->stopped_ || self->paused_) return;
            const auto now = steady::now();
            // A copy: delivering may close connections (or stop the input).
            const std::vector<connection_ptr> open = self->connections_;
            for (const auto& c : open) {
                if (self->stopped_ || self->paused_) return;
                if (c->closed) continue;
                c->last_activity = now;
                if (!c->reading) self->process(c);
            }
        });
    }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        retry_timer_.cancel();
        for (const auto& c : connections_) {
            c->closed = true;
            c->socket.close(ignored);
            c->timer.cancel();
        }
        connections_.clear();
        local_port_ = 0;
    }

    std::uint16_t local_port() const { return local_port_; }
    std::size_t connections() const { return connections_.size(); }

  private:
    bool listen(std::string& error) {
        const std::string prefix = "tcp input cannot listen on " + s_.listen + ": ";
        listen_address where;
        if (!resolve_listen(s_.listen, executor_, where, error)) {
            error = prefix + error;
            return false;
        }
        const tcp::endpoint endpoint(where.address, where.port);
        boost::system::error_code ec;
        acceptor_.open(endpoint.protocol(), ec);
        // Dual stack for [::], as operators expect from "every address".
        if (!ec && where.address.is_v6() && where.address.is_unspecified()) {
            acceptor_.set_option(asio::ip::v6_only(false), ec);
        }
        // Restarting must not wait for old connections in TIME_WAIT; a port another socket
        // listens on still fails to bind.
        if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
        // Accepted sockets inherit SO_RCVBUF from the listening one.
        if (!ec && s_.receive_buffer_size > 0) {
            acceptor_.set_option(
                asio::socket_base::receive_buffer_size(static_cast<int>(s_.receive_buffer_size)),
                ec);
        }
        if (!ec) acceptor_.bind(endpoint, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        tcp::endpoint bound;
        if (!ec) bound = acceptor_.local_endpoint(ec);
        if (ec) {
            error = prefix + ec.message();
            return false;
        }
        local_port_ = bound.port();
        return true;
    }

    void accept() {
        if (stopped_) return;
        acceptor_.async_accept(
            executor_,
            [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
                if (self->stopped_ || ec == asio::error::operation_aborted) return;
                self->on_accept(ec, std::move(socket));
            });
    }

    void on_accept(const boost::system::error_code& ec, tcp::socket socket) {
        if (ec) {
            // Out of descriptors, or a client gone before being accepted: try again shortly
            // rather than spinning.
            events_->on_problem("io", "tcp input on " + s_.listen + ": accept: " + ec.message());
            if (stopped_) return;
            retry_timer_.expires_after(accept_retry_delay);
            retry_timer_.async_wait(
                [self = shared_from_this()](const boost::system::error_code& e) {
                    if (!e && !self->stopped_) self->accept();
                });
            return;
        }
        boost::system::error_code peer_error;
        const auto remote = socket.remote_endpoint(peer_error);
        std::string peer = peer_error
                               ? std::string("a client")
                               : remote.address().to_string() + ":" + std::to_string(remote.port());
        if (connections_.size() >= s_.max_connections) {
            boost::system::error_code ignored;
            socket.close(ignored);
            events_->on_problem("io", "tcp input on " + s_.listen + ": refused " + peer +
                                          ": max_connections (" +
                                          std::to_string(s_.max_connections) + ") reached");
            accept();
            return;
        }
        auto c = std::make_shared<connection>(std::move(socket));
        c->peer = std::move(peer);
        c->last_activity = steady::now();
        connections_.push_back(c);
        arm_timer(c);
        read(c);
        accept();
    }

    void arm_timer(const connection_ptr& c) {
        if (s_.connection_timeout.count() <= 0 || c->closed) return;
        c->timer.expires_at(c->last_activity + s_.connection_timeout);
        c->timer.async_wait([self = shared_from_this(), c](const boost::system::error_code& ec) {
            if (ec || self->stopped_ || c->closed) return;
            self->on_timer(c);
        });
    }

    void on_timer(const connection_ptr& c) {
        const auto now = steady::now();
        // While paused the silence is ours, not the client's.
        if (paused_) c->last_activity = now;
        if (now - c->last_activity < s_.connection_timeout) {
            arm_timer(c);
            return;
        }
        if (c->filled > 0 && !c->skipping) {
            events_->on_problem("protocol", "tcp input on " + s_.listen + ": closed " + c->peer +
                                                " after " +
                                                std::to_string(s_.connection_timeout.count()) +
                                                "ms of silence, dropping an unterminated line of " +
                                                std::to_string(c->filled) + " bytes");
        }
        close(c);
    }

    void read(const connection_ptr& c) {
        if (c->reading || c->closed || c->eof || stopped_ || paused_) return;
        // Room for a chunk after what is held, a newline for a final line and the padding.
        const std::size_t need = c->filled + chunk_size + 1 + padding_;
        if (c->buf.size() < need) {
            const std::size_t most = s_.max_line + chunk_size + 1 + padding_;
            c->buf.resize(std::max(need, std::min(c->buf.size() * 2, most)));
        }
        c->reading = true;
        c->socket.async_read_some(
            asio::buffer(c->buf.data() + c->filled, chunk_size),
            [self = shared_from_this(), c](const boost::system::error_code& ec, std::size_t n) {
                c->reading = false;
                if (self->stopped_ || c->closed) return;
                self->on_read(c, ec, n);
            });
    }

    void on_read(const connection_ptr& c, const boost::system::error_code& ec, std::size_t n) {
        if (ec && ec != asio::error::eof) {
            std::string message =
                "tcp input on " + s_.listen + ": " + c->peer + ": " + ec.message();
            if (c->filled > 0 && !c->skipping) {
                message +=
                    " (dropped an unterminated line of " + std::to_string(c->filled) + " bytes)";
            }
            close(c);
            events_->on_problem("io", message);
            return;
        }
        c->fresh = c->filled;
        c->filled += n;
        c->last_activity = steady::now();
        if (ec == asio::error::eof || n == 0) c->eof = true;
        if (!paused_) process(c);
    }

    // Frames and delivers what the connection holds, then reads on (or closes at its end).
    void process(const connection_ptr& c) {
        if (c->skipping) {
            const void* nl = std::memchr(c->buf.data(), '\n', c->filled);
            if (nl == nullptr) {
                c->filled = c->fresh = 0;
            } else {
                drop(*c,
                     static_cast<std::size_t>(static_cast<const char*>(nl) - c->buf.data()) + 1);
                c->skipping = false;
            }
        }
        const void* last = c->fresh < c->filled
                               ? ::memrchr(c->buf.data() + c->fresh, '\n', c->filled - c->fresh)
                               : nullptr;
        if (last != nullptr) {
            const auto complete =
                static_cast<std::size_t>(static_cast<const char*>(last) - c->buf.data()) + 1;
            if (!deliver(c, complete)) return;
        }
        c->fresh = c->filled;
        if (!c->skipping && c->filled > s_.max_line) {
            c->skipping = true;
            c->filled = c->fresh = 0;
            too_long(*c);
            if (stopped_ || c->closed) return;
        }
        if (c->eof) {
            finish(c);
            return;
        }
        read(c);
    }

    // Delivers buf[0, complete) without the lines over the limit; false when the input was
    // paused or stopped meanwhile (what is left stays for resume()).
    bool deliver(const connection_ptr& c, std::size_t complete) {
        const char* base = c->buf.data();
        std::size_t run = 0;
        std::size_t line = 0;
        while (line < complete) {
            const auto* nl =
                static_cast<const char*>(std::memchr(base + line, '\n', complete - line));
            const std::size_t next = static_cast<std::size_t>(nl - base) + 1;
            if (next - line - 1 > s_.max_line) {
                if (line > run) events_->on_data(std::string_view(base + run, line - run));
                run = line;
                if (stopped_ || c->closed) return false;
                if (paused_) {
                    drop(*c, run);
                    return false;
                }
                too_long(*c);
                run = next;
                if (stopped_ || c->closed) return false;
                if (paused_) {
                    drop(*c, run);
                    return false;
                }
            }
            line = next;
        }
        if (run < complete) events_->on_data(std::string_view(base + run, complete - run));
        if (stopped_ || c->closed) return false;
        drop(*c, complete);
        return !paused_;
    }

    // Forgets the first n bytes; the rest (a partial line, or lines held by a pause) moves to
    // the front.
    static void drop(connection& c, std::size_t n) {
        std::memmove(c.buf.data(), c.buf.data() + n, c.filled - n);
        c.filled -= n;
        c.fresh = 0;
    }

    void too_long(const connection& c) {
        events_->on_problem("too_long", "tcp input on " + s_.listen + ": " + c.peer +
                                            ": skipped a line longer than " +
                                            std::to_string(s_.max_line) + " bytes");
    }

    // The client closed its side: its last line ends here.
    void finish(const connection_ptr& c) {
        if (!c->skipping && c->filled > 0) {
            c->buf[c->filled] = '\n';
            const std::size_t size = c->filled + 1;
            c->filled = 0;
            events_->on_data(std::string_view(c->buf.data(), size));
            if (stopped_) return;
        }
        close(c);
    }

    void close(const connection_ptr& c) {
        if (c->closed) return;
        c->closed = true;
        boost::system::error_code ignored;
        c->socket.close(ignored);
        c->timer.cancel();
        const auto it = std::find(connections_.begin(), connections_.end(), c);
        if (it != connections_.end()) connections_.erase(it);
    }

    tcp_settings s_;
    asio::any_io_executor executor_;
    tcp::acceptor acceptor_;
    asio::steady_timer retry_timer_;
    std::size_t padding_;
    input_events* events_ = nullptr;
    std::vector<connection_ptr> connections_;
    std::uint16_t local_port_ = 0;
    bool started_ = false;
    bool paused_ = false;
    bool stopped_ = false;
};

}  // namespace detail

namespace {

tcp_settings read_settings(const params::reader& p, const input_context& ctx) {
    tcp_settings s;
    s.listen = p.string("listen").value;
    s.max_connections = static_cast<std::size_t>(p.integer("max_connections").value);
    s.connection_timeout = p.duration("connection_timeout").value;
    s.max_line = static_cast<std::size_t>(
        std::min<std::uint64_t>(p.size("max_line_length").value, ctx.max_record_size));
    if (p.has("receive_buffer_size")) {
        s.receive_buffer_size = static_cast<std::size_t>(p.size("receive_buffer_size").value);
    }
    return s;
}

}  // namespace

tcp_input::tcp_input(const params::reader& p, const input_context& ctx)
    : impl_(std::make_shared<detail::tcp_impl>(read_settings(p, ctx), ctx)) {}

tcp_input::~tcp_input() {
    impl_->stop();
}

void tcp_input::start(input_events& events) {
    impl_->start(events);
}
void tcp_input::pause() {
    impl_->pause();
}
void tcp_input::resume() {
    impl_->resume();
}
void tcp_input::stop() {
    impl_->stop();
}

bool tcp_input::restore(std::string_view position, std::string& error) {
    if (position.empty()) return true;
    error = "a tcp input cannot resume from a position";
    return false;
}

std::uint16_t tcp_input::local_port() const {
    return impl_->local_port();
}
std::size_t tcp_input::connections() const {
    return impl_->connections();
}

std::unique_ptr<input> make_tcp_input(const params::reader& p, const input_context& ctx) {
    return std::make_unique<tcp_input>(p, ctx);
}

}  // namespace weir::connectors
