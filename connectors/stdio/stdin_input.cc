// The stdin input: asynchronous reads of a duplicated descriptor, framed into lines by the
// shared line framer (partial lines held back, over-long lines skipped and reported).
#include "connectors/stdio/stdin_input.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "connectors/common/input_facade.h"
#include "connectors/common/line_framer.h"

namespace weir::connectors {

namespace asio = boost::asio;

namespace {

constexpr std::size_t chunk_size = 64 * 1024;

class stdin_impl : public std::enable_shared_from_this<stdin_impl> {
  public:
    stdin_impl(std::size_t max_line, const input_context& ctx, int fd)
        : max_line_(max_line),
          executor_(ctx.executor),
          descriptor_(ctx.executor),
          framer_(max_line) {
        const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (own < 0) {
            throw std::runtime_error(std::string("cannot use standard input: ") +
                                     std::strerror(errno));
        }
        boost::system::error_code ec;
        descriptor_.assign(own, ec);
        if (ec) {
            ::close(own);
            throw std::runtime_error("cannot use standard input: " + ec.message());
        }
    }

    void start(input_events& events) {
        events_ = &events;
        started_ = true;
        read();
    }

    void pause() { paused_ = true; }

    void resume() {
        if (!paused_) return;
        paused_ = false;
        if (!started_ || stopped_) return;
        asio::post(executor_, [self = shared_from_this()] {
            // A read in flight processes what it brings when it completes.
            if (self->stopped_ || self->paused_ || self->reading_) return;
            self->process();
        });
    }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        boost::system::error_code ignored;
        descriptor_.close(ignored);
    }

    std::string position() const { return {}; }

    bool restore(std::string_view position, std::string& error) {
        if (position.empty()) return true;
        error = "standard input cannot resume from a position";
        return false;
    }

    bool bounded() const { return true; }

  private:
    void read() {
        if (reading_ || stopped_ || paused_ || eof_) return;
        reading_ = true;
        descriptor_.async_read_some(
            asio::buffer(framer_.prepare(chunk_size), chunk_size),
            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                self->reading_ = false;
                if (self->stopped_) return;
                self->on_read(ec, n);
            });
    }

    void on_read(const boost::system::error_code& ec, std::size_t n) {
        if (ec && ec != asio::error::eof) {
            events_->on_failure("reading standard input: " + ec.message());
            return;
        }
        framer_.commit(n);
        if (ec == asio::error::eof || (n == 0 && !ec)) {
            eof_ = true;
            framer_.end_stream();
        }
        if (!paused_) process();
    }

    // Hands over what the framer holds, then reads on (or ends).
    void process() {
        const bool all = framer_.drain(
            [this](std::string_view lines, std::uint64_t offset) {
                events_->on_records("",
                                    record_delivery{.bytes = lines,
                                                    .origin = "stdin",
                                                    .offset = static_cast<std::int64_t>(offset)});
                return !paused_ && !stopped_;
            },
            [this](std::uint64_t) {
                events_->on_problem("too_long", "standard input: skipped a line longer than " +
                                                    std::to_string(max_line_) + " bytes");
                return !paused_ && !stopped_;
            });
        if (stopped_) return;
        // The end is reached once the final line was handed over, even if that paused us.
        if (eof_ && framer_.held() == 0) {
            finish();
            return;
        }
        if (all) read();
    }

    void finish() {
        if (ended_) return;
        ended_ = true;
        events_->on_end();
    }

    std::size_t max_line_;
    asio::any_io_executor executor_;
    asio::posix::stream_descriptor descriptor_;
    line_framer framer_;
    input_events* events_ = nullptr;
    bool reading_ = false;
    bool eof_ = false;
    bool ended_ = false;
    bool started_ = false;
    bool paused_ = false;
    bool stopped_ = false;
};

}  // namespace

std::unique_ptr<input> make_stdin_input_from_fd(const params::reader& p, const input_context& ctx,
                                                int fd) {
    const auto max_line = static_cast<std::size_t>(
        std::min<std::uint64_t>(p.size("max_line_length").value, ctx.max_record_size));
    return make_facade<stdin_impl>(max_line, ctx, fd);
}

std::unique_ptr<input> make_stdin_input(const params::reader& p, const input_context& ctx) {
    return make_stdin_input_from_fd(p, ctx, STDIN_FILENO);
}

}  // namespace weir::connectors
