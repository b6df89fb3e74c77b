// The `weir` command line: verbs, flags and environment variables (DESIGN.md §1.1); the exit
// codes are in exit_codes.h.
#pragma once

namespace weir::daemon {

// Parses argv, runs the verb and returns the process exit code (exit_codes.h). Never throws.
int run_cli(int argc, char** argv);

}  // namespace weir::daemon
