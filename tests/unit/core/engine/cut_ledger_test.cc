// The cuts of a partition read by a lane of one of several daemons (core/engine/partials.h):
// what each cut commits, what a new owner makes of a commit, and notes that are not ours.
#include <gtest/gtest.h>

#include "core/engine/partials.h"

namespace weir::test {
namespace {

using engine::cut_ledger;

TEST(cut_ledger, each_cut_confirms_the_one_before_and_registers_itself) {
    cut_ledger l(-1, "");
    EXPECT_EQ(l.start(), -1) << "never committed: it starts at the first record it reads";
    EXPECT_FALSE(l.cut(10).has_value()) << "nothing read yet";
    l.began(4);
    EXPECT_EQ(l.last_cut(), 4);

    auto c = l.cut(100);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->offset, 4);
    EXPECT_EQ(c->note, cut_ledger::note(100));
    EXPECT_TRUE(l.holding());
    EXPECT_FALSE(l.cut(150).has_value()) << "one registration at a time";

    // The commit failed: the same one again, still holding.
    l.registered(false);
    EXPECT_TRUE(l.holding());
    ASSERT_TRUE(l.outstanding().has_value());
    EXPECT_EQ(l.outstanding()->offset, 4);
    EXPECT_EQ(l.outstanding()->note, cut_ledger::note(100));
    l.registered(true);
    EXPECT_FALSE(l.holding());
    EXPECT_FALSE(l.outstanding().has_value());

    c = l.cut(250);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->offset, 100);
    EXPECT_EQ(c->note, cut_ledger::note(250));
    l.registered(true);
    EXPECT_EQ(l.last_cut(), 250);
    EXPECT_FALSE(l.cut(200).has_value()) << "never behind the last cut";
}

TEST(cut_ledger, a_new_owner_starts_at_the_commit_and_replays_the_pending_cut) {
    cut_ledger l(100, cut_ledger::note(250));
    EXPECT_EQ(l.start(), 100);
    ASSERT_TRUE(l.replay_cut().has_value());
    EXPECT_EQ(*l.replay_cut(), 250);
    l.began(300);  // ignored: it started at the commit
    EXPECT_EQ(l.last_cut(), 100);
    EXPECT_FALSE(l.cut(200).has_value()) << "the cut to replay comes first";
    l.replayed();
    EXPECT_FALSE(l.replay_cut().has_value());
    const auto c = l.cut(400);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->offset, 250) << "the replayed cut is confirmed by the next";
    EXPECT_EQ(c->note, cut_ledger::note(400));
}

TEST(cut_ledger, a_new_owner_cuts_nothing_before_the_end_it_was_given_the_partition_at) {
    cut_ledger l(100, "", 500);
    l.began(100);
    EXPECT_FALSE(l.cut(499).has_value());
    const auto c = l.cut(500);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->offset, 100);
}

TEST(cut_ledger, a_note_that_is_not_a_pending_cut_is_none) {
    for (const char* note :
         {"", "some other tool's metadata", "weir/1 cut at ", "weir/1 cut at -5",
          "weir/1 cut at 12x", "weir/2 cut at 12", "weir/1 cut at 99999999999999999999"}) {
        EXPECT_FALSE(cut_ledger::pending_in(note).has_value()) << note;
        const cut_ledger l(7, note);
        EXPECT_EQ(l.start(), 7);
        EXPECT_FALSE(l.replay_cut().has_value()) << note;
    }
    // A pending cut at or before the commit is spent.
    EXPECT_FALSE(cut_ledger(7, cut_ledger::note(7)).replay_cut().has_value());
    EXPECT_EQ(cut_ledger::pending_in(cut_ledger::note(0)), 0);
    EXPECT_EQ(engine::epoch_at(0), 1u);
}

}  // namespace
}  // namespace weir::test
