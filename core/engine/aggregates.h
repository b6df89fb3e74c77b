// The accumulators of one (window-or-pane, group), compiled from the distinct aggregate calls of
// a node's checks into one flat byte block per cell: no heap node per accumulator, no virtual
// call per record. Calls that need the same state share it (mean(x) and sum(x) one sum).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/expr/field_path.h"
#include "core/expr/scratch_arena.h"
#include "core/measure/approx.h"
#include "core/measure/measure_expr.h"
#include "core/measure/measure_value.h"
#include "core/record/field_value.h"
#include "core/result/check_result.h"
#include "core/schema/drift.h"
#include "core/time/timestamp.h"

namespace weir::expr {
class program;
}

namespace weir::engine {

using time::timestamp_ns;

// Every block starts with this header; count(), rate() and freshness() read it directly, so
// those measures cost nothing beyond windowing.
struct cell_header {
    std::uint64_t records = 0;  // valid records (what results report as `records`)
    timestamp_ns newest = 0;    // largest event time of those records (when records > 0)
};

// How accumulator state is laid out. Kinds with only counters and doubles come first (their
// initial state is copied from a prototype); kinds owning heap memory (frequency tables,
// sketches) come last and are constructed and destroyed in place.
enum class acc_kind : std::uint8_t {
    missing,  // missing_acc: count(f), missing_count, missing_fraction
    sum,      // sum_acc: sum, mean
    moments,  // moments_acc: variance, std_dev
    min,
    max,
    length,  // length_acc: min/max/mean_length
    max_delay,
    in_range,  // predicate_acc with an in_range_config
    in_set,
    matches,
    frozen,
    ordered,
    correlation,
    invalid,  // records rejected by the schema: invalid_count/fraction
    drift,    // schema::drift_acc: new_fields, missing_fields, type_changes
    where,    // predicate_acc over a condition: count_where, fraction_where
    records,  // a check filter's own record count and newest time: count(), rate(), freshness()
    format,   // predicate_acc with a format_config: valid_* and invalid_*(field, format)
    // trend_acc: trend(x, t) of two fields, and trend(x) against event time
    trend,
    trend_time,
    benford,       // benford_acc: benford_deviation
    placeholders,  // placeholder_acc: distinct_placeholder_count/fraction
    // heap-owning kinds
    frequency,
    composite,  // measure::frequency_acc of a composite key: duplicate_* over several fields
    mutual,     // measure::mutual_information_acc
    approx_distinct,
    quantile,
    event_order,  // measure::event_order_acc: ordered_fraction(f, order, event_time)
    sample,       // measure::sample_acc: a check's failed-value samples (`samples: N`)
    // length_histogram_acc: median_length; above_mean_acc: above_mean_count/fraction
    length_histogram,
    above_mean,
    digits,  // digits_acc: {min,max,mean,median}_{int,frac}_digits
    // rank_pairs_acc: spearman/kendall_correlation; category_pairs_acc: cramers_v
    rank_pairs,
    category_pairs,
    heavy_hitters,  // heavy_hitters_acc
    reconcile,      // measure::reconcile_acc: reconcile(left.key, right.key)
};

// One aggregate call of a check, with the check's filter: the call sees only the records for
// which that boolean expression (the `filter:` language) is true; "" for every record. Calls
// with different filters keep separate state, also when they are the same call.
struct layout_call {
    const measure::aggregate_call* call = nullptr;
    std::string_view filter;
    // `samples: N` of the call's check: keep the first N records the function counts (the
    // missing ones of missing_count, the in-range ones of in_range_count, the matching ones of
    // count_where) and the first N others. Only single-call measures of the functions
    // supports_samples() names.
    std::uint32_t samples = 0;
    // A call bound to one input of a node reading several (aggregate_call::source): the
    // index of that input among the node's (node_plan::origins); it then sees only records
    // added with that origin (add()), and its state is kept apart from the same call over
    // every record. k_any_origin: every record. reconcile() also names `other`, its right side.
    std::uint32_t origin = 0xffffffffu;
    std::uint32_t other = 0xffffffffu;
};

// add()'s origin of a record that comes from no input in particular.
inline constexpr std::uint32_t k_any_origin = 0xffffffffu;

// Whether `samples:` can say which records made a check of this function fail: count(f),
// missing_count/fraction, in_range_*, in_set_*, matches_*, count_where, fraction_where.
bool supports_samples(std::string_view function, std::size_t args);
// Which records the function counts are the offending ones by default (when the assessment
// does not say whether the value was too high or too low): the missing ones, the ones out of
// range, not in the set, not matching, and the ones for which a count_where condition holds.
bool samples_counted_by_default(std::string_view function);

class aggregate_layout {
  public:
    // Maps a call's field to its slot in the record and compiles filters and conditions against
    // `fields`; throws std::invalid_argument if a field is not among `fields`. Set-up code: may
    // throw (bad call shapes, a filter that does not compile, invalid_count() under a filter).
    // median and percentile keep each block's values exactly while there are at most
    // `exact_quantile_limit` of them (measure::quantile_acc).
    aggregate_layout(std::span<const layout_call> calls, const std::vector<field_path>& fields,
                     std::uint32_t exact_quantile_limit = measure::k_default_exact_quantile_limit);
    // Every call over every record.
    aggregate_layout(std::span<const measure::aggregate_call* const> calls,
                     const std::vector<field_path>& fields);
    ~aggregate_layout();
    aggregate_layout(const aggregate_layout&) = delete;
    aggregate_layout& operator=(const aggregate_layout&) = delete;

