// `weir tap` and `weir top`; see live_views.h.
#include "daemon/live_views.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "daemon/exit_codes.h"

namespace weir::daemon {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct base_url {
    std::string host, port;
};

std::optional<base_url> parse_base_url(std::string url) {
    if (url.rfind("http://", 0) == 0) url = url.substr(7);
    const std::string authority = url.substr(0, url.find('/'));
    if (authority.empty()) return std::nullopt;
    base_url u;
    const auto bracket = authority.find(']');
    const auto colon = authority.rfind(':');
    if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
        u.host = authority;
        u.port = "80";
    } else {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
    }
    if (u.host.size() > 2 && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
    if (u.host.empty() || u.port.empty()) return std::nullopt;
    return u;
}

std::string percent_encode(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

// --- weir tap ------------------------------------------------------------------------------

// One connection to /api/v1/tap, driven by one io_context on this thread.
class tap_client {
  public:
    tap_client(const tap_options& options, base_url url, std::string target, std::ostream& err)
        : options_(options),
          url_(std::move(url)),
          target_(std::move(target)),
          err_(err),
          socket_(io_),
          resolver_(io_),
          timer_(io_),
          signals_(io_, SIGINT, SIGTERM) {}

    int run() {
        signals_.async_wait([this](beast::error_code ec, int) {
            if (!ec) finish(exit_ok);  // Ctrl-C: the normal way to stop watching
        });
        // Reaching the daemon and its answer's head must not take long; the stream may.
        timer_.expires_after(std::chrono::seconds(10));
        timer_.async_wait([this](beast::error_code ec) {
            if (ec) return;
            err_ << "weir tap: " << where() << " did not answer in time\n";
            finish(exit_failure);
        });
        resolver_.async_resolve(
            url_.host, url_.port, [this](beast::error_code ec, tcp::resolver::results_type r) {
                if (ec) return unreachable(ec);
                asio::async_connect(socket_, r, [this](beast::error_code e, auto&&) {
                    if (e) return unreachable(e);
                    send_request();
                });
            });
        io_.run();
        return exit_code_;
    }

  private:
    std::string where() const { return "weir at " + url_.host + ":" + url_.port; }

    void unreachable(const beast::error_code& ec) {
        if (done_) return;
        err_ << "weir tap: cannot reach " << where() << ": " << ec.message() << '\n';
        finish(exit_failure);
    }

    void send_request() {
        request_ = fmt::format(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: weir-tap\r\nAccept: text/event-stream\r\n"
            "Connection: close\r\n\r\n",
            target_, url_.host);
        asio::async_write(socket_, asio::buffer(request_), [this](beast::error_code ec, auto) {
            if (ec) return unreachable(ec);
            asio::async_read_until(socket_, input_, "\r\n\r\n",
                                   [this](beast::error_code e, std::size_t n) { on_head(e, n); });
        });
    }

    void on_head(beast::error_code ec, std::size_t n) {
        if (done_) return;
        if (ec) {
            err_ << "weir tap: " << where() << " closed the connection before answering\n";
            return finish(exit_failure);
        }
        std::string head(asio::buffers_begin(input_.data()),
                         asio::buffers_begin(input_.data()) + static_cast<std::ptrdiff_t>(n));
        input_.consume(n);
        // "HTTP/1.1 200 OK"
        const auto sp = head.find(' ');
        const int status = sp == std::string::npos ? 0 : std::atoi(head.c_str() + sp + 1);
        if (status != 200) {
            // The body says why (taps are off, no such node); read it to the end.
            asio::async_read(socket_, input_, asio::transfer_all(),
                             [this, status](beast::error_code, std::size_t) {
                                 std::string body(asio::buffers_begin(input_.data()),
                                                  asio::buffers_end(input_.data()));
                                 while (!body.empty() && body.back() == '\n') body.pop_back();
                                 err_ << "weir tap: " << where() << " answered " << status
                                      << (body.empty() ? "" : ": " + body) << '\n';
                                 finish(exit_failure);
                             });
            return;
        }
        timer_.cancel();
        events();
        read();
    }

    void read() {
        asio::async_read_until(socket_, input_, "\n\n", [this](beast::error_code ec, std::size_t) {
            if (done_) return;
            if (ec) {
                err_ << "weir tap: " << where() << " closed the stream (it stopped or restarted)\n";
                return finish(exit_failure);
            }
            events();
            if (!done_) read();
        });
    }

    // Every whole event in input_: `event: NAME` and `data: TEXT` lines, ending in a blank
    // line; lines starting with ':' are comments (keep-alives).
    void events() {
        std::string all(asio::buffers_begin(input_.data()), asio::buffers_end(input_.data()));
        std::size_t start = 0;
        for (;;) {
            const auto end = all.find("\n\n", start);
            if (end == std::string::npos) break;
            event(std::string_view(all).substr(start, end - start));
            start = end + 2;
            if (done_) break;
        }
        input_.consume(start);
    }

    void event(std::string_view e) {
        std::string_view name, data;
        while (!e.empty()) {
            const auto nl = e.find('\n');
            const std::string_view line = e.substr(0, nl);
            e = nl == std::string_view::npos ? std::string_view() : e.substr(nl + 1);
            if (line.starts_with("event: ")) name = line.substr(7);
            if (line.starts_with("data: ")) data = line.substr(6);
        }
        if (name == "dropped") {
            const auto d = nlohmann::json::parse(data, nullptr, false);
            const std::string what = options_.results ? "results" : "records";
            if (d.is_object() && d.contains("dropped") && d.contains("dropped_total")) {
                err_ << fmt::format(
                    "weir tap: {} {} dropped ({} in all): the tap's rate limit "
                    "(http.tap_rate, --rate) or a reader slower than the stream\n",
                    d["dropped"].dump(), what, d["dropped_total"].dump());
            }
            return;
        }
        if (name != "record" && name != "result") return;
        std::string line(data);
        line += '\n';
        if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
            std::fflush(stdout) != 0) {
            return finish(exit_ok);  // standard output closed (`| head`): done watching
        }
        if (options_.limit > 0 && ++printed_ >= options_.limit) finish(exit_ok);
    }

    void finish(int code) {
        if (done_) return;
        done_ = true;
        exit_code_ = code;
        beast::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        resolver_.cancel();
        timer_.cancel();
        signals_.cancel();
        io_.stop();
    }

    const tap_options& options_;
    base_url url_;
    std::string target_;
    std::ostream& err_;
    asio::io_context io_;
    tcp::socket socket_;
    tcp::resolver resolver_;
    asio::steady_timer timer_;
    asio::signal_set signals_;
    std::string request_;
    asio::streambuf input_;
    std::uint64_t printed_ = 0;
    bool done_ = false;
    int exit_code_ = exit_failure;
};

// --- weir top ------------------------------------------------------------------------------

std::atomic<bool> top_interrupted{false};

void on_top_signal(int) {
    top_interrupted = true;
}

// The body of GET /api/v1/status, or nullopt with `error` set.
std::optional<std::string> fetch_status(const base_url& u, std::string& error) {
    try {
        asio::io_context io;
        beast::tcp_stream stream(io);
        stream.expires_after(std::chrono::seconds(5));
        tcp::resolver resolver(io);
        stream.connect(resolver.resolve(u.host, u.port));
        http::request<http::empty_body> req{http::verb::get, "/api/v1/status", 11};
        req.set(http::field::host, u.host);
        req.set(http::field::user_agent, "weir-top");
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        if (res.result() != http::status::ok) {
            error = fmt::format("answered {}", res.result_int());
            return std::nullopt;
        }
        return std::move(res.body());
    } catch (const std::exception& e) {
        error = e.what();
        return std::nullopt;
    }
}

std::string fit(std::string s, std::size_t width) {
    if (s.size() <= width) return s;
    if (width == 0) return "";
    return s.substr(0, width - 1) + "~";
}

// 12, 12.3k, 4.56M: a count in at most 6 characters.
std::string count_text(std::uint64_t n) {
    if (n < 100'000) return std::to_string(n);
    if (n < 100'000'000) return fmt::format("{:.1f}k", static_cast<double>(n) / 1e3);
    return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
}

std::string rate_text(double r) {
    if (r < 10) return fmt::format("{:.1f}", r);
    if (r < 100'000) return fmt::format("{:.0f}", r);
    return fmt::format("{:.1f}k", r / 1e3);
}

// 0.4s, 12.3s, 4m05s, 2h07m, 3d04h
std::string lag_text(double s) {
    if (s < 0) return fmt::format("-{}", lag_text(-s));
    if (s < 60) return fmt::format("{:.1f}s", s);
    const auto t = static_cast<std::uint64_t>(s);
    if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
    if (t < 86400) return fmt::format("{}h{:02}m", t / 3600, t % 3600 / 60);
    return fmt::format("{}d{:02}h", t / 86400, t % 86400 / 3600);
}

std::string failing_text(const std::vector<failing_check_status>& checks, bool qualify) {
    std::string s;
    for (const auto& f : checks) {
        if (!s.empty()) s += ", ";
        s += qualify ? f.node + "." + f.check : f.check;
        if (f.groups) s += fmt::format("({} group{})", *f.groups, *f.groups == 1 ? "" : "s");
    }
    return s;
}

}  // namespace

int run_tap(const tap_options& options, std::ostream& err) {
    const auto slash = options.target.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == options.target.size()) {
        err << "weir tap: expected PIPELINE/NODE, got \"" << options.target << "\"\n";
        return exit_usage;
    }
    const auto url = parse_base_url(options.url);
    if (!url) {
        err << "weir tap: not an http URL: " << options.url << '\n';
        return exit_usage;
    }
    std::string target = "/api/v1/tap?pipeline=" + percent_encode(options.target.substr(0, slash)) +
                         "&node=" + percent_encode(options.target.substr(slash + 1)) +
                         "&kind=" + (options.results ? "results" : "records");
    if (options.rate > 0) target += fmt::format("&rate={}", options.rate);
    // A closed standard output is an end like any other, not a signal that kills us.
    std::signal(SIGPIPE, SIG_IGN);
    tap_client client(options, *url, std::move(target), err);
    return client.run();
}

std::string render_top(const daemon_status& now, const daemon_status* before, double seconds,
                       std::size_t width) {
    std::map<std::string, std::uint64_t> earlier;
    if (before) {
        for (const auto& q : before->queries) {
            if (q.figures) earlier[q.pipeline + "/" + q.query] = q.figures->input_records;
        }
    }
    std::size_t failing_total = 0;
    for (const auto& q : now.queries) failing_total += q.failing_checks.size();
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::string out = fit(fmt::format("weir: {}, {} quer{}, {} failing check{}   {:04}-{:02}-{:02} "
                                      "{:02}:{:02}:{:02} UTC",
                                      now.state.empty() ? "-" : now.state, now.queries.size(),
                                      now.queries.size() == 1 ? "y" : "ies", failing_total,
                                      failing_total == 1 ? "" : "s", tm.tm_year + 1900,
                                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec),
                          width) +
                      "\n\n";
    // QUERY STATE IN/S RECORDS INVALID LAG FAIL RESTARTS: 95 columns with the widest name.
    constexpr std::size_t name_width = 30;
    auto line = [&](std::string_view name, std::string_view state, std::string_view rate,
                    std::string_view records, std::string_view invalid, std::string_view lag,
                    std::string_view failing, std::string_view restarts) {
        return fit(fmt::format("{:<30}  {:<8}  {:>8}  {:>8}  {:>7}  {:>7}  {:>4}  {:>8}",
                               fit(std::string(name), name_width), state, rate, records, invalid,
                               lag, failing, restarts),
                   width) +
               "\n";
    };
    out += line("QUERY", "STATE", "IN/S", "RECORDS", "INVALID", "LAG", "FAIL", "RESTARTS");
    std::string notes;
    for (const auto& q : now.queries) {
        const std::string name = q.pipeline + "/" + q.query;
        const query_figures* f = q.figures ? &*q.figures : nullptr;
        std::string rate = "-";
        if (f && before && seconds > 0) {
            const auto it = earlier.find(name);
            // A query that restarted in between counts from zero again: no rate this time.
            if (it != earlier.end() && f->input_records >= it->second) {
                rate = rate_text(static_cast<double>(f->input_records - it->second) / seconds);
            }
        }
        out +=
            line(name, q.state.empty() ? "-" : q.state, rate,
                 f ? count_text(f->input_records) : "-", f ? count_text(f->invalid_records) : "-",
                 f && f->lag_seconds ? lag_text(*f->lag_seconds) : "-",
                 std::to_string(q.failing_checks.size()), std::to_string(q.restarts));
        if (!q.failing_checks.empty()) {
            notes +=
                fit("  " + name + " failing: " + failing_text(q.failing_checks, q.nodes.size() > 1),
                    width) +
                "\n";
        }
        if (!q.degraded_reason.empty()) {
            notes += fit("  " + name + " " + q.state + ": " + q.degraded_reason, width) + "\n";
        }
        if (f && f->last_bad_record) {
            const auto& b = *f->last_bad_record;
            notes += fit("  " + name + " latest invalid record: " + b.reason + ": " +
                             (b.field.empty() ? "" : b.field + ": ") + b.message,
                         width) +
                     "\n";
        }
    }
    if (!notes.empty()) out += "\n" + notes;
    return out;
}

int run_top(const top_options& options, std::ostream& out, std::ostream& err) {
    const auto url = parse_base_url(options.url);
    if (!url) {
        err << "weir top: not an http URL: " << options.url << '\n';
        return exit_usage;
    }
    const auto interval = std::chrono::duration<double>(std::max(0.1, options.interval));
    const bool live = !options.once && ::isatty(STDOUT_FILENO) == 1;
    top_interrupted = false;
    std::signal(SIGINT, on_top_signal);
    std::signal(SIGTERM, on_top_signal);
    std::signal(SIGPIPE, SIG_IGN);
    // Sleeps `interval`, in short steps so Ctrl-C ends it at once; false when interrupted.
    auto pause = [&] {
        const auto until = std::chrono::steady_clock::now() + interval;
        while (std::chrono::steady_clock::now() < until) {
            if (top_interrupted) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return !top_interrupted;
    };
    auto sample = [&](std::string& error) -> std::optional<daemon_status> {
        const auto body = fetch_status(*url, error);
        if (!body) return std::nullopt;
        auto status = from_json(*body);
        if (!status) error = "did not answer with weir's status";
        return status;
    };
    const std::string where = "weir at " + url->host + ":" + url->port;

    std::string error;
    std::optional<daemon_status> before = sample(error);
    auto last = std::chrono::steady_clock::now();
    if (!before) {
        err << "weir top: cannot reach " << where << ": " << error << '\n';
        return exit_failure;
    }
    if (!live) {
        // One snapshot, with rates over one interval.
        if (!pause()) return exit_ok;
        const auto now = sample(error);
        if (!now) {
            err << "weir top: cannot reach " << where << ": " << error << '\n';
            return exit_failure;
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - last).count();
        out << render_top(*now, &*before, seconds);
        out.flush();
        return exit_ok;
    }
    // A terminal: redraw in place every interval, cursor hidden until the end.
    out << "\x1b[?25l\x1b[H\x1b[2J" << render_top(*before, nullptr, 0) << std::flush;
    while (pause()) {
        const auto now = sample(error);
        const auto at = std::chrono::steady_clock::now();
        std::string screen;
        if (now) {
            screen = render_top(*now, &*before, std::chrono::duration<double>(at - last).count());
            before = now;
            last = at;
        } else {
            screen =
                fit("weir top: cannot reach " + where + ": " + error + " (retrying)", 100) + "\n";
        }
        out << "\x1b[H\x1b[2J" << screen << std::flush;
    }
    out << "\x1b[?25h" << std::flush;
    return exit_ok;
}

}  // namespace weir::daemon
