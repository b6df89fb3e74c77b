// A managed query at run time; see query.h.
#include "daemon/query.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <limits>

#include "core/diag/assert.h"
#include "core/record/delivery.h"
#include "core/record/padded_buffer.h"
#include "core/result/format.h"
#include "daemon/logging.h"
#include "daemon/query_lanes.h"
#include "daemon/query_partials.h"

namespace weir::daemon {

namespace asio = boost::asio;

// A checkpoint's snapshot is taken in slices of about this long, one per strand turn: what
// else waits on the loop (a /health request, another query) waits at most about this long.
constexpr auto k_snapshot_slice = std::chrono::milliseconds(2);
// And at most about this many bytes, so no piece of a snapshot needs a large string of its own.
constexpr std::size_t k_snapshot_slice_bytes = std::size_t{4} << 20;

namespace {
double seconds_since(std::chrono::steady_clock::time_point started) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}
}  // namespace

const char* to_string(query_state s) {
    switch (s) {
        case query_state::starting:
            return "starting";
        case query_state::running:
            return "running";
        case query_state::degraded:
            return "degraded";
        case query_state::failed:
            return "failed";
        case query_state::stopped:
            return "stopped";
        case query_state::finished:
            return "finished";
    }
    return "unknown";
}

class query::input_adapter final : public connectors::input_events {
  public:
    input_adapter(query& q, std::size_t index) : query_(q), index_(index) {}
    void on_records(std::string_view source, const connectors::record_delivery& records) override {
        query_.on_records(index_, source, records);
    }
    void on_sources_changed(std::span<const connectors::source_id> added,
                            std::span<const connectors::source_id> removed) override {
        query_.on_sources_changed(index_, added, removed);
    }
    void on_source_caught_up(std::string_view source, bool caught_up) override {
        query_.on_source_caught_up(index_, source, caught_up);
    }
    void on_end() override { query_.on_end(index_); }
    void on_problem(std::string_view type, const std::string& message) override {
        query_.on_problem(index_, type, message);
    }
    void on_failure(const std::string& message) override {
        query_.fail("input \"" + query_.plan_.chain->inputs[index_].name + "\": " + message);
    }
    void on_checkpoint_wanted() override { query_.on_checkpoint_wanted(); }
    void on_client_lost(const std::string& message) override {
        query_.fail("input \"" + query_.plan_.chain->inputs[index_].name + "\": " + message, true);
    }

  private:
    query& query_;
    std::size_t index_;
};

query::lane& query::lane_for(std::size_t input, std::string_view source) {
    std::string key = std::to_string(input);
    key += '/';
    key += source;
    auto it = lane_of_.find(key);
    if (it == lane_of_.end()) {
        // In the order sources first deliver: six partitions over two lanes, three each.
        it = lane_of_.emplace(std::move(key), next_lane_++ % lanes_.size()).first;
    }
    return *lanes_[it->second];
}

void query::post_to_lane(lane& l, std::function<void(chain::node_chain&)> work,
                         std::function<void()> after) {
    ++lane_work_;
    asio::post(l.strand, [self = shared_from_this(), &l, work = std::move(work),
                          after = std::move(after)]() mutable {
        work(*l.chain);
        lane::counts counts{{}, l.chain->stats().bad_time, l.chain->stats().future_time};
        for (std::size_t n = 0; n < counts.bad_time.size(); ++n) {
            counts.engine.push_back(l.chain->local_stats(n));
        }
        asio::post(self->strand_, [self, &l, events = l.sink.take(), after = std::move(after),
                                   counts = std::move(counts)]() mutable {
            l.reported = std::move(counts);
            for (const auto& e : events) {
                if (!self->active() && !self->finishing_) break;
                e(*self);
            }
            if (after && (self->active() || self->finishing_)) after();
            self->lane_done();
        });
    });
    if (lane_work_ >= k_lane_backlog * lanes_.size() && !lanes_full_) {
        lanes_full_ = true;
        for (auto& in : inputs_) in->pause();
    }
}

void query::resume_reading() {
    if (paused_ || snapshot_ || stopping_ || lanes_full_ || draining_ || !active()) return;
    if (partials_ && partials_->held_full) return;
    for (auto& in : inputs_) in->resume();
}

void query::lane_done() {
    --lane_work_;
    report_nodes();
    apply_back_pressure();
    if (lanes_full_ && lane_work_ <= k_lane_backlog * lanes_.size() / 2) {
        lanes_full_ = false;
        resume_reading();
    }
    if (!draining_ || lane_work_ > 0) return;
    if (delivered_since_drain_) {
        // Records reached a lane after it handed over: once more.
        delivered_since_drain_ = false;
        for (auto& l : lanes_) post_to_lane(*l, drain_work_);
        return;
    }
    draining_ = false;
    auto then = std::exchange(after_drain_, {});
    for (auto& f : then) f();
    resume_reading();
}

void query::drain_lanes(std::function<void(chain::node_chain&)> work, std::function<void()> then) {
    after_drain_.push_back(std::move(then));
    if (draining_) return;
    draining_ = true;
    drain_work_ = std::move(work);
    delivered_since_drain_ = false;
    for (auto& in : inputs_) in->pause();
    for (auto& l : lanes_) post_to_lane(*l, drain_work_);
}

query::query(std::shared_ptr<const config::compiled_pipeline> pipeline, std::size_t index,
             query_environment env, listener events)
    : pipeline_(std::move(pipeline)),
      plan_(pipeline_->queries.at(index)),
      env_(std::move(env)),
      events_(std::move(events)),
      strand_(asio::make_strand(*env_.io)),
      tick_timer_(strand_),
      checkpoint_timer_(strand_),
      pressure_timer_(strand_) {
    if (env_.blocking) writer_.emplace(asio::make_strand(env_.blocking));
    if (env_.taps) {
        for (const auto& n : plan_.chain->nodes) {
            tap_points_.push_back(env_.taps->point(pipeline_->name, n.name));
        }
    }
}

query::~query() = default;

void query::start() {
    asio::post(strand_, [self = shared_from_this()] { self->do_start(); });
}

