// The HTTP/1.1 client and delivery queue of the webhook and Alertmanager outputs.
#include "connectors/http/http_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace weir::connectors {

namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

std::string base64(std::string_view in) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned n = static_cast<unsigned char>(in[i]) << 16 |
                           static_cast<unsigned char>(in[i + 1]) << 8 |
                           static_cast<unsigned char>(in[i + 2]);
        for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
    }
    if (i + 1 == in.size()) {
        const unsigned n = static_cast<unsigned char>(in[i]) << 16;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        const unsigned n =
            static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += '=';
    }
    return out;
}

// A kept-alive connection the server closed while idle fails like this on first use.
bool is_stale_connection(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == boost::asio::error::eof ||
           ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe ||
           ec == boost::asio::ssl::error::stream_truncated;
}

bool is_ip_address(const std::string& host) {
    error_code ec;
    boost::asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

std::optional<http_url> http_url::parse(std::string_view text, std::string& error) {
    http_url url;
    if (text.starts_with("https://")) {
        url.tls = true;
        text.remove_prefix(8);
    } else if (text.starts_with("http://")) {
        text.remove_prefix(7);
    } else {
        error = "expected an http:// or https:// URL";
        return std::nullopt;
    }
    const std::size_t authority_end = std::min(text.find_first_of("/?#"), text.size());
    std::string_view authority = text.substr(0, authority_end);
    std::string_view rest = text.substr(authority_end);
    if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) {
        rest = rest.substr(0, hash);
    }
    if (authority.find('@') != std::string_view::npos) {
        error = "credentials in the URL are not supported: use basic_auth";
        return std::nullopt;
    }
    std::string_view port;
    if (authority.starts_with('[')) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            error = "unterminated [IPv6] host";
            return std::nullopt;
        }
        url.host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after[0] != ':') {
            error = "expected :port after the [IPv6] host";
            return std::nullopt;
        }
        if (!after.empty()) port = after.substr(1);
    } else {
        const std::size_t colon = authority.find(':');
        url.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    const unsigned default_port = url.tls ? 443 : 80;
    unsigned port_number = default_port;
    if (!port.empty()) {
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
        if (ec != std::errc() || end != port.data() + port.size() || port_number == 0 ||
            port_number > 65535) {
            error = "invalid port \"" + std::string(port) + "\"";
            return std::nullopt;
        }
    }
    if (url.host.empty()) {
        error = "the URL has no host";
        return std::nullopt;
    }
    url.port = std::to_string(port_number);
    url.target = rest.empty()            ? "/"
                 : rest.starts_with('?') ? "/" + std::string(rest)
                                         : std::string(rest);
    url.host_header = authority.starts_with('[') ? "[" + url.host + "]" : url.host;
    if (port_number != default_port) url.host_header += ":" + url.port;
    return url;
}

std::string http_url::to_string() const {
    return (tls ? "https://" : "http://") + host_header + target;
}

std::shared_ptr<boost::asio::ssl::context> make_tls_context(const tls_options& options) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    auto use = [](const std::string& what, const std::string& file, auto&& load) {
        if (::access(file.c_str(), R_OK) != 0) {
            throw std::runtime_error("tls." + what + " " + file + ": " + std::strerror(errno));
        }
        error_code ec;
        load(ec);
        if (ec) {
            // OpenSSL's own reason when it has one ("no certificate or crl found", "key values
            // mismatch"); Asio only says "asio.ssl error".
            const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
            throw std::runtime_error("tls." + what + " " + file + ": cannot use it (" +
                                     (reason != nullptr ? reason : ec.message()) + ")");
        }
    };
    if (!options.ca_file.empty()) {
        use("ca_file", options.ca_file,
            [&](error_code& ec) { ctx->load_verify_file(options.ca_file, ec); });
    } else {
        error_code ec;
        ctx->set_default_verify_paths(ec);
        if (ec) {
            throw std::runtime_error("cannot read the system's certificate authorities: " +
                                     ec.message());
        }
    }
    if (!options.cert_file.empty()) {
        use("cert_file", options.cert_file,
            [&](error_code& ec) { ctx->use_certificate_chain_file(options.cert_file, ec); });
        use("key_file", options.key_file, [&](error_code& ec) {
            ctx->use_private_key_file(options.key_file, ssl::context::pem, ec);
        });
    }
    ctx->set_verify_mode(options.verify ? ssl::verify_peer : ssl::verify_none);
    return ctx;
}

// ---------------------------------------------------------------------------------------------

