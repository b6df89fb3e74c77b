// Several daemons (DESIGN.md §3 "Scale-out"; the protocol: core/engine/partials.h): a query
// whose input has a partials topic publishes what its lanes hand over there, cut by cut, and
// merges the partitions of the topic this daemon owns, each in a merge chain of its own.
#include "daemon/query_partials.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "core/checkpoint/byte_codec.h"
#include "daemon/query_lanes.h"

namespace weir::daemon {

namespace asio = boost::asio;

namespace {

constexpr std::uint32_t k_message_magic = 0x58505757;  // "WWPX"
constexpr std::uint64_t k_message_version = 1;

// The partition of the partials topic a cell goes to: one (node, group) always lands in the
// same one, in every daemon (FNV-1a, not std::hash, which may differ between builds).
std::int32_t partition_of(std::size_t node, std::string_view group, std::int32_t partitions) {
    std::uint64_t h = 14695981039346656037ull;
    const auto mix = [&h](unsigned char c) {
        h ^= c;
        h *= 1099511628211ull;
    };
    for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(node >> (8 * i)));
    for (const char c : group) mix(static_cast<unsigned char>(c));
    return static_cast<std::int32_t>(h % static_cast<std::uint64_t>(partitions));
}

// What each node of a chain counted so far.
std::vector<engine::engine_stats> stats_by_node(const chain::node_chain& chain, std::size_t nodes) {
    std::vector<engine::engine_stats> out(nodes);
    for (std::size_t n = 0; n < nodes; ++n) {
        if (const auto* e = chain.engine(n)) out[n] = e->stats();
    }
    return out;
}

// The stats of a merge chain less what it counted while merging silently.
engine::engine_stats merge_stats(const chain::node_chain& chain,
                                 const std::vector<engine::engine_stats>& replayed,
                                 std::size_t node) {
    engine::engine_stats s;
    if (const auto* e = chain.engine(node)) s = e->stats();
    if (node < replayed.size()) s -= replayed[node];
    return s;
}

}  // namespace

bool query::open_partials(std::string& error) {
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        auto channel = inputs_[i]->open_partials();
        if (!channel) continue;
        const std::string& name = plan_.chain->inputs[i].name;
        if (plan_.chain->inputs.size() != 1 || !chain::node_chain::partitionable(*plan_.chain)) {
            error = "input \"" + name +
                    "\" has a partials_topic, but several daemons can merge only a query of one "
                    "node with checks over event time, reading that one input as JSON, without "
                    "a join, late_output, depends_on, end_when or schema-drift measures";
            return false;
        }
        if (!channel->open(error)) {
            error = "input \"" + name + "\": " + error;
            return false;
        }
        partials_ = std::make_unique<partials_state>(*this);
        partials_->input = i;
        partials_->sources = channel->input_sources();
        partials_->partitions = channel->partitions();
        partials_->sync = channel->sync();
        partials_->commit = inputs_[i]->committer();
        partials_->channel = std::move(channel);
        partials_->let_go.resize(plan_.chain->nodes.size());
        const log_scope scope(log_fields_of({}, name));
        spdlog::info(
            "query {}/{}: input \"{}\" shares its partials with the other daemons of its group "
            "({} partitions of its topics, {} of the partials topic)",
            pipeline_->name, plan_.name, name, partials_->sources.size(), partials_->partitions);
    }
    return true;
}

void query::on_lane_partials(std::size_t node, engine::partial_batch& batch) {
    if (partials_) {
        publish_partials(node, batch);
    } else {
        chain_->absorb(node, batch, env_.clock());
    }
}

