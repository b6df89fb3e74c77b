// Tests of the status page's check history: the latest outcome and value, failing groups as
// results come and go (emit: changes sends a group's failure once), the bounded series of
// recent values, and what a reload makes it forget.
#include "daemon/check_history.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace weir::daemon {
namespace {

check_result result(std::string check, time::timestamp_ns end, double value, outcome o,
                    std::string host = "") {
    check_result r;
    r.pipeline = "p";
    r.node = "n";
    r.check = std::move(check);
    r.window_start = end - 10;
    r.window_end = end;
    r.value = measure_value::make_number(value);
    r.outcome = o;
    if (!host.empty()) r.group = {{"host", measure_value::make_string(std::move(host))}};
    return r;
}

TEST(check_history, keeps_the_latest_outcome_and_value_of_an_ungrouped_check) {
    check_history h;
    std::vector<check_result> rs = {result("a", 10, 0.5, outcome::pass),
                                    result("b", 10, 7, outcome::fail)};
    h.add("p", "n", rs);
    rs = {result("a", 20, 0.9, outcome::fail)};
    h.add("p", "n", rs);
    const auto snap = h.snapshot();
    ASSERT_EQ(snap.size(), 2u);
    EXPECT_EQ(snap[0].check, "a");
    EXPECT_EQ(snap[0].last_outcome, outcome::fail);
    EXPECT_EQ(snap[0].last_value, measure_value::make_number(0.9));
    EXPECT_TRUE(snap[0].failing());
    EXPECT_FALSE(snap[0].grouped);
    ASSERT_EQ(snap[0].recent.size(), 2u);
    EXPECT_EQ(snap[0].recent[0].low, 0.5);
    EXPECT_EQ(snap[0].recent[1].worst, outcome::fail);
    EXPECT_EQ(snap[0].results, 2u);
    EXPECT_EQ(snap[1].check, "b");
}

TEST(check_history, tracks_failing_groups_until_they_pass) {
    check_history h;
    std::vector<check_result> rs = {result("e", 10, 0.1, outcome::pass, "web-1"),
                                    result("e", 10, 0.4, outcome::fail, "web-3"),
                                    result("e", 10, 0.3, outcome::fail, "web-2")};
    h.add("p", "n", rs);
    auto s = h.snapshot().at(0);
    EXPECT_TRUE(s.grouped);
    EXPECT_TRUE(s.failing());
    ASSERT_EQ(s.failing_groups.size(), 2u);
    EXPECT_EQ(s.failing_groups[0].group, "host=web-2");  // sorted
    EXPECT_EQ(s.failing_groups[1].group, "host=web-3");
    ASSERT_EQ(s.recent.size(), 1u);
    EXPECT_EQ(s.recent[0].low, 0.1);
    EXPECT_EQ(s.recent[0].high, 0.4);
    EXPECT_EQ(s.recent[0].results, 3u);
    EXPECT_EQ(s.recent[0].failing, 2u);
    EXPECT_EQ(s.recent[0].worst, outcome::fail);

    // Only changes come: web-2 recovers, web-3 is not sent again and still fails; no data
    // says nothing about a group.
    rs = {result("e", 20, 0.0, outcome::pass, "web-2"),
          result("e", 20, 0.0, outcome::no_data, "web-3")};
    h.add("p", "n", rs);
    s = h.snapshot().at(0);
    ASSERT_EQ(s.failing_groups.size(), 1u);
    EXPECT_EQ(s.failing_groups[0].group, "host=web-3");
    EXPECT_EQ(s.failing_groups[0].value, measure_value::make_number(0.4));
    EXPECT_TRUE(s.failing());

    rs = {result("e", 30, 0.0, outcome::pass, "web-3")};
    h.add("p", "n", rs);
    s = h.snapshot().at(0);
    EXPECT_TRUE(s.failing_groups.empty());
    EXPECT_FALSE(s.failing());
}

TEST(check_history, results_group_by_group_each_keep_their_own_group) {
    // As a node emits them: every check of one group, then of the next.
    check_history h;
    std::vector<check_result> rs = {
        result("a", 10, 1, outcome::pass, "web-1"), result("b", 10, 2, outcome::fail, "web-1"),
        result("a", 10, 3, outcome::fail, "web-2"), result("b", 10, 4, outcome::pass, "web-2"),
        result("a", 10, 5, outcome::fail, "web-3"), result("b", 10, 6, outcome::fail, "web-3")};
    h.add("p", "n", rs);
    const auto snap = h.snapshot();
    ASSERT_EQ(snap.size(), 2u);
    ASSERT_EQ(snap[0].check, "a");
    ASSERT_EQ(snap[0].failing_groups.size(), 2u);
    EXPECT_EQ(snap[0].failing_groups[0].group, "host=web-2");
    EXPECT_EQ(snap[0].failing_groups[1].group, "host=web-3");
    EXPECT_EQ(snap[0].last_group, "host=web-3");
    ASSERT_EQ(snap[1].check, "b");
    ASSERT_EQ(snap[1].failing_groups.size(), 2u);
    EXPECT_EQ(snap[1].failing_groups[0].group, "host=web-1");
    EXPECT_EQ(snap[1].failing_groups[0].value, measure_value::make_number(2));
    EXPECT_EQ(snap[1].failing_groups[1].group, "host=web-3");
    EXPECT_EQ(snap[1].results, 3u);
}

TEST(check_history, is_bounded_however_many_windows_and_groups_come) {
    check_history h;
    std::vector<check_result> rs;
    for (int w = 1; w <= 200; ++w) {
        rs.clear();
        for (int g = 0; g < 50; ++g) {
            rs.push_back(result("c", w * 10, g, outcome::fail, "h" + std::to_string(w * 50 + g)));
        }
        h.add("p", "n", rs);
    }
    const auto s = h.snapshot().at(0);
    EXPECT_EQ(s.recent.size(), check_history::k_points);
    EXPECT_EQ(s.recent.back().window_end, 2000);
    EXPECT_EQ(s.recent.front().window_end, (200 - check_history::k_points + 1) * 10);
    EXPECT_EQ(s.failing_groups.size(), check_history::k_tracked_groups);
    EXPECT_TRUE(s.more_failing);
    EXPECT_TRUE(s.failing());
    EXPECT_EQ(s.results, 200u * 50u);
}

TEST(check_history, long_group_labels_are_cut) {
    check_history h;
    std::vector<check_result> rs = {result("c", 10, 1, outcome::fail, std::string(1000, 'x'))};
    h.add("p", "n", rs);
    const auto s = h.snapshot().at(0);
    ASSERT_EQ(s.failing_groups.size(), 1u);
    EXPECT_EQ(s.failing_groups[0].group.size(), check_history::k_max_group_chars);
}

TEST(check_history, a_window_without_numbers_has_no_value_in_the_series) {
    check_history h;
    check_result r = result("c", 10, 0, outcome::no_data);
    r.value = measure_value::make_null();
    std::vector<check_result> rs = {r};
    h.add("p", "n", rs);
    const auto s = h.snapshot().at(0);
    ASSERT_EQ(s.recent.size(), 1u);
    EXPECT_TRUE(std::isnan(s.recent[0].low));
    EXPECT_FALSE(s.failing());
}

TEST(check_history, retain_forgets_checks_a_reload_removed) {
    check_history h;
    std::vector<check_result> rs = {result("a", 10, 1, outcome::pass),
                                    result("b", 10, 1, outcome::pass)};
    h.add("p", "n", rs);
    h.add("q", "n", rs);
    const std::vector<check_history::check_id> keep = {{"p", "n", "b"}};
    h.retain(keep);
    const auto s = h.snapshot();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].pipeline, "p");
    EXPECT_EQ(s[0].check, "b");
}

}  // namespace
}  // namespace weir::daemon
