// Parameters of the HTTP webhook and Alertmanager outputs.
#include "connectors/http/http_spec.h"

#include <chrono>
#include <optional>
#include <string>

#include "connectors/common/common_spec.h"

namespace weir::connectors {

using params::object_spec;
using params::param_spec;
using params::param_type;
using params::string_role;

namespace {

param_spec timeout_param() {
    return {.name = "timeout",
            .type = param_type::duration,
            .description = "Limit of one request, connection included.",
            .default_text = "10s",
            .minimum = 100,
            .maximum = 600.0 * 1000};
}

param_spec retries_param() {
    return {.name = "retries",
            .type = param_type::integer,
            .description =
                "Retries of a failed request (connection error, 429 or 5xx) with "
                "exponential back-off, after which the batch is given up (lost, counted as an "
                "output error). Unset (the default): retried until delivered or weir stops, "
                "and the nodes writing here feel back-pressure meanwhile; nothing is lost.",
            .minimum = 0,
            .maximum = 1000000};
}

param_spec headers_param() {
    return {.name = "headers",
            .type = param_type::string_map,
            .description =
                "Extra request headers, e.g. X-Scope-OrgID: team-a. Values are never "
                "printed.",
            .secret = true};
}

// tls: only meaningful for https:// URLs.
void check_url_and_tls(const params::value& v, const std::string& path, diagnostics& out) {
    check_http_url(v, "url", path, out);
    check_http_url(v, "generator_url", path, out);
    const params::value* url = v.find("url");
    const params::value* tls = v.find("tls");
    if (url != nullptr && url->is_scalar() && tls != nullptr && !url->text.starts_with("https:")) {
        out.error(tls->pos, path + ".tls", "tls options need an https:// url");
    }
}

std::shared_ptr<const object_spec> make_http_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "http output";
    spec->description =
        "Sends check results to a webhook in batches, as JSON lines or one JSON array per "
        "request.";
    spec->params = {
        {.name = "url",
         .type = param_type::string,
         .description = "The endpoint, http:// or https://.",
         .required = true,
         .role = string_role::url},
        {.name = "method",
         .type = param_type::enumeration,
         .description = "HTTP method.",
         .default_text = "POST",
         .choices = {"POST", "PUT"}},
        {.name = "encoding",
         .type = param_type::enumeration,
         .description = "Body of a request: ndjson (one result per line, application/x-ndjson) "
                        "or json_array (application/json).",
         .default_text = "ndjson",
         .choices = {"ndjson", "json_array"}},
        headers_param(),
        timeout_param(),
        retries_param(),
        {.name = "retry_backoff",
         .type = param_type::duration,
         .description = "Wait before the first retry; doubles for each next one, up to 1m.",
         .default_text = "1s",
         .minimum = 10,
         .maximum = 60.0 * 1000},
        {.name = "batch_max_records",
         .type = param_type::integer,
         .description = "Most results per request.",
         .default_text = "100",
         .minimum = 1,
         .maximum = 100000},
        {.name = "batch_timeout",
         .type = param_type::duration,
         .description = "Longest a result waits for its batch to fill.",
         .default_text = "1s",
         .minimum = 0,
         .maximum = 600.0 * 1000},
        tls_param(),
    };
    add_http_auth_params(spec->params, spec->rules);
    spec->check = check_url_and_tls;
    return spec;
}

// Labels weir sets on every alert to identify it: an output label of one of these names would
// merge the alerts of different checks into one.
constexpr const char* k_identity_labels[] = {"pipeline", "node", "check"};

std::shared_ptr<const object_spec> make_severity_map_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "alert severities";
    spec->description =
        "The `severity` label of alerts by outcome, to match the routes of Alertmanager. A "
        "`severity` in `labels` (of the output, or of the check) wins over it.";
    spec->params = {
        {.name = "fail",
         .type = param_type::string,
         .description = "severity of alerts of failing checks (must_be violated).",
         .default_text = "critical"},
        {.name = "warn",
         .type = param_type::string,
         .description = "severity of alerts of warning checks (should_be violated; with "
                        "min_severity: warn).",
         .default_text = "warning"},
    };
    return spec;
}

