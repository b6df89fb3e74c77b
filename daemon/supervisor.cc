// The daemon's supervisor; see supervisor.h.
#include "daemon/supervisor.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <thread>
#include <tuple>

#include "config/graph.h"
#include "config/load.h"
#include "config/plan.h"
#include "connectors/register.h"
#include "connectors/runtime.h"
#include "daemon/baseline.h"
#include "daemon/exit_codes.h"
#include "daemon/http_server.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/query.h"
#include "daemon/reload_plan.h"
#include "daemon/sd_notify.h"
#include "daemon/status.h"
#include "daemon/status_page.h"
#include "daemon/tap.h"

namespace weir::daemon {

namespace asio = boost::asio;

namespace {

time::timestamp_ns wall_now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// One running configuration: the loaded files (which queries point into), the outputs of
// each pipeline, and the queries.
struct generation {
    config::config_set config;
    std::map<std::string, std::map<std::string, std::shared_ptr<connectors::output>, std::less<>>>
        outputs;  // pipeline -> output name -> output
};

struct query_slot {
    std::shared_ptr<generation> gen;  // the outputs of the generation the query runs with
    std::shared_ptr<query> running;
    std::shared_ptr<const config::compiled_pipeline> pipeline;
    std::size_t index = 0;  // of the query in pipeline->queries
    const config::compiled_query& plan() const { return pipeline->queries[index]; }
    bool plan_changed = false;  // restarted by a reload with a new plan
    int failures = 0;           // consecutive, for the back-off; written under slots_mutex_
    bool finished = false;
    std::unique_ptr<asio::steady_timer> restart_timer;
    // Set once the query was asked to stop for good (a reload replaces or removes it, or the
    // daemon stops): it is then never restarted, and later stop requests wait for the same stop.
    struct stop_request {
        bool done = false;
        std::string write_error;  // why the final checkpoint was not written, once done
        std::vector<std::function<void(const std::string&)>> waiters;  // on the strand
    };
    std::shared_ptr<stop_request> stop;
};

// A configuration load on a thread of its own, for SIGHUP: config::load reads, parses and
// compiles every file, which must not hold a loop thread (with --threads 1, /health would stall
// for the whole load). The thread owns what it reads (the paths, the registry) and reaches its
// owner only through `deliver`, under a mutex, until disarm(); so the owner may stop and go away
// without waiting for it. One load at a time; start, disarm and finish from one thread.
class config_load_thread {
  public:
    using deliver_fn = std::function<void(config::load_result)>;

    config_load_thread() = default;
    config_load_thread(const config_load_thread&) = delete;
    config_load_thread& operator=(const config_load_thread&) = delete;
    ~config_load_thread() {
        // finish() first: the owner decides what to do with a load that still runs.
        disarm();
        if (thread_.joinable()) thread_.join();
    }

    // Precondition: the previous load delivered its result (or was disarmed).
    void start(std::vector<std::string> paths,
               std::shared_ptr<const params::component_registry> registry, deliver_fn deliver) {
        if (thread_.joinable()) thread_.join();  // it delivered: it is at its end
        auto shared = std::make_shared<shared_state>();
        shared->deliver = std::move(deliver);
        shared_ = shared;
        thread_ = std::thread([shared, paths = std::move(paths), registry = std::move(registry)] {
            {
                config::load_result loaded;
                try {
                    loaded = config::load(paths, *registry, secret_tracking_env());
                    for (const auto& s : loaded.secrets) add_secret(s);
                } catch (const std::exception& e) {
                    loaded.diags.error({}, "", std::string("loading failed: ") + e.what());
                }
                std::lock_guard lock(shared->mutex);
                if (shared->deliver) shared->deliver(std::move(loaded));
            }
            shared->finished = true;
        });
    }

    // From now on nothing is delivered (a result that arrives is discarded on that thread).
    void disarm() {
        if (!shared_) return;
        std::lock_guard lock(shared_->mutex);
        shared_->deliver = nullptr;
    }

    // Disarms, and joins the thread unless its load still runs: true when no thread is left.
    bool finish() {
        disarm();
        if (!thread_.joinable()) return true;
        if (!shared_->finished.load()) return false;
        thread_.join();
        return true;
    }

  private:
    struct shared_state {
        std::mutex mutex;
        deliver_fn deliver;  // null once disarmed
        std::atomic<bool> finished{false};
    };
    std::shared_ptr<shared_state> shared_;
    std::thread thread_;
};

// Runs step(0) … step(n - 1), then done(), on `executor`, spread out so that they take about a
// third of the event loop's time at most. A reload touches many queries: all at once, their
// handlers would queue ahead of everything else, and with --threads 1 a /health request would
// wait behind every one of them. After each step, a zero timer finds when the loop got through
// what the step queued (a query's start or stop) and what was waiting besides; the next step
// waits twice as long again. A timer rather than a post, so the reactor runs in between and what it
// found ready (a request) is served first.
class paced_steps : public std::enable_shared_from_this<paced_steps> {
  public:
    static constexpr int k_pause_per_turn = 2;

    paced_steps(asio::strand<asio::io_context::executor_type> executor, std::size_t n,
                std::function<void(std::size_t)> step, std::function<void()> done)
        : n_(n), step_(std::move(step)), done_(std::move(done)), timer_(std::move(executor)) {}

    void start() { next(); }

  private:
    void next() {
        if (i_ == n_) {
            done_();
            return;
        }
        step_(i_++);
        const auto queued = std::chrono::steady_clock::now();
        timer_.expires_after(std::chrono::steady_clock::duration::zero());
        // Nothing cancels the timer; when the io_context stops, the rest is dropped.
        timer_.async_wait([self = shared_from_this(), queued](const boost::system::error_code&) {
            self->timer_.expires_after(k_pause_per_turn *
                                       (std::chrono::steady_clock::now() - queued));
            self->timer_.async_wait([self](const boost::system::error_code&) { self->next(); });
        });
    }

    std::size_t n_;
    std::size_t i_ = 0;
    std::function<void(std::size_t)> step_;
    std::function<void()> done_;
    asio::steady_timer timer_;
};

// Set by SIGHUPs between defer_sighup() and the supervisor's signal_set taking over.
std::atomic<int> sighup_during_startup{0};
static_assert(std::atomic<int>::is_always_lock_free);

void remember_sighup(int) {
    sighup_during_startup.store(1);
}

class supervisor {
  public:
    supervisor(const run_options& options, unsigned threads,
               std::shared_ptr<const params::component_registry> registry)
        : options_(options),
          registry_(std::move(registry)),
          threads_(threads),
          strand_(asio::make_strand(io_)),
          signals_(io_, SIGINT, SIGTERM),
          shutdown_timer_(io_),
          output_stats_timer_(strand_) {
        connectors::register_builtin_factories(factories_);
        metrics_options mo;
        mo.version = WEIR_VERSION;
        metrics_ = std::make_unique<metrics>(mo);
    }

