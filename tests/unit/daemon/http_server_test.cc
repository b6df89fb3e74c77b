// Tests of the daemon's HTTP server over real loopback sockets: routes, status codes, limits
// (header size, body, slow clients, connection cap), keep-alive and stopping.
#include "daemon/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace weir::daemon {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct response {
    int status = 0;
    std::string headers;  // lower-cased
    std::string body;

    bool has_header(const std::string& line) const {
        return headers.find(line) != std::string::npos;
    }
};

// A blocking loopback client whose every wait is bounded by poll().
class client {
  public:
    explicit client(unsigned short port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~client() {
        if (fd_ >= 0) ::close(fd_);
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    bool connected() const { return connected_; }

    bool send(std::string_view data) {
        while (!data.empty()) {
            const auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

    // One response with a Content-Length body; nullopt on EOF, error or timeout.
    // `head`: the answer to a HEAD request, whose Content-Length announces no body.
    std::optional<response> read_response(std::chrono::milliseconds timeout = 5000ms,
                                          bool head = false) {
        const auto deadline = clock_type::now() + timeout;
        std::size_t header_end;
        while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill(deadline)) return std::nullopt;
        }
        response r;
        r.headers = pending_.substr(0, header_end + 2);
        for (auto& c : r.headers)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (r.headers.rfind("http/1.1 ", 0) != 0) return std::nullopt;
        r.status = std::stoi(r.headers.substr(9, 3));
        std::size_t length = 0;
        const auto cl = r.headers.find("\r\ncontent-length: ");
        if (cl != std::string::npos && !head) length = std::stoul(r.headers.substr(cl + 18));
        while (pending_.size() < header_end + 4 + length) {
            if (!fill(deadline)) return std::nullopt;
        }
        r.body = pending_.substr(header_end + 4, length);
        pending_.erase(0, header_end + 4 + length);
        return r;
    }

    // True when the server closed the connection (EOF or reset) within `timeout`.
    bool closed_within(std::chrono::milliseconds timeout) {
        const auto deadline = clock_type::now() + timeout;
        while (clock_type::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 0))) <= 0) continue;
            char buf[4096];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return true;
            pending_.append(buf, static_cast<std::size_t>(n));
        }
        return false;
    }

  private:
    bool fill(clock_type::time_point deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char buf[16384];
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return false;
        pending_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    bool connected_ = false;
    std::string pending_;
};

std::string get(std::string_view path, std::string_view extra = "") {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n" + std::string(extra) +
           "\r\n";
}

