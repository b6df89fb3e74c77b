// The partials topic of a Kafka input that several daemons share (DESIGN.md §3 "Scale-out"):
// a producer for what this daemon's lanes hand over, and a consumer, in a group of its own,
// for the partitions of the topic this daemon merges. Served on the query's strand like the
// input; sync() blocks and runs off it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_client.h"
#include "connectors/runtime.h"

namespace weir::connectors::kafka {

struct partials_settings {
    properties client;                // brokers, client.id and the `kafka:` passthrough
    std::string topic;                // the partials topic
    std::string group;                // the merge group: "<input group>.partials.<query>"
    std::vector<std::string> topics;  // the input's topics (their partitions are the sources)
    std::uint64_t max_held = std::uint64_t{64} << 20;  // partials_max_held
};

std::unique_ptr<partials_channel> make_partials_channel(partials_settings s,
                                                        const boost::asio::any_io_executor& ex);

}  // namespace weir::connectors::kafka
