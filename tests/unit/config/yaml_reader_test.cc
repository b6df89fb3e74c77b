// YAML to positioned values: positions, duplicate keys, syntax errors, quoting,
// interpolation and odd input.
#include "config/yaml_reader.h"

#include <gtest/gtest.h>

#include <map>

namespace weir::config {
namespace {

using params::value;

env_lookup fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

struct parsed {
    std::optional<value> doc;
    diagnostics diags;
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        for (const auto& d : diags.sorted()) out.push_back(format(d));
        return out;
    }
};

parsed read(std::string_view text, const env_lookup& env = fake_env({})) {
    parsed p;
    p.doc = read_yaml(text, "p.yaml", env, p.diags);
    return p;
}

source_pos at(int line, int column) {
    return {"p.yaml", line, column};
}

TEST(yaml_reader, positions_of_keys_and_nested_values) {
    auto p = read(
        "pipeline: sensors\n"
        "nodes:\n"
        "  quality:\n"
        "    window: {type: sliding, size: 5m}\n"
        "    checks:\n"
        "      - name: volume\n"
        "        must_be: \"> 50\"\n");
    ASSERT_TRUE(p.doc);
    EXPECT_TRUE(p.diags.empty());
    const value& root = *p.doc;
    ASSERT_TRUE(root.is_mapping());
    EXPECT_EQ(root.pos, at(1, 1));
    EXPECT_EQ(root.find_entry("pipeline")->key_pos, at(1, 1));
    EXPECT_EQ(root.find("pipeline")->pos, at(1, 11));
    const value* quality = root.find("nodes")->find("quality");
    ASSERT_NE(quality, nullptr);
    const value* window = quality->find("window");
    EXPECT_EQ(window->pos, at(4, 13));
    EXPECT_EQ(window->find_entry("size")->key_pos, at(4, 29));
    EXPECT_EQ(window->find("size")->pos, at(4, 35));
    EXPECT_EQ(window->find("size")->text, "5m");
    const value* checks = quality->find("checks");
    ASSERT_TRUE(checks->is_sequence());
    ASSERT_EQ(checks->items.size(), 1u);
    const value& check = checks->items[0];
    EXPECT_EQ(check.pos, at(6, 9));
    const value* must_be = check.find("must_be");
    EXPECT_EQ(must_be->pos, at(7, 18));  // the opening quote
    EXPECT_TRUE(must_be->quoted);
    EXPECT_EQ(must_be->text_column, 19);
    EXPECT_EQ(must_be->pos_at(2), at(7, 21));  // the '5'
}

TEST(yaml_reader, entries_keep_source_order) {
    auto p = read("zeta: 1\nalpha: 2\nmid: 3\n");
    ASSERT_TRUE(p.doc);
    ASSERT_EQ(p.doc->entries.size(), 3u);
    EXPECT_EQ(p.doc->entries[0].key, "zeta");
    EXPECT_EQ(p.doc->entries[1].key, "alpha");
    EXPECT_EQ(p.doc->entries[2].key, "mid");
}

TEST(yaml_reader, duplicate_keys_are_reported_at_the_second_key) {
    auto p = read(
        "inputs:\n"
        "  a:\n"
        "    type: file\n"
        "    path: /x\n"
        "    type: kafka\n");
    ASSERT_TRUE(p.doc);
    EXPECT_EQ(p.lines(), std::vector<std::string>{"p.yaml:5:5: error: inputs.a: duplicate key "
                                                  "\"type\" (first defined at line 3)"});
    // The first definition wins.
    EXPECT_EQ(p.doc->find("inputs")->find("a")->find("type")->text, "file");
    EXPECT_EQ(p.doc->find("inputs")->find("a")->entries.size(), 2u);
}

TEST(yaml_reader, duplicate_keys_in_flow_mappings_and_at_top_level) {
    auto p = read("a: {x: 1, x: 2}\na: 3\n");
    ASSERT_TRUE(p.doc);
    EXPECT_EQ(p.lines(), (std::vector<std::string>{
                             "p.yaml:1:11: error: a: duplicate key \"x\" (first defined at line 1)",
                             "p.yaml:2:1: error: duplicate key \"a\" (first defined at line 1)"}));
}

TEST(yaml_reader, syntax_errors_have_line_and_column) {
    auto p = read("a: [1, 2\nb: 3\n");
    EXPECT_FALSE(p.doc);
    EXPECT_EQ(p.lines(), std::vector<std::string>{
                             "p.yaml:2:2: error: YAML syntax: end of sequence flow not found"});

    auto q = read("a: b: c\n");
    EXPECT_FALSE(q.doc);
    EXPECT_EQ(q.lines(),
              std::vector<std::string>{"p.yaml:1:5: error: YAML syntax: illegal map value"});
}

TEST(yaml_reader, tabs_get_a_hint) {
    auto p = read("a:\n\tb: 1\n");
    EXPECT_FALSE(p.doc);
    ASSERT_EQ(p.lines().size(), 1u);
    EXPECT_EQ(p.lines()[0],
              "p.yaml:2:3: error: YAML syntax: illegal map value (tabs cannot be used for "
              "indentation: indent line 2 with spaces instead of the tab at column 1)");

    // After spaces, and on a line of nothing but blanks.
    auto q = read("a:\n  b: 1\n  \tc: 2\n");
    ASSERT_EQ(q.lines().size(), 1u);
    EXPECT_NE(q.lines()[0].find("indent line 3 with spaces instead of the tab at column 3"),
              std::string::npos)
        << q.lines()[0];
    auto r = read("a:\n  b: 1\n\t\n  c: 2\n");
    ASSERT_EQ(r.lines().size(), 1u);
    EXPECT_NE(r.lines()[0].find("indent line 3 with spaces instead of the tab at column 1"),
              std::string::npos)
        << r.lines()[0];
}

// YAML reads the "{" of an unquoted ${VAR} inside a flow collection as another mapping;
// yaml-cpp then reports the collection unclosed, at that "{". The hint names the cause and
// the quoted value to write.
TEST(yaml_reader, unquoted_interpolation_in_a_flow_collection_gets_a_hint) {
    auto p = read("inputs:\n  r: {type: file, path: ${OUT}}\n");
    EXPECT_FALSE(p.doc);
    EXPECT_EQ(p.lines(),
              std::vector<std::string>{
                  "p.yaml:2:26: error: YAML syntax: end of map flow not found: inside {…} or "
                  "[…], the \"{\" of an unquoted ${…} starts another mapping; quote the value: "
                  "\"${OUT}\""});

    // Inside a longer scalar, with a default, in a list, over several lines, as a key.
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"r: {path: /data/${DIR}/in.jsonl, follow: true}\n", "\"/data/${DIR}/in.jsonl\""},
        {"r: {path: ${OUT:-/tmp/out}}  # a comment\n", "\"${OUT:-/tmp/out}\""},
        {"r: {topics: [a, ${TOPIC}]}\n", "\"${TOPIC}\""},
        {"r: {\n  a: b,\n  c: ${X} ,\n}\n", "\"${X}\""},
        {"r: {${KEY}: 1}\n", "\"${KEY}\""},
    };
    for (const auto& [text, quoted] : cases) {
        auto q = read(text);
        EXPECT_FALSE(q.doc) << text;
        ASSERT_EQ(q.lines().size(), 1u) << text;
        EXPECT_NE(q.lines()[0].find("the \"{\" of an unquoted ${…} starts another mapping; "
                                    "quote the value: " +
                                    std::string(quoted)),
                  std::string::npos)
            << q.lines()[0];
    }

    // Quoted, or in block style, it is an ordinary value.
    auto ok = read("a: {path: \"${OUT}\"}\nb:\n  path: ${OUT}\n", fake_env({{"OUT", "/o"}}));
    ASSERT_TRUE(ok.doc);
    EXPECT_EQ(ok.lines(), std::vector<std::string>{});
    EXPECT_EQ(ok.doc->find("a")->find("path")->text, "/o");
    EXPECT_EQ(ok.doc->find("b")->find("path")->text, "/o");
}