http_client::http_client(boost::asio::any_io_executor executor, http_url url,
                         std::chrono::milliseconds timeout,
                         std::shared_ptr<boost::asio::ssl::context> tls)
    : executor_(executor),
      url_(std::move(url)),
      timeout_(timeout),
      tls_(std::move(tls)),
      resolver_(executor),
      socket_(executor),
      deadline_(executor) {
    if (url_.tls && !tls_) {
        throw std::invalid_argument("http_client: https:// without a TLS context");
    }
}

void http_client::send(std::shared_ptr<const http_request> request,
                       std::function<void(http_reply)> done) {
    request_ = std::move(request);
    done_ = std::move(done);
    timed_out_ = false;
    const std::uint64_t generation = ++generation_;
    deadline_.expires_after(timeout_);
    deadline_.async_wait([self = shared_from_this(), generation](const error_code& ec) {
        if (!ec) self->on_deadline(generation);
    });
    reused_ = socket().is_open();
    if (reused_) {
        write();
    } else {
        resolve();
    }
}

void http_client::on_deadline(std::uint64_t generation) {
    if (generation != generation_ || !done_) return;
    // Cancels whatever is pending; its handler sees operation_aborted and reports timed_out.
    timed_out_ = true;
    resolver_.cancel();
    error_code ignored;
    socket().close(ignored);
}

void http_client::resolve() {
    resolver_.async_resolve(
        url_.host, url_.port,
        [self = shared_from_this()](const error_code& ec,
                                    boost::asio::ip::tcp::resolver::results_type results) {
            if (ec || self->timed_out_) return self->finish(ec);
            if (self->url_.tls) self->tls_stream_.emplace(self->executor_, *self->tls_);
            boost::asio::async_connect(
                self->socket(), results,
                [self](const error_code& ec, const boost::asio::ip::tcp::endpoint&) {
                    if (ec || self->timed_out_) return self->finish(ec);
                    error_code ignored;
                    self->socket().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
                    if (self->tls_stream_) return self->handshake();
                    self->write();
                });
        });
}

void http_client::handshake() {
    auto& stream = *tls_stream_;
    // SNI names the host (never an address), and the certificate must match the URL's host.
    if (!is_ip_address(url_.host)) {
        SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str());
    }
    if (SSL_CTX_get_verify_mode(tls_->native_handle()) != SSL_VERIFY_NONE) {
        stream.set_verify_callback(boost::asio::ssl::host_name_verification(url_.host));
    }
    stream.async_handshake(boost::asio::ssl::stream_base::client,
                           [self = shared_from_this()](const error_code& ec) {
                               if (ec || self->timed_out_) return self->finish(ec);
                               self->write();
                           });
}

void http_client::write() {
    with_stream([&](auto& stream) {
        http::async_write(stream, *request_,
                          [self = shared_from_this()](const error_code& ec, std::size_t) {
                              if (ec && self->retry_on_fresh_connection(ec)) return;
                              if (ec || self->timed_out_) return self->finish(ec);
                              self->read();
                          });
    });
}

void http_client::read() {
    parser_.emplace();
    parser_->body_limit(1u << 20);
    with_stream([&](auto& stream) {
        http::async_read(
            stream, buffer_, *parser_,
            [self = shared_from_this()](const error_code& ec, std::size_t) {
                if (ec && !self->parser_->got_some() && self->retry_on_fresh_connection(ec)) {
                    return;
                }
                self->finish(ec);
            });
    });
}

bool http_client::retry_on_fresh_connection(const error_code& ec) {
    if (!reused_ || timed_out_ || !is_stale_connection(ec)) return false;
    reused_ = false;
    error_code ignored;
    socket().close(ignored);
    buffer_.clear();
    resolve();
    return true;
}

void http_client::finish(error_code ec) {
    ++generation_;
    deadline_.cancel();
    http_reply reply;
    bool keep_alive = false;
    if (timed_out_) {
        reply.error = boost::asio::error::timed_out;
    } else if (ec) {
        reply.error = ec;
    } else {
        const auto& response = parser_->get();
        reply.status = response.result_int();
        reply.body = response.body().substr(0, 512);
        keep_alive = response.keep_alive();
        const auto retry_after = response.find(http::field::retry_after);
        if (retry_after != response.end()) {
            const auto text = retry_after->value();
            long seconds = 0;
            const auto [end, perr] =
                std::from_chars(text.data(), text.data() + text.size(), seconds);
            if (perr == std::errc() && seconds > 0)
                reply.retry_after = std::chrono::seconds(seconds);
        }
    }
    if (!keep_alive) close();
    buffer_.clear();
    request_.reset();
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(reply));
}

