// The `weir` command line (CLI11): validate, graph, schema, version, test, run, and the clients
// of a running daemon (status, tap, top, baseline).
#include "daemon/cli.h"

#include <dlfcn.h>
#include <fmt/core.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/version.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "config/graph.h"
#include "config/load.h"
#include "connectors/register.h"
#include "core/checkpoint/checkpoint_file.h"
#include "core/time/timestamp.h"
#include "daemon/baseline.h"
#include "daemon/checkpoint_store.h"
#include "daemon/exit_codes.h"
#include "daemon/live_views.h"
#include "daemon/logging.h"
#include "daemon/man_page.h"
#include "daemon/status_client.h"
#include "daemon/supervisor.h"
#include "daemon/test_runner.h"

namespace weir::daemon {

namespace {

// The default configuration of an installed daemon (DESIGN.md §1.2).
std::vector<std::string> default_paths() {
    std::vector<std::string> paths;
    if (std::filesystem::exists("/etc/weir/weir.yaml")) paths.emplace_back("/etc/weir/weir.yaml");
    paths.emplace_back("/etc/weir/pipelines.d");
    return paths;
}

const params::component_registry& registry() {
    static const params::component_registry r = [] {
        params::component_registry reg;
        connectors::register_builtin_connectors(reg);
        return reg;
    }();
    return r;
}

std::string plural(std::size_t n, std::string_view word) {
    if (n == 1) return fmt::format("1 {}", word);
    if (word.ends_with('y')) return fmt::format("{} {}ies", n, word.substr(0, word.size() - 1));
    return fmt::format("{} {}s", n, word);
}

nlohmann::ordered_json diagnostics_json(const std::vector<diagnostic>& diags) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& d : diags) {
        out.push_back({{"file", d.pos.file},
                       {"line", d.pos.line},
                       {"column", d.pos.column},
                       {"severity", d.severity == severity::error ? "error" : "warning"},
                       {"path", d.path},
                       {"message", d.message}});
    }
    return out;
}

struct pipeline_counts {
    std::size_t inputs = 0, nodes = 0, outputs = 0, queries = 0;
};

pipeline_counts count(const config::config_set& config) {
    pipeline_counts c;
    for (const auto& p : config.pipelines) {
        c.inputs += p.inputs.size();
        c.nodes += p.nodes.size();
        c.outputs += p.outputs.size();
        c.queries += config::split_queries(p).size();
    }
    return c;
}

// Loads and reports like `validate`; returns the exit code and the loaded config.
int load_and_report(const std::vector<std::string>& paths, bool json, bool deny_warnings,
                    bool quiet_when_valid, config::load_result& result,
                    const config::load_options& options = {}) {
    result = config::load(paths.empty() ? default_paths() : paths, registry(),
                          secret_tracking_env(), options);
    const auto diags = result.diags.sorted();
    const bool failed =
        result.diags.has_errors() || (deny_warnings && result.diags.warning_count() > 0);

    if (json) {
        nlohmann::ordered_json out;
        out["valid"] = !failed;
        out["errors"] = result.diags.error_count();
        out["warnings"] = result.diags.warning_count();
        out["diagnostics"] = diagnostics_json(diags);
        auto pipelines = nlohmann::ordered_json::array();
        if (!result.diags.has_errors()) {
            for (const auto& p : result.config.pipelines) {
                auto queries = nlohmann::ordered_json::array();
                for (const auto& q : config::split_queries(p)) {
                    queries.push_back({{"name", q.name},
                                       {"inputs", q.inputs},
                                       {"nodes", q.nodes},
                                       {"outputs", q.outputs}});
                }
                pipelines.push_back({{"name", p.name},
                                     {"file", p.file},
                                     {"inputs", p.inputs.size()},
                                     {"nodes", p.nodes.size()},
                                     {"outputs", p.outputs.size()},
                                     {"queries", queries}});
            }
        }
        out["pipelines"] = pipelines;
        std::cout << out.dump(2) << '\n';
        return failed ? exit_config : exit_ok;
    }

    for (const auto& d : diags) std::cerr << format(d) << '\n';
    if (result.diags.has_errors()) {
        std::cerr << fmt::format("weir: configuration is invalid: {}, {}\n",
                                 plural(result.diags.error_count(), "error"),
                                 plural(result.diags.warning_count(), "warning"));
    } else if (failed) {
        std::cerr << fmt::format("weir: {} (--deny-warnings)\n",
                                 plural(result.diags.warning_count(), "warning"));
    } else if (!quiet_when_valid) {
        const auto c = count(result.config);
        std::cout << fmt::format(
            "weir: configuration is valid: {} ({}, {}, {}, {}){}\n",
            plural(result.config.pipelines.size(), "pipeline"), plural(c.inputs, "input"),
            plural(c.nodes, "node"), plural(c.outputs, "output"), plural(c.queries, "query"),
            result.diags.warning_count() ? ", " + plural(result.diags.warning_count(), "warning")
                                         : "");
    }
    return failed ? exit_config : exit_ok;
}

