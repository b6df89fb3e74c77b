// `weir run --once` as a data test: what the checks found over the whole run (checks, windows,
// outcomes, the failing results), the summary printed at its end, and the exit code that
// --fail-on derives from the outcomes (DESIGN.md §1.1, docs/pipelines.md "weir in CI").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/result/check_result.h"
#include "daemon/check_cycle.h"

namespace weir::daemon {

// Which outcomes make `run --once` exit non-zero: never (0 whatever the checks found), warn
// (a warn or a fail), fail (a fail).
enum class fail_on { never, warn, fail };
std::optional<fail_on> parse_fail_on(std::string_view text);

// Thread-safe: the queries of a run add their results from their own strands.
class once_summary {
  public:
    // The failing (and warning) results listed by text(); the counts cover all of them.
    static constexpr std::size_t k_listed = 20;

    // A check the configuration declares, so that one that gave no result is reported.
    void declare_check(const std::string& pipeline, const std::string& node,
                       const std::string& check);
    // Results a node emitted (a window closed).
    void add(std::span<const check_result> results);

    std::uint64_t count(outcome o) const;
    std::size_t windows() const;
    // The exit code the outcomes give under `policy`: exit_ok, exit_warn or exit_fail.
    int exit_code(fail_on policy) const;
    // The summary, one line per item, each starting "weir: " and at most 100 columns: the
    // totals, the failing and warning results (the first k_listed, in a fixed order; values in
    // the assessment's unit), the checks that gave no result.
    std::string text() const;
    // One line: the exit code the outcomes give under `policy`, and why.
    std::string verdict(fail_on policy) const;

  private:
    // pipeline, node, check; interned: matched against each result's
    using check_key = std::tuple<interned_text, interned_text, interned_text>;
    // Fails before warns, then by check, window and group: the same list whatever order the
    // queries finished in.
    struct listed_result {
        check_key check;
        time::timestamp_ns window_start = 0;
        time::timestamp_ns window_end = 0;
        std::string group;
        weir::outcome outcome = outcome::fail;
        std::string value;       // in the assessment's unit (core/result/format.h)
        std::string assessment;  // `must be > 50` or `should be [18, 30]`
        auto key() const {
            return std::make_tuple(outcome != outcome::fail, std::cref(check), window_start,
                                   std::cref(group), window_end);
        }
        bool operator<(const listed_result& o) const { return key() < o.key(); }
    };

    mutable std::mutex mutex_;
    std::set<check_key> declared_;
    std::set<check_key, std::less<>> reported_;    // checks that gave at least one result
    check_cycle<const check_key> reported_cycle_;  // add()'s, into reported_
    // A node's windows, [start, end) pairs: appended as results come, sorted and deduplicated
    // when the list has doubled since (and when counted), so that many windows (sessions of
    // many groups) cost no tree node each.
    struct window_list {
        std::vector<std::pair<time::timestamp_ns, time::timestamp_ns>> seen;
        std::size_t unique = 0;  // seen[0, unique) is sorted and unique

        void add(time::timestamp_ns start, time::timestamp_ns end);
        std::size_t count();
    };
    // Windows by pipeline and node. Mutable: counting them compacts their lists.
    mutable std::map<std::pair<std::string, std::string>, window_list> windows_;
    std::uint64_t counts_[4] = {0, 0, 0, 0};  // by outcome
    std::set<listed_result> listed_;          // at most k_listed: the first in order
};

}  // namespace weir::daemon
