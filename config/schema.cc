// The JSON Schema of pipeline files (`weir schema`), generated from the same declarations that
// validate them: the file's sections, and for each input and output one branch per registered
// type, so editors check connector parameters too.
#include <nlohmann/json.hpp>

#include "config/load.h"
#include "config/specs.h"

namespace weir::config {

namespace {

using json = nlohmann::ordered_json;

std::string kind_name(params::component_kind kind) {
    return kind == params::component_kind::input ? "input" : "output";
}

// An input or output: `type` picks one of the registered types, and `if type == T then` the
// mapping must match T's declaration (with `type` added to its properties).
json component_schema(const params::component_registry& registry, params::component_kind kind,
                      json& defs) {
    const std::string noun = kind_name(kind);
    json type = {{"description", "The " + noun +
                                     " type: which connector reads or writes, and "
                                     "which parameters the rest of the mapping takes."},
                 {"enum", registry.types(kind)}};
    json branches = json::array();
    for (const params::component_info* info : registry.all(kind)) {
        json branch = info->spec ? json::parse(params::json_schema(*info->spec))
                                 : json{{"type", "object"}, {"properties", json::object()}};
        if (!info->description.empty()) branch["description"] = info->description;
        json properties = {{"type", {{"const", info->type}}}};
        for (auto& [key, val] : branch["properties"].items()) properties[key] = val;
        branch["properties"] = std::move(properties);
        const std::string def = noun + "_" + info->type;
        defs[def] = std::move(branch);
        branches.push_back(
            {{"if", {{"properties", {{"type", {{"const", info->type}}}}}, {"required", {"type"}}}},
             {"then", {{"$ref", "#/$defs/" + def}}}});
    }
    return {{"type", "object"},
            {"required", {"type"}},
            {"properties", {{"type", std::move(type)}}},
            {"allOf", std::move(branches)}};
}

}  // namespace

std::string pipeline_json_schema(const params::component_registry& registry) {
    json body = json::parse(params::json_schema(pipeline_spec(registry)));
    json defs = json::object();
    json inputs = component_schema(registry, params::component_kind::input, defs);
    json outputs = component_schema(registry, params::component_kind::output, defs);
    body["properties"]["inputs"]["additionalProperties"] = std::move(inputs);
    body["properties"]["outputs"]["additionalProperties"] = std::move(outputs);

    json root = {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
                 {"title", "weir pipeline"}};
    for (auto& [key, val] : body.items()) {
        if (key != "title") root[key] = std::move(val);
    }
    root["$defs"] = std::move(defs);
    return root.dump(2) + "\n";
}

}  // namespace weir::config