TEST(yaml_reader, quoted_and_plain_scalars) {
    auto p = read(
        "a: 5\n"
        "b: \"5\"\n"
        "c: '5'\n"
        "d: |\n"
        "  block\n"
        "e: !!str 5\n"
        "f: true\n");
    ASSERT_TRUE(p.doc);
    EXPECT_FALSE(p.doc->find("a")->quoted);
    EXPECT_TRUE(p.doc->find("b")->quoted);
    EXPECT_TRUE(p.doc->find("c")->quoted);
    EXPECT_TRUE(p.doc->find("d")->quoted);
    EXPECT_EQ(p.doc->find("d")->text, "block\n");
    EXPECT_EQ(p.doc->find("d")->text_column, 0);
    EXPECT_TRUE(p.doc->find("e")->quoted);
    EXPECT_EQ(p.doc->find("e")->pos, at(6, 10));
    EXPECT_FALSE(p.doc->find("f")->quoted);
    EXPECT_EQ(p.doc->find("f")->text, "true");
}

TEST(yaml_reader, pos_at_inside_plain_and_quoted_scalars) {
    auto p = read(
        "plain: count() > 5\n"
        "double: \"mean(x) < 3\"\n"
        "single: 'max(y)'\n"
        "escaped: \"a\\tb\"\n"
        "multi: first\n"
        "  second\n"
        "flow: [abc, \"de\"]\n");
    ASSERT_TRUE(p.doc);
    const value* plain = p.doc->find("plain");
    EXPECT_EQ(plain->text_column, 8);
    EXPECT_EQ(plain->pos_at(0), at(1, 8));
    EXPECT_EQ(plain->pos_at(8), at(1, 16));
    const value* dbl = p.doc->find("double");
    EXPECT_EQ(dbl->pos, at(2, 9));
    EXPECT_EQ(dbl->pos_at(8), at(2, 18));
    EXPECT_EQ(p.doc->find("single")->pos_at(4), at(3, 14));
    // Escapes and folded lines do not map 1:1: the scalar's own position is used.
    EXPECT_EQ(p.doc->find("escaped")->text_column, 0);
    EXPECT_EQ(p.doc->find("escaped")->pos_at(2), at(4, 10));
    EXPECT_EQ(p.doc->find("multi")->text, "first second");
    EXPECT_EQ(p.doc->find("multi")->pos_at(7), at(5, 8));
    const value* flow = p.doc->find("flow");
    EXPECT_EQ(flow->items[0].pos_at(1), at(7, 9));
    EXPECT_EQ(flow->items[1].pos_at(1), at(7, 15));
}

