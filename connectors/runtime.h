// The runtime side of connectors: what an input hands its query, what a query hands an output,
// and the factories that build them from validated parameters. Everything runs on Asio
// executors owned by the daemon; connectors never start threads of their own.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/params/spec.h"
#include "core/record/delivery.h"
#include "core/record/padded_buffer.h"
#include "core/result/check_result.h"
#include "core/time/timestamp.h"

namespace weir::connectors {

using wall_clock = std::function<time::timestamp_ns()>;

// ---------------------------------------------------------------------------------------------
// Inputs (contract v2)
//
// An input reads one or more *sources* — a file, a Kafka partition, a connection — each named
// by a stable id that survives restarts and reassignments (a Kafka input's "topic/partition";
// an input that is one stream, such as a file glob, stdin or a socket, has the one source "").
// Every source is a watermark source of the nodes reading the input. Records are handed over
// per source, in a padded buffer (core/record/padded_buffer.h): the input never knows which
// decoder reads them.

using source_id = std::string;

// What an input hands over: core/record/delivery.h.
using weir::record_delivery;
using weir::record_metadata;

// Callbacks from an input to its query. All of them run on the input's executor (the query's
// strand), never concurrently, and never after input::stop() returned.
class input_events {
  public:
    virtual ~input_events() = default;

    // Records of `source` (one of the sources announced so far). When the call returns the
    // records are accepted: position() covers them.
    virtual void on_records(std::string_view source, const record_delivery& records) = 0;

    // Sources came or went (a Kafka rebalance, a partition added). `added` start holding the
    // watermark back; `removed` no longer do, and deliver nothing more.
    virtual void on_sources_changed(std::span<const source_id> added,
                                    std::span<const source_id> removed) = 0;

    // A source delivered everything there is for now while others may still be behind (a file
    // of a glob read to its end), or has more again (false, before its next records): while
    // caught up it does not hold the watermark back (chain::node_chain::set_caught_up).
    virtual void on_source_caught_up(std::string_view /*source*/, bool /*caught_up*/) {}

    // A bounded input (a file in --once mode, a generator with `count`) delivered everything.
    virtual void on_end() = 0;

    // Something went wrong but reading goes on (a record over the size limit, a client that
    // sent garbage, a file that vanished): counted under `error_type` (a small fixed set:
    // too_long, io, protocol, rotation) and logged at a rate limit.
    virtual void on_problem(std::string_view error_type, const std::string& message) = 0;

    // Reading cannot go on (a file that cannot be opened at start, a port in use). The query
    // fails: a critical node stops the daemon, another restarts with back-off.
    virtual void on_failure(const std::string& message) = 0;

    // The input's client is beyond repair (a fatal librdkafka error) but a new one would do:
    // the query is rebuilt from its last checkpoint (new inputs, restored state), whatever
    // its node's `critical` says, instead of failing.
    virtual void on_client_lost(const std::string& message) { on_failure(message); }

    // The input wants a checkpoint soon (a Kafka input whose partitions are being revoked hands
    // them over once a checkpoint covering them is durable: committed() tells it).
    virtual void on_checkpoint_wanted() {}
};

// What an input reports of itself for metrics and the status API (input::status()).
struct source_status {
    source_id source;
    std::int64_t position = -1;  // the next offset to read; -1: not known yet
    std::int64_t end = -1;       // the source's end now (a partition's high watermark); -1
    std::int64_t lag = -1;       // records behind the end; -1: not known
    double lag_seconds = 0;      // event age of the last record read while behind, else 0
};

struct input_status {
    // False while the input cannot reach what it reads (every Kafka broker down); the query
    // shows degraded with `problem` as its reason.
    bool connected = true;
    std::string problem;
    std::vector<source_status> sources;  // owned now, in a stable order
    std::uint64_t rebalances = 0;        // assignments changed, since start
    // The partitions of the topics whose partitions it holds (Kafka); -1: not known. Fewer
    // sources than this: other members of the consumer group hold the rest.
    std::int64_t partitions_total = -1;
    bool has_sources = false;  // an input that reports sources (Kafka)
};

struct input_context {
    boost::asio::any_io_executor executor;  // the query's strand
    std::string pipeline;
    std::string query;
    std::string input;  // the input's name in the pipeline
    bool once = false;  // available-now mode: read to the end seen at start, then on_end()
    wall_clock clock;   // injectable, for tests
    std::size_t max_record_size = 1 << 20;
    // Most bytes a delivery should hold (0: no limit): a query spread over lanes decodes each
    // delivery on another core than the one that read it, and finds it there in the cache only
    // if it is small. Inputs that read in pieces of a size of their own read at most this much.
    std::size_t max_delivery_bytes = 0;
    // Queries of the pipeline that read this input, each with an instance of its own (1: this
    // query alone). An input that shares a position with others (a Kafka consumer group)
    // keeps each query's apart, or the queries would split the stream between them.
    std::size_t readers = 1;
};

class partials_channel;

// Where a source (a Kafka partition) stood when an input was given it: the offset its group
// had committed (-1: none) with that commit's metadata, and the source's end then (-1: not
// known).
struct source_handover {
    std::int64_t committed = -1;
    std::string note;
    std::int64_t end = -1;
};

// Why a commit failed: what to log, and whether the group was rebalancing (the broker refuses
// a commit of a generation it is replacing: the next checkpoint tries again, nothing is wrong).
// A partials channel's sync also fails when messages published before it were not delivered:
// they are lost, and what they carried must be handed over again.
struct commit_error {
    std::string message;
    bool rebalancing = false;
    bool undelivered = false;
};

// An offset of a source to commit, with a note (the commit's metadata).
struct source_note {
    source_id source;
    std::int64_t offset = -1;
    std::string note;
};

class input {
  public:
    virtual ~input() = default;

