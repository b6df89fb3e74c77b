// Declarations shared by several connectors: record formats, TLS, HTTP authentication.
#include "connectors/common/common_spec.h"

namespace weir::connectors {

using params::object_spec;
using params::param_spec;
using params::param_type;
using params::string_role;

namespace {

std::shared_ptr<const object_spec> make_csv_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "csv options";
    spec->description = "How CSV text is split into fields (with format: csv).";
    spec->params = {
        {.name = "delimiter",
         .type = param_type::string,
         .description = "The single character between fields.",
         .default_text = ","},
        {.name = "quote",
         .type = param_type::string,
         .description = "The single character that quotes a field holding delimiters or "
                        "newlines; a doubled quote inside stands for one.",
         .default_text = "\""},
        {.name = "header",
         .type = param_type::boolean,
         .description = "The first line names the columns. With false, `columns` names them.",
         .default_text = "true"},
        {.name = "columns",
         .type = param_type::string_list,
         .description = "Column names, in order, when the data has no header line; with a "
                        "header, they replace the header's names."},
        {.name = "null_values",
         .type = param_type::string_list,
         .description = "Cell texts read as null (e.g. \"NA\", \"-\"); an empty cell is always "
                        "missing."},
    };
    spec->conditionals = {{.key = "header", .equals = "false", .requires_keys = {"columns"}}};
    spec->check = [](const params::value& v, const std::string& path, diagnostics& out) {
        for (const char* key : {"delimiter", "quote"}) {
            const params::value* c = v.find(key);
            if (c != nullptr && c->is_scalar() && c->text.size() != 1) {
                out.error(c->pos, path + "." + key,
                          "expected a single character, got " + c->display());
            }
        }
        const params::value* d = v.find("delimiter");
        const params::value* q = v.find("quote");
        if (d != nullptr && q != nullptr && d->is_scalar() && q->is_scalar() &&
            d->text == q->text) {
            out.error(q->pos, path + ".quote",
                      "the quote character must differ from the delimiter");
        }
    };
    return spec;
}

std::shared_ptr<const object_spec> make_tls_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "tls options";
    spec->description = "TLS settings for https:// endpoints.";
    spec->params = {
        {.name = "ca_file",
         .type = param_type::string,
         .description = "PEM file of the certificate authorities to trust instead of the "
                        "system's.",
         .role = string_role::path},
        {.name = "cert_file",
         .type = param_type::string,
         .description = "PEM client certificate (mutual TLS); needs key_file.",
         .role = string_role::path},
        {.name = "key_file",
         .type = param_type::string,
         .description = "PEM private key of cert_file.",
         .role = string_role::path},
        {.name = "verify",
         .type = param_type::boolean,
         .description = "Verify the server's certificate and host name. Only turn off for "
                        "tests.",
         .default_text = "true"},
    };
    spec->check = [](const params::value& v, const std::string& path, diagnostics& out) {
        const bool cert = v.find("cert_file") != nullptr;
        const bool key = v.find("key_file") != nullptr;
        if (cert != key) {
            out.error(v.pos, path, cert ? "cert_file needs key_file" : "key_file needs cert_file");
        }
    };
    return spec;
}

std::shared_ptr<const object_spec> make_basic_auth_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "basic authentication";
    spec->description =
        "HTTP basic authentication; keep the password in the environment "
        "(${VAR}).";
    spec->params = {
        {.name = "user", .type = param_type::string, .description = "User name.", .required = true},
        {.name = "password",
         .type = param_type::string,
         .description = "Password, e.g. ${WEBHOOK_PASSWORD}; never printed.",
         .required = true,
         .secret = true},
    };
    return spec;
}

}  // namespace

void add_format_params(std::vector<param_spec>& params) {
    static const std::shared_ptr<const object_spec> csv = make_csv_spec();
    params.push_back({.name = "format",
                      .type = param_type::enumeration,
                      .description = "How records are encoded: one JSON object per line "
                                     "(message, datagram), or CSV.",
                      .default_text = "json",
                      .choices = {"json", "csv"}});
    params.push_back({.name = "csv",
                      .type = param_type::object,
                      .description = "CSV options (with format: csv).",
                      .object = csv});
}

void check_format_params(const params::value& v, const std::string& path, diagnostics& out) {
    const params::value* csv = v.find("csv");
    if (csv != nullptr && scalar_text(v, "format") != "csv") {
        out.error(csv->pos, path + ".csv", "csv options apply only with format: csv");
    }
}

param_spec max_line_length_param() {
    return {.name = "max_line_length",
            .type = param_type::size,
            .description =
                "Longest accepted line (record); longer lines are skipped and counted "
                "as errors (error_type=too_long).",
            .default_text = "1MiB",
            .minimum = 16,
            .maximum = 1024.0 * 1024 * 1024};
}

param_spec tls_param() {
    static const std::shared_ptr<const object_spec> tls = make_tls_spec();
    return {.name = "tls",
            .type = param_type::object,
            .description = "TLS settings for https:// URLs.",
            .object = tls};
}

void add_http_auth_params(std::vector<param_spec>& params, std::vector<params::key_rule>& rules) {
    static const std::shared_ptr<const object_spec> basic = make_basic_auth_spec();
    params.push_back({.name = "bearer_token",
                      .type = param_type::string,
                      .description = "Sent as `Authorization: Bearer <token>`; keep it in the "
                                     "environment (${VAR}). Never printed.",
                      .secret = true});
    params.push_back({.name = "basic_auth",
                      .type = param_type::object,
                      .description = "HTTP basic authentication.",
                      .object = basic});
    rules.push_back(
        {.rule = params::key_rule::kind::at_most_one, .keys = {"bearer_token", "basic_auth"}});
}

void check_host_port(const params::value& v, std::string_view key, const std::string& path,
                     diagnostics& out) {
    const params::value* item = v.find(key);
    if (item == nullptr || !item->is_scalar() || (item->from_env && item->text.empty())) return;
    const std::string& text = item->text;
    const std::size_t colon = text.rfind(':');
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < text.size();
    if (ok && text[0] == '[') ok = text[colon - 1] == ']' && colon > 2;
    if (ok && text[0] != '[') ok = text.find(':') == colon;  // bare IPv6 needs brackets
    if (ok) {
        const auto port = params::parse_integer(text.substr(colon + 1));
        ok = port.has_value() && *port >= 0 && *port <= 65535 && text[colon + 1] != '+';
    }
    if (!ok) {
        out.error(
            item->pos, path + "." + std::string(key),
            "expected host:port such as \"0.0.0.0:5170\" or \"[::]:5170\", got " + item->display());
    }
}

void check_http_url(const params::value& v, std::string_view key, const std::string& path,
                    diagnostics& out) {
    const params::value* item = v.find(key);
    // An empty value from the environment is a failed ${VAR}, reported where it was read.
    if (item == nullptr || !item->is_scalar() || (item->from_env && item->text.empty())) return;
    const std::string& text = item->text;
    std::size_t host = 0;
    if (text.starts_with("http://")) host = 7;
    if (text.starts_with("https://")) host = 8;
    if (host == 0 || host >= text.size() || text[host] == '/') {
        out.error(item->pos, path + "." + std::string(key),
                  "expected an http:// or https:// URL, got " + item->display());
    }
}

std::string scalar_text(const params::value& v, std::string_view name) {
    const params::value* item = v.find(name);
    return item != nullptr && item->is_scalar() ? item->text : std::string();
}

}  // namespace weir::connectors
