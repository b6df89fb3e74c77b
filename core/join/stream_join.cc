// The interval and temporal joins of two streams; see stream_join.h.
#include "core/join/stream_join.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>

namespace weir::join {

namespace {

constexpr std::uint32_t k_none = std::numeric_limits<std::uint32_t>::max();
// 2: an interval join's pairs come out when their left record is final (1: when the second
// record of the pair arrived; such a snapshot's buffered records have had their pairs out).
constexpr std::uint8_t k_format = 2;

// What a string holds on the heap (none while its bytes fit in the string itself).
std::size_t heap_bytes(const std::string& s) {
    return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

timestamp_ns saturating_add(timestamp_ns a, timestamp_ns b) {
    timestamp_ns r;
    if (__builtin_add_overflow(a, b, &r)) {
        return b > 0 ? std::numeric_limits<timestamp_ns>::max()
                     : std::numeric_limits<timestamp_ns>::min();
    }
    return r;
}

// Values as a buffered record keeps them: per slot a tag (kind, flags), then a number's 8
// bytes or a string's varint length and bytes.
enum : std::uint8_t {
    k_tag_absent = 0,
    k_tag_null = 1,
    k_tag_false = 2,
    k_tag_true = 3,
    k_tag_number = 4,
    k_tag_string = 5,
    k_tag_empty_present = 6,  // a present empty string
    k_tag_other = 7,
};

void encode_values(std::span<const field_value> values, std::string& out) {
    out.clear();
    for (const field_value& v : values) {
        switch (v.kind) {
            case value_kind::absent:
                out.push_back(static_cast<char>(k_tag_absent));
                break;
            case value_kind::null:
                out.push_back(static_cast<char>(k_tag_null));
                break;
            case value_kind::boolean:
                out.push_back(static_cast<char>(v.boolean ? k_tag_true : k_tag_false));
                break;
            case value_kind::number: {
                out.push_back(static_cast<char>(k_tag_number));
                char bytes[8];
                std::memcpy(bytes, &v.number, 8);
                out.append(bytes, 8);
                break;
            }
            case value_kind::string: {
                if (v.length == 0 && v.empty_present) {
                    out.push_back(static_cast<char>(k_tag_empty_present));
                    break;
                }
                out.push_back(static_cast<char>(k_tag_string));
                std::uint64_t n = v.length;
                do {
                    const auto b = static_cast<std::uint8_t>(n & 0x7f);
                    n >>= 7;
                    out.push_back(static_cast<char>(n != 0 ? (b | 0x80) : b));
                } while (n != 0);
                out.append(v.chars, v.length);
                break;
            }
            case value_kind::other:
                out.push_back(static_cast<char>(k_tag_other));
                break;
        }
    }
}

// The inverse of encode_values; strings are copied into `strings`. False on bytes
// encode_values cannot have written (a corrupt snapshot).
bool decode_values(std::string_view in, std::size_t slots, field_value* out, arena* strings) {
    std::size_t p = 0;
    for (std::size_t i = 0; i < slots; ++i) {
        if (p >= in.size()) return false;
        const auto tag = static_cast<std::uint8_t>(in[p++]);
        field_value v;
        switch (tag) {
            case k_tag_absent:
                break;
            case k_tag_null:
                v = field_value::make_null();
                break;
            case k_tag_false:
            case k_tag_true:
                v = field_value::make_boolean(tag == k_tag_true);
                break;
            case k_tag_number: {
                if (in.size() - p < 8) return false;
                double d;
                std::memcpy(&d, in.data() + p, 8);
                p += 8;
                v = field_value::make_number(d);
                break;
            }
            case k_tag_empty_present:
                v = field_value::make_string({});
                v.empty_present = true;
                break;
            case k_tag_string: {
                std::uint64_t n = 0;
                int shift = 0;
                for (;;) {
                    if (p >= in.size() || shift > 28) return false;
                    const auto b = static_cast<std::uint8_t>(in[p++]);
                    n |= static_cast<std::uint64_t>(b & 0x7f) << shift;
                    shift += 7;
                    if ((b & 0x80) == 0) break;
                }
                if (in.size() - p < n) return false;
                const std::string_view s = in.substr(p, n);
                p += n;
                v = field_value::make_string(strings ? strings->copy(s) : s);
                break;
            }
            case k_tag_other:
                v = field_value::make_other();
                break;
            default:
                return false;
        }
        if (out) out[i] = v;
    }
    return p == in.size();
}

}  // namespace

const char* to_string(join_type t) {
    return t == join_type::interval ? "interval" : "temporal";
}

const char* to_string(join_kind k) {
    switch (k) {
        case join_kind::inner:
            return "inner";
        case join_kind::left:
            return "left";
        case join_kind::full:
            return "full";
    }
    return "inner";
}

const char* to_string(join_side s) {
    return s == join_side::left ? "left" : "right";
}

bool encode_key(const field_value& v, std::string& out) {
    out.clear();
    switch (v.kind) {
        case value_kind::number: {
            if (std::isnan(v.number)) return false;
            const double d = v.number == 0 ? 0.0 : v.number;  // -0 equals 0
            out.push_back('n');
            char bytes[8];
            std::memcpy(bytes, &d, 8);
            out.append(bytes, 8);
            return true;
        }
        case value_kind::string:
            out.push_back('s');
            out.append(v.chars, v.length);
            return true;
        case value_kind::boolean:
            out.push_back(v.boolean ? 't' : 'f');
            return true;
        case value_kind::absent:
        case value_kind::null:
        case value_kind::other:
            return false;
    }
    return false;
}

struct stream_join::record {
    timestamp_ns time = 0;
    std::uint64_t seq = 0;
    // The encoded values. A freed slot keeps the string's capacity for the next record it
    // holds: no allocation per record once the state has its steady size.
    std::string data;
    key_entry* key = nullptr;  // null: no key
    // Interval: the neighbours in the key's list of the side.
    std::uint32_t prev = k_nil;
    std::uint32_t next = k_nil;
    // Interval, a final right record: the left records not final yet that match it.
    std::uint32_t pins = 0;
    join_side side = join_side::left;
    bool matched = false;
    bool live = false;
    bool final = false;
    // Restored from a format-1 snapshot: its pairs with the other such records are out.
    bool before_v2 = false;

