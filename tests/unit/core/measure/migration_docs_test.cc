// The migration guides (docs/migrating-from-*.md) name only measures that weir has.
//
// Each guide is a set of Markdown tables; a column whose header contains "weir" holds weir's
// answer. In those cells every call written in backticks, `name(`, must be an aggregate function
// of the measure catalogue, except:
//
// * in a span that starts with `filter:` or `set:`, calls are expression functions (§5 of
//   docs/pipelines.md), as they are in a filter or a set transform;
// * inside the argument of a function that takes a condition (`count_where(...)`,
//   `fraction_where(...)`), calls are expression functions too.
//
// Text in quotes (regular expressions, strings) is skipped, except the YAML quotes around the
// expression of a `filter:` or `set:`. The test reports the page, the line
// and the name of each unknown call.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/expr/program.h"
#include "core/measure/catalog.h"

namespace weir::measure {
namespace {

constexpr const char* k_pages[] = {
    "docs/migrating-from-stream-daq.md",
    "docs/migrating-from-sodacl.md",
    "docs/migrating-from-deequ.md",
    "docs/migrating-from-great-expectations.md",
};

struct unknown_call {
    std::size_t line = 0;  // 1-based
    std::string name;
    std::string kind;  // "measure" or "expression"
};

struct scan_result {
    std::vector<unknown_call> unknown;
    std::size_t calls = 0;  // every call checked, known or not
};

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// The cells of a table row: split at '|' outside backticks; "\|" is not a separator.
std::vector<std::string> cells(std::string_view row) {
    std::vector<std::string> out;
    std::string cur;
    bool code = false;
    for (std::size_t i = 0; i < row.size(); ++i) {
        const char c = row[i];
        if (c == '`') code = !code;
        if (c == '|' && !code && (i == 0 || row[i - 1] != '\\')) {
            out.push_back(cur);
            cur.clear();
            continue;
        }
        cur += c;
    }
    out.push_back(cur);
    // A row "| a | b |" gives "", " a ", " b ", "": drop the outer empties.
    if (!out.empty() && out.front().find_first_not_of(' ') == std::string::npos) {
        out.erase(out.begin());
    }
    if (!out.empty() && out.back().find_first_not_of(' ') == std::string::npos) out.pop_back();
    return out;
}

bool ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool ident_char(char c) {
    return ident_start(c) || (c >= '0' && c <= '9');
}

bool is_expression_function(std::string_view name) {
    static const std::vector<std::string> names = expr::function_names();
    return std::find(names.begin(), names.end(), name) != names.end();
}

bool takes_condition(const function_info& fn) {
    const auto args = fn.arguments();
    return std::any_of(args.begin(), args.end(),
                       [](arg_kind k) { return k == arg_kind::expression; });
}

// Checks the calls of one code span.
void scan_span(std::string_view span, std::size_t line, scan_result& out) {
    std::size_t i = span.find_first_not_of(' ');
    if (i == std::string_view::npos) return;
    const std::string_view trimmed = span.substr(i);
    // In filter: and set:, every call is an expression function.
    const bool expression_span = trimmed.starts_with("filter:") || trimmed.starts_with("set:");
    // There, the first quote is YAML's around the expression, not a string of it.
    char yaml_quote = 0;
    if (expression_span) {
        const std::size_t q = trimmed.find_first_of("\"'");
        if (q != std::string_view::npos) yaml_quote = trimmed[q];
    }
    // Depths (in parentheses) at which a condition argument opened; calls deeper are expression
    // functions.
    std::vector<int> condition_depths;
    int depth = 0;
    while (i < span.size()) {
        const char c = span[i];
        if (c == yaml_quote) {
            ++i;
            continue;
        }
        if (c == '"' || c == '\'') {  // a quoted string: skip it, with its escapes
            ++i;
            while (i < span.size() && span[i] != c) i += span[i] == '\\' ? 2 : 1;
            ++i;
            continue;
        }
        if (c == '(') {
            ++depth;
            ++i;
            continue;
        }
        if (c == ')') {
            if (!condition_depths.empty() && condition_depths.back() == depth) {
                condition_depths.pop_back();
            }
            --depth;
            ++i;
            continue;
        }
        if (!ident_start(c) || (i > 0 && ident_char(span[i - 1]))) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < span.size() && ident_char(span[end])) ++end;
        const std::string name(span.substr(i, end - i));
        i = end;
        if (i >= span.size() || span[i] != '(') continue;  // not a call
        ++out.calls;
        if (expression_span || !condition_depths.empty()) {
            if (!is_expression_function(name)) out.unknown.push_back({line, name, "expression"});
            continue;
        }
        const function_info* fn = find_function(name);
        if (fn == nullptr) {
            out.unknown.push_back({line, name, "measure"});
        } else if (takes_condition(*fn)) {
            condition_depths.push_back(depth + 1);
        }
    }
}

// Checks the weir columns of every table of a page.
scan_result scan_page(const std::vector<std::string>& lines) {
    scan_result out;
    bool fenced = false;
    std::vector<bool> weir_column;  // of the current table; empty outside tables
    for (std::size_t n = 0; n < lines.size(); ++n) {
        const std::string& line = lines[n];
        if (line.starts_with("```")) {
            fenced = !fenced;
            continue;
        }
        if (fenced) continue;
        if (!line.starts_with("|")) {
            weir_column.clear();
            continue;
        }
        const auto row = cells(line);
        if (weir_column.empty()) {  // a header row
            for (const auto& cell : row) {
                std::string lower = cell;
                std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) {
                    return static_cast<char>(std::tolower(ch));
                });
                weir_column.push_back(lower.find("weir") != std::string::npos);
            }
            continue;
        }
        if (line.starts_with("|-") || line.starts_with("| -") || line.starts_with("|:")) continue;
        for (std::size_t c = 0; c < row.size() && c < weir_column.size(); ++c) {
            if (!weir_column[c]) continue;
            const std::string& cell = row[c];
            std::size_t open = cell.find('`');
            while (open != std::string::npos) {
                const std::size_t close = cell.find('`', open + 1);
                if (close == std::string::npos) break;
                scan_span(std::string_view(cell).substr(open + 1, close - open - 1), n + 1, out);
                open = cell.find('`', close + 1);
            }
        }
    }
    return out;
}

