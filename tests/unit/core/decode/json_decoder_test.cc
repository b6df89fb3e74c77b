// JSON-lines decoding: projection of referenced fields, every value kind, nested paths, and
// bad lines becoming invalid records with a reason.
#include "core/decode/json_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace weir::decode {
namespace {

field_path path(std::initializer_list<std::string> segments) {
    return field_path{segments};
}

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
    const auto b =
        decode({path({"s"}), path({"u"})}, R"({"s":"a\"b\\c\nd","u":"caf\u00e9 \ud83d\ude00"})");
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
                          "{\"s\":\n"  // truncated
                          "[1,2,3]\n"  // not an object
                          "\"just a string\"\n"
                          "{\"s\":\"x\"} trailing\n"  // garbage after the object
                          "{\"s\":\"x\"}{\"s\":\"y\"}\n"
                          "{\"s\":tru}\n"
                          "{\"s\":\"\xff\xfe\"}\n"  // invalid UTF-8
                              + long_line +
                              "\n"
                              "\n   \n"  // blank lines are not records
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

TEST(json_decoder, a_path_listed_again_as_number_text_fills_both_slots) {
    // Slot 0 is the record's field, slot 2 its digits for the event time (an epoch time
    // field): the number stays a number, the text keeps every digit; any other value is the
    // same in both; nested paths too; duplicate keys: the last one wins in both.
    json_decoder_options options;
    options.number_text_slots = {2, 3};
    const std::vector<field_path> fields = {path({"ts"}), path({"m", "t"}), path({"ts"}),
                                            path({"m", "t"})};
    const auto b = decode(fields,
                          R"({"ts":1795168800123456789 ,"m":{"t":1.5e3}}
{"ts":"2026-11-20T10:00:00Z","m":{"t":null}}
{"ts":true,"m":[1]}
{"ts":-2.50,"ts":7}
{"m":{"t":{"x":1}}}
)",
                          options);
    ASSERT_EQ(b.size(), 5u);
    for (std::size_t i = 0; i < b.size(); ++i) ASSERT_EQ(b.status[i], invalid_reason::none) << i;
    EXPECT_TRUE(b.record(0)[0].is_number());
    EXPECT_EQ(b.record(0)[0].number, 1795168800123456789.0);
    EXPECT_EQ(b.record(0)[2].string(), "1795168800123456789");
    EXPECT_EQ(b.record(0)[1].number, 1500.0);
    EXPECT_EQ(b.record(0)[3].string(), "1.5e3");
    EXPECT_EQ(b.record(1)[0].string(), "2026-11-20T10:00:00Z");
    EXPECT_EQ(b.record(1)[2].string(), "2026-11-20T10:00:00Z");
    EXPECT_EQ(b.record(1)[1].kind, value_kind::null);
    EXPECT_EQ(b.record(1)[3].kind, value_kind::null);
    EXPECT_EQ(b.record(2)[0].kind, value_kind::boolean);
    EXPECT_EQ(b.record(2)[2].kind, value_kind::boolean);
    EXPECT_TRUE(b.record(2)[2].boolean);
    EXPECT_EQ(b.record(2)[1].kind, value_kind::absent);  // a path through an array
    EXPECT_EQ(b.record(2)[3].kind, value_kind::absent);
    EXPECT_EQ(b.record(3)[0].number, 7.0);
    EXPECT_EQ(b.record(3)[2].string(), "7");
    EXPECT_EQ(b.record(3)[1].kind, value_kind::absent);
    EXPECT_EQ(b.record(3)[3].kind, value_kind::absent);
    EXPECT_EQ(b.record(4)[1].kind, value_kind::other);
    EXPECT_EQ(b.record(4)[3].kind, value_kind::other);
    EXPECT_EQ(b.record(4)[0].kind, value_kind::absent);
    EXPECT_EQ(b.record(4)[2].kind, value_kind::absent);
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
                case 0:
                    break;
                case 1:
                    parts.push_back("\"v\":null");
                    row[1] = field_value::make_null();
                    break;
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

// The same records, decoded line by line with decode_record: the reference meaning of a line.
struct line_by_line {
    record_batch batch;
    std::vector<std::string> lines;
};

