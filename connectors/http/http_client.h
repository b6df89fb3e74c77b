// A small HTTP/1.1 client shared by the webhook and Alertmanager outputs, and the delivery
// queue on top of it: one request in flight over a kept-alive connection, a deadline per
// request (connection included), retries with capped exponential back-off.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/params/spec.h"

namespace weir::connectors {

struct http_url {
    bool tls = false;    // https://
    std::string host;    // without brackets for IPv6
    std::string port;    // "80" (http) or "443" (https) unless given
    std::string target;  // path and query, "/" at least
    std::string host_header;

    // http[s]://host[:port][/path][?query]
    static std::optional<http_url> parse(std::string_view text, std::string& error);
    // "https://host:port/path", for messages.
    std::string to_string() const;
};

// TLS settings of an https:// output (`tls:`); the defaults verify the server against the
// system's certificate authorities.
struct tls_options {
    std::string ca_file;    // PEM authorities to trust instead of the system's
    std::string cert_file;  // PEM client certificate (mutual TLS)
    std::string key_file;   // its private key
    bool verify = true;     // the server's certificate chain and host name
};

// A client TLS context for `options`. Throws std::runtime_error naming the file that could not
// be used.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const tls_options& options);

struct http_reply {
    boost::system::error_code error;  // transport: resolve, connect, I/O, timed_out
    unsigned status = 0;              // 0 when `error`
    std::string body;                 // its first bytes, for messages
    std::chrono::seconds retry_after{0};
};

using http_request = boost::beast::http::request<boost::beast::http::string_body>;

// One request at a time; handlers run on the executor (a strand). Idle connections the
// server closed are reconnected once, transparently.
class http_client : public std::enable_shared_from_this<http_client> {
  public:
    // `tls` is required for an https:// url and ignored otherwise.
    http_client(boost::asio::any_io_executor executor, http_url url,
                std::chrono::milliseconds timeout,
                std::shared_ptr<boost::asio::ssl::context> tls = nullptr);

    const http_url& url() const { return url_; }
    void send(std::shared_ptr<const http_request> request, std::function<void(http_reply)> done);
    void close();

  private:
    void on_deadline(std::uint64_t generation);
    void resolve();
    void handshake();
    void write();
    void read();
    bool retry_on_fresh_connection(const boost::system::error_code& ec);
    void finish(boost::system::error_code ec);
    // The TCP socket of the connection, under TLS or not.
    boost::asio::ip::tcp::socket& socket() {
        return tls_stream_ ? tls_stream_->next_layer() : socket_;
    }
    // Calls f with the stream requests go over: the socket, or the TLS stream on it.
    template <class F>
    void with_stream(F&& f) {
        if (tls_stream_) {
            f(*tls_stream_);
        } else {
            f(socket_);
        }
    }

