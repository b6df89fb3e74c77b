// Typed access to validated mappings, with the spec's defaults for absent keys. Misuse
// (an undeclared name, the wrong accessor, a mapping that never passed validate()) is a
// programming error and throws std::logic_error.
#include <stdexcept>

#include "core/params/spec.h"

namespace weir::params {

namespace {

// What absent nested objects read from: an empty mapping that lives forever.
const value& empty_mapping() {
    static const value empty = [] {
        value v;
        v.type = value::kind::mapping;
        return v;
    }();
    return empty;
}

[[noreturn]] void misuse(const object_spec& spec, std::string_view name, std::string_view what) {
    throw std::logic_error("parameter \"" + std::string(name) + "\" of " +
                           (spec.name.empty() ? std::string("an object") : spec.name) + ": " +
                           std::string(what));
}

bool is_scalar_type(param_type t) {
    switch (t) {
        case param_type::string:
        case param_type::integer:
        case param_type::number:
        case param_type::boolean:
        case param_type::duration:
        case param_type::size:
        case param_type::enumeration:
            return true;
        default:
            return false;
    }
}

}  // namespace

reader::reader(const object_spec& spec, const value& v) : reader(spec, v, v.pos) {}

reader::reader(const object_spec& spec, const value& v, source_pos fallback)
    : spec_(&spec), value_(&v), fallback_pos_(std::move(fallback)) {
    if (!v.is_mapping()) throw std::logic_error("reader over a value that is not a mapping");
}

const param_spec& reader::declared(std::string_view name) const {
    const param_spec* p = spec_->find(name);
    if (!p) misuse(*spec_, name, "not declared");
    return *p;
}

// The entry written for `name`, directly or under a deprecated alias of it.
const value::entry* reader::lookup(std::string_view name) const {
    if (const auto* e = value_->find_entry(name)) return e;
    for (const auto& p : spec_->params) {
        if (p.alias_of == name) {
            if (const auto* e = value_->find_entry(p.name)) return e;
        }
    }
    return nullptr;
}

source_pos reader::default_pos() const {
    return value_->pos.known() ? value_->pos : fallback_pos_;
}

bool reader::has(std::string_view name) const {
    declared(name);
    return lookup(name) != nullptr;
}

const value* reader::raw(std::string_view name) const {
    declared(name);
    const auto* e = lookup(name);
    return e ? &e->val : nullptr;
}

source_pos reader::pos_of(std::string_view name) const {
    const value* v = raw(name);
    return v ? v->pos : default_pos();
}

namespace {

// The scalar to read for `name`: the written one, or a synthetic one holding the default.
template <class T, class Parse>
located<T> read_scalar(const object_spec& spec, std::string_view name, const value* written,
                       const param_spec& p, source_pos default_pos, Parse parse) {
    located<T> out;
    if (written) {
        if (!written->is_scalar()) misuse(spec, name, "the value is not a scalar (not validated?)");
        auto parsed = parse(written->text);
        if (!parsed) misuse(spec, name, "the value does not parse (not validated?)");
        out.value = *parsed;
        out.pos = written->pos;
        out.given = true;
        out.text_column = written->text_column;
        return out;
    }
    out.pos = std::move(default_pos);
    if (!p.default_text.empty()) {
        auto parsed = parse(p.default_text);
        if (!parsed) misuse(spec, name, "the default does not parse");
        out.value = *parsed;
    }
    return out;
}

}  // namespace

located<std::string> reader::string(std::string_view name) const {
    const param_spec& p = declared(name);
    if (!is_scalar_type(p.type)) misuse(*spec_, name, "not a scalar parameter");
    return read_scalar<std::string>(
        *spec_, name, raw(name), p, default_pos(),
        [](std::string_view t) { return std::optional(std::string(t)); });
}

located<std::int64_t> reader::integer(std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::integer) misuse(*spec_, name, "not an integer parameter");
    return read_scalar<std::int64_t>(*spec_, name, raw(name), p, default_pos(), parse_integer);
}

located<double> reader::number(std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::number && p.type != param_type::integer) {
        misuse(*spec_, name, "not a number parameter");
    }
    return read_scalar<double>(*spec_, name, raw(name), p, default_pos(), parse_number);
}

