// JSON Schema (draft 2020-12) generated from parameter declarations, for `weir schema` and
// editors' YAML language servers. The schema accepts what validate() accepts: quoted
// numbers and booleans, and "${VAR}" references wherever a scalar goes.
#include <nlohmann/json.hpp>

#include "core/params/spec.h"

namespace weir::params {

namespace {

using json = nlohmann::ordered_json;

// A string holding an environment reference, valid for any scalar before interpolation.
constexpr const char* env_reference = "\\$\\{";

std::string with_env(const std::string& anchored) {
    return "^(" + anchored + ")$|" + env_reference;
}

const std::string duration_pattern =
    with_env("0|(?=[0-9])([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?");
const std::string size_pattern = with_env("[0-9]+(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?");
const std::string integer_pattern = with_env("[+-]?[0-9]+");
const std::string number_pattern = with_env("[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?");
const std::string boolean_pattern = with_env("true|false");

json object_schema(const object_spec& spec);

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

json type_schema(const param_spec& p) {
    switch (p.type) {
        case param_type::string:
            return {{"type", "string"}};
        // JSON Schema applies `pattern` to strings only and `minimum` to numbers only, so one
        // schema covers both spellings.
        case param_type::integer:
            return bounded({{"type", {"integer", "string"}}, {"pattern", integer_pattern}}, p);
        case param_type::number:
            return bounded({{"type", {"number", "string"}}, {"pattern", number_pattern}}, p);
        case param_type::boolean:
            return {{"type", {"boolean", "string"}}, {"pattern", boolean_pattern}};
        case param_type::duration:
            return {{"anyOf", json::array({{{"type", "string"}, {"pattern", duration_pattern}},
                                           {{"const", 0}}})}};
        case param_type::size:
            return {{"anyOf", json::array({{{"type", "string"}, {"pattern", size_pattern}},
                                           bounded({{"type", "integer"}, {"minimum", 0}}, p)})}};
        case param_type::enumeration:
            return {{"anyOf", json::array({{{"enum", p.choices}},
                                           {{"type", "string"}, {"pattern", env_reference}}})}};
        case param_type::string_list:
            return {{"oneOf", json::array({{{"type", "string"}},
                                           {{"type", "array"}, {"items", {{"type", "string"}}}}})}};
        case param_type::string_map:
            // Pass-through properties (librdkafka's) are often numbers or booleans in YAML.
            return {{"type", "object"},
                    {"additionalProperties", {{"type", {"string", "number", "boolean"}}}}};
        case param_type::object: {
            json object = p.object ? object_schema(*p.object) : json{{"type", "object"}};
            if (p.scalar_forms.empty()) return object;
            return {{"oneOf", json::array({{{"enum", p.scalar_forms}}, std::move(object)})}};
        }
        case param_type::object_list:
            return {{"type", "array"},
                    {"items", p.object ? object_schema(*p.object) : json{{"type", "object"}}}};
        case param_type::object_map: {
            json map = {{"type", "object"}};
            const bool names = p.role == string_role::plain || p.role == string_role::source_ref ||
                               p.role == string_role::input_ref ||
                               p.role == string_role::output_ref;
            if (names) map["propertyNames"] = {{"pattern", "^[a-z][a-z0-9_]*$"}};
            map["additionalProperties"] =
                p.object ? object_schema(*p.object) : json{{"type", "object"}};
            return map;
        }
    }
    return json::object();
}

json param_schema(const param_spec& p, const object_spec& owner) {
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
    if (target != &p) schema["deprecated"] = true;
    if (target == &p && !p.default_text.empty()) schema["default"] = default_value(p);
    json type = type_schema(*target);
    for (auto& [key, val] : type.items()) schema[key] = std::move(val);
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

json object_schema(const object_spec& spec) {
    json schema = {{"type", "object"}};
    if (!spec.name.empty()) schema["title"] = spec.name;
    if (!spec.description.empty()) schema["description"] = spec.description;

    json properties = json::object();
    for (const auto& p : spec.params) properties[p.name] = param_schema(p, spec);
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

std::string json_schema(const object_spec& spec) {
    return object_schema(spec).dump(2);
}

}  // namespace weir::params
