// depends_on and end_when through the node chain, in process, with a controlled wall clock: a
// dependency that stops and resumes gives, with on_down: hold, the results of a run without the
// outage (also across a snapshot/restore taken while holding); with on_down: continue, exactly
// the windows closed without its data are flagged; end_when ends an input's stream.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/load.h"
#include "config/plan.h"
#include "connectors/register.h"
#include "core/chain/node_chain.h"
#include "core/record/padded_buffer.h"
#include "tests/runtime/compile_pipeline.h"

namespace weir::test {
namespace {

using time::timestamp_ns;
constexpr timestamp_ns k_s = time::ns_per_s;
constexpr timestamp_ns k_ms = time::ns_per_ms;
constexpr timestamp_ns k_wall = 1'795'000'000 * k_s;  // the wall clock at start
constexpr std::int64_t k_base = 1'700'000'000;        // event times, epoch seconds

std::string pipeline(const std::string& on_down) {
    return R"(
inputs:
  orders: {type: generator}
  weather: {type: generator}
nodes:
  n:
    from: [orders, weather]
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s, idle_timeout: 1s}
    depends_on: [{input: weather, max_lag: 2s, on_down: )" +
           on_down + R"(}]
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
    outputs: [out]
outputs:
  out: {type: console}
)";
}

// Results without emitted_at (the wall clock differs between runs), in order.
class results_sink : public chain::chain_sink {
  public:
    std::vector<nlohmann::json> results;
    std::vector<std::size_t> ended;
    std::vector<window::dependency_state> states;