// The allocator this process runs on, found at run time (WEIR_MALLOC links tcmalloc into the
// binary; LD_PRELOAD may bring another): tcmalloc answers tc_version, glibc's has no such call.
std::string allocator_name() {
    using tc_version_fn = const char* (*)(int*, int*, const char**);
    if (void* fn = dlsym(RTLD_DEFAULT, "tc_version")) {
        int major = 0, minor = 0;
        const char* patch = "";
        reinterpret_cast<tc_version_fn>(fn)(&major, &minor, &patch);
        return fmt::format("tcmalloc {}.{}{}", major, minor, patch != nullptr ? patch : "");
    }
    return "system";
}

std::string version_text() {
    return fmt::format(
        "weir {} ({} build)\n"
        "libraries: yaml-cpp {}, simdjson {}.{}.{}, fmt {}.{}.{}, CLI11 {}, "
        "nlohmann-json {}.{}.{}, RE2, Boost {}.{}\n"
        "allocator: {}\n",
        WEIR_VERSION, WEIR_BUILD_TYPE, WEIR_YAML_CPP_VERSION, simdjson::SIMDJSON_VERSION_MAJOR,
        simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION, FMT_VERSION / 10000,
        FMT_VERSION / 100 % 100, FMT_VERSION % 100, CLI11_VERSION, NLOHMANN_JSON_VERSION_MAJOR,
        NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH, BOOST_VERSION / 100000,
        BOOST_VERSION / 100 % 1000, allocator_name());
}

struct log_settings_values {
    std::string level, format;  // "" when the settings file does not set them
};

// The settings file among `paths` as run finds it: a weir.yaml / weir.yml named directly or
// inside a directory; "" when there is none.
std::string settings_file(const std::vector<std::string>& paths) {
    namespace fs = std::filesystem;
    std::string file;
    for (const auto& p : paths) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            for (const char* name : {"weir.yaml", "weir.yml"}) {
                if (fs::is_regular_file(fs::path(p) / name, ec)) file = fs::path(p) / name;
            }
        } else {
            const auto name = fs::path(p).filename();
            if (name == "weir.yaml" || name == "weir.yml") file = p;
        }
        if (!file.empty()) break;
    }
    return file;
}

// log.level and log.format of the settings file among `paths`, read before the daemon starts so
// that its first lines are already in the configured format. Problems are ignored here: the
// daemon reports them.
log_settings_values log_settings(const std::vector<std::string>& paths) {
    const std::string file = settings_file(paths);
    if (file.empty()) return {};
    const auto loaded = config::load({file}, registry(), secret_tracking_env());
    if (loaded.diags.has_errors()) return {};
    return {loaded.config.settings.log_level.value, loaded.config.settings.log_format.value};
}

