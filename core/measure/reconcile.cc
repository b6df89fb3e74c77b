// Keyed reconciliation: hash sets of encoded keys, flagged per side.
#include "core/measure/reconcile.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/measure/sample.h"
#include "core/sketch/hash.h"

namespace weir::measure {

namespace {

constexpr char k_number = 'n';
constexpr char k_string = 's';
constexpr char k_long_string = 'l';  // hash (8 bytes), then the first bytes
constexpr char k_boolean = 'b';

double number_of(std::string_view key) {
    double d = 0;
    std::memcpy(&d, key.data() + 1, sizeof d);
    return d;
}

// Sample order: numbers by value, then strings, then booleans.
int rank(char tag) {
    return tag == k_number ? 0 : tag == k_boolean ? 2 : 1;
}

bool before(const std::string& a, const std::string& b) {
    if (rank(a[0]) != rank(b[0])) return rank(a[0]) < rank(b[0]);
    if (a[0] == k_number) return number_of(a) < number_of(b);
    const std::string_view x =
        a[0] == k_long_string ? std::string_view(a).substr(9) : std::string_view(a).substr(1);
    const std::string_view y =
        b[0] == k_long_string ? std::string_view(b).substr(9) : std::string_view(b).substr(1);
    if (x != y) return x < y;
    return a < b;
}

// Whether `key` is an encoding reconcile_key() gives (a checkpoint may be damaged).
bool well_formed(std::string_view key) {
    if (key.empty()) return false;
    switch (key[0]) {
        case k_number:
            return key.size() == 1 + sizeof(double);
        case k_boolean:
            return key.size() == 2 && (key[1] == '\0' || key[1] == '\1');
        case k_string:
            return key.size() >= 2 && key.size() <= 1 + k_reconcile_key_bytes;
        case k_long_string:
            return key.size() == k_reconcile_key_bytes;
        default:
            return false;
    }
}

void append_key_json(const std::string& key, std::string& out) {
    switch (key[0]) {
        case k_number:
            append_sample_value(field_value::make_number(number_of(key)), out);
            break;
        case k_boolean:
            out += key[1] != 0 ? "true" : "false";
            break;
        case k_long_string:
            append_sample_value(field_value::make_string(std::string(key.substr(9)) + "…"), out);
            break;
        default:
            append_sample_value(field_value::make_string(std::string_view(key).substr(1)), out);
            break;
    }
}

}  // namespace

bool reconcile_key(const field_value& v, std::string& out) {
    out.clear();
    switch (v.kind) {
        case value_kind::number: {
            double d = v.number;
            if (d == 0) d = 0;  // -0 is 0
            if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
            out += k_number;
            out.append(reinterpret_cast<const char*>(&d), sizeof d);
            return true;
        }
        case value_kind::boolean:
            out += k_boolean;
            out += v.boolean ? '\1' : '\0';
            return true;
        case value_kind::string: {
            if (v.missing()) return false;
            const std::string_view s = v.string();
            if (s.size() <= k_reconcile_key_bytes) {
                out += k_string;
                out += s;
                return true;
            }
            const std::uint64_t h = hashing::hash_bytes(s.data(), s.size(), 0x7265636f6e);
            out += k_long_string;
            out.append(reinterpret_cast<const char*>(&h), sizeof h);
            out += s.substr(0, k_reconcile_key_bytes - 9);
            return true;
        }
        default:
            return false;
    }
}

void reconcile_acc::add(const field_value& v, std::uint8_t side, std::string& scratch) {
    if (!reconcile_key(v, scratch)) return;
    const auto it = keys.find(scratch);
    if (it != keys.end()) {
        it->second |= side;
    } else if (keys.size() < k_reconcile_key_limit) {
        keys.emplace(scratch, side);
    } else {
        ++overflow;
    }
}

void reconcile_acc::merge(const reconcile_acc& o) {
    overflow += o.overflow;
    for (const auto& [key, sides] : o.keys) {
        const auto it = keys.find(key);
        if (it != keys.end()) {
            it->second |= sides;
        } else if (keys.size() < k_reconcile_key_limit) {
            keys.emplace(key, sides);
        } else {
            ++overflow;
        }
    }
}

reconcile_counts reconcile_acc::counts() const {
    reconcile_counts c;
    for (const auto& [key, sides] : keys) {
        if (sides == (k_left | k_right)) {
            ++c.matched;
        } else if (sides == k_left) {
            ++c.missing_right;
        } else {
            ++c.missing_left;
        }
    }
    c.overflow = overflow;
    return c;
}

std::vector<std::string> reconcile_acc::sample_missing(bool on_left) const {
    const std::uint8_t only = on_left ? k_right : k_left;
    std::vector<const std::string*> missing;
    for (const auto& [key, sides] : keys) {
        if (sides == only) missing.push_back(&key);
    }
    const auto less = [](const std::string* a, const std::string* b) { return before(*a, *b); };
    const std::size_t n = std::min(missing.size(), k_reconcile_samples);
    std::partial_sort(missing.begin(), missing.begin() + static_cast<std::ptrdiff_t>(n),
                      missing.end(), less);
    std::vector<std::string> out(n);
    for (std::size_t i = 0; i < n; ++i) append_key_json(*missing[i], out[i]);
    return out;
}

void reconcile_acc::serialize(byte_writer& w) const {
    w.varint(overflow);
    w.varint(keys.size());
    for (const auto& [key, sides] : keys) {
        w.str(key);
        w.u8(sides);
    }
}

bool reconcile_acc::deserialize(byte_reader& r) {
    keys.clear();
    overflow = r.varint();
    const std::size_t n = r.count(3);
    if (!r.ok() || n > k_reconcile_key_limit) {
        r.fail();
        return false;
    }
    keys.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        const std::string_view key = r.str();
        const std::uint8_t sides = r.u8();
        if (!well_formed(key) || sides == 0 || sides > (k_left | k_right)) {
            r.fail();
            return false;
        }
        keys.emplace(std::string(key), sides);
    }
    return r.ok();
}

}  // namespace weir::measure
