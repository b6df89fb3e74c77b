// The reload planner; see reload_plan.h.
#include "daemon/reload_plan.h"

namespace weir::daemon {

std::string query_key(std::string_view pipeline, std::string_view query) {
    std::string key;
    key.reserve(pipeline.size() + 1 + query.size());
    key.append(pipeline).append("/").append(query);
    return key;
}

reload_plan plan_reload(const query_identities& running, const query_identities& wanted) {
    reload_plan plan;
    // Both maps are sorted, so each list comes out sorted.
    for (const auto& [key, now] : running) {
        const auto next = wanted.find(key);
        if (next == wanted.end()) {
            plan.remove.push_back(key);
        } else if (next->second == now) {
            plan.keep.push_back(key);
        } else if (next->second.plan_fingerprint == now.plan_fingerprint) {
            plan.resume.push_back(key);
        } else {
            plan.restart.push_back(key);
        }
    }
    for (const auto& [key, next] : wanted) {
        if (!running.contains(key)) plan.add.push_back(key);
    }
    return plan;
}

}  // namespace weir::daemon
