// The one compile of a pipeline; see plan.h. Two passes over one pipeline: the checking pass
// compiles every string language of every node (reporting errors at their characters, with
// field types where a schema gives them) and parses each measure and assessment once; the
// building pass, for a pipeline free of errors, lays out each query's slot space and compiles
// its chain plan with those parsed forms.
#include "config/plan.h"

#include <fmt/core.h>
#include <re2/re2.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>

#include "config/graph.h"
#include "core/check/assessment.h"
#include "core/check/history.h"
#include "core/checkpoint/byte_codec.h"
#include "core/decode/csv_decoder.h"
#include "core/engine/node_engine.h"
#include "core/expr/program.h"
#include "core/measure/catalog.h"
#include "core/measure/measure_expr.h"
#include "core/schema/drift.h"
#include "core/schema/record_schema.h"
#include "core/sketch/hash.h"
#include "core/time/timestamp.h"

namespace weir::config {

const char* to_string(error_action a) {
    return a == error_action::stop ? "stop" : "continue";
}

const char* to_string(full_action a) {
    switch (a) {
        case full_action::block:
            return "block";
        case full_action::drop_newest:
            return "drop_newest";
        case full_action::drop_oldest:
            return "drop_oldest";
    }
    return "block";
}

const component_plan* compiled_pipeline::find_output(std::string_view name) const {
    for (const auto& o : outputs) {
        if (o.name == name) return &o;
    }
    return nullptr;
}

namespace {

using expr::field_types;
using expr::value_type;

// ---------------------------------------------------------------------------------------------
// Shared helpers

const char* const k_not_built = "not built into this version of weir yet";

value_type type_of_schema_field(std::string_view type) {
    if (type == "string") return value_type::string;
    if (type == "number" || type == "integer") return value_type::number;
    if (type == "boolean") return value_type::boolean;
    return value_type::any;  // timestamp (a string or a number), object, array
}

std::string indexed(const std::string& base, std::string_view list, std::size_t i) {
    return base + "." + std::string(list) + "[" + std::to_string(i) + "]";
}

void report(diagnostics& out, const located<std::string>& where, const std::string& path,
            const std::vector<syntax_error>& errors) {
    for (const auto& e : errors) out.error(where.pos_at(e.offset), path, e.message);
}

measure_kind kind_of(measure::result_type t) {
    switch (t) {
        case measure::result_type::string:
            return measure_kind::string;
        case measure::result_type::boolean:
            return measure_kind::boolean;
        default:
            return measure_kind::number;
    }
}

std::string describe(measure::result_type t) {
    switch (t) {
        case measure::result_type::string:
            return "a string";
        case measure::result_type::boolean:
            return "a boolean";
        case measure::result_type::field_value:
            return "a value of the field's type";
        default:
            return "a number";
    }
}

// Is `name` (a canonical field path) among `fields`, or a path below an object field?
bool known_field(const field_types& fields, const std::string& name) {
    if (fields.count(name)) return true;
    for (auto dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
        auto it = fields.find(name.substr(0, dot));
        if (it != fields.end() && it->second == value_type::any) return true;
    }
    return false;
}

// A schema lists the fields it checks, not every field records carry: an undeclared field is
// accepted, of any type, unless it is one typo away from a declared one. Returns that
// declared name for a likely typo, else "".
std::string near_miss(const field_types& fields, const std::string& name) {
    if (known_field(fields, name)) return "";
    std::vector<std::string> names;
    for (const auto& [n, t] : fields) names.push_back(n);
    return nearest(name, names);
}

std::string unknown_field_message(const std::string& name, const std::string& near) {
    return "unknown field " + in_quotes(name) + "; did you mean " + in_quotes(near) +
           "? (declare it in the schema if it is a different field)";
}

// The parsed forms of one check, shared by the checking and the building pass.
struct parsed_check {
    std::shared_ptr<const measure::measure_expr> measure;
    std::shared_ptr<const check::assessment> must_be;
    std::shared_ptr<const check::assessment> should_be;
};

// ---------------------------------------------------------------------------------------------
// The checking pass

class pipeline_checker {
  public:
    pipeline_checker(const pipeline_config& p, bool refuse_unbuilt, diagnostics& out)
        : p_(p), refuse_unbuilt_(refuse_unbuilt), out_(out) {}

    // Parts this build cannot run were found (reported as errors when refusing them).
    bool uses_unbuilt() const { return unbuilt_ > 0; }

    void run() {
        for (const auto& in : p_.inputs) check_end_when(in);
        for (const auto& n : p_.nodes) output_fields(n);
        // Nodes read leniently after errors elsewhere in them: their checks' measures and
        // assessments are still checked (against no known fields), so a file with errors at
        // several levels is reported whole in one run.
        for (const auto& n : p_.nodes) {
            if (n.complete) continue;
            for (std::size_t i = 0; i < n.checks.size(); ++i) {
                if (n.checks[i].measure.given) check_check(n, i, std::nullopt);
            }
        }
    }

    // Nodes read leniently after errors are not compiled; their fields are unknown.
    const parsed_check* parsed(const check_config& c) const {
        auto it = parsed_.find(&c);
        return it == parsed_.end() ? nullptr : &it->second;
    }

  private:
    // The fields of the records a node emits, when known. Memoised; cycles (reported by the
    // graph check) make the fields unknown.
    const std::optional<field_types>& output_fields(const node_config& n) {
        if (auto it = done_.find(n.name); it != done_.end()) return it->second;
        if (!n.complete || !visiting_.insert(n.name).second) return unknown_;
        auto fields = check_node(n, input_fields(n));
        visiting_.erase(n.name);
        return done_[n.name] = std::move(fields);
    }

    // The fields a node reads: its schema's if it has one, else those of the node it reads
    // from, when known.
    std::optional<field_types> input_fields(const node_config& n) {
        // Joined records carry fields namespaced by input (`orders.amount`), and the records
        // of several sources need not share fields: only single-source nodes are checked.
        if (n.join || n.from.size() != 1) return std::nullopt;
        if (n.schema && !n.schema->fields.empty()) {
            field_types fields;
            for (const auto& f : n.schema->fields) {
                fields[f.name.value] = type_of_schema_field(f.type.value);
            }
            return fields;
        }
        field_types fields;
        for (const auto& from : n.from) {
            const node_config* up = p_.find_node(from.value);
            if (!up) return std::nullopt;  // an input: records of any shape
            const auto& up_fields = output_fields(*up);
            if (!up_fields) return std::nullopt;
            fields.insert(up_fields->begin(), up_fields->end());
        }
        return fields;
    }

