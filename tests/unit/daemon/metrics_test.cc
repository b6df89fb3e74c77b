// Tests of the daemon's metrics registry: every DESIGN.md §1.4 family with HELP and TYPE, updates,
// the grouped-series cap, removal of a node's series, and a well-formed exposition.
#include "daemon/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace weir::daemon {
namespace {

struct parsed_exposition {
    std::map<std::string, std::string> help;  // family -> help text
    std::map<std::string, std::string> type;  // family -> type
    std::map<std::string, double> samples;    // "name{labels}" -> value
    std::vector<std::string> problems;
};

// A strict reader of the text format 0.0.4, enough to find duplicates and malformed lines.
parsed_exposition parse(const std::string& text) {
    parsed_exposition p;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
            const auto rest = line.substr(7);
            const auto space = rest.find(' ');
            const auto name = rest.substr(0, space);
            const auto value = space == std::string::npos ? "" : rest.substr(space + 1);
            auto& m = line[2] == 'H' ? p.help : p.type;
            if (!m.emplace(name, value).second) p.problems.push_back("repeated: " + line);
            continue;
        }
        if (line[0] == '#') continue;
        const auto brace = line.find('}');
        const auto split = line.find(' ', brace == std::string::npos ? 0 : brace);
        if (split == std::string::npos) {
            p.problems.push_back("no value: " + line);
            continue;
        }
        const auto series = line.substr(0, split);
        char* end = nullptr;
        const std::string value = line.substr(split + 1);
        const double v = std::strtod(value.c_str(), &end);
        if (end == value.c_str()) p.problems.push_back("bad value: " + line);
        if (!p.samples.emplace(series, v).second) p.problems.push_back("duplicate: " + series);
    }
    return p;
}

bool has_sample(const parsed_exposition& p, const std::string& series) {
    return p.samples.count(series) != 0;
}

double sample(const parsed_exposition& p, const std::string& series) {
    auto it = p.samples.find(series);
    EXPECT_NE(it, p.samples.end()) << series;
    return it == p.samples.end() ? -1 : it->second;
}

std::size_t count_prefix(const parsed_exposition& p, const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& [s, v] : p.samples) n += s.rfind(prefix, 0) == 0;
    return n;
}

// Every series of a node, as the daemon would create them.
void populate(metrics& m, const std::string& pipeline, const std::string& node) {
    m.node(pipeline, node);
    m.input(pipeline, node, "events");
    m.check(pipeline, node, "volume");
    m.kafka_source(pipeline, node, "events", "sensors", "0");
    m.kafka_input(pipeline, node, "events");
    m.output(pipeline, "console");
    m.join(pipeline, node);
}

TEST(metrics, a_join_counts_late_records_per_side_and_shows_what_it_holds) {
    metrics m({.version = "1", .max_group_series = 10});
    join_metrics& j = m.join("shop", "paid");
    EXPECT_EQ(&m.join("shop", "paid"), &j) << "the same handles again";
    j.late_left.Increment(2);
    j.late_right.Increment(5);
    j.buffered.Set(42);
    const auto p = parse(m.serialize());
    ASSERT_TRUE(p.problems.empty()) << p.problems.front();
    EXPECT_EQ(sample(p, R"(weir_join_late_records_total{node="paid",pipeline="shop",side="left"})"),
              2);
    EXPECT_EQ(
        sample(p, R"(weir_join_late_records_total{node="paid",pipeline="shop",side="right"})"), 5);
    EXPECT_EQ(sample(p, R"(weir_join_buffered_records{node="paid",pipeline="shop"})"), 42);
    m.remove_node("shop", "paid");
    EXPECT_EQ(count_prefix(parse(m.serialize()), "weir_join_"), 0u);
}

