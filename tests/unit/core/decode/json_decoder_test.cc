// JSON-lines decoding: projection of referenced fields, every value kind, nested paths, and
// bad lines becoming invalid records with a reason.
#include "core/decode/json_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace weir::decode {
namespace {

field_path path(std::initializer_list<std::string> segments) { return field_path{segments}; }

// Input with the padding the decoder may read past the end.
struct padded {
    explicit padded(std::string s) : text(std::move(s)) {
        storage = text + std::string(json_decoder::padding(), '\0');
    }
    std::string_view view() const { return {storage.data(), text.size()}; }
    std::string text;
    std::string storage;
};

record_batch decode(const std::vector<field_path>& fields, const std::string& text,
                    json_decoder_options options = {}) {
    json_decoder d(fields, std::move(options));
    padded in(text);
    record_batch b;
    d.decode_lines(in.view(), b);
    // Strings point into `in`: copy them to the batch arena so the batch outlives the input.
    for (auto& v : b.values) {
        if (v.is_string()) v = field_value::make_string(b.strings.copy(v.string()));
    }
    return b;
}

TEST(json_decoder, extracts_only_referenced_fields_of_every_kind) {
    const auto b = decode(
        {path({"s"}), path({"n"}), path({"b"}), path({"z"}), path({"o"}), path({"missing"}),
         path({"a"})},
        R"({"s":"text","n":-12.5e1,"b":true,"z":null,"o":{"x":1},"skip":[1,{"y":2}],"a":[1,2]})");
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b.status[0], invalid_reason::none);
    const auto r = b.record(0);
    EXPECT_EQ(r[0].string(), "text");
    EXPECT_EQ(r[1].number, -125.0);
    EXPECT_TRUE(r[2].kind == value_kind::boolean && r[2].boolean);
    EXPECT_EQ(r[3].kind, value_kind::null);
    EXPECT_EQ(r[4].kind, value_kind::other);
    EXPECT_EQ(r[5].kind, value_kind::absent);
    EXPECT_EQ(r[6].kind, value_kind::other);
}

TEST(json_decoder, nested_paths_and_paths_through_non_objects) {
    const auto b = decode({path({"a", "b", "c"}), path({"a", "x"}), path({"a"}), path({"k", "v"})},
                          "{\"a\":{\"x\":\"1\",\"b\":{\"c\":3}},\"k\":5}\n"
                          "{\"a\":{\"b\":\"not an object\"},\"k\":{\"v\":\"deep\"}}\n");
    ASSERT_EQ(b.size(), 2u);
    auto r = b.record(0);
    EXPECT_EQ(r[0].number, 3.0);
    EXPECT_EQ(r[1].string(), "1");
    EXPECT_EQ(r[2].kind, value_kind::other);
    EXPECT_EQ(r[3].kind, value_kind::absent);
    r = b.record(1);
    EXPECT_EQ(r[0].kind, value_kind::absent);
    EXPECT_EQ(r[3].string(), "deep");
}

TEST(json_decoder, escaped_strings_are_unescaped) {
    const auto b = decode({path({"s"}), path({"u"})},
                          R"({"s":"a\"b\\c\nd","u":"caf\u00e9 \ud83d\ude00"})");
    ASSERT_EQ(b.status[0], invalid_reason::none);
    EXPECT_EQ(b.record(0)[0].string(), "a\"b\\c\nd");
    EXPECT_EQ(b.record(0)[1].string(), "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(json_decoder, bad_lines_are_invalid_with_a_reason_and_the_rest_continue) {
    json_decoder_options options;
    options.max_record_size = 64;
    const std::string long_line = "{\"s\":\"" + std::string(100, 'x') + "\"}";
    const auto b = decode({path({"s"})},
                          "{\"s\":\"ok\"}\n"
                          "{\"s\":\n"                 // truncated
                          "[1,2,3]\n"                 // not an object
                          "\"just a string\"\n"
                          "{\"s\":\"x\"} trailing\n"  // garbage after the object
                          "{\"s\":\"x\"}{\"s\":\"y\"}\n"
                          "{\"s\":tru}\n"
                          "{\"s\":\"\xff\xfe\"}\n"    // invalid UTF-8
                          + long_line + "\n"
                          "\n   \n"                     // blank lines are not records
                          "{\"s\":\"last\"}\r\n",
                          options);
    ASSERT_EQ(b.size(), 10u);
    EXPECT_EQ(b.status[0], invalid_reason::none);
    for (std::size_t i = 1; i <= 7; ++i) {
        EXPECT_EQ(b.status[i], invalid_reason::malformed) << "line " << i + 1;
    }
    EXPECT_EQ(b.status[8], invalid_reason::too_long);
    EXPECT_EQ(b.status[9], invalid_reason::none);
    EXPECT_EQ(b.record(9)[0].string(), "last");
}

