// The check result every output receives (DESIGN.md §1.5), its stable id and its JSON line.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/measure/measure_value.h"
#include "core/result/interned_text.h"
#include "core/time/timestamp.h"

namespace weir {

enum class outcome : std::uint8_t { pass, warn, fail, no_data };
const char* to_string(outcome o);

// A group's key: the group_by fields and their values, in group_by order. Empty for
// ungrouped nodes (written as `"group":null`).
using group_key = std::vector<std::pair<std::string, measure_value>>;

// A group as a result line writes it: rendered once per group, not once per result.
struct group_text {
    std::string json;    // `{"name":value,...}`, or `null` for no group
    std::string id_key;  // the group's part of the result id's key (see result_id())
};

// A result's group: one immutable group_key shared by the results of a window and group (one
// per check), so that a result copies a pointer, not the values: one allocation per window and
// group instead of one per result. Its text is rendered the first time a result of it is
// written, then shared too. Reads like a const group_key; the mutators copy it first while it
// is shared.
class result_group {
  public:
    using value_type = group_key::value_type;
    using const_iterator = group_key::const_iterator;
    using size_type = group_key::size_type;

    result_group() = default;
    result_group(group_key key)  // NOLINT(google-explicit-constructor): r.group = key
        : shared_(key.empty() ? nullptr : std::make_shared<shared>(std::move(key))) {}
    result_group(std::initializer_list<value_type> values) : result_group(group_key(values)) {}

    const group_key& key() const { return shared_ ? shared_->key : empty_key(); }
    operator const group_key&() const { return key(); }  // NOLINT(google-explicit-constructor)
    bool empty() const { return shared_ == nullptr || shared_->key.empty(); }
    size_type size() const { return shared_ ? shared_->key.size() : 0; }
    const_iterator begin() const { return key().begin(); }
    const_iterator end() const { return key().end(); }
    const value_type& operator[](size_type i) const { return shared_->key[i]; }
    const value_type& front() const { return shared_->key.front(); }

    // The group's text; safe to call from several threads at once.
    const group_text& text() const {
        if (shared_) {
            if (const group_text* t = shared_->text.load(std::memory_order_acquire)) return *t;
        }
        return render();
    }

    template <class... Args>
    value_type& emplace_back(Args&&... args) {
        return own().emplace_back(std::forward<Args>(args)...);
    }
    // The key to change in place: this result's own (a copy while another result shares it).
    group_key& edit() { return own(); }
    void clear() { shared_.reset(); }

    friend bool operator==(const result_group& a, const result_group& b) {
        return a.shared_ == b.shared_ || a.key() == b.key();
    }
    friend bool operator==(const result_group& a, const group_key& b) { return a.key() == b; }

  private:
    struct shared {
        group_key key;
        mutable std::atomic<const group_text*> text{nullptr};  // rendered on first use

        explicit shared(group_key k) : key(std::move(k)) {}
        shared(const shared&) = delete;
        shared& operator=(const shared&) = delete;
        ~shared() { delete text.load(std::memory_order_acquire); }
    };

    static const group_key& empty_key();
    group_key& own();
    const group_text& render() const;  // text() the first time

    std::shared_ptr<shared> shared_;  // null: no group
};

// A check's own alert metadata (`labels:`, `annotations:` and `description:` of the check):
// one immutable object per compiled check, shared by all its results, so results copy a
// pointer, not strings. Outputs that raise alerts read it; it is never part of a result's JSON.
struct check_metadata {
    std::vector<std::pair<std::string, std::string>> labels;  // sorted by name, validated
    // Sorted by name; `description` is the check's description unless annotations give one.
    std::vector<std::pair<std::string, std::string>> annotations;
};

// Checks against history (core/check/history.h): what the value was judged against, written as
// `"expected":{...}` and only for such checks. Numbers are NaN where they do not apply (then
// left out of the JSON).
struct expected_evidence {
    // "judged", or "warming_up" (not enough history yet; the outcome is then no_data).
    const char* state = "judged";
    std::string reason;  // warming_up: why, e.g. "5 of 12 values", "no value 1w before"
    double value = std::numeric_limits<double>::quiet_NaN();  // the expected value
    // The values that would have passed (from the test and min_change); ±inf when unbounded.
    double low = std::numeric_limits<double>::quiet_NaN();
    double high = std::numeric_limits<double>::quiet_NaN();
    // The quantity tested and its value: "change", "relative_change" or "z".
    const char* tested = "";
    double tested_value = std::numeric_limits<double>::quiet_NaN();
    std::uint32_t history = 0;         // values the judgement rested on
    std::uint32_t needed = 0;          // warming_up: values needed
    std::string bucket;                // seasonal: e.g. "hour_of_day=10"; "" otherwise
    time::timestamp_ns reference = 0;  // change vs a duration: the reference window's start