    // /ready: every critical query runs, and the daemon is neither reloading nor stopping.
    bool ready() {
        if (stopping_flag_.load() || reloading_flag_.load()) return false;
        std::lock_guard lock(slots_mutex_);
        for (const auto& [key, slot] : slots_) {
            if (!slot->running) return false;
            const auto state = slot->running->state();
            if (slot->running->critical() && state != query_state::running &&
                state != query_state::degraded && state != query_state::finished) {
                return false;
            }
        }
        return true;
    }

    // GET /api/v1/status, from any thread.
    daemon_status status() {
        daemon_status out;
        out.state = stopping_flag_.load()    ? "stopping"
                    : reloading_flag_.load() ? "reloading"
                                             : "running";
        std::lock_guard lock(slots_mutex_);
        for (const auto& [key, slot] : slots_) {
            query_status q;
            q.pipeline = slot->pipeline->name;
            q.query = slot->plan().name;
            std::set<std::string> grouped;
            for (const auto& n : slot->plan().chain->nodes) {
                q.nodes.push_back(n.name);
                if (n.engine && !n.engine->group_by.empty()) grouped.insert(n.name);
            }
            // Checks whose latest window failed (any group's, for grouped nodes), with how
            // many groups fail where that is known and the node is grouped.
            for (auto& f : metrics_->failing_checks(q.pipeline, q.nodes)) {
                failing_check_status c{f.node,
                                       f.check,
                                       grouped.count(f.node) && f.groups > 0
                                           ? std::optional<std::uint64_t>(f.groups)
                                           : std::nullopt,
                                       {}};
                for (auto& g : f.sample) {
                    c.failing_groups.push_back(
                        {std::move(g.group),
                         std::isfinite(g.value) ? std::optional<double>(g.value) : std::nullopt});
                }
                q.failing_checks.push_back(std::move(c));
            }
            for (const auto& in : slot->plan().chain->inputs) q.inputs.push_back(in.name);
            if (slot->running) {
                const query& running = *slot->running;
                q.state = to_string(running.state());
                q.degraded_reason = running.degraded_reason();
                query_figures& f = q.figures.emplace();
                f.critical = running.critical();
                if (const auto wm = running.watermark(); wm != 0) {
                    f.watermark = time::format_rfc3339_ms(wm);
                    f.lag_seconds = static_cast<double>(wall_now() - wm) / 1e9;
                }
                const query_counters& c = running.counters();
                f.input_records = c.input_records.load();
                f.invalid_records = c.invalid_records.load();
                f.results = c.results.load();
                f.checkpoints = c.checkpoints.load();
                f.sources = running.sources();
                f.merging = running.merging();
                f.dependencies = running.dependencies();
                f.ended_inputs = running.ended_inputs();
                // By reason name, as the JSON object reads back.
                for (std::size_t r = 0; r < c.invalid_by_reason.size(); ++r) {
                    const std::uint64_t n = c.invalid_by_reason[r].load();
                    if (n > 0) {
                        f.bad_records.emplace_back(to_string(static_cast<invalid_reason>(r)), n);
                    }
                }
                std::sort(f.bad_records.begin(), f.bad_records.end());
                f.last_bad_record = running.last_bad_record();
            } else {
                q.state = "starting";
            }
            q.restarts = static_cast<std::uint64_t>(slot->failures);
            out.queries.push_back(std::move(q));
        }
        return out;
    }

    // GET / and /status, from any thread: the status model, the graphs and checks of the
    // plans that run, and a copy of the check history, rendered after every lock is released.
    std::string status_page_html() {
        status_page page;
        page.status = status();
        page.version = WEIR_VERSION;
        page.generated_at = time::format_rfc3339_ms(wall_now());
        std::map<std::string, std::shared_ptr<const config::compiled_pipeline>> pipelines;
        {
            std::lock_guard lock(slots_mutex_);
            for (const auto& [key, slot] : slots_) {
                pipelines.emplace(slot->pipeline->name, slot->pipeline);
            }
        }
        std::map<std::tuple<std::string, std::string, std::string>, check_snapshot> history;
        for (auto& s : history_.snapshot()) {
            auto key = std::make_tuple(s.pipeline, s.node, s.check);
            history.emplace(std::move(key), std::move(s));
        }
        using kind = graph_vertex::kind;
        for (const auto& [name, p] : pipelines) {
            pipeline_graph& g = page.graphs.emplace_back();
            g.pipeline = name;
            for (const auto& in : p->inputs) g.vertex(kind::input, in.name);
            for (const auto& q : p->queries) {
                const chain::chain_plan& chain = *q.chain;
                for (const auto& n : chain.nodes) {
                    const std::size_t v = g.vertex(kind::node, n.name);
                    for (const auto& f : n.from) {
                        g.edge(f.type == chain::source_ref::kind::input
                                   ? g.vertex(kind::input, chain.inputs[f.index].name)
                                   : g.vertex(kind::node, chain.nodes[f.index].name),
                               v);
                    }
                    for (const auto o : n.outputs)
                        g.edge(v, g.vertex(kind::output, chain.outputs[o]));
                    if (n.late_output)
                        g.edge(v, g.vertex(kind::output, chain.outputs[*n.late_output]));
                    if (n.dead_letter)
                        g.edge(v, g.vertex(kind::output, chain.outputs[*n.dead_letter]));
                    if (!n.engine) continue;
                    for (const auto& c : n.engine->checks) {
                        page_check& pc = page.checks.emplace_back();
                        pc.pipeline = name;
                        pc.query = q.name;
                        pc.node = n.name;
                        pc.check = c.name;
                        pc.measure = c.measure;
                        pc.must_be = c.must_be;
                        pc.should_be = c.should_be;
                        pc.grouped = !n.engine->group_by.empty();
                        if (auto it = history.find({name, n.name, c.name}); it != history.end()) {
                            pc.history = std::move(it->second);
                        }
                        for (const auto& qs : page.status.queries) {
                            if (qs.pipeline != name || qs.query != q.name) continue;
                            for (const auto& f : qs.failing_checks) {
                                if (f.node == n.name && f.check == c.name && f.groups) {
                                    pc.failing_groups = f.groups;
                                }
                            }
                        }
                    }
                }
            }
            for (const auto& out : p->outputs) g.vertex(kind::output, out.name);
        }
        return render_status_page(page);
    }