    // Index of a call (by canonical key, and filter as given to the constructor) among those
    // given to the constructor.
    std::size_t call_index(const std::string& key) const { return call_index("", key); }
    std::size_t call_index(std::string_view filter, const std::string& key) const;
    std::size_t calls() const { return calls_.size(); }

    // Bytes of one block, header included; a multiple of 8.
    std::size_t block_bytes() const { return block_bytes_; }
    // The leading bytes of a block that add() reads whatever the record: all but a frequency
    // table's inline slots (prefetch_heap() fetches the one slot a record's value needs).
    std::size_t hot_bytes() const { return hot_bytes_; }
    // The heap memory a block may own beyond block_bytes() (0 for counter-only layouts).
    bool owns_heap() const { return !heap_accs_.empty(); }
    bool uses_invalid() const { return uses_invalid_; }
    // Whether a call is a schema-drift measure: they read the slot of schema::drift_field(),
    // which the node chain fills, and are judged against the node's tracker (attach_drift).
    bool uses_drift() const { return uses_drift_; }
    // The node's drift tracker, owned by the node chain; without one, the drift measures see
    // no fields at all.
    void attach_drift(const schema::drift_tracker* tracker) const { drift_ = tracker; }
    // What the runtime knows of the node's inputs, read by input_lag() and input_lag_seconds()
    // when a window closes (NaN: not known). The engine owns it and keeps it current.
    struct input_gauges {
        double lag = std::numeric_limits<double>::quiet_NaN();
        double lag_seconds = std::numeric_limits<double>::quiet_NaN();
    };
    void attach_gauges(const input_gauges* gauges) const { gauges_ = gauges; }
    // Appends to `names` the fields that drift call `i` counted in `block` (nothing for other
    // calls), skipping names already there.
    void drift_fields(const std::byte* block, std::size_t i, std::vector<std::string>& names) const;
    // Whether the constructor's `calls[input]` keeps samples; appends those of one side (the
    // records the function counts, or the others) to `out`, JSON objects in record order, while
    // their total stays within measure::k_sample_result_bytes.
    bool keeps_samples(std::size_t input) const {
        return input < input_samples_.size() && input_samples_[input] != k_unused;
    }
    void samples(const std::byte* block, std::size_t input, bool counted,
                 std::vector<std::string>& out) const;

    // A node's `empty_is_missing: false`: every measure takes "" for a present value (an
    // empty string) instead of a missing one. Set-up: call before the first add(); it is part
    // of the fingerprint.
    void set_empty_is_missing(bool missing);
    bool empty_is_missing() const { return empty_is_missing_; }

    // `block` is 8-byte aligned and block_bytes() long.
    void construct(std::byte* block) const;
    void destroy(std::byte* block) const;
    // Resets a constructed block to its initial state.
    void reset(std::byte* block) const;
    // Whether prefetch_heap() has anything to fetch.
    bool prefetches_heap() const { return !prefetched_accs_.empty(); }
    // A hint that add(block, record, …) follows soon, for a block already in cache: fetches the
    // heap memory its accumulators will touch (a sparse HyperLogLog's list, the end of exact
    // quantile values, the slot of the record's value in a frequency table), which the block's
    // own lines do not bring.
    void prefetch_heap(const std::byte* block, std::span<const field_value> record) const;

    // Per valid record. Hot path: a switch per accumulator, no allocation (frequency tables and
    // sketches amortise their growth). Filters and conditions are evaluated once per record
    // each (arrival_time is what now() reads); a null or non-boolean result does not match, as
    // in a filter: transform. Layouts without them pay one branch.
    // `origin`: the input the record comes from (the index layout_call::origin names), or
    // k_any_origin; calls bound to another input skip it (one compare per record when no call
    // is bound to an input).
    void add(std::byte* block, std::span<const field_value> record, timestamp_ns event_time,
             timestamp_ns arrival_time, std::uint32_t origin = k_any_origin) const;
    // A record that failed the schema (counted by invalid_count only).
    // A record that violates the schema; `kept` (on_invalid: keep): it is also added as a
    // record with add().
    void add_invalid(std::byte* block, bool kept = false) const;

