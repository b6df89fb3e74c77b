// The stdin input: asynchronous reads of a duplicated descriptor into one fixed buffer,
// complete lines delivered, partial lines held back, over-long lines skipped and reported.
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
#include <vector>

#include "connectors/builtin.h"
#include "core/decode/json_decoder.h"

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
          padding_(decode::json_decoder::padding()) {
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
        // A partial line of up to max_line bytes, a chunk after it, a newline for the final
        // line, and the decoder's padding.
        buf_.resize(max_line_ + chunk_size + 1 + padding_);
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
            if (self->stopped_ || self->paused_) return;
            self->process();
        });
    }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        boost::system::error_code ignored;
        descriptor_.close(ignored);
    }

  private:
    void read() {
        if (reading_ || stopped_ || paused_ || eof_) return;
        reading_ = true;
        descriptor_.async_read_some(
            asio::buffer(buf_.data() + filled_, chunk_size),
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
        fresh_ = filled_;
        filled_ += n;
        if (ec == asio::error::eof || (n == 0 && !ec)) eof_ = true;
        if (!paused_) process();
    }

    // Frames and delivers what the buffer holds, then reads on (or ends).
    void process() {
        if (skipping_) {
            const void* nl = std::memchr(buf_.data(), '\n', filled_);
            if (nl == nullptr) {
                filled_ = fresh_ = 0;
            } else {
                drop(static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.data()) + 1);
                skipping_ = false;
                fresh_ = 0;
            }
        }
        const void* last =
            fresh_ < filled_ ? ::memrchr(buf_.data() + fresh_, '\n', filled_ - fresh_) : nullptr;
        if (last != nullptr) {
            const auto complete =
                static_cast<std::size_t>(static_cast<const char*>(last) - buf_.data()) + 1;
            if (!deliver(complete)) return;
        }
        fresh_ = filled_;
        if (!skipping_ && filled_ > max_line_) {
            too_long();
            skipping_ = true;
            filled_ = fresh_ = 0;
        }
        if (eof_) {
            finish();
            return;
        }
        read();
    }

    // Delivers buf_[0, complete) without the lines over the limit; false when the input was
    // paused or stopped meanwhile (what is left stays for resume()).
    bool deliver(std::size_t complete) {
        const char* base = buf_.data();
        std::size_t run = 0;
        std::size_t line = 0;
        while (line < complete) {
            const auto* nl =
                static_cast<const char*>(std::memchr(base + line, '\n', complete - line));
            const std::size_t next = static_cast<std::size_t>(nl - base) + 1;
            if (next - line - 1 > max_line_) {
                if (line > run) events_->on_data(std::string_view(base + run, line - run));
                run = line;
                if (stopped_) return false;
                if (paused_) {
                    drop(run);
                    return false;
                }
                too_long();
                run = next;
                if (stopped_) return false;
                if (paused_) {
                    drop(run);
                    return false;
                }
            }
            line = next;
        }
        if (run < complete) events_->on_data(std::string_view(base + run, complete - run));
        if (stopped_) return false;
        drop(complete);
        return !paused_;
    }

    // Forgets the first n bytes; the rest (a partial line, or lines held by a pause) moves to
    // the front.
    void drop(std::size_t n) {
        std::memmove(buf_.data(), buf_.data() + n, filled_ - n);
        filled_ -= n;
        fresh_ = 0;
    }

    void too_long() {
        events_->on_problem("too_long", "standard input: skipped a line longer than " +
                                            std::to_string(max_line_) + " bytes");
    }

    void finish() {
        if (ended_) return;
        ended_ = true;
        if (!skipping_ && filled_ > 0) {
            buf_[filled_] = '\n';
            events_->on_data(std::string_view(buf_.data(), filled_ + 1));
            if (stopped_) return;
        }
        filled_ = 0;
        events_->on_end();
    }

    std::size_t max_line_;
    asio::any_io_executor executor_;
    asio::posix::stream_descriptor descriptor_;
    std::size_t padding_;
    input_events* events_ = nullptr;
    std::vector<char> buf_;
    std::size_t filled_ = 0;  // bytes held in buf_
    std::size_t fresh_ = 0;   // bytes before this hold no newline
    bool skipping_ = false;
    bool reading_ = false;
    bool eof_ = false;
    bool ended_ = false;
    bool started_ = false;
    bool paused_ = false;
    bool stopped_ = false;
};

class stdin_input final : public input {
  public:
    stdin_input(std::size_t max_line, const input_context& ctx, int fd)
        : impl_(std::make_shared<stdin_impl>(max_line, ctx, fd)) {}
    ~stdin_input() override { impl_->stop(); }
    stdin_input(const stdin_input&) = delete;
    stdin_input& operator=(const stdin_input&) = delete;

    void start(input_events& events) override { impl_->start(events); }
    void pause() override { impl_->pause(); }
    void resume() override { impl_->resume(); }
    void stop() override { impl_->stop(); }
    std::string position() const override { return {}; }
    bool restore(std::string_view position, std::string& error) override {
        if (position.empty()) return true;
        error = "standard input cannot resume from a position";
        return false;
    }
    bool bounded() const override { return true; }

  private:
    std::shared_ptr<stdin_impl> impl_;
};

}  // namespace

std::unique_ptr<input> make_stdin_input_from_fd(const params::reader& p, const input_context& ctx,
                                                int fd) {
    const auto max_line = static_cast<std::size_t>(
        std::min<std::uint64_t>(p.size("max_line_length").value, ctx.max_record_size));
    return std::make_unique<stdin_input>(max_line, ctx, fd);
}

std::unique_ptr<input> make_stdin_input(const params::reader& p, const input_context& ctx) {
    return make_stdin_input_from_fd(p, ctx, STDIN_FILENO);
}

}  // namespace weir::connectors