void query::do_start() {
    const time::timestamp_ns now = env_.clock();
    const chain::chain_plan& chain = *plan_.chain;
    std::vector<std::vector<std::string>> sources;
    // Several daemons share an input's partials (partials_topic; not in --once mode): the
    // query runs lanes, one at least, whose hand-overs go to the topic.
    bool shared = false;
    for (std::size_t i = 0; i < chain.inputs.size() && !env_.once; ++i) {
        const config::component_plan& in = pipeline_->inputs.at(plan_.inputs.at(i));
        if (in.params.find("partials_topic") != nullptr) shared = true;
    }
    // Scale-out inside the daemon: the query's sources spread over partition-local lanes.
    const bool spread = (env_.lanes > 1 || shared) && chain::node_chain::partitionable(chain);
    const std::size_t lane_count = std::max<std::size_t>(env_.lanes, 1);
    try {
        for (std::size_t i = 0; i < chain.inputs.size(); ++i) {
            const config::component_plan& in = pipeline_->inputs.at(plan_.inputs.at(i));
            auto factory = env_.factories->inputs.find(in.type);
            if (factory == env_.factories->inputs.end()) {
                // The plan refuses types without a factory: this is a bug of the registration.
                throw std::logic_error("input \"" + in.name + "\": type " + in.type +
                                       " has no factory");
            }
            connectors::input_context ctx;
            ctx.executor = strand_;
            ctx.pipeline = pipeline_->name;
            ctx.query = plan_.name;
            ctx.input = in.name;
            // An input with end_when ends on its marker: under --once it is read as usual
            // (followed, generated, listened to) until then.
            const bool ends_itself = chain.inputs[i].end_when != nullptr;
            ctx.once = env_.once && !ends_itself;
            ctx.clock = env_.clock;
            ctx.max_record_size = chain.inputs[i].decode.max_record_size;
            ctx.readers = 0;
            for (const auto& q : pipeline_->queries) {
                ctx.readers += static_cast<std::size_t>(
                    std::count(q.inputs.begin(), q.inputs.end(), plan_.inputs.at(i)));
            }
            if (spread) ctx.max_delivery_bytes = k_lane_delivery_bytes;
            inputs_.push_back(factory->second(params::reader(*in.spec, in.params), ctx));
            if (env_.once && !ends_itself && !inputs_.back()->bounded()) {
                throw std::runtime_error("input \"" + in.name + "\" (" + in.type +
                                         ") never ends, so --once cannot finish");
            }
            sources.push_back(inputs_.back()->initial_sources());
        }
        chain_ = std::make_unique<chain::node_chain>(
            plan_.chain, static_cast<chain::chain_sink&>(*this), sources, now);
        if (spread) {
            const std::vector<std::vector<std::string>> none(chain.inputs.size());
            chain::chain_options local;
            local.partition_local = true;
            for (std::size_t l = 0; l < lane_count; ++l) {
                lanes_.push_back(std::make_unique<lane>(*env_.io));
                lanes_.back()->sink.taps = &tap_points_;
                lanes_.back()->chain = std::make_unique<chain::node_chain>(
                    plan_.chain, lanes_.back()->sink, none, now, local);
            }
        }
    } catch (const std::exception& e) {
        fail(e.what());
        return;
    }
    for (const auto& name : chain.outputs) {
        auto it = env_.outputs.find(name);
        outputs_.push_back(it == env_.outputs.end() ? nullptr : it->second);
    }
    shedding_.assign(outputs_.size(), false);

    std::string error;
    if (!open_partials(error)) {
        fail(error);
        return;
    }
    if (!restore(error)) {
        fail(error);
        return;
    }
    if (env_.metrics) {
        const std::string& terminal = chain.nodes.back().name;
        for (const auto& node : chain.nodes) {
            node_metrics_.push_back(&env_.metrics->node(pipeline_->name, node.name));
            node_metrics_.back()->up.Set(1);
        }
        for (const auto& in : chain.inputs) {
            input_metrics_.push_back(&env_.metrics->input(pipeline_->name, terminal, in.name));
        }
        reported_stats_.assign(chain.nodes.size(), {});
        reported_bad_time_.assign(chain.nodes.size(), 0);
        reported_future_time_.assign(chain.nodes.size(), 0);
        // Late records a restored join counted before are not new.
        const chain::chain_stats& stats = chain_->stats();
        for (std::size_t n = 0; n < chain.nodes.size(); ++n) {
            join_metrics_.push_back(chain.nodes[n].join
                                        ? &env_.metrics->join(pipeline_->name, chain.nodes[n].name)
                                        : nullptr);
            reported_join_late_.emplace_back(stats.join_late_left[n], stats.join_late_right[n]);
        }
        check_entries_.resize(chain.nodes.size());
    }
    problem_key_ = pipeline_->name + "/" + plan_.name + ": bad records";
    schema_problem_key_ = problem_key_ + " (schema)";
    time_problem_key_ = problem_key_ + " (event time)";
    ended_.assign(inputs_.size(), false);
    // Streams that ended (end_when) before the checkpoint stay ended: not read again.
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        if (!chain_->input_ended(i)) continue;
        ended_[i] = true;
        std::lock_guard lock(status_mutex_);
        ended_inputs_.push_back(chain.inputs[i].name);
    }
    reported_holds_expired_.resize(chain.nodes.size());
    for (std::size_t n = 0; n < chain.nodes.size(); ++n) {
        for (const auto& d : chain_->dependencies(n)) {
            reported_holds_expired_[n].push_back(d.holds_expired());
        }
    }
    capped_reported_.assign(chain.nodes.size(), 0);
    drift_bound_reported_.assign(chain.nodes.size(), 0);
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        adapters_.push_back(std::make_unique<input_adapter>(*this, i));
    }
    state_ = query_state::running;
    const log_scope scope(log_fields_of());
    spdlog::info(
        "query {}/{} running ({} inputs, {} nodes{})", pipeline_->name, plan_.name, inputs_.size(),
        chain.nodes.size(),
        lanes_.empty() ? "" : fmt::format(", its sources spread over {} lanes", lanes_.size()));
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        if (!ended_[i]) inputs_[i]->start(*adapters_[i]);
    }
    if (partials_) partials_->channel->start(*partials_);
    if (env_.once && std::all_of(ended_.begin(), ended_.end(), [](bool e) { return e; })) {
        finish_once();
        return;
    }
    schedule_tick();
    schedule_checkpoint();
    if (checkpoint_at_start_) checkpoint([](bool) {});
}

bool query::restore(std::string& error) {
    // Several daemons: what the query holds comes back from the partials topic and the input's
    // commits, whichever daemon had it; its checkpoint file holds nothing of it.
    if (env_.checkpoints == nullptr || partials_) return true;
    checkpoint_store::loaded_checkpoint loaded;
    const auto status = env_.checkpoints->load(pipeline_->name, plan_.name, loaded, error);
    const checkpoint::checkpoint_view& data = loaded.data;
    const std::string file = env_.checkpoints->path(pipeline_->name, plan_.name);
    const std::string way_out = "; to start this query afresh run: weir run --reset-checkpoint " +
                                pipeline_->name + "/" + plan_.name + " …";
    if (status == checkpoint_store::load_status::absent) return true;
    if (status == checkpoint_store::load_status::invalid) {
        error = "checkpoint " + error + way_out;
        return false;
    }
    // Format 1 (weir before the compiled plan) carries the fingerprint of that time; a later
    // one either today's or the one that still covered the checks' judgements.
    const bool same_plan = data.version == 1
                               ? data.plan_fingerprint == plan_.legacy_fingerprint
                               : data.plan_fingerprint == plan_.fingerprint ||
                                     data.plan_fingerprint == plan_.fingerprint_before_judgements;
    const chain::chain_plan& chain = *plan_.chain;
    // Another plan (what the query measures changed, by a reload or while weir was stopped):
    // its windows cannot be restored into this one, but where the inputs were still holds, as
    // a reload that changes the plan does. Refusing would leave only --reset-checkpoint, which
    // throws the positions away too.
    std::string inputs;  // what each input does, for the log when the plan changed
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        const std::string& name = chain.inputs[i].name;
        const std::string* position = nullptr;
        for (const auto& [saved, at] : data.inputs) {
            if (saved == name) {
                position = &at;
                break;
            }
        }
        std::string what = "resumes where it was";
        std::string why;
        if (position == nullptr) {
            what = "starts afresh (not in the checkpoint)";
        } else if (!inputs_[i]->restore(*position, why)) {
            if (same_plan) {
                error = "checkpoint " + file + ": input \"" + name + "\": " + why + way_out;
                return false;
            }
            what = "starts afresh (" + why + ")";
        }
        if (same_plan) continue;
        inputs += fmt::format("{}\"{}\" {}", inputs.empty() ? "" : ", ", name, what);
    }
    if (!same_plan) {
        const log_scope scope(log_fields_of());
        spdlog::warn(
            "query {}/{}: checkpoint {} was written for another plan of this query ({} -> {}: {}); "
            "its open windows were dropped and its first windows are partial; inputs: {}",
            pipeline_->name, plan_.name, file, data.plan_fingerprint, plan_.fingerprint,
            env_.plan_changed ? "a reload changed what it measures"
                              : "what it measures changed while weir was stopped",
            inputs.empty() ? "none" : inputs);
        // Checks against history whose assessment did not change keep their history.
        std::string why;
        if (!chain_->restore_history(data.sections, why)) {
            spdlog::warn("query {}/{}: checkpoint {}: {}; checks against history start afresh",
                         pipeline_->name, plan_.name, file, why);
        }
        checkpoint_at_start_ = true;
        return true;
    }
    std::string why;
    if (!chain_->restore(data.sections, why)) {
        error = "checkpoint " + file + ": " + why + way_out;
        return false;
    }
    const log_scope scope(log_fields_of());
    spdlog::info("query {}/{} resumed from {}", pipeline_->name, plan_.name, file);
    return true;
}

void query::on_records(std::size_t input, std::string_view source,
                       const connectors::record_delivery& records) {
    if (!active() || stopping_) return;
    finish_snapshot();  // an input that delivers while paused: the snapshot is taken first
    if (partials_ && input == partials_->input) {
        deliver_shared(input, source, records);
        return;
    }
    if (!lanes_.empty()) {
        lane& l = lane_for(input, source);
        if (!delivery_copies_) delivery_copies_ = std::make_shared<delivery_pool>();
        auto copy = std::static_pointer_cast<delivery_pool>(delivery_copies_)->copy(records);
        delivered_since_drain_ = true;
        post_to_lane(l, [input, source = std::string(source), copy, now = env_.clock()](
                            chain::node_chain& c) { c.deliver(input, source, copy->view(), now); });
        return;
    }
    chain_->deliver(input, source, records, env_.clock());
    report_nodes();
    apply_back_pressure();
}

