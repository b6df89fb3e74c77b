// A batch of decoded records: for each record, the values of the fields the plan references
// (its slots, row-major), and whether the record is valid. Records move through the engine in
// batches so per-record costs stay a few loads and stores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/record/arena.h"
#include "core/record/field_value.h"

namespace weir {

// Why a record was rejected before any check saw it (a fixed, small set: these become the
// `error_type` label of weir_input_errors_total).
enum class invalid_reason : std::uint8_t {
    none,
    malformed,    // not a JSON object / not a CSV row of the header's width
    too_long,     // longer than the input's max_record_size
    bad_time,     // the node's time field is absent, null or unreadable
    schema,       // a `schema:` rule failed (on_invalid: drop or fail)
    schema_kept,  // a `schema:` rule failed, on_invalid: keep: usable, and counted invalid
};

const char* to_string(invalid_reason r);

struct record_batch {
    std::size_t slots = 0;            // fields per record
    std::vector<field_value> values;  // size() * slots values
    std::vector<invalid_reason> status;
    arena strings;  // strings the values point to (besides the input)

    std::size_t size() const { return status.size(); }
    std::span<const field_value> record(std::size_t i) const {
        return {values.data() + i * slots, slots};
    }
    std::span<field_value> record(std::size_t i) { return {values.data() + i * slots, slots}; }

    void clear() {
        values.clear();
        status.clear();
        strings.reset();
    }
    // Appends a record whose slots are all absent; returns its index.
    std::size_t add_record() {
        values.resize(values.size() + slots);
        status.push_back(invalid_reason::none);
        return status.size() - 1;
    }
};

}  // namespace weir