    int run(const std::vector<std::string>& paths, config::load_result loaded) {
        settings_ = loaded.config.settings;
        data_dir_ = !options_.data_dir.empty()         ? options_.data_dir
                    : settings_.data_dir.value.empty() ? std::string("/var/lib/weir")
                                                       : settings_.data_dir.value;
        paths_ = paths;

        // --once is a data test: the same results every run, as any user, beside an installed
        // daemon. So it reads and writes no checkpoint unless asked.
        const bool keep_checkpoints =
            !options_.once || options_.resume || !options_.data_dir.empty();
        if (!keep_checkpoints) {
            if (!options_.reset_checkpoints.empty()) {
                std::cerr << "weir: --reset-checkpoint: --once keeps no checkpoint unless "
                             "--resume or --data-dir is given\n";
                return exit_usage;
            }
            spdlog::info(
                "--once: no checkpoint is read or written (--resume or --data-dir "
                "keeps them)");
            return run_queries(std::move(loaded));
        }
        store_ = std::make_unique<checkpoint_store>(data_dir_);
        std::string error;
        if (!store_->check_data_dir(error)) {
            std::cerr << "weir: data dir " << error
                      << "; run weir as the user that owns it, give it to weir's user alone "
                         "(chown, chmod o-w), or choose another data_dir\n";
            return exit_config;
        }
        if (const int rc = reset_checkpoints(loaded.config); rc != exit_ok) return rc;
        return run_queries(std::move(loaded));
    }

  private:
    int run_queries(config::load_result loaded) {
        std::string error;
        tap_settings_.enabled = settings_.http_tap.value;
        tap_settings_.remote = settings_.http_tap_remote.value;
        if (settings_.http_tap_rate.value > 0) {
            tap_settings_.max_rate = static_cast<double>(settings_.http_tap_rate.value);
        }
        auto gen = std::make_shared<generation>();
        gen->config = std::move(loaded.config);
        if (!build_outputs(*gen, error)) {
            std::cerr << "weir: " << redact(error) << '\n';
            return exit_failure;
        }
        remember_outputs(*gen);
        for (const auto& p : gen->config.pipelines) {
            for (std::size_t i = 0; i < p.plan->queries.size(); ++i) {
                add_query(gen, p.plan, i, false);
            }
        }
        if (slots_.empty()) {
            std::cerr << "weir: no pipelines to run\n";
            return exit_config;
        }
        if (options_.once) declare_checks(*gen);

        // --once starts the HTTP server only when the command line (or its environment
        // variable) asks: the settings file is the installed daemon's, whose port it holds.
        const std::string listen = !options_.http_listen.empty() ? options_.http_listen
                                   : options_.once               ? std::string()
                                   : settings_.http_listen.value.empty()
                                       ? std::string("127.0.0.1:9797")
                                       : settings_.http_listen.value;
        if (!listen.empty()) {
            try {
                http_handlers handlers;
                handlers.ready = [this] { return ready(); };
                handlers.status_json = [this] { return to_json(status()); };
                handlers.metrics_text = [this] { return metrics_->serialize(); };
                handlers.status_page = [this] { return status_page_html(); };
                handlers.render = [this](std::function<void()> work) {
                    asio::post(render_, std::move(work));
                };
                handlers.tap = [this](std::string_view target, bool loopback) {
                    return open_tap(*taps_, tap_settings_, target, loopback,
                                    [this](auto pipeline, auto node, tap_kind kind) {
                                        return tap_refusal(pipeline, node, kind);
                                    });
                };
                handlers.baseline = [this](std::string_view action, const std::string& body,
                                           const std::string& peer, bool loopback,
                                           std::function<void(http_answer)> done) {
                    baseline_command(action, body, peer, loopback, std::move(done));
                };
                http_ = std::make_unique<http_server>(io_, listen, std::move(handlers));
            } catch (const std::exception& e) {
                std::cerr << "weir: HTTP server on " << listen << ": " << e.what() << '\n';
                return exit_failure;
            }
            spdlog::info(
                "HTTP server on {}:{} (/metrics, /health, /ready, /api/v1/status, / the "
                "status page)",
                listen.substr(0, listen.rfind(':')), http_->local_port());
            if (tap_settings_.enabled) {
                spdlog::info(
                    "live taps on /api/v1/tap (weir tap): at most {} items a second "
                    "each, {}",
                    tap_settings_.max_rate,
                    tap_settings_.remote ? "for every client" : "for clients on this machine only");
            }
        }

        // From here on SIGHUP is the signal_set's. Those that came while the configuration
        // was loading (defer_sighup) become one reload: the files may have changed since
        // they were read.
        signals_.add(SIGHUP);
        const bool reload_now = sighup_during_startup.exchange(0) != 0;
        wait_for_signal();
        for (auto& [key, slot] : slots_) start_query(*slot);
        notifier_->ready_when([this] { return ready(); },
                              "running " + std::to_string(slots_.size()) +
                                  (slots_.size() == 1 ? " query" : " queries"));
        notifier_->start_watchdog();
        asio::post(strand_, [this] { schedule_output_stats(); });
        if (reload_now) {
            asio::post(strand_, [this] {
                spdlog::info("SIGHUP came during start-up: reloading once, now");
                reload();
            });
        }

        auto work = asio::make_work_guard(io_);
        std::vector<std::thread> pool;
        for (unsigned i = 1; i < threads_; ++i) pool.emplace_back([this] { io_.run(); });
        io_.run();
        for (auto& t : pool) t.join();
        // A checkpoint file still being written is finished (what it posts to the stopped io_
        // is dropped with io_), so that no handler of blocking_ holds a query past io_.
        blocking_.join();
        render_.join();
        if (options_.once && all_finished_) report_once();
        if (!loader_.finish()) {
            // A shutdown came during a reload's load, which cannot be interrupted. Rather than
            // delay the exit until it ends, the process ends here, without the destructors that
            // load may still use (static declarations, the secrets list): every query and
            // output is stopped, flushed and checkpointed by now.
            spdlog::info("exiting without waiting for the configuration load still running");
            spdlog::default_logger()->flush();
            std::cout.flush();
            std::_Exit(exit_code_.load());
        }
        return exit_code_.load();
    }