void http_client::close() {
    // Under TLS the connection closes without a close_notify: every reply is delimited by its
    // length, so neither side can mistake the end for a truncation.
    error_code ignored;
    socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
}

// ---------------------------------------------------------------------------------------------

namespace {

tls_options read_tls(const params::reader& p) {
    tls_options tls;
    if (p.has("tls")) {
        const params::reader t = *p.object("tls");
        if (t.has("ca_file")) tls.ca_file = t.string("ca_file").value;
        if (t.has("cert_file")) tls.cert_file = t.string("cert_file").value;
        if (t.has("key_file")) tls.key_file = t.string("key_file").value;
        tls.verify = t.boolean("verify").value;
    }
    return tls;
}

}  // namespace

void preflight_http_output(const params::reader& p, const std::string& path, diagnostics& out) {
    if (!p.string("url").value.starts_with("https://")) return;
    try {
        make_tls_context(read_tls(p));
    } catch (const std::runtime_error& e) {
        // At the file's own key when the message names one ("tls.ca_file /x: ...").
        const std::string message = e.what();
        source_pos pos = p.has("tls") ? p.raw("tls")->pos : p.string("url").pos;
        std::string where = path + (p.has("tls") ? ".tls" : ".url");
        for (const char* key : {"ca_file", "cert_file", "key_file"}) {
            if (p.has("tls") && message.starts_with(std::string("tls.") + key + " ")) {
                pos = p.object("tls")->string(key).pos;
                where = path + ".tls." + key;
            }
        }
        out.error(pos, where, message);
    }
}

void read_http_common(const params::reader& p, http_delivery_options& options) {
    if (options.url.tls) options.tls = make_tls_context(read_tls(p));
    for (const auto& [name, value] : p.string_map("headers")) {
        options.headers.emplace_back(name, value.value);
    }
    options.timeout = p.duration("timeout").value;
    const auto retries = p.integer("retries");
    options.retries = retries.given ? static_cast<int>(retries.value) : -1;
    if (p.has("bearer_token")) {
        options.headers.emplace_back("Authorization", "Bearer " + p.string("bearer_token").value);
    }
    if (p.has("basic_auth")) {
        const params::reader basic = *p.object("basic_auth");
        options.headers.emplace_back(
            "Authorization",
            "Basic " + base64(basic.string("user").value + ":" + basic.string("password").value));
    }
}

http_delivery::http_delivery(boost::asio::any_io_executor executor, http_delivery_options options)
    : executor_(executor),
      options_(std::move(options)),
      client_(
          std::make_shared<http_client>(executor, options_.url, options_.timeout, options_.tls)),
      backoff_(executor) {}

void http_delivery::enqueue(std::string body, std::uint64_t records) {
    auto request = std::make_shared<http_request>(options_.method, options_.url.target, 11);
    request->set(http::field::host, options_.url.host_header);
    request->set(http::field::user_agent, "weir");
    request->set(http::field::content_type, options_.content_type);
    for (const auto& [name, value] : options_.headers) request->set(name, value);
    request->keep_alive(true);
    request->body() = std::move(body);
    request->prepare_payload();
    queued_bytes_ += request->body().size();
    pending_records_ += records;
    queue_.push_back({next_seq_++, records, std::move(request)});
    if (!in_flight_) send_front();
}

void http_delivery::drop_oldest(std::uint64_t records) {
    std::uint64_t dropped = 0;
    auto victim = queue_.begin() + (in_flight_ && !queue_.empty() ? 1 : 0);
    while (dropped < records && victim != queue_.end()) {
        dropped += victim->records;
        queued_bytes_ -= victim->request->body().size();
        victim = queue_.erase(victim);
    }
    pending_records_ -= dropped;
    dropped_records_ += dropped;
    // Waiters for dropped batches are answered by the next completion; none waits for nothing.
    if (queue_.empty() && !in_flight_) complete(UINT64_MAX);
}

void http_delivery::when_idle(std::function<void(bool ok, const std::string& error)> done) {
    if (queue_.empty() && !in_flight_) {
        answer(done);
        return;
    }
    waiters_.push_back({next_seq_ - 1, std::move(done)});
}

