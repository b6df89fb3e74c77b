// The input facade: every call reaches the impl, the optional members fall back to the
// defaults of `input`, and destroying the input stops the impl it shared with its handlers.
#include "connectors/common/input_facade.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace weir::connectors {
namespace {

struct calls {
    std::vector<std::string> log;
};

// The members every impl has.
class minimal_impl {
  public:
    explicit minimal_impl(calls& c) : calls_(c) {}
    void start(input_events&) { calls_.log.push_back("start"); }
    void pause() { calls_.log.push_back("pause"); }
    void resume() { calls_.log.push_back("resume"); }
    void stop() { calls_.log.push_back("stop"); }
    std::string position() const { return "pos"; }
    bool restore(std::string_view position, std::string& error) {
        calls_.log.push_back("restore " + std::string(position));
        error = "no";
        return false;
    }
    bool bounded() const { return true; }

  private:
    calls& calls_;
};

// With the optional members too.
class full_impl : public minimal_impl {
  public:
    using minimal_impl::minimal_impl;
    std::vector<source_id> initial_sources() const { return {"t/0", "t/1"}; }
    void committed(std::string_view position) { last_committed = std::string(position); }
    std::string last_committed;
};

struct no_events : input_events {
    void on_records(std::string_view, const record_delivery&) override {}
    void on_sources_changed(std::span<const source_id>, std::span<const source_id>) override {}
    void on_end() override {}
    void on_problem(std::string_view, const std::string&) override {}
    void on_failure(const std::string&) override {}
};

TEST(input_facade, forwards_every_call_and_stops_when_destroyed) {
    calls c;
    no_events events;
    {
        std::unique_ptr<input> in = make_facade<minimal_impl>(c);
        EXPECT_EQ(in->initial_sources(), std::vector<source_id>{""});  // the default
        in->committed("pos");                                          // the default: nothing
        in->start(events);
        in->pause();
        in->resume();
        EXPECT_EQ(in->position(), "pos");
        std::string error;
        EXPECT_FALSE(in->restore("x", error));
        EXPECT_EQ(error, "no");
        EXPECT_TRUE(in->bounded());
        in->stop();
    }
    EXPECT_EQ(c.log,
              (std::vector<std::string>{"start", "pause", "resume", "restore x", "stop", "stop"}));
}

// A facade that shows its impl, to look at what the optional members received.
class full_input final : public input_facade<full_impl> {
  public:
    using input_facade::input_facade;
    const full_impl& shown() const { return impl(); }
};

TEST(input_facade, optional_members_reach_the_impl_when_it_has_them) {
    calls c;
    full_input in(c);
    EXPECT_EQ(in.initial_sources(), (std::vector<source_id>{"t/0", "t/1"}));
    in.committed("p1");
    EXPECT_EQ(in.shown().last_committed, "p1");
}

}  // namespace
}  // namespace weir::connectors
