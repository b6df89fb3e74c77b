// The alertmanager output: alert state per check and group, posted as Alertmanager v2 alerts.
#include "connectors/http/alertmanager_output.h"

#include <boost/asio/post.hpp>
#include <stdexcept>

#include "core/result/format.h"

namespace weir::connectors {

namespace {

constexpr std::uint64_t max_alerts_per_request = 1000;

// Labels weir sets itself; group fields of the same name are prefixed with group_.
bool is_reserved_label(std::string_view name) {
    return name == "alertname" || name == "pipeline" || name == "node" || name == "check" ||
           name == "severity";
}

std::string plain_value(const measure_value& v) {
    return v.kind == measure_kind::string ? v.text : to_string(v);
}

void append_object(const std::map<std::string, std::string>& entries, std::string& out) {
    out += '{';
    bool first = true;
    for (const auto& [name, value] : entries) {
        if (!first) out += ',';
        first = false;
        append_json_string(name, out);
        out += ':';
        append_json_string(value, out);
    }
    out += '}';
}

}  // namespace

std::string sanitize_label_name(std::string_view name) {
    std::string out;
    if (name.empty() || (name[0] >= '0' && name[0] <= '9')) out += '_';
    for (const char c : name) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out += ok ? c : '_';
    }
    return out;
}

alertmanager_output::alertmanager_output(const output_context& ctx, alertmanager_options options)
    : executor_(ctx.executor),
      options_(std::move(options)),
      clock_(ctx.clock),
      delivery_(std::make_shared<http_delivery>(ctx.executor, options_.delivery)),
      resend_timer_(ctx.executor) {}

void alertmanager_output::start() {
    boost::asio::post(executor_, [self = shared_from_this()] { self->arm_resend(); });
}

