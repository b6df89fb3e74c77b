// Compiling aggregate calls into a flat accumulator block, and the per-record switch over it.
#include "core/engine/aggregates.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <new>
#include <stdexcept>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/diag/assert.h"
#include "core/expr/ast.h"
#include "core/expr/program.h"
#include "core/expr/syntax.h"
#include "core/measure/approx.h"
#include "core/measure/basic.h"
#include "core/measure/distribution.h"
#include "core/measure/format.h"
#include "core/measure/frequency.h"
#include "core/measure/predicate.h"
#include "core/measure/reconcile.h"
#include "core/measure/relation.h"
#include "core/measure/sample.h"
#include "core/measure/sequence.h"
#include "core/params/value.h"
#include "core/window/window_spec.h"

namespace weir::engine {

namespace m = weir::measure;

namespace {

// Records of a window that violate the schema (invalid_count / invalid_fraction). `kept` of
// them (on_invalid: keep) also count as records, so the fraction counts them once.
struct invalid_acc {
    std::uint64_t n = 0;
    std::uint64_t kept = 0;
};

// The records a check filter matched: what the cell header is to the unfiltered measures.
struct records_acc {
    std::uint64_t n = 0;
    timestamp_ns newest = 0;  // when n > 0

    void add(timestamp_ns t) {
        newest = n == 0 || t > newest ? t : newest;
        ++n;
    }
    void merge(const records_acc& o) {
        if (o.n == 0) return;
        newest = n == 0 ? o.newest : std::max(newest, o.newest);
        n += o.n;
    }
};

template <class T>
T& at(std::byte* block, std::uint32_t offset) {
    return *std::launder(reinterpret_cast<T*>(block + offset));
}
template <class T>
const T& at(const std::byte* block, std::uint32_t offset) {
    return *std::launder(reinterpret_cast<const T*>(block + offset));
}

bool is_heap(acc_kind k) {
    return k >= acc_kind::frequency;
}

struct kind_shape {
    std::size_t size;
    std::size_t align;
};

kind_shape shape_of(acc_kind k) {
    switch (k) {
        case acc_kind::missing:
            return {sizeof(m::missing_acc), alignof(m::missing_acc)};
        case acc_kind::sum:
            return {sizeof(m::sum_acc), alignof(m::sum_acc)};
        case acc_kind::moments:
            return {sizeof(m::moments_acc), alignof(m::moments_acc)};
        case acc_kind::min:
            return {sizeof(m::min_acc), alignof(m::min_acc)};
        case acc_kind::max:
            return {sizeof(m::max_acc), alignof(m::max_acc)};
        case acc_kind::length:
            return {sizeof(m::length_acc), alignof(m::length_acc)};
        case acc_kind::max_delay:
            return {sizeof(m::max_delay_acc), alignof(m::max_delay_acc)};
        case acc_kind::in_range:
        case acc_kind::in_set:
        case acc_kind::matches:
        case acc_kind::format:
            return {sizeof(m::predicate_acc), alignof(m::predicate_acc)};
        case acc_kind::frozen:
            return {sizeof(m::frozen_acc), alignof(m::frozen_acc)};
        case acc_kind::ordered:
            return {sizeof(m::ordered_acc), alignof(m::ordered_acc)};
        case acc_kind::correlation:
            return {sizeof(m::correlation_acc), alignof(m::correlation_acc)};
        case acc_kind::invalid:
            return {sizeof(invalid_acc), alignof(invalid_acc)};
        case acc_kind::drift:
            return {sizeof(schema::drift_acc), alignof(schema::drift_acc)};
        case acc_kind::where:
            return {sizeof(m::predicate_acc), alignof(m::predicate_acc)};
        case acc_kind::records:
            return {sizeof(records_acc), alignof(records_acc)};
        case acc_kind::trend:
        case acc_kind::trend_time:
            return {sizeof(m::trend_acc), alignof(m::trend_acc)};
        case acc_kind::benford:
            return {sizeof(m::benford_acc), alignof(m::benford_acc)};
        case acc_kind::placeholders:
            return {sizeof(m::placeholder_acc), alignof(m::placeholder_acc)};
        case acc_kind::heavy_hitters:
            return {sizeof(m::heavy_hitters_acc), alignof(m::heavy_hitters_acc)};
        case acc_kind::reconcile:
            return {sizeof(m::reconcile_acc), alignof(m::reconcile_acc)};
        case acc_kind::digits:
            return {sizeof(m::digits_acc), alignof(m::digits_acc)};
        case acc_kind::rank_pairs:
            return {sizeof(m::rank_pairs_acc), alignof(m::rank_pairs_acc)};
        case acc_kind::category_pairs:
            return {sizeof(m::category_pairs_acc), alignof(m::category_pairs_acc)};
        case acc_kind::frequency:
        case acc_kind::composite:
            return {sizeof(m::frequency_acc), alignof(m::frequency_acc)};
        case acc_kind::mutual:
            return {sizeof(m::mutual_information_acc), alignof(m::mutual_information_acc)};
        case acc_kind::approx_distinct:
            return {sizeof(m::approx_distinct_acc), alignof(m::approx_distinct_acc)};
        case acc_kind::quantile:
            return {sizeof(m::quantile_acc), alignof(m::quantile_acc)};
        case acc_kind::event_order:
            return {sizeof(m::event_order_acc), alignof(m::event_order_acc)};
        case acc_kind::sample:
            return {sizeof(m::sample_acc), alignof(m::sample_acc)};
        case acc_kind::length_histogram:
            return {sizeof(m::length_histogram_acc), alignof(m::length_histogram_acc)};
        case acc_kind::above_mean:
            return {sizeof(m::above_mean_acc), alignof(m::above_mean_acc)};
    }
    return {8, 8};
}

static_assert(
    std::is_trivially_copyable_v<m::missing_acc> && std::is_trivially_copyable_v<m::sum_acc> &&
    std::is_trivially_copyable_v<m::moments_acc> && std::is_trivially_copyable_v<m::length_acc> &&
    std::is_trivially_copyable_v<m::correlation_acc> &&
    std::is_trivially_copyable_v<m::ordered_acc> && std::is_trivially_copyable_v<m::frozen_acc> &&
    std::is_trivially_copyable_v<m::predicate_acc> && std::is_trivially_copyable_v<records_acc> &&
    std::is_trivially_copyable_v<schema::drift_acc> && std::is_trivially_copyable_v<m::trend_acc> &&
    std::is_trivially_copyable_v<m::benford_acc> &&
    std::is_trivially_copyable_v<m::placeholder_acc>);
static_assert(alignof(m::frequency_acc) <= 8 && alignof(m::quantile_acc) <= 8 &&
              alignof(m::approx_distinct_acc) <= 8 && alignof(m::mutual_information_acc) <= 8 &&
              alignof(m::length_histogram_acc) <= 8 && alignof(m::above_mean_acc) <= 8 &&
              alignof(m::digits_acc) <= 8 && alignof(m::rank_pairs_acc) <= 8 &&
              alignof(m::category_pairs_acc) <= 8 && alignof(m::heavy_hitters_acc) <= 8 &&
              alignof(m::reconcile_acc) <= 8 && alignof(m::event_order_acc) <= 8);

// Construct a trivially copyable accumulator in the prototype.
void construct_trivial(acc_kind k, std::byte* p) {
    switch (k) {
        case acc_kind::missing:
            new (p) m::missing_acc();
            break;
        case acc_kind::sum:
            new (p) m::sum_acc();
            break;
        case acc_kind::moments:
            new (p) m::moments_acc();
            break;
        case acc_kind::min:
            new (p) m::min_acc();
            break;
        case acc_kind::max:
            new (p) m::max_acc();
            break;
        case acc_kind::length:
            new (p) m::length_acc();
            break;
        case acc_kind::max_delay:
            new (p) m::max_delay_acc();
            break;
        case acc_kind::in_range:
        case acc_kind::in_set:
        case acc_kind::matches:
        case acc_kind::where:
        case acc_kind::format:
            new (p) m::predicate_acc();
            break;
        case acc_kind::records:
            new (p) records_acc();
            break;
        case acc_kind::frozen:
            new (p) m::frozen_acc();
            break;
        case acc_kind::ordered:
            new (p) m::ordered_acc();
            break;
        case acc_kind::correlation:
            new (p) m::correlation_acc();
            break;
        case acc_kind::invalid:
            new (p) invalid_acc();
            break;
        case acc_kind::drift:
            new (p) schema::drift_acc();
            break;
        case acc_kind::trend:
        case acc_kind::trend_time:
            new (p) m::trend_acc();
            break;
        case acc_kind::benford:
            new (p) m::benford_acc();
            break;
        case acc_kind::placeholders:
            new (p) m::placeholder_acc();
            break;
        default:
            break;
    }
}

std::string_view kind_name(acc_kind k) {
    switch (k) {
        case acc_kind::missing:
            return "missing";
        case acc_kind::sum:
            return "sum";
        case acc_kind::moments:
            return "moments";
        case acc_kind::min:
            return "min";
        case acc_kind::max:
            return "max";
        case acc_kind::length:
            return "length";
        case acc_kind::max_delay:
            return "max_delay";
        case acc_kind::in_range:
            return "in_range";
        case acc_kind::in_set:
            return "in_set";
        case acc_kind::matches:
            return "matches";
        case acc_kind::frozen:
            return "frozen";
        case acc_kind::ordered:
            return "ordered";
        case acc_kind::correlation:
            return "correlation";
        case acc_kind::invalid:
            return "invalid";
        case acc_kind::drift:
            return "drift";
        case acc_kind::where:
            return "where";
        case acc_kind::records:
            return "records";
        case acc_kind::format:
            return "format";
        case acc_kind::trend:
            return "trend";
        case acc_kind::trend_time:
            return "trend_time";
        case acc_kind::benford:
            return "benford";
        case acc_kind::placeholders:
            return "placeholders";
        case acc_kind::heavy_hitters:
            return "heavy_hitters";
        case acc_kind::reconcile:
            return "reconcile";
        case acc_kind::digits:
            return "digits";
        case acc_kind::rank_pairs:
            return "rank_pairs";
        case acc_kind::category_pairs:
            return "category_pairs";
        case acc_kind::frequency:
            return "frequency";
        case acc_kind::composite:
            return "composite";
        case acc_kind::mutual:
            return "mutual";
        case acc_kind::approx_distinct:
            return "approx_distinct";
        case acc_kind::quantile:
            // Not "quantile": checkpoints of the state before it kept exact values are refused,
            // not misread.
            return "quantiles";
        case acc_kind::event_order:
            return "event_order";
        case acc_kind::sample:
            return "sample";
        case acc_kind::length_histogram:
            return "length_histogram";
        case acc_kind::above_mean:
            return "above_mean";
    }
    return "?";
}

// reconcile(): the right side's input (the left one is the accumulator's origin), and both
// names for the result.
struct reconcile_config {
    std::uint32_t right = 0;
    std::string left_name;
    std::string right_name;
};

// What a sample accumulator tests per record: the predicate of its check's function.
struct sample_config {
    enum class test : std::uint8_t { missing, present, in_range, in_set, matches, where };
    test what = test::missing;
    std::shared_ptr<const void> predicate;  // the *_config of the test (none for where)
    std::uint32_t slot = 0;                 // the field; where: the condition's index
    std::uint32_t limit = 0;
    std::vector<m::sample_field> fields;  // shown in each sample
    // A fraction over every record (`records`): a missing value counts against it too.
    bool of_records = false;
};

// The fields of a composite key (duplicate_count(a, b)), in the call's order: at most as many
// as a call has arguments.
constexpr std::size_t k_max_key_fields = 8;
static_assert(std::tuple_size_v<decltype(m::function_info::args)> <= k_max_key_fields);
struct composite_config {
    std::vector<std::uint32_t> slots;
    m::frequency_config frequency;
};

measure_value number_or_null(std::optional<double> v) {
    return v ? measure_value::make_number(*v) : measure_value::make_null();
}

}  // namespace

enum class aggregate_layout::result_fn : std::uint8_t {
    count_all,
    count_present,
    missing_count,
    missing_fraction,
    sum,
    mean,
    variance,
    std_dev,
    variance_pop,
    std_dev_pop,
    min,
    max,
    median,
    percentile,
    distinct_count,
    distinct_fraction,
    unique_count,
    duplicate_count,
    duplicate_fraction,
    entropy,
    mutual_information,
    approx_quantile,
    // present values without the format (the format acc counts those with it)
    format_invalid_count,
    format_invalid_fraction,
    most_frequent,
    most_frequent_count,
    approx_distinct_count,
    predicate_count,
    predicate_fraction,
    // in_*_fraction, matches_fraction and distinct_fraction with the `records` keyword
    predicate_fraction_of_records,
    distinct_fraction_of_records,
    min_length,
    max_length,
    mean_length,
    is_frozen,
    ordered_fraction,
    ordered_fraction_by_event_time,
    correlation,
    freshness,
    max_delay,
    rate,
    invalid_count,
    invalid_fraction,
    new_fields,
    missing_fields,
    type_changes,
    where_count,
    where_fraction,
    // count(), rate() and freshness() of a check filter's records
    filtered_count,
    filtered_rate,
    filtered_freshness,
    window_duration,
    input_lag,
    input_lag_seconds,
    median_length,
    above_mean_count,
    above_mean_fraction,
    trend,
    digits_min,
    digits_max,
    digits_mean,
    digits_median,
    benford_deviation,
    spearman_correlation,
    kendall_correlation,
    cramers_v,
    placeholder_count,
    placeholder_fraction,
    // reconcile(): keys missing on either side, on the left, on the right, matched
    reconcile_missing,
    reconcile_missing_left,
    reconcile_missing_right,
    reconcile_matched,
    most_frequent_in_range,
    most_frequent_in_set,
    heavy_hitters,
};

std::uint32_t aggregate_layout::condition_index(const std::string& canonical, std::string_view text,
                                                const std::vector<field_path>& fields) {
    for (std::uint32_t i = 0; i < conditions_.size(); ++i) {
        if (conditions_[i].key == canonical) return i;
    }
    expr::compile_options options;
    options.expected = expr::value_type::boolean;
    options.resolve = [&](const field_path& p) -> std::optional<std::uint32_t> {
        const auto it = std::find(fields.begin(), fields.end(), p);
        if (it == fields.end()) return std::nullopt;
        return static_cast<std::uint32_t>(it - fields.begin());
    };
    auto compiled = expr::compile(text, options);
    if (!compiled) {
        throw std::invalid_argument("condition " + std::string(text) + ": " +
                                    compiled.error().message);
    }
    conditions_.push_back({canonical, std::make_shared<const expr::program>(std::move(*compiled))});
    truth_.resize(conditions_.size());
    return static_cast<std::uint32_t>(conditions_.size() - 1);
}

namespace {

// The word a call gives (or its default) at the keyword position of its function whose words
// include `member` ("records" finds the denominator's); "" when the function has none.
std::string_view call_word(const m::aggregate_call& c, std::string_view member) {
    const std::size_t position = c.function->keyword_position(member);
    if (position >= c.function->max_args) return {};
    return c.word(position);
}

m::sequence_order sequence_order_of(std::string_view word) {
    if (word == "strictly_ascending") return m::sequence_order::strictly_ascending;
    if (word == "descending") return m::sequence_order::descending;
    if (word == "strictly_descending") return m::sequence_order::strictly_descending;
    return m::sequence_order::ascending;
}

std::vector<layout_call> unfiltered(std::span<const m::aggregate_call* const> calls) {
    std::vector<layout_call> out;
    for (const auto* c : calls) out.push_back({c, {}});
    return out;
}

// The canonical text of a check filter (throws on one that does not parse).
std::string canonical_filter(std::string_view filter) {
    const auto tree = expr::parse_expression(filter);
    if (!tree) {
        throw std::invalid_argument("filter " + std::string(filter) + ": " + tree.error().message);
    }
    return expr::canonical_text(*tree);
}

// The placeholders of missing_count/missing_fraction(f, [...]) in `config`, and their
// part of the state key: strings sorted, as plans before numeric placeholders spelled it (so
// their checkpoints resume), then numbers and booleans after a unit separator, which no
// placeholder text holds.
std::string placeholders_of(const std::vector<measure_value>& list, m::missing_config& config) {
    for (const auto& v : list) {
        if (v.kind == measure_kind::string) config.placeholders.push_back(v.text);
        if (v.kind == measure_kind::number) config.numbers.push_back(v.number == 0 ? 0 : v.number);
        if (v.kind == measure_kind::boolean)
            (v.boolean ? config.has_true : config.has_false) = true;
    }
    std::sort(config.placeholders.begin(), config.placeholders.end());
    std::sort(config.numbers.begin(), config.numbers.end());
    config.numbers.erase(std::unique(config.numbers.begin(), config.numbers.end()),
                         config.numbers.end());
    std::string key;
    for (const auto& p : config.placeholders) key += ", " + p;
    const std::string typed = ", \x1f";
    for (const double d : config.numbers) key += typed + format_number(d);
    if (config.has_false) key += typed + "false";
    if (config.has_true) key += typed + "true";
    return key;
}

}  // namespace

aggregate_layout::aggregate_layout(std::span<const m::aggregate_call* const> calls,
                                   const std::vector<field_path>& fields)
    : aggregate_layout(std::span<const layout_call>(unfiltered(calls)), fields) {}

bool supports_samples(std::string_view fn, std::size_t args) {
    return (fn == "count" && args == 1) || fn == "missing_count" || fn == "missing_fraction" ||
           fn == "missing_percent" || fn == "in_range_count" || fn == "in_range_fraction" ||
           fn == "in_set_count" || fn == "in_set_fraction" || fn == "matches_count" ||
           fn == "matches_fraction" || fn == "count_where" || fn == "fraction_where";
}

bool samples_counted_by_default(std::string_view fn) {
    return fn == "missing_count" || fn == "missing_fraction" || fn == "missing_percent" ||
           fn == "count_where" || fn == "fraction_where";
}

std::uint32_t aggregate_layout::add_sample_acc(const layout_call& lc, std::uint32_t filter,
                                               const std::string& suffix,
                                               const std::vector<field_path>& fields) {
    const m::aggregate_call& c = *lc.call;
    const std::string_view fn = c.function->name;
    if (!supports_samples(fn, c.args.size())) {
        throw std::invalid_argument("samples: " + std::string(fn) +
                                    "() has no records that count against it");
    }
    if (lc.samples > m::k_max_samples) {
        throw std::invalid_argument("samples: at most " + std::to_string(m::k_max_samples));
    }
    const auto slot_of = [&](const field_path& f) -> std::uint32_t {
        const auto it = std::find(fields.begin(), fields.end(), f);
        if (it == fields.end()) {
            throw std::invalid_argument("the field " + f.to_string() +
                                        " is not among the node's record fields");
        }
        return static_cast<std::uint32_t>(it - fields.begin());
    };
    const auto shown = [&](const field_path& f) {
        const std::string name = f.to_string();
        return m::sample_field{name, slot_of(f), params::names_a_secret(name)};
    };
    auto cfg = std::make_shared<sample_config>();
    cfg->limit = lc.samples;
    using t = sample_config::test;
    if (fn == "count_where" || fn == "fraction_where") {
        const m::call_argument& a = c.args.at(0);
        cfg->what = t::where;
        cfg->slot = condition_index(a.condition, a.expression, fields);
        for (const auto& f : a.condition_fields) {
            if (std::none_of(cfg->fields.begin(), cfg->fields.end(),
                             [&](const m::sample_field& s) { return s.name == f.to_string(); })) {
                cfg->fields.push_back(shown(f));
            }
        }
    } else {
        cfg->slot = slot_of(c.args.at(0).field);
        cfg->fields.push_back(shown(c.args.at(0).field));
        if (fn == "count" || fn.starts_with("missing_")) {
            cfg->what = fn == "count" ? t::present : t::missing;
            auto mc = std::make_shared<m::missing_config>();
            if (c.args.size() > 1) placeholders_of(c.args[1].list, *mc);
            cfg->predicate = std::move(mc);
        } else if (fn.starts_with("in_range")) {
            cfg->what = t::in_range;
            auto r = std::make_shared<m::in_range_config>();
            r->lo = c.args.at(1).number;
            r->hi = c.args.at(2).number;
            cfg->predicate = std::move(r);
        } else if (fn.starts_with("in_set")) {
            cfg->what = t::in_set;
            auto set = std::make_shared<m::in_set_config>();
            for (const auto& v : c.args.at(1).list) {
                if (v.kind == measure_kind::number) set->add_number(v.number);
                if (v.kind == measure_kind::string) set->add_string(v.text);
                if (v.kind == measure_kind::boolean) set->add_boolean(v.boolean);
            }
            set->finish();
            cfg->predicate = std::move(set);
        } else {
            cfg->what = t::matches;
            std::string error;
            cfg->predicate = m::matches_config::compile(c.args.at(1).pattern, &error,
                                                        call_word(c, "search") == "search");
            if (!cfg->predicate)
                throw std::invalid_argument("invalid regular expression: " + error);
        }
    }
    cfg->of_records = call_word(c, "records") == "records";
    const std::string key = "sample(" + c.key + ", " + std::to_string(lc.samples) + ")" + suffix;
    const std::uint32_t slot = cfg->slot;
    return find_or_add_acc(acc_kind::sample, key, slot, 0, std::move(cfg), filter, lc.origin);
}

std::size_t aggregate_layout::call_index(std::string_view filter, const std::string& key) const {
    const std::string full = filter.empty() ? key : key + " if " + canonical_filter(filter);
    for (std::size_t i = 0; i < call_keys_.size(); ++i) {
        if (call_keys_[i] == full) return i;
    }
    throw std::invalid_argument("unknown aggregate call " + full);
}

aggregate_layout::aggregate_layout(std::span<const layout_call> calls,
                                   const std::vector<field_path>& fields,
                                   std::uint32_t exact_quantile_limit) {
    const auto slot_of = [&](const m::call_argument& a) -> std::uint32_t {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (fields[i] == a.field) return static_cast<std::uint32_t>(i);
        }
        throw std::invalid_argument("the field " + a.field.to_string() +
                                    " is not among the node's record fields");
    };
    // most_frequent needs the values themselves; the frequency table of that field keeps them.
    std::vector<std::uint32_t> keep_values;
    for (const auto& lc : calls) {
        if (lc.call->function->name.starts_with("most_frequent_in_") ||
            lc.call->function->name == "most_frequent") {
            keep_values.push_back(slot_of(lc.call->args.at(0)));
        }
    }

