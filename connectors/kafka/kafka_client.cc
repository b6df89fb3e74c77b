// librdkafka configuration and queue wake-ups shared by the Kafka input and output.
#include "connectors/kafka/kafka_client.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace weir::connectors::kafka {

std::string broker_list(const params::reader& p) {
    std::string out;
    for (const auto& b : p.strings("brokers")) {
        if (b.value.empty()) continue;
        if (!out.empty()) out.push_back(',');
        out += b.value;
    }
    return out;
}

properties client_properties(const params::reader& p) {
    properties props;
    props.emplace_back("bootstrap.servers", broker_list(p));
    props.emplace_back("client.id", p.string("client_id").value);
    // librdkafka logs to stderr itself; weir reports what matters through its own events.
    props.emplace_back("log_level", "3");
    if (p.has("kafka")) {
        for (const auto& [key, value] : p.string_map("kafka")) props.emplace_back(key, value.value);
    }
    return props;
}

rd_kafka_conf_t* make_conf(const properties& props) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    std::array<char, 512> errstr{};
    for (const auto& [key, value] : props) {
        if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr.data(), errstr.size()) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            throw std::runtime_error("Kafka property " + key + ": " + errstr.data());
        }
    }
    return conf;
}

void close_consumer(rd_kafka_t* consumer, rd_kafka_queue_t* consumer_queue) {
    const bool cooperative =
        std::string_view(rd_kafka_rebalance_protocol(consumer)) == "COOPERATIVE";
    rd_kafka_queue_t* q = rd_kafka_queue_new(consumer);
    bool closed = false;
    if (rd_kafka_error_t* error = rd_kafka_consumer_close_queue(consumer, q)) {
        rd_kafka_error_destroy(error);
    } else {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (!(closed = rd_kafka_consumer_closed(consumer)) &&
               std::chrono::steady_clock::now() < deadline) {
            rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 100);
            if (ev == nullptr) continue;
            if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
                if (cooperative) {
                    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(
                            consumer, rd_kafka_event_topic_partition_list(ev))) {
                        rd_kafka_error_destroy(e);
                    }
                } else {
                    rd_kafka_assign(consumer, nullptr);
                }
            }
            rd_kafka_event_destroy(ev);
        }
    }
    rd_kafka_queue_destroy(q);
    if (consumer_queue != nullptr) rd_kafka_queue_destroy(consumer_queue);
    rd_kafka_destroy_flags(consumer, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

queue_waker::queue_waker(const boost::asio::any_io_executor& executor, rd_kafka_queue_t* queue)
    : queue_(queue), descriptor_(executor) {
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    descriptor_.assign(fd);
    // An eventfd takes 8-byte writes: one increment per wake-up.
    static constexpr char one[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    rd_kafka_queue_io_event_enable(queue_, fd, one, sizeof one);
}

queue_waker::~queue_waker() {
    rd_kafka_queue_io_event_enable(queue_, -1, nullptr, 0);
    boost::system::error_code ignored;
    descriptor_.close(ignored);
}

void queue_waker::wait(std::function<void()> ready) {
    if (waiting_) return;
    waiting_ = true;
    descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [this, ready = std::move(ready)](const boost::system::error_code& ec) {
                               waiting_ = false;
                               if (ec) return;
                               std::uint64_t count = 0;
                               [[maybe_unused]] const auto n =
                                   ::read(descriptor_.native_handle(), &count, sizeof count);
                               ready();
                           });
}

void queue_waker::cancel() {
    boost::system::error_code ignored;
    descriptor_.cancel(ignored);
}

commit_error commit_failure(std::string_view what, rd_kafka_resp_err_t err) {
    commit_error e;
    e.message = std::string(what) + rd_kafka_err2str(err);
    e.rebalancing = err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
                    err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
                    err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
                    err == RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST;
    return e;
}

std::string source_of(std::string_view topic, std::int32_t partition) {
    std::string s(topic);
    s.push_back('/');
    s += std::to_string(partition);
    return s;
}

}  // namespace weir::connectors::kafka