void query::publish_partials(std::size_t node, engine::partial_batch& batch) {
    partials_state& ps = *partials_;
    const auto it = ps.by_key.find(batch.source);
    // A source that went (or is going): its next owner hands this over again from its last cut.
    if (it == ps.by_key.end() || ps.leaving.contains(batch.source)) return;
    partials_state::source_state& ss = it->second;
    ps.routed.resize(static_cast<std::size_t>(ps.partitions));
    for (auto& r : ps.routed) {
        r.source = batch.source;
        r.epoch = batch.epoch;
        r.newest = batch.newest;
        r.first = batch.first;
        r.active = batch.active;
        r.ended = batch.ended;
        r.cells.clear();
    }
    for (auto& cell : batch.cells) {
        ps.routed[static_cast<std::size_t>(partition_of(node, cell.group, ps.partitions))]
            .cells.push_back(std::move(cell));
    }
    // Every partition hears how far the source has come, with its cells or without.
    for (std::int32_t p = 0; p < ps.partitions; ++p) {
        byte_writer w;
        w.u32(k_message_magic);
        w.varint(k_message_version);
        w.str(plan_.fingerprint);
        w.varint(node);
        engine::encode_partial(ps.routed[static_cast<std::size_t>(p)], w);
        if (ss.ledger.holding()) {
            ss.held_bytes += w.data().size();
            ss.held.emplace_back(p, w.take());
        } else {
            ps.channel->publish(p, plan_.name, w.data());
        }
    }
    bound_held_partials();
}

void query::bound_held_partials() {
    partials_state& ps = *partials_;
    const std::uint64_t max = ps.channel->max_held();
    std::uint64_t held = 0;  // over every source (a source that went took its own along)
    for (const auto& [key, ss] : ps.by_key) held += ss.held_bytes;
    if (!ps.held_full && held > max) {
        ps.held_full = true;
        for (auto& in : inputs_) in->pause();
        const log_scope scope(log_fields_of());
        spdlog::warn(
            "query {}/{}: {} bytes of partials held back while their cut is not committed, "
            "over partials_max_held ({}): reading paused until a commit goes through",
            pipeline_->name, plan_.name, held, max);
    } else if (ps.held_full && held <= max / 2) {
        ps.held_full = false;
        const log_scope scope(log_fields_of());
        spdlog::info("query {}/{}: held partials published: reading resumed", pipeline_->name,
                     plan_.name);
        resume_reading();
    }
}

void query::deliver_shared(std::size_t input, std::string_view source,
                           const connectors::record_delivery& records) {
    partials_state& ps = *partials_;
    const std::string key = chain::node_chain::source_key(plan_.chain->inputs[input].name, source);
    auto it = ps.by_key.find(key);
    if (it == ps.by_key.end() || records.metadata.empty()) return;
    partials_state::source_state& ss = it->second;
    lane& l = lane_for(input, source);
    const std::string id(source);
    const auto cut = [&](std::int64_t at) {
        post_to_lane(l, [input, id, at, now = env_.clock()](chain::node_chain& c) {
            c.cut(input, id, engine::epoch_at(at), now);
        });
    };
    if (!ss.began) {
        // Where the source starts is a cut: the lane's engines number their cells in its epoch.
        std::int64_t start = ss.ledger.start();
        if (start < 0) {
            start = records.metadata.front().offset;
            ss.ledger.began(start);
        }
        cut(start);
        ss.began = true;
    }
    if (!delivery_copies_) delivery_copies_ = std::make_shared<delivery_pool>();
    auto& pool = *std::static_pointer_cast<delivery_pool>(delivery_copies_);
    const auto post = [&](const connectors::record_delivery& d) {
        auto copy = pool.copy(d);
        delivered_since_drain_ = true;
        post_to_lane(l, [input, id, copy, now = env_.clock()](chain::node_chain& c) {
            c.deliver(input, id, copy->view(), now);
        });
    };
    const auto replay = ss.ledger.replay_cut();
    std::size_t at = records.metadata.size();
    if (replay) {
        at = static_cast<std::size_t>(
            std::find_if(records.metadata.begin(), records.metadata.end(),
                         [&](const record_metadata& m) { return m.offset >= *replay; }) -
            records.metadata.begin());
    }
    if (at == records.metadata.size()) {
        post(records);
    } else {
        // The cut the last owner registered falls in this delivery: the records before it, the
        // cut, then the rest (copied: the parts are not the input's buffers any more).
        const auto part = [&](std::size_t from, std::size_t to) {
            if (from == to) return;
            const std::uint32_t base = from == 0 ? 0 : records.ends[from - 1];
            std::vector<std::uint32_t> ends;
            for (std::size_t i = from; i < to; ++i) ends.push_back(records.ends[i] - base);
            connectors::record_delivery d;
            d.bytes = records.bytes.substr(base, records.ends[to - 1] - base);
            d.ends = ends;
            d.metadata = records.metadata.subspan(from, to - from);
            d.origin = records.origin;
            post(d);
        };
        part(0, at);
        cut(*replay);
        ss.ledger.replayed();
        part(at, records.metadata.size());
    }
    ss.next = records.metadata.back().offset + 1;
}