    struct spec {
        acc_kind kind;
        std::uint32_t slot;
        std::uint32_t slot2;
        std::shared_ptr<const void> config;
    };
    input_samples_.assign(calls.size(), k_unused);
    for (std::size_t input = 0; input < calls.size(); ++input) {
        const layout_call& lc = calls[input];
        const m::aggregate_call* c = lc.call;
        // A check filter: its state is kept apart from the same call's over every record.
        std::uint32_t filter = k_unused;
        std::string suffix;
        if (!lc.filter.empty()) {
            filter = condition_index(canonical_filter(lc.filter), lc.filter, fields);
            suffix = " if " + conditions_[filter].key;
        }
        // A call bound to an input: its key as written (`sum(orders.amount)`) tells it apart
        // from the same call over every record; its state keys say which input they count.
        const std::string call_key = c->key + suffix;
        const std::uint32_t origin = lc.origin;
        if (origin != k_unused) {
            if (c->source.empty()) {
                throw std::invalid_argument(c->key + " is bound to an input it does not name");
            }
            suffix = " from " + c->source + suffix;
        }
        if (lc.samples > 0) input_samples_[input] = add_sample_acc(lc, filter, suffix, fields);
        if (std::find(call_keys_.begin(), call_keys_.end(), call_key) != call_keys_.end()) {
            continue;
        }
        const std::string_view fn = c->function->name;
        const auto field_key = [&](std::size_t i) { return c->args.at(i).field.to_string(); };
        call_entry ce{};
        const auto acc = [&](acc_kind k, std::string key, std::uint32_t slot = 0,
                             std::uint32_t slot2 = 0, std::shared_ptr<const void> cfg = nullptr) {
            ce.acc = find_or_add_acc(k, std::string(kind_name(k)) + "(" + key + ")" + suffix, slot,
                                     slot2, std::move(cfg), filter, origin);
        };
        const auto missing_state = [&] {
            auto cfg = std::make_shared<m::missing_config>();
            std::string key = field_key(0);
            if (c->args.size() > 1) key += placeholders_of(c->args[1].list, *cfg);
            acc(acc_kind::missing, key, slot_of(c->args[0]), 0, std::move(cfg));
        };
        const auto frequency_state = [&] {
            auto cfg = std::make_shared<m::frequency_config>();
            const std::uint32_t slot = slot_of(c->args[0]);
            cfg->keep_values =
                std::find(keep_values.begin(), keep_values.end(), slot) != keep_values.end();
            acc(acc_kind::frequency, field_key(0), slot, 0, std::move(cfg));
        };
        // `records` (the denominator keyword of the fractions): every record, counted by the
        // cell header, or under a check filter by the filter's records_acc.
        const bool of_records = call_word(*c, "records") == "records";
        const auto records_state = [&] {
            if (filter == k_unused && origin == k_unused) return;
            ce.records = find_or_add_acc(acc_kind::records,
                                         std::string(kind_name(acc_kind::records)) + "()" + suffix,
                                         0, 0, nullptr, filter, origin);
        };
        const auto predicate_state = [&](acc_kind k) {
            // The call key minus the function name identifies field and parameters; the
            // denominator (the last keyword) does not change what is counted.
            std::string args = c->key.substr(c->key.find('('));
            if (of_records && args.ends_with(", records)")) {
                args.replace(args.size() - std::string_view(", records)").size(),
                             std::string_view::npos, ")");
            }
            std::shared_ptr<const void> cfg;
            if (k == acc_kind::in_range) {
                auto r = std::make_shared<m::in_range_config>();
                r->lo = c->args.at(1).number;
                r->hi = c->args.at(2).number;
                cfg = std::move(r);
            } else if (k == acc_kind::in_set) {
                auto s = std::make_shared<m::in_set_config>();
                for (const auto& v : c->args.at(1).list) {
                    if (v.kind == measure_kind::number) s->add_number(v.number);
                    if (v.kind == measure_kind::string) s->add_string(v.text);
                    if (v.kind == measure_kind::boolean) s->add_boolean(v.boolean);
                }
                s->finish();
                cfg = std::move(s);
            } else {
                std::string error;
                cfg = m::matches_config::compile(c->args.at(1).pattern, &error,
                                                 call_word(*c, "search") == "search");
                if (!cfg) throw std::invalid_argument("invalid regular expression: " + error);
            }
            acc(k, args, slot_of(c->args[0]), 0, std::move(cfg));
            if (of_records) records_state();
        };
        using rf = result_fn;
        if (fn == "count") {
            if (c->args.empty() && (filter != k_unused || origin != k_unused)) {
                ce.fn = rf::filtered_count;
                acc(acc_kind::records, "");
            } else if (c->args.empty()) {
                ce.fn = rf::count_all;
            } else {
                ce.fn = rf::count_present;
                missing_state();
            }
        } else if (fn == "missing_count" || fn == "missing_fraction" || fn == "missing_percent") {
            ce.fn = fn == "missing_count" ? rf::missing_count : rf::missing_fraction;
            ce.percent = fn == "missing_percent";
            missing_state();
        } else if (fn == "sum" || fn == "mean") {
            ce.fn = fn == "sum" ? rf::sum : rf::mean;
            acc(acc_kind::sum, field_key(0), slot_of(c->args[0]));
        } else if (fn == "variance" || fn == "std_dev" || fn == "variance_pop" ||
                   fn == "std_dev_pop") {
            ce.fn = fn == "variance"       ? rf::variance
                    : fn == "std_dev"      ? rf::std_dev
                    : fn == "variance_pop" ? rf::variance_pop
                                           : rf::std_dev_pop;
            acc(acc_kind::moments, field_key(0), slot_of(c->args[0]));
        } else if (fn == "min" || fn == "max") {
            ce.fn = fn == "min" ? rf::min : rf::max;
            acc(fn == "min" ? acc_kind::min : acc_kind::max, field_key(0), slot_of(c->args[0]));
        } else if (fn == "median" || fn == "percentile") {
            ce.fn = fn == "median" ? rf::median : rf::percentile;
            ce.param = fn == "median" ? 0.5 : c->args.at(1).number;
            ce.method = c->word(fn == "median" ? 1 : 2) == "nearest" ? m::quantile_method::nearest
                                                                     : m::quantile_method::linear;
            acc(acc_kind::quantile, field_key(0), slot_of(c->args[0]), exact_quantile_limit);
        } else if (fn == "approx_quantile") {
            // Always the sketch's answer: an accumulator of its own whose exact limit is 0.
            ce.fn = rf::approx_quantile;
            ce.param = c->args.at(1).number;
            ce.method = m::quantile_method::nearest;
            acc(acc_kind::quantile, field_key(0) + "; sketch", slot_of(c->args[0]), 0);
        } else if (fn.starts_with("duplicate_") && c->args.size() > 1) {
            // A composite key: one table of tuple hashes, shared by count, fraction and percent.
            ce.fn = fn == "duplicate_count" ? rf::duplicate_count : rf::duplicate_fraction;
            ce.percent = fn == "duplicate_percent";
            auto cfg = std::make_shared<composite_config>();
            std::string key;
            for (std::size_t i = 0; i < c->args.size(); ++i) {
                cfg->slots.push_back(slot_of(c->args[i]));
                key += (i > 0 ? ", " : "") + field_key(i);
            }
            const std::uint32_t first = cfg->slots.front();
            acc(acc_kind::composite, key, first, 0, std::move(cfg));
        } else if (fn == "mutual_information") {
            ce.fn = rf::mutual_information;
            acc(acc_kind::mutual, field_key(0) + ", " + field_key(1), slot_of(c->args[0]),
                slot_of(c->args[1]), std::make_shared<m::frequency_config>());
        } else if (fn == "distinct_count" || fn == "distinct_fraction" || fn == "unique_count" ||
                   fn == "duplicate_count" || fn == "duplicate_fraction" ||
                   fn == "duplicate_percent" || fn == "entropy" || fn == "most_frequent" ||
                   fn == "most_frequent_count") {
            ce.fn = fn == "distinct_count" ? rf::distinct_count
                    : fn == "distinct_fraction"
                        ? (of_records ? rf::distinct_fraction_of_records : rf::distinct_fraction)
                    : fn == "unique_count"        ? rf::unique_count
                    : fn == "duplicate_count"     ? rf::duplicate_count
                    : fn == "entropy"             ? rf::entropy
                    : fn == "most_frequent"       ? rf::most_frequent
                    : fn == "most_frequent_count" ? rf::most_frequent_count
                                                  : rf::duplicate_fraction;
            ce.percent = fn == "duplicate_percent";
            frequency_state();
            if (of_records) records_state();
        } else if (fn == "approx_distinct_count") {
            ce.fn = rf::approx_distinct_count;
            acc(acc_kind::approx_distinct, field_key(0), slot_of(c->args[0]));
        } else if (fn == "in_range_count" || fn == "in_range_fraction") {
            ce.fn = fn.ends_with("count") ? rf::predicate_count
                    : of_records          ? rf::predicate_fraction_of_records
                                          : rf::predicate_fraction;
            predicate_state(acc_kind::in_range);
        } else if (fn == "in_set_count" || fn == "in_set_fraction") {
            ce.fn = fn.ends_with("count") ? rf::predicate_count
                    : of_records          ? rf::predicate_fraction_of_records
                                          : rf::predicate_fraction;
            predicate_state(acc_kind::in_set);
        } else if (fn == "matches_count" || fn == "matches_fraction") {
            ce.fn = fn.ends_with("count") ? rf::predicate_count
                    : of_records          ? rf::predicate_fraction_of_records
                                          : rf::predicate_fraction;
            predicate_state(acc_kind::matches);
        } else if (fn == "min_length" || fn == "max_length" || fn == "mean_length") {
            ce.fn = fn == "min_length"   ? rf::min_length
                    : fn == "max_length" ? rf::max_length
                                         : rf::mean_length;
            acc(acc_kind::length, field_key(0), slot_of(c->args[0]));
        } else if (fn == "is_frozen") {
            ce.fn = rf::is_frozen;
            acc(acc_kind::frozen, field_key(0), slot_of(c->args[0]));
        } else if (fn == "ordered_fraction") {
            // The order is the accumulator's config; the default's state key is the one it
            // always had, so checkpoints of ordered_fraction(f) still restore.
            const std::string_view order = call_word(*c, "descending");
            const bool by_event_time = call_word(*c, "event_time") == "event_time";
            auto cfg = std::make_shared<m::sequence_order>(sequence_order_of(order));
            std::string key = field_key(0);
            if (!order.empty() && order != "ascending") key += ", " + std::string(order);
            ce.fn = by_event_time ? rf::ordered_fraction_by_event_time : rf::ordered_fraction;
            acc(by_event_time ? acc_kind::event_order : acc_kind::ordered, key, slot_of(c->args[0]),
                0, std::move(cfg));
        } else if (fn == "correlation") {
            ce.fn = rf::correlation;
            acc(acc_kind::correlation, field_key(0) + ", " + field_key(1), slot_of(c->args[0]),
                slot_of(c->args[1]));
        } else if (fn == "window_duration") {
            ce.fn = rf::window_duration;
        } else if (fn == "input_lag" || fn == "input_lag_seconds") {
            ce.fn = fn == "input_lag" ? rf::input_lag : rf::input_lag_seconds;
        } else if (fn == "median_length") {
            ce.fn = rf::median_length;
            acc(acc_kind::length_histogram, field_key(0), slot_of(c->args[0]));
        } else if (fn == "above_mean_count" || fn == "above_mean_fraction") {
            ce.fn = fn == "above_mean_count" ? rf::above_mean_count : rf::above_mean_fraction;
            acc(acc_kind::above_mean, field_key(0), slot_of(c->args[0]));
        } else if (fn == "trend") {
            ce.fn = rf::trend;
            if (c->args.size() == 2) {
                acc(acc_kind::trend, field_key(0) + ", " + field_key(1), slot_of(c->args[0]),
                    slot_of(c->args[1]));
            } else {
                acc(acc_kind::trend_time, field_key(0), slot_of(c->args[0]));
            }
        } else if (fn.ends_with("_int_digits") || fn.ends_with("_frac_digits")) {
            // param: 0 for the integer part, 1 for the fractional part
            ce.fn = fn.starts_with("min_")    ? rf::digits_min
                    : fn.starts_with("max_")  ? rf::digits_max
                    : fn.starts_with("mean_") ? rf::digits_mean
                                              : rf::digits_median;
            ce.param = fn.ends_with("_frac_digits") ? 1 : 0;
            acc(acc_kind::digits, field_key(0), slot_of(c->args[0]));
        } else if (fn == "spearman_correlation" || fn == "kendall_correlation") {
            ce.fn =
                fn == "spearman_correlation" ? rf::spearman_correlation : rf::kendall_correlation;
            acc(acc_kind::rank_pairs, field_key(0) + ", " + field_key(1), slot_of(c->args[0]),
                slot_of(c->args[1]));
        } else if (fn == "cramers_v") {
            ce.fn = rf::cramers_v;
            acc(acc_kind::category_pairs, field_key(0) + ", " + field_key(1), slot_of(c->args[0]),
                slot_of(c->args[1]));
        } else if (fn == "distinct_placeholder_count" || fn == "distinct_placeholder_fraction") {
            ce.fn = fn.ends_with("count") ? rf::placeholder_count : rf::placeholder_fraction;
            const auto& list = c->args.at(1).list;
            if (list.empty() || list.size() > m::k_max_placeholders) {
                throw std::invalid_argument(std::string(fn) + "() takes 1 to " +
                                            std::to_string(m::k_max_placeholders) +
                                            " placeholders");
            }
            // The call key minus the function name identifies field and list.
            acc(acc_kind::placeholders, c->key.substr(c->key.find('(')), slot_of(c->args[0]), 0,
                std::make_shared<std::vector<measure_value>>(list));
        } else if (fn == "most_frequent_in_range" || fn == "most_frequent_in_set") {
            if (fn == "most_frequent_in_range") {
                ce.fn = rf::most_frequent_in_range;
                auto r = std::make_shared<m::in_range_config>();
                r->lo = c->args.at(1).number;
                r->hi = c->args.at(2).number;
                ce.config = r.get();
                configs_.push_back(std::move(r));
            } else {
                ce.fn = rf::most_frequent_in_set;
                auto list = std::make_shared<std::vector<measure_value>>(c->args.at(1).list);
                ce.config = list.get();
                configs_.push_back(std::move(list));
            }
            frequency_state();
        } else if (fn == "heavy_hitters") {
            ce.fn = rf::heavy_hitters;
            auto cfg = std::make_shared<m::heavy_hitters_config>();
            cfg->phi = c->args.at(1).number;
            if (!(cfg->phi > 0 && cfg->phi < 1)) {
                throw std::invalid_argument(
                    "heavy_hitters(): phi must be between 0 and 1, "
                    "both excluded");
            }
            cfg->k = static_cast<std::size_t>(std::ceil(2 / cfg->phi));
            acc(acc_kind::heavy_hitters, c->key.substr(c->key.find('(')), slot_of(c->args[0]), 0,
                std::move(cfg));
        } else if (fn == "reconcile") {
            if (origin == k_unused || lc.other == k_unused || c->other.empty()) {
                throw std::invalid_argument(
                    "reconcile() compares the keys of two inputs of a node that reads several: "
                    "reconcile(<input>.<key>, <other input>.<key>)");
            }
            const std::string_view what = c->word(2);
            ce.fn = what == "missing_left"    ? rf::reconcile_missing_left
                    : what == "missing_right" ? rf::reconcile_missing_right
                    : what == "matched"       ? rf::reconcile_matched
                                              : rf::reconcile_missing;
            ce.param = c->word(3) == "fraction" ? 1 : 0;
            auto cfg = std::make_shared<reconcile_config>();
            cfg->right = lc.other;
            cfg->left_name = c->source;
            cfg->right_name = c->other;
            // One state per pair of keys, whatever the call reports of it.
            acc(acc_kind::reconcile, field_key(0) + ", " + c->other + "." + field_key(1),
                slot_of(c->args[0]), slot_of(c->args[1]), std::move(cfg));
        } else if (fn == "benford_deviation") {
            ce.fn = rf::benford_deviation;
            acc(acc_kind::benford, field_key(0), slot_of(c->args[0]));
        } else if (fn == "freshness") {
            const bool own = filter != k_unused || origin != k_unused;
            ce.fn = own ? rf::filtered_freshness : rf::freshness;
            if (own) acc(acc_kind::records, "");
        } else if (fn == "max_delay") {
            ce.fn = rf::max_delay;
            acc(acc_kind::max_delay, "");
        } else if (fn == "rate") {
            const bool own = filter != k_unused || origin != k_unused;
            ce.fn = own ? rf::filtered_rate : rf::rate;
            if (own) acc(acc_kind::records, "");
        } else if (fn == "count_where" || fn == "fraction_where") {
            ce.fn = fn == "count_where" ? rf::where_count : rf::where_fraction;
            const m::call_argument& a = c->args.at(0);
            const std::uint32_t cond = condition_index(a.condition, a.expression, fields);
            acc(acc_kind::where, a.condition, cond);
        } else if (fn == "valid_count" || fn == "valid_fraction" ||
                   (fn.starts_with("invalid_") && !c->args.empty())) {
            // valid_* and invalid_* of one field and format share one count of valid values.
            const m::format_info* format = m::find_format(c->word(1));
            if (format == nullptr) {
                throw std::invalid_argument(std::string(fn) + "() needs a format");
            }
            ce.fn = fn == "valid_count"      ? rf::predicate_count
                    : fn == "valid_fraction" ? rf::predicate_fraction
                    : fn == "invalid_count"  ? rf::format_invalid_count
                                             : rf::format_invalid_fraction;
            ce.percent = fn == "invalid_percent";
            auto cfg = std::make_shared<m::format_config>();
            cfg->format = format->format;
            acc(acc_kind::format, field_key(0) + ", " + std::string(format->name),
                slot_of(c->args[0]), 0, std::move(cfg));
        } else if (filter != k_unused && (fn == "invalid_count" || fn == "invalid_fraction")) {
            throw std::invalid_argument(std::string(fn) +
                                        "() counts the records the schema rejected, which a "
                                        "check filter does not see");
        } else if (fn == "invalid_count" || fn == "invalid_fraction") {
            ce.fn = fn == "invalid_count" ? rf::invalid_count : rf::invalid_fraction;
            acc(acc_kind::invalid, "");
            uses_invalid_ = true;
        } else if (fn == "new_fields" || fn == "missing_fields" || fn == "type_changes") {
            ce.fn = fn == "new_fields"       ? rf::new_fields
                    : fn == "missing_fields" ? rf::missing_fields
                                             : rf::type_changes;
            m::call_argument drift;
            drift.field = schema::drift_field();
            acc(acc_kind::drift, "", slot_of(drift));
            uses_drift_ = true;
        } else {
            throw std::invalid_argument("no accumulator for " + std::string(fn) + "()");
        }
        call_keys_.push_back(call_key);
        calls_.push_back(ce);
    }

