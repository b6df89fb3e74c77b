// The JSON Schemas of pipeline files and of the settings file (`weir schema`), generated from
// the same declarations that validate them: the file's sections, and for each input and output
// one branch per registered type, so editors check connector parameters too. The measure and
// assessment languages add what an editor needs to complete and check them: one snippet per
// catalogue function, the assessment grammar as a pattern, messages written for people.
#include <nlohmann/json.hpp>

#include "config/load.h"
#include "config/specs.h"
#include "core/measure/catalog.h"

namespace weir::config {

namespace {

using json = nlohmann::ordered_json;

constexpr const char* draft_2020_12 = "https://json-schema.org/draft/2020-12/schema";

std::string kind_name(params::component_kind kind) {
    return kind == params::component_kind::input ? "input" : "output";
}

// Text for a Markdown table cell: pipes and the characters Markdown reads as emphasis or HTML
// escaped.
std::string markdown_cell(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '|' || c == '*' || c == '<' || c == '>' || c == '[' || c == ']') out += '\\';
        out += c;
    }
    return out;
}

// Text for a snippet placeholder (${1:text}): $, } and \ escaped.
std::string placeholder_text(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '$' || c == '}' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

std::string trimmed(std::string_view s) {
    const auto b = s.find_first_not_of(' ');
    if (b == std::string_view::npos) return "";
    const auto e = s.find_last_not_of(' ');
    return std::string(s.substr(b, e - b + 1));
}

// The parameters of a signature such as "in_set_count(field, [v, ...])", split at the commas
// outside brackets and quotes; an optional tail (" [, ...]") stays with its parameter.
std::vector<std::string> signature_parameters(std::string_view inner) {
    std::vector<std::string> out;
    int depth = 0;
    char quote = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < inner.size(); ++i) {
        const char c = inner[i];
        if (quote != 0) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '[' || c == '(' || c == '{') {
            ++depth;
        } else if (c == ']' || c == ')' || c == '}') {
            --depth;
        } else if (c == ',' && depth == 0) {
            out.push_back(trimmed(inner.substr(start, i - start)));
            start = i + 1;
        }
    }
    if (const std::string last = trimmed(inner.substr(start)); !last.empty()) out.push_back(last);
    return out;
}

// What completing a function inserts: its name and its required arguments as placeholders,
// derived from the catalogue's signature ("percentile(field, p)" gives
// "percentile(${1:field}, ${2:p})", "missing_count(field [, [placeholder, ...]])" gives
// "missing_count(${1:field})"), so every catalogue entry gets one without further declaration.
std::string snippet_body(const measure::function_info& fi) {
    std::string_view sig = fi.signature;
    if (const auto alt = sig.find(" | "); alt != std::string_view::npos) sig = sig.substr(0, alt);
    const auto open = sig.find('(');
    const auto close = sig.rfind(')');
    std::vector<std::string> names;
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
        names = signature_parameters(sig.substr(open + 1, close - open - 1));
    }
    std::string body = std::string(fi.name) + "(";
    for (std::size_t i = 0; i < fi.min_args; ++i) {
        std::string name;
        if (i < names.size()) {
            name = names[i];
            if (const auto optional = name.find(" ["); optional != std::string::npos) {
                name.resize(optional);
            }
        }
        if (name.empty()) name = std::string(measure::to_string(fi.args[i]));
        if (i > 0) body += ", ";
        body += "${" + std::to_string(i + 1) + ":" + placeholder_text(name) + "}";
    }
    return body + ")";
}

// `measure:`: one completion per catalogue function (signature and summary), the functions
// as a table, and a pattern that catches what is not a measure at all (no function call).
json measure_keywords() {
    json snippets = json::array();
    std::string table = "| function | value |\n|---|---|\n";
    std::string names;
    for (const auto& fi : measure::catalog()) {
        snippets.push_back({{"label", fi.signature},
                            {"description", std::string(fi.summary)},
                            {"markdownDescription",
                             "`" + std::string(fi.signature) + "`\n\n" + markdown_cell(fi.summary)},
                            {"body", snippet_body(fi)}});
        table += "| `" + markdown_cell(fi.signature) + "` | " + markdown_cell(fi.summary) + " |\n";
        if (!names.empty()) names += "|";
        names += fi.name;
    }
    return {{"markdownDescription",
             "A measure is an expression over aggregate functions of the window's records "
             "(and group): `count()`, `missing_fraction(temperature)`, "
             "`missing_count(status) / count()`, with `+ - * /`, parentheses and numbers. It "
             "calls at least one function.\n\n" +
                 table},
            {"pattern", "(^|[^A-Za-z0-9_])(" + names + ")[ \\t\\r\\n]*\\(|\\$\\{"},
            {"patternErrorMessage",
             "write a measure such as count(), missing_fraction(temperature) or "
             "percentile(latency_ms, 0.99): an expression that calls at least one aggregate "
             "function (completion lists them)"},
            {"defaultSnippets", std::move(snippets)}};
}

}  // namespace

