// The Kafka output: produce from any thread (librdkafka's producer is thread-safe), delivery
// reports served on the strand when the main queue's event descriptor fires, flushes answered
// when every message produced before them is acknowledged or failed.
#include "connectors/kafka/kafka_output.h"

#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/kafka_client.h"
#include "core/result/check_result.h"

namespace weir::connectors {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

enum class key_mode { id, group, none };

// How often queued messages are retried while librdkafka's queue is full.
constexpr auto retry_interval = 20ms;

class kafka_output final : public output, public std::enable_shared_from_this<kafka_output> {
  public:
    kafka_output(const output_context& ctx, kafka::properties props, std::string topic,
                 key_mode key, bool transactional, std::chrono::milliseconds timeout)
        : executor_(ctx.executor),
          blocking_(ctx.blocking ? ctx.blocking : ctx.executor),
          topic_(std::move(topic)),
          key_(key),
          transactional_(transactional),
          timeout_ms_(static_cast<int>(timeout.count())),
          timer_(ctx.executor) {
        rd_kafka_conf_t* conf = kafka::make_conf(props);
        rd_kafka_conf_set_opaque(conf, this);
        rd_kafka_conf_set_dr_msg_cb(conf, &kafka_output::delivered_cb);
        rd_kafka_conf_set_error_cb(conf, &kafka_output::error_cb);
        std::array<char, 512> errstr{};
        rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
        if (rk_ == nullptr) {
            rd_kafka_conf_destroy(conf);
            throw std::runtime_error(std::string("Kafka producer: ") + errstr.data());
        }
        main_ = rd_kafka_queue_get_main(rk_);
        waker_ = std::make_unique<kafka::queue_waker>(executor_, main_);
        if (transactional_) {
            // Fences an earlier instance with the same transactional.id and aborts what it left
            // open; then the first transaction begins.
            rd_kafka_error_t* error = rd_kafka_init_transactions(rk_, timeout_ms_);
            if (error == nullptr) error = rd_kafka_begin_transaction(rk_);
            if (error != nullptr) {
                const std::string text = rd_kafka_error_string(error);
                rd_kafka_error_destroy(error);
                waker_.reset();
                rd_kafka_queue_destroy(main_);
                rd_kafka_destroy(rk_);
                throw std::runtime_error("Kafka transactions: " + text);
            }
        }
    }

    ~kafka_output() override {
        waker_.reset();
        // What is still in flight gets a bounded chance; the checkpoint did not count on it.
        rd_kafka_flush(rk_, 2000);
        rd_kafka_queue_destroy(main_);
        rd_kafka_destroy(rk_);
    }

    void start() {
        asio::post(executor_, [self = shared_from_this()] { self->serve(); });
    }

    void write_result(const check_result& result) override {
        std::string json;
        append_json(result, json);
        std::string key;
        if (key_ == key_mode::id) {
            key = result_id(result);
        } else if (key_ == key_mode::group && !result.group.empty()) {
            key.push_back('{');
            bool first = true;
            for (const auto& [name, value] : result.group) {
                if (!first) key.push_back(',');
                first = false;
                append_json_string(name, key);
                key.push_back(':');
                append_json_value(value, key);
            }
            key.push_back('}');
        }
        produce(std::move(json), std::move(key));
    }

    void write_record(std::string_view json) override { produce(std::string(json), {}); }

    void flush(std::function<void(bool ok, const std::string& error)> done) override {
        if (transactional_) {
            {
                std::lock_guard lock(mutex_);
                commit_waiters_.push_back(std::move(done));
                if (committing_) return;  // the next commit answers it
                committing_ = true;
            }
            commit();
            return;
        }
        std::lock_guard lock(mutex_);
        const std::uint64_t upto = next_seq_ - 1;
        if (done_below(upto)) {
            const bool ok = failed_since_flush_ == 0;
            const std::string error = last_error_;
            failed_since_flush_ = 0;
            asio::post(executor_, [done = std::move(done), ok, error] { done(ok, error); });
            return;
        }
        waiters_.push_back({upto, std::move(done)});
    }

    void stop(std::function<void()> done) override {
        flush([self = shared_from_this(), done = std::move(done)](bool, const std::string&) {
            self->stopped_ = true;
            self->timer_.cancel();
            if (self->waker_) self->waker_->cancel();
            done();
        });
    }