// Where `weir status` asks without --url: http.listen of the settings file among `paths` (as
// run reads it), else run's default address. "" (and a message) when that cannot be asked.
std::string status_url_from_settings(const std::vector<std::string>& paths) {
    const std::string file = settings_file(paths);
    if (file.empty()) return *status_url_for_listen("");
    const auto loaded = config::load({file}, registry(), secret_tracking_env());
    if (loaded.diags.has_errors()) {
        std::cerr << fmt::format("weir: {} is invalid (weir validate {}); asking {}\n", file, file,
                                 *status_url_for_listen(""));
        return *status_url_for_listen("");
    }
    const std::string& listen = loaded.config.settings.http_listen.value;
    auto url = status_url_for_listen(listen);
    if (!url) {
        std::cerr << fmt::format(
            "weir: http.listen of {} is \"{}\", which does not say where to ask: use --url\n", file,
            listen);
        return "";
    }
    return *url;
}

// `weir checkpoint inspect FILE`: the envelope, and the sizes of what it carries (positions
// and engine states are opaque bytes: shown in hex when short).
int inspect_checkpoint(const std::string& file) {
    std::string error;
    const auto bytes = read_checkpoint_file(file, error);
    if (!bytes) {
        std::cerr << "weir: " << error << '\n';
        return exit_failure;
    }
    const auto data = checkpoint::decode(*bytes, error);
    if (!data) {
        std::cerr << "weir: " << file << ": " << error << '\n';
        return exit_failure;
    }
    auto hex = [](std::string_view b) {
        std::string out;
        for (unsigned char c : b) out += fmt::format("{:02x}", c);
        return out;
    };
    nlohmann::ordered_json out;
    out["file"] = file;
    out["version"] = data->version;
    out["plan_fingerprint"] = data->plan_fingerprint;
    out["written_at"] = time::format_rfc3339_ms(data->written_at);
    auto inputs = nlohmann::ordered_json::array();
    for (const auto& [name, position] : data->inputs) {
        nlohmann::ordered_json i{{"name", name}, {"position_bytes", position.size()}};
        if (position.size() <= 256) i["position_hex"] = hex(position);
        inputs.push_back(i);
    }
    out["inputs"] = inputs;
    // The engines' states by node, and every section of the node chain.
    auto nodes = nlohmann::ordered_json::array();
    auto sections = nlohmann::ordered_json::array();
    for (const auto& [name, state] : data->sections) {
        sections.push_back({{"name", name}, {"state_bytes", state.size()}});
        if (name.starts_with("engine/")) {
            nodes.push_back({{"name", name.substr(7)}, {"state_bytes", state.size()}});
        }
    }
    out["nodes"] = nodes;
    out["sections"] = sections;
    std::cout << out.dump(2) << '\n';
    return exit_ok;
}

}  // namespace

