// Fuzz target: event-time parsing (core/time/timestamp.h). The input is a `time.format` and a
// value separated by the first newline: the format is compiled as a node's would be, the value
// parsed as a string and as a number, and what parse() refuses is explained. Every format
// weir names is tried on the value too, as are the time zone names.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/record/field_value.h"
#include "core/time/timestamp.h"

namespace {

void try_format(const weir::time::time_parser& parser, std::string_view value) {
    using weir::field_value;
    weir::time::timestamp_ns t = 0;
    const field_value as_string = field_value::make_string(value);
    if (parser.parse(as_string, t)) weir::time::format_rfc3339_ms(t);
    (void)parser.explain(as_string);
    (void)parser.parse_text(value, t);
    double number = 0;
    if (value.size() >= sizeof number) {
        __builtin_memcpy(&number, value.data(), sizeof number);
        const field_value as_number = field_value::make_number(number);
        (void)parser.parse(as_number, t);
        (void)parser.explain(as_number);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using weir::time::time_parser;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::size_t nl = text.find('\n');
    const std::string_view format = nl == std::string_view::npos ? text : text.substr(0, nl);
    const std::string_view value = nl == std::string_view::npos ? text : text.substr(nl + 1);

    time_parser::error error;
    if (const auto parser = time_parser::compile(format, &error)) try_format(*parser, value);
    for (const std::string_view named :
         {"rfc3339", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns"}) {
        try_format(*time_parser::compile(named), value);
    }
    weir::time::timestamp_ns t = 0;
    if (weir::time::parse_rfc3339(value, t)) weir::time::format_rfc3339_ms(t);
    // Fixed offsets only: a database name would read /usr/share/zoneinfo on every run.
    if (!format.empty() && (format[0] == '+' || format[0] == '-')) {
        (void)weir::time::time_zone::find(format);
    }
    return 0;
}
