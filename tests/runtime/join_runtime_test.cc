// Joins in whole pipelines, in process: two inputs delivered in random interleavings through
// the node chain's join step into the engine. The results equal what the joined data says (every
// order in its window, matched or not), do not depend on how deliveries interleave, and a
// snapshot at any point restored into a fresh chain gives what an uninterrupted run gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
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
constexpr timestamp_ns k_now = 1'795'000'000 * k_s;
constexpr timestamp_ns k_base = 1'795'000'000 * k_s;  // a minute boundary: 1795000000 % 60 == 40
constexpr timestamp_ns k_start = k_base + 20 * k_s;   // ... so this one is

class capture_sink : public chain::chain_sink {
  public:
    explicit capture_sink(const chain::chain_plan& plan) : plan_(plan) {}
    std::vector<std::string> lines;

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
    void write_result(chain::output_index output, const check_result& r) override {
        std::string json;
        append_json(r, json);
        lines.push_back(plan_.outputs[output] + " " + json);
    }
    void write_record(chain::output_index output, std::string_view json) override {
        lines.push_back(plan_.outputs[output] + " " + std::string(json));
    }

  private:
    const chain::chain_plan& plan_;
};

const char* const k_interval = R"(pipeline: p
inputs:
  orders: {type: file, path: /nonexistent/orders.jsonl}
  payments: {type: file, path: /nonexistent/payments.jsonl}
nodes:
  paid:
    from: [orders, payments]
    time: {field: ts, format: epoch_s}
    join:
      type: interval
      left: orders
      right: payments
      on: {left: id, right: order_id}
      within: 10s
      kind: left
    window: {type: tumbling, size: 1m, allowed_lateness: 5s}
    checks:
      - {name: orders, measure: count(), must_be: "> 0"}
      - {name: unpaid, measure: missing_fraction(payments.paid), must_be: "< 50%"}
      - {name: amount, measure: sum(orders.amount), must_be: ">= 0"}
      - {name: paid, measure: sum(payments.paid), must_be: ">= 0"}
    late_output: late
    outputs: [results]
outputs:
  results: {type: console}
  late: {type: console}
)";

struct order {
    int id;
    timestamp_ns time;
    int amount;
    bool paid;
    timestamp_ns paid_time;
};

std::vector<order> orders(std::uint32_t seed, int n) {
    std::mt19937 rng(seed);
    std::vector<order> out;
    for (int i = 0; i < n; ++i) {
        order o;
        o.id = i;
        o.time = k_start + i * 2 * k_s + static_cast<timestamp_ns>(rng() % 3) * k_s;
        o.amount = static_cast<int>(rng() % 50);
        o.paid = rng() % 5 != 0;
        o.paid_time = o.time + (static_cast<timestamp_ns>(rng() % 19) - 9) * k_s;
        out.push_back(o);
    }
    return out;
}

std::string seconds(timestamp_ns t) {
    return std::to_string(t / k_s);
}