    bool on_decoded(std::size_t, std::size_t, std::size_t, std::size_t,
                    const chain::record_problem*) override {
        return true;
    }
    bool on_rejected(std::size_t, std::size_t, const chain::record_problem&) override {
        return true;
    }
    void on_failure(const std::string&) override {}
    void on_results(std::size_t, std::span<const check_result>) override {}
    bool admit(std::size_t, chain::output_index, std::size_t) override { return true; }
    void write_result(chain::output_index, const check_result& r) override {
        // The empty windows after the data (as many as the wall clock passed over) differ.
        if (r.window_end > (k_base + 60) * k_s) return;
        std::string json;
        append_json(r, json);
        auto j = nlohmann::json::parse(json);
        j.erase("emitted_at");
        results.push_back(std::move(j));
    }
    void write_record(chain::output_index, std::string_view) override {}
    void on_dependency(std::size_t, std::size_t, window::dependency_state before) override {
        states.push_back(before);
    }
    void on_stream_end(std::size_t input) override { ended.push_back(input); }
};

std::string lines(std::int64_t from, std::int64_t to, const std::string& extra = "") {
    std::string out;
    for (std::int64_t t = from; t < to; ++t) {
        out += "{\"ts\":" + std::to_string(k_base + t) + extra + "}\n";
    }
    return out;
}

void deliver(chain::node_chain& chain, std::size_t input, const std::string& text,
             timestamp_ns wall) {
    padded_buffer buffer;
    buffer.append(text);
    chain.deliver(input, "", record_delivery{buffer.view(), {}, {}}, wall);
}

std::unique_ptr<chain::node_chain> make_chain(const config::compiled_pipeline& p,
                                              results_sink& sink) {
    return std::make_unique<chain::node_chain>(
        p.queries.at(0).chain, sink, std::vector<std::vector<std::string>>{{""}, {""}}, k_wall);
}

// Orders and weather, one record a second each, nothing missing.
std::vector<nlohmann::json> uninterrupted(const config::compiled_pipeline& p) {
    results_sink sink;
    auto chain = make_chain(p, sink);
    for (std::int64_t t = 0; t < 60; ++t) {
        const timestamp_ns wall = k_wall + t * 100 * k_ms;
        deliver(*chain, 0, lines(t, t + 1), wall);
        deliver(*chain, 1, lines(t, t + 1), wall);
        chain->advance(wall);
    }
    chain->advance(k_wall + 60 * k_s);
    return sink.results;
}

// Weather stops after event time 10 while orders go on to 59 (wall clock: 0.1 s a record),
// then the stream is silent up to second 10 of wall clock, when `between` runs.
template <class Between>
void outage(chain::node_chain& chain, Between between) {
    deliver(chain, 0, lines(0, 30), k_wall);
    deliver(chain, 1, lines(0, 11), k_wall);
    for (std::int64_t t = 30; t < 60; ++t) {
        const timestamp_ns wall = k_wall + (t - 29) * 100 * k_ms;
        deliver(chain, 0, lines(t, t + 1), wall);
        chain.advance(wall);
    }
    for (std::int64_t s = 4; s <= 10; ++s) chain.advance(k_wall + s * k_s);
    between(chain);
}

void resume_weather(chain::node_chain& chain, std::int64_t at) {
    const timestamp_ns wall = k_wall + at * k_s;
    deliver(chain, 1, lines(11, 60), wall);
    for (std::int64_t s = 0; s <= 10; ++s) chain.advance(wall + s * k_s);
}

TEST(dependency_runtime, hold_gives_the_results_of_a_run_without_the_outage) {
    const auto p = compile(pipeline("hold"));
    ASSERT_NE(p, nullptr);
    const auto expected = uninterrupted(*p);
    ASSERT_EQ(expected.size(), 6u);
    for (const auto& r : expected) EXPECT_EQ(r["value"], 20);

    results_sink sink;
    auto chain = make_chain(*p, sink);
    outage(*chain, [&](chain::node_chain& c) {
        EXPECT_EQ(c.dependencies(0)[0].state(), window::dependency_state::held);
        EXPECT_EQ(sink.results.size(), 1u) << "only the window weather's data reached";
    });
    // Held far longer than idle_timeout, with every source silent: still held.
    chain->advance(k_wall + 25 * k_s);
    EXPECT_EQ(sink.results.size(), 1u);
    resume_weather(*chain, 30);
    EXPECT_EQ(chain->dependencies(0)[0].state(), window::dependency_state::up);
    EXPECT_EQ(sink.results, expected);
}

TEST(dependency_runtime, a_snapshot_while_holding_restores_into_the_same_results) {
    const auto p = compile(pipeline("hold"));
    ASSERT_NE(p, nullptr);
    const auto expected = uninterrupted(*p);

    results_sink before;
    auto first = make_chain(*p, before);
    chain::node_chain::sections saved;
    outage(*first, [&](chain::node_chain& c) { saved = c.snapshot(); });
    first.reset();

    results_sink after;
    auto second = make_chain(*p, after);
    std::string error;
    ASSERT_TRUE(second->restore(saved, error)) << error;
    EXPECT_EQ(second->dependencies(0)[0].state(), window::dependency_state::held);
    second->advance(k_wall + 20 * k_s);
    EXPECT_TRUE(after.results.empty()) << "the restored chain holds too";
    resume_weather(*second, 30);
    std::vector<nlohmann::json> all = before.results;
    all.insert(all.end(), after.results.begin(), after.results.end());
    EXPECT_EQ(all, expected);
}

// A dependency behind but with a backlog (a Kafka consumer lag) is catching up however long it
// is silent, and keeps holding; once the backlog is 0 and it is still behind, it is down.
TEST(dependency_runtime, a_backlog_is_catching_up_never_down) {
    const auto p = compile(pipeline("continue"));
    ASSERT_NE(p, nullptr);
    results_sink sink;
    auto chain = make_chain(*p, sink);
    chain->set_input_lag(1, 5000, 120.0);
    outage(*chain, [](chain::node_chain&) {});
    EXPECT_EQ(chain->dependencies(0)[0].state(), window::dependency_state::catching_up);
    EXPECT_EQ(sink.results.size(), 1u) << "the windows wait for the backlog";
    chain->set_input_lag(1, 0, 0.0);
    chain->advance(k_wall + 11 * k_s);
    EXPECT_EQ(chain->dependencies(0)[0].state(), window::dependency_state::down);
    chain->advance(k_wall + 20 * k_s);
    ASSERT_EQ(sink.results.size(), 6u);
    EXPECT_EQ(sink.results[5]["dependency_down"], nlohmann::json({"weather"}));
}

TEST(dependency_runtime, max_hold_degrades_to_continue) {
    std::string yaml = pipeline("hold, max_hold: 5s");
    const auto p = compile(yaml);
    ASSERT_NE(p, nullptr);
    results_sink sink;
    auto chain = make_chain(*p, sink);
    outage(*chain, [](chain::node_chain&) {});
    const auto& dep = chain->dependencies(0)[0];
    EXPECT_TRUE(dep.hold_expired());
    EXPECT_EQ(dep.holds_expired(), 1u);
    EXPECT_EQ(dep.state(), window::dependency_state::down);
    ASSERT_EQ(sink.results.size(), 6u) << "the windows closed without weather";
    EXPECT_FALSE(sink.results[0].contains("dependency_down"));
    for (std::size_t i = 1; i < 6; ++i) {
        EXPECT_EQ(sink.results[i]["dependency_down"], nlohmann::json({"weather"})) << i;
    }
}

TEST(dependency_runtime, continue_flags_exactly_the_windows_closed_without_its_data) {
    const auto p = compile(pipeline("continue"));
    ASSERT_NE(p, nullptr);
    results_sink sink;
    auto chain = make_chain(*p, sink);
    outage(*chain, [](chain::node_chain&) {});
    resume_weather(*chain, 30);
    ASSERT_EQ(sink.results.size(), 6u);
    EXPECT_EQ(sink.results[0]["value"], 20);
    EXPECT_FALSE(sink.results[0].contains("dependency_down"));
    for (std::size_t i = 1; i < 6; ++i) {
        EXPECT_EQ(sink.results[i]["dependency_down"], nlohmann::json({"weather"})) << i;
        EXPECT_EQ(sink.results[i]["value"], i == 1 ? 11 : 10) << i;
    }
    EXPECT_EQ(chain->dependencies(0)[0].state(), window::dependency_state::up);
    EXPECT_GT(chain->engine(0)->stats().late, 0u) << "weather's records for closed windows";
}

TEST(dependency_runtime, finish_flags_the_held_windows_instead_of_losing_them) {
    const auto p = compile(pipeline("hold"));
    ASSERT_NE(p, nullptr);
    results_sink sink;
    auto chain = make_chain(*p, sink);
    outage(*chain, [](chain::node_chain&) {});
    chain->finish(k_wall + 11 * k_s);
    ASSERT_EQ(sink.results.size(), 6u);
    EXPECT_FALSE(sink.results[0].contains("dependency_down"));
    for (std::size_t i = 1; i < 6; ++i) {
        EXPECT_EQ(sink.results[i]["dependency_down"], nlohmann::json({"weather"})) << i;
    }
}

// depends_on in a join node: the dependency is a side of a temporal join, whose watermark the
// engine follows, so the hold acts on the join's watermark. Each order is priced with the
// weather record of its second (the key is the event time).
std::string join_pipeline(const std::string& on_down) {
    return R"(
inputs:
  orders: {type: generator}
  weather: {type: generator}
nodes:
  n:
    from: [orders, weather]
    time: {field: ts, format: epoch_s}
    join: {type: temporal, left: orders, right: weather, on: {left: ts, right: ts}, kind: left}
    window: {type: tumbling, size: 10s, idle_timeout: 1s}
    depends_on: [{input: weather, max_lag: 2s, on_down: )" +
           on_down + R"(}]
    checks:
      - {name: unpriced, measure: missing_fraction(weather.ts), must_be: "== 0"}
    outputs: [out]
outputs:
  out: {type: console}
)";
}

TEST(dependency_runtime, a_join_holds_for_its_dependency_as_if_there_was_no_outage) {
    const auto p = compile(join_pipeline("hold"));
    ASSERT_NE(p, nullptr);
    const auto expected = uninterrupted(*p);
    ASSERT_EQ(expected.size(), 6u);
    for (const auto& r : expected) {
        EXPECT_EQ(r["value"], 0) << r;
        EXPECT_EQ(r["records"], 10) << r;
    }

    results_sink sink;
    auto chain = make_chain(*p, sink);
    outage(*chain, [&](chain::node_chain& c) {
        EXPECT_EQ(c.dependencies(0)[0].state(), window::dependency_state::held);
        EXPECT_LE(sink.results.size(), 1u) << "only the window weather's data reached";
    });
    // Held far longer than the join's idle_timeout, with every source silent: still held.
    chain->advance(k_wall + 25 * k_s);
    EXPECT_LE(sink.results.size(), 1u);
    resume_weather(*chain, 30);
    EXPECT_EQ(chain->dependencies(0)[0].state(), window::dependency_state::up);
    EXPECT_EQ(sink.results, expected);

    // And across a snapshot taken while holding.
    results_sink before;
    auto first = make_chain(*p, before);
    chain::node_chain::sections saved;
    outage(*first, [&](chain::node_chain& c) { saved = c.snapshot(); });
    first.reset();
    results_sink after;
    auto second = make_chain(*p, after);
    std::string error;
    ASSERT_TRUE(second->restore(saved, error)) << error;
    second->advance(k_wall + 20 * k_s);
    resume_weather(*second, 30);
    std::vector<nlohmann::json> all = before.results;
    all.insert(all.end(), after.results.begin(), after.results.end());
    EXPECT_EQ(all, expected);
}

TEST(dependency_runtime, a_join_under_continue_flags_the_windows_closed_without_its_dependency) {
    const auto p = compile(join_pipeline("continue"));
    ASSERT_NE(p, nullptr);
    results_sink sink;
    auto chain = make_chain(*p, sink);
    outage(*chain, [](chain::node_chain& c) {
        EXPECT_EQ(c.dependencies(0)[0].state(), window::dependency_state::down);
    });
    resume_weather(*chain, 30);
    ASSERT_EQ(sink.results.size(), 6u);
    EXPECT_EQ(sink.results[0]["value"], 0);
    EXPECT_FALSE(sink.results[0].contains("dependency_down"));
    for (std::size_t i = 1; i < 6; ++i) {
        EXPECT_EQ(sink.results[i]["dependency_down"], nlohmann::json({"weather"})) << i;
        EXPECT_GT(sink.results[i]["value"].get<double>(), 0.5) << i;
    }
    EXPECT_EQ(chain->dependencies(0)[0].state(), window::dependency_state::up);
}

TEST(dependency_runtime, a_join_held_at_finish_flags_its_windows_instead_of_losing_them) {
    const auto p = compile(join_pipeline("hold"));
    ASSERT_NE(p, nullptr);
    results_sink sink;
    auto chain = make_chain(*p, sink);
    outage(*chain, [](chain::node_chain&) {});
    chain->finish(k_wall + 11 * k_s);
    ASSERT_EQ(sink.results.size(), 6u);
    EXPECT_FALSE(sink.results[0].contains("dependency_down"));
    for (std::size_t i = 1; i < 6; ++i) {
        EXPECT_EQ(sink.results[i]["dependency_down"], nlohmann::json({"weather"})) << i;
    }
}

TEST(dependency_runtime, end_when_ends_the_stream_on_its_marker) {
    const auto p = compile(R"(
inputs:
  orders: {type: generator, end_when: 'kind == "end"'}
nodes:
  n:
    from: orders
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
    outputs: [out]
outputs:
  out: {type: console}
)");
    ASSERT_NE(p, nullptr);
    results_sink sink;
    auto chain = std::make_unique<chain::node_chain>(
        p->queries.at(0).chain, sink, std::vector<std::vector<std::string>>{{""}}, k_wall);
    deliver(*chain, 0, lines(0, 25) + lines(25, 26, ",\"kind\":\"end\"") + lines(26, 40), k_wall);
    EXPECT_EQ(sink.ended, std::vector<std::size_t>{0});
    EXPECT_TRUE(chain->input_ended(0));
    EXPECT_EQ(chain->ended_inputs(), 1u);
    // The only source ended: every window closed; the marker and what follows are not measured.
    ASSERT_EQ(sink.results.size(), 3u);
    EXPECT_EQ(sink.results[2]["value"], 5);
    EXPECT_EQ(chain->engine(0)->stats().records, 25u);
    // Nothing more is taken, and the end survives a snapshot.
    deliver(*chain, 0, lines(40, 50), k_wall);
    EXPECT_EQ(chain->engine(0)->stats().records, 25u);
    const auto saved = chain->snapshot();
    results_sink again;
    chain::node_chain restored(p->queries.at(0).chain, again,
                               std::vector<std::vector<std::string>>{{""}}, k_wall);
    std::string error;
    ASSERT_TRUE(restored.restore(saved, error)) << error;
    EXPECT_TRUE(restored.input_ended(0));
}

}  // namespace
}  // namespace weir::test
