// The generator input: determinism, count, pacing, every injected problem, exact resumption
// from a position, and the --once rule.
#include "connectors/generator/generator_input.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/generator/generator_spec.h"
#include "core/time/timestamp.h"
#include "tests/unit/connectors/input_test_util.h"

namespace weir::connectors {
namespace {

using json = nlohmann::json;

// A parameter tree from JSON, as config/ would build it from YAML.
params::value to_value(const json& j) {
    params::value v;
    v.pos = {"t.yaml", 1, 1};
    if (j.is_object()) {
        v.type = params::value::kind::mapping;
        for (const auto& [key, item] : j.items()) {
            v.entries.push_back({key, {"t.yaml", 1, 1}, to_value(item)});
        }
    } else if (j.is_array()) {
        v.type = params::value::kind::sequence;
        for (const auto& item : j) v.items.push_back(to_value(item));
    } else if (j.is_null()) {
        v.type = params::value::kind::null;
    } else {
        v.type = params::value::kind::scalar;
        v.text = j.is_string() ? j.get<std::string>() : j.dump();
    }
    return v;
}

struct recorder : input_events {
    std::string data;
    std::size_t batches = 0;
    int ends = 0;
    std::vector<std::string> failures;
    std::vector<std::string> problems;
    std::function<void()> after_data;

    void on_records(std::string_view source, const record_delivery& records) override {
        test::expect_one_stream_lines(source, records);
        data.append(records.bytes);
        ++batches;
        if (after_data) after_data();
    }
    void on_sources_changed(std::span<const source_id> added,
                            std::span<const source_id> removed) override {
        ADD_FAILURE() << "a one-stream input announced " << added.size() << " and retired "
                      << removed.size() << " sources";
    }
    void on_end() override { ++ends; }
    void on_problem(std::string_view type, const std::string& message) override {
        problems.push_back(std::string(type) + ": " + message);
    }
    void on_failure(const std::string& message) override { failures.push_back(message); }
};

std::vector<json> lines(const std::string& data) {
    std::vector<json> out;
    std::istringstream in(data);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
}

class generator_test : public ::testing::Test {
  protected:
    std::unique_ptr<input> make(const json& config, bool once = false) {
        values_.push_back(std::make_unique<params::value>(to_value(config)));
        const auto info = generator_input_component();
        diagnostics diags;
        EXPECT_TRUE(params::validate(*info.spec, *values_.back(), "inputs.g", diags))
            << config.dump();
        params::reader reader(*info.spec, *values_.back());
        input_context ctx;
        ctx.executor = boost::asio::make_strand(io_);
        ctx.input = "g";
        ctx.once = once;
        ctx.clock = [] { return time::timestamp_ns{1'700'000'000'000'000'000}; };
        specs_.push_back(info.spec);
        return make_generator_input(reader, ctx);
    }

    // Runs the loop until `done` or `limit` passes.
    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            io_.restart();
            io_.run_for(std::chrono::milliseconds(5));
        }
        return done();
    }

    std::string generate(const json& config) {
        recorder r;
        auto in = make(config);
        in->start(r);
        EXPECT_TRUE(run_until([&] { return r.ends > 0; }));
        in->stop();
        EXPECT_EQ(r.ends, 1);
        return r.data;
    }

    boost::asio::io_context io_;
    std::vector<std::unique_ptr<params::value>> values_;
    std::vector<std::shared_ptr<const params::object_spec>> specs_;
};

