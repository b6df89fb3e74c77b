// Keyed reconciliation of two inputs (`reconcile(orders.order_id, payments.order_id)`): the
// distinct keys each side's records carried in a (window or pane, group), and how they match.
// Exact while at most k_reconcile_key_limit keys are kept; mergeable (sliding windows merge
// panes) and serialisable, like every accumulator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/record/field_value.h"

namespace weir::measure {

// The most distinct keys one (window or pane, group) keeps; keys beyond are counted in
// `overflow` and not compared, and the result says approximate.
inline constexpr std::size_t k_reconcile_key_limit = 100'000;
// The most keys each side's sample of missing keys shows in a result.
inline constexpr std::size_t k_reconcile_samples = 10;
// String keys longer than this compare by a 64-bit hash of the whole key and their first bytes
// (the sample shows those, marked "…"), so a key costs a bounded amount of memory.
inline constexpr std::size_t k_reconcile_key_bytes = 128;

// What the comparison of the two sides found.
struct reconcile_counts {
    std::uint64_t matched = 0;        // keys of both sides
    std::uint64_t missing_left = 0;   // keys of the right side only
    std::uint64_t missing_right = 0;  // keys of the left side only
    std::uint64_t overflow = 0;       // keys not kept (beyond the limit)
    std::uint64_t left() const { return matched + missing_right; }
    std::uint64_t right() const { return matched + missing_left; }
    std::uint64_t keys() const { return matched + missing_left + missing_right; }
};

// A flat hash set of encoded keys (reconcile_key) with the sides that carried each: the keys
// back to back in one buffer, an open-addressing table of entry indices, and the counts kept as
// keys are added, so a record costs one probe and no allocation once the set has grown, and a
// window's result needs no pass over its keys.
class reconcile_acc {
  public:
    static constexpr std::uint8_t k_left = 1;
    static constexpr std::uint8_t k_right = 2;

    // A record of one side (k_left or k_right) with this key value. Missing values (absent,
    // null, "") and objects or arrays are no key: the record is not counted.
    void add(const field_value& v, std::uint8_t side, std::string& scratch);
    void merge(const reconcile_acc& o);
    reconcile_counts counts() const;
    // Up to k_reconcile_samples keys missing on the left (`left_side` false: on the right),
    // the smallest first (numbers by value, then strings by their bytes, then booleans), each
    // a JSON value.
    std::vector<std::string> sample_missing(bool on_left) const;
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    std::size_t size() const { return entries_.size(); }
    std::uint64_t overflow() const { return overflow_; }

  private:
    struct entry {
        std::uint32_t hash;
        std::uint32_t offset;  // into bytes_
        std::uint32_t length;
        std::uint8_t sides;
    };
    std::string_view key_of(const entry& e) const { return {bytes_.data() + e.offset, e.length}; }
    // Adds `sides` to `key`'s entry, or a new entry (false when the set is full).
    bool insert(std::string_view key, std::uint8_t sides);
    void count(std::uint8_t sides, int delta);
    void grow();

    std::vector<entry> entries_;  // in the order keys came
    // The key's hash (high half) and its entry's index + 1 (low half; 0: empty), so a probe
    // compares hashes without touching the entries; a power of two.
    std::vector<std::uint64_t> slots_;
    std::string bytes_;
    std::uint64_t overflow_ = 0;
    std::uint64_t both_ = 0;
    std::uint64_t left_only_ = 0;
    std::uint64_t right_only_ = 0;
};

// The encoding keys compare by: numbers by value (1 and 1.0 are one key; -0 is 0), strings by
// their bytes, booleans; a number and a string never match ("1" is not 1). False: no key.
bool reconcile_key(const field_value& v, std::string& out);

}  // namespace weir::measure