    std::optional<field_types> check_node(const node_config& n, std::optional<field_types> fields) {
        const std::string base = "nodes." + n.name;
        if (n.schema) check_schema(n, base);

        for (std::size_t i = 0; i < n.transforms.size(); ++i) {
            const auto& t = n.transforms[i];
            const std::string path = indexed(base, "transforms", i);
            switch (t.type) {
                case transform_config::kind::filter:
                    check_expression(t.expression, path + ".filter", fields, value_type::boolean);
                    break;
                case transform_config::kind::set:
                    for (const auto& [target, expression] : t.assignments) {
                        const auto type = check_expression(
                            expression, path + ".set." + target.value, fields, value_type::any);
                        if (fields) (*fields)[target.value] = type.value_or(value_type::any);
                    }
                    break;
                case transform_config::kind::rename:
                    // A schema lists the fields it checks, not every field records carry:
                    // renaming or dropping an unlisted field is fine.
                    for (const auto& [from, to] : t.assignments) {
                        if (!fields) continue;
                        auto it = fields->find(from.value);
                        const value_type type = it == fields->end() ? value_type::any : it->second;
                        if (it != fields->end()) fields->erase(it);
                        (*fields)[to.value] = type;
                    }
                    break;
                case transform_config::kind::drop:
                    for (const auto& [field, unused] : t.assignments) {
                        if (fields) fields->erase(field.value);
                    }
                    break;
            }
        }

        if (n.time && !n.time->processing) {
            check_field(n.time->field, base + ".time.field", fields);
            time::time_parser::error err;
            const auto parser = time::time_parser::compile(n.time->format.value, &err);
            if (n.time->format.given && !parser) {
                out_.error(n.time->format.pos_at(err.offset), base + ".time.format", err.message);
            }
            const located<std::string>& zone = n.time->timezone;
            std::string why;
            if (zone.given && !time::time_zone::find(zone.value, &why)) {
                out_.error(zone.pos, base + ".time.timezone", why);
            } else if (zone.given && parser && !parser->reads_local_time()) {
                // A zone nothing would read in is a mistake of the format, not harmless.
                out_.error(zone.pos, base + ".time.timezone",
                           "format " + in_quotes(n.time->format.value) +
                               " reads times with their own offset (or epoch numbers); "
                               "timezone applies to a pattern without %z, such as "
                               "\"%Y-%m-%d %H:%M:%S\"");
            }
        }
        for (const auto& g : n.group_by) check_field(g, base + ".group_by", fields);

        if (n.join) {
            check_expression(n.join->on_left, base + ".join.on.left", std::nullopt,
                             value_type::any);
            check_expression(n.join->on_right, base + ".join.on.right", std::nullopt,
                             value_type::any);
            if (!n.time || n.time->processing) {
                out_.error(n.join->pos, base + ".join",
                           "a join pairs records by event time: the node needs time.field");
            }
            if (n.window && n.window->idle_timeout.value.count() == 0) {
                out_.warning(n.join->pos, base + ".join",
                             "window.idle_timeout is 0: when one side stops sending, the join "
                             "holds the other side's records, and its unmatched rows, until it "
                             "sends again; set idle_timeout so they come out when data stops");
            }
            if (!n.emits_results() && !n.window) {
                // A derived join: its window (type and size unused) gives the join its
                // allowed_lateness and idle_timeout.
                out_.warning(n.join->pos, base + ".join",
                             "no window: the join has no idle_timeout, so when one side stops "
                             "sending it holds the other side's records, and its unmatched "
                             "rows, until it sends again; give the node a window with "
                             "idle_timeout (its type and size are not used without checks)");
            }
        }
        check_dependencies(n, base);

        for (std::size_t i = 0; i < n.checks.size(); ++i) check_check(n, i, fields);
        if (n.join) check_joined_names(n, base);
        return fields;
    }

    // end_when: a boolean expression over the input's records as decoded.
    void check_end_when(const component_config& in) {
        const params::value* e = in.params.find("end_when");
        if (e == nullptr || !e->is_scalar()) return;
        check_expression(
            e->text, [e](std::size_t offset) { return e->pos_at(offset); },
            "inputs." + in.name + ".end_when", std::nullopt, value_type::boolean);
    }

    // depends_on: each dependency is an input the node reads directly (its records are what
    // the held windows wait for), once, beside at least one other source; and the node judges
    // windows by event time (a dependency is down by event time).
    void check_dependencies(const node_config& n, const std::string& base) {
        std::set<std::string, std::less<>> seen;
        for (std::size_t i = 0; i < n.depends_on.size(); ++i) {
            const dependency_config& d = n.depends_on[i];
            const std::string path = base + ".depends_on[" + std::to_string(i) + "].input";
            if (!p_.find_input(d.input.value)) continue;  // the graph checks said so
            const bool read = std::any_of(n.from.begin(), n.from.end(),
                                          [&](const auto& f) { return f.value == d.input.value; });
            if (!read) {
                std::string from;
                for (const auto& f : n.from) from += (from.empty() ? "" : ", ") + f.value;
                out_.error(d.input.pos, path,
                           in_quotes(d.input.value) + " is not one of the node's sources (from: " +
                               from + "): a node depends on an input it reads");
                continue;
            }
            if (!seen.insert(d.input.value).second) {
                out_.error(d.input.pos, path, in_quotes(d.input.value) + " is listed twice");
                continue;
            }
            if (n.from.size() < 2) {
                out_.error(d.input.pos, path,
                           "the node reads only " + in_quotes(d.input.value) +
                               ": a dependency trails the node's other sources, so the node "
                               "must read at least one more");
            }
        }
        if (n.depends_on.empty()) return;
        if (!n.emits_results()) {
            out_.error(n.depends_on.front().pos, base + ".depends_on",
                       "depends_on needs checks: it holds or flags the node's results");
        } else if (!n.time || n.time->processing) {
            out_.error(n.depends_on.front().pos, base + ".depends_on",
                       "depends_on needs event time (time.field): a dependency is down when "
                       "its event time trails the node's");
        }
    }

    // A join node's rows have only `<source>.<field>` fields: a field named otherwise is
    // always missing there, which is a mistake worth a warning.
    void check_joined_names(const node_config& n, const std::string& base) {
        const std::string left = n.join->left.value + ".";
        const std::string right = n.join->right.value + ".";
        const auto joined = [&](const std::string& name) {
            return (name.starts_with(left) && name.size() > left.size()) ||
                   (name.starts_with(right) && name.size() > right.size()) ||
                   name == n.join->left.value || name == n.join->right.value;
        };
        const auto warn = [&](const source_pos& pos, const std::string& path,
                              const std::string& name) {
            out_.warning(pos, path,
                         in_quotes(name) + " is no field of the joined rows, whose fields are " +
                             "named by source: " + left + name + " or " + right + name);
        };
        for (const auto& g : n.group_by) {
            if (!joined(g.value)) warn(g.pos, base + ".group_by", g.value);
        }
        for (std::size_t i = 0; i < n.checks.size(); ++i) {
            const parsed_check* parsed = this->parsed(n.checks[i]);
            if (parsed == nullptr || !parsed->measure) continue;
            for (const auto& call : parsed->measure->calls()) {
                for (const auto& arg : call.args) {
                    if (arg.kind != measure::arg_kind::field) continue;
                    const std::string name = arg.field.to_string();
                    if (!joined(name)) {
                        warn(n.checks[i].measure.pos, indexed(base, "checks", i) + ".measure",
                             name);
                    }
                }
            }
        }
    }

    void unbuilt(const source_pos& pos, const std::string& path, const std::string& message) {
        ++unbuilt_;
        if (refuse_unbuilt_) out_.error(pos, path, message);
    }

    void check_schema(const node_config& n, const std::string& base) {
        for (const auto& f : n.schema->fields) {
            if (!f.pattern) continue;
            RE2::Options options;
            options.set_log_errors(false);
            const RE2 re(f.pattern->value, options);
            if (!re.ok()) {
                out_.error(f.pattern->pos, base + ".schema.fields." + f.name.value + ".pattern",
                           "invalid regular expression: " + re.error());
            }
        }
    }

    // Compiles one expression; returns its static type when it compiled. With known fields,
    // a first pass finds the fields the expression reads; the second compiles against the
    // declared types plus every undeclared field that is no likely typo (as `any`), so the
    // compiler reports typos — and type clashes — at their exact characters.
    std::optional<value_type> check_expression(const located<std::string>& text,
                                               const std::string& path,
                                               const std::optional<field_types>& fields,
                                               value_type expected) {
        return check_expression(
            text.value, [&](std::size_t offset) { return text.pos_at(offset); }, path, fields,
            expected);
    }

    // The same for an expression inside another string (a count_where condition in a
    // measure): `pos_at` maps an offset in `text` to its place in the file.
    std::optional<value_type> check_expression(const std::string& text,
                                               const std::function<source_pos(std::size_t)>& pos_at,
                                               const std::string& path,
                                               const std::optional<field_types>& fields,
                                               value_type expected) {
        expr::compile_options options;
        options.expected = expected;
        auto program = expr::compile(text, options);
        if (program && fields) {
            field_types allowed = *fields;
            for (const auto& ref : program->fields()) {
                const std::string name = ref.path.to_string();
                if (!allowed.count(name) && near_miss(*fields, name).empty()) {
                    allowed[name] = value_type::any;
                }
            }
            options.fields = &allowed;
            program = expr::compile(text, options);
        }
        if (!program) {
            for (const auto& e : program.errors()) out_.error(pos_at(e.offset), path, e.message);
            return std::nullopt;
        }
        return program->type();
    }

    void check_field(const located<std::string>& name, const std::string& path,
                     const std::optional<field_types>& fields) {
        if (!fields) return;
        if (const auto near = near_miss(*fields, name.value); !near.empty()) {
            out_.error(name.pos, path, unknown_field_message(name.value, near));
        }
    }