class http_server_test : public ::testing::Test {
  protected:
    void start(http_limits limits = {}) {
        http_handlers h;
        h.ready = [this] { return ready_.load(); };
        h.status_json = [this] {
            ++status_calls_;
            // Held until the test lets it go (bounded: a test that forgets fails, not hangs).
            std::unique_lock lock(mutex_);
            held_.wait_for(lock, 10s, [this] { return !hold_status_; });
            return std::string(R"({"state":"running"})");
        };
        if (with_render_) {
            h.render = [this](std::function<void()> work) {
                boost::asio::post(render_pool_, std::move(work));
            };
        }
        h.metrics_text = [] { return std::string("# TYPE weir_up gauge\nweir_up 1\n"); };
        if (with_page_) h.status_page = [] { return std::string("<!DOCTYPE html><p>weir</p>"); };
        if (with_baseline_) {
            h.baseline = [this](std::string_view action, std::string body, std::string peer,
                                bool loopback, std::function<void(http_answer)> done) {
                std::lock_guard lock(mutex_);
                commands_.push_back(std::string(action) + " " + body + " " + peer +
                                    (loopback ? " loopback" : ""));
                if (body.find("later") != std::string::npos) {
                    later_.push_back(std::move(done));  // answered by the test, or never
                } else {
                    done({200, R"({"series":3})"});
                }
            };
        }
        server_ = std::make_unique<http_server>(io_, "127.0.0.1:0", std::move(h), limits);
        thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override {
        release_status();
        if (server_) server_->stop();
        work_.reset();
        // Everything must wind down by itself once stopped; io_.stop() only keeps a broken
        // server from hanging the suite, and the flag makes such a failure visible.
        const auto deadline = clock_type::now() + 5s;
        while (!io_.stopped() && clock_type::now() < deadline) std::this_thread::sleep_for(5ms);
        EXPECT_TRUE(io_.stopped()) << "the server left work behind after stop()";
        io_.stop();
        if (thread_.joinable()) thread_.join();
        render_pool_.join();
        server_.reset();
    }

    void release_status() {
        {
            std::lock_guard lock(mutex_);
            hold_status_ = false;
        }
        held_.notify_all();
    }

    std::optional<response> fetch(const std::string& request) {
        client c(server_->local_port());
        if (!c.connected() || !c.send(request)) return std::nullopt;
        return c.read_response();
    }

    boost::asio::io_context io_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
        boost::asio::make_work_guard(io_)};
    std::unique_ptr<http_server> server_;
    std::thread thread_;
    std::atomic<bool> ready_{false};
    std::atomic<int> status_calls_{0};
    bool with_page_ = true;
    bool with_baseline_ = true;
    bool with_render_ = false;      // answers built on render_pool_ (http_handlers::render)
    bool hold_status_ = false;      // /api/v1/status waits for release_status()
    std::condition_variable held_;  // release_status()
    boost::asio::thread_pool render_pool_{1};
    std::mutex mutex_;
    std::vector<std::string> commands_;                    // as the handler saw them
    std::vector<std::function<void(http_answer)>> later_;  // commands not answered yet
};

