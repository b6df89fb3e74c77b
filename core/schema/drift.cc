// Schema drift: the tracker walks every field of a record (simdjson On-Demand) and keeps the
// first-seen type per path; see drift.h.
#include "core/schema/drift.h"

#include <simdjson.h>

#include <cstring>

namespace weir::schema {

namespace ondemand = simdjson::ondemand;

const char* to_string(json_type t) {
    switch (t) {
        case json_type::null:
            return "null";
        case json_type::string:
            return "string";
        case json_type::number:
            return "number";
        case json_type::boolean:
            return "boolean";
        case json_type::object:
            return "object";
        case json_type::array:
            return "array";
    }
    return "null";
}

const field_path& drift_field() {
    static const field_path path{{std::string("\0drift", 6)}};
    return path;
}

namespace {

std::uint8_t bit(json_type t) {
    return static_cast<std::uint8_t>(1u << static_cast<unsigned>(t));
}

bool type_of(ondemand::json_type in, json_type& out) {
    switch (in) {
        case ondemand::json_type::array:
            out = json_type::array;
            return true;
        case ondemand::json_type::object:
            out = json_type::object;
            return true;
        case ondemand::json_type::number:
            out = json_type::number;
            return true;
        case ondemand::json_type::string:
            out = json_type::string;
            return true;
        case ondemand::json_type::boolean:
            out = json_type::boolean;
            return true;
        case ondemand::json_type::null:
            out = json_type::null;
            return true;
        default:
            return false;
    }
}

}  // namespace

// The per-record walk, with its reusable buffers.
struct drift_tracker::walker {
    ondemand::parser parser;
    std::string key;      // the current path: segments joined by '\0'
    std::string padded;   // a record copied with padding, when its text has none
    std::string encoded;  // the record's fields, two bytes each (id, type bit)
    // The previous record's paths in walk order, with their ids: records of one stream mostly
    // repeat their keys in the same order, so a compare with the path walked at the same
    // place last time stands in for a hash lookup.
    std::vector<std::pair<std::string, int>> last;
};

drift_tracker::drift_tracker(const std::vector<std::string>& declared)
    : walker_(std::make_unique<walker>()) {
    for (const auto& d : declared) {
        // Schema field names are paths as written: "a.b" names b inside a.
        std::vector<std::string> segments;
        std::size_t start = 0;
        for (;;) {
            const std::size_t dot = d.find('.', start);
            segments.push_back(d.substr(start, dot == std::string::npos ? dot : dot - start));
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
        add_declared(segments);
    }
    declared_ = !entries_.empty();
}

drift_tracker::~drift_tracker() = default;

void drift_tracker::add_declared(const std::vector<std::string>& segments) {
    // A nested declared field expects its parents too (they are objects).
    std::string key;
    for (std::size_t i = 0; i < segments.size() && i < k_max_drift_depth; ++i) {
        if (i > 0) key += '\0';
        key += segments[i];
        const int id = find_or_add(key, true);
        if (id >= 0) entries_[static_cast<std::size_t>(id)].expected = true;
    }
}

void drift_tracker::start_learning(time::timestamp_ns until) {
    if (learn_until_ == k_not_started) learn_until_ = until;
}

int drift_tracker::find_or_add(std::string_view key, bool learn) {
    if (const auto it = ids_.find(key); it != ids_.end()) return static_cast<int>(it->second);
    if (entries_.size() >= k_max_drift_fields) return -1;
    entry e;
    field_path path;
    std::size_t start = 0;
    for (;;) {
        const std::size_t nul = key.find('\0', start);
        path.segments.emplace_back(
            key.substr(start, nul == std::string_view::npos ? nul : nul - start));
        if (nul == std::string_view::npos) break;
        start = nul + 1;
    }
    e.name = path.to_string();
    e.expected = learn;
    const auto id = static_cast<std::uint32_t>(entries_.size());
    entries_.push_back(std::move(e));
    keys_.emplace_back(key);
    ids_.emplace(keys_.back(), id);
    return static_cast<int>(id);
}

std::string_view drift_tracker::observe(std::string_view json, time::timestamp_ns t, bool padded) {
    walker& w = *walker_;
    w.encoded.clear();
    const bool learn = !declared_ && learn_until_ != k_not_started && t < learn_until_;
    if (!padded) {
        w.padded.assign(json);
        w.padded.append(simdjson::SIMDJSON_PADDING, '\0');
        json = std::string_view(w.padded.data(), json.size());
    }
    ondemand::document doc;
    ondemand::object root;
    const simdjson::padded_string_view view(json.data(), json.size(),
                                            json.size() + simdjson::SIMDJSON_PADDING);
    if (w.parser.iterate(view).get(doc) || doc.get_object().get(root)) return {};
    w.key.clear();
    std::size_t visit = 0;
    // Depth-first over objects; an error stops the walk with what was read so far.
    const auto walk = [&](auto& self, ondemand::object& object, std::size_t depth) -> bool {
        for (auto field : object) {
            std::string_view name;
            if (field.unescaped_key().get(name)) return false;
            const std::size_t mark = w.key.size();
            if (depth > 0) w.key += '\0';
            w.key += name;
            ondemand::value value;
            if (field.value().get(value)) return false;
            ondemand::json_type raw_type;
            json_type type;
            if (value.type().get(raw_type) || !type_of(raw_type, type)) return false;
            int id;
            if (visit < w.last.size() && w.last[visit].first == w.key) {
                id = w.last[visit].second;
            } else {
                id = find_or_add(w.key, learn);
                if (visit == w.last.size()) w.last.emplace_back();
                w.last[visit].first.assign(w.key);
                w.last[visit].second = id;
            }
            ++visit;
            if (id < 0) {
                ++untracked_;
            } else {
                entry& e = entries_[static_cast<std::size_t>(id)];
                if (e.first == json_type::null) e.first = type;
                w.encoded += static_cast<char>(id);
                w.encoded += static_cast<char>(bit(type));
            }
            if (type == json_type::object && depth + 1 < k_max_drift_depth) {
                ondemand::object inner;
                if (value.get_object().get(inner) || !self(self, inner, depth + 1)) return false;
            }
            w.key.resize(mark);
        }
        return true;
    };
    walk(walk, root, 0);
    return w.encoded;
}

void drift_tracker::snapshot(byte_writer& w) const {
    w.u8(1);  // version
    w.boolean(learn_until_ != k_not_started);
    w.i64(learn_until_);
    w.varint(untracked_);
    w.varint(entries_.size());
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        w.str(keys_[i]);
        w.u8(static_cast<std::uint8_t>(entries_[i].first));
        w.boolean(entries_[i].expected);
    }
}

bool drift_tracker::restore(byte_reader& r) {
    if (r.u8() != 1) {
        r.fail();
        return false;
    }
    const bool started = r.boolean();
    const time::timestamp_ns until = r.i64();
    const std::uint64_t untracked = r.varint();
    const std::size_t n = r.count(3);
    if (!r.ok() || n > k_max_drift_fields) {
        r.fail();
        return false;
    }
    std::vector<entry> entries;
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        std::string key(r.str());
        const std::uint8_t first = r.u8();
        const bool expected = r.boolean();
        if (first > static_cast<std::uint8_t>(json_type::array)) r.fail();
        entries.push_back({{}, static_cast<json_type>(first), expected});
        keys.push_back(std::move(key));
    }
    if (!r.ok()) return false;
    // Rebuilt in saved order, so the ids the saved windows hold stay the same. The declared
    // fields come first in both, as the plan is the same.
    walker_->last.clear();
    entries_.clear();
    keys_.clear();
    ids_.clear();
    for (std::size_t i = 0; i < n; ++i) {
        const int id = find_or_add(keys[i], entries[i].expected);
        if (id != static_cast<int>(i)) {
            r.fail();
            return false;
        }
        entries_[i].first = entries[i].first;
    }
    learn_until_ = started ? until : k_not_started;
    untracked_ = untracked;
    return true;
}

