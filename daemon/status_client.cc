// `weir status`; see status_client.h.
#include "daemon/status_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/core.h>
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
    if (out.host.size() > 2 && out.host.front() == '[') out.host = out.host.substr(1, out.host.size() - 2);
    return !out.host.empty() && !out.port.empty();
}

std::string cell(const nlohmann::json& v) {
    if (v.is_null()) return "-";
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
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
        err << "weir status: cannot reach weir at " << u.host << ":" << u.port << ": "
            << e.what() << '\n';
        return 1;
    }
    nlohmann::json status = nlohmann::json::parse(body, nullptr, false);
    if (status.is_discarded() || !status.contains("queries")) {
        err << "weir status: " << url << " did not answer with weir's status\n";
        return 1;
    }
    const std::vector<std::string> head = {"PIPELINE", "QUERY",   "STATE",   "CRITICAL",
                                           "WATERMARK", "RECORDS", "INVALID", "RESULTS",
                                           "RESTARTS"};
    std::vector<std::vector<std::string>> rows = {head};
    for (const auto& q : status["queries"]) {
        rows.push_back({cell(q.value("pipeline", nlohmann::json())),
                        cell(q.value("query", nlohmann::json())),
                        cell(q.value("state", nlohmann::json())),
                        cell(q.value("critical", nlohmann::json())),
                        cell(q.value("watermark", nlohmann::json())),
                        cell(q.value("input_records", nlohmann::json())),
                        cell(q.value("invalid_records", nlohmann::json())),
                        cell(q.value("results", nlohmann::json())),
                        cell(q.value("restarts", nlohmann::json()))});
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
    return 0;
}

}  // namespace weir::daemon
