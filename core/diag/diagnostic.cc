// Diagnostics formatting, collection and "did you mean" suggestions.
#include "core/diag/diagnostic.h"

#include <algorithm>
#include <tuple>

namespace weir {

std::string format(const diagnostic& d) {
    std::string out;
    if (!d.pos.file.empty()) {
        out += d.pos.file;
        if (d.pos.known()) {
            out += ':' + std::to_string(d.pos.line) + ':' + std::to_string(d.pos.column);
        }
        out += ": ";
    }
    out += d.severity == severity::error ? "error: " : "warning: ";
    if (!d.path.empty()) {
        out += d.path;
        out += ": ";
    }
    out += d.message;
    return out;
}

void diagnostics::error(source_pos pos, std::string path, std::string message) {
    add({severity::error, std::move(pos), std::move(path), std::move(message)});
}

void diagnostics::warning(source_pos pos, std::string path, std::string message) {
    add({severity::warning, std::move(pos), std::move(path), std::move(message)});
}

void diagnostics::add(diagnostic d) {
    if (d.severity == severity::error) ++errors_;
    items_.push_back(std::move(d));
}

void diagnostics::append(const diagnostics& other) {
    for (const auto& d : other.items_) add(d);
}

std::vector<diagnostic> diagnostics::sorted() const {
    auto key = [](const diagnostic& d) {
        return std::tie(d.pos.file, d.pos.line, d.pos.column, d.severity, d.path, d.message);
    };
    std::vector<diagnostic> out = items_;
    std::stable_sort(out.begin(), out.end(),
                     [&](const diagnostic& a, const diagnostic& b) { return key(a) < key(b); });
    out.erase(
        std::unique(out.begin(), out.end(),
                    [&](const diagnostic& a, const diagnostic& b) { return key(a) == key(b); }),
        out.end());
    return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: insertions, deletions, substitutions and adjacent swaps.
    const std::size_t n = a.size(), m = b.size();
    std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
    for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= n; ++i) {
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[n][m];
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
    // A plausible typo is at most a third of the word's length away (at least 1, at most 3).
    const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
    std::string best;
    std::size_t best_distance = limit + 1;
    for (const auto& c : candidates) {
        const std::size_t dist = edit_distance(word, c);
        if (dist < best_distance) {
            best_distance = dist;
            best = c;
        }
    }
    return best;
}

std::string in_quotes(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

std::string comma_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ", ";
        out += item;
    }
    return out;
}

}  // namespace weir
