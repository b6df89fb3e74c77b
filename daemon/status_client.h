// `weir status`: asks a running daemon for /api/v1/status and prints a table.
#pragma once

#include <chrono>
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

// One HTTP/1.1 request to the daemon at `url` (host and port; `target` replaces its path, ""
// keeps it, and a URL without a path asks /api/v1/status), within `timeout`. A non-empty `body`
// is sent as application/json. Throws std::exception (its message says where and why) when the
// URL is not one, the daemon cannot be reached or does not answer HTTP; any status is returned.
struct http_reply {
    unsigned status = 0;
    std::string body;
};
http_reply http_exchange(const std::string& url, std::string_view method, std::string_view target,
                         std::string_view body, std::string_view user_agent,
                         std::chrono::seconds timeout);

// Returns the exit code: exit_ok, or exit_failure when the daemon cannot be reached or answers
// nonsense.
int print_status(const std::string& url, std::ostream& out, std::ostream& err);

// The table of one /api/v1/status answer; false (and nothing written) when `body` is not one.
bool render_status(std::string_view body, std::ostream& out);

// The table itself: the daemon's state, then one row per query; "-" where a value is unknown.
void print_status_table(const daemon_status& status, std::ostream& out);

}  // namespace weir::daemon
