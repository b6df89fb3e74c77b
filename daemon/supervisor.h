// The daemon: loads the configuration, builds each pipeline's outputs and queries on one
// io_context served by N threads, restarts failing non-critical queries with capped back-off,
// handles SIGINT/SIGTERM (drain, final checkpoints, exit) and SIGHUP (reload), and --once.
#pragma once

#include <string>
#include <vector>

namespace weir::daemon {

struct run_options {
    std::vector<std::string> paths;
    std::string data_dir;     // "" = settings file, else /var/lib/weir
    std::string http_listen;  // "" = settings file, else 127.0.0.1:9797
    unsigned threads = 0;     // 0 = the number of cores
    bool once = false;
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