    // `into` += `from`; `from` covers later panes when order matters (ordered_fraction).
    void merge(std::byte* into, const std::byte* from) const;

    void serialize(const std::byte* block, byte_writer& w) const;
    // On false the block is still a valid (possibly partly filled) constructed block.
    // `legacy_quantiles`: the block was written before median and percentile kept exact values,
    // when their state was a bare sketch (see legacy_fingerprint()).
    bool deserialize(std::byte* block, byte_reader& r, bool legacy_quantiles = false) const;

    // The value of call `i` for a block; `window_length` feeds rate(), `now` freshness().
    // Results computed from an exact frequency table that hit its memory cap (distinct_count
    // and unique_count are then lower bounds, duplicate_count an upper bound): reported by the
    // runtime so a capped result never passes silently.
    std::uint64_t capped_results() const { return capped_results_; }

    // `newest_seen`: the newest event time of the group's records before the window (or
    // k_no_time), so that freshness() of an empty window still measures the age of the newest
    // record instead of having no data.
    measure_value evaluate(const std::byte* block, std::size_t i, timestamp_ns window_length,
                           timestamp_ns now, timestamp_ns newest_seen) const;
    // Whether call `i`'s value for a block came from a sketch with an error bound rather than
    // from the values themselves: a median or percentile past the exact limit.
    // Also a reconcile() that kept no more keys than measure::k_reconcile_key_limit.
    bool approximate(const std::byte* block, std::size_t i) const;
    // Whether call `i` is a reconcile(); its comparison of the two sides in `block` into `out`.
    bool reconciliation(const std::byte* block, std::size_t i, reconciliation_summary& out) const;

    // Identifies the layout: state keys in order. A checkpoint restores only into the same.
    const std::string& fingerprint() const { return fingerprint_; }
    // The fingerprint this layout had before median and percentile kept exact values (their
    // state was "quantile(field)", a bare sketch), or "" when it has no such state: checkpoints
    // of that time are restored with their quantiles sketched.
    std::string legacy_fingerprint() const;

    static cell_header* header(std::byte* block) { return reinterpret_cast<cell_header*>(block); }
    static const cell_header* header(const std::byte* block) {
        return reinterpret_cast<const cell_header*>(block);
    }

  private:
    mutable std::uint64_t capped_results_ = 0;  // engines are single-threaded
    mutable const schema::drift_tracker* drift_ = nullptr;
    mutable const input_gauges* gauges_ = nullptr;
    static constexpr std::uint32_t k_unused = 0xffffffffu;
    struct acc_entry {
        acc_kind kind;
        std::uint32_t slot = 0;   // where: the condition's index into conditions_
        std::uint32_t slot2 = 0;  // correlation's second field; quantile's exact limit
        std::uint32_t offset = 0;
        const void* config = nullptr;     // the kind's shared *_config, owned by configs_
        std::uint32_t filter = k_unused;  // the check filter's index into conditions_
        std::uint32_t origin = k_unused;  // the only input whose records it sees
    };
    enum class result_fn : std::uint8_t;
    struct call_entry {
        result_fn fn;
        std::uint32_t acc = 0;         // index into accs_
        double param = 0;              // percentile's p
        bool percent = false;          // the *_percent shorthands: 100 * the fraction
        const void* config = nullptr;  // most_frequent_in_range/set: the range or the list
        measure::quantile_method method = measure::quantile_method::linear;
        // A fraction over every record (the `records` keyword) under a check filter: the
        // records_acc of the filter's records; k_unused for the cell header's records.
        std::uint32_t records = k_unused;
    };
    struct config_holder;
    static bool is_reconcile(result_fn fn);
    // The records a `records` fraction divides by: the window's, or its check filter's.
    std::uint64_t records_of(const std::byte* block, const call_entry& ce) const;

    measure_value evaluate_call(const std::byte* block, const call_entry& ce,
                                timestamp_ns window_length, timestamp_ns now,
                                timestamp_ns newest_seen) const;
    std::uint32_t find_or_add_acc(acc_kind kind, const std::string& state_key, std::uint32_t slot,
                                  std::uint32_t slot2, std::shared_ptr<const void> config,
                                  std::uint32_t filter, std::uint32_t origin = k_unused);
    // The index of a condition (a check filter or a count_where condition) in conditions_,
    // compiled against `fields` on first use.
    std::uint32_t condition_index(const std::string& canonical, std::string_view text,
                                  const std::vector<field_path>& fields);
    std::uint32_t add_sample_acc(const layout_call& lc, std::uint32_t filter,
                                 const std::string& suffix, const std::vector<field_path>& fields);