    std::string_view values() const { return data; }
};

namespace {

// A record into the cache ahead of its use: it lies on one or two lines.
template <class T>
void prefetch_record(const T* r) {
    prefetch(r);
    prefetch(reinterpret_cast<const char*>(r + 1) - 1);
}

}  // namespace

struct stream_join::due {
    timestamp_ns at;
    std::uint64_t seq;
    std::uint32_t id;
    // For std::push_heap: a min-heap by (at, seq).
    bool operator<(const due& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

bool stream_join::held_entry::operator<(const held_entry& o) const {
    return time != o.time ? time > o.time : seq > o.seq;
}

stream_join::stream_join(const join_options& options, std::size_t left_slots,
                         std::size_t right_slots, timestamp_ns wall_now)
    : options_(options),
      ordered_(options.ordered),
      left_slots_(left_slots),
      right_slots_(right_slots),
      all_(options.allowed_lateness, options.idle_timeout, std::vector<std::string>{}, wall_now),
      right_(options.allowed_lateness, options.idle_timeout, std::vector<std::string>{}, wall_now) {
}

stream_join::~stream_join() = default;

std::size_t stream_join::add_source(join_side side, std::string id, timestamp_ns wall_now) {
    const auto s = static_cast<std::size_t>(side);
    if (side == join_side::right) {
        right_sources_.push_back(static_cast<std::uint32_t>(right_.add_source(id, wall_now)));
    }
    sources_[s].push_back(static_cast<std::uint32_t>(
        all_.add_source(std::string(to_string(side)) + "/" + id, wall_now)));
    return sources_[s].size() - 1;
}

void stream_join::remove_source(join_side side, std::size_t source) {
    const auto s = static_cast<std::size_t>(side);
    all_.remove_source(sources_[s][source]);
    if (side == join_side::right) right_.remove_source(right_sources_[source]);
}

std::size_t stream_join::find_source(join_side side, std::string_view id) const {
    const auto s = static_cast<std::size_t>(side);
    const std::size_t at = all_.find_source(std::string(to_string(side)) + "/" + std::string(id));
    for (std::size_t i = 0; i < sources_[s].size(); ++i) {
        if (sources_[s][i] == at) return i;
    }
    return npos;
}

stream_join::key_entry* stream_join::key_of(std::string_view key, std::uint32_t hash) {
    if ((keys_ + 1) * 2 > key_table_.size()) grow_keys();
    const std::size_t mask = key_table_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
        key_slot& slot = key_table_[i];
        if (slot.entry == k_none) {
            std::uint32_t at;
            if (!key_free_.empty()) {
                at = key_free_.back();
                key_free_.pop_back();
                // The entry the next new key takes: freed a while ago, it left the cache, and
                // its key is written at once (new keys come every other record in a join of
                // unique ids).
                if (!key_free_.empty()) prefetch(&key_pool_[key_free_.back()]);
            } else {
                at = static_cast<std::uint32_t>(key_pool_.size());
                key_pool_.emplace_back();
            }
            key_entry& e = key_pool_[at];
            e.key.assign(key);
            e.hash = hash;
            e.index = at;
            slot = {hash, at};
            ++keys_;
            return &e;
        }
        if (slot.hash == hash && key_pool_[slot.entry].key == key) return &key_pool_[slot.entry];
    }
}

void stream_join::erase_key(key_entry& e) {
    const std::size_t mask = key_table_.size() - 1;
    std::size_t i = e.hash & mask;
    while (key_table_[i].entry != e.index) i = (i + 1) & mask;
    // Backward shift: the entries after it that may move closer to their home slot do.
    for (std::size_t j = (i + 1) & mask; key_table_[j].entry != k_none; j = (j + 1) & mask) {
        const std::size_t home = key_table_[j].hash & mask;
        const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            key_table_[i] = key_table_[j];
            i = j;
        }
    }
    key_table_[i].entry = k_none;
    // The entry keeps its string's and list's capacity for the next key.
    e.key.clear();
    e.versions.clear();
    e.head[0] = e.head[1] = e.tail[0] = e.tail[1] = k_nil;
    e.refs = 0;
    key_free_.push_back(e.index);
    --keys_;
}

void stream_join::grow_keys() {
    huge_vector<key_slot> old(std::max<std::size_t>(16, key_table_.size() * 2), key_slot{});
    old.swap(key_table_);
    const std::size_t mask = key_table_.size() - 1;
    for (const key_slot& slot : old) {
        if (slot.entry == k_none) continue;
        std::size_t i = slot.hash & mask;
        while (key_table_[i].entry != k_none) i = (i + 1) & mask;
        key_table_[i] = slot;
    }
}

std::uint32_t stream_join::store(join_side side, timestamp_ns time, std::uint64_t seq,
                                 key_entry* key, std::span<const field_value> values,
                                 std::string_view encoded) {
    std::uint32_t id;
    if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
        // The slots the next stores take, and the next one's value bytes (its record is here
        // from the store before): a slot freed a while ago left the cache, and it is written
        // at once.
        if (!free_.empty()) {
            const record& next = records_[free_.back()];
            prefetch(next.data.data());
            if (free_.size() > 1) {
                prefetch_record(&records_[free_[free_.size() - 2]]);
            }
        }
    } else {
        id = static_cast<std::uint32_t>(records_.size());
        records_.emplace_back();
    }
    record& r = records_[id];
    r.time = time;
    r.seq = seq;
    value_bytes_ -= heap_bytes(r.data);
    if (encoded.data() == nullptr) {
        encode_values(values, r.data);
    } else {
        r.data.assign(encoded);
    }
    value_bytes_ += heap_bytes(r.data);
    r.key = key;
    if (key != nullptr) ++key->refs;
    r.prev = r.next = k_nil;
    r.pins = 0;
    r.side = side;
    r.matched = false;
    r.live = true;
    r.final = false;
    r.before_v2 = false;
    ++live_;
    return id;
}

void stream_join::remove(std::uint32_t id) {
    record& r = records_[id];
    if (r.key != nullptr) {
        if (options_.type == join_type::interval) {
            unlink(r, id);
        } else {
            auto& list = r.key->versions;
            if (auto it = std::find(list.begin(), list.end(), id); it != list.end()) {
                list.erase(it);
            }
        }
        if (--r.key->refs == 0) {
            erase_key(*r.key);
        }
        r.key = nullptr;
    }
    r.data.clear();  // its capacity stays for the slot's next record
    r.live = false;
    --live_;
    free_.push_back(id);
}

void stream_join::unlink(record& r, std::uint32_t id) {
    const auto s = static_cast<std::size_t>(r.side);
    key_entry& e = *r.key;
    if (r.prev != k_nil) {
        records_[r.prev].next = r.next;
    } else if (e.head[s] == id) {
        e.head[s] = r.next;
    }
    if (r.next != k_nil) {
        records_[r.next].prev = r.prev;
    } else if (e.tail[s] == id) {
        e.tail[s] = r.prev;
    }
    r.prev = r.next = k_nil;
}

void stream_join::append_values(std::string_view encoded, std::size_t slots) {
    const std::size_t at = out_values_.size();
    out_values_.resize(at + slots);
    if (!decode_values(encoded, slots, out_values_.data() + at, &out_strings_)) {
        // Only a restored snapshot could hold such bytes, and restore() checks them.
        std::fill(out_values_.begin() + static_cast<std::ptrdiff_t>(at), out_values_.end(),
                  field_value::make_absent());
    }
}

void stream_join::emit(const record* left, const record* right, timestamp_ns time) {
    // An interval join's rows come in order (they wait only behind rows a format-1 snapshot
    // held).
    if (ordered_ && (options_.type == join_type::temporal || !held_.empty())) {
        hold(time, next_held_++, left != nullptr ? std::optional(left->values()) : std::nullopt,
             right != nullptr ? std::optional(right->values()) : std::nullopt);
        return;
    }
    out(time, left != nullptr ? std::optional(left->values()) : std::nullopt,
        right != nullptr ? std::optional(right->values()) : std::nullopt);
}

void stream_join::hold(timestamp_ns time, std::uint64_t seq, std::optional<std::string_view> left,
                       std::optional<std::string_view> right) {
    std::uint32_t slot;
    if (!held_free_.empty()) {
        slot = held_free_.back();
        held_free_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(held_rows_.size());
        held_rows_.emplace_back();
    }
    held_row& h = held_rows_[slot];
    held_bytes_ -= heap_bytes(h.left) + heap_bytes(h.right);
    h.has_left = left.has_value();
    h.has_right = right.has_value();
    h.left.assign(left.value_or(std::string_view()));
    h.right.assign(right.value_or(std::string_view()));
    held_bytes_ += heap_bytes(h.left) + heap_bytes(h.right);
    held_.push_back({time, seq, slot});
    std::push_heap(held_.begin(), held_.end());
}

void stream_join::out(timestamp_ns time, std::optional<std::string_view> left,
                      std::optional<std::string_view> right) {
    out_row row{time, k_none, k_none};
    if (left) {
        row.left = static_cast<std::uint32_t>(out_values_.size());
        append_values(*left, left_slots_);
    }
    if (right) {
        row.right = static_cast<std::uint32_t>(out_values_.size());
        append_values(*right, right_slots_);
    }
    rows_.push_back(row);
}

timestamp_ns stream_join::frontier() const {
    const timestamp_ns w = all_.watermark();
    if (w == std::numeric_limits<timestamp_ns>::max()) return w;  // finished
    if (options_.type == join_type::interval) {
        return w == window::k_no_time ? w : saturating_add(w, -options_.within);
    }
    return pending_.empty() ? w : std::min(w, pending_.front().at);
}

void stream_join::release() {
    if (!ordered_) return;
    const timestamp_ns f = frontier();
    while (!held_.empty() &&
           (held_.front().time < f || f == std::numeric_limits<timestamp_ns>::max())) {
        std::pop_heap(held_.begin(), held_.end());
        const held_entry e = held_.back();
        held_.pop_back();
        const held_row& h = held_rows_[e.slot];
        out(e.time, h.has_left ? std::optional<std::string_view>(h.left) : std::nullopt,
            h.has_right ? std::optional<std::string_view>(h.right) : std::nullopt);
        held_free_.push_back(e.slot);  // its strings keep their capacity for the next row
    }
}

joined_row stream_join::row(std::size_t i) const {
    const out_row& r = rows_[i];
    joined_row out;
    out.time = r.time;
    out.has_left = r.left != k_none;
    out.has_right = r.right != k_none;
    if (out.has_left) out.left = {out_values_.data() + r.left, left_slots_};
    if (out.has_right) out.right = {out_values_.data() + r.right, right_slots_};
    return out;
}

void stream_join::clear_rows() {
    rows_.clear();
    out_values_.clear();
    out_strings_.reset();
}

std::size_t stream_join::buffered_bytes() const {
    std::size_t bytes = records_.capacity() * sizeof(record) + value_bytes_ +
                        free_.capacity() * sizeof(std::uint32_t) +
                        (ring_count_ + beyond_.capacity() + passing_.capacity() + behind_.size() +
                         pending_.capacity() + versions_.capacity() + retained_.capacity()) *
                            sizeof(due) +
                        key_table_.capacity() * sizeof(key_slot) +
                        key_free_.capacity() * sizeof(std::uint32_t);
    for (std::size_t i = 0; i < key_pool_.size(); ++i) {
        const key_entry& e = key_pool_[i];
        bytes +=
            sizeof(key_entry) + heap_bytes(e.key) + e.versions.capacity() * sizeof(std::uint32_t);
    }
    return bytes;
}

bool stream_join::add(join_side side, std::size_t source, timestamp_ns time, const std::string* key,
                      std::uint32_t hash, std::span<const field_value> values,
                      timestamp_ns wall_now) {
    const auto s = static_cast<std::size_t>(side);
    const bool temporal = options_.type == join_type::temporal;
    const timestamp_ns behind =
        temporal && side == join_side::right ? right_.watermark() : all_.watermark();
    const bool late = time < behind;
    if (late) {
        ++late_[s];
    } else if (!temporal) {
        // A record without a key waits only for its unmatched row, when its kind has one.
        if (key != nullptr || (side == join_side::left ? options_.kind != join_kind::inner
                                                       : options_.kind == join_kind::full)) {
            interval_arrive(store(side, time, next_seq_++,
                                  key != nullptr ? key_of(*key, hash) : nullptr, values, {}));
        }
    } else if (key == nullptr) {
        // It can match nothing: out at once when its kind keeps unmatched records of its side.
        record r;
        encode_values(values, r.data);
        if (side == join_side::left && options_.kind != join_kind::inner) {
            emit(&r, nullptr, time);
        }
    } else {
        const std::uint32_t id = store(side, time, next_seq_++, key_of(*key, hash), values, {});
        record& r = records_[id];
        if (side == join_side::right) {
            temporal_insert_right(id);
        } else if (right_.watermark() > time) {
            temporal_answer(r);
            remove(id);
        } else {
            pending_.push_back({time, r.seq, id});
            std::push_heap(pending_.begin(), pending_.end());
        }
    }
    all_.observe(sources_[s][source], time, wall_now);
    if (side == join_side::right) right_.observe(right_sources_[source], time, wall_now);
    update(wall_now);
    return !late;
}

void stream_join::interval_arrive(std::uint32_t id) {
    record& r = records_[id];
    if (r.key != nullptr) {
        const auto s = static_cast<std::size_t>(r.side);
        key_entry& e = *r.key;
        r.prev = e.tail[s];
        if (e.tail[s] != k_nil) {
            records_[e.tail[s]].next = id;
        } else {
            e.head[s] = id;
        }
        e.tail[s] = id;
    }
    enqueue({r.time, r.seq, id});
}

void stream_join::enqueue(const due& d) {
    const std::int64_t b = d.at >> k_bucket_shift;
    if (!ring_started_) {
        ring_.resize(k_min_buckets);
        ring_base_ = b;
        ring_started_ = true;
    }
    if (b >= ring_base_) {
        // A record further ahead than the ring reaches: a ring twice as long, up to a bound
        // (records yet further ahead wait in beyond_).
        while (b - ring_base_ >= static_cast<std::int64_t>(ring_.size()) &&
               b - ring_base_ < static_cast<std::int64_t>(k_max_buckets)) {
            grow_ring();
        }
        if (b - ring_base_ < static_cast<std::int64_t>(ring_.size())) {
            ring_[static_cast<std::size_t>(b) & (ring_.size() - 1)].push_back(d);
            ++ring_count_;
            if (b == ring_sorted_bucket_) ring_sorted_ = false;
            return;
        }
    }
    beyond_.push_back(d);
    std::push_heap(beyond_.begin(), beyond_.end());
}

void stream_join::grow_ring() {
    // Each bucket from ring_base_ on to the same place in a ring twice as long.
    std::vector<std::vector<due>> longer(ring_.size() * 2);
    for (std::size_t i = 0; i < ring_.size(); ++i) {
        const auto b = static_cast<std::size_t>(ring_base_) + i;
        longer[b & (longer.size() - 1)] = std::move(ring_[b & (ring_.size() - 1)]);
    }
    ring_.swap(longer);
}

void stream_join::settle(timestamp_ns w) {
    if (w == window::k_no_time) return;
    passing_.clear();
    bool in_order = true;  // passing_ is sorted (what the sorted bucket let go)
    const std::int64_t bw = w >> k_bucket_shift;
    if (ring_count_ > 0) {
        // Every record in the ring is in a bucket from ring_base_ on, fewer than its length on.
        const std::int64_t last =
            std::min(bw, ring_base_ + static_cast<std::int64_t>(ring_.size()) - 1);
        for (std::int64_t b = ring_base_; b <= last && ring_count_ > 0; ++b) {
            auto& bucket = ring_[static_cast<std::size_t>(b) & (ring_.size() - 1)];
            if (bucket.empty()) continue;
            if (b < bw) {
                passing_.insert(passing_.end(), bucket.begin(), bucket.end());
                ring_count_ -= bucket.size();
                bucket.clear();
                in_order = false;
                continue;
            }
            // The watermark's bucket: what is before it, from its sorted back.
            if (!ring_sorted_ || ring_sorted_bucket_ != bw) {
                std::sort(bucket.begin(), bucket.end());  // due::operator<: the oldest last
                ring_sorted_bucket_ = bw;
                ring_sorted_ = true;
            }
            while (!bucket.empty() && bucket.back().at < w) {
                passing_.push_back(bucket.back());
                bucket.pop_back();
                --ring_count_;
            }
        }
    }
    if (ring_started_) ring_base_ = std::max(ring_base_, bw);
    while (!beyond_.empty() && beyond_.front().at < w) {
        std::pop_heap(beyond_.begin(), beyond_.end());
        passing_.push_back(beyond_.back());
        beyond_.pop_back();
        in_order = false;
    }
    if (passing_.empty()) return;
    // due::operator< orders a min-heap: the greater by it comes first.
    if (!in_order) {
        std::sort(passing_.begin(), passing_.end(),
                  [](const due& a, const due& b) { return b < a; });
    }
    behind_.insert(behind_.end(), passing_.begin(), passing_.end());
}

void stream_join::interval_final(std::uint32_t id) {
    record& r = records_[id];
    r.final = true;
    const auto near = [&](const record& o) {
        return (r.time > o.time ? r.time - o.time : o.time - r.time) <= options_.within;
    };
    if (r.side == join_side::left) {
        // Every right record it pairs with is here (any other would be late): its rows.
        bool matched = r.matched;
        for (std::uint32_t o = r.key != nullptr ? r.key->head[1] : k_nil; o != k_nil;) {
            record& other = records_[o];
            const std::uint32_t next = other.next;
            if (near(other)) {
                matched = true;
                if (!(r.before_v2 && other.before_v2)) emit(&r, &other, r.time);
                if (!other.final) {
                    other.matched = true;
                } else if (--other.pins == 0) {
                    remove(o);
                }
            }
            o = next;
        }
        if (!matched && options_.kind != join_kind::inner) emit(&r, nullptr, r.time);
        remove(id);
        return;
    }
    // A right record: the left records final before it marked it; those not final yet pair
    // with it later and need its values until then.
    std::uint32_t pins = 0;
    for (std::uint32_t o = r.key != nullptr ? r.key->head[0] : k_nil; o != k_nil;) {
        const record& other = records_[o];
        if (near(other)) ++pins;
        o = other.next;
    }
    if (pins > 0) r.matched = true;
    if (!r.matched && options_.kind == join_kind::full) emit(nullptr, &r, r.time);
    if (pins == 0) {
        remove(id);
    } else {
        r.pins = pins;
    }
}

void stream_join::temporal_answer(const record& left) {
    const record* found = nullptr;
    if (left.key != nullptr) {
        const auto& versions = left.key->versions;
        for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
            const record& v = records_[*it];
            if (v.time > left.time) continue;
            if (options_.within <= 0 || left.time - v.time <= options_.within) found = &v;
            break;
        }
    }
    if (found != nullptr) {
        emit(&left, found, left.time);
    } else if (options_.kind != join_kind::inner) {
        emit(&left, nullptr, left.time);
    }
}

