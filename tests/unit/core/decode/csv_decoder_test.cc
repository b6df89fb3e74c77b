// CSV decoding: RFC 4180 quoting, line ends, headers, bad rows becoming invalid records, partial
// records kept back by the caller, and a random round trip against a reference writer.
#include "core/decode/csv_decoder.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>

namespace weir::decode {
namespace {

std::vector<field_path> paths(std::initializer_list<std::string> names) {
    std::vector<field_path> out;
    for (const auto& n : names) out.push_back(field_path{{n}});
    return out;
}

// A decoded cell as the tests compare it: nullopt for null, "<absent>" for absent.
std::optional<std::string> cell(const record_batch& b, std::size_t record, std::size_t slot) {
    const field_value& v = b.record(record)[slot];
    if (v.kind == value_kind::null) return std::nullopt;
    if (v.kind == value_kind::absent) return std::string("<absent>");
    EXPECT_EQ(v.kind, value_kind::string);
    return std::string(v.string());
}

record_batch decode_all(csv_decoder& d, const std::string& text) {
    record_batch b;
    const auto r = d.decode(text, b, true);
    EXPECT_EQ(r.consumed, text.size());
    EXPECT_EQ(r.records, b.size());
    return b;
}

// For a temporary text: the strings move to the batch's arena so the batch outlives the text.
record_batch decode_all(csv_decoder& d, std::string&& text) {
    record_batch b = decode_all(d, static_cast<const std::string&>(text));
    for (auto& v : b.values) {
        if (v.is_string()) v = field_value::make_string(b.strings.copy(v.string()));
    }
    return b;
}

TEST(csv_decoder, header_names_columns_and_only_referenced_fields_are_filled) {
    csv_decoder d(paths({"c", "a", "nope"}));
    const std::string text = "a,b,c\n1,2,3\nx,y,z\n";
    const auto b = decode_all(d, text);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b.slots, 3u);
    EXPECT_EQ(b.status[0], invalid_reason::none);
    EXPECT_EQ(cell(b, 0, 0), "3");
    EXPECT_EQ(cell(b, 0, 1), "1");
    EXPECT_EQ(cell(b, 0, 2), "<absent>");
    EXPECT_EQ(cell(b, 1, 0), "z");
    EXPECT_EQ(cell(b, 1, 1), "x");
    EXPECT_EQ(d.columns(), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(d.unmatched_slots(), (std::vector<std::size_t>{2}));
    // Unquoted cells point into the input.
    const char* chars = b.record(0)[0].chars;
    EXPECT_TRUE(chars >= text.data() && chars < text.data() + text.size());
}

TEST(csv_decoder, a_repeated_header_row_is_skipped_not_a_record) {
    csv_decoder d(paths({"a"}));
    // Two files concatenated, or a rotated file's header following the old one's rows.
    const auto b = decode_all(d, "a,b\n1,2\na,b\n3,4\n\"a\",b\na,c\n");
    ASSERT_EQ(b.size(), 3u) << "a,b twice skipped; a,c is data";
    EXPECT_EQ(cell(b, 0, 0), "1");
    EXPECT_EQ(cell(b, 1, 0), "3");
    EXPECT_EQ(cell(b, 2, 0), "a");
}

TEST(csv_decoder, header_row_reads_back_the_same_header_for_a_resumed_stream) {
    csv_decoder first(paths({"x", "q\"uote"}));
    decode_all(first, "x,\"q\"\"uote\",\"a,b\"\n1,2,3\n");
    const std::string row = first.header_row();
    EXPECT_EQ(row, "\"x\",\"q\"\"uote\",\"a,b\"");
    csv_decoder resumed(paths({"x", "q\"uote"}));
    EXPECT_EQ(resumed.header_row(), "") << "due";
    resumed.set_header(row);
    EXPECT_EQ(resumed.columns(), first.columns());
    const auto b = decode_all(resumed, std::string("4,5,6\n"));
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(cell(b, 0, 0), "4");
    EXPECT_EQ(cell(b, 0, 1), "5");
    csv_decoder_options no_header;
    no_header.header = false;
    no_header.columns = {"x"};
    csv_decoder fixed(paths({"x"}), no_header);
    decode_all(fixed, "1\n");
    EXPECT_EQ(fixed.header_row(), "");
}

TEST(csv_decoder, rows_and_row_cells_give_every_column_of_each_record) {
    csv_decoder_options o;
    o.null_values = {"NA"};
    o.max_record_size = 20;
    csv_decoder d(paths({"b"}), o);
    const std::string text =
        "a,b,c\n1,\"x \"\"y\"\"\",NA\n,\"\",3\n" + std::string(30, 'z') + "\n7,8\n";
    record_batch b;
    std::vector<std::string_view> rows;
    d.decode(text, b, true, &rows);
    ASSERT_EQ(b.size(), 4u);
    ASSERT_EQ(rows.size(), 4u) << "one row per record, aligned";
    EXPECT_EQ(rows[0], "1,\"x \"\"y\"\"\",NA");
    EXPECT_EQ(b.status[2], invalid_reason::too_long);
    EXPECT_EQ(rows[2], std::string(30, 'z')) << "complete, so its text is known";
    EXPECT_EQ(rows[3], "7,8");
    std::vector<std::pair<std::string_view, field_value>> cells;
    arena strings;
    ASSERT_TRUE(d.row_cells(rows[0], cells, strings));
    ASSERT_EQ(cells.size(), 3u);
    EXPECT_EQ(cells[0].first, "a");
    EXPECT_EQ(cells[0].second.string(), "1");
    EXPECT_EQ(cells[1].second.string(), "x \"y\"");
    EXPECT_EQ(cells[2].second.kind, value_kind::null) << "a null value";
    cells.clear();
    ASSERT_TRUE(d.row_cells(rows[1], cells, strings));
    EXPECT_EQ(cells[0].second.kind, value_kind::null) << "empty unquoted";
    EXPECT_EQ(cells[1].second.string(), "") << "quoted empty";
    cells.clear();
    EXPECT_FALSE(d.row_cells(rows[3], cells, strings)) << "two cells of three: malformed";
    EXPECT_TRUE(cells.empty());
}

TEST(csv_decoder, numeric_cells_stay_strings) {
    csv_decoder d(paths({"n"}));
    const auto b = decode_all(d, "n\n12.5\n-3\n");
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(cell(b, 0, 0), "12.5");
    EXPECT_EQ(cell(b, 1, 0), "-3");
}

TEST(csv_decoder, quoted_cells_with_delimiters_quotes_and_newlines) {
    csv_decoder d(paths({"a", "b", "c"}));
    const std::string text =
        "a,b,c\n"
        "\"x,y\",\"say \"\"hi\"\"\",\"line1\nline2\"\n"
        "\"\",,\"\"\"\"\n"
        "\"a\r\nb\",plain\"quote,\"\"\"x\"\n";
    const auto b = decode_all(d, text);
    ASSERT_EQ(b.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(b.status[i], invalid_reason::none) << i;
    EXPECT_EQ(cell(b, 0, 0), "x,y");
    EXPECT_EQ(cell(b, 0, 1), "say \"hi\"");
    EXPECT_EQ(cell(b, 0, 2), "line1\nline2");
    EXPECT_EQ(cell(b, 1, 0), "");            // quoted empty: the empty string
    EXPECT_EQ(cell(b, 1, 1), std::nullopt);  // unquoted empty: null
    EXPECT_EQ(cell(b, 1, 2), "\"");
    EXPECT_EQ(cell(b, 2, 0), "a\r\nb");        // line ends inside quotes are kept as they are
    EXPECT_EQ(cell(b, 2, 1), "plain\"quote");  // a quote inside an unquoted cell is literal
    EXPECT_EQ(cell(b, 2, 2), "\"x");
    // A quoted cell without doubled quotes points into the input; one with them into the arena.
    const auto in_input = [&](const field_value& v) {
        return v.chars >= text.data() && v.chars < text.data() + text.size();
    };
    EXPECT_TRUE(in_input(b.record(0)[0]));
    EXPECT_FALSE(in_input(b.record(0)[1]));
}

TEST(csv_decoder, nothing_is_trimmed) {
    csv_decoder d(paths({"a", "b"}));
    const auto b = decode_all(d, "a,b\n  x , \"y\"\n");
    ASSERT_EQ(b.size(), 1u);
    // ` "y"` does not start with a quote, so it is an unquoted cell with literal quotes.
    EXPECT_EQ(b.status[0], invalid_reason::none);
    EXPECT_EQ(cell(b, 0, 0), "  x ");
    EXPECT_EQ(cell(b, 0, 1), " \"y\"");
}

TEST(csv_decoder, wrong_column_counts_and_bad_quotes_are_malformed) {
    csv_decoder d(paths({"a", "b"}));
    const auto b = decode_all(d,
                              "a,b\n"
                              "1\n"         // too few
                              "1,2,3\n"     // too many
                              "1,2,\n"      // a trailing delimiter is one more cell
                              "\"1\"x,2\n"  // text after a closing quote
                              "ok,fine\n"
                              "\"unclosed,2\n");
    ASSERT_EQ(b.size(), 6u);
    EXPECT_EQ(b.status[0], invalid_reason::malformed);
    EXPECT_EQ(b.status[1], invalid_reason::malformed);
    EXPECT_EQ(b.status[2], invalid_reason::malformed);
    EXPECT_EQ(b.status[3], invalid_reason::malformed);
    EXPECT_EQ(b.status[4], invalid_reason::none);
    EXPECT_EQ(cell(b, 4, 1), "fine");
    EXPECT_EQ(b.status[5], invalid_reason::malformed);  // an unclosed quote at the end
    // Malformed rows leave their slots absent.
    EXPECT_EQ(cell(b, 0, 0), "<absent>");
    // "\"unclosed,2\n" opens a quote that never closes: at the end of data it is one
    // malformed record.
    record_batch tail;
    csv_decoder d2(paths({"a", "b"}));
    const std::string text = "a,b\n\"unclosed,2\n3,4\n";
    auto r = d2.decode(text, tail, false);
    EXPECT_EQ(r.records, 0u);  // could still close in later data
    EXPECT_EQ(r.consumed, 4u);
    r = d2.decode(std::string_view(text).substr(r.consumed), tail, true);
    ASSERT_EQ(tail.size(), 1u);
    EXPECT_EQ(tail.status[0], invalid_reason::malformed);
}

TEST(csv_decoder, crlf_blank_lines_and_a_final_record_without_line_end) {
    csv_decoder d(paths({"a", "b"}));
    const auto b = decode_all(d, "a,b\r\n\r\n1,\r\n\n\"q\"\r\n3,4");
    // "\"q\"" alone is one cell: malformed (two columns).
    ASSERT_EQ(b.size(), 3u);
    EXPECT_EQ(cell(b, 0, 0), "1");
    EXPECT_EQ(cell(b, 0, 1), std::nullopt);
    EXPECT_EQ(b.status[1], invalid_reason::malformed);
    EXPECT_EQ(cell(b, 2, 1), "4");
    EXPECT_EQ(d.columns(), (std::vector<std::string>{"a", "b"}));
}

TEST(csv_decoder, byte_order_mark_at_stream_start_even_split_across_calls) {
    const std::string text = "\xEF\xBB\xBFid,v\n7,x\n";
    for (std::size_t split = 0; split <= 4; ++split) {
        csv_decoder d(paths({"id"}));
        record_batch b;
        std::string pending = text.substr(0, split);
        auto r = d.decode(pending, b, false);
        pending = pending.substr(r.consumed) + text.substr(split);
        r = d.decode(pending, b, true);
        EXPECT_EQ(r.consumed, pending.size());
        ASSERT_EQ(b.size(), 1u) << split;
        EXPECT_EQ(cell(b, 0, 0), "7") << split;
    }
    // A BOM anywhere else is data.
    csv_decoder d(paths({"id"}));
    const auto b = decode_all(d,
                              "id\n\xEF\xBB\xBF"
                              "7\n");
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(cell(b, 0, 0),
              "\xEF\xBB\xBF"
              "7");
}

TEST(csv_decoder, partial_records_are_kept_back_at_every_split_point) {
    const std::string text = "a,b\r\n1,\"two\r\nlines\"\r\n\"x\"\"\",y\n\n3,\"\"\r\n\"4\",\"5\"";
    csv_decoder whole_decoder(paths({"a", "b"}));
    const auto whole = decode_all(whole_decoder, text);
    ASSERT_EQ(whole.size(), 4u);
    for (std::size_t split = 0; split <= text.size(); ++split) {
        csv_decoder d(paths({"a", "b"}));
        record_batch b;
        std::string first = text.substr(0, split);
        const auto r1 = d.decode(first, b, false);
        ASSERT_LE(r1.consumed, first.size());
        // What was consumed ends a record (or the header, or blank lines).
        std::string rest = first.substr(r1.consumed) + text.substr(split);
        const auto r2 = d.decode(rest, b, true);
        EXPECT_EQ(r2.consumed, rest.size());
        ASSERT_EQ(b.size(), whole.size()) << "split " << split;
        for (std::size_t i = 0; i < b.size(); ++i) {
            EXPECT_EQ(b.status[i], whole.status[i]) << split;
            EXPECT_EQ(cell(b, i, 0), cell(whole, i, 0)) << "split " << split << " record " << i;
            EXPECT_EQ(cell(b, i, 1), cell(whole, i, 1)) << "split " << split << " record " << i;
        }
    }
}

TEST(csv_decoder, mutated_and_random_bytes_decode_alike_in_any_chunks) {
    // Data never crashes the decoder: CSV with bytes flipped, inserted or cut, stray quotes,
    // NULs and invalid UTF-8, fed whole and in random chunks the way a followed file arrives.
    // Both give the same records, statuses and cells, and the caller never holds more than
    // the record limit. Run under ASan by the test command.
    const std::string base =
        "id,temp,note\n1,21.5,ok\n2,,\"a, b\"\n3,19,\"say \"\"hi\"\"\"\n"
        "4,x,\"multi\nline\"\r\n5,22,\n";
    std::mt19937_64 rng(17);
    csv_decoder_options o;
    o.max_record_size = 64;
    for (int round = 0; round < 400; ++round) {
        std::string text;
        for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k) text += base;
        for (int k = static_cast<int>(rng() % 6); k > 0; --k) {
            const std::size_t at = rng() % text.size();
            static const char interesting[] = {'"', ',', '\n', '\r', '\0', '\xff', 'x'};
            switch (rng() % 3) {
                case 0:
                    text[at] = interesting[rng() % sizeof interesting];
                    break;
                case 1:
                    text.insert(at, 1, static_cast<char>(rng() % 256));
                    break;
                default:
                    text.erase(at, rng() % 8);
                    break;
            }
            if (text.empty()) text = "a";
        }
        csv_decoder whole_decoder(paths({"id", "temp", "note"}), o);
        record_batch whole;
        const auto rw = whole_decoder.decode(text, whole, true);
        ASSERT_EQ(rw.consumed, text.size());
        csv_decoder d(paths({"id", "temp", "note"}), o);
        record_batch b;
        std::string pending;
        for (std::size_t pos = 0; pos < text.size();) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 40, text.size() - pos);
            pending += text.substr(pos, n);
            pos += n;
            const std::size_t values_before = b.values.size();
            const auto r = d.decode(pending, b, pos == text.size());
            // Cells point into `pending`: keep them in the batch's arena before it moves.
            for (std::size_t v = values_before; v < b.values.size(); ++v) {
                if (b.values[v].is_string()) {
                    b.values[v] = field_value::make_string(b.strings.copy(b.values[v].string()));
                }
            }
            pending.erase(0, r.consumed);
            ASSERT_LE(pending.size(), o.max_record_size + 40) << "round " << round;
        }
        EXPECT_TRUE(pending.empty());
        ASSERT_EQ(b.size(), whole.size()) << "round " << round;
        for (std::size_t i = 0; i < b.size(); ++i) {
            ASSERT_EQ(b.status[i], whole.status[i]) << "round " << round << " record " << i;
            for (std::size_t slot = 0; slot < 3; ++slot) {
                EXPECT_EQ(cell(b, i, slot), cell(whole, i, slot))
                    << "round " << round << " record " << i << " slot " << slot;
            }
        }
    }
}

