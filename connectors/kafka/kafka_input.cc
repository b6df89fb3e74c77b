// The Kafka input: a librdkafka high-level consumer served on the query's strand. Messages are
// taken in batches from the consumer queue when its event descriptor fires, grouped into runs
// of one partition and handed over as one delivery per run (message boundaries as `ends`,
// key, timestamp, partition and offset as metadata).
#include "connectors/kafka/kafka_input.h"

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "connectors/common/input_facade.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/partials_channel.h"
#include "core/checkpoint/byte_codec.h"
#include "core/record/padded_buffer.h"
#include "core/result/check_result.h"

namespace weir::connectors {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr std::uint8_t position_version = 1;
constexpr std::size_t batch_size = 4096;
// A turn of the strand takes at most this long before it yields to other work.
constexpr auto turn_budget = 2ms;
constexpr auto revoke_wait = 10s;
constexpr auto pause_fetch_after = 200ms;
constexpr int blocking_timeout_ms = 5000;
// How often the ends of partitions that are not fetched are asked for, and how long an answer
// may take.
constexpr auto end_query_every = 1s;
constexpr int end_query_timeout_ms = 2000;

struct settings {
    kafka::properties props;
    std::vector<std::string> topics;
    std::string pattern;
    std::string key_field;  // JSON only (the declaration refuses it with other formats)
    std::size_t max_record_size = 1 << 20;
    std::size_t max_delivery_bytes = 0;  // input_context::max_delivery_bytes
    // Several daemons (partials_topic, not in --once mode): where the query merges; the input
    // then commits nothing itself (see kafka_input.h).
    std::optional<kafka::partials_settings> partials;
};

// Owned rdkafka objects.
struct list_deleter {
    void operator()(rd_kafka_topic_partition_list_t* l) const {
        rd_kafka_topic_partition_list_destroy(l);
    }
};
using partition_list = std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter>;

partition_list new_list(int size) {
    return partition_list(rd_kafka_topic_partition_list_new(size));
}

struct partition_state {
    std::string topic;
    std::int32_t id = 0;
    std::int64_t next = -1;       // the next offset to deliver; -1: not read yet
    std::int64_t end = -1;        // --once: stop here (exclusive); -1: not known
    bool done = false;            // --once: read to its end
    bool revoking = false;        // revoked: delivers nothing, waits for a checkpoint
    std::int64_t last_ts_ns = 0;  // the last delivered message's timestamp
    std::int64_t durable = -1;    // the offset in the last durable checkpoint
    source_handover handover;     // several daemons: where it stood when it was assigned
};

// A partition's next offset, as positions hold it.
struct saved_offset {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = -1;
};

// By source id ("topic/partition").
using offsets = std::map<std::string, saved_offset, std::less<>>;

std::string encode(const offsets& o) {
    byte_writer w;
    w.u8(position_version);
    w.varint(o.size());
    for (const auto& [source, saved] : o) {
        w.str(saved.topic);
        w.varint(static_cast<std::uint32_t>(saved.partition));
        w.svarint(saved.offset);
    }
    return w.take();
}

bool decode(std::string_view position, offsets& out, std::string& error) {
    out.clear();
    if (position.empty()) return true;
    byte_reader r(position);
    if (r.u8() != position_version) {
        error = "not a position of the Kafka input";
        return false;
    }
    const std::uint64_t n = r.varint();
    for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
        std::string topic(r.str());
        const auto partition = static_cast<std::int32_t>(r.varint());
        const std::int64_t offset = r.svarint();
        std::string source = kafka::source_of(topic, partition);
        out[std::move(source)] = {std::move(topic), partition, offset};
    }
    if (!r.ok()) {
        error = "Kafka offsets: " + std::string(to_string(r.error()));
        return false;
    }
    return true;
}

// The first byte at or after `from` that is not JSON whitespace.
std::size_t skip_space(std::string_view s, std::size_t from) {
    while (from < s.size() &&
           (s[from] == ' ' || s[from] == '\t' || s[from] == '\r' || s[from] == '\n')) {
        ++from;
    }
    return from;
}

// The ends of partitions that are not fetched. librdkafka hears of a partition's end (its high
// watermark) in fetch responses only: a partition paused for back-pressure would keep the end
// it had when it was paused, and its lag would read 0 however far behind it fell, the moment
// an operator most needs to see it. So while partitions are paused, a thread of the input's own
// asks the brokers for their ends (a blocking request: never on the strand).
class end_watcher {
  public:
    explicit end_watcher(rd_kafka_t* rk) : rk_(rk) {}
    end_watcher(const end_watcher&) = delete;
    end_watcher& operator=(const end_watcher&) = delete;
    ~end_watcher() { stop(); }