void query::shared_sources_changed(std::size_t input, std::span<const connectors::source_id> added,
                                   std::span<const connectors::source_id> removed) {
    partials_state& ps = *partials_;
    const std::string& name = plan_.chain->inputs[input].name;
    for (const auto& s : removed) {
        // The lane forgets it without handing anything over: its next owner starts at the last
        // registered cut. What the lane still hands over of it until then is dropped.
        const std::string key = chain::node_chain::source_key(name, s);
        ps.by_key.erase(key);
        ps.id_of.erase(key);
        ps.leaving.insert(key);
        std::string id(s);
        post_to_lane(
            lane_for(input, s),
            [input, id](chain::node_chain& c) { c.remove_source(input, id, false); },
            [self = shared_from_this(), key] {
                if (!self->partials_) return;
                auto& leaving = self->partials_->leaving;
                if (auto at = leaving.find(key); at != leaving.end()) leaving.erase(at);
            });
    }
    for (const auto& s : added) {
        const auto h = inputs_[input]->handover(s).value_or(connectors::source_handover{});
        const std::string key = chain::node_chain::source_key(name, s);
        ps.by_key.erase(key);
        ps.by_key.emplace(key, partials_state::source_state(h));
        ps.id_of[key] = s;
        const log_scope scope(log_fields_of({}, name));
        spdlog::info(
            "query {}/{}: partition {} from offset {}{}", pipeline_->name, plan_.name, s,
            h.committed >= 0 ? std::to_string(h.committed) : std::string("(start)"),
            engine::cut_ledger::pending_in(h.note)
                ? ", cutting again at " + std::to_string(*engine::cut_ledger::pending_in(h.note))
                : std::string());
    }
    if (!removed.empty()) bound_held_partials();
}

