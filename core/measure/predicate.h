// Accumulators that count how many present values satisfy a predicate: in_range, in_set and
// matches (counts and fractions). The predicate's parameters are compiled once per check and
// shared by every (window, group); the per-group state is two counters.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/measure/common.h"

namespace re2 {
class RE2;
}

namespace weir::measure {

// in_range(f, lo, hi): lo <= x <= hi, both bounds inclusive; +-inf allowed as bounds (and
// then an infinite value can be in range). NaN is never in range.
struct in_range_config {
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();

    bool test(const field_value& v) const {
        return v.kind == value_kind::number && v.number >= lo && v.number <= hi;
    }
};

// in_set(f, [..]): numbers match numbers by value (-0.0 == 0.0; NaN matches nothing), strings
// match strings byte for byte, booleans match booleans. No conversions: the number 1 is not in
// ["1"]. Set-up builds sorted arrays, so a test is a binary search without allocation.
class in_set_config {
  public:
    void add_number(double d);
    void add_string(std::string_view s);
    void add_boolean(bool b);
    // Call once after the last add_*.
    void finish();

    bool test(const field_value& v) const;

  private:
    std::vector<double> numbers_;
    std::vector<std::string> strings_;
    bool has_true_ = false;
    bool has_false_ = false;
};

// matches(f, regex): RE2 full match against string values only — a number is not turned into
// text; with `search`, a match anywhere in the string (RE2 partial match: "b" finds "abc").
// The compiled pattern is owned by the config, which every accumulator of the check shares
// (RE2 matching is thread-safe on a const pattern).
class matches_config {
  public:
    // Compiles `pattern`; on a syntax error returns null and describes it in *error.
    static std::shared_ptr<const matches_config> compile(std::string_view pattern,
                                                         std::string* error, bool search = false);
    ~matches_config();
    matches_config(const matches_config&) = delete;
    matches_config& operator=(const matches_config&) = delete;

    bool test(const field_value& v) const;
    const std::string& pattern() const { return pattern_; }

  private:
    matches_config() = default;
    std::string pattern_;
    bool search_ = false;
    std::unique_ptr<re2::RE2> re_;
};

// The state of in_range_count/fraction, in_set_count/fraction and matches_count/fraction.
// Denominator: present values (absent, null and "" are missing and not counted — that is
// missing_fraction's job). Wrong-typed present values (a string where a number is expected,
// NaN, objects) are counted in the denominator and never satisfy the predicate: a value that
// cannot be checked is not in range. The fraction has no data when no value was present.
struct predicate_acc {
    std::uint64_t present = 0;
    std::uint64_t hits = 0;

    template <class Config>
    void add(const field_value& v, const Config& c) {
        if (v.missing()) return;
        ++present;
        hits += c.test(v) ? 1 : 0;
    }
    void merge(const predicate_acc& o) {
        present += o.present;
        hits += o.hits;
    }
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    double count() const { return static_cast<double>(hits); }
    std::optional<double> fraction() const { return ratio(hits, present); }
};

}  // namespace weir::measure