TEST(yaml_reader, interpolates_values_not_keys) {
    auto p =
        read("${HOST}: ${HOST}\nb: \"x-${HOST:-d}\"\nc: literal $$5\n", fake_env({{"HOST", "h1"}}));
    ASSERT_TRUE(p.doc);
    EXPECT_TRUE(p.diags.empty());
    ASSERT_EQ(p.doc->entries.size(), 3u);
    EXPECT_EQ(p.doc->entries[0].key, "${HOST}");
    EXPECT_EQ(p.doc->entries[0].val.text, "h1");
    EXPECT_TRUE(p.doc->entries[0].val.from_env);
    EXPECT_EQ(p.doc->entries[0].val.display(), "\"h1\"");  // HOST names no secret
    EXPECT_EQ(p.doc->find("b")->text, "x-h1");
    EXPECT_TRUE(p.doc->find("b")->quoted);
    EXPECT_EQ(p.doc->find("c")->text, "literal $5");
    EXPECT_FALSE(p.doc->find("c")->from_env);
}

TEST(yaml_reader, interpolation_errors_point_at_the_reference) {
    auto p = read("out:\n  url: http://${HOST}:${PORT}/x\n  pw: \"${PW:?set PW}\"\n",
                  fake_env({{"HOST", "h"}}));
    ASSERT_TRUE(p.doc);
    EXPECT_EQ(p.lines(),
              (std::vector<std::string>{
                  "p.yaml:2:23: error: out.url: environment variable \"PORT\" is not set",
                  "p.yaml:3:8: error: out.pw: environment variable \"PW\" is not set: set PW"}));
}