TEST(csv_decoder, records_longer_than_the_limit_are_too_long) {
    csv_decoder_options o;
    o.max_record_size = 10;
    csv_decoder d(paths({"a", "b"}), o);
    const auto b = decode_all(d, "a,b\n12345,1234\n12345,12345\n\"1\n2\n3\n\",5\nx,y\n");
    ASSERT_EQ(b.size(), 4u);
    EXPECT_EQ(b.status[0], invalid_reason::none);  // exactly 10 bytes
    EXPECT_EQ(b.status[1], invalid_reason::too_long);
    EXPECT_EQ(b.status[2], invalid_reason::none);  // 10 bytes over four lines
    EXPECT_EQ(cell(b, 2, 0), "1\n2\n3\n");
    EXPECT_EQ(b.status[3], invalid_reason::none);
}

TEST(csv_decoder, a_runaway_quote_is_cut_at_the_limit_and_skipped_to_the_next_line) {
    csv_decoder_options o;
    o.max_record_size = 16;
    csv_decoder d(paths({"a", "b"}), o);
    record_batch b;
    // The stray quote would swallow everything after it; the caller never holds more than
    // the limit.
    std::string pending;
    const std::vector<std::string> chunks = {"a,b\n1,2\n\"oops,", "0123456789", "0123456789",
                                             "01234\n", "5,6\n"};
    for (const auto& c : chunks) {
        pending += c;
        const auto r = d.decode(pending, b, false);
        pending.erase(0, r.consumed);
        EXPECT_LE(pending.size(), o.max_record_size);
    }
    ASSERT_EQ(b.size(), 3u);
    EXPECT_EQ(b.status[0], invalid_reason::none);
    EXPECT_EQ(b.status[1], invalid_reason::too_long);
    EXPECT_EQ(b.status[2], invalid_reason::none);
    EXPECT_EQ(cell(b, 2, 1), "6");
}