    // Trivially copyable kinds first, so a block starts as one memcpy of the prototype.
    std::vector<std::uint32_t> order(accs_.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_partition(order.begin(), order.end(),
                          [&](std::uint32_t i) { return !is_heap(accs_[i].kind); });
    std::vector<std::uint32_t> new_index(accs_.size());
    std::vector<acc_entry> sorted;
    std::vector<std::string> sorted_keys;
    for (std::uint32_t i = 0; i < order.size(); ++i) {
        new_index[order[i]] = i;
        sorted.push_back(accs_[order[i]]);
        sorted_keys.push_back(state_keys_[order[i]]);
    }
    accs_ = std::move(sorted);
    state_keys_ = std::move(sorted_keys);
    for (auto& ce : calls_) {
        if (!accs_.empty() && ce.acc < new_index.size()) ce.acc = new_index[ce.acc];
        if (ce.records != k_unused) ce.records = new_index[ce.records];
    }
    for (auto& a : input_samples_) {
        if (a != k_unused) a = new_index[a];
    }

    // Where each accumulator goes in the block: in accs_ order (which the fingerprint and the
    // serialised state follow), except that the in_range ones of a field (and filter and
    // input) sit one after another where the first of them would, so that compile_steps' one
    // step over all their bounds walks a plain array.
    std::vector<std::uint32_t> placement;
    placement.reserve(accs_.size());
    {
        std::vector<bool> placed(accs_.size(), false);
        for (std::uint32_t i = 0; i < accs_.size(); ++i) {
            if (placed[i]) continue;
            const acc_entry& e = accs_[i];
            if (e.kind != acc_kind::in_range) {
                placement.push_back(i);
                continue;
            }
            for (std::uint32_t j = i; j < accs_.size(); ++j) {
                if (one_range_step(e, accs_[j])) {
                    placement.push_back(j);
                    placed[j] = true;
                }
            }
        }
    }
    std::size_t offset = sizeof(cell_header);
    trivial_bytes_ = offset;
    hot_bytes_ = offset;
    for (const std::uint32_t i : placement) {
        const kind_shape s = shape_of(accs_[i].kind);
        offset = (offset + s.align - 1) / s.align * s.align;
        accs_[i].offset = static_cast<std::uint32_t>(offset);
        hot_bytes_ = offset + (accs_[i].kind == acc_kind::frequency
                                   ? s.size - m::frequency_acc::inline_slot_bytes()
                                   : s.size);
        offset += s.size;
        if (is_heap(accs_[i].kind)) {
            heap_accs_.push_back(i);
            const acc_kind k = accs_[i].kind;
            if (k == acc_kind::approx_distinct || k == acc_kind::quantile ||
                k == acc_kind::frequency) {
                prefetched_accs_.push_back(i);
            }
        } else {
            trivial_bytes_ = offset;
        }
    }
    block_bytes_ = (offset + 7) / 8 * 8;
    prototype_ = std::make_unique<std::byte[]>(trivial_bytes_);
    new (prototype_.get()) cell_header();
    for (const auto& e : accs_) {
        if (!is_heap(e.kind)) construct_trivial(e.kind, prototype_.get() + e.offset);
    }
    fingerprint_ = "v1";
    for (const auto& k : state_keys_) fingerprint_ += ";" + k;
    compile_steps();
}

bool aggregate_layout::one_range_step(const acc_entry& a, const acc_entry& b) {
    return a.kind == acc_kind::in_range && b.kind == acc_kind::in_range && a.slot == b.slot &&
           a.filter == b.filter && a.origin == b.origin;
}

void aggregate_layout::compile_steps() {
    // Steps are per (field, check filter): records a filter did not match skip its steps.
    // And per input, for calls bound to one.
    const auto numbers_step = [&](const acc_entry& e) -> add_step& {
        for (auto& s : steps_) {
            if (s.kind == step_kind::numbers && s.slot == e.slot && s.filter == e.filter &&
                s.origin == e.origin) {
                return s;
            }
        }
        add_step& s = steps_.emplace_back();
        s.kind = step_kind::numbers;
        s.slot = e.slot;
        s.filter = e.filter;
        s.origin = e.origin;
        return s;
    };
    std::vector<std::uint32_t> range_firsts;  // the first in_range acc of each range step
    for (std::uint32_t i = 0; i < accs_.size(); ++i) {
        const acc_entry& e = accs_[i];
        switch (e.kind) {
            case acc_kind::sum:
                numbers_step(e).sum = e.offset;
                break;
            case acc_kind::moments:
                numbers_step(e).moments = e.offset;
                break;
            case acc_kind::min:
                numbers_step(e).min = e.offset;
                break;
            case acc_kind::max:
                numbers_step(e).max = e.offset;
                break;
            case acc_kind::in_range:
                if (std::none_of(range_firsts.begin(), range_firsts.end(),
                                 [&](std::uint32_t f) { return one_range_step(accs_[f], e); })) {
                    range_firsts.push_back(i);
                }
                break;
            case acc_kind::invalid:
                break;  // add_invalid() only
            case acc_kind::reconcile: {
                // A step per side, each bound to its input.
                const auto& cfg = *static_cast<const reconcile_config*>(e.config);
                for (const bool left : {true, false}) {
                    add_step& s = steps_.emplace_back();
                    s.kind = left ? step_kind::reconcile_left : step_kind::reconcile_right;
                    s.acc = i;
                    s.slot = left ? e.slot : e.slot2;
                    s.filter = e.filter;
                    s.origin = left ? e.origin : cfg.right;
                }
                break;
            }
            default: {
                add_step& s = steps_.emplace_back();
                s.kind = e.kind == acc_kind::where    ? step_kind::where
                         : e.kind == acc_kind::sample ? step_kind::sample
                                                      : step_kind::single;
                s.acc = i;
                s.slot = e.slot;
                s.filter = e.filter;
                s.origin = e.origin;
                break;
            }
        }
    }
    for (const std::uint32_t f : range_firsts) {
        add_step& s = steps_.emplace_back();
        s.kind = step_kind::in_range;
        s.slot = accs_[f].slot;
        s.filter = accs_[f].filter;
        s.origin = accs_[f].origin;
        s.first = static_cast<std::uint32_t>(range_lo_.size());
        for (const acc_entry& e : accs_) {
            if (!one_range_step(accs_[f], e)) continue;
            const auto& c = *static_cast<const m::in_range_config*>(e.config);
            if (range_lo_.size() == s.first) s.acc = e.offset;
            // The constructor placed them one after another, in this order.
            WEIR_ASSERT(e.offset == s.acc + (range_lo_.size() - s.first) * sizeof(m::predicate_acc),
                        "in_range accumulators are not one after another");
            range_lo_.push_back(c.lo);
            range_hi_.push_back(c.hi);
        }
        s.last = static_cast<std::uint32_t>(range_lo_.size());
    }
    const auto bound = std::stable_partition(
        steps_.begin(), steps_.end(), [](const add_step& s) { return s.origin == k_unused; });
    for (auto it = bound; it != steps_.end(); ++it) {
        if (origin_steps_.size() <= it->origin) origin_steps_.resize(it->origin + 1);
        origin_steps_[it->origin].push_back(*it);
    }
    steps_.erase(bound, steps_.end());
    const auto filtered = std::stable_partition(
        steps_.begin(), steps_.end(), [](const add_step& s) { return s.filter == k_unused; });
    filtered_steps_.assign(filtered, steps_.end());
    steps_.erase(filtered, steps_.end());
}

aggregate_layout::~aggregate_layout() = default;

std::uint32_t aggregate_layout::find_or_add_acc(acc_kind kind, const std::string& state_key,
                                                std::uint32_t slot, std::uint32_t slot2,
                                                std::shared_ptr<const void> config,
                                                std::uint32_t filter, std::uint32_t origin) {
    for (std::uint32_t i = 0; i < state_keys_.size(); ++i) {
        if (state_keys_[i] == state_key) return i;
    }
    acc_entry e{kind, slot, slot2, 0, config.get(), filter, origin};
    if (config) configs_.push_back(std::move(config));
    accs_.push_back(e);
    state_keys_.push_back(state_key);
    return static_cast<std::uint32_t>(accs_.size() - 1);
}

void aggregate_layout::prefetch_heap(const std::byte* block,
                                     std::span<const field_value> record) const {
    for (const std::uint32_t i : prefetched_accs_) {
        const acc_entry& e = accs_[i];
        switch (e.kind) {
            case acc_kind::approx_distinct:
                at<m::approx_distinct_acc>(block, e.offset).prefetch();
                break;
            case acc_kind::quantile:
                at<m::quantile_acc>(block, e.offset).prefetch();
                break;
            case acc_kind::frequency:
                if (e.slot < record.size()) {
                    at<m::frequency_acc>(block, e.offset).prefetch(record[e.slot]);
                }
                break;
            default:
                break;
        }
    }
}

void aggregate_layout::construct(std::byte* block) const {
    std::memcpy(block, prototype_.get(), trivial_bytes_);
    for (const std::uint32_t i : heap_accs_) {
        std::byte* p = block + accs_[i].offset;
        switch (accs_[i].kind) {
            case acc_kind::frequency:
            case acc_kind::composite:
                new (p) m::frequency_acc();
                break;
            case acc_kind::mutual:
                new (p) m::mutual_information_acc();
                break;
            case acc_kind::approx_distinct:
                new (p) m::approx_distinct_acc();
                break;
            case acc_kind::quantile:
                new (p) m::quantile_acc(accs_[i].slot2);
                break;
            case acc_kind::event_order:
                new (p) m::event_order_acc();
                break;
            case acc_kind::sample:
                new (p) m::sample_acc();
                break;
            case acc_kind::length_histogram:
                new (p) m::length_histogram_acc();
                break;
            case acc_kind::above_mean:
                new (p) m::above_mean_acc();
                break;
            case acc_kind::digits:
                new (p) m::digits_acc();
                break;
            case acc_kind::rank_pairs:
                new (p) m::rank_pairs_acc();
                break;
            case acc_kind::category_pairs:
                new (p) m::category_pairs_acc();
                break;
            case acc_kind::heavy_hitters:
                new (p) m::heavy_hitters_acc();
                break;
            case acc_kind::reconcile:
                new (p) m::reconcile_acc();
                break;
            default:
                break;
        }
    }
}

void aggregate_layout::destroy(std::byte* block) const {
    for (const std::uint32_t i : heap_accs_) {
        const std::uint32_t off = accs_[i].offset;
        switch (accs_[i].kind) {
            case acc_kind::frequency:
            case acc_kind::composite:
                at<m::frequency_acc>(block, off).~frequency_acc();
                break;
            case acc_kind::mutual:
                at<m::mutual_information_acc>(block, off).~mutual_information_acc();
                break;
            case acc_kind::approx_distinct:
                at<m::approx_distinct_acc>(block, off).~approx_distinct_acc();
                break;
            case acc_kind::quantile:
                at<m::quantile_acc>(block, off).~quantile_acc();
                break;
            case acc_kind::event_order:
                at<m::event_order_acc>(block, off).~event_order_acc();
                break;
            case acc_kind::sample:
                at<m::sample_acc>(block, off).~sample_acc();
                break;
            case acc_kind::length_histogram:
                at<m::length_histogram_acc>(block, off).~length_histogram_acc();
                break;
            case acc_kind::above_mean:
                at<m::above_mean_acc>(block, off).~above_mean_acc();
                break;
            case acc_kind::digits:
                at<m::digits_acc>(block, off).~digits_acc();
                break;
            case acc_kind::rank_pairs:
                at<m::rank_pairs_acc>(block, off).~rank_pairs_acc();
                break;
            case acc_kind::category_pairs:
                at<m::category_pairs_acc>(block, off).~category_pairs_acc();
                break;
            case acc_kind::heavy_hitters:
                at<m::heavy_hitters_acc>(block, off).~heavy_hitters_acc();
                break;
            case acc_kind::reconcile:
                at<m::reconcile_acc>(block, off).~reconcile_acc();
                break;
            default:
                break;
        }
    }
}

void aggregate_layout::reset(std::byte* block) const {
    destroy(block);
    construct(block);
}

namespace {

inline void add_one(acc_kind kind, std::uint32_t off, std::uint32_t slot, std::uint32_t slot2,
                    const void* config, std::byte* block, std::span<const field_value> record,
                    timestamp_ns event_time, timestamp_ns arrival_time) {
    switch (kind) {
        case acc_kind::missing:
            at<m::missing_acc>(block, off)
                .add(record[slot], *static_cast<const m::missing_config*>(config));
            break;
        case acc_kind::sum:
            at<m::sum_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::moments:
            at<m::moments_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::min:
            at<m::min_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::max:
            at<m::max_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::length:
            at<m::length_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::max_delay:
            at<m::max_delay_acc>(block, off).add(arrival_time, event_time);
            break;
        case acc_kind::in_range:
            at<m::predicate_acc>(block, off)
                .add(record[slot], *static_cast<const m::in_range_config*>(config));
            break;
        case acc_kind::in_set:
            at<m::predicate_acc>(block, off)
                .add(record[slot], *static_cast<const m::in_set_config*>(config));
            break;
        case acc_kind::matches:
            at<m::predicate_acc>(block, off)
                .add(record[slot], *static_cast<const m::matches_config*>(config));
            break;
        case acc_kind::format:
            at<m::predicate_acc>(block, off)
                .add(record[slot], *static_cast<const m::format_config*>(config));
            break;
        case acc_kind::frozen:
            at<m::frozen_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::ordered:
            at<m::ordered_acc>(block, off)
                .add(record[slot], *static_cast<const m::sequence_order*>(config));
            break;
        case acc_kind::event_order:
            at<m::event_order_acc>(block, off).add(record[slot], event_time);
            break;
        case acc_kind::correlation:
            at<m::correlation_acc>(block, off).add(record[slot], record[slot2]);
            break;
        case acc_kind::invalid:
        case acc_kind::where:  // a step of its own
        case acc_kind::sample:
            break;
        case acc_kind::records:
            at<records_acc>(block, off).add(event_time);
            break;
        case acc_kind::drift:
            if (record[slot].is_string())
                at<schema::drift_acc>(block, off).add(record[slot].string());
            break;
        case acc_kind::frequency:
            at<m::frequency_acc>(block, off)
                .add(record[slot], *static_cast<const m::frequency_config*>(config));
            break;
        case acc_kind::composite: {
            const auto& c = *static_cast<const composite_config*>(config);
            std::array<const field_value*, k_max_key_fields> values{};
            for (std::size_t i = 0; i < c.slots.size(); ++i) values[i] = &record[c.slots[i]];
            if (const auto h = m::key_hash(std::span(values.data(), c.slots.size()))) {
                at<m::frequency_acc>(block, off).add_hash(*h, c.frequency);
            }
            break;
        }
        case acc_kind::mutual:
            at<m::mutual_information_acc>(block, off)
                .add(record[slot], record[slot2], *static_cast<const m::frequency_config*>(config));
            break;
        case acc_kind::approx_distinct:
            at<m::approx_distinct_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::quantile:
            at<m::quantile_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::trend:
            at<m::trend_acc>(block, off).add(record[slot], record[slot2]);
            break;
        case acc_kind::trend_time:
            at<m::trend_acc>(block, off).add(record[slot], event_time);
            break;
        case acc_kind::length_histogram:
            at<m::length_histogram_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::above_mean:
            at<m::above_mean_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::benford:
            at<m::benford_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::digits:
            at<m::digits_acc>(block, off).add(record[slot]);
            break;
        case acc_kind::rank_pairs:
            at<m::rank_pairs_acc>(block, off).add(record[slot], record[slot2]);
            break;
        case acc_kind::category_pairs:
            at<m::category_pairs_acc>(block, off).add(record[slot], record[slot2]);
            break;
        case acc_kind::placeholders:
            at<m::placeholder_acc>(block, off)
                .add(record[slot], *static_cast<const std::vector<measure_value>*>(config));
            break;
        case acc_kind::heavy_hitters:
            at<m::heavy_hitters_acc>(block, off)
                .add(record[slot], *static_cast<const m::heavy_hitters_config*>(config));
            break;
        case acc_kind::reconcile:
            break;  // steps of their own: one per side (step_kind::reconcile_*)
    }
}

// predicate_acc::add with in_range_config::test for n bounds of one value, their
// accumulators one after another at `accs`: two bounds at a time where SSE2 is (x86-64).
void add_in_range(double x, std::byte* accs, const double* lo, const double* hi, std::uint32_t n) {
    static_assert(sizeof(m::predicate_acc) == 2 * sizeof(std::uint64_t));
    std::uint32_t b = 0;
#if defined(__SSE2__)
    const __m128d xs = _mm_set1_pd(x);
    const __m128i ones = _mm_set1_epi64x(1);
    for (; b + 2 <= n; b += 2) {
        // All ones where lo <= x <= hi; NaN compares false, as in in_range_config::test.
        const __m128d in = _mm_and_pd(_mm_cmple_pd(_mm_loadu_pd(lo + b), xs),
                                      _mm_cmple_pd(xs, _mm_loadu_pd(hi + b)));
        const __m128i hit = _mm_and_si128(_mm_castpd_si128(in), ones);
        // Each bound's (present, hits) gains (1, hit).
        auto* pair = reinterpret_cast<__m128i*>(accs + b * sizeof(m::predicate_acc));
        _mm_storeu_si128(pair, _mm_add_epi64(_mm_loadu_si128(pair), _mm_unpacklo_epi64(ones, hit)));
        _mm_storeu_si128(pair + 1,
                         _mm_add_epi64(_mm_loadu_si128(pair + 1), _mm_unpackhi_epi64(ones, hit)));
    }
#endif
    for (; b < n; ++b) {
        auto& a = at<m::predicate_acc>(accs, b * std::uint32_t{sizeof(m::predicate_acc)});
        ++a.present;
        // Both comparisons, no short circuit: a branch here is a coin flip per bound.
        a.hits += static_cast<std::uint64_t>(x >= lo[b]) & static_cast<std::uint64_t>(x <= hi[b]);
    }
}

#if defined(__x86_64__)
// The same four bounds at a time, where the processor has AVX2.
[[gnu::target("avx2")]] void add_in_range_avx2(double x, std::byte* accs, const double* lo,
                                               const double* hi, std::uint32_t n) {
    const __m256d xs = _mm256_set1_pd(x);
    const __m256i ones = _mm256_set1_epi64x(1);
    std::uint32_t b = 0;
    for (; b + 4 <= n; b += 4) {
        // Ordered, quiet comparisons: NaN is never in range.
        const __m256d in = _mm256_and_pd(_mm256_cmp_pd(_mm256_loadu_pd(lo + b), xs, _CMP_LE_OQ),
                                         _mm256_cmp_pd(xs, _mm256_loadu_pd(hi + b), _CMP_LE_OQ));
        const __m256i hit = _mm256_and_si256(_mm256_castpd_si256(in), ones);
        // Per 128-bit half: (1, hit of bound 0 | 2) and (1, hit of bound 1 | 3).
        const __m256i even = _mm256_unpacklo_epi64(ones, hit);
        const __m256i odd = _mm256_unpackhi_epi64(ones, hit);
        auto* quad = reinterpret_cast<__m256i*>(accs + b * sizeof(m::predicate_acc));
        _mm256_storeu_si256(quad, _mm256_add_epi64(_mm256_loadu_si256(quad),
                                                   _mm256_permute2x128_si256(even, odd, 0x20)));
        _mm256_storeu_si256(quad + 1, _mm256_add_epi64(_mm256_loadu_si256(quad + 1),
                                                       _mm256_permute2x128_si256(even, odd, 0x31)));
    }
    _mm256_zeroupper();  // before SSE code
    add_in_range(x, accs + b * sizeof(m::predicate_acc), lo + b, hi + b, n - b);
}
#endif

using add_in_range_fn = void (*)(double, std::byte*, const double*, const double*, std::uint32_t);

// add_in_range or the fastest variant this processor runs, chosen once.
add_in_range_fn pick_add_in_range() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return add_in_range_avx2;
#endif
    return add_in_range;
}

const add_in_range_fn add_in_range_here = pick_add_in_range();

}  // namespace

