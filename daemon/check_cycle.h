// A guess at which check a node's next result is of, for the per-result bookkeeping of
// results (the --once summary, the checks' history, their metrics).
//
// A node's results for a window come group by group, each group's checks in the same order.
// Looking each result's check up by name (a tree of strings) costs more than the rest of the
// bookkeeping; check_cycle remembers the order the first group gave and tries the next entry
// in it first, then the first (the next group), and only then the lookup. A guess is taken
// only when `matches` confirms it, so a result in any other order still finds its entry.
#pragma once

#include <cstddef>
#include <vector>

namespace weir::daemon {

template <class Entry>
class check_cycle {
  public:
    // Forget the order: at the start of each batch of results (the entries it holds may not
    // outlive the batch's lookups).
    void restart() {
        order_.clear();
        next_ = 0;
    }

    // The entry of result `r`: a guess `matches(entry, r)` confirms, else `lookup(r)`.
    template <class Result, class Matches, class Lookup>
    Entry* find(const Result& r, Matches&& matches, Lookup&& lookup) {
        if (next_ < order_.size() && matches(*order_[next_], r)) return order_[next_++];
        if (!order_.empty() && matches(*order_.front(), r)) {
            next_ = 1;
            return order_.front();
        }
        Entry* e = lookup(r);
        // At the end of what was learnt: still learning the first group's order. Either way,
        // the next guess is the first entry (a group starting again).
        if (next_ == order_.size() && order_.size() < k_max_checks) order_.push_back(e);
        next_ = order_.size();
        return e;
    }

  private:
    static constexpr std::size_t k_max_checks = 4096;
    std::vector<Entry*> order_;
    std::size_t next_ = 0;
};

}  // namespace weir::daemon