TEST_F(generator_test, same_seed_same_bytes_and_default_sensor_fields) {
    const json config = {{"seed", 7},
                         {"rate", 0},
                         {"count", 5000},
                         {"groups", 3},
                         {"start_time", "2026-11-20T10:00:00Z"}};
    const std::string a = generate(config);
    const std::string b = generate(config);
    EXPECT_EQ(a, b);
    json other = config;
    other["seed"] = 8;
    EXPECT_NE(a, generate(other));

    const auto records = lines(a);
    ASSERT_EQ(records.size(), 5000u);
    std::size_t nulls = 0;
    std::map<std::string, int> statuses;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const json& r = records[i];
        ASSERT_TRUE(r.contains("ts") && r.contains("group") && r.contains("humidity") &&
                    r.contains("status") && r.contains("temperature"))
            << r.dump();
        EXPECT_EQ(r["group"], "g-" + std::to_string(i % 3 + 1));
        if (r["temperature"].is_null()) {
            ++nulls;
        } else {
            EXPECT_GE(r["temperature"].get<double>(), 15.0);
            EXPECT_LE(r["temperature"].get<double>(), 35.0);
        }
        EXPECT_GE(r["humidity"].get<double>(), 20.0);
        EXPECT_LE(r["humidity"].get<double>(), 80.0);
        ++statuses[r["status"].get<std::string>()];
    }
    // 1% null: 50 expected.
    EXPECT_GT(nulls, 20u);
    EXPECT_LT(nulls, 100u);
    EXPECT_EQ(statuses.size(), 3u);
    EXPECT_TRUE(statuses.contains("ok") && statuses.contains("warn") && statuses.contains("error"));
    // Default time_step with rate 0 is 100ms, from start_time on.
    EXPECT_EQ(records[0]["ts"], "2026-11-20T10:00:00.000Z");
    EXPECT_EQ(records[1]["ts"], "2026-11-20T10:00:00.100Z");
    EXPECT_EQ(records[4999]["ts"], "2026-11-20T10:08:19.900Z");
}

TEST_F(generator_test, count_ends_the_stream_and_batches_yield) {
    recorder r;
    auto in = make({{"rate", 0}, {"count", 10000}});
    EXPECT_TRUE(in->bounded());
    in->start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(lines(r.data).size(), 10000u);
    EXPECT_GE(r.batches, 3u);  // 4096 per handler
    // start_time "now" comes from the injected clock.
    EXPECT_EQ(lines(r.data)[0]["ts"], time::format_rfc3339_ms(1'700'000'000'000'000'000));
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
    EXPECT_EQ(r.ends, 1);
    EXPECT_TRUE(r.failures.empty());
}

TEST_F(generator_test, rate_paces_records) {
    recorder r;
    auto in = make({{"rate", 2000}, {"count", 1000}});
    const auto begin = std::chrono::steady_clock::now();
    in->start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    EXPECT_GE(seconds, 0.4);
    EXPECT_LE(seconds, 1.5);
    EXPECT_EQ(lines(r.data).size(), 1000u);
    EXPECT_GE(r.batches, 20u);  // small bursts, not one lump
    // Event time follows the rate by default: 1/2000 s apart.
    const auto records = lines(r.data);
    time::timestamp_ns t0 = 0, t1 = 0;
    ASSERT_TRUE(time::parse_rfc3339(records[0]["ts"].get<std::string>(), t0));
    ASSERT_TRUE(time::parse_rfc3339(records[998]["ts"].get<std::string>(), t1));
    EXPECT_EQ(t1 - t0, 499 * time::ns_per_ms);
}

