// The node engine: window assignment per group, emission as the watermark passes window ends,
// check evaluation and the checkpoint of the whole state.
#include "core/engine/node_engine.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>

#include "core/check/history.h"
#include "core/diag/assert.h"
#include "core/engine/short_bytes.h"
#include "core/expr/program.h"
#include "core/measure/catalog.h"
#include "core/record/prefetch.h"
#include "core/sketch/hash.h"

namespace weir::engine {

using window::k_no_time;

namespace {

constexpr timestamp_ns k_max_time = std::numeric_limits<timestamp_ns>::max();
// The pool's cells come in chunks of mapped memory (mapped_bytes), so a chunk's pages count only
// once its cells are used. The first chunk holds 2^k_first_chunk_shift cells and each after it
// as many as all before it: a small pool is one small mapping, a pool of millions a score of
// them, and from the second chunk on the whole huge pages of a chunk are advised onto huge
// pages (cells are probed at random; on small pages nearly every probe of a large pool misses
// the TLB, and the page walk stalls the prefetch that should hide the miss).
constexpr std::uint32_t k_first_chunk_shift = 10;

struct cell_place {
    std::uint32_t chunk;
    std::uint32_t index;  // in the chunk
};

cell_place place_of(std::uint32_t c) {
    // Chunk k holds cells [(2^k - 1) << shift, (2^(k+1) - 1) << shift).
    const auto k = static_cast<std::uint32_t>(std::bit_width((c >> k_first_chunk_shift) + 1) - 1);
    return {k, c - (((std::uint32_t{1} << k) - 1) << k_first_chunk_shift)};
}

std::size_t cells_in_chunk(std::size_t chunk) {
    return std::size_t{1} << (k_first_chunk_shift + chunk);
}
constexpr std::uint32_t k_snapshot_magic = 0x4e455757;  // "WWEN"
// 3: where partial windows end, and each group's newest record (for freshness() of empty
// windows); 2: watermark sources by id; 1: by index. Older versions are still restored.
// 4: the engine's part in scale-out (partition-local or merge step, see partials.h).
// 5: the merge step keeps several epochs per source.
constexpr std::uint64_t k_snapshot_version = 5;
// Epochs of a source the merge step remembers: a replay goes back one cut or two (see
// partials.h), so a few are plenty.
constexpr std::size_t k_epochs_kept = 8;
// A partition-local engine tells the merge step its progress at least this often while records
// come (node_engine::hand_over), or every half idle_timeout where that is shorter.
constexpr timestamp_ns k_progress_every = 100'000'000;
enum class snapshot_mode : std::uint8_t { single = 0, partition_local = 1, merge = 2 };
// The history section of checks against history (node_engine::snapshot_history).
constexpr std::uint32_t k_history_magic = 0x48455757;  // "WWEH"
constexpr std::uint64_t k_history_version = 1;
constexpr std::uint8_t k_no_outcome = 0xff;

timestamp_ns sat_sub(timestamp_ns a, timestamp_ns b) {
    timestamp_ns r;
    if (__builtin_sub_overflow(a, b, &r)) return b > 0 ? k_no_time : k_max_time;
    return r;
}

timestamp_ns sat_add(timestamp_ns a, timestamp_ns b) {
    timestamp_ns r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? k_max_time : k_no_time;
    return r;
}

}  // namespace

struct node_engine::cell_meta {
    timestamp_ns start = 0;  // pane start, or session start (its earliest record)
    timestamp_ns last = 0;   // latest event time of the cell's records (valid or not)
    std::uint32_t next = k_nil;
    // Panes: the previous cell of the group (k_nil at the head), so a late record finds its
    // pane by walking back from the newest instead of forward through a sliding window's
    // dozens of panes. Sessions: a generation bumped on release, telling stale heap entries
    // apart. One field for both keeps a cell's metadata at 24 bytes.
    std::uint32_t prev_or_gen = 0;
    std::uint32_t& prev() { return prev_or_gen; }
    std::uint32_t& gen() { return prev_or_gen; }
    std::uint32_t gen() const { return prev_or_gen; }
};

struct node_engine::group_state {
    short_bytes key;                        // encoded group values (inline up to 15 bytes)
    timestamp_ns newest_freed = k_no_time;  // latest event time of released cells
    // Latest event time of the valid records of released cells: what freshness() measures in
    // an empty window.
    timestamp_ns newest_record = k_no_time;
    // (The key's hash is in its table slot: key_hash(key) gives it again.)
    std::uint32_t head = k_nil;  // cells, sorted by start
    std::uint32_t tail = k_nil;
    // Empty windows emitted in the advance of the watermark numbered empty_advance (at most
    // max_empty_windows_per_group).
    std::uint32_t empty_advance = 0;
    std::uint32_t empty_windows : 31 = 0;
    std::uint32_t live : 1 = 0;
};

struct node_engine::pane_folds {
    timestamp_ns suffix_block = k_no_time;  // start of the block whose suffixes are built
    timestamp_ns suffix_from = 0;           // ... those of its panes from here on
    timestamp_ns prefix_block = k_no_time;  // start of the block whose prefix is built
    timestamp_ns prefix_end = 0;            // the prefix holds the block's panes before this
    bool prefix_filled = false;
    // Per suffix: whether a pane of it holds anything (an empty fold is never merged, so that a
    // window is merged from its panes' blocks only, as without folds).
    std::vector<std::uint8_t> filled;
    // fold_slots_ suffixes (by pane of the block), then the prefix: constructed blocks.
    std::unique_ptr<std::byte[]> blocks;
};

struct node_engine::compiled_check {
    const check_plan* plan = nullptr;
    measure::measure_expr expr;
    std::vector<std::uint32_t> calls;  // expr call i -> layout call
    std::optional<check::assessment> must_be;
    std::optional<check::assessment> should_be;
    // The layout's input call whose samples its failing results carry, or k_nil; and which
    // side of them offends (see sample_counted).
    std::uint32_t sample_input = k_nil;
    bool sample_counted = false;
    // The layout call of the measure's first reconcile(), whose comparison the results carry,
    // or k_nil.
    std::uint32_t reconcile_call = k_nil;
    // Checks against history: the store of each assessment that judges against it.
    std::unique_ptr<check::history_store> must_history;
    std::unique_ptr<check::history_store> should_history;
};

namespace {

// Whether the records a sampled check's function counts are the offending ones: a lower
// bound (`> 99%`) is violated by too few of them, so the others offend; an upper bound
// (`< 5%`) by too many. Anything else (ranges, equality, sets) keeps the function's default.
bool sample_counted(std::string_view fn, const std::optional<check::assessment>& must_be,
                    const std::optional<check::assessment>& should_be) {
    const auto& a = must_be ? must_be : should_be;
    // Against history, the test is on the change or z: no side of the value offends.
    if (a && a->history() == nullptr) {
        using f = check::assessment::form;
        switch (a->kind()) {
            case f::greater:
            case f::greater_equal:
                return false;
            case f::less:
            case f::less_equal:
                return true;
            case f::range:
                if (std::isinf(a->low()) && !std::isinf(a->high())) return true;
                if (std::isinf(a->high()) && !std::isinf(a->low())) return false;
                break;
            default:
                break;
        }
    }
    return samples_counted_by_default(fn);
}

}  // namespace

void add_referenced_fields(node_plan& plan) {
    const auto add = [&](const field_path& f) {
        if (std::find(plan.fields.begin(), plan.fields.end(), f) == plan.fields.end()) {
            plan.fields.push_back(f);
        }
    };
    for (const auto& f : plan.group_by) add(f);
    for (const auto& c : plan.checks) {
        std::optional<measure::measure_expr> own;
        if (!c.parsed_measure) {
            auto parsed = measure::parse_measure(c.measure);
            if (!parsed) {
                throw std::invalid_argument("check " + c.name + ": " + parsed.error().message);
            }
            own = std::move(*parsed);
        }
        if (!plan.origins.empty()) {
            // Bound calls read the field without the input's name.
            if (!own) own = *c.parsed_measure;
            if (auto error = own->bind_sources(plan.origins)) {
                throw std::invalid_argument("check " + c.name + ": " + error->message);
            }
        }
        const measure::measure_expr& m = own ? *own : *c.parsed_measure;
        for (const auto& call : m.calls()) {
            for (const auto& a : call.args) {
                if (a.kind == measure::arg_kind::field) add(a.field);
                for (const auto& f : a.condition_fields) add(f);
            }
            if (measure::is_drift_function(call.function->name)) add(schema::drift_field());
        }
        if (!c.filter.empty()) {
            auto filter = expr::compile(c.filter);
            if (!filter) {
                throw std::invalid_argument("check " + c.name +
                                            ": filter: " + filter.error().message);
            }
            for (const auto& f : filter->fields()) add(f.path);
        }
    }
}

node_engine::node_engine(node_plan plan, timestamp_ns wall_now)
    : plan_(std::move(plan)),
      watermark_(
          plan_.source_ids.empty() && plan_.sources > 0
              ? window::watermark_tracker(plan_.processing_time ? 0 : plan_.window.allowed_lateness,
                                          plan_.window.idle_timeout, plan_.sources, wall_now)
              : window::watermark_tracker(plan_.processing_time ? 0 : plan_.window.allowed_lateness,
                                          plan_.window.idle_timeout, plan_.source_ids, wall_now)),
      created_at_(wall_now) {
    started_wall_ = created_at_;
    const auto& w = plan_.window;
    sessions_ = w.kind == window::window_kind::session;
    if (sessions_) {
        if (w.gap <= 0) throw std::invalid_argument("a session window needs a gap > 0");
        session_step_ = std::max<timestamp_ns>(1, sat_add(w.gap, w.allowed_lateness) / 16);
    } else {
        if (w.size <= 0 || w.step() <= 0) {
            throw std::invalid_argument("window size and slide must be > 0");
        }
        if (w.step() > w.size) throw std::invalid_argument("slide must not exceed size");
        size_ = w.size;
        step_ = w.step();
        pane_ = w.pane();
    }
    if (w.allowed_lateness < 0 || w.idle_timeout < 0 || plan_.group_ttl < 0) {
        throw std::invalid_argument("allowed_lateness, idle_timeout and group_ttl must be >= 0");
    }
    grouped_ = !plan_.group_by.empty();
    ttl_ = grouped_ ? plan_.group_ttl : k_max_time;
    for (const auto& f : plan_.group_by) {
        const auto it = std::find(plan_.fields.begin(), plan_.fields.end(), f);
        if (it == plan_.fields.end()) {
            throw std::invalid_argument("group_by field " + f.to_string() +
                                        " is not among the node's record fields");
        }
        group_slots_.push_back(static_cast<std::uint32_t>(it - plan_.fields.begin()));
    }
    std::vector<layout_call> calls;
    for (const auto& c : plan_.checks) {
        auto cc = std::make_unique<compiled_check>();
        cc->plan = &c;
        if (c.parsed_measure) {
            cc->expr = *c.parsed_measure;
        } else {
            auto parsed = measure::parse_measure(c.measure);
            if (!parsed) {
                throw std::invalid_argument("check " + c.name +
                                            ": measure: " + parsed.error().message);
            }
            cc->expr = std::move(*parsed);
        }
        if (!plan_.origins.empty()) {
            if (auto error = cc->expr.bind_sources(plan_.origins)) {
                throw std::invalid_argument("check " + c.name + ": measure: " + error->message);
            }
        }
        const auto assess = [&](const std::string& text, const char* what,
                                const std::shared_ptr<const check::assessment>& parsed) {
            std::optional<check::assessment> a;
            if (parsed) {
                a = *parsed;
                return a;
            }
            if (text.empty()) return a;
            auto p = check::parse_assessment(text);
            if (!p) {
                throw std::invalid_argument("check " + c.name + ": " + what + ": " +
                                            p.error().message);
            }
            a = std::move(*p);
            return a;
        };
        cc->must_be = assess(c.must_be, "must_be", c.parsed_must_be);
        cc->should_be = assess(c.should_be, "should_be", c.parsed_should_be);
        const auto history = [&](const std::optional<check::assessment>& a, const char* what) {
            std::unique_ptr<check::history_store> store;
            if (!a || a->history() == nullptr) return store;
            try {
                store = std::make_unique<check::history_store>(
                    check::history_model(*a, sessions_ ? 0 : step_), plan_.max_groups);
            } catch (const std::invalid_argument& e) {
                throw std::invalid_argument("check " + c.name + ": " + what + ": " + e.what());
            }
            return store;
        };
        cc->must_history = history(cc->must_be, "must_be");
        cc->should_history = history(cc->should_be, "should_be");
        checks_.push_back(std::move(cc));
    }
    for (const auto& cc : checks_) {
        const std::uint32_t samples = cc->plan->samples;
        if (samples > 0) {
            if (!cc->expr.single_call()) {
                throw std::invalid_argument("check " + cc->plan->name +
                                            ": samples: the measure must be one call");
            }
            cc->sample_input = static_cast<std::uint32_t>(calls.size());
            cc->sample_counted =
                sample_counted(cc->expr.calls().front().function->name, cc->must_be, cc->should_be);
        }
        for (const auto& call : cc->expr.calls()) {
            const auto origin = [&](const std::string& name) {
                const auto it = std::find(plan_.origins.begin(), plan_.origins.end(), name);
                return name.empty() || it == plan_.origins.end()
                           ? k_any_origin
                           : static_cast<std::uint32_t>(it - plan_.origins.begin());
            };
            calls.push_back(
                {&call, cc->plan->filter, samples, origin(call.source), origin(call.other)});
        }
    }
    layout_ = std::make_unique<aggregate_layout>(std::span<const layout_call>(calls), plan_.fields,
                                                 plan_.exact_quantile_limit);
    layout_->set_empty_is_missing(plan_.empty_is_missing);
    layout_->attach_gauges(&gauges_);
    for (const auto& cc : checks_) {
        for (const auto& call : cc->expr.calls()) {
            cc->calls.push_back(
                static_cast<std::uint32_t>(layout_->call_index(cc->plan->filter, call.key)));
            if (call.function->name == "reconcile" && cc->reconcile_call == k_nil) {
                cc->reconcile_call = cc->calls.back();
            }
        }
    }
    for (const auto& c : plan_.checks) {
        if (c.emit == emit_mode::changes) tracked_ = checks_.size();
    }
    stride_ = sizeof(cell_meta) + layout_->block_bytes();
    constexpr timestamp_ns k_max_fold_slots = 1024;
    if (!sessions_ && pane_ < size_ && size_ / pane_ <= k_max_fold_slots && !layout_->owns_heap()) {
        fold_slots_ = static_cast<std::size_t>(size_ / pane_);
    }
    merge_block_ = std::make_unique<std::byte[]>(layout_->block_bytes());
    layout_->construct(merge_block_.get());
    empty_block_ = std::make_unique<std::byte[]>(layout_->block_bytes());
    layout_->construct(empty_block_.get());
    call_values_.resize(layout_->calls());
}

node_engine::~node_engine() {
    clear_state();
    layout_->destroy(merge_block_.get());
    layout_->destroy(empty_block_.get());
    if (part_block_) layout_->destroy(part_block_.get());
}

// ---- cells ----

node_engine::cell_meta& node_engine::meta(std::uint32_t c) const {
    WEIR_DEBUG_ASSERT(c < cell_count_);
    const cell_place at = place_of(c);
    return *reinterpret_cast<cell_meta*>(chunks_[at.chunk].get() + at.index * stride_);
}

std::byte* node_engine::block(std::uint32_t c) const {
    const cell_place at = place_of(c);
    return chunks_[at.chunk].get() + at.index * stride_ + sizeof(cell_meta);
}

std::uint32_t node_engine::allocate_cell(timestamp_ns start) {
    std::uint32_t c;
    if (free_cells_ != k_nil) {
        c = free_cells_;
        free_cells_ = meta(c).next;
    } else {
        // Cell indices are 32-bit with k_nil reserved; max_groups keeps far below.
        WEIR_ASSERT(cell_count_ < k_nil - 1, "cell index space exhausted");
        c = cell_count_++;
        const cell_place at = place_of(c);
        if (at.chunk >= chunks_.size()) {
            chunks_.emplace_back(stride_ * cells_in_chunk(at.chunk), !chunks_.empty());
        }
        // A cell's pages are touched when it is first used, not when its chunk is mapped.
        new (chunks_.back().get() + at.index * stride_) cell_meta();
    }
    cell_meta& m = meta(c);
    m.start = start;
    m.last = start;
    m.next = k_nil;
    layout_->construct(block(c));
    ++live_cells_;
    if (merging_) {
        if (parts_.size() < cell_count_) parts_.resize(cell_count_);
        parts_[c].settled = false;
        parts_[c].parts.clear();
    }
    return c;
}

void node_engine::release_cell(std::uint32_t c) {
    layout_->destroy(block(c));
    if (merging_) {
        parts_[c].parts.clear();
        parts_[c].parts.shrink_to_fit();
    }
    cell_meta& m = meta(c);
    if (sessions_) ++m.gen();
    m.next = free_cells_;
    free_cells_ = c;
    --live_cells_;
}

void node_engine::release_cell_memory() {
    if (live_cells_ != 0 || chunks_.empty()) return;
    for (const group_state& g : groups_) {
        WEIR_ASSERT(!g.live || g.head == k_nil, "a group holds a cell while none is live");
    }
    chunks_.clear();
    chunks_.shrink_to_fit();
    cell_count_ = 0;
    free_cells_ = k_nil;
    // Entries naming cells, all of them released ones now.
    session_heap_.clear();
    session_later_.clear();
    open_starts_.clear();
    due_.clear();
    parts_.clear();
}

// ---- groups ----

// Group keys are short (a tag, a length and a few bytes each): compared 8 bytes at a time in
// line, where std::string's == calls memcmp for every record.
static bool same_key(std::string_view a, std::string_view b) {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    const char* x = a.data();
    const char* y = b.data();
    if (n < 8) {
        for (std::size_t i = 0; i < n; ++i) {
            if (x[i] != y[i]) return false;
        }
        return true;
    }
    auto load = [](const char* p) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        return v;
    };
    for (std::size_t i = 0; i + 8 < n; i += 8) {
        if (load(x + i) != load(y + i)) return false;
    }
    return load(x + n - 8) == load(y + n - 8);  // the last 8 bytes, overlapping the loop's
}

