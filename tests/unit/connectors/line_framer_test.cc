// The shared line framer against an exact reference — the whole stream split at its newlines,
// over-long lines removed and counted — on random streams fed in random chunks, with random
// limits, pauses in random callbacks and ends with or without a final newline; and the rules
// the inputs rely on, one by one.
#include "connectors/common/line_framer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace weir::connectors {
namespace {

using kind = line_framer::piece::kind;

struct expected_stream {
    std::string delivered;                // the lines within the limit, each with '\n'
    std::vector<std::uint64_t> too_long;  // where each over-long line starts
};

// The reference: a trivially correct split of the whole stream.
expected_stream reference(const std::string& stream, std::size_t max_line) {
    expected_stream out;
    std::size_t start = 0;
    while (start < stream.size()) {
        const std::size_t nl = stream.find('\n', start);
        const std::size_t end = nl == std::string::npos ? stream.size() : nl;
        if (end - start > max_line) {
            out.too_long.push_back(start);
        } else {
            out.delivered.append(stream, start, end - start);
            out.delivered.push_back('\n');
        }
        start = end + 1;
    }
    return out;
}

// Offset just after the last newline before `end` (where a partial line starts).
std::uint64_t line_start_before(const std::string& stream, std::uint64_t end) {
    const std::size_t nl = end == 0 ? std::string::npos : stream.rfind('\n', end - 1);
    return nl == std::string::npos ? 0 : nl + 1;
}

std::string random_stream(std::mt19937_64& rng, std::size_t max_line) {
    std::string s;
    const std::size_t lines = rng() % 40;
    for (std::size_t i = 0; i < lines; ++i) {
        std::size_t len = 0;
        switch (rng() % 5) {
            case 0:  // blank
                len = 0;
                break;
            case 1:  // around the limit
                len = max_line + rng() % 3 - std::min<std::size_t>(max_line, 1);
                break;
            case 2:  // within
                len = max_line > 0 ? max_line - rng() % max_line : 0;
                break;
            case 3:  // over, often across reads
                len = max_line + 1 + rng() % (3 * max_line + 8);
                break;
            default:
                len = rng() % (max_line + 1);
                break;
        }
        for (std::size_t k = 0; k < len; ++k) s.push_back(static_cast<char>('a' + rng() % 26));
        s.push_back('\n');
    }
    if (rng() % 2 == 0) {  // a final line without newline
        const std::size_t len = rng() % (2 * max_line + 3);
        for (std::size_t k = 0; k < len; ++k) s.push_back(static_cast<char>('A' + rng() % 26));
    }
    return s;
}

// Feeds `stream` in random chunks, pausing in random callbacks, and checks every piece and
// the framer's accounting as it goes; returns what was handed over.
// With keep_percent, that share of the pieces is kept (as a reader on another thread
// would) and checked unchanged, padding included, when released at random or at the end.
expected_stream run_random(const std::string& stream, std::size_t max_line, std::mt19937_64& rng,
                           int pause_percent, int keep_percent = 0) {
    expected_stream got;
    struct kept_piece {
        std::shared_ptr<const void> handle;
        std::string_view bytes;  // with the padding
        std::string copy;
    };
    std::vector<kept_piece> kept;
    auto check_kept = [&](const kept_piece& k) {
        ASSERT_TRUE(k.handle);
        EXPECT_EQ(k.bytes, k.copy) << "a kept piece changed";
    };
    line_framer framer(max_line);
    std::uint64_t fed = 0;
    bool ended = false;
    bool last_was_lines = false;  // in the current drain() call
    // Bytes came while pieces were left: a run may then come in two pieces.
    bool split_allowed = false;

    auto on_lines = [&](std::string_view lines) {
        EXPECT_FALSE(lines.empty());
        EXPECT_EQ(lines.back(), '\n');
        // The padding after the bytes is readable (ASan checks the last byte's allocation).
        volatile char last_padding = lines.data()[lines.size() + k_record_padding - 1];
        (void)last_padding;
        // The piece counts as handed over: offset() is just after it (the newline added to a
        // final line is not part of the stream).
        const bool final_line =
            ended && !stream.empty() && framer.offset() == stream.size() && stream.back() != '\n';
        const std::size_t in_stream = lines.size() - (final_line ? 1 : 0);
        EXPECT_GE(framer.offset(), in_stream);
        const std::uint64_t begin = framer.offset() - in_stream;
        EXPECT_TRUE(begin == 0 || stream[begin - 1] == '\n') << "not at a line start";
        EXPECT_EQ(stream.substr(begin, in_stream), lines.substr(0, in_stream));
        // Runs are whole: two runs in one drain only when the second is the final line.
        EXPECT_TRUE(!last_was_lines || final_line || split_allowed) << "a run was split";
        last_was_lines = true;
        std::size_t line = 0;
        while (line < lines.size()) {
            const std::size_t nl = lines.find('\n', line);
            EXPECT_LE(nl - line, max_line);
            line = nl + 1;
        }
        got.delivered.append(lines);
        if (keep_percent > 0) {
            if (rng() % 100 < static_cast<std::uint64_t>(keep_percent)) {
                const std::string_view padded(lines.data(), lines.size() + k_record_padding);
                kept.push_back({framer.keeper()->keep(), padded, std::string(padded)});
            }
            if (!kept.empty() && rng() % 3 == 0) {  // a reader done with one
                const std::size_t i = rng() % kept.size();
                check_kept(kept[i]);
                kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(i));
            }
        }
        return rng() % 100 >= static_cast<std::uint64_t>(pause_percent);
    };
    auto on_too_long = [&](std::uint64_t at) {
        last_was_lines = false;
        got.too_long.push_back(at);
        // A line cut short by the data so far is skipped from its start: offset() stays
        // there until its end is seen.
        const std::size_t nl = stream.find('\n', at);
        if (nl != std::string::npos && nl < framer.end_offset()) {
            EXPECT_EQ(framer.offset(), nl + 1);
        } else if (!ended) {
            EXPECT_EQ(framer.offset(), at);
            EXPECT_TRUE(framer.skipping());
        }
        return rng() % 100 >= static_cast<std::uint64_t>(pause_percent);
    };
    auto drain = [&] {
        last_was_lines = false;
        const bool all = framer.drain(on_lines, on_too_long);
        if (all) split_allowed = false;
        return all;
    };
    // Drained: everything ready was handed over, and offset() is where the partial line (or
    // the line being skipped) starts.
    auto check_drained = [&] {
        EXPECT_FALSE(framer.pending());
        EXPECT_EQ(framer.end_offset(), fed);
        if (ended) {
            EXPECT_EQ(framer.offset(), stream.size());
            EXPECT_EQ(framer.held(), 0u);
            EXPECT_FALSE(framer.skipping());
            return;
        }
        EXPECT_EQ(framer.offset(), line_start_before(stream, fed));
        EXPECT_EQ(framer.held(), framer.skipping() ? 0 : fed - framer.offset());
        EXPECT_LE(framer.held(), max_line);
    };