TEST(json_decoder, number_text_slots_keep_exact_digits) {
    json_decoder_options options;
    options.number_text_slots = {0};
    const auto b = decode({path({"ts"}), path({"n"})},
                          R"({"ts":1795168800123456789 ,"n":1795168800123456789})", options);
    ASSERT_EQ(b.status[0], invalid_reason::none);
    EXPECT_EQ(b.record(0)[0].string(), "1795168800123456789");
    EXPECT_TRUE(b.record(0)[1].is_number());
}

TEST(json_decoder, decode_lines_reports_each_record_line) {
    json_decoder d({path({"k"})});
    padded in("{\"k\":1}\r\n\n  \n{\"k\":2}\nnot json");
    record_batch b;
    std::vector<std::string_view> lines;
    EXPECT_EQ(d.decode_lines(in.view(), b, &lines), 3u);
    EXPECT_EQ(lines, (std::vector<std::string_view>{"{\"k\":1}", "{\"k\":2}", "not json"}));
    EXPECT_EQ(b.status[2], invalid_reason::malformed);
}

TEST(json_decoder, duplicate_keys_last_one_wins) {
    const auto b = decode({path({"k"})}, R"({"k":1,"k":2})");
    EXPECT_EQ(b.record(0)[0].number, 2.0);
}

TEST(json_decoder, random_records_match_what_was_written) {
    // Records with the wanted fields in random order, random types and random unwanted
    // fields around them; the decoded slots must equal what was generated.
    std::mt19937 rng(3);
    const std::vector<field_path> fields = {path({"id"}), path({"v"}), path({"m", "x"})};
    for (int batch = 0; batch < 20; ++batch) {
        std::string text;
        std::vector<std::vector<field_value>> want;
        std::vector<std::string> strings;
        strings.reserve(1000);
        for (int i = 0; i < 200; ++i) {
            std::vector<std::string> parts;
            std::vector<field_value> row(3);
            if (rng() % 5) {
                strings.push_back("id-" + std::to_string(rng() % 1000));
                parts.push_back("\"id\":\"" + strings.back() + "\"");
                row[0] = field_value::make_string(strings.back());
            }
            switch (rng() % 4) {
                case 0: break;
                case 1: parts.push_back("\"v\":null"); row[1] = field_value::make_null(); break;
                default: {
                    const int v = static_cast<int>(rng() % 20001) - 10000;
                    parts.push_back("\"v\":" + std::to_string(v) + ".25");
                    row[1] = field_value::make_number(v + (v < 0 ? -0.25 : 0.25));
                }
            }
            if (rng() % 2) {
                parts.push_back("\"m\":{\"y\":[1,{\"x\":9}],\"x\":false}");
                row[2] = field_value::make_boolean(false);
            }
            for (int k = 0; k < static_cast<int>(rng() % 3); ++k) {
                parts.push_back("\"noise" + std::to_string(k) + "\":{\"id\":\"no\"}");
            }
            std::shuffle(parts.begin(), parts.end(), rng);
            std::string line = "{";
            for (std::size_t p = 0; p < parts.size(); ++p) line += (p ? ", " : "") + parts[p];
            text += line + "}\n";
            want.push_back(row);
        }
        const auto b = decode(fields, text);
        ASSERT_EQ(b.size(), want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(b.status[i], invalid_reason::none) << i;
            for (std::size_t s = 0; s < 3; ++s) {
                const auto& got = b.record(i)[s];
                const auto& exp = want[i][s];
                ASSERT_EQ(got.kind, exp.kind) << "record " << i << " slot " << s;
                if (exp.is_string()) {
                    EXPECT_EQ(got.string(), exp.string());
                } else if (exp.is_number()) {
                    EXPECT_EQ(got.number, exp.number) << i;
                } else if (exp.kind == value_kind::boolean) {
                    EXPECT_EQ(got.boolean, exp.boolean);
                }
            }
        }
    }
}

}  // namespace
}  // namespace weir::decode