// The assessment grammar (core/check/assessment.h) as one regular expression, in the dialect
// JSON Schema validators share (ECMAScript; Python's re reads it alike). It checks the shape;
// that a range's start is not above its end is left to `weir validate`.
std::string assessment_pattern() {
    const std::string ws = "[ \\t\\r\\n]*";
    const std::string magnitude =
        "(inf(?![A-Za-z0-9_.:/-])|([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?"
        "(%|ms|s|m|h|d)?(?![A-Za-z_]))";
    const std::string number = "[+-]?" + magnitude;
    const std::string quoted = "(\"([^\"\\\\]|\\\\[\\s\\S])*\"|'([^'\\\\]|\\\\[\\s\\S])*')";
    const std::string boolean = "(true|false)(?![A-Za-z_])";
    const std::string word = "[A-Za-z_][A-Za-z0-9_.:/-]*";
    const std::string comparison = "(>=?|<=?)" + ws + number + "|(==|!=)" + ws + "(" + number +
                                   "|" + boolean + "|" + quoted + ")";
    const std::string range = "[\\[(]" + ws + number + ws + "," + ws + number + ws + "[\\])]";
    const std::string element = "(" + number + "|" + quoted + "|" + word + ")";
    const std::string set = "(not[ \\t\\r\\n]+)?in" + ws + "\\{" + ws + element + "(" + ws + "," +
                            ws + element + ")*" + ws + "\\}";
    // Checks against history (core/check/history.h).
    const std::string sp = "[ \\t\\r\\n]+";
    const std::string integer = "0*[1-9][0-9]*";  // N and min: at least 1
    const std::string duration = "[0-9]+(\\.[0-9]*)?(ms|s|m|h|d|w)(?![A-Za-z_])";
    const std::string change = "(relative" + sp + ")?change(" + sp + "vs" + sp +
                               "(previous(?![A-Za-z_])|" + duration + "))?";
    const std::string option = "(robust|spike|drop|both|min" + sp + integer + ")";
    const std::string zscore = "zscore" + ws + "\\(" + ws + "last" + sp + integer + "(" + sp +
                               "by" + sp +
                               "(hour_of_day|day_of_week|hour_of_week|day_of_month))?(" + ws + "," +
                               ws + option + ")*" + ws + "\\)";
    const std::string test = "((>=?|<=?|==|!=)" + ws + number + "|(in" + ws + ")?" + range + ")";
    // min_change: not negative.
    const std::string history = "(" + change + "|" + zscore + ")" + ws + test + "(" + sp +
                                "min_change" + sp + "\\+?" + magnitude + ")?";
    return "^" + ws + "(" + comparison + "|" + range + "|" + set + "|" + history + ")" + ws +
           "$|\\$\\{";
}