    // Why the node cannot be tapped now, "" when it can. Any thread.
    std::string tap_refusal(std::string_view pipeline, std::string_view node, tap_kind kind) {
        std::lock_guard lock(slots_mutex_);
        bool pipeline_known = false;
        for (const auto& [key, slot] : slots_) {
            if (slot->pipeline->name != pipeline) continue;
            pipeline_known = true;
            for (const auto& n : slot->plan().chain->nodes) {
                if (n.name != node) continue;
                if (kind == tap_kind::results && !n.engine) {
                    return fmt::format(
                        "node \"{}\" of pipeline \"{}\" has no checks, so no results: tap "
                        "its records instead",
                        node, pipeline);
                }
                return "";
            }
        }
        if (!pipeline_known) return fmt::format("no pipeline \"{}\" runs here", pipeline);
        return fmt::format("pipeline \"{}\" has no node \"{}\"", pipeline, node);
    }

    // POST /api/v1/baselines/<action>, on a connection's strand: the request is checked
    // against the plans that run (400, 404), then applied on the strand of the query holding
    // the node; `done` gets {"series": n} once it was, and the log records it.
    void baseline_command(std::string_view action, const std::string& body, const std::string& peer,
                          bool loopback, std::function<void(http_answer)> done) {
        const auto refuse = [&done](unsigned status, const std::string& why) {
            nlohmann::json out;
            out["error"] = why;
            done({status, out.dump() + "\n"});
        };
        // Commands change what checks judge against: taken from this machine only, unless
        // http.commands_remote opens them to others (as http.tap_remote does for taps).
        if (!loopback && !settings_.http_commands_remote.value) {
            refuse(403,
                   "baseline commands are taken from clients on this machine only "
                   "(http.commands_remote: true in weir.yaml takes them from others too)");
            return;
        }
        std::string error;
        const auto command = parse_history_command(action);
        auto request = command ? parse_baseline_request(*command, body, error) : std::nullopt;
        if (!request) {
            refuse(400, command ? error : "unknown command");
            return;
        }
        std::shared_ptr<query> target;
        std::optional<group_key> group;
        {
            std::lock_guard lock(slots_mutex_);
            bool pipeline_known = false;
            const chain::node_plan* node = nullptr;
            for (const auto& [key, slot] : slots_) {
                if (slot->pipeline->name != request->pipeline) continue;
                pipeline_known = true;
                for (const auto& n : slot->plan().chain->nodes) {
                    if (n.name != request->node) continue;
                    node = &n;
                    target = slot->running;
                }
                if (node != nullptr) break;
            }
            if (!pipeline_known) {
                refuse(404, fmt::format("no pipeline \"{}\" runs here", request->pipeline));
                return;
            }
            if (node == nullptr) {
                refuse(404, fmt::format("pipeline \"{}\" has no node \"{}\"", request->pipeline,
                                        request->node));
                return;
            }
            bool found = false, against_history = false;
            if (node->engine) {
                for (const auto& c : node->engine->checks) {
                    if (!request->check.empty() && c.name != request->check) continue;
                    found = true;
                    against_history = against_history || judges_against_history(c);
                }
            }
            if (!against_history) {
                const std::string where = request->pipeline + "/" + request->node;
                refuse(404,
                       request->check.empty()
                           ? fmt::format("node {} has no check against history", where)
                       : found ? fmt::format("check \"{}\" of node {} does not judge against "
                                             "history",
                                             request->check, where)
                               : fmt::format("node {} has no check \"{}\"", where, request->check));
                return;
            }
            group = resolve_group(*request, *node->engine, error);
            if (!group) {
                refuse(400, error);
                return;
            }
            if (!request->group) group.reset();
        }
        if (!target) {
            refuse(503, fmt::format("the query of node {}/{} is not running (restarting after a "
                                    "failure?); try again",
                                    request->pipeline, request->node));
            return;
        }
        const std::string what = describe_target(*request);
        const std::string verb = to_string(request->command);
        target->command_history(
            request->command, request->node, request->check, std::move(group),
            [what, verb, peer, pipeline = target->pipeline(), query = target->name(),
             node = request->node,
             done = std::move(done)](std::optional<std::size_t> series, const std::string& why) {
                const log_scope scope({.pipeline = pipeline, .query = query, .node = node});
                if (!series) {
                    spdlog::warn("baseline {} of {}, asked by {}, not applied: {}", verb, what,
                                 peer, why);
                    nlohmann::json out;
                    out["error"] = why;
                    done({503, out.dump() + "\n"});
                    return;
                }
                spdlog::info("baseline {} of {}, asked by {}: {} series affected ({})", verb, what,
                             peer, *series,
                             verb == "reset" ? "their history is forgotten: they warm up again"
                                             : "the values they held out as anomalous are learned");
                done({200, fmt::format("{{\"series\":{}}}\n", *series)});
            });
    }

    // Every check of the configuration, so that the summary names those that gave no result.
    void declare_checks(const generation& gen) {
        for (const auto& p : gen.config.pipelines) {
            for (const auto& q : p.plan->queries) {
                for (const auto& n : q.chain->nodes) {
                    if (!n.engine) continue;
                    for (const auto& c : n.engine->checks) {
                        summary_.declare_check(p.name, n.name, c.name);
                    }
                }
            }
        }
    }

    // --once, every query finished: the summary on stderr (stdout may carry the results), and
    // the exit code from the outcomes unless the run failed otherwise.
    void report_once() {
        std::cerr << summary_.text();
        int expected = exit_ok;
        if (exit_code_.compare_exchange_strong(expected, summary_.exit_code(options_.fail_on))) {
            std::cerr << summary_.verdict(options_.fail_on);
        }
        std::cerr.flush();
    }

    // --reset-checkpoint: each PIPELINE/QUERY must name a query of the configuration (a
    // mistyped or crafted name removes nothing); all are checked before any is removed. Says
    // what was removed.
    int reset_checkpoints(const config::config_set& config) {
        std::set<std::string> known;
        for (const auto& p : config.pipelines) {
            for (const auto& q : p.plan->queries) known.insert(query_key(p.name, q.name));
        }
        for (const auto& spec : options_.reset_checkpoints) {
            if (known.contains(spec)) continue;
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            std::cerr << "weir: --reset-checkpoint " << spec
                      << ": no such query; expected PIPELINE/QUERY, one of: " << list << '\n';
            return exit_usage;
        }
        for (const auto& spec : options_.reset_checkpoints) {
            const auto slash = spec.find('/');
            const std::string pipeline = spec.substr(0, slash);
            const std::string query = spec.substr(slash + 1);
            const std::string file = store_->path(pipeline, query);
            std::string error;
            switch (store_->reset(pipeline, query, error)) {
                case checkpoint_store::reset_status::removed:
                    spdlog::info("--reset-checkpoint {}: removed {}: the query starts afresh", spec,
                                 file);
                    break;
                case checkpoint_store::reset_status::absent:
                    spdlog::info(
                        "--reset-checkpoint {}: there was no checkpoint ({}): the query "
                        "starts afresh",
                        spec, file);
                    break;
                case checkpoint_store::reset_status::failed:
                    std::cerr << "weir: --reset-checkpoint " << spec << ": " << error << '\n';
                    return exit_failure;
            }
        }
        return exit_ok;
    }

