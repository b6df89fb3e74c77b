// Validation of a document tree against parameter declarations: every problem is collected,
// each with the dotted path and the position of the offending value (or key).
#include "core/params/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace weir::params {

const param_spec* object_spec::find(std::string_view name) const {
    for (const auto& p : params) {
        if (p.name == name) return &p;
    }
    return nullptr;
}

std::vector<std::string> object_spec::names() const {
    std::vector<std::string> out;
    for (const auto& p : params) {
        if (p.alias_of.empty()) out.push_back(p.name);
    }
    return out;
}

namespace {

std::string join_path(const std::string& path, std::string_view key) {
    if (path.empty()) return std::string(key);
    return path + "." + std::string(key);
}

// "\"a\", \"b\" or \"c\"" (with `last_word` "or" / "and")
std::string quoted_list(const std::vector<std::string>& items, std::string_view last_word) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += i + 1 == items.size() ? " " + std::string(last_word) + " " : ", ";
        out += in_quotes(items[i]);
    }
    return out;
}

bool is_snake_case(std::string_view s) {
    if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::string expected_scalar_forms(const std::vector<std::string>& forms) {
    if (forms.size() == 1) return in_quotes(forms[0]);
    return "one of " + quoted_list(forms, "or");
}

// The noun phrase after "expected" for a parameter type.
std::string expected(const param_spec& p) {
    switch (p.type) {
        case param_type::string:
            return "a string";
        case param_type::integer:
            return "an integer";
        case param_type::number:
            return "a number";
        case param_type::boolean:
            return "true or false";
        case param_type::duration:
            return "a duration such as \"60s\"";
        case param_type::size:
            return "a size such as \"64KiB\"";
        case param_type::enumeration:
            return "one of " + comma_list(p.choices);
        case param_type::string_list:
            return "a string or a list of strings";
        case param_type::string_map:
            return "a mapping of keys to values";
        case param_type::object:
            if (!p.scalar_forms.empty()) {
                return "a mapping or " + expected_scalar_forms(p.scalar_forms);
            }
            return "a mapping";
        case param_type::object_list:
            return "a list of mappings";
        case param_type::object_map:
            return "a mapping of names to mappings";
    }
    return "a value";
}

// What to write instead of a YAML 1.1 boolean word (yes, no, on, off, y, n) or a capitalised
// true/false, which weir reads as text (YAML 1.2): "" for any other text.
std::string boolean_hint(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "true" || lower == "false") return "; write " + lower + ", in lower case";
    const char* meant = nullptr;
    if (lower == "yes" || lower == "y" || lower == "on") meant = "true";
    if (lower == "no" || lower == "n" || lower == "off") meant = "false";
    if (meant == nullptr) return "";
    return "; write " + std::string(meant) +
           " (yes, no, on and off are words in YAML 1.2, which weir reads, not booleans)";
}

// The number as a user would write it: integral values without a fraction.
std::string format_number(double d) {
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15) {
        return fmt::format("{}", static_cast<long long>(d));
    }
    return fmt::format("{}", d);
}

std::string format_bound(const param_spec& p, double bound) {
    switch (p.type) {
        case param_type::duration:
            return format_duration(std::chrono::milliseconds(static_cast<std::int64_t>(bound)));
        case param_type::size:
            return format_size(static_cast<std::uint64_t>(bound));
        default:
            return format_number(bound);
    }
}

// The written value for "got …" in range messages: bare for numbers, hidden for secrets.
std::string shown_bare(const value& v) {
    if (v.secret) return v.display();
    return v.text;
}

class validator {
  public:
    explicit validator(diagnostics& out) : out_(out) {}

    bool mapping(const object_spec& spec, const value& v, const std::string& path);

  private:
    void error(const source_pos& pos, const std::string& path, std::string message) {
        out_.error(pos, path, std::move(message));
    }
    void type_error(const param_spec& p, const value& v, const std::string& path) {
        error(v.pos, path, "expected " + expected(p) + ", got " + v.display());
    }

    void param(const param_spec& p, const value& v, const std::string& path);
    void scalar(const param_spec& p, const value& v, const std::string& path);
    void range(const param_spec& p, double x, const value& v, const std::string& path);
    void object(const param_spec& p, const value& v, const std::string& path);
    void string_item(const value& v, const std::string& path);

    diagnostics& out_;
};

void validator::range(const param_spec& p, double x, const value& v, const std::string& path) {
    if (p.minimum && x < *p.minimum) {
        error(v.pos, path,
              "must be at least " + format_bound(p, *p.minimum) + ", got " + shown_bare(v));
    } else if (p.maximum && x > *p.maximum) {
        error(v.pos, path,
              "must be at most " + format_bound(p, *p.maximum) + ", got " + shown_bare(v));
    }
}