void aggregate_layout::test_conditions(std::span<const field_value> record,
                                       timestamp_ns arrival_time) const {
    const expr::eval_context ctx{static_cast<double>(arrival_time) * 1e-9};
    for (std::size_t i = 0; i < conditions_.size(); ++i) {
        truth_[i] = conditions_[i].program->test(record, arena_, ctx) ? 1 : 0;
    }
    if (arena_.used() != 0) arena_.reset();
}

void aggregate_layout::run_step(const add_step& s, std::byte* block,
                                std::span<const field_value> record, timestamp_ns event_time,
                                timestamp_ns arrival_time) const {
    switch (s.kind) {
        case step_kind::single: {
            const acc_entry& e = accs_[s.acc];
            add_one(e.kind, e.offset, e.slot, e.slot2, e.config, block, record, event_time,
                    arrival_time);
            break;
        }
        case step_kind::numbers: {
            double x;
            if (!m::finite_number(record[s.slot], x)) break;
            if (s.sum != k_unused) at<m::sum_acc>(block, s.sum).add_number(x);
            if (s.moments != k_unused) at<m::moments_acc>(block, s.moments).add_number(x);
            if (s.min != k_unused) {
                auto& a = at<m::min_acc>(block, s.min);
                a.value = std::min(a.value, x);
            }
            if (s.max != k_unused) {
                auto& a = at<m::max_acc>(block, s.max);
                a.value = std::max(a.value, x);
            }
            break;
        }
        case step_kind::in_range: {
            // predicate_acc::add with in_range_config::test, for every bound at once.
            const field_value& v = record[s.slot];
            if (v.missing()) break;
            if (v.kind != value_kind::number) {
                auto* a = &at<m::predicate_acc>(block, s.acc);
                for (std::uint32_t b = 0; b < s.last - s.first; ++b) ++a[b].present;
                break;
            }
            add_in_range_here(v.number, block + s.acc, range_lo_.data() + s.first,
                              range_hi_.data() + s.first, s.last - s.first);
            break;
        }
        case step_kind::where: {
            auto& a = at<m::predicate_acc>(block, accs_[s.acc].offset);
            ++a.present;
            a.hits += truth_[s.slot];
            break;
        }
        case step_kind::sample:
            add_sample(s, block, record, event_time);
            break;
        case step_kind::reconcile_left:
        case step_kind::reconcile_right:
            at<m::reconcile_acc>(block, accs_[s.acc].offset)
                .add(record[s.slot],
                     s.kind == step_kind::reconcile_left ? m::reconcile_acc::k_left
                                                         : m::reconcile_acc::k_right,
                     key_scratch_);
            break;
    }
}

