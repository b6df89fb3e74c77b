// Assertions in three strengths (STYLE.md "Config and errors"):
//
//   WEIR_DEBUG_ASSERT(cond)     debug builds only: invariants of hot loops, free in release.
//   WEIR_ASSERT(cond, message)  always checked; when broken the process aborts with the place
//                               and message: state is corrupt and going on would spread it
//                               (a checkpoint written from it, wrong results forever).
//   WEIR_CHECK(cond, message)   always checked; when broken the place and message are reported
//                               (the daemon logs them and counts them in
//                               weir_internal_errors_total) and the expression yields false, so
//                               the caller can skip the work: for bugs that must not take a
//                               production daemon down.
#pragma once

#include <atomic>
#include <cstdint>

namespace weir::diag {

// Where a broken invariant was found: file, line and the message (static strings).
struct broken_invariant {
    const char* file;
    int line;
    const char* condition;
    const char* message;
};

// Aborts after reporting (to stderr and the handler).
[[noreturn]] void fail_assertion(const broken_invariant& where);
// Reports through the handler and counts; returns false.
bool report_check(const broken_invariant& where);

// Receives WEIR_CHECK and WEIR_ASSERT reports (the daemon logs them). Called from any thread;
// the default writes to stderr. Set once at start.
using invariant_handler = void (*)(const broken_invariant& where);
void set_invariant_handler(invariant_handler handler);

// WEIR_CHECK reports so far, for the daemon's metric.
std::uint64_t broken_checks();

}  // namespace weir::diag

#define WEIR_ASSERT(cond, message) \
    ((cond) ? static_cast<void>(0) \
            : ::weir::diag::fail_assertion({__FILE__, __LINE__, #cond, message}))

#define WEIR_CHECK(cond, message) \
    ((cond) ? true : ::weir::diag::report_check({__FILE__, __LINE__, #cond, message}))

#ifdef NDEBUG
#define WEIR_DEBUG_ASSERT(cond) static_cast<void>(0)
#else
#define WEIR_DEBUG_ASSERT(cond) WEIR_ASSERT(cond, "debug assertion")
#endif
