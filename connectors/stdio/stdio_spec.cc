// Parameters of the stdin input and the console output.
#include "connectors/stdio/stdio_spec.h"

#include "connectors/common/common_spec.h"

namespace weir::connectors {

using params::object_spec;
using params::param_spec;
using params::param_type;

namespace {

std::shared_ptr<const object_spec> make_stdin_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "stdin input";
    spec->description =
        "Reads newline-delimited records from standard input until it closes "
        "(a bounded input: `weir run --once` ends with it).";
    spec->params = {max_line_length_param()};
    add_format_params(spec->params);
    spec->check = check_format_params;
    return spec;
}

std::shared_ptr<const object_spec> make_console_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "console output";
    spec->description = "Prints check results or records, one per line.";
    spec->params = {
        {.name = "format",
         .type = param_type::enumeration,
         .description = "text: a readable line per result (check, window, group, value, "
                        "outcome); json: the result record as JSON.",
         .default_text = "text",
         .choices = {"text", "json"}},
        {.name = "color",
         .type = param_type::enumeration,
         .description = "Colour outcomes (text format): auto = when the stream is a terminal "
                        "and NO_COLOR is unset.",
         .default_text = "auto",
         .choices = {"auto", "always", "never"}},
        {.name = "target",
         .type = param_type::enumeration,
         .description = "The stream written to.",
         .default_text = "stdout",
         .choices = {"stdout", "stderr"}},
        {.name = "emit",
         .type = param_type::enumeration,
         .description =
             "Which results are printed (after the checks' own emit): all; failures (warn, "
             "fail, no_data); changes (warn and fail, and results whose outcome differs from "
             "the previous window's of the same check and group, e.g. back to pass). Results "
             "left out are counted in a one-line summary every summary_interval. Default: "
             "changes for format: text, all for format: json.",
         .choices = {"all", "failures", "changes"}},
        {.name = "summary_interval",
         .type = param_type::duration,
         .description = "How often a line counts the results emit left out (also printed when "
                        "weir stops); 0: only when weir stops.",
         .default_text = "1m",
         .minimum = 0,
         .maximum = 24.0 * 3600 * 1000},
    };
    spec->conditionals = {{.key = "format", .equals = "json", .forbids_keys = {"color"}}};
    return spec;
}

}  // namespace

params::component_info stdin_input_component() {
    return {.type = "stdin",
            .kind = params::component_kind::input,
            .description = "Read newline-delimited records from standard input.",
            .spec = make_stdin_spec()};
}

params::component_info console_output_component() {
    return {.type = "console",
            .kind = params::component_kind::output,
            .description = "Print check results or records to standard output.",
            .spec = make_console_spec(),
            .accepts_records = true};
}

}  // namespace weir::connectors