void aggregate_layout::add_sample(const add_step& s, std::byte* block,
                                  std::span<const field_value> record,
                                  timestamp_ns event_time) const {
    const acc_entry& e = accs_[s.acc];
    auto& acc = at<m::sample_acc>(block, e.offset);
    const auto& cfg = *static_cast<const sample_config*>(e.config);
    if (acc.full(cfg.limit)) return;  // once both sides are full, a record costs this test
    const field_value& v = record[cfg.slot];
    bool counted = false;
    using t = sample_config::test;
    switch (cfg.what) {
        case t::missing:
        case t::present: {
            bool missing = v.missing();
            if (!missing) {
                missing =
                    static_cast<const m::missing_config*>(cfg.predicate.get())->is_placeholder(v);
            }
            counted = cfg.what == t::missing ? missing : !missing;
            break;
        }
        // A missing value is neither counted nor in the denominator, unless that is `records`.
        case t::in_range:
            if (v.missing() && !cfg.of_records) return;
            counted = static_cast<const m::in_range_config*>(cfg.predicate.get())->test(v);
            break;
        case t::in_set:
            if (v.missing() && !cfg.of_records) return;
            counted =
                !v.missing() && static_cast<const m::in_set_config*>(cfg.predicate.get())->test(v);
            break;
        case t::matches:
            if (v.missing() && !cfg.of_records) return;
            counted =
                !v.missing() && static_cast<const m::matches_config*>(cfg.predicate.get())->test(v);
            break;
        case t::where:
            counted = truth_[cfg.slot] != 0;
            break;
    }
    acc.add(counted, record, cfg.fields, event_time, cfg.limit);
}

