// The daemon's log; see logging.h.
#include "daemon/logging.h"

#include <fmt/format.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <cstdlib>
#include <shared_mutex>
#include <vector>

#include "core/diag/assert.h"
#include "core/params/value.h"
#include "core/result/check_result.h"
#include "core/time/timestamp.h"

namespace weir::daemon {

namespace {

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF), so every JSON line parses whatever a
// message quotes (a record, a peer's bytes). Returns `text` itself when it is well formed.
std::string_view well_formed_utf8(std::string_view text, std::string& scratch) {
    constexpr std::string_view replacement = "\xEF\xBF\xBD";
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    bool copying = false;
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        std::size_t len = 1;
        bool valid = c < 0x80;
        if (!valid) {
            // Length and the valid range of the second byte.
            unsigned char lo = 0x80, hi = 0xBF;
            len = 0;
            if (c >= 0xC2 && c <= 0xDF) {
                len = 2;
            } else if (c >= 0xE0 && c <= 0xEF) {
                len = 3;
                if (c == 0xE0) lo = 0xA0;
                if (c == 0xED) hi = 0x9F;
            } else if (c >= 0xF0 && c <= 0xF4) {
                len = 4;
                if (c == 0xF0) lo = 0x90;
                if (c == 0xF4) hi = 0x8F;
            }
            valid = len != 0 && i + len <= n;
            for (std::size_t k = 1; valid && k < len; ++k) {
                const unsigned char b = p[i + k];
                valid = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
            }
        }
        if (!valid && !copying) {
            scratch.assign(text.substr(0, i));
            copying = true;
        }
        if (!valid) {
            scratch += replacement;
            ++i;
            continue;
        }
        if (copying) scratch.append(text.substr(i, len));
        i += len;
    }
    return copying ? std::string_view(scratch) : text;
}

class json_formatter final : public spdlog::formatter {
  public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        format_json_log_line(
            msg.time, msg.level, std::string_view(msg.logger_name.data(), msg.logger_name.size()),
            std::string_view(msg.payload.data(), msg.payload.size()), line_, current_log_fields());
        line_ += '\n';
        dest.append(line_.data(), line_.data() + line_.size());
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<json_formatter>();
    }

  private:
    std::string line_;  // reused; sinks call format() under their own mutex
};

std::string format_interval(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
    return fmt::format("{}ms", d.count());
}

}  // namespace

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view text) {
    using spdlog::level::level_enum;
    if (text == "trace") return level_enum::trace;
    if (text == "debug") return level_enum::debug;
    if (text == "info") return level_enum::info;
    if (text == "warn" || text == "warning") return level_enum::warn;
    if (text == "error") return level_enum::err;
    if (text == "critical") return level_enum::critical;
    if (text == "off") return level_enum::off;
    return std::nullopt;
}

std::optional<log_format> parse_log_format(std::string_view text) {
    if (text == "text") return log_format::text;
    if (text == "json") return log_format::json;
    return std::nullopt;
}

void format_json_log_line(std::chrono::system_clock::time_point time,
                          spdlog::level::level_enum level, std::string_view logger,
                          std::string_view message, std::string& out, const log_fields* fields) {
    out.clear();
    char ts[24];
    time::format_rfc3339_ms(
        std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count(), ts);
    out += "{\"ts\":\"";
    out.append(ts, sizeof ts);
    out += "\",\"level\":\"";
    const auto name = spdlog::level::to_string_view(level);
    out.append(name.data(), name.size());
    out += "\",\"logger\":";
    std::string scratch;
    append_json_string(well_formed_utf8(logger, scratch), out);
    out += ",\"msg\":";
    append_json_string(well_formed_utf8(message, scratch), out);
    if (fields != nullptr) {
        const std::pair<const char*, std::string_view> named[] = {
            {",\"pipeline\":", fields->pipeline},
            {",\"query\":", fields->query},
            {",\"node\":", fields->node},
            {",\"input\":", fields->input},
            {",\"error_type\":", fields->error_type}};
        for (const auto& [key, value] : named) {
            if (value.empty()) continue;
            out += key;
            append_json_string(well_formed_utf8(value, scratch), out);
        }
    }
    out += '}';
}

namespace {
thread_local const log_fields* current_fields = nullptr;
}  // namespace

log_scope::log_scope(const log_fields& fields) : fields_(fields), previous_(current_fields) {
    if (previous_ != nullptr) {
        auto keep = [](std::string_view& mine, std::string_view outer) {
            if (mine.empty()) mine = outer;
        };
        keep(fields_.pipeline, previous_->pipeline);
        keep(fields_.query, previous_->query);
        keep(fields_.node, previous_->node);
        keep(fields_.input, previous_->input);
        keep(fields_.error_type, previous_->error_type);
    }
    current_fields = &fields_;
}

log_scope::~log_scope() {
    current_fields = previous_;
}

const log_fields* current_log_fields() {
    return current_fields;
}

namespace {

struct secret_list {
    std::shared_mutex mutex;
    std::vector<std::string> values;
};

secret_list& secrets() {
    static secret_list list;
    return list;
}

// Replaces secrets in each message before the real sink formats it.
class redacting_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    explicit redacting_sink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const std::string_view payload(msg.payload.data(), msg.payload.size());
        std::string clean = redact(payload);
        if (clean.size() == payload.size() && clean == payload) {
            inner_->log(msg);
            return;
        }
        spdlog::details::log_msg copy(msg);
        copy.payload = spdlog::string_view_t(clean.data(), clean.size());
        inner_->log(copy);
    }
    void flush_() override { inner_->flush(); }
    void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
    void set_formatter_(std::unique_ptr<spdlog::formatter> f) override {
        inner_->set_formatter(std::move(f));
    }

  private:
    spdlog::sink_ptr inner_;
};

}  // namespace

