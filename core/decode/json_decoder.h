// JSON-lines decoding with simdjson On-Demand: only the fields the plan references are
// extracted (nested paths included), straight into a record_batch. No exception, no
// allocation per record in the steady state; a bad line becomes an invalid record with a
// reason, never an error of the stream.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "core/expr/field_path.h"
#include "core/record/batch.h"

namespace weir::decode {

struct json_decoder_options {
    std::size_t max_record_size = 1 << 20;  // longer lines are invalid (too_long), unparsed
    // Slots whose numbers are kept as their text (a string value), so that epoch_ns times
    // stay exact where a double would round them; other values fill them as usual. A path
    // may be listed twice, once for its value and once here: it then fills both slots (the
    // record keeps its number, the event time reads the digits).
    std::vector<std::size_t> number_text_slots;
};

class json_decoder {
  public:
    // `fields[i]` fills slot i of every record.
    explicit json_decoder(const std::vector<field_path>& fields, json_decoder_options options = {});
    ~json_decoder();
    json_decoder(json_decoder&&) noexcept;
    json_decoder& operator=(json_decoder&&) noexcept;

    // Bytes that must be readable (any value) after the end of the data passed in.
    static std::size_t padding();

    // Decodes every line of `data` (records separated by '\n'; a final line without one is a
    // record too — the caller keeps partial lines back). Empty and blank lines are skipped.
    // `data.data() + data.size() + padding()` must be readable; the batch's strings point
    // into `data`, which must outlive the batch's use. Returns the number of records added.
    // With `lines`, the text of each record added (without its line end) is appended to it,
    // for outputs that want the record as it was read (late records, dead letters).
    std::size_t decode_lines(std::string_view data, record_batch& out,
                             std::vector<std::string_view>* lines = nullptr);

    // One record (a line without its newline), with the same padding rule.
    void decode_record(std::string_view line, record_batch& out);

    std::size_t slots() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace weir::decode
