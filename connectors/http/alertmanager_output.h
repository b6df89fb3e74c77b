// The alertmanager output: failing checks become alerts posted to Alertmanager's
// /api/v2/alerts, re-sent while they fail and resolved when the check passes again.
#pragma once

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/http/http_client.h"
#include "connectors/runtime.h"

namespace weir::connectors {

struct alertmanager_options {
    http_delivery_options delivery;          // url: the base URL; /api/v2/alerts is appended
    bool warn_raises = false;                // min_severity: warn
    std::string fail_severity = "critical";  // severity_map
    std::string warn_severity = "warning";
    std::vector<std::pair<std::string, std::string>> labels;  // static, names sanitised
    std::vector<std::pair<std::string, std::string>> annotations;
    std::string generator_url;  // "" leaves generatorURL out
    std::chrono::milliseconds resend_interval{60'000};
    std::chrono::milliseconds resolve_timeout{300'000};
};

// A Prometheus label name from any text: characters outside [a-zA-Z0-9_] become '_', and a
// leading digit gets a '_' before it ("device.id" -> "device_id", "1x" -> "_1x").
std::string sanitize_label_name(std::string_view name);

// Alert state, keyed by (pipeline, node, check, group):
// - a result with outcome fail (or warn, with min_severity: warn) starts an alert: it is sent
//   at once with startsAt = that window's start (never later than now) and endsAt = now +
//   resolve_timeout, then re-sent every resend_interval with a fresh endsAt and the latest
//   value in its annotations, so Alertmanager expires it by itself if weir stops;
// - a pass (or a warn below min_severity) for a firing key sends it once more with endsAt =
//   now (resolved) and forgets it;
// - no_data changes nothing: the alert keeps its state until a window with data decides;
// - a firing alert whose outcome changes between warn and fail is resolved and raised again
//   with the new `severity` label (labels identify an alert in Alertmanager).
// Labels: alertname (weir_check_failed unless the static labels set it), pipeline, node,
// check, severity (severity_map: critical for fail, warning for warn, unless the static labels
// set it), the group fields (sanitised; prefixed group_ when they clash), then the static
// labels, then the check's own labels (check_result::metadata; they win over the output's, and
// a check's `severity` replaces the output's severity). Annotations: weir's (summary,
// description, value...), then the output's, then the check's (runbook_url, owner,
// description...), each winning over the ones before. Summaries show the value and the assessment
// in the assessment's unit (core/result/format.h): "... missing_fraction(x) = 26.7 %, must be < 20
// %". The state lives in memory: after a restart, alerts are raised again by the next failing
// window, and stale ones expire at their endsAt.
class alertmanager_output final : public output,
                                  public std::enable_shared_from_this<alertmanager_output> {
  public:
    alertmanager_output(const output_context& ctx, alertmanager_options options);
    void start();  // arms the resend timer; the factory calls it

    void write_result(const check_result& result) override;
    void write_record(std::string_view json) override;
    void flush(std::function<void(bool ok, const std::string& error)> done) override;
    void stop(std::function<void()> done) override;
    output_stats stats() const override;  // records: alerts delivered; errors: requests given up
    // Alerts queued for delivery: back-pressure while Alertmanager is down.
    std::uint64_t pending() const override { return delivery_->pending_records(); }
    std::string blocked() const override { return delivery_->blocked(); }
    void begin_shutdown() override;

  private:
    using string_map = std::map<std::string, std::string>;
    struct alert {
        string_map labels;
        string_map annotations;
        time::timestamp_ns starts_at = 0;
        std::string severity;
    };

    // On the strand.
    void on_result(const check_result& r);
    alert make_alert(const check_result& r, std::string_view severity) const;
    // The severity label of a result's alert: the check's `severity` label, else the output's,
    // else severity_map.
    const std::string& severity_label(const check_result& r) const;
    string_map make_annotations(const check_result& r) const;
    void append_alert(const alert& a, time::timestamp_ns ends_at);
    void send_soon();
    void send_pending();
    void arm_resend();
    time::timestamp_ns now() const;

    boost::asio::any_io_executor executor_;
    const alertmanager_options options_;
    wall_clock clock_;
    std::shared_ptr<http_delivery> delivery_;
    std::map<std::string, alert> firing_;
    std::string pending_;  // a JSON array being built, without its closing bracket
    std::uint64_t pending_alerts_ = 0;
    bool send_posted_ = false;
    boost::asio::steady_timer resend_timer_;
    std::atomic<bool> stopped_{false};
};

std::shared_ptr<output> make_alertmanager_output(const params::reader& p,
                                                 const output_context& ctx);

}  // namespace weir::connectors