void stream_join::temporal_insert_right(std::uint32_t id) {
    const record& r = records_[id];
    auto& versions = r.key->versions;
    // By (time, seq): after every version of the same time (the last to arrive wins).
    auto at = versions.end();
    while (at != versions.begin()) {
        const record& v = records_[*(at - 1)];
        if (v.time < r.time || (v.time == r.time && v.seq < r.seq)) break;
        --at;
    }
    versions.insert(at, id);
    versions_.push_back({r.time, r.seq, id});
    std::push_heap(versions_.begin(), versions_.end());
}

void stream_join::update(timestamp_ns wall_now) {
    all_.update(wall_now);
    if (options_.type == join_type::temporal) right_.update(wall_now);
    expire();
    release();
}

std::uint32_t stream_join::first_other(const record& r) {
    return r.key == nullptr ? k_nil : r.key->head[r.side == join_side::left ? 1 : 0];
}

void stream_join::expire() {
    const timestamp_ns w = all_.watermark();
    const auto alive = [&](const due& d) {
        return records_[d.id].live && records_[d.id].seq == d.seq;
    };
    if (options_.type == join_type::interval) {
        settle(w);
        while (!behind_.empty() && saturating_add(behind_.front().at, options_.within) < w) {
            // Each step needs what the one before brought in: the record, then its values and key,
            // then the key's records of the other side and its slot in the table, then the values
            // of the other side's first record.
            constexpr std::size_t k_record = 16, k_key = 8, k_others = 4, k_values = 2;
            const std::size_t n = behind_.size();
            if (n > k_record) {
                prefetch_record(&records_[behind_[k_record].id]);
            }
            if (n > k_key) {
                const record& r = records_[behind_[k_key].id];
                prefetch(r.data.data());
                if (r.key != nullptr) prefetch(&r.key->head);
            }
            if (n > k_values) {
                // The values of the other side's first record, which the row copies.
                const std::uint32_t o = first_other(records_[behind_[k_values].id]);
                if (o != k_nil) prefetch(records_[o].data.data());
            }
            if (n > k_others) {
                const record& r = records_[behind_[k_others].id];
                if (r.key != nullptr) {
                    const std::uint32_t o = first_other(r);
                    if (o != k_nil) prefetch_record(&records_[o]);
                    prefetch(&key_table_[r.key->hash & (key_table_.size() - 1)]);
                }
            }
            const std::uint32_t id = behind_.front().id;
            behind_.pop_front();
            interval_final(id);
        }
        return;
    }
    // Temporal: waiting left records the right side's watermark has passed.
    const timestamp_ns wr = right_released_ ? std::max(w, right_.watermark()) : right_.watermark();
    while (!pending_.empty() && pending_.front().at < wr) {
        std::pop_heap(pending_.begin(), pending_.end());
        const due d = pending_.back();
        pending_.pop_back();
        if (!alive(d)) continue;
        temporal_answer(records_[d.id]);
        remove(d.id);
    }
    // No left record to come or waiting asks for a time before `floor`.
    timestamp_ns floor = w;
    if (!pending_.empty()) floor = std::min(floor, pending_.front().at);
    while (!versions_.empty() && versions_.front().at <= floor) {
        std::pop_heap(versions_.begin(), versions_.end());
        const due d = versions_.back();
        versions_.pop_back();
        if (!alive(d)) continue;
        // Of the key's versions at or before the floor, only the newest can be asked for.
        auto& versions = records_[d.id].key->versions;
        std::size_t newest = 0;
        while (newest + 1 < versions.size() && records_[versions[newest + 1]].time <= floor) {
            ++newest;
        }
        const std::uint32_t keep = versions[newest];
        std::vector<std::uint32_t> dead(versions.begin(),
                                        versions.begin() + static_cast<std::ptrdiff_t>(newest));
        for (const std::uint32_t id : dead) remove(id);
        if (options_.within > 0 && keep == d.id) {
            const record& k = records_[keep];
            retained_.push_back({saturating_add(k.time, options_.within), k.seq, keep});
            std::push_heap(retained_.begin(), retained_.end());
        }
    }
    // Versions older than `within` before the floor: no left record may pair with them.
    while (options_.within > 0 && !retained_.empty() && retained_.front().at < floor) {
        std::pop_heap(retained_.begin(), retained_.end());
        const due d = retained_.back();
        retained_.pop_back();
        if (alive(d)) remove(d.id);
    }
}