    // The partitions to ask about, replacing those before (none: the thread waits).
    void watch(std::vector<std::pair<std::string, std::int32_t>> partitions) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            watched_ = std::move(partitions);
            if (watched_.empty()) ends_.clear();
            if (!watched_.empty() && !thread_.joinable()) thread_ = std::thread([this] { run(); });
        }
        wake_.notify_all();
    }

    // A partition's end as last answered while it was watched (-1: not known).
    std::int64_t end(const std::string& source) const {
        std::lock_guard lock(mutex_);
        const auto it = ends_.find(source);
        return it == ends_.end() ? -1 : it->second;
    }

    // Before the client goes: waits for a request under way (at most end_query_timeout_ms).
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

  private:
    void run() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (watched_.empty()) {
                wake_.wait(lock, [this] { return stopping_ || !watched_.empty(); });
                continue;
            }
            partition_list list = new_list(static_cast<int>(watched_.size()));
            for (const auto& [topic, id] : watched_) {
                // A timestamp of -1 asks for the end (ListOffsets LATEST): one request a broker.
                rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), id)->offset =
                    RD_KAFKA_OFFSET_END;
            }
            lock.unlock();
            const auto err = rd_kafka_offsets_for_times(rk_, list.get(), end_query_timeout_ms);
            lock.lock();
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR && !watched_.empty()) {
                for (int i = 0; i < list->cnt; ++i) {
                    const auto& e = list->elems[i];
                    if (e.err == RD_KAFKA_RESP_ERR_NO_ERROR && e.offset >= 0) {
                        ends_[kafka::source_of(e.topic, e.partition)] = e.offset;
                    }
                }
            }
            wake_.wait_for(lock, end_query_every, [this] { return stopping_; });
        }
    }

    rd_kafka_t* rk_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<std::pair<std::string, std::int32_t>> watched_;
    std::map<std::string, std::int64_t, std::less<>> ends_;  // by source
    bool stopping_ = false;
    std::thread thread_;
};

