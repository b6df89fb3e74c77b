// Record schemas; see record_schema.h for the coercion and rule contract.
#include "core/schema/record_schema.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "core/time/timestamp.h"

namespace weir::schema {

namespace {

constexpr double k_max_exact_integer = 9007199254740992.0;  // 2^53

// The decimal number grammar of the coercion rules; false on anything else.
bool parse_decimal(std::string_view s, double& out) {
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t mantissa = i;
    std::size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    }
    if (digits == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        std::size_t exponent = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exponent;
        if (exponent == 0) return false;
    }
    if (i != s.size()) return false;
    // from_chars takes no '+'; the sign is applied here.
    const char* first = s.data() + mantissa;
    double v = 0;
    const auto r = std::from_chars(first, s.data() + s.size(), v);
    // Beyond the range of a double (either way) is no usable value.
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return false;
    out = (mantissa > 0 && s[0] == '-') ? -v : v;
    return true;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != b[i]) return false;
    }
    return true;
}

std::string number_text(double d) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);  // the shortest exact spelling
    return {buf, r.ptr};
}

}  // namespace

std::optional<field_type> parse_field_type(std::string_view name) {
    for (auto t : {field_type::string, field_type::number, field_type::integer, field_type::boolean,
                   field_type::timestamp, field_type::object, field_type::array}) {
        if (name == to_string(t)) return t;
    }
    return std::nullopt;
}

std::optional<invalid_action> parse_invalid_action(std::string_view name) {
    for (auto a : {invalid_action::drop, invalid_action::keep, invalid_action::fail}) {
        if (name == to_string(a)) return a;
    }
    return std::nullopt;
}

const char* to_string(field_type t) {
    switch (t) {
        case field_type::string:
            return "string";
        case field_type::number:
            return "number";
        case field_type::integer:
            return "integer";
        case field_type::boolean:
            return "boolean";
        case field_type::timestamp:
            return "timestamp";
        case field_type::object:
            return "object";
        case field_type::array:
            return "array";
    }
    return "unknown";
}

const char* to_string(invalid_action a) {
    switch (a) {
        case invalid_action::drop:
            return "drop";
        case invalid_action::keep:
            return "keep";
        case invalid_action::fail:
            return "fail";
    }
    return "unknown";
}

const char* to_string(rule r) {
    switch (r) {
        case rule::required:
            return "required";
        case rule::type:
            return "type";
        case rule::enumeration:
            return "enum";
        case rule::minimum:
            return "min";
        case rule::maximum:
            return "max";
        case rule::pattern:
            return "pattern";
    }
    return "unknown";
}

struct record_schema::impl {
    struct compiled_field {
        std::size_t slot = 0;
        field_type type = field_type::string;
        bool required = false;
        std::vector<std::string> allowed_text;  // string enum
        std::vector<double> allowed_numbers;    // number/integer enum
        bool has_enum = false;
        double minimum = -INFINITY;
        double maximum = INFINITY;
        std::unique_ptr<re2::RE2> pattern;
        std::optional<time::time_parser> time;
    };

    schema_description description;
    std::vector<compiled_field> fields;
    std::vector<std::string> reasons;  // indexed by violation code - 1

    explicit impl(schema_description d) : description(std::move(d)) {
        for (const auto& f : description.fields) fields.push_back(compile(f));
        reasons.resize(description.fields.size() * k_rule_count);
        for (std::size_t i = 0; i < description.fields.size(); ++i) {
            const auto& f = description.fields[i];
            const auto set = [&](rule r, const std::string& text) {
                reasons[make_violation(i, r) - 1] = f.name + ": " + text;
            };
            set(rule::required, "required but missing");
            const field_type t = f.type;
            set(rule::type, std::string(t == field_type::integer || t == field_type::object ||
                                                t == field_type::array
                                            ? "not an "
                                            : "not a ") +
                                to_string(t));
            set(rule::enumeration, "not one of the enum values");
            set(rule::minimum, f.minimum ? "less than min " + number_text(*f.minimum) : "");
            set(rule::maximum, f.maximum ? "greater than max " + number_text(*f.maximum) : "");
            set(rule::pattern, "does not match the pattern");
        }
    }

    static compiled_field compile(const field_description& f) {
        const auto fail = [&](const std::string& message) {
            throw std::invalid_argument("schema field " + f.name + ": " + message);
        };
        compiled_field c;
        c.slot = f.slot;
        c.type = f.type;
        c.required = f.required;
        const bool numeric = f.type == field_type::number || f.type == field_type::integer;
        if ((f.minimum || f.maximum) && !numeric) fail("min and max apply to numbers only");
        if (f.pattern && f.type != field_type::string) fail("pattern applies to strings only");
        if (!f.allowed.empty()) {
            c.has_enum = true;
            if (f.type == field_type::string) {
                c.allowed_text = f.allowed;
            } else if (numeric) {
                for (const auto& e : f.allowed) {
                    double d = 0;
                    if (!parse_decimal(e, d)) fail("enum value \"" + e + "\" is not a number");
                    if (f.type == field_type::integer && d != std::floor(d)) {
                        fail("enum value \"" + e + "\" is not an integer");
                    }
                    c.allowed_numbers.push_back(d);
                }
            } else {
                fail(std::string("enum does not apply to type ") + to_string(f.type));
            }
        }
        if (f.minimum) c.minimum = *f.minimum;
        if (f.maximum) c.maximum = *f.maximum;
        if (f.pattern) {
            re2::RE2::Options options;
            options.set_log_errors(false);
            c.pattern = std::make_unique<re2::RE2>(*f.pattern, options);
            if (!c.pattern->ok()) fail("bad pattern: " + c.pattern->error());
        }
        if (!f.time_format.empty()) {
            if (f.type != field_type::timestamp) fail("a time format applies to timestamps only");
            time::time_parser::error err;
            c.time = time::time_parser::compile(f.time_format, &err);
            if (!c.time) fail("bad time format: " + err.message);
        }
        return c;
    }