    // The per-record work, compiled from accs_ so that a value is read and classified once
    // however many accumulators look at it: the numeric accumulators of one field (sum,
    // moments, min, max) are one step, and every in_range of one field is one loop over
    // its bounds. Each accumulator still sees the same values in the same order as alone,
    // so results are identical to adding them one by one.
    enum class step_kind : std::uint8_t {
        single,
        numbers,
        in_range,
        where,
        sample,
        reconcile_left,  // the key of a reconcile()'s left input
        reconcile_right,
    };
    struct add_step {
        step_kind kind = step_kind::single;
        std::uint32_t filter = k_unused;  // runs only for records this condition matched
        std::uint32_t origin = k_unused;  // runs only for records of this input
        std::uint32_t acc = 0;            // single, where: index into accs_; in_range: an offset
        std::uint32_t slot = 0;
        // numbers: offsets of the field's accumulators, k_unused when absent
        std::uint32_t sum = k_unused;
        std::uint32_t moments = k_unused;
        std::uint32_t min = k_unused;
        std::uint32_t max = k_unused;
        // in_range: the bounds range_lo_/range_hi_[first, last), whose predicate_accs lie
        // one after another in the block from offset `acc`
        std::uint32_t first = 0;
        std::uint32_t last = 0;
    };
    // Whether two accumulators are in_range ones that one step adds to together: of the same
    // field, check filter and input. The constructor places such accumulators one after
    // another in the block, in accs_ order; compile_steps relies on it.
    static bool one_range_step(const acc_entry& a, const acc_entry& b);
    void compile_steps();
    void add_sample(const add_step& s, std::byte* block, std::span<const field_value> record,
                    timestamp_ns event_time) const;
    [[gnu::always_inline]] inline void run_step(const add_step& s, std::byte* block,
                                                std::span<const field_value> record,
                                                timestamp_ns event_time,
                                                timestamp_ns arrival_time) const;
    void test_conditions(std::span<const field_value> record, timestamp_ns arrival_time) const;
    // add() of a layout with conditions: out of line, so the common layout's loop stays as
    // small as it was.
    [[gnu::noinline]] void add_with_conditions(std::byte* block,
                                               std::span<const field_value> record,
                                               timestamp_ns event_time,
                                               timestamp_ns arrival_time) const;

    std::vector<add_step> steps_;           // of every record
    std::vector<add_step> filtered_steps_;  // of the records a check filter matched
    // Per input (layout_call::origin): the steps of the calls bound to it, filtered or not.
    std::vector<std::vector<add_step>> origin_steps_;
    // add() for records of an input some calls are bound to.
    [[gnu::noinline]] void add_origin(std::byte* block, std::span<const field_value> record,
                                      timestamp_ns event_time, timestamp_ns arrival_time,
                                      std::uint32_t origin) const;
    struct condition {
        std::string key;  // canonical text
        std::shared_ptr<const expr::program> program;
    };
    std::vector<condition> conditions_;
    // Per record: whether conditions_[i] held. Scratch of add(), like the arena its string
    // functions allocate from (engines are single-threaded).
    mutable std::vector<std::uint8_t> truth_;
    mutable expr::scratch_arena arena_{4096};
    mutable std::vector<double> quantile_scratch_;  // evaluate()'s, for exact quantiles
    mutable std::string key_scratch_;               // add()'s, for reconcile() keys
    std::vector<double> range_lo_;                  // in_range steps' bounds
    std::vector<double> range_hi_;
    std::vector<acc_entry> accs_;                 // trivially copyable kinds first, then heap kinds
    std::vector<std::uint32_t> heap_accs_;        // indices of heap-owning accs
    std::vector<std::uint32_t> prefetched_accs_;  // those prefetch_heap() fetches for
    std::vector<std::uint32_t> input_samples_;  // per constructor call: its sample acc or k_unused
    std::vector<std::string> state_keys_;
    std::vector<std::string> call_keys_;
    std::vector<call_entry> calls_;
    std::vector<std::shared_ptr<const void>> configs_;
    std::unique_ptr<std::byte[]> prototype_;  // the initial trivially-copyable prefix
    std::size_t trivial_bytes_ = 0;
    std::size_t block_bytes_ = 0;
    std::size_t hot_bytes_ = 0;
    bool uses_invalid_ = false;
    bool uses_drift_ = false;
    bool empty_is_missing_ = true;
    // Scratch of add() when "" is present: the record with its empty strings marked.
    mutable std::vector<field_value> marked_;
    std::string fingerprint_;
};

}  // namespace weir::engine
