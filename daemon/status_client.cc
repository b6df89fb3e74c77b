// `weir status`; see status_client.h.
#include "daemon/status_client.h"

#include <fmt/core.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>
#include <vector>

#include "daemon/exit_codes.h"

namespace weir::daemon {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct url_parts {
    std::string host, port, target;
};

bool parse_url(std::string url, url_parts& out) {
    if (url.rfind("http://", 0) == 0) url = url.substr(7);
    const auto slash = url.find('/');
    std::string authority = url.substr(0, slash);
    out.target = slash == std::string::npos ? "" : url.substr(slash);
    if (out.target.empty() || out.target == "/") out.target = "/api/v1/status";
    const auto colon = authority.rfind(':');
    if (authority.empty()) return false;
    out.host = colon == std::string::npos ? authority : authority.substr(0, colon);
    out.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
    if (out.host.size() > 2 && out.host.front() == '[')
        out.host = out.host.substr(1, out.host.size() - 2);
    return !out.host.empty() && !out.port.empty();
}

std::string or_dash(const std::string& s) {
    return s.empty() ? "-" : s;
}

std::string names(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& n : v) s += (s.empty() ? "" : ",") + n;
    return or_dash(s);
}

// "volume(3 groups),impossible": the checks failing now; node-qualified in multi-node queries.
std::string failing(const std::vector<failing_check_status>& checks, bool qualify) {
    std::string s;
    for (const auto& f : checks) {
        std::string one = or_dash(f.check);
        if (qualify) one = or_dash(f.node) + "." + one;
        if (f.groups) one += fmt::format("({} group{})", *f.groups, *f.groups == 1 ? "" : "s");
        s += (s.empty() ? "" : ",") + one;
    }
    return or_dash(s);
}

std::vector<std::string> row(const query_status& q) {
    const query_figures* f = q.figures ? &*q.figures : nullptr;
    auto figure = [f](std::uint64_t query_figures::*member) {
        return f ? std::to_string(f->*member) : std::string("-");
    };
    return {or_dash(q.pipeline), or_dash(q.query), names(q.nodes), or_dash(q.state),
            f ? (f->critical ? "yes" : "no") : "-", f && f->watermark ? *f->watermark : "-",
            // "12.3s" behind the wall clock; "-" before the first window closed.
            f && f->lag_seconds ? fmt::format("{:.1f}s", *f->lag_seconds) : "-",
            figure(&query_figures::input_records), figure(&query_figures::invalid_records),
            figure(&query_figures::results), std::to_string(q.restarts),
            failing(q.failing_checks, q.nodes.size() > 1)};
}

// "sensors/quality: invalid records: bad_time 3, malformed 1; latest: node quality, input
// readings, /data/a.jsonl offset 120: ts: \"…\": no time zone: …"
std::string bad_records_line(const query_status& q) {
    const query_figures& f = *q.figures;
    std::string s = or_dash(q.pipeline) + "/" + or_dash(q.query) + ": invalid records: ";
    for (std::size_t i = 0; i < f.bad_records.size(); ++i) {
        if (i > 0) s += ", ";
        s += fmt::format("{} {}", f.bad_records[i].first, f.bad_records[i].second);
    }
    if (const auto& b = f.last_bad_record) {
        s += "; latest: node " + or_dash(b->node) + ", input " + or_dash(b->input);
        if (!b->source.empty()) s += ", " + b->source;
        if (b->offset) s += fmt::format(" offset {}", *b->offset);
        s += ": ";
        if (!b->field.empty()) s += b->field + ": ";
        s += b->message;
    }
    return s;
}

// "sensors/quality: volume fails in 12 groups: device=d-1 (0.25), device=d-2 (null), ... and 10
// more": the failing groups the status names, one line per grouped failing check.
std::string failing_groups_line(const query_status& q, const failing_check_status& f) {
    std::string s = or_dash(q.pipeline) + "/" + or_dash(q.query) + ": ";
    if (q.nodes.size() > 1) s += or_dash(f.node) + ".";
    s += fmt::format("{} fails in {} group{}", or_dash(f.check), *f.groups,
                     *f.groups == 1 ? "" : "s");
    for (std::size_t i = 0; i < f.failing_groups.size(); ++i) {
        const failing_group_status& g = f.failing_groups[i];
        s += i == 0 ? ": " : ", ";
        std::string key;
        for (const auto& [field, value] : g.group) {
            key += (key.empty() ? "" : ",") + field + "=" + value;
        }
        s += or_dash(key);
        s += g.value ? fmt::format(" ({:.4g})", *g.value) : std::string(" (null)");
    }
    if (*f.groups > f.failing_groups.size() && !f.failing_groups.empty()) {
        s += fmt::format(" and {} more", *f.groups - f.failing_groups.size());
    }
    return s;
}

}  // namespace

