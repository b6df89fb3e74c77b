// Schema drift (docs/pipelines.md, "Schema drift"): which fields a node's records carry, with
// which JSON types, against the fields it expects. The tracker is per node and lives across
// windows (checkpointed as a section of the node chain); the accumulator is per window and
// group, a field of the engine's block like any other.
//
// Not thread-safe: a tracker belongs to one node chain. No exception and no allocation per
// record once the fields are known.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/expr/field_path.h"
#include "core/time/timestamp.h"

namespace weir::schema {

// The JSON types a field can have; null is tracked (the key is there) but never a type of its
// own: a field's first-seen type is its first non-null one.
enum class json_type : std::uint8_t { null, string, number, boolean, object, array };
const char* to_string(json_type t);

// Bounds: fields beyond k_max_drift_fields (paths, nested ones included) are not tracked and
// are counted (drift_tracker::untracked()); objects nested deeper than k_max_drift_depth levels
// are tracked as one field of type object.
inline constexpr std::size_t k_max_drift_fields = 256;
inline constexpr std::size_t k_max_drift_depth = 4;
// A field's id is one byte in the records' drift slot and in checkpoints.
static_assert(k_max_drift_fields <= 256);

// The field path the engine's drift measures read: the node chain writes each record's fields
// there (drift_tracker::observe). Its NUL byte matches no JSON key, so no decoder fills it.
const field_path& drift_field();

class drift_tracker {
  public:
    // `declared`: the paths of the node's schema, as written ("a.b"); when there are any they
    // are the expected fields and nothing is learned. Else the expected fields are those of
    // the records before `learn_until` (drift_tracker::start_learning).
    explicit drift_tracker(const std::vector<std::string>& declared);
    ~drift_tracker();
    drift_tracker(const drift_tracker&) = delete;
    drift_tracker& operator=(const drift_tracker&) = delete;

    // Whether the expected fields come from a declared schema (else: learned).
    bool declared() const { return declared_; }
    // Learning nodes: records with an event time before `until` teach the expected fields.
    // Only the first call counts (the first record fixes the learning period).
    void start_learning(time::timestamp_ns until);
    bool learning_started() const { return learn_until_ != k_not_started; }
    time::timestamp_ns learn_until() const { return learn_until_; }

    // Reads one record (a JSON object's text, with simdjson's padding readable after it, or
    // `padded` false to have it copied) with event time `t`; returns its fields as the
    // engine's drift accumulator reads them (valid until the next call). A record that does not
    // parse yields no fields.
    std::string_view observe(std::string_view json, time::timestamp_ns t, bool padded = true);

    std::size_t fields() const { return entries_.size(); }
    const std::string& name(std::size_t id) const { return entries_[id].name; }
    bool expected(std::size_t id) const { return entries_[id].expected; }
    // The first non-null type seen, or json_type::null when only null has been seen.
    json_type first_type(std::size_t id) const { return entries_[id].first; }
    // Field occurrences not tracked because k_max_drift_fields were tracked already.
    std::uint64_t untracked() const { return untracked_; }

    // Checkpoint section; restore() into a tracker built from the same plan. False on corrupt
    // bytes (the tracker is then as built).
    void snapshot(byte_writer& w) const;
    bool restore(byte_reader& r);

  private:
    static constexpr time::timestamp_ns k_not_started = INT64_MIN;
    struct entry {
        std::string name;  // canonical path spelling, for results
        json_type first = json_type::null;
        bool expected = false;
    };
    struct walker;
    struct key_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    // The id of the field with `key` (segments joined by '\0'), adding it when there is room;
    // -1 when it cannot be tracked.
    int find_or_add(std::string_view key, bool learn);
    void add_declared(const std::vector<std::string>& segments);

    bool declared_ = false;
    time::timestamp_ns learn_until_ = k_not_started;
    std::vector<entry> entries_;
    std::vector<std::string> keys_;  // per entry: its lookup key
    std::unordered_map<std::string, std::uint32_t, key_hash, std::equal_to<>> ids_;
    std::uint64_t untracked_ = 0;
    std::unique_ptr<walker> walker_;
};

// The drift accumulator of one window and group: per tracked field, the set of JSON types
// (bit 1 << json_type) its records had; 0 when no record had it. Trivially copyable; merge is
// a bitwise or.
struct drift_acc {
    std::array<std::uint8_t, k_max_drift_fields> types{};

    // `fields` as drift_tracker::observe wrote them.
    void add(std::string_view fields) {
        for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
            const auto id = static_cast<std::uint8_t>(fields[i]);
            types[id] |= static_cast<std::uint8_t>(fields[i + 1]);
        }
    }
    void merge(const drift_acc& o) {
        for (std::size_t i = 0; i < types.size(); ++i) types[i] |= o.types[i];
    }
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    // The drift measures: fields of the window's records the tracker does not expect; expected
    // fields no record of the window had (none when it has no records); fields some record
    // had with a type other than their first-seen one (null aside). `names`, when given, gets
    // the fields counted, in the order the tracker first saw them.
    std::size_t new_fields(const drift_tracker& t, std::vector<std::string>* names) const;
    std::size_t missing_fields(const drift_tracker& t, std::uint64_t records,
                               std::vector<std::string>* names) const;
    std::size_t type_changes(const drift_tracker& t, std::vector<std::string>* names) const;
};

}  // namespace weir::schema
