// The state machines of the joins of two streams (DESIGN.md §2 "Joins and dependencies"): an
// interval join pairs records of equal keys whose event times are at most `within` apart; a
// temporal (as-of) join pairs each left record with the latest right version of its key at or
// before its time. Independent of the node chain (which feeds it records and windows what comes
// out), so it can be tested against a brute-force reference.
//
// Watermarks. Each side has its sources (files, Kafka partitions); the join's watermark is the
// watermark_tracker over the sources of both sides: the smallest newest event time of the active
// sources minus allowed_lateness, an idle source (idle_timeout of wall clock without records) no
// longer holding it back, and everything quiet moving it on with the wall clock. A record whose
// event time is behind the join's watermark when it arrives is late: counted per side and not
// joined (a temporal join's right version is late behind the right side's watermark).
//
// Interval join: a record is final once the join's watermark has passed `time + within` (no
// record that is not late can match it any more). Records wait in arrival order per key; a
// left record's rows (each matching right record, or the unmatched row of kind left/full) come
// out when it is final, and an unmatched right row (full) when the right record is final, so
// rows leave in event-time order and no unmatched row ever precedes a match. A right record
// stays while a left record that is not final yet matches it (it needs its values). Duplicate
// keys multiply (every matching pair is a row). Records are finalised in (time, arrival)
// order: a small heap takes the records ahead of the watermark, and those behind it (no record
// to come can be older) queue in order.
//
// Temporal join: a left record waits until the right side's watermark has passed its time (a
// right version at or before it that is not late may still come), then pairs with the newest
// right version of its key at or before its time (of equal times, the last to arrive), at most
// `within` older when within > 0; unmatched left records come out with kind left. Right versions
// no left record can ask for any more are pruned: of those at or before the join's watermark
// (and every waiting left record) only the newest per key stays, and none older than `within`.
//
// Buffered records own their data (the values the caller hands over are copied). The rows a call
// produces are kept until clear_rows(); their values live as long as the rows.
//
// Not thread-safe. No exception on the data path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/record/arena.h"
#include "core/record/field_value.h"
#include "core/record/huge_pages.h"
#include "core/record/prefetch.h"
#include "core/window/watermark.h"

namespace weir::join {

using time::timestamp_ns;

enum class join_type : std::uint8_t { interval, temporal };
enum class join_kind : std::uint8_t { inner, left, full };
enum class join_side : std::uint8_t { left, right };

const char* to_string(join_type t);
const char* to_string(join_kind k);
const char* to_string(join_side s);

struct join_options {
    join_type type = join_type::interval;
    join_kind kind = join_kind::inner;
    // Interval: the largest |left.time - right.time| of a pair (inclusive). Temporal: the
    // oldest a right version may be for a left record (left.time - right.time <= within);
    // 0: no limit.
    timestamp_ns within = 0;
    timestamp_ns allowed_lateness = 0;
    timestamp_ns idle_timeout = 0;  // 0: a silent source holds the watermark back forever
    // Rows come out in event-time order, each once no row before it can come any more (see
    // frontier()): what a window engine after the join needs. Else a temporal join's rows come
    // out as soon as they are known (an interval join's are always in order).
    bool ordered = false;
};

// The bytes a key value is compared by: false when the value is missing (absent, null), and
// such a record matches nothing. Numbers and strings never equal each other.
bool encode_key(const field_value& v, std::string& out);

// One row the join produced. Spans are empty on the side that has no record.
struct joined_row {
    timestamp_ns time = 0;  // the left record's event time; an unmatched right row's own
    bool has_left = false;
    bool has_right = false;
    std::span<const field_value> left;
    std::span<const field_value> right;
};

class stream_join {
  public:
    // Records of the left side carry `left_slots` values, the right side's `right_slots`.
    stream_join(const join_options& options, std::size_t left_slots, std::size_t right_slots,
                timestamp_ns wall_now);
    ~stream_join();
    stream_join(const stream_join&) = delete;
    stream_join& operator=(const stream_join&) = delete;

    const join_options& options() const { return options_; }

