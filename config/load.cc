// Loading: expands paths into settings and pipeline files, reads each with the YAML reader,
// validates every section against its declaration (and inputs/outputs against the registry),
// fills the typed model and checks each pipeline's graph. Every problem becomes a diagnostic.
#include "config/load.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "config/graph.h"
#include "config/plan.h"
#include "config/specs.h"
#include "config/yaml_reader.h"

namespace weir::config {

namespace fs = std::filesystem;
using params::component_kind;
using params::reader;
using params::value;

namespace {

// Far beyond any pipeline file; keeps a wrong path (a log file, a disk image) from being read.
constexpr std::uintmax_t max_file_size = 16 * 1024 * 1024;

bool is_settings_name(const fs::path& p) {
    const std::string name = p.filename().string();
    return name == "weir.yaml" || name == "weir.yml";
}

bool has_yaml_extension(const fs::path& p) {
    const std::string ext = p.extension().string();
    return ext == ".yaml" || ext == ".yml";
}

struct source_file {
    std::string path;
    bool settings = false;
};

// Paths to files: directories give their *.yaml / *.yml files, sorted, not recursively, but
// not the pipeline tests among them (*_test.yaml).
// Each file is taken once, however often it is named.
std::vector<source_file> expand(const std::vector<std::string>& paths, diagnostics& out) {
    std::vector<source_file> files;
    std::set<std::string> seen;
    auto add = [&](const fs::path& p) {
        std::error_code ec;
        fs::path canonical = fs::weakly_canonical(p, ec);
        if (!seen.insert(ec ? p.string() : canonical.string()).second) return;
        files.push_back({p.string(), is_settings_name(p)});
    };
    for (const auto& path : paths) {
        std::error_code ec;
        const fs::file_status st = fs::status(path, ec);
        if (!fs::exists(st)) {
            out.error({path, 0, 0}, "",
                      ec && ec != std::errc::no_such_file_or_directory
                          ? "cannot access: " + ec.message()
                          : std::string("no such file or directory"));
            continue;
        }
        if (!fs::is_directory(st)) {
            add(path);
            continue;
        }
        std::vector<fs::path> found;
        fs::directory_iterator it(path, ec), end;
        for (; !ec && it != end; it.increment(ec)) {
            const fs::path& p = it->path();
            if (!has_yaml_extension(p) || p.filename().string().starts_with(".")) continue;
            // Pipeline tests (`weir test`) live beside the pipelines they test.
            if (p.stem().string().ends_with("_test")) continue;
            std::error_code dir_ec;
            if (it->is_directory(dir_ec)) continue;
            found.push_back(p);
        }
        if (ec) {
            out.error({path, 0, 0}, "", "cannot read the directory: " + ec.message());
            continue;
        }
        std::sort(found.begin(), found.end(),
                  [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
        if (found.empty()) {
            out.warning({path, 0, 0}, "", "the directory holds no *.yaml or *.yml files");
        }
        for (const auto& p : found) add(p);
    }
    return files;
}

std::optional<std::string> read_file(const std::string& path, diagnostics& out) {
    return read_whole_file(path, max_file_size, "the file is too large for a configuration file",
                           {{path, 0, 0}, "", ""}, out);
}

// "Sensor-Readings.v2" -> "sensor_readings_v2": a name to suggest for `pipeline:`.
std::string snake_case_of(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c >= 'A' && c <= 'Z') {
            out += static_cast<char>(c - 'A' + 'a');
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out += c;
        } else if (!out.empty() && out.back() != '_') {
            out += '_';
        }
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    if (out.empty() || out[0] < 'a' || out[0] > 'z') out = "p_" + out;
    return out;
}

// Names referring to inputs, nodes or outputs, from a raw value that may be malformed: a
// scalar or the scalars of a list. Names from the environment are left out (check_node_rules
// reports them), so the graph checks never echo them.
std::vector<located<std::string>> reference_list(const value* v) {
    std::vector<located<std::string>> out;
    if (v == nullptr) return out;
    auto add = [&](const value& item) {
        if (item.is_scalar() && !item.from_env) out.push_back({item.text, item.pos, true});
    };
    if (v->is_scalar()) add(*v);
    if (v->is_sequence()) {
        for (const auto& item : v->items) add(item);
    }
    return out;
}

std::optional<located<std::string>> reference(const value* v) {
    if (v == nullptr || !v->is_scalar() || v->from_env) return std::nullopt;
    return located<std::string>{v->text, v->pos, true};
}

// --- nodes ---------------------------------------------------------------------------------

schema_config read_schema(const reader& r) {
    schema_config s;
    s.pos = r.node().pos;
    for (auto& [name, f] : r.object_map("fields")) {
        field_schema_config fs;
        fs.name = name;
        fs.type = f.string("type");
        fs.required = f.boolean("required").value;
        fs.allowed = f.strings("enum");
        if (f.has("min")) fs.minimum = f.number("min");
        if (f.has("max")) fs.maximum = f.number("max");
        if (f.has("pattern")) fs.pattern = f.string("pattern");
        s.fields.push_back(std::move(fs));
    }
    s.on_invalid = r.string("on_invalid");
    s.dead_letter = reference(r.raw("dead_letter"));
    return s;
}

transform_config read_transform(const reader& r) {
    transform_config t;
    t.pos = r.node().pos;
    if (r.has("filter")) {
        t.type = transform_config::kind::filter;
        t.expression = r.string("filter");
    } else if (r.has("set") || r.has("rename")) {
        const bool set = r.has("set");
        t.type = set ? transform_config::kind::set : transform_config::kind::rename;
        const value& map = *r.raw(set ? "set" : "rename");
        for (const auto& e : map.entries) {
            t.assignments.emplace_back(
                located<std::string>{e.key, e.key_pos, true},
                located<std::string>{e.val.text, e.val.pos, true, e.val.text_column});
        }
    } else {
        t.type = transform_config::kind::drop;
        for (auto& field : r.strings("drop")) {
            t.assignments.emplace_back(std::move(field), located<std::string>{});
        }
    }
    return t;
}

check_config read_check(const reader& r) {
    check_config c;
    c.pos = r.node().pos;
    c.name = r.string("name");
    c.measure = r.string("measure");
    if (r.has("must_be")) c.must_be = r.string("must_be");
    if (r.has("should_be")) c.should_be = r.string("should_be");
    if (r.has("filter")) c.filter = r.string("filter");
    c.assess_alias = r.node().find("assess") != nullptr;
    c.description = r.string("description").value;
    if (r.has("on_no_data")) c.on_no_data = r.string("on_no_data");
    if (r.has("on_partial")) c.on_partial = r.string("on_partial");
    c.samples = r.integer("samples");
    c.learn_anomalies = r.boolean("learn_anomalies").value;
    for (auto [key, target] :
         {std::pair{"labels", &c.labels}, std::pair{"annotations", &c.annotations}}) {
        const value* map = r.raw(key);
        if (map == nullptr) continue;
        for (const auto& e : map->entries) {
            target->emplace_back(located<std::string>{e.key, e.key_pos, true},
                                 located<std::string>{e.val.text, e.val.pos, true});
        }
    }
    return c;
}

node_config read_node(const std::string& name, const source_pos& pos, const reader& r) {
    node_config n;
    n.name = name;
    n.pos = pos;
    n.from = reference_list(r.raw("from"));
    n.critical = r.boolean("critical").value;
    if (r.has("schema")) n.schema = read_schema(*r.object("schema"));
    for (const auto& t : r.object_list("transforms")) n.transforms.push_back(read_transform(t));
    if (r.has("time")) {
        time_config t;
        t.pos = r.pos_of("time");
        if (auto tr = r.object("time")) {
            t.field = tr->string("field");
            t.format = tr->string("format");
            t.timezone = tr->string("timezone");
            t.max_jump = tr->duration("max_jump");
        } else {
            t.processing = true;
        }
        n.time = std::move(t);
    }
    if (r.has("window")) {
        const reader w = *r.object("window");
        window_config wc;
        wc.pos = w.node().pos;
        wc.type = w.string("type");
        wc.size = w.duration("size");
        wc.slide = w.duration("slide");
        wc.gap = w.duration("gap");
        wc.allowed_lateness = w.duration("allowed_lateness");
        wc.idle_timeout = w.duration("idle_timeout");
        n.window = std::move(wc);
    }
    n.group_by = r.strings("group_by");
    n.max_groups = r.integer("max_groups");
    n.group_ttl = r.duration("group_ttl");
    n.exact_quantile_limit = r.integer("exact_quantile_limit");
    n.empty_is_missing = r.boolean("empty_is_missing").value;
    for (const auto& c : r.object_list("checks")) n.checks.push_back(read_check(c));
    n.emit = r.string("emit");
    n.on_no_data = r.string("on_no_data");
    n.on_partial = r.string("on_partial");
    n.outputs = reference_list(r.raw("outputs"));
    {
        const reader e = *r.object("on_error");
        n.on_error.action = e.string("action");
        n.on_error.max_errors = e.integer("max_errors");
        n.on_error.per = e.duration("per");
    }
    {
        const reader b = *r.object("buffer");
        n.buffer.max_records = b.integer("max_records");
        n.buffer.when_full = b.string("when_full");
    }
    if (r.has("join")) {
        const reader j = *r.object("join");
        join_config jc;
        jc.pos = j.node().pos;
        jc.type = j.string("type");
        const auto left = reference(j.raw("left"));
        const auto right = reference(j.raw("right"));
        if (left) jc.left = *left;
        if (right) jc.right = *right;
        const reader on = *j.object("on");
        jc.on_left = on.string("left");
        jc.on_right = on.string("right");
        jc.within = j.duration("within");
        jc.kind = j.string("kind");
        if (left && right) n.join = std::move(jc);
    }
    for (const auto& d : r.object_list("depends_on")) {
        dependency_config dc;
        dc.pos = d.node().pos;
        const auto input = reference(d.raw("input"));
        if (!input) continue;
        dc.input = *input;
        dc.max_lag = d.duration("max_lag");
        dc.on_down = d.string("on_down");
        dc.max_hold = d.duration("max_hold");
        n.depends_on.push_back(std::move(dc));
    }
    n.late_output = reference(r.raw("late_output"));
    n.dead_letter = reference(r.raw("dead_letter"));
    return n;
}

// What the graph checks need from a node that failed validation: only the parts whose shape
// is right, so references still resolve and nothing is reported twice.
node_config read_node_leniently(const std::string& name, const source_pos& pos, const value& v) {
    node_config n;
    n.complete = false;
    n.name = name;
    n.pos = pos;
    n.from = reference_list(v.find("from"));
    if (const value* checks = v.find("checks"); checks != nullptr && checks->is_sequence()) {
        for (const auto& item : checks->items) {
            check_config c;
            c.pos = item.pos;
            if (const value* name = item.find("name"); name != nullptr && name->is_scalar()) {
                c.name = {name->text, name->pos, true};
            }
            // What a check measures and how it is judged, when written as text: checked
            // even in a node with errors elsewhere, so one run reports them all.
            const auto text = [&](const char* key) -> std::optional<located<std::string>> {
                const value* v = item.find(key);
                if (v == nullptr || !v->is_scalar() || v->text.empty()) return std::nullopt;
                return located<std::string>{v->text, v->pos, true, v->text_column};
            };
            if (auto measure = text("measure")) c.measure = std::move(*measure);
            c.must_be = text("must_be");
            if (!c.must_be) {
                c.must_be = text("assess");
                c.assess_alias = c.must_be.has_value();
            }
            c.should_be = text("should_be");
            c.filter = text("filter");
            n.checks.push_back(std::move(c));
        }
    }
    n.outputs = reference_list(v.find("outputs"));
    n.late_output = reference(v.find("late_output"));
    n.dead_letter = reference(v.find("dead_letter"));
    if (const value* schema = v.find("schema"); schema != nullptr) {
        if (auto dead = reference(schema->find("dead_letter"))) {
            n.schema = schema_config{};
            n.schema->pos = schema->pos;
            n.schema->dead_letter = dead;
        }
    }
    if (const value* join = v.find("join"); join != nullptr && join->is_mapping()) {
        auto left = reference(join->find("left"));
        auto right = reference(join->find("right"));
        if (left && right) {
            n.join = join_config{};
            n.join->pos = join->pos;
            n.join->left = *left;
            n.join->right = *right;
        }
    }
    if (const value* deps = v.find("depends_on"); deps != nullptr && deps->is_sequence()) {
        for (const auto& item : deps->items) {
            if (auto input = reference(item.find("input"))) {
                dependency_config d;
                d.pos = item.pos;
                d.input = *input;
                n.depends_on.push_back(std::move(d));
            }
        }
    }
    return n;
}

// --- inputs and outputs --------------------------------------------------------------------

component_config read_component(const value::entry& e, component_kind kind,
                                const params::component_registry& registry,
                                const std::string& section, const load_options& options,
                                diagnostics& out) {
    component_config c;
    c.name = e.key;
    c.pos = e.key_pos;
    c.params = e.val;
    const std::string path = section + "." + e.key;
    if (!e.val.is_mapping()) return c;  // reported by the sections' validation

    const std::string noun = kind == component_kind::input ? "input" : "output";
    const std::vector<std::string> types = registry.types(kind);
    const value* type = e.val.find("type");
    if (type == nullptr) {
        out.error(e.val.pos, path,
                  "missing required key \"type\" (" + noun + " types: " + comma_list(types) + ")");
        return c;
    }
    if (!type->is_scalar()) {
        out.error(type->pos, path + ".type", "expected a string, got " + type->display());
        return c;
    }
    c.type = {type->text, type->pos, true};
    c.info = registry.find(kind, type->text);
    if (c.info == nullptr) {
        std::string message = "unknown " + noun + " type " + type->display();
        const component_kind other =
            kind == component_kind::input ? component_kind::output : component_kind::input;
        const std::string near = type->secret ? std::string() : nearest(type->text, types);
        if (!near.empty()) {
            message += "; did you mean " + in_quotes(near) + "?";
        } else if (!type->secret && registry.find(other, type->text) != nullptr) {
            message += "; " + in_quotes(type->text) + " is an " +
                       (noun == "input" ? "output" : "input") + " type";
        }
        message += " (" + noun + " types: " + comma_list(types) + ")";
        out.error(type->pos, path + ".type", message);
        return c;
    }
    if (!c.info->implemented && options.refuse_unbuilt) {
        // Declared (the language has it, so its parameters are checked below) but not built:
        // `run` could not start it, so `validate` refuses it too.
        std::vector<std::string> built;
        for (const auto* info : registry.all(kind)) {
            if (info->implemented) built.push_back(info->type);
        }
        out.error(type->pos, path + ".type",
                  noun + " type " + type->display() +
                      " is not built into this version of weir yet (" + noun +
                      " types it runs: " + comma_list(built) + ")");
    }
    // The type's declaration covers the parameters besides `type`.
    if (c.info->spec) params::mark_secrets(*c.info->spec, c.params, c.secrets);
    value rest = c.params;
    rest.entries.erase(std::remove_if(rest.entries.begin(), rest.entries.end(),
                                      [](const value::entry& x) { return x.key == "type"; }),
                       rest.entries.end());
    if (c.info->spec) params::validate(*c.info->spec, rest, path, out);
    return c;
}

// The checks of this machine (component_info::preflight) for every input and output whose
// parameters are sound, unknown keys aside (reported already): made after compiling, so that
// they hide none of the compiler's findings.
void preflight(const std::vector<component_config>& components, const std::string& section,
               diagnostics& out) {
    for (const auto& c : components) {
        if (c.info == nullptr || !c.info->preflight || !c.info->spec || !c.params.is_mapping()) {
            continue;
        }
        value known = c.params;
        std::erase_if(known.entries, [&](const value::entry& x) {
            return std::none_of(c.info->spec->params.begin(), c.info->spec->params.end(),
                                [&](const params::param_spec& p) { return p.name == x.key; });
        });
        const std::string path = section + "." + c.name;
        diagnostics ignored;
        if (params::validate(*c.info->spec, known, path, ignored)) {
            c.info->preflight(known, path, out);
        }
    }
}

// --- files ---------------------------------------------------------------------------------

value empty_mapping_at(const std::string& file) {
    value v;
    v.type = value::kind::mapping;
    v.pos = {file, 1, 1};
    return v;
}

void fill_settings(const reader& r, settings_config& s) {
    s.data_dir = r.string("data_dir");
    const reader http = *r.object("http");
    s.http_listen = http.string("listen");
    s.http_tap = http.boolean("tap");
    s.http_tap_remote = http.boolean("tap_remote");
    s.http_commands_remote = http.boolean("commands_remote");
    s.http_tap_rate = http.integer("tap_rate");
    const reader log = *r.object("log");
    s.log_level = log.string("level");
    s.log_format = log.string("format");
    s.checkpoint_interval = r.object("checkpoint")->duration("interval");
    s.shutdown_timeout = r.duration("shutdown_timeout");
    s.metrics_max_group_series = r.object("metrics")->integer("max_group_series");
}

void load_settings(const std::string& file, const std::string& text, const env_lookup& env,
                   settings_config& s, diagnostics& out) {
    s.file = file;
    auto doc = read_yaml(text, file, env, out);
    if (!doc) return;
    if (doc->is_null()) return;  // an empty settings file: every default
    if (params::validate(settings_spec(), *doc, "", out))
        fill_settings(reader(settings_spec(), *doc), s);
}

// Loads one pipeline file into `p`; false when it cannot be read as a pipeline at all.
bool load_pipeline(const std::string& file, std::string_view text, const env_lookup& env,
                   const params::component_registry& registry, const load_options& options,
                   pipeline_config& p, diagnostics& out) {
    p.file = file;
    auto doc = read_yaml(text, file, env, out);
    if (!doc) return false;
    if (doc->is_null()) {
        out.error({file, 1, 1}, "", "the file is empty; a pipeline needs inputs and nodes");
        return false;
    }
    params::validate(pipeline_sections_spec(), *doc, "", out);
    if (!doc->is_mapping()) return false;

    // The name: `pipeline:`, or else the file's stem.
    if (const value* name = doc->find("pipeline"); name != nullptr && name->is_scalar()) {
        p.name = name->text;
        p.name_pos = name->pos;
        if (!is_snake_case(name->text)) {
            out.error(name->pos, "pipeline",
                      "invalid pipeline name " + name->display() +
                          ": names are snake_case ([a-z][a-z0-9_]*)");
        }
    } else {
        p.name = fs::path(file).stem().string();
        p.name_pos = {file, 1, 1};
        if (!is_snake_case(p.name)) {
            out.error(p.name_pos, "",
                      "the file name " + in_quotes(p.name) +
                          " is not a valid pipeline name (snake_case: [a-z][a-z0-9_]*); rename "
                          "the file or set `pipeline: " +
                          snake_case_of(p.name) + "`");
        }
    }

    const value* inputs = doc->find("inputs");
    const value* nodes = doc->find("nodes");
    const value* outputs = doc->find("outputs");
    for (const auto* section : {inputs, nodes}) {
        if (section != nullptr && section->is_mapping() && section->entries.empty()) {
            out.error(
                section->pos, section == inputs ? "inputs" : "nodes",
                section == inputs ? "expected at least one input" : "expected at least one node");
        }
    }

    if (inputs != nullptr && inputs->is_mapping()) {
        for (const auto& e : inputs->entries) {
            p.inputs.push_back(
                read_component(e, component_kind::input, registry, "inputs", options, out));
        }
    }
    if (outputs != nullptr && outputs->is_mapping()) {
        for (const auto& e : outputs->entries) {
            p.outputs.push_back(
                read_component(e, component_kind::output, registry, "outputs", options, out));
        }
    }
    std::set<std::string, std::less<>> partial;  // nodes read leniently, for the graph only
    if (nodes != nullptr && nodes->is_mapping()) {
        for (const auto& e : nodes->entries) {
            const std::string path = "nodes." + e.key;
            if (p.find_input(e.key) != nullptr) {
                out.error(e.key_pos, path,
                          "the name " + in_quotes(e.key) +
                              " is already used by an input; inputs and nodes share one "
                              "namespace");
            }
            if (!e.val.is_mapping()) {
                p.nodes.push_back(read_node_leniently(e.key, e.key_pos, value{}));
                partial.insert(e.key);
                continue;
            }
            const bool ok = params::validate(node_spec(), e.val, path, out);
            check_node_rules(e.val, path, out);
            p.nodes.push_back(ok ? read_node(e.key, e.key_pos, reader(node_spec(), e.val))
                                 : read_node_leniently(e.key, e.key_pos, e.val));
            if (!ok) partial.insert(e.key);
        }
    }

    // References only make sense when both sections could be read.
    if (inputs != nullptr && inputs->is_mapping() && nodes != nullptr && nodes->is_mapping()) {
        check_graph(p, out);
        if (partial.empty()) {
            p.plan = compile_pipeline(p, out.has_errors(), options.refuse_unbuilt, out);
        } else {
            // Partly read nodes have what the graph checks need and their checks' text; the
            // checking pass still covers every expression and measure (nothing is built).
            compile_pipeline(p, true, options.refuse_unbuilt, out);
        }
    }
    if (options.preflight) {
        preflight(p.inputs, "inputs", out);
        preflight(p.outputs, "outputs", out);
    }
    return true;
}

// Adds a loaded pipeline unless its name is taken; `owners` maps names to files.
void add_pipeline(pipeline_config p, std::map<std::string, std::string>& owners, config_set& config,
                  diagnostics& out) {
    auto [it, fresh] = owners.emplace(p.name, p.file);
    if (!fresh) {
        out.error(p.name_pos, p.name_pos.line == 1 && p.name_pos.column == 1 ? "" : "pipeline",
                  "pipeline " + in_quotes(p.name) + " is already defined in " + it->second);
        return;
    }
    config.pipelines.push_back(std::move(p));
}

void finish(config_set& config) {
    std::sort(config.pipelines.begin(), config.pipelines.end(),
              [](const pipeline_config& a, const pipeline_config& b) { return a.name < b.name; });
}

void default_settings(settings_config& s) {
    const value empty = empty_mapping_at("");
    fill_settings(reader(settings_spec(), empty), s);
}

}  // namespace

std::optional<std::string> read_whole_file(const std::string& path, std::uintmax_t max_size,
                                           std::string_view too_large, const file_mention& where,
                                           diagnostics& out) {
    auto fail = [&](const std::string& message) -> std::optional<std::string> {
        out.error(where.pos, where.at, where.prefix + message);
        return std::nullopt;
    };
    std::error_code ec;
    if (!fs::exists(path, ec)) return fail("no such file or directory");
    if (!fs::is_regular_file(path, ec)) return fail("not a regular file");
    const auto size = fs::file_size(path, ec);
    if (!ec && size > max_size) {
        return fail(std::string(too_large) + " (" + std::to_string(size) + " bytes)");
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (!in || in.bad()) return fail(std::string("cannot read the file: ") + std::strerror(errno));
    return text.str();
}

env_lookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

// Pipeline files are independent until they meet in one configuration, and yaml-cpp takes most
// of the time: they are read on up to this many threads, then added in name order.
constexpr unsigned max_load_threads = 4;

namespace {

void collect_secrets(load_result& r) {
    for (const auto& p : r.config.pipelines) {
        for (const auto& c : p.inputs)
            r.secrets.insert(r.secrets.end(), c.secrets.begin(), c.secrets.end());
        for (const auto& c : p.outputs)
            r.secrets.insert(r.secrets.end(), c.secrets.begin(), c.secrets.end());
    }
}

}  // namespace

load_result load(const std::vector<std::string>& paths, const params::component_registry& registry,
                 const env_lookup& env, const load_options& options) {
    load_result r;
    default_settings(r.config.settings);
    struct pipeline_file {
        std::string path;
        std::string text;
        pipeline_config config;
        diagnostics diags;
        bool loaded = false;
    };
    std::vector<pipeline_file> files;
    std::string settings_file;
    for (const auto& f : expand(paths, r.diags)) {
        auto text = read_file(f.path, r.diags);
        if (!text) continue;
        if (f.settings) {
            if (!settings_file.empty()) {
                r.diags.error(
                    {f.path, 0, 0}, "",
                    "a second settings file; settings were already read from " + settings_file);
                continue;
            }
            settings_file = f.path;
            load_settings(f.path, *text, env, r.config.settings, r.diags);
            continue;
        }
        files.push_back({f.path, std::move(*text), {}, {}, false});
    }

    auto load_one = [&](pipeline_file& f) {
        f.loaded = load_pipeline(f.path, f.text, env, registry, options, f.config, f.diags);
    };
    const unsigned threads = static_cast<unsigned>(std::min<std::size_t>(
        {files.size(), max_load_threads, std::max(1u, std::thread::hardware_concurrency())}));
    if (threads <= 1) {
        for (auto& f : files) load_one(f);
    } else {
        std::atomic<std::size_t> next{0};
        auto work = [&] {
            for (std::size_t i; (i = next.fetch_add(1)) < files.size();) load_one(files[i]);
        };
        std::vector<std::jthread> pool;
        for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
        work();
    }

    std::map<std::string, std::string> owners;
    for (auto& f : files) {
        r.diags.append(f.diags);
        if (f.loaded) add_pipeline(std::move(f.config), owners, r.config, r.diags);
    }
    finish(r.config);
    collect_secrets(r);
    return r;
}

load_result load_text(const std::string& text, const std::string& file,
                      const params::component_registry& registry, const env_lookup& env,
                      const load_options& options) {
    load_result r;
    default_settings(r.config.settings);
    pipeline_config p;
    if (load_pipeline(file, text, env, registry, options, p, r.diags)) {
        r.config.pipelines.push_back(std::move(p));
    }
    collect_secrets(r);
    return r;
}

}  // namespace weir::config
