// The daemon's supervisor; see supervisor.h.
#include "daemon/supervisor.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <set>
#include <thread>

#include "config/graph.h"
#include "config/load.h"
#include "connectors/register.h"
#include "connectors/runtime.h"
#include "daemon/cli.h"
#include "daemon/query.h"

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
    std::shared_ptr<generation> gen;  // keeps the configuration alive while the query runs
    std::shared_ptr<query> running;
    compiled_query plan;
    const config::pipeline_config* pipeline = nullptr;
    int failures = 0;  // consecutive, for the back-off
    bool finished = false;
    std::unique_ptr<asio::steady_timer> restart_timer;
};

class supervisor {
public:
    supervisor(const run_options& options, unsigned threads)
        : options_(options),
          threads_(threads),
          strand_(asio::make_strand(io_)),
          signals_(io_, SIGINT, SIGTERM, SIGHUP),
          shutdown_timer_(io_) {
        connectors::register_builtin_factories(factories_);
    }

    int run(const std::vector<std::string>& paths, config::load_result loaded) {
        settings_ = loaded.config.settings;
        data_dir_ = !options_.data_dir.empty() ? options_.data_dir
                    : settings_.data_dir.value.empty() ? std::string("/var/lib/weir")
                                                       : settings_.data_dir.value;
        store_ = std::make_unique<checkpoint_store>(data_dir_);
        paths_ = paths;

        for (const auto& spec : options_.reset_checkpoints) {
            const auto slash = spec.find('/');
            std::string error;
            if (slash == std::string::npos ||
                !store_->reset(spec.substr(0, slash), spec.substr(slash + 1), error)) {
                std::cerr << "weir: --reset-checkpoint " << spec << ": "
                          << (error.empty() ? "expected PIPELINE/QUERY" : error) << '\n';
                return exit_usage;
            }
            spdlog::info("checkpoint of {} removed: it starts afresh", spec);
        }

        auto gen = std::make_shared<generation>();
        gen->config = std::move(loaded.config);
        std::string error;
        if (!build_outputs(*gen, error)) {
            std::cerr << "weir: " << error << '\n';
            return exit_failure;
        }
        for (const auto& p : gen->config.pipelines) {
            for (const auto& q : config::split_queries(p)) {
                try {
                    add_query(gen, p, compile_query(p, q), false);
                } catch (const std::exception& e) {
                    std::cerr << "weir: pipeline " << p.name << ", query " << q.name << ": "
                              << e.what() << '\n';
                    return exit_failure;
                }
            }
        }
        if (slots_.empty()) {
            std::cerr << "weir: no pipelines to run\n";
            return exit_config;
        }

        wait_for_signal();
        for (auto& [key, slot] : slots_) start_query(*slot);

        auto work = asio::make_work_guard(io_);
        std::vector<std::thread> pool;
        for (unsigned i = 1; i < threads_; ++i) pool.emplace_back([this] { io_.run(); });
        io_.run();
        for (auto& t : pool) t.join();
        return exit_code_.load();
    }

private:
    bool build_outputs(generation& gen, std::string& error) {
        for (const auto& p : gen.config.pipelines) {
            auto& outs = gen.outputs[p.name];
            for (const auto& o : p.outputs) {
                auto factory = factories_.outputs.find(o.type.value);
                if (factory == factories_.outputs.end()) {
                    error = "pipeline " + p.name + ": output \"" + o.name + "\": type " +
                            o.type.value + " is not supported by the runtime yet";
                    return false;
                }
                connectors::output_context ctx;
                ctx.executor = asio::make_strand(io_);
                ctx.pipeline = p.name;
                ctx.output = o.name;
                ctx.clock = wall_now;
                try {
                    outs[o.name] = factory->second(params::reader(*o.info->spec, o.params), ctx);
                } catch (const std::exception& e) {
                    error = "pipeline " + p.name + ": output \"" + o.name + "\": " + e.what();
                    return false;
                }
            }
        }
        return true;
    }

    void add_query(const std::shared_ptr<generation>& gen, const config::pipeline_config& p,
                   compiled_query plan, bool plan_changed) {
        auto slot = std::make_unique<query_slot>();
        slot->gen = gen;
        slot->pipeline = &p;
        slot->plan = std::move(plan);
        slot->restart_timer = std::make_unique<asio::steady_timer>(io_);
        plan_changed_[p.name + "/" + slot->plan.name] = plan_changed;
        slots_[p.name + "/" + slot->plan.name] = std::move(slot);
    }

