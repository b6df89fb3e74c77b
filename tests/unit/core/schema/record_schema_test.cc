// Record schemas: every coercion and rule by hand, the documented handling of absent, null and
// "", on_invalid, and a brute-force reference over random records and random schemas.
#include "core/schema/record_schema.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <random>
#include <regex>
#include <string>

#include "core/decode/csv_decoder.h"
#include "core/time/timestamp.h"

namespace weir::schema {
namespace {

field_value str(const char* s) {
    return field_value::make_string(s);
}
field_value num(double d) {
    return field_value::make_number(d);
}

field_description field(std::string name, std::size_t slot, field_type type) {
    field_description f;
    f.name = std::move(name);
    f.slot = slot;
    f.type = type;
    return f;
}

// Checks one single-slot record against a one-field schema; returns the verdict and the
// coerced value.
struct one_result {
    violation_code code = k_no_violation;
    field_value value;
    invalid_reason status = invalid_reason::none;
};

one_result check_one(const field_description& f, field_value v,
                     invalid_action action = invalid_action::drop) {
    schema_description d;
    d.fields = {f};
    d.fields[0].slot = 0;
    d.on_invalid = action;
    const record_schema s(d);
    record_batch b;
    b.slots = 1;
    b.add_record();
    b.values[0] = v;
    schema_verdicts verdicts;
    schema_stats stats;
    s.check(b, verdicts, stats);
    return {verdicts.first[0], b.values[0], b.status[0]};
}

rule rule_of(const one_result& r) {
    return violation_rule(r.code);
}

TEST(record_schema, number_coercion) {
    const auto f = field("x", 0, field_type::number);
    for (const auto& [text, expected] :
         std::vector<std::pair<const char*, double>>{{"12.5", 12.5},
                                                     {"-3", -3},
                                                     {"+4", 4},
                                                     {"1e3", 1000},
                                                     {"1.", 1},
                                                     {".5", 0.5},
                                                     {"-.5E-2", -0.005},
                                                     {"007", 7}}) {
        const auto r = check_one(f, str(text));
        EXPECT_EQ(r.code, k_no_violation) << text;
        ASSERT_TRUE(r.value.is_number()) << text;
        EXPECT_EQ(r.value.number, expected) << text;
    }
    for (const char* bad :
         {"abc", " 1", "1 ", "0x10", "inf", "nan", "1e", "e5", "-", ".", "1e400", "1,5", "--1"}) {
        const auto r = check_one(f, str(bad));
        EXPECT_EQ(rule_of(r), rule::type) << bad;
        ASSERT_TRUE(r.value.is_string()) << bad;  // a failed coercion leaves the value alone
        EXPECT_EQ(r.value.string(), bad);
    }
    EXPECT_EQ(check_one(f, num(2.5)).code, k_no_violation);
    EXPECT_EQ(rule_of(check_one(f, field_value::make_boolean(true))), rule::type);
    EXPECT_EQ(rule_of(check_one(f, field_value::make_other())), rule::type);
}

TEST(record_schema, integer_coercion) {
    const auto f = field("n", 0, field_type::integer);
    EXPECT_EQ(check_one(f, str("12")).value.number, 12);
    EXPECT_EQ(check_one(f, str("12.0")).code, k_no_violation);
    EXPECT_EQ(check_one(f, num(-4)).code, k_no_violation);
    EXPECT_EQ(check_one(f, num(9007199254740992.0)).code, k_no_violation);
    EXPECT_EQ(rule_of(check_one(f, num(18014398509481984.0))), rule::type);  // 2^54
    EXPECT_EQ(rule_of(check_one(f, str("12.5"))), rule::type);
    EXPECT_EQ(rule_of(check_one(f, num(0.1))), rule::type);
}

TEST(record_schema, boolean_coercion) {
    const auto f = field("b", 0, field_type::boolean);
    for (const char* t : {"true", "TRUE", "True"}) {
        const auto r = check_one(f, str(t));
        EXPECT_EQ(r.code, k_no_violation);
        EXPECT_TRUE(r.value.kind == value_kind::boolean && r.value.boolean) << t;
    }
    const auto r = check_one(f, str("false"));
    EXPECT_TRUE(r.value.kind == value_kind::boolean && !r.value.boolean);
    for (const char* bad : {"yes", "1", "0", "t", "true "}) {
        EXPECT_EQ(rule_of(check_one(f, str(bad))), rule::type) << bad;
    }
    EXPECT_EQ(rule_of(check_one(f, num(1))), rule::type);
    EXPECT_EQ(check_one(f, field_value::make_boolean(false)).code, k_no_violation);
}

TEST(record_schema, string_fields_never_take_other_kinds) {
    const auto f = field("s", 0, field_type::string);
    EXPECT_EQ(check_one(f, str("12")).value.string(), "12");
    EXPECT_EQ(rule_of(check_one(f, num(12))), rule::type);
    EXPECT_EQ(rule_of(check_one(f, field_value::make_boolean(true))), rule::type);
    EXPECT_EQ(rule_of(check_one(f, field_value::make_other())), rule::type);
}

TEST(record_schema, timestamps_with_and_without_a_format) {
    auto f = field("ts", 0, field_type::timestamp);
    EXPECT_EQ(check_one(f, str("2026-11-20T10:00:00Z")).code, k_no_violation);
    EXPECT_EQ(check_one(f, num(1.7e9)).code, k_no_violation);
    EXPECT_EQ(rule_of(check_one(f, str("2026-11-20"))), rule::type);
    EXPECT_EQ(rule_of(check_one(f, str("1700000000"))), rule::type);
    EXPECT_EQ(rule_of(check_one(f, field_value::make_boolean(true))), rule::type);
    // The value is kept as it is.
    EXPECT_EQ(check_one(f, str("2026-11-20T10:00:00Z")).value.string(), "2026-11-20T10:00:00Z");

    f.time_format = "epoch_ms";
    EXPECT_EQ(check_one(f, str("1700000000123")).code, k_no_violation);
    EXPECT_EQ(check_one(f, num(1700000000123)).code, k_no_violation);
    EXPECT_EQ(rule_of(check_one(f, str("2026-11-20T10:00:00Z"))), rule::type);
    f.time_format = "%Y-%m-%d";
    EXPECT_EQ(check_one(f, str("2026-11-20")).code, k_no_violation);
    EXPECT_EQ(rule_of(check_one(f, num(1))), rule::type);
}

TEST(record_schema, objects_and_arrays) {
    for (auto t : {field_type::object, field_type::array}) {
        const auto f = field("o", 0, t);
        EXPECT_EQ(check_one(f, field_value::make_other()).code, k_no_violation);
        EXPECT_EQ(rule_of(check_one(f, str("{}"))), rule::type);
        EXPECT_EQ(rule_of(check_one(f, num(1))), rule::type);
    }
}

TEST(record_schema, absent_null_and_empty_for_required_and_optional_fields) {
    for (const bool required : {false, true}) {
        for (auto t : {field_type::string, field_type::number, field_type::integer,
                       field_type::boolean, field_type::timestamp, field_type::object}) {
            auto f = field("f", 0, t);
            f.required = required;
            const auto absent = check_one(f, field_value::make_absent());
            const auto null = check_one(f, field_value::make_null());
            const auto empty = check_one(f, str(""));
            if (required) {
                EXPECT_EQ(rule_of(absent), rule::required);
                EXPECT_EQ(rule_of(null), rule::required);
            } else {
                EXPECT_EQ(absent.code, k_no_violation);
                EXPECT_EQ(null.code, k_no_violation);
            }
            EXPECT_EQ(absent.value.kind, value_kind::absent);
            EXPECT_EQ(null.value.kind, value_kind::null);
            if (t == field_type::string) {
                // "" is a value of a string field: required is met.
                EXPECT_EQ(empty.code, k_no_violation);
                EXPECT_TRUE(empty.value.is_string());
            } else {
                // ... and null for every other type.
                EXPECT_EQ(empty.value.kind, value_kind::null) << to_string(t);
                if (required) {
                    EXPECT_EQ(rule_of(empty), rule::required);
                } else {
                    EXPECT_EQ(empty.code, k_no_violation);
                }
            }
        }
    }
    // Rules still apply to "" in a string field.
    auto f = field("s", 0, field_type::string);
    f.pattern = "[a-z]+";
    EXPECT_EQ(rule_of(check_one(f, str(""))), rule::pattern);
}

TEST(record_schema, enum_min_max_and_pattern) {
    auto s = field("color", 0, field_type::string);
    s.allowed = {"red", "12"};
    EXPECT_EQ(check_one(s, str("red")).code, k_no_violation);
    EXPECT_EQ(check_one(s, str("12")).code, k_no_violation);
    EXPECT_EQ(rule_of(check_one(s, str("Red"))), rule::enumeration);

    auto n = field("level", 0, field_type::number);
    n.allowed = {"1", "2.5", "1e2"};
    EXPECT_EQ(check_one(n, str("2.50")).code, k_no_violation);  // numeric equality
    EXPECT_EQ(check_one(n, num(100)).code, k_no_violation);
    EXPECT_EQ(rule_of(check_one(n, num(3))), rule::enumeration);

    auto m = field("latency", 0, field_type::integer);
    m.minimum = 0;
    m.maximum = 10;
    EXPECT_EQ(check_one(m, num(0)).code, k_no_violation);   // inclusive
    EXPECT_EQ(check_one(m, num(10)).code, k_no_violation);  // inclusive
    EXPECT_EQ(rule_of(check_one(m, num(-1))), rule::minimum);
    EXPECT_EQ(rule_of(check_one(m, str("11"))), rule::maximum);

    auto p = field("key", 0, field_type::string);
    p.pattern = "k-[0-9]+";
    EXPECT_EQ(check_one(p, str("k-17")).code, k_no_violation);
    EXPECT_EQ(rule_of(check_one(p, str("xk-17"))), rule::pattern);  // full match
    EXPECT_EQ(rule_of(check_one(p, str("k-17x"))), rule::pattern);
}

TEST(record_schema, on_invalid_and_reasons) {
    schema_description d;
    d.fields = {field("temperature", 0, field_type::number),
                field("device_id", 1, field_type::string)};
    d.fields[0].minimum = -50;
    d.fields[1].required = true;
    for (auto action : {invalid_action::drop, invalid_action::keep, invalid_action::fail}) {
        d.on_invalid = action;
        const record_schema s(d);
        EXPECT_EQ(s.on_invalid(), action);
        record_batch b;
        b.slots = 2;
        for (int i = 0; i < 4; ++i) b.add_record();
        b.record(0)[0] = str("20.5");
        b.record(0)[1] = str("d-1");
        b.record(1)[0] = str("hot");  // two violations: type, then required
        b.record(2)[0] = num(-60);
        b.record(2)[1] = str("d-2");
        b.status[3] = invalid_reason::malformed;  // not checked
        schema_verdicts v;
        schema_stats stats;
        const auto summary = s.check(b, v, stats);
        EXPECT_EQ(summary.checked, 3u);
        EXPECT_EQ(summary.invalid, 2u);
        EXPECT_FALSE(v.invalid(0));
        EXPECT_TRUE(v.invalid(1));
        EXPECT_TRUE(v.invalid(2));
        EXPECT_FALSE(v.invalid(3));
        EXPECT_EQ(s.reason(v.first[1]), "temperature: not a number");
        EXPECT_EQ(s.reason(v.first[2]), "temperature: less than min -50");
        EXPECT_EQ(s.reason(make_violation(1, rule::required)), "device_id: required but missing");
        EXPECT_EQ(b.status[0], invalid_reason::none);
        EXPECT_EQ(b.record(0)[0].number, 20.5);
        const auto expected =
            action == invalid_action::keep ? invalid_reason::none : invalid_reason::schema;
        EXPECT_EQ(b.status[1], expected);
        EXPECT_EQ(b.status[2], expected);
        EXPECT_EQ(b.status[3], invalid_reason::malformed);
        EXPECT_EQ(stats.checked, 3u);
        EXPECT_EQ(stats.invalid, 2u);
        EXPECT_EQ(stats.count(0, rule::type), 1u);
        EXPECT_EQ(stats.count(0, rule::minimum), 1u);
        EXPECT_EQ(stats.count(1, rule::required), 1u);
        EXPECT_EQ(stats.count(1, rule::type), 0u);
        // Stats accumulate over batches; verdicts are per batch.
        b.clear();
        b.add_record();
        s.check(b, v, stats);
        EXPECT_EQ(v.first.size(), 1u);
        EXPECT_EQ(stats.checked, 4u);
        EXPECT_EQ(stats.count(1, rule::required), 2u);
    }
}

TEST(record_schema, rules_that_do_not_fit_the_type_are_rejected) {
    const auto rejects = [](field_description f) {
        schema_description d;
        d.fields = {std::move(f)};
        EXPECT_THROW(record_schema{d}, std::invalid_argument);
    };
    auto a = field("s", 0, field_type::string);
    a.minimum = 1;
    rejects(a);
    auto b = field("n", 0, field_type::number);
    b.pattern = "x";
    rejects(b);
    auto c = field("n", 0, field_type::number);
    c.allowed = {"one"};
    rejects(c);
    auto d = field("i", 0, field_type::integer);
    d.allowed = {"1.5"};
    rejects(d);
    auto e = field("b", 0, field_type::boolean);
    e.allowed = {"true"};
    rejects(e);
    auto g = field("s", 0, field_type::string);
    g.pattern = "(unclosed";
    rejects(g);
    auto h = field("t", 0, field_type::timestamp);
    h.time_format = "%Q";
    rejects(h);
    auto k = field("s", 0, field_type::string);
    k.time_format = "epoch_s";
    rejects(k);
    EXPECT_EQ(parse_field_type("integer"), field_type::integer);
    EXPECT_EQ(parse_field_type("int"), std::nullopt);
    EXPECT_EQ(parse_invalid_action("keep"), invalid_action::keep);
    EXPECT_EQ(parse_invalid_action("ignore"), std::nullopt);
}

TEST(record_schema, csv_cells_are_coerced_after_decoding) {
    decode::csv_decoder decoder({field_path{{"id"}}, field_path{{"value"}}, field_path{{"ok"}}});
    record_batch b;
    const std::string text = "id,value,ok\n1,12.5,true\n2,,false\nx,3,maybe\n";
    decoder.decode(text, b, true);
    schema_description d;
    d.fields = {field("id", 0, field_type::integer), field("value", 1, field_type::number),
                field("ok", 2, field_type::boolean)};
    d.fields[1].required = true;
    const record_schema s(d);
    schema_verdicts v;
    schema_stats stats;
    s.check(b, v, stats);
    ASSERT_EQ(b.size(), 3u);
    EXPECT_EQ(b.status[0], invalid_reason::none);
    EXPECT_EQ(b.record(0)[0].number, 1);
    EXPECT_EQ(b.record(0)[1].number, 12.5);
    EXPECT_TRUE(b.record(0)[2].boolean);
    EXPECT_EQ(s.reason(v.first[1]), "value: required but missing");
    EXPECT_EQ(s.reason(v.first[2]), "id: not an integer");
    EXPECT_EQ(stats.count(2, rule::type), 1u);
}

// --- brute-force reference ------------------------------------------------------------------

// The coercion and rule contract written out naively, with other tools (std::regex, strtod).
bool ref_decimal(const std::string& s, double& out) {
    static const std::regex grammar(R"([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?)");
    if (!std::regex_match(s, grammar)) return false;
    errno = 0;
    out = std::strtod(s.c_str(), nullptr);
    return errno != ERANGE && std::isfinite(out);
}

struct ref_outcome {
    field_value value;
    std::vector<rule> violated;  // in rule order
};

ref_outcome reference(const field_description& f, field_value v) {
    ref_outcome out{v, {}};
    const bool is_empty_string = v.kind == value_kind::string && v.length == 0;
    if (f.type != field_type::string && is_empty_string) out.value = field_value::make_null();
    if (out.value.kind == value_kind::absent || out.value.kind == value_kind::null) {
        if (f.required) out.violated.push_back(rule::required);
        return out;
    }
    const std::string text = v.kind == value_kind::string ? std::string(v.string()) : "";
    bool ok = false;
    field_value c = v;
    switch (f.type) {
        case field_type::string:
            ok = v.kind == value_kind::string;
            break;
        case field_type::number:
        case field_type::integer: {
            double d = 0;
            if (v.kind == value_kind::number) {
                d = v.number;
                ok = std::isfinite(d);
            } else if (v.kind == value_kind::string) {
                ok = ref_decimal(text, d);
            }
            if (ok && f.type == field_type::integer) {
                ok = std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0;
            }
            if (ok) c = field_value::make_number(d);
            break;
        }
        case field_type::boolean: {
            std::string lower = text;
            for (auto& ch : lower)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (v.kind == value_kind::boolean) {
                ok = true;
            } else if (v.kind == value_kind::string && (lower == "true" || lower == "false")) {
                ok = true;
                c = field_value::make_boolean(lower == "true");
            }
            break;
        }
        case field_type::timestamp: {
            time::timestamp_ns t = 0;
            if (!f.time_format.empty()) {
                ok = time::time_parser::compile(f.time_format)->parse(v, t);
            } else if (v.kind == value_kind::number) {
                ok = std::isfinite(v.number);
            } else if (v.kind == value_kind::string) {
                ok = time::parse_rfc3339(text, t);
            }
            break;
        }
        case field_type::object:
        case field_type::array:
            ok = v.kind == value_kind::other;
            break;
    }
    if (!ok) {
        out.violated.push_back(rule::type);
        return out;
    }
    out.value = c;
    if (f.type == field_type::string) {
        if (!f.allowed.empty() &&
            std::find(f.allowed.begin(), f.allowed.end(), text) == f.allowed.end()) {
            out.violated.push_back(rule::enumeration);
        }
        if (f.pattern && !std::regex_match(text, std::regex(*f.pattern))) {
            out.violated.push_back(rule::pattern);
        }
    } else if (c.kind == value_kind::number) {
        bool found = false;
        for (const auto& e : f.allowed) {
            double d = 0;
            ref_decimal(e, d);
            found = found || d == c.number;
        }
        if (!f.allowed.empty() && !found) out.violated.push_back(rule::enumeration);
        if (f.minimum && c.number < *f.minimum) out.violated.push_back(rule::minimum);
        if (f.maximum && c.number > *f.maximum) out.violated.push_back(rule::maximum);
    }
    return out;
}

bool same_value(const field_value& a, const field_value& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case value_kind::number:
            return a.number == b.number;
        case value_kind::boolean:
            return a.boolean == b.boolean;
        case value_kind::string:
            return a.string() == b.string();
        default:
            return true;
    }
}

TEST(record_schema, matches_a_brute_force_reference_on_random_records) {
    static const std::vector<std::string> texts = {"12.5",
                                                   "-3",
                                                   "+4",
                                                   "1e3",
                                                   "1.",
                                                   ".5",
                                                   "-.5e-2",
                                                   "abc",
                                                   "",
                                                   "true",
                                                   "FALSE",
                                                   "True",
                                                   "yes",
                                                   "0x10",
                                                   "inf",
                                                   "nan",
                                                   " 1",
                                                   "1 ",
                                                   "12",
                                                   "0",
                                                   "100",
                                                   "2.5",
                                                   "7.0",
                                                   "-7.25",
                                                   "2026-11-20T10:00:00Z",
                                                   "2026-11-20T10:00:00.5+02:00",
                                                   "2026-11-20",
                                                   "1700000000",
                                                   "1700000000.5",
                                                   "e5",
                                                   "1e",
                                                   "-",
                                                   "red",
                                                   "green",
                                                   "blue",
                                                   "k-1",
                                                   "k-22",
                                                   "kk",
                                                   "Red",
                                                   "9007199254740993",
                                                   "1e20"};
    static const std::vector<double> numbers = {0,     1,    -1,    2.5, 12,         100,
                                                -7.25, 1e20, 1.7e9, 0.1, 1700000000, -5};
    static const std::vector<std::string> string_enum = {"red", "green", "blue", "", "abc", "12"};
    static const std::vector<std::string> number_enum = {"12", "-3", "2.5", "100", "0", "1e3"};
    static const std::vector<std::string> integer_enum = {"12", "-3", "100", "0", "1e3"};
    static const std::vector<std::string> patterns = {"k-[0-9]+", "[a-z]*", ".*e.*", "1|12"};
    static const std::vector<std::string> time_formats = {"", "rfc3339", "epoch_s", "%Y-%m-%d"};
    static const std::vector<double> bounds = {-5, 0, 2.5, 10, 100};

    std::mt19937 rng(7);
    const auto pick = [&](const auto& v) { return v[rng() % v.size()]; };
    const std::size_t slots = 6;
    for (int round = 0; round < 300; ++round) {
        schema_description d;
        d.on_invalid = static_cast<invalid_action>(rng() % 3);
        const std::size_t nfields = 1 + rng() % 4;
        std::vector<std::size_t> slot_order(slots);
        for (std::size_t i = 0; i < slots; ++i) slot_order[i] = i;
        std::shuffle(slot_order.begin(), slot_order.end(), rng);
        for (std::size_t k = 0; k < nfields; ++k) {
            field_description f;
            f.name = "f" + std::to_string(k);
            f.slot = slot_order[k];
            f.type = static_cast<field_type>(rng() % 7);
            f.required = rng() % 2;
            const bool numeric = f.type == field_type::number || f.type == field_type::integer;
            if (f.type == field_type::string || numeric) {
                const std::size_t n = rng() % 3 == 0 ? 1 + rng() % 3 : 0;
                for (std::size_t e = 0; e < n; ++e) {
                    f.allowed.push_back(f.type == field_type::string   ? pick(string_enum)
                                        : f.type == field_type::number ? pick(number_enum)
                                                                       : pick(integer_enum));
                }
            }
            if (numeric) {
                if (rng() % 2) f.minimum = pick(bounds);
                if (rng() % 2) f.maximum = pick(bounds);
            }
            if (f.type == field_type::string && rng() % 2) f.pattern = pick(patterns);
            if (f.type == field_type::timestamp) f.time_format = pick(time_formats);
            d.fields.push_back(std::move(f));
        }
        const record_schema s(d);

        record_batch b;
        b.slots = slots;
        const std::size_t nrecords = rng() % 60;
        for (std::size_t i = 0; i < nrecords; ++i) {
            b.add_record();
            if (rng() % 10 == 0) b.status[i] = invalid_reason::malformed;
            for (auto& v : b.record(i)) {
                switch (rng() % 8) {
                    case 0:
                        v = field_value::make_absent();
                        break;
                    case 1:
                        v = field_value::make_null();
                        break;
                    case 2:
                        v = field_value::make_boolean(rng() % 2);
                        break;
                    case 3:
                        v = field_value::make_other();
                        break;
                    case 4:
                        v = field_value::make_number(pick(numbers));
                        break;
                    default:
                        v = field_value::make_string(texts[rng() % texts.size()]);
                        break;
                }
            }
        }
        const record_batch before = [&] {
            record_batch copy;
            copy.slots = b.slots;
            copy.values = b.values;
            copy.status = b.status;
            return copy;
        }();

        schema_verdicts verdicts;
        schema_stats stats;
        const auto summary = s.check(b, verdicts, stats);

        std::vector<std::uint64_t> expected_counts(d.fields.size() * k_rule_count, 0);
        std::size_t expected_checked = 0;
        std::size_t expected_invalid = 0;
        for (std::size_t i = 0; i < nrecords; ++i) {
            if (before.status[i] != invalid_reason::none) {
                EXPECT_EQ(verdicts.first[i], k_no_violation);
                EXPECT_EQ(b.status[i], before.status[i]);
                for (std::size_t k = 0; k < slots; ++k) {
                    EXPECT_TRUE(same_value(b.record(i)[k], before.record(i)[k]));
                }
                continue;
            }
            ++expected_checked;
            violation_code first = k_no_violation;
            std::vector<bool> covered(slots, false);
            for (std::size_t k = 0; k < d.fields.size(); ++k) {
                const auto& f = d.fields[k];
                covered[f.slot] = true;
                const ref_outcome r = reference(f, before.record(i)[f.slot]);
                EXPECT_TRUE(same_value(b.record(i)[f.slot], r.value))
                    << "round " << round << " record " << i << " field " << k << " type "
                    << to_string(f.type);
                for (rule rl : r.violated) ++expected_counts[make_violation(k, rl) - 1];
                if (first == k_no_violation && !r.violated.empty()) {
                    first = make_violation(k, r.violated.front());
                }
            }
            for (std::size_t k = 0; k < slots; ++k) {
                if (!covered[k]) {
                    EXPECT_TRUE(same_value(b.record(i)[k], before.record(i)[k]));
                }
            }
            EXPECT_EQ(verdicts.first[i], first) << "round " << round << " record " << i;
            if (first != k_no_violation) {
                ++expected_invalid;
                EXPECT_FALSE(s.reason(first).empty());
            }
            const bool marked = first != k_no_violation && d.on_invalid != invalid_action::keep;
            EXPECT_EQ(b.status[i], marked ? invalid_reason::schema : invalid_reason::none);
        }
        EXPECT_EQ(summary.checked, expected_checked);
        EXPECT_EQ(summary.invalid, expected_invalid);
        EXPECT_EQ(stats.invalid, expected_invalid);
        EXPECT_EQ(stats.violations, expected_counts) << "round " << round;
    }
}

}  // namespace
}  // namespace weir::schema