TEST_F(generator_test, declared_fields_and_distributions) {
    const json config = {
        {"rate", 0},
        {"count", 4000},
        {"seed", 3},
        {"groups", 2},
        {"group_field", "device"},
        {"group_prefix", "dev-"},
        {"time_field", "at"},
        {"time_step", "1s"},
        {"start_time", "2026-01-01T00:00:00Z"},
        {"fields",
         {{"n", {{"type", "integer"}, {"min", -3}, {"max", 3}}},
          {"x",
           {{"type", "number"},
            {"distribution", "normal"},
            {"mean", 10},
            {"std_dev", 2},
            {"min", 5},
            {"max", 15},
            {"decimals", 1}}},
          {"w",
           {{"type", "number"},
            {"distribution", "random_walk"},
            {"min", 0},
            {"max", 10},
            {"step", 0.5}}},
          {"s", {{"type", "string"}, {"length", 5}, {"null_fraction", 0.25}}},
          {"c", {{"type", "string"}, {"values", {"a\"b", "z"}}, {"missing_fraction", 0.5}}},
          {"b", {{"type", "boolean"}}},
          {"t", {{"type", "timestamp"}}}}}};
    const auto records = lines(generate(config));
    ASSERT_EQ(records.size(), 4000u);
    std::set<long> ints;
    double sum = 0;
    std::size_t s_null = 0, c_missing = 0, trues = 0;
    std::map<std::string, double> last_walk;
    for (const json& r : records) {
        EXPECT_FALSE(r.contains("ts"));
        const std::string device = r["device"];
        EXPECT_TRUE(device == "dev-1" || device == "dev-2");
        const long n = r["n"].get<long>();
        EXPECT_TRUE(r["n"].is_number_integer());
        ints.insert(n);
        const double x = r["x"].get<double>();
        EXPECT_GE(x, 5.0);
        EXPECT_LE(x, 15.0);
        sum += x;
        const double w = r["w"].get<double>();
        EXPECT_GE(w, 0.0);
        EXPECT_LE(w, 10.0);
        if (last_walk.contains(device)) {
            EXPECT_LE(std::abs(w - last_walk[device]), 0.5 + 0.01);
        }
        last_walk[device] = w;
        if (r["s"].is_null()) {
            ++s_null;
        } else {
            EXPECT_EQ(r["s"].get<std::string>().size(), 5u);
        }
        if (!r.contains("c")) {
            ++c_missing;
        } else {
            EXPECT_TRUE(r["c"] == "a\"b" || r["c"] == "z");
        }
        trues += r["b"].get<bool>() ? 1 : 0;
        time::timestamp_ns at = 0, t = 0;
        ASSERT_TRUE(time::parse_rfc3339(r["at"].get<std::string>(), at));
        ASSERT_TRUE(time::parse_rfc3339(r["t"].get<std::string>(), t));
        EXPECT_LE(t, at);
        EXPECT_GE(t, at - time::ns_per_s);
    }
    EXPECT_EQ(ints, (std::set<long>{-3, -2, -1, 0, 1, 2, 3}));
    EXPECT_NEAR(sum / 4000, 10.0, 0.2);
    EXPECT_NEAR(static_cast<double>(s_null) / 4000, 0.25, 0.04);
    EXPECT_NEAR(static_cast<double>(c_missing) / 4000, 0.5, 0.04);
    EXPECT_NEAR(static_cast<double>(trues) / 4000, 0.5, 0.04);
    EXPECT_EQ(records[3999]["at"], "2026-01-01T01:06:39.000Z");
}

TEST_F(generator_test, disorder_lags_the_newest_time_by_at_most_disorder) {
    const auto records = lines(generate({{"rate", 0},
                                         {"count", 3000},
                                         {"time_step", "10ms"},
                                         {"disorder", "2s"},
                                         {"start_time", "2026-01-01T00:00:00Z"}}));
    time::timestamp_ns newest = 0;
    std::size_t out_of_order = 0;
    for (const json& r : records) {
        time::timestamp_ns t = 0;
        ASSERT_TRUE(time::parse_rfc3339(r["ts"].get<std::string>(), t));
        if (t < newest) ++out_of_order;
        EXPECT_LE(newest - t, 2 * time::ns_per_s);
        newest = std::max(newest, t);
    }
    EXPECT_GT(out_of_order, 1000u);
}

// Event time offset (seconds since start_time) of a record.
double offset_s(const json& r) {
    time::timestamp_ns t = 0, start = 0;
    EXPECT_TRUE(time::parse_rfc3339(r["ts"].get<std::string>(), t));
    EXPECT_TRUE(time::parse_rfc3339("2026-01-01T00:00:00Z", start));
    return static_cast<double>(t - start) / 1e9;
}

json problem_config(json problems) {
    return {
        {"rate", 0},
        {"count", 4000},
        {"groups", 4},
        {"time_step", "100ms"},
        {"start_time", "2026-01-01T00:00:00Z"},
        {"fields",
         {{"v", {{"type", "number"}, {"distribution", "random_walk"}, {"min", 0}, {"max", 100}}},
          {"k", {{"type", "integer"}, {"min", 1}, {"max", 9}}}}},
        {"problems", std::move(problems)}};
}