TEST(migration_docs, scanner_finds_misspelt_and_misplaced_names) {
    const std::vector<std::string> page = {
        "| tool | weir |",
        "|---|---|",
        "| a | `mising_count(x) / count()` |",
        "| b | `fraction_where(len(x) > 3)` and `filter: 'lower(x) == \"a\"'` plus `mean(x)` |",
        "| c | `count_where(mean(x) > 1)` and `matches_fraction(x, \"notacall(x)\")` |",
        "| d | `filter: 'count() > 1'` |",
        "",
        "| `bogus(x)` outside a weir column | fine |",
        "|---|---|",
    };
    const auto result = scan_page(page);
    EXPECT_EQ(result.calls, 10U);
    ASSERT_EQ(result.unknown.size(), 3U);
    EXPECT_EQ(result.unknown[0].name, "mising_count");
    EXPECT_EQ(result.unknown[0].line, 3U);
    EXPECT_EQ(result.unknown[0].kind, "measure");
    EXPECT_EQ(result.unknown[1].name, "mean");  // a measure where a condition is expected
    EXPECT_EQ(result.unknown[1].kind, "expression");
    EXPECT_EQ(result.unknown[2].name, "count");
    EXPECT_EQ(result.unknown[2].line, 6U);
}

TEST(migration_docs, name_only_existing_measures) {
    for (const char* page : k_pages) {
        const std::string path = std::string(WEIR_SOURCE_DIR) + "/" + page;
        const auto lines = read_lines(path);
        ASSERT_FALSE(lines.empty()) << "cannot read " << path;
        const auto result = scan_page(lines);
        // A page whose tables lost their weir column would pass vacuously.
        EXPECT_GE(result.calls, 20U) << page << ": too few weir calls found; is the column "
                                     << "header still named \"weir ...\"?";
        for (const auto& u : result.unknown) {
            ADD_FAILURE() << page << ":" << u.line << ": `" << u.name << "(` is not a weir "
                          << (u.kind == "measure" ? "measure (aggregate) function"
                                                  : "expression function");
        }
    }
}

TEST(migration_docs, are_linked_from_the_reference_and_the_index) {
    for (const char* doc : {"docs/pipelines.md", "docs/README.md"}) {
        const auto lines = read_lines(std::string(WEIR_SOURCE_DIR) + "/" + doc);
        std::string text;
        for (const auto& l : lines) text += l + "\n";
        for (const char* page : k_pages) {
            const std::string_view file = std::string_view(page).substr(5);  // without "docs/"
            EXPECT_NE(text.find(file), std::string::npos) << doc << " does not link " << file;
        }
    }
}

}  // namespace
}  // namespace weir::measure
