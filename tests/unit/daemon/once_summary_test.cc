// The summary and exit code of `weir run --once`: counts, the listed results in a fixed order
// whatever order they came in, checks without results, and --fail-on.
#include "daemon/once_summary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <span>
#include <vector>

#include "daemon/exit_codes.h"

namespace weir::daemon {
namespace {

constexpr time::timestamp_ns k_minute = 60'000'000'000;
// 2026-11-20T10:00:00Z
constexpr time::timestamp_ns k_start = 1'795'168'800'000'000'000;

check_result result(std::string check, int window, outcome o, double value,
                    std::string device = "") {
    check_result r;
    r.pipeline = "sensors";
    r.node = "quality";
    r.check = std::move(check);
    r.window_start = k_start + window * k_minute;
    r.window_end = r.window_start + k_minute;
    if (!device.empty()) r.group = {{"device_id", measure_value::make_string(device)}};
    r.value =
        o == outcome::no_data ? measure_value::make_null() : measure_value::make_number(value);
    r.must_be = "> 50";
    r.should_be = "> 60";
    r.outcome = o;
    return r;
}

TEST(parse_fail_on, the_three_policies) {
    EXPECT_EQ(parse_fail_on("never"), fail_on::never);
    EXPECT_EQ(parse_fail_on("warn"), fail_on::warn);
    EXPECT_EQ(parse_fail_on("fail"), fail_on::fail);
    EXPECT_EQ(parse_fail_on("error"), std::nullopt);
}

TEST(once_summary, exit_codes_by_policy) {
    once_summary passing;
    passing.add(std::vector{result("volume", 0, outcome::pass, 70),
                            result("volume", 1, outcome::no_data, 0)});
    once_summary warning;
    warning.add(std::vector{result("volume", 0, outcome::warn, 55)});
    once_summary failing;
    failing.add(
        std::vector{result("volume", 0, outcome::warn, 55), result("volume", 1, outcome::fail, 3)});
    for (const auto policy : {fail_on::never, fail_on::warn, fail_on::fail}) {
        EXPECT_EQ(passing.exit_code(policy), exit_ok);
    }
    EXPECT_EQ(warning.exit_code(fail_on::never), exit_ok);
    EXPECT_EQ(warning.exit_code(fail_on::warn), exit_checks_warn);
    EXPECT_EQ(warning.exit_code(fail_on::fail), exit_ok);
    EXPECT_EQ(failing.exit_code(fail_on::never), exit_ok);
    EXPECT_EQ(failing.exit_code(fail_on::warn), exit_checks_fail);
    EXPECT_EQ(failing.exit_code(fail_on::fail), exit_checks_fail);

    EXPECT_EQ(failing.verdict(fail_on::fail), "weir: exit 3: 1 fail result (--fail-on fail)\n");
    EXPECT_EQ(warning.verdict(fail_on::warn), "weir: exit 2: 1 warn result (--fail-on warn)\n");
    EXPECT_EQ(warning.verdict(fail_on::fail), "weir: exit 0: no fail result (--fail-on fail)\n");
    EXPECT_EQ(failing.verdict(fail_on::never), "weir: exit 0 (--fail-on never)\n");
}

TEST(once_summary, counts_each_window_of_each_node_once_however_many_and_in_any_order) {
    // Many windows (as sessions of many groups give), each reported several times, in random
    // order and batches, over two nodes whose windows coincide.
    std::mt19937_64 rng(5);
    std::vector<check_result> all;
    for (int w = 0; w < 3000; ++w) {
        for (int copy = 0; copy < 3; ++copy) {
            all.push_back(result("volume", w, outcome::pass, 70, "d-1"));
            check_result other = result("volume", w, outcome::pass, 70, "d-1");
            other.node = "other";
            if (w % 2 == 0) all.push_back(std::move(other));
        }
    }
    std::shuffle(all.begin(), all.end(), rng);
    once_summary s;
    for (std::size_t at = 0; at < all.size();) {
        const std::size_t n = std::min<std::size_t>(all.size() - at, 1 + rng() % 500);
        s.add(std::span(all).subspan(at, n));
        at += n;
        if (rng() % 4 == 0) {
            EXPECT_LE(s.windows(), 4500u);
        }
    }
    EXPECT_EQ(s.windows(), 4500u);
}

TEST(once_summary, counts_windows_and_lists_the_failing_results) {
    once_summary s;
    s.declare_check("sensors", "quality", "volume");
    s.declare_check("sensors", "quality", "freshness");  // never reports
    s.add(std::vector{result("volume", 0, outcome::pass, 70, "d-1"),
                      result("volume", 0, outcome::fail, 42, "d-2")});
    s.add(std::vector{result("volume", 1, outcome::warn, 55, "d-1"),
                      result("volume", 1, outcome::no_data, 0, "d-2")});
    EXPECT_EQ(s.windows(), 2u);
    EXPECT_EQ(s.count(outcome::pass), 1u);
    EXPECT_EQ(s.count(outcome::no_data), 1u);
    EXPECT_EQ(s.text(),
              "weir: --once: 2 checks, 2 windows, 4 results: 1 pass, 1 warn, 1 fail, 1 no_data\n"
              "weir: fail sensors/quality/volume 2026-11-20T10:00:00Z (1m) "
              "{device_id=d-2}: 42 (must be > 50)\n"
              "weir: warn sensors/quality/volume 2026-11-20T10:01:00Z (1m) "
              "{device_id=d-1}: 55 (should be > 60)\n"
              "weir: no result from sensors/quality/freshness: no window closed (no records, or "
              "emit left them out)\n");
}

TEST(once_summary, reconciliations_say_which_keys_each_side_lacks) {
    once_summary s;
    check_result r = result("unpaid", 0, outcome::fail, 2);
    r.must_be = "== 0";
    auto keys = std::make_shared<reconciliation_summary>();
    keys->left = "orders";
    keys->right = "payments";
    keys->matched = 8;
    keys->missing_right = 2;
    keys->sample_missing_right = {"17", "\"o-3\""};
    r.reconciliation = keys;
    s.add(std::vector{r});
    EXPECT_NE(s.text().find(" 2026-11-20T10:00:00Z (1m): 2 (must be == 0; payments lack 17, "
                            "\"o-3\")\n"),
              std::string::npos)
        << s.text();
}

// Queries finish in any order: the list is the first k_listed in a fixed order, and the rest
// are counted.
TEST(once_summary, the_list_is_bounded_and_independent_of_arrival_order) {
    std::vector<check_result> all;
    for (int w = 0; w < 30; ++w) {
        all.push_back(result("volume", w, outcome::fail, w));
        all.push_back(result("mean", w, outcome::warn, w));
    }
    once_summary sorted;
    sorted.add(all);
    std::mt19937 rng(7);
    std::shuffle(all.begin(), all.end(), rng);
    once_summary shuffled;
    for (const auto& r : all) shuffled.add(std::span(&r, 1));
    EXPECT_EQ(sorted.text(), shuffled.text());

    const std::string text = sorted.text();
    const auto lines = std::count(text.begin(), text.end(), '\n');
    EXPECT_EQ(lines, 1 + static_cast<long>(once_summary::k_listed) + 1);
    EXPECT_NE(text.find("weir: … and 40 more warn or fail results\n"), std::string::npos);
    // Fails first: the 20 listed are the volume check's first 20 windows.
    EXPECT_EQ(text.find("warn sensors"), std::string::npos);
    EXPECT_NE(text.find(" 2026-11-20T10:19:00Z (1m)"), std::string::npos);
    EXPECT_EQ(text.find(" 2026-11-20T10:20:00Z (1m)"), std::string::npos);
}

}  // namespace
}  // namespace weir::daemon