// A group key's hash; the table uses its low 32 bits (it never has more than 2^32 slots).
static std::uint32_t key_hash(std::string_view key) {
    return static_cast<std::uint32_t>(hashing::hash_bytes(key.data(), key.size(), 0x67726f7570));
}

// A table slot: the key's hash in the high half, the group index + 1 in the low half (0: an
// empty slot). The hash lets a probe skip other groups without reading them.
static std::uint64_t make_slot(std::uint32_t hash, std::uint32_t g) {
    return (std::uint64_t{hash} << 32) | (g + 1);
}
static std::uint32_t slot_hash(std::uint64_t slot) {
    return static_cast<std::uint32_t>(slot >> 32);
}
static std::uint32_t slot_group(std::uint64_t slot) {
    return static_cast<std::uint32_t>(slot) - 1;
}

std::uint32_t node_engine::find_group(std::string_view key, std::uint32_t hash) const {
    if (table_.empty()) return k_nil;
    const std::size_t mask = table_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
        const std::uint64_t slot = table_[i];
        if (slot == 0) return k_nil;
        if (slot_hash(slot) == hash && same_key(groups_[slot_group(slot)].key, key)) {
            return slot_group(slot);
        }
    }
}

void node_engine::prefetch_slot(std::uint32_t hash) const {
    if (!table_.empty()) prefetch(&table_[hash & (table_.size() - 1)]);
}

std::uint32_t node_engine::probable_group(std::uint32_t hash) const {
    if (table_.empty()) return k_nil;
    const std::size_t mask = table_.size() - 1;
    // A few probes at most: the slots are in the line prefetch_slot() fetched, nearly always.
    std::size_t i = hash & mask;
    for (int probe = 0; probe < 4; ++probe, i = (i + 1) & mask) {
        const std::uint64_t slot = table_[i];
        if (slot == 0) return k_nil;
        if (slot_hash(slot) == hash) return slot_group(slot);
    }
    return k_nil;
}

void node_engine::prefetch_group(std::uint32_t hash) const {
    const std::uint32_t g = probable_group(hash);
    if (g == k_nil) return;
    // A group is 48 bytes: it may straddle two lines.
    const auto* p = reinterpret_cast<const char*>(&groups_[g]);
    prefetch(p);
    prefetch(p + sizeof(group_state) - 1);
}

void node_engine::prefetch_cell(std::uint32_t hash) const {
    const std::uint32_t g = probable_group(hash);
    if (g == k_nil) return;
    // The newest pane or session takes nearly every record; the first lines of its
    // accumulators are what add_record() reads first (a sketch's pointers among them).
    const std::uint32_t c = groups_[g].tail;
    if (c == k_nil) return;
    const auto* p = reinterpret_cast<const char*>(&meta(c));
    const std::size_t lines = std::min<std::size_t>(sizeof(cell_meta) + layout_->hot_bytes(), 512);
    for (std::size_t off = 0; off < lines; off += 64) prefetch(p + off);
}

void node_engine::prefetch_heap(std::uint32_t hash, std::span<const field_value> record) const {
    const std::uint32_t g = probable_group(hash);
    if (g == k_nil || groups_[g].tail == k_nil) return;
    layout_->prefetch_heap(block(groups_[g].tail), record);
}

void node_engine::rehash(std::size_t capacity) {
    // The slots carry the hashes: the keys are not read again.
    const huge_vector<std::uint64_t> old = std::move(table_);
    table_.assign(capacity, 0);
    for (const std::uint64_t slot : old) {
        if (slot != 0) place_slot(slot);
    }
}

void node_engine::place_slot(std::uint64_t slot) {
    const std::size_t mask = table_.size() - 1;
    std::size_t i = slot_hash(slot) & mask;
    while (table_[i] != 0) i = (i + 1) & mask;
    table_[i] = slot;
}