void query::on_sources_changed(std::size_t input, std::span<const connectors::source_id> added,
                               std::span<const connectors::source_id> removed) {
    if (!active() || stopping_) return;
    finish_snapshot();
    if (partials_ && input == partials_->input) {
        shared_sources_changed(input, added, removed);
        return;
    }
    if (!added.empty()) report_ownership(input, inputs_[input]->status());
    if (!lanes_.empty()) {
        // The merge step knows every source from the start, so a partition whose first
        // partials come late still holds the windows back. A source that goes hands its lane's
        // cells over first, then leaves the merge step.
        // Both in the order of the lane's work: a partition revoked and assigned again leaves
        // the merge step before it comes back.
        for (const auto& s : removed) {
            std::string id(s);
            post_to_lane(
                lane_for(input, s),
                [input, id](chain::node_chain& c) { c.remove_source(input, id); },
                [self = shared_from_this(), input, id] { self->chain_->remove_source(input, id); });
        }
        for (const auto& s : added) {
            std::string id(s);
            post_to_lane(
                lane_for(input, s), [](chain::node_chain&) {},
                [self = shared_from_this(), input, id] {
                    self->chain_->add_source(input, id, self->env_.clock());
                });
        }
        return;
    }
    const time::timestamp_ns now = env_.clock();
    for (const auto& s : removed) chain_->remove_source(input, s);
    for (const auto& s : added) chain_->add_source(input, s, now);
}

void query::on_source_caught_up(std::size_t input, std::string_view source, bool caught_up) {
    if (!active() || stopping_) return;
    // Several daemons: a lane hands over only at its cuts (every checkpoint), and the merge
    // chains are elsewhere.
    if (partials_ && input == partials_->input) return;
    finish_snapshot();
    if (!lanes_.empty()) {
        // The lane hands the source's cells over first: the merge step stops waiting for it.
        std::string id(source);
        post_to_lane(
            lane_for(input, source),
            [input, id, caught_up](chain::node_chain& c) { c.set_caught_up(input, id, caught_up); },
            [self = shared_from_this(), input, id, caught_up] {
                self->chain_->set_caught_up(input, id, caught_up);
            });
        return;
    }
    chain_->set_caught_up(input, source, caught_up);
}

void query::on_end(std::size_t input) {
    if (!active() || stopping_) return;
    finish_snapshot();
    chain_->end_input(input, env_.clock());
    report_nodes();
    ended_[input] = true;
    for (bool e : ended_) {
        if (!e) return;
    }
    finish_once();
}

void query::finish_once() {
    if (finishing_) return;
    finishing_ = true;
    if (!lanes_.empty() && !lanes_finished_) {
        // The lanes' engines give up everything they hold, their sources ended; then the
        // merge step closes what is open.
        lanes_finished_ = true;
        drain_lanes([now = env_.clock()](chain::node_chain& c) { c.finish(now); },
                    [self = shared_from_this()] {
                        self->finishing_ = false;
                        self->finish_once();
                    });
        return;
    }
    chain_->finish(env_.clock());
    report_nodes();
    report_dependencies();
    tick_timer_.cancel();
    checkpoint_timer_.cancel();
    final_checkpoint();
}

void query::final_checkpoint() {
    // A final checkpoint whose file cannot be written does not fail the query: its results are
    // out, and the other queries finish theirs; the supervisor reports it at the end. One
    // skipped for an output that could not flush waits for that output (until a stop), and
    // fails the query when it is stopped meanwhile: that output's results are not out.
    checkpoint([self = shared_from_this()](bool ok) {
        if (!ok && self->outputs_unflushed_ && !self->stopping_) {
            // An output holds results it cannot deliver yet (a full disk, a webhook down).
            // A restart from the last checkpoint would produce them a second time: wait for
            // the output instead, until a stop.
            if (!self->final_wait_logged_) {
                self->final_wait_logged_ = true;
                const log_scope scope(self->log_fields_of());
                spdlog::warn(
                    "query {}/{}: every input ended; the final checkpoint waits for "
                    "the outputs to deliver",
                    self->pipeline_->name, self->plan_.name);
            }
            self->checkpoint_timer_.expires_after(std::max<std::chrono::milliseconds>(
                self->env_.checkpoint_interval, std::chrono::seconds(1)));
            self->checkpoint_timer_.async_wait([self](const boost::system::error_code& ec) {
                if (!ec && !self->stopping_) self->final_checkpoint();
            });
            return;
        }
        if (!ok && !self->checkpoint_write_failed_) {
            self->fail("the final checkpoint could not be written: " + self->checkpoint_error_);
            return;
        }
        self->state_ = query_state::finished;
        const log_scope scope(self->log_fields_of());
        spdlog::info("query {}/{} finished: {} records, {} results{}", self->pipeline_->name,
                     self->plan_.name, self->counters_.input_records.load(),
                     self->counters_.results.load(),
                     ok ? "" : "; its final checkpoint was not written");
        if (self->events_.finished) self->events_.finished(ok ? "" : self->checkpoint_error_);
    });
}

// ---- the chain's sink ----

std::string query::where(const chain::record_problem& p) const {
    std::string s = "input \"" + plan_.chain->inputs[p.input].name + "\"";
    if (!p.source.empty()) s += ", " + std::string(p.source);
    if (p.offset >= 0) s += " offset " + std::to_string(p.offset);
    return s;
}

void query::note_bad_records(std::size_t node, std::size_t count,
                             const chain::record_problem& example) {
    counters_.invalid_records += count;
    const auto reason = static_cast<std::size_t>(example.reason);
    if (reason < counters_.invalid_by_reason.size()) {
        counters_.invalid_by_reason[reason] += count;
    }
    bad_record_status b;
    b.node = plan_.chain->nodes[node].name;
    b.input = plan_.chain->inputs[example.input].name;
    b.source = std::string(example.source);
    if (example.offset >= 0) b.offset = example.offset;
    b.reason = to_string(example.reason);
    b.field = std::string(example.field);
    b.message = example.message;
    std::lock_guard lock(status_mutex_);
    last_bad_record_ = std::move(b);
}

std::optional<bad_record_status> query::last_bad_record() const {
    std::lock_guard lock(status_mutex_);
    return last_bad_record_;
}

bool query::on_decoded(std::size_t input, std::size_t records, std::size_t bytes,
                       std::size_t invalid, const chain::record_problem* first) {
    counters_.input_records += records;
    counters_.input_bytes += bytes;
    if (!input_metrics_.empty()) {
        input_metrics_[input]->records.Increment(static_cast<double>(records));
        input_metrics_[input]->bytes.Increment(static_cast<double>(bytes));
        if (invalid > 0) {
            input_metrics_[input]
                ->errors_of(input_error::decode)
                .Increment(static_cast<double>(invalid));
        }
    }
    if (invalid == 0 || first == nullptr) return true;
    // The node that reads the input (the first) has the record in its status.
    std::size_t reader = plan_.chain->nodes.size() - 1;
    for (std::size_t n = 0; n < plan_.chain->nodes.size(); ++n) {
        for (const auto& f : plan_.chain->nodes[n].from) {
            if (f.type == chain::source_ref::kind::input && f.index == input)
                reader = std::min(reader, n);
        }
    }
    note_bad_records(reader, invalid, *first);
    // The first bad record of the delivery stands for the others (counted in metrics); its
    // content is not logged: records may carry personal data. Where it is, is.
    const log_scope scope(log_fields_of(plan_.chain->nodes[reader].name,
                                        plan_.chain->inputs[input].name,
                                        to_string(input_error::decode)));
    record_problem_log().log(problem_key_, spdlog::level::warn,
                             "query {}/{}: {} of {} records unusable ({}: {}), e.g. at {}",
                             pipeline_->name, plan_.name, invalid, records, first->rule,
                             first->message, where(*first));
    return count_errors(invalid);
}

bool query::on_rejected(std::size_t node, std::size_t count, const chain::record_problem& first) {
    note_bad_records(node, count, first);
    const std::string& name = plan_.chain->nodes[node].name;
    if (first.reason == invalid_reason::bad_time && first.rule == "future_time") {
        const log_scope scope(log_fields_of(name, {}, "future_time"));
        record_problem_log().log(time_problem_key_, spdlog::level::warn,
                                 "query {}/{}: node \"{}\": {} records dropped as suspicious, "
                                 "their event time ({}) {}, e.g. at {}",
                                 pipeline_->name, plan_.name, name, count, first.field,
                                 first.message, where(first));
        return true;
    }
    if (first.reason == invalid_reason::bad_time) {
        // The value is shown: an event time is what the operator must see to fix the format.
        const log_scope scope(log_fields_of(name, {}, "bad_time"));
        record_problem_log().log(time_problem_key_, spdlog::level::warn,
                                 "query {}/{}: node \"{}\": {} records dropped, their event time "
                                 "unreadable ({}: {}), e.g. at {}",
                                 pipeline_->name, plan_.name, name, count, first.field,
                                 first.message, where(first));
        // Counted and dropped, as docs/pipelines.md says, but not an error of on_error.
        return true;
    }
    const log_scope scope(log_fields_of(name, {}, "schema"));
    record_problem_log().log(schema_problem_key_, spdlog::level::warn,
                             "query {}/{}: node \"{}\": {} records violate the schema ({}: {}), "
                             "e.g. at {}",
                             pipeline_->name, plan_.name, name, count, first.field, first.message,
                             where(first));
    return count_errors(count);
}