namespace {

// `must_be:` and `should_be:`: the grammar as a pattern, with a message and snippets.
json assessment_keywords() {
    auto snippet = [](const char* label, const char* description, const char* body) {
        return json{{"label", label}, {"description", description}, {"body", body}};
    };
    return {{"markdownDescription",
             "An assessment of the measure's value:\n\n"
             "| form | holds when the value is |\n|---|---|\n"
             "| `> 50`, `>= 0.5`, `< 5%`, `!= 0` | compared as a number (`%` divides by 100) |\n"
             "| `< 60s`, `<= 5m`, `< 250ms` | below 60, 300, 0.25: durations are seconds |\n"
             "| `[15, 35]`, `(0, 1]`, `[0, inf)` | in the range; `[ ]` include the bound, `( )` "
             "exclude it |\n"
             "| `in {ok, warn}`, `not in {\"n/a\", 0}` | (not) one of the elements |\n"
             "| `== true`, `== \"EUR\"` | equal to the boolean or quoted string |\n"
             "| `change vs 1w in [-30%, +30%]`, `zscore(last 24) < 3` | against the check's own "
             "history (the change, or z) |\n\n"
             "Quote it in YAML: `must_be: \"> 50\"`."},
            {"pattern", assessment_pattern()},
            {"patternErrorMessage",
             "write a comparison such as \"< 5%\", \"> 50\" or \"== true\", a range such as "
             "\"[10, 20]\" or \"(0, 1]\", a set such as \"in {ok, warn}\", or a check against "
             "history such as \"zscore(last 24) < 3\" or \"change vs 1w in [-30%, 30%]\""},
            {"defaultSnippets",
             json::array(
                 {snippet("> number", "fails below or at the bound", "\"> ${1:0}\""),
                  snippet("< percent", "a fraction written as a percentage", "\"< ${1:5}%\""),
                  snippet("< duration", "seconds, e.g. for freshness()", "\"< ${1:60s}\""),
                  snippet("[low, high]", "a closed range", "\"[${1:0}, ${2:100}]\""),
                  snippet("in {a, b}", "one of the elements", "\"in {${1:ok}, ${2:warn}}\""),
                  snippet("== true", "for is_frozen()", "\"== ${1:true}\""),
                  snippet("zscore(last N) < 3", "against the check's own recent values",
                          "\"zscore(last ${1:24}) < ${2:3}\""),
                  snippet("change vs 1w in [-30%, +30%]", "against the same window a week before",
                          "\"change vs ${1:1w} in [-${2:30}%, +${2:30}%]\"")})}};
}

// An input or output: `type` picks one of the registered types, and `if type == T then` the
// mapping must match T's declaration (with `type` added to its properties).
json component_schema(const params::component_registry& registry, params::component_kind kind,
                      json& defs) {
    const std::string noun = kind_name(kind);
    json types = json::array();
    json descriptions = json::array();  // pairs with `types`, item by item
    for (const params::component_info* info : registry.all(kind)) {
        types.push_back(info->type);
        descriptions.push_back(info->description);
    }
    const std::string what = "The " + noun + " type: which connector " +
                             (noun == "input" ? "reads" : "writes") +
                             ", and which parameters the rest of the mapping takes.";
    json type = {{"description", what},
                 {"markdownDescription", what},
                 {"enum", std::move(types)},
                 {"enumDescriptions", descriptions},
                 {"markdownEnumDescriptions", descriptions}};
    json branches = json::array();
    for (const params::component_info* info : registry.all(kind)) {
        json branch = info->spec ? json::parse(params::json_schema(*info->spec))
                                 : json{{"type", "object"}, {"properties", json::object()}};
        if (!info->description.empty()) {
            branch["description"] = info->description;
            branch["markdownDescription"] =
                "**" + info->type + "** " + noun + ": " + markdown_cell(info->description);
        }
        json properties = {{"type", {{"const", info->type}}}};
        for (auto& [key, val] : branch["properties"].items()) properties[key] = val;
        branch["properties"] = std::move(properties);
        const std::string def = noun + "_" + info->type;
        defs[def] = std::move(branch);
        branches.push_back(
            {{"if", {{"properties", {{"type", {{"const", info->type}}}}}, {"required", {"type"}}}},
             {"then", {{"$ref", "#/$defs/" + def}}}});
    }
    std::string markdown = "An " + noun + ", by `type`:\n\n| type | what |\n|---|---|\n";
    for (const params::component_info* info : registry.all(kind)) {
        markdown += "| `" + info->type + "` | " + markdown_cell(info->description) + " |\n";
    }
    return {{"type", "object"},
            {"markdownDescription", std::move(markdown)},
            {"required", {"type"}},
            {"properties", {{"type", std::move(type)}}},
            {"allOf", std::move(branches)}};
}

// A whole check, offered where a check goes (an item of a node's `checks`).
json check_snippets() {
    return json::array(
        {{{"label", "new check"},
          {"description", "a check: its name, a measure and what the measure must be"},
          {"body",
           {{"name", "${1:volume}"}, {"measure", "${2:count()}"}, {"must_be", "\"${3:> 0}\""}}}},
         {{"label", "new check with should_be"},
          {"description", "a check that fails outside must_be and warns outside should_be"},
          {"body",
           {{"name", "${1:completeness}"},
            {"measure", "${2:missing_fraction(${3:field})}"},
            {"must_be", "\"${4:< 5%}\""},
            {"should_be", "\"${5:< 1%}\""}}}}});
}

json with_root(json body, const std::string& title) {
    json root = {{"$schema", draft_2020_12}, {"title", title}};
    for (auto& [key, val] : body.items()) {
        if (key != "title") root[key] = std::move(val);
    }
    return root;
}

}  // namespace

std::string pipeline_json_schema(const params::component_registry& registry) {
    params::json_schema_options options;
    options.role_keywords[params::string_role::measure] = measure_keywords().dump();
    options.role_keywords[params::string_role::assessment] = assessment_keywords().dump();
    json body = json::parse(params::json_schema(pipeline_spec(registry), options));
    json defs = json::object();
    json inputs = component_schema(registry, params::component_kind::input, defs);
    json outputs = component_schema(registry, params::component_kind::output, defs);
    body["properties"]["inputs"]["additionalProperties"] = std::move(inputs);
    body["properties"]["outputs"]["additionalProperties"] = std::move(outputs);
    body["properties"]["nodes"]["additionalProperties"]["properties"]["checks"]["items"]
        ["defaultSnippets"] = check_snippets();

    json root = with_root(std::move(body), "weir pipeline");
    root["$defs"] = std::move(defs);
    return root.dump(2) + "\n";
}

std::string settings_json_schema() {
    return with_root(json::parse(params::json_schema(settings_spec())), "weir settings").dump(2) +
           "\n";
}

}  // namespace weir::config