TEST(csv_decoder, without_header_columns_name_the_cells) {
    csv_decoder_options o;
    o.header = false;
    o.columns = {"x", "y"};
    csv_decoder d(paths({"y"}), o);
    EXPECT_TRUE(d.header_known());
    const auto b = decode_all(d, "1,2\n3,4\n");
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(cell(b, 0, 0), "2");
    EXPECT_EQ(cell(b, 1, 0), "4");
}

TEST(csv_decoder, configured_columns_replace_the_header_names) {
    csv_decoder_options o;
    o.columns = {"x", "y"};
    csv_decoder d(paths({"y", "b"}), o);
    EXPECT_FALSE(d.header_known());
    const auto b = decode_all(d, "a,b\n1,2\n");
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(cell(b, 0, 0), "2");
    EXPECT_EQ(cell(b, 0, 1), "<absent>");
}

TEST(csv_decoder, header_from_the_file_start_then_data_from_a_checkpoint_offset) {
    const std::string file = "\xEF\xBB\xBF\n\"the id\",\"v\"\"q\"\n1,a\n2,b\n3,c\n";
    csv_decoder d({field_path{{"the id"}}, field_path{{"v\"q"}}});
    EXPECT_EQ(d.header_from(std::string_view(file).substr(0, 10)), 0u);  // incomplete
    EXPECT_FALSE(d.header_known());
    const std::size_t header_end = d.header_from(file);
    EXPECT_EQ(header_end, file.find("1,a"));
    EXPECT_TRUE(d.header_known());
    const std::string resumed = file.substr(file.find("2,b"));
    const auto b = decode_all(d, resumed);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(cell(b, 0, 0), "2");
    EXPECT_EQ(cell(b, 1, 1), "c");

    csv_decoder e({field_path{{"v"}}, field_path{{"k"}}});
    e.set_header("\xEF\xBB\xBFk,v");
    EXPECT_TRUE(e.header_known());
    const auto c = decode_all(e, "1,2\n");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(cell(c, 0, 0), "2");
    EXPECT_EQ(cell(c, 0, 1), "1");
    // reset(): a new stream, whose first row is a header again.
    e.reset();
    EXPECT_FALSE(e.header_known());
    const auto f = decode_all(e, "v,k\n1,2\n");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(cell(f, 0, 0), "1");
}

