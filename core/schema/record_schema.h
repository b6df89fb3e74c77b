// A node's `schema:` compiled once: per-field rules that check() applies to every valid record
// of a batch, coercing values to the declared types in place and marking violators. Hot-path
// code: no allocation, no exception, no logging per record.
//
// Coercion (value kind in → result; anything not listed is a type violation):
//   string     string → unchanged. A number, boolean, object or array is a violation: values
//              are never turned into text.
//   number     number → unchanged; a string holding a decimal number
//              `[+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?` (nothing else: no spaces, hex, inf, nan)
//              → that number; a result beyond the range of a double is a violation.
//   integer    as number, and the value must be integral with |v| <= 2^53.
//   boolean    boolean → unchanged; the strings `true` / `false` in any letter case → boolean.
//   timestamp  the value is kept as it is (the node's time field is parsed by its own
//              time_parser later). With a time format: valid when time_parser::parse reads it
//              (epoch formats take numbers and numeric strings; rfc3339 and patterns take
//              strings). Without one: an RFC 3339 string, or any finite number.
//   object,    a value of kind `other` (an object or array in JSON). field_value cannot tell
//   array      an object from an array, so either satisfies both types.
// Missing values: absent and null satisfy every rule unless `required`. The empty string is a
// value for string fields (required is met; enum and pattern still apply); for every other
// type it is read as null (it is missing either way, and CSV writes `""` for "no value").
//
// Rules, checked per field in this order; the first violated one of a record is its reason:
//   required   the value is absent or null (or "" for a non-string field)
//   type       coercion failed; the field's other rules are then not checked
//   enum       string fields: exact text; number/integer: numeric equality with the entries
//   min, max   inclusive bounds of number/integer values
//   pattern    RE2, the whole string must match (string fields)
// Every violated rule is counted (a record may violate several); a record is counted invalid
// once.
//
// on_invalid: drop and fail set the record's status to invalid_reason::schema (fail also tells
// the engine, through check_summary::invalid, that the node's on_error must act); keep leaves
// the status `none` so measures see the record — schema_verdicts then tells "invalid but kept".
// Records whose status is not `none` on entry are neither checked nor counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/record/batch.h"

namespace weir::schema {

enum class field_type : std::uint8_t { string, number, integer, boolean, timestamp, object, array };
enum class invalid_action : std::uint8_t { drop, keep, fail };
enum class rule : std::uint8_t { required, type, enumeration, minimum, maximum, pattern };
inline constexpr std::size_t k_rule_count = 6;

std::optional<field_type> parse_field_type(std::string_view name);
std::optional<invalid_action> parse_invalid_action(std::string_view name);
const char* to_string(field_type t);
const char* to_string(invalid_action a);
const char* to_string(rule r);  // required, type, enum, min, max, pattern (metrics labels)

// What the config layer hands over (config/model.h's schema_config, with fields resolved to
// slots).
struct field_description {
    std::string name;  // as written in the pipeline, for reasons
    std::size_t slot = 0;
    field_type type = field_type::string;
    bool required = false;
    std::vector<std::string> allowed;  // `enum:`, read as the field's type
    std::optional<double> minimum;
    std::optional<double> maximum;
    std::optional<std::string> pattern;  // RE2, full match
    std::string time_format;             // timestamp fields: a time_parser format, or empty
};

struct schema_description {
    std::vector<field_description> fields;
    invalid_action on_invalid = invalid_action::drop;
};

// A violation: which field (index into the description) broke which rule, packed so a
// record's verdict is one integer. 0 means "no violation".
using violation_code = std::uint32_t;
inline constexpr violation_code k_no_violation = 0;
constexpr violation_code make_violation(std::size_t field, rule r) {
    return static_cast<violation_code>(1 + field * k_rule_count + static_cast<std::size_t>(r));
}
constexpr std::size_t violation_field(violation_code c) {
    return (c - 1) / k_rule_count;
}
constexpr rule violation_rule(violation_code c) {
    return static_cast<rule>((c - 1) % k_rule_count);
}

// Per batch: the first violation of each record (k_no_violation when it passed or was not
// checked). Sized to the batch by check(); reuse it across batches.
struct schema_verdicts {
    std::vector<violation_code> first;

    bool invalid(std::size_t record) const { return first[record] != k_no_violation; }
};

// Cumulative counters of one node instance (metrics; check() adds to them).
struct schema_stats {
    std::uint64_t checked = 0;  // records examined
    std::uint64_t invalid = 0;  // records with at least one violation (kept ones included)
    std::vector<std::uint64_t> violations;  // indexed by violation code - 1

    std::uint64_t count(std::size_t field, rule r) const {
        const std::size_t i = make_violation(field, r) - 1;
        return i < violations.size() ? violations[i] : 0;
    }
};

struct check_summary {
    std::size_t checked = 0;
    std::size_t invalid = 0;  // with on_invalid: fail, any invalid record is an error
};

class record_schema {
  public:
    // Throws std::invalid_argument on a rule that does not fit its type (e.g. min on a
    // string), an enum entry that is not of the field's type, a bad pattern or time format.
    explicit record_schema(schema_description description);
    ~record_schema();
    record_schema(record_schema&&) noexcept;
    record_schema& operator=(record_schema&&) noexcept;

    // Validates and coerces every record of `batch` whose status is none (see the top of this
    // file). Thread-safe: the schema is immutable; verdicts and stats are the caller's.
    check_summary check(record_batch& batch, schema_verdicts& verdicts, schema_stats& stats) const;

    // A short, fixed text for logs and dead letters: `temperature: not a number`.
    std::string_view reason(violation_code code) const;

    invalid_action on_invalid() const;
    const std::vector<field_description>& fields() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace weir::schema
