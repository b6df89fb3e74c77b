// Parameters of the generator input: fields, groups, pacing and injected problems.
#include "connectors/generator/generator_spec.h"

#include <cctype>
#include <map>
#include <optional>
#include <string>

#include "connectors/common/common_spec.h"

namespace weir::connectors {

using params::object_spec;
using params::param_spec;
using params::param_type;
using params::string_role;

namespace {

std::optional<double> number_at(const params::value& v, std::string_view key) {
    const params::value* item = v.find(key);
    if (item == nullptr || !item->is_scalar()) return std::nullopt;
    return params::parse_number(item->text);
}

// "2026-11-20T10:00:00Z", "2026-11-20T10:00:00.250+01:00": the shape of RFC 3339.
bool looks_like_rfc3339(std::string_view s) {
    auto digits = [&](std::size_t at, std::size_t n) {
        if (at + n > s.size()) return false;
        for (std::size_t i = at; i < at + n; ++i) {
            if (std::isdigit(static_cast<unsigned char>(s[i])) == 0) return false;
        }
        return true;
    };
    if (!digits(0, 4) || s.size() < 20 || s[4] != '-' || !digits(5, 2) || s[7] != '-' ||
        !digits(8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2) ||
        s[13] != ':' || !digits(14, 2) || s[16] != ':' || !digits(17, 2)) {
        return false;
    }
    std::size_t i = 19;
    if (i < s.size() && s[i] == '.') {
        ++i;
        const std::size_t start = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
        if (i == start) return false;
    }
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
    return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(i + 1, 2) &&
           s[i + 3] == ':' && digits(i + 4, 2);
}

// "now", "-2d" (that long before now) or an RFC 3339 timestamp.
bool is_start_time(std::string_view s) {
    if (s == "now") return true;
    if (s.starts_with('-')) return params::parse_duration(s.substr(1)).has_value();
    return looks_like_rfc3339(s);
}

// "14:00", "9:30": a time of day, hours 0..23 and minutes 0..59.
bool is_time_of_day(std::string_view s) {
    const auto colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 2 || s.size() != colon + 3) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i != colon && std::isdigit(static_cast<unsigned char>(s[i])) == 0) return false;
    }
    const int hours = std::stoi(std::string(s.substr(0, colon)));
    const int minutes = std::stoi(std::string(s.substr(colon + 1)));
    return hours <= 23 && minutes <= 59;
}

std::shared_ptr<const object_spec> make_daily_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "daily shape";
    spec->description =
        "A daily cycle of a number field: its level (the mean of a normal distribution, the "
        "centre of [min, max] otherwise) is multiplied by 1 + amplitude * cos(2 pi (hour - "
        "peak) / 24), hours of the record's event time in UTC.";
    spec->params = {
        {.name = "amplitude",
         .type = param_type::number,
         .description = "How far the level swings: 0.3 makes it 30% above average at the peak "
                        "and 30% below twelve hours later.",
         .required = true,
         .minimum = 0,
         .maximum = 1},
        {.name = "peak",
         .type = param_type::string,
         .description = "Time of day (UTC, HH:MM) when the level is highest.",
         .default_text = "12:00"},
    };
    spec->check = [](const params::value& v, const std::string& path, diagnostics& out) {
        if (const params::value* peak = v.find("peak"); peak != nullptr && peak->is_scalar()) {
            if (!is_time_of_day(peak->text)) {
                out.error(peak->pos, path + ".peak",
                          "expected a time of day such as \"14:00\", got " + peak->display());
            }
        }
    };
    return spec;
}

std::shared_ptr<const object_spec> make_weekly_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "weekly shape";
    spec->description =
        "A weekly cycle of a number field: its level is multiplied by `weekend` on Saturdays "
        "and Sundays (UTC).";
    spec->params = {
        {.name = "weekend",
         .type = param_type::number,
         .description = "The level on Saturdays and Sundays, as a multiple of the weekdays' "
                        "(0.6: 40% lower).",
         .required = true,
         .minimum = 0,
         .maximum = 100},
    };
    return spec;
}