// ---- accumulator ----

void drift_acc::serialize(byte_writer& w) const {
    std::size_t present = 0;
    for (const auto t : types) present += t != 0;
    w.varint(present);
    for (std::size_t i = 0; i < types.size(); ++i) {
        if (types[i] == 0) continue;
        w.u8(static_cast<std::uint8_t>(i));
        w.u8(types[i]);
    }
}

bool drift_acc::deserialize(byte_reader& r) {
    types.fill(0);
    const std::size_t n = r.count(2);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        const std::uint8_t id = r.u8();
        types[id] = r.u8();
    }
    return r.ok();
}

std::size_t drift_acc::new_fields(const drift_tracker& t, std::vector<std::string>* names) const {
    std::size_t n = 0;
    for (std::size_t id = 0; id < t.fields(); ++id) {
        if (types[id] == 0 || t.expected(id)) continue;
        ++n;
        if (names) names->push_back(t.name(id));
    }
    return n;
}

std::size_t drift_acc::missing_fields(const drift_tracker& t, std::uint64_t records,
                                      std::vector<std::string>* names) const {
    if (records == 0) return 0;
    std::size_t n = 0;
    for (std::size_t id = 0; id < t.fields(); ++id) {
        if (types[id] != 0 || !t.expected(id)) continue;
        ++n;
        if (names) names->push_back(t.name(id));
    }
    return n;
}

std::size_t drift_acc::type_changes(const drift_tracker& t, std::vector<std::string>* names) const {
    std::size_t n = 0;
    for (std::size_t id = 0; id < t.fields(); ++id) {
        const json_type first = t.first_type(id);
        if (first == json_type::null) continue;
        const auto others = static_cast<std::uint8_t>(~(bit(first) | bit(json_type::null)));
        if ((types[id] & others) == 0) continue;
        ++n;
        if (names) names->push_back(t.name(id));
    }
    return n;
}

}  // namespace weir::schema
