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
    std::string plan_fingerprint;       // config::compiled_query::fingerprint: what it measures
    std::string judgement_fingerprint;  // config::compiled_query's: how it judges and emits
    std::string outputs_fingerprint;    // of its pipeline: config::compiled_pipeline's
    bool operator==(const query_identity&) const = default;
};

// By query_key(): every query of a configuration.
using query_identities = std::map<std::string, query_identity, std::less<>>;

// "pipeline/query": a query's name in the supervisor, in logs and for --reset-checkpoint.
std::string query_key(std::string_view pipeline, std::string_view query);

// Each list holds keys, sorted; together they hold every key of `running` and `wanted` once.
struct reload_plan {
    std::vector<std::string> keep;  // running and wanted alike: goes on undisturbed
    // Measures the same, but judges, emits or writes differently: stops with a checkpoint and
    // starts with the new plan from it, open windows included.
    std::vector<std::string> resume;
    std::vector<std::string> restart;  // what it measures changed: its open windows go
    std::vector<std::string> remove;   // running, no longer wanted
    std::vector<std::string> add;      // wanted, not running

    bool operator==(const reload_plan&) const = default;
};

// A query is kept when every fingerprint is equal, resumed when only the judgement or the outputs
// differ, restarted when the plan differs, removed when only running and added when only
// wanted. A renamed pipeline's queries are other keys: removed and added.
reload_plan plan_reload(const query_identities& running, const query_identities& wanted);

}  // namespace weir::daemon