line_by_line decode_each(const std::vector<field_path>& fields, const std::string& text,
                         json_decoder_options options = {}) {
    json_decoder d(fields, std::move(options));
    line_by_line out;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t nl = text.find('\n', at);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(at, nl - at);
        at = nl + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const padded in(line);
        d.decode_record(in.view(), out.batch);
        for (std::size_t s = 0; s < out.batch.slots; ++s) {
            auto& v = out.batch.values[out.batch.values.size() - out.batch.slots + s];
            if (v.is_string()) v = field_value::make_string(out.batch.strings.copy(v.string()));
        }
        out.lines.push_back(line);
    }
    return out;
}

void expect_same_as_line_by_line(const std::vector<field_path>& fields, const std::string& text,
                                 json_decoder_options options = {}) {
    const line_by_line want = decode_each(fields, text, options);
    json_decoder d(fields, options);
    const padded in(text);
    record_batch got;
    std::vector<std::string_view> lines;
    ASSERT_EQ(d.decode_lines(in.view(), got, &lines), want.batch.size());
    ASSERT_EQ(got.size(), want.batch.size());
    ASSERT_EQ(lines.size(), want.lines.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(lines[i], want.lines[i]) << "record " << i;
        ASSERT_EQ(got.status[i], want.batch.status[i]) << "record " << i << ": " << lines[i];
        for (std::size_t s = 0; s < fields.size(); ++s) {
            const auto& g = got.record(i)[s];
            const auto& w = want.batch.record(i)[s];
            ASSERT_EQ(g.kind, w.kind) << "record " << i << " slot " << s << ": " << lines[i];
            if (w.is_string()) {
                EXPECT_EQ(g.string(), w.string()) << lines[i];
            } else if (w.is_number()) {
                EXPECT_EQ(g.number, w.number) << lines[i];
            } else if (w.kind == value_kind::boolean) {
                EXPECT_EQ(g.boolean, w.boolean) << lines[i];
            }
        }
    }
}

TEST(json_decoder, an_unterminated_string_spoils_only_its_own_line) {
    // Stage 1 over many lines at once would read the lines after an odd quote inside out.
    const auto b = decode({path({"k"})},
                          "{\"k\":1}\n{\"k\":\"abc}\n{\"k\":2}\n{\"k\":\"x\"}\n{\"k\":3}\n"
                          "{\"k\":\"tail}");
    ASSERT_EQ(b.size(), 6u);
    const invalid_reason want[] = {invalid_reason::none, invalid_reason::malformed,
                                   invalid_reason::none, invalid_reason::none,
                                   invalid_reason::none, invalid_reason::malformed};
    for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(b.status[i], want[i]) << "record " << i;
    EXPECT_EQ(b.record(0)[0].number, 1.0);
    EXPECT_EQ(b.record(2)[0].number, 2.0);
    EXPECT_EQ(b.record(3)[0].string(), "x");
    EXPECT_EQ(b.record(4)[0].number, 3.0);
}

TEST(json_decoder, documents_must_begin_and_end_on_their_own_line) {
    // A document continued on the next line, and one followed by a second on its line: a
    // stream over many lines would accept them; line by line they are malformed.
    const auto b = decode({path({"k"})},
                          "{\"k\":1}\n{\"k\":\n2}\n{\"k\":3}{\"k\":4}\n{\"k\":5}\n{\"k\":{\n}}\n"
                          "{\"k\":6}\n");
    ASSERT_EQ(b.size(), 8u);
    const invalid_reason want[] = {invalid_reason::none,      invalid_reason::malformed,
                                   invalid_reason::malformed, invalid_reason::malformed,
                                   invalid_reason::none,      invalid_reason::malformed,
                                   invalid_reason::malformed, invalid_reason::none};
    for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(b.status[i], want[i]) << "record " << i;
    EXPECT_EQ(b.record(4)[0].number, 5.0);
    EXPECT_EQ(b.record(7)[0].number, 6.0);
    EXPECT_EQ(b.record(1)[0].kind, value_kind::absent);  // nothing of a bad line survives
}

