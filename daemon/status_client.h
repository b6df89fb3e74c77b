// `weir status`: asks a running daemon for /api/v1/status and prints a table.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

namespace weir::daemon {

// Returns the exit code: 0, or 1 when the daemon cannot be reached or answers nonsense.
int print_status(const std::string& url, std::ostream& out, std::ostream& err);

// The table of one /api/v1/status answer; false (and nothing written) when `body` is not one.
bool render_status(std::string_view body, std::ostream& out);

}  // namespace weir::daemon
