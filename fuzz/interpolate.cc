// Fuzz target: environment interpolation of one scalar (config/interpolate.h): every form,
// nested defaults, unterminated references, with a few variables set (one of them secret).
#include "config/interpolate.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const weir::config::env_lookup env =
        [](const std::string& name) -> std::optional<std::string> {
        if (name == "A") return "alpha";
        if (name == "EMPTY") return "";
        if (name == "DB_PASSWORD") return "hunter2-secret";
        if (name == "NESTED") return "${A}";  // values are not expanded again
        return std::nullopt;
    };
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto r = weir::config::interpolate(text, env);
    // A value from a secret variable never shows in an error message, and every error points
    // into the text.
    const bool written = text.find("hunter2-secret") != std::string_view::npos;
    for (const auto& e : r.errors) {
        if (!written && e.message.find("hunter2-secret") != std::string::npos) __builtin_trap();
        if (e.offset >= size) __builtin_trap();
    }
    return 0;
}
