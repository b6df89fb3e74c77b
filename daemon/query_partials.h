// A query whose input several daemons share (query.h, "Several daemons"): the state of its
// partials topic. Private to daemon/query.cc and daemon/query_partials.cc.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connectors/runtime.h"
#include "core/chain/node_chain.h"
#include "core/engine/partials.h"
#include "daemon/query.h"

namespace weir::daemon {

// What a merge chain produces goes to the query, except while it merges again what its
// partition's previous owner merged and wrote already (a partition read from its beginning).
class query::merge_sink final : public chain::chain_sink {
  public:
    explicit merge_sink(query& q) : q_(q) {}
    bool silent = false;

    bool on_decoded(std::size_t, std::size_t, std::size_t, std::size_t,
                    const chain::record_problem*) override {
        return true;
    }
    bool on_rejected(std::size_t, std::size_t, const chain::record_problem&) override {
        return true;
    }
    void on_failure(const std::string& message) override { q_.on_failure(message); }
    void on_results(std::size_t node, std::span<const check_result> results) override {
        if (!silent) q_.on_results(node, results);
    }
    bool admit(std::size_t node, chain::output_index output, std::size_t count) override {
        return silent || q_.admit(node, output, count);
    }
    void write_result(chain::output_index output, const check_result& result) override {
        if (!silent) q_.write_result(output, result);
    }
    void end_of_results(chain::output_index output) override {
        if (!silent) q_.end_of_results(output);
    }
    void write_record(chain::output_index output, std::string_view json) override {
        if (!silent) q_.write_record(output, json);
    }

  private:
    query& q_;
};

struct query::partials_state final : connectors::partials_events {
    explicit partials_state(query& q) : q_(q) {}

    std::size_t input = 0;  // the input whose partials topic it is
    std::unique_ptr<connectors::partials_channel> channel;
    connectors::partials_channel::sync_fn sync;
    std::function<bool(const std::vector<connectors::source_note>&, connectors::commit_error&)>
        commit;
    std::vector<connectors::source_id> sources;  // every partition of the input's topics
    std::int32_t partitions = 0;                 // of the partials topic

    // A source (partition) a lane of this daemon reads.
    struct source_state {
        explicit source_state(const connectors::source_handover& h)
            : ledger(h.committed, h.note, h.end) {}
        engine::cut_ledger ledger;
        bool began = false;      // the lane's chain was cut where the source starts
        std::int64_t next = -1;  // the offset after the last record handed to the lane
        // Hand-overs since a cut whose registration is out: (partition, message).
        std::vector<std::pair<std::int32_t, std::string>> held;
        std::uint64_t held_bytes = 0;  // of the messages in `held`
    };
    // By the chain's source key (node_chain::source_key of the input and the source), which
    // names the source in its hand-overs; and the input's source id of each.
    std::map<std::string, source_state, std::less<>> by_key;
    std::map<std::string, std::string, std::less<>> id_of;
    // Sources that went, until their lanes let them go: what they hand over meanwhile is
    // dropped (a source may go and come back before).
    std::multiset<std::string, std::less<>> leaving;
    // Whether reading is paused for the partials held back (bound_held_partials).
    bool held_full = false;

    // A partition of the partials topic this daemon merges.
    struct merge {
        explicit merge(query& q) : sink(q) {}
        merge_sink sink;
        std::unique_ptr<chain::node_chain> chain;
        std::int64_t next = 0;           // the next offset to merge
        std::int64_t silent_until = -1;  // its previous owner wrote the results up to here
        // What merging silently counted, by node: its previous owner counted it (metrics).
        std::vector<engine::engine_stats> replayed;
        bool replaying() const { return next < silent_until; }
    };
    std::map<std::int32_t, std::unique_ptr<merge>> merges;
    // Merges of partitions revoked in a rebalance under way: a partition given back to this
    // daemon goes on where it was (its state is the merge of the partition up to `next`,
    // whoever merged it meanwhile); the others go when the rebalance ends.
    std::map<std::int32_t, std::unique_ptr<merge>> kept;
    // The stats of merge chains that went (their partition moved), by node.
    std::vector<engine::engine_stats> let_go;

    // Scratch of publish_partials.
    std::vector<engine::partial_batch> routed;

    // connectors::partials_events
    std::int64_t on_partials_assigned(std::int32_t partition, std::int64_t committed) override;
    void on_partials_revoked(std::int32_t partition) override;
    void on_partials_rebalanced() override;
    void on_partials_message(std::int32_t partition, std::int64_t offset, std::string_view key,
                             std::string_view value) override;
    void on_partials_problem(const std::string& message) override;

  private:
    query& q_;
};

}  // namespace weir::daemon