TEST(csv_decoder, dotted_paths_name_dotted_columns_and_slots_may_share_a_column) {
    csv_decoder d({field_path{{"user", "id"}}, field_path{{"n"}}, field_path{{"n"}}});
    const auto b = decode_all(d, "user.id,n\nu1,5\n");
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(cell(b, 0, 0), "u1");
    EXPECT_EQ(cell(b, 0, 1), "5");
    EXPECT_EQ(cell(b, 0, 2), "5");
}

TEST(csv_decoder, decode_record_takes_one_message) {
    csv_decoder d(paths({"a", "b"}));
    record_batch b;
    EXPECT_FALSE(d.decode_record("a,b\n", b));
    EXPECT_EQ(b.size(), 0u);
    EXPECT_TRUE(d.decode_record("1,\"x\ny\"\r\n", b));
    EXPECT_TRUE(d.decode_record("1,2\n3,4", b));  // two records in one message
    EXPECT_TRUE(d.decode_record("1", b));
    ASSERT_EQ(b.size(), 3u);
    EXPECT_EQ(b.status[0], invalid_reason::none);
    EXPECT_EQ(cell(b, 0, 1), "x\ny");
    EXPECT_EQ(b.status[1], invalid_reason::malformed);
    EXPECT_EQ(b.status[2], invalid_reason::malformed);
}

