// The registry of input and output types: explicit registration, loud on duplicates.
#include "core/params/registry.h"

#include <stdexcept>

namespace weir::params {

void component_registry::add(component_info info) {
    auto& map = info.kind == component_kind::input ? inputs_ : outputs_;
    if (info.type.empty()) throw std::logic_error("component type without a name");
    if (map.contains(info.type)) {
        throw std::logic_error(
            std::string(info.kind == component_kind::input ? "input" : "output") + " type \"" +
            info.type + "\" is registered twice");
    }
    std::string type = info.type;
    map.emplace(std::move(type), std::move(info));
}

const component_info* component_registry::find(component_kind kind, std::string_view type) const {
    const auto& map = kind == component_kind::input ? inputs_ : outputs_;
    auto it = map.find(type);
    return it == map.end() ? nullptr : &it->second;
}

std::vector<std::string> component_registry::types(component_kind kind) const {
    const auto& map = kind == component_kind::input ? inputs_ : outputs_;
    std::vector<std::string> out;
    out.reserve(map.size());
    for (const auto& [name, info] : map) out.push_back(name);
    return out;  // std::map keeps them sorted
}

std::vector<const component_info*> component_registry::all(component_kind kind) const {
    const auto& map = kind == component_kind::input ? inputs_ : outputs_;
    std::vector<const component_info*> out;
    out.reserve(map.size());
    for (const auto& [name, info] : map) out.push_back(&info);
    return out;
}

}  // namespace weir::params