    // `samples:` needs a measure whose records count for or against it (engine/aggregates.h).
    void check_samples(const check_config& c, const measure::measure_expr& m,
                       const std::string& path) {
        const std::string need =
            "; samples need a measure that is one call of count(f), missing_count, "
            "missing_fraction, in_range_*, in_set_*, matches_*, count_where or fraction_where";
        if (!m.single_call()) {
            out_.error(c.samples.pos, path + ".samples",
                       in_quotes(c.measure.value) + " combines several values" + need);
            return;
        }
        const auto& call = m.calls().front();
        if (!engine::supports_samples(call.function->name, call.args.size())) {
            out_.error(c.samples.pos, path + ".samples",
                       "no record fails " + std::string(call.function->name) +
                           "() on its own (its value describes the whole window)" + need);
        }
    }

    // In a node reading several inputs without a join, a check filter sees every record by
    // its own field names: `orders.amount` would be a nested field no record has.
    void check_filter_names_no_input(const node_config& n, const located<std::string>& filter,
                                     const std::string& path) {
        if (n.from.size() < 2 || n.join) return;
        const auto program = expr::compile(filter.value, expr::compile_options{});
        if (!program) return;  // reported by check_expression
        for (const auto& ref : program->fields()) {
            const auto& segments = ref.path.segments;
            if (segments.size() < 2) continue;
            for (const auto& f : n.from) {
                if (f.value != segments.front()) continue;
                const std::string field =
                    field_path{{segments.begin() + 1, segments.end()}}.to_string();
                out_.error(filter.pos_at(0), path,
                           "the filter names the input " + f.value + " (" + ref.path.to_string() +
                               "); a check filter sees the records of every input by their own "
                               "field names: filter on " +
                               field + " and measure the input, e.g. count(" + f.value + ")");
                return;
            }
        }
    }

    // In a node reading several inputs without a join, binds the calls that name an input
    // (`count(orders)`, `sum(orders.amount)`) to it; false after an error.
    bool bind_measure(const node_config& n, const check_config& c, measure::measure_expr& m,
                      const std::string& path) {
        if (n.from.size() > 1 && !n.join) {
            std::vector<std::string> sources;
            for (const auto& f : n.from) sources.push_back(f.value);
            if (auto error = m.bind_sources(sources)) {
                out_.error(c.measure.pos_at(error->offset), path + ".measure", error->message);
                return false;
            }
            return true;
        }
        for (const auto& call : m.calls()) {
            if (call.function->name != "reconcile") continue;
            out_.error(c.measure.pos_at(call.offset), path + ".measure",
                       std::string("reconcile() compares the keys of two inputs of a node that "
                                   "reads several without a join (from: [orders, payments])"));
            return false;
        }
        return true;
    }

    void check_check(const node_config& n, std::size_t i,
                     const std::optional<field_types>& fields) {
        const auto& c = n.checks[i];
        const std::string path = indexed("nodes." + n.name, "checks", i);
        parsed_check parsed;
        if (c.filter) check_expression(*c.filter, path + ".filter", fields, value_type::boolean);
        if (c.filter) check_filter_names_no_input(n, *c.filter, path + ".filter");
        auto m = measure::parse_measure(c.measure.value);
        if (!m) {
            report(out_, c.measure, path + ".measure", m.errors());
        } else {
            for (const auto& call : m->calls()) {
                const std::string_view fn = call.function->name;
                if (c.filter && call.args.empty() &&
                    (fn == "invalid_count" || fn == "invalid_fraction")) {
                    out_.error(c.measure.pos_at(call.offset), path + ".measure",
                               std::string(fn) +
                                   "() counts the records the schema rejected, which a check "
                                   "filter does not see; measure it in a check without filter");
                }
                if (c.filter && measure::is_drift_function(fn)) {
                    out_.error(c.measure.pos_at(call.offset), path + ".measure",
                               std::string(fn) +
                                   "() watches every record of the node, which a check filter "
                                   "would not restrict; measure it in a check without filter");
                }
                for (const auto& arg : call.args) {
                    if (arg.kind == measure::arg_kind::expression) {
                        // Typed against the node's fields, at its characters in the measure.
                        check_expression(
                            arg.expression,
                            [&](std::size_t offset) {
                                return c.measure.pos_at(arg.offset + offset);
                            },
                            path + ".measure", fields, value_type::boolean);
                        continue;
                    }
                    if (arg.kind != measure::arg_kind::field) continue;
                    const std::string name = arg.field.to_string();
                    if (!fields) continue;
                    if (const auto near = near_miss(*fields, name); !near.empty()) {
                        out_.error(c.measure.pos_at(arg.offset), path + ".measure",
                                   unknown_field_message(name, near));
                    }
                }
            }
            if (bind_measure(n, c, *m, path)) {
                if (c.samples.value > 0) check_samples(c, *m, path);
                parsed.measure = std::make_shared<const measure::measure_expr>(std::move(*m));
            }
        }
        auto judge = [&](const std::optional<located<std::string>>& text,
                         const char* key) -> std::shared_ptr<const check::assessment> {
            if (!text) return nullptr;
            // The deprecated `assess:` alias is reported under the key the user wrote.
            const std::string where =
                path + "." + (c.assess_alias && key == std::string("must_be") ? "assess" : key);
            auto a = check::parse_assessment(text->value);
            if (!a) {
                report(out_, *text, where, a.errors());
                return nullptr;
            }
            if (parsed.measure && parsed.measure->result() != measure::result_type::field_value &&
                !a->accepts(kind_of(parsed.measure->result()))) {
                out_.error(text->pos_at(0), where,
                           in_quotes(text->value) + " cannot judge " + in_quotes(c.measure.value) +
                               ", which gives " + describe(parsed.measure->result()));
                return nullptr;
            }
            if (a->history() != nullptr && n.window) {
                // The window's step places values in buckets and reference windows; session
                // windows have none (step 0).
                const auto& w = *n.window;
                const time::timestamp_ns step = w.type.value == "session" ? 0
                                                : w.type.value == "sliding"
                                                    ? w.slide.value.count() * time::ns_per_ms
                                                    : w.size.value.count() * time::ns_per_ms;
                if (auto why = check::history_model::refuse(*a->history(), step)) {
                    out_.error(text->pos_at(0), where, in_quotes(text->value) + ": " + *why);
                    return nullptr;
                }
            }
            return std::make_shared<const check::assessment>(std::move(*a));
        };
        parsed.must_be = judge(c.must_be, "must_be");
        parsed.should_be = judge(c.should_be, "should_be");
        parsed_[&c] = std::move(parsed);
    }

    const pipeline_config& p_;
    bool refuse_unbuilt_;
    diagnostics& out_;
    std::size_t unbuilt_ = 0;
    std::map<std::string, std::optional<field_types>, std::less<>> done_;
    std::set<std::string, std::less<>> visiting_;
    const std::optional<field_types> unknown_;
    std::map<const check_config*, parsed_check> parsed_;
};

// ---------------------------------------------------------------------------------------------
// The building pass

// The names a node sees, each bound to a slot of the query's slot space.
using environment = std::map<std::string, std::uint32_t, std::less<>>;

// A canonical path (`a.b`, `a["x y"]`, as field_path::to_string() writes it) as segments.
field_path parse_path(const std::string& path) {
    field_path p;
    std::string segment;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '.') {
            p.segments.push_back(segment);
            segment.clear();
        } else if (path[i] == '[' && i + 1 < path.size() && path[i + 1] == '"') {
            if (!segment.empty()) p.segments.push_back(segment);
            segment.clear();
            std::size_t j = i + 2;
            for (; j < path.size() && path[j] != '"'; ++j) {
                if (path[j] == '\\' && j + 1 < path.size()) ++j;
                segment += path[j];
            }
            p.segments.push_back(segment);
            segment.clear();
            i = j + 1;  // at the closing ]
            if (i + 1 < path.size() && path[i + 1] == '.') ++i;
        } else {
            segment += path[i];
        }
    }
    if (!segment.empty() || p.segments.empty()) p.segments.push_back(segment);
    return p;
}

// The slots of one query: decoded fields, shared by every node, and fields `set` computes.
// Whether a check measures schema drift (the node then gets a drift tracker and slot).
bool uses_drift(const std::vector<engine::check_plan>& checks) {
    for (const auto& c : checks) {
        for (const auto& call : c.parsed_measure->calls()) {
            if (measure::is_drift_function(call.function->name)) return true;
        }
    }
    return false;
}