std::shared_ptr<const object_spec> make_field_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "generated field";
    spec->description = "How one field's values are drawn.";
    spec->params = {
        {.name = "type",
         .type = param_type::enumeration,
         .description = "The JSON type of the values; timestamps are RFC 3339 strings near the "
                        "record's event time.",
         .required = true,
         .choices = {"number", "integer", "string", "boolean", "timestamp"}},
        {.name = "distribution",
         .type = param_type::enumeration,
         .description = "uniform in [min, max]; normal around mean with std_dev (clamped to "
                        "[min, max] when given); random_walk: each group's value moves by up "
                        "to `step` per record within [min, max], like a real sensor.",
         .default_text = "uniform",
         .choices = {"uniform", "normal", "random_walk"}},
        {.name = "min",
         .type = param_type::number,
         .description = "Smallest value (number, integer).",
         .default_text = "0"},
        {.name = "max",
         .type = param_type::number,
         .description = "Largest value (number, integer).",
         .default_text = "100"},
        {.name = "mean",
         .type = param_type::number,
         .description = "Centre of a normal distribution; default (min + max) / 2."},
        {.name = "std_dev",
         .type = param_type::number,
         .description = "Spread of a normal distribution; default (max - min) / 6.",
         .minimum = 0},
        {.name = "step",
         .type = param_type::number,
         .description = "Largest change per record of a random walk; default (max - min) / 100.",
         .minimum = 0},
        {.name = "decimals",
         .type = param_type::integer,
         .description = "Digits after the decimal point of numbers.",
         .default_text = "2",
         .minimum = 0,
         .maximum = 15},
        {.name = "values",
         .type = param_type::string_list,
         .description = "Pick uniformly from these (read as the field's type) instead of a "
                        "range."},
        {.name = "length",
         .type = param_type::integer,
         .description = "Length of random strings (without `values`).",
         .default_text = "8",
         .minimum = 1,
         .maximum = 4096},
        {.name = "null_fraction",
         .type = param_type::number,
         .description = "Share of records where the field is null.",
         .default_text = "0",
         .minimum = 0,
         .maximum = 1},
        {.name = "missing_fraction",
         .type = param_type::number,
         .description = "Share of records where the field is absent.",
         .default_text = "0",
         .minimum = 0,
         .maximum = 1},
        {.name = "daily",
         .type = param_type::object,
         .description = "A daily cycle (number, integer): the level moves with the hour of "
                        "the event time, e.g. {amplitude: 0.3, peak: \"14:00\"}. Values "
                        "move by level x (factor - 1), so the spread stays.",
         .object = make_daily_spec()},
        {.name = "weekly",
         .type = param_type::object,
         .description = "A weekly cycle (number, integer): e.g. {weekend: 0.6} lowers the "
                        "level by 40% on Saturdays and Sundays.",
         .object = make_weekly_spec()},
    };
    spec->conditionals = {
        {.key = "type",
         .equals = "boolean",
         .forbids_keys = {"distribution", "min", "max", "mean", "std_dev", "step", "decimals",
                          "length", "daily", "weekly"}},
        {.key = "type",
         .equals = "timestamp",
         .forbids_keys = {"distribution", "min", "max", "mean", "std_dev", "step", "decimals",
                          "values", "length", "daily", "weekly"}},
        {.key = "type", .equals = "integer", .forbids_keys = {"decimals", "length"}},
        {.key = "type", .equals = "number", .forbids_keys = {"length"}},
        {.key = "type",
         .equals = "string",
         .forbids_keys = {"distribution", "min", "max", "mean", "std_dev", "step", "decimals",
                          "daily", "weekly"}},
    };
    spec->check = [](const params::value& v, const std::string& path, diagnostics& out) {
        const auto lo = number_at(v, "min");
        const auto hi = number_at(v, "max");
        if (lo && hi && *lo > *hi) {
            out.error(v.find("max")->pos, path + ".max", "max must not be less than min");
        }
        const auto nulls = number_at(v, "null_fraction").value_or(0);
        const auto missing = number_at(v, "missing_fraction").value_or(0);
        if (nulls + missing > 1) {
            out.error(v.pos, path, "null_fraction + missing_fraction must not exceed 1");
        }
        if (v.find("values") != nullptr) {
            for (const char* key :
                 {"min", "max", "distribution", "mean", "std_dev", "step", "daily", "weekly"}) {
                if (const params::value* item = v.find(key)) {
                    out.error(item->pos, path + "." + key,
                              std::string(key) + " has no effect with `values`");
                }
            }
        }
    };
    return spec;
}