TEST(json_decoder, many_lines_decode_as_each_line_alone) {
    // Good and bad lines mixed at random over several chunks (more bad lines per chunk than
    // the fast path restarts for), checked against decode_record of every line.
    const std::vector<field_path> fields = {path({"id"}), path({"v"}), path({"m", "x"}),
                                            path({"long_key_name"}), path({"m"})};
    const std::vector<std::string> good = {
        R"({"id":"a","v":1.5,"m":{"x":true},"other":[1,2,{"id":3}]})",
        R"(  {"v":-2e3, "id":"b\"q\u00e9", "long_key_name":null}  )",
        R"({"id":"c","v":"text","m":5,"long_key_namf":1})",
        R"({"long_key_name":"yes","id":"d","id":"last wins"})",
        R"({})",
        R"({"m":{"y":{"x":1},"x":[1]},"v":0})",
        "{\"id\":\"tabs\"}\t\t\r",
        R"({"id":"unwanted junk is skipped","z":tru})",
    };
    const std::vector<std::string> bad = {
        R"({"id":"open)",          // odd quote: stage 1 of a chunk turns over
        R"({"id":"x"} trailing)",  // garbage after the object
        R"({"id":"x"}{"id":"y"})",
        R"([1,2,3])",
        R"("just a string")",
        R"({"v":tru})",
        "{\"id\":\"\xff\"}",  // invalid UTF-8
        "{\"id\":\"a\tb\"}",  // a control character in a string
        R"({"v":)",           // continued by whatever line follows
        R"({"id":"x"}})",
        "\r",
        R"(})",
        R"({"m":{"x":1})",
    };
    std::mt19937 rng(11);
    for (int round = 0; round < 12; ++round) {
        std::string text;
        const int n = 400 + static_cast<int>(rng() % 1600);
        const int bad_per_mille = round % 4 == 0 ? 0 : static_cast<int>(rng() % 60);
        for (int i = 0; i < n; ++i) {
            if (static_cast<int>(rng() % 1000) < bad_per_mille) {
                text += bad[rng() % bad.size()];
            } else {
                text += good[rng() % good.size()];
            }
            switch (rng() % 10) {
                case 0:
                    text += "\r\n";
                    break;
                case 1:
                    text += "\n \t\n";
                    break;  // a blank line
                default:
                    text += "\n";
            }
        }
        if (round % 3 == 1) text += bad[rng() % bad.size()];  // a last line without '\n'
        if (round % 3 == 2) text += good[0];
        expect_same_as_line_by_line(fields, text);
    }
}

TEST(json_decoder, mutated_and_random_bytes_decode_as_each_line_alone) {
    // Data never crashes the decoder: good lines with random bytes flipped, inserted or cut,
    // lines of random bytes (NUL and invalid UTF-8 included) and deep nesting, each decoded
    // exactly as that line alone would be. Run under ASan by the test command.
    const std::vector<field_path> fields = {path({"id"}), path({"v"}), path({"m", "x"})};
    const std::vector<std::string> good = {
        R"({"id":"sensor-1","v":21.5,"m":{"x":true},"tags":["a","b"]})",
        R"({"v":-2e3,"id":"b\"q\u00e9","m":{"x":null,"y":{"z":[1,{"w":2}]}}})",
        R"({"id":"\ud83d\ude00","v":1e308,"m":{"x":"deep"}})",
    };
    std::mt19937_64 rng(29);
    auto random_byte = [&] {
        char c;
        do {
            c = static_cast<char>(rng() % 256);
        } while (c == '\n');
        return c;
    };
    for (int round = 0; round < 40; ++round) {
        std::string text;
        for (int i = 0; i < 300; ++i) {
            std::string line = good[rng() % good.size()];
            switch (rng() % 6) {
                case 0:  // flip a few bytes
                    for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) {
                        line[rng() % line.size()] = random_byte();
                    }
                    break;
                case 1:
                    line.insert(rng() % line.size(), 1, random_byte());
                    break;
                case 2:
                    line.resize(rng() % line.size());
                    break;
                case 3:  // random bytes
                    line.clear();
                    for (int k = static_cast<int>(rng() % 80); k > 0; --k) line += random_byte();
                    break;
                case 4:  // deep nesting, closed or not
                {
                    const std::size_t depth = 1 + rng() % 3000;
                    line = "{\"m\":" + std::string(depth, '[') + "1" +
                           std::string(rng() % 2 ? depth : depth / 2, ']') + "}";
                    break;
                }
                default:
                    break;  // a good line
            }
            text += line;
            text += "\n";
        }
        expect_same_as_line_by_line(fields, text);
    }
}