class slot_space {
  public:
    std::uint32_t decoded(const std::string& path) {
        if (auto it = decoded_.find(path); it != decoded_.end()) return it->second;
        const auto slot = static_cast<std::uint32_t>(fields_.size());
        fields_.push_back(parse_path(path));
        decoded_[path] = slot;
        return slot;
    }

    // A slot no decoder fills; its decode path (a NUL byte) matches no JSON key.
    std::uint32_t computed(const std::string& name) {
        const auto slot = static_cast<std::uint32_t>(fields_.size());
        fields_.push_back(field_path{{std::string("\0computed:", 10) + name}});
        return slot;
    }

    // A second slot decoded from the same path as decoded slot `slot`, which decoders fill
    // with its numbers as text (the digits an epoch event time is read from, exactly); none
    // (nullopt) when `slot` is computed. One per slot.
    std::optional<std::uint32_t> number_text(std::uint32_t slot) {
        if (auto it = number_text_.find(slot); it != number_text_.end()) return it->second;
        if (std::none_of(decoded_.begin(), decoded_.end(),
                         [&](const auto& d) { return d.second == slot; })) {
            return std::nullopt;
        }
        const auto text = static_cast<std::uint32_t>(fields_.size());
        fields_.push_back(fields_[slot]);
        number_text_[slot] = text;
        return text;
    }

    std::size_t size() const { return fields_.size(); }
    std::vector<field_path> take() { return std::move(fields_); }

  private:
    std::vector<field_path> fields_;
    std::map<std::string, std::uint32_t, std::less<>> decoded_;
    std::map<std::uint32_t, std::uint32_t> number_text_;
};

window::window_spec window_of(const window_config& w) {
    auto ns = [](std::chrono::milliseconds d) { return d.count() * time::ns_per_ms; };
    window::window_spec s;
    if (w.type.value == "sliding") s.kind = window::window_kind::sliding;
    if (w.type.value == "session") s.kind = window::window_kind::session;
    s.size = ns(w.size.value);
    s.slide = ns(w.slide.value);
    s.gap = ns(w.gap.value);
    s.allowed_lateness = ns(w.allowed_lateness.value);
    s.idle_timeout = ns(w.idle_timeout.value);
    return s;
}

engine::emit_mode emit_of(const std::string& emit) {
    if (emit == "failures") return engine::emit_mode::failures;
    if (emit == "changes") return engine::emit_mode::changes;
    return engine::emit_mode::all;
}

engine::no_data_action no_data_of(const std::string& action) {
    if (action == "pass") return engine::no_data_action::pass;
    if (action == "warn") return engine::no_data_action::warn;
    if (action == "fail") return engine::no_data_action::fail;
    return engine::no_data_action::ignore;
}

engine::partial_action partial_of(const std::string& action) {
    return action == "judge" ? engine::partial_action::judge : engine::partial_action::no_data;
}

// The slot `path` names in `env`; a name the node did not define is a decoded field.
std::uint32_t resolve(const std::string& path, environment& env, slot_space& slots) {
    if (auto it = env.find(path); it != env.end()) return it->second;
    const std::uint32_t slot = slots.decoded(path);
    env[path] = slot;
    return slot;
}

// A canonical, order-preserving text of a parameter tree.
void canonical_value(const params::value& v, std::string& out) {
    switch (v.type) {
        case params::value::kind::null:
            out += "~";
            break;
        case params::value::kind::scalar:
            out += std::to_string(v.text.size()) + ":" + v.text;
            break;
        case params::value::kind::sequence:
            out += "[";
            for (const auto& i : v.items) canonical_value(i, out), out += ",";
            out += "]";
            break;
        case params::value::kind::mapping:
            out += "{";
            for (const auto& e : v.entries) {
                out += std::to_string(e.key.size()) + ":" + e.key + "=";
                canonical_value(e.val, out);
                out += ",";
            }
            out += "}";
            break;
    }
}

std::string hex_digest(std::string_view bytes) {
    const std::uint64_t h1 = hashing::hash_bytes(bytes.data(), bytes.size(), 1);
    const std::uint64_t h2 = hashing::hash_bytes(bytes.data(), bytes.size(), 2);
    return fmt::format("{:016x}{:016x}", h1, h2);
}

// The decode plan of an input: its format and limits, from the parameters its type declares.
chain::decode_plan decode_plan_of(const component_config& in) {
    chain::decode_plan d;
    const params::reader params(*in.info->spec, in.params);
    if (params.spec().find("max_line_length")) {
        d.max_record_size = params.size("max_line_length").value;
    } else if (params.spec().find("max_record_size")) {
        d.max_record_size = params.size("max_record_size").value;
    }
    if (params.spec().find("format") && params.string("format").value == "csv") {
        d.format = chain::record_format::csv;
        if (auto c = params.object("csv")) {
            const std::string delimiter = c->string("delimiter").value;
            const std::string quote = c->string("quote").value;
            if (delimiter.size() == 1) d.csv.delimiter = delimiter[0];
            if (delimiter == "\\t" || delimiter == "tab") d.csv.delimiter = '\t';
            if (quote.size() == 1) d.csv.quote = quote[0];
            d.csv.header = c->boolean("header").value;
            for (const auto& col : c->strings("columns")) d.csv.columns.push_back(col.value);
            for (const auto& v : c->strings("null_values")) d.csv.null_values.push_back(v.value);
        }
    }
    d.csv.max_record_size = d.max_record_size;
    return d;
}

// A check's alert labels and annotations, sorted by name, with its description as the
// `description` annotation unless annotations give one; null when there are none.
std::shared_ptr<const check_metadata> metadata_of(const check_config& c) {
    if (c.labels.empty() && c.annotations.empty() && c.description.empty()) return nullptr;
    auto m = std::make_shared<check_metadata>();
    for (const auto& [name, text] : c.labels) m->labels.emplace_back(name.value, text.value);
    for (const auto& [name, text] : c.annotations) {
        m->annotations.emplace_back(name.value, text.value);
    }
    const auto named = [](const auto& e) { return e.first == "description"; };
    if (!c.description.empty() &&
        std::none_of(m->annotations.begin(), m->annotations.end(), named)) {
        m->annotations.emplace_back("description", c.description);
    }
    std::sort(m->labels.begin(), m->labels.end());
    std::sort(m->annotations.begin(), m->annotations.end());
    return m;
}

