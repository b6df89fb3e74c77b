// What a SIGHUP changes (DESIGN.md §3 "Lifecycle"): which running queries go on with their open
// windows, which restart with a new plan, which stop and which start. A pure function of the
// running and the wanted queries, so every case is tested without a daemon.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace weir::daemon {

// What a reload compares of one query.
struct query_identity {
    std::string plan_fingerprint;     // config::compiled_query::fingerprint
    std::string outputs_fingerprint;  // of its pipeline: config::compiled_pipeline's
    bool operator==(const query_identity&) const = default;
};

// By query_key(): every query of a configuration.
using query_identities = std::map<std::string, query_identity, std::less<>>;

// "pipeline/query": a query's name in the supervisor, in logs and for --reset-checkpoint.
std::string query_key(std::string_view pipeline, std::string_view query);

// Each list holds keys, sorted; together they hold every key of `running` and `wanted` once.
struct reload_plan {
    std::vector<std::string> keep;     // running and wanted alike: goes on undisturbed
    std::vector<std::string> restart;  // its plan or its pipeline's outputs changed
    std::vector<std::string> remove;   // running, no longer wanted
    std::vector<std::string> add;      // wanted, not running

    bool operator==(const reload_plan&) const = default;
};

// A query is kept when both fingerprints are equal, restarted when either differs, removed when
// only running and added when only wanted. A renamed pipeline's queries are other keys: removed
// and added.
reload_plan plan_reload(const query_identities& running, const query_identities& wanted);

}  // namespace weir::daemon