TEST(yaml_reader, empty_values_point_at_their_key) {
    auto p = read("a:\nb: ~\nc:\n  d:\n");
    ASSERT_TRUE(p.doc);
    EXPECT_TRUE(p.doc->find("a")->is_null());
    EXPECT_EQ(p.doc->find("a")->pos, at(1, 1));
    EXPECT_TRUE(p.doc->find("b")->is_null());
    EXPECT_EQ(p.doc->find("b")->pos, at(2, 4));
    EXPECT_EQ(p.doc->find("c")->find("d")->pos, at(4, 3));
    EXPECT_EQ(p.doc->find("c")->find("d")->display(), "nothing");
}

TEST(yaml_reader, quoted_null_is_a_string) {
    auto p = read("a: \"null\"\nb: null\n");
    ASSERT_TRUE(p.doc);
    EXPECT_TRUE(p.doc->find("a")->is_scalar());
    EXPECT_EQ(p.doc->find("a")->text, "null");
    EXPECT_TRUE(p.doc->find("b")->is_null());
}

TEST(yaml_reader, empty_document_is_null) {
    for (std::string_view text : {"", "# just a comment\n", "\n\n"}) {
        auto p = read(text);
        ASSERT_TRUE(p.doc) << text;
        EXPECT_TRUE(p.doc->is_null());
        EXPECT_EQ(p.doc->pos, at(1, 1));
        EXPECT_TRUE(p.diags.empty());
    }
}

TEST(yaml_reader, anchors_and_aliases) {
    auto p = read("base: &b {size: 5m}\nw1: *b\nlist: [&x 1, *x]\n");
    ASSERT_TRUE(p.doc);
    EXPECT_TRUE(p.diags.empty());
    EXPECT_EQ(p.doc->find("w1")->find("size")->text, "5m");
    ASSERT_EQ(p.doc->find("list")->items.size(), 2u);
    EXPECT_EQ(p.doc->find("list")->items[1].text, "1");
    EXPECT_EQ(p.doc->find("list")->items[0].pos, at(3, 11));
}

TEST(yaml_reader, recursive_alias_is_an_error_not_a_crash) {
    auto p = read("a: &x [1, *x]\n");
    ASSERT_TRUE(p.doc);
    EXPECT_TRUE(p.diags.has_errors());
    EXPECT_NE(p.lines()[0].find("an alias refers to a value that contains it"), std::string::npos);
}

TEST(yaml_reader, alias_bomb_is_bounded) {
    std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; ++i) {
        const std::string prev = "*a" + std::to_string(i - 1);
        text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) text += (k ? ", " : "") + prev;
        text += "]\n";
    }
    auto p = read(text);
    ASSERT_TRUE(p.doc);
    ASSERT_EQ(p.diags.error_count(), 1u);
    EXPECT_NE(p.lines()[0].find("the document is too large"), std::string::npos);
}