class kafka_impl : public std::enable_shared_from_this<kafka_impl> {
  public:
    kafka_impl(settings s, const input_context& ctx)
        : s_(std::move(s)),
          executor_(ctx.executor),
          once_(ctx.once),
          clock_(ctx.clock),
          revoke_timer_(ctx.executor),
          pause_timer_(ctx.executor) {
        rd_kafka_conf_t* conf = kafka::make_conf(s_.props);
        rd_kafka_conf_set_opaque(conf, this);
        rd_kafka_conf_set_rebalance_cb(conf, &kafka_impl::rebalance_cb);
        rd_kafka_conf_set_error_cb(conf, &kafka_impl::error_cb);
        rd_kafka_conf_set_stats_cb(conf, &kafka_impl::stats_cb);
        std::array<char, 512> errstr{};
        rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr.data(), errstr.size());
        if (rk_ == nullptr) {
            rd_kafka_conf_destroy(conf);
            throw std::runtime_error(std::string("Kafka consumer: ") + errstr.data());
        }
        rd_kafka_poll_set_consumer(rk_);
        queue_ = rd_kafka_queue_get_consumer(rk_);
        waker_ = std::make_unique<kafka::queue_waker>(executor_, queue_);
        paused_ends_ = std::make_unique<end_watcher>(rk_);
        batch_.resize(batch_size);
    }

    ~kafka_impl() {
        release_pending();
        waker_.reset();
        close();
    }

    std::vector<source_id> initial_sources() const { return {}; }

    void start(input_events& events) {
        events_ = &events;
        started_ = true;
        partition_list subscription = new_list(1);
        if (!s_.pattern.empty()) {
            const std::string regex = s_.pattern.starts_with('^') ? s_.pattern : "^.*" + s_.pattern;
            rd_kafka_topic_partition_list_add(subscription.get(), regex.c_str(),
                                              RD_KAFKA_PARTITION_UA);
        }
        for (const auto& t : s_.topics) {
            rd_kafka_topic_partition_list_add(subscription.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
        }
        if (const auto err = rd_kafka_subscribe(rk_, subscription.get())) {
            post_failure(std::string("cannot subscribe: ") + rd_kafka_err2str(err));
            return;
        }
        schedule_poll();
    }

    // A short pause (a checkpoint's snapshot) only stops delivering; one that lasts (outputs
    // full) pauses the partitions too, so librdkafka stops fetching and memory stays bounded.
    void pause() {
        if (paused_) return;
        paused_ = true;
        pause_timer_.expires_after(pause_fetch_after);
        pause_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || !self->paused_ || self->stopped_ || self->fetch_paused_) return;
            self->fetch_paused_ = true;
            self->set_paused(false);
            self->watch_paused_ends();
        });
    }

    void resume() {
        if (!paused_) return;
        paused_ = false;
        pause_timer_.cancel();
        if (stopped_ || !started_) return;
        if (fetch_paused_) {
            fetch_paused_ = false;
            set_paused(true);
            if (paused_ends_) paused_ends_->watch({});
        }
        schedule_poll();
    }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        revoke_timer_.cancel();
        pause_timer_.cancel();
        if (waker_) waker_->cancel();
        release_pending();
    }

    std::string position() const {
        offsets o;
        for (const auto& [source, entry] : restored_) o[source] = entry;
        for (const auto& [source, p] : parts_) {
            if (p.next >= 0) o[source] = {p.topic, p.id, p.next};
        }
        return encode(o);
    }

    bool restore(std::string_view position, std::string& error) {
        return decode(position, restored_, error);
    }

    void committed(std::string_view position) {
        if (s_.partials) return;  // the query commits the cuts itself
        offsets o;
        std::string error;
        if (!decode(position, o, error) || rk_ == nullptr) return;
        partition_list commit = new_list(static_cast<int>(o.size()));
        for (auto& [source, p] : parts_) {
            const auto it = o.find(source);
            if (it == o.end() || it->second.offset < 0) continue;
            p.durable = it->second.offset;
            rd_kafka_topic_partition_list_add(commit.get(), p.topic.c_str(), p.id)->offset =
                p.durable;
        }
        if (commit->cnt > 0 && !closed_) {
            if (stopped_) {
                commit_before_leaving(commit.get());
            } else {
                rd_kafka_commit(rk_, commit.get(), 1);
            }
        }
        if (!revoking_.empty() && !stopped_) {
            const bool covered = std::all_of(revoking_.begin(), revoking_.end(), [&](auto& s) {
                const auto& p = parts_.at(s);
                return p.next < 0 || p.durable == p.next;
            });
            if (covered) hand_back();
        }
    }

    bool bounded() const { return true; }

    input_status status() const {
        input_status st;
        st.has_sources = true;
        st.connected = connected_;
        if (!connected_) st.problem = "no Kafka broker is reachable";
        st.rebalances = rebalances_;
        // Over the topics of the partitions it holds now.
        std::set<std::string_view> topics;
        for (const auto& [source, p] : parts_) {
            if (!p.revoking) topics.insert(p.topic);
        }
        for (const auto topic : topics) {
            auto it = topic_partitions_.find(topic);
            if (it == topic_partitions_.end()) {
                st.partitions_total = -1;
                break;
            }
            st.partitions_total = std::max<std::int64_t>(st.partitions_total, 0) + it->second;
        }
        const auto now = clock_ ? clock_()
                                : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
        for (const auto& [source, p] : parts_) {
            if (p.revoking) continue;
            source_status s;
            s.source = source;
            s.position = p.next;
            std::int64_t low = -1, high = -1;
            if (rd_kafka_get_watermark_offsets(rk_, p.topic.c_str(), p.id, &low, &high) !=
                RD_KAFKA_RESP_ERR_NO_ERROR) {
                high = -1;
            }
            // Paused, the partition is not fetched, and librdkafka's end stays where it was.
            if (fetch_paused_ && paused_ends_) high = std::max(high, paused_ends_->end(source));
            if (high >= 0) {
                s.end = high;
                const std::int64_t from = p.next >= 0 ? p.next : (p.durable >= 0 ? p.durable : -1);
                if (from >= 0) s.lag = std::max<std::int64_t>(0, high - from);
            }
            if (s.lag > 0 && p.last_ts_ns > 0 && now > p.last_ts_ns) {
                s.lag_seconds = static_cast<double>(now - p.last_ts_ns) / 1e9;
            }
            st.sources.push_back(std::move(s));
        }
        return st;
    }

    std::unique_ptr<partials_channel> open_partials() {
        if (!s_.partials) return nullptr;
        return kafka::make_partials_channel(*s_.partials, executor_);
    }

    std::optional<source_handover> handover(std::string_view source) const {
        const auto it = parts_.find(source);
        if (!s_.partials || it == parts_.end()) return std::nullopt;
        return it->second.handover;
    }

    // Blocking, from any thread (librdkafka's commit is thread-safe).
    bool commit_notes(const std::vector<source_note>& notes, commit_error& error) {
        if (rk_ == nullptr || closed_) {
            error.message = "the Kafka consumer is closed";
            return false;
        }
        partition_list list = new_list(static_cast<int>(notes.size()));
        for (const auto& n : notes) {
            const auto slash = n.source.rfind('/');
            if (slash == std::string::npos) continue;
            auto* e = rd_kafka_topic_partition_list_add(
                list.get(), n.source.substr(0, slash).c_str(),
                static_cast<std::int32_t>(std::stol(n.source.substr(slash + 1))));
            e->offset = n.offset;
            e->metadata = ::malloc(n.note.size());
            std::memcpy(e->metadata, n.note.data(), n.note.size());
            e->metadata_size = n.note.size();
        }
        if (list->cnt == 0) return true;
        if (const auto err = rd_kafka_commit(rk_, list.get(), 0)) {
            error = kafka::commit_failure("Kafka offset commit: ", err);
            return false;
        }
        for (int i = 0; i < list->cnt; ++i) {
            if (list->elems[i].err) {
                error = kafka::commit_failure(
                    "Kafka offset commit: " +
                        kafka::source_of(list->elems[i].topic, list->elems[i].partition) + ": ",
                    list->elems[i].err);
                return false;
            }
        }
        return true;
    }

  private:
    static void rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* list, void* opaque) {
        static_cast<kafka_impl*>(opaque)->on_rebalance(err, list);
    }
    static void error_cb(rd_kafka_t*, int err, const char* reason, void* opaque) {
        static_cast<kafka_impl*>(opaque)->on_error(static_cast<rd_kafka_resp_err_t>(err), reason);
    }
    static int stats_cb(rd_kafka_t*, char* json, std::size_t len, void* opaque) {
        static_cast<kafka_impl*>(opaque)->on_stats(std::string_view(json, len));
        return 0;
    }

    bool cooperative() const {
        return std::string_view(rd_kafka_rebalance_protocol(rk_)) == "COOPERATIVE";
    }

    void post_failure(std::string message) {
        asio::post(executor_, [self = shared_from_this(), message = std::move(message)] {
            if (!self->stopped_) self->events_->on_failure(message);
        });
    }

    void schedule_poll() {
        if (poll_posted_) return;
        poll_posted_ = true;
        asio::post(executor_, [self = shared_from_this()] {
            self->poll_posted_ = false;
            self->poll();
        });
    }

    void wait() {
        waker_->wait([self = shared_from_this()] { self->poll(); });
    }

    // Takes what the consumer queue holds, for one turn of the strand at most.
    void poll() {
        if (stopped_ || closed_ || paused_) return;
        const auto deadline = std::chrono::steady_clock::now() + turn_budget;
        for (;;) {
            deliver_pending();
            if (stopped_ || paused_) return;
            const ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, batch_.data(), batch_.size());
            if (stopped_) {
                for (ssize_t i = 0; i < n; ++i) rd_kafka_message_destroy(batch_[i]);
                return;
            }
            if (n < 0) {
                events_->on_problem("io", std::string("Kafka consumer: ") +
                                              rd_kafka_err2str(rd_kafka_last_error()));
                break;
            }
            if (n == 0) break;
            pending_.assign(batch_.begin(), batch_.begin() + n);
            next_pending_ = 0;
            if (std::chrono::steady_clock::now() >= deadline) {
                schedule_poll();
                return;
            }
        }
        if (pending_done()) {
            wait();
        } else {
            schedule_poll();
        }
    }

    bool pending_done() const { return next_pending_ >= pending_.size(); }

    void release_pending() {
        for (std::size_t i = next_pending_; i < pending_.size(); ++i) {
            rd_kafka_message_destroy(pending_[i]);
        }
        pending_.clear();
        next_pending_ = 0;
    }

    // Hands the held messages over, a run of one partition at a time, until paused.
    void deliver_pending() {
        while (!pending_done() && !paused_ && !stopped_) {
            rd_kafka_message_t* first = pending_[next_pending_];
            if (first->err) {
                on_message_error(first);
                rd_kafka_message_destroy(first);
                ++next_pending_;
                continue;
            }
            // A run of one partition's messages, within max_delivery_bytes when there is one.
            std::size_t end = next_pending_ + 1;
            std::size_t bytes = first->len;
            while (end < pending_.size() && pending_[end]->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                   pending_[end]->rkt == first->rkt &&
                   pending_[end]->partition == first->partition &&
                   (s_.max_delivery_bytes == 0 ||
                    bytes + pending_[end]->len <= s_.max_delivery_bytes)) {
                bytes += pending_[end]->len;
                ++end;
            }
            deliver_run(next_pending_, end);
            for (std::size_t i = next_pending_; i < end; ++i) rd_kafka_message_destroy(pending_[i]);
            next_pending_ = end;
        }
        if (pending_done()) {
            pending_.clear();
            next_pending_ = 0;
        }
    }

    void deliver_run(std::size_t from, std::size_t to) {
        const rd_kafka_message_t* first = pending_[from];
        const std::string source =
            kafka::source_of(rd_kafka_topic_name(first->rkt), first->partition);
        auto it = parts_.find(source);
        // Messages of a partition no longer ours (or handed back) are dropped: its next owner
        // reads them from the committed offset.
        if (it == parts_.end() || it->second.revoking || it->second.done) return;
        partition_state& p = it->second;
        connected_ = true;
        buffer_.clear();
        ends_.clear();
        meta_.clear();
        std::int64_t next = p.next;
        for (std::size_t i = from; i < to; ++i) {
            const rd_kafka_message_t* m = pending_[i];
            if (once_ && p.end >= 0 && m->offset >= p.end) break;
            next = m->offset + 1;
            const auto* payload = static_cast<const char*>(m->payload);
            const std::string_view value(payload == nullptr ? "" : payload, m->len);
            if (m->len > s_.max_record_size) {
                events_->on_problem(
                    "too_long", "Kafka " + source + " offset " + std::to_string(m->offset) +
                                    ": skipped a message of " + std::to_string(m->len) +
                                    " bytes (limit " + std::to_string(s_.max_record_size) + ")");
                continue;
            }
            const std::string_view key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
            if (s_.key_field.empty()) {
                buffer_.append(value);
            } else {
                append_with_key(value, m->key ? &key : nullptr);
            }
            ends_.push_back(static_cast<std::uint32_t>(buffer_.size()));
            rd_kafka_timestamp_type_t type;
            const std::int64_t ts_ms = rd_kafka_message_timestamp(m, &type);
            record_metadata meta;
            meta.key = key;
            meta.timestamp = ts_ms > 0 ? ts_ms * 1'000'000 : 0;
            meta.partition = m->partition;
            meta.offset = m->offset;
            meta_.push_back(meta);
            if (meta.timestamp > 0) p.last_ts_ns = meta.timestamp;
        }
        const bool changed = next != p.next;
        p.next = next;
        if (!ends_.empty()) {
            events_->on_records(
                source,
                record_delivery{
                    .bytes = buffer_.view(), .ends = ends_, .metadata = meta_, .keeper = &buffer_});
        }
        if (changed && once_) check_done(p);
    }

    // {"key_field": "<key>", ...the message's own fields}; a message that is not a JSON
    // object is handed over unchanged (the decoder reports it).
    void append_with_key(std::string_view value, const std::string_view* key) {
        const std::size_t i = skip_space(value, 0);
        if (i == value.size() || value[i] != '{') {
            buffer_.append(value);
            return;
        }
        scratch_.assign("{");
        append_json_string(s_.key_field, scratch_);
        scratch_.push_back(':');
        if (key == nullptr) {
            scratch_ += "null";
        } else {
            append_json_string(*key, scratch_);
        }
        const std::size_t j = skip_space(value, i + 1);
        if (j < value.size() && value[j] != '}') scratch_.push_back(',');
        buffer_.append(scratch_);
        buffer_.append(value.substr(i + 1));
    }

    void on_message_error(const rd_kafka_message_t* m) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (!once_ || m->rkt == nullptr) return;
            auto it = parts_.find(kafka::source_of(rd_kafka_topic_name(m->rkt), m->partition));
            if (it == parts_.end()) return;
            partition_state& p = it->second;
            // The end of the partition now, past offsets without records (transaction
            // markers). Not past the end this run reads to: messages produced since the run
            // began were fetched, but not delivered, and the position must not cover them
            // (the next reader starts at the offset committed from it).
            const std::int64_t reached = p.end >= 0 ? std::min(m->offset, p.end) : m->offset;
            if (p.next < reached) p.next = reached;
            if (p.end < 0 || m->offset >= p.end) {
                p.done = true;
                check_end();
            }
            return;
        }
        std::string where;
        if (m->rkt != nullptr) {
            where = " (" + kafka::source_of(rd_kafka_topic_name(m->rkt), m->partition) + ")";
        }
        const std::string message =
            std::string("Kafka") + where + ": " + rd_kafka_message_errstr(m);
        if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
            if (once_) {
                events_->on_failure(message);
                return;
            }
        }
        events_->on_problem("io", message);
    }

    void on_error(rd_kafka_resp_err_t err, const char* reason) {
        if (stopped_) return;
        // An outage is a state (degraded, weir_kafka_broker_up 0), not bad input: it does not
        // count against on_error.
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) connected_ = false;
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
            err == RD_KAFKA_RESP_ERR__RESOLVE || err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
            return;
        }
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            std::array<char, 512> text{};
            rd_kafka_fatal_error(rk_, text.data(), text.size());
            events_->on_client_lost(std::string("fatal Kafka consumer error: ") + text.data() +
                                    "; rebuilding the client from the last checkpoint");
            return;
        }
        events_->on_problem("io", std::string("Kafka: ") + reason);
    }

    // The statistics say whether a broker (not a bootstrap address) is up.
    void on_stats(std::string_view json) {
        // "nodeid":N ... "state":"UP" pairs; a cheap scan rather than a JSON parse every second.
        bool up = false;
        std::size_t at = 0;
        while ((at = json.find("\"nodeid\":", at)) != std::string_view::npos) {
            at += 9;
            if (at >= json.size()) break;
            if (json[at] == '-') continue;
            const auto state = json.find("\"state\":\"", at);
            if (state == std::string_view::npos) break;
            if (json.substr(state + 9, 3) == "UP\"") up = true;
        }
        // Brokers are listed before topics; a broker entry's state follows its nodeid.
        connected_ = up;
    }

    void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
            assign(list);
        } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
            revoke(list);
        } else {
            // An error: the assignment is lost; give it back and join again.
            if (!stopped_ && events_ != nullptr) {
                events_->on_problem("protocol",
                                    std::string("Kafka rebalance: ") + rd_kafka_err2str(err));
            }
            unassign(list, true);
        }
    }

    void assign(rd_kafka_topic_partition_list_t* list) {
        ++rebalances_;
        // The group's committed offsets, to resume from the larger of them and ours.
        partition_list committed(rd_kafka_topic_partition_list_copy(list));
        const bool have_committed = rd_kafka_committed(rk_, committed.get(), blocking_timeout_ms) ==
                                    RD_KAFKA_RESP_ERR_NO_ERROR;
        std::vector<source_id> added;
        for (int i = 0; i < list->cnt; ++i) {
            auto& e = list->elems[i];
            const std::string source = kafka::source_of(e.topic, e.partition);
            std::int64_t from = RD_KAFKA_OFFSET_INVALID;
            auto known = parts_.find(source);
            if (s_.partials) {
                // Several daemons: from the group's commit, a cut of the lane before.
                partition_state& p = parts_[source];
                p.handover = {};
                if (have_committed && committed->elems[i].offset >= 0) {
                    from = committed->elems[i].offset;
                    p.handover.committed = from;
                    if (committed->elems[i].metadata != nullptr) {
                        p.handover.note.assign(
                            static_cast<const char*>(committed->elems[i].metadata),
                            committed->elems[i].metadata_size);
                    }
                }
                std::int64_t low = -1, high = -1;
                if (rd_kafka_query_watermark_offsets(rk_, e.topic, e.partition, &low, &high,
                                                     blocking_timeout_ms) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR) {
                    p.handover.end = high;
                }
                p.next = -1;
            } else if (known != parts_.end() && known->second.next >= 0) {
                from = known->second.next;  // revoked and given back before it left
            } else if (auto r = restored_.find(source); r != restored_.end()) {
                from = r->second.offset;
            }
            if (from >= 0 && have_committed && !s_.partials) {
                const std::int64_t group = committed->elems[i].offset;
                if (group > from) from = group;
            }
            e.offset = from;
            partition_state& p = parts_[source];
            p.topic = e.topic;
            p.id = e.partition;
            p.revoking = false;
            p.done = false;
            if (from >= 0) p.next = from;
            if (known == parts_.end()) added.push_back(source);
            revoking_.erase(source);
        }
        count_partitions(list);
        if (cooperative()) {
            if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_, list)) {
                report_error("incremental assign", error);
            }
        } else {
            rd_kafka_assign(rk_, list);
        }
        // A partition paused before it left stays paused in librdkafka when it comes back.
        if (fetch_paused_) {
            rd_kafka_pause_partitions(rk_, list);
            watch_paused_ends();
        } else {
            rd_kafka_resume_partitions(rk_, list);
        }
        if (stopped_ || events_ == nullptr) return;
        if (!added.empty()) events_->on_sources_changed(added, {});
        if (once_) {
            for (int i = 0; i < list->cnt; ++i) {
                partition_state& p =
                    parts_[kafka::source_of(list->elems[i].topic, list->elems[i].partition)];
                std::int64_t low = -1, high = -1;
                if (rd_kafka_query_watermark_offsets(rk_, p.topic.c_str(), p.id, &low, &high,
                                                     blocking_timeout_ms) !=
                    RD_KAFKA_RESP_ERR_NO_ERROR) {
                    continue;  // its end is where it says end of partition
                }
                p.end = high;
                check_done(p);
            }
            assigned_ = true;
            check_end();
        }
    }

    // How many partitions the topics of an assignment have (a metadata request per topic not
    // known yet): what the members of the group share.
    void count_partitions(const rd_kafka_topic_partition_list_t* list) {
        for (int i = 0; i < list->cnt; ++i) {
            const char* topic = list->elems[i].topic;
            if (topic_partitions_.contains(topic)) continue;
            rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic, nullptr);
            if (rkt == nullptr) continue;
            const rd_kafka_metadata_t* md = nullptr;
            if (rd_kafka_metadata(rk_, 0, rkt, &md, blocking_timeout_ms) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR &&
                md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                topic_partitions_[topic] = md->topics[0].partition_cnt;
            }
            if (md != nullptr) rd_kafka_metadata_destroy(md);
            rd_kafka_topic_destroy(rkt);
        }
    }

    void revoke(rd_kafka_topic_partition_list_t* list) {
        if (stopped_ || closed_ || events_ == nullptr) {
            unassign(list, false);
            return;
        }
        // Lost (the group moved on without us, e.g. our session expired in an outage): there
        // is nothing to hand over; our offsets stay known in case they come back to us.
        if (rd_kafka_assignment_lost(rk_)) {
            unassign(list, true);
            return;
        }
        if (s_.partials) {
            // Nothing to wait for: the next owner starts at the last registered cut.
            std::vector<source_id> removed;
            for (int i = 0; i < list->cnt; ++i) {
                const std::string source =
                    kafka::source_of(list->elems[i].topic, list->elems[i].partition);
                if (auto it = parts_.find(source); it != parts_.end()) {
                    parts_.erase(it);
                    removed.push_back(source);
                }
            }
            unassign(list, false);
            if (!removed.empty()) events_->on_sources_changed({}, removed);
            return;
        }
        partition_list revoked(rd_kafka_topic_partition_list_copy(list));
        for (int i = 0; i < list->cnt; ++i) {
            const std::string source =
                kafka::source_of(list->elems[i].topic, list->elems[i].partition);
            auto it = parts_.find(source);
            if (it == parts_.end()) continue;
            it->second.revoking = true;
            revoking_.insert(source);
        }
        rd_kafka_pause_partitions(rk_, revoked.get());
        revoke_list_ = std::move(revoked);
        revoke_timer_.expires_after(revoke_wait);
        revoke_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec && !self->stopped_ && !self->revoking_.empty()) self->hand_back();
        });
        events_->on_checkpoint_wanted();
    }

    // The revoked partitions go back to the group with the offsets of the last durable
    // checkpoint (all they delivered, once one covered them).
    void hand_back() {
        revoke_timer_.cancel();
        partition_list commit = new_list(static_cast<int>(revoking_.size()));
        std::vector<source_id> removed;
        for (const auto& source : revoking_) {
            auto it = parts_.find(source);
            if (it == parts_.end()) continue;
            if (it->second.durable >= 0) {
                rd_kafka_topic_partition_list_add(commit.get(), it->second.topic.c_str(),
                                                  it->second.id)
                    ->offset = it->second.durable;
            }
            forget(it);
            removed.push_back(source);
        }
        revoking_.clear();
        // Committed before the partitions go: their next owner starts from the group's offset.
        // The wait is bounded, so a coordinator that is down cannot hold the strand long.
        if (commit->cnt > 0) commit_before_leaving(commit.get());
        if (revoke_list_) {
            unassign(revoke_list_.get(), false);
            revoke_list_.reset();
        }
        if (!removed.empty() && !stopped_) events_->on_sources_changed({}, removed);
    }

    void unassign(rd_kafka_topic_partition_list_t* list, bool lost) {
        if (cooperative()) {
            if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, list)) {
                report_error("incremental unassign", error);
            }
        } else {
            rd_kafka_assign(rk_, nullptr);
        }
        if (lost || stopped_) {
            std::vector<source_id> removed;
            for (int i = 0; list != nullptr && i < list->cnt; ++i) {
                const std::string source =
                    kafka::source_of(list->elems[i].topic, list->elems[i].partition);
                if (auto it = parts_.find(source); it != parts_.end()) {
                    forget(it);
                    removed.push_back(source);
                }
                revoking_.erase(source);
            }
            if (!removed.empty() && !stopped_ && events_ != nullptr) {
                events_->on_sources_changed({}, removed);
            }
        }
    }

    // Offsets committed before partitions leave this member (handed back, or the consumer
    // leaves the group): their next owner starts there. Waits a bounded time, so a coordinator
    // that is down holds neither the strand nor a shutdown long.
    void commit_before_leaving(rd_kafka_topic_partition_list_t* offsets) {
        rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
        if (rd_kafka_commit_queue(rk_, offsets, q, nullptr, nullptr) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 2000);
            std::string problem;
            if (ev == nullptr) {
                problem = "no answer within 2 s";
            } else if (rd_kafka_event_error(ev)) {
                problem = rd_kafka_event_error_string(ev);
            } else if (const auto* done = rd_kafka_event_topic_partition_list(ev)) {
                for (int i = 0; i < done->cnt && problem.empty(); ++i) {
                    if (done->elems[i].err) problem = rd_kafka_err2str(done->elems[i].err);
                }
            }
            if (ev != nullptr) rd_kafka_event_destroy(ev);
            if (!problem.empty() && events_ != nullptr && !closed_) {
                events_->on_problem("protocol", "Kafka offset commit: " + problem);
            }
        }
        rd_kafka_queue_destroy(q);
    }

    // A partition leaves us; where we got to stays known (position() keeps it), so that if it
    // comes back it resumes there, or further on where another member committed more.
    void forget(std::map<std::string, partition_state, std::less<>>::iterator it) {
        const partition_state& p = it->second;
        if (p.next >= 0) restored_[it->first] = {p.topic, p.id, p.next};
        parts_.erase(it);
    }

    void report_error(const char* what, rd_kafka_error_t* error) {
        if (!stopped_ && events_ != nullptr) {
            events_->on_problem("protocol",
                                std::string("Kafka ") + what + ": " + rd_kafka_error_string(error));
        }
        rd_kafka_error_destroy(error);
    }

    // Pauses (or resumes) the partitions that deliver: not those revoked or read to the end.
    void set_paused(bool resume) {
        partition_list list = new_list(static_cast<int>(parts_.size()));
        for (const auto& [source, p] : parts_) {
            if (p.revoking || p.done) continue;
            rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.id);
        }
        if (list->cnt == 0) return;
        if (resume) {
            rd_kafka_resume_partitions(rk_, list.get());
        } else {
            rd_kafka_pause_partitions(rk_, list.get());
        }
    }

    // While fetching is paused: the partitions whose ends are asked for.
    void watch_paused_ends() {
        if (!paused_ends_) return;
        std::vector<std::pair<std::string, std::int32_t>> partitions;
        for (const auto& [source, p] : parts_) {
            if (!p.revoking && !p.done) partitions.emplace_back(p.topic, p.id);
        }
        paused_ends_->watch(std::move(partitions));
    }

    void check_done(partition_state& p) {
        if (p.done || p.end < 0 || p.next < 0 || p.next < p.end) return;
        p.done = true;
        partition_list one = new_list(1);
        rd_kafka_topic_partition_list_add(one.get(), p.topic.c_str(), p.id);
        rd_kafka_pause_partitions(rk_, one.get());
        check_end();
    }

    void check_end() {
        if (!once_ || !assigned_ || ended_ || stopped_) return;
        for (const auto& [source, p] : parts_) {
            if (!p.done) return;
        }
        ended_ = true;
        events_->on_end();
    }

    // Leaves the group within a bounded time (a consumer whose brokers are gone would wait
    // out the session otherwise), then frees the client.
    void close() {
        if (rk_ == nullptr) return;
        // The offsets of the last durable checkpoint reach the group before we leave it: an
        // asynchronous commit still on its way would be lost, and the next owner would read
        // again what this member counted.
        partition_list last = new_list(static_cast<int>(parts_.size()));
        for (const auto& [source, p] : parts_) {
            if (p.durable >= 0) {
                rd_kafka_topic_partition_list_add(last.get(), p.topic.c_str(), p.id)->offset =
                    p.durable;
            }
        }
        if (last->cnt > 0) commit_before_leaving(last.get());
        paused_ends_.reset();  // its thread uses the client
        closed_ = true;
        stopped_ = true;
        kafka::close_consumer(rk_, queue_);
        queue_ = nullptr;
        rk_ = nullptr;
    }

    settings s_;
    asio::any_io_executor executor_;
    bool once_;
    wall_clock clock_;
    asio::steady_timer revoke_timer_;
    asio::steady_timer pause_timer_;
    rd_kafka_t* rk_ = nullptr;
    rd_kafka_queue_t* queue_ = nullptr;
    std::unique_ptr<kafka::queue_waker> waker_;
    std::unique_ptr<end_watcher> paused_ends_;  // asked while fetching is paused
    input_events* events_ = nullptr;

    std::map<std::string, partition_state, std::less<>> parts_;  // owned (and being revoked)
    offsets restored_;                                           // from the checkpoint
    std::set<std::string, std::less<>> revoking_;
    partition_list revoke_list_;

    std::vector<rd_kafka_message_t*> batch_;
    std::vector<rd_kafka_message_t*> pending_;  // taken from the queue, not handed over yet
    std::size_t next_pending_ = 0;
    padded_buffer buffer_;
    std::vector<std::uint32_t> ends_;
    std::vector<record_metadata> meta_;
    std::string scratch_;

    std::uint64_t rebalances_ = 0;
    std::map<std::string, int, std::less<>> topic_partitions_;  // by topic: its partitions
    bool connected_ = true;
    bool started_ = false;
    bool paused_ = false;
    bool fetch_paused_ = false;
    bool stopped_ = false;
    bool closed_ = false;
    bool poll_posted_ = false;
    bool assigned_ = false;
    bool ended_ = false;
};