void stream_join::advance(timestamp_ns wall_now) {
    update(wall_now);
}

void stream_join::finish() {
    all_.finish();
    right_.finish();
    expire();
    // No record comes any more: the right versions a temporal join kept are not needed.
    for (std::uint32_t id = 0; id < records_.size(); ++id) {
        if (records_[id].live) remove(id);
    }
    release();
}

void stream_join::snapshot(byte_writer& w) const {
    w.u8(k_format);
    w.u8(static_cast<std::uint8_t>(options_.type));
    all_.serialize(w);
    right_.serialize(w);
    w.varint(next_seq_);
    w.varint(late_[0]);
    w.varint(late_[1]);
    std::vector<std::uint32_t> ids;
    ids.reserve(live_);
    for (std::uint32_t i = 0; i < records_.size(); ++i) {
        if (records_[i].live) ids.push_back(i);
    }
    std::sort(ids.begin(), ids.end(),
              [&](std::uint32_t a, std::uint32_t b) { return records_[a].seq < records_[b].seq; });
    w.varint(ids.size());
    for (const std::uint32_t id : ids) {
        const record& r = records_[id];
        w.u8(static_cast<std::uint8_t>(r.side));
        w.i64(r.time);
        w.varint(r.seq);
        w.boolean(r.matched);
        w.str(r.key != nullptr ? std::string_view(r.key->key) : std::string_view());
        w.str(r.values());
    }
    // Rows held for their turn, by (time, seq).
    std::vector<held_entry> rows(held_);
    std::sort(rows.begin(), rows.end(),
              [](const held_entry& a, const held_entry& b) { return b < a; });
    w.varint(next_held_);
    w.varint(rows.size());
    for (const held_entry& e : rows) {
        const held_row& h = held_rows_[e.slot];
        w.i64(e.time);
        w.varint(e.seq);
        w.u8(static_cast<std::uint8_t>((h.has_left ? 1 : 0) | (h.has_right ? 2 : 0)));
        w.str(h.left);
        w.str(h.right);
    }
}

