// Diagnostics: positioned, editor-friendly problem reports collected at set-up time
// (config loading, validation, compilation of expressions). Never used on the data path.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

// A place in a source file. Lines and columns are 1-based; line 0 means "no position"
// (e.g. a problem with a whole file, or a value that has no source such as a default).
struct source_pos {
    std::string file;
    int line = 0;
    int column = 0;

    bool known() const { return line > 0; }
    // The position `n` characters to the right on the same line.
    source_pos shifted(int n) const { return {file, line, column + n}; }
    friend bool operator==(const source_pos&, const source_pos&) = default;
};

enum class severity { error, warning };

struct diagnostic {
    weir::severity severity = severity::error;
    source_pos pos;
    std::string path;     // dotted field path, e.g. "nodes.quality.window.size"; may be empty
    std::string message;  // never contains a value that came from ${VAR} interpolation
};

// "file:line:col: error: path: message" (parts without a value are left out).
std::string format(const diagnostic& d);

// Collects every problem of one run; nothing here throws or stops at the first error.
class diagnostics {
  public:
    void error(source_pos pos, std::string path, std::string message);
    void warning(source_pos pos, std::string path, std::string message);
    void add(diagnostic d);
    void append(const diagnostics& other);

    bool has_errors() const { return errors_ > 0; }
    std::size_t error_count() const { return errors_; }
    std::size_t warning_count() const { return items_.size() - errors_; }
    bool empty() const { return items_.empty(); }

    // Sorted by file, line, column; exact duplicates removed.
    std::vector<diagnostic> sorted() const;
    const std::vector<diagnostic>& items() const { return items_; }

  private:
    std::vector<diagnostic> items_;
    std::size_t errors_ = 0;
};

// The nearest of `candidates` to `word` by edit distance, or "" when none is close enough
// to be a plausible typo. Used for "did you mean" hints.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

// `s` in double quotes, as messages name a key, a value or a file: "\"name\"".
std::string in_quotes(std::string_view s);

// The items joined by ", ": "a, b, c".
std::string comma_list(const std::vector<std::string>& items);

// Damerau-Levenshtein (optimal string alignment) distance.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace weir
