// Parameters of the file input and the file output.
#include "connectors/file/file_spec.h"

#include "connectors/common/common_spec.h"

namespace weir::connectors {

using params::object_spec;
using params::param_spec;
using params::param_type;
using params::string_role;

namespace {

std::shared_ptr<const object_spec> make_input_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "file input";
    spec->description =
        "Reads records from files: one path, or a glob such as /var/log/app/*.jsonl. Positions "
        "(inode, fingerprint, offset) are checkpointed, so a restart neither loses nor repeats "
        "lines; rotated files are followed by identity, not name.";
    spec->params = {
        {.name = "path",
         .type = param_type::string,
         .description = "A file, or a glob (*, ?, [..]) matching several; new matches are picked "
                        "up while running.",
         .required = true,
         .role = string_role::path},
        {.name = "exclude",
         .type = param_type::string_list,
         .description = "Globs of files to leave out, e.g. \"*.gz\".",
         .role = string_role::path},
        {.name = "follow",
         .type = param_type::boolean,
         .description = "Keep reading as files grow (like tail -F). With false the input ends "
                        "at the end of the files, which `weir run --once` relies on.",
         .default_text = "false"},
        {.name = "start_at",
         .type = param_type::enumeration,
         .description = "Where to start in a file seen for the first time (no checkpoint).",
         .default_text = "beginning",
         .choices = {"beginning", "end"}},
        {.name = "glob_interval",
         .type = param_type::duration,
         .description = "How often the glob is re-evaluated to find new files.",
         .default_text = "1s",
         .minimum = 10},
        {.name = "ignore_older",
         .type = param_type::duration,
         .description = "Skip files last modified longer ago than this; 0 reads every match.",
         .default_text = "0s"},
        {.name = "rotate_wait",
         .type = param_type::duration,
         .description = "How long a rotated (renamed or deleted) file is still read for lines "
                        "written just before the rotation.",
         .default_text = "5s"},
        {.name = "read_buffer_size",
         .type = param_type::size,
         .description = "Bytes read per system call and file.",
         .default_text = "64KiB",
         .minimum = 4096,
         .maximum = 64.0 * 1024 * 1024},
        {.name = "fingerprint_bytes",
         .type = param_type::size,
         .description = "How many leading bytes identify a file across renames (together with "
                        "its inode).",
         .default_text = "256B",
         .minimum = 16,
         .maximum = 64.0 * 1024},
        {.name = "max_open_files",
         .type = param_type::integer,
         .description = "How many matching files are kept open at once; beyond it the least "
                        "recently read are closed and reopened at their positions when they "
                        "have more to read. 0: half of the process's open-file limit.",
         .default_text = "0",
         .minimum = 0,
         .maximum = 1000000},
        max_line_length_param(),
    };
    add_format_params(spec->params);
    spec->check = check_format_params;
    return spec;
}

std::shared_ptr<const object_spec> make_rotate_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "file rotation";
    spec->description = "Size-based rotation: results.jsonl becomes results.jsonl.1, and so on.";
    spec->params = {
        {.name = "max_size",
         .type = param_type::size,
         .description = "Rotate when the file would grow beyond this size.",
         .required = true,
         .minimum = 4096},
        {.name = "max_files",
         .type = param_type::integer,
         .description = "How many rotated files to keep besides the current one.",
         .default_text = "5",
         .minimum = 1,
         .maximum = 1000},
    };
    return spec;
}

std::shared_ptr<const object_spec> make_output_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "file output";
    spec->description =
        "Appends one JSON object per line (check results or derived records) to a file.";
    spec->params = {
        {.name = "path",
         .type = param_type::string,
         .description = "The file to write; its directory must exist unless create_dirs.",
         .required = true,
         .role = string_role::path},
        {.name = "append",
         .type = param_type::boolean,
         .description = "Append to an existing file; false truncates it at start.",
         .default_text = "true"},
        {.name = "create_dirs",
         .type = param_type::boolean,
         .description = "Create missing parent directories.",
         .default_text = "false"},
        {.name = "flush_interval",
         .type = param_type::duration,
         .description = "Longest time a record or dead letter waits in memory before it "
                        "reaches the file; results are written as soon as their window has "
                        "closed; checkpoints always flush first.",
         .default_text = "1s",
         .minimum = 0,
         .maximum = 3600.0 * 1000},
        {.name = "fsync",
         .type = param_type::boolean,
         .description = "fsync after every flush (durable, slower).",
         .default_text = "false"},
        {.name = "rotate",
         .type = param_type::object,
         .description = "Rotate the file by size.",
         .object = make_rotate_spec()},
    };
    return spec;
}

}  // namespace

params::component_info file_input_component() {
    return {.type = "file",
            .kind = params::component_kind::input,
            .description = "Read (and optionally follow) files matched by a path or glob.",
            .spec = make_input_spec()};
}

params::component_info file_output_component() {
    return {.type = "file",
            .kind = params::component_kind::output,
            .description = "Write check results or records as JSON lines to a file.",
            .spec = make_output_spec(),
            .accepts_records = true};
}

}  // namespace weir::connectors
