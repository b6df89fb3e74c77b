// The value formats of valid_count/invalid_count: every format against hand-picked valid and
// invalid spellings, the checks beyond the patterns (calendar, octets, groups, digit counts,
// Luhn), and how numbers and other kinds are judged.
#include "core/measure/format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace weir::measure {
namespace {

void expect_format(std::string_view name, const std::vector<std::string>& valid,
                   const std::vector<std::string>& invalid) {
    const format_info* f = find_format(name);
    ASSERT_NE(f, nullptr) << name;
    for (const auto& s : valid) EXPECT_TRUE(has_format(f->format, s)) << name << ": " << s;
    for (const auto& s : invalid) EXPECT_FALSE(has_format(f->format, s)) << name << ": " << s;
}

TEST(format, table_is_complete_and_in_order) {
    const std::vector<std::string> names = {"email",   "uuid",      "ipv4",       "ipv6",
                                            "date",    "date_time", "phone",      "url",
                                            "integer", "decimal",   "percentage", "credit_card"};
    ASSERT_EQ(formats().size(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(formats()[i].name, names[i]);
        EXPECT_EQ(static_cast<std::size_t>(formats()[i].format), i);
        EXPECT_FALSE(formats()[i].summary.empty());
        EXPECT_EQ(find_format(names[i]), &formats()[i]);
    }
    EXPECT_EQ(find_format("mail"), nullptr);
    EXPECT_EQ(find_format(""), nullptr);
}

TEST(format, email) {
    expect_format("email",
                  {"a@b.co", "first.last+tag@mail.example.org", "o'neil@x.io",
                   "A_1@sub-d.example.com", std::string(64, 'a') + "@x.io"},
                  {"a@b", "@b.co", "a@.co", "a@b..co", "a@-b.co", "a@b-.co", ".a@b.co", "a.@b.co",
                   "a..b@c.co", "a b@c.co", "a@b@c.co", " a@b.co", "a@b.co ",
                   std::string(65, 'a') + "@x.io"});
}

TEST(format, uuid) {
    expect_format("uuid",
                  {"123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000",
                   "00000000-0000-0000-0000-000000000000"},
                  {"123e4567e89b12d3a456426614174000", "{123e4567-e89b-12d3-a456-426614174000}",
                   "123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-42661417400g"});
}

TEST(format, ipv4) {
    expect_format("ipv4", {"0.0.0.0", "10.0.0.1", "192.168.1.255", "255.255.255.255"},
                  {"256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1..3.4", "a.b.c.d",
                   "1.2.3.4 ", "-1.2.3.4"});
}

TEST(format, ipv6) {
    expect_format("ipv6",
                  {"2001:db8:85a3:0:0:8a2e:370:7334", "2001:0DB8:85A3:0000:0000:8A2E:0370:7334",
                   "::", "::1", "1::", "2001:db8::1", "1:2:3:4:5:6:7::", "::ffff:10.0.0.1",
                   "1:2:3:4:5:6:1.2.3.4", "fe80::1:2"},
                  {"1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1:2:3:4:5:6:7:8",
                   "1:2:3:4:5:6:7:8:", "12345::1", "1:2:3:4:5:6:7:8::", "::ffff:256.0.0.1", "g::1",
                   ":::", "1.2.3.4", "fe80::1%eth0", "1:2:3:4:5:6:7:1.2.3.4"});
}

TEST(format, date) {
    expect_format(
        "date", {"2024-01-31", "2024-02-29", "2000-02-29", "1999-12-31", "0001-01-01"},
        {"2023-02-29", "1900-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00",
         "2024-1-5", "24-01-05", "2024/01/05", "2024-01-05T00:00:00Z", "20240105"});
}

TEST(format, date_time) {
    expect_format(
        "date_time",
        {"2024-03-01T12:30:00Z", "2024-03-01t12:30:00z", "2024-03-01 12:30:00Z",
         "2024-03-01T12:30:00.123456+02:00", "2016-12-31T23:59:60Z", "2024-03-01T00:00:00-23:59"},
        {"2024-03-01T12:30:00", "2024-03-01T24:00:00Z", "2024-03-01T12:60:00Z",
         "2024-03-01T12:30:61Z", "2023-02-29T12:30:00Z", "2024-03-01T12:30Z",
         "2024-03-01T12:30:00+0200", "2024-03-01T12:30:00+24:00", "2024-03-01T12:30:00.Z"});
}

TEST(format, phone) {
    expect_format("phone",
                  {"+14155552671", "+1 415 555 2671", "+44 (20) 7946-0958", "(415) 555-2671",
                   "415.555.2671", "5552671", "+123456789012345"},
                  {"555267", "+1234567890123456", "+0 415 555 2671", "415--555-2671",
                   "415 555 2671 ", "phone", "+", "1-800-FLOWERS", "(415 555 2671"});
}

TEST(format, url) {
    expect_format(
        "url",
        {"http://example.com", "https://example.com/", "HTTPS://Example.COM/a?b=c#d",
         "http://user:pw@host:8080/path", "http://[::1]:8080/", "http://10.0.0.1/x",
         "http://localhost"},
        {"ftp://example.com", "example.com", "http://", "http:///path", "http://exa mple.com",
         "https://-bad.com", "http://host:123456", "http://example.com/a b"});
}

TEST(format, numbers_as_text) {
    expect_format("integer", {"0", "-12", "+7", "007"}, {"1.0", "1e3", " 1", "", "-", "1_000"});
    expect_format("decimal", {"0", "-12", "3.14", ".5", "+0.25"},
                  {"1.", "1e3", "1,5", "1 000", "--1", "."});
    expect_format("percentage", {"5%", "12.5%", "-3 %", ".5%"}, {"5", "5 %%", "5  %", "%", "5%x"});
}

TEST(format, credit_card) {
    expect_format("credit_card",
                  {"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111",
                   "378282246310005", "6011111111111117", "4222222222222"},
                  {"4111111111111112", "411111111111", "41111111111111111111",
                   "4111  1111 1111 1111", "4111_1111_1111_1111", "abcd"});
}

TEST(format, numbers_booleans_and_objects) {
    using vf = value_format;
    const auto num = field_value::make_number;
    EXPECT_TRUE(has_format(vf::integer, num(42)));
    EXPECT_TRUE(has_format(vf::integer, num(-0.0)));
    EXPECT_FALSE(has_format(vf::integer, num(4.5)));
    EXPECT_TRUE(has_format(vf::decimal, num(4.5)));
    EXPECT_FALSE(has_format(vf::decimal, num(std::nan(""))));
    EXPECT_FALSE(has_format(vf::integer, num(INFINITY)));
    EXPECT_FALSE(has_format(vf::percentage, num(5)));
    EXPECT_FALSE(has_format(vf::phone, num(4155552671)));
    EXPECT_FALSE(has_format(vf::integer, field_value::make_boolean(true)));
    EXPECT_FALSE(has_format(vf::email, field_value::make_other()));
    EXPECT_TRUE(has_format(vf::email, field_value::make_string("a@b.co")));

    format_config invalid{vf::integer, false};
    EXPECT_TRUE(invalid.test(field_value::make_string("x")));
    EXPECT_FALSE(invalid.test(num(3)));
}

}  // namespace
}  // namespace weir::measure
