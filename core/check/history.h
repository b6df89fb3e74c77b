// Checks against a measure's own history (`must_be: "change vs 1w in [-30%, +30%]"`,
// `should_be: "zscore(last 24 by hour_of_day) < 3"`): the history part of an assessment, the
// bounded history of one (check, group) and the judgement of a new value against it.
//
// Grammar (extends assessment.h; whitespace anywhere between tokens):
//   history    := subject test ["min_change" number]
//   subject    := ["relative"] "change" ["vs" reference]
//               | "zscore" "(" "last" integer ["by" season] ("," option)* ")"
//   reference  := "previous" | duration              (a duration takes ms, s, m, h, d or w)
//   season     := "hour_of_day" | "day_of_week" | "hour_of_week" | "day_of_month"
//   option     := "robust" | "spike" | "drop" | "both" | "min" integer
//   test       := op number | ["in"] range            (op and range as in assessment.h)
//
// What is tested:
// - `change`: value - reference. When the test's numbers are written with % it is the relative
//   change instead, (value - reference) / |reference|, as `relative change` always is.
//   The reference is the previous window's value (`vs previous`, the default) or the value of
//   the window that started `reference` earlier (`vs 1d`, `vs 1w`: the same window a day or a
//   week ago; the duration must be a multiple of the window's step).
// - `zscore(last N)`: (value - mean) / standard deviation of the last N values (sample
//   deviation). `robust`: median and MAD (scaled by 1.4826) instead. `both` (default) tests
//   |z|, `spike` z and `drop` -z, so "< 3" with `drop` only fails values far below.
// - `zscore(last N by season)`: seasonal. The expected value is the mean (robust: median) of
//   the same bucket's values of the last N occurrences of that bucket (hour of day: the same
//   hour on the last N days). The deviation is the root mean square (robust: 1.4826 x median
//   absolute value, refreshed every 16 errors) of the series' last 256 prediction errors — each
//   learned value minus the expectation its bucket had before it — over every bucket, so it rests
//   on many values even when N is small. Buckets are in UTC; a bucket must be at least the window's
//   step long.
// - `min_change v`: a value within v of the expected value (or reference) always passes, so
//   tiny series do not alarm.
// A deviation of 0 makes z 0 for a value equal to the expectation and ±inf otherwise.
//
// - Seasonal prediction errors are relative: each error is divided by the magnitude of the
//   expectation it was made against (at least a tenth of the series' typical magnitude, so a
//   series near zero does not divide by zero), and the deviation of a new value is that
//   relative deviation times its own expectation. Busy hours may then vary more than quiet
//   ones in absolute terms, as counts and volumes do.
// - A window shorter than a bucket (10-minute windows by hour_of_day) puts several values in
//   one occurrence of its bucket: the bucket keeps N occurrences' worth of them.
//
// Warm-up: until the history holds enough values the judgement says warming_up (the engine
// reports no_data with that reason, never a pass): change needs its reference window; zscore
// needs `min` values (default min(N, max(3, ceil(N / 2))); seasonal: that many occurrences of
// the bucket, and k_min_seasonal_errors prediction errors).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/result/check_result.h"
#include "core/time/timestamp.h"

namespace weir::check {

class assessment;

enum class history_subject : std::uint8_t { change, relative_change, zscore };
enum class seasonality : std::uint8_t {
    none,
    hour_of_day,
    day_of_week,
    hour_of_week,
    day_of_month
};
enum class history_direction : std::uint8_t { both, spike, drop };

inline constexpr std::uint32_t k_min_seasonal_errors = 10;
// The most values one series may keep (validation refuses more: a coarser window or fewer
// periods). 4 weeks of 10-minute windows fit.
inline constexpr std::size_t k_max_history_values = 65'536;

// The history part of a parsed assessment (assessment::history()); its test is the
// assessment's own comparison or range, applied to the tested quantity.
struct history_spec {
    history_subject subject = history_subject::change;
    time::timestamp_ns versus = 0;  // change: 0 is the previous window, else this long before
    std::uint32_t last = 0;         // zscore: N
    seasonality season = seasonality::none;
    bool robust = false;
    history_direction direction = history_direction::both;
    std::uint32_t min_history = 0;  // zscore: values (occurrences) needed; 0: the default
    double min_change = 0;          // 0: none

