// One delivery of records from one source of an input (input contract v2, connectors/runtime.h):
// the bytes as the input read them, how they split into records, and optional per-record facts.
// Defined in core because the node chain decodes it; connectors only fill it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/record/bytes_keeper.h"
#include "core/record/padded_buffer.h"
#include "core/time/timestamp.h"

namespace weir {

// Per-record facts a source knows besides the record's bytes (a Kafka message's key,
// timestamp, partition and offset). Optional: most inputs have none.
struct record_metadata {
    std::string_view key;              // empty: none
    time::timestamp_ns timestamp = 0;  // 0: none
    std::int32_t partition = -1;       // -1: none
    std::int64_t offset = -1;          // -1: none
};

// Valid during the call that hands it over only (but see `keeper`).
struct record_delivery {
    // The records' bytes, with at least k_record_padding readable bytes after the end.
    // Without `ends`: complete records separated by '\n' (a final record without one is a
    // record too; blank lines are skipped). With `ends`: record i is
    // bytes[ends[i-1], ends[i]) (ends[-1] = 0), whatever it contains (messages, datagrams).
    std::string_view bytes;
    std::span<const std::uint32_t> ends;
    // Empty, or one entry per record (then `ends` is given too).
    std::span<const record_metadata> metadata;
    // Where the bytes were read, for dead letters and messages about bad records: the source
    // as people name it (a file's path; empty: the source id names it, as a Kafka
    // "topic/partition" does), and the byte offset of bytes[0] there (-1: not known). A record
    // with metadata gives its own offset (a Kafka message's) instead.
    std::string_view origin;
    std::int64_t offset = -1;
    // Set by a source that can let `bytes` outlive the call; null: a receiver that needs
    // them later copies them.
    bytes_keeper* keeper = nullptr;
};

}  // namespace weir