TEST_F(generator_test, silent_group_stops_one_group_for_its_duration) {
    const auto records = lines(generate(problem_config(json::array(
        {{{"type", "silent_group"}, {"group", "g-2"}, {"after", "60s"}, {"duration", "2m"}}}))));
    ASSERT_EQ(records.size(), 4000u);  // count counts records, not slots
    std::size_t before = 0, during = 0, after = 0;
    for (const json& r : records) {
        const double at = offset_s(r);
        if (r["group"] != "g-2") continue;
        if (at < 60) {
            ++before;
        } else if (at < 180) {
            ++during;
        } else {
            ++after;
        }
    }
    EXPECT_EQ(before, 150u);
    EXPECT_EQ(during, 0u);
    EXPECT_GT(after, 100u);
}

TEST_F(generator_test, stuck_value_repeats_the_last_value) {
    const auto records = lines(generate(problem_config(json::array(
        {{{"type", "stuck_value"},
          {"field", "v"},
          {"group", "g-1"},
          {"after", "100s"},
          {"duration", "100s"}},
         {{"type", "stuck_value"}, {"field", "k"}, {"after", "300s"}, {"value", 42}}}))));
    double last_before = -1;
    std::set<double> during;
    std::set<double> after;
    for (const json& r : records) {
        const double at = offset_s(r);
        if (at >= 300) {
            EXPECT_EQ(r["k"], 42);
        } else {
            EXPECT_LE(r["k"].get<int>(), 9);
        }
        if (r["group"] != "g-1") continue;
        const double v = r["v"].get<double>();
        if (at < 100) {
            last_before = v;
        } else if (at < 200) {
            during.insert(v);
        } else {
            after.insert(v);
        }
    }
    EXPECT_EQ(during, std::set<double>{last_before});
    EXPECT_GT(after.size(), 10u);
}

TEST_F(generator_test, stuck_value_with_a_value_on_string_and_boolean_fields) {
    const auto records = lines(generate(
        {{"rate", 0},
         {"count", 200},
         {"time_step", "1s"},
         {"start_time", "2026-01-01T00:00:00Z"},
         {"fields", {{"s", {{"type", "string"}}}, {"b", {{"type", "boolean"}}}}},
         {"problems",
          json::array(
              {{{"type", "stuck_value"}, {"field", "s"}, {"after", "100s"}, {"value", 7}},
               {{"type", "stuck_value"}, {"field", "b"}, {"after", "100s"}, {"value", 1}}})}}));
    ASSERT_EQ(records.size(), 200u);
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (i >= 100) {
            EXPECT_EQ(records[i]["s"], "7");
            EXPECT_EQ(records[i]["b"], true);
        } else {
            EXPECT_EQ(records[i]["s"].get<std::string>().size(), 8u);
        }
    }
}

TEST_F(generator_test, out_of_range_and_missing_field) {
    const auto records = lines(generate(problem_config(json::array(
        {{{"type", "out_of_range"}, {"field", "v"}, {"after", "10s"}, {"duration", "10s"}},
         {{"type", "out_of_range"},
          {"field", "k"},
          {"after", "30s"},
          {"duration", "10s"},
          {"value", -5},
          {"fraction", 0.5}},
         {{"type", "missing_field"}, {"field", "k"}, {"group", "g-3"}, {"after", "50s"}}}))));
    std::size_t beyond = 0, negative = 0, in_window_k = 0, missing = 0;
    for (const json& r : records) {
        const double at = offset_s(r);
        if (at >= 10 && at < 20) {
            EXPECT_EQ(r["v"].get<double>(), 200.0);  // max + width
            ++beyond;
        } else {
            EXPECT_LE(r["v"].get<double>(), 100.0);
        }
        if (at >= 30 && at < 40) {
            ++in_window_k;
            if (r["k"] == -5) ++negative;
        }
        if (at >= 50 && r["group"] == "g-3") {
            EXPECT_FALSE(r.contains("k"));
            ++missing;
        } else {
            EXPECT_TRUE(r.contains("k"));
        }
    }
    EXPECT_EQ(beyond, 100u);
    EXPECT_EQ(in_window_k, 100u);
    EXPECT_GT(negative, 25u);
    EXPECT_LT(negative, 75u);
    EXPECT_GT(missing, 500u);
}

