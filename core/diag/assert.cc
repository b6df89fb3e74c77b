// Assertions in three strengths; see assert.h.
#include "core/diag/assert.h"

#include <cstdio>
#include <cstdlib>

namespace weir::diag {

namespace {

void write_to_stderr(const broken_invariant& where) {
    std::fprintf(stderr, "weir: internal error at %s:%d: %s (%s)\n", where.file, where.line,
                 where.message, where.condition);
}

std::atomic<invariant_handler> handler{&write_to_stderr};
std::atomic<std::uint64_t> checks{0};

}  // namespace

void fail_assertion(const broken_invariant& where) {
    write_to_stderr(where);
    const invariant_handler h = handler.load();
    if (h != &write_to_stderr) h(where);
    std::abort();
}

bool report_check(const broken_invariant& where) {
    checks.fetch_add(1, std::memory_order_relaxed);
    handler.load()(where);
    return false;
}

void set_invariant_handler(invariant_handler h) {
    handler.store(h != nullptr ? h : &write_to_stderr);
}

std::uint64_t broken_checks() {
    return checks.load(std::memory_order_relaxed);
}

}  // namespace weir::diag
