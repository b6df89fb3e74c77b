// The console output: readable or JSON lines on stdout/stderr, written on the output's strand.
#include "connectors/stdio/console_output.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "connectors/stdio/stdio_spec.h"
#include "core/result/format.h"

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

// Control characters (a newline in a string value) would break the one-line layout.
std::string one_line(std::string s) {
    for (char& c : s) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    }
    return s;
}

constexpr std::size_t k_max_tracked = 200'000;  // (check, group) pairs emit: changes remembers
constexpr std::size_t k_max_counted = 10'000;   // checks and windows a summary names

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
    const result_text shown = format_result(r);
    std::string where = one_line(r.pipeline + "/" + r.node);
    std::string check = one_line(r.check);
    std::string group = r.group.empty() ? "" : "{" + one_line(format_group(r.group)) + "}";
    std::string measure = one_line(r.measure);
    std::string value = one_line(shown.value);
    std::string assessment;
    const bool use_should =
        r.outcome == outcome::warn ? !shown.should_be.empty() : shown.must_be.empty();
    if (use_should && !shown.should_be.empty()) {
        assessment = "(should be " + one_line(shown.should_be) + ")";
    } else if (!shown.must_be.empty()) {
        assessment = "(must be " + one_line(shown.must_be) + ")";
    }
    // Checks against history: what the value was judged against.
    std::string expected =
        r.expected ? "[" + format_expected(*r.expected, shown.unit, true) + "]" : "";
    // reconcile(): how the two inputs' keys compared, and which are missing.
    std::string reconciliation =
        r.reconciliation ? "[" + format_reconciliation(*r.reconciliation, true) + "]" : "";
    std::string fields;
    for (std::size_t i = 0; i < r.fields.size(); ++i) {
        fields += i == 0 ? "fields: " : ", ";
        fields += one_line(r.fields[i]);
    }
    const char* word = outcome_word(r.outcome);
    // depends_on: evaluated without the data of a dependency that was down.
    std::string dependency_marker;
    for (std::size_t i = 0; i < r.dependency_down.size(); ++i) {
        dependency_marker += i == 0 ? " (dependency down: " : ", ";
        dependency_marker += one_line(r.dependency_down[i]);
    }
    if (!dependency_marker.empty()) dependency_marker += ")";
    const auto line_columns = [&] {
        std::size_t n = 20 + 1 + std::strlen(word) + 1 + text_columns(where) + 1 +
                        text_columns(check) + 3 + text_columns(value);
        for (const std::string* s :
             {&group, &measure, &assessment, &expected, &fields, &reconciliation}) {
            if (!s->empty()) n += 1 + text_columns(*s);
        }
        if (r.partial) n += std::strlen(" (partial window)");
        if (r.approximate) n += std::strlen(" (approximate)");
        n += text_columns(dependency_marker);
        return n;
    };
    // Make room in this order until the line fits: leave out the measure (the check's name says
    // what it is), then the pipeline (the node is still named), then shorten the node, the
    // check, the drifted fields and last the group (it says where), each down to its minimum.
    // The value and the assessment stay whole, except the long assessment of a check against
    // history, which gives way to its evidence down to 20 columns.
    constexpr std::size_t k_whole = std::numeric_limits<std::size_t>::max();
    if (line_columns() > k_console_width) measure.clear();
    if (line_columns() > k_console_width) where = one_line(r.node);
    const std::pair<std::string*, std::size_t> shrinkable[] = {
        {&where, 12},    {&check, 12},
        {&fields, 12},   {&assessment, r.expected ? 20 : k_whole},
        {&expected, 30}, {&reconciliation, 30},
        {&group, 12}};
    for (const auto& [part, minimum] : shrinkable) {
        const std::size_t total = line_columns();
        if (total <= k_console_width) break;
        const std::size_t have = text_columns(*part);
        if (have <= minimum) continue;
        const std::size_t cut = std::min(have - minimum, total - k_console_width);
        *part = elide_text(*part, have - cut);
    }

    std::string rest = " " + where + " " + check;
    if (!group.empty()) rest += " " + group;
    if (!measure.empty()) rest += " " + measure;
    rest += " = " + value;
    for (const std::string* s : {&assessment, &expected, &fields, &reconciliation}) {
        if (!s->empty()) rest += " " + *s;
    }
    if (r.partial) rest += " (partial window)";
    if (r.approximate) rest += " (approximate)";
    rest += dependency_marker;
    // Every part at its minimum and still too wide: cut the end.
    const std::size_t head = 20 + 1 + std::strlen(word);
    if (head + text_columns(rest) > k_console_width)
        rest = elide_text(rest, k_console_width - head);

    char time_buf[24];
    time::format_rfc3339_ms(r.window_end, time_buf);
    out.append(time_buf, 19);  // to the second: windows are rarely finer
    out += "Z ";
    if (color) out += outcome_color(r.outcome);
    out += word;
    if (color) out += "\x1b[0m";
    out += rest;
    out += '\n';
}

