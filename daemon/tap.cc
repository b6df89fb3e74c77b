// Live taps; see tap.h.
#include "daemon/tap.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace weir::daemon {

std::int64_t tap_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

rate_limiter::rate_limiter(double rate, double burst, std::int64_t now_ns)
    : rate_(std::max(rate, 0.0)), burst_(std::max(burst, 1.0)), tokens_(burst_), last_ns_(now_ns) {}

bool rate_limiter::take(std::int64_t now_ns) {
    if (now_ns > last_ns_) {
        tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ns - last_ns_) / 1e9);
        last_ns_ = now_ns;
    }
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
}

tap_session::tap_session(tap_kind kind, tap_limits limits, std::int64_t now_ns)
    // A burst of one second's worth: a window closing hands over its results at once.
    : kind_(kind), limits_(limits), limiter_(limits.rate, limits.rate, now_ns) {}

bool tap_session::admit(std::int64_t now_ns) {
    std::lock_guard lock(mutex_);
    if (limiter_.take(now_ns)) return true;
    ++dropped_;
    ++dropped_total_;
    return false;
}

void tap_session::push(std::string_view json) {
    constexpr std::string_view records_head = "event: record\ndata: ";
    constexpr std::string_view results_head = "event: result\ndata: ";
    const std::string_view head = kind_ == tap_kind::records ? records_head : results_head;
    std::lock_guard lock(mutex_);
    if (buffer_.size() + head.size() + json.size() + 2 > limits_.buffer_bytes) {
        ++dropped_;
        ++dropped_total_;
        return;
    }
    buffer_ += head;
    // One event per line of data: a line break inside would split it (JSON lines have none,
    // but a record read as text might end in a carriage return).
    const std::size_t at = buffer_.size();
    buffer_ += json;
    std::replace_if(
        buffer_.begin() + static_cast<std::ptrdiff_t>(at), buffer_.end(),
        [](char c) { return c == '\n' || c == '\r'; }, ' ');
    buffer_ += "\n\n";
}

void tap_session::count_dropped(std::uint64_t count) {
    std::lock_guard lock(mutex_);
    dropped_ += count;
    dropped_total_ += count;
}

std::string tap_session::take() {
    std::lock_guard lock(mutex_);
    std::string out;
    if (dropped_ > 0) {
        out = fmt::format("event: dropped\ndata: {{\"dropped\":{},\"dropped_total\":{}}}\n\n",
                          dropped_, dropped_total_);
        dropped_ = 0;
    }
    if (out.empty()) {
        out.swap(buffer_);
    } else {
        out += buffer_;
        buffer_.clear();
    }
    return out;
}

std::uint64_t tap_session::dropped_total() const {
    std::lock_guard lock(mutex_);
    return dropped_total_;
}

bool tap_point::offer(tap_kind kind, std::string_view json) {
    const std::int64_t now = tap_now_ns();
    bool any = false;
    std::lock_guard lock(mutex_);
    for (const auto& s : sessions_) {
        if (s->kind() != kind || !s->admit(now)) continue;
        s->push(json);
        any = true;
    }
    return any;
}

void tap_point::skip(tap_kind kind, std::uint64_t count) {
    if (count == 0) return;
    std::lock_guard lock(mutex_);
    for (const auto& s : sessions_) {
        if (s->kind() == kind) s->count_dropped(count);
    }
}

void tap_point::attach(const std::shared_ptr<tap_session>& s) {
    std::lock_guard lock(mutex_);
    sessions_.push_back(s);
    count_[static_cast<int>(s->kind())].fetch_add(1, std::memory_order_relaxed);
}

void tap_point::detach(const tap_session* s) {
    std::lock_guard lock(mutex_);
    const auto it = std::find_if(sessions_.begin(), sessions_.end(),
                                 [s](const auto& x) { return x.get() == s; });
    if (it == sessions_.end()) return;
    count_[static_cast<int>(s->kind())].fetch_sub(1, std::memory_order_relaxed);
    sessions_.erase(it);
}

std::shared_ptr<tap_point> tap_hub::point(std::string_view pipeline, std::string_view node) {
    std::lock_guard lock(mutex_);
    auto key = std::make_pair(std::string(pipeline), std::string(node));
    auto it = points_.find(key);
    if (it == points_.end()) it = points_.emplace(key, std::make_shared<tap_point>()).first;
    return it->second;
}

std::unique_ptr<tap_hub::handle> tap_hub::open(std::string_view pipeline, std::string_view node,
                                               tap_kind kind, tap_limits limits) {
    std::size_t n = open_->load();
    do {
        if (n >= max_sessions_) return nullptr;
    } while (!open_->compare_exchange_weak(n, n + 1));
    auto p = point(pipeline, node);
    auto s = std::make_shared<tap_session>(kind, limits, tap_now_ns());
    p->attach(s);
    return std::make_unique<handle>(std::move(p), std::move(s), open_);
}

tap_hub::handle::~handle() {
    point_->detach(session_.get());
    --*open_;
}

namespace {

class tap_stream : public http_event_stream {
  public:
    explicit tap_stream(std::unique_ptr<tap_hub::handle> h) : handle_(std::move(h)) {}
    std::string poll() override { return handle_->session().take(); }

  private:
    std::unique_ptr<tap_hub::handle> handle_;
};

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
                   hex_digit(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

std::optional<std::string> query_parameter(std::string_view target, std::string_view key) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq)) != key) continue;
        return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    return std::nullopt;
}

http_stream_answer open_tap(tap_hub& hub, const tap_settings& settings, std::string_view target,
                            bool loopback, const tap_check& check) {
    auto refuse = [](unsigned status, std::string message) {
        return http_stream_answer{nullptr, status, std::move(message) + "\n"};
    };
    if (!settings.enabled) {
        return refuse(403, "taps are off: set http.tap: true in weir.yaml to serve them");
    }
    if (!loopback && !settings.remote) {
        return refuse(403,
                      "taps are served to clients on this machine only (http.tap_remote: true "
                      "serves every client)");
    }
    const auto pipeline = query_parameter(target, "pipeline");
    const auto node = query_parameter(target, "node");
    if (!pipeline || !node || pipeline->empty() || node->empty()) {
        return refuse(400, "expected ?pipeline=PIPELINE&node=NODE");
    }
    const std::string kind_text = query_parameter(target, "kind").value_or("records");
    if (kind_text != "records" && kind_text != "results") {
        return refuse(400, "kind: expected records or results, got \"" + kind_text + "\"");
    }
    const tap_kind kind = kind_text == "records" ? tap_kind::records : tap_kind::results;
    tap_limits limits;
    limits.rate = settings.max_rate;
    if (const auto rate = query_parameter(target, "rate")) {
        char* end = nullptr;
        const double r = std::strtod(rate->c_str(), &end);
        if (rate->empty() || end != rate->c_str() + rate->size() || !(r > 0)) {
            return refuse(400, "rate: expected a positive number, got \"" + *rate + "\"");
        }
        limits.rate = std::min(r, settings.max_rate);
    }
    if (const std::string why = check(*pipeline, *node, kind); !why.empty()) {
        return refuse(404, why);
    }
    auto h = hub.open(*pipeline, *node, kind, limits);
    if (!h) return refuse(503, "too many taps are open; close one and try again");
    return http_stream_answer{std::make_shared<tap_stream>(std::move(h)), 200, ""};
}

}  // namespace weir::daemon
