// The file input on real files in a temporary directory: bounded reads, following, partial
// lines, rotation, truncation, new files, fingerprints, exact resumption, size limits and
// back-pressure.
#include "connectors/file/file_input.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "connectors/file/file_spec.h"
#include "tests/unit/connectors/input_test_util.h"

namespace weir::connectors {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

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
    } else {
        v.type = params::value::kind::scalar;
        v.text = j.is_string() ? j.get<std::string>() : j.dump();
    }
    return v;
}

struct recorder : input_events {
    std::string data;
    std::size_t batches = 0;
    std::size_t largest = 0;  // the bytes of the largest delivery
    int ends = 0;
    std::vector<std::string> failures;
    std::vector<std::string> problems;
    std::function<void()> after_data;
    // With a glob, a source per file: those announced and not retired, the records of each,
    // and what was said of them, in order ("+a.log", "-a.log", "caught up a.log", "behind a.log").
    std::set<std::string> sources;
    std::map<std::string, std::string> by_source;
    std::vector<std::string> said;

    void on_records(std::string_view source, const record_delivery& records) override {
        if (!source.empty()) {
            EXPECT_TRUE(sources.contains(std::string(source)))
                << "records of " << source << " before it was announced";
            by_source[std::string(source)].append(records.bytes);
        }
        test::expect_one_stream_lines("", records);
        data.append(records.bytes);
        largest = std::max(largest, records.bytes.size());
        ++batches;
        if (after_data) after_data();
    }
    void on_sources_changed(std::span<const source_id> added,
                            std::span<const source_id> removed) override {
        for (const auto& id : added) {
            EXPECT_TRUE(sources.insert(id).second) << id << " announced twice";
            said.push_back("+" + fs::path(id).filename().string());
        }
        for (const auto& id : removed) {
            EXPECT_EQ(sources.erase(id), 1u) << id << " retired but not announced";
            said.push_back("-" + fs::path(id).filename().string());
        }
    }
    void on_source_caught_up(std::string_view source, bool caught_up) override {
        EXPECT_TRUE(sources.contains(std::string(source)));
        said.push_back((caught_up ? "caught up " : "behind ") +
                       fs::path(source).filename().string());
    }
    void on_end() override { ++ends; }
    void on_problem(std::string_view type, const std::string& message) override {
        problems.push_back(std::string(type) + ": " + message);
    }
    void on_failure(const std::string& message) override { failures.push_back(message); }

    std::size_t count(std::string_view type) const {
        std::size_t n = 0;
        for (const auto& p : problems) n += p.starts_with(type) ? 1 : 0;
        return n;
    }
};

void write(const fs::path& path, const std::string& text, bool append = true) {
    std::ofstream out(path, append ? std::ios::app | std::ios::binary : std::ios::binary);
    out << text;
}

std::string numbered(int from, int to, const std::string& tag = "line") {
    std::string out;
    for (int i = from; i < to; ++i) out += "{\"" + tag + "\":" + std::to_string(i) + "}\n";
    return out;
}

class file_input_test : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "weir-file-input-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        inputs_.clear();
        fs::remove_all(dir_);
    }

    input& make(json config, bool once = false, std::size_t max_delivery_bytes = 0) {
        if (!config.contains("glob_interval")) config["glob_interval"] = "50ms";
        values_.push_back(std::make_unique<params::value>(to_value(config)));
        const auto info = file_input_component();
        diagnostics diags;
        EXPECT_TRUE(params::validate(*info.spec, *values_.back(), "inputs.f", diags))
            << config.dump();
        params::reader reader(*info.spec, *values_.back());
        input_context ctx;
        ctx.executor = boost::asio::make_strand(io_);
        ctx.input = "f";
        ctx.once = once;
        ctx.max_delivery_bytes = max_delivery_bytes;
        specs_.push_back(info.spec);
        inputs_.push_back(make_file_input(reader, ctx));
        return *inputs_.back();
    }

    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            io_.restart();
            io_.run_for(std::chrono::milliseconds(5));
        }
        return done();
    }
    void run_for(std::chrono::milliseconds d) {
        io_.restart();
        io_.run_for(d);
    }

    fs::path dir_;
    boost::asio::io_context io_;
    std::vector<std::unique_ptr<params::value>> values_;
    std::vector<std::shared_ptr<const params::object_spec>> specs_;
    std::vector<std::unique_ptr<input>> inputs_;
};