    while (fed < stream.size()) {
        const std::size_t want = 1 + rng() % (2 * max_line + 16);
        const std::size_t n = std::min<std::size_t>(1 + rng() % want, stream.size() - fed);
        split_allowed |= framer.pending();
        if (rng() % 4 == 0) {
            framer.append(std::string_view(stream).substr(fed, n));
        } else {
            char* into = framer.prepare(want);
            std::memcpy(into, stream.data() + fed, n);
            framer.commit(n);  // a short read
        }
        fed += n;
        // Paused: resumed at once, or (as a read already in flight would) more bytes come
        // first.
        while (!drain()) {
            if (fed < stream.size() && rng() % 3 == 0) break;
        }
        if (!framer.pending()) check_drained();
    }
    split_allowed |= framer.pending();
    framer.end_stream();
    ended = true;
    while (!drain()) {
    }
    check_drained();
    for (const kept_piece& k : kept) check_kept(k);
    return got;
}

// 3000 random streams against the reference; with `keeping`, a random share of each
// stream's pieces is kept.
void random_rounds(std::uint64_t seed, bool keeping) {
    std::mt19937_64 rng(seed);
    for (int round = 0; round < 3000; ++round) {
        const std::size_t max_line = round % 10 == 0 ? rng() % 3 : rng() % 40;
        const std::string stream = random_stream(rng, max_line);
        const int pause_percent = round % 3 == 0 ? 0 : static_cast<int>(rng() % 60);
        const int keep_percent = keeping ? 10 + static_cast<int>(rng() % 90) : 0;
        SCOPED_TRACE("round " + std::to_string(round) + ", max_line " + std::to_string(max_line) +
                     ", pauses " + std::to_string(pause_percent) + "%, keeps " +
                     std::to_string(keep_percent) + "%, stream \"" + stream + "\"");
        const expected_stream want = reference(stream, max_line);
        const expected_stream got = run_random(stream, max_line, rng, pause_percent, keep_percent);
        ASSERT_EQ(got.delivered, want.delivered);
        ASSERT_EQ(got.too_long, want.too_long);
    }
}

TEST(line_framer, random_streams_match_the_reference) {
    random_rounds(20261203, false);
}

TEST(line_framer, kept_pieces_stay_unchanged_while_the_framer_goes_on) {
    random_rounds(20261205, true);
}

// Collects the pieces of one drain(), pausing after `pause_after` of them.
struct collector {
    std::vector<std::string> pieces;  // "L:<lines>" or "T:<offset>"
    std::size_t pause_after = static_cast<std::size_t>(-1);

    bool drain(line_framer& f) {
        return f.drain(
            [&](std::string_view lines) {
                pieces.push_back("L:" + std::string(lines));
                return pieces.size() < pause_after;
            },
            [&](std::uint64_t at) {
                pieces.push_back("T:" + std::to_string(at));
                return pieces.size() < pause_after;
            });
    }
};

