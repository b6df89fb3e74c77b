// A managed query in process, with a memory input and a capturing output in place of real
// connectors: the input contract's promises the query keeps — committed(position) only once a
// checkpoint holding that position is durable on disk, a source announced later holds the
// watermark back, the end of every input finishes the query — and a restart resuming where
// the last checkpoint left off.
#include "daemon/query.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "config/load.h"
#include "connectors/register.h"

namespace weir::daemon {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

constexpr time::timestamp_ns k_now = 1'795'000'000'000'000'000;

// Lines handed over one delivery each, then the end (a bounded input). position() is the
// number of lines delivered; committed() records what it was told and whether the checkpoint
// file held that position then.
struct memory_input_state {
    std::vector<std::string> lines;
    std::vector<std::pair<std::string, std::string>> script;  // (source, line); "" ends
    std::size_t delivered = 0;
    std::vector<std::string> committed;
    std::vector<bool> committed_durable;
    std::vector<std::string> initial{""};
    const checkpoint_store* store = nullptr;
};

class memory_input final : public connectors::input {
  public:
    memory_input(memory_input_state& s, asio::any_io_executor ex) : s_(s), ex_(std::move(ex)) {}
    std::vector<connectors::source_id> initial_sources() const override { return s_.initial; }
    void start(connectors::input_events& events) override {
        events_ = &events;
        asio::post(ex_, [this] { next(); });
    }
    void pause() override {}
    void resume() override {}
    void stop() override { stopped_ = true; }
    std::string position() const override { return std::to_string(s_.delivered); }
    bool restore(std::string_view position, std::string& error) override {
        s_.delivered = std::stoul(std::string(position));
        if (s_.delivered > s_.script.size()) {
            error = "beyond the script";
            return false;
        }
        return true;
    }
    void committed(std::string_view position) override {
        s_.committed.emplace_back(position);
        checkpoint::checkpoint_data data;
        std::string error;
        bool durable =
            s_.store->load("p", "quality", data, error) == checkpoint_store::load_status::loaded;
        durable = durable && !data.inputs.empty() && data.inputs[0].second == position;
        s_.committed_durable.push_back(durable);
    }
    bool bounded() const override { return true; }

  private:
    void next() {
        if (stopped_) return;
        if (s_.delivered == s_.script.size()) {
            events_->on_end();
            return;
        }
        const auto& [source, line] = s_.script[s_.delivered];
        if (line == "!lost") {  // the input's client is gone for good
            ++s_.delivered;
            events_->on_client_lost("client gone");
            return;
        }
        if (line.empty()) {
            const std::vector<connectors::source_id> added{source};
            events_->on_sources_changed(added, {});
        } else {
            padded_buffer b;
            b.append(line);
            b.push_back('\n');
            events_->on_records(source, connectors::record_delivery{b.view(), {}, {}});
        }
        ++s_.delivered;
        asio::post(ex_, [this] { next(); });
    }

    memory_input_state& s_;
    asio::any_io_executor ex_;
    connectors::input_events* events_ = nullptr;
    bool stopped_ = false;
};

class capture_output final : public connectors::output {
  public:
    explicit capture_output(const memory_input_state& input) : input_(input) {}
    void write_result(const check_result& r) override {
        std::lock_guard lock(mutex_);
        results.push_back(r.check + "@" + time::format_rfc3339_ms(r.window_start) + "=" +
                          to_string(r.value));
        written_at_delivery.push_back(input_.delivered);
    }
    void write_record(std::string_view json) override {
        std::lock_guard lock(mutex_);
        records.emplace_back(json);
    }
    void flush(std::function<void(bool, const std::string&)> done) override { done(true, ""); }
    void stop(std::function<void()> done) override { done(); }
    connectors::output_stats stats() const override { return {}; }

    const memory_input_state& input_;
    std::mutex mutex_;
    std::vector<std::string> results;
    std::vector<std::size_t> written_at_delivery;  // deliveries made when each was written
    std::vector<std::string> records;
};

const char* const k_pipeline = R"(pipeline: p
inputs:
  in: {type: stdin}
nodes:
  quality:
    from: in
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
      - {name: level, measure: sum(v), must_be: "> 0"}
    outputs: [out]
outputs:
  out: {type: console}
)";