    void start_query(query_slot& slot) {
        const std::string key = slot.pipeline->name + "/" + slot.plan.name;
        query_environment env;
        env.io = &io_;
        env.checkpoints = store_.get();
        env.factories = &factories_;
        env.clock = wall_now;
        env.outputs = slot.gen->outputs[slot.pipeline->name];
        env.once = options_.once;
        env.checkpoint_interval = settings_.checkpoint_interval.value.count() > 0
                                      ? settings_.checkpoint_interval.value
                                      : std::chrono::milliseconds(10'000);
        env.plan_changed = plan_changed_[key];
        query::listener events;
        events.failed = [this, key](const std::string& message) {
            asio::post(strand_, [this, key, message] { on_query_failed(key, message); });
        };
        events.finished = [this, key] {
            asio::post(strand_, [this, key] { on_query_finished(key); });
        };
        slot.running = std::make_shared<query>(slot.plan, *slot.pipeline, std::move(env),
                                               std::move(events));
        slot.running->start();
    }

    void on_query_failed(const std::string& key, const std::string& message) {
        auto it = slots_.find(key);
        if (it == slots_.end() || stopping_) return;
        query_slot& slot = *it->second;
        if (slot.running->critical() || options_.once) {
            spdlog::critical("critical query {} failed: {}", key, message);
            std::cerr << "weir: " << (slot.running->critical() ? "critical " : "") << "query "
                      << key << " (node " << slot.plan.nodes.back().config->name
                      << ") failed: " << message << '\n';
            shutdown(exit_failure);
            return;
        }
        // Capped exponential back-off: 1 s, 2 s, 4 s … 60 s.
        const int exponent = std::min(slot.failures, 6);
        const auto delay = std::chrono::seconds(std::min(60, 1 << exponent));
        ++slot.failures;
        spdlog::error("query {} failed: {}; restarting in {} s", key, message, delay.count());
        slot.restart_timer->expires_after(delay);
        slot.restart_timer->async_wait([this, key](const boost::system::error_code& ec) {
            if (ec) return;
            asio::post(strand_, [this, key] {
                auto it = slots_.find(key);
                if (it == slots_.end() || stopping_) return;
                start_query(*it->second);
            });
        });
    }

    void on_query_finished(const std::string& key) {
        auto it = slots_.find(key);
        if (it == slots_.end()) return;
        it->second->finished = true;
        for (const auto& [k, slot] : slots_) {
            if (!slot->finished) return;
        }
        spdlog::info("every input ended: stopping");
        shutdown(exit_ok);
    }

    void wait_for_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            asio::post(strand_, [this, signal] {
                if (signal == SIGHUP) {
                    spdlog::warn("SIGHUP: reloading is not available yet; the running "
                                 "configuration stays");
                } else if (stopping_) {
                    // The same signal delivered twice at once (to the process and its group,
                    // as `timeout` does) is one request; a second Ctrl-C later quits now.
                    if (std::chrono::steady_clock::now() - first_signal_ <
                        std::chrono::milliseconds(500)) {
                        return;
                    }
                    spdlog::warn("second signal: quitting at once");
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

    // Stops every query (each writes its final checkpoint), then the outputs, within
    // shutdown_timeout.
    void shutdown(int code) {
        if (stopping_) return;
        stopping_ = true;
        exit_code_ = code;
        const auto timeout = settings_.shutdown_timeout.value.count() > 0
                                 ? settings_.shutdown_timeout.value
                                 : std::chrono::milliseconds(30'000);
        shutdown_timer_.expires_after(timeout);
        shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            spdlog::error("shutdown_timeout passed: quitting without waiting further");
            exit_code_ = exit_failure;
            io_.stop();
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
            slot->running->stop([this, left] {
                asio::post(strand_, [this, left] {
                    if (--*left == 0) stop_outputs();
                });
            });
        }
    }

    void stop_outputs() {
        std::vector<std::shared_ptr<connectors::output>> outputs;
        std::set<const generation*> seen;
        for (auto& [key, slot] : slots_) {
            if (!seen.insert(slot->gen.get()).second) continue;
            for (auto& [p, outs] : slot->gen->outputs) {
                for (auto& [name, out] : outs) outputs.push_back(out);
            }
        }
        auto left = std::make_shared<std::size_t>(outputs.size());
        auto done = [this] {
            shutdown_timer_.cancel();
            signals_.cancel();
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
    unsigned threads_;
    asio::io_context io_;
    asio::strand<asio::io_context::executor_type> strand_;  // the supervisor's own state
    asio::signal_set signals_;
    asio::steady_timer shutdown_timer_;
    connectors::connector_factories factories_;
    config::settings_config settings_;
    std::string data_dir_;
    std::unique_ptr<checkpoint_store> store_;
    std::vector<std::string> paths_;
    std::map<std::string, std::unique_ptr<query_slot>> slots_;
    std::map<std::string, bool> plan_changed_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point first_signal_;
    std::atomic<int> exit_code_{exit_ok};
};

}  // namespace

int run_daemon(const run_options& options) {
    config::load_result loaded = config::load(options.paths, [] {
        static const params::component_registry r = [] {
            params::component_registry reg;
            connectors::register_builtin_connectors(reg);
            return reg;
        }();
        return std::cref(r);
    }().get());
    for (const auto& d : loaded.diags.sorted()) std::cerr << format(d) << '\n';
    if (loaded.diags.has_errors()) {
        std::cerr << "weir: configuration is invalid: not starting\n";
        return exit_config;
    }
    const unsigned threads = options.threads > 0
                                 ? options.threads
                                 : std::max(1u, std::thread::hardware_concurrency());
    supervisor s(options, threads);
    return s.run(options.paths, std::move(loaded));
}

}  // namespace weir::daemon
