// Checkpoint file bytes: round trip, and every kind of damage rejected with a reason.
#include "core/checkpoint/checkpoint_file.h"

#include <gtest/gtest.h>

#include <random>

#include "core/checkpoint/byte_codec.h"

namespace weir::checkpoint {
namespace {

checkpoint_data sample() {
    checkpoint_data d;
    d.plan_fingerprint = "3f2a9c";
    d.written_at = 1'795'168'800'000'000'000;
    d.inputs = {{"readings", std::string("\x01\x02\x00\xff", 4)}, {"devices", ""}};
    d.sections = {{"decoder/readings", "ts,v"}, {"engine/quality", std::string(1000, 'x')}};
    return d;
}

// The file format spelled out with the byte codec: what encode() must write.
std::string reference_file(const checkpoint_data& d) {
    byte_writer payload;
    payload.str(d.plan_fingerprint);
    payload.i64(d.written_at);
    for (const auto* pairs : {&d.inputs, &d.sections}) {
        payload.varint(pairs->size());
        for (const auto& [name, bytes] : *pairs) {
            payload.str(name);
            payload.str(bytes);
        }
    }
    byte_writer file;
    file.raw("WEIRCKPT", 8);
    file.u32(k_format_version);
    file.u64(payload.size());
    file.raw(payload.data().data(), payload.size());
    file.u32(crc32c(payload.data()));
    return file.take();
}

TEST(checkpoint_file, round_trip) {
    EXPECT_EQ(encode(sample()), reference_file(sample()));
    std::string error;
    const auto d = decode(encode(sample()), error);
    ASSERT_TRUE(d) << error;
    EXPECT_EQ(d->version, k_format_version);
    EXPECT_EQ(d->plan_fingerprint, "3f2a9c");
    EXPECT_EQ(d->written_at, sample().written_at);
    EXPECT_EQ(d->inputs, sample().inputs);
    EXPECT_EQ(d->sections, sample().sections);
}

// decode_view() reads the same checkpoint, its sections' bytes left where they are in the file.
TEST(checkpoint_file, a_view_holds_the_sections_where_they_lie_in_the_file) {
    const std::string file = encode(sample());
    std::string error;
    const auto v = decode_view(file, error);
    ASSERT_TRUE(v) << error;
    EXPECT_EQ(v->plan_fingerprint, sample().plan_fingerprint);
    EXPECT_EQ(v->inputs, sample().inputs);
    ASSERT_EQ(v->sections.size(), sample().sections.size());
    for (std::size_t i = 0; i < v->sections.size(); ++i) {
        EXPECT_EQ(v->sections[i].first, sample().sections[i].first);
        EXPECT_EQ(v->sections[i].second, sample().sections[i].second);
        EXPECT_GE(v->sections[i].second.data(), file.data());
        EXPECT_LE(v->sections[i].second.data() + v->sections[i].second.size(),
                  file.data() + file.size());
    }
}

// A file of format 1 (weir before the node chain): engine snapshots by node name, CSV headers
// as fake inputs. It decodes into the sections the chain restores from.
TEST(checkpoint_file, format_1_reads_into_sections) {
    byte_writer payload;
    payload.str("legacy");
    payload.i64(42);
    payload.varint(2);
    payload.str("readings");
    payload.str("pos");
    payload.str("csv_header:readings");
    payload.str("\"ts\",\"v\"");
    payload.varint(1);
    payload.str("quality");
    payload.str("state");
    byte_writer file;
    file.raw("WEIRCKPT", 8);
    file.u32(1);
    file.u64(payload.size());
    file.raw(payload.data().data(), payload.size());
    file.u32(crc32c(payload.data()));

    std::string error;
    const auto d = decode(file.take(), error);
    ASSERT_TRUE(d) << error;
    EXPECT_EQ(d->version, 1u);
    EXPECT_EQ(d->plan_fingerprint, "legacy");
    EXPECT_EQ(d->written_at, 42);
    using pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(d->inputs, (pairs{{"readings", "pos"}}));
    EXPECT_EQ(d->sections,
              (pairs{{"engine/quality", "state"}, {"decoder/readings", "\"ts\",\"v\""}}));
}

TEST(checkpoint_file, damage_is_rejected_with_a_reason) {
    const std::string good = encode(sample());
    std::string error;
    EXPECT_FALSE(decode("hello world, not a checkpoint", error));
    EXPECT_NE(error.find("not a weir checkpoint"), std::string::npos);

    for (std::size_t n = 0; n < good.size(); n += 7) {
        EXPECT_FALSE(decode(good.substr(0, n), error)) << n;
    }
    EXPECT_NE(error.find("truncated"), std::string::npos);

    std::mt19937 rng(5);
    for (int i = 0; i < 500; ++i) {
        std::string bad = good;
        const std::size_t at = 20 + rng() % (bad.size() - 20);  // past the header
        bad[at] = static_cast<char>(bad[at] ^ (1 + rng() % 255));
        EXPECT_FALSE(decode(bad, error)) << at;
    }

    std::string newer = good;
    newer[8] = 9;  // version 9
    EXPECT_FALSE(decode(newer, error));
    EXPECT_NE(error.find("version 9"), std::string::npos);
}

// A fixed-width varint is an overlong LEB128 varint: it reads as its value.
TEST(checkpoint_file, fixed_varints_read_as_their_values) {
    for (const std::uint64_t v :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{127}, std::uint64_t{128},
          std::uint64_t{300}, std::uint64_t{1} << 32, (std::uint64_t{1} << 35) - 1}) {
        const std::string bytes = stream::fixed_varint(v);
        ASSERT_EQ(bytes.size(), stream::k_fixed_varint);
        byte_reader r(bytes);
        EXPECT_EQ(r.varint(), v);
        EXPECT_TRUE(r.ok() && r.at_end()) << v;
    }
}

// A file written as its sections come (the framing of checkpoint::stream, its placeholders
// patched afterwards, the CRC taken over the patched payload) decodes as the sections whole.
TEST(checkpoint_file, a_streamed_file_decodes_as_its_sections_whole) {
    std::mt19937 rng(11);
    for (int round = 0; round < 50; ++round) {
        checkpoint_data whole = sample();
        whole.sections.clear();
        std::string file = stream::head(whole);
        const std::size_t count_at = file.size() - stream::k_fixed_varint;
        const int sections = static_cast<int>(rng() % 4);  // none, too
        for (int s = 0; s < sections; ++s) {
            const std::string name = "engine/n" + std::to_string(s);
            file += stream::section_head(name);
            const std::size_t length_at = file.size() - stream::k_fixed_varint;
            std::string joined;
            const int n = static_cast<int>(rng() % 5);  // none, or pieces some of them empty
            for (int k = 0; k < n; ++k) {
                std::string piece(rng() % 300, '\0');
                for (char& c : piece) c = static_cast<char>(rng());
                joined += piece;
                file += piece;
            }
            file.replace(length_at, stream::k_fixed_varint, stream::fixed_varint(joined.size()));
            whole.sections.emplace_back(name, joined);
        }
        file.replace(count_at, stream::k_fixed_varint, stream::fixed_varint(whole.sections.size()));
        const std::size_t payload = file.size() - stream::k_payload_at;
        file.replace(stream::k_length_at, 8, stream::length_field(payload));
        file += stream::crc_trailer(crc32c(std::string_view(file).substr(stream::k_payload_at)));

        std::string error;
        const auto back = decode(file, error);
        ASSERT_TRUE(back) << error;
        EXPECT_EQ(back->plan_fingerprint, whole.plan_fingerprint);
        EXPECT_EQ(back->written_at, whole.written_at);
        EXPECT_EQ(back->inputs, whole.inputs);
        EXPECT_EQ(back->sections, whole.sections);
        // Re-encoded, it is the file encode() writes for the same sections.
        EXPECT_EQ(encode(*back), reference_file(whole)) << round;
    }
}

}  // namespace
}  // namespace weir::checkpoint
