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

bool before(std::string_view a, std::string_view b) {
    if (rank(a[0]) != rank(b[0])) return rank(a[0]) < rank(b[0]);
    if (a[0] == k_number) return number_of(a) < number_of(b);
    const std::string_view x = a[0] == k_long_string ? a.substr(9) : a.substr(1);
    const std::string_view y = b[0] == k_long_string ? b.substr(9) : b.substr(1);
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

void append_key_json(std::string_view key, std::string& out) {
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
            append_sample_value(field_value::make_string(key.substr(1)), out);
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

void reconcile_acc::count(std::uint8_t sides, int delta) {
    std::uint64_t& n = sides == (k_left | k_right) ? both_
                       : sides == k_left           ? left_only_
                                                   : right_only_;
    n = static_cast<std::uint64_t>(static_cast<std::int64_t>(n) + delta);
}

void reconcile_acc::grow() {
    slots_.assign(std::max<std::size_t>(16, slots_.size() * 2), 0);
    const std::size_t mask = slots_.size() - 1;
    for (std::uint32_t i = 0; i < entries_.size(); ++i) {
        std::size_t s = entries_[i].hash & mask;
        while (slots_[s] != 0) s = (s + 1) & mask;
        slots_[s] = (static_cast<std::uint64_t>(entries_[i].hash) << 32) | (i + 1);
    }
}

bool reconcile_acc::insert(std::string_view key, std::uint8_t sides) {
    const auto hash =
        static_cast<std::uint32_t>(hashing::hash_bytes(key.data(), key.size(), 0x7265636f6e));
    if ((entries_.size() + 1) * 4 > slots_.size() * 3) grow();
    const std::size_t mask = slots_.size() - 1;
    std::size_t s = hash & mask;
    for (; slots_[s] != 0; s = (s + 1) & mask) {
        if (slots_[s] >> 32 != hash) continue;
        entry& e = entries_[static_cast<std::uint32_t>(slots_[s]) - 1];
        if (key_of(e) == key) {
            const std::uint8_t now = e.sides | sides;
            if (now != e.sides) {
                count(e.sides, -1);
                count(now, 1);
                e.sides = now;
            }
            return true;
        }
    }
    if (entries_.size() >= k_reconcile_key_limit) return false;
    entries_.push_back({hash, static_cast<std::uint32_t>(bytes_.size()),
                        static_cast<std::uint32_t>(key.size()), sides});
    bytes_.append(key);
    slots_[s] = (static_cast<std::uint64_t>(hash) << 32) | entries_.size();
    count(sides, 1);
    return true;
}

void reconcile_acc::add(const field_value& v, std::uint8_t side, std::string& scratch) {
    if (!reconcile_key(v, scratch)) return;
    if (!insert(scratch, side)) ++overflow_;
}

void reconcile_acc::merge(const reconcile_acc& o) {
    overflow_ += o.overflow_;
    for (const entry& e : o.entries_) {
        if (!insert(o.key_of(e), e.sides)) ++overflow_;
    }
}

reconcile_counts reconcile_acc::counts() const {
    reconcile_counts c;
    c.matched = both_;
    c.missing_right = left_only_;
    c.missing_left = right_only_;
    c.overflow = overflow_;
    return c;
}

std::vector<std::string> reconcile_acc::sample_missing(bool on_left) const {
    const std::uint8_t only = on_left ? k_right : k_left;
    std::vector<std::string_view> missing;
    for (const entry& e : entries_) {
        if (e.sides == only) missing.push_back(key_of(e));
    }
    const std::size_t n = std::min(missing.size(), k_reconcile_samples);
    std::partial_sort(missing.begin(), missing.begin() + static_cast<std::ptrdiff_t>(n),
                      missing.end(), before);
    std::vector<std::string> out(n);
    for (std::size_t i = 0; i < n; ++i) append_key_json(missing[i], out[i]);
    return out;
}

void reconcile_acc::serialize(byte_writer& w) const {
    w.varint(overflow_);
    w.varint(entries_.size());
    for (const entry& e : entries_) {
        w.str(key_of(e));
        w.u8(e.sides);
    }
}

bool reconcile_acc::deserialize(byte_reader& r) {
    *this = reconcile_acc();
    overflow_ = r.varint();
    const std::size_t n = r.count(3);
    if (!r.ok() || n > k_reconcile_key_limit) {
        r.fail();
        return false;
    }
    entries_.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        const std::string_view key = r.str();
        const std::uint8_t sides = r.u8();
        if (!well_formed(key) || sides == 0 || sides > (k_left | k_right) || !insert(key, sides)) {
            r.fail();
            return false;
        }
    }
    return r.ok();
}

}  // namespace weir::measure
