// Loading: daemon settings and pipeline files (or directories of them) into a config_set,
// with every problem collected as a diagnostic. The only place yaml-cpp is used.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "core/diag/diagnostic.h"
#include "core/params/registry.h"

namespace weir::config {

// Looks up an environment variable; nullopt when unset. Injectable for tests.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;
env_lookup process_env();

struct load_options {
    // Report what this build cannot run (a connector type declared but not built) as errors, as
    // `weir validate` and `weir run` do. Off: only the language is checked (`weir graph`, and tests
    // of the language itself); pipelines that use such parts then load without errors but get no
    // plan.
    bool refuse_unbuilt = true;
    // Also check the machine as `weir run` would, without the network (each connector type's
    // preflight: input files, output directories, certificates): `weir validate`.
    bool preflight = false;
};

struct load_result {
    config_set config;  // complete only when !diags.has_errors()
    diagnostics diags;
    // The values of the parameters of inputs and outputs declared secret, written or from the
    // environment (params::mark_secrets), for the daemon to hide in everything it logs.
    std::vector<std::string> secrets;
};

// PATHs are files or directories. In a directory, every *.yaml / *.yml file (not recursive,
// sorted by name) is a pipeline file; a file named weir.yaml or weir.yml is the daemon
// settings file. Loads, interpolates, validates every section against its declaration and
// the registry, and checks the graph of each pipeline (config/graph.h).
load_result load(const std::vector<std::string>& paths, const params::component_registry& registry,
                 const env_lookup& env = process_env(), const load_options& options = {});

// The same for one document given as text (tests, stdin); `file` names it in diagnostics.
load_result load_text(const std::string& text, const std::string& file,
                      const params::component_registry& registry,
                      const env_lookup& env = process_env(), const load_options& options = {});

// Where a file is named, for the diagnostics of reading it: the position and path of the
// mention, and a prefix naming the file (empty when the diagnostic is at the file itself).
struct file_mention {
    source_pos pos;
    std::string at;
    std::string prefix;
};

// The whole text of the regular file `path` of at most `max_size` bytes; else nullopt after an
// error at `where`: "no such file or directory", "not a regular file", `too_large` with the
// size, or "cannot read the file: ..." with the system's reason.
std::optional<std::string> read_whole_file(const std::string& path, std::uintmax_t max_size,
                                           std::string_view too_large, const file_mention& where,
                                           diagnostics& out);

// The declarations of a pipeline file and of the settings file, for `weir schema` and docs.
const params::object_spec& pipeline_spec(const params::component_registry& registry);
const params::object_spec& settings_spec();

// The JSON Schema of pipeline files, generated from the declarations.
std::string pipeline_json_schema(const params::component_registry& registry);

// The JSON Schema of the daemon settings file (weir.yaml), generated from settings_spec().
std::string settings_json_schema();

// The pattern the pipeline schema gives `must_be` and `should_be`: the shape of the assessment
// grammar (core/check/assessment.h) as an ECMAScript regular expression, or a ${VARIABLE}.
std::string assessment_pattern();

}  // namespace weir::config