located<bool> reader::boolean(std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::boolean) misuse(*spec_, name, "not a boolean parameter");
    return read_scalar<bool>(*spec_, name, raw(name), p, default_pos(), parse_boolean);
}

located<std::chrono::milliseconds> reader::duration(std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::duration) misuse(*spec_, name, "not a duration parameter");
    return read_scalar<std::chrono::milliseconds>(*spec_, name, raw(name), p, default_pos(),
                                                  parse_duration);
}

located<std::uint64_t> reader::size(std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::size) misuse(*spec_, name, "not a size parameter");
    return read_scalar<std::uint64_t>(*spec_, name, raw(name), p, default_pos(), parse_size);
}

std::vector<located<std::string>> reader::strings(std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::string_list) misuse(*spec_, name, "not a string_list parameter");
    std::vector<located<std::string>> out;
    const value* v = raw(name);
    if (!v) {
        if (!p.default_text.empty()) out.push_back({p.default_text, default_pos(), false});
        return out;
    }
    if (v->is_scalar()) {
        out.push_back({v->text, v->pos, true, v->text_column});
        return out;
    }
    if (!v->is_sequence()) misuse(*spec_, name, "not a string or a list (not validated?)");
    for (const auto& item : v->items) {
        if (!item.is_scalar()) misuse(*spec_, name, "a list item is not a string (not validated?)");
        out.push_back({item.text, item.pos, true, item.text_column});
    }
    return out;
}

std::vector<std::pair<std::string, located<std::string>>> reader::string_map(
    std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::string_map) misuse(*spec_, name, "not a string_map parameter");
    std::vector<std::pair<std::string, located<std::string>>> out;
    const value* v = raw(name);
    if (!v) return out;
    if (!v->is_mapping()) misuse(*spec_, name, "not a mapping (not validated?)");
    for (const auto& e : v->entries) {
        if (!e.val.is_scalar()) misuse(*spec_, name, "a value is not a scalar (not validated?)");
        out.emplace_back(e.key,
                         located<std::string>{e.val.text, e.val.pos, true, e.val.text_column});
    }
    return out;
}

std::optional<reader> reader::object(std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::object || !p.object) misuse(*spec_, name, "not an object parameter");
    const value* v = raw(name);
    if (!v) return reader(*p.object, empty_mapping(), default_pos());
    if (v->is_scalar()) return std::nullopt;  // one of the scalar_forms: read it with raw()
    if (!v->is_mapping()) misuse(*spec_, name, "not a mapping (not validated?)");
    return reader(*p.object, *v);
}

std::vector<reader> reader::object_list(std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::object_list || !p.object) {
        misuse(*spec_, name, "not an object_list parameter");
    }
    std::vector<reader> out;
    const value* v = raw(name);
    if (!v) return out;
    if (!v->is_sequence()) misuse(*spec_, name, "not a list (not validated?)");
    for (const auto& item : v->items) {
        // Scalar forms have no mapping to read; they read as an empty one at their place.
        if (item.is_scalar()) {
            out.push_back(reader(*p.object, empty_mapping(), item.pos));
            continue;
        }
        out.push_back(reader(*p.object, item));
    }
    return out;
}

std::vector<std::pair<located<std::string>, reader>> reader::object_map(
    std::string_view name) const {
    const param_spec& p = declared(name);
    if (p.type != param_type::object_map || !p.object) {
        misuse(*spec_, name, "not an object_map parameter");
    }
    std::vector<std::pair<located<std::string>, reader>> out;
    const value* v = raw(name);
    if (!v) return out;
    if (!v->is_mapping()) misuse(*spec_, name, "not a mapping (not validated?)");
    for (const auto& e : v->entries) {
        located<std::string> key{e.key, e.key_pos, true, e.key_pos.column};
        if (e.val.is_scalar()) {
            out.emplace_back(std::move(key), reader(*p.object, empty_mapping(), e.val.pos));
            continue;
        }
        out.emplace_back(std::move(key), reader(*p.object, e.val));
    }
    return out;
}

}  // namespace weir::params
