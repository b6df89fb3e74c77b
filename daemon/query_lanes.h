// A query spread over lanes (query.h): what a lane's work carries over strands — problems and
// deliveries that outlive their calls, the pool of delivery copies — and the lane itself.
// Private to the query's translation units.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/record/delivery.h"
#include "core/record/padded_buffer.h"
#include "daemon/query.h"

namespace weir::daemon {

// ---- lanes: the query's sources spread over partition-local chains ----

// A record_problem that outlives the lane's call (its views are the lane chain's).
struct owned_problem {
    std::size_t input = 0;
    std::string source;
    std::int64_t offset = -1;
    invalid_reason reason = invalid_reason::none;
    std::string field;
    std::string rule;
    std::string message;

    explicit owned_problem(const chain::record_problem& p)
        : input(p.input),
          source(p.source),
          offset(p.offset),
          reason(p.reason),
          field(p.field),
          rule(p.rule),
          message(p.message) {}
    chain::record_problem view() const {
        chain::record_problem p;
        p.input = input;
        p.source = source;
        p.offset = offset;
        p.reason = reason;
        p.field = field;
        p.rule = rule;
        p.message = message;
        return p;
    }
};

// A delivery that outlives the input's call: the lane reads it later, on its own strand. Its
// bytes are the source's own, kept, when the source lets them be kept; copied otherwise.
struct owned_delivery {
    std::shared_ptr<const void> kept;  // holds `bytes_view`'s memory when the source kept it
    std::string_view bytes_view;
    std::string bytes;  // a copy of the records' bytes, then k_record_padding zero bytes
    std::vector<std::uint32_t> ends;
    std::string keys;  // the metadata's keys, one after the other
    std::vector<record_metadata> metadata;
    std::string origin;
    std::int64_t offset = -1;

    // Reuses the buffers' memory: a fresh megabyte per delivery costs more in page faults
    // than the copy itself.
    void assign(const connectors::record_delivery& d) {
        kept = d.keeper != nullptr ? d.keeper->keep() : nullptr;
        if (kept) {
            bytes_view = d.bytes;
        } else {
            bytes.clear();
            bytes.reserve(d.bytes.size() + k_record_padding);
            bytes.append(d.bytes);
            bytes.append(k_record_padding, '\0');
            bytes_view = std::string_view(bytes.data(), d.bytes.size());
        }
        ends.assign(d.ends.begin(), d.ends.end());
        metadata.assign(d.metadata.begin(), d.metadata.end());
        origin.assign(d.origin);
        offset = d.offset;
        keys.clear();
        for (const auto& m : metadata) keys.append(m.key);
        std::size_t at = 0;
        for (auto& m : metadata) {
            const std::size_t n = m.key.size();
            m.key = std::string_view(keys).substr(at, n);
            at += n;
        }
    }
    connectors::record_delivery view() const {
        connectors::record_delivery d;
        d.bytes = bytes_view;
        d.ends = ends;
        d.metadata = metadata;
        d.origin = origin;
        d.offset = offset;
        return d;
    }
};

// Deliveries a lane may have in hand before reading pauses, per lane. The query's strand reads
// for every lane, and merges and writes the windows the lanes hand over: while it writes one,
// the lanes live on what they hold. W1's data as 6 files with --threads 2 (bench/spread, 21
// pairs): 8 (2 MiB a lane, a few milliseconds of decoding) let the lanes wait at each window's
// end, 1.71x the events per second of one thread for 1.10x the CPU; 32, 1.84x for 1.05x, 1.5 to
// 4 MiB more at the peak. 64 gave no more.
constexpr std::size_t k_lane_backlog = 32;
// Deliveries' copies the pool keeps when the lanes hand them back: their ends and metadata, and
// for an input whose bytes are copied, not kept, the bytes' buffer too.
constexpr std::size_t k_kept_copies = 32;
// Most bytes of a delivery for a lane: it is read on one core and decoded on another, where it
// is found in the cache only while it fits the reading core's L2 cache with room to spare. W1's
// data as 6 files with --threads 2: 1 MiB reads gave 1.20x the events per second of one
// thread for 1.54x the CPU; 256 KiB reads 1.58x for 1.12x (bench/spread).
constexpr std::size_t k_lane_delivery_bytes = 256 * 1024;

// Copies of deliveries, handed back by the lanes (on their strands) for the next delivery.
class delivery_pool : public std::enable_shared_from_this<delivery_pool> {
  public:
    std::shared_ptr<const owned_delivery> copy(const connectors::record_delivery& d) {
        std::unique_ptr<owned_delivery> c;
        {
            std::lock_guard lock(mutex_);
            if (!free_.empty()) {
                c = std::move(free_.back());
                free_.pop_back();
            }
        }
        if (!c) c = std::make_unique<owned_delivery>();
        c->assign(d);
        return std::shared_ptr<const owned_delivery>(
            c.release(), [pool = shared_from_this()](const owned_delivery* used) {
                std::unique_ptr<owned_delivery> back(const_cast<owned_delivery*>(used));
                back->kept.reset();  // the source's memory goes back to it now, not at reuse
                std::lock_guard lock(pool->mutex_);
                if (pool->free_.size() < k_kept_copies) pool->free_.push_back(std::move(back));
            });
    }

