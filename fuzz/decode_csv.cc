// Fuzz target: CSV decoding (core/decode/csv_decoder.h) of arbitrary bytes as a stream that
// arrives in two pieces (partial records carried over), its final record without a line end,
// the rows read back cell by cell, and one record decoded alone.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "core/decode/csv_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace weir;
    static const std::vector<field_path> fields = {{{"device_id"}}, {{"value"}}, {{"ts"}}};
    if (size == 0) return 0;
    // The first byte picks the dialect, the second where the stream is split.
    const std::uint8_t dialect = data[0];
    decode::csv_decoder_options options;
    options.delimiter = (dialect & 1) != 0 ? ';' : ',';
    options.quote = (dialect & 2) != 0 ? '\'' : '"';
    options.header = (dialect & 4) == 0;
    if (!options.header || (dialect & 8) != 0) options.columns = {"device_id", "value", "ts"};
    options.null_values = {"NA", ""};
    options.max_record_size = 256;
    decode::csv_decoder decoder(fields, options);

    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t split = text.empty() ? 0 : (size > 1 ? data[1] : 0) % (text.size() + 1);

    record_batch batch;
    std::vector<std::string_view> rows;
    const auto first = decoder.decode(text.substr(0, split), batch, false, &rows);
    // What was not consumed is passed again, followed by the rest.
    const std::string_view rest = text.substr(first.consumed);
    decoder.decode(rest, batch, true, &rows);

    std::vector<std::pair<std::string_view, field_value>> cells;
    for (const auto row : rows) {
        cells.clear();
        decoder.row_cells(row, cells, batch.strings);
    }
    const std::string header = decoder.header_row();
    decoder.reset();
    if (!header.empty()) decoder.set_header(header);
    decoder.decode_record(text, batch);
    decoder.header_from(text);
    return 0;
}
