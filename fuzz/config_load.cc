// Fuzz target: the configuration loader (config/load.h) on one pipeline file of arbitrary
// bytes: YAML parsing, interpolation, validation against every declaration, the graph, and the
// compile of expressions, measures and assessments into a plan. A few variables are set, one
// of them secret: its value must never appear in a diagnostic.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "config/load.h"
#include "connectors/register.h"

namespace {

const weir::params::component_registry& registry() {
    static const weir::params::component_registry r = [] {
        weir::params::component_registry out;
        weir::connectors::register_builtin_connectors(out);
        return out;
    }();
    return r;
}

constexpr std::string_view k_secret = "hunter2-Pa55w0rd";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const weir::config::env_lookup env = [](const std::string& name) -> std::optional<std::string> {
        if (name == "LOG_DIR") return "/var/log/app";
        if (name == "KAFKA_BROKERS") return "127.0.0.1:9092";
        if (name == "API_TOKEN") return std::string(k_secret);
        return std::nullopt;
    };
    const auto r = weir::config::load_text(text, "fuzz.yaml", registry(), env);
    if (text.find(k_secret) == std::string::npos) {
        for (const auto& d : r.diags.sorted()) {
            if (format(d).find(k_secret) != std::string::npos) __builtin_trap();
        }
    }
    return 0;
}