    output_stats stats() const override {
        return {.records = delivered_.load(), .errors = errors_.load(), .dropped = 0};
    }

    std::uint64_t pending() const override {
        std::lock_guard lock(mutex_);
        return outstanding_.size() + held_.size();
    }

    void begin_shutdown() override {
        // Messages not sent yet fail now rather than waiting out `timeout`.
        shutting_down_ = true;
        rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE);
        asio::post(executor_, [self = shared_from_this()] { self->serve(); });
    }

  private:
    struct waiter {
        std::uint64_t upto;
        std::function<void(bool, const std::string&)> done;
    };

    static void delivered_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        static_cast<kafka_output*>(opaque)->on_delivered(m);
    }
    static void error_cb(rd_kafka_t*, int err, const char* reason, void* opaque) {
        auto* self = static_cast<kafka_output*>(opaque);
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            std::array<char, 512> text{};
            rd_kafka_fatal_error(self->rk_, text.data(), text.size());
            std::lock_guard lock(self->mutex_);
            self->last_error_ = std::string("fatal producer error: ") + text.data();
            return;
        }
        (void)reason;
    }

    // Every message produced with a number at or below `upto` was acknowledged or failed.
    bool done_below(std::uint64_t upto) const {  // mutex_ held
        const bool held_below = !held_.empty() && held_.front().seq <= upto;
        return !held_below && (outstanding_.empty() || *outstanding_.begin() > upto);
    }

    struct message {
        std::uint64_t seq;
        std::string value;
        std::string key;
    };

    // exactly_once: commits the open transaction (which first delivers everything produced in
    // it) off the loop threads and begins the next; messages produced meanwhile wait in held_.
    // Answers the flushes that asked before it started.
    void commit() {
        std::vector<std::function<void(bool, const std::string&)>> waiting;
        {
            std::lock_guard lock(mutex_);
            waiting.swap(commit_waiters_);
        }
        asio::post(blocking_, [self = shared_from_this(), waiting = std::move(waiting)]() mutable {
            std::string problem;
            rd_kafka_error_t* error = rd_kafka_commit_transaction(self->rk_, self->timeout_ms_);
            if (error != nullptr && rd_kafka_error_is_retriable(error)) {
                rd_kafka_error_destroy(error);
                error = rd_kafka_commit_transaction(self->rk_, self->timeout_ms_);
            }
            if (error != nullptr) {
                problem = std::string("committing a transaction: ") + rd_kafka_error_string(error);
                if (rd_kafka_error_txn_requires_abort(error)) {
                    if (rd_kafka_error_t* a =
                            rd_kafka_abort_transaction(self->rk_, self->timeout_ms_)) {
                        rd_kafka_error_destroy(a);
                    }
                }
                rd_kafka_error_destroy(error);
            }
            if (rd_kafka_error_t* b = rd_kafka_begin_transaction(self->rk_)) {
                if (problem.empty()) problem = rd_kafka_error_string(b);
                rd_kafka_error_destroy(b);
            }
            asio::post(self->executor_, [self, waiting = std::move(waiting), problem] {
                bool again = false;
                {
                    std::lock_guard lock(self->mutex_);
                    if (!problem.empty()) {
                        ++self->errors_;
                        self->last_error_ = problem;
                    }
                    again = !self->commit_waiters_.empty();
                    self->committing_ = again;
                }
                for (const auto& w : waiting) w(problem.empty(), problem);
                self->serve();
                if (again) self->commit();
            });
        });
    }

    void produce(std::string value, std::string key) {
        std::unique_lock lock(mutex_);
        message m{next_seq_++, std::move(value), std::move(key)};
        if (!held_.empty() || committing_) {  // in order, behind those waiting
            held_.push_back(std::move(m));
            return;
        }
        if (!send(m)) {
            held_.push_back(std::move(m));
            lock.unlock();
            schedule_retry();
        }
    }

    // False when librdkafka's queue is full (the message is kept for later); a message it
    // refuses for another reason counts as failed.
    bool send(const message& m) {  // mutex_ held
        const auto err = rd_kafka_producev(
            rk_, RD_KAFKA_V_TOPIC(topic_.c_str()),
            RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
            RD_KAFKA_V_KEY(m.key.empty() ? nullptr : m.key.data(), m.key.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(m.seq))),
            RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return false;
        if (err) {
            ++errors_;
            ++failed_since_flush_;
            last_error_ = std::string("producing to ") + topic_ + ": " + rd_kafka_err2str(err);
            return true;
        }
        outstanding_.insert(m.seq);
        return true;
    }

    void schedule_retry() {
        asio::post(executor_, [self = shared_from_this()] {
            if (self->retry_scheduled_ || self->stopped_) return;
            self->retry_scheduled_ = true;
            self->timer_.expires_after(retry_interval);
            self->timer_.async_wait([self](const boost::system::error_code& ec) {
                self->retry_scheduled_ = false;
                if (ec) return;
                self->serve();
            });
        });
    }

    // On the strand: delivery reports, then what waits for room.
    void serve() {
        rd_kafka_poll(rk_, 0);
        bool more = false;
        {
            std::lock_guard lock(mutex_);
            while (!committing_ && !held_.empty() && send(held_.front())) held_.pop_front();
            more = !held_.empty() && !committing_;
            answer_waiters();
        }
        if (more) schedule_retry();
        if (stopped_) return;
        waker_->wait([self = shared_from_this()] { self->serve(); });
    }

    void on_delivered(const rd_kafka_message_t* m) {  // in rd_kafka_poll, on the strand
        const auto seq = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m->_private));
        std::lock_guard lock(mutex_);
        outstanding_.erase(seq);
        if (m->err) {
            ++errors_;
            ++failed_since_flush_;
            last_error_ = std::string("delivery to ") + topic_ + ": " + rd_kafka_err2str(m->err);
        } else {
            ++delivered_;
        }
    }

    void answer_waiters() {  // mutex_ held
        while (!waiters_.empty() && done_below(waiters_.front().upto)) {
            auto w = std::move(waiters_.front());
            waiters_.pop_front();
            const bool ok = failed_since_flush_ == 0;
            failed_since_flush_ = 0;
            asio::post(executor_,
                       [done = std::move(w.done), ok, error = last_error_] { done(ok, error); });
        }
    }

    asio::any_io_executor executor_;
    asio::any_io_executor blocking_;
    std::string topic_;
    key_mode key_;
    bool transactional_;
    int timeout_ms_;
    asio::steady_timer timer_;
    rd_kafka_t* rk_ = nullptr;
    rd_kafka_queue_t* main_ = nullptr;
    std::unique_ptr<kafka::queue_waker> waker_;

    mutable std::mutex mutex_;
    std::uint64_t next_seq_ = 1;
    std::set<std::uint64_t> outstanding_;  // produced, not yet reported
    std::deque<message> held_;             // waiting for room in librdkafka's queue
    std::deque<waiter> waiters_;
    bool committing_ = false;  // exactly_once: a commit is under way
    std::vector<std::function<void(bool, const std::string&)>> commit_waiters_;
    std::uint64_t failed_since_flush_ = 0;
    std::string last_error_;
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> errors_{0};
    std::atomic<bool> shutting_down_{false};
    bool retry_scheduled_ = false;  // strand
    bool stopped_ = false;          // strand
};

}  // namespace

std::shared_ptr<output> make_kafka_output(const params::reader& p, const output_context& ctx) {
    kafka::properties props = kafka::client_properties(p);
    const std::string timeout = std::to_string(p.duration("timeout").value.count());
    // Idempotent: acks=all and retries that never duplicate or reorder a message.
    props.insert(props.begin() + 3, {"enable.idempotence", "true"});
    props.insert(props.begin() + 4, {"linger.ms", "5"});
    props.emplace_back("message.timeout.ms", timeout);
    const bool transactional = p.boolean("exactly_once").value;
    if (transactional) {
        // Stable across restarts, so a new instance fences the one before it.
        props.emplace_back("transactional.id", "weir-" + ctx.pipeline + "-" + ctx.output);
    }
    const std::string key = p.string("key").value;
    const key_mode mode = key == "group"  ? key_mode::group
                          : key == "none" ? key_mode::none
                                          : key_mode::id;
    auto out = std::make_shared<kafka_output>(ctx, std::move(props), p.string("topic").value, mode,
                                              transactional, p.duration("timeout").value);
    out->start();
    return out;
}

}  // namespace weir::connectors
