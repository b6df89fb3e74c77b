// The live views of a running daemon: `weir tap` (a sample of a node's records or results, from
// GET /api/v1/tap) and `weir top` (per query: rates, lag, failing checks, from
// GET /api/v1/status).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "daemon/status.h"

namespace weir::daemon {

struct tap_options {
    std::string url;     // the daemon's base URL, "http://127.0.0.1:9797"
    std::string target;  // "PIPELINE/NODE"
    bool results = false;
    std::uint64_t limit = 0;  // stop after this many items; 0: until interrupted
    double rate = 0;          // items a second asked for; 0: the daemon's most
};

// Prints each record (or result) as one JSON line on standard output, and notes of dropped
// items on `err`. Exit codes: exit_ok after --limit, Ctrl-C or a closed standard output;
// exit_usage for a bad target; exit_failure when the daemon cannot be reached, refuses, or
// goes away.
int run_tap(const tap_options& options, std::ostream& err);

struct top_options {
    std::string url;
    double interval = 1.0;  // seconds between refreshes
    // One snapshot as plain text, then exit (also when standard output is not a terminal).
    bool once = false;
};

int run_top(const top_options& options, std::ostream& out, std::ostream& err);

// One screen of `weir top`, at most `width` columns a line: `now`, with input rates from the
// counters of `before` (taken `seconds` earlier; null: no rates yet).
std::string render_top(const daemon_status& now, const daemon_status* before, double seconds,
                       std::size_t width = 100);

}  // namespace weir::daemon