// The canonical serialisation of what shapes a query's state: its inputs (their parameters
// decide what is read and where positions point), its slot space and every step of every node
// up to the measures — not how results are judged and emitted (assessments, emit, on_no_data,
// on_partial; `judgement`), nor outputs, late_output, dead letters or the policy: a query
// changed only in those resumes its open windows. Programs appear as their source text.
// Everything goes into `state_` (the fingerprint) and into `before_` (the fingerprint before
// judgements were kept apart, so checkpoints written then resume).
class fingerprint_writer {
  public:
    void input(const component_config& in, const chain::input_plan& plan) {
        w_.str("input");
        w_.str(in.name);
        w_.str(in.type.value);
        w_.str(canonical_text(in.params));
        w_.u8(static_cast<std::uint8_t>(plan.decode.format));
        w_.varint(plan.decode.max_record_size);
    }
    void slots(std::span<const field_path> fields, const std::vector<std::size_t>& text_slots) {
        w_.str("slots");
        w_.varint(fields.size());
        for (const auto& f : fields) {
            w_.varint(f.segments.size());
            for (const auto& s : f.segments) w_.str(s);
        }
        w_.varint(text_slots.size());
        for (const auto s : text_slots) w_.varint(s);
    }
    void node(const chain::node_plan& n, const std::vector<std::string>& texts) {
        w_.str("node");
        w_.str(n.name);
        w_.varint(n.from.size());
        for (const auto& f : n.from) {
            w_.u8(static_cast<std::uint8_t>(f.type));
            w_.varint(f.index);
        }
        w_.boolean(n.schema.has_value());
        if (n.schema) {
            w_.u8(static_cast<std::uint8_t>(n.schema->on_invalid));
            w_.varint(n.schema->fields.size());
            for (const auto& f : n.schema->fields) {
                w_.str(f.name);
                w_.varint(f.slot);
                w_.u8(static_cast<std::uint8_t>(f.type));
                w_.boolean(f.required);
                w_.varint(f.allowed.size());
                for (const auto& a : f.allowed) w_.str(a);
                w_.boolean(f.minimum.has_value());
                w_.f64(f.minimum.value_or(0));
                w_.boolean(f.maximum.has_value());
                w_.f64(f.maximum.value_or(0));
                w_.str(f.pattern.value_or(""));
                w_.str(f.time_format);
            }
        }
        // The transforms, as their sources (set targets, renames and drops included).
        w_.varint(texts.size());
        for (const auto& t : texts) w_.str(t);
        w_.varint(n.visible.size());
        for (const auto& [name, slot] : n.visible) {
            w_.str(name);
            w_.varint(slot);
        }
        w_.boolean(n.time.has_value());
        if (n.time) {
            // A zone changes every event time; without one the bytes stay those of plans
            // written before timezone existed, so their checkpoints still fit.
            w_.str(n.time->timezone.empty() ? n.time->format
                                            : n.time->format + '\0' + n.time->timezone);
            w_.varint(n.time->slot);
        }
        w_.boolean(n.engine.has_value());
        if (n.engine) {
            const engine::node_plan& e = *n.engine;
            w_.u8(static_cast<std::uint8_t>(e.window.kind));
            for (const auto v : {e.window.size, e.window.slide, e.window.gap,
                                 e.window.allowed_lateness, e.window.idle_timeout, e.group_ttl}) {
                w_.i64(v);
            }
            w_.boolean(e.processing_time);
            // Written only when not the default, so plans written before the key existed keep
            // their bytes (and their checkpoints).
            if (!e.empty_is_missing) w_.str("empty_is_missing false");
            w_.varint(e.max_groups);
            w_.varint(e.group_by.size());
            for (const auto& g : e.group_by) w_.str(g.to_string());
            w_.varint(e.checks.size());
            for (const auto& c : e.checks) {
                w_.str(c.name);
                // A check filter changes the state; without one the bytes stay those of plans
                // written before filters existed, so their checkpoints still fit.
                // Samples too (kept in the state): without them, the bytes stay the same.
                w_.str((c.filter.empty() ? c.measure.str()
                                         : c.measure.str() + '\0' + "filter " + c.filter) +
                       (c.samples == 0
                            ? ""
                            : '\0' + std::string("samples ") + std::to_string(c.samples)));
                w_.before.str(c.must_be);
                w_.before.str(c.should_be);
                w_.before.u8(static_cast<std::uint8_t>(c.emit));
                judgement_.str(c.name);
                judgement_.str(c.must_be);
                judgement_.str(c.should_be);
                judgement_.u8(static_cast<std::uint8_t>(c.emit));
                judgement_.u8(static_cast<std::uint8_t>(c.on_no_data));
                judgement_.u8(static_cast<std::uint8_t>(c.on_partial));
                // Written only when set, so plans from before the key keep their bytes.
                if (c.learn_anomalies) judgement_.str("learn_anomalies");
                // Alert labels and annotations only label results; without them the bytes
                // stay those of plans written before they existed.
                if (c.metadata) {
                    for (const auto* entries : {&c.metadata->labels, &c.metadata->annotations}) {
                        judgement_.varint(entries->size());
                        for (const auto& [name, text] : *entries) {
                            judgement_.str(name);
                            judgement_.str(text);
                        }
                    }
                }
            }
        }
    }
    // Where the results and records of each node go (judgement: a change resumes the query).
    void routing(const chain::chain_plan& chain) {
        const auto name = [&](std::optional<chain::output_index> o) {
            judgement_.str(o ? chain.outputs.at(*o) : std::string());
        };
        for (const auto& n : chain.nodes) {
            judgement_.str(n.name);
            judgement_.varint(n.outputs.size());
            for (const auto o : n.outputs) name(o);
            name(n.late_output);
            name(n.dead_letter);
            // Written only when there are any, so plans without keep their bytes.
            for (const auto& d : n.depends_on) {
                judgement_.str("depends_on " + d.spec.input);
                judgement_.i64(d.spec.max_lag);
                judgement_.i64(d.spec.max_hold);
                judgement_.u8(static_cast<std::uint8_t>(d.spec.on_down));
            }
        }
    }
    std::string digest() { return hex_digest(w_.state.take()); }
    std::string digest_before() { return hex_digest(w_.before.take()); }
    std::string judgement_digest() { return hex_digest(judgement_.take()); }

  private:
    // Writes each value to both the state and the earlier fingerprint.
    struct both_writers {
        byte_writer state;
        byte_writer before;
        void str(std::string_view v) {
            state.str(v);
            before.str(v);
        }
        void u8(std::uint8_t v) {
            state.u8(v);
            before.u8(v);
        }
        void varint(std::uint64_t v) {
            state.varint(v);
            before.varint(v);
        }
        void boolean(bool v) {
            state.boolean(v);
            before.boolean(v);
        }
        void i64(std::int64_t v) {
            state.i64(v);
            before.i64(v);
        }
        void f64(double v) {
            state.f64(v);
            before.f64(v);
        }
    };
    both_writers w_;
    byte_writer judgement_;
};

class query_builder {
  public:
    query_builder(const pipeline_config& p, const pipeline_checker& checked,
                  const std::vector<component_plan>& inputs, diagnostics& out)
        : p_(p), checked_(checked), inputs_(inputs), out_(out) {}

    // Builds every step the chain would build from `chain` — decoders, schemas, engines — and
    // reports what refuses to be built at the key that asks for it: run builds exactly these
    // at start, so nothing validate accepted can fail there. False when something refused.
    bool try_steps(const chain::chain_plan& chain) {
        bool ok = true;
        for (const auto& in : chain.inputs) {
            if (in.decode.format != chain::record_format::csv) continue;
            try {
                decode::csv_decoder probe(chain.fields, in.decode.csv);
            } catch (const std::invalid_argument& e) {
                const component_config& c = *p_.find_input(in.name);
                const params::value* csv = c.params.find("csv");
                std::string message = e.what();
                if (message.starts_with("csv: ")) message.erase(0, 5);
                refuse(csv ? csv->pos : c.pos, "inputs." + in.name + (csv ? ".csv" : ""), message);
                ok = false;
            }
        }
        for (const auto& node : chain.nodes) {
            const node_config& n = *p_.find_node(node.name);
            if (node.schema) {
                // Field by field, so the problem is reported at its field.
                for (std::size_t i = 0; i < node.schema->fields.size(); ++i) {
                    schema::schema_description one;
                    one.on_invalid = node.schema->on_invalid;
                    one.fields.push_back(node.schema->fields[i]);
                    try {
                        schema::record_schema probe(std::move(one));
                    } catch (const std::invalid_argument& e) {
                        const auto& f = n.schema->fields.at(i);
                        refuse(f.name.pos, "nodes." + n.name + ".schema.fields." + f.name.value,
                               e.what());
                        ok = false;
                    }
                }
            }
            if (node.engine) {
                try {
                    engine::node_engine probe(*node.engine);
                } catch (const std::invalid_argument& e) {
                    refuse(n.window ? n.window->pos : n.pos, "nodes." + n.name + ".window",
                           e.what());
                    ok = false;
                }
            }
        }
        return ok;
    }