void query::on_failure(const std::string& message) {
    fail(message);
}

bool query::admit(std::size_t node, chain::output_index output, std::size_t count) {
    if (!outputs_[output]) return false;
    if (!any_shedding_ || !shedding_[output]) return true;
    if (!node_metrics_.empty()) {
        node_metrics_[node]
            ->dropped_by(drop_reason::buffer_full)
            .Increment(static_cast<double>(count));
    }
    return false;
}

void query::write_result(chain::output_index output, const check_result& result) {
    outputs_[output]->write_result(result);
}

void query::end_of_results(chain::output_index output) {
    outputs_[output]->end_of_results();
}

void query::write_record(chain::output_index output, std::string_view json) {
    outputs_[output]->write_record(json);
}

log_fields query::log_fields_of(std::string_view node, std::string_view input,
                                std::string_view error_type) const {
    return {pipeline_->name, plan_.name, node, input, error_type};
}

group_metrics* query::group_series(check_entry& e, std::size_t node, const std::string& check,
                                   const std::string& key, const group_key& group) {
    // Once the daemon-wide series cap refused this check a series, only the groups that have
    // one are updated.
    if (auto it = e.groups.find(key); it != e.groups.end()) return it->second;
    if (e.capped) return nullptr;
    if (e.label_names.size() != group.size()) {
        std::vector<std::string> fields;
        for (const auto& [field, v] : group) fields.push_back(field);
        e.label_names = group_label_names(fields);
    }
    std::vector<std::pair<std::string, std::string>> labels;
    for (std::size_t i = 0; i < group.size(); ++i) {
        const measure_value& v = group[i].second;
        labels.emplace_back(e.label_names[i],
                            v.kind == measure_kind::string ? v.text : to_string(v));
    }
    auto* g =
        env_.metrics->group(pipeline_->name, plan_.chain->nodes[node].name, check, key, labels);
    if (g == nullptr) {
        e.capped = true;
    } else {
        e.groups.emplace(key, g);
    }
    return g;
}

void query::tap_results(std::size_t node, std::span<const check_result> results) {
    std::string line;
    for (std::size_t i = 0; i < results.size(); ++i) {
        line.clear();
        append_json(results[i], line);
        if (!tap_points_[node]->offer(tap_kind::results, line)) {
            tap_points_[node]->skip(tap_kind::results, results.size() - i - 1);
            break;
        }
    }
}

void query::on_results(std::size_t index, std::span<const check_result> results) {
    counters_.results += results.size();
    if (env_.summary) env_.summary->add(results);
    if (env_.history) env_.history->add(pipeline_->name, plan_.chain->nodes[index].name, results);
    if (index < tap_points_.size() && tap_points_[index]->wanted(tap_kind::results)) {
        tap_results(index, results);
    }
    if (!env_.metrics) return;
    const std::string& node = plan_.chain->nodes[index].name;
    const time::timestamp_ns now = env_.clock();
    auto& entries = check_entries_[index];
    time::timestamp_ns observed_end = 0;
    std::string& key = group_label_;
    const check_result* key_of = nullptr;  // the result whose group `key` is the label of
    check_cycle_.restart();
    const auto matches = [](const check_entries::value_type& e, const check_result& r) {
        return e.first == r.check;
    };
    const auto lookup = [&](const check_result& r) {
        auto it = entries.find(r.check);
        if (it == entries.end()) {
            it = entries.emplace(r.check, check_entry{}).first;
            // A grouped node's results all carry their group: its checks export series per
            // group only.
            it->second.metrics =
                &env_.metrics->check(pipeline_->name, node, r.check, !r.group.empty());
        }
        return &*it;
    };
    for (const auto& r : results) {
        check_entry* e = &check_cycle_.find(r, matches, lookup)->second;
        check_metrics& m = *e->metrics;
        m.results_of(static_cast<check_outcome>(r.outcome)).Increment();
        // Event time of the window's end to the wall-clock moment its results left: once per
        // window, not once per group and check.
        if (!node_metrics_.empty() && r.window_end > 0 && r.window_end != observed_end) {
            observed_end = r.window_end;
            node_metrics_[index]->emit_delay_seconds.Observe(
                std::max<double>(0, static_cast<double>(now - r.window_end) / 1e9));
        }
        const double value =
            r.value.is_number() ? r.value.number : std::numeric_limits<double>::quiet_NaN();
        if (!r.value.is_null()) {
            m.last_result_seconds.Set(static_cast<double>(r.emitted_at) / 1e9);
        }
        if (r.group.empty()) {
            // No data: the last value would look current on a dashboard. NaN instead.
            if (m.value != nullptr && (r.value.is_number() || r.value.is_null())) {
                m.value->Set(value);
            }
            if (r.outcome == outcome::fail) {
                m.set_failing(std::string(), failing_group{{}, value});
            } else if (r.outcome != outcome::no_data) {
                m.clear_failing(std::string());
            }
            continue;
        }
        // A group's results come one after another: its label is built once.
        if (key_of == nullptr || key_of->group != r.group) {
            key.clear();
            append_group(r.group, ",", key);
            key_of = &r;
        }
        // A group beyond the series cap has none; it still counts in the failing groups.
        group_metrics* g = nullptr;
        if (!(e->capped && e->groups.empty())) g = group_series(*e, index, r.check, key, r.group);
        if (g != nullptr && (r.value.is_number() || r.value.is_null())) g->value.Set(value);
        // A check fails while any group's latest window failed; a window without data
        // changes nothing.
        if (r.outcome == outcome::fail) {
            if (g != nullptr) g->failing.Set(1);
            if (g != nullptr && g->listed.load(std::memory_order_relaxed) != nullptr) {
                m.refail(*g, value);  // failing already: no labels to build, no lookup
            } else {
                failing_group f{{}, value};
                for (const auto& [k, v] : r.group) {
                    f.group.emplace_back(k, v.kind == measure_kind::string ? v.text : to_string(v));
                }
                m.set_failing(key, std::move(f), g);
            }
        } else if (r.outcome != outcome::no_data) {
            if (g != nullptr) g->failing.Set(0);
            m.clear_failing(key, g);
        }
    }
}

// ---- metrics of the engines ----

void query::report_nodes() {
    for (std::size_t i = 0; i < plan_.chain->nodes.size(); ++i) {
        report_join(i);  // a join node without checks (derived rows) has no engine
        if (chain_->engine(i) == nullptr) continue;
        report_node(i);
        report_capped(i);
        report_drift_bound(i);
    }
}