// Lines of each input, each in event-time order (so nothing is late: the join's watermark is
// behind the newest of both).
std::pair<std::vector<std::string>, std::vector<std::string>> lines_of(const std::vector<order>& os,
                                                                       bool sorted = true) {
    std::vector<std::pair<timestamp_ns, std::string>> left, right;
    for (const order& o : os) {
        left.emplace_back(o.time, "{\"id\":" + std::to_string(o.id) + ",\"ts\":" + seconds(o.time) +
                                      ",\"amount\":" + std::to_string(o.amount) + "}\n");
        if (o.paid) {
            right.emplace_back(o.paid_time, "{\"order_id\":" + std::to_string(o.id) +
                                                ",\"ts\":" + seconds(o.paid_time) +
                                                ",\"paid\":" + std::to_string(o.amount) + "}\n");
        }
    }
    if (sorted) {
        std::stable_sort(left.begin(), left.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        std::stable_sort(right.begin(), right.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    std::pair<std::vector<std::string>, std::vector<std::string>> out;
    for (auto& l : left) out.first.push_back(std::move(l.second));
    for (auto& r : right) out.second.push_back(std::move(r.second));
    return out;
}

struct step {
    std::size_t input;
    std::string text;
};

// Both inputs' lines in deliveries of a few lines, the inputs taking random turns.
std::vector<step> interleave(const std::vector<std::string>& left,
                             const std::vector<std::string>& right, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<step> out;
    std::size_t at[2] = {0, 0};
    const std::vector<std::string>* lines[2] = {&left, &right};
    while (at[0] < left.size() || at[1] < right.size()) {
        std::size_t in = rng() % 2;
        if (at[in] >= lines[in]->size()) in = 1 - in;
        // Neither side runs far ahead of the other (their watermarks stay close).
        if (at[1 - in] < lines[1 - in]->size() &&
            static_cast<double>(at[in]) / lines[in]->size() >
                static_cast<double>(at[1 - in]) / lines[1 - in]->size() + 0.05) {
            in = 1 - in;
        }
        step s{in, {}};
        const std::size_t n = 1 + rng() % 4;
        for (std::size_t k = 0; k < n && at[in] < lines[in]->size(); ++k) {
            s.text += (*lines[in])[at[in]++];
        }
        out.push_back(std::move(s));
    }
    return out;
}

void deliver(chain::node_chain& chain, const step& s) {
    padded_buffer buffer;
    buffer.append(s.text);
    chain.deliver(s.input, "", record_delivery{buffer.view(), {}, {}}, k_now);
}

std::vector<std::string> run(const std::shared_ptr<const config::compiled_pipeline>& p,
                             const std::vector<step>& steps, std::size_t cut = SIZE_MAX) {
    const auto& plan = p->queries.at(0).chain;
    std::vector<std::string> lines;
    chain::node_chain::sections saved;
    std::size_t i = 0;
    if (cut != SIZE_MAX) {
        capture_sink sink(*plan);
        chain::node_chain first(plan, sink, {{""}, {""}}, k_now);
        for (; i < cut; ++i) deliver(first, steps[i]);
        saved = first.snapshot();
        EXPECT_TRUE(std::any_of(saved.begin(), saved.end(),
                                [](const auto& s) { return s.first == "join/paid"; }));
        lines = sink.lines;
    }
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}, {""}}, k_now);
    std::string error;
    if (cut != SIZE_MAX) {
        EXPECT_TRUE(chain.restore(saved, error)) << error;
    }
    for (; i < steps.size(); ++i) deliver(chain, steps[i]);
    chain.finish(k_now);
    lines.insert(lines.end(), sink.lines.begin(), sink.lines.end());
    return lines;
}

TEST(join_runtime, an_interval_join_counts_every_order_once_matched_or_not) {
    const auto p = compile(k_interval);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->queries.at(0).chain->inputs[0].name, "orders");
    const auto os = orders(3, 200);
    const auto [left, right] = lines_of(os);
    const auto lines = run(p, interleave(left, right, 1));
    // Expected per window: orders, unpaid share, amounts.
    std::map<timestamp_ns, std::vector<const order*>> windows;
    for (const order& o : os) windows[o.time - (o.time - k_start) % (60 * k_s)].push_back(&o);
    std::map<std::string, std::map<std::string, double>> got;  // window_start -> check -> value
    for (const auto& l : lines) {
        ASSERT_FALSE(l.starts_with("late ")) << "nothing is late here: " << l;
        const auto j = nlohmann::json::parse(l.substr(l.find(' ') + 1));
        got[j["window_start"].get<std::string>()][j["check"].get<std::string>()] =
            j["value"].get<double>();
    }
    ASSERT_EQ(got.size(), windows.size());
    auto it = got.begin();
    for (const auto& [start, members] : windows) {
        double unpaid = 0, amount = 0, paid = 0;
        for (const order* o : members) {
            unpaid += o->paid ? 0 : 1;
            amount += o->amount;
            paid += o->paid ? o->amount : 0;
        }
        const auto& checks = it->second;
        EXPECT_EQ(checks.at("orders"), static_cast<double>(members.size())) << it->first;
        EXPECT_DOUBLE_EQ(checks.at("unpaid"), unpaid / static_cast<double>(members.size()))
            << it->first;
        EXPECT_EQ(checks.at("amount"), amount) << it->first;
        EXPECT_EQ(checks.at("paid"), paid) << it->first;
        ++it;
    }
}

TEST(join_runtime, interleavings_and_restarts_give_the_same_results) {
    const auto p = compile(k_interval);
    ASSERT_TRUE(p);
    const auto os = orders(5, 120);
    const auto [left, right] = lines_of(os);
    const auto restarts_equal = [&](const std::vector<step>& steps) {
        const auto whole = run(p, steps);
        ASSERT_GT(whole.size(), 8u);
        std::mt19937 rng(4);
        for (int k = 0; k < 12; ++k) {
            const std::size_t cut = rng() % (steps.size() + 1);
            ASSERT_EQ(run(p, steps, cut), whole) << "restart after delivery " << cut;
        }
    };
    // Payments out of order by up to 18 s (lateness 5 s): late records too.
    const auto [shuffled_left, shuffled_right] = lines_of(os, false);
    const auto disordered = interleave(shuffled_left, shuffled_right, 3);
    const auto with_late = run(p, disordered);
    EXPECT_TRUE(std::any_of(with_late.begin(), with_late.end(),
                            [](const std::string& l) { return l.starts_with("late "); }));
    restarts_equal(disordered);
    const auto steps = interleave(left, right, 2);
    const auto whole = run(p, steps);
    ASSERT_GT(whole.size(), 8u);
    EXPECT_EQ(run(p, interleave(left, right, 9)), whole) << "another interleaving";
    std::mt19937 rng(4);
    for (int k = 0; k < 12; ++k) {
        const std::size_t cut = rng() % (steps.size() + 1);
        ASSERT_EQ(run(p, steps, cut), whole) << "restart after delivery " << cut;
    }
}