int run_cli(int argc, char** argv) try {
    CLI::App app{"weir: a streaming data-quality monitoring daemon", "weir"};
    app.require_subcommand(1);
    app.set_version_flag("--version", [] {
        std::string text = version_text();
        text.pop_back();  // CLI11 adds the newline
        return text;
    });
    // Hidden: the build writes weir.1 with it (daemon/CMakeLists.txt). It runs while parsing,
    // when every verb below is defined, and stops there like --version.
    app.add_flag_callback(
           "--generate-man",
           [&app] {
               std::cout << render_man_page(app, WEIR_VERSION);
               throw CLI::Success();
           },
           "Print the manual page weir(1) in roff")
        ->group("");

    std::vector<std::string> paths;
    std::string format = "text";
    bool deny_warnings = false;
    bool portable = false;

    auto* validate = app.add_subcommand(
        "validate",
        "Load, check and compile pipelines, and check this machine as run would (files, "
        "directories, certificates), without opening inputs or outputs");
    validate->add_option("paths", paths, "Pipeline files or directories (and weir.yaml)");
    validate->add_option("--format", format, "Report format")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    validate->add_flag("--deny-warnings", deny_warnings, "Treat warnings as errors (exit 78)");
    validate->add_flag("--portable", portable,
                       "Skip the checks of this machine (input files, output directories, "
                       "certificates): for pipelines that run elsewhere");

    std::string graph_format = "text";
    auto* graph = app.add_subcommand("graph", "Print the node graph and its queries");
    graph->add_option("paths", paths, "Pipeline files or directories");
    graph->add_option("--format", graph_format, "Output format")
        ->check(CLI::IsMember({"text", "dot", "mermaid"}))
        ->capture_default_str();

    bool settings_schema = false;
    auto* schema = app.add_subcommand("schema", "Print the JSON Schema of pipeline files");
    schema->add_flag("--settings", settings_schema,
                     "Print the JSON Schema of the daemon settings file (weir.yaml) instead");
    auto* version = app.add_subcommand("version", "Print version, build type and libraries");

    run_options run_opts;
    std::string log_level = "info";
    auto* run = app.add_subcommand("run", "Start the daemon");
    run->add_option("paths", run_opts.paths, "Pipeline files or directories (and weir.yaml)");
    run->add_option("--data-dir", run_opts.data_dir, "Where checkpoints live")
        ->envname("WEIR_DATA_DIR");
    run->add_option("--http-listen", run_opts.http_listen,
                    "HOST:PORT of the HTTP server (metrics, health, status; port 0: any)")
        ->envname("WEIR_HTTP_LISTEN");
    run->add_option("--threads", run_opts.threads, "Threads serving the queries (0: cores)")
        ->envname("WEIR_THREADS");
    run->add_flag("--spread-partitions", run_opts.spread_partitions,
                  "Spread each query's partitions over the threads (one node with checks over "
                  "event time, JSON inputs; partials merged per window)")
        ->envname("WEIR_SPREAD_PARTITIONS");
    std::string log_format = "text";
    auto* log_level_opt =
        run->add_option("--log-level", log_level,
                        "trace, debug, info, warn or error (else log.level of weir.yaml)")
            ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
            ->envname("WEIR_LOG_LEVEL")
            ->capture_default_str();
    auto* log_format_opt = run->add_option("--log-format", log_format,
                                           "text or json lines (else log.format of weir.yaml)")
                               ->check(CLI::IsMember({"text", "json"}))
                               ->envname("WEIR_LOG_FORMAT")
                               ->capture_default_str();
    auto* once_flag = run->add_flag(
        "--once", run_opts.once,
        "Available-now, as a data test: read every bounded input to its end, close all windows, "
        "print a summary, exit by the outcomes (--fail-on); no HTTP server unless "
        "--http-listen, no checkpoint unless --resume or --data-dir");
    std::string fail_on_text = "fail";
    run->add_option("--fail-on", fail_on_text,
                    "With --once: exit 3 when a check failed (fail), also 2 when one warned and "
                    "none failed (warn), or 0 whatever they found (never)")
        ->check(CLI::IsMember({"never", "warn", "fail"}))
        ->needs(once_flag)
        ->capture_default_str();
    run->add_flag("--resume", run_opts.resume,
                  "With --once: read and write the checkpoints in the data dir (--data-dir, "
                  "data_dir of weir.yaml, /var/lib/weir), as the daemon does")
        ->needs(once_flag);
    run->add_option("--reset-checkpoint", run_opts.reset_checkpoints,
                    "Delete the checkpoint of PIPELINE/QUERY before starting (repeatable)")
        ->allow_extra_args(false);

    test_options test_opts;
    auto* test = app.add_subcommand(
        "test", "Run pipeline unit tests (*_test.yaml): records in, expected results out");
    test->add_option("paths", test_opts.paths,
                     "Test files, or directories searched for *_test.yaml (default: .)");
    test->add_option("--filter", test_opts.filter, "Run only the cases whose name contains this");
    test->add_flag("-v,--verbose", test_opts.verbose, "Print every result of every case");

    std::string status_url;
    std::vector<std::string> status_paths;
    auto* status = app.add_subcommand("status", "Show the queries of a running weir");
    status->add_option("paths", status_paths,
                       "The paths given to run (default /etc/weir/weir.yaml): the address is "
                       "http.listen of their weir.yaml");
    status
        ->add_option("--url", status_url,
                     "The daemon's HTTP address (else http.listen of weir.yaml, else "
                     "http://127.0.0.1:9797)")
        ->envname("WEIR_STATUS_URL");

    tap_options tap_opts;
    std::vector<std::string> tap_paths;
    auto* tap = app.add_subcommand(
        "tap",
        "Print a sample of the records (or check results) of a node of a running weir as JSON "
        "lines (needs http.tap: true in weir.yaml)");
    tap->add_option("target", tap_opts.target, "PIPELINE/NODE")->required();
    tap->add_option("paths", tap_paths,
                    "The paths given to run (default /etc/weir/weir.yaml): the address is "
                    "http.listen of their weir.yaml");
    tap->add_flag("--results", tap_opts.results, "The node's check results instead of records");
    tap->add_option("--limit", tap_opts.limit, "Stop after this many lines (0: until Ctrl-C)")
        ->capture_default_str();
    tap->add_option("--rate", tap_opts.rate,
                    "At most this many a second (the daemon caps it at http.tap_rate)");
    tap->add_option("--url", tap_opts.url,
                    "The daemon's HTTP address (else http.listen of weir.yaml, else "
                    "http://127.0.0.1:9797)")
        ->envname("WEIR_STATUS_URL");

    top_options top_opts;
    std::vector<std::string> top_paths;
    auto* top = app.add_subcommand(
        "top", "Show each query of a running weir: input rate, lag, failing checks, errors");
    top->add_flag("--once", top_opts.once,
                  "Print one snapshot as plain text and exit (also when not on a terminal)");
    top->add_option("--interval", top_opts.interval, "Seconds between refreshes")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    top->add_option("paths", top_paths,
                    "The paths given to run (default /etc/weir/weir.yaml): the address is "
                    "http.listen of their weir.yaml");
    top->add_option("--url", top_opts.url,
                    "The daemon's HTTP address (else http.listen of weir.yaml, else "
                    "http://127.0.0.1:9797)")
        ->envname("WEIR_STATUS_URL");

    baseline_options baseline_opts;
    std::vector<std::string> baseline_paths;
    auto* baseline = app.add_subcommand(
        "baseline",
        "Reset or acknowledge the baseline of checks against history on a running weir (the "
        "daemon records each command in its log)");
    baseline->require_subcommand(1);
    const std::pair<const char*, const char*> baseline_actions[] = {
        {"reset",
         "Forget the history of a check (or of every check against history of the node), for "
         "one group or all: it warms up again"},
        {"acknowledge",
         "Learn the values a check held out as anomalous, so that a new level becomes its "
         "baseline"},
    };
    for (const auto& [name, what] : baseline_actions) {
        auto* action = baseline->add_subcommand(name, what);
        action->add_option("target", baseline_opts.target, "PIPELINE/NODE or PIPELINE/NODE/CHECK")
            ->required();
        action->add_option("paths", baseline_paths,
                           "The paths given to run (default /etc/weir/weir.yaml): the address is "
                           "http.listen of their weir.yaml");
        action
            ->add_option("--group", baseline_opts.groups,
                         "FIELD=VALUE of the group (repeat for each group_by field; VALUE is "
                         "JSON when it reads as a number, true, false, null or a quoted string, "
                         "else text); without it every group")
            ->allow_extra_args(false);
        action
            ->add_option("--url", baseline_opts.url,
                         "The daemon's HTTP address (else http.listen of weir.yaml, else "
                         "http://127.0.0.1:9797)")
            ->envname("WEIR_STATUS_URL");
        action->callback(
            [&baseline_opts, name = std::string(name)] { baseline_opts.action = name; });
    }

    std::string checkpoint_file;
    auto* checkpoint_cmd = app.add_subcommand("checkpoint", "Work with checkpoint files");
    checkpoint_cmd->require_subcommand(1);
    auto* inspect = checkpoint_cmd->add_subcommand("inspect", "Print a checkpoint file as JSON");
    inspect->add_option("file", checkpoint_file, "A .ckpt file")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }

    if (validate->parsed()) {
        config::load_result result;
        return load_and_report(paths, format == "json", deny_warnings, false, result,
                               config::load_options{.preflight = !portable});
    }
    if (graph->parsed()) {
        config::load_result result;
        // The graph is the language's: it is drawn for parts this build cannot run yet too.
        const int rc = load_and_report(paths, false, false, true, result,
                                       config::load_options{.refuse_unbuilt = false});
        if (rc != exit_ok) return rc;
        const auto f = graph_format == "dot"       ? config::graph_format::dot
                       : graph_format == "mermaid" ? config::graph_format::mermaid
                                                   : config::graph_format::text;
        std::cout << config::render_graph(result.config, f);
        return exit_ok;
    }
    if (schema->parsed()) {
        std::cout << (settings_schema ? config::settings_json_schema()
                                      : config::pipeline_json_schema(registry()))
                  << '\n';
        return exit_ok;
    }
    if (version->parsed()) {
        std::cout << version_text();
        return exit_ok;
    }
    if (run->parsed()) {
        defer_sighup();
        run_opts.fail_on = *parse_fail_on(fail_on_text);
        if (run_opts.paths.empty()) run_opts.paths = default_paths();
        // A flag beats its environment variable (CLI11 reads the variable only without the
        // flag); either beats the settings file.
        const auto settings = log_settings(run_opts.paths);
        logging_options log;
        log.level = *parse_log_level(
            log_level_opt->count() > 0 || settings.level.empty() ? log_level : settings.level);
        log.format = *parse_log_format(
            log_format_opt->count() > 0 || settings.format.empty() ? log_format : settings.format);
        configure_logging(log);
        const int rc = run_daemon(run_opts);
        record_problem_log().flush_suppressed();
        spdlog::default_logger()->flush();
        return rc;
    }
    if (test->parsed()) {
        return run_tests(test_opts, registry(), secret_tracking_env(), std::cout, std::cerr);
    }
    if (inspect->parsed()) return inspect_checkpoint(checkpoint_file);
    // status, tap and top ask --url, else where http.listen of the settings file says.
    const auto resolve_url = [](std::string& url, const std::vector<std::string>& paths) {
        if (url.empty()) url = status_url_from_settings(paths.empty() ? default_paths() : paths);
        return !url.empty();
    };
    if (status->parsed()) {
        if (!resolve_url(status_url, status_paths)) return exit_usage;
        return print_status(status_url, std::cout, std::cerr);
    }
    if (tap->parsed()) {
        if (!resolve_url(tap_opts.url, tap_paths)) return exit_usage;
        return run_tap(tap_opts, std::cerr);
    }
    if (baseline->parsed()) {
        if (!resolve_url(baseline_opts.url, baseline_paths)) return exit_usage;
        return run_baseline(baseline_opts, std::cout, std::cerr);
    }
    if (top->parsed()) {
        if (!resolve_url(top_opts.url, top_paths)) return exit_usage;
        return run_top(top_opts, std::cout, std::cerr);
    }
    return exit_usage;
} catch (const std::exception& e) {
    std::cerr << "weir: internal error: " << e.what() << '\n';
    return exit_failure;
}

}  // namespace weir::daemon