    // A watermark source of a side, by a stable id (snapshots restore sources by id); returns
    // its index for add(). It holds the watermark back from `wall_now` until its first record
    // or its idle timeout.
    std::size_t add_source(join_side side, std::string id, timestamp_ns wall_now);
    void remove_source(join_side side, std::size_t source);
    // The live source `id` of the side, or npos.
    std::size_t find_source(join_side side, std::string_view id) const;
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    // A record of `side` from `source` (an index add_source() gave for that side), with its
    // event time, key (null: missing, matches nothing) and values (the side's slot count).
    // Returns false when it is late (counted, not joined). Rows due come out at once.
    bool add(join_side side, std::size_t source, timestamp_ns time, const std::string* key,
             std::span<const field_value> values, timestamp_ns wall_now) {
        return add(side, source, time, key, key != nullptr ? hash_key(*key) : 0, values, wall_now);
    }
    // The same with the key's hash_key() known. A caller with many records hashes their keys
    // first and prefetches each a few records ahead of its add(): the key table is probed at
    // random, and a state of many keys is far larger than the cache.
    bool add(join_side side, std::size_t source, timestamp_ns time, const std::string* key,
             std::uint32_t hash, std::span<const field_value> values, timestamp_ns wall_now);
    static std::uint32_t hash_key(std::string_view key) {
        return static_cast<std::uint32_t>(std::hash<std::string_view>{}(key));
    }
    // The key's slot in the table into the cache; `entry`: its entry too (the slot must be
    // there already, from an earlier call).
    void prefetch_key(std::uint32_t hash, bool entry) const {
        if (key_table_.empty()) return;
        const key_slot& slot = key_table_[hash & (key_table_.size() - 1)];
        if (!entry) {
            prefetch(&slot);
        } else if (slot.entry != k_nil) {
            prefetch(&key_pool_[slot.entry]);
        }
    }
    // The wall clock moved on (idle sources): rows that became due come out.
    void advance(timestamp_ns wall_now);
    // Every input ended: the watermark goes to +infinity and every buffered row comes out.
    void finish();

    // The rows produced since the last clear_rows(), in order.
    std::size_t rows() const { return rows_.size(); }
    joined_row row(std::size_t i) const;
    void clear_rows();

    timestamp_ns watermark() const { return all_.watermark(); }

    // depends_on (core/window/dependency.h): how source `source` of `side` holds the join's
    // watermark back (taken at the next add() or advance()), and what the sources have seen.
    void set_source_hold(join_side side, std::size_t source,
                         window::watermark_tracker::hold_mode mode) {
        all_.set_hold(sources_[static_cast<std::size_t>(side)][source], mode);
        if (side != join_side::right) return;
        right_.set_hold(right_sources_[source], mode);
        // Every right source released (down, ended): no right version is waited for, so
        // a temporal join answers its left records as the join's watermark passes them.
        right_released_ = true;
        for (const std::uint32_t r : right_sources_) {
            right_released_ =
                right_released_ && right_.hold(r) == window::watermark_tracker::hold_mode::released;
        }
    }
    window::watermark_tracker::hold_mode source_hold(join_side side, std::size_t source) const {
        return all_.hold(sources_[static_cast<std::size_t>(side)][source]);
    }
    timestamp_ns source_max_event(join_side side, std::size_t source) const {
        return all_.source_max_event(sources_[static_cast<std::size_t>(side)][source]);
    }
    timestamp_ns source_last_active(join_side side, std::size_t source) const {
        return all_.source_last_active(sources_[static_cast<std::size_t>(side)][source]);
    }
    // The newest event time of any source of either side.
    timestamp_ns max_event_time() const { return all_.max_event_time(); }
    // No row the join produces from now on has an event time before this (k_no_time: not
    // known yet; +infinity once finished). With `ordered`, the rows out so far are every row
    // before it, in order: a window engine after the join can take it as its watermark.
    timestamp_ns frontier() const;
    // Rows produced but held back for their turn (ordered).
    std::size_t held_rows() const { return held_.size(); }
    std::uint64_t late(join_side side) const { return late_[static_cast<std::size_t>(side)]; }
    // Records held (interval: both sides; temporal: right versions and waiting left records).
    std::size_t buffered() const { return live_; }
    // The memory they take, approximately (records, their copied values, keys, indexes).
    std::size_t buffered_bytes() const;

    // The whole state; restore() into a join built with the same options and slot counts, whose
    // sources are added already (saved sources are matched by id).
    void snapshot(byte_writer& w) const;
    bool restore(byte_reader& r);

  private:
    static constexpr std::uint32_t k_nil = static_cast<std::uint32_t>(-1);
    struct key_entry {
        std::string key;
        std::uint32_t hash = 0;
        std::uint32_t index = 0;  // in key_pool_
        std::uint32_t refs = 0;   // records that point here
        // Interval: the buffered records of each side in arrival order, a list through the
        // records (record::prev, next).
        std::uint32_t head[2] = {k_nil, k_nil};
        std::uint32_t tail[2] = {k_nil, k_nil};
        // Temporal: the right versions by (time, seq); waiting left records are not listed.
        std::vector<std::uint32_t> versions;
    };
    struct record;
    struct due;  // a heap entry

    // The keys: an open-addressing table (linear probing, backward-shift deletion) of a
    // key's hash and its entry in key_pool_, whose entries never move (records point at them)
    // and are reused with their capacity when a key leaves (key_free_).
    struct key_slot {
        std::uint32_t hash = 0;
        std::uint32_t entry = static_cast<std::uint32_t>(-1);  // -1: empty
    };
    key_entry* key_of(std::string_view key, std::uint32_t hash);
    void erase_key(key_entry& e);
    void grow_keys();

