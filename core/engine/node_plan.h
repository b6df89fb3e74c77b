// What a node engine is compiled from: the window, the group_by fields and the checks of one
// node. A plain struct the config layer fills from a pipeline file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/check/assessment.h"
#include "core/expr/field_path.h"
#include "core/measure/approx.h"
#include "core/measure/measure_expr.h"
#include "core/result/check_result.h"
#include "core/window/window_spec.h"

namespace weir::engine {

// Which results a check emits: every window, only warn/fail/no_data, or only when the
// (check, group)'s outcome differs from its previous window's (the first window always).
enum class emit_mode : std::uint8_t { all, failures, changes };

// The outcome of a window whose measure is null (no data): `ignore` keeps `no_data`, which
// raises nothing; the others turn it into that outcome, so silence can be routed like a failure.
enum class no_data_action : std::uint8_t { ignore, pass, warn, fail };

// A partial window (the node started after it began, so it holds only part of its records):
// `no_data` reports its warn and fail outcomes as no_data, so a start or a restart without
// state raises no false alarm; `judge` judges it like any window. Its results say partial
// either way.
enum class partial_action : std::uint8_t { no_data, judge };

struct check_plan {
    // Interned: every result of the check copies them (core/result/interned_text.h).
    interned_text name;
    interned_text measure;    // the measure as written (parsed with parse_measure)
    interned_text must_be;    // as written; "" when none
    interned_text should_be;  // as written; "" when none
    emit_mode emit = emit_mode::all;
    no_data_action on_no_data = no_data_action::ignore;
    // The engine's own default judges partial windows like any other (this struct's users
    // decide); pipeline files default to no_data (config/specs.cc).
    partial_action on_partial = partial_action::judge;
    // The texts above parsed, when the plan's compiler parsed them already (config/plan.h:
    // everything is parsed once, at compile). When null, the engine parses the text.
    std::shared_ptr<const measure::measure_expr> parsed_measure;
    std::shared_ptr<const check::assessment> parsed_must_be;
    std::shared_ptr<const check::assessment> parsed_should_be;
    // The check's own filter (a boolean expression of the `filter:` language), as written; ""
    // when none. Its measures see only the records for which it is true (null counts as
    // false); their state is kept apart from the same measures of other filters.
    std::string filter;
    // `samples: N`: results that fail or warn carry the first N records of the (window, group)
    // that count against the check (aggregate_layout::samples). 0: none, and no cost.
    std::uint32_t samples = 0;
    // Checks against history (core/check/history.h): whether values judged warn or fail join
    // the history (else they are held out until acknowledged).
    bool learn_anomalies = false;
    // The check's alert labels and annotations, handed to every result as is (null: none).
    std::shared_ptr<const check_metadata> metadata;
};

struct node_plan {
    interned_text pipeline;
    interned_text node;
    window::window_spec window;
    // `time: processing`: records take their arrival time and the watermark is the wall clock.
    bool processing_time = false;
    // The record slots of the batches the engine receives: fields[i] is slot i. Measures and
    // group_by may only name these (add_referenced_fields() appends what they need).
    std::vector<field_path> fields;
    // Group key = the values of these fields. Absent, null and wrong-typed (object/array)
    // values are one group value of their own, reported as null; -0 groups with 0.
    std::vector<field_path> group_by;
    // Grouped nodes: a group also gets (empty) windows while it has a record in
    // [window_start - group_ttl, window_end); a group without one is forgotten. 0: only
    // windows holding records are emitted. Ungrouped nodes emit every window from the first
    // record's on (an infinite ttl).
    window::timestamp_ns group_ttl = 0;
    // Records of new groups beyond this many live groups are dropped and counted
    // (group_overflow), so a key explosion cannot exhaust memory.
    std::size_t max_groups = 100'000;
    // `empty_is_missing`: whether the measures take "" for missing (like null; the default)
    // or for a present value, an empty string.
    bool empty_is_missing = true;
    // Within one advance of the watermark, at most this many consecutive windows without any
    // record are emitted; the rest are skipped (and counted), so that a bogus far-future event
    // time cannot make the engine emit billions of empty windows.
    std::size_t max_empty_windows = 100'000;
    // Within one advance of the watermark, each group gets at most this many empty windows;
    // its further empty windows up to its next record are skipped (and counted). Small steps
    // of the watermark (records, idle ticks) each get their own share, so ordinary silence is
    // reported window by window; a jump over a gap in the data (or a bogus event time) costs
    // groups × this many results, not groups × group_ttl / window.
    std::size_t max_empty_windows_per_group = 10;
    // median and percentile are exact while a (window or pane, group) holds at most this many
    // numbers, and come from a sketch beyond (their results then say approximate).
    std::uint32_t exact_quantile_limit = measure::k_default_exact_quantile_limit;
    std::size_t sources = 1;  // watermark sources (inputs, Kafka partitions)
    // Stable ids of the watermark sources (e.g. "orders/" for an input that is one stream):
    // checkpoints restore the sources by id. When given, `sources` is ignored; when empty, the
    // sources are `sources` anonymous ones (none at all with sources = 0: they come later,
    // through node_engine::add_source).
    std::vector<std::string> source_ids;
    std::vector<check_plan> checks;
    // A node reading several inputs (or nodes) without a join: their names, in the order of
    // `from`. A measure's call whose fields start with one of them measures that input's
    // records alone (measure_expr::bind_sources): `count(orders)`, `sum(orders.amount)`. The
    // engine tells a batch's input by its watermark source ("orders/<source>"; anonymous
    // source i is input i). Empty: no call is bound.
    std::vector<std::string> origins;
};

// Appends to plan.fields the fields that group_by and the checks' measures reference and
// that are not there yet. Throws std::invalid_argument on a measure that does not parse.
void add_referenced_fields(node_plan& plan);

}  // namespace weir::engine
