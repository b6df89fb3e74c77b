#include "connectors/kafka/partials_channel.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace weir::connectors::kafka {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr int metadata_timeout_ms = 5000;
constexpr int flush_timeout_ms = 30000;
constexpr std::size_t batch_size = 1024;
constexpr auto turn_budget = 2ms;

struct list_deleter {
    void operator()(rd_kafka_topic_partition_list_t* l) const {
        rd_kafka_topic_partition_list_destroy(l);
    }
};
using partition_list = std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter>;

// The partitions of `topic`, -1 when it does not exist or the brokers do not answer.
int count_partitions(rd_kafka_t* rk, const std::string& topic, std::string& error) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    if (rkt == nullptr) {
        error = "topic " + topic + ": " + rd_kafka_err2str(rd_kafka_last_error());
        return -1;
    }
    const rd_kafka_metadata_t* md = nullptr;
    int n = -1;
    const auto err = rd_kafka_metadata(rk, 0, rkt, &md, metadata_timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        error = "metadata of topic " + topic + ": " + rd_kafka_err2str(err);
    } else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
               md->topics[0].partition_cnt == 0) {
        error = "topic " + topic + " does not exist";
    } else {
        n = md->topics[0].partition_cnt;
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

class channel_impl : public std::enable_shared_from_this<channel_impl> {
  public:
    channel_impl(partials_settings s, const asio::any_io_executor& ex)
        : s_(std::move(s)), executor_(ex) {}

    ~channel_impl() { close(); }

    bool open(std::string& error) {
        try {
            properties producer = s_.client;
            producer.emplace_back("linger.ms", "5");
            rd_kafka_conf_t* conf = make_conf(producer);
            rd_kafka_conf_set_opaque(conf, this);
            rd_kafka_conf_set_dr_msg_cb(conf, &channel_impl::delivered_cb);
            std::array<char, 512> errstr{};
            producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
            if (producer_ == nullptr) {
                rd_kafka_conf_destroy(conf);
                error = std::string("Kafka producer: ") + errstr.data();
                return false;
            }
            properties consumer = s_.client;
            consumer.emplace_back("group.id", s_.group);
            consumer.emplace_back("auto.offset.reset", "earliest");
            consumer.emplace_back("enable.auto.commit", "false");
            consumer.emplace_back("enable.auto.offset.store", "false");
            // Eager: a partition is merged by one daemon at a time, whatever `kafka:` says.
            consumer.emplace_back("partition.assignment.strategy", "range");
            conf = make_conf(consumer);
            rd_kafka_conf_set_opaque(conf, this);
            rd_kafka_conf_set_rebalance_cb(conf, &channel_impl::rebalance_cb);
            consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr.data(), errstr.size());
            if (consumer_ == nullptr) {
                rd_kafka_conf_destroy(conf);
                error = std::string("Kafka consumer: ") + errstr.data();
                return false;
            }
        } catch (const std::runtime_error& e) {
            error = e.what();
            return false;
        }
        rd_kafka_poll_set_consumer(consumer_);
        queue_ = rd_kafka_queue_get_consumer(consumer_);
        waker_ = std::make_unique<queue_waker>(executor_, queue_);
        partitions_ = count_partitions(producer_, s_.topic, error);
        if (partitions_ < 1) {
            error = "partials_topic: " + error;
            return false;
        }
        for (const auto& t : s_.topics) {
            const int n = count_partitions(producer_, t, error);
            if (n < 1) return false;
            for (int p = 0; p < n; ++p) sources_.push_back(source_of(t, p));
        }
        return true;
    }

    std::int32_t partitions() const { return partitions_; }
    std::vector<source_id> input_sources() const { return sources_; }
    std::uint64_t max_held() const { return s_.max_held; }

    void start(partials_events& events) {
        events_ = &events;
        partition_list topics(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(topics.get(), s_.topic.c_str(), RD_KAFKA_PARTITION_UA);
        if (const auto err = rd_kafka_subscribe(consumer_, topics.get())) {
            events_->on_partials_problem(std::string("partials topic: cannot subscribe: ") +
                                         rd_kafka_err2str(err));
            return;
        }
        schedule_poll();
    }

    void stop() {
        stopped_ = true;
        if (waker_) waker_->cancel();
    }

    void publish(std::int32_t partition, std::string_view key, std::string_view value) {
        for (int attempt = 0;; ++attempt) {
            const auto err = rd_kafka_producev(
                producer_, RD_KAFKA_V_TOPIC(s_.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(key.data(), key.size()),
                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= 500) {
                // Lost before it left: what follows from this source cannot be trusted until
                // the query starts again from its commits (sync() says so).
                failed_.fetch_add(1);
                last_error(std::string("partials topic: ") + rd_kafka_err2str(err));
                break;
            }
            rd_kafka_poll(producer_, 10);
        }
        rd_kafka_poll(producer_, 0);
    }

    bool sync(const std::vector<std::pair<std::int32_t, std::int64_t>>& positions,
              commit_error& error) {
        if (producer_ == nullptr || consumer_ == nullptr) {
            error.message = "the partials topic is closed";
            return false;
        }
        const auto err = rd_kafka_flush(producer_, flush_timeout_ms);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            error.message = std::string("partials topic: ") + rd_kafka_err2str(err);
            return false;
        }
        if (failed_.exchange(0) > 0) {
            std::lock_guard lock(error_mutex_);
            error.message = error_.empty() ? "a partials message was not delivered" : error_;
            error.undelivered = true;
            return false;
        }
        if (positions.empty()) return true;
        partition_list list(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
        for (const auto& [partition, offset] : positions) {
            rd_kafka_topic_partition_list_add(list.get(), s_.topic.c_str(), partition)->offset =
                offset;
        }
        if (const auto e = rd_kafka_commit(consumer_, list.get(), 0)) {
            error = commit_failure("partials topic: commit: ", e);
            return false;
        }
        return true;
    }

  private:
    static void delivered_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
        auto* self = static_cast<channel_impl*>(opaque);
        self->failed_.fetch_add(1);
        self->last_error(std::string("partials topic: delivery failed: ") +
                         rd_kafka_err2str(m->err));
    }
    static void rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* list, void* opaque) {
        static_cast<channel_impl*>(opaque)->on_rebalance(err, list);
    }

    void last_error(std::string message) {
        std::lock_guard lock(error_mutex_);
        error_ = std::move(message);
    }

    // Eager rebalancing (the default assignors): every partition is revoked before the new
    // assignment, so a partition is merged by one daemon at a time.
    void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
            partition_list committed(rd_kafka_topic_partition_list_copy(list));
            const bool have = rd_kafka_committed(consumer_, committed.get(), metadata_timeout_ms) ==
                              RD_KAFKA_RESP_ERR_NO_ERROR;
            for (int i = 0; i < list->cnt; ++i) {
                // From the beginning, unless the query merged it here before; the previous
                // owner's commit says up to where it wrote the results already.
                list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                const std::int64_t c = have ? committed->elems[i].offset : -1;
                if (!stopped_ && events_ != nullptr) {
                    const std::int64_t from =
                        events_->on_partials_assigned(list->elems[i].partition, c >= 0 ? c : -1);
                    if (from >= 0) list->elems[i].offset = from;
                }
            }
            rd_kafka_assign(consumer_, list);
            if (!stopped_ && events_ != nullptr) events_->on_partials_rebalanced();
        } else {
            if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !stopped_ && events_ != nullptr) {
                events_->on_partials_problem(std::string("partials topic: rebalance: ") +
                                             rd_kafka_err2str(err));
            }
            for (int i = 0; i < list->cnt; ++i) {
                if (!stopped_ && events_ != nullptr) {
                    events_->on_partials_revoked(list->elems[i].partition);
                }
            }
            rd_kafka_assign(consumer_, nullptr);
        }
    }

    void schedule_poll() {
        asio::post(executor_, [self = shared_from_this()] { self->poll(); });
    }

    void poll() {
        if (stopped_ || consumer_ == nullptr) return;
        const auto deadline = std::chrono::steady_clock::now() + turn_budget;
        std::array<rd_kafka_message_t*, batch_size> batch{};
        for (;;) {
            const ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, batch.data(), batch.size());
            for (ssize_t i = 0; i < n; ++i) {
                rd_kafka_message_t* m = batch[static_cast<std::size_t>(i)];
                if (!stopped_ && events_ != nullptr) {
                    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                        events_->on_partials_message(
                            m->partition, m->offset,
                            std::string_view(static_cast<const char*>(m->key),
                                             m->key ? m->key_len : 0),
                            std::string_view(static_cast<const char*>(m->payload),
                                             m->payload ? m->len : 0));
                    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        events_->on_partials_problem(std::string("partials topic: ") +
                                                     rd_kafka_message_errstr(m));
                    }
                }
                rd_kafka_message_destroy(m);
            }
            if (stopped_) return;
            if (n <= 0) break;
            if (std::chrono::steady_clock::now() >= deadline) {
                schedule_poll();
                return;
            }
        }
        rd_kafka_poll(producer_, 0);
        waker_->wait([self = shared_from_this()] { self->poll(); });
    }

    void close() {
        waker_.reset();
        if (consumer_ != nullptr) {
            close_consumer(consumer_, queue_);
            queue_ = nullptr;
            consumer_ = nullptr;
        }
        if (producer_ != nullptr) {
            rd_kafka_flush(producer_, 3000);
            rd_kafka_destroy(producer_);
            producer_ = nullptr;
        }
    }

    partials_settings s_;
    asio::any_io_executor executor_;
    rd_kafka_t* producer_ = nullptr;
    rd_kafka_t* consumer_ = nullptr;
    rd_kafka_queue_t* queue_ = nullptr;
    std::unique_ptr<queue_waker> waker_;
    partials_events* events_ = nullptr;
    std::int32_t partitions_ = 0;
    std::vector<source_id> sources_;
    std::atomic<bool> stopped_{false};
    std::atomic<std::uint64_t> failed_{0};
    std::mutex error_mutex_;
    std::string error_;
};

class channel final : public partials_channel {
  public:
    channel(partials_settings s, const asio::any_io_executor& ex)
        : impl_(std::make_shared<channel_impl>(std::move(s), ex)) {}
    ~channel() override { impl_->stop(); }
    bool open(std::string& error) override { return impl_->open(error); }
    std::int32_t partitions() const override { return impl_->partitions(); }
    std::vector<source_id> input_sources() const override { return impl_->input_sources(); }
    std::uint64_t max_held() const override { return impl_->max_held(); }
    void start(partials_events& events) override { impl_->start(events); }
    void stop() override { impl_->stop(); }
    void publish(std::int32_t partition, std::string_view key, std::string_view value) override {
        impl_->publish(partition, key, value);
    }
    sync_fn sync() override {
        return [impl = impl_](const std::vector<std::pair<std::int32_t, std::int64_t>>& positions,
                              commit_error& error) { return impl->sync(positions, error); };
    }

  private:
    std::shared_ptr<channel_impl> impl_;
};

}  // namespace

std::unique_ptr<partials_channel> make_partials_channel(partials_settings s,
                                                        const asio::any_io_executor& ex) {
    return std::make_unique<channel>(std::move(s), ex);
}

}  // namespace weir::connectors::kafka