void append_console_summary(const console_hidden& hidden, bool color, std::string& out) {
    char time_buf[24];
    time::format_rfc3339_ms(hidden.latest_end, time_buf);
    out.append(time_buf, 19);
    out += "Z ";
    const outcome o = hidden.passed > 0 ? outcome::pass : outcome::no_data;
    if (color) out += outcome_color(o);
    out += outcome_word(o);
    if (color) out += "\x1b[0m";
    const auto counted = [](std::size_t n, const char* one, const char* many) {
        return std::to_string(n) + " " + (n == 1 ? one : many);
    };
    out += ' ';
    if (hidden.passed > 0) {
        out += counted(hidden.passed, "result", "results") + " passed";
        if (hidden.no_data > 0) out += ", " + std::to_string(hidden.no_data) + " no data";
    } else {
        out += counted(hidden.no_data, "result", "results") + " with no data";
    }
    out += " (" + counted(hidden.checks.size(), "check", "checks") + " in " +
           counted(hidden.windows.size(), "window", "windows") + ")\n";
}

bool console_wants_color(int fd) {
    const char* no_color = std::getenv("NO_COLOR");
    return ::isatty(fd) == 1 && (no_color == nullptr || *no_color == '\0');
}

console_output::console_output(const output_context& ctx, int fd, console_options options)
    : executor_(ctx.executor), fd_(fd), options_(options), summary_timer_(ctx.executor) {}

void console_output::start() {
    if (options_.emit == console_emit::all || options_.summary_interval.count() <= 0) return;
    boost::asio::post(executor_, [self = shared_from_this()] { self->arm_summary(); });
}

void console_output::arm_summary() {
    summary_timer_.expires_after(options_.summary_interval);
    summary_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec) return;
        std::unique_lock lock(self->mutex_);
        if (self->stopped_) return;
        if (!self->hidden_.empty()) {
            self->summarize_locked();
            self->added_locked(lock);
        }
        if (lock.owns_lock()) lock.unlock();
        self->arm_summary();
    });
}

bool console_output::shown_locked(const check_result& r) {
    if (options_.emit == console_emit::all) return true;
    bool shown = r.outcome == outcome::fail || r.outcome == outcome::warn;
    if (options_.emit == console_emit::failures) {
        shown = shown || r.outcome == outcome::no_data;
    } else {
        std::string key;
        append_series_key(r, key);
        auto it = last_outcome_.find(key);
        if (it == last_outcome_.end()) {
            if (last_outcome_.size() >= k_max_tracked) last_outcome_.clear();
            last_outcome_.emplace(std::move(key), r.outcome);
        } else {
            shown = shown || it->second != r.outcome;
            it->second = r.outcome;
        }
    }
    if (shown) return true;
    (r.outcome == outcome::pass ? hidden_.passed : hidden_.no_data) += 1;
    if (hidden_.checks.size() < k_max_counted) {
        hidden_.checks.insert(r.pipeline + "/" + r.node + "/" + r.check);
    }
    if (hidden_.windows.size() < k_max_counted) {
        hidden_.windows.emplace(r.pipeline + "/" + r.node, r.window_start);
    }
    hidden_.latest_end = std::max(hidden_.latest_end, r.window_end);
    return false;
}

void console_output::summarize_locked() {
    if (options_.json) {
        // JSON consumers read results, not prose: the summary is left out.
        hidden_ = {};
        return;
    }
    append_console_summary(hidden_, options_.color, pending_);
    hidden_ = {};
}

void console_output::write_result(const check_result& result) {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    if (!shown_locked(result)) return;
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
        {
            std::lock_guard lock(self->mutex_);
            if (!self->hidden_.empty()) {
                self->summarize_locked();
                ++self->pending_lines_;
            }
        }
        self->summary_timer_.cancel();
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
    // People read text and want failures and changes; programs read JSON and want every result.
    const std::string emit = p.has("emit")  ? p.string("emit").value
                             : options.json ? "all"
                                            : "changes";
    options.emit = emit == "all"        ? console_emit::all
                   : emit == "failures" ? console_emit::failures
                                        : console_emit::changes;
    options.summary_interval = p.duration("summary_interval").value;
    auto out = std::make_shared<console_output>(ctx, fd, options);
    out->start();
    return out;
}

}  // namespace weir::connectors