TEST_F(file_input_test, bounded_read_of_a_glob_ends_with_the_final_unterminated_line) {
    write(dir_ / "a.log", numbered(0, 3, "a"));
    write(dir_ / "b.log", numbered(0, 2, "b") + "{\"b\":\"last\"}");
    write(dir_ / "c.txt", "not matched\n");
    write(dir_ / "skip.log", "excluded\n");
    recorder r;
    input& in = make({{"path", (dir_ / "*.log").string()}, {"exclude", "skip.*"}},
                     /*once=*/true);
    EXPECT_TRUE(in.bounded());
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(r.data, numbered(0, 3, "a") + numbered(0, 2, "b") + "{\"b\":\"last\"}\n");
    EXPECT_TRUE(r.failures.empty());
    EXPECT_TRUE(r.problems.empty());

    // The position covers everything: a second run reads only what was appended since.
    const std::string position = in.position();
    write(dir_ / "a.log", numbered(3, 5, "a"));
    recorder again;
    input& next = make({{"path", (dir_ / "*.log").string()}, {"exclude", "skip.*"}}, true);
    std::string error;
    ASSERT_TRUE(next.restore(position, error)) << error;
    next.start(again);
    ASSERT_TRUE(run_until([&] { return again.ends > 0; }));
    EXPECT_EQ(again.data, numbered(3, 5, "a"));
}

TEST_F(file_input_test, a_spread_query_gets_deliveries_of_at_most_the_size_it_asks_for) {
    // A query spread over lanes asks for small deliveries (input_context::max_delivery_bytes):
    // read_buffer_size: 64KiB reads 4 KiB at a time then, and every line still arrives once.
    // (Lines here are 12 to 15 bytes.)
    const std::string text = numbered(0, 2000);
    write(dir_ / "a.log", text);
    recorder r;
    input& in = make({{"path", (dir_ / "a.log").string()}, {"read_buffer_size", "64KiB"}},
                     /*once=*/true, /*max_delivery_bytes=*/4096);
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(r.data, text);
    // A read of 4 KiB, and the start of its first line, left over from the read before.
    EXPECT_LE(r.largest, 4096u + 16);
    EXPECT_GE(r.batches, text.size() / 4096);

    recorder whole;
    input& one = make({{"path", (dir_ / "a.log").string()}, {"read_buffer_size", "64KiB"}}, true);
    one.start(whole);
    ASSERT_TRUE(run_until([&] { return whole.ends > 0; }));
    EXPECT_EQ(whole.data, text);
    EXPECT_GT(whole.largest, 4096u) << "without the limit, reads of read_buffer_size";
}

TEST_F(file_input_test, follow_false_ends_and_missing_file_fails) {
    write(dir_ / "x.log", numbered(0, 1000));
    recorder r;
    input& in = make({{"path", (dir_ / "x.log").string()}, {"read_buffer_size", "4KiB"}});
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(r.data, numbered(0, 1000));
    EXPECT_GT(r.batches, 3u);  // chunked reads

    recorder missing;
    input& none = make({{"path", (dir_ / "nothing*.log").string()}}, true);
    none.start(missing);
    ASSERT_TRUE(run_until([&] { return !missing.failures.empty(); }));
    EXPECT_NE(missing.failures[0].find("no file matches"), std::string::npos);
}

TEST_F(file_input_test, follow_appends_and_holds_a_partial_line) {
    const fs::path path = dir_ / "app.log";
    write(path, "{\"n\":1}\n{\"n\":");
    recorder r;
    input& in = make({{"path", path.string()}, {"follow", true}});
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.data.size() == 8; }));
    run_for(std::chrono::milliseconds(300));
    EXPECT_EQ(r.data, "{\"n\":1}\n");  // the partial line waits
    write(path, "2}\n{\"n\":3}\n");
    ASSERT_TRUE(run_until([&] { return r.data.size() == 24; }));
    EXPECT_EQ(r.data, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
    EXPECT_EQ(r.ends, 0);
    in.stop();
}

TEST_F(file_input_test, rotation_by_rename_loses_and_repeats_nothing) {
    const fs::path path = dir_ / "app.log";
    write(path, numbered(0, 50));
    recorder r;
    input& in = make({{"path", path.string()}, {"follow", true}, {"rotate_wait", "300ms"}});
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.data == numbered(0, 50); }));
    // The writer still has the old file open: lines land there after the rename.
    std::ofstream old(path, std::ios::app | std::ios::binary);
    fs::rename(path, dir_ / "app.log.1");
    old << numbered(50, 60) << std::flush;
    write(path, numbered(60, 100));
    ASSERT_TRUE(run_until([&] { return r.data.size() >= numbered(0, 100).size(); }));
    EXPECT_EQ(r.data, numbered(0, 100));
    // Once let go (after rotate_wait), later writes to the old file are not read; the new
    // file goes on.
    run_for(std::chrono::milliseconds(800));
    old << numbered(1000, 1001) << std::flush;
    write(path, numbered(100, 110));
    ASSERT_TRUE(run_until([&] { return r.data.size() >= numbered(0, 110).size(); }));
    run_for(std::chrono::milliseconds(300));
    EXPECT_EQ(r.data, numbered(0, 110));
    EXPECT_EQ(r.count("rotation"), 0u);
}