    compiled_query build(const query_plan& outline) {
        compiled_query q;
        q.name = outline.name;
        auto chain = std::make_shared<chain::chain_plan>();
        chain->pipeline = p_.name;
        chain->query = outline.name;
        chain->outputs = outline.outputs;
        fingerprint_writer print;
        std::vector<std::size_t> epoch_time_slots;  // the time slots of epoch formats

        std::map<std::string, std::uint32_t, std::less<>> input_index, node_index;
        for (const auto& name : outline.inputs) {
            const component_config* in = p_.find_input(name);
            chain::input_plan ip;
            ip.name = name;
            ip.decode = decode_plan_of(*in);
            input_index[name] = static_cast<std::uint32_t>(chain->inputs.size());
            print.input(*in, ip);
            chain->inputs.push_back(std::move(ip));
            for (std::size_t i = 0; i < inputs_.size(); ++i) {
                if (inputs_[i].name == name) q.inputs.push_back(i);
            }
        }

        slot_space slots;
        std::map<std::string, environment, std::less<>> env_after;  // node -> names after it
        std::vector<environment> node_envs;
        std::vector<std::vector<std::string>> texts;  // per node: its transforms' sources

        for (const auto& name : outline.nodes) {
            const node_config& n = *p_.find_node(name);
            chain::node_plan c;
            c.name = n.name;
            environment env;
            for (const auto& f : n.from) {
                if (auto it = input_index.find(f.value); it != input_index.end()) {
                    c.from.push_back({chain::source_ref::kind::input, it->second});
                } else {
                    c.from.push_back({chain::source_ref::kind::node, node_index.at(f.value)});
                }
                // A node reading a derived stream sees the names its source made.
                if (auto it = env_after.find(f.value); it != env_after.end()) {
                    env.insert(it->second.begin(), it->second.end());
                }
            }

            if (n.schema && !n.schema->fields.empty()) {
                schema::schema_description d;
                d.on_invalid = schema::parse_invalid_action(n.schema->on_invalid.value)
                                   .value_or(schema::invalid_action::drop);
                for (const auto& f : n.schema->fields) {
                    schema::field_description fd;
                    fd.name = f.name.value;
                    fd.slot = resolve(f.name.value, env, slots);
                    fd.type =
                        schema::parse_field_type(f.type.value).value_or(schema::field_type::string);
                    fd.required = f.required;
                    for (const auto& a : f.allowed) fd.allowed.push_back(a.value);
                    if (f.minimum) fd.minimum = f.minimum->value;
                    if (f.maximum) fd.maximum = f.maximum->value;
                    if (f.pattern) fd.pattern = f.pattern->value;
                    // A timestamp reads as the node's time does; another type (an epoch time
                    // field declared a number) is checked as that type.
                    if (fd.type == schema::field_type::timestamp && n.time && !n.time->processing &&
                        n.time->field.value == f.name.value) {
                        fd.time_format = n.time->format.value;
                    }
                    d.fields.push_back(std::move(fd));
                }
                c.schema = std::move(d);
            }
            if (n.dead_letter) {
                c.dead_letter = output_of(*chain, n.dead_letter->value);
            } else if (n.schema && n.schema->dead_letter) {
                c.dead_letter = output_of(*chain, n.schema->dead_letter->value);
            }

            std::vector<std::string> sources;
            for (const auto& t : n.transforms) {
                chain::transform_plan ct;
                switch (t.type) {
                    case transform_config::kind::filter:
                        ct.type = chain::transform_plan::kind::filter;
                        ct.filter = program(t.expression.value, env, slots, value_type::boolean);
                        sources.push_back("filter " + t.expression.value);
                        c.transforms.push_back(std::move(ct));
                        break;
                    case transform_config::kind::set:
                        ct.type = chain::transform_plan::kind::set;
                        for (const auto& [target, text] : t.assignments) {
                            auto compiled = program(text.value, env, slots, value_type::any);
                            const std::uint32_t slot = slots.computed(target.value);
                            env[target.value] = slot;
                            ct.assignments.emplace_back(slot, std::move(compiled));
                            sources.push_back("set " + target.value + " = " + text.value);
                        }
                        c.transforms_reshape = true;
                        c.transforms.push_back(std::move(ct));
                        break;
                    case transform_config::kind::rename:
                        for (const auto& [from, to] : t.assignments) {
                            const std::uint32_t slot = resolve(from.value, env, slots);
                            env.erase(from.value);
                            env[to.value] = slot;
                            sources.push_back("rename " + from.value + " " + to.value);
                        }
                        c.transforms_reshape = true;
                        break;
                    case transform_config::kind::drop:
                        for (const auto& [field, unused] : t.assignments) {
                            // Later references read a slot nobody fills: absent.
                            env[field.value] = slots.computed(field.value);
                            sources.push_back("drop " + field.value);
                        }
                        c.transforms_reshape = true;
                        break;
                }
            }

            // A join: its keys read each side's records; the names after it are the joined
            // ones (`<source>.<field>`), whose slots it fills from the sides' records.
            environment side_env;
            if (n.join) {
                side_env = env;
                env = compile_join(n, side_env, slots, sources, c);
                // A derived join writes each side's record with the names it had before.
                if (!n.emits_results()) {
                    compile_time(n, side_env, slots, c, epoch_time_slots);
                    c.visible.assign(side_env.begin(), side_env.end());
                }
            }

            if (n.emits_results()) {
                engine::node_plan plan;
                plan.pipeline = p_.name;
                plan.node = n.name;
                plan.window = window_of(*n.window);
                if (c.join) {
                    // The join waits for late records and idle sides; its rows come in order.
                    plan.window.allowed_lateness = 0;
                    plan.window.idle_timeout = 0;
                }
                plan.processing_time = !n.time || n.time->processing;
                plan.group_ttl =
                    n.group_by.empty() ? 0 : n.group_ttl.value.count() * time::ns_per_ms;
                plan.max_groups = static_cast<std::size_t>(n.max_groups.value);
                plan.exact_quantile_limit =
                    static_cast<std::uint32_t>(n.exact_quantile_limit.value);
                plan.empty_is_missing = n.empty_is_missing;
                plan.sources = n.from.size();
                if (n.from.size() > 1 && !n.join) {
                    for (const auto& f : n.from) plan.origins.push_back(f.value);
                }
                for (const auto& g : n.group_by) {
                    resolve(g.value, env, slots);
                    plan.group_by.push_back(parse_path(g.value));
                }
                for (const auto& check : n.checks) {
                    const parsed_check* parsed = checked_.parsed(check);
                    if (parsed == nullptr || !parsed->measure) {
                        throw std::logic_error("check " + check.name.value + " was not parsed");
                    }
                    engine::check_plan cp;
                    cp.name = check.name.value;
                    cp.measure = check.measure.value;
                    cp.must_be = check.must_be ? check.must_be->value : "";
                    cp.should_be = check.should_be ? check.should_be->value : "";
                    cp.emit = emit_of(n.emit.value);
                    cp.on_no_data =
                        no_data_of(check.on_no_data ? check.on_no_data->value : n.on_no_data.value);
                    cp.on_partial =
                        partial_of(check.on_partial ? check.on_partial->value : n.on_partial.value);
                    cp.parsed_measure = parsed->measure;
                    cp.parsed_must_be = parsed->must_be;
                    cp.parsed_should_be = parsed->should_be;
                    cp.samples = static_cast<std::uint32_t>(check.samples.value);
                    cp.learn_anomalies = check.learn_anomalies;
                    cp.metadata = metadata_of(check);
                    for (const auto& call : parsed->measure->calls()) {
                        for (const auto& arg : call.args) {
                            if (arg.kind == measure::arg_kind::field) {
                                resolve(arg.field.to_string(), env, slots);
                            }
                            if (arg.kind == measure::arg_kind::expression) {
                                // Compiled for its fields' slots; the engine compiles it.
                                program(arg.expression, env, slots, value_type::boolean);
                            }
                        }
                    }
                    if (check.filter) {
                        cp.filter = check.filter->value;
                        program(cp.filter, env, slots, value_type::boolean);
                    }
                    plan.checks.push_back(std::move(cp));
                }
                if (uses_drift(plan.checks)) c.drift_slot = slots.computed("drift");
                if (!plan.processing_time) {
                    compile_time(n, c.join ? side_env : env, slots, c, epoch_time_slots);
                }
                c.engine = std::move(plan);
            }
            if (n.late_output) c.late_output = output_of(*chain, n.late_output->value);
            for (const auto& o : n.outputs) c.outputs.push_back(output_of(*chain, o.value));
            for (const auto& d : n.depends_on) {
                chain::node_plan::dependency dp;
                dp.input = input_index.at(d.input.value);
                dp.spec.input = d.input.value;
                dp.spec.max_lag = d.max_lag.value.count() * time::ns_per_ms;
                dp.spec.max_hold = d.max_hold.value.count() * time::ns_per_ms;
                dp.spec.on_down = d.on_down.value == "continue" ? window::on_down_action::continue_
                                                                : window::on_down_action::hold;
                c.depends_on.push_back(std::move(dp));
            }

            env_after[n.name] = env;
            if (!c.join || n.emits_results()) c.visible.assign(env.begin(), env.end());
            node_envs.push_back(env);
            node_index[n.name] = static_cast<std::uint32_t>(chain->nodes.size());
            texts.push_back(std::move(sources));
            chain->nodes.push_back(std::move(c));
        }

        // end_when: over the input's records as decoded (no node's names apply).
        for (auto& ip : chain->inputs) {
            const component_config* in = p_.find_input(ip.name);
            const params::value* e = in->params.find("end_when");
            if (e == nullptr || !e->is_scalar()) continue;
            environment decoded;
            ip.end_when = program(e->text, decoded, slots, value_type::boolean);
        }

        // Epoch event times are read from the digits of their field (a double would round
        // epoch_ns and fractional seconds), in a slot of their own after all others, so the
        // records keep the number they hold and the slots before keep their numbers.
        const std::size_t record_slots = slots.size();
        for (auto& c : chain->nodes) {
            if (!c.time || std::find(epoch_time_slots.begin(), epoch_time_slots.end(),
                                     c.time->slot) == epoch_time_slots.end()) {
                continue;
            }
            if (const auto text = slots.number_text(c.time->slot)) {
                c.time->read_slot = *text;
                if (std::find(chain->number_text_slots.begin(), chain->number_text_slots.end(),
                              *text) == chain->number_text_slots.end()) {
                    chain->number_text_slots.push_back(*text);
                }
            }
        }

        // Now the slot count is final: each engine sees every slot, named as its node names it
        // (slots it does not name get a placeholder no measure can refer to).
        const std::size_t total = slots.size();
        for (std::size_t i = 0; i < chain->nodes.size(); ++i) {
            if (!chain->nodes[i].engine) continue;
            auto& fields = chain->nodes[i].engine->fields;
            fields.assign(total, field_path{});
            for (std::size_t s = 0; s < total; ++s) {
                fields[s] = field_path{{std::string("\0slot:", 6) + std::to_string(s)}};
            }
            for (const auto& [name, slot] : node_envs[i]) fields[slot] = parse_path(name);
            if (const auto drift = chain->nodes[i].drift_slot)
                fields[*drift] = schema::drift_field();
        }
        chain->fields = slots.take();

        // The bytes of plans before the digits had slots of their own: the same plan, so its
        // checkpoints resume.
        print.slots(std::span(chain->fields).first(record_slots), epoch_time_slots);
        for (std::size_t i = 0; i < chain->nodes.size(); ++i) print.node(chain->nodes[i], texts[i]);
        print.routing(*chain);
        q.fingerprint = print.digest();
        q.fingerprint_before_judgements = print.digest_before();
        q.judgement_fingerprint = print.judgement_digest();
        q.legacy_fingerprint = legacy_fingerprint(outline);
        q.policy = policy_of(outline);
        q.chain = std::move(chain);
        return q;
    }