    // The sources known before start(), each holding the watermark back from the start. The
    // default is the one source "" of an input that is one stream; an input whose sources are
    // only known later (Kafka partitions, assigned after joining the group) returns none and
    // announces them with on_sources_changed().
    virtual std::vector<source_id> initial_sources() const { return {source_id()}; }

    // Begins reading; `events` outlives the input. Called once, on the executor.
    virtual void start(input_events& events) = 0;

    // Back-pressure (`buffer.when_full: block`): stop delivering until resume().
    virtual void pause() = 0;
    virtual void resume() = 0;

    // Stops reading and cancels pending operations; no callback runs after it returns.
    virtual void stop() = 0;

    // Where reading would resume: everything delivered through on_records() so far is behind
    // it. Opaque bytes, stored in the query's checkpoint.
    virtual std::string position() const = 0;

    // Resume from a position() of an earlier run; before start(). False with a message when
    // the position does not fit this input (then the checkpoint is incompatible).
    virtual bool restore(std::string_view position, std::string& error) = 0;

    // A checkpoint holding `position` (an earlier position()) is durable on disk: an input
    // that acknowledges upstream (Kafka offset commits) may do so now, never earlier. On the
    // executor.
    virtual void committed(std::string_view position) { (void)position; }

    // Whether the input ends by itself in --once mode: files and generators with `count` do,
    // stdin does when its writer closes it; tcp and udp never do.
    virtual bool bounded() const = 0;

    // Connection and per-source figures; on the executor. Inputs without any report the
    // defaults (connected, no sources).
    virtual input_status status() const { return {}; }

    // ---- Several daemons (DESIGN.md §3 "Scale-out"; core/engine/partials.h) ----
    // An input whose consumer group several daemons share, and whose queries merge their
    // partials through a topic: the channel to that topic (null for every other input, and in
    // --once mode). Such an input commits nothing itself: committed() does nothing, and the
    // query commits each source's cuts through committer().
    virtual std::unique_ptr<partials_channel> open_partials() { return nullptr; }
    // Where source `source` stood when this input was given it; nullopt when not known.
    virtual std::optional<source_handover> handover(std::string_view source) const {
        (void)source;
        return std::nullopt;
    }
    // Commits offsets with notes, blocking, from any thread; empty for inputs without.
    virtual std::function<bool(const std::vector<source_note>&, commit_error& error)> committer() {
        return {};
    }
};

// Callbacks of a partials channel to its query, on the query's strand.
class partials_events {
  public:
    virtual ~partials_events() = default;
    // A partition of the partials topic this daemon merges from now on; `committed`: the offset
    // up to which its previous owner wrote the results of what it merged (-1: none). Returns
    // the offset to read it from (-1: its beginning).
    virtual std::int64_t on_partials_assigned(std::int32_t partition, std::int64_t committed) = 0;
    virtual void on_partials_revoked(std::int32_t partition) = 0;
    // A rebalance of the partials group ended (after its on_partials_assigned calls).
    virtual void on_partials_rebalanced() {}
    // A message of a partition it merges, in the partition's order.
    virtual void on_partials_message(std::int32_t partition, std::int64_t offset,
                                     std::string_view key, std::string_view value) = 0;
    virtual void on_partials_problem(const std::string& message) = 0;
};

// The partials topic of a query whose input several daemons share: every daemon publishes
// its lanes' partials to it, and merges the partitions the topic's own consumer group gives it.
class partials_channel {
  public:
    virtual ~partials_channel() = default;
    // Blocking (metadata requests), before start(): the partitions of the partials topic and
    // every source (partition) of the input's topics. False with `error`.
    virtual bool open(std::string& error) = 0;
    virtual std::int32_t partitions() const = 0;
    virtual std::vector<source_id> input_sources() const = 0;
    // The bytes of partials a query may hold back while a cut is not committed; above them
    // its input pauses (partials_max_held).
    virtual std::uint64_t max_held() const = 0;
    // On the query's strand (the executor of the input it came from).
    virtual void start(partials_events& events) = 0;
    virtual void stop() = 0;
    // A message for partition `partition`, sent asynchronously.
    virtual void publish(std::int32_t partition, std::string_view key, std::string_view value) = 0;
    // Blocking, from any thread: waits until every message published so far is acknowledged,
    // then commits `positions` (partition, the next offset to merge) for the merge group.
    // False with `error`.
    using sync_fn = std::function<bool(
        const std::vector<std::pair<std::int32_t, std::int64_t>>& positions, commit_error& error)>;
    virtual sync_fn sync() = 0;
};

// ---------------------------------------------------------------------------------------------
// Outputs

struct output_stats {
    std::uint64_t records = 0;  // results and records written
    std::uint64_t errors = 0;   // writes that failed for good (after retries)
    std::uint64_t dropped = 0;  // records dropped unsent (a full queue)
};

struct output_context {
    boost::asio::any_io_executor executor;  // the output's own strand
    // Where an output may block (a Kafka transaction's commit), off the loop threads; empty:
    // block on `executor`.
    boost::asio::any_io_executor blocking;
    std::string pipeline;
    std::string output;  // the output's name in the pipeline
    wall_clock clock;
};

// An output is shared by the queries of its pipeline; its methods may be called from any
// thread and queue the work on its own strand (one write in flight, in order).
class output {
  public:
    virtual ~output() = default;

