// The summary and exit code of `weir run --once`; see once_summary.h.
#include "daemon/once_summary.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/result/format.h"
#include "daemon/exit_codes.h"

namespace weir::daemon {

namespace {

// The widest line of the summary, as the console's.
constexpr std::size_t k_width = 100;

std::string fitted(std::string line) {
    return elide_text(line, k_width) + "\n";
}

// A window's start to the second and its length: `2026-11-20T10:00:00Z (1m)`.
std::string window_text(time::timestamp_ns start, time::timestamp_ns end) {
    const std::string t = time::format_rfc3339_ms(start);
    const double seconds = static_cast<double>(end - start) / static_cast<double>(time::ns_per_s);
    return t.substr(0, 19) + "Z (" +
           format_value(measure_value::make_number(seconds), value_unit::duration) + ")";
}

std::string counted(std::uint64_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

std::optional<fail_on> parse_fail_on(std::string_view text) {
    if (text == "never") return fail_on::never;
    if (text == "warn") return fail_on::warn;
    if (text == "fail") return fail_on::fail;
    return std::nullopt;
}

void once_summary::declare_check(const std::string& pipeline, const std::string& node,
                                 const std::string& check) {
    std::lock_guard lock(mutex_);
    declared_.emplace(pipeline, node, check);
}

void once_summary::add(std::span<const check_result> results) {
    std::lock_guard lock(mutex_);
    // Looked up before anything is built: a node's results repeat a few checks and one window
    // over many groups, and an emplace would allocate (and copy three strings) for each.
    window_list* windows = nullptr;
    const check_result* windows_of = nullptr;  // the previous result; `windows` is its node's
    reported_cycle_.restart();
    const auto matches = [](const check_key& k, const check_result& r) {
        return std::get<2>(k) == r.check && std::get<1>(k) == r.node &&
               std::get<0>(k) == r.pipeline;
    };
    const auto lookup = [this](const check_result& r) {
        auto it = reported_.find(std::forward_as_tuple(r.pipeline, r.node, r.check));
        if (it == reported_.end()) it = reported_.emplace(r.pipeline, r.node, r.check).first;
        return &*it;
    };
    for (const auto& r : results) {
        ++counts_[static_cast<std::size_t>(r.outcome)];
        reported_cycle_.find(r, matches, lookup);
        const bool same_node = windows_of != nullptr && windows_of->pipeline == r.pipeline &&
                               windows_of->node == r.node;
        if (!same_node) windows = &windows_[{r.pipeline, r.node}];
        if (!same_node || windows_of->window_start != r.window_start ||
            windows_of->window_end != r.window_end) {
            windows->add(r.window_start, r.window_end);
        }
        windows_of = &r;
        if (r.outcome != outcome::fail && r.outcome != outcome::warn) continue;
        listed_result l;
        l.check = {r.pipeline, r.node, r.check};
        l.window_start = r.window_start;
        l.window_end = r.window_end;
        l.group = format_group(r.group);
        l.outcome = r.outcome;
        // Cheap to rule out before the strings are built: the list is full of earlier ones.
        if (listed_.size() == k_listed && !(l < *listed_.rbegin())) continue;
        const result_text shown = format_result(r);
        l.value = shown.value;
        l.assessment = r.outcome == outcome::fail ? "must be " + shown.must_be
                                                  : "should be " + shown.should_be;
        // Checks against history: what the value was judged against.
        if (r.expected) l.assessment += "; " + format_expected(*r.expected, shown.unit, true);
        // reconcile(): which keys each side lacks.
        if (r.reconciliation) {
            l.assessment += "; " + format_reconciliation(*r.reconciliation, true);
        }
        listed_.insert(std::move(l));
        if (listed_.size() > k_listed) listed_.erase(std::prev(listed_.end()));
    }
}

std::uint64_t once_summary::count(outcome o) const {
    std::lock_guard lock(mutex_);
    return counts_[static_cast<std::size_t>(o)];
}

void once_summary::window_list::add(time::timestamp_ns start, time::timestamp_ns end) {
    seen.emplace_back(start, end);
    if (seen.size() >= 2 * unique + 1024) count();
}

std::size_t once_summary::window_list::count() {
    if (unique != seen.size()) {
        std::sort(seen.begin(), seen.end());
        seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        unique = seen.size();
    }
    return unique;
}

std::size_t once_summary::windows() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (auto& [node, windows] : windows_) n += windows.count();
    return n;
}

int once_summary::exit_code(fail_on policy) const {
    const std::uint64_t fails = count(outcome::fail);
    const std::uint64_t warns = count(outcome::warn);
    switch (policy) {
        case fail_on::never:
            return exit_ok;
        case fail_on::warn:
            if (fails > 0) return exit_checks_fail;
            return warns > 0 ? exit_checks_warn : exit_ok;
        case fail_on::fail:
            return fails > 0 ? exit_checks_fail : exit_ok;
    }
    return exit_ok;
}

std::string once_summary::text() const {
    const std::size_t window_count = windows();
    std::lock_guard lock(mutex_);
    std::set<check_key> checks = declared_;
    checks.insert(reported_.begin(), reported_.end());
    const std::uint64_t pass = counts_[static_cast<std::size_t>(outcome::pass)];
    const std::uint64_t warn = counts_[static_cast<std::size_t>(outcome::warn)];
    const std::uint64_t fail = counts_[static_cast<std::size_t>(outcome::fail)];
    const std::uint64_t no_data = counts_[static_cast<std::size_t>(outcome::no_data)];

    std::string out = fmt::format(
        "weir: --once: {}, {}, {}: {} pass, {} warn, {} fail, {} no_data\n",
        counted(checks.size(), "check", "checks"), counted(window_count, "window", "windows"),
        counted(pass + warn + fail + no_data, "result", "results"), pass, warn, fail, no_data);
    for (const auto& l : listed_) {
        const auto& [pipeline, node, check] = l.check;
        // A long path gives way first: the window, group, value and assessment stay whole.
        const std::string head = fmt::format("weir: {} ", to_string(l.outcome));
        const std::string tail =
            fmt::format(" {}{}: {} ({})", window_text(l.window_start, l.window_end),
                        l.group.empty() ? "" : " {" + l.group + "}", l.value, l.assessment);
        std::string path = pipeline + "/" + node + "/" + check;
        const std::size_t fixed = text_columns(head) + text_columns(tail);
        if (fixed + text_columns(path) > k_width) {
            path = elide_text(path, std::max<std::size_t>(16, k_width - std::min(fixed, k_width)));
        }
        out += fitted(head + path + tail);
    }
    if (const std::uint64_t more = warn + fail - listed_.size(); more > 0) {
        out += fmt::format("weir: … and {} more warn or fail results\n", more);
    }
    for (const auto& c : declared_) {
        if (reported_.contains(c)) continue;
        const auto& [pipeline, node, check] = c;
        out += fitted(fmt::format(
            "weir: no result from {}/{}/{}: no window closed (no records, or emit left them out)",
            pipeline, node, check));
    }
    return out;
}

std::string once_summary::verdict(fail_on policy) const {
    const int code = exit_code(policy);
    const std::uint64_t warn = count(outcome::warn);
    const std::uint64_t fail = count(outcome::fail);
    std::string out;
    switch (policy) {
        case fail_on::never:
            out += "weir: exit 0 (--fail-on never)\n";
            break;
        case fail_on::warn:
        case fail_on::fail:
            if (code == exit_checks_fail) {
                out += fmt::format("weir: exit {}: {} (--fail-on {})\n", code,
                                   counted(fail, "fail result", "fail results"),
                                   policy == fail_on::warn ? "warn" : "fail");
            } else if (code == exit_checks_warn) {
                out += fmt::format("weir: exit {}: {} (--fail-on warn)\n", code,
                                   counted(warn, "warn result", "warn results"));
            } else {
                out += fmt::format("weir: exit 0: no {} result (--fail-on {})\n",
                                   policy == fail_on::warn ? "warn or fail" : "fail",
                                   policy == fail_on::warn ? "warn" : "fail");
            }
            break;
    }
    return out;
}

}  // namespace weir::daemon