void query::report_node(std::size_t node) {
    const engine::node_engine& e = *chain_->engine(node);
    time::timestamp_ns watermark = e.watermark();
    if (partials_) {
        // The merge chains of this daemon's partitions of the partials topic: the slowest.
        watermark = window::k_no_time;
        for (const auto& [p, m] : partials_->merges) {
            const time::timestamp_ns w = m->chain->engine(node)->watermark();
            if (w != window::k_no_time && (watermark == window::k_no_time || w < watermark)) {
                watermark = w;
            }
        }
    }
    if (node + 1 == plan_.chain->nodes.size() && watermark != window::k_no_time) {
        watermark_.store(watermark);
    }
    if (node_metrics_.empty()) return;
    node_metrics& m = *node_metrics_[node];
    // Spread over lanes, the records are counted where they are read, and valid records once:
    // by the merge step in the cells it takes, late ones included.
    engine::engine_stats now = e.stats();
    if (partials_) now += merged_stats(node);
    std::uint64_t bad_time = chain_->stats().bad_time[node];
    std::uint64_t future = chain_->stats().future_time[node];
    for (const auto& l : lanes_) {
        const lane::counts& c = l->reported;
        if (node >= c.engine.size()) continue;
        engine::engine_stats dropped = c.engine[node];
        // A lane's valid records reach the merge step in cells, which counts them, unless the
        // lane's engine dropped them (a group beyond max_groups).
        dropped.records = dropped.group_overflow;
        now += dropped;
        bad_time += c.bad_time[node];
        future += c.future_time[node];
    }
    engine::engine_stats& before = reported_stats_[node];
    m.records.Increment(static_cast<double>(now.records - before.records));
    m.late_records.Increment(static_cast<double>(now.late - before.late));
    m.dropped_by(drop_reason::late).Increment(static_cast<double>(now.late - before.late));
    // Records kept despite a schema violation are counted invalid, but they were not dropped;
    // records without a readable event time are counted invalid, and dropped for bad_time.
    // So are records refused by time.max_jump (future_time).
    const std::uint64_t new_future = future - reported_future_time_[node];
    reported_future_time_[node] = future;
    m.dropped_by(drop_reason::future_time).Increment(static_cast<double>(new_future));
    const std::uint64_t new_bad_time = bad_time - reported_bad_time_[node] + new_future;
    reported_bad_time_[node] = bad_time;
    m.dropped_by(drop_reason::bad_time).Increment(static_cast<double>(new_bad_time - new_future));
    const std::uint64_t invalid =
        (now.invalid - before.invalid) - (now.kept_invalid - before.kept_invalid);
    // (A batch the query failed on reached no engine: its bad times were counted alone.)
    m.dropped_by(drop_reason::invalid)
        .Increment(static_cast<double>(invalid > new_bad_time ? invalid - new_bad_time : 0));
    m.dropped_by(drop_reason::group_overflow)
        .Increment(static_cast<double>(now.group_overflow - before.group_overflow));
    if (now.skipped_empty_windows != before.skipped_empty_windows) {
        const std::uint64_t skipped = now.skipped_empty_windows - before.skipped_empty_windows;
        m.skipped_windows.Increment(static_cast<double>(skipped));
        const log_scope scope(log_fields_of(plan_.chain->nodes[node].name));
        record_problem_log().log(problem_key_, spdlog::level::warn,
                                 "query {}/{}: node \"{}\": the watermark jumped over a gap of "
                                 "event time; {} empty windows of its groups were skipped",
                                 pipeline_->name, plan_.name, plan_.chain->nodes[node].name,
                                 skipped);
    }
    before = now;
    if (e.watermark() != window::k_no_time) {
        m.watermark_seconds.Set(static_cast<double>(e.watermark()) / 1e9);
    }
}

void query::report_join(std::size_t node) {
    if (join_metrics_.empty() || join_metrics_[node] == nullptr) return;
    join_metrics& m = *join_metrics_[node];
    const chain::chain_stats& stats = chain_->stats();
    auto& [left, right] = reported_join_late_[node];
    m.late_left.Increment(static_cast<double>(stats.join_late_left[node] - left));
    m.late_right.Increment(static_cast<double>(stats.join_late_right[node] - right));
    left = stats.join_late_left[node];
    right = stats.join_late_right[node];
    m.buffered.Set(static_cast<double>(stats.join_buffered[node]));
}

void query::report_capped(std::size_t node) {
    const std::uint64_t capped = chain_->engine(node)->layout().capped_results();
    if (capped == capped_reported_[node]) return;
    const log_scope scope(log_fields_of(plan_.chain->nodes[node].name));
    spdlog::warn(
        "query {}/{}: node \"{}\": {} results hit the memory cap (distinct_count and "
        "unique_count are lower bounds there; above_mean_*, spearman_correlation, "
        "kendall_correlation and cramers_v have no data; reconcile() did not compare the keys "
        "past its limit and says approximate)",
        pipeline_->name, plan_.name, plan_.chain->nodes[node].name,
        capped - capped_reported_[node]);
    capped_reported_[node] = capped;
}

void query::report_drift_bound(std::size_t node) {
    const schema::drift_tracker* drift = chain_->drift(node);
    if (drift == nullptr || drift->untracked() == 0 || drift_bound_reported_[node]) return;
    // Once per node and run: the fields past the bound stay untracked for good.
    drift_bound_reported_[node] = 1;
    const log_scope scope(log_fields_of(plan_.chain->nodes[node].name));
    spdlog::warn(
        "query {}/{}: node \"{}\": its records have more than {} fields (nested ones included); "
        "the schema-drift measures do not watch the fields seen after those",
        pipeline_->name, plan_.name, plan_.chain->nodes[node].name, schema::k_max_drift_fields);
}

// ---- errors and state ----

void query::on_problem(std::size_t input, std::string_view type, const std::string& message) {
    const log_scope scope(
        log_fields_of({}, plan_.chain->inputs[input].name, to_string(input_error_from(type))));
    record_problem_log().log(problem_key_, spdlog::level::warn,
                             "query {}/{}: input \"{}\": {} ({})", pipeline_->name, plan_.name,
                             plan_.chain->inputs[input].name, message, type);
    if (!input_metrics_.empty()) {
        input_metrics_[input]->errors_of(input_error_from(type)).Increment();
    }
    count_errors(1);
}

bool query::count_errors(std::uint64_t n) {
    // `on_error` of the query's terminal node, over fixed windows of `per` wall-clock time.
    const config::query_policy& rule = plan_.policy;
    const time::timestamp_ns now = env_.clock();
    const time::timestamp_ns per = rule.error_period.count() * time::ns_per_ms;
    if (error_window_start_ == 0 || now - error_window_start_ >= per) {
        error_window_start_ = now;
        errors_in_window_ = 0;
        error_limit_reported_ = false;
        set_condition(errors_over_limit, false);
    }
    errors_in_window_ += n;
    if (errors_in_window_ <= rule.max_errors) return true;
    const std::string what = fmt::format(
        "{} bad records or input errors within {} (on_error "
        "allows {})",
        errors_in_window_, params::format_duration(rule.error_period), rule.max_errors);
    if (rule.on_error == config::error_action::stop) {
        fail(what + "; on_error.action is stop");
        return false;
    }
    set_condition(errors_over_limit, true);
    if (!error_limit_reported_) {
        error_limit_reported_ = true;
        const log_scope scope(log_fields_of());
        spdlog::warn("query {}/{}: {}; going on (on_error.action: continue)", pipeline_->name,
                     plan_.name, what);
    }
    return true;
}

void query::fail(const std::string& message, bool rebuild) {
    if (state_ == query_state::failed) return;
    state_ = query_state::failed;
    for (auto* m : node_metrics_) m->up.Set(0);
    stop_inputs();
    tick_timer_.cancel();
    checkpoint_timer_.cancel();
    pressure_timer_.cancel();
    if (events_.failed) events_.failed(message, rebuild);
}

void query::on_checkpoint_wanted() {
    if (!active() || stopping_) return;
    // A running checkpoint may hold positions from before the request: one more follows it.
    checkpoint([](bool) {});
}

void query::report_inputs() {
    const chain::chain_plan& chain = *plan_.chain;
    reported_sources_.resize(inputs_.size());
    reported_rebalances_.resize(inputs_.size(), 0);
    std::vector<source_figures> figures;
    std::string unreachable;
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        const connectors::input_status st = inputs_[i]->status();
        const std::string& input = chain.inputs[i].name;
        if (!st.connected) {
            if (!unreachable.empty()) unreachable += "; ";
            unreachable += "input \"" + input + "\": " + st.problem;
        }
        if (!st.has_sources) {
            chain_->set_input_lag(i, -1, 0);
            continue;
        }
        std::int64_t lag = 0;
        double lag_seconds = 0;
        for (const auto& s : st.sources) {
            if (s.lag < 0) {
                lag = -1;
                break;
            }
            lag += s.lag;
            lag_seconds = std::max(lag_seconds, s.lag_seconds);
        }
        chain_->set_input_lag(i, st.sources.empty() ? -1 : lag, lag_seconds);
        std::set<std::string> now;
        for (const auto& s : st.sources) {
            now.insert(s.source);
            source_figures f{.input = input, .source = s.source};
            if (s.position >= 0) f.position = s.position;
            if (s.end >= 0) f.end = s.end;
            if (s.lag >= 0) f.lag = s.lag;
            figures.push_back(std::move(f));
        }
        report_ownership(i, st);
        if (env_.metrics == nullptr) continue;
        const std::string& node = chain.nodes.back().name;
        auto split = [](const std::string& source) {
            const auto slash = source.rfind('/');
            return std::make_pair(source.substr(0, slash), source.substr(slash + 1));
        };
        for (const auto& s : st.sources) {
            const auto [topic, partition] = split(s.source);
            auto& m = env_.metrics->kafka_source(pipeline_->name, node, input, topic, partition);
            m.lag.Set(s.lag >= 0 ? static_cast<double>(s.lag) : 0.0);
            m.lag_seconds.Set(s.lag_seconds);
        }
        // Series of partitions no longer owned go at once: a stale lag is worse than none.
        for (const auto& gone : reported_sources_[i]) {
            if (now.contains(gone)) continue;
            const auto [topic, partition] = split(gone);
            env_.metrics->remove_kafka_source(pipeline_->name, node, input, topic, partition);
        }
        auto& k = env_.metrics->kafka_input(pipeline_->name, node, input);
        k.broker_up.Set(st.connected ? 1 : 0);
        if (st.rebalances > reported_rebalances_[i]) {
            k.rebalances.Increment(static_cast<double>(st.rebalances - reported_rebalances_[i]));
        }
        reported_rebalances_[i] = st.rebalances;
        reported_sources_[i] = std::move(now);
    }
    std::vector<merge_figures> merging;
    if (partials_) {
        for (const auto& [p, m] : partials_->merges) {
            merging.push_back({.partition = p,
                               .position = m->next,
                               .replaying = m->replaying(),
                               .replay_end = std::max<std::int64_t>(m->silent_until, 0)});
        }
    }
    {
        std::lock_guard lock(status_mutex_);
        sources_ = std::move(figures);
        merging_ = std::move(merging);
        unreachable_reason_ = unreachable;
    }
    set_condition(inputs_unreachable, !unreachable.empty());
}