    bool build_outputs(generation& gen, std::string& error) {
        for (const auto& p : gen.config.pipelines) {
            if (!build_pipeline_outputs(gen, p, error)) return false;
        }
        return true;
    }

    bool build_pipeline_outputs(generation& gen, const config::pipeline_config& p,
                                std::string& error) {
        auto& outs = gen.outputs[p.name];
        for (const auto& o : p.plan->outputs) {
            auto factory = factories_.outputs.find(o.type);
            if (factory == factories_.outputs.end()) {
                // The plan refuses types without a factory: a bug of the registration.
                error = "pipeline " + p.name + ": output \"" + o.name + "\": type " + o.type +
                        " has no factory";
                return false;
            }
            connectors::output_context ctx;
            ctx.executor = asio::make_strand(io_);
            ctx.blocking = blocking_.get_executor();
            ctx.pipeline = p.name;
            ctx.output = o.name;
            ctx.clock = wall_now;
            try {
                outs[o.name] = factory->second(params::reader(*o.spec, o.params), ctx);
                all_outputs_.push_back(outs[o.name]);
            } catch (const std::exception& e) {
                error = "pipeline " + p.name + ": output \"" + o.name + "\": " + e.what();
                return false;
            }
        }
        return true;
    }

    void add_query(const std::shared_ptr<generation>& gen,
                   const std::shared_ptr<const config::compiled_pipeline>& p, std::size_t index,
                   bool plan_changed) {
        auto slot = std::make_unique<query_slot>();
        slot->gen = gen;
        slot->pipeline = p;
        slot->index = index;
        slot->restart_timer = std::make_unique<asio::steady_timer>(io_);
        slot->plan_changed = plan_changed;
        std::lock_guard lock(slots_mutex_);
        slots_[p->name + "/" + slot->plan().name] = std::move(slot);
    }

    void start_query(query_slot& slot) {
        const std::string key = slot.pipeline->name + "/" + slot.plan().name;
        query_environment env;
        env.io = &io_;
        env.checkpoints = store_.get();
        env.factories = &factories_;
        env.clock = wall_now;
        env.outputs = slot.gen->outputs[slot.pipeline->name];
        env.once = options_.once;
        if (options_.once) env.summary = &summary_;
        env.checkpoint_interval = settings_.checkpoint_interval.value.count() > 0
                                      ? settings_.checkpoint_interval.value
                                      : std::chrono::milliseconds(10'000);
        env.plan_changed = slot.plan_changed;
        env.metrics = metrics_.get();
        env.history = &history_;
        env.blocking = blocking_.get_executor();
        env.lanes = options_.spread_partitions ? threads_ : 1;
        if (tap_settings_.enabled) env.taps = taps_;
        query::listener events;
        events.failed = [this, key](const std::string& message, bool rebuild) {
            asio::post(strand_,
                       [this, key, message, rebuild] { on_query_failed(key, message, rebuild); });
        };
        events.finished = [this, key](const std::string& checkpoint_error) {
            asio::post(strand_,
                       [this, key, checkpoint_error] { on_query_finished(key, checkpoint_error); });
        };
        auto q =
            std::make_shared<query>(slot.pipeline, slot.index, std::move(env), std::move(events));
        {
            std::lock_guard lock(slots_mutex_);
            slot.running = q;
        }
        slot.running->start();
    }

    void on_query_failed(const std::string& key, const std::string& message, bool rebuild) {
        auto it = slots_.find(key);
        if (it == slots_.end() || stopping_ || it->second->stop) return;
        query_slot& slot = *it->second;
        const log_scope scope({.pipeline = slot.pipeline->name,
                               .query = slot.plan().name,
                               .node = slot.plan().chain->nodes.back().name});
        // An input that lost its client is rebuilt from the checkpoint, critical or not.
        if (!rebuild && (slot.running->critical() || options_.once)) {
            // The level says critical; the message says why weir stops.
            spdlog::critical("query {} failed: {}; weir stops ({})", key, message,
                             slot.running->critical() ? "the query is critical" : "--once");
            std::cerr << "weir: " << (slot.running->critical() ? "critical " : "") << "query "
                      << key << " (node " << slot.plan().chain->nodes.back().name
                      << ") failed: " << redact(message) << '\n';
            shutdown(exit_failure);
            return;
        }
        // Capped exponential back-off: 1 s, 2 s, 4 s … 60 s.
        const int exponent = std::min(slot.failures, 6);
        const auto delay = std::chrono::seconds(std::min(60, 1 << exponent));
        {
            std::lock_guard lock(slots_mutex_);
            ++slot.failures;
        }
        spdlog::error("query {} failed: {}; restarting in {} s", key, message, delay.count());
        slot.restart_timer->expires_after(delay);
        slot.restart_timer->async_wait([this, key](const boost::system::error_code& ec) {
            if (ec) return;
            asio::post(strand_, [this, key] {
                auto it = slots_.find(key);
                if (it == slots_.end() || stopping_ || it->second->stop) return;
                start_query(*it->second);
            });
        });
    }

    // --once: a query whose final checkpoint failed has still written its results; the others
    // go on to write theirs, and the failure is reported when all are done.
    void on_query_finished(const std::string& key, const std::string& checkpoint_error) {
        auto it = slots_.find(key);
        if (it == slots_.end()) return;
        it->second->finished = true;
        if (!checkpoint_error.empty()) unwritten_checkpoints_.emplace_back(key, checkpoint_error);
        for (const auto& [k, slot] : slots_) {
            if (!slot->finished) return;
        }
        spdlog::info("every input ended: stopping");
        all_finished_ = true;
        shutdown(exit_ok);
    }

    void wait_for_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            asio::post(strand_, [this, signal] {
                if (signal == SIGHUP) {
                    reload();
                } else if (stopping_) {
                    // The same signal delivered twice at once (to the process and its group,
                    // as `timeout` does) is one request; a second Ctrl-C later quits now.
                    if (std::chrono::steady_clock::now() - first_signal_ <
                        std::chrono::milliseconds(500)) {
                        return;
                    }
                    spdlog::warn("second signal: quitting at once");
                    spdlog::default_logger()->flush();
                    std::_Exit(exit_failure);
                } else {
                    first_signal_ = std::chrono::steady_clock::now();
                    spdlog::info("signal {}: draining and stopping", signal);
                    shutdown(exit_ok);
                }
            });
            wait_for_signal();
        });
    }