TEST(csv_decoder, other_delimiters_quotes_and_null_values) {
    csv_decoder_options o;
    o.delimiter = ';';
    o.quote = '\'';
    o.null_values = {"NA", "-"};
    csv_decoder d(paths({"a", "b", "c"}), o);
    const auto b = decode_all(d, "a;b;c\n'x;''y''';NA;-\n\"q\";'NA';--\n");
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(cell(b, 0, 0), "x;'y'");
    EXPECT_EQ(cell(b, 0, 1), std::nullopt);
    EXPECT_EQ(cell(b, 0, 2), std::nullopt);
    EXPECT_EQ(cell(b, 1, 0), "\"q\"");
    EXPECT_EQ(cell(b, 1, 1), std::nullopt);  // null values are matched after unquoting
    EXPECT_EQ(cell(b, 1, 2), "--");

    csv_decoder_options tab;
    tab.delimiter = '\t';
    csv_decoder t(paths({"b"}), tab);
    const auto c = decode_all(t, "a\tb\n1,2\t3\n");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(cell(c, 0, 0), "3");
}

TEST(csv_decoder, inconsistent_options_are_rejected) {
    csv_decoder_options o;
    o.header = false;
    EXPECT_THROW(csv_decoder(paths({"a"}), o), std::invalid_argument);
    csv_decoder_options q;
    q.quote = ',';
    EXPECT_THROW(csv_decoder(paths({"a"}), q), std::invalid_argument);
    csv_decoder_options n;
    n.delimiter = '\n';
    EXPECT_THROW(csv_decoder(paths({"a"}), n), std::invalid_argument);
}