// Quoted scalars are accepted for numeric, boolean, duration and size parameters: users
// often write port: "9092" or size: "64KiB", and the intent is unambiguous. Conversely any
// scalar is a valid string, so `name: true` is the string "true".
void validator::scalar(const param_spec& p, const value& v, const std::string& path) {
    const std::string& t = v.text;
    switch (p.type) {
        case param_type::string:
            return;
        case param_type::integer: {
            auto n = parse_integer(t);
            if (!n) return type_error(p, v, path);
            return range(p, static_cast<double>(*n), v, path);
        }
        case param_type::number: {
            auto n = parse_number(t);
            if (!n) return type_error(p, v, path);
            return range(p, *n, v, path);
        }
        case param_type::boolean:
            if (!parse_boolean(t)) {
                error(v.pos, path,
                      "expected " + expected(p) + ", got " + v.display() +
                          (v.secret ? std::string() : boolean_hint(t)));
            }
            return;
        case param_type::duration: {
            auto d = parse_duration(t);
            if (!d) return type_error(p, v, path);
            return range(p, static_cast<double>(d->count()), v, path);
        }
        case param_type::size: {
            auto s = parse_size(t);
            if (!s) return type_error(p, v, path);
            return range(p, static_cast<double>(*s), v, path);
        }
        case param_type::enumeration: {
            if (std::find(p.choices.begin(), p.choices.end(), t) != p.choices.end()) return;
            std::string message = "expected " + expected(p) + ", got " + v.display();
            if (!v.secret) {
                const std::string near = nearest(t, p.choices);
                if (!near.empty()) message += "; did you mean " + in_quotes(near) + "?";
            }
            return error(v.pos, path, std::move(message));
        }
        default:
            return type_error(p, v, path);
    }
}

void validator::string_item(const value& v, const std::string& path) {
    if (!v.is_scalar()) error(v.pos, path, "expected a string, got " + v.display());
}

void validator::object(const param_spec& p, const value& v, const std::string& path) {
    if (v.is_scalar() && !p.scalar_forms.empty()) {
        const auto& forms = p.scalar_forms;
        if (std::find(forms.begin(), forms.end(), v.text) != forms.end()) return;
        std::string message = "expected " + expected(p) + ", got " + v.display();
        if (!v.secret) {
            const std::string near = nearest(v.text, forms);
            if (!near.empty()) message += "; did you mean " + in_quotes(near) + "?";
        }
        return error(v.pos, path, std::move(message));
    }
    if (!v.is_mapping()) return type_error(p, v, path);
    if (!p.object) return;  // a declaration without a nested spec accepts any mapping
    mapping(*p.object, v, path);
}

void validator::param(const param_spec& p, const value& v, const std::string& path) {
    switch (p.type) {
        case param_type::string:
        case param_type::integer:
        case param_type::number:
        case param_type::boolean:
        case param_type::duration:
        case param_type::size:
        case param_type::enumeration:
            if (!v.is_scalar()) return type_error(p, v, path);
            return scalar(p, v, path);
        case param_type::string_list:
            if (v.is_scalar()) return;
            if (!v.is_sequence()) return type_error(p, v, path);
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                string_item(v.items[i], path + "[" + std::to_string(i) + "]");
            }
            return;
        case param_type::string_map:
            if (!v.is_mapping()) return type_error(p, v, path);
            for (const auto& e : v.entries) {
                if (!e.val.is_scalar()) {
                    error(e.val.pos, join_path(path, e.key),
                          "expected a scalar value, got " + e.val.display());
                }
            }
            return;
        case param_type::object:
            return object(p, v, path);
        case param_type::object_list:
            if (!v.is_sequence()) return type_error(p, v, path);
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                object(p, v.items[i], path + "[" + std::to_string(i) + "]");
            }
            return;
        case param_type::object_map: {
            if (!v.is_mapping()) return type_error(p, v, path);
            // Names chosen by users become metric labels, file names and references: keep
            // them to one simple spelling.
            const bool names = p.role == string_role::plain || p.role == string_role::source_ref ||
                               p.role == string_role::input_ref ||
                               p.role == string_role::output_ref;
            for (const auto& e : v.entries) {
                const std::string item_path = join_path(path, e.key);
                if (names && !is_snake_case(e.key)) {
                    error(e.key_pos, item_path,
                          "invalid name " + in_quotes(e.key) +
                              ": names are snake_case ([a-z][a-z0-9_]*)");
                }
                object(p, e.val, item_path);
            }
            return;
        }
    }
}

