// Checks against history: the canonical spelling of a spec, the model's limits and the bounded
// per-group history with its judgement (see history.h for the semantics).
#include "core/check/history.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/check/assessment.h"
#include "core/expr/syntax.h"
#include "core/window/window_spec.h"

namespace weir::check {

namespace {

constexpr double k_inf = std::numeric_limits<double>::infinity();
constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();
constexpr time::timestamp_ns k_hour = 3600 * time::ns_per_s;
constexpr time::timestamp_ns k_day = 24 * k_hour;
constexpr time::timestamp_ns k_week = 7 * k_day;
constexpr time::timestamp_ns k_never = std::numeric_limits<time::timestamp_ns>::min();
// Scale of the median absolute deviation that estimates a normal standard deviation.
constexpr double k_mad_scale = 1.4826;
// Prediction errors a seasonal series pools for its deviation.
constexpr std::uint32_t k_seasonal_errors = 256;
// Values held out as anomalous, at most (the newest kept).
constexpr std::uint32_t k_max_held = 256;
// Running sums are recomputed from the values this often (pushes), against rounding drift.
constexpr std::uint32_t k_recompute_every = 1024;
// The relative error's floor: a tenth of the series' typical magnitude.
constexpr double k_scale_floor = 0.1;
constexpr std::uint8_t k_format_version = 1;
// A robust seasonal deviation (a median of up to 256 errors) is refreshed every this many
// prediction errors once the series has more than k_robust_always errors, and with every error
// before that.
constexpr std::uint32_t k_robust_refresh = 16;
constexpr std::uint32_t k_robust_always = 64;

using window::floor_div;
time::timestamp_ns floor_mod(time::timestamp_ns a, time::timestamp_ns b) {
    return a - floor_div(a, b) * b;
}

// "1w", "1d", "90m", "250ms": the largest unit that divides the duration exactly.
std::string format_span(time::timestamp_ns ns) {
    struct unit {
        time::timestamp_ns size;
        const char* name;
    };
    static constexpr unit units[] = {{k_week, "w"},         {k_day, "d"},
                                     {k_hour, "h"},         {60 * time::ns_per_s, "m"},
                                     {time::ns_per_s, "s"}, {time::ns_per_ms, "ms"}};
    if (ns == 0) return "0s";
    for (const auto& u : units) {
        if (ns % u.size == 0) return std::to_string(ns / u.size) + u.name;
    }
    return std::to_string(ns) + "ns";
}

std::uint32_t bucket_count(seasonality s) {
    switch (s) {
        case seasonality::hour_of_day:
            return 24;
        case seasonality::day_of_week:
            return 7;
        case seasonality::hour_of_week:
            return 168;
        case seasonality::day_of_month:
            return 31;
        case seasonality::none:
            return 0;
    }
    return 0;
}

time::timestamp_ns bucket_length(seasonality s) {
    return s == seasonality::hour_of_day || s == seasonality::hour_of_week ? k_hour : k_day;
}

// One full cycle of the season (day_of_month: the longest month).
time::timestamp_ns season_period(seasonality s) {
    switch (s) {
        case seasonality::hour_of_day:
            return k_day;
        case seasonality::day_of_week:
        case seasonality::hour_of_week:
            return k_week;
        case seasonality::day_of_month:
            return 31 * k_day;
        case seasonality::none:
            return 0;
    }
    return 0;
}

// The bucket (0-based) of the window starting at `start`, in UTC.
std::uint32_t bucket_of(seasonality s, time::timestamp_ns start) {
    const std::int64_t days = floor_div(start, k_day);
    const auto hour = static_cast<std::uint32_t>(floor_mod(start, k_day) / k_hour);
    const auto weekday = static_cast<std::uint32_t>(floor_mod(days + 3, 7));  // Monday = 0
    switch (s) {
        case seasonality::hour_of_day:
            return hour;
        case seasonality::day_of_week:
            return weekday;
        case seasonality::hour_of_week:
            return weekday * 24 + hour;
        case seasonality::day_of_month:
            return time::civil_from_days(days).day - 1;
        case seasonality::none:
            return 0;
    }
    return 0;
}

void bucket_label(seasonality s, std::uint32_t b, std::string& out) {
    static constexpr const char* weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    out = history_spec{.season = s}.season_name();
    out += '=';
    if (s == seasonality::day_of_week) {
        out += weekdays[b % 7];
    } else {
        out += std::to_string(s == seasonality::day_of_month ? b + 1 : b);
    }
}

// Whether the test (a comparison or a range) holds for the tested quantity `q`.
bool passes(const assessment& t, double q) {
    if (std::isnan(q)) return false;
    const double x = t.operand().number;
    switch (t.kind()) {
        case assessment::form::greater:
            return q > x;
        case assessment::form::greater_equal:
            return q >= x;
        case assessment::form::less:
            return q < x;
        case assessment::form::less_equal:
            return q <= x;
        case assessment::form::equal:
            return q == x;
        case assessment::form::not_equal:
            return q != x;
        case assessment::form::range:
            return (t.low_closed() ? q >= t.low() : q > t.low()) &&
                   (t.high_closed() ? q <= t.high() : q < t.high());
        default:
            return false;
    }
}

// The interval (hull) of quantities the test passes.
std::pair<double, double> passing(const assessment& t) {
    const double x = t.operand().number;
    switch (t.kind()) {
        case assessment::form::greater:
        case assessment::form::greater_equal:
            return {x, k_inf};
        case assessment::form::less:
        case assessment::form::less_equal:
            return {-k_inf, x};
        case assessment::form::equal:
            return {x, x};
        case assessment::form::range:
            return {t.low(), t.high()};
        default:
            return {-k_inf, k_inf};
    }
}

// The median of v[0, n) (reorders it).
double median(double* v, std::size_t n) {
    if (n == 0) return k_nan;
    double* mid = v + n / 2;
    std::nth_element(v, mid, v + n);
    if (n % 2 == 1) return *mid;
    const double lower = *std::max_element(v, mid);
    return lower + (*mid - lower) / 2;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The spec

std::string_view history_spec::season_name() const {
    switch (season) {
        case seasonality::hour_of_day:
            return "hour_of_day";
        case seasonality::day_of_week:
            return "day_of_week";
        case seasonality::hour_of_week:
            return "hour_of_week";
        case seasonality::day_of_month:
            return "day_of_month";
        case seasonality::none:
            return "";
    }
    return "";
}

std::string history_spec::subject_text() const {
    if (subject != history_subject::zscore) {
        std::string s = subject == history_subject::relative_change ? "relative change" : "change";
        if (versus > 0) s += " vs " + format_span(versus);
        return s;
    }
    std::string s = "zscore(last " + std::to_string(last);
    if (season != seasonality::none) s += " by " + std::string(season_name());
    if (robust) s += ", robust";
    if (direction == history_direction::spike) s += ", spike";
    if (direction == history_direction::drop) s += ", drop";
    if (min_history > 0) s += ", min " + std::to_string(min_history);
    return s + ")";
}

// ---------------------------------------------------------------------------------------------
// The model

std::optional<std::string> history_model::refuse(const history_spec& spec,
                                                 time::timestamp_ns step) {
    if (step < 0) return "the window's step is negative";
    if (spec.subject != history_subject::zscore) {
        if (spec.versus == 0) return std::nullopt;
        const std::string vs = "\"vs " + format_span(spec.versus) + "\"";
        if (step == 0) {
            return vs +
                   " needs windows of a fixed step; session windows have none (use "
                   "\"vs previous\")";
        }
        if (spec.versus % step != 0) {
            return vs + " is not a whole number of the window's step (" + format_span(step) + ")";
        }
        if (static_cast<std::uint64_t>(spec.versus / step) > k_max_history_values) {
            return vs + " keeps " + std::to_string(spec.versus / step) + " windows of " +
                   format_span(step) + ", more than " + std::to_string(k_max_history_values) +
                   "; use a coarser window";
        }
        return std::nullopt;
    }
    if (spec.last > k_max_history_values) {
        return "zscore(last " + std::to_string(spec.last) + ") keeps more than " +
               std::to_string(k_max_history_values) + " values";
    }
    if (spec.season == seasonality::none) return std::nullopt;
    const std::string season(spec.season_name());
    if (step == 0) {
        return "a seasonal z-score (by " + season +
               ") needs windows of a fixed step; session windows have none";
    }
    const time::timestamp_ns len = bucket_length(spec.season);
    if (step > len) {
        return "a " + season + " bucket (" + format_span(len) +
               ") is shorter than the window's step (" + format_span(step) +
               "); use a coarser season or a shorter window";
    }
    const std::uint64_t per_occurrence = static_cast<std::uint64_t>((len + step - 1) / step);
    const std::uint64_t values =
        static_cast<std::uint64_t>(bucket_count(spec.season)) * spec.last * per_occurrence;
    if (values > k_max_history_values) {
        return "zscore(last " + std::to_string(spec.last) + " by " + season + ") on " +
               format_span(step) + " windows keeps " + std::to_string(values) +
               " values, more than " + std::to_string(k_max_history_values) +
               "; use fewer periods or a coarser window";
    }
    return std::nullopt;
}

history_model::history_model(const assessment& test, time::timestamp_ns step)
    : test_(&test), step_(step) {
    if (test.history() == nullptr) {
        throw std::invalid_argument("the assessment does not judge against history");
    }
    spec_ = *test.history();
    if (auto why = refuse(spec_, step)) throw std::invalid_argument(*why);
    if (spec_.subject == history_subject::zscore) {
        const std::uint32_t half = (spec_.last + 1) / 2;
        min_values_ =
            spec_.min_history > 0 ? spec_.min_history : std::min(spec_.last, std::max(3u, half));
        if (spec_.season != seasonality::none) {
            buckets_ = bucket_count(spec_.season);
            const time::timestamp_ns len = bucket_length(spec_.season);
            const auto per_occurrence = static_cast<std::uint32_t>((len + step - 1) / step);
            per_bucket_ = spec_.last * per_occurrence;
            min_values_ *= per_occurrence;
        }
    }
}

std::size_t history_model::capacity() const {
    if (spec_.subject != history_subject::zscore) {
        return spec_.versus == 0 ? 1 : static_cast<std::size_t>(spec_.versus / step_);
    }
    if (spec_.season == seasonality::none) return spec_.last;
    return static_cast<std::size_t>(buckets_) * per_bucket_;
}

std::string history_model::identity() const {
    std::string s;
    if (spec_.subject != history_subject::zscore) {
        s = "change vs ";
        s += spec_.versus == 0 ? std::string("previous") : std::to_string(spec_.versus);
    } else {
        s = "zscore";
        if (spec_.season != seasonality::none) s += " by " + std::string(spec_.season_name());
    }
    return s + " step " + std::to_string(step_);
}

// ---------------------------------------------------------------------------------------------
// The series

namespace {

// A fixed-capacity ring of doubles, oldest overwritten.
struct ring {
    std::vector<double> v;
    std::uint32_t head = 0;  // next write
    std::uint32_t size = 0;

    void reset(std::size_t capacity) {
        v.assign(capacity, 0.0);
        head = 0;
        size = 0;
    }
    std::uint32_t capacity() const { return static_cast<std::uint32_t>(v.size()); }
    bool full() const { return size == capacity(); }
    // The value push() overwrites (when full).
    double oldest() const { return v[full() ? head : 0]; }
    void push(double x) {
        v[head] = x;
        head = head + 1 == capacity() ? 0 : head + 1;
        if (size < capacity()) ++size;
    }
    // i-th oldest value.
    double at(std::uint32_t i) const {
        std::uint32_t k = head + capacity() - size + i;
        if (k >= capacity()) k -= capacity();
        return v[k];
    }
    void clear() {
        head = 0;
        size = 0;
    }
};

struct held_value {
    time::timestamp_ns start;
    double value;
};

}  // namespace

class history_series {
  public:
    explicit history_series(const history_model& m) {
        const auto& spec = m.spec();
        if (spec.subject != history_subject::zscore) {
            if (spec.versus > 0) {
                slot_start.assign(m.capacity(), k_never);
                slot_value.assign(m.capacity(), 0.0);
            }
        } else if (spec.season == seasonality::none) {
            values.reset(spec.last);
        } else {
            buckets.resize(m.buckets_);
            for (auto& b : buckets) b.reset(m.per_bucket_);
            errors.reset(k_seasonal_errors);
        }
    }

    time::timestamp_ns newest = k_never;       // the newest learned window
    time::timestamp_ns newest_held = k_never;  // the newest held-out window
    // change vs previous
    double previous = 0;
    // change vs a duration: slot (start / step) mod capacity, with the start it holds
    std::vector<time::timestamp_ns> slot_start;
    std::vector<double> slot_value;
    // rolling z-score: values and running sums of (value - shift)
    ring values;
    double shift = 0, sum = 0, sum_sq = 0;
    std::uint32_t since_recompute = 0;
    // seasonal z-score: a ring per bucket, the pooled relative prediction errors, their
    // running sum of squares and the series' typical magnitude
    std::vector<ring> buckets;
    ring errors;
    double error_sq = 0;
    std::uint32_t errors_since_recompute = 0;
    // robust: k_mad_scale x the median absolute error, as of robust_age errors ago (NaN: none)
    double robust_rel = std::numeric_limits<double>::quiet_NaN();
    std::uint32_t robust_age = 0;
    double scale = 0;
    // values held out as anomalous, in window order
    std::vector<held_value> held;

    time::timestamp_ns last_activity() const { return std::max(newest, newest_held); }

    // Adds one value (no order check: learn() and acknowledge() do theirs).
    static void insert(const history_model& m, history_series& s, time::timestamp_ns start,
                       double value, std::vector<double>& scratch);

    void recompute_sums() {
        shift = values.size > 0 ? values.at(values.size - 1) : 0;
        sum = 0;
        sum_sq = 0;
        for (std::uint32_t i = 0; i < values.size; ++i) {
            const double d = values.at(i) - shift;
            sum += d;
            sum_sq += d * d;
        }
        since_recompute = 0;
    }
    void recompute_errors() {
        error_sq = 0;
        for (std::uint32_t i = 0; i < errors.size; ++i) error_sq += errors.at(i) * errors.at(i);
        errors_since_recompute = 0;
    }
    void refresh_robust(std::vector<double>& scratch) {
        const std::uint32_t n = errors.size;
        for (std::uint32_t i = 0; i < n; ++i) scratch[i] = std::fabs(errors.at(i));
        robust_rel = n == 0 ? k_nan : k_mad_scale * median(scratch.data(), n);
        robust_age = 0;
    }

    std::size_t memory_bytes() const {
        std::size_t n = sizeof(*this) + slot_start.capacity() * sizeof(time::timestamp_ns) +
                        slot_value.capacity() * sizeof(double) +
                        values.v.capacity() * sizeof(double) + buckets.capacity() * sizeof(ring) +
                        errors.v.capacity() * sizeof(double) + held.capacity() * sizeof(held_value);
        for (const auto& b : buckets) n += b.v.capacity() * sizeof(double);
        return n;
    }
};

// ---------------------------------------------------------------------------------------------
// The store

namespace {

// The expectation and deviation of a z-score, or why there is none yet.
struct z_basis {
    double mean = k_nan;
    double deviation = k_nan;
    std::uint32_t have = 0;
    std::uint32_t needed = 0;
    bool ready = false;
};

double seasonal_denominator(double expected, double scale) {
    return std::max(std::fabs(expected), k_scale_floor * scale);
}

}  // namespace

history_store::history_store(history_model model, std::size_t max_series)
    : model_(model), max_series_(max_series) {
    const auto& spec = model_.spec();
    if (spec.subject == history_subject::zscore && spec.robust) {
        scratch_.resize(spec.season == seasonality::none
                            ? spec.last
                            : std::max<std::size_t>(model_.per_bucket_, k_seasonal_errors));
    }
}
history_store::~history_store() = default;
history_store::history_store(history_store&&) noexcept = default;
history_store& history_store::operator=(history_store&&) noexcept = default;

history_series* history_store::find(std::string_view key) const {
    const auto it = series_.find(key);
    return it == series_.end() ? nullptr : it->second.get();
}

history_judgement history_store::judge(std::string_view key, time::timestamp_ns window_start,
                                       double value) {
    const history_spec& spec = model_.spec();
    const assessment& test = *model_.test_;
    history_judgement j;
    expected_evidence& e = j.evidence;
    history_series* s = find(key);
    const auto warming = [&](std::uint32_t have, std::uint32_t needed) {
        j.st = history_judgement::state::warming_up;
        j.holds = true;
        e.state = "warming_up";
        e.history = have;
        e.needed = needed;
        return j;
    };
    if (s == nullptr && series_.size() >= max_series_) {
        e.reason = "history full";
        return warming(0, 0);
    }

    if (spec.subject != history_subject::zscore) {
        const bool relative = spec.subject == history_subject::relative_change;
        e.tested = relative ? "relative_change" : "change";
        double reference = k_nan;
        if (spec.versus == 0) {
            if (s == nullptr || s->newest == k_never) {
                e.reason = "no previous value";
                return warming(0, 1);
            }
            reference = s->previous;
        } else {
            const time::timestamp_ns want = window_start - spec.versus;
            e.reference = want;
            const std::size_t slots = s == nullptr ? 0 : s->slot_start.size();
            const std::size_t slot =
                slots == 0
                    ? 0
                    : static_cast<std::size_t>(floor_mod(floor_div(want, model_.step_),
                                                         static_cast<time::timestamp_ns>(slots)));
            if (slots == 0 || s->slot_start[slot] != want) {
                e.reason = "no value " + format_span(spec.versus) + " before";
                return warming(0, 1);
            }
            reference = s->slot_value[slot];
        }
        const double diff = value - reference;
        double q = diff;
        if (relative) {
            q = reference != 0 ? diff / std::fabs(reference)
                               : (diff == 0 ? 0.0 : (diff > 0 ? k_inf : -k_inf));
        }
        j.st = history_judgement::state::judged;
        j.holds = passes(test, q) || (spec.min_change > 0 && std::fabs(diff) <= spec.min_change);
        e.value = reference;
        e.tested_value = q;
        e.history = 1;
        auto [ql, qh] = passing(test);
        if (relative) {
            const double mag = std::fabs(reference);
            const auto at = [&](double r) {
                if (mag == 0)
                    return r < 0 ? (std::isinf(r) ? -k_inf : 0.0)
                                 : (r > 0 ? (std::isinf(r) ? k_inf : 0.0) : 0.0);
                return reference + r * mag;
            };
            ql = at(ql);
            qh = at(qh);
        } else {
            ql = reference + ql;
            qh = reference + qh;
        }
        e.low = spec.min_change > 0 ? std::min(ql, reference - spec.min_change) : ql;
        e.high = spec.min_change > 0 ? std::max(qh, reference + spec.min_change) : qh;
        return j;
    }

    // z-scores
    e.tested = "z";
    z_basis z;
    z.needed = model_.min_values_;
    if (spec.season == seasonality::none) {
        const ring* r = s == nullptr ? nullptr : &s->values;
        z.have = r == nullptr ? 0 : r->size;
        if (z.have >= z.needed && z.have >= 2) {
            z.ready = true;
            if (spec.robust) {
                for (std::uint32_t i = 0; i < z.have; ++i) scratch_[i] = r->at(i);
                z.mean = median(scratch_.data(), z.have);
                for (std::uint32_t i = 0; i < z.have; ++i)
                    scratch_[i] = std::fabs(r->at(i) - z.mean);
                z.deviation = k_mad_scale * median(scratch_.data(), z.have);
            } else {
                const double n = z.have;
                z.mean = s->shift + s->sum / n;
                const double var = (s->sum_sq - s->sum * s->sum / n) / (n - 1);
                z.deviation = var > 0 ? std::sqrt(var) : 0.0;
            }
        } else {
            e.reason = std::to_string(z.have) + " of " + std::to_string(z.needed) + " values";
            return warming(z.have, z.needed);
        }
    } else {
        const std::uint32_t b = bucket_of(spec.season, window_start);
        bucket_label(spec.season, b, e.bucket);
        const ring* r = s == nullptr ? nullptr : &s->buckets[b];
        z.have = r == nullptr ? 0 : r->size;
        if (z.have < z.needed) {
            e.reason = std::to_string(z.have) + " of " + std::to_string(z.needed) + " values in " +
                       e.bucket;
            return warming(z.have, z.needed);
        }
        if (s->errors.size < k_min_seasonal_errors) {
            e.reason = std::to_string(s->errors.size) + " of " +
                       std::to_string(k_min_seasonal_errors) + " prediction errors";
            return warming(s->errors.size, k_min_seasonal_errors);
        }
        z.ready = true;
        double rel = 0;
        if (spec.robust) {
            for (std::uint32_t i = 0; i < z.have; ++i) scratch_[i] = r->at(i);
            z.mean = median(scratch_.data(), z.have);
            if (std::isnan(s->robust_rel)) s->refresh_robust(scratch_);
            rel = s->robust_rel;
        } else {
            double sum = 0;
            for (std::uint32_t i = 0; i < z.have; ++i) sum += r->at(i);
            z.mean = sum / z.have;
            rel = std::sqrt(std::max(0.0, s->error_sq) / s->errors.size);
        }
        z.deviation = rel * seasonal_denominator(z.mean, s->scale);
    }

    const double diff = value - z.mean;
    double zv = 0;
    if (z.deviation > 0) {
        zv = diff / z.deviation;
    } else if (diff != 0) {
        zv = diff > 0 ? k_inf : -k_inf;
    }
    const double q = spec.direction == history_direction::both    ? std::fabs(zv)
                     : spec.direction == history_direction::spike ? zv
                                                                  : -zv;
    j.st = history_judgement::state::judged;
    j.holds = passes(test, q) || (spec.min_change > 0 && std::fabs(diff) <= spec.min_change);
    e.value = z.mean;
    e.tested_value = zv;
    e.history = z.have;
    auto [ql, qh] = passing(test);
    double zl = ql, zh = qh;
    if (spec.direction == history_direction::both) {
        zl = -std::fabs(qh);
        zh = std::fabs(qh);
    } else if (spec.direction == history_direction::drop) {
        zl = -qh;
        zh = -ql;
    }
    const auto at = [&](double zz) { return z.deviation > 0 ? z.mean + zz * z.deviation : z.mean; };
    double low = at(zl), high = at(zh);
    if (z.deviation == 0) {
        // Only the expectation itself passes (if a z of 0 does).
        if (!(zl <= 0 && 0 <= zh)) low = high = k_nan;
    }
    if (spec.min_change > 0) {
        low = std::isnan(low) ? z.mean - spec.min_change : std::min(low, z.mean - spec.min_change);
        high =
            std::isnan(high) ? z.mean + spec.min_change : std::max(high, z.mean + spec.min_change);
    }
    e.low = low;
    e.high = high;
    return j;
}

void history_series::insert(const history_model& m, history_series& s, time::timestamp_ns start,
                            double value, std::vector<double>& scratch) {
    const history_spec& spec = m.spec();
    if (spec.subject != history_subject::zscore) {
        if (spec.versus == 0) {
            if (s.newest == k_never || start >= s.newest) s.previous = value;
        } else {
            const auto slots = static_cast<time::timestamp_ns>(s.slot_start.size());
            const auto slot =
                static_cast<std::size_t>(floor_mod(floor_div(start, m.step()), slots));
            if (s.slot_start[slot] == k_never || s.slot_start[slot] <= start) {
                s.slot_start[slot] = start;
                s.slot_value[slot] = value;
            }
        }
    } else if (spec.season == seasonality::none) {
        ring& r = s.values;
        if (r.size == 0) s.shift = value;
        if (r.full()) {
            const double d = r.oldest() - s.shift;
            s.sum -= d;
            s.sum_sq -= d * d;
        }
        r.push(value);
        const double d = value - s.shift;
        s.sum += d;
        s.sum_sq += d * d;
        if (++s.since_recompute >= std::min<std::uint32_t>(k_recompute_every, r.capacity())) {
            s.recompute_sums();
        }
    } else {
        ring& b = s.buckets[bucket_of(spec.season, start)];
        if (b.size >= m.min_values_ && b.size > 0) {
            // The expectation this value's bucket had before it: its prediction error.
            double expected = 0;
            if (spec.robust) {
                for (std::uint32_t i = 0; i < b.size; ++i) scratch[i] = b.at(i);
                expected = median(scratch.data(), b.size);
            } else {
                double sum = 0;
                for (std::uint32_t i = 0; i < b.size; ++i) sum += b.at(i);
                expected = sum / b.size;
            }
            const double denom = seasonal_denominator(expected, s.scale);
            double err = denom > 0 ? (value - expected) / denom : 0.0;
            if (!std::isfinite(err)) err = 0;
            ring& er = s.errors;
            if (er.full()) s.error_sq -= er.oldest() * er.oldest();
            er.push(err);
            s.error_sq += err * err;
            if (++s.errors_since_recompute >= er.capacity()) s.recompute_errors();
            if (spec.robust && (er.size <= k_robust_always || ++s.robust_age >= k_robust_refresh ||
                                std::isnan(s.robust_rel))) {
                s.refresh_robust(scratch);
            }
        }
        const double mag = std::fabs(value);
        s.scale = s.newest == k_never && s.scale == 0 ? mag : s.scale + (mag - s.scale) / 64;
        b.push(value);
    }
    s.newest = s.newest == k_never ? start : std::max(s.newest, start);
}

void history_store::learn(std::string_view key, time::timestamp_ns window_start, double value,
                          bool anomalous, bool learn_anomalies) {
    history_series* s = find(key);
    if (s == nullptr) {
        if (series_.size() >= max_series_) return;
        auto made = std::make_unique<history_series>(model_);
        s = made.get();
        series_.emplace(std::string(key), std::move(made));
    }
    if (s->newest != k_never && window_start <= s->newest) return;
    if (anomalous && !learn_anomalies) {
        if (s->newest_held != k_never && window_start <= s->newest_held) return;
        if (s->held.size() >= k_max_held) s->held.erase(s->held.begin());
        s->held.push_back({window_start, value});
        s->newest_held = window_start;
        return;
    }
    history_series::insert(model_, *s, window_start, value, scratch_);
}

std::size_t history_store::reset(const std::string* key) {
    if (key == nullptr) {
        const std::size_t n = series_.size();
        series_.clear();
        return n;
    }
    return series_.erase(*key);
}

std::size_t history_store::acknowledge(const std::string* key) {
    std::size_t n = 0;
    const auto ack = [&](history_series& s) {
        for (const auto& h : s.held) history_series::insert(model_, s, h.start, h.value, scratch_);
        s.held.clear();
        s.newest_held = k_never;
        ++n;
    };
    if (key == nullptr) {
        for (auto& [k, s] : series_) ack(*s);
    } else if (auto* s = find(*key)) {
        ack(*s);
    }
    return n;
}

void history_store::prune(time::timestamp_ns window_start) {
    const history_spec& spec = model_.spec();
    const time::timestamp_ns step = model_.step();
    if (step <= 0) return;  // session windows: bounded by max_series alone
    time::timestamp_ns horizon = 0;
    if (spec.subject != history_subject::zscore) {
        horizon = spec.versus > 0 ? spec.versus : std::max<time::timestamp_ns>(k_day, 24 * step);
    } else if (spec.season == seasonality::none) {
        horizon = static_cast<time::timestamp_ns>(spec.last) * step;
    } else {
        horizon = static_cast<time::timestamp_ns>(spec.last) * season_period(spec.season);
    }
    for (auto it = series_.begin(); it != series_.end();) {
        const time::timestamp_ns last = it->second->last_activity();
        if (last == k_never || last < window_start - horizon) {
            it = series_.erase(it);
        } else {
            ++it;
        }
    }
}

std::size_t history_store::series() const {
    return series_.size();
}

std::size_t history_store::memory_bytes() const {
    // A hash node holds the key, the pointer and the bucket link.
    constexpr std::size_t node_overhead = sizeof(void*) * 2 + sizeof(std::size_t);
    std::size_t n = sizeof(*this) + scratch_.capacity() * sizeof(double) +
                    series_.bucket_count() * sizeof(void*);
    for (const auto& [k, s] : series_) {
        n += node_overhead + sizeof(std::string) + (k.size() > 15 ? k.capacity() + 1 : 0) +
             sizeof(std::unique_ptr<history_series>) + s->memory_bytes();
    }
    return n;
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
//
// version u8, identity str, series count; per series: key str, newest i64, newest_held i64,
// then by model: previous f64 | slots (count, start i64 + value f64, oldest first) | values
// (count, f64 oldest first) | scale f64, buckets (count, then per bucket count and f64s),
// errors (count, f64s); then held (count, start i64 + value f64).

namespace {

void write_ring(byte_writer& w, const ring& r) {
    w.varint(r.size);
    for (std::uint32_t i = 0; i < r.size; ++i) w.f64(r.at(i));
}

// Reads a ring's values into `r` (the newest kept when more than its capacity); returns how
// many were written. Non-finite values are corrupt (only finite values are learned).
std::size_t read_ring(byte_reader& r, ring& out) {
    const std::size_t n = r.count(8);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        const double v = r.f64();
        if (!std::isfinite(v)) {
            r.fail();
            return n;
        }
        if (out.capacity() > 0) out.push(v);
    }
    return n;
}

}  // namespace

void history_store::serialize(byte_writer& w) const {
    const history_spec& spec = model_.spec();
    w.u8(k_format_version);
    w.str(model_.identity());
    w.varint(series_.size());
    for (const auto& entry : series_) {
        const std::string& key = entry.first;
        const history_series* s = entry.second.get();
        w.str(key);
        w.i64(s->newest);
        w.i64(s->newest_held);
        if (spec.subject != history_subject::zscore) {
            if (spec.versus == 0) {
                w.f64(s->previous);
            } else {
                std::vector<std::size_t> order;
                for (std::size_t i = 0; i < s->slot_start.size(); ++i) {
                    if (s->slot_start[i] != k_never) order.push_back(i);
                }
                std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
                    return s->slot_start[a] < s->slot_start[b];
                });
                w.varint(order.size());
                for (const auto i : order) {
                    w.i64(s->slot_start[i]);
                    w.f64(s->slot_value[i]);
                }
            }
        } else if (spec.season == seasonality::none) {
            write_ring(w, s->values);
            // The running sums as they are, so a restored series judges bit for bit as the
            // one that was never stopped (sums recomputed from the values round differently).
            w.f64(s->shift);
            w.f64(s->sum);
            w.f64(s->sum_sq);
            w.varint(s->since_recompute);
        } else {
            w.f64(s->scale);
            w.varint(s->buckets.size());
            for (const auto& b : s->buckets) write_ring(w, b);
            write_ring(w, s->errors);
            w.f64(s->error_sq);
            w.varint(s->errors_since_recompute);
            w.f64(s->robust_rel);
            w.varint(s->robust_age);
        }
        w.varint(s->held.size());
        for (const auto& h : s->held) {
            w.i64(h.start);
            w.f64(h.value);
        }
    }
}

bool history_store::deserialize(byte_reader& r) {
    series_.clear();
    const history_spec& spec = model_.spec();
    const auto corrupt = [&] {
        r.fail();
        series_.clear();
        return false;
    };
    if (r.u8() != k_format_version || !r.ok()) return corrupt();
    if (r.str() != model_.identity() || !r.ok()) return corrupt();
    // A series takes at least a key length and two timestamps.
    const std::size_t count = r.count(17);
    for (std::size_t n = 0; n < count; ++n) {
        const std::string_view key = r.str();
        if (!r.ok() || series_.count(key) > 0) return corrupt();
        auto s = std::make_unique<history_series>(model_);
        s->newest = r.i64();
        s->newest_held = r.i64();
        if (spec.subject != history_subject::zscore) {
            if (spec.versus == 0) {
                s->previous = r.f64();
                if (!std::isfinite(s->previous)) return corrupt();
            } else {
                const std::size_t slots = r.count(16);
                const time::timestamp_ns newest = s->newest;
                s->newest = k_never;  // insert() restores it
                for (std::size_t i = 0; i < slots && r.ok(); ++i) {
                    const time::timestamp_ns start = r.i64();
                    const double v = r.f64();
                    if (!std::isfinite(v) || start > newest) return corrupt();
                    if (r.ok()) history_series::insert(model_, *s, start, v, scratch_);
                }
                if (s->newest == k_never) s->newest = newest;
            }
        } else if (spec.season == seasonality::none) {
            const std::size_t saved = read_ring(r, s->values);
            const double shift = r.f64();
            const double sum = r.f64();
            const double sum_sq = r.f64();
            const std::uint64_t since = r.varint();
            if (!std::isfinite(shift) || !std::isfinite(sum) || !std::isfinite(sum_sq)) {
                return corrupt();
            }
            if (saved == s->values.size && since < k_recompute_every) {
                s->shift = shift;
                s->sum = sum;
                s->sum_sq = sum_sq;
                s->since_recompute = static_cast<std::uint32_t>(since);
            } else {
                s->recompute_sums();  // another capacity: the newest values only
            }
        } else {
            s->scale = r.f64();
            if (!std::isfinite(s->scale) || s->scale < 0) return corrupt();
            const std::size_t buckets = r.count(1);
            if (!r.ok() || buckets != s->buckets.size()) return corrupt();
            for (auto& b : s->buckets) read_ring(r, b);
            const std::size_t saved = read_ring(r, s->errors);
            const double error_sq = r.f64();
            const std::uint64_t since = r.varint();
            if (!std::isfinite(error_sq) || error_sq < 0) return corrupt();
            if (saved == s->errors.size && since < s->errors.capacity()) {
                s->error_sq = error_sq;
                s->errors_since_recompute = static_cast<std::uint32_t>(since);
            } else {
                s->recompute_errors();
            }
            s->robust_rel = r.f64();
            s->robust_age = static_cast<std::uint32_t>(std::min<std::uint64_t>(r.varint(), ~0u));
            if (!(std::isnan(s->robust_rel) ||
                  (std::isfinite(s->robust_rel) && s->robust_rel >= 0)) ||
                s->robust_age >= k_robust_refresh) {
                return corrupt();
            }
            if (!spec.robust) {
                s->robust_rel = k_nan;
                s->robust_age = 0;
            } else if (std::isnan(s->robust_rel) && r.ok()) {
                s->refresh_robust(scratch_);
            }
        }
        const std::size_t held = r.count(16);
        for (std::size_t i = 0; i < held && r.ok(); ++i) {
            const time::timestamp_ns start = r.i64();
            const double v = r.f64();
            if (!std::isfinite(v) || (!s->held.empty() && start <= s->held.back().start)) {
                return corrupt();
            }
            if (s->held.size() >= k_max_held) s->held.erase(s->held.begin());
            s->held.push_back({start, v});
        }
        if (!r.ok()) return corrupt();
        if (series_.size() < max_series_) series_.emplace(std::string(key), std::move(s));
    }
    if (!r.ok()) return corrupt();
    return true;
}

}  // namespace weir::check
