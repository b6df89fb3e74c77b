// Tests of the reload planner: which queries a SIGHUP keeps, resumes, restarts, removes and adds,
// for each case alone and mixed, checked against a brute-force reading of the rule on random
// sets.
#include "daemon/reload_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace weir::daemon {
namespace {

using keys = std::vector<std::string>;

// A pipeline of queries with one outputs fingerprint, as config would compile it; every query
// judges its results alike (`judgement`).
void add_pipeline(query_identities& into, const std::string& pipeline, const std::string& outputs,
                  const std::vector<std::pair<std::string, std::string>>& queries,
                  const std::string& judgement = "j") {
    for (const auto& [name, fingerprint] : queries) {
        into[query_key(pipeline, name)] = {fingerprint, judgement, outputs};
    }
}

TEST(reload_plan, keys_are_pipeline_slash_query) {
    EXPECT_EQ(query_key("sensors", "quality"), "sensors/quality");
    EXPECT_EQ(query_key("", "q"), "/q");
}

TEST(reload_plan, nothing_changed_keeps_everything) {
    query_identities q;
    add_pipeline(q, "a", "o1", {{"x", "f1"}, {"y", "f2"}});
    add_pipeline(q, "b", "o2", {{"z", "f3"}});
    EXPECT_EQ(plan_reload(q, q), (reload_plan{.keep = {"a/x", "a/y", "b/z"}}));
}

TEST(reload_plan, empty_old_adds_everything_and_empty_new_removes_everything) {
    query_identities q;
    add_pipeline(q, "a", "o1", {{"x", "f1"}, {"y", "f2"}});
    EXPECT_EQ(plan_reload({}, q), (reload_plan{.add = {"a/x", "a/y"}}));
    EXPECT_EQ(plan_reload(q, {}), (reload_plan{.remove = {"a/x", "a/y"}}));
    EXPECT_EQ(plan_reload({}, {}), reload_plan{});
}

TEST(reload_plan, a_changed_plan_restarts_that_query_only) {
    query_identities before, after;
    add_pipeline(before, "a", "o1", {{"x", "f1"}, {"y", "f2"}});
    add_pipeline(after, "a", "o1", {{"x", "f1"}, {"y", "f2-new"}});
    EXPECT_EQ(plan_reload(before, after), (reload_plan{.keep = {"a/x"}, .restart = {"a/y"}}));
}

// Outputs are not part of what a query measures: its open windows carry over.
TEST(reload_plan, changed_outputs_resume_every_query_of_that_pipeline_only) {
    query_identities before, after;
    add_pipeline(before, "a", "o1", {{"x", "f1"}, {"y", "f2"}});
    add_pipeline(before, "b", "o2", {{"x", "f1"}});
    add_pipeline(after, "a", "o1-new", {{"x", "f1"}, {"y", "f2"}});
    add_pipeline(after, "b", "o2", {{"x", "f1"}});
    EXPECT_EQ(plan_reload(before, after), (reload_plan{.keep = {"b/x"}, .resume = {"a/x", "a/y"}}));
}

// A threshold, emit, on_no_data or on_partial changed: same measures, new judgement.
TEST(reload_plan, a_changed_judgement_resumes_that_query_only) {
    query_identities before, after;
    add_pipeline(before, "a", "o1", {{"x", "f1"}}, "j1");
    add_pipeline(before, "a", "o1", {{"y", "f2"}}, "j1");
    add_pipeline(after, "a", "o1", {{"x", "f1"}}, "j1");
    add_pipeline(after, "a", "o1", {{"y", "f2"}}, "j2");
    EXPECT_EQ(plan_reload(before, after), (reload_plan{.keep = {"a/x"}, .resume = {"a/y"}}));
}

TEST(reload_plan, a_changed_plan_with_a_changed_judgement_is_one_restart) {
    query_identities before, after;
    add_pipeline(before, "a", "o1", {{"x", "f1"}}, "j1");
    add_pipeline(after, "a", "o2", {{"x", "f2"}}, "j2");
    EXPECT_EQ(plan_reload(before, after), (reload_plan{.restart = {"a/x"}}));
}

TEST(reload_plan, both_fingerprints_changed_is_one_restart) {
    query_identities before, after;
    add_pipeline(before, "a", "o1", {{"x", "f1"}});
    add_pipeline(after, "a", "o2", {{"x", "f2"}});
    EXPECT_EQ(plan_reload(before, after), (reload_plan{.restart = {"a/x"}}));
}

TEST(reload_plan, a_renamed_pipeline_removes_its_queries_and_adds_them_anew) {
    query_identities before, after;
    add_pipeline(before, "old", "o1", {{"x", "f1"}});
    add_pipeline(before, "same", "o2", {{"y", "f2"}});
    add_pipeline(after, "new", "o1", {{"x", "f1"}});
    add_pipeline(after, "same", "o2", {{"y", "f2"}});
    EXPECT_EQ(plan_reload(before, after),
              (reload_plan{.keep = {"same/y"}, .remove = {"old/x"}, .add = {"new/x"}}));
}

TEST(reload_plan, a_query_moved_between_pipelines_is_another_query) {
    // The same fingerprint under another pipeline: another checkpoint file, another query.
    query_identities before, after;
    add_pipeline(before, "a", "o", {{"x", "f1"}, {"y", "f2"}});
    add_pipeline(after, "a", "o", {{"x", "f1"}});
    add_pipeline(after, "b", "o", {{"y", "f2"}});
    EXPECT_EQ(plan_reload(before, after),
              (reload_plan{.keep = {"a/x"}, .remove = {"a/y"}, .add = {"b/y"}}));
}

TEST(reload_plan, a_mix_of_every_case_sorts_each_list) {
    query_identities before, after;
    add_pipeline(before, "p", "o", {{"keep", "k"}, {"plan", "p1"}, {"gone", "g"}});
    add_pipeline(before, "q", "o1", {{"a", "a"}, {"b", "b"}});
    add_pipeline(before, "r", "o", {{"only", "r"}});
    add_pipeline(after, "p", "o", {{"keep", "k"}, {"plan", "p2"}, {"fresh", "n"}});
    add_pipeline(after, "q", "o2", {{"a", "a"}, {"b", "b"}});
    add_pipeline(after, "s", "o", {{"only", "r"}});
    const reload_plan plan = plan_reload(before, after);
    EXPECT_EQ(plan.keep, (keys{"p/keep"}));
    EXPECT_EQ(plan.resume, (keys{"q/a", "q/b"}));
    EXPECT_EQ(plan.restart, (keys{"p/plan"}));
    EXPECT_EQ(plan.remove, (keys{"p/gone", "r/only"}));
    EXPECT_EQ(plan.add, (keys{"p/fresh", "s/only"}));
}

// The rule read literally, key by key, against the planner on random configurations.
TEST(reload_plan, agrees_with_the_rule_on_random_configurations) {
    std::mt19937 rng(7);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto random_set = [&] {
        query_identities q;
        const int pipelines = pick(5);
        for (int p = 0; p < pipelines; ++p) {
            const std::string outputs = "o" + std::to_string(pick(2));
            const std::string pipeline = "p" + std::to_string(pick(4));
            for (int i = pick(4); i > 0; --i) {
                q[query_key(pipeline, "q" + std::to_string(pick(4)))] = {
                    "f" + std::to_string(pick(2)), "j" + std::to_string(pick(2)), outputs};
            }
        }
        return q;
    };
    for (int round = 0; round < 500; ++round) {
        const query_identities before = random_set();
        const query_identities after = random_set();
        const reload_plan plan = plan_reload(before, after);
        std::set<std::string> all;
        for (const auto& [k, v] : before) all.insert(k);
        for (const auto& [k, v] : after) all.insert(k);
        std::size_t listed = 0;
        for (const auto& key : all) {
            const auto b = before.find(key);
            const auto a = after.find(key);
            const keys* expected = nullptr;
            if (a == after.end()) {
                expected = &plan.remove;
            } else if (b == before.end()) {
                expected = &plan.add;
            } else if (a->second.plan_fingerprint != b->second.plan_fingerprint) {
                expected = &plan.restart;
            } else if (a->second.judgement_fingerprint == b->second.judgement_fingerprint &&
                       a->second.outputs_fingerprint == b->second.outputs_fingerprint) {
                expected = &plan.keep;
            } else {
                expected = &plan.resume;
            }
            EXPECT_TRUE(std::binary_search(expected->begin(), expected->end(), key)) << key;
        }
        for (const keys* list :
             {&plan.keep, &plan.resume, &plan.restart, &plan.remove, &plan.add}) {
            EXPECT_TRUE(std::is_sorted(list->begin(), list->end()));
            listed += list->size();
        }
        EXPECT_EQ(listed, all.size()) << "every key in exactly one list";
    }
}

}  // namespace
}  // namespace weir::daemon