std::uint32_t node_engine::insert_group(std::string_view key, std::uint32_t hash) {
    // A million groups (W10) take 48 MB (72 with a std::string key and the hash kept).
    static_assert(sizeof(group_state) == 48);
    if ((live_groups_ + 1) * 4 > table_.size() * 3) {
        rehash(std::max<std::size_t>(16, table_.size() * 2));
    }
    std::uint32_t g;
    if (!free_groups_.empty()) {
        g = free_groups_.back();
        free_groups_.pop_back();
    } else {
        g = static_cast<std::uint32_t>(groups_.size());
        groups_.emplace_back();
        last_outcome_.resize(groups_.size() * tracked_, k_no_outcome);
    }
    group_state& gs = groups_[g];
    gs.key = key;
    gs.head = gs.tail = k_nil;
    gs.newest_freed = k_no_time;
    gs.newest_record = k_no_time;
    gs.live = true;
    if (g < folds_.size()) drop_folds(g);
    std::fill_n(last_outcome_.begin() + static_cast<std::ptrdiff_t>(g * tracked_), tracked_,
                k_no_outcome);
    place_slot(make_slot(hash, g));
    ++live_groups_;
    // find_or_add_group refuses groups beyond max_groups: more would defeat the memory bound.
    WEIR_CHECK(live_groups_ <= plan_.max_groups, "more live groups than max_groups");
    return g;
}

void node_engine::drop_group(std::uint32_t g) {
    // A dead group is in no probe chain: looking it up would never end.
    WEIR_ASSERT(g < groups_.size() && groups_[g].live, "dropping a group that is not live");
    const std::size_t mask = table_.size() - 1;
    const std::uint64_t slot = make_slot(key_hash(groups_[g].key), g);
    std::size_t i = slot_hash(slot) & mask;
    while (table_[i] != slot) i = (i + 1) & mask;
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    std::size_t j = i;
    while (true) {
        j = (j + 1) & mask;
        if (table_[j] == 0) break;
        const std::size_t k = slot_hash(table_[j]) & mask;
        const bool movable = (j > i) ? (k <= i || k > j) : (k <= i && k > j);
        if (movable) {
            table_[i] = table_[j];
            i = j;
        }
    }
    table_[i] = 0;
    group_state& gs = groups_[g];
    gs.live = false;
    gs.key.clear();
    gs.head = gs.tail = k_nil;
    free_groups_.push_back(g);
    --live_groups_;
}

// Appends the group_by values of `record` to `out`: a tag byte per value, then its payload.
// Absent, null and wrong-typed values share tag 0.
static void encode_key(std::span<const std::uint32_t> slots, std::span<const field_value> record,
                       std::string& out) {
    for (const std::uint32_t s : slots) {
        const field_value& v = record[s];
        switch (v.kind) {
            case value_kind::boolean: {
                const char bytes[2] = {1, static_cast<char>(v.boolean ? 1 : 0)};
                out.append(bytes, 2);
                break;
            }
            case value_kind::number: {
                double d = v.number == 0.0 ? 0.0 : v.number;
                if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
                const auto bits = std::bit_cast<std::uint64_t>(d);
                char bytes[1 + sizeof bits] = {2};
                std::memcpy(bytes + 1, &bits, sizeof bits);
                out.append(bytes, sizeof bytes);
                break;
            }
            case value_kind::string: {
                // The tag and the length in one append, the bytes in another (push_back is a
                // call of its own: 26 of the 108 instructions per record of W1's key).
                const std::uint32_t n = v.length;
                char head[1 + sizeof n] = {3};
                std::memcpy(head + 1, &n, sizeof n);
                out.append(head, sizeof head);
                out.append(v.chars, n);
                break;
            }
            default:
                out.push_back(0);
                break;
        }
    }
}

// The inverse of encode_key; false when `key` is not a valid encoding.
static bool decode_key(std::string_view key, const std::vector<field_path>& names, group_key* out) {
    std::size_t pos = 0;
    for (const auto& name : names) {
        if (pos >= key.size()) return false;
        const char tag = key[pos++];
        measure_value v;
        if (tag == 1) {
            if (pos + 1 > key.size()) return false;
            v = measure_value::make_boolean(key[pos++] != 0);
        } else if (tag == 2) {
            if (pos + 8 > key.size()) return false;
            std::uint64_t bits;
            std::memcpy(&bits, key.data() + pos, 8);
            pos += 8;
            v = measure_value::make_number(std::bit_cast<double>(bits));
        } else if (tag == 3) {
            if (pos + 4 > key.size()) return false;
            std::uint32_t n;
            std::memcpy(&n, key.data() + pos, 4);
            pos += 4;
            if (n > key.size() - pos) return false;
            v = measure_value::make_string(std::string(key.substr(pos, n)));
            pos += n;
        } else if (tag != 0) {
            return false;
        }
        if (out) out->emplace_back(name.to_string(), std::move(v));
    }
    return pos == key.size();
}

std::uint32_t node_engine::find_or_add_group(std::string_view key, std::uint32_t hash,
                                             bool& overflow) {
    const std::uint32_t g = find_group(key, hash);
    if (g != k_nil) return g;
    if (live_groups_ >= plan_.max_groups) {
        overflow = true;
        return k_nil;
    }
    return insert_group(key, hash);
}

// ---- records ----

bool node_engine::session_overlaps(std::uint32_t g, timestamp_ns t) const {
    const timestamp_ns gap = plan_.window.gap;
    for (std::uint32_t c = groups_[g].head; c != k_nil; c = meta(c).next) {
        const cell_meta& m = meta(c);
        if (m.start >= sat_add(t, gap)) break;
        if (t < sat_add(m.last, gap)) return true;
    }
    return false;
}

void node_engine::push_session(std::uint32_t g, std::uint32_t c) {
    queue_session({sat_add(meta(c).last, plan_.window.gap), g, c, meta(c).gen()});
}

void node_engine::queue_session(const session_entry& e) {
    if (e.end >= session_horizon_) {
        session_later_.push_back(e);
        return;
    }
    session_heap_.push_back(e);
    std::push_heap(session_heap_.begin(), session_heap_.end(),
                   [](const session_entry& a, const session_entry& b) { return a.end > b.end; });
}

std::uint32_t node_engine::pane_cell(std::uint32_t g, timestamp_ns ps, timestamp_ns t) {
    group_state& gs = groups_[g];
    if (gs.tail != k_nil && meta(gs.tail).start == ps) return gs.tail;
    // Panes are sorted by start; a record is rarely more than a pane or two behind the newest,
    // so search from the tail.
    std::uint32_t after = k_nil;
    std::uint32_t cur = gs.tail;
    while (cur != k_nil && meta(cur).start > ps) {
        after = cur;
        cur = meta(cur).prev();
    }
    if (cur != k_nil && meta(cur).start == ps) return cur;
    const std::uint32_t c = allocate_cell(ps);
    cell_meta& m = meta(c);
    m.last = t;
    m.next = after;
    m.prev() = cur;
    if (cur == k_nil) {
        gs.head = c;
    } else {
        meta(cur).next = c;
    }
    if (after == k_nil) {
        gs.tail = c;
    } else {
        meta(after).prev() = c;
    }
    return c;
}

std::uint32_t node_engine::session_cell(std::uint32_t g, timestamp_ns from, timestamp_ns to) {
    group_state& gs = groups_[g];
    const timestamp_ns gap = plan_.window.gap;
    std::uint32_t c = k_nil;
    std::uint32_t cur = gs.head;
    while (cur != k_nil) {
        cell_meta& m = meta(cur);
        if (m.start >= sat_add(to, gap)) break;
        const std::uint32_t next = m.next;
        if (from < sat_add(m.last, gap)) {
            if (c == k_nil) {
                c = cur;
            } else {
                // The records bridge two sessions: they become one.
                if (merging_) {
                    auto& into = parts_[c].parts;
                    for (auto& part : parts_[cur].parts) into.push_back(std::move(part));
                } else {
                    layout_->merge(block(c), block(cur));
                }
                cell_meta& f = meta(c);
                f.last = std::max(f.last, m.last);
                f.start = std::min(f.start, m.start);
                f.next = next;
                if (gs.tail == cur) gs.tail = c;
                release_cell(cur);
            }
        }
        cur = next;
    }
    if (c == k_nil) {
        // A new session, inserted in start order.
        std::uint32_t p = k_nil;
        std::uint32_t n = gs.head;
        while (n != k_nil && meta(n).start < from) {
            p = n;
            n = meta(n).next;
        }
        c = allocate_cell(from);
        meta(c).next = n;
        if (p == k_nil) {
            gs.head = c;
        } else {
            meta(p).next = c;
        }
        if (n == k_nil) gs.tail = c;
        push_session(g, c);
        if (partial_sink_) push_open_start(c);
    } else {
        cell_meta& f = meta(c);
        if (from < f.start) {
            f.start = from;
            if (partial_sink_) push_open_start(c);
        }
    }
    return c;
}

std::uint32_t node_engine::add_record(std::uint32_t g, const record_batch& batch, std::size_t i,
                                      timestamp_ns t, timestamp_ns arrival, bool valid, bool kept) {
    std::uint32_t c;
    if (sessions_) {
        c = session_cell(g, t, t);
    } else {
        const timestamp_ns ps = window::align_down(t, pane_);
        // A pane already folded changes: the group's folds are stale.
        if (ps < fold_horizon_) [[unlikely]]
            drop_folds(g);
        c = pane_cell(g, ps, t);
    }
    cell_meta& m = meta(c);
    m.last = std::max(m.last, t);
    if (valid) {
        layout_->add(block(c), batch.record(i), t, arrival, batch_origin_);
        if (kept) layout_->add_invalid(block(c), true);
    } else {
        layout_->add_invalid(block(c));
    }
    return c;
}