TEST_F(file_input_test, truncation_starts_over_and_is_reported) {
    const fs::path path = dir_ / "app.log";
    write(path, numbered(0, 20));
    recorder r;
    input& in = make({{"path", path.string()}, {"follow", true}});
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.data == numbered(0, 20); }));
    fs::resize_file(path, 0);
    write(path, "{\"after\":1}\n");
    ASSERT_TRUE(run_until([&] { return r.data == numbered(0, 20) + "{\"after\":1}\n"; }));
    EXPECT_EQ(r.count("rotation"), 1u);
}

TEST_F(file_input_test, new_files_matching_the_glob_are_picked_up) {
    write(dir_ / "a.log", numbered(0, 2, "a"));
    recorder r;
    input& in = make({{"path", (dir_ / "*.log").string()}, {"follow", true}, {"start_at", "end"}});
    in.start(r);
    run_for(std::chrono::milliseconds(200));
    EXPECT_EQ(r.data, "");                       // start_at: end skips what was there
    write(dir_ / "b.log", numbered(0, 3, "b"));  // a new file is read from its start
    write(dir_ / "b.txt", "ignored\n");
    ASSERT_TRUE(run_until([&] { return r.data == numbered(0, 3, "b"); }));
    write(dir_ / "a.log", numbered(2, 3, "a"));
    ASSERT_TRUE(run_until([&] { return r.data == numbered(0, 3, "b") + numbered(2, 3, "a"); }));
}

TEST_F(file_input_test, restore_mid_file_continues_exactly) {
    const fs::path path = dir_ / "big.log";
    write(path, numbered(0, 5000));
    std::string first, position;
    {
        recorder r;
        input& in = make({{"path", path.string()}, {"read_buffer_size", "4KiB"}}, true);
        r.after_data = [&] {
            if (r.batches == 3) in.stop();
        };
        in.start(r);
        ASSERT_TRUE(run_until([&] { return r.batches >= 3; }));
        run_for(std::chrono::milliseconds(20));
        EXPECT_EQ(r.batches, 3u);
        first = r.data;
        position = in.position();
    }
    ASSERT_GT(first.size(), 0u);
    ASSERT_LT(first.size(), numbered(0, 5000).size());
    recorder r;
    input& in = make({{"path", path.string()}, {"read_buffer_size", "4KiB"}}, true);
    std::string error;
    ASSERT_TRUE(in.restore(position, error)) << error;
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_TRUE(first + r.data == numbered(0, 5000));
    EXPECT_TRUE(r.problems.empty());

    EXPECT_FALSE(in.restore("\x07garbage", error));
    EXPECT_FALSE(in.restore(position.substr(0, position.size() - 1), error));
}

TEST_F(file_input_test, reused_inode_with_other_content_is_read_from_the_start) {
    const fs::path path = dir_ / "app.log";
    write(path, numbered(0, 10, "old"));
    std::string position;
    {
        recorder r;
        input& in = make({{"path", path.string()}}, true);
        in.start(r);
        ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
        position = in.position();
    }
    // Same inode, different first bytes, longer than the saved offset.
    write(path, numbered(0, 30, "new"), /*append=*/false);
    recorder r;
    input& in = make({{"path", path.string()}}, true);
    std::string error;
    ASSERT_TRUE(in.restore(position, error)) << error;
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(r.data, numbered(0, 30, "new"));
    ASSERT_EQ(r.count("rotation"), 1u);
}

TEST_F(file_input_test, file_renamed_while_down_is_finished_by_inode) {
    const fs::path path = dir_ / "app.log";
    write(path, numbered(0, 10));
    std::string position;
    {
        recorder r;
        input& in = make({{"path", path.string()}, {"follow", true}});
        in.start(r);
        ASSERT_TRUE(run_until([&] { return r.data == numbered(0, 10); }));
        in.stop();
        position = in.position();
    }
    write(path, numbered(10, 15));
    fs::rename(path, dir_ / "app.log.old");
    write(path, numbered(15, 20));
    recorder r;
    input& in = make({{"path", path.string()}, {"follow", true}, {"rotate_wait", "0s"}});
    std::string error;
    ASSERT_TRUE(in.restore(position, error)) << error;
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.data.size() >= numbered(10, 20).size(); }));
    EXPECT_EQ(r.data, numbered(10, 20));
}

