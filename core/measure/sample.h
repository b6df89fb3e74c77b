// Failed-value samples (`samples: N` on a check): the first N records of a (window, group) that
// count against the check, each kept as a small JSON object of its event time and the fields
// the measure reads. Bounded, mergeable in pane order and serialisable, like every accumulator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/measure/common.h"

namespace weir::measure {

// The most samples a check may keep per (window, group) (`samples:` is validated against it).
inline constexpr std::uint32_t k_max_samples = 100;
// A string value in a sample is cut to this many bytes (at a UTF-8 boundary) and marked "…".
inline constexpr std::size_t k_sample_value_bytes = 200;
// The samples of one result together stay within this many bytes of JSON; further ones are
// left out of the result (never cut in the middle).
inline constexpr std::size_t k_sample_result_bytes = 4096;

// A field shown in a sample: its name as written and its slot in the record.
struct sample_field {
    std::string name;
    std::uint32_t slot = 0;
    // The name says the value is a secret (params::names_a_secret: *pass*, *secret*, *token*,
    // *key*, *auth*, *credential*): written as "***".
    bool secret = false;
};

// First-N, so that results are reproducible: the same records in the same order give the same
// samples, and a restored checkpoint goes on where the uninterrupted run would. Both sides are
// kept — the records the check's function counts (the missing ones of missing_count) and the
// others — so that which side offends is decided when the window is judged: it depends on the
// assessment, which a reload may change while the window's state carries over.
struct sample_acc {
    std::vector<std::string> counted;  // JSON objects
    std::vector<std::string> others;

    bool full(std::uint32_t limit) const {
        return counted.size() >= limit && others.size() >= limit;
    }
    // Records one record on its side (when that side is not full).
    void add(bool is_counted, std::span<const field_value> record,
             std::span<const sample_field> fields, time_ns event_time, std::uint32_t limit);
    // `o` covers later records (panes, sessions): its samples come after this one's.
    void merge(const sample_acc& o, std::uint32_t limit);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r, std::uint32_t limit);
};

// Appends `v` as a JSON value: strings cut to k_sample_value_bytes, absent as null, objects and
// arrays (wrong-typed values) as the string "(object or array)".
void append_sample_value(const field_value& v, std::string& out);

}  // namespace weir::measure
