// `weir test`: runs pipeline test files (config/test_file.h) in process — the real compile, the
// node chain of every query, the test's records in place of the inputs (no input or output is
// opened, no server, no checkpoint) — and compares the results with the expectations.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "config/test_file.h"
#include "core/params/registry.h"
#include "core/result/check_result.h"

namespace weir::daemon {

struct test_options {
    std::vector<std::string> paths;  // test files, or directories searched for *_test.yaml
    std::string filter;              // run only cases whose name contains this
    bool verbose = false;            // print every result of every case
};

// Runs the tests and prints a line per case, a diff per failing case and a summary to `out`;
// diagnostics of invalid test files and pipelines to `err`. Returns 0 when every case passed,
// 1 when a case failed, 78 when a test file or a pipeline it names is invalid (the others
// still run), 64 when the paths hold no test file or the filter selects no case.
int run_tests(const test_options& options, const params::component_registry& registry,
              const config::env_lookup& env, std::ostream& out, std::ostream& err);

// What one case's results look like against its expectations.
struct case_report {
    bool passed = true;
    // For people, one item per problem (an item may hold several lines, indented).
    std::vector<std::string> problems;
};

// Compares `results` (every result of the case's run) with the case's expectations.
case_report match_results(const config::test_case& tc, const std::vector<check_result>& results);

// Runs one case of a checked test file over the compiled pipelines: every result, in the
// order the queries emitted them. `error` is set when a query failed (on_invalid: fail).
std::vector<check_result> run_case(const config::test_case& tc, const config::config_set& config,
                                   std::string& error);

}  // namespace weir::daemon