TEST(csv_decoder, steady_state_reuses_the_batch_memory) {
    csv_decoder d(paths({"a", "b"}));
    std::string text = "a,b\n";
    for (int i = 0; i < 200; ++i) text += "\"x\"\"" + std::to_string(i) + "\",y\n";
    record_batch b;
    d.decode(text, b, true);
    d.reset();
    const auto capacity = b.values.capacity();
    const auto arena_capacity = b.strings.capacity();
    for (int round = 0; round < 5; ++round) {
        b.clear();
        d.reset();
        d.decode(text, b, true);
        ASSERT_EQ(b.size(), 200u);
        EXPECT_EQ(b.values.capacity(), capacity);
        EXPECT_EQ(b.strings.capacity(), arena_capacity);
    }
}

// --- random round trip against a reference writer -------------------------------------------

struct table {
    std::vector<std::string> header;
    std::vector<std::vector<std::optional<std::string>>> rows;  // nullopt: null (empty cell)
};

std::string write_csv(const table& t, char delim, char quote, const std::string& line_end,
                      std::mt19937& rng) {
    const auto write_cell = [&](std::string& out, const std::string& s, bool force_quotes) {
        const bool special = s.empty() || s.find(delim) != std::string::npos ||
                             s.find(quote) != std::string::npos ||
                             s.find('\n') != std::string::npos || s.find('\r') != std::string::npos;
        if (!special && !force_quotes) {
            out += s;
            return;
        }
        out += quote;
        for (char c : s) {
            if (c == quote) out += quote;
            out += c;
        }
        out += quote;
    };
    std::string out;
    for (std::size_t c = 0; c < t.header.size(); ++c) {
        if (c) out += delim;
        write_cell(out, t.header[c], rng() % 4 == 0);
    }
    out += line_end;
    for (const auto& row : t.rows) {
        for (std::size_t c = 0; c < row.size(); ++c) {
            if (c) out += delim;
            if (row[c]) write_cell(out, *row[c], rng() % 4 == 0);
        }
        out += line_end;
    }
    return out;
}

