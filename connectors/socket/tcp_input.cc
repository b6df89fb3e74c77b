// The tcp input: an acceptor and one line framer per connection on the query's strand;
// complete lines delivered, partial lines held back, over-long lines skipped and reported.
#include "connectors/socket/tcp_input.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <vector>

#include "connectors/common/line_framer.h"

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
    connection(tcp::socket s, std::size_t max_line)
        : socket(std::move(s)), timer(socket.get_executor()), framer(max_line) {}

    tcp::socket socket;
    asio::steady_timer timer;
    std::string peer;
    line_framer framer;  // within max_line + chunk_size bytes
    steady::time_point last_activity;
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
          retry_timer_(ctx.executor) {}

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

    std::string position() const { return {}; }

    bool restore(std::string_view position, std::string& error) {
        if (position.empty()) return true;
        error = "a tcp input cannot resume from a position";
        return false;
    }

    bool bounded() const { return false; }

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
        auto c = std::make_shared<connection>(std::move(socket), s_.max_line);
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
        if (c->framer.held() > 0 && !c->framer.skipping()) {
            events_->on_problem("protocol", "tcp input on " + s_.listen + ": closed " + c->peer +
                                                " after " +
                                                std::to_string(s_.connection_timeout.count()) +
                                                "ms of silence, dropping an unterminated line of " +
                                                std::to_string(c->framer.held()) + " bytes");
        }
        close(c);
    }

    void read(const connection_ptr& c) {
        if (c->reading || c->closed || c->eof || stopped_ || paused_) return;
        c->reading = true;
        c->socket.async_read_some(
            asio::buffer(c->framer.prepare(chunk_size), chunk_size),
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
            if (c->framer.held() > 0 && !c->framer.skipping()) {
                message += " (dropped an unterminated line of " + std::to_string(c->framer.held()) +
                           " bytes)";
            }
            close(c);
            events_->on_problem("io", message);
            return;
        }
        c->framer.commit(n);
        c->last_activity = steady::now();
        if (ec == asio::error::eof || n == 0) {
            c->eof = true;
            c->framer.end_stream();  // the client closed its side: its last line ends here
        }
        if (!paused_) process(c);
    }

    // Hands over what the connection holds, then reads on (or closes at its end). What is
    // left when the input is paused in a callback stays for resume().
    void process(const connection_ptr& c) {
        auto go_on = [this, &c] { return !paused_ && !stopped_ && !c->closed; };
        const bool all = c->framer.drain(
            [this, &c, &go_on](std::string_view lines, std::uint64_t offset) {
                // The client's address names it; offsets count from its connection's start.
                events_->on_records("",
                                    record_delivery{.bytes = lines,
                                                    .origin = c->peer,
                                                    .offset = static_cast<std::int64_t>(offset)});
                return go_on();
            },
            [this, &c, &go_on](std::uint64_t) {
                too_long(*c);
                return go_on();
            });
        if (stopped_ || c->closed) return;
        if (c->eof && c->framer.held() == 0) {
            close(c);
            return;
        }
        if (all) read(c);
    }

    void too_long(const connection& c) {
        events_->on_problem("too_long", "tcp input on " + s_.listen + ": " + c.peer +
                                            ": skipped a line longer than " +
                                            std::to_string(s_.max_line) + " bytes");
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

template class input_facade<detail::tcp_impl>;

tcp_input::tcp_input(const params::reader& p, const input_context& ctx)
    : input_facade(read_settings(p, ctx), ctx) {}

std::uint16_t tcp_input::local_port() const {
    return impl().local_port();
}
std::size_t tcp_input::connections() const {
    return impl().connections();
}

std::unique_ptr<input> make_tcp_input(const params::reader& p, const input_context& ctx) {
    return std::make_unique<tcp_input>(p, ctx);
}

}  // namespace weir::connectors
