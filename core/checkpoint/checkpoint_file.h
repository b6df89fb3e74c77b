// The bytes of a query's checkpoint file (DESIGN.md §3): a versioned, checksummed envelope
// around the plan fingerprint, the inputs' positions and the node chain's sections (one per
// step with state: "decoder/<input>", "engine/<node>"; core/chain/node_chain.h). The daemon
// only writes and reads these bytes; everything about their shape lives here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time/timestamp.h"

namespace weir::checkpoint {

// "WEIRCKPT", u32 version, u64 payload length, payload, u32 CRC32C of the payload.
// Version 2: the payload holds the chain's sections. Version 1 (weir before the node chain)
// held engine snapshots by node name and CSV headers as fake inputs ("csv_header:<input>"):
// decode() reads them into the same sections.
inline constexpr std::uint32_t k_format_version = 2;

struct checkpoint_data {
    std::uint32_t version = k_format_version;  // as read; encode() always writes the newest
    std::string plan_fingerprint;              // the query's plan; another plan cannot resume
    time::timestamp_ns written_at = 0;         // wall clock
    std::vector<std::pair<std::string, std::string>> inputs;    // input name -> position bytes
    std::vector<std::pair<std::string, std::string>> sections;  // chain section -> state
};

std::string encode(const checkpoint_data& data);

// A section's bytes as the pieces they were snapshot in (a large state is snapshot in
// slices), by section name: written one after another (checkpoint::stream), never joined.
using section_pieces = std::vector<std::pair<std::string, std::vector<std::string>>>;

// A checkpoint written as its sections come, before their sizes are known (the daemon writes
// a large state to its file slice by slice, holding none of it whole): the same format, with
// the section count and each section's length as varints of a fixed width, overlong where the
// value is small, written as placeholders and patched in place once known. The payload's
// length (in the header) and its CRC32C come last. Writing in order stream_head(data), then
// for each section section_head(name) and its bytes, and patching gives a file decode() reads
// as encode()'s.
namespace stream {
// Bytes of a patched varint: up to 2^35 - 1, far beyond the largest checkpoint.
inline constexpr std::size_t k_fixed_varint = 5;
// Where the payload's length (u64) lies in the file, and where the payload begins.
inline constexpr std::size_t k_length_at = 12;
inline constexpr std::size_t k_payload_at = 20;
// The header (its payload length 0 until patched) and the payload's head: the fingerprint,
// the inputs' positions and the section count's placeholder, the last k_fixed_varint bytes.
// data.sections are not written.
std::string head(const checkpoint_data& data);
// A section's name and its length's placeholder, the last k_fixed_varint bytes.
std::string section_head(std::string_view name);
// `v` in exactly k_fixed_varint bytes; v < 2^35.
std::string fixed_varint(std::uint64_t v);
// The payload's length as the header holds it, and the CRC32C trailer.
std::string length_field(std::uint64_t payload_bytes);
std::string crc_trailer(std::uint32_t crc);
}  // namespace stream

// The checkpoint in `bytes`, or nullopt with a one-line reason in `error`: not a weir
// checkpoint, a newer format version, truncated, or a checksum mismatch (corrupt).
std::optional<checkpoint_data> decode(std::string_view bytes, std::string& error);

// The same without a copy of the sections: their bytes are views into `bytes`, which must
// outlive them (a large state is then held once, in the file's bytes, while it is restored).
struct checkpoint_view {
    std::uint32_t version = k_format_version;
    std::string plan_fingerprint;
    time::timestamp_ns written_at = 0;
    std::vector<std::pair<std::string, std::string>> inputs;
    std::vector<std::pair<std::string, std::string_view>> sections;
};
std::optional<checkpoint_view> decode_view(std::string_view bytes, std::string& error);
// The checkpoint `view` reads, its sections copied out of the file's bytes.
checkpoint_data copy_out(checkpoint_view view);

}  // namespace weir::checkpoint