void aggregate_layout::set_empty_is_missing(bool missing) {
    if (missing == empty_is_missing_) return;
    empty_is_missing_ = missing;
    // A checkpoint of the other definition holds other counts: it must not restore here.
    if (!missing) {
        fingerprint_ += ";empty_present";
    } else {
        fingerprint_.erase(fingerprint_.rfind(";empty_present"));
    }
}

void aggregate_layout::add(std::byte* block, std::span<const field_value> record,
                           timestamp_ns event_time, timestamp_ns arrival_time,
                           std::uint32_t origin) const {
    if (!empty_is_missing_) [[unlikely]] {
        // One copy per record, only in such nodes: every measure then sees the same mark.
        marked_.assign(record.begin(), record.end());
        for (field_value& v : marked_) v.empty_present = v.kind == value_kind::string;
        record = marked_;
    }
    auto* h = header(block);
    h->newest = h->records == 0 || event_time > h->newest ? event_time : h->newest;
    ++h->records;
    if (origin < origin_steps_.size()) [[unlikely]] {
        add_origin(block, record, event_time, arrival_time, origin);
        return;
    }
    if (!conditions_.empty()) [[unlikely]] {
        add_with_conditions(block, record, event_time, arrival_time);
        return;
    }
    for (const add_step& s : steps_) run_step(s, block, record, event_time, arrival_time);
}

void aggregate_layout::add_origin(std::byte* block, std::span<const field_value> record,
                                  timestamp_ns event_time, timestamp_ns arrival_time,
                                  std::uint32_t origin) const {
    if (conditions_.empty()) {
        for (const add_step& s : steps_) run_step(s, block, record, event_time, arrival_time);
        for (const add_step& s : origin_steps_[origin]) {
            run_step(s, block, record, event_time, arrival_time);
        }
        return;
    }
    add_with_conditions(block, record, event_time, arrival_time);
    for (const add_step& s : origin_steps_[origin]) {
        if (s.filter == k_unused || truth_[s.filter] != 0) {
            run_step(s, block, record, event_time, arrival_time);
        }
    }
}

void aggregate_layout::add_with_conditions(std::byte* block, std::span<const field_value> record,
                                           timestamp_ns event_time,
                                           timestamp_ns arrival_time) const {
    test_conditions(record, arrival_time);
    for (const add_step& s : steps_) run_step(s, block, record, event_time, arrival_time);
    for (const add_step& s : filtered_steps_) {
        if (truth_[s.filter] != 0) run_step(s, block, record, event_time, arrival_time);
    }
}

void aggregate_layout::add_invalid(std::byte* block, bool kept) const {
    for (const acc_entry& e : accs_) {
        if (e.kind != acc_kind::invalid) continue;
        auto& acc = at<invalid_acc>(block, e.offset);
        ++acc.n;
        acc.kept += kept ? 1 : 0;
    }
}

void aggregate_layout::merge(std::byte* into, const std::byte* from) const {
    auto* hi = header(into);
    const auto* hf = header(from);
    if (hf->records > 0) {
        hi->newest = hi->records == 0 ? hf->newest : std::max(hi->newest, hf->newest);
        hi->records += hf->records;
    }
    for (const acc_entry& e : accs_) {
        const std::uint32_t off = e.offset;
        switch (e.kind) {
            case acc_kind::missing:
                at<m::missing_acc>(into, off).merge(at<m::missing_acc>(from, off));
                break;
            case acc_kind::sum:
                at<m::sum_acc>(into, off).merge(at<m::sum_acc>(from, off));
                break;
            case acc_kind::moments:
                at<m::moments_acc>(into, off).merge(at<m::moments_acc>(from, off));
                break;
            case acc_kind::min:
                at<m::min_acc>(into, off).merge(at<m::min_acc>(from, off));
                break;
            case acc_kind::max:
                at<m::max_acc>(into, off).merge(at<m::max_acc>(from, off));
                break;
            case acc_kind::length:
                at<m::length_acc>(into, off).merge(at<m::length_acc>(from, off));
                break;
            case acc_kind::max_delay:
                at<m::max_delay_acc>(into, off).merge(at<m::max_delay_acc>(from, off));
                break;
            case acc_kind::in_range:
            case acc_kind::in_set:
            case acc_kind::matches:
            case acc_kind::where:
            case acc_kind::format:
                at<m::predicate_acc>(into, off).merge(at<m::predicate_acc>(from, off));
                break;
            case acc_kind::records:
                at<records_acc>(into, off).merge(at<records_acc>(from, off));
                break;
            case acc_kind::frozen:
                at<m::frozen_acc>(into, off).merge(at<m::frozen_acc>(from, off));
                break;
            case acc_kind::ordered:
                at<m::ordered_acc>(into, off).merge(
                    at<m::ordered_acc>(from, off),
                    *static_cast<const m::sequence_order*>(e.config));
                break;
            case acc_kind::correlation:
                at<m::correlation_acc>(into, off).merge(at<m::correlation_acc>(from, off));
                break;
            case acc_kind::invalid:
                at<invalid_acc>(into, off).n += at<invalid_acc>(from, off).n;
                at<invalid_acc>(into, off).kept += at<invalid_acc>(from, off).kept;
                break;
            case acc_kind::drift:
                at<schema::drift_acc>(into, off).merge(at<schema::drift_acc>(from, off));
                break;
            case acc_kind::frequency:
                at<m::frequency_acc>(into, off).merge(
                    at<m::frequency_acc>(from, off),
                    *static_cast<const m::frequency_config*>(e.config));
                break;
            case acc_kind::composite:
                at<m::frequency_acc>(into, off).merge(
                    at<m::frequency_acc>(from, off),
                    static_cast<const composite_config*>(e.config)->frequency);
                break;
            case acc_kind::mutual:
                at<m::mutual_information_acc>(into, off).merge(
                    at<m::mutual_information_acc>(from, off),
                    *static_cast<const m::frequency_config*>(e.config));
                break;
            case acc_kind::approx_distinct:
                at<m::approx_distinct_acc>(into, off).merge(at<m::approx_distinct_acc>(from, off));
                break;
            case acc_kind::quantile:
                at<m::quantile_acc>(into, off).merge(at<m::quantile_acc>(from, off));
                break;
            case acc_kind::event_order:
                at<m::event_order_acc>(into, off).merge(at<m::event_order_acc>(from, off));
                break;
            case acc_kind::sample:
                at<m::sample_acc>(into, off).merge(
                    at<m::sample_acc>(from, off),
                    static_cast<const sample_config*>(e.config)->limit);
                break;
            case acc_kind::trend:
            case acc_kind::trend_time:
                at<m::trend_acc>(into, off).merge(at<m::trend_acc>(from, off));
                break;
            case acc_kind::length_histogram:
                at<m::length_histogram_acc>(into, off).merge(
                    at<m::length_histogram_acc>(from, off));
                break;
            case acc_kind::above_mean:
                at<m::above_mean_acc>(into, off).merge(at<m::above_mean_acc>(from, off));
                break;
            case acc_kind::benford:
                at<m::benford_acc>(into, off).merge(at<m::benford_acc>(from, off));
                break;
            case acc_kind::digits:
                at<m::digits_acc>(into, off).merge(at<m::digits_acc>(from, off));
                break;
            case acc_kind::rank_pairs:
                at<m::rank_pairs_acc>(into, off).merge(at<m::rank_pairs_acc>(from, off));
                break;
            case acc_kind::category_pairs:
                at<m::category_pairs_acc>(into, off).merge(at<m::category_pairs_acc>(from, off));
                break;
            case acc_kind::placeholders:
                at<m::placeholder_acc>(into, off).merge(at<m::placeholder_acc>(from, off));
                break;
            case acc_kind::heavy_hitters:
                at<m::heavy_hitters_acc>(into, off).merge(
                    at<m::heavy_hitters_acc>(from, off),
                    *static_cast<const m::heavy_hitters_config*>(e.config));
                break;
            case acc_kind::reconcile:
                at<m::reconcile_acc>(into, off).merge(at<m::reconcile_acc>(from, off));
                break;
        }
    }
}