std::shared_ptr<const object_spec> make_problem_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "injected problem";
    spec->description =
        "A data-quality problem the generator injects, so checks have something "
        "to catch.";
    spec->params = {
        {.name = "type",
         .type = param_type::enumeration,
         .description = "silent_group: a group stops sending; stuck_value: a field repeats its "
                        "last value; out_of_range: a field takes values outside [min, max]; "
                        "missing_field: a field is absent; burst: the rate multiplies by "
                        "`factor`; level_shift: a number field's values are multiplied by "
                        "`factor`.",
         .required = true,
         .choices = {"silent_group", "stuck_value", "out_of_range", "missing_field", "burst",
                     "level_shift"}},
        {.name = "field",
         .type = param_type::string,
         .description = "The affected field (one of `fields`)."},
        {.name = "group",
         .type = param_type::string,
         .description = "The affected group, e.g. \"sensor-3\"; default all groups (required for "
                        "silent_group)."},
        {.name = "after",
         .type = param_type::duration,
         .description = "Event time after start_time when the problem begins (event time, "
                        "so with `speed` it comes sooner on the wall clock).",
         .default_text = "0s"},
        {.name = "duration",
         .type = param_type::duration,
         .description = "How long (event time) the problem lasts; 0 = until the end.",
         .default_text = "0s"},
        {.name = "value",
         .type = param_type::number,
         .description = "stuck_value: the value to freeze at (default: the last value); "
                        "out_of_range: the value written (default: beyond max by the range's "
                        "width)."},
        {.name = "fraction",
         .type = param_type::number,
         .description = "Share of the affected records that get the problem.",
         .default_text = "1",
         .minimum = 0,
         .maximum = 1},
        {.name = "factor",
         .type = param_type::number,
         .description = "burst: how many times the normal rate (at least 1). "
                        "level_shift: what the values are multiplied by (required), e.g. 1.3 "
                        "for 30% more, 0.5 for half.",
         .default_text = "10",
         .minimum = 0,
         .maximum = 1000},
    };
    spec->conditionals = {
        {.key = "type",
         .equals = "silent_group",
         .requires_keys = {"group"},
         .forbids_keys = {"field", "value", "factor"}},
        {.key = "type",
         .equals = "stuck_value",
         .requires_keys = {"field"},
         .forbids_keys = {"factor"}},
        {.key = "type",
         .equals = "out_of_range",
         .requires_keys = {"field"},
         .forbids_keys = {"factor"}},
        {.key = "type",
         .equals = "missing_field",
         .requires_keys = {"field"},
         .forbids_keys = {"value", "factor"}},
        {.key = "type", .equals = "burst", .forbids_keys = {"field", "value"}},
        {.key = "type",
         .equals = "level_shift",
         .requires_keys = {"field", "factor"},
         .forbids_keys = {"value"}},
    };
    spec->check = [](const params::value& v, const std::string& path, diagnostics& out) {
        const params::value* factor = v.find("factor");
        if (factor == nullptr || scalar_text(v, "type") != "burst") return;
        if (const auto f = number_at(v, "factor"); f && *f < 1) {
            out.error(factor->pos, path + ".factor",
                      "a burst's factor must be at least 1, got " + factor->text);
        }
    };
    return spec;
}