TEST_F(generator_test, burst_multiplies_the_records_per_event_time) {
    const auto records = lines(generate(problem_config(
        json::array({{{"type", "burst"}, {"after", "20s"}, {"duration", "10s"}, {"factor", 5}}}))));
    std::size_t normal = 0, burst = 0;
    for (const json& r : records) {
        const double at = offset_s(r);
        if (at >= 10 && at < 20) ++normal;
        if (at >= 20 && at < 30) ++burst;
    }
    EXPECT_EQ(normal, 100u);
    EXPECT_EQ(burst, 500u);
}

TEST_F(generator_test, level_shift_multiplies_one_groups_values_and_changes_nothing_else) {
    const json shift = {{"type", "level_shift"}, {"field", "v"},     {"group", "g-2"},
                        {"after", "60s"},        {"duration", "2m"}, {"factor", 1.5}};
    const auto plain = lines(generate(problem_config(json::array())));
    const auto shifted = lines(generate(problem_config(json::array({shift}))));
    ASSERT_EQ(plain.size(), shifted.size());
    std::size_t during = 0;
    for (std::size_t i = 0; i < plain.size(); ++i) {
        const json& a = plain[i];
        const json& b = shifted[i];
        const double at = offset_s(a);
        EXPECT_EQ(a["ts"], b["ts"]);
        EXPECT_EQ(a["k"], b["k"]);  // the other field, and the stream after, are untouched
        if (a["group"] == "g-2" && at >= 60 && at < 180) {
            // Rendered with 2 decimals, so within rounding of 1.5 times the value.
            EXPECT_NEAR(b["v"].get<double>(), a["v"].get<double>() * 1.5, 0.011) << at;
            ++during;
        } else {
            EXPECT_EQ(a["v"], b["v"]) << at;
        }
    }
    EXPECT_EQ(during, 300u);  // 2 minutes of 100ms slots, a quarter of them g-2's
}

TEST_F(generator_test, speed_runs_event_time_faster_than_the_wall_clock) {
    // 3600 event seconds per wall second at 20000 records per wall second: 180ms apart.
    recorder r;
    auto in = make({{"rate", 20000}, {"count", 2000}, {"speed", 3600}, {"groups", 2}});
    in->start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    const auto records = lines(r.data);
    ASSERT_EQ(records.size(), 2000u);
    time::timestamp_ns t0 = 0, t1 = 0;
    ASSERT_TRUE(time::parse_rfc3339(records[0]["ts"].get<std::string>(), t0));
    ASSERT_TRUE(time::parse_rfc3339(records[1999]["ts"].get<std::string>(), t1));
    EXPECT_EQ(t0, 1'700'000'000'000'000'000);  // start_time "now": the injected clock
    EXPECT_EQ(t1 - t0, 1999 * 180 * time::ns_per_ms);
}

TEST_F(generator_test, start_time_before_now) {
    recorder r;
    auto in = make({{"rate", 0}, {"count", 3}, {"start_time", "-2d12h"}});
    in->start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    const auto records = lines(r.data);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0]["ts"],
              time::format_rfc3339_ms(1'700'000'000'000'000'000 - 60 * 3600 * time::ns_per_s));
}