TEST(json_decoder, long_lines_around_chunk_boundaries) {
    // Lines longer than a chunk, and a line too long for max_record_size, between short ones.
    json_decoder_options options;
    options.max_record_size = 200'000;
    const std::string big = "{\"id\":\"" + std::string(100'000, 'x') + "\",\"v\":1}";
    const std::string too_big = "{\"id\":\"" + std::string(250'000, 'y') + "\"}";
    std::string text;
    for (int i = 0; i < 3000; ++i) {
        text += "{\"id\":\"k" + std::to_string(i) + "\",\"v\":" + std::to_string(i) + "}\n";
        if (i % 1000 == 500) text += big + "\n";
        if (i % 1000 == 900) text += too_big + "\n";
        if (i == 1700) text += "{\"id\":\"odd\n";
    }
    expect_same_as_line_by_line({path({"id"}), path({"v"})}, text, options);
    const auto b = decode({path({"id"}), path({"v"})}, text, options);
    ASSERT_EQ(b.size(), 3000u + 3 + 3 + 1);
    std::size_t too_long = 0, malformed = 0;
    for (auto s : b.status) {
        too_long += s == invalid_reason::too_long;
        malformed += s == invalid_reason::malformed;
    }
    EXPECT_EQ(too_long, 3u);
    EXPECT_EQ(malformed, 1u);
}

TEST(json_decoder, keys_match_exactly_whatever_their_length) {
    // Keys are compared by their first bytes at once: names of 7, 8 and more bytes, prefixes
    // of one another, and keys that only start like a wanted name.
    const auto b =
        decode({path({"abcdefg"}), path({"abcdefgh"}), path({"abcdefghijklmnop"}), path({"a"})},
               R"({"abcdefgh":2,"abcdefg":1,"abcdefghijklmnoq":9,"abcdefghijklmnop":3,)"
               R"("ab":8,"a":4,"abcdefghi":7,"abcdef":6})");
    ASSERT_EQ(b.status[0], invalid_reason::none);
    EXPECT_EQ(b.record(0)[0].number, 1.0);
    EXPECT_EQ(b.record(0)[1].number, 2.0);
    EXPECT_EQ(b.record(0)[2].number, 3.0);
    EXPECT_EQ(b.record(0)[3].number, 4.0);
}

TEST(json_decoder, keys_of_every_length_match_only_themselves) {
    // Names of 1 to 24 bytes (the compare takes 8, then 16 bytes at once, then the rest), each
    // among keys that differ from it in one byte anywhere, or are one byte longer or shorter.
    for (std::size_t n = 1; n <= 24; ++n) {
        std::string name;
        for (std::size_t i = 0; i < n; ++i) name += static_cast<char>('a' + i % 26);
        std::string text = "{";
        int decoy = 100;
        const auto add = [&text](const std::string& key, int value) {
            if (text.size() > 1) text += ',';
            text += '"' + key + "\":" + std::to_string(value);
        };
        // The name first: a decoy taken for it would overwrite its value (the last key wins).
        add(name, 7);
        for (std::size_t i = 0; i < n; ++i) {
            std::string other = name;
            other[i] = 'Z';
            add(other, decoy++);
        }
        add(name + "x", decoy++);
        if (n > 1) add(name.substr(0, n - 1), decoy++);
        add(name + "\\\"", decoy++);  // a key that goes on with an escaped quote
        text += '}';
        const auto b = decode({path({name})}, text);
        ASSERT_EQ(b.status[0], invalid_reason::none) << text;
        EXPECT_EQ(b.record(0)[0].number, 7.0) << text;
    }
}

}  // namespace
}  // namespace weir::decode
