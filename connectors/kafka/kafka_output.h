// The Kafka output: check results (and derived records, late records, dead letters) as JSON
// messages to one topic, through an idempotent librdkafka producer whose delivery reports are
// served on the output's strand.
#pragma once

#include <memory>

#include "connectors/runtime.h"

namespace weir::connectors {

// Keys: the result's stable id by default (a compacted topic keeps the latest of a result
// emitted again after a crash), the group as JSON, or none; records have no key.
//
// Durability: flush() completes when every message produced before it was acknowledged by
// the brokers (acks=all, idempotent: a retry never duplicates a message), or failed for good
// (after `timeout`): then done(false) and the checkpoint waits, so the results are produced
// again after a restart, with the same ids. stats().records counts acknowledged messages,
// stats().errors those that failed.
std::shared_ptr<output> make_kafka_output(const params::reader& p, const output_context& ctx);

}  // namespace weir::connectors