    virtual void write_result(const check_result& result) = 0;
    // Derived records, late records and dead letters: one JSON object, without newline.
    // Only outputs registered with accepts_records receive them.
    virtual void write_record(std::string_view json) = 0;
    // A node has written every result of the windows it closed just now: an output that
    // gathers lines to write them together (a file's flush_interval) may write what it holds
    // without waiting, so a window's results leave when it closes. Any thread.
    virtual void end_of_results() {}

    // Makes everything written so far durable (a file: write and fsync; a webhook: delivered
    // or given up after its retries), then calls `done` — from any thread. Checkpoints wait
    // for it, so a result is never lost behind a checkpoint.
    virtual void flush(std::function<void(bool ok, const std::string& error)> done) = 0;

    // Flushes what is queued and closes; `done` runs when nothing is pending.
    virtual void stop(std::function<void()> done) = 0;

    virtual output_stats stats() const = 0;

    // Back-pressure (`buffer` of the nodes writing here): records written but not yet at their
    // destination, queued in memory (a webhook that is slow or down, a file that cannot be
    // written). Outputs that write to a terminal report 0. Any thread.
    virtual std::uint64_t pending() const { return 0; }
    // Why the output cannot deliver now ("cannot write /x: No space left on device", a webhook
    // that refuses connections while it is retried); "" while it can. What it holds meanwhile
    // waits (pending()), and the daemon logs and exports the condition. Any thread.
    virtual std::string blocked() const { return {}; }
    // `buffer.when_full: drop_oldest`: drops about `records` of the oldest queued records (whole
    // queued requests; never the one in flight), counted in output_stats::dropped. Any thread.
    virtual void drop_oldest(std::uint64_t records) { (void)records; }

    // The daemon is stopping: stop retrying. What cannot be delivered on the attempt under way
    // is given up at once, so a stop never waits out the retries of an endpoint that is down.
    // Nothing is lost: the flush then fails, the final checkpoint is skipped, and after a restart
    // the results since the last checkpoint are computed and sent again, with the same ids.
    // Any thread.
    virtual void begin_shutdown() {}
};

// ---------------------------------------------------------------------------------------------
// Factories: from a type's validated parameters (read with its own declaration) to an
// instance. They may throw std::runtime_error for problems only visible at start (a directory
// that does not exist); the supervisor reports it as a failure of the query.

using input_factory =
    std::function<std::unique_ptr<input>(const params::reader& params, const input_context& ctx)>;
using output_factory =
    std::function<std::shared_ptr<output>(const params::reader& params, const output_context& ctx)>;

struct connector_factories {
    std::map<std::string, input_factory, std::less<>> inputs;
    std::map<std::string, output_factory, std::less<>> outputs;
};

// Adds the factory of every implemented built-in type, from the one list of connector
// descriptors (descriptor.h); throws std::logic_error on a duplicate.
void register_builtin_factories(connector_factories& factories);

}  // namespace weir::connectors