    // SIGHUP: load and validate the files again, off the loop threads (config_load_thread);
    // on_loaded() applies the result on the strand. Signals during a reload are coalesced into
    // one more reload once it is over.
    void reload() {
        if (stopping_) return;
        if (reloading_) {
            reload_again_ = true;
            return;
        }
        reloading_ = true;
        reloading_flag_ = true;
        notifier_->reloading();
        spdlog::info("SIGHUP: reloading {}", fmt_paths());
        try {
            loader_.start(paths_, registry_, [this](config::load_result loaded) {
                asio::post(strand_, [this, loaded = std::move(loaded)]() mutable {
                    on_loaded(std::move(loaded));
                });
            });
        } catch (const std::system_error& e) {  // no thread to be had
            spdlog::error("reload failed: cannot start loading: {}", e.what());
            metrics_->count_reload(false);
            finish_reload();
        }
    }

    // The loaded configuration, on the strand. Invalid: every error is logged and the running
    // configuration stays. Valid: queries whose plan and pipeline outputs are unchanged keep
    // running; those that measure the same but judge, emit or write differently stop with a
    // checkpoint and start the new plan from it, open windows included; those whose measures
    // changed stop with a checkpoint and start again without its windows (their inputs resume
    // where they were); removed ones stop; new ones start.
    void on_loaded(config::load_result loaded) {
        if (stopping_) {
            spdlog::info("reload abandoned: the daemon is stopping");
            finish_reload();
            return;
        }
        for (const auto& d : loaded.diags.sorted()) {
            if (d.severity == severity::error) {
                spdlog::error("reload: {}", format(d));
            } else {
                spdlog::warn("reload: {}", format(d));
            }
        }
        if (loaded.diags.has_errors()) {
            metrics_->count_reload(false);
            spdlog::error("reload failed: {} errors; the running configuration stays",
                          loaded.diags.error_count());
            finish_reload();
            return;
        }

        auto gen = std::make_shared<generation>();
        gen->config = std::move(loaded.config);
        // Outputs of a pipeline whose outputs section did not change are kept (shared).
        for (const auto& p : gen->config.pipelines) {
            auto old = outputs_by_pipeline_.find(p.name);
            if (old != outputs_by_pipeline_.end() &&
                old->second.first == p.plan->outputs_fingerprint) {
                gen->outputs[p.name] = old->second.second;
                continue;
            }
            std::string error;
            if (!build_pipeline_outputs(*gen, p, error)) {
                spdlog::error("reload failed: {}; the running configuration stays", error);
                metrics_->count_reload(false);
                finish_reload();
                return;
            }
        }

        query_identities running, wanted_ids;
        for (const auto& [key, slot] : slots_) {
            running[key] = {slot->plan().fingerprint, slot->plan().judgement_fingerprint,
                            slot->pipeline->outputs_fingerprint};
        }
        std::map<std::string,
                 std::pair<std::shared_ptr<const config::compiled_pipeline>, std::size_t>>
            wanted;
        for (const auto& p : gen->config.pipelines) {
            for (std::size_t i = 0; i < p.plan->queries.size(); ++i) {
                const std::string key = query_key(p.name, p.plan->queries[i].name);
                wanted[key] = {p.plan, i};
                wanted_ids[key] = {p.plan->queries[i].fingerprint,
                                   p.plan->queries[i].judgement_fingerprint,
                                   p.plan->outputs_fingerprint};
            }
        }
        reload_plan planned = plan_reload(running, wanted_ids);
        metrics_->count_reload(true);
        spdlog::info(
            "reload: {} queries kept, {} restarted, {} removed, {} added, {} resumed with their "
            "open windows",
            planned.keep.size(), planned.restart.size(), planned.remove.size(), planned.add.size(),
            planned.resume.size());
        for (const auto& key : planned.resume) {
            spdlog::info("reload: resuming query {} with its open windows", key);
        }
        for (const auto& key : planned.restart) spdlog::info("reload: restarting query {}", key);
        // Both stop with a checkpoint and start the new plan; a resumed query's checkpoint fits
        // the new plan, so it restores everything, its open windows included.
        planned.restart.insert(planned.restart.end(), planned.resume.begin(), planned.resume.end());
        auto plan = std::make_shared<const reload_plan>(std::move(planned));

        // Stop what changes, then start the new plans once their checkpoints are written; both
        // spread over the loop's turns (paced_steps).
        auto then = [this, gen, wanted = std::move(wanted), plan] {
            if (stopping_) {
                // The shutdown that came meanwhile stops what runs; nothing new starts.
                finish_reload();
                return;
            }
            // Exactly the pipelines configured now: a removed pipeline's outputs are not
            // metered on, nor reused should it come back.
            outputs_by_pipeline_.clear();
            remember_outputs(*gen);
            const std::size_t removed = plan->remove.size();
            const std::size_t restarted = plan->restart.size();
            auto step = [this, gen, wanted, plan, removed, restarted](std::size_t i) {
                if (stopping_) return;
                if (i < removed) {
                    const std::string& key = plan->remove[i];
                    std::lock_guard lock(slots_mutex_);
                    const auto& slot = *slots_.at(key);
                    for (const auto& n : slot.plan().chain->nodes) {
                        metrics_->remove_node(slot.pipeline->name, n.name);
                    }
                    slots_.erase(key);
                    return;
                }
                const bool restart = i < removed + restarted;
                const std::string& key =
                    restart ? plan->restart[i - removed] : plan->add[i - removed - restarted];
                if (restart) {
                    std::lock_guard lock(slots_mutex_);
                    slots_.erase(key);
                }
                const auto& [p, index] = wanted.at(key);
                add_query(gen, p, index, restart);
                start_query(*slots_.at(key));
            };
            paced(removed + restarted + plan->add.size(), std::move(step), [this] {
                if (!stopping_) {
                    spdlog::info("reload done: {} queries (the new ones are starting)",
                                 slots_.size());
                }
                finish_reload();
            });
        };
        std::vector<std::string> stopping = plan->restart;
        stopping.insert(stopping.end(), plan->remove.begin(), plan->remove.end());
        if (stopping.empty()) {
            then();
            return;
        }
        auto left = std::make_shared<std::size_t>(stopping.size());
        auto last = std::make_shared<std::function<void()>>(std::move(then));
        auto stop_one = [this, stopping, left, last](std::size_t i) {
            auto& slot = *slots_.at(stopping[i]);
            if (!slot.running) {  // waiting for a restart after a failure
                slot.restart_timer->cancel();
                if (--*left == 0) (*last)();
                return;
            }
            stop_slot(slot, [left, last](const std::string&) {
                if (--*left == 0) (*last)();
            });
        };
        paced(stopping.size(), std::move(stop_one), [] {});
    }

