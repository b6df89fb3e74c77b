// Look-ups on the typed configuration.
#include "config/model.h"

#include <algorithm>

namespace weir::config {

namespace {
template <class T>
const T* find_named(const std::vector<T>& items, std::string_view name) {
    auto it = std::find_if(items.begin(), items.end(), [&](const T& i) { return i.name == name; });
    return it == items.end() ? nullptr : &*it;
}
}  // namespace

const input_config* pipeline_config::find_input(std::string_view name) const {
    return find_named(inputs, name);
}
const node_config* pipeline_config::find_node(std::string_view name) const {
    return find_named(nodes, name);
}
const output_config* pipeline_config::find_output(std::string_view name) const {
    return find_named(outputs, name);
}

}  // namespace weir::config
