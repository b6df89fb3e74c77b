// JSON Schema (draft 2020-12) generated from parameter declarations, for `weir schema` and
// editors' YAML language servers. The schema accepts what validate() accepts: quoted
// numbers and booleans, and "${VAR}" references wherever a scalar goes.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/params/spec.h"

namespace weir::params {

namespace {

using json = nlohmann::ordered_json;

// A string holding an environment reference, valid for any scalar before interpolation.
constexpr const char* env_reference = "\\$\\{";
constexpr const char* or_variable = " (or a ${VARIABLE})";

std::string with_env(const std::string& anchored) {
    return "^(" + anchored + ")$|" + env_reference;
}

const std::string duration_pattern =
    with_env("0|(?=[0-9])([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?");
const std::string size_pattern = with_env("[0-9]+(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?");
const std::string integer_pattern = with_env("[+-]?[0-9]+");
const std::string number_pattern = with_env("[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?");
const std::string boolean_pattern = with_env("true|false");
const std::string name_pattern = "^[a-z][a-z0-9_]*$";
constexpr const char* names_message =
    "names are snake_case: a lowercase letter, then lowercase letters, digits and _ "
    "(e.g. cpu_load)";

// Editors show a patternErrorMessage instead of "does not match the pattern of <regex>".
json with_message(const std::string& pattern, const std::string& message) {
    return {{"pattern", pattern}, {"patternErrorMessage", message}};
}

json merged(json schema, const json& more) {
    for (const auto& [key, val] : more.items()) schema[key] = val;
    return schema;
}

std::string quoted_list(const std::vector<std::string>& items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
        out += items[i];
    }
    return out;
}

// A description as Markdown: `code` spans as they are; outside them the characters Markdown
// would read as emphasis or HTML are escaped ("(temperature - 32) * 5 / 9", "<data_dir>").
std::string markdown_text(std::string_view text) {
    std::string out;
    bool in_code = false;
    for (const char c : text) {
        if (c == '`') in_code = !in_code;
        if (!in_code && (c == '*' || c == '<' || c == '>' || c == '[' || c == ']' || c == '\\')) {
            out += '\\';
        }
        out += c;
    }
    return out;
}

std::string code(std::string_view text) {
    return "`" + std::string(text) + "`";
}

std::string code_list(const std::vector<std::string>& items) {
    std::vector<std::string> coded;
    coded.reserve(items.size());
    for (const auto& i : items) coded.push_back(code(i));
    return quoted_list(coded);
}

std::string limit_text(const param_spec& p, double limit) {
    if (p.type == param_type::duration) {
        return code(format_duration(std::chrono::milliseconds(static_cast<std::int64_t>(limit))));
    }
    if (p.type == param_type::size) return code(format_size(static_cast<std::uint64_t>(limit)));
    if (limit == static_cast<double>(static_cast<std::int64_t>(limit))) {
        return code(std::to_string(static_cast<std::int64_t>(limit)));
    }
    return code(json(limit).dump());
}

// The type, limits and default of a parameter, in words: the second paragraph of its
// markdownDescription.
std::string type_note(const param_spec& p) {
    std::string note;
    switch (p.type) {
        case param_type::string:
            note = "text";
            break;
        case param_type::integer:
            note = "an integer";
            break;
        case param_type::number:
            note = "a number";
            break;
        case param_type::boolean:
            note = "`true` or `false`";
            break;
        case param_type::duration:
            note = "a duration such as `250ms`, `30s`, `5m`, `1h` or `1d`";
            break;
        case param_type::size:
            note = "a size such as `512B`, `64KiB` or `1MB`, or a number of bytes";
            break;
        case param_type::enumeration:
            note = "one of " + code_list(p.choices);
            break;
        case param_type::string_list:
            note = "one string or a list of strings";
            break;
        case param_type::string_map:
            note = "a mapping of keys to values";
            break;
        case param_type::object:
            note = "a mapping";
            if (!p.scalar_forms.empty()) note += ", or " + code_list(p.scalar_forms);
            break;
        case param_type::object_list:
            note = "a list of mappings";
            break;
        case param_type::object_map:
            note = "a mapping of names to mappings";
            break;
    }
    if (p.minimum && p.maximum) {
        note += ", from " + limit_text(p, *p.minimum) + " to " + limit_text(p, *p.maximum);
    } else if (p.minimum) {
        note += ", at least " + limit_text(p, *p.minimum);
    } else if (p.maximum) {
        note += ", at most " + limit_text(p, *p.maximum);
    }
    std::string out = "*Type:* " + note;
    if (p.required) out += " · *required*";
    if (!p.default_text.empty()) out += " · *default:* " + code(p.default_text);
    return out;
}

json object_schema(const object_spec& spec, const json_schema_options& options);

// The default as the JSON value a user would write.
json default_value(const param_spec& p) {
    const std::string& t = p.default_text;
    switch (p.type) {
        case param_type::integer:
            if (auto n = parse_integer(t)) return *n;
            break;
        case param_type::number:
            if (auto n = parse_number(t)) return *n;
            break;
        case param_type::boolean:
            if (auto b = parse_boolean(t)) return *b;
            break;
        case param_type::size:
            if (t.find_first_not_of("0123456789") == std::string::npos) {
                if (auto s = parse_size(t)) return *s;
            }
            break;
        case param_type::duration:
            if (t == "0") return 0;
            break;
        default:
            break;
    }
    return t;
}

json bounded(json schema, const param_spec& p) {
    if (p.minimum) schema["minimum"] = *p.minimum;
    if (p.maximum) schema["maximum"] = *p.maximum;
    return schema;
}

json type_schema(const param_spec& p, const json_schema_options& options) {
    switch (p.type) {
        case param_type::string:
            if (p.role == string_role::name) {
                return merged({{"type", "string"}},
                              with_message(with_env("[a-z][a-z0-9_]*"),
                                           std::string(names_message) + or_variable));
            }
            return {{"type", "string"}};
        // JSON Schema applies `pattern` to strings only and `minimum` to numbers only, so one
        // schema covers both spellings.
        case param_type::integer:
            return bounded(merged({{"type", {"integer", "string"}}},
                                  with_message(integer_pattern, std::string("write a whole number "
                                                                            "such as 100") +
                                                                    or_variable)),
                           p);
        case param_type::number:
            return bounded(merged({{"type", {"number", "string"}}},
                                  with_message(number_pattern,
                                               std::string("write a number such as 0.5 or 1e3") +
                                                   or_variable)),
                           p);
        case param_type::boolean:
            return merged(
                {{"type", {"boolean", "string"}}},
                with_message(boolean_pattern, std::string("write true or false") + or_variable +
                                                  "; yes, no, on and off are not "
                                                  "booleans here"));
        case param_type::duration:
            return {{"anyOf", json::array({merged({{"type", "string"}},
                                                  with_message(duration_pattern,
                                                               std::string("write a duration such "
                                                                           "as 250ms, 30s, 5m, 1h "
                                                                           "or 1d") +
                                                                   or_variable)),
                                           {{"const", 0}}})}};
        case param_type::size:
            return {{"anyOf",
                     json::array({merged({{"type", "string"}},
                                         with_message(size_pattern,
                                                      std::string("write a size such as 512B, "
                                                                  "64KiB or 1MB, or a number of "
                                                                  "bytes") +
                                                          or_variable)),
                                  bounded({{"type", "integer"}, {"minimum", 0}}, p)})}};
        case param_type::enumeration:
            return {{"anyOf",
                     json::array({{{"enum", p.choices}},
                                  merged({{"type", "string"}},
                                         with_message(env_reference, "write one of " +
                                                                         quoted_list(p.choices) +
                                                                         or_variable))})}};
        case param_type::string_list:
            return {{"oneOf", json::array({{{"type", "string"}},
                                           {{"type", "array"}, {"items", {{"type", "string"}}}}})}};
        case param_type::string_map:
            // Pass-through properties (librdkafka's) are often numbers or booleans in YAML.
            return {{"type", "object"},
                    {"additionalProperties", {{"type", {"string", "number", "boolean"}}}}};
        case param_type::object: {
            json object = p.object ? object_schema(*p.object, options) : json{{"type", "object"}};
            if (p.scalar_forms.empty()) return object;
            return {{"oneOf", json::array({{{"enum", p.scalar_forms}}, std::move(object)})}};
        }
        case param_type::object_list:
            return {
                {"type", "array"},
                {"items", p.object ? object_schema(*p.object, options) : json{{"type", "object"}}}};
        case param_type::object_map: {
            json map = {{"type", "object"}};
            const bool names = p.role == string_role::plain || p.role == string_role::source_ref ||
                               p.role == string_role::input_ref ||
                               p.role == string_role::output_ref;
            if (names) {
                map["propertyNames"] = with_message(name_pattern, names_message);
            }
            map["additionalProperties"] =
                p.object ? object_schema(*p.object, options) : json{{"type", "object"}};
            return map;
        }
    }
    return json::object();
}

json param_schema(const param_spec& p, const object_spec& owner,
                  const json_schema_options& options) {
    const param_spec* target = &p;
    json schema;
    if (!p.alias_of.empty()) {
        if (const param_spec* t = owner.find(p.alias_of)) target = t;
    }
    if (!p.description.empty()) {
        schema["description"] = p.description;
    } else if (target != &p) {
        schema["description"] = "Deprecated alias of \"" + p.alias_of + "\".";
    } else if (!target->description.empty()) {
        schema["description"] = target->description;
    }
    std::string markdown;
    if (schema.contains("description")) {
        markdown = markdown_text(schema["description"].get<std::string>()) + "\n\n";
    }
    markdown += type_note(*target);
    if (target != &p) schema["deprecated"] = true;
    if (target == &p && !p.default_text.empty()) schema["default"] = default_value(p);
    json type = type_schema(*target, options);
    for (auto& [key, val] : type.items()) schema[key] = std::move(val);
    if (target->type == param_type::string) {
        if (auto it = options.role_keywords.find(target->role); it != options.role_keywords.end()) {
            json keywords = json::parse(it->second);
            for (auto& [key, val] : keywords.items()) {
                if (key == "markdownDescription") {
                    markdown += "\n\n" + val.get<std::string>();
                } else {
                    schema[key] = std::move(val);
                }
            }
        }
    }
    schema["markdownDescription"] = std::move(markdown);
    return schema;
}

// A schema matching mappings in which `key` (or one of its deprecated aliases) is present.
json present(const object_spec& spec, const std::string& key) {
    json any = json::array({{{"required", {key}}}});
    for (const auto& p : spec.params) {
        if (p.alias_of == key) any.push_back({{"required", {p.name}}});
    }
    if (any.size() == 1) return any[0];
    return {{"anyOf", std::move(any)}};
}

json object_schema(const object_spec& spec, const json_schema_options& options) {
    json schema = {{"type", "object"}};
    if (!spec.name.empty()) schema["title"] = spec.name;
    if (!spec.description.empty()) {
        schema["description"] = spec.description;
        schema["markdownDescription"] = markdown_text(spec.description);
    }

    json properties = json::object();
    for (const auto& p : spec.params) properties[p.name] = param_schema(p, spec, options);
    schema["properties"] = std::move(properties);
    schema["additionalProperties"] = false;

    json required = json::array();
    json all_of = json::array();
    for (const auto& p : spec.params) {
        if (!p.required || !p.alias_of.empty()) continue;
        json has = present(spec, p.name);
        if (has.contains("anyOf")) {
            all_of.push_back(std::move(has));
        } else {
            required.push_back(p.name);
        }
    }
    if (!required.empty()) schema["required"] = std::move(required);

    // A deprecated alias and its target cannot both be written.
    for (const auto& p : spec.params) {
        if (!p.alias_of.empty()) {
            all_of.push_back({{"not", {{"required", {p.name, p.alias_of}}}}});
        }
    }

    for (const auto& rule : spec.rules) {
        json each = json::array();
        for (const auto& key : rule.keys) each.push_back(present(spec, key));
        switch (rule.rule) {
            case key_rule::kind::at_most_one:
                for (std::size_t i = 0; i < rule.keys.size(); ++i) {
                    for (std::size_t j = i + 1; j < rule.keys.size(); ++j) {
                        all_of.push_back({{"not", {{"allOf", json::array({each[i], each[j]})}}}});
                    }
                }
                break;
            case key_rule::kind::exactly_one:
                all_of.push_back({{"oneOf", each}});
                break;
            case key_rule::kind::at_least_one:
                all_of.push_back({{"anyOf", each}});
                break;
        }
    }

    for (const auto& cond : spec.conditionals) {
        json then = json::array();
        for (const auto& key : cond.requires_keys) then.push_back(present(spec, key));
        for (const auto& key : cond.forbids_keys) then.push_back({{"not", present(spec, key)}});
        if (then.empty()) continue;
        all_of.push_back(
            {{"if",
              {{"properties", {{cond.key, {{"const", cond.equals}}}}}, {"required", {cond.key}}}},
             {"then", {{"allOf", std::move(then)}}}});
    }
    if (!all_of.empty()) schema["allOf"] = std::move(all_of);
    return schema;
}

}  // namespace

std::string json_schema(const object_spec& spec, const json_schema_options& options) {
    return object_schema(spec, options).dump(2);
}

}  // namespace weir::params
