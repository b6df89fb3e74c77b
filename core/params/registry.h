// The registry of component types (inputs and outputs) known to this build. connectors/
// fills it with register_builtin_connectors(); config/ validates `type:` and each type's
// parameters against it. Explicit registration, failing loudly on a duplicate type.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/params/spec.h"

namespace weir::params {

enum class component_kind { input, output };

struct component_info {
    std::string type;  // the `type:` value, e.g. "file"
    component_kind kind = component_kind::input;
    std::string description;
    std::shared_ptr<const object_spec> spec;  // parameters besides `type`
    // Outputs: whether the type accepts derived records (console, file) besides results.
    bool accepts_records = false;
    // Whether this build runs the type. A declared type that is not implemented validates in
    // the language but is refused by `weir validate` and `weir run`.
    bool implemented = true;
    // Checks of this machine that need no network, made by `weir validate` on parameters that
    // passed validation, so that it refuses what `weir run` would: files that must exist and
    // be readable, directories that must be writable, certificates that must parse, client
    // settings the library refuses. Reported at the parameter's position. Empty: none.
    std::function<void(const value& params, const std::string& path, diagnostics& out)> preflight;
};

class component_registry {
  public:
    // Throws std::logic_error when the type is already registered for that kind.
    void add(component_info info);

    const component_info* find(component_kind kind, std::string_view type) const;
    std::vector<std::string> types(component_kind kind) const;  // sorted
    std::vector<const component_info*> all(component_kind kind) const;

  private:
    std::map<std::string, component_info, std::less<>> inputs_;
    std::map<std::string, component_info, std::less<>> outputs_;
};

}  // namespace weir::params
