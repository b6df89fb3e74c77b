// Parameter declarations: every component (input and output types, the node sections, the
// daemon settings) declares its parameters once here — name, type, default, required,
// description, checks — and the same declaration drives validation, error messages,
// `weir schema` (JSON Schema) and the docs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diag/diagnostic.h"
#include "core/params/value.h"

namespace weir::params {

enum class param_type {
    string,
    integer,      // int64; `minimum`/`maximum` apply
    number,       // double; `minimum`/`maximum` apply
    boolean,      // true | false (YAML 1.2 core schema; "yes"/"on" are strings, and an error)
    duration,     // "250ms", "30s", "5m", "1h", "1d" (and "0"); `minimum`/`maximum` in ms
    size,         // "64KiB", "1MiB", "512B", "1GB" or a plain integer of bytes
    enumeration,  // one of `choices`
    string_list,  // one string or a list of strings
    string_map,   // a mapping of keys to scalars, passed through (e.g. librdkafka properties)
    object,       // a nested mapping described by `object`
    object_list,  // a list of nested mappings described by `object`
    object_map,   // a mapping of user-chosen names to nested mappings described by `object`
};

// What a string means beyond being a string. Roles are checked by later stages (the graph,
// the expression and assessment compilers); the schema generator may use them for formats.
enum class string_role {
    plain,
    expression,  // filter/set/join-key expression
    measure,     // a measure expression over aggregate functions
    assessment,  // a must_be/should_be string
    regex,       // RE2 syntax
    source_ref,  // the name of an input or a node of the same pipeline
    input_ref,   // the name of an input of the same pipeline
    output_ref,  // the name of an output of the same pipeline
    host_port,   // "host:port"
    url,
    path,
    name,  // a pipeline or check name: snake_case, as `weir validate` requires
};

struct object_spec;

struct param_spec {
    std::string name;
    param_type type = param_type::string;
    std::string description;
    bool required = false;
    std::string default_text;          // parsed like user input; "" = no default
    std::vector<std::string> choices;  // enumeration
    std::optional<double> minimum;     // integer/number; duration in ms; size in bytes
    std::optional<double> maximum;
    std::shared_ptr<const object_spec> object;  // object, object_list, object_map
    std::vector<std::string> scalar_forms;  // object: scalars accepted instead, e.g. "processing"
    string_role role = string_role::plain;  // string, string_list, and object_map keys
    std::string alias_of;  // non-empty: a deprecated alias of that parameter (a warning)
    // Its value (each value, for a string_map) is a secret wherever it comes from: never
    // printed (see mark_secrets).
    bool secret = false;
};

// A rule that spans several keys of one mapping.
struct key_rule {
    enum class kind {
        at_most_one,   // the keys are mutually exclusive
        exactly_one,   // one and only one of the keys
        at_least_one,  // one or more of the keys
    };
    kind rule = kind::at_most_one;
    std::vector<std::string> keys;
};

// Keys required or forbidden when `key` has the value `equals` (e.g. window.type: sliding
// requires `slide` and forbids `gap`).
struct conditional_rule {
    std::string key;
    std::string equals;
    std::vector<std::string> requires_keys;
    std::vector<std::string> forbids_keys;
};

struct object_spec {
    std::string name;  // for the schema and docs, e.g. "file input"
    std::string description;
    std::vector<param_spec> params;
    std::vector<key_rule> rules;
    std::vector<conditional_rule> conditionals;
    // Cross-field checks no declaration expresses (e.g. slide <= size); runs only when the
    // mapping passed every declared check. `path` is the mapping's dotted path.
    std::function<void(const value& v, const std::string& path, diagnostics& out)> check;

