// Exact value frequencies of one field: distinct_count, distinct_fraction, unique_count,
// duplicate_count, most_frequent and most_frequent_count — bounded by a memory cap. Also of
// several fields together: duplicate_count over a composite key, entropy and
// mutual_information.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/measure/common.h"
#include "core/measure/measure_value.h"

namespace weir::measure {

struct frequency_config {
    // Most a (window, group) may hold: hash table + stored values. At the default, about 130 k
    // distinct values without most_frequent (16 bytes a slot, load <= 0.7, doubling), about
    // 65 k with it. Beyond that the accumulator stops tracking new values and says so.
    std::size_t max_bytes = 4u << 20;
    // most_frequent needs the value itself, not only its hash; the other measures do not, and
    // then no value is stored.
    bool keep_values = false;
};

// A result that may be inexact because the memory cap was hit. Once capped: distinct_count and
// unique_count are lower bounds, duplicate_count an upper bound, distinct_fraction a lower
// bound, and most_frequent is the most frequent of the values tracked before the cap (their
// counts stay exact: values already in the table keep counting). Checks report `capped`.
struct frequency_result {
    std::optional<double> value;
    bool capped = false;
};

struct most_frequent_result {
    measure_value value;  // null (no data) when no value was considered; booleans are
                          // reported as booleans, numbers as numbers, strings as strings
    std::uint64_t count = 0;
    bool capped = false;
};

// Values are counted by a 64-bit hash (hashing::hash_value: numbers by value with -0.0 == 0.0
// and all NaNs one value; strings byte for byte; 1, "1" and true are three values). Two
// different values share a hash with probability about n^2 / 2^65 for n distinct values — one
// in 37 million for a million distinct values — and would then count as one.
// Considered: every present value except wrong-typed ones (objects/arrays, whose content is
// not decoded); absent, null and "" are missing and skipped. distinct_fraction and
// duplicate_count are relative to the considered values.
// Memory: an empty accumulator allocates nothing; add() allocates only when the table grows
// past k_inline_slots (amortised O(1)), and never beyond frequency_config::max_bytes.
class frequency_acc {
  public:
    // Provided, not defaulted: `frequency_acc()` would otherwise zero the inline slots, which
    // only rehash() fills, and only as far as the table reaches (W6 makes one per session).
    frequency_acc() noexcept {}

    void add(const field_value& v, const frequency_config& c);
    // Needs the config for the cap; merge is commutative and associative while uncapped.
    void merge(const frequency_acc& o, const frequency_config& c);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    frequency_result distinct_count() const;
    frequency_result distinct_fraction() const;
    frequency_result unique_count() const;
    frequency_result duplicate_count() const;
    // duplicate_count / considered; no data when nothing was considered.
    frequency_result duplicate_fraction() const;
    // Shannon entropy in bits of the considered values' distribution: -sum p log2 p over the
    // distinct values, p = count / considered. 0 for one distinct value; no data when nothing
    // was considered, and also once capped (the counts of untracked values are unknown, so
    // no bound is honest).
    frequency_result entropy() const;
    most_frequent_result most_frequent() const;

    // A hint that add(v, …) follows soon: fetches the table slot where v's search starts.
    void prefetch(const field_value& v) const;

    // Counts a value by its hash alone (a composite key's, see key_hash): never keeps values.
    void add_hash(std::uint64_t hash, const frequency_config& c);

    std::uint64_t considered() const { return considered_; }
    bool capped() const { return capped_; }
    // Heap bytes held (what the cap limits).
    std::size_t memory_bytes() const;

    // Tables of up to this many slots (22 values) live inside the accumulator, when no values
    // are kept: a window's or session's table of a field with few values (W6: 20 countries)
    // is then neither allocated nor grown on the heap, nor read from another page than its
    // cell. The same slots in the same places as on the heap: nothing but where they live
    // changes (the memory cap counts them as it counts a heap table).
    static constexpr std::size_t k_inline_slots = 32;
    // The inline slots' bytes, at the end of the object (where a record's value is searched,
    // fetched ahead by prefetch(); the fields before them are read by every add()).
    static constexpr std::size_t inline_slot_bytes() { return k_inline_slots * sizeof(slot); }

  private:
    // Trivial, so that the inline slots cost nothing until used: slot{} is an empty slot.
    struct slot {
        std::uint64_t hash;  // 0 marks an empty slot (hash 0 is stored as 1)
        std::uint64_t count;
    };
    // A stored value, beside its slot when values are kept. Strings live in arena_.
    struct stored_value {
        value_kind kind = value_kind::null;
        bool boolean = false;
        std::uint32_t length = 0;
        std::uint64_t payload = 0;  // double bits, or the string's offset in arena_
    };

    void insert(std::uint64_t hash, std::uint64_t count, const field_value* value,
                const frequency_config& c);
    bool grow(const frequency_config& c);
    // Grows (within the cap) until `entries` fit without passing the load limit.
    void reserve(std::size_t entries, const frequency_config& c);
    bool rehash(std::size_t capacity, bool with_values);
    field_value value_at(std::size_t i) const;
    std::size_t find(std::uint64_t hash) const;

    slot* slots() { return heap_slots_.empty() ? inline_slots_.data() : heap_slots_.data(); }
    const slot* slots() const {
        return heap_slots_.empty() ? inline_slots_.data() : heap_slots_.data();
    }

    // Not pooled (sketch/pool.h): tables of many groups grow in step, and the pool would keep
    // each size they outgrew (W6: 118 -> 150 MB); the engine fetches their slot ahead instead.
    std::vector<slot> heap_slots_;      // the table beyond k_inline_slots, or with values
    std::vector<stored_value> values_;  // parallel to the slots, or empty
    std::string arena_;
    std::uint64_t considered_ = 0;
    std::uint32_t capacity_ = 0;  // slots: a power of two, or 0
    std::uint32_t size_ = 0;
    std::uint8_t shift_ = 64;  // index = hash >> shift_
    bool capped_ = false;
    // Last, after the fields every add() reads (the engine fetches a cell's first lines ahead).
    // Indeterminate beyond capacity_ (never read there).
    std::array<slot, k_inline_slots> inline_slots_;
};

// The hash of a composite key (the values of several fields, in order: (1, 2) and (2, 1)
// differ), or nullopt when one of the values is missing or wrong-typed (an object or array):
// such a record has no key.
std::optional<std::uint64_t> key_hash(std::span<const field_value* const> values);

// mutual_information(a, b): the values of two fields over the records where both are
// considered (present and not objects/arrays, as for frequency_acc), with three exact
// frequency tables (a, b and the pairs) under one cap each.
class mutual_information_acc {
  public:
    void add(const field_value& a, const field_value& b, const frequency_config& c);
    void merge(const mutual_information_acc& o, const frequency_config& c);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    // I(A; B) = H(A) + H(B) - H(A, B) in bits, over the pairs (never below 0: rounding of
    // the three sums is clamped). No data without a pair, and once any table is capped.
    frequency_result result() const;

  private:
    frequency_acc a_;
    frequency_acc b_;
    frequency_acc pairs_;
};

}  // namespace weir::measure
