// The node graph: references, cycles, type checks, warnings and the split into queries,
// on pipelines built directly (independent of YAML loading).
#include "config/graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace weir::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

located<std::string> at(std::string value, int line, int column = 5) {
    return {std::move(value), {"p.yaml", line, column}, true};
}

params::component_info results_only{"alertmanager", params::component_kind::output, "", nullptr,
                                    false};
params::component_info records_too{"file", params::component_kind::output, "", nullptr, true};

class pipeline_builder {
  public:
    pipeline_builder() {
        p_.name = "p";
        p_.file = "p.yaml";
    }

    pipeline_builder& input(std::string name) {
        component_config c;
        c.name = std::move(name);
        c.pos = {"p.yaml", next_line_++, 3};
        c.type = at("generator", c.pos.line);
        p_.inputs.push_back(std::move(c));
        return *this;
    }
    pipeline_builder& output(std::string name, const params::component_info& info) {
        component_config c;
        c.name = std::move(name);
        c.pos = {"p.yaml", next_line_++, 3};
        c.type = at(info.type, c.pos.line);
        c.info = &info;
        p_.outputs.push_back(std::move(c));
        return *this;
    }
    // `checks` > 0 makes a node that emits results.
    pipeline_builder& node(std::string name, std::vector<std::string> from, int checks = 1,
                           std::vector<std::string> outputs = {}) {
        node_config n;
        n.name = std::move(name);
        n.pos = {"p.yaml", next_line_++, 3};
        for (auto& f : from) n.from.push_back(at(std::move(f), next_line_++));
        for (int i = 0; i < checks; ++i) {
            check_config c;
            c.name = at("c" + std::to_string(i), next_line_++);
            c.measure = at("count()", next_line_);
            n.checks.push_back(std::move(c));
        }
        for (auto& o : outputs) n.outputs.push_back(at(std::move(o), next_line_++));
        p_.nodes.push_back(std::move(n));
        return *this;
    }
    node_config& last() { return p_.nodes.back(); }
    const pipeline_config& get() const { return p_; }

  private:
    pipeline_config p_;
    int next_line_ = 1;
};

std::vector<diagnostic> errors_of(const diagnostics& d) {
    std::vector<diagnostic> out;
    for (const auto& i : d.sorted()) {
        if (i.severity == severity::error) out.push_back(i);
    }
    return out;
}

std::vector<std::string> messages(const diagnostics& d, severity s = severity::error) {
    std::vector<std::string> out;
    for (const auto& i : d.sorted()) {
        if (i.severity == s) out.push_back(i.message);
    }
    return out;
}

TEST(graph, a_clean_pipeline_has_no_diagnostics) {
    pipeline_builder b;
    b.input("readings").output("results", records_too);
    b.node("clean", {"readings"}, 0).node("quality", {"clean"}, 2, {"results"});
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_TRUE(d.empty()) << (d.empty() ? "" : format(d.items()[0]));
}

TEST(graph, unknown_references_suggest_the_nearest_name) {
    pipeline_builder b;
    b.input("readings").output("results", records_too);
    b.node("quality", {"readngs"}, 1, {"resuls"});
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_THAT(messages(d),
                ElementsAre("unknown input or node \"readngs\"; did you mean \"readings\"?",
                            "unknown output \"resuls\"; did you mean \"results\"?"));
    // Each points at the offending reference.
    const auto sorted = errors_of(d);
    EXPECT_EQ(sorted[0].path, "nodes.quality.from");
    EXPECT_EQ(sorted[0].pos, b.get().nodes[0].from[0].pos);
}

TEST(graph, two_node_cycle_prints_its_path) {
    pipeline_builder b;
    b.input("readings");
    b.node("a", {"b"}, 0).node("b", {"a"}, 0).node("sink", {"a"});
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_THAT(messages(d), ElementsAre("cycle: a -> b -> a"));
    EXPECT_EQ(errors_of(d)[0].path, "nodes.b.from");
}

TEST(graph, three_node_cycle_is_reported_once_in_flow_order) {
    pipeline_builder b;
    b.input("readings");
    // Records flow a -> b -> c -> a (b reads a, c reads b, a reads c).
    b.node("a", {"c", "readings"}, 0).node("b", {"a"}, 0).node("c", {"b"}, 0);
    b.node("sink", {"c"});
    diagnostics d;
    check_graph(b.get(), d);
    const auto errors = messages(d);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0], "cycle: a -> b -> c -> a");
}

