// The three strengths of assertions: debug-only, release-fatal, and log + counter.
#include "core/diag/assert.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/core/engine/engine_harness.h"

namespace weir::diag {
namespace {

std::string last_report;

void remember(const broken_invariant& where) {
    last_report = std::string(where.message) + " (" + where.condition + ")";
}

TEST(assertions, a_check_reports_counts_and_lets_the_caller_go_on) {
    set_invariant_handler(&remember);
    const std::uint64_t before = broken_checks();
    int x = 3;
    EXPECT_TRUE(WEIR_CHECK(x == 3, "x is three"));
    EXPECT_EQ(broken_checks(), before);
    EXPECT_FALSE(WEIR_CHECK(x == 4, "x is four"));
    EXPECT_EQ(broken_checks(), before + 1);
    EXPECT_EQ(last_report, "x is four (x == 4)");
    set_invariant_handler(nullptr);
}

TEST(assertions, a_broken_assert_aborts_with_its_place) {
    int x = 3;
    EXPECT_DEATH(WEIR_ASSERT(x == 4, "x is four"),
                 "internal error at .*assert_test.cc:.*x is four");
}

#ifndef NDEBUG
TEST(assertions, debug_asserts_hold_in_debug_builds) {
    int x = 3;
    EXPECT_DEATH(WEIR_DEBUG_ASSERT(x == 4), "debug assertion");
}
#endif

// The engine's own: records of a watermark source it does not know are refused and reported,
// never let loose on the watermark.
TEST(assertions, the_engine_refuses_records_of_an_unknown_source) {
    set_invariant_handler(&remember);
    using namespace weir::test;
    window::window_spec w;
    w.size = 10 * k_s;
    engine::node_engine e(basic_plan(w), 0);
    string_pool pool;
    record_batch batch;
    std::vector<time::timestamp_ns> times;
    fill_batch({{5 * k_s, pool.make("a"), field_value::make_number(1), {}}}, batch, times);
    std::vector<check_result> out;
    const std::uint64_t before = broken_checks();
    e.process(batch, times, 0, out, nullptr, 7);
    EXPECT_EQ(broken_checks(), before + 1);
    EXPECT_EQ(e.stats().records, 0u);
    EXPECT_EQ(e.stats().invalid, 1u);
    EXPECT_NE(last_report.find("unknown or removed watermark source"), std::string::npos);
    set_invariant_handler(nullptr);
}

}  // namespace
}  // namespace weir::diag
