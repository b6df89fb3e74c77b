// The bytes of a query's checkpoint file (DESIGN.md §3): a versioned, checksummed envelope
// around the plan fingerprint, the inputs' positions and the nodes' engine snapshots. The
// daemon only writes and reads these bytes; everything about their shape lives here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time/timestamp.h"

namespace weir::checkpoint {

// Version 1: "WEIRCKPT", u32 version, u64 payload length, payload, u32 CRC32C of the payload.
inline constexpr std::uint32_t k_format_version = 1;

struct checkpoint_data {
    std::uint32_t version = k_format_version;
    std::string plan_fingerprint;       // the query's plan; a different plan cannot resume
    time::timestamp_ns written_at = 0;  // wall clock
    std::vector<std::pair<std::string, std::string>> inputs;  // input name -> position bytes
    std::vector<std::pair<std::string, std::string>> nodes;   // node name -> engine snapshot
};

std::string encode(const checkpoint_data& data);

// The checkpoint in `bytes`, or nullopt with a one-line reason in `error`: not a weir
// checkpoint, a newer format version, truncated, or a checksum mismatch (corrupt).
std::optional<checkpoint_data> decode(std::string_view bytes, std::string& error);

}  // namespace weir::checkpoint