TEST_F(generator_test, disorder_holds_in_event_time_at_speed) {
    recorder r;
    auto in = make({{"rate", 50000},
                    {"count", 5000},
                    {"speed", 36000},
                    {"disorder", "10m"},
                    {"start_time", "2026-01-01T00:00:00Z"}});
    in->start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    time::timestamp_ns newest = 0;
    std::size_t out_of_order = 0;
    for (const json& rec : lines(r.data)) {
        time::timestamp_ns t = 0;
        ASSERT_TRUE(time::parse_rfc3339(rec["ts"].get<std::string>(), t));
        if (t < newest) ++out_of_order;
        EXPECT_LE(newest - t, 600 * time::ns_per_s);
        newest = std::max(newest, t);
    }
    EXPECT_GT(out_of_order, 500u);  // 720ms apart, up to 10 minutes late
}

// Hours since midnight UTC of a record's event time.
double hour_of_day(const json& r) {
    time::timestamp_ns t = 0;
    EXPECT_TRUE(time::parse_rfc3339(r["ts"].get<std::string>(), t));
    const std::int64_t day = 86'400 * time::ns_per_s;
    return static_cast<double>(((t % day) + day) % day) / 3.6e12;
}

TEST_F(generator_test, daily_shape_follows_the_hour_of_event_time) {
    // Two days, a record a minute, from a Monday's midnight.
    const json config = {
        {"rate", 0},
        {"count", 2 * 1440},
        {"seed", 5},
        {"time_step", "1m"},
        {"start_time", "2026-03-02T00:00:00Z"},
        {"fields",
         {{"x",
           {{"type", "number"},
            {"distribution", "normal"},
            {"mean", 100},
            {"std_dev", 1},
            {"daily", {{"amplitude", 0.5}, {"peak", "14:00"}}}}},
          {"w",
           {{"type", "number"},
            {"distribution", "random_walk"},
            {"min", 10},
            {"max", 30},
            {"step", 0.1},
            {"daily", {{"amplitude", 0.2}}}}},
          {"n",
           {{"type", "integer"}, {"min", 40}, {"max", 60}, {"daily", {{"amplitude", 0.5}}}}}}}};
    const std::string data = generate(config);
    EXPECT_EQ(data, generate(config));  // same seed, same stream
    const auto records = lines(data);
    ASSERT_EQ(records.size(), 2880u);
    std::vector<double> sum(24), sum_want(24), sum_n(24), count(24);
    for (const json& r : records) {
        const double h = hour_of_day(r);
        const double want = 100 * (1 + 0.5 * std::cos(2 * M_PI * (h - 14) / 24));
        EXPECT_NEAR(r["x"].get<double>(), want, 6.5) << r.dump();  // 6 sigma (clipped there)
        // The walk keeps its spread and moves by 20 x 0.2 cos(...) around [10, 30].
        const double shift = 20 * 0.2 * std::cos(2 * M_PI * (h - 12) / 24);
        EXPECT_GE(r["w"].get<double>(), 10 + shift - 0.01) << r.dump();
        EXPECT_LE(r["w"].get<double>(), 30 + shift + 0.01) << r.dump();
        EXPECT_TRUE(r["n"].is_number_integer());
        const auto hour = static_cast<std::size_t>(h);
        sum[hour] += r["x"].get<double>();
        sum_want[hour] += want;
        sum_n[hour] += r["n"].get<double>();
        ++count[hour];
    }
    // Hourly means: the shape's, highest at 14:00, lowest at 02:00, twelve hours later.
    for (std::size_t hour = 0; hour < 24; ++hour) {
        EXPECT_NEAR(sum[hour] / count[hour], sum_want[hour] / count[hour], 0.5) << hour;
    }
    EXPECT_NEAR(sum[14] / count[14], 150, 1);
    EXPECT_NEAR(sum[2] / count[2], 50, 1);
    // The integer field's default peak is noon: 50 x (1 +- 0.5), spread 40..60 around it.
    EXPECT_NEAR(sum_n[12] / count[12], 75, 2);
    EXPECT_NEAR(sum_n[0] / count[0], 25, 2);
}

