// Check results: the JSON line of DESIGN.md §1.5 and the stable id.
#include "core/result/check_result.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace weir {
namespace {

check_result example() {
    check_result r;
    r.pipeline = "sensors";
    r.node = "quality";
    r.check = "volume";
    time::parse_rfc3339("2026-11-20T10:00:00Z", r.window_start);
    time::parse_rfc3339("2026-11-20T10:01:00Z", r.window_end);
    r.group = {{"device_id", measure_value::make_string("d-17")}};
    r.measure = "count()";
    r.value = measure_value::make_number(42);
    r.must_be = "> 50";
    r.outcome = outcome::fail;
    r.records = 42;
    time::parse_rfc3339("2026-11-20T10:01:10.204Z", r.emitted_at);
    return r;
}

TEST(check_result, json_line_has_every_field_of_the_contract) {
    std::string line;
    append_json(example(), line);
    const auto j = nlohmann::ordered_json::parse(line);
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    EXPECT_EQ(keys, (std::vector<std::string>{"id", "pipeline", "node", "check", "window_start",
                                              "window_end", "group", "measure", "value", "must_be",
                                              "outcome", "severity", "records", "emitted_at"}));
    EXPECT_EQ(j["window_start"], "2026-11-20T10:00:00.000Z");
    EXPECT_EQ(j["window_end"], "2026-11-20T10:01:00.000Z");
    EXPECT_EQ(j["group"], nlohmann::json({{"device_id", "d-17"}}));
    EXPECT_EQ(j["value"], 42);
    EXPECT_EQ(line.find("\"value\":42,"), line.find("\"value\":"));  // no "42.0"
    EXPECT_EQ(j["outcome"], "fail");
    EXPECT_EQ(j["severity"], "fail");
    EXPECT_EQ(j["records"], 42);
    EXPECT_EQ(j["emitted_at"], "2026-11-20T10:01:10.204Z");
    EXPECT_EQ(j["id"].get<std::string>().size(), 16u);
}

// depends_on: the dependencies that were down, after the samples and before emitted_at; the id
// does not change (a flagged window is the same window).
TEST(check_result, dependency_down_is_written_only_when_set) {
    check_result r = example();
    const std::string id = result_id(r);
    r.dependency_down = {"weather", "fx \"rates\""};
    std::string line;
    append_json(r, line);
    const auto j = nlohmann::ordered_json::parse(line);
    EXPECT_EQ(j["dependency_down"], nlohmann::json({"weather", "fx \"rates\""}));
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    EXPECT_EQ(keys.at(keys.size() - 2), "dependency_down");
    EXPECT_EQ(j["id"], id);
    std::string plain;
    append_json(example(), plain);
    EXPECT_EQ(plain.find("dependency_down"), std::string::npos);
}

// A check's alert labels and annotations ride along for outputs that raise alerts; the result's
// JSON line and id stay byte for byte what they were.
TEST(check_result, alert_metadata_changes_neither_the_json_nor_the_id) {
    check_result labelled = example();
    auto meta = std::make_shared<check_metadata>();
    meta->labels = {{"team", "payments"}};
    meta->annotations = {{"runbook_url", "https://runbooks.example/volume"}};
    labelled.metadata = meta;
    std::string plain_line;
    std::string labelled_line;
    append_json(example(), plain_line);
    append_json(labelled, labelled_line);
    EXPECT_EQ(labelled_line, plain_line);
    EXPECT_EQ(result_id(labelled), result_id(example()));
    const check_result copy = labelled;  // results share the check's metadata, not copies
    EXPECT_EQ(copy.metadata.get(), meta.get());
}

TEST(check_result, ungrouped_no_data_and_awkward_values) {
    auto r = example();
    r.group.clear();
    r.value = measure_value::make_null();
    r.outcome = outcome::no_data;
    r.must_be.clear();
    r.should_be = "[18, 30]";
    r.check = "quote\"and\\back\nslash\x01";
    std::string line;
    append_json(r, line);
    const auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j["group"].is_null());
    EXPECT_TRUE(j["value"].is_null());
    EXPECT_FALSE(j.contains("must_be"));
    EXPECT_EQ(j["should_be"], "[18, 30]");
    EXPECT_EQ(j["severity"], "warn");
    EXPECT_EQ(j["check"], r.check.str());