    const param_spec* find(std::string_view name) const;
    std::vector<std::string> names() const;
};

// Checks `v` against `spec`, reporting every problem with `path` (dotted, e.g.
// "nodes.quality.window") and the value's position: wrong types, unknown keys (with the
// nearest valid key), missing required keys, choices, ranges, key rules, nested objects.
// Returns true when nothing was wrong.
bool validate(const object_spec& spec, const value& v, const std::string& path, diagnostics& out);

// Marks as secret (value::secret) the values of `v` that `spec` declares secret, and in a
// string_map the values whose key names a secret (e.g. "sasl.password"), nested objects
// included; adds the texts of the scalars it marks to `texts`. Call it before validate(), so
// that messages about them show no value either.
void mark_secrets(const object_spec& spec, value& v, std::vector<std::string>& texts);

// Scalar parsers shared by validation and typed readers. On failure they return nullopt.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::optional<std::uint64_t> parse_size(std::string_view text);
std::optional<std::int64_t> parse_integer(std::string_view text);
std::optional<double> parse_number(std::string_view text);
std::optional<bool> parse_boolean(std::string_view text);

// "250ms", "30s", "5m" …: the shortest exact spelling of a duration.
std::string format_duration(std::chrono::milliseconds d);
// "64KiB", "1MB", "1500B" …: the shortest exact spelling of a size in bytes.
std::string format_size(std::uint64_t bytes);

// A value with the place it was written (or the enclosing mapping's place for defaults).
template <class T>
struct located {
    T value{};
    source_pos pos;
    bool given = false;   // written by the user (false: the spec's default)
    int text_column = 0;  // column of a one-line string's first character; 0 if unknown

    // Where character `offset` of a string value stands: exact for one-line scalars, the
    // value's own position otherwise (see value::pos_at).
    source_pos pos_at(std::size_t offset) const {
        if (text_column <= 0) return pos;
        return {pos.file, pos.line, text_column + static_cast<int>(offset)};
    }
};

// Typed access to a mapping that passed validate(): absent keys fall back to the spec's
// default; asking for an undeclared name or a wrong type is a programming error (throws
// std::logic_error).
class reader {
  public:
    reader(const object_spec& spec, const value& v);

    bool has(std::string_view name) const;  // written by the user
    const value* raw(std::string_view name) const;
    source_pos pos_of(std::string_view name) const;

    located<std::string> string(std::string_view name) const;  // also enumeration
    located<std::int64_t> integer(std::string_view name) const;
    located<double> number(std::string_view name) const;
    located<bool> boolean(std::string_view name) const;
    located<std::chrono::milliseconds> duration(std::string_view name) const;
    located<std::uint64_t> size(std::string_view name) const;
    std::vector<located<std::string>> strings(std::string_view name) const;  // string_list
    std::vector<std::pair<std::string, located<std::string>>> string_map(
        std::string_view name) const;

    // Nested objects: a reader over the nested mapping (or an empty one for defaults).
    std::optional<reader> object(std::string_view name) const;
    std::vector<reader> object_list(std::string_view name) const;
    std::vector<std::pair<located<std::string>, reader>> object_map(std::string_view name) const;

    const value& node() const { return *value_; }
    const object_spec& spec() const { return *spec_; }

  private:
    reader(const object_spec& spec, const value& v, source_pos fallback);
    const value::entry* lookup(std::string_view name) const;
    const param_spec& declared(std::string_view name) const;
    source_pos default_pos() const;

    const object_spec* spec_;
    const value* value_;
    source_pos fallback_pos_;  // where defaults "are" when value_ has no position of its own
};

// What config/ adds to the generated schema for the languages it knows: keywords (a JSON
// object as text, e.g. a pattern with its patternErrorMessage, completions) merged into the
// schema of every string parameter of that role.
struct json_schema_options {
    std::map<string_role, std::string> role_keywords;
};

// A JSON Schema (draft 2020-12) fragment for `spec`, as JSON text. config/ assembles the
// whole pipeline-file schema from these. Every parameter has a description and a
// markdownDescription (its description, type and default), and every pattern a
// patternErrorMessage written for people (editors show it instead of the expression).
std::string json_schema(const object_spec& spec, const json_schema_options& options = {});

}  // namespace weir::params
