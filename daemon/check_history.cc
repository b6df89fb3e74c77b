// The recent results of every check; see check_history.h.
#include "daemon/check_history.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/result/format.h"

namespace weir::daemon {

namespace {

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

int rank(outcome o) {
    switch (o) {
        case outcome::pass:
            return 0;
        case outcome::no_data:
            return 1;
        case outcome::warn:
            return 2;
        case outcome::fail:
            return 3;
    }
    return 0;
}

void make_key(std::string& key, std::string_view pipeline, std::string_view node,
              std::string_view check) {
    key.assign(pipeline);
    key += '\0';
    key += node;
    key += '\0';
    key += check;
}

// Adds a result to the window's point (the last one when it is of the same window).
void add_point(std::vector<history_point>& recent, const check_result& r) {
    if (recent.empty() || recent.back().window_end != r.window_end) {
        // Results come window after window; one of an older window (rare) starts a point of
        // its own rather than searching.
        if (recent.size() == check_history::k_points) recent.erase(recent.begin());
        recent.push_back({r.window_end, k_nan, k_nan, r.outcome, 0, 0});
    }
    history_point& p = recent.back();
    if (r.value.is_number() && std::isfinite(r.value.number)) {
        const double v = r.value.number;
        p.low = std::isnan(p.low) ? v : std::min(p.low, v);
        p.high = std::isnan(p.high) ? v : std::max(p.high, v);
    }
    if (rank(r.outcome) > rank(p.worst)) p.worst = r.outcome;
    ++p.results;
    if (r.outcome == outcome::fail) ++p.failing;
}

void track_group(check_snapshot& s, const check_result& r, const std::string& label) {
    auto& groups = s.failing_groups;
    const auto it = std::lower_bound(
        groups.begin(), groups.end(), label,
        [](const history_failing_group& g, const std::string& l) { return g.group < l; });
    const bool found = it != groups.end() && it->group == label;
    if (r.outcome == outcome::fail) {
        if (found) {
            it->value = r.value;
            it->window_end = r.window_end;
        } else if (groups.size() < check_history::k_tracked_groups) {
            groups.insert(it, {label, r.value, r.window_end});
        } else {
            s.more_failing = true;
        }
    } else if (r.outcome != outcome::no_data && found) {
        // No data says nothing new about a group; anything else ends its failure.
        groups.erase(it);
    }
    // Once every kept group recovered the ones not kept are unknown: they recover or fail
    // again soon, and are kept from then on.
    if (groups.empty()) s.more_failing = false;
}

}  // namespace

bool check_snapshot::failing() const {
    return grouped ? !failing_groups.empty() || more_failing : last_outcome == outcome::fail;
}

std::string group_label(const group_key& group) {
    std::string out;
    append_group(group, ",", out);
    return out;
}

void check_history::add(std::string_view pipeline, std::string_view node,
                        std::span<const check_result> results) {
    std::lock_guard lock(mutex_);
    std::string label;
    const check_result* label_of = nullptr;  // the result whose group `label` is the label of
    cycle_.restart();
    const auto matches = [](const check_snapshot& s, const check_result& r) {
        return s.check == r.check;
    };
    const auto lookup = [&](const check_result& r) {
        make_key(key_, pipeline, node, r.check);
        auto it = entries_.find(key_);
        if (it == entries_.end()) {
            check_snapshot fresh;
            fresh.pipeline = pipeline;
            fresh.node = node;
            fresh.check = r.check;
            it = entries_.emplace(key_, std::move(fresh)).first;
        }
        return &it->second;
    };
    for (const auto& r : results) {
        check_snapshot* s = cycle_.find(r, matches, lookup);
        ++s->results;
        s->last_outcome = r.outcome;
        s->last_value = r.value;
        s->last_window_end = r.window_end;
        add_point(s->recent, r);
        if (r.group.empty()) {
            s->last_group.clear();
            continue;
        }
        s->grouped = true;
        // A group's results come one after another: its label is built once.
        if (label_of == nullptr || label_of->group != r.group) {
            label.clear();
            append_group(r.group, ",", label);
            if (label.size() > k_max_group_chars) {
                label.resize(k_max_group_chars - 3);
                label += "...";
            }
            label_of = &r;
        }
        s->last_group = label;
        track_group(*s, r, label);
    }
}

std::vector<check_snapshot> check_history::snapshot() const {
    std::lock_guard lock(mutex_);
    std::vector<check_snapshot> out;
    out.reserve(entries_.size());
    for (const auto& [key, s] : entries_) out.push_back(s);
    return out;
}

void check_history::retain(std::span<const check_id> keep) {
    std::set<std::string, std::less<>> keys;
    std::string key;
    for (const auto& id : keep) {
        make_key(key, id.pipeline, id.node, id.check);
        keys.insert(key);
    }
    std::lock_guard lock(mutex_);
    std::erase_if(entries_, [&](const auto& e) { return !keys.contains(e.first); });
}

}  // namespace weir::daemon