    bool operator==(const expected_evidence&) const = default;
};

// reconcile(left.key, right.key): how the keys of the two inputs compared in the window and
// group, written as `"reconciliation":{...}` and only for checks whose measure calls it.
struct reconciliation_summary {
    std::string left;  // the inputs' names
    std::string right;
    std::uint64_t matched = 0;        // keys both sides carried
    std::uint64_t missing_left = 0;   // keys only the right side carried
    std::uint64_t missing_right = 0;  // keys only the left side carried
    // Keys not compared: beyond measure::k_reconcile_key_limit (the result says approximate).
    std::uint64_t overflow = 0;
    // The smallest missing keys of each side, at most measure::k_reconcile_samples, as JSON.
    std::vector<std::string> sample_missing_left;
    std::vector<std::string> sample_missing_right;

    bool operator==(const reconciliation_summary&) const = default;
};

// The names and texts come from the compiled check: interned, so a result copies and
// compares pointers and outputs write their JSON literals as they are.
struct check_result {
    interned_text pipeline;
    interned_text node;
    interned_text check;
    time::timestamp_ns window_start = 0;
    time::timestamp_ns window_end = 0;
    result_group group;
    interned_text measure;  // the measure expression as written
    measure_value value;
    interned_text must_be;    // "" when the check has none
    interned_text should_be;  // "" when the check has none
    weir::outcome outcome = outcome::no_data;
    std::int64_t records = 0;  // records the window held (for the group)
    // The node started after the window began, so the window holds only part of its records
    // (written as `"partial":true`, and only then).
    bool partial = false;
    // A median or percentile of the measure came from the sketch, not from the values
    // themselves (more values than exact_quantile_limit): written as `"approximate":true`,
    // and only then.
    bool approximate = false;
    // The fields a schema-drift measure counted (new, missing or retyped ones), in the order
    // the node first saw them (written as `"fields":[...]`, and only when there are any).
    std::vector<std::string> fields;
    // `samples: N`: the records that made a failing or warning check fail, each a JSON object
    // (its event time and the fields the measure reads, secrets masked), at most
    // measure::k_sample_result_bytes together (written as `"samples":[...]`, only when any).
    std::vector<std::string> samples;
    // depends_on: the dependencies that were down when the window closed (it was evaluated
    // without their data), written as `"dependency_down":[...]`, and only when there are any.
    std::vector<std::string> dependency_down;
    // Checks against history: the evidence (null for every other check).
    std::shared_ptr<const expected_evidence> expected;
    // reconcile(): how the two inputs' keys compared (null for every other check).
    std::shared_ptr<const reconciliation_summary> reconciliation;
    time::timestamp_ns emitted_at = 0;
    // The check's labels and annotations; null when it has none. Not written to JSON.
    std::shared_ptr<const check_metadata> metadata;
};

// The check's severity: "fail" when it has a must_be, else "warn".
std::string_view severity_of(const check_result& r);

// 16 hex digits: a hash of (pipeline, node, check, window_start in ms, group). Stable across
// runs, restarts and versions — outputs deduplicate by it after a crash — so the encoding
// is fixed forever (a golden test guards it).
std::string result_id(const check_result& r);

// Appends the result as one JSON object (no newline), keys in DESIGN.md order. Non-finite
// numbers are written as null (JSON has no inf or NaN).
void append_json(const check_result& r, std::string& out);

// Appends the evidence of a check against history as a JSON object: state, reason, value,
// low, high, the tested quantity ("z", "change" or "relative_change"), history, needed,
// bucket, reference — each only where it applies.
void append_expected_json(const expected_evidence& e, std::string& out);

// Appends reconcile()'s comparison as a JSON object: left, right, matched, missing_left,
// missing_right, overflow (only when keys were not compared), sample_missing_left and
// sample_missing_right (only when there are any).
void append_reconciliation_json(const reconciliation_summary& s, std::string& out);

// Appends a key naming the result's series (pipeline, node, check and group, each value as
// JSON), unique per series: outputs that remember something per check and group key by it.
void append_series_key(const check_result& r, std::string& out);

// Appends `s` as a JSON string literal, with quotes.
void append_json_string(std::string_view s, std::string& out);

// Appends a measure value as a JSON value.
void append_json_value(const measure_value& v, std::string& out);

}  // namespace weir