void http_delivery::answer(const std::function<void(bool, const std::string&)>& done) {
    // After a give-up at shutdown no flush succeeds again: a later checkpoint would otherwise
    // move past results that were never delivered.
    const bool ok = failures_ == reported_failures_ && !gave_up_stopping_;
    reported_failures_ = failures_;
    done(ok, ok ? std::string() : last_error_);
}

void http_delivery::close() {
    close_when_idle_ = true;
    if (queue_.empty() && !in_flight_) client_->close();
}

void http_delivery::stop_retrying() {
    retrying_ = false;
    if (!backing_off_) return;  // a request in flight is judged by on_reply
    // The front batch failed and waits to be retried: give it, and what is behind it, up now.
    backing_off_ = false;
    backoff_.cancel();
    give_up_all(last_error_ + " (not retried: weir is stopping)");
    complete(UINT64_MAX);
    send_front();
}

std::string http_delivery::blocked() const {
    std::lock_guard lock(blocked_mutex_);
    return blocked_;
}

void http_delivery::set_blocked(const std::string& reason) {
    std::lock_guard lock(blocked_mutex_);
    blocked_ = reason;
}

void http_delivery::give_up_all(const std::string& reason) {
    std::uint64_t batches = 0;
    for (const auto& b : queue_) {
        pending_records_ -= b.records;
        ++batches;
    }
    queue_.clear();
    queued_bytes_ = 0;
    attempt_ = 0;
    if (batches > 0) give_up(reason, batches);
    gave_up_stopping_ = gave_up_stopping_ || (!retrying_ && batches > 0);
    // Still "blocked" after a stop's give-up: the daemon reports what the stop left undelivered.
    if (gave_up_stopping_) set_blocked(reason);
}

void http_delivery::send_front() {
    if (queue_.empty()) {
        in_flight_ = false;
        complete(UINT64_MAX);
        if (close_when_idle_) client_->close();
        return;
    }
    in_flight_ = true;
    // Weak: the client keeps this callback while a request is in flight, and the delivery owns
    // the client; a strong reference would keep both alive forever if the loop stopped first.
    client_->send(queue_.front().request, [weak = weak_from_this()](http_reply reply) {
        if (auto self = weak.lock()) self->on_reply(std::move(reply));
    });
}

void http_delivery::on_reply(http_reply reply) {
    const bool ok = !reply.error && reply.status >= 200 && reply.status < 300;
    if (ok) {
        delivered_records_ += queue_.front().records;
    } else {
        const bool retryable = reply.error || reply.status == 429 || reply.status >= 500;
        std::string reason =
            std::string(http::to_string(options_.method)) + " " + options_.url.to_string() + ": ";
        if (reply.error) {
            reason += reply.error.message();
        } else {
            reason += "HTTP " + std::to_string(reply.status);
            if (!reply.body.empty()) reason += " " + reply.body.substr(0, 200);
        }
        if (retryable && !retrying_) {
            // The endpoint is down and weir is stopping: what is queued would fail alike.
            give_up_all(reason + " (not retried: weir is stopping)");
            complete(UINT64_MAX);
            send_front();
            return;
        }
        if (retryable && (options_.retries < 0 || attempt_ < options_.retries)) {
            ++attempt_;
            set_blocked(reason);
            auto delay = options_.retry_backoff;
            for (int i = 1; i < attempt_ && delay < options_.max_backoff; ++i) delay *= 2;
            delay = std::max<std::chrono::milliseconds>(delay, reply.retry_after);
            delay = std::min(delay, options_.max_backoff);
            last_error_ = reason;
            backing_off_ = true;
            backoff_.expires_after(delay);
            backoff_.async_wait([self = shared_from_this()](const error_code& ec) {
                if (ec || !self->backing_off_) return;
                self->backing_off_ = false;
                self->send_front();
            });
            return;
        }
        if (retryable) reason += " (after " + std::to_string(attempt_) + " retries)";
        give_up(reason, 1);
    }
    if (!gave_up_stopping_) set_blocked("");
    const std::uint64_t seq = queue_.front().seq;
    queued_bytes_ -= queue_.front().request->body().size();
    pending_records_ -= queue_.front().records;
    queue_.pop_front();
    attempt_ = 0;
    complete(seq);
    send_front();
}

void http_delivery::give_up(const std::string& reason, std::uint64_t count) {
    failures_ += count;
    failed_requests_ += count;
    last_error_ = reason;
}

void http_delivery::complete(std::uint64_t seq) {
    std::vector<waiter> ready;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->seq <= seq) {
            ready.push_back(std::move(*it));
            it = waiters_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& w : ready) answer(w.done);
}

}  // namespace weir::connectors