void node_engine::process(const record_batch& batch, std::span<const timestamp_ns> event_times,
                          timestamp_ns arrival_time, std::vector<check_result>& out,
                          std::vector<std::uint32_t>* late, std::size_t source) {
    // Records of a source the engine does not know (or that went away) would hold nothing
    // back and corrupt the watermark: refused, counted invalid, reported as a bug.
    if (!WEIR_CHECK(source < watermark_.sources() && !watermark_.removed(source),
                    "records of an unknown or removed watermark source")) {
        stats_.invalid += batch.size();
        return;
    }
    WEIR_DEBUG_ASSERT(plan_.processing_time || event_times.empty() ||
                      event_times.size() == batch.size());
    const bool by_arrival = plan_.processing_time || event_times.empty();
    const bool window_invalid = layout_->uses_invalid();
    batch_origin_ = plan_.origins.empty() ? k_any_origin : origin_of(source);
    if (source_max_.size() < watermark_.sources()) {
        source_max_.resize(watermark_.sources(), k_no_time);
    }
    const std::size_t n = batch.size();
    // Every record's group key and hash first, so that each lookup below finds its table slot
    // and group already fetched: with many groups the table and the groups are far larger than
    // the cache, and probed at random. The slot of a record a few ahead is fetched first, its
    // group (which the slot names) once the slot is in cache.
    batch_keys_.clear();
    batch_key_ends_.clear();
    batch_hashes_.clear();
    for (std::size_t i = 0; i < n; ++i) {
        encode_key(group_slots_, batch.record(i), batch_keys_);
        batch_key_ends_.push_back(static_cast<std::uint32_t>(batch_keys_.size()));
    }
    const auto key_of = [&](std::size_t i) {
        const std::uint32_t from = i == 0 ? 0 : batch_key_ends_[i - 1];
        return std::string_view(batch_keys_).substr(from, batch_key_ends_[i] - from);
    };
    for (std::size_t i = 0; i < n; ++i) batch_hashes_.push_back(key_hash(key_of(i)));
    // Each step several records after the one it depends on, so that its line has arrived
    // (measured on W2, 100 K groups with sketches: shorter distances stall on the misses).
    constexpr std::size_t k_slot_ahead = 20;
    constexpr std::size_t k_group_ahead = 12;
    constexpr std::size_t k_cell_ahead = 6;
    // The sketches' heap memory, once the cell (which points to it) is in cache.
    constexpr std::size_t k_heap_ahead = 2;
    // Only where the groups and their newest cells may outgrow a core's cache (or own heap
    // memory, which the size here does not see): below that they stay cached between records,
    // and fetching ahead costs instructions only (4 % of W1's, 1 000 groups of 230 bytes; W1
    // and W5 ran about 5 % faster without it).
    constexpr std::size_t k_cached_bytes = std::size_t{1} << 20;
    const bool ahead =
        layout_->owns_heap() ||
        live_groups_ * (sizeof(group_state) + sizeof(cell_meta) + layout_->block_bytes()) >
            k_cached_bytes;
    const bool heap = layout_->prefetches_heap();
    for (std::size_t i = 0; i < n; ++i) {
        if (ahead) {
            if (i + k_slot_ahead < n) prefetch_slot(batch_hashes_[i + k_slot_ahead]);
            if (i + k_group_ahead < n) prefetch_group(batch_hashes_[i + k_group_ahead]);
            if (i + k_cell_ahead < n) prefetch_cell(batch_hashes_[i + k_cell_ahead]);
            if (heap && i + k_heap_ahead < n) {
                prefetch_heap(batch_hashes_[i + k_heap_ahead], batch.record(i + k_heap_ahead));
            }
        }
        const timestamp_ns t = by_arrival ? arrival_time : event_times[i];
        // A record kept despite a schema violation is usable and counted invalid too.
        const bool kept = batch.status[i] == invalid_reason::schema_kept;
        const bool valid = batch.status[i] == invalid_reason::none || kept;
        if (kept) {
            ++stats_.invalid;
            if (t != k_no_time) ++stats_.kept_invalid;
        }
        if (!valid || t == k_no_time) {
            ++stats_.invalid;
            if (valid || t == k_no_time || !window_invalid) continue;
        } else {
            ++stats_.records;
        }
        bool is_late = false;
        // Partition-local: the merge step judges lateness; closed_through_ is how far cells
        // were given up.
        if (closed_through_ != k_no_time && !partial_sink_) {
            if (!sessions_) {
                is_late = window::last_window_end(t, size_, step_) <= closed_through_;
            } else if (sat_add(t, plan_.window.gap) <= closed_through_) {
                const std::uint32_t g = find_group(key_of(i), batch_hashes_[i]);
                is_late = g == k_nil || !session_overlaps(g, t);
            }
        }
        if (is_late) {
            if (valid) ++stats_.late;
            if (late) late->push_back(static_cast<std::uint32_t>(i));
            continue;
        }
        bool overflow = false;
        const std::uint32_t g = find_or_add_group(key_of(i), batch_hashes_[i], overflow);
        if (g == k_nil) {
            ++stats_.group_overflow;
            continue;
        }
        if (awaiting_first_) {
            awaiting_first_ = false;
            first_time_ = t;
        }
        watermark_.observe(source, t, arrival_time);
        const std::uint32_t c = add_record(g, batch, i, t, arrival_time, valid, kept);
        if (partial_sink_) {
            partial_out_.active = true;
            // A record behind what was given up already: its cell goes at once.
            const timestamp_ns end =
                sessions_ ? sat_add(meta(c).last, plan_.window.gap) : sat_add(meta(c).start, pane_);
            if (closed_through_ != k_no_time && end <= closed_through_) {
                export_open_ = false;  // an export of its own
                export_cell(g, c);
                export_open_ = false;
            }
            if (source_max_[source] == k_no_time || t > source_max_[source]) {
                source_max_[source] = t;
                export_until(sat_sub(t, plan_.window.allowed_lateness));
            }
            continue;
        }
        // The watermark moves record by record: when this record raises its source's newest
        // event time, windows it passes close now, before the next record is judged late or
        // not. So lateness and results do not depend on where a batch happened to end (a
        // restart after a crash cuts batches differently).
        if (source < source_max_.size() &&
            (source_max_[source] == k_no_time || t > source_max_[source])) {
            source_max_[source] = t;
            emit_until(watermark_.update(arrival_time), arrival_time, out);
        }
    }
    if (n > 0) watermark_.touch(source, arrival_time);
    if (partial_sink_) {
        if (caught_up_) {
            hand_over_all();
        } else {
            hand_over(false, arrival_time);
        }
        return;
    }
    emit_until(watermark_.update(arrival_time), arrival_time, out);
}