    // A record into a free slot, its values copied (`encoded` when given, else `values`).
    std::uint32_t store(join_side side, timestamp_ns time, std::uint64_t seq, key_entry* key,
                        std::span<const field_value> values, std::string_view encoded);
    void remove(std::uint32_t id);
    void emit(const record* left, const record* right, timestamp_ns time);
    void append_values(std::string_view encoded, std::size_t slots);
    // A row into rows_ (the values as encoded; nullopt: no record on that side).
    void out(timestamp_ns time, std::optional<std::string_view> left,
             std::optional<std::string_view> right);
    // Ordered: the held rows the frontier has passed, into rows_.
    void release();
    // Interval: a record into its key's list and the queue to be finalised; its rows out (and
    // it gone, unless a left record to come needs it) once it is final.
    void interval_arrive(std::uint32_t id);
    void interval_final(std::uint32_t id);
    void unlink(record& r, std::uint32_t id);
    // Interval: the oldest buffered record of the other side with r's key, or k_nil.
    static std::uint32_t first_other(const record& r);
    void temporal_answer(const record& left);
    void temporal_insert_right(std::uint32_t id);
    void update(timestamp_ns wall_now);
    void expire();
    std::uint32_t index_of(join_side side, std::size_t source) const;
    std::size_t slots(join_side side) const {
        return side == join_side::left ? left_slots_ : right_slots_;
    }

    join_options options_;
    bool ordered_;
    std::size_t left_slots_;
    std::size_t right_slots_;
    // Over the sources of both sides; the right side's alone (temporal joins).
    window::watermark_tracker all_;
    window::watermark_tracker right_;
    // Per side: source index of the side -> index in all_ (and in right_ for the right side).
    std::vector<std::uint32_t> sources_[2];
    std::vector<std::uint32_t> right_sources_;
    bool right_released_ = false;  // set_source_hold(): every right source released

    huge_vector<key_slot> key_table_;  // a power of two long, at most half full
    stable_pool<key_entry> key_pool_;
    std::vector<std::uint32_t> key_free_;
    std::size_t keys_ = 0;
    huge_vector<record> records_;  // slots; free ones listed in free_
    std::vector<std::uint32_t> free_;
    std::size_t live_ = 0;
    std::size_t value_bytes_ = 0;
    std::uint64_t next_seq_ = 0;
    std::uint64_t late_[2] = {0, 0};
    // Interval: the records not behind the join's watermark yet, in buckets of event time (a
    // ring of them from the watermark's bucket on; those beyond it in a min-heap), and those
    // behind it in (time, seq) order, finalised from the front. A record that is not late is
    // never behind the watermark, so each step the watermark takes sorts only the records it
    // passes and appends them.
    static constexpr int k_bucket_shift = 26;           // 67 ms
    static constexpr std::size_t k_min_buckets = 1024;  // 69 s, and twice as long as needed
    static constexpr std::size_t k_max_buckets = std::size_t{1} << 16;  // 73 min
    std::vector<std::vector<due>> ring_;
    // The watermark's bucket, sorted by (time, seq) from the back (the oldest last), so each
    // step the watermark takes within it pops what it passed; a record arriving into it
    // unsorts it (`ring_sorted_` false).
    std::int64_t ring_sorted_bucket_ = 0;
    bool ring_sorted_ = false;
    std::size_t ring_count_ = 0;
    std::int64_t ring_base_ = 0;  // the bucket of ring_'s first (the watermark's)
    bool ring_started_ = false;
    std::vector<due> beyond_;  // a min-heap
    std::vector<due> passing_;
    std::deque<due> behind_;
    // ahead into the ring or beyond_; behind_ gets what the watermark `w` passed.
    void enqueue(const due& d);
    void grow_ring();
    void settle(timestamp_ns w);
    // Min-heaps by (time, seq). Temporal: waiting left records by time (pending_), right
    // versions by time (versions_), and right versions kept as the newest of their key by
    // time + within (retained_).
    std::vector<due> pending_;
    std::vector<due> versions_;
    std::vector<due> retained_;

    // Ordered: rows held until the frontier passes them, a min-heap by (time, seq) of small
    // entries; their values wait in slots of held_rows_ (free ones listed in held_free_, their
    // strings keeping their capacity: no allocation per row at a steady state).
    struct held_entry {
        timestamp_ns time = 0;
        std::uint64_t seq = 0;
        std::uint32_t slot = 0;
        bool operator<(const held_entry& o) const;
    };
    struct held_row {
        bool has_left = false;
        bool has_right = false;
        std::string left;  // encoded values
        std::string right;
    };
    // A row into held_.
    void hold(timestamp_ns time, std::uint64_t seq, std::optional<std::string_view> left,
              std::optional<std::string_view> right);
    std::vector<held_entry> held_;
    std::vector<held_row> held_rows_;
    std::vector<std::uint32_t> held_free_;
    std::uint64_t next_held_ = 0;
    std::size_t held_bytes_ = 0;

    struct out_row {
        timestamp_ns time;
        std::uint32_t left;  // offset in out_values_, or k_none
        std::uint32_t right;
    };
    std::vector<out_row> rows_;
    std::vector<field_value> out_values_;
    arena out_strings_;
};

}  // namespace weir::join
