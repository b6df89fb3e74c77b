// The udp input: a non-blocking socket drained in batches whenever it becomes readable.
#include "connectors/socket/udp_input.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include "connectors/socket/tcp_input.h"
#include "core/record/padded_buffer.h"

namespace weir::connectors {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// One on_records() holds at most this many bytes (plus one datagram) or datagrams; then the
// strand gets a turn before the input drains on.
constexpr std::size_t batch_bytes = 256 * 1024;
constexpr std::size_t batch_datagrams = 1024;

struct udp_settings {
    std::string listen;
    std::size_t max_datagram = 64 * 1024;
    std::size_t receive_buffer_size = 0;  // 0: the system's
};

}  // namespace

namespace detail {

class udp_impl : public std::enable_shared_from_this<udp_impl> {
  public:
    udp_impl(udp_settings s, const input_context& ctx)
        : s_(std::move(s)),
          executor_(ctx.executor),
          socket_(ctx.executor),
          // A full batch, and one more datagram read one byte long (to see truncation) with
          // its added newline; the padding comes with the buffer.
          buf_(batch_bytes + s_.max_datagram + 2) {}

    void start(input_events& events) {
        events_ = &events;
        started_ = true;
        std::string error;
        if (!bind(error)) {
            boost::system::error_code ignored;
            socket_.close(ignored);
            asio::post(executor_, [self = shared_from_this(), error] {
                if (!self->stopped_) self->events_->on_failure(error);
            });
            return;
        }
        wait();
    }

    void pause() { paused_ = true; }

    void resume() {
        if (!paused_) return;
        paused_ = false;
        if (started_ && !stopped_ && local_port_ != 0) wait();
    }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        boost::system::error_code ignored;
        socket_.close(ignored);
        local_port_ = 0;
    }

    std::string position() const { return {}; }

    bool restore(std::string_view position, std::string& error) {
        if (position.empty()) return true;
        error = "a udp input cannot resume from a position";
        return false;
    }

    bool bounded() const { return false; }

    std::uint16_t local_port() const { return local_port_; }

  private:
    bool bind(std::string& error) {
        const std::string prefix = "udp input cannot listen on " + s_.listen + ": ";
        listen_address where;
        if (!resolve_listen(s_.listen, executor_, where, error)) {
            error = prefix + error;
            return false;
        }
        const udp::endpoint endpoint(where.address, where.port);
        boost::system::error_code ec;
        socket_.open(endpoint.protocol(), ec);
        if (!ec && where.address.is_v6() && where.address.is_unspecified()) {
            socket_.set_option(asio::ip::v6_only(false), ec);
        }
        if (!ec && s_.receive_buffer_size > 0) {
            socket_.set_option(
                asio::socket_base::receive_buffer_size(static_cast<int>(s_.receive_buffer_size)),
                ec);
        }
        if (!ec) socket_.bind(endpoint, ec);
        if (!ec) socket_.non_blocking(true, ec);
        udp::endpoint bound;
        if (!ec) bound = socket_.local_endpoint(ec);
        if (ec) {
            error = prefix + ec.message();
            return false;
        }
        local_port_ = bound.port();
        return true;
    }

    void wait() {
        if (waiting_ || stopped_ || paused_) return;
        waiting_ = true;
        socket_.async_wait(udp::socket::wait_read, [self = shared_from_this()](
                                                       const boost::system::error_code& ec) {
            self->waiting_ = false;
            if (self->stopped_ || ec == asio::error::operation_aborted) return;
            if (ec) {
                self->events_->on_failure("udp input on " + self->s_.listen + ": " + ec.message());
                return;
            }
            if (!self->paused_) self->drain();
        });
    }

    // Reads what is queued into one batch and delivers it, then waits for more.
    void drain() {
        buf_.clear();
        std::size_t count = 0;
        while (buf_.size() <= batch_bytes && count < batch_datagrams) {
            boost::system::error_code ec;
            const std::size_t n =
                socket_.receive(asio::buffer(buf_.tail(), s_.max_datagram + 1), 0, ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) break;
            if (ec) {
                events_->on_problem("io", "udp input on " + s_.listen + ": " + ec.message());
                if (stopped_) return;
                break;
            }
            ++count;
            if (n > s_.max_datagram) {
                events_->on_problem("too_long", "udp input on " + s_.listen +
                                                    ": dropped a datagram longer than " +
                                                    std::to_string(s_.max_datagram) + " bytes");
                if (stopped_) return;
                continue;
            }
            if (n == 0) continue;
            buf_.commit(n);
            if (buf_.view().back() != '\n') buf_.push_back('\n');
        }
        if (!buf_.empty()) {
            events_->on_records("", record_delivery{.bytes = buf_.view()});
            if (stopped_) return;
        }
        wait();
    }

    udp_settings s_;
    asio::any_io_executor executor_;
    udp::socket socket_;
    input_events* events_ = nullptr;
    padded_buffer buf_;  // never grows: its capacity holds a whole batch
    std::uint16_t local_port_ = 0;
    bool started_ = false;
    bool waiting_ = false;
    bool paused_ = false;
    bool stopped_ = false;
};

}  // namespace detail

namespace {

udp_settings read_settings(const params::reader& p) {
    udp_settings s;
    s.listen = p.string("listen").value;
    s.max_datagram = static_cast<std::size_t>(p.size("max_datagram_size").value);
    if (p.has("receive_buffer_size")) {
        s.receive_buffer_size = static_cast<std::size_t>(p.size("receive_buffer_size").value);
    }
    return s;
}

}  // namespace

template class input_facade<detail::udp_impl>;

udp_input::udp_input(const params::reader& p, const input_context& ctx)
    : input_facade(read_settings(p), ctx) {}

std::uint16_t udp_input::local_port() const {
    return impl().local_port();
}

std::unique_ptr<input> make_udp_input(const params::reader& p, const input_context& ctx) {
    return std::make_unique<udp_input>(p, ctx);
}

}  // namespace weir::connectors