TEST_F(file_input_test, over_long_lines_are_skipped_and_reported) {
    const fs::path path = dir_ / "long.log";
    const std::string huge(20000, 'x');  // spans several reads
    write(path,
          "{\"a\":1}\n" + std::string(40, 'y') + "\n{\"a\":2}\n" + huge + "\n{\"a\":3}\n" + huge);
    recorder r;
    input& in = make(
        {{"path", path.string()}, {"max_line_length", 32}, {"read_buffer_size", "4KiB"}}, true);
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(r.data, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
    EXPECT_EQ(r.count("too_long"), 3u);
    EXPECT_EQ(r.problems.size(), 3u);
}

TEST_F(file_input_test, pause_stops_delivery_until_resume) {
    const fs::path path = dir_ / "p.log";
    write(path, numbered(0, 3000));
    recorder r;
    input& in = make({{"path", path.string()}, {"read_buffer_size", "4KiB"}}, true);
    r.after_data = [&] {
        if (r.batches == 1) in.pause();
    };
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.batches >= 1; }));
    run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(r.batches, 1u);
    EXPECT_EQ(r.ends, 0);
    in.resume();
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(r.data, numbered(0, 3000));
}

// One path is one stream: the one source "", known before start, named in every delivery.
// A glob is a source per file, announced before its first records (the recorder checks it),
// so a file read behind the others never makes their records late; in --once mode a file read
// to its end retires its source.
TEST_F(file_input_test, one_source_for_one_path_and_a_source_per_file_of_a_glob) {
    write(dir_ / "a.log", numbered(0, 3000, "a"));
    write(dir_ / "b.log", numbered(0, 2, "b"));
    recorder one;
    input& single = make({{"path", (dir_ / "a.log").string()}}, true);
    EXPECT_EQ(single.initial_sources(), std::vector<source_id>{""});
    single.start(one);
    ASSERT_TRUE(run_until([&] { return one.ends > 0; }));
    EXPECT_EQ(one.data, numbered(0, 3000, "a"));
    EXPECT_TRUE(one.said.empty());

    recorder r;
    input& in = make({{"path", (dir_ / "*.log").string()}, {"read_buffer_size", "4KiB"}}, true);
    EXPECT_TRUE(in.initial_sources().empty());
    in.start(r);
    ASSERT_TRUE(run_until([&] { return r.ends > 0; }));
    EXPECT_EQ(r.by_source[(dir_ / "a.log").string()], numbered(0, 3000, "a"));
    EXPECT_EQ(r.by_source[(dir_ / "b.log").string()], numbered(0, 2, "b"));
    // Both announced at once; b.log, short, ends first while a.log is still read in chunks.
    EXPECT_EQ(r.said, (std::vector<std::string>{"+a.log", "+b.log", "-b.log", "-a.log"}));
    EXPECT_TRUE(r.sources.empty());
}

TEST_F(file_input_test, following_a_glob_a_file_read_to_its_end_is_caught_up_until_it_grows) {
    write(dir_ / "a.log", numbered(0, 2000, "a"));
    write(dir_ / "b.log", numbered(0, 2, "b"));
    recorder r;
    input& in =
        make({{"path", (dir_ / "*.log").string()}, {"follow", true}, {"read_buffer_size", "4KiB"}});
    in.start(r);
    const auto said = [&](const std::string& what) {
        return std::find(r.said.begin(), r.said.end(), what) != r.said.end();
    };
    ASSERT_TRUE(run_until([&] { return said("caught up a.log") && said("caught up b.log"); }));
    EXPECT_EQ(r.by_source[(dir_ / "a.log").string()], numbered(0, 2000, "a"));
    write(dir_ / "b.log", numbered(2, 4, "b"));
    ASSERT_TRUE(run_until([&] {
        return r.by_source[(dir_ / "b.log").string()] == numbered(0, 4, "b") &&
               std::count(r.said.begin(), r.said.end(), "caught up b.log") == 2;
    }));
    // b.log was behind again before its new records, and caught up after them; a.log stayed.
    const auto at = [&](const std::string& what) {
        return std::find(r.said.begin(), r.said.end(), what) - r.said.begin();
    };
    EXPECT_LT(at("caught up b.log"), at("behind b.log"));
    EXPECT_EQ(std::count(r.said.begin(), r.said.end(), "caught up a.log"), 1);
    EXPECT_EQ(std::count(r.said.begin(), r.said.end(), "behind a.log"), 0);
    EXPECT_EQ(r.sources.size(), 2u);

    // A new file is a new source.
    write(dir_ / "c.log", numbered(0, 1, "c"));
    ASSERT_TRUE(run_until([&] { return said("caught up c.log"); }));
    EXPECT_TRUE(said("+c.log"));
    EXPECT_EQ(r.by_source[(dir_ / "c.log").string()], numbered(0, 1, "c"));
}

}  // namespace
}  // namespace weir::connectors
