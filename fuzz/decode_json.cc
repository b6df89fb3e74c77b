// Fuzz target: JSON-lines decoding (core/decode/json_decoder.h) of arbitrary bytes into the
// fields a plan typically extracts: top-level and nested paths, an array index, a number kept
// as its text, a key that is no identifier.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/decode/json_decoder.h"
#include "core/record/padded_buffer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace weir;
    static const std::vector<field_path> fields = {
        {{"device_id"}}, {{"reading", "value"}}, {{"ts"}}, {{"tags", "0"}}, {{"odd key"}}};
    decode::json_decoder_options options;
    options.max_record_size = 4096;
    options.number_text_slots = {2};
    decode::json_decoder decoder(fields, options);

    const std::string_view text(reinterpret_cast<const char*>(data), size);
    padded_buffer buffer(size);  // the decoder reads up to padding() bytes past the end
    buffer.append(text);

    record_batch batch;
    std::vector<std::string_view> lines;
    decoder.decode_lines(buffer.view(), batch, &lines);
    // The first line again, as one record (a message or a datagram).
    const std::size_t nl = text.find('\n');
    decoder.decode_record(buffer.view(0, nl == std::string_view::npos ? size : nl), batch);
    return 0;
}
