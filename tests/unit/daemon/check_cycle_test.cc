// Tests of check_cycle: the guess at a result's check finds the right entry whatever order
// results come in, and spares the lookup when they come group by group in one order.
#include "daemon/check_cycle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace weir::daemon {
namespace {

struct entry {
    std::string check;
    int seen = 0;
};

// Entries by check name, found by a lookup that counts its calls.
struct book {
    std::map<std::string, entry> entries;
    int lookups = 0;
    check_cycle<entry> cycle;

    entry* find(const std::string& check) {
        return cycle.find(
            check, [](const entry& e, const std::string& c) { return e.check == c; },
            [&](const std::string& c) {
                ++lookups;
                entry& e = entries[c];
                e.check = c;
                return &e;
            });
    }
    // Adds a batch: each check's entry counts it.
    void add(const std::vector<std::string>& checks) {
        cycle.restart();
        for (const auto& c : checks) {
            entry* e = find(c);
            ASSERT_EQ(e->check, c);
            ++e->seen;
        }
    }
};

std::vector<std::string> group_by_group(int groups, const std::vector<std::string>& checks) {
    std::vector<std::string> out;
    for (int g = 0; g < groups; ++g) out.insert(out.end(), checks.begin(), checks.end());
    return out;
}

TEST(check_cycle, results_group_by_group_are_looked_up_once_per_check) {
    book b;
    const std::vector<std::string> checks = {"volume", "mean", "max", "min"};
    b.add(group_by_group(100, checks));
    EXPECT_EQ(b.lookups, 4);  // the first group's
    for (const auto& c : checks) EXPECT_EQ(b.entries[c].seen, 100) << c;
    // A new batch learns the order again.
    b.add(group_by_group(10, checks));
    EXPECT_EQ(b.lookups, 8);
    for (const auto& c : checks) EXPECT_EQ(b.entries[c].seen, 110) << c;
}

TEST(check_cycle, groups_that_lack_checks_or_change_their_order_still_find_each_entry) {
    book b;
    // The first group lacks "c"; the second lacks "b"; the third has another order.
    b.add({"a", "b", "d", "a", "c", "d", "d", "c", "b", "a", "a", "b", "c", "d"});
    EXPECT_EQ(b.entries["a"].seen, 4);
    EXPECT_EQ(b.entries["b"].seen, 3);
    EXPECT_EQ(b.entries["c"].seen, 3);
    EXPECT_EQ(b.entries["d"].seen, 4);
}

TEST(check_cycle, any_order_gives_the_same_counts_as_lookups_alone) {
    std::mt19937 rng(7);
    std::vector<std::string> checks;
    for (int i = 0; i < 30; ++i) checks.push_back("check_" + std::to_string(i));
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<std::string> batch = group_by_group(20, checks);
        // Disturb part of the order: some swaps, some results left out.
        for (int s = 0; s < trial; ++s) {
            std::swap(batch[rng() % batch.size()], batch[rng() % batch.size()]);
        }
        for (int s = 0; s < trial / 5 && !batch.empty(); ++s) {
            batch.erase(batch.begin() + static_cast<long>(rng() % batch.size()));
        }
        book b;
        b.add(batch);
        std::map<std::string, int> want;
        for (const auto& c : batch) ++want[c];
        for (const auto& [c, n] : want) EXPECT_EQ(b.entries[c].seen, n) << c << " trial " << trial;
        EXPECT_EQ(b.entries.size(), want.size());
    }
}

}  // namespace
}  // namespace weir::daemon