TEST(metrics, every_design_family_has_help_and_type) {
    metrics m({.version = "1.2.3", .max_group_series = 10});
    populate(m, "sensors", "quality");
    const auto p = parse(m.serialize());
    ASSERT_TRUE(p.problems.empty()) << p.problems.front();

    const std::map<std::string, std::string> expected{
        {"weir_build_info", "gauge"},
        {"weir_input_records_total", "counter"},
        {"weir_input_bytes_total", "counter"},
        {"weir_input_errors_total", "counter"},
        {"weir_node_records_total", "counter"},
        {"weir_node_late_records_total", "counter"},
        {"weir_node_dropped_records_total", "counter"},
        {"weir_node_skipped_windows_total", "counter"},
        {"weir_join_late_records_total", "counter"},
        {"weir_join_buffered_records", "gauge"},
        {"weir_check_results_total", "counter"},
        {"weir_check_value", "gauge"},
        {"weir_check_failing", "gauge"},
        {"weir_watermark_timestamp_seconds", "gauge"},
        {"weir_window_emit_delay_seconds", "histogram"},
        {"weir_node_up", "gauge"},
        {"weir_kafka_consumer_lag", "gauge"},
        {"weir_kafka_consumer_lag_seconds", "gauge"},
        {"weir_kafka_broker_up", "gauge"},
        {"weir_kafka_rebalances_total", "counter"},
        {"weir_output_records_total", "counter"},
        {"weir_output_errors_total", "counter"},
        {"weir_checkpoint_duration_seconds", "histogram"},
        {"weir_checkpoint_last_success_timestamp_seconds", "gauge"},
        {"weir_config_reloads_total", "counter"},
        {"weir_dependency_down", "gauge"},
        {"weir_metrics_series_dropped_total", "counter"},
        {"process_resident_memory_bytes", "gauge"},
        {"process_cpu_seconds_total", "counter"},
        {"process_open_fds", "gauge"},
        {"process_start_time_seconds", "gauge"},
    };
    for (const auto& [name, type] : expected) {
        ASSERT_TRUE(p.type.count(name)) << name;
        EXPECT_EQ(p.type.at(name), type) << name;
        ASSERT_TRUE(p.help.count(name)) << name;
        EXPECT_FALSE(p.help.at(name).empty()) << name;
        // Counters end in _total, and nothing else does.
        const bool total = name.size() > 6 && name.substr(name.size() - 6) == "_total";
        EXPECT_EQ(total, type == "counter") << name;
    }
    EXPECT_EQ(sample(p, "weir_build_info{version=\"1.2.3\"}"), 1);
    EXPECT_EQ(sample(p, "weir_config_reloads_total{result=\"failure\"}"), 0);
    EXPECT_EQ(count_prefix(p, "weir_input_errors_total{"), 6u);
    EXPECT_EQ(count_prefix(p, "weir_check_results_total{"), 4u);
    EXPECT_EQ(count_prefix(p, "weir_node_dropped_records_total{"), 7u);  // future_time too
    EXPECT_TRUE(has_sample(p,
                           "weir_input_errors_total{error_type=\"too_long\",input=\"events\","
                           "node=\"quality\",pipeline=\"sensors\"}"));
    EXPECT_TRUE(has_sample(p,
                           "weir_check_results_total{check=\"volume\",node=\"quality\","
                           "outcome=\"no_data\",pipeline=\"sensors\"}"));
}

TEST(metrics, process_metrics_are_plausible) {
    metrics m;
    const auto p = parse(m.serialize());
    EXPECT_GT(sample(p, "process_resident_memory_bytes"), 1024.0 * 1024);
    EXPECT_GE(sample(p, "process_cpu_seconds_total"), 0);
    EXPECT_GE(sample(p, "process_open_fds"), 3);
    const double now = static_cast<double>(std::time(nullptr));
    const double start = sample(p, "process_start_time_seconds");
    EXPECT_LE(start, now + 2);
    EXPECT_GT(start, now - 24 * 3600);  // this test process started recently

    // One more descriptor shows up at the next scrape.
    const double before = sample(parse(m.serialize()), "process_open_fds");
    std::FILE* f = std::fopen("/proc/self/stat", "r");
    ASSERT_NE(f, nullptr);
    const double during = sample(parse(m.serialize()), "process_open_fds");
    std::fclose(f);
    EXPECT_EQ(during, before + 1);
}