time::timestamp_ns alertmanager_output::now() const {
    if (clock_) return clock_();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void alertmanager_output::write_result(const check_result& result) {
    if (stopped_) return;
    // A copy per result (per window and group), not per record.
    boost::asio::post(executor_, [self = shared_from_this(), r = result] { self->on_result(r); });
}

void alertmanager_output::write_record(std::string_view) {}

void alertmanager_output::on_result(const check_result& r) {
    if (r.outcome == outcome::no_data) return;
    std::string key;
    append_series_key(r, key);
    const time::timestamp_ns t = now();
    const bool raise =
        r.outcome == outcome::fail || (r.outcome == outcome::warn && options_.warn_raises);
    auto it = firing_.find(key);
    if (!raise) {
        if (it == firing_.end()) return;
        append_alert(it->second, t);  // resolved
        firing_.erase(it);
        send_soon();
        return;
    }
    const std::string& severity = severity_label(r);
    if (it != firing_.end() && it->second.severity != severity) {
        append_alert(it->second, t);
        firing_.erase(it);
        it = firing_.end();
    }
    if (it == firing_.end()) {
        it = firing_.emplace(key, make_alert(r, severity)).first;
        it->second.starts_at = std::min(r.window_start, t);
        append_alert(it->second, t + options_.resolve_timeout.count() * time::ns_per_ms);
        send_soon();
    } else {
        // Still failing: the next resend carries the latest value.
        it->second.annotations = make_annotations(r);
    }
}

const std::string& alertmanager_output::severity_label(const check_result& r) const {
    if (r.metadata) {
        for (const auto& [name, value] : r.metadata->labels) {
            if (name == "severity") return value;
        }
    }
    for (const auto& [name, value] : options_.labels) {
        if (name == "severity") return value;
    }
    return r.outcome == outcome::fail ? options_.fail_severity : options_.warn_severity;
}

alertmanager_output::alert alertmanager_output::make_alert(const check_result& r,
                                                           std::string_view severity) const {
    alert a;
    a.severity = severity;
    a.labels["alertname"] = "weir_check_failed";
    a.labels["pipeline"] = r.pipeline;
    a.labels["node"] = r.node;
    a.labels["check"] = r.check;
    a.labels["severity"] = severity;
    for (const auto& [field, value] : r.group) {
        std::string name = sanitize_label_name(field);
        if (is_reserved_label(name)) name = "group_" + name;
        while (a.labels.contains(name)) name += '_';  // "a.b" and "a_b" in one group
        a.labels[name] = plain_value(value);
    }
    for (const auto& [name, value] : options_.labels) {
        if (name == "alertname" || name == "severity" || !a.labels.contains(name)) {
            a.labels[name] = value;
        }
    }
    // The check's own labels win over the output's; `weir validate` refuses the names that
    // identify the alert (and group fields), so they cannot merge alerts of different checks.
    if (r.metadata) {
        for (const auto& [name, value] : r.metadata->labels) {
            if (name == "pipeline" || name == "node" || name == "check" || name == "alertname") {
                continue;
            }
            a.labels[name] = value;
        }
    }
    a.annotations = make_annotations(r);
    return a;
}

alertmanager_output::string_map alertmanager_output::make_annotations(const check_result& r) const {
    string_map out;
    const result_text shown = format_result(r);
    const std::string value = plain_value(r.value);
    std::string where = r.pipeline + "/" + r.node;
    if (!r.group.empty()) {
        where += " {";
        for (std::size_t i = 0; i < r.group.size(); ++i) {
            if (i > 0) where += ", ";
            where += r.group[i].first + "=" + plain_value(r.group[i].second);
        }
        where += "}";
    }
    const bool failed = r.outcome == outcome::fail;
    std::string summary = "check " + r.check + (failed ? " failed" : " warned") + " on " + where +
                          ": " + r.measure + " = " + shown.value;
    if (failed && !shown.must_be.empty()) summary += ", must be " + shown.must_be;
    if (!failed && !shown.should_be.empty()) summary += ", should be " + shown.should_be;
    out["summary"] = summary;
    const std::string start = time::format_rfc3339_ms(r.window_start);
    const std::string end = time::format_rfc3339_ms(r.window_end);
    out["description"] = "In the window from " + start + " to " + end + " (" +
                         std::to_string(r.records) + " records), " + r.measure + " was " +
                         shown.value + (r.must_be.empty() ? "" : "; must be " + shown.must_be) +
                         (r.should_be.empty() ? "" : "; should be " + shown.should_be) + ".";
    if (r.expected) {
        // Checks against history: the evidence, for people and as JSON for tools.
        const std::string text = format_expected(*r.expected, shown.unit);
        out["description"] += " Judged against its history: " + text + ".";
        out["summary"] += " (" + text + ")";
        std::string json;
        append_expected_json(*r.expected, json);
        out["expected"] = json;
    }
    if (r.reconciliation) {
        // reconcile(): the two inputs' keys, for people and as JSON for tools.
        out["description"] += " Keys: " + format_reconciliation(*r.reconciliation) + ".";
        std::string json;
        append_reconciliation_json(*r.reconciliation, json);
        out["reconciliation"] = json;
    }
    if (!r.fields.empty()) {
        std::string fields;
        for (const auto& f : r.fields) fields += (fields.empty() ? "" : ", ") + f;
        out["description"] += " Fields: " + fields + ".";
        out["fields"] = fields;
    }
    if (!r.dependency_down.empty()) {
        // An annotation, not a label: the alert stays the same alert whether or not the
        // window had the dependency's data.
        std::string deps;
        for (const auto& d : r.dependency_down) deps += (deps.empty() ? "" : ", ") + d;
        out["description"] +=
            " Evaluated without the data of dependencies that were down: " + deps + ".";
        out["dependency_down"] = deps;
    }
    out["measure"] = r.measure;
    out["value"] = value;
    if (!r.must_be.empty()) out["must_be"] = r.must_be;
    if (!r.should_be.empty()) out["should_be"] = r.should_be;
    out["window_start"] = start;
    out["window_end"] = end;
    out["records"] = std::to_string(r.records);
    out["result_id"] = result_id(r);
    if (!r.samples.empty()) {
        // The result's failed-value samples as one JSON array (at most 4 KiB, secrets masked).
        std::string samples = "[";
        for (const auto& e : r.samples) samples += (samples.size() > 1 ? "," : "") + e;
        out["samples"] = samples + "]";
    }
    for (const auto& [name, text] : options_.annotations) out[name] = text;
    if (r.metadata) {
        for (const auto& [name, text] : r.metadata->annotations) out[name] = text;
    }
    return out;
}

void alertmanager_output::append_alert(const alert& a, time::timestamp_ns ends_at) {
    if (pending_alerts_ >= max_alerts_per_request) send_pending();
    pending_ += pending_alerts_ == 0 ? '[' : ',';
    ++pending_alerts_;
    pending_ += "{\"labels\":";
    append_object(a.labels, pending_);
    pending_ += ",\"annotations\":";
    append_object(a.annotations, pending_);
    pending_ += ",\"startsAt\":";
    append_json_string(time::format_rfc3339_ms(a.starts_at), pending_);
    pending_ += ",\"endsAt\":";
    append_json_string(time::format_rfc3339_ms(ends_at), pending_);
    if (!options_.generator_url.empty()) {
        pending_ += ",\"generatorURL\":";
        append_json_string(options_.generator_url, pending_);
    }
    pending_ += '}';
}

void alertmanager_output::send_soon() {
    // Results of one burst (a window closing for many groups) share a request.
    if (send_posted_) return;
    send_posted_ = true;
    boost::asio::post(executor_, [self = shared_from_this()] {
        self->send_posted_ = false;
        self->send_pending();
    });
}

void alertmanager_output::send_pending() {
    if (pending_alerts_ == 0) return;
    pending_ += ']';
    delivery_->enqueue(std::move(pending_), pending_alerts_);
    pending_.clear();
    pending_alerts_ = 0;
}

void alertmanager_output::arm_resend() {
    if (stopped_) return;
    resend_timer_.expires_after(options_.resend_interval);
    resend_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->stopped_) return;
        // While earlier alerts still wait (Alertmanager is down), a resend would only pile up
        // behind them: the next one after they went refreshes endsAt.
        if (self->delivery_->pending_records() > 0) {
            self->arm_resend();
            return;
        }
        const time::timestamp_ns ends_at =
            self->now() + self->options_.resolve_timeout.count() * time::ns_per_ms;
        for (const auto& [key, a] : self->firing_) self->append_alert(a, ends_at);
        self->send_pending();
        self->arm_resend();
    });
}

