// Open-addressing (linear probing) table of value hashes and counts, with optional stored
// values for most_frequent, under a byte budget.
#include "core/measure/frequency.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/record/prefetch.h"
#include "core/sketch/hash.h"

namespace weir::measure {

namespace {

constexpr std::size_t k_initial_capacity = 8;
constexpr std::size_t k_min_arena = 64;

std::uint64_t nonzero(std::uint64_t h) {
    return h == 0 ? 1 : h;
}

// Grow when the table would be more than 70% full.
bool over_load(std::size_t size, std::size_t capacity) {
    return size * 10 > capacity * 7;
}

}  // namespace

std::size_t frequency_acc::memory_bytes() const {
    return heap_slots_.capacity() * sizeof(slot) + values_.capacity() * sizeof(stored_value) +
           (arena_.capacity() > 15 ? arena_.capacity() : 0);
}

std::size_t frequency_acc::find(std::uint64_t hash) const {
    const slot* table = slots();
    const std::size_t mask = capacity_ - 1;
    std::size_t i = static_cast<std::size_t>(hash >> shift_);
    while (table[i].hash != 0 && table[i].hash != hash) i = (i + 1) & mask;
    return i;
}

bool frequency_acc::rehash(std::size_t capacity, bool with_values) {
    // The old slots, in their order (the new table takes them as before, wherever it lives).
    std::array<slot, k_inline_slots> old_inline;
    const std::size_t old_capacity = capacity_;
    const bool was_inline = heap_slots_.empty();
    if (was_inline) std::copy_n(inline_slots_.data(), old_capacity, old_inline.data());
    decltype(heap_slots_) old_heap = std::move(heap_slots_);
    const slot* old_slots = was_inline ? old_inline.data() : old_heap.data();
    decltype(values_) old_values = std::move(values_);
    heap_slots_.clear();
    if (with_values || capacity > k_inline_slots) {
        heap_slots_.assign(capacity, slot{});
    } else {
        std::fill_n(inline_slots_.data(), capacity, slot{});
    }
    capacity_ = static_cast<std::uint32_t>(capacity);
    values_.assign(with_values ? capacity : 0, stored_value{});
    shift_ = static_cast<std::uint8_t>(64 - std::countr_zero(capacity));
    slot* table = slots();
    for (std::size_t j = 0; j < old_capacity; ++j) {
        if (old_slots[j].hash == 0) continue;
        const std::size_t i = find(old_slots[j].hash);
        table[i] = old_slots[j];
        if (with_values) values_[i] = old_values[j];
    }
    return true;
}

bool frequency_acc::grow(const frequency_config& c) {
    const std::size_t per_slot = sizeof(slot) + (c.keep_values ? sizeof(stored_value) : 0);
    // A table that can live inside starts with all its inline slots: they are there anyway,
    // and growing 8 -> 16 -> 32 moved every value twice (W6: three tables of every session).
    const std::size_t first = !c.keep_values && k_inline_slots * per_slot <= c.max_bytes
                                  ? k_inline_slots
                                  : k_initial_capacity;
    const std::size_t capacity = capacity_ == 0 ? first : std::size_t{capacity_} * 2;
    // Both tables exist at once while rehashing; count the peak (of inline tables too, so that
    // where a table lives changes nothing of what it holds).
    const std::size_t peak = (capacity + capacity_) * per_slot + arena_.capacity();
    if (peak > c.max_bytes) return false;
    return rehash(capacity, c.keep_values);
}

void frequency_acc::reserve(std::size_t entries, const frequency_config& c) {
    while ((capacity_ == 0 || over_load(entries, capacity_)) && grow(c)) {
    }
}

void frequency_acc::insert(std::uint64_t hash, std::uint64_t count, const field_value* value,
                           const frequency_config& c) {
    if (capacity_ != 0) {
        const std::size_t i = find(hash);
        slot& s = slots()[i];
        if (s.hash == hash) {
            s.count += count;
            return;
        }
    }
    if (capped_) return;
    if ((capacity_ == 0 || over_load(size_ + 1, capacity_)) && !grow(c)) {
        capped_ = true;
        return;
    }
    stored_value sv;
    const bool keep = !values_.empty() && value != nullptr;
    if (keep) {
        sv.kind = value->kind;
        if (value->kind == value_kind::number) {
            sv.payload = std::bit_cast<std::uint64_t>(value->number);
        } else if (value->kind == value_kind::boolean) {
            sv.boolean = value->boolean;
        } else if (value->kind == value_kind::string) {
            const std::size_t need = arena_.size() + value->length;
            if (need > arena_.capacity()) {
                std::size_t cap = std::max({arena_.capacity() * 2, need, k_min_arena});
                const std::size_t table =
                    std::size_t{capacity_} * (sizeof(slot) + sizeof(stored_value));
                if (table + cap > c.max_bytes) {
                    cap = need;  // an exact fit may still be within budget
                    if (table + cap > c.max_bytes) {
                        capped_ = true;
                        return;
                    }
                }
                arena_.reserve(cap);
            }
            sv.length = value->length;
            sv.payload = arena_.size();
            arena_.append(value->chars, value->length);
        }
    }
    const std::size_t i = find(hash);
    slots()[i] = slot{hash, count};
    if (keep) values_[i] = sv;
    ++size_;
}

void frequency_acc::add(const field_value& v, const frequency_config& c) {
    if (v.missing() || v.kind == value_kind::other) return;
    ++considered_;
    insert(nonzero(hashing::hash_value(v)), 1, &v, c);
}

void frequency_acc::prefetch(const field_value& v) const {
    if (capacity_ == 0 || v.missing() || v.kind == value_kind::other) return;
    weir::prefetch(&slots()[nonzero(hashing::hash_value(v)) >> shift_]);
}

void frequency_acc::add_hash(std::uint64_t hash, const frequency_config& c) {
    ++considered_;
    insert(nonzero(hash), 1, nullptr, c);
}

field_value frequency_acc::value_at(std::size_t i) const {
    const stored_value& sv = values_[i];
    switch (sv.kind) {
        case value_kind::number:
            return field_value::make_number(std::bit_cast<double>(sv.payload));
        case value_kind::boolean:
            return field_value::make_boolean(sv.boolean);
        case value_kind::string:
            return field_value::make_string(std::string_view(arena_).substr(sv.payload, sv.length));
        default:
            return field_value::make_null();
    }
}

void frequency_acc::merge(const frequency_acc& o, const frequency_config& c) {
    considered_ += o.considered_;
    capped_ = capped_ || o.capped_;
    const bool with_values = !o.values_.empty();
    // At least the other's capacity first: inserting a table's slots in order into a smaller
    // table of the same hash piles them into one ever-growing probe run (quadratic).
    if (o.size_ > 0) reserve(std::max<std::size_t>(size_, o.size_), c);
    const slot* from = o.slots();
    for (std::size_t j = 0; j < o.capacity_; ++j) {
        if (from[j].hash == 0) continue;
        if (with_values) {
            const field_value v = o.value_at(j);
            insert(from[j].hash, from[j].count, &v, c);
        } else {
            insert(from[j].hash, from[j].count, nullptr, c);
        }
    }
}

frequency_result frequency_acc::distinct_count() const {
    return {static_cast<double>(size_), capped_};
}

frequency_result frequency_acc::distinct_fraction() const {
    return {ratio(size_, considered_), capped_};
}

frequency_result frequency_acc::unique_count() const {
    std::uint64_t unique = 0;
    for (const slot& s : std::span(slots(), capacity_)) unique += s.count == 1 ? 1 : 0;
    return {static_cast<double>(unique), capped_};
}

frequency_result frequency_acc::duplicate_count() const {
    return {static_cast<double>(considered_ - size_), capped_};
}

frequency_result frequency_acc::duplicate_fraction() const {
    return {ratio(considered_ - size_, considered_), capped_};
}

frequency_result frequency_acc::entropy() const {
    if (capped_ || considered_ == 0) return {std::nullopt, capped_};
    // H = log2(N) - (1/N) sum c log2 c: one log per distinct value, no division per value.
    const double total = static_cast<double>(considered_);
    double weighted = 0;
    for (const slot& s : std::span(slots(), capacity_)) {
        if (s.count > 1) {
            const double c = static_cast<double>(s.count);
            weighted += c * std::log2(c);
        }
    }
    return {std::max(0.0, std::log2(total) - weighted / total), false};
}

most_frequent_result frequency_acc::most_frequent() const {
    most_frequent_result out;
    out.capped = capped_;
    const slot* table = slots();
    std::size_t best = capacity_;
    for (std::size_t i = 0; i < capacity_; ++i) {
        const slot& s = table[i];
        if (s.hash == 0) continue;
        // Ties go to the smaller hash: the same data gives the same answer, whatever the order
        // of arrival or merging (results re-emitted after a crash must not change).
        if (best == capacity_ || s.count > table[best].count ||
            (s.count == table[best].count && s.hash < table[best].hash)) {
            best = i;
        }
    }
    if (best == capacity_) return out;
    out.count = table[best].count;
    if (values_.empty()) {
        // Counted without values (keep_values was off): the count is known, the value is not.
        return out;
    }
    const field_value v = value_at(best);
    if (v.kind == value_kind::number) out.value = measure_value::make_number(v.number);
    if (v.kind == value_kind::boolean) out.value = measure_value::make_boolean(v.boolean);
    if (v.kind == value_kind::string)
        out.value = measure_value::make_string(std::string(v.string()));
    return out;
}

void frequency_acc::serialize(byte_writer& w) const {
    w.varint(considered_);
    w.boolean(capped_);
    w.boolean(!values_.empty());
    w.varint(size_);
    const slot* table = slots();
    for (std::size_t i = 0; i < capacity_; ++i) {
        if (table[i].hash == 0) continue;
        w.u64(table[i].hash);
        w.varint(table[i].count);
        if (values_.empty()) continue;
        const field_value v = value_at(i);
        w.u8(static_cast<std::uint8_t>(v.kind));
        if (v.kind == value_kind::number) w.f64(v.number);
        if (v.kind == value_kind::boolean) w.boolean(v.boolean);
        if (v.kind == value_kind::string) w.str(v.string());
    }
}

bool frequency_acc::deserialize(byte_reader& r) {
    *this = frequency_acc();
    const std::uint64_t considered = r.varint();
    const bool capped = r.boolean();
    const bool with_values = r.boolean();
    const std::size_t n = r.count(9);  // a hash and a one-byte count at least
    if (!r.ok()) return false;
    if (n > considered) {
        r.fail();
        return false;
    }
    std::size_t capacity = k_initial_capacity;
    while (over_load(n, capacity)) capacity *= 2;
    if (n > 0) rehash(capacity, with_values);
    std::uint64_t counted = 0;
    for (std::size_t k = 0; k < n && r.ok(); ++k) {
        const std::uint64_t hash = r.u64();
        const std::uint64_t count = r.varint();
        counted += count;
        stored_value sv;
        if (with_values) {
            const std::uint8_t kind = r.u8();
            sv.kind = static_cast<value_kind>(kind);
            if (sv.kind == value_kind::number) {
                sv.payload = r.u64();
            } else if (sv.kind == value_kind::boolean) {
                sv.boolean = r.boolean();
            } else if (sv.kind == value_kind::string) {
                const std::string_view s = r.str();
                sv.payload = arena_.size();
                sv.length = static_cast<std::uint32_t>(s.size());
                arena_.append(s);
            } else {
                r.fail();
            }
        }
        if (!r.ok()) break;
        if (hash == 0 || count == 0 || count > considered || counted > considered) {
            r.fail();
            break;
        }
        const std::size_t i = find(hash);
        if (slots()[i].hash == hash) {  // duplicate entry
            r.fail();
            break;
        }
        slots()[i] = slot{hash, count};
        if (with_values) values_[i] = sv;
        ++size_;
    }
    if (!r.ok()) {
        *this = frequency_acc();
        return false;
    }
    considered_ = considered;
    capped_ = capped;
    return true;
}

std::optional<std::uint64_t> key_hash(std::span<const field_value* const> values) {
    std::uint64_t h = hashing::k_seed_other;
    for (const field_value* v : values) {
        if (v->missing() || v->kind == value_kind::other) return std::nullopt;
        // Chained through the seed: the position of each value matters.
        h = hashing::hash_u64(hashing::hash_value(*v), h);
    }
    return h;
}

void mutual_information_acc::add(const field_value& a, const field_value& b,
                                 const frequency_config& c) {
    if (a.missing() || a.kind == value_kind::other) return;
    if (b.missing() || b.kind == value_kind::other) return;
    const field_value* both[] = {&a, &b};
    a_.add(a, c);
    b_.add(b, c);
    pairs_.add_hash(*key_hash(both), c);
}

void mutual_information_acc::merge(const mutual_information_acc& o, const frequency_config& c) {
    a_.merge(o.a_, c);
    b_.merge(o.b_, c);
    pairs_.merge(o.pairs_, c);
}

void mutual_information_acc::serialize(byte_writer& w) const {
    a_.serialize(w);
    b_.serialize(w);
    pairs_.serialize(w);
}

bool mutual_information_acc::deserialize(byte_reader& r) {
    if (!a_.deserialize(r) || !b_.deserialize(r) || !pairs_.deserialize(r)) return false;
    // The three tables count the same pairs.
    if (a_.considered() != pairs_.considered() || b_.considered() != pairs_.considered()) {
        r.fail();
        *this = mutual_information_acc();
        return false;
    }
    return true;
}

frequency_result mutual_information_acc::result() const {
    const auto ha = a_.entropy();
    const auto hb = b_.entropy();
    const auto hab = pairs_.entropy();
    const bool capped = ha.capped || hb.capped || hab.capped;
    if (!ha.value || !hb.value || !hab.value) return {std::nullopt, capped};
    return {std::max(0.0, *ha.value + *hb.value - *hab.value), capped};
}

}  // namespace weir::measure