class query_test : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("weir-query-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        store_ = std::make_unique<checkpoint_store>(dir_.string());
        params::component_registry registry;
        connectors::register_builtin_connectors(registry);
        const auto r = config::load_text(k_pipeline, "p.yaml", registry,
                                         [](const std::string&) { return std::nullopt; });
        ASSERT_FALSE(r.diags.has_errors());
        plan_ = r.config.pipelines.at(0).plan;
        ASSERT_TRUE(plan_);
        state_.store = store_.get();
        factories_.inputs["stdin"] = [this](const params::reader&,
                                            const connectors::input_context& ctx) {
            return std::make_unique<memory_input>(state_, ctx.executor);
        };
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Runs the query with --once until it finishes or fails; returns the failure ("" if none).
    // `keep_checkpoints` false: as --once without --resume, no checkpoint store; results go to
    // `summary` too when given.
    std::string run(bool once = true, bool keep_checkpoints = true,
                    once_summary* summary = nullptr) {
        asio::io_context io;
        output_ = std::make_shared<capture_output>(state_);
        query_environment env;
        env.io = &io;
        env.checkpoints = keep_checkpoints ? store_.get() : nullptr;
        env.summary = summary;
        env.factories = &factories_;
        env.clock = [] { return k_now; };
        env.outputs["out"] = output_;
        env.once = once;
        env.checkpoint_interval = std::chrono::milliseconds(1);
        env.taps = taps_;
        std::string failure;
        query::listener events;
        events.failed = [&](const std::string& m, bool rebuild) {
            failure = m;
            rebuild_ = rebuild;
            io.stop();
        };
        events.finished = [&](const std::string& checkpoint_error) {
            finished_ = true;
            checkpoint_error_ = checkpoint_error;
            io.stop();
        };
        auto q = std::make_shared<query>(plan_, 0, std::move(env), std::move(events));
        q->start();
        io.run_for(std::chrono::seconds(30));
        return failure;
    }

    fs::path dir_;
    std::unique_ptr<checkpoint_store> store_;
    std::shared_ptr<const config::compiled_pipeline> plan_;
    connectors::connector_factories factories_;
    memory_input_state state_;
    std::shared_ptr<capture_output> output_;
    bool rebuild_ = false;  // the last failure asked for a rebuild
    bool finished_ = false;
    std::string checkpoint_error_;   // of the last finish
    std::shared_ptr<tap_hub> taps_;  // live taps; null: off
};

std::string record(int ts, int v) {
    return "{\"ts\":" + std::to_string(ts) + ",\"v\":" + std::to_string(v) + "}";
}

// An input whose client is lost for good (a fatal Kafka error) asks for a rebuild from the
// checkpoint, which the supervisor does even for a critical node; any other failure does not.
TEST_F(query_test, a_lost_client_asks_for_a_rebuild_not_a_failure) {
    for (int i = 0; i < 5; ++i) state_.script.emplace_back("", record(100 + i, 1));
    state_.script.emplace_back("", "!lost");
    EXPECT_EQ(run(false), "input \"in\": client gone");
    EXPECT_TRUE(rebuild_);
}

TEST_F(query_test, inputs_hear_of_a_position_only_once_a_checkpoint_holds_it_on_disk) {
    for (int i = 0; i < 40; ++i) state_.script.emplace_back("", record(100 + i, 1));
    ASSERT_EQ(run(), "");
    ASSERT_FALSE(state_.committed.empty());
    for (std::size_t i = 0; i < state_.committed.size(); ++i) {
        EXPECT_TRUE(state_.committed_durable[i]) << "committed " << state_.committed[i];
    }
    EXPECT_EQ(state_.committed.back(), "40") << "the final checkpoint covers everything";
    EXPECT_EQ(output_->results.size(), 2u * 4u) << "windows [100,110) … [130,140)";
}

TEST_F(query_test, a_source_announced_later_holds_the_watermark_back) {
    // Input "in" starts with no source (as a Kafka input before its partitions are assigned);
    // "a" and then "b" are announced.
    state_.initial.clear();
    state_.script = {{"a", ""},
                     {"a", record(100, 1)},
                     {"b", ""},
                     {"a", record(125, 1)},
                     {"a", record(131, 1)},
                     {"b", record(132, 1)}};
    ASSERT_EQ(run(), "");
    ASSERT_GE(output_->results.size(), 2u);
    EXPECT_EQ(output_->results[0], "volume@1970-01-01T00:01:40.000Z=1");
    // [100,110) closed when b's first record arrived (delivery 5), not when a reached 125 (3):
    // b held the watermark back from the moment it was announced.
    EXPECT_EQ(output_->written_at_delivery.at(0), 5u);
}

TEST_F(query_test, a_restart_resumes_from_the_last_checkpoint) {
    for (int i = 0; i < 30; ++i) state_.script.emplace_back("", record(100 + i, 2));
    ASSERT_EQ(run(), "");
    const auto first = output_->results;
    // The same query again: the checkpoint says everything was read and every window closed.
    state_.delivered = 0;
    ASSERT_EQ(run(), "");
    EXPECT_TRUE(output_->results.empty()) << "nothing emitted twice";
    EXPECT_EQ(first.size(), 6u);
}

// --once over a data dir where no checkpoint can be written: the query still closes every
// window and writes its results, then finishes and says why its checkpoint is missing.
TEST_F(query_test, a_final_checkpoint_that_cannot_be_written_still_finishes_the_query) {
    // A non-empty directory where the temporary file must be created.
    fs::create_directories(dir_ / "checkpoints" / "p" / "quality.ckpt.tmp");
    std::ofstream(dir_ / "checkpoints" / "p" / "quality.ckpt.tmp" / "x") << "x";
    for (int i = 0; i < 30; ++i) state_.script.emplace_back("", record(100 + i, 2));
    ASSERT_EQ(run(), "");
    EXPECT_TRUE(finished_);
    EXPECT_NE(checkpoint_error_.find("cannot remove"), std::string::npos) << checkpoint_error_;
    EXPECT_EQ(output_->results.size(), 6u) << "every window's results";
}