TEST(line_framer, complete_lines_in_one_run_partial_line_held) {
    line_framer f(8);
    collector c;
    f.append("a\n\nbb\ncc");
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces, (std::vector<std::string>{"L:a\n\nbb\n"}));
    EXPECT_EQ(f.offset(), 6u);
    EXPECT_EQ(f.held(), 2u);
    f.append("c\n");
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces.back(), "L:ccc\n");
    EXPECT_EQ(f.offset(), 10u);
    EXPECT_EQ(f.held(), 0u);
}

TEST(line_framer, the_limit_counts_bytes_without_the_newline) {
    line_framer f(4);
    collector c;
    f.append("1234\n12345\n1234\n");
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces, (std::vector<std::string>{"L:1234\n", "T:5", "L:1234\n"}));
}

TEST(line_framer, pause_keeps_the_rest_for_the_next_drain) {
    line_framer f(4);
    collector c;
    c.pause_after = 1;
    f.append("a\nb\n123456\nc\nd");
    EXPECT_FALSE(c.drain(f));  // paused in the first run's callback
    EXPECT_EQ(c.pieces, (std::vector<std::string>{"L:a\nb\n"}));
    EXPECT_TRUE(f.pending());
    EXPECT_EQ(f.offset(), 4u);  // the over-long line is not handed over yet
    c.pause_after = 2;
    EXPECT_FALSE(c.drain(f));  // paused in the report
    EXPECT_EQ(c.pieces.back(), "T:4");
    EXPECT_EQ(f.offset(), 11u);
    c.pause_after = 100;
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces.back(), "L:c\n");
    EXPECT_FALSE(f.pending());
    EXPECT_EQ(f.held(), 1u);
}

TEST(line_framer, over_long_partial_line_is_skipped_across_reads_from_its_start) {
    line_framer f(4, /*stream_offset=*/100);
    collector c;
    f.append("ok\n1234");
    EXPECT_TRUE(c.drain(f));
    f.append("5");
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces, (std::vector<std::string>{"L:ok\n", "T:103"}));
    EXPECT_TRUE(f.skipping());
    EXPECT_EQ(f.held(), 0u);
    f.append("6789");
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(f.offset(), 103u);  // a restart reads the skipped line again, from its start
    EXPECT_EQ(f.end_offset(), 112u);
    f.append("0\nnext\n");
    EXPECT_TRUE(c.drain(f));
    EXPECT_FALSE(f.skipping());
    EXPECT_EQ(c.pieces.back(), "L:next\n");
    EXPECT_EQ(c.pieces.size(), 3u);  // reported once
    EXPECT_EQ(f.offset(), 119u);
}

TEST(line_framer, end_of_stream_final_line_gets_a_newline) {
    line_framer f(8);
    collector c;
    f.append("a\nlast");
    f.end_stream();
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces, (std::vector<std::string>{"L:a\n", "L:last\n"}));
    EXPECT_EQ(f.offset(), 6u);
    EXPECT_EQ(f.end_offset(), 6u);
    EXPECT_EQ(f.held(), 0u);
    EXPECT_FALSE(f.pending());
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces.size(), 2u);

    line_framer g(8);
    collector d;
    g.append("a\n");
    g.end_stream();
    EXPECT_TRUE(d.drain(g));
    EXPECT_EQ(d.pieces, (std::vector<std::string>{"L:a\n"}));
}

TEST(line_framer, end_of_stream_inside_a_skipped_line_ends_it_silently) {
    line_framer f(2);
    collector c;
    f.append("abcdef");
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces, (std::vector<std::string>{"T:0"}));
    f.append("gh");
    f.end_stream();
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces.size(), 1u);
    EXPECT_FALSE(f.skipping());
    EXPECT_EQ(f.offset(), 8u);
}

TEST(line_framer, reset_forgets_everything) {
    line_framer f(8);
    collector c;
    f.append("partial");
    f.end_stream();
    f.reset(0);
    EXPECT_EQ(f.held(), 0u);
    EXPECT_FALSE(f.pending());
    EXPECT_TRUE(c.drain(f));
    EXPECT_TRUE(c.pieces.empty());
    f.append("x\n");
    EXPECT_TRUE(c.drain(f));
    EXPECT_EQ(c.pieces, (std::vector<std::string>{"L:x\n"}));
}

TEST(line_framer, every_read_of_whole_lines_is_one_run) {
    line_framer f(64);
    collector c;
    std::string line(60, 'x');
    line.push_back('\n');
    for (int i = 0; i < 1000; ++i) {
        char* into = f.prepare(1024);
        for (int k = 0; k < 16; ++k) std::memcpy(into + k * line.size(), line.data(), line.size());
        f.commit(16 * line.size());
        EXPECT_TRUE(c.drain(f));
        EXPECT_EQ(f.held(), 0u);
    }
    EXPECT_EQ(c.pieces.size(), 1000u);
}

}  // namespace
}  // namespace weir::connectors
