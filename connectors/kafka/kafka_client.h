// What the Kafka input and output share: their librdkafka configuration from weir's
// parameters, and the event descriptor that wakes a strand when a librdkafka queue has work.
#pragma once

#include <librdkafka/rdkafka.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/runtime.h"
#include "core/params/spec.h"

namespace weir::connectors::kafka {

// librdkafka properties in the order they are set: weir's own from `brokers` and `client_id`
// first, then the `kafka:` passthrough, then `fixed` (properties weir must decide, which the
// declaration already refuses in `kafka:`).
using properties = std::vector<std::pair<std::string, std::string>>;
properties client_properties(const params::reader& p);

// A configuration holding `props`; throws std::runtime_error naming the property (never its
// value, which may be a password) when librdkafka refuses one.
rd_kafka_conf_t* make_conf(const properties& props);

// "host:port,host:port" from the `brokers` list (entries may themselves hold commas).
std::string broker_list(const params::reader& p);

// An eventfd that librdkafka writes to when `queue` turns non-empty, readable on `executor`.
// wait() calls `ready` once (on the executor) when the queue may have work; a caller drains
// the queue completely (or polls again later) before waiting again.
class queue_waker {
  public:
    queue_waker(const boost::asio::any_io_executor& executor, rd_kafka_queue_t* queue);
    ~queue_waker();
    queue_waker(const queue_waker&) = delete;
    queue_waker& operator=(const queue_waker&) = delete;

    void wait(std::function<void()> ready);
    void cancel();

  private:
    rd_kafka_queue_t* queue_;
    boost::asio::posix::stream_descriptor descriptor_;
    bool waiting_ = false;
};

// Leaves the consumer group within a bounded time (a consumer whose brokers are gone would wait
// out its session otherwise), then destroys `consumer_queue` (its consumer queue, or null) and
// the client. Rebalances during the close are answered (eagerly or incrementally, as the
// group's protocol wants).
void close_consumer(rd_kafka_t* consumer, rd_kafka_queue_t* consumer_queue);

// A failed commit's error: `what` and the code's text, rebalancing when the code says the
// group is changing generation (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// or the assignment lost locally).
commit_error commit_failure(std::string_view what, rd_kafka_resp_err_t err);

// "topic/partition", the source id of a partition.
std::string source_of(std::string_view topic, std::int32_t partition);

}  // namespace weir::connectors::kafka