std::string post(std::string_view path, std::string_view body,
                 std::string_view type = "application/json") {
    return "POST " + std::string(path) +
           " HTTP/1.1\r\nHost: localhost\r\nContent-Type: " + std::string(type) +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST_F(http_server_test, routes_answer_with_their_content) {
    start();
    EXPECT_NE(server_->local_port(), 0);

    auto r = fetch(get("/metrics"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->has_header("content-type: text/plain; version=0.0.4")) << r->headers;
    EXPECT_EQ(r->body, "# TYPE weir_up gauge\nweir_up 1\n");

    r = fetch(get("/health"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok\n");

    r = fetch(get("/api/v1/status?verbose=1"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->has_header("content-type: application/json")) << r->headers;
    EXPECT_EQ(r->body, R"({"state":"running"})");
    EXPECT_EQ(status_calls_, 1);

    client c(server_->local_port());
    ASSERT_TRUE(c.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n" + get("/health")));
    r = c.read_response(5000ms, true);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->has_header("content-length: 31")) << r->headers;
    r = c.read_response();  // no body bytes came between the two answers
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "ok\n");
}

TEST_F(http_server_test, the_status_page_is_served_at_the_root_and_loads_nothing_else) {
    start();
    for (const char* path : {"/", "/status", "/?x=1"}) {
        auto r = fetch(get(path));
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path;
        EXPECT_TRUE(r->has_header("content-type: text/html; charset=utf-8")) << r->headers;
        EXPECT_TRUE(r->has_header("content-security-policy: default-src 'none'")) << r->headers;
        EXPECT_EQ(r->body, "<!DOCTYPE html><p>weir</p>");
    }
    auto r = fetch("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
}

TEST_F(http_server_test, without_a_page_the_root_is_not_found) {
    with_page_ = false;
    start();
    auto r = fetch(get("/"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
}

// With a render thread, a status that takes long to build holds neither the loop nor /health
// (one loop thread here, as with --threads 1); its answer comes once built, and HEAD still
// answers with the length alone.
TEST_F(http_server_test, slow_answers_are_built_off_the_loop_and_health_does_not_wait) {
    with_render_ = true;
    hold_status_ = true;
    start();
    client slow(server_->local_port());
    ASSERT_TRUE(slow.connected());
    ASSERT_TRUE(slow.send(get("/api/v1/status")));
    const auto deadline = clock_type::now() + 10s;
    while (status_calls_ == 0 && clock_type::now() < deadline) std::this_thread::sleep_for(1ms);
    ASSERT_EQ(status_calls_, 1);

    auto r = fetch(get("/health"));
    ASSERT_TRUE(r) << "/health waited for the status being built";
    EXPECT_EQ(r->status, 200);
    r = fetch(get("/ready"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);

    release_status();
    r = slow.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->has_header("content-type: application/json")) << r->headers;
    EXPECT_EQ(r->body, R"({"state":"running"})");

    // Keep-alive and HEAD through the render thread: the next request on the same connection.
    ASSERT_TRUE(slow.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n" + get("/")));
    r = slow.read_response(5000ms, true);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->has_header("content-length: 31")) << r->headers;
    r = slow.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "<!DOCTYPE html><p>weir</p>");
    EXPECT_TRUE(r->has_header("content-security-policy: default-src 'none'")) << r->headers;
}

TEST_F(http_server_test, ready_follows_the_handler) {
    start();
    auto r = fetch(get("/ready"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    ready_ = true;
    r = fetch(get("/ready"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ready_ = false;
    r = fetch(get("/ready"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
}

TEST_F(http_server_test, health_is_503_after_begin_shutdown) {
    start();
    client kept(server_->local_port());
    ASSERT_TRUE(kept.send(get("/health")));
    auto r = kept.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);

    server_->begin_shutdown();
    r = fetch(get("/health"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    // A kept-alive connection learns it too, and is told to go away.
    ASSERT_TRUE(kept.send(get("/health")));
    r = kept.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_TRUE(r->has_header("connection: close")) << r->headers;
    EXPECT_TRUE(kept.closed_within(3000ms));
    // Other routes still work while draining.
    r = fetch(get("/metrics"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(http_server_test, unknown_paths_and_methods) {
    start();
    auto r = fetch(get("/nope"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    r = fetch(get("/metrics/extra"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    r = fetch("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_TRUE(r->has_header("allow: get, head")) << r->headers;
    r = fetch("DELETE /ready HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
}

TEST_F(http_server_test, malformed_requests_get_400_and_close) {
    start();
    for (const std::string bad :
         {"GARBAGE\r\n\r\n", "GET /metrics\r\n\r\n", "\x16\x03\x01\x02\x01\r\n\r\n",
          "GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n",
          "GET /metrics HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
        client c(server_->local_port());
        ASSERT_TRUE(c.send(bad));
        const auto r = c.read_response();
        ASSERT_TRUE(r) << bad;
        EXPECT_EQ(r->status, 400) << bad;
        EXPECT_TRUE(r->has_header("connection: close")) << r->headers;
        EXPECT_TRUE(c.closed_within(3000ms)) << bad;
    }
}

TEST_F(http_server_test, other_http_versions_are_refused) {
    start();
    client c(server_->local_port());
    ASSERT_TRUE(c.send("GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n"));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    // The parser refuses most versions itself (400); any it lets through get 505.
    EXPECT_TRUE(r->status == 400 || r->status == 505) << r->status;
    EXPECT_TRUE(c.closed_within(3000ms));
}

TEST_F(http_server_test, a_request_body_gets_413) {
    start();
    client c(server_->local_port());
    ASSERT_TRUE(c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.closed_within(3000ms));
}

TEST_F(http_server_test, a_command_takes_a_json_body_and_answers_with_the_handler) {
    start();
    client c(server_->local_port());
    ASSERT_TRUE(c.send(post("/api/v1/baselines/reset", R"({"pipeline":"p","node":"n"})")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"series":3})");
    EXPECT_TRUE(r->has_header("content-type: application/json")) << r->headers;
    EXPECT_FALSE(r->has_header("connection: close"));
    // Keep-alive, with a media type in another case and a parameter, and a chunked body.
    ASSERT_TRUE(c.send(
        "POST /api/v1/baselines/acknowledge HTTP/1.1\r\nHost: x\r\nContent-Type: "
        "Application/JSON; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n"
        "3\r\n:1}\r\n0\r\n\r\n"));
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    std::lock_guard lock(mutex_);
    EXPECT_EQ(commands_,
              (std::vector<std::string>{R"(reset {"pipeline":"p","node":"n"} 127.0.0.1 loopback)",
                                        R"(acknowledge {"a":1} 127.0.0.1 loopback)"}));
}

TEST_F(http_server_test, commands_refuse_other_methods_types_and_large_bodies) {
    start();
    auto r = fetch(get("/api/v1/baselines/reset"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_TRUE(r->has_header("allow: post")) << r->headers;
    r = fetch("OPTIONS /api/v1/baselines/reset HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    // A form post, as a web page may send without asking first.
    r = fetch(post("/api/v1/baselines/reset", "{}", "text/plain"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 415);
    r = fetch(post("/api/v1/baselines/reset", "{}", "application/x-www-form-urlencoded"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 415);
    r = fetch(post("/api/v1/baselines/forget", "{}"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);  // not a command: no route takes its body
    r = fetch("POST /api/v1/baselines/forget HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    client c(server_->local_port());
    ASSERT_TRUE(c.send(post("/api/v1/baselines/reset", std::string(16 * 1024 + 1, ' '))));
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.closed_within(3000ms));
    std::lock_guard lock(mutex_);
    EXPECT_TRUE(commands_.empty());
}

TEST_F(http_server_test, get_routes_still_refuse_bodies_as_json) {
    start();
    for (const char* path : {"/api/v1/status", "/metrics", "/"}) {
        auto r = fetch(post(path, "{}"));
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 413) << path;
    }
}

TEST_F(http_server_test, without_a_handler_commands_are_not_found) {
    with_baseline_ = false;
    start();
    auto r = fetch("POST /api/v1/baselines/reset HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    r = fetch(post("/api/v1/baselines/reset", "{}"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
}

TEST_F(http_server_test, an_unanswered_command_gets_503_and_a_late_answer_goes_nowhere) {
    http_limits limits;
    limits.command_timeout = 300ms;
    start(limits);
    client c(server_->local_port());
    ASSERT_TRUE(c.send(post("/api/v1/baselines/reset", R"({"later":1})")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(r->body.find("may still be applied"), std::string::npos) << r->body;
    // The late answer of the first command must not answer the second.
    ASSERT_TRUE(c.send(post("/api/v1/baselines/reset", R"({"later":2})")));
    const auto deadline = clock_type::now() + 5s;
    while (clock_type::now() < deadline) {
        {
            std::lock_guard lock(mutex_);
            if (later_.size() == 2) break;
        }
        std::this_thread::sleep_for(5ms);
    }
    {
        std::lock_guard lock(mutex_);
        ASSERT_EQ(later_.size(), 2u);
    }
    std::thread([this] {
        std::lock_guard lock(mutex_);
        later_[0]({200, R"({"series":1})"});
        later_[1]({200, R"({"series":2})"});
    }).join();
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"series":2})");
}

TEST_F(http_server_test, truncated_request_is_closed) {
    start();
    client c(server_->local_port());
    ASSERT_TRUE(c.send("GET /metrics HTTP/1.1\r\nHo"));
    c.shutdown_write();
    EXPECT_TRUE(c.closed_within(3000ms));
    EXPECT_FALSE(c.read_response(100ms));  // nothing was answered
    // The server goes on serving.
    const auto r = fetch(get("/health"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(http_server_test, huge_header_gets_431) {
    start();
    client c(server_->local_port());
    ASSERT_TRUE(c.send(get("/metrics", "X-Big: " + std::string(16 * 1024, 'a') + "\r\n")));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_TRUE(c.closed_within(3000ms));

    // A long header under the limit is fine.
    const auto ok = fetch(get("/metrics", "X-Big: " + std::string(4 * 1024, 'a') + "\r\n"));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
}

TEST_F(http_server_test, slow_client_is_closed_while_others_are_served) {
    http_limits limits;
    limits.request_timeout = 600ms;
    start(limits);
    const std::string request = get("/metrics");

    std::atomic<bool> slow_closed{false};
    std::atomic<std::size_t> slow_sent{0};
    const auto started = clock_type::now();
    std::thread slow([&] {
        client c(server_->local_port());
        for (char ch : request) {
            if (!c.send(std::string_view(&ch, 1))) break;
            ++slow_sent;
            if (c.closed_within(100ms)) break;  // one byte per 100 ms
        }
        slow_closed = c.closed_within(2000ms);
    });
    // Meanwhile other clients are answered promptly, several times over.
    int served = 0;
    while (clock_type::now() - started < 500ms) {
        const auto t0 = clock_type::now();
        const auto r = fetch(get("/health"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_LT(clock_type::now() - t0, 300ms);
        ++served;
        std::this_thread::sleep_for(50ms);
    }
    slow.join();
    EXPECT_GE(served, 3);
    EXPECT_TRUE(slow_closed);
    // Closed by the deadline, long before the whole request could have been sent.
    EXPECT_LT(slow_sent.load(), request.size());
    EXPECT_GE(slow_sent.load(), 4u);
    EXPECT_LT(clock_type::now() - started, 3s);
}

TEST_F(http_server_test, idle_keep_alive_connection_is_closed_after_the_timeout) {
    http_limits limits;
    limits.request_timeout = 300ms;
    start(limits);
    client c(server_->local_port());
    ASSERT_TRUE(c.send(get("/health")));
    ASSERT_TRUE(c.read_response());
    const auto t0 = clock_type::now();
    EXPECT_TRUE(c.closed_within(3000ms));
    EXPECT_GE(clock_type::now() - t0, 250ms);
}

TEST_F(http_server_test, three_hundred_concurrent_connections_are_all_answered) {
    start();
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 300; ++i) {
        clients.push_back(std::make_unique<client>(server_->local_port()));
        ASSERT_TRUE(clients.back()->connected()) << i;
    }
    for (auto& c : clients) ASSERT_TRUE(c->send(get("/metrics")));
    int ok = 0;
    for (auto& c : clients) {
        const auto r = c->read_response();
        ok += r && r->status == 200 && r->body == "# TYPE weir_up gauge\nweir_up 1\n";
    }
    EXPECT_EQ(ok, 300);
    EXPECT_EQ(server_->stats().open, 300u);
    EXPECT_EQ(server_->stats().rejected, 0u);
}

TEST_F(http_server_test, connections_beyond_the_cap_take_the_place_of_the_longest_idle) {
    http_limits limits;
    limits.max_connections = 2;
    start(limits);
    client a(server_->local_port());
    ASSERT_TRUE(a.send(get("/health")));
    ASSERT_TRUE(a.read_response());
    client b(server_->local_port());
    ASSERT_TRUE(b.send(get("/health")));
    ASSERT_TRUE(b.read_response());
    client c(server_->local_port());
    ASSERT_TRUE(c.send(get("/health")));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(a.closed_within(3000ms));
    ASSERT_TRUE(b.send(get("/health")));
    EXPECT_TRUE(b.read_response());
    EXPECT_EQ(server_->stats().evicted, 1u);
    EXPECT_EQ(server_->stats().rejected, 0u);
    EXPECT_EQ(server_->stats().accepted, 3u);
}

TEST_F(http_server_test, connections_beyond_the_cap_are_closed_when_none_is_idle) {
    http_limits limits;
    limits.max_connections = 2;
    start(limits);
    // Both connections are part-way through a request: neither may be closed for a newcomer.
    client a(server_->local_port());
    client b(server_->local_port());
    ASSERT_TRUE(a.send("GET /health HTTP/1.1\r\n"));
    ASSERT_TRUE(b.send("GET /health HTTP/1.1\r\n"));
    const auto deadline = clock_type::now() + 10s;
    while (server_->stats().open != 2 || server_->stats().idle != 0) {
        ASSERT_LT(clock_type::now(), deadline);
        std::this_thread::sleep_for(5ms);
    }
    client c(server_->local_port());
    EXPECT_TRUE(c.closed_within(3000ms));
    EXPECT_EQ(server_->stats().rejected, 1u);
    EXPECT_EQ(server_->stats().accepted, 2u);
    ASSERT_TRUE(a.send("Host: localhost\r\n\r\n"));
    const auto r = a.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(http_server_test, idle_connections_are_closed_sooner_once_the_cap_was_reached) {
    http_limits limits;
    limits.max_connections = 2;
    limits.idle_timeout_under_pressure = 200ms;
    start(limits);
    client a(server_->local_port());
    client b(server_->local_port());
    const auto deadline = clock_type::now() + 10s;
    while (server_->stats().idle != 2) {
        ASSERT_LT(clock_type::now(), deadline);
        std::this_thread::sleep_for(5ms);
    }
    client c(server_->local_port());  // takes a's place; from now on idle time is short
    EXPECT_TRUE(a.closed_within(3000ms));
    EXPECT_TRUE(c.closed_within(5000ms));  // well before request_timeout
    EXPECT_EQ(server_->stats().evicted, 1u);
}

TEST_F(http_server_test, keep_alive_serves_several_requests_on_one_connection) {
    start();
    ready_ = true;
    client c(server_->local_port());
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(c.send(get(i % 2 ? "/ready" : "/api/v1/status")));
        const auto r = c.read_response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->status, 200);
        EXPECT_FALSE(r->has_header("connection: close"));
    }
    // Pipelined: three requests in one write, three answers in order.
    ASSERT_TRUE(c.send(get("/health") + get("/nope") + get("/ready")));
    for (int expected : {200, 404, 200}) {
        const auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, expected);
    }
    EXPECT_EQ(server_->stats().accepted, 1u);
    // HTTP/1.0 without keep-alive is closed after its answer.
    client old(server_->local_port());
    ASSERT_TRUE(old.send("GET /health HTTP/1.0\r\n\r\n"));
    EXPECT_TRUE(old.closed_within(3000ms));
}

TEST_F(http_server_test, stop_closes_the_acceptor_and_every_connection) {
    start();
    client c(server_->local_port());
    ASSERT_TRUE(c.send(get("/health")));
    ASSERT_TRUE(c.read_response());
    client idle(server_->local_port());  // connected, sent nothing
    const auto port = server_->local_port();
    server_->stop();
    EXPECT_TRUE(c.closed_within(3000ms));
    EXPECT_TRUE(idle.closed_within(3000ms));
    client late(port);
    EXPECT_FALSE(late.connected() && late.send(get("/health")) && late.read_response(300ms));
}

TEST(http_server, bad_listen_addresses_throw) {
    boost::asio::io_context io;
    EXPECT_THROW(http_server(io, "127.0.0.1", {}), std::runtime_error);
    EXPECT_THROW(http_server(io, "127.0.0.1:http", {}), std::runtime_error);
    EXPECT_THROW(http_server(io, "127.0.0.1:70000", {}), std::runtime_error);
    http_server first(io, "127.0.0.1:0", {});
    EXPECT_THROW(http_server(io, "127.0.0.1:" + std::to_string(first.local_port()), {}),
                 std::runtime_error);
    http_server v6_or_any(io, ":0", {});
    EXPECT_NE(v6_or_any.local_port(), 0);
}

}  // namespace
}  // namespace weir::daemon