TEST(metrics, handles_update_the_exposition) {
    metrics m;
    auto& n = m.node("p", "n");
    auto& in = m.input("p", "n", "events");
    auto& c = m.check("p", "n", "volume");
    auto& out = m.output("p", "console");
    n.records.Increment(42);
    n.late_records.Increment();
    n.dropped_by(drop_reason::late).Increment(3);
    n.watermark_seconds.Set(1'700'000'000.5);
    n.up.Set(1);
    n.emit_delay_seconds.Observe(0.02);
    n.emit_delay_seconds.Observe(7);
    n.checkpoint_duration_seconds.Observe(0.003);
    n.checkpoint_last_success_seconds.Set(1'700'000'100);
    in.records.Increment(10);
    in.bytes.Increment(1234);
    in.errors_of(input_error_from("protocol")).Increment();
    in.errors_of(input_error_from("no such type")).Increment(2);
    in.dependency_down.Set(1);
    c.results_of(check_outcome::fail).Increment();
    c.value->Set(17.25);
    c.failing->Set(1);
    out.records.Increment(5);
    out.errors.Increment();
    m.count_reload(false);
    m.count_reload(true);
    m.count_reload(true);

    // The same names give the same handles.
    EXPECT_EQ(&m.node("p", "n"), &n);
    EXPECT_EQ(&m.input("p", "n", "events"), &in);
    EXPECT_EQ(&m.check("p", "n", "volume"), &c);
    EXPECT_EQ(&m.output("p", "console"), &out);

    const auto p = parse(m.serialize());
    ASSERT_TRUE(p.problems.empty()) << p.problems.front();
    const std::string nl = "node=\"n\",pipeline=\"p\"";
    EXPECT_EQ(sample(p, "weir_node_records_total{" + nl + "}"), 42);
    EXPECT_EQ(sample(p, "weir_node_late_records_total{" + nl + "}"), 1);
    EXPECT_EQ(sample(p, "weir_node_dropped_records_total{" + nl + ",reason=\"late\"}"), 3);
    EXPECT_EQ(sample(p, "weir_node_dropped_records_total{" + nl + ",reason=\"invalid\"}"), 0);
    EXPECT_EQ(sample(p, "weir_watermark_timestamp_seconds{" + nl + "}"), 1'700'000'000.5);
    EXPECT_EQ(sample(p, "weir_node_up{" + nl + "}"), 1);
    EXPECT_EQ(sample(p, "weir_window_emit_delay_seconds_count{" + nl + "}"), 2);
    EXPECT_EQ(sample(p, "weir_window_emit_delay_seconds_sum{" + nl + "}"), 7.02);
    EXPECT_EQ(sample(p, "weir_window_emit_delay_seconds_bucket{" + nl + ",le=\"0.025\"}"), 1);
    EXPECT_EQ(sample(p, "weir_window_emit_delay_seconds_bucket{" + nl + ",le=\"5\"}"), 1);
    EXPECT_EQ(sample(p, "weir_window_emit_delay_seconds_bucket{" + nl + ",le=\"10\"}"), 2);
    EXPECT_EQ(sample(p, "weir_window_emit_delay_seconds_bucket{" + nl + ",le=\"+Inf\"}"), 2);
    EXPECT_EQ(sample(p, "weir_checkpoint_duration_seconds_count{" + nl + "}"), 1);
    EXPECT_EQ(sample(p, "weir_checkpoint_last_success_timestamp_seconds{" + nl + "}"),
              1'700'000'100);
    const std::string il = "input=\"events\"," + nl;
    EXPECT_EQ(sample(p, "weir_input_records_total{" + il + "}"), 10);
    EXPECT_EQ(sample(p, "weir_input_bytes_total{" + il + "}"), 1234);
    EXPECT_EQ(sample(p, "weir_input_errors_total{error_type=\"protocol\"," + il + "}"), 1);
    EXPECT_EQ(sample(p, "weir_input_errors_total{error_type=\"other\"," + il + "}"), 2);
    EXPECT_EQ(sample(p, "weir_dependency_down{" + il + "}"), 1);
    const std::string cl = "check=\"volume\"," + nl;
    EXPECT_EQ(sample(p,
                     "weir_check_results_total{check=\"volume\",node=\"n\",outcome=\"fail\","
                     "pipeline=\"p\"}"),
              1);
    EXPECT_EQ(sample(p, "weir_check_value{" + cl + "}"), 17.25);
    EXPECT_EQ(sample(p, "weir_check_failing{" + cl + "}"), 1);
    EXPECT_EQ(sample(p, "weir_output_records_total{output=\"console\",pipeline=\"p\"}"), 5);
    EXPECT_EQ(sample(p, "weir_output_errors_total{output=\"console\",pipeline=\"p\"}"), 1);
    EXPECT_EQ(sample(p, "weir_config_reloads_total{result=\"success\"}"), 2);
    EXPECT_EQ(sample(p, "weir_config_reloads_total{result=\"failure\"}"), 1);
}

TEST(metrics, label_values_are_escaped) {
    metrics m;
    m.check("p", "n", "say \"hi\"\\\n").value->Set(1);
    const auto text = m.serialize();
    EXPECT_NE(text.find(R"(check="say \"hi\"\\\n")"), std::string::npos) << text;
    EXPECT_TRUE(parse(text).problems.empty());
}

TEST(metrics, grouped_check_values_stop_at_the_cap) {
    metrics m({.max_group_series = 3});
    auto* a = m.group("p", "n", "mean", "device=a", {{"device", "a"}});
    auto* b = m.group("p", "n", "mean", "device=b", {{"device", "b"}});
    // The cap is for the whole daemon.
    auto* c = m.group("p", "m", "mean", "device=c", {{"device", "c"}});
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    ASSERT_NE(c, nullptr);
    EXPECT_NE(a, b);
    // Existing series stay served.
    EXPECT_EQ(m.group("p", "n", "mean", "device=a", {{"device", "a"}}), a);
    EXPECT_EQ(m.group("p", "n", "mean", "device=d", {{"device", "d"}}), nullptr);
    EXPECT_EQ(m.group("p", "n", "other", "device=a", {{"device", "a"}}), nullptr);
    EXPECT_EQ(m.group_series(), 3u);
    a->value.Set(2.5);
    a->failing.Set(1);

    auto p = parse(m.serialize());
    ASSERT_TRUE(p.problems.empty()) << p.problems.front();
    // The group_by field is a label of its own, on the value and the failing series.
    EXPECT_EQ(sample(p, "weir_check_value{check=\"mean\",device=\"a\",node=\"n\",pipeline=\"p\"}"),
              2.5);
    EXPECT_EQ(sample(p,
                     "weir_check_failing{check=\"mean\",device=\"a\",node=\"n\","
                     "pipeline=\"p\"}"),
              1);
    EXPECT_EQ(sample(p,
                     "weir_check_failing{check=\"mean\",device=\"b\",node=\"n\","
                     "pipeline=\"p\"}"),
              0);
    EXPECT_EQ(count_prefix(p, "weir_check_value{"), 3u);
    EXPECT_EQ(count_prefix(p, "weir_check_failing{"), 3u);
    EXPECT_EQ(sample(p, "weir_metrics_series_dropped_total"), 2);

    // Removing a node frees its share of the cap.
    m.remove_node("p", "n");
    EXPECT_EQ(m.group_series(), 1u);
    EXPECT_NE(m.group("p", "n", "mean", "device=d", {{"device", "d"}}), nullptr);
    p = parse(m.serialize());
    EXPECT_EQ(count_prefix(p, "weir_check_value{"), 2u);
    EXPECT_EQ(count_prefix(p, "weir_check_failing{"), 2u);
}

// A grouped node's check has series per group only: none without the group's labels that
// would sit at 0 beside them.
TEST(metrics, a_grouped_check_has_no_ungrouped_series) {
    metrics m;
    auto& c = m.check("p", "n", "mean", true);
    EXPECT_EQ(c.value, nullptr);
    EXPECT_EQ(c.failing, nullptr);
    m.group("p", "n", "mean", "host=web-3", {{"host", "web-3"}})->failing.Set(1);
    const auto p = parse(m.serialize());
    ASSERT_TRUE(p.problems.empty()) << p.problems.front();
    EXPECT_FALSE(has_sample(p, "weir_check_value{check=\"mean\",node=\"n\",pipeline=\"p\"}"));
    EXPECT_FALSE(has_sample(p, "weir_check_failing{check=\"mean\",node=\"n\",pipeline=\"p\"}"));
    EXPECT_EQ(sample(p,
                     "weir_check_failing{check=\"mean\",host=\"web-3\",node=\"n\","
                     "pipeline=\"p\"}"),
              1);
    m.remove_node("p", "n");
    EXPECT_EQ(count_prefix(parse(m.serialize()), "weir_check_"), 0u);
}

TEST(metrics, group_label_names_are_valid_and_distinct) {
    EXPECT_EQ(group_label_names({"host", "device.id", "2nd", "a-b c"}),
              (std::vector<std::string>{"host", "device_id", "_2nd", "a_b_c"}));
    // The fixed labels and the reserved prefix are kept clear.
    EXPECT_EQ(group_label_names({"pipeline", "node", "check", "job", "instance", "__name__"}),
              (std::vector<std::string>{"group_pipeline", "group_node", "group_check", "group_job",
                                        "group_instance", "group___name__"}));
    // Two fields that become the same name.
    EXPECT_EQ(group_label_names({"a.b", "a_b", "a-b", ""}),
              (std::vector<std::string>{"a_b", "a_b_2", "a_b_3", "_"}));
}

// The failing groups the status names: the first by key, all of them counted.
TEST(metrics, failing_checks_name_their_failing_groups) {
    metrics m;
    auto& c = m.check("p", "n", "errors", true);
    for (int i = 0; i < 15; ++i) {
        const std::string host = "web-" + std::to_string(10 + i);
        c.set_failing("host=" + host, failing_group{{{"host", host}}, i * 0.5});
    }
    c.clear_failing("host=web-10");
    c.clear_failing("host=never-failed");
    c.set_failing("host=web-11", failing_group{{{"host", "web-11"}}, 9});  // again: new value
    auto& u = m.check("p", "n", "volume");
    u.set_failing("", failing_group{{}, 3});
    const auto f = m.failing_checks("p", {"n"});
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].check, "errors");
    EXPECT_EQ(f[0].groups, 14u);
    ASSERT_EQ(f[0].sample.size(), 10u);
    EXPECT_EQ(f[0].sample[0].group,
              (std::vector<std::pair<std::string, std::string>>{{"host", "web-11"}}));
    EXPECT_EQ(f[0].sample[0].value, 9);
    // The first ten by key, in order (the failing groups are kept unordered).
    for (std::size_t i = 0; i < f[0].sample.size(); ++i) {
        const std::string host = "web-" + std::to_string(11 + i);
        EXPECT_EQ(f[0].sample[i].group,
                  (std::vector<std::pair<std::string, std::string>>{{"host", host}}));
    }
    EXPECT_EQ(m.failing_checks("p", {"n"}, 3)[0].sample.size(), 3u);
    EXPECT_EQ(m.failing_checks("p", {"n"}, 100)[0].sample.size(), 14u);
    EXPECT_EQ(f[1].check, "volume");
    EXPECT_EQ(f[1].groups, 1u);
    EXPECT_TRUE(f[1].sample.empty());
    EXPECT_EQ(u.failing->Value(), 1);
    u.clear_failing("");
    EXPECT_EQ(u.failing->Value(), 0);
    EXPECT_EQ(m.failing_checks("p", {"n"}).size(), 1u);
}

// With its series, a group's failure is found without looking its key up: the series points at
// its entry while it fails, and the failing groups stay what they are without.
TEST(metrics, failing_groups_with_their_series_match_those_without) {
    metrics m;
    auto& c = m.check("p", "n", "errors", true);
    const auto group = [&](const std::string& host) {
        return m.group("p", "n", "errors", "host=" + host, {{"host", host}});
    };
    const auto fail = [&](const std::string& host, double v, group_metrics* series) {
        c.set_failing("host=" + host, failing_group{{{"host", host}}, v}, series);
    };
    group_metrics* a = group("a");
    group_metrics* b = group("b");
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(a->listed.load(), nullptr);
    fail("a", 1, a);
    ASSERT_NE(a->listed.load(), nullptr);
    c.refail(*a, 4);               // again, with a new value
    c.clear_failing("host=b", b);  // never failed: nothing changes
    EXPECT_EQ(c.failing_groups.load(), 1u);
    auto sample = c.failing_sample(10);
    ASSERT_EQ(sample.size(), 1u);
    EXPECT_EQ(sample[0].value, 4);
    c.clear_failing("host=a", a);
    EXPECT_EQ(a->listed.load(), nullptr);
    EXPECT_EQ(c.failing_groups.load(), 0u);

    // A group that failed without its series (the series cap refused it then) is still
    // taken out when it recovers with one; and one cleared without its series unlinks it.
    fail("c", 2, nullptr);
    group_metrics* s = group("c");
    EXPECT_EQ(s->listed.load(), nullptr);
    c.clear_failing("host=c", s);
    EXPECT_EQ(c.failing_groups.load(), 0u);
    fail("b", 3, b);
    c.clear_failing("host=b", nullptr);
    EXPECT_EQ(b->listed.load(), nullptr);
    EXPECT_EQ(c.failing_groups.load(), 0u);
    fail("b", 5, nullptr);  // a series it has already, not given: linked when given again
    fail("b", 6, b);
    EXPECT_NE(b->listed.load(), nullptr);
    c.refail(*b, 7);
    sample = c.failing_sample(10);
    ASSERT_EQ(sample.size(), 1u);
    EXPECT_EQ(sample[0].value, 7);
    c.clear_failing("host=b", b);
    EXPECT_EQ(c.failing_groups.load(), 0u);
    EXPECT_TRUE(c.failing_sample(10).empty());
}

// A revoked partition's lag series go at once; the other partitions' stay.
TEST(metrics, remove_kafka_source_removes_only_that_partition) {
    metrics m;
    m.kafka_source("p", "n", "events", "t", "0").lag.Set(5);
    m.kafka_source("p", "n", "events", "t", "1").lag.Set(7);
    m.remove_kafka_source("p", "n", "events", "t", "0");
    m.remove_kafka_source("p", "n", "events", "t", "9");  // never existed: no-op
    const auto after = parse(m.serialize());
    ASSERT_TRUE(after.problems.empty()) << after.problems.front();
    auto present = [&](const std::string& family, const std::string& partition) {
        for (const auto& [series, v] : after.samples) {
            if (series.starts_with(family + "{") &&
                series.find("partition=\"" + partition + "\"") != std::string::npos) {
                return true;
            }
        }
        return false;
    };
    EXPECT_FALSE(present("weir_kafka_consumer_lag", "0"));
    EXPECT_FALSE(present("weir_kafka_consumer_lag_seconds", "0"));
    EXPECT_TRUE(present("weir_kafka_consumer_lag", "1"));
    EXPECT_TRUE(present("weir_kafka_consumer_lag_seconds", "1"));
    // Asked for again, it is a fresh series.
    EXPECT_EQ(m.kafka_source("p", "n", "events", "t", "0").lag.Value(), 0);
}

TEST(metrics, remove_node_removes_every_series_of_the_node) {
    metrics m;
    populate(m, "p", "gone");
    populate(m, "p", "kept");
    m.group("p", "gone", "volume", "g=1", {{"g", "1"}});
    m.node("p", "kept").records.Increment(7);
    const auto before = parse(m.serialize());
    ASSERT_GT(before.samples.size(), 60u);

    m.remove_node("p", "gone");
    m.remove_node("p", "never existed");
    const auto after = parse(m.serialize());
    ASSERT_TRUE(after.problems.empty()) << after.problems.front();
    std::size_t gone = 0;
    std::size_t kept = 0;
    for (const auto& [series, v] : before.samples) {
        if (series.find("node=\"gone\"") != std::string::npos) {
            ++gone;
            EXPECT_FALSE(has_sample(after, series)) << series;
        } else if (series.find("node=\"kept\"") != std::string::npos) {
            ++kept;
            EXPECT_TRUE(has_sample(after, series)) << series;
        }
    }
    EXPECT_GT(gone, 40u);
    EXPECT_EQ(gone, kept + 2);  // the group's value and failing series
    EXPECT_EQ(sample(after, "weir_node_records_total{node=\"kept\",pipeline=\"p\"}"), 7);
    EXPECT_TRUE(has_sample(after, "weir_output_records_total{output=\"console\",pipeline=\"p\"}"));

    // A node that comes back after a reload starts from zero.
    EXPECT_EQ(m.node("p", "gone").records.Value(), 0);

    m.remove_pipeline("p");
    const auto empty = parse(m.serialize());
    for (const auto& [series, v] : empty.samples) {
        EXPECT_EQ(series.find("pipeline=\"p\""), std::string::npos) << series;
    }
}

TEST(metrics, concurrent_creation_updates_and_scrapes) {
    metrics m({.max_group_series = 100});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&m, t] {
            for (int i = 0; i < 200; ++i) {
                const std::string node = "n" + std::to_string(i % 10);
                m.node("p", node).records.Increment();
                if (auto* g = m.group("p", node, "c", "g=" + std::to_string(i % 30),
                                      {{"g", std::to_string(i % 30)}})) {
                    g->value.Set(i);
                }
                if (t == 0 && i % 50 == 0) {  // a reload of a node nobody else touches
                    m.node("p", "scratch").up.Set(1);
                    m.group("p", "scratch", "c", "g=1", {{"g", "1"}});
                    m.remove_node("p", "scratch");
                }
                if (t == 1 && i % 20 == 0) {
                    EXPECT_FALSE(m.serialize().empty());
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    const auto p = parse(m.serialize());
    EXPECT_TRUE(p.problems.empty());
    double total = 0;
    for (int i = 0; i < 10; ++i) {
        total += sample(
            p, "weir_node_records_total{node=\"n" + std::to_string(i) + "\",pipeline=\"p\"}");
    }
    EXPECT_EQ(total, 4 * 200);
    EXPECT_LE(m.group_series(), 100u);
}

TEST(metrics, promtool_accepts_the_exposition) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
        GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
    }
    metrics m({.version = "0.1.0", .max_group_series = 5});
    populate(m, "sensors", "quality");
    populate(m, "sensors", "freshness");
    m.group("sensors", "quality", "volume", "device_id=d-17", {{"device_id", "d-17"}})
        ->value.Set(3);
    m.node("sensors", "quality").emit_delay_seconds.Observe(1.5);
    const auto path = std::filesystem::temp_directory_path() /
                      ("weir_metrics_" + std::to_string(::getpid()) + ".prom");
    { std::ofstream(path) << m.serialize(); }
    const std::string command = "promtool check metrics < " + path.string() + " 2>&1";
    std::FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[512];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) {
        output.append(buffer, n);
    }
    const int status = ::pclose(pipe);
    std::filesystem::remove(path);
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output, "") << output;  // no lint findings either
}

}  // namespace
}  // namespace weir::daemon