http_reply http_exchange(const std::string& url, std::string_view method, std::string_view target,
                         std::string_view body, std::string_view user_agent,
                         std::chrono::seconds timeout) {
    url_parts u;
    if (!parse_url(url, u)) throw std::invalid_argument("not an http URL: " + url);
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    asio::ip::tcp::resolver resolver(io);
    try {
        stream.connect(resolver.resolve(u.host, u.port));
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot reach weir at " + u.host + ":" + u.port + ": " + e.what());
    }
    http::request<http::string_body> req{
        http::string_to_verb(beast::string_view(method.data(), method.size())),
        target.empty() ? u.target : std::string(target), 11};
    req.set(http::field::host, u.host);
    req.set(http::field::user_agent, beast::string_view(user_agent.data(), user_agent.size()));
    if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = std::string(body);
    }
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    try {
        http::write(stream, req);
        http::read(stream, buffer, res);
    } catch (const std::exception& e) {
        throw std::runtime_error("weir at " + u.host + ":" + u.port +
                                 " did not answer: " + e.what());
    }
    return {res.result_int(), std::move(res.body())};
}

int print_status(const std::string& url, std::ostream& out, std::ostream& err) {
    url_parts u;
    if (!parse_url(url, u)) {
        err << "weir status: not an http URL: " << url << '\n';
        return exit_failure;
    }
    http_reply reply;
    try {
        reply = http_exchange(url, "GET", "", "", "weir-status", std::chrono::seconds(5));
    } catch (const std::exception& e) {
        err << "weir status: " << e.what() << '\n';
        return exit_failure;
    }
    if (reply.status != 200) {
        err << "weir status: " << url << " answered " << reply.status << '\n';
        return exit_failure;
    }
    if (!render_status(reply.body, out)) {
        err << "weir status: " << url << " did not answer with weir's status\n";
        return exit_failure;
    }
    return exit_ok;
}

std::optional<std::string> status_url_for_listen(std::string_view listen) {
    if (listen.empty()) return "http://127.0.0.1:9797";
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string host(listen.substr(0, colon));
    const std::string_view port = listen.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos ||
        port.find_first_not_of('0') == std::string_view::npos) {
        return std::nullopt;
    }
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    if (host == "[::]") host = "[::1]";
    return fmt::format("http://{}:{}", host, port);
}

bool render_status(std::string_view body, std::ostream& out) {
    const std::optional<daemon_status> status = from_json(body);
    if (!status) return false;
    print_status_table(*status, out);
    return true;
}

void print_status_table(const daemon_status& status, std::ostream& out) {
    const std::vector<std::string> head = {"PIPELINE", "QUERY",     "NODES",    "STATE",
                                           "CRITICAL", "WATERMARK", "LAG",      "RECORDS",
                                           "INVALID",  "RESULTS",   "RESTARTS", "FAILING"};
    std::vector<std::vector<std::string>> rows = {head};
    for (const auto& q : status.queries) rows.push_back(row(q));
    std::vector<std::size_t> width(head.size(), 0);
    for (const auto& r : rows) {
        for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    }
    out << "weir: " << or_dash(status.state) << '\n';
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
        }
        out << line << '\n';
    }
    // Below the table, which groups the FAILING column's grouped checks fail in.
    for (const auto& q : status.queries) {
        for (const auto& f : q.failing_checks) {
            if (f.groups && !f.failing_groups.empty()) out << failing_groups_line(q, f) << '\n';
        }
    }
    // Below the table, the dependencies that are not up and the inputs whose stream ended:
    // "deps/n: node n: dependency weather held (49.0 s behind)".
    for (const auto& q : status.queries) {
        if (!q.figures) continue;
        const std::string name = or_dash(q.pipeline) + "/" + or_dash(q.query) + ": ";
        for (const auto& d : q.figures->dependencies) {
            if (d.state == "up") continue;
            out << name << "node " << or_dash(d.node) << ": dependency " << or_dash(d.input) << ' '
                << or_dash(d.state);
            if (d.lag_seconds) {
                out << fmt::format(" ({:.1f} s behind)", *d.lag_seconds);
            } else if (d.state != "ended") {
                out << " (no record yet)";
            }
            if (d.hold_expired) out << ", its hold ran out (max_hold)";
            out << '\n';
        }
        if (!q.figures->ended_inputs.empty()) {
            out << name << "ended (end_when): " << names(q.figures->ended_inputs) << '\n';
        }
    }
    // Below the table, what the INVALID column holds: by reason, and the latest example.
    for (const auto& q : status.queries) {
        if (!q.figures || q.figures->bad_records.empty()) continue;
        out << bad_records_line(q) << '\n';
    }
}

}  // namespace weir::daemon