// The same join in a node without checks: its rows are derived records
// ({"orders": {...}, "payments": {...}}) that a second node checks, windowed by the order's time.
const char* const k_interval_derived = R"(pipeline: p
inputs:
  orders: {type: file, path: /nonexistent/orders.jsonl}
  payments: {type: file, path: /nonexistent/payments.jsonl}
nodes:
  paid:
    from: [orders, payments]
    time: {field: ts, format: epoch_s}
    join:
      type: interval
      left: orders
      right: payments
      on: {left: id, right: order_id}
      within: 10s
      kind: left
    window: {type: tumbling, size: 1m, allowed_lateness: 5s}
    late_output: late
  checked:
    from: paid
    time: {field: orders.ts, format: epoch_s}
    window: {type: tumbling, size: 1m}
    checks:
      - {name: orders, measure: count(), must_be: "> 0"}
      - {name: unpaid, measure: missing_fraction(payments.paid), must_be: "< 50%"}
      - {name: amount, measure: sum(orders.amount), must_be: ">= 0"}
      - {name: paid, measure: sum(payments.paid), must_be: ">= 0"}
    outputs: [results]
outputs:
  results: {type: console}
  late: {type: console}
)";

// Results without the node's name (nor their ids, made from it), sorted (the two pipelines name
// their checking node apart).
std::vector<std::string> without_node(const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (const auto& l : lines) {
        const std::size_t space = l.find(' ');
        auto j = nlohmann::json::parse(l.substr(space + 1));
        if (j.is_object()) {
            j.erase("node");
            j.erase("id");  // made from the node's name too
        }
        out.push_back(l.substr(0, space) + " " + j.dump());
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(join_runtime, a_join_node_without_checks_feeds_a_node_that_checks_its_rows) {
    const auto one = compile(k_interval);
    const auto two = compile(k_interval_derived);
    ASSERT_TRUE(one && two);
    const auto os = orders(7, 150);
    // In order, then with payments out of order by up to 18 s (late ones too).
    for (const bool sorted : {true, false}) {
        const auto [left, right] = lines_of(os, sorted);
        const auto steps = interleave(left, right, 11);
        const auto expected = without_node(run(one, steps));
        ASSERT_GT(expected.size(), 8u);
        const auto derived = run(two, steps);
        EXPECT_EQ(without_node(derived), expected) << "sorted " << sorted;
        std::mt19937 rng(6);
        for (int k = 0; k < 6; ++k) {
            const std::size_t cut = rng() % (steps.size() + 1);
            ASSERT_EQ(run(two, steps, cut), derived) << "restart after delivery " << cut;
        }
    }
}

// The derived rows as the join node writes them: each side's record under its input's name,
// an unmatched order without payments.
TEST(join_runtime, a_derived_join_writes_each_side_under_its_input_name) {
    std::string yaml = k_interval_derived;
    yaml.replace(yaml.find("    late_output: late\n"), 22, "    outputs: [late]\n");
    const auto p = compile(yaml);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    capture_sink sink(*plan);
    chain::node_chain chain(plan, sink, {{""}, {""}}, k_now);
    deliver(chain, {0, "{\"id\":1,\"ts\":1795000020,\"amount\":5}\n"});
    deliver(chain, {0, "{\"id\":2,\"ts\":1795000022,\"amount\":7}\n"});
    deliver(chain, {1, "{\"order_id\":1,\"ts\":1795000021,\"paid\":5}\n"});
    chain.finish(k_now);
    std::vector<std::string> rows;
    for (const auto& l : sink.lines) {
        if (l.starts_with("late ")) rows.push_back(l.substr(5));
    }
    const std::vector<std::string> expected = {
        "{\"orders\":{\"id\":1,\"ts\":1795000020,\"amount\":5},"
        "\"payments\":{\"order_id\":1,\"ts\":1795000021,\"paid\":5}}",
        "{\"orders\":{\"id\":2,\"ts\":1795000022,\"amount\":7}}"};
    EXPECT_EQ(rows, expected);
}

// `weir tap` on a join node shows its sides' records as they were read.
TEST(join_runtime, a_tap_on_a_join_node_shows_the_records_of_both_sides) {
    const auto p = compile(k_interval);
    ASSERT_TRUE(p);
    const auto& plan = p->queries.at(0).chain;
    struct tap_sink : capture_sink {
        using capture_sink::capture_sink;
        std::vector<std::string> tapped;
        bool tapping(std::size_t) override { return true; }
        bool tap_record(std::size_t, std::string_view json) override {
            tapped.emplace_back(json);
            return true;
        }
    } sink(*plan);
    chain::node_chain chain(plan, sink, {{""}, {""}}, k_now);
    deliver(chain, {0, "{\"id\":1,\"ts\":1795000020,\"amount\":5}\n"});
    deliver(chain, {1, "{\"order_id\":1,\"ts\":1795000021,\"paid\":5}\n"});
    const std::vector<std::string> expected = {"{\"id\":1,\"ts\":1795000020,\"amount\":5}",
                                               "{\"order_id\":1,\"ts\":1795000021,\"paid\":5}"};
    EXPECT_EQ(sink.tapped, expected);
}

const char* const k_temporal = R"yaml(pipeline: p
inputs:
  trades: {type: file, path: /nonexistent/trades.jsonl}
  rates: {type: file, path: /nonexistent/rates.jsonl}
nodes:
  priced:
    from: [trades, rates]
    time: {field: ts, format: epoch_s}
    join:
      type: temporal
      left: trades
      right: rates
      on: {left: currency, right: currency}
      kind: left
    window: {type: tumbling, size: 1m}
    checks:
      - {name: unpriced, measure: missing_fraction(rates.rate), must_be: "< 50%"}
      - {name: trades, measure: count(), must_be: "> 0"}
      - {name: rate, measure: max(rates.rate), must_be: "> 0"}
      - {name: dear, measure: "count_where(rates.rate * 2 > 5 and trades.currency == 'EUR')", must_be: ">= 0"}
    outputs: [results]
outputs:
  results: {type: console}
)yaml";

TEST(join_runtime, a_temporal_join_prices_each_trade_with_the_rate_at_its_time) {
    const auto p = compile(k_temporal);
    ASSERT_TRUE(p);
    const auto t = [](int s) { return std::to_string((k_start / k_s) + s); };
    const std::vector<std::string> trades = {
        "{\"currency\":\"EUR\",\"ts\":" + t(5) + "}\n",   // before any rate: unpriced
        "{\"currency\":\"EUR\",\"ts\":" + t(20) + "}\n",  // rate 2 (at 10)
        "{\"currency\":\"EUR\",\"ts\":" + t(30) + "}\n",  // rate 3 (at 30: at its time)
        "{\"currency\":\"EUR\",\"ts\":" + t(70) + "}\n",  // rate 3, next window
    };
    const std::vector<std::string> rates = {
        "{\"currency\":\"EUR\",\"ts\":" + t(10) + ",\"rate\":2}\n",
        "{\"currency\":\"EUR\",\"ts\":" + t(30) + ",\"rate\":3}\n",
        "{\"currency\":\"EUR\",\"ts\":" + t(90) + ",\"rate\":9}\n",
    };
    // Inputs are numbered as the plan lists them.
    const auto& inputs = p->queries.at(0).chain->inputs;
    const std::size_t trades_input = inputs[0].name == "trades" ? 0 : 1;
    std::vector<step> steps;
    for (const auto& l : trades) steps.push_back({trades_input, l});
    for (const auto& l : rates) steps.push_back({1 - trades_input, l});
    const auto lines = run(p, steps);
    std::map<std::string, std::map<std::string, double>> got;
    for (const auto& l : lines) {
        const auto j = nlohmann::json::parse(l.substr(l.find(' ') + 1));
        got[j["window_start"].get<std::string>()][j["check"].get<std::string>()] =
            j["value"].get<double>();
    }
    ASSERT_EQ(got.size(), 2u);
    const auto& first = got.begin()->second;
    EXPECT_EQ(first.at("trades"), 3);
    EXPECT_DOUBLE_EQ(first.at("unpriced"), 1.0 / 3);
    EXPECT_EQ(first.at("rate"), 3);
    EXPECT_EQ(first.at("dear"), 1) << "a condition over the fields of both sides";
    const auto& second = std::next(got.begin())->second;
    EXPECT_EQ(second.at("trades"), 1);
    EXPECT_EQ(second.at("rate"), 3) << "the rate at 90 is after the trade at 70";
    EXPECT_EQ(second.at("dear"), 1);
}

}  // namespace
}  // namespace weir::test