void alertmanager_output::flush(std::function<void(bool ok, const std::string& error)> done) {
    // Posted after the results written before it, so their alerts are included.
    boost::asio::post(executor_, [self = shared_from_this(), done = std::move(done)]() mutable {
        self->send_pending();
        self->delivery_->when_idle(std::move(done));
    });
}

void alertmanager_output::stop(std::function<void()> done) {
    stopped_ = true;
    boost::asio::post(executor_, [self = shared_from_this(), done = std::move(done)]() mutable {
        // Firing alerts are not resolved: they still fail, and expire at their endsAt.
        self->resend_timer_.cancel();
        self->send_pending();
        self->delivery_->when_idle([self, done = std::move(done)](bool, const std::string&) {
            self->delivery_->close();
            done();
        });
    });
}

void alertmanager_output::begin_shutdown() {
    boost::asio::post(executor_, [self = shared_from_this()] { self->delivery_->stop_retrying(); });
}

output_stats alertmanager_output::stats() const {
    return {.records = delivery_->delivered_records(),
            .errors = delivery_->failed_requests(),
            .dropped = delivery_->dropped_records()};
}

std::shared_ptr<output> make_alertmanager_output(const params::reader& p,
                                                 const output_context& ctx) {
    alertmanager_options options;
    std::string error;
    auto url = http_url::parse(p.string("url").value, error);
    if (!url) throw std::runtime_error("url: " + error);
    // The API path goes after the base URL's own path (a proxy prefix), before its query.
    const std::size_t query = url->target.find('?');
    std::string path = url->target.substr(0, query);
    while (!path.empty() && path.back() == '/') path.pop_back();
    url->target = path + "/api/v2/alerts" +
                  (query == std::string::npos ? std::string() : url->target.substr(query));
    options.delivery.url = std::move(*url);
    options.delivery.content_type = "application/json";
    read_http_common(p, options.delivery);
    options.warn_raises = p.string("min_severity").value == "warn";
    if (const auto severities = p.object("severity_map")) {
        options.fail_severity = severities->string("fail").value;
        options.warn_severity = severities->string("warn").value;
    }
    for (const auto& [name, value] : p.string_map("labels")) {
        options.labels.emplace_back(sanitize_label_name(name), value.value);
    }
    for (const auto& [name, value] : p.string_map("annotations")) {
        options.annotations.emplace_back(name, value.value);
    }
    if (p.has("generator_url")) options.generator_url = p.string("generator_url").value;
    options.resend_interval = p.duration("resend_interval").value;
    options.resolve_timeout = p.duration("resolve_timeout").value;
    auto out = std::make_shared<alertmanager_output>(ctx, std::move(options));
    out->start();
    return out;
}

}  // namespace weir::connectors
