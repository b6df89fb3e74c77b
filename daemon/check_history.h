// The recent results of every check, for the status page (GET /): the latest outcome and value,
// the groups failing now, and a short series of recent values. The queries add their results on
// their strands; the HTTP server copies a snapshot. One mutex guards it, and everything it keeps
// is bounded: k_points per check, k_tracked_groups failing groups per check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result/check_result.h"
#include "daemon/check_cycle.h"

namespace weir::daemon {

// One window of a check. For a grouped check it sums up the window's groups.
struct history_point {
    time::timestamp_ns window_end = 0;
    // The lowest and highest numeric value among the window's results (the same for an
    // ungrouped check); NaN when none was a number.
    double low = 0;
    double high = 0;
    outcome worst = outcome::no_data;  // fail > warn > no_data > pass
    std::uint32_t results = 0;         // results of the window (groups, for a grouped node)
    std::uint32_t failing = 0;         // of which failed

    bool operator==(const history_point&) const = default;
};

struct history_failing_group {
    std::string group;  // "field=value,field=value", as the metrics' group label
    measure_value value;
    time::timestamp_ns window_end = 0;

    bool operator==(const history_failing_group&) const = default;
};

struct check_snapshot {
    std::string pipeline;
    std::string node;
    interned_text check;   // interned: matched against each result's
    bool grouped = false;  // results carried a group
    // The latest result's (any group's).
    outcome last_outcome = outcome::no_data;
    measure_value last_value;
    std::string last_group;
    time::timestamp_ns last_window_end = 0;
    std::uint64_t results = 0;  // results seen since the daemon started
    // Groups whose latest result failed: how many (at least; exact unless `more_failing`), and
    // up to k_tracked_groups of them, sorted by group.
    std::vector<history_failing_group> failing_groups;
    bool more_failing = false;          // more groups fail than are kept
    std::vector<history_point> recent;  // oldest first, at most k_points

    // Failing now: the latest ungrouped result failed, or some group's latest did.
    bool failing() const;

    bool operator==(const check_snapshot&) const = default;
};

class check_history {
  public:
    static constexpr std::size_t k_points = 60;
    static constexpr std::size_t k_tracked_groups = 1000;
    static constexpr std::size_t k_max_group_chars = 256;

    // Results of one node, as the engine emits them (any windows, any groups).
    void add(std::string_view pipeline, std::string_view node,
             std::span<const check_result> results);

    // Every check seen, sorted by (pipeline, node, check).
    std::vector<check_snapshot> snapshot() const;

    // Forgets every check but these (pipeline, node, check): after a reload removed some.
    struct check_id {
        std::string pipeline;
        std::string node;
        std::string check;
    };
    void retain(std::span<const check_id> keep);

  private:
    mutable std::mutex mutex_;
    // Key: pipeline '\0' node '\0' check.
    std::map<std::string, check_snapshot, std::less<>> entries_;
    std::string key_;                    // scratch, under mutex_
    check_cycle<check_snapshot> cycle_;  // add()'s, under mutex_
};

// The group label of a result: "field=value,...", "" for an ungrouped one.
std::string group_label(const group_key& group);

}  // namespace weir::daemon
