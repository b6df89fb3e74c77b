// The Kafka input at run time: a consumer group member on librdkafka, woken by its queue's
// event descriptor on the query's strand (no thread of its own polls).
#pragma once

#include <memory>

#include "connectors/runtime.h"

namespace weir::connectors {

// Sources: one per assigned partition, "topic/partition", announced as the group assigns and
// revokes them; each holds the watermark back on its own.
//
// Offsets live in the query's checkpoint: position() is the next offset of every partition
// read so far (and of those restored and not reassigned yet). On assignment a partition resumes
// from the larger of the checkpoint's offset and the group's committed offset (a commit only
// ever follows a durable checkpoint, so the group's offset is larger only when another member
// read on since), else from `start`. committed() commits the position of a durable checkpoint
// to the group, for external tools and for the next owner of a partition.
//
// Revocation: the revoked partitions stop delivering, the query is asked for a checkpoint, and
// once a checkpoint covering them is durable their offsets are committed and they are handed
// back (librdkafka waits for that); after revoke_wait without one they are handed back with the
// offsets of the last durable checkpoint, which the next owner reads again.
//
// --once: every assigned partition is read up to the end offset seen when it was assigned.
std::unique_ptr<input> make_kafka_input(const params::reader& p, const input_context& ctx);

}  // namespace weir::connectors