    r.value = measure_value::make_number(std::nan(""));
    line.clear();
    append_json(r, line);
    EXPECT_TRUE(nlohmann::json::parse(line)["value"].is_null());
    r.value = measure_value::make_number(0.1);
    line.clear();
    append_json(r, line);
    EXPECT_EQ(nlohmann::json::parse(line)["value"].get<double>(), 0.1);
}

TEST(check_result, id_is_stable_and_depends_only_on_its_key) {
    const auto base = example();
    // Golden value: the id encoding must never change, or deduplication after an upgrade
    // would break.
    EXPECT_EQ(result_id(base), "fee7d3cf4ffd7a54");

    auto later = base;
    later.emitted_at += time::ns_per_s;
    later.value = measure_value::make_number(7);
    later.outcome = outcome::pass;
    later.records = 7;
    EXPECT_EQ(result_id(later), result_id(base));

    std::set<std::string> ids{result_id(base)};
    auto vary = [&](auto change) {
        auto r = base;
        change(r);
        EXPECT_TRUE(ids.insert(result_id(r)).second);
    };
    vary([](check_result& r) { r.pipeline = "sensorz"; });
    vary([](check_result& r) { r.node = "qualitx"; });
    vary([](check_result& r) { r.check = "volumes"; });
    vary([](check_result& r) { r.window_start += time::ns_per_ms; });
    vary([](check_result& r) { r.group.edit()[0].second = measure_value::make_string("d-18"); });
    vary([](check_result& r) { r.group.edit()[0].second = measure_value::make_number(17); });
    vary([](check_result& r) { r.group.clear(); });
    vary([](check_result& r) { r.group.edit()[0].first = "device"; });
    // Field boundaries matter: ("ab", "c") differs from ("a", "bc").
    vary([](check_result& r) {
        r.pipeline = "sensorsq";
        r.node = "uality";
    });
}

TEST(check_result, a_group_changed_after_its_text_was_rendered_is_rendered_again) {
    auto r = example();
    const std::string id = result_id(r);  // renders the group's text
    std::string line;
    append_json(r, line);
    EXPECT_NE(line.find(R"("group":{"device_id":"d-17"})"), std::string::npos) << line;
    // The only owner: changed in place.
    r.group.edit()[0].second = measure_value::make_string("d-18");
    r.group.emplace_back("site", measure_value::make_number(2.5));
    line.clear();
    append_json(r, line);
    EXPECT_NE(line.find(R"("group":{"device_id":"d-18","site":2.5})"), std::string::npos) << line;
    EXPECT_NE(result_id(r), id);
    // A copy sharing the group keeps the text it had when the other changes its own.
    const auto shared = r;
    const std::string shared_id = result_id(shared);
    r.group.edit()[1].second = measure_value::make_null();
    EXPECT_EQ(result_id(shared), shared_id);
    EXPECT_NE(result_id(r), shared_id);
    EXPECT_EQ(r.group.text().json, R"({"device_id":"d-18","site":null})");
    EXPECT_EQ(shared.group.text().json, R"({"device_id":"d-18","site":2.5})");
    r.group.clear();
    EXPECT_EQ(r.group.text().json, "null");
    EXPECT_EQ(r.group.text().id_key, "");
}

TEST(check_result, threads_writing_results_of_one_group_share_one_rendering) {
    const auto r = example();
    constexpr int k_threads = 4;
    std::vector<const group_text*> seen(k_threads);
    std::vector<std::string> ids(k_threads);
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            const check_result copy = r;  // a result of the same window and group
            ids[t] = result_id(copy);
            seen[t] = &copy.group.text();
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < k_threads; ++t) {
        EXPECT_EQ(seen[t], &r.group.text());
        EXPECT_EQ(ids[t], "fee7d3cf4ffd7a54");
    }
}

TEST(check_result, json_strings_escape_exactly_as_a_reference_encoder) {
    // Every byte below 0x80 in several positions and runs, against nlohmann::json's encoder.
    std::string all;
    for (int c = 1; c < 0x80; ++c) all += static_cast<char>(c);
    const std::vector<std::string> cases = {"",
                                            "plain text",
                                            "\"quoted\"",
                                            "a\\b",
                                            all,
                                            "tab\there\nnew\rline\x01\x1f end",
                                            "\x7f utf-8 \xc3\xa9 stays"};
    for (const auto& text : cases) {
        std::string out = "prefix:";
        append_json_string(text, out);
        EXPECT_EQ(out, "prefix:" + nlohmann::json(text).dump()) << text;
    }
}

}  // namespace
}  // namespace weir