void query::report_ownership(std::size_t input, const connectors::input_status& st) {
    // A share of a topic: the other members of the consumer group read the rest, and each
    // emits windows of its own partitions under the same ids (without a partials_topic, several
    // daemons do not merge their windows). Said when the share changes, not while a rebalance
    // is under way.
    if (st.partitions_total <= 0 || st.sources.empty()) return;
    if (partials_ && input == partials_->input) return;  // several daemons merge their shares
    reported_ownership_.resize(inputs_.size(), {0, -1});
    const std::pair<std::size_t, std::int64_t> now{st.sources.size(), st.partitions_total};
    auto& before = reported_ownership_[input];
    if (now == before) return;
    const bool part = static_cast<std::int64_t>(now.first) < now.second;
    const bool was_part =
        before.second > 0 && static_cast<std::int64_t>(before.first) < before.second;
    before = now;
    const std::string& name = plan_.chain->inputs[input].name;
    if (part) {
        spdlog::warn(
            "query {}/{}: input \"{}\" holds {} of the {} partitions of its topics: the other "
            "members of its consumer group read the rest, so the windows of this daemon count "
            "the records of these partitions only, and the other members emit windows of the "
            "same ids; to merge them, give the input a partials_topic, or run one daemon per "
            "consumer group",
            pipeline_->name, plan_.name, name, now.first, now.second);
    } else if (was_part) {
        spdlog::info("query {}/{}: input \"{}\" holds all {} partitions of its topics again",
                     pipeline_->name, plan_.name, name, now.second);
    }
}

std::vector<dependency_status> query::dependencies() const {
    std::lock_guard lock(status_mutex_);
    return dependencies_;
}

std::vector<std::string> query::ended_inputs() const {
    std::lock_guard lock(status_mutex_);
    return ended_inputs_;
}

void query::report_dependencies() {
    const chain::chain_plan& chain = *plan_.chain;
    std::vector<dependency_status> now;
    for (std::size_t n = 0; n < chain.nodes.size(); ++n) {
        const auto deps = chain_->dependencies(n);
        for (std::size_t k = 0; k < deps.size(); ++k) {
            const window::dependency_monitor& d = deps[k];
            dependency_status st{.node = chain.nodes[n].name,
                                 .input = d.spec().input,
                                 .state = window::to_string(d.state()),
                                 .hold_expired = d.hold_expired()};
            if (d.lag() != std::numeric_limits<time::timestamp_ns>::max()) {
                st.lag_seconds = static_cast<double>(d.lag()) / 1e9;
            }
            if (env_.metrics != nullptr) {
                input_metrics& m =
                    env_.metrics->input(pipeline_->name, chain.nodes[n].name, d.spec().input);
                const bool down = d.state() == window::dependency_state::down ||
                                  d.state() == window::dependency_state::held;
                m.dependency_down.Set(down ? 1 : 0);
                m.dependency_lag_seconds.Set(
                    st.lag_seconds ? *st.lag_seconds : std::numeric_limits<double>::infinity());
                std::uint64_t& before = reported_holds_expired_[n][k];
                if (d.holds_expired() > before) {
                    m.dependency_holds_expired.Increment(
                        static_cast<double>(d.holds_expired() - before));
                    before = d.holds_expired();
                }
            }
            now.push_back(std::move(st));
        }
    }
    std::lock_guard lock(status_mutex_);
    dependencies_ = std::move(now);
}

void query::on_dependency(std::size_t node, std::size_t dependency,
                          window::dependency_state before) {
    if (!chain_) return;  // the chain is being built
    const chain::chain_plan& chain = *plan_.chain;
    const window::dependency_monitor& d = chain_->dependencies(node)[dependency];
    const std::string& name = chain.nodes[node].name;
    const log_scope scope(log_fields_of(name));
    const double lag = d.lag() == std::numeric_limits<time::timestamp_ns>::max()
                           ? std::numeric_limits<double>::infinity()
                           : static_cast<double>(d.lag()) / 1e9;
    using window::dependency_state;
    switch (d.state()) {
        case dependency_state::held:
            spdlog::warn(
                "query {}/{}: node \"{}\": dependency \"{}\" is down (its event time trails by "
                "{:.0f} s, and it is not catching up); the node's windows wait for it "
                "(on_down: hold)",
                pipeline_->name, plan_.name, name, d.spec().input, lag);
            break;
        case dependency_state::down:
            if (finishing_) {
                spdlog::warn(
                    "query {}/{}: node \"{}\": every input ended while dependency \"{}\" "
                    "trails by {:.0f} s; the windows closed now are evaluated without it, their "
                    "results flagged dependency_down",
                    pipeline_->name, plan_.name, name, d.spec().input, lag);
            } else if (d.hold_expired()) {
                spdlog::warn(
                    "query {}/{}: node \"{}\": dependency \"{}\" is still down after max_hold; "
                    "the node's windows close without it, their results flagged "
                    "dependency_down",
                    pipeline_->name, plan_.name, name, d.spec().input);
            } else {
                spdlog::warn(
                    "query {}/{}: node \"{}\": dependency \"{}\" is down (its event time trails "
                    "by {:.0f} s, and it is not catching up); results are flagged "
                    "dependency_down (on_down: continue)",
                    pipeline_->name, plan_.name, name, d.spec().input, lag);
            }
            break;
        case dependency_state::catching_up:
            if (std::isinf(lag)) {
                spdlog::info(
                    "query {}/{}: node \"{}\": dependency \"{}\" has no record yet; the node's "
                    "windows wait for it",
                    pipeline_->name, plan_.name, name, d.spec().input);
            } else {
                spdlog::info(
                    "query {}/{}: node \"{}\": dependency \"{}\" is behind by {:.0f} s and "
                    "catching up",
                    pipeline_->name, plan_.name, name, d.spec().input, lag);
            }
            break;
        case dependency_state::up:
            spdlog::info("query {}/{}: node \"{}\": dependency \"{}\" is up{}", pipeline_->name,
                         plan_.name, name, d.spec().input,
                         before == dependency_state::held
                             ? " again; the windows that waited for it are "
                               "evaluated with its data"
                         : before == dependency_state::down ? " again"
                                                            : "");
            break;
        case dependency_state::ended:
            spdlog::info("query {}/{}: node \"{}\": dependency \"{}\" ended its stream",
                         pipeline_->name, plan_.name, name, d.spec().input);
            break;
    }
}

void query::on_stream_end(std::size_t input) {
    const chain::chain_plan& chain = *plan_.chain;
    {
        const log_scope scope(log_fields_of());
        spdlog::info("query {}/{}: input \"{}\" ended its stream (a record matched end_when)",
                     pipeline_->name, plan_.name, chain.inputs[input].name);
    }
    if (!input_metrics_.empty()) input_metrics_[input]->stream_ended.Set(1);
    {
        std::lock_guard lock(status_mutex_);
        ended_inputs_.push_back(chain.inputs[input].name);
    }
    // Called from inside the input's delivery: it is stopped once that returned.
    boost::asio::post(strand_, [self = shared_from_this(), input] {
        if (!self->active() || self->stopping_ || self->ended_[input]) return;
        self->inputs_[input]->stop();
        self->ended_[input] = true;
        if (!self->env_.once) return;
        for (bool e : self->ended_) {
            if (!e) return;
        }
        self->finish_once();
    });
}

std::vector<source_figures> query::sources() const {
    std::lock_guard lock(status_mutex_);
    return sources_;
}

std::vector<merge_figures> query::merging() const {
    std::lock_guard lock(status_mutex_);
    return merging_;
}