    // See paced_steps.
    void paced(std::size_t n, std::function<void(std::size_t)> step, std::function<void()> done) {
        std::make_shared<paced_steps>(strand_, n, std::move(step), std::move(done))->start();
    }

    // The status page's history keeps the checks that still run.
    void forget_removed_checks() {
        std::vector<check_history::check_id> keep;
        std::lock_guard lock(slots_mutex_);
        for (const auto& [key, slot] : slots_) {
            for (const auto& n : slot->plan().chain->nodes) {
                if (!n.engine) continue;
                for (const auto& c : n.engine->checks) {
                    keep.push_back({slot->pipeline->name, n.name, c.name});
                }
            }
        }
        history_.retain(keep);
    }

    void finish_reload() {
        // Outputs built by a reload that failed later, or replaced by it. A shutdown stops
        // every output itself.
        if (!stopping_) stop_unused_outputs();
        forget_removed_checks();
        reloading_ = false;
        reloading_flag_ = false;
        if (stopping_) return;
        if (reload_again_) {
            reload_again_ = false;
            reload();
            return;
        }
        notifier_->ready_when([this] { return ready(); }, "running, reloaded");
    }

    // Stops the slot's query for good, once whoever asks (a reload and a shutdown may both);
    // `done` runs on the strand after its final checkpoint, with why that checkpoint's file was
    // not written ("" when it was). Precondition: slot.running.
    void stop_slot(query_slot& slot, std::function<void(const std::string& write_error)> done) {
        slot.restart_timer->cancel();
        if (!slot.stop) {
            slot.stop = std::make_shared<query_slot::stop_request>();
            slot.running->stop([this, request = slot.stop](const std::string& write_error) {
                asio::post(strand_, [request, write_error] {
                    request->done = true;
                    request->write_error = write_error;
                    auto waiters = std::move(request->waiters);
                    for (auto& f : waiters) f(request->write_error);
                });
            });
        }
        if (slot.stop->done) {
            asio::post(strand_, [done = std::move(done), request = slot.stop] {
                done(request->write_error);
            });
        } else {
            slot.stop->waiters.push_back(std::move(done));
        }
    }

    std::string fmt_paths() const {
        std::string s;
        for (const auto& p : paths_) s += (s.empty() ? "" : " ") + p;
        return s;
    }