  private:
    // Each problem once, though a node may be in several queries.
    void refuse(const source_pos& pos, const std::string& path, const std::string& message) {
        if (refused_.insert(path + "\n" + message).second) out_.error(pos, path, message);
    }

    static chain::output_index output_of(const chain::chain_plan& chain, const std::string& name) {
        const auto it = std::find(chain.outputs.begin(), chain.outputs.end(), name);
        if (it == chain.outputs.end()) {
            throw std::logic_error("output " + name + " is not among the query's outputs");
        }
        return static_cast<chain::output_index>(it - chain.outputs.begin());
    }

    // The names an expression reads, as written.
    static void names_in(const std::string& text, std::vector<std::string>& out) {
        expr::compile_options options;
        options.expected = value_type::any;
        options.resolve = [&](const field_path& p) -> std::optional<std::uint32_t> {
            out.push_back(p.to_string());
            return 0;
        };
        (void)expr::compile(text, options);
    }

    // The event time of node `n`'s records (as `env` names their fields) into c.time.
    void compile_time(const node_config& n, environment& env, slot_space& slots,
                      chain::node_plan& c, std::vector<std::size_t>& epoch_time_slots) {
        time::time_parser::error err;
        auto parser = time::time_parser::compile(n.time->format.value, &err);
        if (!parser) {
            throw std::logic_error("time format " + n.time->format.value + " did not compile");
        }
        if (n.time->timezone.given) {
            const auto zone = time::time_zone::find(n.time->timezone.value);
            if (!zone) {
                throw std::logic_error("time zone " + n.time->timezone.value + " was not found");
            }
            parser->set_zone(*zone);
        }
        chain::event_time_plan t;
        t.parser = *parser;
        t.format = n.time->format.value;
        t.timezone = n.time->timezone.given ? n.time->timezone.value : "";
        t.field = n.time->field.value;
        t.max_jump = n.time->max_jump.value.count() * time::ns_per_ms;
        t.slot = resolve(n.time->field.value, env, slots);
        t.read_slot = t.slot;
        if (parser->type() != time::time_parser::kind::rfc3339 &&
            parser->type() != time::time_parser::kind::pattern) {
            epoch_time_slots.push_back(t.slot);
        }
        c.time = std::move(t);
    }

    // The join of node `n` into c.join; returns the names visible after it: each
    // `<source>.<field>` its checks read, in a slot the join fills from `<field>` of that
    // source's records (as `side_env` names them).
    environment compile_join(const node_config& n, environment& side_env, slot_space& slots,
                             std::vector<std::string>& sources, chain::node_plan& c) {
        const join_config& j = *n.join;
        chain::join_plan jp;
        jp.options.type =
            j.type.value == "temporal" ? join::join_type::temporal : join::join_type::interval;
        jp.options.kind = j.kind.value == "full"   ? join::join_kind::full
                          : j.kind.value == "left" ? join::join_kind::left
                                                   : join::join_kind::inner;
        jp.options.within = j.within.value.count() * time::ns_per_ms;
        if (n.window) {
            const window::window_spec w = window_of(*n.window);
            jp.options.allowed_lateness = w.allowed_lateness;
            jp.options.idle_timeout = w.idle_timeout;
        }
        jp.options.ordered = true;
        for (std::uint32_t i = 0; i < n.from.size(); ++i) {
            if (n.from[i].value == j.left.value) jp.left_from = i;
            if (n.from[i].value == j.right.value) jp.right_from = i;
        }
        jp.left_key = program(j.on_left.value, side_env, slots, value_type::any);
        jp.right_key = program(j.on_right.value, side_env, slots, value_type::any);
        if (!n.emits_results()) {
            // A derived stream: each row a JSON object of the sides' records, by input name;
            // the nodes reading it name their fields as paths (orders.amount).
            jp.derived = true;
            jp.left_name = j.left.value;
            jp.right_name = j.right.value;
            sources.push_back("join " + j.type.value + " " + j.kind.value + " " + j.left.value +
                              " " + j.right.value + " on " + j.on_left.value + " = " +
                              j.on_right.value + " within " + std::to_string(jp.options.within) +
                              " derived");
            c.join = std::move(jp);
            return {};
        }

        std::vector<std::string> names;
        for (const auto& g : n.group_by) names.push_back(g.value);
        for (const auto& check : n.checks) {
            const parsed_check* parsed = checked_.parsed(check);
            if (parsed != nullptr && parsed->measure) {
                for (const auto& call : parsed->measure->calls()) {
                    for (const auto& arg : call.args) {
                        if (arg.kind == measure::arg_kind::field) {
                            names.push_back(arg.field.to_string());
                        }
                        if (arg.kind == measure::arg_kind::expression) {
                            names_in(arg.expression, names);
                        }
                    }
                }
            }
            if (check.filter) names_in(check.filter->value, names);
        }
        environment joined;
        for (const auto& name : names) {
            if (joined.contains(name)) continue;
            for (const bool left : {true, false}) {
                const std::string prefix = (left ? j.left.value : j.right.value) + ".";
                if (!name.starts_with(prefix) || name.size() == prefix.size()) continue;
                const std::uint32_t target = slots.computed(name);
                joined[name] = target;
                const std::uint32_t source = resolve(name.substr(prefix.size()), side_env, slots);
                (left ? jp.left_fields : jp.right_fields).emplace_back(source, target);
                break;
            }
        }
        sources.push_back("join " + j.type.value + " " + j.kind.value + " " + j.left.value + " " +
                          j.right.value + " on " + j.on_left.value + " = " + j.on_right.value +
                          " within " + std::to_string(jp.options.within));
        c.join = std::move(jp);
        c.transforms_reshape = true;
        return joined;
    }

    std::shared_ptr<const expr::program> program(const std::string& text, environment& env,
                                                 slot_space& slots, value_type expected) {
        expr::compile_options options;
        options.expected = expected;
        options.resolve = [&](const field_path& p) -> std::optional<std::uint32_t> {
            return resolve(p.to_string(), env, slots);
        };
        auto compiled = expr::compile(text, options);
        if (!compiled) {
            // The checking pass compiled it already: this would be a bug of the compiler.
            throw std::logic_error("expression \"" + text + "\": " + compiled.error().message);
        }
        return std::make_shared<const expr::program>(std::move(*compiled));
    }