    bool operator==(const history_spec&) const = default;
    // Canonical spelling of the subject and options ("zscore(last 24 by hour_of_day, drop)",
    // "relative change vs 1w"); the test and min_change are added by assessment::to_string().
    std::string subject_text() const;
    std::string_view season_name() const;
};

// How one series of one check is judged: the spec, its test and the window's step. Set-up
// code.
class history_model {
  public:
    // Why the spec cannot run on windows of this step (a reference that is not a multiple of
    // it, a bucket shorter than it, a history over k_max_history_values, a session window —
    // step 0 — with a reference duration or a season); nullopt when it can. For validation.
    static std::optional<std::string> refuse(const history_spec& spec, time::timestamp_ns step);

    // `test` is the assessment holding `spec` (its comparison or range is applied to the
    // tested quantity). `step`: the window's step (0: session windows). Throws
    // std::invalid_argument with refuse()'s message.
    history_model(const assessment& test, time::timestamp_ns step);

    const history_spec& spec() const { return spec_; }
    time::timestamp_ns step() const { return step_; }
    // Values a full series keeps.
    std::size_t capacity() const;
    // What the series' values mean, for checkpoints: series restore only into a model of the
    // same identity (subject kind, reference, season, step — not N, the test, min_change or
    // the options, which may change without losing history).
    std::string identity() const;

  private:
    friend class history_series;
    friend class history_store;
    const assessment* test_;
    history_spec spec_;
    time::timestamp_ns step_;
    std::uint32_t buckets_ = 0;     // seasonal: buckets of the season
    std::uint32_t per_bucket_ = 0;  // seasonal: values a bucket keeps (N occurrences)
    std::uint32_t min_values_ = 0;  // zscore: values needed (seasonal: in the bucket)
};

// The bounded history of one (check, group).
class history_series;

// Hashes std::string keys and std::string_view look-ups alike (no temporary string per look-up).
struct history_key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

// The outcome of judging one value.
struct history_judgement {
    enum class state : std::uint8_t { judged, warming_up };
    state st = state::warming_up;
    bool holds = true;  // only meaningful when judged
    expected_evidence evidence;
};

// Every series of one history assessment of one check, by group key (the engine's encoded
// group key; "" for ungrouped nodes). Not thread-safe: lives on the node's strand.
class history_store {
  public:
    explicit history_store(history_model model, std::size_t max_series);
    ~history_store();
    history_store(history_store&&) noexcept;
    history_store& operator=(history_store&&) noexcept;

    const history_model& model() const { return model_; }

    // Judges `value` of the window starting at `window_start` against the group's history
    // (created empty when new; beyond max_series a new group is judged warming_up with
    // evidence.reason "history full" and nothing is kept). Does not learn: call learn() once
    // the check's outcome is known. `value` is finite (the engine reports no_data otherwise).
    history_judgement judge(std::string_view key, time::timestamp_ns window_start, double value);

    // Adds the value to the group's history (the window's start places it in its bucket and
    // its reference slot). `anomalous` values are held out instead (up to a bounded number,
    // the newest kept) when `learn_anomalies` is false: acknowledge() adds them later. A
    // window at or before the newest learned one is ignored (a window emitted again after a
    // restore must not count twice).
    void learn(std::string_view key, time::timestamp_ns window_start, double value, bool anomalous,
               bool learn_anomalies);

    // Operator commands. `key` null: every group. Returns the number of series affected.
    // reset: the history is forgotten (the series warms up again).
    std::size_t reset(const std::string* key);
    // acknowledge: values held out as anomalous are learned now (in window order), so a new
    // level becomes the baseline; later anomalies are held out again.
    std::size_t acknowledge(const std::string* key);

    // Forgets series whose newest value is older than their horizon before `window_start`
    // (they could no longer be judged against it), so departed groups do not hold memory.
    // Horizons: `vs <d>`: d; `vs previous`: max(1 day, 24 windows); zscore(last N): N windows;
    // seasonal: N periods of the season (a day, a week, 31 days). Session windows: never.
    void prune(time::timestamp_ns window_start);

    std::size_t series() const;
    std::size_t memory_bytes() const;

    // Checkpoints. deserialize() into a store of the same model identity (the caller checks
    // identity() first); a series of another capacity keeps its newest values. False on
    // corrupt bytes (reader's error set; the store is then empty).
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

  private:
    history_series* find(std::string_view key) const;

    history_model model_;
    std::size_t max_series_;
    std::unordered_map<std::string, std::unique_ptr<history_series>, history_key_hash,
                       std::equal_to<>>
        series_;
    std::vector<double> scratch_;  // medians (robust), sized once
};

}  // namespace weir::check
