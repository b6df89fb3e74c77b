// Checkpoint files written as the state is snapshot (checkpoint_stream): what is streamed in
// pieces loads as the sections joined, a failure or an abandoned stream leaves the old
// checkpoint and no temporary file behind.
#include "daemon/checkpoint_store.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/checkpoint/checkpoint_file.h"

namespace weir::daemon {
namespace {

namespace fs = std::filesystem;
using checkpoint::checkpoint_data;

class checkpoint_store_test : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("weir-ckpt-store-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        fs::permissions(dir_, fs::perms::owner_all);
    }
    void TearDown() override { fs::remove_all(dir_); }

    checkpoint_data load(const checkpoint_store& store) const {
        checkpoint_data out;
        std::string error;
        EXPECT_EQ(store.load("p", "q", out, error), checkpoint_store::load_status::loaded) << error;
        return out;
    }
    bool temp_left() const { return fs::exists(dir_ / "checkpoints" / "p" / "q.ckpt.tmp"); }
    // A checkpoint written whole, which what follows must leave in place.
    static checkpoint_data write_old(const checkpoint_store& store);

    fs::path dir_;
};

checkpoint_data head(std::int64_t written_at) {
    checkpoint_data d;
    d.plan_fingerprint = "plan-" + std::to_string(written_at);
    d.written_at = written_at;
    d.inputs = {{"events", "offset 42"}, {"other", std::string("\0\1\2", 3)}};
    return d;
}

checkpoint_data checkpoint_store_test::write_old(const checkpoint_store& store) {
    checkpoint_data old = head(1);
    old.sections = {{"engine/a", "old state"}};
    std::string error;
    EXPECT_TRUE(store.write("p", "q", old, error)) << error;
    return old;
}

void expect_same(const checkpoint_data& a, const checkpoint_data& b) {
    EXPECT_EQ(a.plan_fingerprint, b.plan_fingerprint);
    EXPECT_EQ(a.written_at, b.written_at);
    EXPECT_EQ(a.inputs, b.inputs);
    EXPECT_EQ(a.sections, b.sections);
}

TEST_F(checkpoint_store_test, sections_streamed_in_pieces_load_as_written_whole) {
    const checkpoint_store store(dir_.string());
    std::mt19937 rng(7);
    for (int round = 0; round < 30; ++round) {
        checkpoint_data want = head(round);
        checkpoint_stream out;
        ASSERT_TRUE(out.open(store, "p", "q", want)) << out.error();
        const int sections = static_cast<int>(rng() % 5);  // none, too
        for (int s = 0; s < sections; ++s) {
            const std::string name = "engine/node" + std::to_string(s);
            std::string whole;
            out.begin_section(name);
            const int pieces = static_cast<int>(rng() % 4);  // an empty section, too
            for (int p = 0; p < pieces; ++p) {
                // Pieces from empty to past the 1 MiB gathering, some across a 128-byte
                // varint boundary.
                const std::size_t size = rng() % 3 == 0 ? rng() % 200 : rng() % (3 << 19);
                std::string piece(size, '\0');
                for (char& c : piece) c = static_cast<char>(rng());
                whole += piece;
                out.append(piece);
            }
            out.end_section();
            want.sections.emplace_back(name, std::move(whole));
        }
        std::string error;
        ASSERT_TRUE(out.commit(error)) << error;
        EXPECT_FALSE(temp_left());
        const checkpoint_data got = load(store);
        expect_same(got, want);
        // Written whole (checkpoint_store::write), the same state loads the same.
        ASSERT_TRUE(store.write("p", "q", want, error)) << error;
        expect_same(load(store), want);
    }
}

TEST_F(checkpoint_store_test, an_abandoned_or_dropped_stream_leaves_the_old_checkpoint) {
    const checkpoint_store store(dir_.string());
    const checkpoint_data old = write_old(store);
    {
        checkpoint_stream out;
        ASSERT_TRUE(out.open(store, "p", "q", head(2)));
        out.begin_section("engine/a");
        out.append("new state, never committed");
        EXPECT_TRUE(temp_left());
        out.abandon();
        EXPECT_FALSE(temp_left());
    }
    {
        checkpoint_stream out;
        ASSERT_TRUE(out.open(store, "p", "q", head(3)));
        out.begin_section("engine/a");
        out.append("dropped midway, as by a stopping daemon");
    }
    EXPECT_FALSE(temp_left());
    expect_same(load(store), old);
}

// A write that fails midway (here the file size limit, as a full disk would): commit() says
// where, the temporary file goes, the old checkpoint stays.
TEST_F(checkpoint_store_test, a_failed_write_keeps_the_old_checkpoint_and_says_why) {
    const checkpoint_store store(dir_.string());
    const checkpoint_data old = write_old(store);
    std::string error;

    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
    const auto previous = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved;
    small.rlim_cur = 256 << 10;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    checkpoint_stream out;
    bool committed = true;
    if (out.open(store, "p", "q", head(2))) {
        out.begin_section("engine/a");
        const std::string piece(300 << 10, 'x');
        for (int i = 0; i < 8; ++i) out.append(piece);
        out.end_section();
        committed = out.commit(error);
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, previous);

    EXPECT_FALSE(committed);
    EXPECT_NE(error.find("cannot write"), std::string::npos) << error;
    EXPECT_NE(error.find("q.ckpt.tmp"), std::string::npos) << error;
    EXPECT_FALSE(temp_left());
    expect_same(load(store), old);
}

TEST_F(checkpoint_store_test, a_stream_that_cannot_open_its_directory_fails_at_commit) {
    fs::create_directories(dir_ / "checkpoints");
    std::error_code ec;
    fs::create_symlink(dir_, dir_ / "checkpoints" / "p", ec);
    ASSERT_FALSE(ec);
    const checkpoint_store store(dir_.string());
    checkpoint_stream out;
    EXPECT_FALSE(out.open(store, "p", "q", head(1)));
    out.begin_section("engine/a");
    out.append("state");
    out.end_section();
    std::string error;
    EXPECT_FALSE(out.commit(error));
    EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;
}

}  // namespace
}  // namespace weir::daemon