bool stream_join::restore(byte_reader& r) {
    const std::uint8_t format = r.u8();
    if ((format != 1 && format != k_format) || r.u8() != static_cast<std::uint8_t>(options_.type)) {
        r.fail();
        return false;
    }
    const bool interval = options_.type == join_type::interval;
    if (!all_.deserialize(r) || !right_.deserialize(r)) return false;
    next_seq_ = r.varint();
    late_[0] = r.varint();
    late_[1] = r.varint();
    const std::size_t n = r.count(12);
    std::uint64_t last_seq = 0;
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        const auto side = r.u8();
        const timestamp_ns time = r.i64();
        const std::uint64_t seq = r.varint();
        const bool matched = r.boolean();
        const std::string key(r.str());
        const std::string_view values = r.str();
        if (!r.ok()) break;
        const auto sd = static_cast<join_side>(side);
        // Only an interval join keeps records without a key (for their unmatched rows).
        if (side > 1 || (key.empty() && (format == 1 || !interval)) || (i > 0 && seq <= last_seq) ||
            seq >= next_seq_ || !decode_values(values, slots(sd), nullptr, nullptr)) {
            r.fail();
            break;
        }
        last_seq = seq;
        const std::uint32_t id =
            store(sd, time, seq, key.empty() ? nullptr : key_of(key, hash_key(key)), {}, values);
        record& rec = records_[id];
        rec.matched = matched;
        rec.before_v2 = format == 1;
        if (interval) {
            // A right record final before the snapshot is final again at the next update,
            // counting the left records that still pair with it.
            interval_arrive(id);
        } else if (sd == join_side::right) {
            temporal_insert_right(id);
        } else {
            pending_.push_back({time, seq, id});
            std::push_heap(pending_.begin(), pending_.end());
        }
    }
    next_held_ = r.varint();
    const std::size_t rows = r.count(12);
    for (std::size_t i = 0; i < rows && r.ok(); ++i) {
        const timestamp_ns time = r.i64();
        const std::uint64_t seq = r.varint();
        const std::uint8_t sides = r.u8();
        const std::string_view left = r.str();
        const std::string_view right = r.str();
        if (!r.ok()) break;
        const bool has_left = (sides & 1) != 0;
        const bool has_right = (sides & 2) != 0;
        if (sides == 0 || sides > 3 || seq >= next_held_ ||
            (has_left && !decode_values(left, left_slots_, nullptr, nullptr)) ||
            (has_right && !decode_values(right, right_slots_, nullptr, nullptr))) {
            r.fail();
            break;
        }
        hold(time, seq, has_left ? std::optional(left) : std::nullopt,
             has_right ? std::optional(right) : std::nullopt);
    }
    return r.ok();
}

}  // namespace weir::join
