// The `weir` command line: verbs, flags, environment variables and exit codes (DESIGN.md §1.1).
#pragma once

namespace weir::daemon {

// Exit codes, after sysexits.h.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  // runtime failure (a critical node failed)
inline constexpr int exit_usage = 64;   // EX_USAGE
inline constexpr int exit_config = 78;  // EX_CONFIG: invalid configuration

// Parses argv, runs the verb and returns the process exit code. Never throws.
int run_cli(int argc, char** argv);

}  // namespace weir::daemon