bool validator::mapping(const object_spec& spec, const value& v, const std::string& path) {
    const std::size_t errors_before = out_.error_count();
    if (!v.is_mapping()) {
        error(v.pos, path, "expected a mapping, got " + v.display());
        return false;
    }

    // The entry under which a declared name was written: itself or a deprecated alias.
    auto entry_for = [&](std::string_view name) -> const value::entry* {
        if (const auto* e = v.find_entry(name)) return e;
        for (const auto& p : spec.params) {
            if (p.alias_of == name) {
                if (const auto* e = v.find_entry(p.name)) return e;
            }
        }
        return nullptr;
    };

    const std::vector<std::string> valid = spec.names();
    for (const auto& e : v.entries) {
        const param_spec* p = spec.find(e.key);
        if (!p) {
            std::string message = "unknown key " + in_quotes(e.key);
            const std::string near = nearest(e.key, valid);
            if (!near.empty()) {
                message += "; did you mean " + in_quotes(near) + "?";
            } else if (valid.empty()) {
                message += "; no keys are allowed here";
            } else {
                message += "; valid keys are: " + comma_list(valid);
            }
            error(e.key_pos, path, std::move(message));
            continue;
        }
        if (!p->alias_of.empty()) {
            const param_spec* target = spec.find(p->alias_of);
            out_.warning(e.key_pos, path,
                         in_quotes(p->name) + " is deprecated; use " + in_quotes(p->alias_of));
            if (v.find_entry(p->alias_of)) {
                error(e.key_pos, path,
                      in_quotes(p->name) + " and " + in_quotes(p->alias_of) +
                          " cannot be used together; remove the deprecated " + in_quotes(p->name));
                continue;
            }
            if (target) p = target;
        }
        param(*p, e.val, join_path(path, e.key));
    }

    for (const auto& p : spec.params) {
        if (p.required && p.alias_of.empty() && !entry_for(p.name)) {
            error(v.pos, path, "missing required key " + in_quotes(p.name));
        }
    }

    for (const auto& rule : spec.rules) {
        std::vector<std::string> present;
        const value::entry* second = nullptr;
        for (const auto& key : rule.keys) {
            if (const auto* e = entry_for(key)) {
                present.push_back(key);
                if (present.size() == 2) second = e;
            }
        }
        const bool exclusive =
            rule.rule == key_rule::kind::at_most_one || rule.rule == key_rule::kind::exactly_one;
        if (exclusive && present.size() > 1) {
            error(second->key_pos, path, quoted_list(present, "and") + " cannot be used together");
        }
        const bool needed =
            rule.rule == key_rule::kind::exactly_one || rule.rule == key_rule::kind::at_least_one;
        if (needed && present.empty()) {
            error(v.pos, path,
                  (rule.keys.size() == 1 ? in_quotes(rule.keys[0])
                                         : "one of " + quoted_list(rule.keys, "or")) +
                      " is required");
        }
    }

    for (const auto& cond : spec.conditionals) {
        const auto* trigger = entry_for(cond.key);
        if (!trigger || !trigger->val.is_scalar() || trigger->val.text != cond.equals) continue;
        const std::string when = " when " + cond.key + " is " + in_quotes(cond.equals);
        for (const auto& key : cond.requires_keys) {
            if (!entry_for(key)) error(v.pos, path, in_quotes(key) + " is required" + when);
        }
        for (const auto& key : cond.forbids_keys) {
            if (const auto* e = entry_for(key)) {
                error(e->key_pos, path, in_quotes(key) + " cannot be used" + when);
            }
        }
    }

    if (out_.error_count() == errors_before && spec.check) spec.check(v, path, out_);
    return out_.error_count() == errors_before;
}

}  // namespace

bool validate(const object_spec& spec, const value& v, const std::string& path, diagnostics& out) {
    return validator(out).mapping(spec, v, path);
}

namespace {

void mark_all(value& v, std::vector<std::string>& texts) {
    v.secret = true;
    if (v.is_scalar() && !v.text.empty()) texts.push_back(v.text);
    for (auto& item : v.items) mark_all(item, texts);
    for (auto& e : v.entries) mark_all(e.val, texts);
}

}  // namespace

void mark_secrets(const object_spec& spec, value& v, std::vector<std::string>& texts) {
    if (!v.is_mapping()) return;
    for (auto& e : v.entries) {
        const param_spec* p = spec.find(e.key);
        if (p == nullptr) continue;
        if (p->secret) {
            mark_all(e.val, texts);
            continue;
        }
        switch (p->type) {
            case param_type::string_map:
                for (auto& m : e.val.entries) {
                    if (names_a_secret(m.key)) mark_all(m.val, texts);
                }
                break;
            case param_type::object:
                if (p->object) mark_secrets(*p->object, e.val, texts);
                break;
            case param_type::object_list:
                for (auto& item : e.val.items) {
                    if (p->object) mark_secrets(*p->object, item, texts);
                }
                break;
            case param_type::object_map:
                for (auto& m : e.val.entries) {
                    if (p->object) mark_secrets(*p->object, m.val, texts);
                }
                break;
            default:
                break;
        }
    }
}

}  // namespace weir::params
