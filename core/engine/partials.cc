#include "core/engine/partials.h"

#include <charconv>
#include <limits>

namespace weir::engine {

namespace {
constexpr std::uint32_t k_partial_magic = 0x50455757;  // "WWEP"
constexpr std::uint64_t k_partial_version = 1;
}  // namespace

namespace {
constexpr std::string_view k_cut_note = "weir/1 cut at ";
}  // namespace

cut_ledger::cut_ledger(std::int64_t committed, std::string_view note, std::int64_t end)
    : end_(end) {
    start_ = committed >= 0 ? committed : -1;
    last_ = start_;
    confirmed_ = start_;
    if (start_ < 0) return;
    const auto pending = pending_in(note);
    if (pending && *pending > start_) replay_ = *pending;
}

void cut_ledger::replayed() {
    if (!replay_) return;
    // The registration of this cut was committed by the last owner: it is ours now.
    last_ = *replay_;
    replay_.reset();
}

void cut_ledger::began(std::int64_t offset) {
    if (last_ >= 0 || offset < 0) return;
    last_ = offset;
    confirmed_ = offset;
}

std::optional<cut_ledger::commit> cut_ledger::cut(std::int64_t offset) {
    if (last_ < 0 || holding_ || replay_ || offset < last_ || offset < end_) return std::nullopt;
    confirmed_ = last_;
    last_ = offset;
    holding_ = true;
    return outstanding();
}

std::optional<cut_ledger::commit> cut_ledger::outstanding() const {
    if (!holding_) return std::nullopt;
    return commit{confirmed_, note(last_)};
}

void cut_ledger::registered(bool ok) {
    if (ok) holding_ = false;
}

std::string cut_ledger::note(std::int64_t pending) {
    std::string s(k_cut_note);
    s += std::to_string(pending);
    return s;
}

std::optional<std::int64_t> cut_ledger::pending_in(std::string_view note) {
    if (!note.starts_with(k_cut_note)) return std::nullopt;
    note.remove_prefix(k_cut_note.size());
    std::int64_t v = -1;
    const auto [end, ec] = std::from_chars(note.data(), note.data() + note.size(), v);
    if (ec != std::errc() || end != note.data() + note.size() || v < 0) return std::nullopt;
    return v;
}

void encode_partial(const partial_batch& batch, byte_writer& w) {
    w.u32(k_partial_magic);
    w.varint(k_partial_version);
    w.str(batch.source);
    w.u64(batch.epoch);
    w.i64(batch.newest);
    w.i64(batch.first);
    w.u8(static_cast<std::uint8_t>((batch.active ? 1 : 0) | (batch.ended ? 2 : 0)));
    w.varint(batch.cells.size());
    // Numbers and times as deltas from the cell before: a batch's cells share their export
    // and, mostly, their pane.
    std::uint64_t seq = 0;
    time::timestamp_ns start = 0;
    for (const partial_cell& c : batch.cells) {
        w.varint(c.export_seq - seq);
        w.str(c.group);
        w.svarint(c.start - start);
        w.varint(static_cast<std::uint64_t>(c.last - c.start));
        w.str(c.block);
        seq = c.export_seq;
        start = c.start;
    }
}

bool decode_partial(byte_reader& r, partial_batch& batch) {
    if (r.u32() != k_partial_magic || r.varint() != k_partial_version) {
        r.fail();
        return false;
    }
    batch.source = std::string(r.str());
    batch.epoch = r.u64();
    batch.newest = r.i64();
    batch.first = r.i64();
    const std::uint8_t flags = r.u8();
    if (flags > 3) r.fail();
    batch.active = (flags & 1) != 0;
    batch.ended = (flags & 2) != 0;
    const std::size_t n = r.count(5);
    batch.cells.clear();
    batch.cells.reserve(r.ok() ? n : 0);
    std::uint64_t seq = 0;
    time::timestamp_ns start = 0;
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        partial_cell c;
        const std::uint64_t d = r.varint();
        if (__builtin_add_overflow(seq, d, &c.export_seq)) r.fail();
        c.group = std::string(r.str());
        if (__builtin_add_overflow(start, r.svarint(), &c.start)) r.fail();
        const std::uint64_t span = r.varint();
        if (span > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
            __builtin_add_overflow(c.start, static_cast<std::int64_t>(span), &c.last)) {
            r.fail();
        }
        c.block = std::string(r.str());
        if (c.export_seq == 0) r.fail();
        seq = c.export_seq;
        start = c.start;
        batch.cells.push_back(std::move(c));
    }
    return r.ok();
}

}  // namespace weir::engine