void aggregate_layout::serialize(const std::byte* block, byte_writer& w) const {
    const auto* h = header(block);
    w.varint(h->records);
    w.i64(h->newest);
    for (const acc_entry& e : accs_) {
        const std::uint32_t off = e.offset;
        switch (e.kind) {
            case acc_kind::missing:
                at<m::missing_acc>(block, off).serialize(w);
                break;
            case acc_kind::sum:
                at<m::sum_acc>(block, off).serialize(w);
                break;
            case acc_kind::moments:
                at<m::moments_acc>(block, off).serialize(w);
                break;
            case acc_kind::min:
                at<m::min_acc>(block, off).serialize(w);
                break;
            case acc_kind::max:
                at<m::max_acc>(block, off).serialize(w);
                break;
            case acc_kind::length:
                at<m::length_acc>(block, off).serialize(w);
                break;
            case acc_kind::max_delay:
                at<m::max_delay_acc>(block, off).serialize(w);
                break;
            case acc_kind::in_range:
            case acc_kind::in_set:
            case acc_kind::matches:
            case acc_kind::where:
            case acc_kind::format:
                at<m::predicate_acc>(block, off).serialize(w);
                break;
            case acc_kind::records:
                w.varint(at<records_acc>(block, off).n);
                w.i64(at<records_acc>(block, off).newest);
                break;
            case acc_kind::frozen:
                at<m::frozen_acc>(block, off).serialize(w);
                break;
            case acc_kind::ordered:
                at<m::ordered_acc>(block, off).serialize(w);
                break;
            case acc_kind::correlation:
                at<m::correlation_acc>(block, off).serialize(w);
                break;
            case acc_kind::invalid:
                w.varint(at<invalid_acc>(block, off).n);
                w.varint(at<invalid_acc>(block, off).kept);
                break;
            case acc_kind::drift:
                at<schema::drift_acc>(block, off).serialize(w);
                break;
            case acc_kind::frequency:
            case acc_kind::composite:
                at<m::frequency_acc>(block, off).serialize(w);
                break;
            case acc_kind::mutual:
                at<m::mutual_information_acc>(block, off).serialize(w);
                break;
            case acc_kind::approx_distinct:
                at<m::approx_distinct_acc>(block, off).serialize(w);
                break;
            case acc_kind::quantile:
                at<m::quantile_acc>(block, off).serialize(w);
                break;
            case acc_kind::event_order:
                at<m::event_order_acc>(block, off).serialize(w);
                break;
            case acc_kind::sample:
                at<m::sample_acc>(block, off).serialize(w);
                break;
            case acc_kind::trend:
            case acc_kind::trend_time:
                at<m::trend_acc>(block, off).serialize(w);
                break;
            case acc_kind::length_histogram:
                at<m::length_histogram_acc>(block, off).serialize(w);
                break;
            case acc_kind::above_mean:
                at<m::above_mean_acc>(block, off).serialize(w);
                break;
            case acc_kind::benford:
                at<m::benford_acc>(block, off).serialize(w);
                break;
            case acc_kind::digits:
                at<m::digits_acc>(block, off).serialize(w);
                break;
            case acc_kind::rank_pairs:
                at<m::rank_pairs_acc>(block, off).serialize(w);
                break;
            case acc_kind::category_pairs:
                at<m::category_pairs_acc>(block, off).serialize(w);
                break;
            case acc_kind::placeholders:
                at<m::placeholder_acc>(block, off).serialize(w);
                break;
            case acc_kind::heavy_hitters:
                at<m::heavy_hitters_acc>(block, off).serialize(w);
                break;
            case acc_kind::reconcile:
                at<m::reconcile_acc>(block, off).serialize(w);
                break;
        }
    }
}

std::string aggregate_layout::legacy_fingerprint() const {
    std::string out = fingerprint_;
    bool any = false;
    for (std::size_t at = out.find(";quantiles("); at != std::string::npos;
         at = out.find(";quantiles(", at)) {
        out.erase(at + 9, 1);  // ";quantile("
        any = true;
    }
    return any ? out : std::string();
}

bool aggregate_layout::deserialize(std::byte* block, byte_reader& r, bool legacy_quantiles) const {
    auto* h = header(block);
    h->records = r.varint();
    h->newest = r.i64();
    for (const acc_entry& e : accs_) {
        const std::uint32_t off = e.offset;
        bool ok = true;
        switch (e.kind) {
            case acc_kind::missing:
                ok = at<m::missing_acc>(block, off).deserialize(r);
                break;
            case acc_kind::sum:
                ok = at<m::sum_acc>(block, off).deserialize(r);
                break;
            case acc_kind::moments:
                ok = at<m::moments_acc>(block, off).deserialize(r);
                break;
            case acc_kind::min:
                ok = at<m::min_acc>(block, off).deserialize(r);
                break;
            case acc_kind::max:
                ok = at<m::max_acc>(block, off).deserialize(r);
                break;
            case acc_kind::length:
                ok = at<m::length_acc>(block, off).deserialize(r);
                break;
            case acc_kind::max_delay:
                ok = at<m::max_delay_acc>(block, off).deserialize(r);
                break;
            case acc_kind::in_range:
            case acc_kind::in_set:
            case acc_kind::matches:
            case acc_kind::where:
            case acc_kind::format:
                ok = at<m::predicate_acc>(block, off).deserialize(r);
                break;
            case acc_kind::records:
                at<records_acc>(block, off).n = r.varint();
                at<records_acc>(block, off).newest = r.i64();
                break;
            case acc_kind::frozen:
                ok = at<m::frozen_acc>(block, off).deserialize(r);
                break;
            case acc_kind::ordered:
                ok = at<m::ordered_acc>(block, off).deserialize(r);
                break;
            case acc_kind::correlation:
                ok = at<m::correlation_acc>(block, off).deserialize(r);
                break;
            case acc_kind::invalid:
                at<invalid_acc>(block, off).n = r.varint();
                at<invalid_acc>(block, off).kept = r.varint();
                break;
            case acc_kind::drift:
                ok = at<schema::drift_acc>(block, off).deserialize(r);
                break;
            case acc_kind::frequency:
            case acc_kind::composite:
                ok = at<m::frequency_acc>(block, off).deserialize(r);
                break;
            case acc_kind::mutual:
                ok = at<m::mutual_information_acc>(block, off).deserialize(r);
                break;
            case acc_kind::approx_distinct:
                ok = at<m::approx_distinct_acc>(block, off).deserialize(r);
                break;
            case acc_kind::quantile:
                ok = legacy_quantiles ? at<m::quantile_acc>(block, off).deserialize_sketch(r)
                                      : at<m::quantile_acc>(block, off).deserialize(r);
                break;
            case acc_kind::event_order:
                ok = at<m::event_order_acc>(block, off).deserialize(r);
                break;
            case acc_kind::sample:
                ok = at<m::sample_acc>(block, off)
                         .deserialize(r, static_cast<const sample_config*>(e.config)->limit);
                break;
            case acc_kind::trend:
            case acc_kind::trend_time:
                ok = at<m::trend_acc>(block, off).deserialize(r);
                break;
            case acc_kind::length_histogram:
                ok = at<m::length_histogram_acc>(block, off).deserialize(r);
                break;
            case acc_kind::above_mean:
                ok = at<m::above_mean_acc>(block, off).deserialize(r);
                break;
            case acc_kind::benford:
                ok = at<m::benford_acc>(block, off).deserialize(r);
                break;
            case acc_kind::digits:
                ok = at<m::digits_acc>(block, off).deserialize(r);
                break;
            case acc_kind::rank_pairs:
                ok = at<m::rank_pairs_acc>(block, off).deserialize(r);
                break;
            case acc_kind::category_pairs:
                ok = at<m::category_pairs_acc>(block, off).deserialize(r);
                break;
            case acc_kind::placeholders:
                ok = at<m::placeholder_acc>(block, off).deserialize(r);
                break;
            case acc_kind::heavy_hitters:
                ok = at<m::heavy_hitters_acc>(block, off)
                         .deserialize(r, *static_cast<const m::heavy_hitters_config*>(e.config));
                break;
            case acc_kind::reconcile:
                ok = at<m::reconcile_acc>(block, off).deserialize(r);
                break;
        }
        if (!ok || !r.ok()) {
            r.fail();
            return false;
        }
    }
    return r.ok();
}

bool aggregate_layout::approximate(const std::byte* block, std::size_t i) const {
    const call_entry& ce = calls_[i];
    if (accs_.size() > ce.acc && accs_[ce.acc].kind == acc_kind::reconcile && is_reconcile(ce.fn)) {
        return at<m::reconcile_acc>(block, accs_[ce.acc].offset).overflow() > 0;
    }
    if (ce.fn != result_fn::median && ce.fn != result_fn::percentile &&
        ce.fn != result_fn::approx_quantile) {
        return false;
    }
    return at<m::quantile_acc>(block, accs_[ce.acc].offset).approximate();
}

bool aggregate_layout::is_reconcile(result_fn fn) {
    return fn == result_fn::reconcile_missing || fn == result_fn::reconcile_missing_left ||
           fn == result_fn::reconcile_missing_right || fn == result_fn::reconcile_matched;
}

bool aggregate_layout::reconciliation(const std::byte* block, std::size_t i,
                                      reconciliation_summary& out) const {
    const call_entry& ce = calls_[i];
    if (!is_reconcile(ce.fn)) return false;
    const acc_entry& e = accs_[ce.acc];
    const auto& cfg = *static_cast<const reconcile_config*>(e.config);
    const auto& acc = at<m::reconcile_acc>(block, e.offset);
    const m::reconcile_counts c = acc.counts();
    out.left = cfg.left_name;
    out.right = cfg.right_name;
    out.matched = c.matched;
    out.missing_left = c.missing_left;
    out.missing_right = c.missing_right;
    out.overflow = c.overflow;
    out.sample_missing_left = acc.sample_missing(true);
    out.sample_missing_right = acc.sample_missing(false);
    return true;
}

std::uint64_t aggregate_layout::records_of(const std::byte* block, const call_entry& ce) const {
    if (ce.records == k_unused) return header(block)->records;
    return at<records_acc>(block, accs_[ce.records].offset).n;
}

measure_value aggregate_layout::evaluate(const std::byte* block, std::size_t i,
                                         timestamp_ns window_length, timestamp_ns now,
                                         timestamp_ns newest_seen) const {
    const call_entry& ce = calls_[i];
    measure_value v = evaluate_call(block, ce, window_length, now, newest_seen);
    if (ce.percent && v.is_number()) v.number *= 100;
    return v;
}