void add_secret(std::string value) {
    if (value.size() < 4) return;
    secret_list& list = secrets();
    std::unique_lock lock(list.mutex);
    for (const auto& v : list.values) {
        if (v == value) return;
    }
    list.values.push_back(std::move(value));
    // Longest first: a secret containing another is replaced whole.
    std::sort(list.values.begin(), list.values.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string redact(std::string_view text) {
    std::string out(text);
    secret_list& list = secrets();
    std::shared_lock lock(list.mutex);
    for (const auto& secret : list.values) {
        for (std::size_t at = out.find(secret); at != std::string::npos;
             at = out.find(secret, at + 3)) {
            out.replace(at, secret.size(), "***");
        }
    }
    return out;
}

std::function<std::optional<std::string>(const std::string&)> secret_tracking_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) return std::nullopt;
        if (params::names_a_secret(name)) add_secret(v);
        return std::string(v);
    };
}

void configure_logging(const logging_options& options) {
    // Broken invariants weir survives (WEIR_CHECK) and those it does not (WEIR_ASSERT, then
    // abort) go to the log, not only to stderr.
    diag::set_invariant_handler([](const diag::broken_invariant& where) {
        spdlog::error("internal error at {}:{}: {} ({}); please report it", where.file, where.line,
                      where.message, where.condition);
    });
    spdlog::sink_ptr sink = options.sink;
    if (!sink) sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sink = std::make_shared<redacting_sink>(std::move(sink));
    auto logger = std::make_shared<spdlog::logger>("weir", std::move(sink));
    if (options.format == log_format::json) {
        logger->set_formatter(std::make_unique<json_formatter>());
    } else {
        logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
            "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc));
    }
    logger->set_level(options.level);
    // Problems are rare and must not be lost in a crash that follows them.
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
}

failure_log::failure_log(std::chrono::milliseconds every, clock_fn clock)
    : every_(every), clock_(std::move(clock)) {
    if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

std::optional<std::uint64_t> failure_log::failed(std::string_view message) {
    ++failures_;
    const auto now = clock_();
    if (failures_ > 1 && message == last_ && now - logged_at_ < every_) {
        ++unlogged_;
        return std::nullopt;
    }
    const std::uint64_t unlogged = unlogged_;
    last_.assign(message);
    logged_at_ = now;
    unlogged_ = 0;
    return unlogged;
}

std::uint64_t failure_log::succeeded() {
    const std::uint64_t failures = failures_;
    failures_ = 0;
    unlogged_ = 0;
    last_.clear();
    return failures;
}

std::string failure_log::again(std::uint64_t unlogged) {
    if (unlogged == 0) return {};
    return fmt::format(" (failed {} more {} since the last line)", unlogged,
                       unlogged == 1 ? "time" : "times");
}

log_limiter::log_limiter(options opts, clock_fn clock) : options_(opts), clock_(std::move(clock)) {
    if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
    if (options_.burst == 0) options_.burst = 1;
    if (options_.max_keys == 0) options_.max_keys = 1;
}

log_limiter::key_entry& log_limiter::state_of(std::string_view key,
                                              std::chrono::steady_clock::time_point now) {
    auto it = keys_.find(key);
    if (it == keys_.end()) {
        // Set-up cost, once per key; past the cap every new key shares one bucket.
        std::string name(keys_.size() < options_.max_keys ? key : std::string_view("other"));
        it = keys_.find(name);
        if (it == keys_.end()) it = keys_.emplace(std::move(name), key_state{now}).first;
    }
    return *it;
}

void log_limiter::summarize(const std::string& key, key_state& s) {
    if (s.suppressed == 0) return;
    spdlog::log(s.level, "{}: {} similar messages suppressed in the last {}", key, s.suppressed,
                format_interval(options_.interval));
    s.suppressed = 0;
}

bool log_limiter::allow(std::string_view key, spdlog::level::level_enum level) {
    const auto now = clock_();
    std::lock_guard lock(mutex_);
    auto& [name, s] = state_of(key, now);
    if (now - s.window_start >= options_.interval) {
        // The summary of the window that ended comes before the message that opens the next.
        summarize(name, s);
        s.window_start = now;
        s.allowed = 0;
    }
    if (s.allowed < options_.burst) {
        ++s.allowed;
        return true;
    }
    ++s.suppressed;
    s.level = level;
    return false;
}

void log_limiter::flush_expired() {
    const auto now = clock_();
    std::lock_guard lock(mutex_);
    for (auto& [key, s] : keys_) {
        if (now - s.window_start >= options_.interval) summarize(key, s);
    }
}

void log_limiter::flush_suppressed() {
    std::lock_guard lock(mutex_);
    for (auto& [key, s] : keys_) summarize(key, s);
}

std::uint64_t log_limiter::suppressed(std::string_view key) const {
    std::lock_guard lock(mutex_);
    const auto it = keys_.find(key);
    return it == keys_.end() ? 0 : it->second.suppressed;
}

log_limiter& record_problem_log() {
    static log_limiter limiter;
    return limiter;
}

}  // namespace weir::daemon