std::uint32_t node_engine::origin_of(std::size_t source) {
    if (source < source_origin_.size() && source_origin_[source] != k_any_origin) {
        return source_origin_[source];
    }
    if (source_origin_.size() <= source) source_origin_.resize(source + 1, k_any_origin);
    // "orders/<source>": the input's name up to the last "/" that names one (a name may hold
    // a "/" itself); an anonymous source "i" is input i.
    const std::string& id = watermark_.source_id(source);
    std::uint32_t found = k_any_origin;
    std::size_t longest = 0;
    for (std::uint32_t o = 0; o < plan_.origins.size(); ++o) {
        const std::string& name = plan_.origins[o];
        if (id.size() > name.size() && id.starts_with(name) && id[name.size()] == '/' &&
            name.size() >= longest) {
            found = o;
            longest = name.size();
        }
    }
    if (found == k_any_origin && !id.empty() &&
        std::all_of(id.begin(), id.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
        id.size() < 10 && std::stoul(id) < plan_.origins.size()) {
        found = static_cast<std::uint32_t>(std::stoul(id));
    }
    source_origin_[source] = found;
    return found;
}

void node_engine::advance(timestamp_ns now, std::vector<check_result>& out) {
    if (partial_sink_) return;  // the merge step keeps the time
    if (plan_.processing_time) {
        for (std::size_t s = 0; s < watermark_.sources(); ++s) watermark_.observe(s, now, now);
    }
    emit_until(watermark_.update(now), now, out);
}

void node_engine::promise(std::size_t source, timestamp_ns event_time, timestamp_ns now,
                          std::vector<check_result>& out) {
    if (source >= watermark_.sources() || watermark_.removed(source)) return;
    watermark_.observe(source, event_time, now);
    emit_until(watermark_.update(now), now, out);
}

void node_engine::finish(timestamp_ns now, std::vector<check_result>& out) {
    if (finished_) return;
    if (partial_sink_) {
        export_until(k_max_time);
        closed_through_ = k_max_time;
        finished_ = true;
        watermark_.finish();
        hand_over(true);
        return;
    }
    if (sessions_) {
        emit_sessions(k_max_time, now, out);
    } else {
        const timestamp_ns target = max_open_last_end();
        if (target != k_no_time && target > closed_through_) {
            emit_aligned(closed_through_, target, now, out);
        }
    }
    closed_through_ = k_max_time;
    finished_ = true;
    watermark_.finish();
    release_cell_memory();
}

// ---- partials (scale-out) ----

void node_engine::set_partial_sink(std::function<void(partial_batch&)> sink) {
    if (plan_.processing_time) {
        throw std::invalid_argument("a processing-time window is not kept per partition");
    }
    if (merging_) throw std::invalid_argument("a merge step is not partition-local");
    partial_sink_ = std::move(sink);
    // Unique enough: two local engines of one source in the same nanosecond do not happen.
    std::random_device random;
    epoch_ =
        (static_cast<std::uint64_t>(random()) << 32) ^ static_cast<std::uint64_t>(random()) ^
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    partial_out_.source = watermark_.sources() > 0 ? watermark_.source_id(0) : std::string();
}

void node_engine::set_epoch(std::uint64_t epoch) {
    epoch_ = epoch;
    export_seq_ = 0;
    export_open_ = false;
}

void node_engine::hand_over_all() {
    if (!partial_sink_) return;
    export_open_ = false;
    for (std::uint32_t g = 0; g < groups_.size(); ++g) {
        while (groups_[g].live && groups_[g].head != k_nil) export_cell(g, groups_[g].head);
    }
    export_open_ = false;
    hand_over(true);
}

void node_engine::set_caught_up(bool caught_up) {
    caught_up_ = caught_up;
    if (caught_up && partial_sink_ && !finished_) hand_over_all();
}

void node_engine::export_until(timestamp_ns threshold) {
    if (threshold == k_no_time) return;
    if (closed_through_ != k_no_time && threshold <= closed_through_) return;
    export_open_ = false;
    if (sessions_) {
        collect_due_sessions(threshold);
        for (const due_session& d : due_) export_cell(d.group, d.cell);
    } else {
        // Panes starting before the boundary have ended by the threshold.
        const timestamp_ns boundary =
            threshold == k_max_time ? k_max_time : window::align_down(threshold, pane_);
        const bool crossed =
            closed_through_ == k_no_time || boundary > window::align_down(closed_through_, pane_);
        if (crossed) {
            for (std::uint32_t g = 0; g < groups_.size(); ++g) {
                while (groups_[g].live && groups_[g].head != k_nil &&
                       meta(groups_[g].head).start < boundary) {
                    export_cell(g, groups_[g].head);
                }
            }
        }
    }
    closed_through_ = threshold;
    export_open_ = false;
}

void node_engine::export_cell(std::uint32_t g, std::uint32_t c) {
    if (!export_open_) {
        export_open_ = true;
        ++export_seq_;
    }
    group_state& gs = groups_[g];
    partial_cell pc;
    pc.export_seq = export_seq_;
    pc.group = gs.key;
    pc.start = meta(c).start;
    pc.last = meta(c).last;
    byte_writer w;
    layout_->serialize(block(c), w);
    pc.block = w.take();
    partial_out_.cells.push_back(std::move(pc));
    unlink_cell(gs, c);
    release_cell(c);
    if (grouped_ && gs.head == k_nil) drop_group(g);
}

void node_engine::unlink_cell(group_state& gs, std::uint32_t c) {
    // Panes know their predecessor; sessions are found from the head.
    std::uint32_t prev = k_nil;
    if (!sessions_) {
        prev = meta(c).prev();
    } else {
        for (std::uint32_t p = gs.head; p != c; p = meta(p).next) prev = p;
    }
    const std::uint32_t next = meta(c).next;
    if (prev == k_nil) {
        gs.head = next;
    } else {
        meta(prev).next = next;
    }
    if (next == k_nil) {
        gs.tail = prev;
    } else if (!sessions_) {
        meta(next).prev() = prev;
    }
}

void node_engine::push_open_start(std::uint32_t c) {
    open_starts_.push_back({meta(c).start, 0, c, meta(c).gen()});
    std::push_heap(open_starts_.begin(), open_starts_.end(),
                   [](const session_entry& a, const session_entry& b) { return a.end > b.end; });
}

timestamp_ns node_engine::earliest_open_start() {
    const auto later = [](const session_entry& a, const session_entry& b) { return a.end > b.end; };
    while (!open_starts_.empty()) {
        const session_entry& e = open_starts_.front();
        // Stale: the session was given up (its cell reused), or began earlier since.
        if (e.cell < cell_count_ && meta(e.cell).gen() == e.gen && meta(e.cell).start == e.end) {
            return e.end;
        }
        std::pop_heap(open_starts_.begin(), open_starts_.end(), later);
        open_starts_.pop_back();
    }
    return k_no_time;
}

void node_engine::hand_over(bool always, timestamp_ns now) {
    timestamp_ns newest = source_max_.empty() ? k_no_time : source_max_[0];
    if (sessions_ && newest != k_no_time && !finished_) {
        // A session still open here may yet join one of another source's that ends before the
        // threshold: the merge step must not close those, so the progress handed over stops at
        // the earliest open session's start (plus the lateness the merge step takes off).
        const timestamp_ns open = earliest_open_start();
        if (open != k_no_time) {
            newest = std::min(newest, sat_add(open, plan_.window.allowed_lateness));
        }
    }
    if (!always && partial_out_.cells.empty()) {
        if (newest == partial_out_.newest) {
            partial_out_.active = false;
            return;
        }
        // Progress alone. The merge step closes windows at panes' ends: progress within a pane
        // closes nothing there, and waits (records since stay marked active) unless the merge
        // step has not heard from the source for k_progress_every, or half its idle_timeout
        // (which counts from the last hand-over it had). What a source that stops here has not told
        // yet goes when it is caught up (set_caught_up hands everything over) or, several daemons,
        // at its lane's next cut: as its last panes do.
        const auto pane_of = [&](timestamp_ns t) {
            const timestamp_ns threshold = sat_sub(t, plan_.window.allowed_lateness);
            return threshold == k_no_time ? k_no_time : window::align_down(threshold, pane_);
        };
        const bool closes = sessions_ || partial_out_.newest == k_no_time ||
                            pane_of(newest) != pane_of(partial_out_.newest);
        const timestamp_ns idle = plan_.window.idle_timeout;
        const timestamp_ns every =
            idle > 0 ? std::min(k_progress_every, idle / 2) : k_progress_every;
        const bool heard_lately = now != k_no_time && handed_over_at_ != k_no_time &&
                                  now >= handed_over_at_ && now - handed_over_at_ < every;
        if (!closes && heard_lately) return;
    }
    if (now != k_no_time) handed_over_at_ = now;
    partial_out_.newest = newest;
    partial_out_.source = watermark_.source_id(0);  // the sink may have moved it out
    partial_out_.epoch = epoch_;
    partial_out_.first = first_time_;
    partial_out_.ended = finished_;
    partial_sink_(partial_out_);
    partial_out_.clear();
}

void node_engine::enter_merge_mode() {
    if (merging_) return;
    merging_ = true;
    parts_.resize(cell_count_);
    part_block_ = std::make_unique<std::byte[]>(layout_->block_bytes());
    layout_->construct(part_block_.get());
}

std::uint64_t& node_engine::seen_seq(std::uint32_t source, std::uint64_t epoch) {
    if (seen_.size() <= source) seen_.resize(source + 1);
    std::vector<seen_epoch>& epochs = seen_[source];
    const auto it = std::find_if(epochs.begin(), epochs.end(),
                                 [epoch](const seen_epoch& e) { return e.epoch == epoch; });
    if (it == epochs.end()) {
        if (epochs.size() == k_epochs_kept) epochs.erase(epochs.begin());
        epochs.push_back({epoch, 0});
    } else if (it + 1 != epochs.end()) {
        std::rotate(it, it + 1, epochs.end());
    }
    return epochs.back().seq;
}

void node_engine::absorb(const partial_batch& batch, timestamp_ns now,
                         std::vector<check_result>& out) {
    if (partial_sink_ || finished_) return;
    enter_merge_mode();
    std::size_t source = watermark_.find_source(batch.source);
    if (source == watermark_.sources()) source = add_source(batch.source, now);
    // A new epoch (a local engine that started afresh, here or elsewhere) numbers from 1.
    std::uint64_t& taken = seen_seq(static_cast<std::uint32_t>(source), batch.epoch);
    const std::uint64_t seen = taken;
    for (const partial_cell& cell : batch.cells) {
        if (cell.export_seq <= seen) {
            ++stats_.duplicate_cells;
            continue;
        }
        taken = std::max(taken, cell.export_seq);
        absorb_cell(static_cast<std::uint32_t>(source), cell);
    }
    if (awaiting_first_ && batch.first != k_no_time) {
        awaiting_first_ = false;
        first_time_ = batch.first;
    }
    if (batch.newest != k_no_time) {
        if (batch.active) {
            watermark_.observe(source, batch.newest, now);
        } else if (batch.newest > watermark_.source_max_event(source)) {
            // Progress without records since the last hand-over (a replay's heartbeat): the
            // source's time, not its activity.
            const timestamp_ns last = watermark_.source_last_active(source);
            watermark_.observe(source, batch.newest, last);
        }
    }
    if (batch.ended) watermark_.set_hold(source, window::watermark_tracker::hold_mode::released);
    emit_until(watermark_.update(now), now, out);
}

void node_engine::absorb_cell(std::uint32_t source, const partial_cell& cell) {
    // Cells come from another process too (a partials topic): checked as a checkpoint is.
    layout_->reset(part_block_.get());
    byte_reader r(cell.block);
    const bool valid_block = layout_->deserialize(part_block_.get(), r) && r.at_end();
    const bool valid_time = cell.last >= cell.start &&
                            (sessions_ || (cell.start == window::align_down(cell.start, pane_) &&
                                           cell.last < sat_add(cell.start, pane_)));
    if (!valid_block || !valid_time || !decode_key(cell.group, plan_.group_by, nullptr) ||
        (!grouped_ && !cell.group.empty())) {
        ++stats_.invalid;
        return;
    }
    const std::uint64_t records = aggregate_layout::header(part_block_.get())->records;
    // As one engine counts records: valid ones received, late ones and those of groups beyond
    // max_groups included.
    stats_.records += records;
    if (closed_through_ != k_no_time) {
        bool late = false;
        if (!sessions_) {
            late = window::last_window_end(cell.start, size_, step_) <= closed_through_;
        } else if (sat_add(cell.last, plan_.window.gap) <= closed_through_) {
            const std::uint32_t g = find_group(cell.group, key_hash(cell.group));
            late = g == k_nil;
            if (!late) {
                // Late unless it touches a session still open.
                late = true;
                const timestamp_ns gap = plan_.window.gap;
                for (std::uint32_t c = groups_[g].head; c != k_nil; c = meta(c).next) {
                    if (meta(c).start >= sat_add(cell.last, gap)) break;
                    if (cell.start < sat_add(meta(c).last, gap)) late = false;
                }
            }
        }
        if (late) {
            stats_.late += records;
            return;
        }
    }
    bool overflow = false;
    const std::uint32_t g = find_or_add_group(cell.group, key_hash(cell.group), overflow);
    if (g == k_nil) {
        stats_.group_overflow += records;
        return;
    }
    const std::uint32_t c =
        sessions_ ? session_cell(g, cell.start, cell.last) : pane_cell(g, cell.start, cell.last);
    meta(c).last = std::max(meta(c).last, cell.last);
    if (parts_[c].settled) {
        // Its window has closed once already (a sliding window's pane, a straggler's cell):
        // it joins as it comes.
        layout_->merge(block(c), part_block_.get());
    } else {
        parts_[c].parts.emplace_back(source, cell.block);
    }
}

void node_engine::settle(std::uint32_t c) {
    cell_parts& cp = parts_[c];
    if (cp.settled) return;
    cp.settled = true;
    if (cp.parts.empty()) return;
    // By source id, then as each source gave them up: the same order in every daemon.
    std::stable_sort(cp.parts.begin(), cp.parts.end(), [&](const auto& a, const auto& b) {
        return a.first != b.first && watermark_.source_id(a.first) < watermark_.source_id(b.first);
    });
    for (const auto& [source, bytes] : cp.parts) {
        layout_->reset(part_block_.get());
        byte_reader r(bytes);
        if (!layout_->deserialize(part_block_.get(), r)) continue;  // checked when it came
        layout_->merge(block(c), part_block_.get());
    }
    cp.parts.clear();
    cp.parts.shrink_to_fit();
}

// ---- emission ----

timestamp_ns node_engine::min_open_start() const {
    timestamp_ns m = k_max_time;
    bool any = false;
    for (const auto& g : groups_) {
        if (g.live && g.head != k_nil) {
            m = std::min(m, meta(g.head).start);
            any = true;
        }
    }
    return any ? m : k_no_time;
}

timestamp_ns node_engine::max_open_last_end() const {
    timestamp_ns m = k_no_time;
    for (const auto& g : groups_) {
        if (g.live && g.tail != k_nil) {
            m = std::max(m, window::last_window_end(meta(g.tail).start, size_, step_));
        }
    }
    return m;
}

void node_engine::emit_until(timestamp_ns new_watermark, timestamp_ns now,
                             std::vector<check_result>& out) {
    if (finished_ || new_watermark == k_no_time || partial_sink_) return;
    if (sessions_) {
        if (sessions_may_be_due(new_watermark)) {
            emit_sessions(new_watermark, now, out);
        }
        closed_through_ = std::max(closed_through_, new_watermark);
        return;
    }
    if (closed_through_ != k_no_time && new_watermark <= closed_through_) return;
    emit_aligned(closed_through_, new_watermark, now, out);
}

void node_engine::emit_aligned(timestamp_ns from, timestamp_ns to, timestamp_ns now,
                               std::vector<check_result>& out) {
    timestamp_ns e;
    const auto jump_target = [&]() {
        const timestamp_ns m = min_open_start();
        return m == k_no_time ? k_no_time : window::first_window_end(m, size_, step_);
    };
    if (from == k_no_time) {
        e = jump_target();
    } else {
        e = window::first_window_end(from, size_, step_);
    }
    std::size_t empty_run = 0;
    ++advance_;
    while (e != k_no_time && e <= to) {
        bool any_records = false;
        bool any_emitted = false;
        std::size_t capped = 0;
        const bool any_live =
            close_aligned(e - size_, e, now, out, any_records, any_emitted, capped);
        if (!any_live) {
            const timestamp_ns j = jump_target();
            if (j == k_no_time) break;
            e = std::max(sat_add(e, step_), j);
            continue;
        }
        if (!any_records && !any_emitted) {
            // Every live group has had its share of empty windows in this advance: on to the
            // next window that holds records. The windows passed over are counted for the
            // groups just skipped (groups that reach their group_ttl meanwhile included).
            const timestamp_ns j = jump_target();
            const timestamp_ns next = j == k_no_time || j > to ? sat_add(to, step_) : j;
            const timestamp_ns after = sat_add(e, step_);
            if (next > after) {
                stats_.skipped_empty_windows +=
                    static_cast<std::uint64_t>((next - after) / step_) * capped;
            }
            if (j == k_no_time || j > to) break;
            e = std::max(after, j);
            continue;
        }
        if (any_records) {
            empty_run = 0;
        } else if (++empty_run >= plan_.max_empty_windows) {
            const timestamp_ns j = jump_target();
            const timestamp_ns next = j == k_no_time ? to : std::min(j, to);
            if (next > e)
                stats_.skipped_empty_windows += static_cast<std::uint64_t>((next - e) / step_);
            empty_run = 0;
            if (j == k_no_time) break;
            e = std::max(sat_add(e, step_), j);
            // Windows skipped here are never emitted; groups kept alive only by their ttl
            // have had their chance.
            continue;
        }
        if (e > k_max_time - step_) break;
        e += step_;
    }
    closed_through_ = to;
}

bool node_engine::close_aligned(timestamp_ns start, timestamp_ns end, timestamp_ns now,
                                std::vector<check_result>& out, bool& any_records,
                                bool& any_emitted, std::size_t& capped) {
    bool any_live = false;
    const bool single_pane = pane_ == size_;
    const bool folds = folds_apply();
    if (folds) fold_horizon_ = std::max(fold_horizon_, end);
    const timestamp_ns live_from = ttl_ == k_max_time ? k_no_time : sat_sub(start, ttl_);
    for (std::uint32_t g = 0; g < groups_.size(); ++g) {
        if (!groups_[g].live) continue;
        timestamp_ns newest_below = groups_[g].newest_freed;
        timestamp_ns newest_record = groups_[g].newest_record;
        const std::byte* blk = nullptr;
        bool merged = false;
        // With folds, the panes are read only for what an empty window (or one of invalid
        // records only) reports: whether the group is live, and freshness().
        if (folds) blk = folded_window(g, start, end);
        const bool read_panes =
            !folds || blk == nullptr || aggregate_layout::header(blk)->records == 0;
        for (std::uint32_t c = groups_[g].head; read_panes && c != k_nil && meta(c).start < end;
             c = meta(c).next) {
            if (merging_) settle(c);
            newest_below = std::max(newest_below, meta(c).last);
            const cell_header* h = aggregate_layout::header(block(c));
            if (h->records > 0) newest_record = std::max(newest_record, h->newest);
            if (folds || meta(c).start < start) continue;
            if (single_pane) {
                blk = block(c);
            } else {
                if (!merged) {
                    layout_->reset(merge_block_.get());
                    merged = true;
                }
                layout_->merge(merge_block_.get(), block(c));
                blk = merge_block_.get();
            }
        }
        const bool has_data = blk != nullptr;
        const bool live = has_data || (newest_below != k_no_time &&
                                       (ttl_ == k_max_time || newest_below >= live_from));
        if (live) {
            group_state& share = groups_[g];
            if (share.empty_advance != advance_) {
                share.empty_advance = advance_;
                share.empty_windows = 0;
            }
            if (has_data || share.empty_windows < plan_.max_empty_windows_per_group) {
                if (!has_data) ++share.empty_windows;
                emit_window(g, has_data ? blk : empty_block_.get(), start, end, now, newest_record,
                            out);
                any_emitted = true;
            } else {
                ++stats_.skipped_empty_windows;
                ++capped;
            }
            any_live = true;
            any_records |= has_data;
        }
        group_state& gs = groups_[g];
        while (gs.head != k_nil &&
               window::last_window_end(meta(gs.head).start, size_, step_) <= end) {
            const std::uint32_t c = gs.head;
            gs.newest_freed = std::max(gs.newest_freed, meta(c).last);
            note_newest_record(gs, c);
            gs.head = meta(c).next;
            if (gs.head == k_nil) {
                gs.tail = k_nil;
            } else {
                meta(gs.head).prev() = k_nil;
            }
            release_cell(c);
        }
        if (grouped_ && gs.head == k_nil) {
            const timestamp_ns next_start = sat_add(start, step_);
            if (gs.newest_freed == k_no_time || gs.newest_freed < sat_sub(next_start, ttl_)) {
                drop_group(g);
            }
        }
    }
    return any_live;
}

bool node_engine::folds_apply() const {
    return fold_slots_ != 0 && !merging_;
}

const std::byte* node_engine::folded_window(std::uint32_t g, timestamp_ns start, timestamp_ns end) {
    if (folds_.size() <= g) folds_.resize(groups_.size());
    pane_folds& f = folds_[g];
    const std::size_t bytes = layout_->block_bytes();
    if (!f.blocks) {
        f.blocks = std::make_unique<std::byte[]>((fold_slots_ + 1) * bytes);
        for (std::size_t i = 0; i <= fold_slots_; ++i)
            layout_->construct(f.blocks.get() + i * bytes);
        f.filled.assign(fold_slots_, 0);
    }
    const auto fold = [&](std::size_t i) { return f.blocks.get() + i * bytes; };
    const group_state& gs = groups_[g];
    const timestamp_ns block_start = window::align_down(start, size_);
    const timestamp_ns block_end = sat_add(block_start, size_);
    const auto slot = [&](timestamp_ns pane_start) {
        return static_cast<std::size_t>((pane_start - block_start) / pane_);
    };
    const std::size_t first = slot(start);
    if (f.suffix_block != block_start || start < f.suffix_from) {
        // Right to left: each suffix is its pane merged with the next suffix (later panes).
        std::uint32_t c = gs.tail;
        while (c != k_nil && meta(c).start >= block_end) c = meta(c).prev();
        bool later = false;
        for (std::size_t i = fold_slots_; i-- > first;) {
            std::byte* s = fold(i);
            layout_->reset(s);
            bool any = false;
            if (c != k_nil && meta(c).start == block_start + static_cast<timestamp_ns>(i) * pane_) {
                layout_->merge(s, block(c));
                any = true;
                c = meta(c).prev();
            }
            if (later) {
                layout_->merge(s, fold(i + 1));
                any = true;
            }
            f.filled[i] = any ? 1 : 0;
            later = any;
        }
        f.suffix_block = block_start;
        f.suffix_from = start;
    }
    const std::byte* suffix = f.filled[first] != 0 ? fold(first) : nullptr;
    if (start == block_start) return suffix;
    // The window reaches into the next block: its panes before `end`, left to right.
    std::byte* prefix = fold(fold_slots_);
    if (f.prefix_block != block_end || end < f.prefix_end) {
        layout_->reset(prefix);
        f.prefix_block = block_end;
        f.prefix_end = block_end;
        f.prefix_filled = false;
    }
    if (f.prefix_end < end) {
        std::uint32_t from = k_nil;
        for (std::uint32_t c = gs.tail; c != k_nil && meta(c).start >= f.prefix_end;
             c = meta(c).prev()) {
            from = c;
        }
        for (std::uint32_t c = from; c != k_nil && meta(c).start < end; c = meta(c).next) {
            layout_->merge(prefix, block(c));
            f.prefix_filled = true;
        }
        f.prefix_end = end;
    }
    if (!f.prefix_filled) return suffix;
    if (suffix == nullptr) return prefix;
    layout_->reset(merge_block_.get());
    layout_->merge(merge_block_.get(), suffix);
    layout_->merge(merge_block_.get(), prefix);
    return merge_block_.get();
}

void node_engine::drop_folds(std::uint32_t g) {
    if (g >= folds_.size()) return;
    folds_[g].suffix_block = k_no_time;
    folds_[g].prefix_block = k_no_time;
}

void node_engine::collect_due_sessions(timestamp_ns until) {
    const auto later = [](const session_entry& a, const session_entry& b) { return a.end > b.end; };
    due_.clear();
    if (!session_later_.empty() && until >= session_horizon_) {
        // The horizon moves on: entries before it go to the heap, or to due_ when their
        // session has ended; the others stay, with their end brought up to date when read.
        session_horizon_ = sat_add(until, session_step_);
        std::size_t kept = 0;
        constexpr std::size_t k_ahead = 24;  // the cells read below miss the cache
        for (std::size_t i = 0; i < session_later_.size(); ++i) {
            if (i + k_ahead < session_later_.size()) {
                const session_entry& a = session_later_[i + k_ahead];
                if (a.end < session_horizon_ && a.cell < cell_count_) prefetch(&meta(a.cell));
            }
            session_entry e = session_later_[i];
            if (e.end > until && e.end >= session_horizon_) {
                session_later_[kept++] = e;
                continue;
            }
            if (e.cell >= cell_count_ || meta(e.cell).gen() != e.gen) continue;
            e.end = sat_add(meta(e.cell).last, plan_.window.gap);
            if (e.end <= until) {
                due_.push_back({e.end, e.group, meta(e.cell).start, e.cell});
            } else if (e.end >= session_horizon_) {
                session_later_[kept++] = e;
            } else {
                session_heap_.push_back(e);
                std::push_heap(session_heap_.begin(), session_heap_.end(), later);
            }
        }
        session_later_.resize(kept);
    }
    while (!session_heap_.empty() && session_heap_.front().end <= until) {
        std::pop_heap(session_heap_.begin(), session_heap_.end(), later);
        const session_entry e = session_heap_.back();
        session_heap_.pop_back();
        if (e.cell >= cell_count_ || meta(e.cell).gen() != e.gen) continue;
        const timestamp_ns actual = sat_add(meta(e.cell).last, plan_.window.gap);
        if (actual > until) {
            queue_session({actual, e.group, e.cell, e.gen});
            continue;
        }
        due_.push_back({actual, e.group, meta(e.cell).start, e.cell});
    }
    std::sort(due_.begin(), due_.end(), [](const due_session& a, const due_session& b) {
        if (a.end != b.end) return a.end < b.end;
        if (a.group != b.group) return a.group < b.group;
        return a.start < b.start;
    });
}

void node_engine::emit_sessions(timestamp_ns watermark, timestamp_ns now,
                                std::vector<check_result>& out) {
    collect_due_sessions(watermark);
    for (const due_session& d : due_) {
        if (merging_) settle(d.cell);
        emit_window(d.group, block(d.cell), d.start, d.end, now, k_no_time, out);
        group_state& gs = groups_[d.group];
        const std::uint32_t c = d.cell;
        unlink_cell(gs, c);
        gs.newest_freed = std::max(gs.newest_freed, meta(c).last);
        note_newest_record(gs, c);
        release_cell(c);
        if (grouped_ && gs.head == k_nil) drop_group(d.group);
    }
}

void node_engine::note_newest_record(group_state& gs, std::uint32_t c) const {
    const cell_header* h = aggregate_layout::header(block(c));
    if (h->records > 0) gs.newest_record = std::max(gs.newest_record, h->newest);
}

bool node_engine::is_partial(timestamp_ns start, timestamp_ns end) const {
    if (first_time_ == k_no_time) return false;
    // A window that could no longer take records when the node started (it ended more than
    // allowed_lateness before) is old data being replayed. One that ended within the lateness
    // still takes stragglers, and holds only those that came after the start.
    const timestamp_ns lateness = plan_.processing_time ? 0 : plan_.window.allowed_lateness;
    if (sat_add(end, lateness) <= started_wall_) return false;
    // A session begins at its first record: the one holding the node's first record may have
    // begun before it.
    return sessions_ ? start <= first_time_ : start < first_time_;
}

void node_engine::emit_window(std::uint32_t g, const std::byte* blk, timestamp_ns start,
                              timestamp_ns end, timestamp_ns now, timestamp_ns newest_record,
                              std::vector<check_result>& out) {
    WEIR_DEBUG_ASSERT(start < end);
    ++stats_.windows;
    // Departed groups' history goes once in a while: every 64 windows' time (at least a
    // minute's), not every window.
    if (pruned_at_ == k_no_time) {
        pruned_at_ = start;
    } else if (start - pruned_at_ >=
               64 * std::max<timestamp_ns>(end - start, 60 * time::ns_per_s)) {
        pruned_at_ = start;
        prune_history(start);
    }
    for (std::size_t i = 0; i < call_values_.size(); ++i) {
        call_values_[i] = layout_->evaluate(blk, i, end - start, now, newest_record);
    }
    const bool partial = is_partial(start, end);
    const std::int64_t records = static_cast<std::int64_t>(aggregate_layout::header(blk)->records);
    result_group group;  // the results share it: built once, for the first
    bool key_done = false;
    for (std::size_t k = 0; k < checks_.size(); ++k) {
        const compiled_check& cc = *checks_[k];
        check_values_.clear();
        for (const std::uint32_t c : cc.calls) check_values_.push_back(call_values_[c]);
        measure_value v = cc.expr.evaluate(check_values_);
        outcome o = outcome::pass;
        std::shared_ptr<const expected_evidence> evidence;
        if (v.is_null()) {
            switch (cc.plan->on_no_data) {
                case no_data_action::ignore:
                    o = outcome::no_data;
                    break;
                case no_data_action::pass:
                    o = outcome::pass;
                    break;
                case no_data_action::warn:
                    o = outcome::warn;
                    break;
                case no_data_action::fail:
                    o = outcome::fail;
                    break;
            }
        } else if (cc.must_history || cc.should_history) {
            o = judge_history(cc, groups_[g].key, start, v, evidence);
        } else if (cc.must_be && !cc.must_be->holds(v)) {
            o = outcome::fail;
        } else if (cc.should_be && !cc.should_be->holds(v)) {
            o = outcome::warn;
        }
        // A partial window holds only part of its records: its value teaches no baseline.
        if ((cc.must_history || cc.should_history) && !partial && v.is_number() &&
            std::isfinite(v.number)) {
            const bool anomalous = o == outcome::fail || o == outcome::warn;
            for (check::history_store* h : {cc.must_history.get(), cc.should_history.get()}) {
                if (h) {
                    h->learn(groups_[g].key, start, v.number, anomalous, cc.plan->learn_anomalies);
                }
            }
        }
        if (partial && cc.plan->on_partial == partial_action::no_data &&
            (o == outcome::fail || o == outcome::warn)) {
            o = outcome::no_data;
        }
        bool emit = true;
        switch (cc.plan->emit) {
            case emit_mode::all:
                break;
            case emit_mode::failures:
                emit = o != outcome::pass;
                break;
            case emit_mode::changes:
                emit = last_outcome_[g * tracked_ + k] != static_cast<std::uint8_t>(o);
                break;
        }
        if (tracked_ != 0) last_outcome_[g * tracked_ + k] = static_cast<std::uint8_t>(o);
        if (!emit) continue;
        if (!key_done) {
            group_key key;
            decode_key(groups_[g].key, plan_.group_by, &key);
            group = std::move(key);
            key_done = true;
        }
        check_result& r = out.emplace_back();
        r.pipeline = plan_.pipeline;
        r.node = plan_.node;
        r.check = cc.plan->name;
        r.window_start = start;
        r.window_end = end;
        r.group = group;
        r.measure = cc.plan->measure;
        r.value = std::move(v);
        r.must_be = cc.plan->must_be;
        r.should_be = cc.plan->should_be;
        r.outcome = o;
        r.records = records;
        r.partial = partial;
        for (const std::uint32_t c : cc.calls) r.approximate |= layout_->approximate(blk, c);
        r.emitted_at = now;
        r.metadata = cc.plan->metadata;
        r.expected = std::move(evidence);
        if (layout_->uses_drift()) {
            for (const std::uint32_t c : cc.calls) layout_->drift_fields(blk, c, r.fields);
        }
        if (cc.sample_input != k_nil && (o == outcome::fail || o == outcome::warn)) {
            layout_->samples(blk, cc.sample_input, cc.sample_counted, r.samples);
        }
        if (cc.reconcile_call != k_nil) {
            auto summary = std::make_shared<reconciliation_summary>();
            if (layout_->reconciliation(blk, cc.reconcile_call, *summary)) {
                r.reconciliation = std::move(summary);
            }
        }
        ++stats_.results;
    }
    if (flush_ && out.size() >= flush_chunk_) flush_(out);
}

// ---- state ----

void node_engine::clear_state() {
    source_max_.assign(watermark_.sources(), k_no_time);
    for (auto& f : folds_) {
        if (!f.blocks) continue;
        for (std::size_t i = 0; i <= fold_slots_; ++i) {
            layout_->destroy(f.blocks.get() + i * layout_->block_bytes());
        }
    }
    folds_.clear();
    fold_horizon_ = k_no_time;
    for (auto& g : groups_) {
        if (!g.live) continue;
        for (std::uint32_t c = g.head; c != k_nil;) {
            const std::uint32_t next = meta(c).next;
            layout_->destroy(block(c));
            c = next;
        }
    }
    chunks_.clear();
    cell_count_ = 0;
    free_cells_ = k_nil;
    live_cells_ = 0;
    groups_.clear();
    free_groups_.clear();
    table_.clear();
    live_groups_ = 0;
    last_outcome_.clear();
    session_heap_.clear();
    session_later_.clear();
    session_horizon_ = k_no_time;
    closed_through_ = k_no_time;
    finished_ = false;
    awaiting_first_ = true;
    first_time_ = k_no_time;
    started_wall_ = created_at_;
    stats_ = {};
    export_seq_ = 0;
    export_open_ = false;
    partial_out_.clear();
    partial_out_.newest = k_no_time;
    parts_.clear();
    seen_.clear();
    open_starts_.clear();
}

std::size_t node_engine::memory_bytes() const {
    std::size_t bytes =
        (cells_in_chunk(chunks_.size()) - cells_in_chunk(0)) * stride_ +
        groups_.capacity() * sizeof(group_state) + table_.capacity() * sizeof(std::uint64_t) +
        last_outcome_.capacity() +
        (session_heap_.capacity() + session_later_.capacity()) * sizeof(session_entry);
    for (const auto& g : groups_) {
        bytes += g.key.heap_bytes();
    }
    bytes += parts_.capacity() * sizeof(cell_parts);
    for (const auto& f : folds_) {
        if (f.blocks) bytes += (fold_slots_ + 1) * layout_->block_bytes() + f.filled.capacity();
    }
    bytes += folds_.capacity() * sizeof(pane_folds);
    for (const auto& cp : parts_) {
        for (const auto& part : cp.parts) bytes += sizeof(part) + part.second.capacity();
    }
    return bytes;
}

void node_engine::snapshot(byte_writer& w) const {
    snapshot_cursor cursor;
    while (!snapshot_some(w, cursor, slice_budget{})) {
    }
}

bool node_engine::snapshot_some(byte_writer& w, snapshot_cursor& cursor,
                                const slice_budget& budget) const {
    const bool timed = budget.deadline != std::chrono::steady_clock::time_point::max();
    const std::size_t start_size = w.size();
    if (!cursor.started) {
        cursor.started = true;
        w.u32(k_snapshot_magic);
        w.varint(k_snapshot_version);
        w.str(layout_->fingerprint());
        w.u8(static_cast<std::uint8_t>(plan_.window.kind));
        w.i64(sessions_ ? plan_.window.gap : size_);
        w.i64(step_);
        w.varint(group_slots_.size());
        w.varint(checks_.size());
        if (partial_sink_) {
            w.u8(static_cast<std::uint8_t>(snapshot_mode::partition_local));
            w.varint(export_seq_);
            w.u64(epoch_);
        } else if (merging_) {
            w.u8(static_cast<std::uint8_t>(snapshot_mode::merge));
            w.varint(seen_.size());
            for (std::size_t i = 0; i < seen_.size(); ++i) {
                w.str(watermark_.source_id(i));
                w.varint(seen_[i].size());
                for (const seen_epoch& e : seen_[i]) {
                    w.u64(e.epoch);
                    w.varint(e.seq);
                }
            }
        } else {
            w.u8(static_cast<std::uint8_t>(snapshot_mode::single));
        }
        watermark_.serialize(w);
        w.i64(closed_through_);
        w.boolean(finished_);
        w.boolean(awaiting_first_);
        w.i64(first_time_);
        w.i64(started_wall_);
        for (const std::uint64_t v :
             {stats_.records, stats_.late, stats_.invalid, stats_.group_overflow, stats_.windows,
              stats_.results, stats_.skipped_empty_windows}) {
            w.varint(v);
        }
        w.varint(groups_.size());
    }
    for (std::size_t written = 0; cursor.next_group < groups_.size(); ++written) {
        if (written > 0) {
            if (w.size() - start_size >= budget.bytes) return false;
            // The clock every few groups: reading it costs more than writing a small group.
            if (timed && written % 16 == 1 && std::chrono::steady_clock::now() >= budget.deadline) {
                return false;
            }
        }
        const auto g = static_cast<std::uint32_t>(cursor.next_group++);
        const group_state& gs = groups_[g];
        w.boolean(gs.live);
        if (!gs.live) continue;
        w.str(gs.key);
        w.i64(gs.newest_freed);
        w.i64(gs.newest_record);
        std::size_t n = 0;
        for (std::uint32_t c = gs.head; c != k_nil; c = meta(c).next) ++n;
        w.varint(n);
        for (std::uint32_t c = gs.head; c != k_nil; c = meta(c).next) {
            w.i64(meta(c).start);
            w.i64(meta(c).last);
            layout_->serialize(block(c), w);
            if (merging_) {
                w.boolean(parts_[c].settled);
                w.varint(parts_[c].parts.size());
                for (const auto& [source, bytes] : parts_[c].parts) {
                    w.str(watermark_.source_id(source));
                    w.str(bytes);
                }
            }
        }
        if (tracked_ != 0) {
            w.raw(last_outcome_.data() + g * tracked_, tracked_);
        } else {
            for (std::size_t k = 0; k < checks_.size(); ++k) w.u8(k_no_outcome);
        }
    }
    w.varint(free_groups_.size());
    for (const std::uint32_t g : free_groups_) w.varint(g);
    return true;
}

bool node_engine::restore(byte_reader& r) {
    clear_state();
    const auto fail = [&]() {
        r.fail();
        clear_state();
        watermark_.reset(created_at_);
        return false;
    };
    if (r.u32() != k_snapshot_magic) return fail();
    const std::uint64_t version = r.varint();
    if (version < 1 || version > k_snapshot_version) return fail();
    const std::string fingerprint(r.str());
    // A checkpoint from before median and percentile kept exact values: its quantiles go on
    // from their sketches (their results say approximate), everything else as it was.
    const std::string legacy = layout_->legacy_fingerprint();  // "" when it has no quantiles
    const bool legacy_quantiles =
        fingerprint != layout_->fingerprint() && !legacy.empty() && fingerprint == legacy;
    if (fingerprint != layout_->fingerprint() && !legacy_quantiles) return fail();
    if (r.u8() != static_cast<std::uint8_t>(plan_.window.kind)) return fail();
    if (r.i64() != (sessions_ ? plan_.window.gap : size_) || r.i64() != step_) return fail();
    if (r.varint() != group_slots_.size() || r.varint() != checks_.size()) return fail();
    const auto mode = version >= 4 ? static_cast<snapshot_mode>(r.u8()) : snapshot_mode::single;
    // A partition-local engine restores only its own kind of state, and the others never that.
    if ((mode == snapshot_mode::partition_local) != static_cast<bool>(partial_sink_) ||
        mode > snapshot_mode::merge) {
        return fail();
    }
    if (mode == snapshot_mode::partition_local) {
        export_seq_ = r.varint();
        epoch_ = r.u64();
    }
    if (mode == snapshot_mode::merge) {
        enter_merge_mode();
        const std::size_t n = r.count(2);
        for (std::size_t i = 0; i < n && r.ok(); ++i) {
            const std::string id(r.str());
            std::size_t source = watermark_.find_source(id);
            if (source == watermark_.sources()) source = add_source(id, created_at_);
            const std::size_t epochs = version >= 5 ? r.count(9) : 1;
            for (std::size_t k = 0; k < epochs && r.ok(); ++k) {
                const std::uint64_t epoch = r.u64();
                const std::uint64_t seq = r.varint();
                seen_seq(static_cast<std::uint32_t>(source), epoch) = seq;
            }
        }
        if (!r.ok()) return fail();
    }
    if (!(version == 1 ? watermark_.deserialize_by_index(r) : watermark_.deserialize(r))) {
        return fail();
    }
    closed_through_ = r.i64();
    finished_ = r.boolean();
    if (version >= 3) {
        awaiting_first_ = r.boolean();
        first_time_ = r.i64();
        started_wall_ = r.i64();
    } else {
        // Written before partial windows were marked: a restore is never partial.
        awaiting_first_ = false;
        first_time_ = k_no_time;
    }
    for (std::uint64_t* v : {&stats_.records, &stats_.late, &stats_.invalid, &stats_.group_overflow,
                             &stats_.windows, &stats_.results, &stats_.skipped_empty_windows}) {
        *v = r.varint();
    }
    const std::size_t n_groups = r.count(1);
    if (!r.ok() || n_groups > std::numeric_limits<std::uint32_t>::max() / 2) return fail();
    groups_.resize(n_groups);
    last_outcome_.assign(n_groups * tracked_, k_no_outcome);
    for (std::uint32_t g = 0; g < n_groups && r.ok(); ++g) {
        group_state& gs = groups_[g];
        gs.live = r.boolean() ? 1 : 0;
        if (!gs.live) continue;
        gs.key = r.str();
        if (!r.ok() || !decode_key(gs.key, plan_.group_by, nullptr)) return fail();
        gs.newest_freed = r.i64();
        // Before version 3, the newest record of freed cells was not kept apart; the newest
        // event time of any of their records is the closest there is.
        gs.newest_record = version >= 3 ? r.i64() : gs.newest_freed;
        ++live_groups_;
        const std::size_t n_cells = r.count(17);
        timestamp_ns previous = k_no_time;
        for (std::size_t i = 0; i < n_cells && r.ok(); ++i) {
            const timestamp_ns start = r.i64();
            const timestamp_ns last = r.i64();
            if (!r.ok() || (i > 0 && start <= previous) || last < start) return fail();
            if (!sessions_ &&
                (start != window::align_down(start, pane_) || last >= start + pane_)) {
                return fail();
            }
            previous = start;
            const std::uint32_t c = allocate_cell(start);
            meta(c).last = last;
            if (gs.tail == k_nil) {
                gs.head = c;
            } else {
                meta(gs.tail).next = c;
            }
            if (!sessions_) meta(c).prev() = gs.tail;
            gs.tail = c;
            if (!layout_->deserialize(block(c), r, legacy_quantiles)) return fail();
            if (mode == snapshot_mode::merge) {
                parts_[c].settled = r.boolean();
                const std::size_t n_parts = r.count(2);
                for (std::size_t k = 0; k < n_parts && r.ok(); ++k) {
                    const std::size_t source = watermark_.find_source(r.str());
                    std::string bytes(r.str());
                    if (source == watermark_.sources()) return fail();
                    parts_[c].parts.emplace_back(static_cast<std::uint32_t>(source),
                                                 std::move(bytes));
                }
                if (!r.ok()) return fail();
            }
            if (sessions_) push_session(g, c);
            if (sessions_ && partial_sink_) push_open_start(c);
        }
        const std::string_view outcomes = r.raw(checks_.size());
        if (!r.ok()) return fail();
        for (std::size_t k = 0; k < checks_.size(); ++k) {
            const auto o = static_cast<std::uint8_t>(outcomes[k]);
            if (o > static_cast<std::uint8_t>(outcome::no_data) && o != k_no_outcome) return fail();
            if (tracked_ != 0) last_outcome_[g * tracked_ + k] = o;
        }
    }
    const std::size_t n_free = r.count(1);
    if (!r.ok()) return fail();
    for (std::size_t i = 0; i < n_free; ++i) {
        const std::uint64_t g = r.varint();
        if (!r.ok() || g >= n_groups || groups_[g].live) return fail();
        free_groups_.push_back(static_cast<std::uint32_t>(g));
    }
    if (free_groups_.size() + live_groups_ != n_groups || live_groups_ > plan_.max_groups) {
        return fail();
    }
    std::size_t capacity = 16;
    while (capacity * 3 < live_groups_ * 4 + 4) capacity *= 2;
    table_.assign(capacity, 0);
    for (std::uint32_t g = 0; g < n_groups; ++g) {
        if (groups_[g].live) place_slot(make_slot(key_hash(groups_[g].key), g));
    }
    // Keys must be unique, or lookups would be ambiguous.
    for (std::uint32_t g = 0; g < n_groups; ++g) {
        if (!groups_[g].live) continue;
        if (find_group(groups_[g].key, key_hash(groups_[g].key)) != g) return fail();
    }
    if (!r.ok()) return fail();
    return true;
}

outcome node_engine::judge_history(const compiled_check& cc, std::string_view key,
                                   timestamp_ns start, const measure_value& v,
                                   std::shared_ptr<const expected_evidence>& evidence) {
    enum class verdict : std::uint8_t { holds, fails, warming };
    std::shared_ptr<const expected_evidence> must_evidence;
    std::shared_ptr<const expected_evidence> should_evidence;
    const auto judge = [&](const std::optional<check::assessment>& a, check::history_store* h,
                           std::shared_ptr<const expected_evidence>& ev) {
        if (!a) return verdict::holds;
        if (!h) return a->holds(v) ? verdict::holds : verdict::fails;
        // Only a finite number has a history to be judged against (NaN never holds).
        if (!v.is_number() || !std::isfinite(v.number)) return verdict::fails;
        check::history_judgement j = h->judge(key, start, v.number);
        ev = std::make_shared<const expected_evidence>(std::move(j.evidence));
        if (j.st == check::history_judgement::state::warming_up) return verdict::warming;
        return j.holds ? verdict::holds : verdict::fails;
    };
    const verdict must = judge(cc.must_be, cc.must_history.get(), must_evidence);
    const verdict should = judge(cc.should_be, cc.should_history.get(), should_evidence);
    // The evidence shown is the one that decided: a failing must_be's, else a failing
    // should_be's, else the first there is.
    if (must == verdict::fails) {
        evidence = must_evidence ? must_evidence : should_evidence;
        return outcome::fail;
    }
    if (should == verdict::fails) {
        evidence = should_evidence ? should_evidence : must_evidence;
        return outcome::warn;
    }
    evidence = must_evidence ? must_evidence : should_evidence;
    if (must == verdict::warming || should == verdict::warming) return outcome::no_data;
    return outcome::pass;
}

std::optional<std::size_t> node_engine::command_history(history_command cmd, std::string_view check,
                                                        const group_key* group) {
    std::string key;
    if (group != nullptr) {
        std::vector<field_value> values(plan_.group_by.size());
        std::vector<std::uint32_t> slots(plan_.group_by.size());
        for (std::size_t i = 0; i < plan_.group_by.size(); ++i) {
            slots[i] = static_cast<std::uint32_t>(i);
            const std::string name = plan_.group_by[i].to_string();
            for (const auto& [field, value] : *group) {
                if (field != name) continue;
                if (value.is_number()) {
                    values[i] = field_value::make_number(value.number);
                } else if (value.kind == measure_kind::boolean) {
                    values[i] = field_value::make_boolean(value.boolean);
                } else if (value.kind == measure_kind::string) {
                    values[i] = field_value::make_string(value.text);
                }
            }
        }
        encode_key(slots, values, key);
    }
    bool found = false;
    std::size_t affected = 0;
    for (const auto& cc : checks_) {
        if (!check.empty() && cc->plan->name != check) continue;
        for (check::history_store* h : {cc->must_history.get(), cc->should_history.get()}) {
            if (!h) continue;
            found = true;
            affected += cmd == history_command::reset ? h->reset(group ? &key : nullptr)
                                                      : h->acknowledge(group ? &key : nullptr);
        }
    }
    if (!found) return std::nullopt;
    return affected;
}

void node_engine::prune_history(timestamp_ns start) {
    for (const auto& cc : checks_) {
        for (check::history_store* h : {cc->must_history.get(), cc->should_history.get()}) {
            if (h) h->prune(start);
        }
    }
}

bool node_engine::has_history() const {
    for (const auto& cc : checks_) {
        if (cc->must_history || cc->should_history) return true;
    }
    return false;
}

// The history section: per store, the check's name, which assessment, the model's identity
// and the store's bytes (length-prefixed, so a store that no longer fits is skipped).
void node_engine::snapshot_history(byte_writer& w) const {
    w.u32(k_history_magic);
    w.varint(k_history_version);
    std::size_t stores = 0;
    for (const auto& cc : checks_) {
        stores += (cc->must_history ? 1 : 0) + (cc->should_history ? 1 : 0);
    }
    w.varint(stores);
    for (const auto& cc : checks_) {
        for (const auto& [which, h] : {std::pair{std::uint8_t{0}, cc->must_history.get()},
                                       std::pair{std::uint8_t{1}, cc->should_history.get()}}) {
            if (!h) continue;
            w.str(cc->plan->name);
            w.u8(which);
            w.str(h->model().identity());
            byte_writer bytes;
            h->serialize(bytes);
            w.str(bytes.data());
        }
    }
}

bool node_engine::restore_history(byte_reader& r) {
    if (r.u32() != k_history_magic || r.varint() != k_history_version) {
        r.fail();
        return false;
    }
    const std::size_t stores = r.count(3);
    for (std::size_t i = 0; i < stores && r.ok(); ++i) {
        const std::string name(r.str());
        const std::uint8_t which = r.u8();
        const std::string identity(r.str());
        const std::string_view bytes = r.str();
        if (!r.ok()) break;
        for (const auto& cc : checks_) {
            if (cc->plan->name != name) continue;
            check::history_store* h =
                which == 0 ? cc->must_history.get() : cc->should_history.get();
            // Another assessment now (a reload changed what the check compares with, or how
            // often): its history starts afresh.
            if (!h || h->model().identity() != identity) continue;
            byte_reader one(bytes);
            if (!h->deserialize(one)) {
                r.fail();
                return false;
            }
        }
    }
    return r.ok();
}

}  // namespace weir::engine
