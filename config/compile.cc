// Compilation of the languages inside a pipeline's strings; see compile.h.
#include "config/compile.h"

#include <re2/re2.h>

#include <functional>
#include <map>
#include <optional>
#include <set>

#include "core/check/assessment.h"
#include "core/expr/program.h"
#include "core/measure/measure_expr.h"
#include "core/time/timestamp.h"

namespace weir::config {

namespace {

using expr::field_types;
using expr::value_type;

std::string quoted(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

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
    return "unknown field " + quoted(name) + "; did you mean " + quoted(near) +
           "? (declare it in the schema if it is a different field)";
}

class pipeline_compiler {
  public:
    pipeline_compiler(const pipeline_config& p, diagnostics& out) : p_(p), out_(out) {}

    void run() {
        for (const auto& n : p_.nodes) output_fields(n);
    }

    // Nodes read leniently after errors are not compiled; their fields are unknown.

  private:
    // The fields of the records a node emits, when known. Memoised; cycles (reported by the
    // graph check) make the fields unknown.
    const std::optional<field_types>& output_fields(const node_config& n) {
        if (auto it = done_.find(n.name); it != done_.end()) return it->second;
        if (!n.complete || !visiting_.insert(n.name).second) return unknown_;
        auto fields = compile_node(n, input_fields(n));
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

    std::optional<field_types> compile_node(const node_config& n,
                                            std::optional<field_types> fields) {
        const std::string base = "nodes." + n.name;
        if (n.schema) compile_schema(n, base);

        for (std::size_t i = 0; i < n.transforms.size(); ++i) {
            const auto& t = n.transforms[i];
            const std::string path = indexed(base, "transforms", i);
            switch (t.type) {
                case transform_config::kind::filter:
                    compile_expression(t.expression, path + ".filter", fields, value_type::boolean);
                    break;
                case transform_config::kind::set:
                    for (const auto& [target, expression] : t.assignments) {
                        const auto type = compile_expression(
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
            if (n.time->format.given && !time::time_parser::compile(n.time->format.value, &err)) {
                out_.error(n.time->format.pos_at(err.offset), base + ".time.format", err.message);
            }
        }
        for (const auto& g : n.group_by) check_field(g, base + ".group_by", fields);

        if (n.join) {
            compile_expression(n.join->on_left, base + ".join.on.left", std::nullopt,
                               value_type::any);
            compile_expression(n.join->on_right, base + ".join.on.right", std::nullopt,
                               value_type::any);
        }

        for (std::size_t i = 0; i < n.checks.size(); ++i) compile_check(n, i, fields);
        return fields;
    }

    void compile_schema(const node_config& n, const std::string& base) {
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
    std::optional<value_type> compile_expression(const located<std::string>& text,
                                                 const std::string& path,
                                                 const std::optional<field_types>& fields,
                                                 value_type expected) {
        expr::compile_options options;
        options.expected = expected;
        auto program = expr::compile(text.value, options);
        if (program && fields) {
            field_types allowed = *fields;
            for (const auto& ref : program->fields()) {
                const std::string name = ref.path.to_string();
                if (!allowed.count(name) && near_miss(*fields, name).empty()) {
                    allowed[name] = value_type::any;
                }
            }
            options.fields = &allowed;
            program = expr::compile(text.value, options);
        }
        if (!program) {
            report(out_, text, path, program.errors());
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

    void compile_check(const node_config& n, std::size_t i,
                       const std::optional<field_types>& fields) {
        const auto& c = n.checks[i];
        const std::string path = indexed("nodes." + n.name, "checks", i);
        auto m = measure::parse_measure(c.measure.value);
        if (!m) {
            report(out_, c.measure, path + ".measure", m.errors());
        } else if (fields) {
            for (const auto& call : m->calls()) {
                for (const auto& arg : call.args) {
                    if (arg.kind != measure::arg_kind::field) continue;
                    const std::string name = arg.field.to_string();
                    if (const auto near = near_miss(*fields, name); !near.empty()) {
                        out_.error(c.measure.pos_at(arg.offset), path + ".measure",
                                   unknown_field_message(name, near));
                    }
                }
            }
        }
        auto judge = [&](const std::optional<located<std::string>>& text, const char* key) {
            if (!text) return;
            // The deprecated `assess:` alias is reported under the key the user wrote.
            const std::string where =
                path + "." + (c.assess_alias && key == std::string("must_be") ? "assess" : key);
            auto a = check::parse_assessment(text->value);
            if (!a) {
                report(out_, *text, where, a.errors());
                return;
            }
            if (m && m->result() != measure::result_type::field_value &&
                !a->accepts(kind_of(m->result()))) {
                out_.error(text->pos_at(0), where,
                           quoted(text->value) + " cannot judge " + quoted(c.measure.value) +
                               ", which gives " + describe(m->result()));
            }
        };
        judge(c.must_be, "must_be");
        judge(c.should_be, "should_be");
    }

    const pipeline_config& p_;
    diagnostics& out_;
    std::map<std::string, std::optional<field_types>, std::less<>> done_;
    std::set<std::string, std::less<>> visiting_;
    const std::optional<field_types> unknown_;
};

}  // namespace

void compile_pipeline(const pipeline_config& pipeline, diagnostics& out) {
    pipeline_compiler(pipeline, out).run();
}

}  // namespace weir::config