std::shared_ptr<const object_spec> make_alertmanager_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "alertmanager output";
    spec->description =
        "Posts failing checks to Alertmanager's /api/v2/alerts as alerts labelled with "
        "pipeline, node, check and group; resends them while they fail and lets them resolve "
        "when the check passes again.";
    spec->params = {
        {.name = "url",
         .type = param_type::string,
         .description = "Alertmanager's base URL, e.g. http://127.0.0.1:9093.",
         .required = true,
         .role = string_role::url},
        {.name = "min_severity",
         .type = param_type::enumeration,
         .description = "fail: only failing checks raise alerts; warn: should_be warnings too.",
         .default_text = "fail",
         .choices = {"fail", "warn"}},
        {.name = "severity_map",
         .type = param_type::object,
         .description = "The severity label by outcome; default fail: critical, warn: warning.",
         .object = make_severity_map_spec()},
        {.name = "labels",
         .type = param_type::string_map,
         .description = "Labels added to every alert, e.g. team: data, env: prod. `alertname` "
                        "and `severity` replace weir's; pipeline, node and check cannot be "
                        "set (they identify the alert); group fields win over labels of the "
                        "same name, and a check's own labels over these."},
        {.name = "annotations",
         .type = param_type::string_map,
         .description = "Annotations added to every alert, e.g. runbook_url; a check's own "
                        "annotations win over these."},
        {.name = "generator_url",
         .type = param_type::string,
         .description = "Link shown with the alerts (e.g. a dashboard).",
         .role = string_role::url},
        {.name = "resend_interval",
         .type = param_type::duration,
         .description = "How often a still-failing alert is sent again.",
         .default_text = "1m",
         .minimum = 1000,
         .maximum = 24.0 * 3600 * 1000},
        {.name = "resolve_timeout",
         .type = param_type::duration,
         .description = "endsAt of a sent alert, from now: it resolves by itself if weir stops "
                        "resending it. Must exceed resend_interval.",
         .default_text = "5m",
         .minimum = 1000},
        headers_param(),
        timeout_param(),
        retries_param(),
        tls_param(),
    };
    add_http_auth_params(spec->params, spec->rules);
    spec->check = [](const params::value& v, const std::string& path, diagnostics& out) {
        check_url_and_tls(v, path, out);
        if (const params::value* labels = v.find("labels"); labels != nullptr) {
            for (const auto& e : labels->entries) {
                for (const char* own : k_identity_labels) {
                    if (e.key != own) continue;
                    out.error(e.key_pos, path + ".labels." + e.key,
                              "label \"" + e.key +
                                  "\" is set by weir to identify the alert; choose another "
                                  "name");
                }
            }
        }
        auto duration_at = [&](const char* key, std::chrono::milliseconds fallback) {
            const params::value* item = v.find(key);
            if (item == nullptr || !item->is_scalar()) return fallback;
            return params::parse_duration(item->text).value_or(fallback);
        };
        const auto resend = duration_at("resend_interval", std::chrono::minutes(1));
        const auto resolve = duration_at("resolve_timeout", std::chrono::minutes(5));
        if (resolve <= resend) {
            // One of the two was written, or the defaults would be consistent.
            const char* key =
                v.find("resolve_timeout") != nullptr ? "resolve_timeout" : "resend_interval";
            out.error(v.find(key)->pos, path + "." + key,
                      "resolve_timeout (" + params::format_duration(resolve) +
                          ") must exceed resend_interval (" + params::format_duration(resend) +
                          "), or alerts flap between resends");
        }
    };
    return spec;
}

}  // namespace

params::component_info http_output_component() {
    return {.type = "http",
            .kind = params::component_kind::output,
            .description = "POST check results to a webhook in batches.",
            .spec = make_http_spec()};
}

params::component_info alertmanager_output_component() {
    return {.type = "alertmanager",
            .kind = params::component_kind::output,
            .description = "Send failing checks as alerts to Prometheus Alertmanager.",
            .spec = make_alertmanager_spec()};
}

}  // namespace weir::connectors
