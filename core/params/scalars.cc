// Parsers and printers of the scalar parameter types (durations, sizes, integers, numbers,
// booleans), shared by validation, typed readers and the assessment compiler.
#include <charconv>
#include <cmath>
#include <limits>

#include "core/params/spec.h"

namespace weir::params {

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Reads an unsigned decimal at `i`; false when there are no digits or it overflows.
bool read_unsigned(std::string_view text, std::size_t& i, std::uint64_t& out) {
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    if (i == start) return false;
    auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + i, out);
    return ec == std::errc() && ptr == text.data() + i;
}

struct unit {
    std::string_view name;
    std::int64_t ms;
};

// Longest names first so "ms" is not read as "m" followed by garbage.
constexpr unit duration_units[] = {
    {"ms", 1}, {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000},
};

}  // namespace

// Durations are one or more <digits><unit> parts with units in decreasing order, each at
// most once ("1h30m"), or a bare "0". Fractions, signs and spaces are not accepted: "1.5h"
// is better written "90m", and a strict grammar catches typos.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text == "0") return std::chrono::milliseconds(0);
    if (text.empty()) return std::nullopt;
    std::int64_t total = 0;
    std::int64_t previous_unit = std::numeric_limits<std::int64_t>::max();
    std::size_t i = 0;
    while (i < text.size()) {
        std::uint64_t amount = 0;
        if (!read_unsigned(text, i, amount)) return std::nullopt;
        const unit* found = nullptr;
        for (const auto& u : duration_units) {
            if (text.substr(i, u.name.size()) == u.name) {
                found = &u;
                break;
            }
        }
        if (!found || found->ms >= previous_unit) return std::nullopt;
        i += found->name.size();
        previous_unit = found->ms;
        if (amount > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return std::nullopt;
        }
        std::int64_t part = 0;
        if (__builtin_mul_overflow(static_cast<std::int64_t>(amount), found->ms, &part) ||
            __builtin_add_overflow(total, part, &total)) {
            return std::nullopt;
        }
    }
    return std::chrono::milliseconds(total);
}

// Sizes: a plain integer of bytes, or an integer with a unit: B, decimal KB/MB/GB/TB
// (powers of 1000) or binary KiB/MiB/GiB/TiB (powers of 1024). Units are case-sensitive.
std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::size_t i = 0;
    std::uint64_t amount = 0;
    if (!read_unsigned(text, i, amount)) return std::nullopt;
    const std::string_view suffix = text.substr(i);
    struct size_unit {
        std::string_view name;
        std::uint64_t factor;
    };
    static constexpr size_unit units[] = {
        {"", 1},
        {"B", 1},
        {"KB", 1000ULL},
        {"MB", 1000ULL * 1000},
        {"GB", 1000ULL * 1000 * 1000},
        {"TB", 1000ULL * 1000 * 1000 * 1000},
        {"KiB", 1ULL << 10},
        {"MiB", 1ULL << 20},
        {"GiB", 1ULL << 30},
        {"TiB", 1ULL << 40},
    };
    for (const auto& u : units) {
        if (suffix == u.name) {
            std::uint64_t bytes = 0;
            if (__builtin_mul_overflow(amount, u.factor, &bytes)) return std::nullopt;
            return bytes;
        }
    }
    return std::nullopt;
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
    if (!text.empty() && text[0] == '+') {
        text.remove_prefix(1);
        if (!text.empty() && text[0] == '-') return std::nullopt;
    }
    if (text.empty()) return std::nullopt;
    std::int64_t out = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    return out;
}

// Finite decimal numbers with optional sign and exponent. "inf" and "nan" are refused: no
// configuration number means them, and YAML's ".inf" spelling is not a number here either.
std::optional<double> parse_number(std::string_view text) {
    if (!text.empty() && text[0] == '+') {
        text.remove_prefix(1);
        if (!text.empty() && text[0] == '-') return std::nullopt;
    }
    if (text.empty()) return std::nullopt;
    for (char c : text) {
        if (!is_digit(c) && c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') {
            return std::nullopt;
        }
    }
    double out = 0;
    auto [ptr, ec] =
        std::from_chars(text.data(), text.data() + text.size(), out, std::chars_format::general);
    if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(out)) {
        return std::nullopt;
    }
    return out;
}

// YAML 1.2 core schema: only "true" and "false". "yes", "on", "True" are errors, not
// silently strings, so a typo never flips a flag.
std::optional<bool> parse_boolean(std::string_view text) {
    if (text == "true") return true;
    if (text == "false") return false;
    return std::nullopt;
}

std::string format_duration(std::chrono::milliseconds d) {
    std::int64_t ms = d.count();
    if (ms == 0) return "0s";
    std::string sign;
    if (ms < 0) {
        if (ms == std::numeric_limits<std::int64_t>::min()) return std::to_string(ms) + "ms";
        sign = "-";
        ms = -ms;
    }
    static constexpr unit largest_first[] = {
        {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1},
    };
    for (const auto& u : largest_first) {
        if (ms % u.ms == 0) return sign + std::to_string(ms / u.ms) + std::string(u.name);
    }
    return sign + std::to_string(ms) + "ms";  // not reached: every ms count divides by 1
}

std::string format_size(std::uint64_t bytes) {
    if (bytes == 0) return "0B";
    static constexpr std::pair<std::string_view, std::uint64_t> units[] = {
        {"TiB", 1ULL << 40},          {"GiB", 1ULL << 30},
        {"MiB", 1ULL << 20},          {"KiB", 1ULL << 10},
        {"TB", 1'000'000'000'000ULL}, {"GB", 1'000'000'000ULL},
        {"MB", 1'000'000ULL},         {"KB", 1'000ULL},
    };
    // The shortest exact spelling; on a tie the binary unit, as buffer sizes usually are.
    std::string best = std::to_string(bytes) + "B";
    for (const auto& [name, factor] : units) {
        if (bytes % factor != 0) continue;
        std::string candidate = std::to_string(bytes / factor) + std::string(name);
        if (candidate.size() < best.size()) best = std::move(candidate);
    }
    return best;
}

}  // namespace weir::params