void query::checkpoint_shared(std::function<void(bool ok)> then) {
    partials_state& ps = *partials_;
    // Every source that read on is cut where it stands; its hand-overs wait until the cut is
    // registered.
    std::vector<connectors::source_note> notes;
    for (auto& [key, ss] : ps.by_key) {
        const std::string& id = ps.id_of.at(key);
        if (ss.began && ss.next > ss.ledger.last_cut()) {
            if (ss.ledger.cut(ss.next)) {
                const std::int64_t at = ss.next;
                post_to_lane(lane_for(ps.input, id),
                             [input = ps.input, id, at, now = env_.clock()](chain::node_chain& c) {
                                 c.cut(input, id, engine::epoch_at(at), now);
                             });
            }
        }
        if (const auto c = ss.ledger.outstanding()) notes.push_back({id, c->offset, c->note});
    }
    std::vector<std::pair<std::int32_t, std::int64_t>> positions;
    for (const auto& [p, m] : ps.merges) positions.emplace_back(p, m->next);
    // The results of what the merge chains took are written before their positions commit.
    flush_outputs([self = shared_from_this(), notes = std::move(notes),
                   positions = std::move(positions),
                   then = std::move(then)](bool flushed, const std::string& why) mutable {
        if (!self->partials_) return then(false);
        if (!flushed) {
            self->checkpoint_failed(self->commit_failures_,
                                    "partials not committed: an output could not flush: " + why);
            self->set_condition(checkpoint_failing, true);
            return then(false);
        }
        auto work = [self, notes = std::move(notes), positions = std::move(positions),
                     sync = self->partials_->sync, commit = self->partials_->commit,
                     then = std::move(then)]() mutable {
            connectors::commit_error error;
            // The partials published so far reach the topic before the cuts they follow are
            // confirmed.
            bool ok = sync(positions, error);
            if (ok && !notes.empty()) ok = commit(notes, error);
            asio::post(self->strand_, [self, ok, error, notes = std::move(notes),
                                       then = std::move(then)] {
                if (!self->partials_) return then(false);
                partials_state& ps = *self->partials_;
                const std::string& name = self->plan_.chain->inputs[ps.input].name;
                for (const auto& n : notes) {
                    const auto it = ps.by_key.find(chain::node_chain::source_key(name, n.source));
                    if (it == ps.by_key.end()) continue;
                    auto& ss = it->second;
                    const auto out = ss.ledger.outstanding();
                    if (!out || out->offset != n.offset || out->note != n.note) continue;
                    ss.ledger.registered(ok);
                    if (!ok) continue;
                    for (const auto& [p, message] : ss.held) {
                        ps.channel->publish(p, self->plan_.name, message);
                    }
                    ss.held.clear();
                    ss.held_bytes = 0;
                }
                self->bound_held_partials();
                // A rebalance under way refuses commits for a moment: the next checkpoint
                // tries again, and the query is not degraded for it.
                const bool rebalancing = !ok && error.rebalancing;
                self->set_condition(checkpoint_failing, !ok && !rebalancing);
                if (ok) {
                    self->checkpoint_error_.clear();
                    self->checkpoint_recovered(self->commit_failures_, "partials committed");
                    ++self->counters_.checkpoints;
                } else if (rebalancing) {
                    const log_scope scope(self->log_fields_of());
                    spdlog::info(
                        "query {}/{}: partials not committed while the group rebalances "
                        "({}); again at the next checkpoint",
                        self->pipeline_->name, self->plan_.name, error.message);
                } else {
                    self->checkpoint_error_ = error.message;
                    self->checkpoint_failed(self->commit_failures_,
                                            "partials not committed: " + error.message);
                    if (error.undelivered) {
                        // Partials lost on their way: the lanes start again from their cuts.
                        self->fail(
                            "partials lost on their way to the partials topic: " + error.message,
                            true);
                    }
                }
                then(ok);
            });
        };
        if (self->env_.blocking) {
            asio::post(self->env_.blocking, std::move(work));
        } else {
            work();
        }
    });
}

void query::advance_merges(time::timestamp_ns now) {
    if (!partials_) return;
    // A merge still going through what its partition's previous owner merged does not time
    // windows out: that owner judged them, and its results of them are in the outputs or come
    // later in the partition.
    for (auto& [p, m] : partials_->merges) {
        if (!m->replaying()) m->chain->advance(now);
    }
}

engine::engine_stats query::merged_stats(std::size_t node) const {
    engine::engine_stats sum;
    if (!partials_) return sum;
    sum = partials_->let_go[node];
    for (const auto* merges : {&partials_->merges, &partials_->kept}) {
        for (const auto& [p, m] : *merges) sum += merge_stats(*m->chain, m->replayed, node);
    }
    return sum;
}

// ---- the merge side ----