void query::stop_inputs() {
    for (auto& in : inputs_) in->stop();
    if (partials_) partials_->channel->stop();
}

void query::checkpoint_failed(failure_log& log, const std::string& what) {
    if (!node_metrics_.empty()) node_metrics_.back()->checkpoint_failures.Increment();
    // Checkpoints come every interval: a failure that lasts is logged once a minute.
    if (const auto unlogged = log.failed(what)) {
        const log_scope scope(log_fields_of());
        spdlog::error("query {}/{}: {}{}", pipeline_->name, plan_.name, what,
                      failure_log::again(*unlogged));
    }
}

void query::checkpoint_recovered(failure_log& log, const char* what) {
    if (const auto failures = log.succeeded()) {
        const log_scope scope(log_fields_of());
        spdlog::info("query {}/{}: {} again, after {} failed", pipeline_->name, plan_.name, what,
                     failures);
    }
}

std::string query::degraded_reason() const {
    const unsigned c = conditions_.load();
    std::string out;
    auto add = [&](unsigned bit, const char* text) {
        if ((c & bit) == 0) return;
        if (!out.empty()) out += "; ";
        out += text;
    };
    add(outputs_full, "outputs full (buffer.max_records)");
    if ((c & outputs_full) != 0) {
        // Why they are full, when they cannot deliver (outputs_ is complete once a condition
        // is set).
        for (std::size_t o = 0; o < outputs_.size(); ++o) {
            const std::string blocked = outputs_[o] ? outputs_[o]->blocked() : std::string();
            if (!blocked.empty()) {
                out += "; output \"" + plan_.chain->outputs[o] + "\" blocked: " + blocked;
            }
        }
    }
    add(checkpoint_failing, "the last checkpoint failed");
    add(errors_over_limit, "bad records over on_error.max_errors");
    if ((c & inputs_unreachable) != 0) {
        std::lock_guard lock(status_mutex_);
        if (!out.empty()) out += "; ";
        out += unreachable_reason_;
    }
    return out;
}

void query::set_condition(condition c, bool on) {
    const unsigned before = conditions_.load();
    const unsigned after = on ? (before | c) : (before & ~static_cast<unsigned>(c));
    if (after == before) return;
    conditions_ = after;
    // Only running <-> degraded: starting, failed, stopped and finished are left alone.
    query_state expected = after != 0 ? query_state::running : query_state::degraded;
    const query_state next = after != 0 ? query_state::degraded : query_state::running;
    if (state_.compare_exchange_strong(expected, next)) {
        if (next == query_state::degraded) {
            const log_scope scope(log_fields_of());
            spdlog::warn("query {}/{} degraded: {}", pipeline_->name, plan_.name,
                         degraded_reason());
        } else {
            const log_scope scope(log_fields_of());
            spdlog::info("query {}/{} running again", pipeline_->name, plan_.name);
        }
    }
}

// ---- back-pressure ----

void query::apply_back_pressure() {
    const config::query_policy& rule = plan_.policy;
    const std::uint64_t max = rule.buffer_max_records;
    bool full = false;
    bool any_output = false;
    any_shedding_ = false;
    for (std::size_t o = 0; o < outputs_.size(); ++o) {
        if (!outputs_[o]) continue;
        any_output = true;
        const std::uint64_t pending = outputs_[o]->pending();
        if (rule.when_full == config::full_action::drop_newest) {
            // Sheds until the output is below its capacity again.
            shedding_[o] = pending >= max;
            any_shedding_ = any_shedding_ || shedding_[o];
        } else if (rule.when_full == config::full_action::drop_oldest && pending > max) {
            if (!node_metrics_.empty()) {
                node_metrics_.back()
                    ->dropped_by(drop_reason::buffer_full)
                    .Increment(static_cast<double>(pending - max));
            }
            outputs_[o]->drop_oldest(pending - max);
        }
        full = full || pending >= max;
    }
    if (!any_output) return;
    set_condition(outputs_full, full || paused_);
    if (rule.when_full == config::full_action::block && full && !paused_) {
        paused_ = true;
        for (auto& in : inputs_) in->pause();
        const log_scope scope(log_fields_of());
        spdlog::warn("query {}/{}: outputs hold {} or more records: reading paused",
                     pipeline_->name, plan_.name, max);
        poll_back_pressure();
    } else if (rule.when_full != config::full_action::block && full && any_shedding_) {
        poll_back_pressure();  // to see when shedding can stop without new input
    }
}

void query::poll_back_pressure() {
    pressure_timer_.expires_after(std::chrono::milliseconds(20));
    pressure_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || !self->active() || self->stopping_) return;
        const std::uint64_t max = self->plan_.policy.buffer_max_records;
        if (!self->paused_) {
            self->apply_back_pressure();
            return;
        }
        // Resumes once every output is down to half its capacity, not at the first free slot.
        for (const auto& out : self->outputs_) {
            if (out && out->pending() > max / 2) {
                self->poll_back_pressure();
                return;
            }
        }
        self->paused_ = false;
        self->set_condition(outputs_full, false);
        const log_scope scope(self->log_fields_of());
        spdlog::info("query {}/{}: outputs drained: reading resumed", self->pipeline_->name,
                     self->plan_.name);
        self->resume_reading();
    });
}

// ---- timers and checkpoints ----

void query::schedule_tick() {
    tick_timer_.expires_after(std::chrono::seconds(1));
    tick_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || !self->active() || self->stopping_) return;
        if (!self->snapshot_) {  // the chain's time stands still while it is being saved
            self->chain_->advance(self->env_.clock());
            self->advance_merges(self->env_.clock());
            self->report_nodes();
        }
        record_problem_log().flush_expired();
        self->apply_back_pressure();
        self->report_inputs();
        self->report_dependencies();
        self->schedule_tick();
    });
}

void query::schedule_checkpoint() {
    if (env_.checkpoints == nullptr) return;
    checkpoint_timer_.expires_after(env_.checkpoint_interval);
    checkpoint_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || !self->active() || self->stopping_ || self->finishing_) return;
        self->checkpoint([self](bool) {
            // Once every input ended, the final checkpoint owns the timer (final_checkpoint()).
            if (self->active() && !self->stopping_ && !self->finishing_) {
                self->schedule_checkpoint();
            }
        });
    });
}

void query::checkpoint(std::function<void(bool ok)> then) {
    if (partials_) {
        checkpoint_shared(std::move(then));
        return;
    }
    if (lanes_.empty() || lanes_finished_) {
        checkpoint_now(std::move(then));
        return;
    }
    // What the lanes hold goes to the merge step first: the checkpoint then has it all, and
    // the lanes nothing it must keep.
    drain_lanes([](chain::node_chain& c) { c.hand_over_all(); },
                [self = shared_from_this(), then = std::move(then)]() mutable {
                    self->checkpoint_now(std::move(then));
                });
}

void query::checkpoint_now(std::function<void(bool ok)> then) {
    if (checkpoint_running_) {
        // One at a time: a fresh one follows the running one for every caller that waits.
        queued_checkpoints_.push_back(std::move(then));
        return;
    }
    checkpoint_running_ = true;
    // The state now; outputs are flushed before it is written, so no result produced before
    // this moment can be lost behind the checkpoint.
    auto data = std::make_shared<checkpoint::checkpoint_data>();
    data->plan_fingerprint = plan_.fingerprint;
    data->written_at = env_.clock();
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        data->inputs.emplace_back(plan_.chain->inputs[i].name, inputs_[i]->position());
    }
    // Without checkpoints only the flush is left: no state to snapshot.
    if (!chain_ || env_.checkpoints == nullptr) {
        write_checkpoint(std::move(data), std::move(then));
        return;
    }
    // The chain's state in slices, each its own turn of the strand, so a large state never
    // holds the thread long (with --threads 1, /health shares it). Nothing may reach the
    // chain meanwhile: the inputs pause, ticks wait.
    snapshot_ = std::make_shared<snapshot_job>();
    snapshot_->data = std::move(data);
    snapshot_->then = std::move(then);
    // The file is opened at once and each slice's bytes written as they come: renamed into
    // place only once the outputs have flushed (write_checkpoint).
    snapshot_->file = std::make_shared<checkpoint_file>();
    on_writer([self = shared_from_this(), file = snapshot_->file, data = snapshot_->data] {
        const auto started = std::chrono::steady_clock::now();
        file->out.open(*self->env_.checkpoints, self->pipeline_->name, self->plan_.name, *data);
        file->write_seconds += seconds_since(started);
    });
    if (!stopping_ && !paused_) {
        for (auto& in : inputs_) in->pause();
    }
    snapshot_step();
}

