// weir(1) from the CLI11 definitions; see man_page.h.
#include "daemon/man_page.h"

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <map>
#include <vector>

#include "daemon/exit_codes.h"

namespace weir::daemon {

namespace {

// Text for roff: backslashes escaped, and a line that would start with a control character
// ('.' or '\'') protected by a zero-width \&.
std::string roff(std::string_view text) {
    std::string out;
    bool line_start = true;
    for (const char c : text) {
        if (line_start && (c == '.' || c == '\'')) out += "\\&";
        if (c == '\\') {
            out += "\\e";
        } else {
            out += c;
        }
        line_start = c == '\n';
    }
    return out;
}

// An option name as typed: hyphens are minus signs in roff ("\-\-format").
std::string dashes(std::string_view name) {
    std::string out;
    for (const char c : name) {
        if (c == '-') {
            out += "\\-";
        } else {
            out += c;
        }
    }
    return out;
}

bool hidden(const CLI::Option* o) {
    return o->get_group().empty();
}

// As --help decides (CLI::Formatter): an option without a value type takes no value.
bool is_flag(const CLI::Option* o) {
    return o->get_type_size() == 0 || o->get_type_name().empty();
}

// "TEXT" of CLI11's "TEXT:{text,json}": the value's kind, in upper case as --help shows it.
std::string value_name(const CLI::Option* o) {
    std::string type = o->get_type_name();
    if (const auto colon = type.find(':'); colon != std::string::npos) type.resize(colon);
    return type;
}

// "text, json" of "TEXT:{text,json}": the values a checked option accepts; "" for any.
std::string choices(const CLI::Option* o) {
    const std::string type = o->get_type_name();
    const auto open = type.find(":{");
    if (open == std::string::npos || type.back() != '}') return "";
    std::string out;
    for (const char c : type.substr(open + 2, type.size() - open - 3)) {
        out += c;
        if (c == ',') out += ' ';
    }
    return out;
}

// "\fB\-\-format\fR \fITEXT\fR" or "\fB\-v\fR, \fB\-\-verbose\fR".
std::string option_heading(const CLI::Option* o) {
    std::string names;
    for (const auto& s : o->get_snames()) {
        names += (names.empty() ? "" : ", ") + fmt::format("\\fB\\-{}\\fR", dashes(s));
    }
    for (const auto& l : o->get_lnames()) {
        names += (names.empty() ? "" : ", ") + fmt::format("\\fB\\-\\-{}\\fR", dashes(l));
    }
    if (!is_flag(o)) names += fmt::format(" \\fI{}\\fR", value_name(o));
    return names;
}

std::string option_body(const CLI::Option* o) {
    std::string body = roff(o->get_description());
    std::vector<std::string> notes;
    if (const auto values = choices(o); !values.empty()) {
        notes.push_back(fmt::format("one of {}", roff(values)));
    }
    if (!o->get_default_str().empty() && !is_flag(o)) {
        notes.push_back(fmt::format("default: {}", roff(o->get_default_str())));
    }
    if (!o->get_envname().empty()) {
        notes.push_back(fmt::format("environment: \\fB{}\\fR", o->get_envname()));
    }
    if (!notes.empty()) {
        body += " (";
        for (std::size_t i = 0; i < notes.size(); ++i) body += (i ? "; " : "") + notes[i];
        body += ")";
    }
    return body;
}

std::vector<const CLI::Option*> visible_options(const CLI::App& app, bool positional) {
    return app.get_options([&](const CLI::Option* o) {
        return !hidden(o) && o->get_positional() == positional && o != app.get_help_ptr();
    });
}

// "weir checkpoint inspect [OPTIONS] FILE": the synopsis line of one verb.
std::string usage(const CLI::App& app, const std::string& path) {
    std::string line = fmt::format("\\fB{}\\fR", path);
    if (!visible_options(app, false).empty()) line += " [\\fIOPTIONS\\fR]";
    for (const auto* p : visible_options(app, true)) {
        const std::string name = fmt::format("\\fI{}\\fR", p->get_name(true));
        const bool many = p->get_items_expected_max() > 1;
        line += p->get_required() ? " " + name + (many ? "..." : "")
                                  : " [" + name + (many ? "..." : "") + "]";
    }
    return line;
}

std::vector<const CLI::App*> visible_subcommands(const CLI::App& app) {
    return app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); });
}

void synopsis(const CLI::App& app, const std::string& path, std::string& out) {
    const auto subs = visible_subcommands(app);
    for (const auto* s : subs) {
        const std::string sub_path = path + " " + s->get_name();
        if (visible_subcommands(*s).empty()) {
            out += usage(*s, sub_path) + "\n.br\n";
        } else {
            synopsis(*s, sub_path, out);
        }
    }
}

void commands(const CLI::App& app, const std::string& path, std::string& out) {
    for (const auto* s : visible_subcommands(app)) {
        const std::string sub_path = path + " " + s->get_name();
        out += fmt::format(".SS \"{}\"\n", sub_path);
        out += roff(s->get_description()) + ".\n";
        const auto positionals = visible_options(*s, true);
        const auto options = visible_options(*s, false);
        if (!positionals.empty() || !options.empty()) out += ".PP\n" + usage(*s, sub_path) + "\n";
        for (const auto* p : positionals) {
            out += fmt::format(".TP\n\\fI{}\\fR\n{}\n", p->get_name(true), option_body(p));
        }
        for (const auto* o : options) {
            out += fmt::format(".TP\n{}\n{}\n", option_heading(o), option_body(o));
        }
        commands(*s, sub_path, out);
    }
}