    // Coerces `v` in place to the field's type; false on a type violation.
    static bool coerce(const compiled_field& f, field_value& v) {
        switch (f.type) {
            case field_type::string:
                return v.kind == value_kind::string;
            case field_type::number:
            case field_type::integer: {
                double d = 0;
                if (v.kind == value_kind::string) {
                    if (!parse_decimal(v.string(), d)) return false;
                } else if (v.kind == value_kind::number) {
                    d = v.number;
                } else {
                    return false;
                }
                if (!std::isfinite(d)) return false;
                if (f.type == field_type::integer &&
                    (d != std::floor(d) || std::fabs(d) > k_max_exact_integer)) {
                    return false;  // the value is left as it was
                }
                v = field_value::make_number(d);
                return true;
            }
            case field_type::boolean:
                if (v.kind == value_kind::string) {
                    if (iequals(v.string(), "true")) {
                        v = field_value::make_boolean(true);
                    } else if (iequals(v.string(), "false")) {
                        v = field_value::make_boolean(false);
                    } else {
                        return false;
                    }
                }
                return v.kind == value_kind::boolean;
            case field_type::timestamp: {
                if (f.time) {
                    time::timestamp_ns t = 0;
                    return f.time->parse(v, t);
                }
                if (v.kind == value_kind::number) return std::isfinite(v.number);
                time::timestamp_ns t = 0;
                return v.kind == value_kind::string && time::parse_rfc3339(v.string(), t);
            }
            case field_type::object:
            case field_type::array:
                return v.kind == value_kind::other;
        }
        return false;
    }

    // Checks one field; returns the first violated rule's code (0 if none) and counts every
    // violated rule.
    violation_code check_field(std::size_t index, field_value& v, schema_stats& stats) const {
        const compiled_field& f = fields[index];
        const auto violate = [&](rule r) {
            const violation_code code = make_violation(index, r);
            ++stats.violations[code - 1];
            return code;
        };
        if (f.type != field_type::string && v.kind == value_kind::string && v.length == 0) {
            v = field_value::make_null();
        }
        if (v.kind == value_kind::absent || v.kind == value_kind::null) {
            return f.required ? violate(rule::required) : k_no_violation;
        }
        if (!coerce(f, v)) return violate(rule::type);
        violation_code first = k_no_violation;
        const auto also = [&](rule r) {
            const violation_code code = violate(r);
            if (first == k_no_violation) first = code;
        };
        if (f.type == field_type::string) {
            const std::string_view s = v.string();
            if (f.has_enum && std::find(f.allowed_text.begin(), f.allowed_text.end(), s) ==
                                  f.allowed_text.end()) {
                also(rule::enumeration);
            }
            if (f.pattern &&
                !re2::RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *f.pattern)) {
                // Rule order puts pattern after enum; min/max do not apply to strings.
                also(rule::pattern);
            }
        } else if (v.kind == value_kind::number) {
            if (f.has_enum && std::find(f.allowed_numbers.begin(), f.allowed_numbers.end(),
                                        v.number) == f.allowed_numbers.end()) {
                also(rule::enumeration);
            }
            if (v.number < f.minimum) also(rule::minimum);
            if (v.number > f.maximum) also(rule::maximum);
        }
        return first;
    }
};

record_schema::record_schema(schema_description description)
    : impl_(std::make_unique<impl>(std::move(description))) {}
record_schema::~record_schema() = default;
record_schema::record_schema(record_schema&&) noexcept = default;
record_schema& record_schema::operator=(record_schema&&) noexcept = default;

check_summary record_schema::check(record_batch& batch, schema_verdicts& verdicts,
                                   schema_stats& stats) const {
    const std::size_t n = batch.size();
    verdicts.first.assign(n, k_no_violation);
    stats.violations.resize(impl_->reasons.size());
    check_summary summary;
    const invalid_action action = impl_->description.on_invalid;
    for (std::size_t i = 0; i < n; ++i) {
        if (batch.status[i] != invalid_reason::none) continue;
        ++summary.checked;
        field_value* record = batch.values.data() + i * batch.slots;
        violation_code first = k_no_violation;
        for (std::size_t f = 0; f < impl_->fields.size(); ++f) {
            const std::size_t slot = impl_->fields[f].slot;
            if (slot >= batch.slots) continue;  // a plan error; the record is left alone
            const violation_code code = impl_->check_field(f, record[slot], stats);
            if (first == k_no_violation) first = code;
        }
        if (first == k_no_violation) continue;
        verdicts.first[i] = first;
        ++summary.invalid;
        if (action != invalid_action::keep) batch.status[i] = invalid_reason::schema;
    }
    stats.checked += summary.checked;
    stats.invalid += summary.invalid;
    return summary;
}

std::string_view record_schema::reason(violation_code code) const {
    if (code == k_no_violation || code > impl_->reasons.size()) return {};
    return impl_->reasons[code - 1];
}

invalid_action record_schema::on_invalid() const {
    return impl_->description.on_invalid;
}

const std::vector<field_description>& record_schema::fields() const {
    return impl_->description.fields;
}

}  // namespace weir::schema
