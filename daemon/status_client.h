// `weir status`: asks a running daemon for /api/v1/status and prints a table.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "daemon/status.h"

namespace weir::daemon {

// The URL `weir status` asks for a daemon listening on `listen` (http.listen: HOST:PORT, [V6]:PORT
// or :PORT): a wildcard host becomes the loopback address; "" gives run's default address.
// nullopt when `listen` does not say where to ask (no port, or port 0: any).
std::optional<std::string> status_url_for_listen(std::string_view listen);

// Returns the exit code: exit_ok, or exit_failure when the daemon cannot be reached or answers
// nonsense.
int print_status(const std::string& url, std::ostream& out, std::ostream& err);

// The table of one /api/v1/status answer; false (and nothing written) when `body` is not one.
bool render_status(std::string_view body, std::ostream& out);

// The table itself: the daemon's state, then one row per query; "-" where a value is unknown.
void print_status_table(const daemon_status& status, std::ostream& out);

}  // namespace weir::daemon
