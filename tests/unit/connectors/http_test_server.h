// A scripted HTTP/1.1 server on 127.0.0.1 (port chosen by the OS) for the webhook and
// Alertmanager output tests: records every request and answers with the statuses it is given.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weir::connectors::testing {

struct recorded_request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
};

class test_http_server {
  public:
    explicit test_http_server(boost::asio::io_context& io)
        : io_(io), acceptor_(io, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        boost::asio::co_spawn(io, accept_loop(), boost::asio::detached);
    }
    ~test_http_server() { close_connections(); }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    std::string url(const std::string& path = "") const {
        return "http://127.0.0.1:" + std::to_string(port()) + path;
    }

    // Closes every open connection, as a server does with idle keep-alive connections.
    void close_connections() {
        for (auto& weak : sockets_) {
            if (auto s = weak.lock()) {
                boost::system::error_code ignored;
                s->close(ignored);
            }
        }
        sockets_.clear();
    }

    // The status of each next request; -1 never answers (the connection stays open). When
    // empty, 200.
    std::deque<int> statuses;
    std::vector<recorded_request> requests;
    int connections = 0;

  private:
    boost::asio::awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            auto socket = std::make_shared<boost::asio::ip::tcp::socket>(io_);
            co_await acceptor_.async_accept(
                *socket, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            if (ec) co_return;
            ++connections;
            sockets_.push_back(socket);
            boost::asio::co_spawn(io_, session(socket), boost::asio::detached);
        }
    }

    boost::asio::awaitable<void> session(std::shared_ptr<boost::asio::ip::tcp::socket> socket) {
        namespace http = boost::beast::http;
        boost::beast::flat_buffer buffer;
        for (;;) {
            boost::system::error_code ec;
            http::request<http::string_body> req;
            co_await http::async_read(*socket, buffer, req,
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            if (ec) co_return;
            recorded_request r;
            r.method = std::string(req.method_string());
            r.target = std::string(req.target());
            for (const auto& field : req) {
                std::string name(field.name_string());
                for (char& c : name)
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                r.headers[name] = std::string(field.value());
            }
            r.body = req.body();
            requests.push_back(std::move(r));
            int status = 200;
            if (!statuses.empty()) {
                status = statuses.front();
                statuses.pop_front();
            }
            if (status < 0) {
                hung_.push_back(socket);
                co_return;
            }
            http::response<http::string_body> res{static_cast<http::status>(status), 11};
            res.keep_alive(req.keep_alive());
            res.body() = status < 300 ? "ok" : "no";
            res.prepare_payload();
            co_await http::async_write(*socket, res,
                                       boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            if (ec) co_return;
        }
    }

    boost::asio::io_context& io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::vector<std::weak_ptr<boost::asio::ip::tcp::socket>> sockets_;
    std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> hung_;
};

}  // namespace weir::connectors::testing