TEST(graph, self_reference_is_an_error) {
    pipeline_builder b;
    b.input("readings");
    b.node("a", {"a", "readings"});
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_THAT(messages(d), ElementsAre("node \"a\" reads from itself"));
}

TEST(graph, random_graphs_cycles_found_exactly_when_present) {
    // Random directed graphs: a cycle error must appear if and only if the graph has a cycle,
    // checked against a brute-force reachability reference.
    std::mt19937 rng(7);
    for (int trial = 0; trial < 300; ++trial) {
        const int n = 2 + static_cast<int>(rng() % 6);
        std::vector<std::vector<int>> reads(n);
        for (int i = 0; i < n; ++i) {
            for (int j = 0; j < n; ++j) {
                if (i != j && rng() % 4 == 0) reads[i].push_back(j);
            }
        }
        // Reference: a cycle exists if some node reaches itself.
        bool has_cycle = false;
        for (int s = 0; s < n && !has_cycle; ++s) {
            std::vector<int> stack(reads[s].begin(), reads[s].end());
            std::vector<bool> seen(n, false);
            while (!stack.empty() && !has_cycle) {
                const int v = stack.back();
                stack.pop_back();
                if (v == s) has_cycle = true;
                if (seen[v]) continue;
                seen[v] = true;
                for (int w : reads[v]) stack.push_back(w);
            }
        }
        pipeline_builder b;
        b.input("src");
        for (int i = 0; i < n; ++i) {
            std::vector<std::string> from{"src"};
            for (int j : reads[i]) from.push_back("n" + std::to_string(j));
            b.node("n" + std::to_string(i), from, 0);
        }
        diagnostics d;
        check_graph(b.get(), d);
        bool reported = false;
        for (const auto& m : messages(d)) reported |= m.rfind("cycle: ", 0) == 0;
        EXPECT_EQ(reported, has_cycle) << "trial " << trial;
    }
}

TEST(graph, a_node_reading_results_is_a_type_error) {
    pipeline_builder b;
    b.input("readings");
    b.node("quality", {"readings"}).node("meta", {"quality"});
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_THAT(messages(d), ElementsAre("node \"meta\" reads check results of node \"quality\", "
                                         "but expects records"));
}

TEST(graph, records_cannot_go_to_a_results_only_output) {
    pipeline_builder b;
    b.input("readings").output("alerts", results_only).output("archive", records_too);
    b.node("clean", {"readings"}, 0, {"alerts", "archive"});
    b.node("quality", {"readings"}, 1, {"alerts"});
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_THAT(messages(d),
                ElementsAre("output \"alerts\" (alertmanager) accepts only check results, but "
                            "node \"clean\" sends it records"));
}

TEST(graph, late_output_and_dead_letter_are_checked) {
    pipeline_builder b;
    b.input("readings").output("alerts", results_only);
    b.node("quality", {"readings"});
    b.last().late_output = at("alerts", 40);
    b.last().schema.emplace();
    b.last().schema->dead_letter = at("nowhere", 41);
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_THAT(messages(d),
                ElementsAre(HasSubstr("accepts only check results"), "unknown output \"nowhere\""));
}

TEST(graph, join_sides_must_be_inputs_of_the_node) {
    pipeline_builder b;
    b.input("orders").input("payments").input("refunds");
    b.node("matched", {"orders", "payments"});
    join_config j;
    j.left = at("orders", 30);
    j.right = at("refunds", 31);
    b.last().join = j;
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_THAT(messages(d), ElementsAre("\"refunds\" is not one of the node's inputs (from: "
                                         "orders, payments)"));
}

TEST(graph, unused_parts_are_warnings) {
    pipeline_builder b;
    b.input("used").input("spare").output("results", records_too).output("unused", records_too);
    b.node("orphan", {"used"}, 0);
    b.node("quality", {"used"}, 1, {"results"});
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_FALSE(d.has_errors());
    EXPECT_THAT(messages(d, severity::warning),
                ElementsAre("input \"spare\" is not read by any node",
                            "output \"unused\" is not used by any node",
                            HasSubstr("node \"orphan\" has no checks")));
}

TEST(graph, dependencies_count_as_reading_an_input) {
    pipeline_builder b;
    b.input("readings").input("weather");
    b.node("quality", {"readings"});
    dependency_config dep;
    dep.input = at("weather", 20);
    b.last().depends_on.push_back(dep);
    diagnostics d;
    check_graph(b.get(), d);
    EXPECT_TRUE(d.empty());

    b.last().depends_on[0].input = at("wether", 20);
    diagnostics d2;
    check_graph(b.get(), d2);
    EXPECT_THAT(messages(d2), ElementsAre("unknown input \"wether\"; did you mean \"weather\"?"));
}