void query::on_writer(std::function<void()> work) {
    if (writer_) {
        asio::post(*writer_, std::move(work));
    } else {
        work();
    }
}

void query::hand_over(snapshot_job& job) {
    struct step {
        enum kind_t : std::uint8_t { begin, bytes, end } kind;
        std::string text;  // begin: the section's name; bytes: the bytes
    };
    auto steps = std::make_shared<std::vector<step>>();
    checkpoint_file& file = *job.file;
    auto& progress = job.progress;
    for (; file.handed < progress.done.size(); ++file.handed) {
        auto& [name, pieces] = progress.done[file.handed];
        if (file.streaming != name) {
            WEIR_ASSERT(file.streaming.empty(), "a section handed over in part never ended");
            steps->push_back({step::begin, name});
        }
        for (std::string& p : pieces) steps->push_back({step::bytes, std::move(p)});
        pieces = {};
        steps->push_back({step::end, {}});
        file.streaming.clear();
    }
    if (!progress.pieces.empty()) {
        if (file.streaming.empty()) {
            file.streaming = progress.section;
            steps->push_back({step::begin, progress.section});
        }
        for (std::string& p : progress.pieces) steps->push_back({step::bytes, std::move(p)});
        progress.pieces.clear();
    }
    if (steps->empty()) return;
    on_writer([file = job.file, steps] {
        const auto started = std::chrono::steady_clock::now();
        for (step& s : *steps) {
            switch (s.kind) {
                case step::begin:
                    file->out.begin_section(s.text);
                    break;
                case step::bytes:
                    file->out.append(s.text);
                    s.text = {};  // freed as soon as written
                    break;
                case step::end:
                    file->out.end_section();
                    break;
            }
        }
        file->write_seconds += seconds_since(started);
    });
}

void query::snapshot_step() {
    if (!snapshot_) return;
    engine::node_engine::slice_budget budget;
    budget.deadline = std::chrono::steady_clock::now() + k_snapshot_slice;
    budget.bytes = k_snapshot_slice_bytes;
    const bool finished = chain_->snapshot_some(snapshot_->progress, budget);
    hand_over(*snapshot_);
    if (!finished) {
        asio::post(strand_, [self = shared_from_this(), job = snapshot_] {
            if (self->snapshot_ == job) self->snapshot_step();
        });
        return;
    }
    finish_snapshot();
}

void query::finish_snapshot() {
    if (!snapshot_) return;
    engine::node_engine::slice_budget budget;
    budget.bytes = k_snapshot_slice_bytes;
    for (bool finished = false; !finished;) {
        finished = chain_->snapshot_some(snapshot_->progress, budget);
        hand_over(*snapshot_);
    }
    auto job = std::move(snapshot_);
    snapshot_.reset();
    resume_reading();
    write_checkpoint(std::move(job->data), std::move(job->then), std::move(job->file));
}

void query::write_checkpoint(std::shared_ptr<checkpoint::checkpoint_data> data,
                             std::function<void(bool ok)> then,
                             std::shared_ptr<checkpoint_file> file) {
    // After the write, on the strand: the inputs may acknowledge what the file covers.
    auto written = [self = shared_from_this(), data, then](bool ok, double seconds,
                                                           const std::string& error) {
        self->checkpoint_write_failed_ = !ok && !error.empty();
        if (ok && self->env_.checkpoints == nullptr) {
            self->checkpoint_error_.clear();
        } else if (ok) {
            self->checkpoint_error_.clear();
            self->checkpoint_recovered(self->checkpoint_failures_, "checkpoint written");
            ++self->counters_.checkpoints;
            if (!self->node_metrics_.empty()) {
                node_metrics& m = *self->node_metrics_.back();
                m.checkpoint_duration_seconds.Observe(seconds);
                m.checkpoint_last_success_seconds.Set(static_cast<double>(data->written_at) / 1e9);
            }
            for (std::size_t i = 0; i < self->inputs_.size(); ++i) {
                self->inputs_[i]->committed(data->inputs[i].second);
            }
        } else if (!error.empty()) {
            self->checkpoint_error_ = error;
            self->checkpoint_failed(self->checkpoint_failures_, "checkpoint failed: " + error);
        }
        self->checkpoint_running_ = false;
        self->set_condition(checkpoint_failing, !ok);
        then(ok);
        if (!self->queued_checkpoints_.empty()) {
            auto waiting = std::move(self->queued_checkpoints_);
            self->queued_checkpoints_.clear();
            self->checkpoint([waiting](bool next_ok) {
                for (const auto& f : waiting) f(next_ok);
            });
        }
    };
    auto write = [self = shared_from_this(), data, written, file](bool flushed,
                                                                  const std::string& why) {
        self->outputs_unflushed_ = !flushed;
        if (!flushed) {
            self->checkpoint_failed(self->checkpoint_failures_,
                                    "checkpoint skipped: an output could not flush: " + why);
            self->checkpoint_error_ = "skipped: an output could not flush: " + why;
            // The file written so far goes, before the next checkpoint may begin one.
            self->on_writer([self, file, written] {
                if (file) file->out.abandon();
                asio::post(self->strand_, [written] { written(false, 0, ""); });
            });
            return;
        }
        // Writing, fsyncs and the rename block: off the loop threads when there is where,
        // after the slices' bytes.
        self->on_writer([self, data, written, file]() {
            std::string error;
            const auto started = std::chrono::steady_clock::now();
            bool ok = true;
            if (file) {
                ok = file->out.commit(error);
            } else if (self->env_.checkpoints != nullptr) {
                ok = self->env_.checkpoints->write(self->pipeline_->name, self->plan_.name, *data,
                                                   error);
            }
            // The state's bytes are freed here, not on a loop thread.
            data->sections = {};
            const double seconds = (file ? file->write_seconds : 0) + seconds_since(started);
            asio::post(self->strand_,
                       [written, ok, seconds, error] { written(ok, seconds, error); });
        });
    };
    flush_outputs(std::move(write));
}

void query::flush_outputs(std::function<void(bool ok, const std::string& error)> then) {
    struct pending_flush {
        std::size_t left = 0;
        bool ok = true;
        std::string error;
    };
    std::vector<std::shared_ptr<connectors::output>> outputs;
    for (const auto& out : outputs_) {
        if (out) outputs.push_back(out);
    }
    if (outputs.empty()) {
        then(true, "");
        return;
    }
    auto pending = std::make_shared<pending_flush>();
    pending->left = outputs.size();
    for (auto& out : outputs) {
        out->flush([this_strand = strand_, pending, then](bool ok, const std::string& error) {
            asio::post(this_strand, [pending, then, ok, error] {
                if (!ok) {
                    pending->ok = false;
                    pending->error = error;
                }
                if (--pending->left == 0) then(pending->ok, pending->error);
            });
        });
    }
}

void query::command_history(engine::history_command cmd, std::string node, std::string check,
                            std::optional<group_key> group, history_done done) {
    asio::post(
        strand_, [self = shared_from_this(), cmd, node = std::move(node), check = std::move(check),
                  group = std::move(group), done = std::move(done)] {
            if (!self->active() || self->stopping_ || !self->chain_) {
                done(std::nullopt,
                     fmt::format("query {}/{} is {}", self->pipeline_->name, self->plan_.name,
                                 self->stopping_ ? "stopping" : to_string(self->state_.load())));
                return;
            }
            // A snapshot under way is taken before the history changes (as before a delivery).
            self->finish_snapshot();
            const auto series =
                self->chain_->command_history(cmd, node, check, group ? &*group : nullptr);
            if (!series) {
                done(std::nullopt,
                     fmt::format("node \"{}\" of query {}/{} has no {} against history", node,
                                 self->pipeline_->name, self->plan_.name,
                                 check.empty() ? std::string("check") : "check \"" + check + "\""));
                return;
            }
            done(series, "");
            if (self->env_.checkpoints != nullptr && !self->finishing_)
                self->checkpoint([](bool) {});
        });
}

void query::stop(std::function<void(const std::string& write_error)> done) {
    asio::post(strand_, [self = shared_from_this(), done = std::move(done)] {
        if (self->stopping_) return;
        self->stopping_ = true;
        self->stop_inputs();
        self->tick_timer_.cancel();
        self->checkpoint_timer_.cancel();
        self->pressure_timer_.cancel();
        if (!self->active()) {
            done("");
            return;
        }
        self->checkpoint([self, done](bool ok) {
            self->state_ = query_state::stopped;
            done(!ok && self->checkpoint_write_failed_ ? self->checkpoint_error_ : "");
        });
    });
}

}  // namespace weir::daemon