std::shared_ptr<const object_spec> make_input_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "generator input";
    spec->description =
        "A synthetic stream: `groups` sources (e.g. sensors) each sending records with the "
        "declared `fields`, with event times from start_time on, optional disorder and injected "
        "problems. The same seed gives the same records.";
    spec->params = {
        {.name = "seed",
         .type = param_type::integer,
         .description = "Seed of the random generator; the same seed gives the same stream.",
         .default_text = "1",
         .minimum = 0},
        {.name = "rate",
         .type = param_type::number,
         .description = "Records per second of wall-clock time over all groups; 0 = as fast as "
                        "possible.",
         .default_text = "10",
         .minimum = 0,
         .maximum = 100000000},
        {.name = "count",
         .type = param_type::integer,
         .description = "Records to generate before the input ends; 0 = unbounded.",
         .default_text = "0",
         .minimum = 0},
        {.name = "start_time",
         .type = param_type::string,
         .description = "Event time of the first record: \"now\", a duration before now such "
                        "as \"-2d\", or an RFC 3339 timestamp such as 2026-11-20T10:00:00Z.",
         .default_text = "now"},
        {.name = "speed",
         .type = param_type::number,
         .description = "Seconds of event time per second of wall-clock time: 3600 makes an "
                        "hour of event time pass every second, while `rate` records still come "
                        "each wall-clock second (time_step = speed / rate). Needs rate > 0.",
         .default_text = "1",
         .minimum = 0,
         .maximum = 1e9},
        {.name = "time_step",
         .type = param_type::duration,
         .description = "Event time between consecutive records. Default: speed/rate, so event "
                        "time follows the wall clock (100ms when rate is 0).",
         .minimum = 1},
        {.name = "time_field",
         .type = param_type::string,
         .description = "Field that holds each record's event time (RFC 3339).",
         .default_text = "ts"},
        {.name = "groups",
         .type = param_type::integer,
         .description = "How many groups (sources) take turns sending records.",
         .default_text = "1",
         .minimum = 1,
         .maximum = 1000000},
        {.name = "group_field",
         .type = param_type::string,
         .description = "Field that names the record's group.",
         .default_text = "group"},
        {.name = "group_prefix",
         .type = param_type::string,
         .description = "Groups are named <group_prefix>1 .. <group_prefix><groups>.",
         .default_text = "g-"},
        {.name = "fields",
         .type = param_type::object_map,
         .description = "The generated fields by name. Without it, a sensor stream: "
                        "temperature (number, 15 to 35, 1% null), humidity (number, 20 to 80) "
                        "and status (string: ok, warn, error).",
         .object = make_field_spec()},
        {.name = "disorder",
         .type = param_type::duration,
         .description = "Largest amount by which a record's event time may lag the newest one "
                        "already sent (out-of-order arrival); 0 = in order.",
         .default_text = "0s"},
        {.name = "problems",
         .type = param_type::object_list,
         .description = "Problems to inject.",
         .object = make_problem_spec()},
    };
    spec->rules = {{.rule = params::key_rule::kind::at_most_one, .keys = {"speed", "time_step"}}};
    spec->check = [](const params::value& v, const std::string& path, diagnostics& out) {
        if (const params::value* start = v.find("start_time")) {
            if (start->is_scalar() && !is_start_time(start->text)) {
                out.error(start->pos, path + ".start_time",
                          "expected \"now\", a duration before now such as \"-2d\", or an "
                          "RFC 3339 timestamp such as \"2026-11-20T10:00:00Z\", got " +
                              start->display());
            }
        }
        if (const params::value* speed = v.find("speed"); speed != nullptr) {
            if (number_at(v, "speed").value_or(1) <= 0) {
                out.error(speed->pos, path + ".speed",
                          "must be greater than 0, got " + speed->text);
            } else if (number_at(v, "rate").value_or(1) <= 0 && v.find("rate") != nullptr) {
                out.error(speed->pos, path + ".speed",
                          "speed needs a rate above 0 (rate 0 generates as fast as possible; "
                          "set time_step instead)");
            }
        }
        const params::value* fields = v.find("fields");
        std::vector<std::string> names;
        std::map<std::string, std::string, std::less<>> types;
        if (fields != nullptr && fields->is_mapping()) {
            for (const auto& e : fields->entries) {
                names.push_back(e.key);
                types[e.key] = scalar_text(e.val, "type");
            }
        } else if (fields == nullptr) {
            // The default sensor stream (see the `fields` description).
            names = {"temperature", "humidity", "status"};
            types = {{"temperature", "number"}, {"humidity", "number"}, {"status", "string"}};
        }
        const std::string time_field =
            v.find("time_field") != nullptr ? scalar_text(v, "time_field") : std::string("ts");
        const std::string group_field =
            v.find("group_field") != nullptr ? scalar_text(v, "group_field") : std::string("group");
        for (const auto& [own, key] :
             {std::pair{time_field, "time_field"}, std::pair{group_field, "group_field"}}) {
            if (!types.contains(own)) continue;
            if (fields != nullptr) {
                out.error(fields->find_entry(own)->key_pos, path + ".fields." + own,
                          "\"" + own + "\" is already the " + key + "; choose another name");
            } else {
                out.error(v.find(key)->pos, path + "." + key,
                          "\"" + own + "\" is a field of the default stream; choose another name");
            }
        }
        if (time_field == group_field && v.find("group_field") != nullptr) {
            out.error(v.find("group_field")->pos, path + ".group_field",
                      "time_field and group_field must differ");
        }

        const params::value* problems = v.find("problems");
        if (problems == nullptr || !problems->is_sequence()) return;
        const std::string prefix =
            v.find("group_prefix") != nullptr ? scalar_text(v, "group_prefix") : std::string("g-");
        std::int64_t groups = 1;
        if (const params::value* g = v.find("groups"); g != nullptr && g->is_scalar()) {
            groups = params::parse_integer(g->text).value_or(1);
        }
        for (std::size_t i = 0; i < problems->items.size(); ++i) {
            const params::value& p = problems->items[i];
            const std::string at = path + ".problems[" + std::to_string(i) + "]";
            const std::string type = scalar_text(p, "type");
            if (const params::value* field = p.find("field"); field != nullptr) {
                auto it = types.find(field->text);
                if (it == types.end()) {
                    std::string message = "unknown field " + field->display() + "; fields: ";
                    for (std::size_t n = 0; n < names.size(); ++n) {
                        message += (n > 0 ? ", " : "") + names[n];
                    }
                    out.error(field->pos, at + ".field", message);
                } else if ((type == "out_of_range" || type == "level_shift") &&
                           it->second != "number" && it->second != "integer") {
                    out.error(field->pos, at + ".field",
                              type + " needs a number or integer field; \"" + field->text +
                                  "\" is a " + it->second);
                }
            }
            if (const params::value* group = p.find("group"); group != nullptr) {
                const std::string& name = group->text;
                bool known = name.size() > prefix.size() && name.starts_with(prefix);
                if (known) {
                    const auto n = params::parse_integer(name.substr(prefix.size()));
                    known = n.has_value() && *n >= 1 && *n <= groups;
                }
                if (!known) {
                    out.error(group->pos, at + ".group",
                              "unknown group " + group->display() + "; groups are " + prefix +
                                  "1 .. " + prefix + std::to_string(groups));
                }
            }
        }
    };
    return spec;
}

}  // namespace

params::component_info generator_input_component() {
    return {.type = "generator",
            .kind = params::component_kind::input,
            .description = "Generate a synthetic stream with injectable data-quality problems.",
            .spec = make_input_spec()};
}

}  // namespace weir::connectors