// --once without a checkpoint store: nothing is read or written, inputs hear of no position
// (a Kafka input commits nothing), and a second run gives the same results again.
TEST_F(query_test, without_a_checkpoint_store_every_run_starts_afresh) {
    for (int i = 0; i < 30; ++i) state_.script.emplace_back("", record(100 + i, 2));
    once_summary summary;
    ASSERT_EQ(run(true, false, &summary), "");
    EXPECT_TRUE(finished_);
    EXPECT_EQ(checkpoint_error_, "");
    const auto first = output_->results;
    EXPECT_EQ(first.size(), 6u);
    EXPECT_TRUE(state_.committed.empty());
    EXPECT_FALSE(fs::exists(dir_)) << "no checkpoint written";
    EXPECT_EQ(summary.windows(), 3u);
    EXPECT_EQ(summary.count(outcome::pass) + summary.count(outcome::warn) +
                  summary.count(outcome::fail) + summary.count(outcome::no_data),
              6u);

    state_.delivered = 0;
    finished_ = false;
    ASSERT_EQ(run(true, false), "");
    EXPECT_TRUE(finished_);
    EXPECT_EQ(output_->results, first);
    EXPECT_FALSE(fs::exists(dir_));
}

// A checkpoint of another plan (the window changed while weir was stopped): the input resumes
// where it was, the old windows are dropped, and a checkpoint of the new plan is written.
TEST_F(query_test, a_checkpoint_of_another_plan_keeps_the_input_position) {
    for (int i = 0; i < 30; ++i) state_.script.emplace_back("", record(100 + i, 2));
    ASSERT_EQ(run(), "");
    params::component_registry registry;
    connectors::register_builtin_connectors(registry);
    std::string changed = k_pipeline;
    changed.replace(changed.find("size: 10s"), 9, "size: 20s");
    const auto r = config::load_text(changed, "p.yaml", registry,
                                     [](const std::string&) { return std::nullopt; });
    ASSERT_FALSE(r.diags.has_errors());
    plan_ = r.config.pipelines.at(0).plan;
    for (int i = 30; i < 40; ++i) state_.script.emplace_back("", record(100 + i, 2));
    state_.delivered = 0;
    ASSERT_EQ(run(), "");
    // Only the 10 new records, [120,140) in the new plan's windows: 10 records, sum 20.
    EXPECT_EQ(output_->results, (std::vector<std::string>{"volume@1970-01-01T00:02:00.000Z=10",
                                                          "level@1970-01-01T00:02:00.000Z=20"}));
    checkpoint::checkpoint_data data;
    std::string error;
    ASSERT_EQ(store_->load("p", "quality", data, error), checkpoint_store::load_status::loaded);
    EXPECT_EQ(data.plan_fingerprint, plan_->queries.at(0).fingerprint);
}

}  // namespace
}  // namespace weir::daemon

namespace weir::daemon {
namespace {

// A tap attached to the node sees its records as the node sees them and its results as the
// outputs get them, within the tap's rate; the outputs get everything regardless.
TEST_F(query_test, a_tap_sees_a_bounded_sample_of_records_and_results) {
    for (int i = 0; i < 30; ++i) state_.script.emplace_back("", record(100 + i, 2));
    taps_ = std::make_shared<tap_hub>();
    // A rate no clock refills within the test: one item passes, the rest are dropped.
    auto records = taps_->open("p", "quality", tap_kind::records, tap_limits{.rate = 0.001});
    auto results = taps_->open("p", "quality", tap_kind::results, tap_limits{.rate = 0.001});
    auto other = taps_->open("p", "elsewhere", tap_kind::records, tap_limits{});
    ASSERT_EQ(run(true, false), "");
    EXPECT_EQ(output_->results.size(), 6u);
    const std::string seen = records->session().take();
    EXPECT_NE(seen.find("event: record\ndata: {\"ts\":100,\"v\":2}\n\n"), std::string::npos)
        << seen;
    EXPECT_NE(seen.find("event: dropped\ndata: {\"dropped\":29,"), std::string::npos) << seen;
    // Results come a window at a time: the rest of a window's are counted without being seen.
    const std::string checked = results->session().take();
    EXPECT_NE(checked.find("event: result\ndata: {\"id\":"), std::string::npos) << checked;
    EXPECT_NE(checked.find("\"check\":\"volume\""), std::string::npos) << checked;
    EXPECT_NE(checked.find("event: dropped\ndata: {\"dropped\":5,"), std::string::npos) << checked;
    EXPECT_EQ(other->session().take(), "");
}

}  // namespace
}  // namespace weir::daemon