    // weir_output_records_total and weir_output_errors_total, from the outputs' own counts
    // once a second (outputs count on their strands; deliveries are not metered one by one).
    void schedule_output_stats() {
        output_stats_timer_.expires_after(std::chrono::seconds(1));
        output_stats_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            update_output_metrics();
            if (!stopping_flag_.load()) schedule_output_stats();
        });
    }

    void update_output_metrics() {
        std::map<std::shared_ptr<connectors::output>, connectors::output_stats> seen;
        std::set<std::shared_ptr<connectors::output>> blocked_now;
        for (const auto& [pipeline, entry] : outputs_by_pipeline_) {
            for (const auto& [name, out] : entry.second) {
                const connectors::output_stats now = out->stats();
                const connectors::output_stats before = output_stats_seen_[out];
                output_metrics& m = metrics_->output(pipeline, name);
                if (now.records > before.records) {
                    m.records.Increment(static_cast<double>(now.records - before.records));
                }
                if (now.errors > before.errors) {
                    m.errors.Increment(static_cast<double>(now.errors - before.errors));
                }
                seen[out] = now;
                const std::uint64_t queued = out->pending();
                m.queued.Set(static_cast<double>(queued));
                const std::string blocked = out->blocked();
                m.blocked.Set(blocked.empty() ? 0 : 1);
                const bool was_blocked = blocked_outputs_.contains(out);
                if (!blocked.empty() && !was_blocked) {
                    spdlog::warn(
                        "output {}/{} blocked: {}; {} records wait in memory, nothing is dropped, "
                        "and no checkpoint passes them until it delivers again",
                        pipeline, name, blocked, queued);
                } else if (blocked.empty() && was_blocked) {
                    spdlog::info("output {}/{} delivers again", pipeline, name);
                }
                if (!blocked.empty()) blocked_now.insert(out);
            }
        }
        output_stats_seen_ = std::move(seen);  // replaced outputs are forgotten
        blocked_outputs_ = std::move(blocked_now);
    }

    // After the outputs stopped: what a blocked output still held is not lost, as the final
    // checkpoint was skipped for it, but it is only written after the next start. Said loudly.
    void report_undelivered() {
        for (const auto& [pipeline, entry] : outputs_by_pipeline_) {
            for (const auto& [name, out] : entry.second) {
                const std::string blocked = out->blocked();
                if (blocked.empty()) continue;
                spdlog::error(
                    "output {}/{} stopped without delivering everything ({}); no checkpoint "
                    "covers what it held: those results are produced again at the next start",
                    pipeline, name, blocked);
            }
        }
    }

    void remember_outputs(const generation& gen) {
        for (const auto& p : gen.config.pipelines) {
            outputs_by_pipeline_[p.name] = {p.plan->outputs_fingerprint, gen.outputs.at(p.name)};
        }
    }

    // Outputs no running query's generation uses any more are flushed and closed.
    void stop_unused_outputs() {
        std::set<connectors::output*> used;
        for (const auto& [key, slot] : slots_) {
            for (const auto& [p, outs] : slot->gen->outputs) {
                for (const auto& [name, out] : outs) used.insert(out.get());
            }
        }
        for (auto it = all_outputs_.begin(); it != all_outputs_.end();) {
            if (used.count(it->get())) {
                ++it;
                continue;
            }
            (*it)->stop([] {});
            it = all_outputs_.erase(it);
        }
    }

    // Stops every query (each writes its final checkpoint), then the outputs, within
    // shutdown_timeout.
    void shutdown(int code) {
        if (stopping_) return;
        stopping_ = true;
        stopping_flag_ = true;
        notifier_->stopping();
        if (http_) http_->begin_shutdown();
        // An output whose endpoint is down stops retrying, so the stop is bounded by one
        // attempt rather than every retry (its results are sent again after a restart).
        for (const auto& out : all_outputs_) out->begin_shutdown();
        exit_code_ = code;
        const auto timeout = settings_.shutdown_timeout.value.count() > 0
                                 ? settings_.shutdown_timeout.value
                                 : std::chrono::milliseconds(30'000);
        shutdown_timer_.expires_after(timeout);
        shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            spdlog::error("shutdown_timeout passed: quitting without waiting further");
            // As a second signal does: whatever still waits (a webhook that never answers)
            // is abandoned at once, without running destructors that would wait for it.
            record_problem_log().flush_suppressed();
            spdlog::default_logger()->flush();
            std::_Exit(exit_failure);
        });
        auto left = std::make_shared<std::size_t>(0);
        for (auto& [key, slot] : slots_) {
            slot->restart_timer->cancel();
            if (slot->running) ++*left;
        }
        if (*left == 0) {
            stop_outputs();
            return;
        }
        for (auto& [key, slot] : slots_) {
            if (!slot->running) continue;
            stop_slot(*slot, [this, left, key](const std::string& write_error) {
                if (!write_error.empty()) unwritten_checkpoints_.emplace_back(key, write_error);
                if (--*left == 0) stop_outputs();
            });
        }
    }

    // Once every output is flushed: a final checkpoint that failed makes the exit a failure,
    // so that neither `run --once` nor a stop ends as if all were saved.
    void report_unwritten_checkpoints() {
        if (unwritten_checkpoints_.empty()) return;
        for (const auto& [key, why] : unwritten_checkpoints_) {
            std::cerr << "weir: query " << key
                      << ": the final checkpoint was not written (the next start redoes the "
                         "work since the last one): "
                      << why << '\n';
        }
        int expected = exit_ok;
        exit_code_.compare_exchange_strong(expected, exit_failure);
    }

    void stop_outputs() {
        std::vector<std::shared_ptr<connectors::output>> outputs = all_outputs_;
        auto left = std::make_shared<std::size_t>(outputs.size());
        auto done = [this] {
            report_undelivered();
            report_unwritten_checkpoints();
            shutdown_timer_.cancel();
            signals_.cancel();
            if (http_) http_->stop();
            io_.stop();
        };
        if (outputs.empty()) {
            asio::post(strand_, done);
            return;
        }
        for (auto& out : outputs) {
            out->stop([this, left, done] {
                asio::post(strand_, [left, done] {
                    if (--*left == 0) done();
                });
            });
        }
    }

    run_options options_;
    // --once: what the checks found, for the summary and the exit code; queries add to it.
    once_summary summary_;
    bool all_finished_ = false;  // --once: every query finished (on strand_, then read after)
    // Shared with a reload's load, which may outlive the supervisor (config_load_thread).
    std::shared_ptr<const params::component_registry> registry_;
    unsigned threads_;
    // What the queries and outputs are given (query_environment, output_context) is declared
    // before io_, so that it outlives io_: a query or output that a handler io_ never ran
    // still holds is destroyed with io_, after the members declared after it.
    connectors::connector_factories factories_;
    // Blocking work off the loop threads: checkpoint files (write, fsync, rename). Idle once
    // io_ has stopped (run_queries waits for it).
    asio::thread_pool blocking_{1};
    // Builds the HTTP answers that take time (http_handlers::render): a thread of its own, so
    // that a status poll waits neither for the loop nor behind a checkpoint file's write.
    // Idle once io_ has stopped (run_queries waits for it).
    asio::thread_pool render_{1};
    config::settings_config settings_;
    std::string data_dir_;
    std::unique_ptr<checkpoint_store> store_;
    std::unique_ptr<metrics> metrics_;
    check_history history_;  // the status page's recent results; fed by the queries
    std::shared_ptr<tap_hub> taps_ = std::make_shared<tap_hub>();
    asio::io_context io_;
    asio::strand<asio::io_context::executor_type> strand_;  // the supervisor's own state
    asio::signal_set signals_;
    asio::steady_timer shutdown_timer_;
    asio::steady_timer output_stats_timer_;  // on strand_
    std::map<std::shared_ptr<connectors::output>, connectors::output_stats> output_stats_seen_;
    std::set<std::shared_ptr<connectors::output>> blocked_outputs_;  // as last logged
    std::vector<std::string> paths_;
    std::map<std::string, std::unique_ptr<query_slot>> slots_;
    bool stopping_ = false;
    bool reloading_ = false;
    // The same, for the HTTP handlers on other threads.
    std::atomic<bool> stopping_flag_{false};
    std::atomic<bool> reloading_flag_{false};
    std::mutex slots_mutex_;  // slots_ structure and slot->running, against the handlers
    std::unique_ptr<http_server> http_;
    // Live taps (GET /api/v1/tap), as http.tap* of the settings file at start.
    tap_settings tap_settings_;
    // systemd's READY/RELOADING/STOPPING/WATCHDOG; a no-op without NOTIFY_SOCKET.
    std::unique_ptr<sd_notifier> notifier_ = sd_notifier::from_environment(strand_);
    bool reload_again_ = false;
    config_load_thread loader_;  // on strand_
    // The outputs each pipeline runs with, and what they were built from.
    std::map<std::string,
             std::pair<std::string,
                       std::map<std::string, std::shared_ptr<connectors::output>, std::less<>>>>
        outputs_by_pipeline_;
    std::vector<std::shared_ptr<connectors::output>> all_outputs_;
    // Queries whose final checkpoint was not written (pipeline/query, why); on strand_.
    std::vector<std::pair<std::string, std::string>> unwritten_checkpoints_;
    std::chrono::steady_clock::time_point first_signal_;
    std::atomic<int> exit_code_{exit_ok};
};

}  // namespace

void defer_sighup() {
    struct sigaction action {};
    action.sa_handler = remember_sighup;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // reading the files goes on undisturbed
    sigaction(SIGHUP, &action, nullptr);
}

int run_daemon(const run_options& options) {
    defer_sighup();
    auto registry = std::make_shared<params::component_registry>();
    connectors::register_builtin_connectors(*registry);
    config::load_result loaded = config::load(options.paths, *registry, secret_tracking_env());
    for (const auto& s : loaded.secrets) add_secret(s);
    for (const auto& d : loaded.diags.sorted()) std::cerr << format(d) << '\n';
    if (loaded.diags.has_errors()) {
        std::cerr << "weir: configuration is invalid: not starting\n";
        return exit_config;
    }
    const unsigned threads =
        options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    supervisor s(options, threads, std::move(registry));
    return s.run(options.paths, std::move(loaded));
}

}  // namespace weir::daemon