TEST(csv_decoder, random_tables_round_trip_cell_by_cell) {
    std::mt19937 rng(20261120);
    const std::string alphabet = "ab ,;\"'\n\r\t\xC3\xA9x";
    for (int round = 0; round < 300; ++round) {
        const char delim = round % 3 == 0 ? ';' : ',';
        const char quote = round % 5 == 0 ? '\'' : '"';
        const std::string line_end = round % 2 ? "\r\n" : "\n";
        table t;
        const std::size_t columns = 2 + rng() % 5;
        for (std::size_t c = 0; c < columns; ++c) t.header.push_back("col" + std::to_string(c));
        const std::size_t rows = rng() % 30;
        for (std::size_t r = 0; r < rows; ++r) {
            std::vector<std::optional<std::string>> row;
            for (std::size_t c = 0; c < columns; ++c) {
                if (rng() % 8 == 0) {
                    row.emplace_back(std::nullopt);
                    continue;
                }
                std::string s;
                const std::size_t len = rng() % 8;
                for (std::size_t k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
                row.emplace_back(s);
            }
            // A row of only nulls in... is still a row when there are >= 2 columns.
            t.rows.push_back(std::move(row));
        }
        std::string text = write_csv(t, delim, quote, line_end, rng);
        if (rng() % 2 && !text.empty()) {
            text.resize(text.size() - line_end.size());  // no final line end
        }

        // Reference slots: every column, in a shuffled order, plus one unknown.
        std::vector<std::size_t> order(columns);
        for (std::size_t c = 0; c < columns; ++c) order[c] = c;
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<field_path> fields;
        for (std::size_t c : order) fields.push_back(field_path{{t.header[c]}});
        fields.push_back(field_path{{"unknown"}});

        csv_decoder_options o;
        o.delimiter = delim;
        o.quote = quote;
        csv_decoder d(fields, o);
        // Feed in random chunks, keeping partial records back as a caller does.
        record_batch b;
        std::string pending;
        std::size_t at = 0;
        while (at < text.size()) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 40, text.size() - at);
            pending.append(text, at, n);
            at += n;
            const auto r = d.decode(pending, b, false);
            // Strings of a batch point into `pending`: keep them by copying to the arena.
            for (auto& v : b.values) {
                if (v.is_string()) v = field_value::make_string(b.strings.copy(v.string()));
            }
            pending.erase(0, r.consumed);
        }
        const auto r = d.decode(pending, b, true);
        EXPECT_EQ(r.consumed, pending.size());

        ASSERT_EQ(b.size(), t.rows.size()) << "round " << round << "\n" << text;
        for (std::size_t i = 0; i < b.size(); ++i) {
            ASSERT_EQ(b.status[i], invalid_reason::none) << round;
            for (std::size_t s = 0; s < columns; ++s) {
                EXPECT_EQ(cell(b, i, s), t.rows[i][order[s]])
                    << "round " << round << " record " << i << " slot " << s;
            }
            EXPECT_EQ(cell(b, i, columns), "<absent>");
        }
    }
}

}  // namespace
}  // namespace weir::decode