TEST_F(generator_test, weekly_shape_lowers_weekends) {
    // Two weeks, a record an hour, from a Monday.
    const auto records = lines(generate(
        {{"rate", 0},
         {"count", 14 * 24},
         {"time_step", "1h"},
         {"start_time", "2026-03-02T00:00:00Z"},
         {"fields",
          {{"x", {{"type", "number"}, {"min", 90}, {"max", 110}, {"weekly", {{"weekend", 0.5}}}}},
           // Without daily or weekly a field has no shape, weekends included.
           {"plain", {{"type", "number"}, {"min", 90}, {"max", 110}}}}}}));
    ASSERT_EQ(records.size(), 336u);
    for (std::size_t i = 0; i < records.size(); ++i) {
        const bool weekend = (i / 24) % 7 >= 5;
        const double x = records[i]["x"].get<double>();
        if (weekend) {
            EXPECT_GE(x, 40.0) << i;
            EXPECT_LE(x, 60.0) << i;
        } else {
            EXPECT_GE(x, 90.0) << i;
            EXPECT_LE(x, 110.0) << i;
        }
        EXPECT_GE(records[i]["plain"].get<double>(), 90.0) << i;
        EXPECT_LE(records[i]["plain"].get<double>(), 110.0) << i;
    }
}

TEST_F(generator_test, restored_generator_continues_identically) {
    const json config = {
        {"seed", 11},
        {"rate", 0},
        {"count", 20000},
        {"groups", 5},
        {"disorder", "1s"},
        {"start_time", "2026-01-01T00:00:00Z"},
        {"fields",
         {{"v", {{"type", "number"}, {"distribution", "random_walk"}}},
          {"s", {{"type", "string"}, {"null_fraction", 0.1}}}}},
        {"problems",
         json::array(
             {{{"type", "stuck_value"}, {"field", "s"}, {"after", "500s"}, {"duration", "100s"}},
              {{"type", "burst"}, {"after", "900s"}, {"factor", 2.5}, {"group", "g-2"}}})}};
    const std::string whole = generate(config);

    std::string first, position;
    {
        recorder r;
        auto in = make(config);
        r.after_data = [&] {
            if (r.batches == 2) in->stop();
        };
        in->start(r);
        ASSERT_TRUE(run_until([&] { return r.batches >= 2; }));
        io_.restart();
        io_.run_for(std::chrono::milliseconds(20));
        EXPECT_EQ(r.batches, 2u);
        first = r.data;
        position = in->position();
    }
    ASSERT_LT(first.size(), whole.size());
    recorder r;
    auto in = make(config);
    std::string error;
    ASSERT_TRUE(in->restore(position, error)) << error;
    in->start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_TRUE(first + r.data == whole);

    // A position of another configuration does not fit.
    json other = config;
    other["seed"] = 12;
    auto wrong = make(other);
    EXPECT_FALSE(wrong->restore(position, error));
    EXPECT_NE(error.find("different seed"), std::string::npos) << error;
    EXPECT_FALSE(wrong->restore(position.substr(0, 20), error));
}

TEST_F(generator_test, once_without_count_fails_clearly) {
    recorder r;
    auto in = make({{"rate", 0}}, /*once=*/true);
    EXPECT_FALSE(in->bounded());
    in->start(r);
    ASSERT_TRUE(run_until([&] { return !r.failures.empty(); }));
    EXPECT_EQ(r.failures[0], "a generator without count never ends; --once needs count");
    EXPECT_TRUE(r.data.empty());
}

TEST_F(generator_test, pause_holds_records_until_resume) {
    recorder r;
    auto in = make({{"rate", 0}, {"count", 20000}});
    r.after_data = [&] {
        if (r.batches == 1) in->pause();
    };
    in->start(r);
    ASSERT_TRUE(run_until([&] { return r.batches >= 1; }));
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
    EXPECT_EQ(r.batches, 1u);
    in->resume();
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(lines(r.data).size(), 20000u);
}

TEST_F(generator_test, one_source) {
    recorder r;
    auto in = make({{"rate", 0}, {"count", 50}});
    EXPECT_EQ(in->initial_sources(), std::vector<source_id>{""});
    in->start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(lines(r.data).size(), 50u);  // the recorder checked each delivery's source
    EXPECT_GT(r.batches, 0u);
}

}  // namespace
}  // namespace weir::connectors
