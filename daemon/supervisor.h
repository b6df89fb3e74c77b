// The daemon: loads the configuration, builds each pipeline's outputs and queries on one
// io_context served by N threads, restarts failing non-critical queries with capped back-off,
// handles SIGINT/SIGTERM (drain, final checkpoints, exit) and SIGHUP (reload), and --once.
#pragma once

#include <string>
#include <vector>

#include "daemon/once_summary.h"

namespace weir::daemon {

struct run_options {
    std::vector<std::string> paths;
    // --data-dir or WEIR_DATA_DIR; "" = the settings file's, else /var/lib/weir. With --once,
    // checkpoints are kept only when this is given or `resume`.
    std::string data_dir;
    // --http-listen or WEIR_HTTP_LISTEN; "" = the settings file's, else 127.0.0.1:9797. With
    // --once, the HTTP server starts only when this is given.
    std::string http_listen;
    unsigned threads = 0;  // 0 = the number of cores
    // --spread-partitions: a query that allows it (node_chain::partitionable) spreads its
    // sources (Kafka partitions, inputs) over `threads` partition-local chains and merges
    // their partials (DESIGN.md §3 "Scale-out").
    bool spread_partitions = false;
    bool once = false;
    // --once: read and write the checkpoints (in data_dir, the settings file's or the
    // default), as the daemon does; without it, and without data_dir, --once keeps none.
    bool resume = false;
    // --once: which outcomes make the exit code non-zero (once_summary::exit_code).
    daemon::fail_on fail_on = daemon::fail_on::fail;
    std::vector<std::string> reset_checkpoints;  // "pipeline/query"
};

// Runs until stopped; returns the process exit code (DESIGN.md §1.1).
int run_daemon(const run_options& options);

// Until run_daemon() runs the daemon, a SIGHUP is remembered instead of ending the process
// (its default action): loading a large configuration takes seconds, and an operator or a
// tool may send one meanwhile. Once running, the daemon reloads once for all of them.
// run_daemon() calls it; `weir run` calls it first thing, before it reads any file.
void defer_sighup();

}  // namespace weir::daemon
