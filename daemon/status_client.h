// `weir status`: asks a running daemon for /api/v1/status and prints a table.
#pragma once

#include <ostream>
#include <string>

namespace weir::daemon {

// Returns the exit code: 0, or 1 when the daemon cannot be reached or answers nonsense.
int print_status(const std::string& url, std::ostream& out, std::ostream& err);

}  // namespace weir::daemon