  private:
    std::mutex mutex_;
    std::vector<std::unique_ptr<owned_delivery>> free_;
};

// What a lane's chain hands its sink, kept in order as calls to make on the query's strand.
class query::lane_sink final : public chain::chain_sink {
  public:
    using event = std::function<void(query&)>;
    std::vector<event> take() { return std::exchange(events_, {}); }

    bool on_decoded(std::size_t input, std::size_t records, std::size_t bytes, std::size_t invalid,
                    const chain::record_problem* first) override {
        std::optional<owned_problem> p;
        if (first != nullptr) p.emplace(*first);
        events_.push_back([=, p = std::move(p)](query& q) {
            const chain::record_problem view = p ? p->view() : chain::record_problem{};
            q.on_decoded(input, records, bytes, invalid, p ? &view : nullptr);
        });
        return true;
    }
    bool on_rejected(std::size_t node, std::size_t count,
                     const chain::record_problem& first) override {
        events_.push_back([node, count, p = owned_problem(first)](query& q) {
            q.on_rejected(node, count, p.view());
        });
        return true;
    }
    void on_failure(const std::string& message) override {
        events_.push_back([message](query& q) { q.on_failure(message); });
    }
    void on_results(std::size_t, std::span<const check_result>) override {}
    bool admit(std::size_t, chain::output_index, std::size_t) override { return true; }
    void write_result(chain::output_index, const check_result&) override {}
    void write_record(chain::output_index output, std::string_view json) override {
        // Dead letters: the query's own admission decides at its turn.
        events_.push_back([output, json = std::string(json)](query& q) {
            if (q.admit(0, output, 1)) q.write_record(output, json);
        });
    }
    // `weir tap` of a node's records: the lane offers them itself (a tap point takes items
    // from any thread).
    bool tapping(std::size_t node) override {
        return taps != nullptr && node < taps->size() && (*taps)[node]->wanted(tap_kind::records);
    }
    bool tap_record(std::size_t node, std::string_view json) override {
        return (*taps)[node]->offer(tap_kind::records, json);
    }
    void tap_skipped(std::size_t node, std::size_t count) override {
        (*taps)[node]->skip(tap_kind::records, count);
    }
    void on_partials(std::size_t node, engine::partial_batch& batch) override {
        // All of it (the engine names its source again for the next hand-over).
        events_.push_back(
            [node, b = std::move(batch)](query& q) mutable { q.on_lane_partials(node, b); });
    }

    // The query's tap points, by node (set before the lane's first work; never changed).
    const std::vector<std::shared_ptr<tap_point>>* taps = nullptr;

  private:
    std::vector<event> events_;
};

struct query::lane {
    explicit lane(boost::asio::io_context& io) : strand(boost::asio::make_strand(io)) {}
    boost::asio::strand<boost::asio::io_context::executor_type> strand;
    lane_sink sink;
    std::unique_ptr<chain::node_chain> chain;
    // What the lane's chain counted per node, as of its latest work: the merge step's chain
    // sees cells, not records, so the records a lane dropped are counted from here.
    struct counts {
        std::vector<engine::engine_stats> engine;
        std::vector<std::uint64_t> bad_time;
        std::vector<std::uint64_t> future_time;
    };
    counts reported;  // on the query's strand
};

}  // namespace weir::daemon