    boost::asio::any_io_executor executor_;
    http_url url_;
    std::chrono::milliseconds timeout_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    boost::asio::ip::tcp::resolver resolver_;
    boost::asio::ip::tcp::socket socket_;  // plain http
    // https: a fresh TLS stream (with its own socket) per connection.
    std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_stream_;
    boost::asio::steady_timer deadline_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser_;
    std::shared_ptr<const http_request> request_;
    std::function<void(http_reply)> done_;
    std::uint64_t generation_ = 0;  // of the current request; stale deadlines are ignored
    bool timed_out_ = false;
    bool reused_ = false;  // the request went out on a kept-alive connection
};

struct http_delivery_options {
    http_url url;
    std::shared_ptr<boost::asio::ssl::context> tls;  // for an https:// url
    boost::beast::http::verb method = boost::beast::http::verb::post;
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> headers;  // extra, auth included
    std::chrono::milliseconds timeout{10'000};
    // Retries of a failed request before it is given up; -1 (the default): until it is
    // delivered or weir stops. Giving up loses results, so it is the user's explicit choice.
    int retries = -1;
    std::chrono::milliseconds retry_backoff{1000};  // doubles per retry, capped at max_backoff
    std::chrono::milliseconds max_backoff{60'000};
};

// Reads the options every HTTP-based output declares (url aside, which must be set first):
// headers, timeout, retries, bearer_token/basic_auth, and for https:// the TLS context of
// `tls`. Throws std::runtime_error when a TLS file cannot be used.
void read_http_common(const params::reader& p, http_delivery_options& options);

// `weir validate`'s checks of what `weir run` would refuse, for every HTTP-based output:
// for an https:// url, the TLS files must be readable and parse (certificates, key).
void preflight_http_output(const params::reader& p, const std::string& path, diagnostics& out);

// Bodies delivered in order, one request in flight. Runs on the executor: call enqueue()
// and when_idle() there. Retries connection errors, timeouts, 429 and 5xx (without end
// unless `retries` is set); other statuses of 300 and above fail at once. A body that fails
// for good is counted and dropped. Nothing queued is dropped otherwise (drop_oldest() aside):
// pending_records() is the back-pressure that bounds the queue.
class http_delivery : public std::enable_shared_from_this<http_delivery> {
  public:
    http_delivery(boost::asio::any_io_executor executor, http_delivery_options options);

    void enqueue(std::string body, std::uint64_t records);
    // `done` runs once everything enqueued before it was delivered or given up; ok is false
    // when a batch was given up since the last `done` called (error: the last reason).
    void when_idle(std::function<void(bool ok, const std::string& error)> done);
    // Closes the connection once idle.
    void close();
    // From now on a failed request is not retried, and a retryable failure (the endpoint is
    // down) gives up everything queued behind it as well: the daemon is stopping.
    void stop_retrying();

    // Drops queued batches (never the one in flight), oldest first, until at least `records`
    // records went; they count as dropped, not as failed requests.
    void drop_oldest(std::uint64_t records);

    std::uint64_t delivered_records() const { return delivered_records_.load(); }
    // Records enqueued and neither delivered nor given up nor dropped. Any thread.
    std::uint64_t pending_records() const { return pending_records_.load(); }
    std::uint64_t dropped_records() const { return dropped_records_.load(); }
    std::uint64_t failed_requests() const { return failed_requests_.load(); }
    const std::string& last_error() const { return last_error_; }
    // The failure the front request waits to retry ("" while none); any thread.
    std::string blocked() const;

  private:
    struct batch {
        std::uint64_t seq = 0;
        std::uint64_t records = 0;
        std::shared_ptr<const http_request> request;
    };
    struct waiter {
        std::uint64_t seq = 0;  // done when every batch up to it is
        std::function<void(bool, const std::string&)> done;
    };
    // Answers a when_idle(): ok unless a batch was given up since the last answer (or at
    // shutdown); reported_failures_ catches up.
    void answer(const std::function<void(bool, const std::string&)>& done);

    void send_front();
    void on_reply(http_reply reply);
    void give_up(const std::string& reason, std::uint64_t count);
    void give_up_all(const std::string& reason);  // every queued batch, the front included
    void complete(std::uint64_t seq);
    void set_blocked(const std::string& reason);

    boost::asio::any_io_executor executor_;
    http_delivery_options options_;
    std::shared_ptr<http_client> client_;
    boost::asio::steady_timer backoff_;
    std::deque<batch> queue_;
    std::size_t queued_bytes_ = 0;
    bool in_flight_ = false;
    int attempt_ = 0;  // retries of the front batch so far
    std::uint64_t next_seq_ = 1;
    std::uint64_t failures_ = 0;
    // failures_ as of the last when_idle() answered: one fails when a batch was given up
    // since, whether before it came (a batch sent when it filled or a window closed) or while
    // it waited; so the next checkpoint is skipped for it, and the one after moves on.
    std::uint64_t reported_failures_ = 0;
    std::string last_error_;
    std::vector<waiter> waiters_;
    bool close_when_idle_ = false;
    bool retrying_ = true;
    bool backing_off_ = false;       // the front batch waits for its next attempt
    bool gave_up_stopping_ = false;  // gave results up after stop_retrying(): flushes fail
    std::atomic<std::uint64_t> delivered_records_{0};
    std::atomic<std::uint64_t> failed_requests_{0};
    std::atomic<std::uint64_t> pending_records_{0};
    std::atomic<std::uint64_t> dropped_records_{0};
    mutable std::mutex blocked_mutex_;
    std::string blocked_;
};

}  // namespace weir::connectors