std::int64_t query::partials_state::on_partials_assigned(std::int32_t partition,
                                                         std::int64_t committed) {
    if (auto k = kept.find(partition); k != kept.end()) {
        merge& m = *k->second;
        m.silent_until = std::max(m.silent_until, committed);
        const std::int64_t from = m.next;
        merges[partition] = std::move(k->second);
        kept.erase(k);
        return from;
    }
    auto m = std::make_unique<merge>(q_);
    std::vector<std::vector<std::string>> initial(q_.plan_.chain->inputs.size());
    // Every partition of the input holds the windows back from the start, whichever daemon
    // reads it.
    initial[input] = sources;
    m->chain =
        std::make_unique<chain::node_chain>(q_.plan_.chain, m->sink, initial, q_.env_.clock());
    m->silent_until = committed;
    merges[partition] = std::move(m);
    const log_scope scope(q_.log_fields_of());
    spdlog::info("query {}/{}: merging partition {} of the partials topic{}", q_.pipeline_->name,
                 q_.plan_.name, partition,
                 committed > 0 ? ", its results up to offset " + std::to_string(committed) +
                                     " written already"
                               : std::string());
    return -1;
}

void query::partials_state::on_partials_revoked(std::int32_t partition) {
    auto it = merges.find(partition);
    if (it == merges.end()) return;
    kept[partition] = std::move(it->second);
    merges.erase(it);
}

void query::partials_state::on_partials_rebalanced() {
    for (auto& [p, m] : kept) {
        for (std::size_t n = 0; n < let_go.size(); ++n) {
            let_go[n] += merge_stats(*m->chain, m->replayed, n);
        }
    }
    kept.clear();
}

void query::partials_state::on_partials_message(std::int32_t partition, std::int64_t offset,
                                                std::string_view key, std::string_view value) {
    if (!q_.active() || q_.stopping_) return;
    auto it = merges.find(partition);
    if (it == merges.end()) return;
    merge& m = *it->second;
    if (key != q_.plan_.name) {
        // Another query's (queries may share a partials topic): nothing to merge, but the
        // position moves on, so that a new owner does not read it again.
        m.next = offset + 1;
        return;
    }
    byte_reader r(value);
    engine::partial_batch batch;
    std::size_t node = 0;
    const bool ours = r.u32() == k_message_magic && r.varint() == k_message_version &&
                      r.str() == q_.plan_.fingerprint;
    if (ours) {
        node = r.varint();
        if (node >= q_.plan_.chain->nodes.size() || !engine::decode_partial(r, batch)) {
            on_partials_problem("partition " + std::to_string(partition) + " offset " +
                                std::to_string(offset) + ": a message that does not decode");
            m.next = offset + 1;
            return;
        }
    } else {
        on_partials_problem("partition " + std::to_string(partition) + " offset " +
                            std::to_string(offset) +
                            ": a message of another plan (every daemon of the group must run the "
                            "same pipeline); skipped");
        m.next = offset + 1;
        return;
    }
    m.sink.silent = offset < m.silent_until;
    if (!m.sink.silent) {
        m.chain->absorb(node, batch, q_.env_.clock());
    } else {
        // The counts go to the metrics of the daemon that merged it first, not again here.
        const std::size_t nodes = q_.plan_.chain->nodes.size();
        const auto before = stats_by_node(*m.chain, nodes);
        m.chain->absorb(node, batch, q_.env_.clock());
        const auto after = stats_by_node(*m.chain, nodes);
        m.replayed.resize(nodes);
        for (std::size_t n = 0; n < nodes; ++n) {
            engine::engine_stats delta = after[n];
            delta -= before[n];
            m.replayed[n] += delta;
        }
        m.sink.silent = false;
    }
    m.next = offset + 1;
}

void query::partials_state::on_partials_problem(const std::string& message) {
    const log_scope scope(q_.log_fields_of());
    record_problem_log().log(q_.problem_key_ + " (partials)", spdlog::level::warn,
                             "query {}/{}: {}", q_.pipeline_->name, q_.plan_.name, message);
}

}  // namespace weir::daemon