    query_policy policy_of(const query_plan& outline) const {
        query_policy policy;
        for (const auto& name : outline.nodes) policy.critical |= p_.find_node(name)->critical;
        const node_config& terminal = *p_.find_node(outline.nodes.back());
        policy.on_error = terminal.on_error.action.value == "stop" ? error_action::stop
                                                                   : error_action::keep_going;
        policy.max_errors = static_cast<std::uint64_t>(terminal.on_error.max_errors.value);
        policy.error_period = terminal.on_error.per.value;
        policy.buffer_max_records = static_cast<std::uint64_t>(terminal.buffer.max_records.value);
        const std::string& full = terminal.buffer.when_full.value;
        policy.when_full = full == "drop_newest"   ? full_action::drop_newest
                           : full == "drop_oldest" ? full_action::drop_oldest
                                                   : full_action::block;
        return policy;
    }

    // The fingerprint of format-1 checkpoints, exactly as weir computed it before the compiled
    // plan (a hand-assembled text of the query's settings). Only for resuming those.
    std::string legacy_fingerprint(const query_plan& outline) const {
        std::string canonical = "weir-query-v1\n";
        for (const auto& name : outline.inputs) {
            canonical += "input " + name + " ";
            canonical_value(p_.find_input(name)->params, canonical);
            canonical += "\n";
        }
        for (const auto& name : outline.nodes) {
            const node_config& n = *p_.find_node(name);
            canonical += "node " + n.name + " from";
            for (const auto& f : n.from) canonical += " " + f.value;
            canonical += "\n";
            if (n.schema && !n.schema->fields.empty()) {
                canonical += "schema " + n.schema->on_invalid.value + "\n";
                for (const auto& f : n.schema->fields) {
                    std::size_t allowed = f.allowed.size();
                    canonical += fmt::format(
                        "field {} {} {} {} {} {} {}\n", f.name.value, f.type.value, f.required,
                        allowed, f.minimum ? f.minimum->value : 0.0,
                        f.maximum ? f.maximum->value : 0.0, f.pattern ? f.pattern->value : "");
                    for (const auto& a : f.allowed) canonical += " enum " + a.value + "\n";
                }
            }
            for (const auto& t : n.transforms) {
                switch (t.type) {
                    case transform_config::kind::filter:
                        canonical += "filter " + t.expression.value + "\n";
                        break;
                    case transform_config::kind::set:
                        for (const auto& [target, text] : t.assignments) {
                            canonical += "set " + target.value + " = " + text.value + "\n";
                        }
                        break;
                    case transform_config::kind::rename:
                        for (const auto& [from, to] : t.assignments) {
                            canonical += "rename " + from.value + " " + to.value + "\n";
                        }
                        break;
                    case transform_config::kind::drop:
                        for (const auto& [field, unused] : t.assignments) {
                            canonical += "drop " + field.value + "\n";
                        }
                        break;
                }
            }
            if (!n.emits_results()) continue;
            for (const auto& c : n.checks) {
                canonical += "check " + c.name.value + " " + c.measure.value +
                             (c.filter ? " filter " + c.filter->value : "") + " | " +
                             (c.must_be ? c.must_be->value : "") + " | " +
                             (c.should_be ? c.should_be->value : "") + " | " + n.emit.value + "\n";
            }
            const window::window_spec w = window_of(*n.window);
            const std::int64_t ttl =
                n.group_by.empty() ? 0 : n.group_ttl.value.count() * time::ns_per_ms;
            canonical += fmt::format("window {} {} {} {} {} {}\n", n.window->type.value, w.size,
                                     w.slide, w.gap, w.allowed_lateness, w.idle_timeout);
            canonical +=
                fmt::format("groups {} {}\n", ttl, static_cast<std::size_t>(n.max_groups.value));
            for (const auto& g : n.group_by) canonical += "group_by " + g.value + "\n";
            if (!n.empty_is_missing) canonical += "empty_is_missing false\n";
            if (n.time && !n.time->processing) {
                canonical += "time " + n.time->field.value + " " + n.time->format.value + "\n";
            } else {
                canonical += "time processing\n";
            }
        }
        return hex_digest(canonical);
    }

    const pipeline_config& p_;
    const pipeline_checker& checked_;
    const std::vector<component_plan>& inputs_;
    diagnostics& out_;
    std::set<std::string> refused_;
};

component_plan component_of(const component_config& c) {
    return {c.name, c.type.value, c.info->spec, c.params};
}

// Whether an error was reported under `section.name` (or deeper).
bool has_error_under(const diagnostics& out, const std::string& section, const std::string& name) {
    const std::string key = section + "." + name;
    return std::any_of(out.items().begin(), out.items().end(), [&](const diagnostic& d) {
        return d.severity == severity::error && d.path.starts_with(key) &&
               (d.path.size() == key.size() || d.path[key.size()] == '.' ||
                d.path[key.size()] == '[');
    });
}

}  // namespace

std::string canonical_text(const params::value& v) {
    std::string out;
    canonical_value(v, out);
    return out;
}

namespace {

// With errors elsewhere, the queries no error touches are still built and their steps tried,
// so that what only building finds (a CSV dialect, a schema field, an engine) is reported in
// the same run as the rest. Nothing is kept.
void probe_untouched_queries(const pipeline_config& pipeline, const pipeline_checker& checker,
                             diagnostics& out) {
    const auto sound = [&](const component_config& c, const char* section) {
        return c.info != nullptr && c.info->implemented && !has_error_under(out, section, c.name);
    };
    std::vector<component_plan> inputs;
    for (const auto& in : pipeline.inputs) {
        if (sound(in, "inputs")) inputs.push_back(component_of(in));
    }
    query_builder builder(pipeline, checker, inputs, out);
    for (const auto& outline : split_queries(pipeline)) {
        bool untouched = true;
        for (const auto& name : outline.inputs) {
            const component_config* in = pipeline.find_input(name);
            untouched = untouched && in != nullptr && sound(*in, "inputs");
        }
        for (const auto& name : outline.outputs) {
            const component_config* o = pipeline.find_output(name);
            untouched = untouched && o != nullptr && sound(*o, "outputs");
        }
        for (const auto& name : outline.nodes) {
            const node_config* n = pipeline.find_node(name);
            untouched = untouched && n != nullptr && n->complete && !n->join &&
                        n->depends_on.empty() && !has_error_under(out, "nodes", name);
        }
        if (!untouched) continue;
        try {
            builder.try_steps(*builder.build(outline).chain);
        } catch (const std::logic_error&) {
            // Something the errors did reach after all: the run is invalid either way.
        }
    }
}

}  // namespace

std::shared_ptr<const compiled_pipeline> compile_pipeline(const pipeline_config& pipeline,
                                                          bool had_errors, bool refuse_unbuilt,
                                                          diagnostics& out) {
    const std::size_t errors_before = out.error_count();
    pipeline_checker checker(pipeline, refuse_unbuilt, out);
    checker.run();
    if (had_errors || out.error_count() > errors_before || checker.uses_unbuilt()) {
        probe_untouched_queries(pipeline, checker, out);
        return nullptr;
    }
    const auto unbuilt = [](const component_config& c) { return !c.info->implemented; };
    if (std::any_of(pipeline.inputs.begin(), pipeline.inputs.end(), unbuilt) ||
        std::any_of(pipeline.outputs.begin(), pipeline.outputs.end(), unbuilt)) {
        return nullptr;
    }

    auto plan = std::make_shared<compiled_pipeline>();
    plan->name = pipeline.name;
    plan->file = pipeline.file;
    for (const auto& in : pipeline.inputs) plan->inputs.push_back(component_of(in));
    for (const auto& o : pipeline.outputs) {
        plan->outputs.push_back(component_of(o));
        plan->outputs_fingerprint += o.name + "=" + canonical_text(o.params) + "\n";
    }
    query_builder builder(pipeline, checker, plan->inputs, out);
    bool buildable = true;
    for (const auto& outline : split_queries(pipeline)) {
        plan->queries.push_back(builder.build(outline));
        buildable = builder.try_steps(*plan->queries.back().chain) && buildable;
    }
    return buildable ? plan : nullptr;
}

}  // namespace weir::config
