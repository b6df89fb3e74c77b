// `weir status`; see status_client.h.
#include "daemon/status_client.h"

#include <fmt/core.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <vector>

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

std::string cell(const nlohmann::json& v) {
    if (v.is_null()) return "-";
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

std::string names(const nlohmann::json& v) {
    if (!v.is_array()) return cell(v);
    std::string s;
    for (const auto& n : v) s += (s.empty() ? "" : ",") + cell(n);
    return s.empty() ? "-" : s;
}

// "12.3s" behind the wall clock; "-" before the first window closed.
std::string lag(const nlohmann::json& v) {
    if (!v.is_number()) return cell(v);
    return fmt::format("{:.1f}s", v.get<double>());
}

// "volume(3 groups),impossible": the checks failing now; node-qualified in multi-node queries.
std::string failing(const nlohmann::json& v, bool qualify) {
    if (!v.is_array()) return "-";
    std::string s;
    for (const auto& f : v) {
        if (!f.is_object()) continue;
        std::string one = cell(f.value("check", nlohmann::json()));
        if (qualify) one = cell(f.value("node", nlohmann::json())) + "." + one;
        const auto groups = f.value("groups", nlohmann::json());
        if (groups.is_number_unsigned()) {
            const auto n = groups.get<std::uint64_t>();
            one += fmt::format("({} group{})", n, n == 1 ? "" : "s");
        }
        s += (s.empty() ? "" : ",") + one;
    }
    return s.empty() ? "-" : s;
}

}  // namespace

int print_status(const std::string& url, std::ostream& out, std::ostream& err) {
    url_parts u;
    if (!parse_url(url, u)) {
        err << "weir status: not an http URL: " << url << '\n';
        return 1;
    }
    std::string body;
    try {
        asio::io_context io;
        beast::tcp_stream stream(io);
        stream.expires_after(std::chrono::seconds(5));
        asio::ip::tcp::resolver resolver(io);
        stream.connect(resolver.resolve(u.host, u.port));
        http::request<http::empty_body> req{http::verb::get, u.target, 11};
        req.set(http::field::host, u.host);
        req.set(http::field::user_agent, "weir-status");
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        if (res.result() != http::status::ok) {
            err << "weir status: " << url << " answered " << res.result_int() << '\n';
            return 1;
        }
        body = res.body();
    } catch (const std::exception& e) {
        err << "weir status: cannot reach weir at " << u.host << ":" << u.port << ": " << e.what()
            << '\n';
        return 1;
    }
    if (!render_status(body, out)) {
        err << "weir status: " << url << " did not answer with weir's status\n";
        return 1;
    }
    return 0;
}

bool render_status(std::string_view body, std::ostream& out) {
    const nlohmann::json status = nlohmann::json::parse(body, nullptr, false);
    if (status.is_discarded() || !status.is_object() || !status.contains("queries") ||
        !status["queries"].is_array()) {
        return false;
    }
    const std::vector<std::string> head = {"PIPELINE", "QUERY",     "NODES",    "STATE",
                                           "CRITICAL", "WATERMARK", "LAG",      "RECORDS",
                                           "INVALID",  "RESULTS",   "RESTARTS", "FAILING"};
    std::vector<std::vector<std::string>> rows = {head};
    for (const auto& q : status["queries"]) {
        if (!q.is_object()) return false;
        rows.push_back(
            {cell(q.value("pipeline", nlohmann::json())), cell(q.value("query", nlohmann::json())),
             names(q.value("nodes", nlohmann::json())), cell(q.value("state", nlohmann::json())),
             cell(q.value("critical", nlohmann::json())),
             cell(q.value("watermark", nlohmann::json())),
             lag(q.value("lag_seconds", nlohmann::json())),
             cell(q.value("input_records", nlohmann::json())),
             cell(q.value("invalid_records", nlohmann::json())),
             cell(q.value("results", nlohmann::json())),
             cell(q.value("restarts", nlohmann::json())),
             failing(q.value("failing_checks", nlohmann::json()),
                     q.value("nodes", nlohmann::json()).size() > 1)});
    }
    std::vector<std::size_t> width(head.size(), 0);
    for (const auto& r : rows) {
        for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    }
    out << "weir: " << cell(status.value("state", nlohmann::json())) << '\n';
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
        }
        out << line << '\n';
    }
    return true;
}

}  // namespace weir::daemon