measure_value aggregate_layout::evaluate_call(const std::byte* block, const call_entry& ce,
                                              timestamp_ns window_length, timestamp_ns now,
                                              timestamp_ns newest_seen) const {
    const cell_header* h = header(block);
    const std::uint32_t off = ce.acc < accs_.size() ? accs_[ce.acc].offset : 0;
    using rf = result_fn;
    switch (ce.fn) {
        case rf::count_all:
            return measure_value::make_number(static_cast<double>(h->records));
        case rf::count_present:
            return measure_value::make_number(at<m::missing_acc>(block, off).present_count());
        case rf::missing_count:
            return measure_value::make_number(at<m::missing_acc>(block, off).missing_count());
        case rf::missing_fraction:
            return number_or_null(at<m::missing_acc>(block, off).missing_fraction());
        case rf::sum: {
            // A sum bound to one input of several (sum(payments.amount)) is 0 when that input
            // brought no number: an input that went quiet must not make sum(orders.amount) -
            // sum(payments.amount) no data, the very window it should fail.
            const std::optional<double> sum = at<m::sum_acc>(block, off).sum_result();
            if (!sum && ce.acc < accs_.size() && accs_[ce.acc].origin != k_unused) {
                return measure_value::make_number(0.0);
            }
            return number_or_null(sum);
        }
        case rf::mean:
            return number_or_null(at<m::sum_acc>(block, off).mean());
        case rf::variance:
            return number_or_null(at<m::moments_acc>(block, off).variance());
        case rf::std_dev:
            return number_or_null(at<m::moments_acc>(block, off).std_dev());
        case rf::variance_pop:
            return number_or_null(at<m::moments_acc>(block, off).variance_pop());
        case rf::std_dev_pop:
            return number_or_null(at<m::moments_acc>(block, off).std_dev_pop());
        case rf::min:
            return number_or_null(at<m::min_acc>(block, off).result());
        case rf::max:
            return number_or_null(at<m::max_acc>(block, off).result());
        case rf::median:
        case rf::percentile:
        case rf::approx_quantile:
            return number_or_null(
                at<m::quantile_acc>(block, off).quantile(ce.param, ce.method, quantile_scratch_));
        case rf::distinct_count: {
            const auto r = at<m::frequency_acc>(block, off).distinct_count();
            if (r.capped) ++capped_results_;
            return number_or_null(r.value);
        }
        case rf::distinct_fraction: {
            const auto r = at<m::frequency_acc>(block, off).distinct_fraction();
            if (r.capped) ++capped_results_;
            return number_or_null(r.value);
        }
        case rf::unique_count: {
            const auto r = at<m::frequency_acc>(block, off).unique_count();
            if (r.capped) ++capped_results_;
            return number_or_null(r.value);
        }
        case rf::duplicate_count: {
            const auto r = at<m::frequency_acc>(block, off).duplicate_count();
            if (r.capped) ++capped_results_;
            return number_or_null(r.value);
        }
        case rf::duplicate_fraction: {
            const auto r = at<m::frequency_acc>(block, off).duplicate_fraction();
            if (r.capped) ++capped_results_;
            return number_or_null(r.value);
        }
        case rf::entropy: {
            const auto r = at<m::frequency_acc>(block, off).entropy();
            if (r.capped) ++capped_results_;
            return number_or_null(r.value);
        }
        case rf::mutual_information: {
            const auto r = at<m::mutual_information_acc>(block, off).result();
            if (r.capped) ++capped_results_;
            return number_or_null(r.value);
        }
        case rf::format_invalid_count: {
            const auto& acc = at<m::predicate_acc>(block, off);
            return measure_value::make_number(static_cast<double>(acc.present - acc.hits));
        }
        case rf::format_invalid_fraction: {
            const auto& acc = at<m::predicate_acc>(block, off);
            return number_or_null(m::ratio(acc.present - acc.hits, acc.present));
        }
        case rf::most_frequent: {
            auto mf = at<m::frequency_acc>(block, off).most_frequent();
            if (mf.capped) ++capped_results_;
            return std::move(mf.value);
        }
        case rf::most_frequent_count: {
            const auto mf = at<m::frequency_acc>(block, off).most_frequent();
            if (mf.capped) ++capped_results_;
            if (mf.value.is_null()) return measure_value::make_null();
            return measure_value::make_number(static_cast<double>(mf.count));
        }
        case rf::approx_distinct_count:
            return measure_value::make_number(at<m::approx_distinct_acc>(block, off).result());
        case rf::predicate_count:
            return measure_value::make_number(at<m::predicate_acc>(block, off).count());
        case rf::predicate_fraction:
            return number_or_null(at<m::predicate_acc>(block, off).fraction());
        case rf::predicate_fraction_of_records:
            return number_or_null(
                m::ratio(at<m::predicate_acc>(block, off).hits, records_of(block, ce)));
        case rf::distinct_fraction_of_records: {
            const auto r = at<m::frequency_acc>(block, off).distinct_count();
            if (r.capped) ++capped_results_;
            const std::uint64_t records = records_of(block, ce);
            if (!r.value || records == 0) return measure_value::make_null();
            return measure_value::make_number(*r.value / static_cast<double>(records));
        }
        case rf::min_length:
            return number_or_null(at<m::length_acc>(block, off).min_length());
        case rf::max_length:
            return number_or_null(at<m::length_acc>(block, off).max_length());
        case rf::mean_length:
            return number_or_null(at<m::length_acc>(block, off).mean_length());
        case rf::is_frozen: {
            const auto v = at<m::frozen_acc>(block, off).result();
            return v ? measure_value::make_boolean(*v) : measure_value::make_null();
        }
        case rf::ordered_fraction:
            return number_or_null(at<m::ordered_acc>(block, off).result());
        case rf::ordered_fraction_by_event_time:
            return number_or_null(
                at<m::event_order_acc>(block, off)
                    .result(*static_cast<const m::sequence_order*>(accs_[ce.acc].config)));
        case rf::correlation:
            return number_or_null(at<m::correlation_acc>(block, off).result());
        case rf::freshness: {
            m::freshness_acc f;
            if (h->records > 0) {
                f.newest = h->newest;
            } else if (newest_seen != window::k_no_time) {
                f.newest = newest_seen;
            } else {
                return measure_value::make_null();
            }
            return number_or_null(f.result(now));
        }
        case rf::max_delay:
            return number_or_null(at<m::max_delay_acc>(block, off).result());
        case rf::rate: {
            m::count_acc c;
            c.n = h->records;
            return number_or_null(c.rate(window_length));
        }
        case rf::invalid_count:
            return measure_value::make_number(static_cast<double>(at<invalid_acc>(block, off).n));
        case rf::invalid_fraction: {
            const auto& acc = at<invalid_acc>(block, off);
            return number_or_null(m::ratio(acc.n, acc.n - acc.kept + h->records));
        }
        case rf::new_fields:
        case rf::missing_fields:
        case rf::type_changes: {
            if (drift_ == nullptr) return measure_value::make_number(0);
            const auto& acc = at<schema::drift_acc>(block, off);
            const std::size_t n = ce.fn == rf::new_fields ? acc.new_fields(*drift_, nullptr)
                                  : ce.fn == rf::missing_fields
                                      ? acc.missing_fields(*drift_, h->records, nullptr)
                                      : acc.type_changes(*drift_, nullptr);
            return measure_value::make_number(static_cast<double>(n));
        }
        case rf::where_count:
            return measure_value::make_number(at<m::predicate_acc>(block, off).count());
        case rf::where_fraction:
            return number_or_null(at<m::predicate_acc>(block, off).fraction());
        case rf::filtered_count:
            return measure_value::make_number(static_cast<double>(at<records_acc>(block, off).n));
        case rf::filtered_rate: {
            m::count_acc c;
            c.n = at<records_acc>(block, off).n;
            return number_or_null(c.rate(window_length));
        }
        case rf::filtered_freshness: {
            // Only the window's matching records: a filter has no memory of earlier windows.
            const auto& acc = at<records_acc>(block, off);
            if (acc.n == 0) return measure_value::make_null();
            m::freshness_acc f;
            f.newest = acc.newest;
            return number_or_null(f.result(now));
        }
        case rf::window_duration:
            if (window_length <= 0) return measure_value::make_null();
            return measure_value::make_number(static_cast<double>(window_length) / 1e9);
        case rf::input_lag:
        case rf::input_lag_seconds: {
            const double v = gauges_ == nullptr       ? std::nan("")
                             : ce.fn == rf::input_lag ? gauges_->lag
                                                      : gauges_->lag_seconds;
            return std::isnan(v) ? measure_value::make_null() : measure_value::make_number(v);
        }
        case rf::median_length:
            return number_or_null(at<m::length_histogram_acc>(block, off).lengths.median());
        case rf::above_mean_count:
        case rf::above_mean_fraction: {
            const auto& acc = at<m::above_mean_acc>(block, off);
            if (acc.capped()) ++capped_results_;
            return number_or_null(ce.fn == rf::above_mean_count ? acc.count() : acc.fraction());
        }
        case rf::trend:
            return number_or_null(at<m::trend_acc>(block, off).result());
        case rf::digits_min:
        case rf::digits_max:
        case rf::digits_mean:
        case rf::digits_median: {
            const auto& acc = at<m::digits_acc>(block, off);
            const m::int_histogram& h = ce.param == 0 ? acc.integer : acc.fraction;
            return number_or_null(ce.fn == rf::digits_min    ? h.min()
                                  : ce.fn == rf::digits_max  ? h.max()
                                  : ce.fn == rf::digits_mean ? h.mean()
                                                             : h.median());
        }
        case rf::benford_deviation:
            return number_or_null(at<m::benford_acc>(block, off).result());
        case rf::spearman_correlation:
        case rf::kendall_correlation: {
            const auto& acc = at<m::rank_pairs_acc>(block, off);
            if (acc.kept.capped()) ++capped_results_;
            return number_or_null(ce.fn == rf::spearman_correlation ? acc.spearman()
                                                                    : acc.kendall());
        }
        case rf::placeholder_count:
            return measure_value::make_number(at<m::placeholder_acc>(block, off).count());
        case rf::placeholder_fraction: {
            const auto& list =
                *static_cast<const std::vector<measure_value>*>(accs_[ce.acc].config);
            return measure_value::make_number(at<m::placeholder_acc>(block, off).count() /
                                              static_cast<double>(list.size()));
        }
        case rf::most_frequent_in_range:
        case rf::most_frequent_in_set: {
            const auto mf = at<m::frequency_acc>(block, off).most_frequent();
            if (mf.capped) ++capped_results_;
            if (mf.value.is_null()) return measure_value::make_null();
            if (ce.fn == rf::most_frequent_in_range) {
                const auto& r = *static_cast<const m::in_range_config*>(ce.config);
                return measure_value::make_boolean(mf.value.kind == measure_kind::number &&
                                                   mf.value.number >= r.lo &&
                                                   mf.value.number <= r.hi);
            }
            const auto& list = *static_cast<const std::vector<measure_value>*>(ce.config);
            return measure_value::make_boolean(
                std::any_of(list.begin(), list.end(), [&](const measure_value& v) {
                    return v.kind == mf.value.kind &&
                           (v.kind == measure_kind::number    ? v.number == mf.value.number
                            : v.kind == measure_kind::string  ? v.text == mf.value.text
                            : v.kind == measure_kind::boolean ? v.boolean == mf.value.boolean
                                                              : false);
                }));
        }
        case rf::reconcile_missing:
        case rf::reconcile_missing_left:
        case rf::reconcile_missing_right:
        case rf::reconcile_matched: {
            const m::reconcile_counts c = at<m::reconcile_acc>(block, off).counts();
            if (c.overflow > 0) ++capped_results_;
            std::uint64_t n = c.missing_left + c.missing_right;
            std::uint64_t of = c.keys();
            if (ce.fn == rf::reconcile_missing_left) {
                n = c.missing_left;
                of = c.right();
            } else if (ce.fn == rf::reconcile_missing_right) {
                n = c.missing_right;
                of = c.left();
            } else if (ce.fn == rf::reconcile_matched) {
                n = c.matched;
            }
            if (ce.param == 0) return measure_value::make_number(static_cast<double>(n));
            if (of == 0) return measure_value::make_null();
            return measure_value::make_number(static_cast<double>(n) / static_cast<double>(of));
        }
        case rf::heavy_hitters:
            return number_or_null(
                at<m::heavy_hitters_acc>(block, off)
                    .result(*static_cast<const m::heavy_hitters_config*>(accs_[ce.acc].config)));
        case rf::cramers_v: {
            const auto& acc = at<m::category_pairs_acc>(block, off);
            if (acc.kept.capped()) ++capped_results_;
            return number_or_null(acc.result());
        }
    }
    return measure_value::make_null();
}

void aggregate_layout::drift_fields(const std::byte* block, std::size_t i,
                                    std::vector<std::string>& names) const {
    const call_entry& ce = calls_[i];
    using rf = result_fn;
    if (drift_ == nullptr ||
        (ce.fn != rf::new_fields && ce.fn != rf::missing_fields && ce.fn != rf::type_changes)) {
        return;
    }
    const auto& acc = at<schema::drift_acc>(block, accs_[ce.acc].offset);
    std::vector<std::string> found;
    if (ce.fn == rf::new_fields) {
        acc.new_fields(*drift_, &found);
    } else if (ce.fn == rf::missing_fields) {
        acc.missing_fields(*drift_, header(block)->records, &found);
    } else {
        acc.type_changes(*drift_, &found);
    }
    for (auto& f : found) {
        if (std::find(names.begin(), names.end(), f) == names.end()) names.push_back(std::move(f));
    }
}

}  // namespace weir::engine

namespace weir::engine {

void aggregate_layout::samples(const std::byte* block, std::size_t input, bool counted,
                               std::vector<std::string>& out) const {
    if (!keeps_samples(input)) return;
    std::size_t bytes = 2;  // [ and ]
    for (const auto& e : out) bytes += e.size() + 1;
    const auto& acc = at<m::sample_acc>(block, accs_[input_samples_[input]].offset);
    for (const auto& e : counted ? acc.counted : acc.others) {
        bytes += e.size() + 1;
        if (bytes > m::k_sample_result_bytes) return;
        out.push_back(e);
    }
}

}  // namespace weir::engine