TEST(yaml_reader, deep_nesting_is_an_error_not_a_crash) {
    // Deeper than weir accepts, within what yaml-cpp parses.
    auto p = read("a: " + std::string(150, '[') + std::string(150, ']') + "\n");
    ASSERT_TRUE(p.doc);
    ASSERT_EQ(p.diags.error_count(), 1u);
    EXPECT_NE(p.lines()[0].find("values are nested too deeply (more than 100 levels)"),
              std::string::npos);
    // Deeper than yaml-cpp parses.
    auto q = read("a: " + std::string(100'000, '[') + std::string(100'000, ']') + "\n");
    EXPECT_FALSE(q.doc);
    ASSERT_EQ(q.diags.error_count(), 1u);
    EXPECT_NE(q.lines()[0].find("YAML syntax: values are nested too deeply"), std::string::npos);
}

TEST(yaml_reader, non_string_keys_become_their_text) {
    auto p = read("1: x\ntrue: y\nnull: z\n[a]: w\n");
    ASSERT_TRUE(p.doc);
    ASSERT_EQ(p.doc->entries.size(), 3u);
    EXPECT_EQ(p.doc->entries[0].key, "1");
    EXPECT_EQ(p.doc->entries[1].key, "true");
    EXPECT_EQ(p.doc->entries[2].key, "null");
    EXPECT_EQ(p.lines(),
              std::vector<std::string>{"p.yaml:4:1: error: a key must be a scalar, got a list"});
}

TEST(yaml_reader, invalid_utf8_is_a_diagnostic) {
    auto p = read("a: ok\nb: caf\xe9\n");
    EXPECT_FALSE(p.doc);
    EXPECT_EQ(p.lines(), std::vector<std::string>{
                             "p.yaml:2:7: error: the file is not valid UTF-8 (byte 0xE9)"});
    auto utf16 =
        read(std::string("\xff\xfe"
                         "a\0:\0",
                         6));
    EXPECT_FALSE(utf16.doc);
    EXPECT_TRUE(utf16.diags.has_errors());
    auto nul = read(std::string("a: b\0c\n", 7));
    EXPECT_FALSE(nul.doc);
    EXPECT_EQ(nul.lines(), std::vector<std::string>{
                               "p.yaml:1:5: error: the file contains a control character (0x00)"});
}

TEST(yaml_reader, utf8_text_and_byte_order_mark) {
    auto p = read("\xEF\xBB\xBFname: caf\xC3\xA9\nnext: x\n");
    ASSERT_TRUE(p.doc);
    EXPECT_TRUE(p.diags.empty());
    EXPECT_EQ(p.doc->find("name")->text, "caf\xC3\xA9");
    EXPECT_EQ(p.doc->find("name")->pos, at(1, 7));
}

TEST(yaml_reader, windows_line_endings) {
    auto p = read("a: 1\r\nb: two words\r\n");
    ASSERT_TRUE(p.doc);
    EXPECT_EQ(p.doc->find("b")->text, "two words");
    EXPECT_EQ(p.doc->find("b")->pos, at(2, 4));
    EXPECT_EQ(p.doc->find("b")->pos_at(4), at(2, 8));
}

TEST(yaml_reader, second_document_is_reported) {
    auto p = read("a: 1\n---\nb: 2\n");
    ASSERT_TRUE(p.doc);
    EXPECT_NE(p.doc->find("a"), nullptr);
    EXPECT_EQ(p.lines(), std::vector<std::string>{"p.yaml:3:1: error: a file holds one YAML "
                                                  "document; this second one is ignored"});
}

TEST(yaml_reader, odd_inputs_never_crash) {
    const char* inputs[] = {
        "\t",
        "- - - -",
        "{",
        "}",
        "[",
        "]",
        ":",
        "? ",
        "&a",
        "*a",
        "!!",
        "'",
        "\"",
        "|",
        "a: &",
        "a: !<x> y",
        "- *unknown",
        "%YAML 1.2\n---\na: 1",
        "a:\n  - b\n c: d",
        "a: |\n\tb",
        "? [a]\n: x",
        "...\n",
        "---\n---\n",
        "a: 'x\n\ny'",
        "@x",
        "`x",
    };
    for (const char* input : inputs) {
        auto p = read(input);
        if (!p.doc) {
            EXPECT_TRUE(p.diags.has_errors()) << input;
        }
    }
}

}  // namespace
}  // namespace weir::config