settings read_settings(const params::reader& p, const input_context& ctx) {
    settings s;
    s.props = kafka::client_properties(p);
    // Each query reads all of the input: in one group, the queries of a pipeline that read the
    // same input would split its partitions between them. So a query that shares the input
    // with others has a group of its own.
    const std::string group =
        ctx.readers > 1 ? p.string("group").value + "." + ctx.query : p.string("group").value;
    s.props.emplace_back("group.id", group);
    s.props.emplace_back("auto.offset.reset", p.string("start").value);
    s.props.emplace_back("enable.auto.commit", "false");
    s.props.emplace_back("enable.auto.offset.store", "false");
    s.props.emplace_back("enable.partition.eof", ctx.once ? "true" : "false");
    s.props.emplace_back("statistics.interval.ms", "1000");
    bool strategy = false;
    if (p.has("kafka")) {
        for (const auto& [key, value] : p.string_map("kafka")) {
            if (key == "partition.assignment.strategy") strategy = true;
        }
    }
    // Cooperative rebalancing keeps the partitions a member keeps flowing during a rebalance.
    if (!strategy) {
        s.props.insert(s.props.begin() + 2,
                       {"partition.assignment.strategy", "cooperative-sticky"});
    }
    if (p.has("topics")) {
        for (const auto& t : p.strings("topics")) s.topics.push_back(t.value);
    }
    if (p.has("topic_pattern")) s.pattern = p.string("topic_pattern").value;
    if (p.has("key_field")) s.key_field = p.string("key_field").value;
    if (p.has("partials_topic") && !ctx.once) {
        kafka::partials_settings ps;
        ps.client = kafka::client_properties(p);
        ps.topic = p.string("partials_topic").value;
        ps.group = p.string("group").value + ".partials." + ctx.query;
        ps.topics = s.topics;
        ps.max_held = p.size("partials_max_held").value;
        s.partials = std::move(ps);
    }
    s.max_record_size = static_cast<std::size_t>(
        std::min<std::uint64_t>(p.size("max_record_size").value, ctx.max_record_size));
    s.max_delivery_bytes = ctx.max_delivery_bytes;
    return s;
}

// The facade, with what only a Kafka input does: several daemons.
class kafka_input final : public input_facade<kafka_impl> {
  public:
    using input_facade<kafka_impl>::input_facade;
    std::unique_ptr<partials_channel> open_partials() override { return impl().open_partials(); }
    std::optional<source_handover> handover(std::string_view source) const override {
        return impl().handover(source);
    }
    std::function<bool(const std::vector<source_note>&, commit_error&)> committer() override {
        return [impl = impl().shared_from_this()](const std::vector<source_note>& notes,
                                                  commit_error& error) {
            return impl->commit_notes(notes, error);
        };
    }
};

}  // namespace

std::unique_ptr<input> make_kafka_input(const params::reader& p, const input_context& ctx) {
    return std::make_unique<kafka_input>(read_settings(p, ctx), ctx);
}

}  // namespace weir::connectors
