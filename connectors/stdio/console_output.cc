// The console output: readable or JSON lines on stdout/stderr, written on the output's strand.
#include "connectors/stdio/console_output.h"

#include <poll.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "connectors/stdio/stdio_spec.h"

namespace weir::connectors {

namespace {

const char* outcome_word(outcome o) {
    switch (o) {
        case outcome::pass:
            return "PASS";
        case outcome::warn:
            return "WARN";
        case outcome::fail:
            return "FAIL";
        case outcome::no_data:
            return "NO_DATA";
    }
    return "NO_DATA";
}

const char* outcome_color(outcome o) {
    switch (o) {
        case outcome::pass:
            return "\x1b[32m";  // green
        case outcome::warn:
            return "\x1b[33m";  // yellow
        case outcome::fail:
            return "\x1b[1;31m";  // bold red
        case outcome::no_data:
            return "\x1b[90m";  // grey
    }
    return "";
}

// Group values read best without JSON quotes: {device_id=d-17}.
void append_plain_value(const measure_value& v, std::string& out) {
    if (v.kind == measure_kind::string) {
        out += v.text;
    } else {
        out += to_string(v);
    }
}

// Writes all of `data`, waiting when the descriptor is non-blocking and full. False with
// errno set on a failure.
bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
                ::poll(&p, 1, 1000);
                continue;
            }
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

void append_console_text(const check_result& r, bool color, std::string& out) {
    char time_buf[24];
    time::format_rfc3339_ms(r.window_end, time_buf);
    out.append(time_buf, sizeof time_buf);
    out += ' ';
    out += r.pipeline;
    out += '/';
    out += r.node;
    out += ' ';
    out += r.check;
    if (!r.group.empty()) {
        out += " {";
        for (std::size_t i = 0; i < r.group.size(); ++i) {
            if (i > 0) out += ", ";
            out += r.group[i].first;
            out += '=';
            append_plain_value(r.group[i].second, out);
        }
        out += '}';
    }
    out += ' ';
    if (color) out += outcome_color(r.outcome);
    out += outcome_word(r.outcome);
    if (color) out += "\x1b[0m";
    out += ' ';
    out += r.measure;
    out += '=';
    out += to_string(r.value);
    if (!r.must_be.empty()) {
        out += " must_be ";
        append_json_string(r.must_be, out);
    }
    if (!r.should_be.empty()) {
        out += " should_be ";
        append_json_string(r.should_be, out);
    }
    if (!r.fields.empty()) {
        out += " fields:";
        for (std::size_t i = 0; i < r.fields.size(); ++i) {
            out += i == 0 ? " " : ", ";
            out += r.fields[i];
        }
    }
    if (r.partial) out += " (partial window)";
    out += '\n';
}

bool console_wants_color(int fd) {
    const char* no_color = std::getenv("NO_COLOR");
    return ::isatty(fd) == 1 && (no_color == nullptr || *no_color == '\0');
}

console_output::console_output(const output_context& ctx, int fd, console_options options)
    : executor_(ctx.executor), fd_(fd), options_(options) {}

void console_output::write_result(const check_result& result) {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    if (options_.json) {
        append_json(result, pending_);
        pending_ += '\n';
    } else {
        append_console_text(result, options_.color, pending_);
    }
    added_locked(lock);
}

void console_output::write_record(std::string_view json) {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    pending_.append(json);
    pending_ += '\n';
    added_locked(lock);
}

void console_output::added_locked(std::unique_lock<std::mutex>& lock) {
    ++pending_lines_;
    if (drain_posted_) return;
    drain_posted_ = true;
    lock.unlock();
    boost::asio::post(executor_, [self = shared_from_this()] { self->drain(); });
}

void console_output::drain() {
    std::size_t lines = 0;
    {
        std::lock_guard lock(mutex_);
        writing_.swap(pending_);  // both keep their capacity: no allocation once warm
        lines = pending_lines_;
        pending_lines_ = 0;
        drain_posted_ = false;
    }
    if (writing_.empty()) return;
    if (write_all(fd_, writing_.data(), writing_.size())) {
        records_ += lines;
    } else {
        // A console is not durable storage: what could not be written is dropped, counted and
        // reported by the next flush.
        errors_ += 1;
        last_error_ = std::string("console write failed: ") + std::strerror(errno);
        failed_since_flush_ = true;
    }
    writing_.clear();
}

void console_output::flush(std::function<void(bool ok, const std::string& error)> done) {
    boost::asio::post(executor_, [self = shared_from_this(), done = std::move(done)] {
        self->drain();
        const bool ok = !self->failed_since_flush_;
        self->failed_since_flush_ = false;
        done(ok, ok ? std::string() : self->last_error_);
    });
}

void console_output::stop(std::function<void()> done) {
    boost::asio::post(executor_, [self = shared_from_this(), done = std::move(done)] {
        self->drain();
        {
            std::lock_guard lock(self->mutex_);
            self->stopped_ = true;
        }
        done();
    });
}

output_stats console_output::stats() const {
    return {.records = records_.load(), .errors = errors_.load()};
}

std::shared_ptr<output> make_console_output(const params::reader& p, const output_context& ctx) {
    const int fd = p.string("target").value == "stderr" ? STDERR_FILENO : STDOUT_FILENO;
    console_options options;
    options.json = p.string("format").value == "json";
    const std::string color = p.string("color").value;
    options.color =
        !options.json && (color == "always" || (color == "auto" && console_wants_color(fd)));
    return std::make_shared<console_output>(ctx, fd, options);
}

}  // namespace weir::connectors
