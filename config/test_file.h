// Pipeline test files (`weir test`, docs/pipelines.md "Testing pipelines"): YAML files that name
// pipeline files and list test cases — records for the pipelines' inputs and the check results
// expected from them. Read and checked here, with the diagnostics of pipeline files (file:line:col,
// unknown keys with "did you mean"); daemon/test_runner.h runs them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/load.h"
#include "config/model.h"
#include "core/diag/diagnostic.h"
#include "core/result/check_result.h"
#include "core/time/timestamp.h"

namespace weir::config {

// A scalar as written in the test file: compared with a result's value or a group's value by
// the kind of the result (a number is parsed, a string compared as text). `null` (or nothing)
// matches only null.
struct test_scalar {
    std::string text;
    bool quoted = false;
    bool null = false;
    source_pos pos;
};

// The records one case gives one input.
struct test_input {
    std::string name;      // as written: "input" or "pipeline/input"
    source_pos pos;        // the key's
    std::string pipeline;  // resolved by check_test_file
    std::string input;     // resolved by check_test_file
    // Records, one a line ('\n' after each): JSON objects made of `records:`, `lines:` as
    // written, or the content of `file:`.
    std::string text;
    bool structured = false;  // from `records:`: JSON, so refused for a CSV input
    std::string origin;       // where they come from, for messages: a file's path or "records"
};

// One entry of a case's `expect:`: which results it selects and what they must be.
struct expected_result {
    std::size_t index = 0;  // in `expect:`
    source_pos pos;         // the entry's
    std::string pipeline;   // as written ("" = the only one with the check); resolved later
    std::string node;       // idem
    located<std::string> check;
    // `window:`: the start (RFC 3339), or an index among the selected windows by start (0 the
    // first, -1 the last). Neither: every window.
    std::optional<time::timestamp_ns> window_start;
    std::optional<std::int64_t> window_index;
    // `group:`: the group's fields and values; results of any group when absent.
    std::optional<std::vector<std::pair<std::string, test_scalar>>> group;
    source_pos group_pos;
    std::optional<outcome> expected_outcome;
    std::optional<test_scalar> value;
    double tolerance = 0;           // absolute
    double relative_tolerance = 0;  // of |expected|
    std::optional<std::int64_t> records;
    // How many results it selects: exactly this many; absent: at least one.
    std::optional<std::int64_t> count;
};

struct test_case {
    std::string name;
    source_pos pos;  // the case's mapping
    // The wall clock while the case runs (freshness(), max_delay(), processing time, partial
    // windows); default: the file's `now:`, else k_default_test_now.
    time::timestamp_ns now = 0;
    std::vector<test_input> inputs;
    std::vector<expected_result> expect;
    bool no_other_results = false;  // every result must be selected by an expectation
};

struct test_file {
    std::string file;
    std::vector<std::string> pipelines;  // paths, relative ones resolved against the test file's
    source_pos pipelines_pos;
    // Variables for the pipelines' ${VAR}: these first, then the process environment.
    std::vector<std::pair<std::string, std::string>> env;
    std::vector<test_case> cases;
};

// 2100-01-01T00:00:00Z: after the windows of any plausible test data, so no window is partial.
inline constexpr time::timestamp_ns k_default_test_now = 4'102'444'800LL * time::ns_per_s;

// Reads a test file (its own ${VAR}s come from `env`). Returns nullopt when it has errors,
// all of them in `out`; the files it names under `records.file` are read too.
std::optional<test_file> load_test_file(const std::string& path, const env_lookup& env,
                                        diagnostics& out);
// The same for text (tests); relative paths resolve against `file`'s directory.
std::optional<test_file> load_test_text(const std::string& text, const std::string& file,
                                        const env_lookup& env, diagnostics& out);

// Checks the file's names against the loaded pipelines and resolves them: every input named
// exists (or is qualified when several pipelines have it) and reads JSON when given records,
// every expectation names an existing check (qualified by node or pipeline when ambiguous)
// and a group of the node's group_by fields. Problems go to `out` at the name's position.
void check_test_file(test_file& tests, const config_set& pipelines, diagnostics& out);

// The declaration of test files (for docs and tests).
const params::object_spec& test_file_spec();

}  // namespace weir::config
