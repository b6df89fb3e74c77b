#include "core/engine/partials.h"

#include <limits>

namespace weir::engine {

namespace {
constexpr std::uint32_t k_partial_magic = 0x50455757;  // "WWEP"
constexpr std::uint64_t k_partial_version = 1;
}  // namespace

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