TEST(queries, one_query_per_result_node_with_its_upstream_chain) {
    pipeline_builder b;
    b.input("readings").input("devices").output("results", records_too);
    b.output("alerts", results_only);
    b.node("clean", {"readings"}, 0);
    b.node("enriched", {"clean", "devices"}, 0);
    b.node("quality", {"enriched"}, 2, {"alerts"});
    b.node("volume", {"readings"}, 1, {"results"});
    b.node("archive", {"clean"}, 0, {"results"});
    const auto queries = split_queries(b.get());
    ASSERT_EQ(queries.size(), 3u);

    EXPECT_EQ(queries[0].name, "archive");
    EXPECT_THAT(queries[0].nodes, ElementsAre("clean", "archive"));
    EXPECT_THAT(queries[0].inputs, ElementsAre("readings"));

    EXPECT_EQ(queries[1].name, "quality");
    EXPECT_THAT(queries[1].nodes, ElementsAre("clean", "enriched", "quality"));
    EXPECT_THAT(queries[1].inputs, ElementsAre("devices", "readings"));
    EXPECT_THAT(queries[1].outputs, ElementsAre("alerts"));

    EXPECT_EQ(queries[2].name, "volume");
    EXPECT_THAT(queries[2].nodes, ElementsAre("volume"));
    EXPECT_THAT(queries[2].outputs, ElementsAre("results"));
}

TEST(queries, random_dags_every_query_is_closed_and_topologically_ordered) {
    std::mt19937 rng(11);
    for (int trial = 0; trial < 200; ++trial) {
        const int n = 1 + static_cast<int>(rng() % 8);
        pipeline_builder b;
        b.input("src");
        std::vector<std::vector<int>> reads(n);
        for (int i = 0; i < n; ++i) {
            std::vector<std::string> from;
            for (int j = 0; j < i; ++j) {  // only earlier nodes: a DAG
                if (rng() % 3 == 0) {
                    reads[i].push_back(j);
                    from.push_back("n" + std::to_string(j));
                }
            }
            if (from.empty()) from.push_back("src");
            b.node("n" + std::to_string(i), from, 0);
        }
        const auto& p = b.get();
        const auto queries = split_queries(p);
        std::set<std::string> read;
        for (int i = 0; i < n; ++i) {
            for (int j : reads[i]) read.insert("n" + std::to_string(j));
        }
        std::set<std::string> terminals;
        for (const auto& q : queries) terminals.insert(q.name);
        for (int i = 0; i < n; ++i) {
            const std::string name = "n" + std::to_string(i);
            EXPECT_EQ(terminals.count(name), read.count(name) ? 0u : 1u) << name;
        }
        for (const auto& q : queries) {
            EXPECT_EQ(q.nodes.back(), q.name);
            // Closed under "reads", and every node comes after the nodes it reads.
            for (std::size_t k = 0; k < q.nodes.size(); ++k) {
                const int i = std::stoi(q.nodes[k].substr(1));
                for (int j : reads[i]) {
                    auto it = std::find(q.nodes.begin(), q.nodes.end(), "n" + std::to_string(j));
                    ASSERT_NE(it, q.nodes.end());
                    EXPECT_LT(it - q.nodes.begin(), static_cast<long>(k));
                }
            }
        }
    }
}

TEST(render, text_dot_and_mermaid_name_every_part) {
    pipeline_builder b;
    b.input("readings").output("results", records_too);
    b.node("clean", {"readings"}, 0).node("quality", {"clean"}, 2, {"results"});
    config_set set;
    set.pipelines.push_back(b.get());

    const auto text = render_graph(set, graph_format::text);
    EXPECT_THAT(text, HasSubstr("pipeline p (p.yaml)"));
    EXPECT_THAT(text, HasSubstr("quality <- clean (2 checks) -> results"));
    EXPECT_THAT(text, HasSubstr("quality: readings -> clean -> quality -> results"));

    const auto dot = render_graph(set, graph_format::dot);
    EXPECT_THAT(dot, HasSubstr("\"p__in__readings\" -> \"p__node__clean\""));
    EXPECT_THAT(dot, HasSubstr("\"p__node__quality\" -> \"p__out__results\""));

    const auto mermaid = render_graph(set, graph_format::mermaid);
    EXPECT_THAT(mermaid, HasSubstr("p__node__clean --> p__node__quality"));
}

}  // namespace
}  // namespace weir::config
