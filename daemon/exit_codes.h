// The process exit codes of every verb (DESIGN.md §1.1), after sysexits.h. Apart from the command
// line, so the supervisor and the verbs share them without depending on each other.
#pragma once

namespace weir::daemon {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  // runtime failure (a critical node failed), unreachable
// `run --once` whose checks found problems at or above --fail-on: a warn (and no fail), a fail.
inline constexpr int exit_checks_warn = 2;
inline constexpr int exit_checks_fail = 3;
inline constexpr int exit_usage = 64;   // EX_USAGE
inline constexpr int exit_config = 78;  // EX_CONFIG: invalid configuration

}  // namespace weir::daemon