// Every environment variable an option reads, with the option it stands for.
void environment(const CLI::App& app, const std::string& path,
                 std::map<std::string, std::string>& out) {
    for (const auto* o : app.get_options()) {
        if (hidden(o) || o->get_envname().empty()) continue;
        const std::string name = o->get_lnames().empty() ? o->get_name() : o->get_lnames().front();
        out.emplace(o->get_envname(), fmt::format("\\fB{} \\-\\-{}\\fR", path, dashes(name)));
    }
    for (const auto* s : visible_subcommands(app)) {
        environment(*s, path + " " + s->get_name(), out);
    }
}

}  // namespace

std::string render_man_page(const CLI::App& app, std::string_view version) {
    const std::string name = app.get_name();
    std::string out;
    out += fmt::format(".TH {} 1 \"\" \"{} {}\" \"User Commands\"\n", "WEIR", name, version);
    out += ".SH NAME\n";
    out += fmt::format("{} \\- streaming data-quality monitoring daemon\n", name);

    out += ".SH SYNOPSIS\n";
    synopsis(app, name, out);
    out += fmt::format("\\fB{}\\fR \\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR\n", name);

    out += ".SH DESCRIPTION\n";
    out += roff(
        "weir reads streams (files, sockets, Kafka, a generator), cuts their records into "
        "event-time windows, evaluates data-quality checks on every window, such as "
        "missing_fraction(temperature) must_be \"< 5%\", writes the results to outputs (console, "
        "JSON-lines files, HTTP, Alertmanager) and exports Prometheus metrics.\n");
    out += ".PP\n";
    out += roff(
        "Pipelines are YAML files, one pipeline per file; the daemon settings (data directory, "
        "HTTP address, logging, checkpoint interval) live in weir.yaml. Every path argument is a "
        "pipeline file, a directory of them, or the settings file. Without paths, run reads "
        "/etc/weir/weir.yaml and /etc/weir/pipelines.d/.\n");
    out += ".PP\n";
    out += roff(
        "The daemon serves /metrics (Prometheus), /health, /ready and /api/v1/status over HTTP, "
        "on 127.0.0.1:9797 unless http.listen or --http-listen say otherwise, and takes the "
        "operator commands of weir baseline (POST /api/v1/baselines/reset and "
        "/api/v1/baselines/acknowledge, from clients on the same machine), each recorded in its "
        "log. SIGTERM and SIGINT drain and stop it; SIGHUP reloads the pipelines.\n");

    out += ".SH COMMANDS\n";
    commands(app, name, out);

    out += ".SH OPTIONS\n";
    for (const auto* o : app.get_options([](const CLI::Option* o) { return !hidden(o); })) {
        out += fmt::format(".TP\n{}\n{}\n", option_heading(o), roff(o->get_description()));
    }

    std::map<std::string, std::string> env;
    environment(app, name, env);
    if (!env.empty()) {
        out += ".SH ENVIRONMENT\n";
        for (const auto& [var, option] : env) {
            out += fmt::format(".TP\n\\fB{}\\fR\nas {}; the option wins over the variable\n", var,
                               option);
        }
        out += ".PP\n";
        out += roff(
            "Pipeline and settings files may reference environment variables as ${VAR}, "
            "${VAR:-default} or ${VAR:?message}; the installed service reads them from "
            "/etc/default/weir.\n");
    }

    out += ".SH EXIT STATUS\n";
    const std::pair<int, const char*> codes[] = {
        {exit_ok, "success; run: a clean stop"},
        {exit_failure,
         "a runtime failure (a critical node failed), an unreachable daemon, a corrupt "
         "checkpoint file, a command the daemon could not apply (weir baseline: no such "
         "pipeline, node or check against history)"},
        {exit_checks_warn, "run \\-\\-once \\-\\-fail\\-on warn: a check warned and none failed"},
        {exit_checks_fail, "run \\-\\-once: a check failed"},
        {exit_usage, "a usage error on the command line"},
        {exit_config, "an invalid configuration"},
    };
    for (const auto& [code, what] : codes) out += fmt::format(".TP\n\\fB{}\\fR\n{}\n", code, what);

    out += ".SH FILES\n";
    const std::pair<const char*, const char*> files[] = {
        {"/etc/weir/weir.yaml", "the daemon settings"},
        {"/etc/weir/pipelines.d/", "one pipeline per *.yaml file"},
        {"/etc/default/weir", "environment of the service: secrets referenced as ${VAR}"},
        {"/var/lib/weir/", "the data directory: checkpoints"},
        {"/usr/share/doc/weir/",
         "README.md, docs/pipelines.md (the pipeline language) and "
         "examples"},
        {"/usr/share/weir/", "the Grafana dashboard and the Prometheus alert rules"},
    };
    for (const auto& [path, what] : files) {
        out += fmt::format(".TP\n\\fI{}\\fR\n{}\n", path, roff(what));
    }

    out += ".SH SEE ALSO\n";
    out += "\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1), \\fBprometheus\\fR(1)\n";
    return out;
}

}  // namespace weir::daemon
