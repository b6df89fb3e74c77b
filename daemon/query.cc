// A managed query at run time; see query.h.
#include "daemon/query.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cstring>

#include "core/checkpoint/byte_codec.h"
#include "daemon/logging.h"

namespace weir::daemon {

namespace asio = boost::asio;

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

// Checkpoint entries beside the input positions: "csv_header:<input>" holds the header row
// of a CSV input (input names cannot contain ':').
static const std::string k_csv_header = "csv_header:";

// A record the node works with: valid, or kept despite a schema violation.
static bool usable(invalid_reason r) {
    return r == invalid_reason::none || r == invalid_reason::schema_kept;
}

// Records on their way through the node chain, with the raw line of each (for late_output,
// dead letters and derived records whose transforms did not reshape them).
struct query::flow {
    record_batch batch;
    std::vector<std::string_view> raw;  // JSON lines, or CSV rows when `csv` is set
    decode::csv_decoder* csv = nullptr;

    void copy_from(const flow& other) {
        batch.slots = other.batch.slots;
        batch.values = other.batch.values;
        batch.status = other.batch.status;
        raw = other.raw;
        csv = other.csv;
    }

    // Keeps the records for which keep(i) is true, in order.
    template <class Keep>
    std::size_t compact(Keep keep) {
        std::size_t out = 0;
        const std::size_t n = batch.size();
        for (std::size_t i = 0; i < n; ++i) {
            if (!keep(i)) continue;
            if (out != i) {
                std::memmove(batch.values.data() + out * batch.slots,
                             batch.values.data() + i * batch.slots,
                             batch.slots * sizeof(field_value));
                batch.status[out] = batch.status[i];
                raw[out] = raw[i];
            }
            ++out;
        }
        const std::size_t dropped = n - out;
        batch.values.resize(out * batch.slots);
        batch.status.resize(out);
        raw.resize(out);
        return dropped;
    }
};

class query::input_adapter final : public connectors::input_events {
  public:
    input_adapter(query& q, std::size_t index) : query_(q), index_(index) {}
    void on_data(std::string_view records) override { query_.on_data(index_, records); }
    void on_end() override { query_.on_end(index_); }
    void on_problem(std::string_view type, const std::string& message) override {
        query_.on_problem(index_, type, message);
    }
    void on_failure(const std::string& message) override {
        query_.fail("input \"" + query_.plan_.inputs[index_]->name + "\": " + message);
    }

  private:
    query& query_;
    std::size_t index_;
};

query::query(compiled_query plan, const config::pipeline_config& pipeline, query_environment env,
             listener events)
    : plan_(std::move(plan)),
      pipeline_(pipeline),
      env_(std::move(env)),
      events_(std::move(events)),
      strand_(asio::make_strand(*env_.io)),
      tick_timer_(strand_),
      checkpoint_timer_(strand_),
      pressure_timer_(strand_) {}

query::~query() = default;

bool query::critical() const {
    for (const auto& n : plan_.nodes) {
        if (n.config->critical) return true;
    }
    return false;
}

void query::start() {
    asio::post(strand_, [self = shared_from_this()] { self->do_start(); });
}

void query::do_start() {
    const time::timestamp_ns now = env_.clock();
    decode::json_decoder_options options;
    options.number_text_slots = plan_.number_text_slots;

    // Readers of every source, in node order.
    readers_of_node_.assign(plan_.nodes.size(), {});
    for (std::size_t i = 0; i < plan_.nodes.size(); ++i) {
        const auto& from = plan_.nodes[i].from;
        for (std::size_t s = 0; s < from.size(); ++s) readers_of_input_[from[s]].emplace_back(i, s);
    }

    try {
        for (const auto& node : plan_.nodes) {
            engines_.push_back(node.plan ? std::make_unique<engine::node_engine>(*node.plan, now)
                                         : nullptr);
            schemas_.push_back(node.schema ? std::make_unique<schema::record_schema>(*node.schema)
                                           : nullptr);
        }
        for (std::size_t i = 0; i < plan_.inputs.size(); ++i) {
            const config::input_config& in = *plan_.inputs[i];
            const params::reader params(*in.info->spec, in.params);
            if (params.spec().find("max_line_length")) {
                options.max_record_size = params.size("max_line_length").value;
            }
            csv_.push_back(nullptr);
            csv_carry_.emplace_back();
            if (params.spec().find("format") && params.string("format").value == "csv") {
                decode::csv_decoder_options csv;
                csv.max_record_size = options.max_record_size;
                if (auto c = params.object("csv")) {
                    const std::string delimiter = c->string("delimiter").value;
                    const std::string quote = c->string("quote").value;
                    if (delimiter.size() == 1) csv.delimiter = delimiter[0];
                    if (delimiter == "\\t" || delimiter == "tab") csv.delimiter = '\t';
                    if (quote.size() == 1) csv.quote = quote[0];
                    csv.header = c->boolean("header").value;
                    for (const auto& col : c->strings("columns")) csv.columns.push_back(col.value);
                    for (const auto& v : c->strings("null_values"))
                        csv.null_values.push_back(v.value);
                }
                csv_.back() = std::make_unique<decode::csv_decoder>(plan_.decode_fields, csv);
            }
            auto factory = env_.factories->inputs.find(in.type.value);
            if (factory == env_.factories->inputs.end()) {
                throw std::runtime_error("input \"" + in.name + "\": type " + in.type.value +
                                         " is not supported by the runtime yet");
            }
            connectors::input_context ctx;
            ctx.executor = strand_;
            ctx.pipeline = plan_.pipeline;
            ctx.query = plan_.name;
            ctx.input = in.name;
            ctx.once = env_.once;
            ctx.clock = env_.clock;
            ctx.max_record_size = options.max_record_size;
            inputs_.push_back(factory->second(params, ctx));
            if (env_.once && !inputs_.back()->bounded()) {
                throw std::runtime_error("input \"" + in.name + "\" (" + in.type.value +
                                         ") never ends, so --once cannot finish");
            }
        }
    } catch (const std::exception& e) {
        fail(e.what());
        return;
    }
    decoder_ = std::make_unique<decode::json_decoder>(plan_.decode_fields, options);
    // Results go out while a window closes for many groups, not all at its end.
    for (std::size_t i = 0; i < engines_.size(); ++i) {
        if (!engines_[i]) continue;
        engines_[i]->set_result_flush(4096, [this, i](std::vector<check_result>& out) {
            if (&out == &results_) dispatch(plan_.nodes[i]);
        });
    }

    std::string error;
    if (!restore(error)) {
        fail(error);
        return;
    }
    if (env_.metrics) {
        const std::string& terminal = plan_.nodes.back().config->name;
        for (const auto& node : plan_.nodes) {
            node_metrics_.push_back(&env_.metrics->node(plan_.pipeline, node.config->name));
            node_metrics_.back()->up.Set(1);
        }
        for (const auto* in : plan_.inputs) {
            input_metrics_.push_back(&env_.metrics->input(plan_.pipeline, terminal, in->name));
        }
        reported_stats_.assign(plan_.nodes.size(), {});
        check_entries_.resize(plan_.nodes.size());
    }
    for (const auto& name : plan_.outputs) {
        if (auto it = env_.outputs.find(name); it != env_.outputs.end()) {
            written_.emplace_back(name, it->second);
        }
    }
    problem_key_ = plan_.pipeline + "/" + plan_.name + ": bad records";
    ended_.assign(inputs_.size(), false);
    capped_reported_.assign(plan_.nodes.size(), 0);
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        adapters_.push_back(std::make_unique<input_adapter>(*this, i));
    }
    state_ = query_state::running;
    spdlog::info("query {}/{} running ({} inputs, {} nodes)", plan_.pipeline, plan_.name,
                 inputs_.size(), plan_.nodes.size());
    for (std::size_t i = 0; i < inputs_.size(); ++i) inputs_[i]->start(*adapters_[i]);
    schedule_tick();
    schedule_checkpoint();
}

bool query::restore(std::string& error) {
    checkpoint::checkpoint_data data;
    const auto status = env_.checkpoints->load(plan_.pipeline, plan_.name, data, error);
    const std::string file = env_.checkpoints->path(plan_.pipeline, plan_.name);
    const std::string way_out = "; to start this query afresh run: weir run --reset-checkpoint " +
                                plan_.pipeline + "/" + plan_.name + " …";
    if (status == checkpoint_store::load_status::absent) return true;
    if (status == checkpoint_store::load_status::invalid) {
        error = "checkpoint " + error + way_out;
        return false;
    }
    const bool same_plan = data.plan_fingerprint == plan_.fingerprint;
    if (!same_plan && !env_.plan_changed) {
        error = "checkpoint " + file +
                " was written for a different plan of this query (the "
                "pipeline changed while weir was stopped)" +
                way_out;
        return false;
    }
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
        const std::string& name = plan_.inputs[i]->name;
        for (const auto& [saved, header] : data.inputs) {
            if (csv_[i] && saved == k_csv_header + name) csv_[i]->set_header(header);
        }
        for (const auto& [saved, position] : data.inputs) {
            if (saved != name) continue;
            std::string why;
            if (!inputs_[i]->restore(position, why)) {
                if (!same_plan) break;  // a changed input starts afresh
                error = "checkpoint " + file + ": input \"" + name + "\": " + why + way_out;
                return false;
            }
        }
    }
    if (!same_plan) {
        spdlog::warn(
            "query {}/{}: its plan changed; open windows of the old plan are dropped, "
            "inputs resume where they were",
            plan_.pipeline, plan_.name);
        return true;
    }
    for (std::size_t i = 0; i < plan_.nodes.size(); ++i) {
        if (!engines_[i]) continue;
        for (const auto& [node, bytes] : data.nodes) {
            if (node != plan_.nodes[i].config->name) continue;
            byte_reader r(bytes);
            if (!engines_[i]->restore(r)) {
                error = "checkpoint " + file + ": the state of node \"" + node + "\" is corrupt" +
                        way_out;
                return false;
            }
        }
    }
    spdlog::info("query {}/{} resumed from {}", plan_.pipeline, plan_.name, file);
    return true;
}

void query::decode_csv(std::size_t input, std::string_view data, bool end_of_data, flow& f) {
    // The decoder reads past the end (padding), and a record may span deliveries: decode
    // from the carried bytes plus the new ones, keep what is not consumed.
    csv_buffer_.assign(csv_carry_[input]);
    csv_buffer_.append(data);
    const std::size_t size = csv_buffer_.size();
    csv_buffer_.append(decode::json_decoder::padding(), '\0');
    f.csv = csv_[input].get();
    const auto result = f.csv->decode({csv_buffer_.data(), size}, f.batch, end_of_data, &f.raw);
    csv_carry_[input].assign(csv_buffer_.data() + result.consumed, size - result.consumed);
    // The batch's strings and the rows point into csv_buffer_, which stays as it is until the
    // next call; the carried rest was copied out above.
}

void query::on_data(std::size_t input, std::string_view data) {
    if (!active() || stopping_) return;
    // One flow for every delivery: its vectors keep their capacity (no allocation and page
    // faults per buffer).
    if (!data_flow_) data_flow_ = std::make_unique<flow>();
    flow& f = *data_flow_;
    f.batch.clear();
    f.raw.clear();
    f.csv = nullptr;
    f.batch.slots = decoder_->slots();
    if (csv_[input]) {
        decode_csv(input, data, false, f);
    } else {
        decoder_->decode_lines(data, f.batch, &f.raw);
    }
    accept(input, data.size(), f);
    apply_back_pressure();
}

void query::accept(std::size_t input, std::size_t bytes, flow& f) {
    std::uint64_t invalid = 0;
    for (auto s : f.batch.status) invalid += s != invalid_reason::none;
    counters_.input_records += f.batch.size();
    counters_.input_bytes += bytes;
    counters_.invalid_records += invalid;
    if (!input_metrics_.empty()) {
        input_metrics_[input]->records.Increment(static_cast<double>(f.batch.size()));
        input_metrics_[input]->bytes.Increment(static_cast<double>(bytes));
        if (invalid > 0) {
            input_metrics_[input]
                ->errors_of(input_error::decode)
                .Increment(static_cast<double>(invalid));
        }
    }
    if (invalid > 0) {
        // The first bad record of the delivery stands for the others (counted in metrics);
        // its content is not logged: records may carry personal data.
        std::size_t first = 0;
        while (f.batch.status[first] == invalid_reason::none) ++first;
        record_problem_log().log(problem_key_, spdlog::level::warn,
                                 "query {}/{}: input \"{}\": {} of {} records invalid ({}, "
                                 "e.g. record {} of the delivery)",
                                 plan_.pipeline, plan_.name, plan_.inputs[input]->name, invalid,
                                 f.batch.size(), to_string(f.batch.status[first]), first + 1);
        if (!count_errors(invalid)) return;
    }
    route(plan_.inputs[input]->name, f);
}

void query::route(const std::string& source, flow& f) {
    auto it = readers_of_input_.find(source);
    if (it == readers_of_input_.end()) return;
    const auto& readers = it->second;
    for (std::size_t r = 0; r < readers.size(); ++r) {
        if (r + 1 == readers.size()) {
            run_node(readers[r].first, readers[r].second, f);
        } else {
            flow copy;  // another reader transforms its own copy
            copy.copy_from(f);
            run_node(readers[r].first, readers[r].second, copy);
        }
    }
}

void query::run_node(std::size_t index, std::size_t source_index, flow& f) {
    const compiled_node& node = plan_.nodes[index];
    scratch_.reset();
    if (const schema::record_schema* rules = schemas_[index].get()) {
        const auto summary = rules->check(f.batch, verdicts_, schema_stats_);
        if (summary.invalid > 0) {
            std::size_t first_bad = 0;
            while (!verdicts_.invalid(first_bad)) ++first_bad;
            if (node.schema->on_invalid == schema::invalid_action::fail) {
                fail("node \"" + node.config->name + "\": a record violates the schema (" +
                     std::string(rules->reason(verdicts_.first[first_bad])) +
                     "); schema.on_invalid is fail");
                return;
            }
            if (node.config->schema->dead_letter) {
                const std::string& name = node.config->schema->dead_letter->value;
                auto out = env_.outputs.find(name);
                if (out != env_.outputs.end() && !admit(index, name, summary.invalid)) {
                    out = env_.outputs.end();
                }
                for (std::size_t i = 0; out != env_.outputs.end() && i < f.batch.size(); ++i) {
                    if (!verdicts_.invalid(i)) continue;
                    // The record as it was read, before any transform.
                    out->second->write_record(record_json(node, f, i, true));
                }
            }
            if (node.schema->on_invalid == schema::invalid_action::keep) {
                for (std::size_t i = 0; i < f.batch.size(); ++i) {
                    if (verdicts_.invalid(i)) f.batch.status[i] = invalid_reason::schema_kept;
                }
            }
            if (!count_errors(summary.invalid)) return;
        }
    }
    for (const auto& t : node.transforms) {
        if (t.type == compiled_transform::kind::filter) {
            // Invalid records pass untouched: invalid_count() must still see them.
            counters_.filtered_records += f.compact([&](std::size_t i) {
                return !usable(f.batch.status[i]) || t.filter->test(f.batch.record(i), scratch_);
            });
            continue;
        }
        for (std::size_t i = 0; i < f.batch.size(); ++i) {
            if (!usable(f.batch.status[i])) continue;
            auto record = f.batch.record(i);
            for (const auto& [slot, program] : t.assignments) {
                field_value v = program->evaluate(record, scratch_);
                if (v.is_string()) v = field_value::make_string(f.batch.strings.copy(v.string()));
                record[slot] = v;
            }
        }
    }

    const time::timestamp_ns now = env_.clock();
    if (engine::node_engine* e = engines_[index].get()) {
        times_.clear();
        if (node.time) {
            times_.reserve(f.batch.size());
            for (std::size_t i = 0; i < f.batch.size(); ++i) {
                time::timestamp_ns t = window::k_no_time;
                if (!usable(f.batch.status[i]) ||
                    !node.time->parse(f.batch.record(i)[node.time_slot], t)) {
                    t = window::k_no_time;
                }
                times_.push_back(t);
            }
        }
        late_.clear();
        const bool want_late = node.config->late_output.has_value();
        e->process(f.batch, times_, now, results_, want_late ? &late_ : nullptr, source_index);
        report_node(index);
        if (want_late && !late_.empty()) {
            const std::string& name = node.config->late_output->value;
            auto out = env_.outputs.find(name);
            if (out != env_.outputs.end() && admit(index, name, late_.size())) {
                for (auto i : late_) out->second->write_record(record_json(node, f, i));
            }
        }
        dispatch(node);
        return;
    }

    // A derived stream: to its outputs, then to the nodes that read it.
    std::vector<connectors::output*> targets;
    for (const auto& o : node.config->outputs) {
        auto out = env_.outputs.find(o.value);
        if (out != env_.outputs.end() && admit(index, o.value, f.batch.size())) {
            targets.push_back(out->second.get());
        }
    }
    if (!targets.empty()) {
        for (std::size_t i = 0; i < f.batch.size(); ++i) {
            if (!usable(f.batch.status[i])) continue;
            const std::string_view json = record_json(node, f, i);
            for (auto* out : targets) out->write_record(json);
        }
    }
    route(node.config->name, f);
}

std::string_view query::record_json(const compiled_node& node, const flow& f, std::size_t i,
                                    bool as_read) {
    const bool raw = (as_read || !node.transforms_reshape) && !f.raw[i].empty();
    if (raw && f.csv == nullptr) return f.raw[i];
    if (raw) {
        // A CSV row: every column, as text (a schema's types apply to the fields it names).
        csv_cells_.clear();
        if (f.csv->row_cells(f.raw[i], csv_cells_, csv_strings_)) {
            record_json_.clear();
            record_json_ += '{';
            for (std::size_t c = 0; c < csv_cells_.size(); ++c) {
                if (c > 0) record_json_ += ',';
                append_json_string(csv_cells_[c].first, record_json_);
                record_json_ += ':';
                const field_value& v = csv_cells_[c].second;
                if (v.kind == value_kind::null) {
                    record_json_ += "null";
                } else {
                    append_json_string(v.string(), record_json_);
                }
            }
            record_json_ += '}';
            csv_strings_.reset();
            return record_json_;
        }
        if (as_read) {
            // Malformed: its text, as a JSON string, so nothing is lost in the dead letters.
            record_json_.clear();
            record_json_ += "{\"_raw\":";
            append_json_string(f.raw[i], record_json_);
            record_json_ += '}';
            return record_json_;
        }
    }
    record_json_.clear();
    record_json_ += '{';
    const auto record = f.batch.record(i);
    bool first = true;
    for (const auto& [name, slot] : node.visible) {
        const field_value& v = record[slot];
        if (v.kind == value_kind::absent || v.kind == value_kind::other) continue;
        if (!first) record_json_ += ',';
        first = false;
        append_json_string(name, record_json_);
        record_json_ += ':';
        switch (v.kind) {
            case value_kind::null:
                record_json_ += "null";
                break;
            case value_kind::boolean:
                record_json_ += v.boolean ? "true" : "false";
                break;
            case value_kind::number:
                append_json_value(measure_value::make_number(v.number), record_json_);
                break;
            default:
                append_json_string(v.string(), record_json_);
                break;
        }
    }
    record_json_ += '}';
    return record_json_;
}

prometheus::Gauge* query::group_gauge(check_entry& e, const compiled_node& node,
                                      const std::string& check, const std::string& group) {
    // Once the daemon-wide series cap refused this check a series, only the groups that have
    // one are updated (the caller skips a check with none).
    if (auto it = e.groups.find(group); it != e.groups.end()) return it->second;
    if (e.capped) return nullptr;
    auto* g = env_.metrics->group_value(plan_.pipeline, node.config->name, check, group);
    if (g == nullptr) {
        e.capped = true;
    } else {
        e.groups.emplace(group, g);
    }
    return g;
}

void query::dispatch(const compiled_node& node) {
    if (results_.empty()) return;
    const auto index = static_cast<std::size_t>(&node - plan_.nodes.data());
    if (env_.metrics) {
        const time::timestamp_ns now = env_.clock();
        auto& entries = check_entries_[index];
        check_entry* e = nullptr;
        const std::string* e_check = nullptr;
        time::timestamp_ns observed_end = 0;
        std::string& group = group_label_;
        for (const auto& r : results_) {
            if (e_check == nullptr || *e_check != r.check) {
                auto it = entries.find(r.check);
                if (it == entries.end()) {
                    it = entries.emplace(r.check, check_entry{}).first;
                    it->second.metrics =
                        &env_.metrics->check(plan_.pipeline, node.config->name, r.check);
                }
                e = &it->second;
                e_check = &it->first;
            }
            check_metrics& m = *e->metrics;
            m.results_of(static_cast<check_outcome>(r.outcome)).Increment();
            // Event time of the window's end to the wall-clock moment its results left: once
            // per window, not once per group and check.
            if (!node_metrics_.empty() && r.window_end > 0 && r.window_end != observed_end) {
                observed_end = r.window_end;
                node_metrics_[index]->emit_delay_seconds.Observe(
                    std::max<double>(0, static_cast<double>(now - r.window_end) / 1e9));
            }
            // The group's label, built only when a series or the failing set needs it.
            bool labelled = false;
            auto label = [&]() -> const std::string& {
                if (!labelled) {
                    labelled = true;
                    group.clear();
                    for (const auto& [k, v] : r.group) {
                        if (!group.empty()) group += ',';
                        group += k;
                        group += '=';
                        group += v.kind == measure_kind::string ? v.text : to_string(v);
                    }
                }
                return group;
            };
            if (r.value.is_number()) {
                if (r.group.empty()) {
                    m.value.Set(r.value.number);
                } else if (!(e->capped && e->groups.empty())) {
                    if (auto* g = group_gauge(*e, node, r.check, label())) g->Set(r.value.number);
                }
            }
            // Failing while any group's latest window failed.
            if (r.outcome == outcome::fail) {
                if (!e->failing.contains(label())) e->failing.insert(group);
            } else if (r.outcome != outcome::no_data && !e->failing.empty()) {
                e->failing.erase(label());
            }
            m.set_failing(e->failing.size());
        }
    }
    for (const auto& o : node.config->outputs) {
        auto out = env_.outputs.find(o.value);
        if (out == env_.outputs.end() || !admit(index, o.value, results_.size())) continue;
        for (const auto& r : results_) out->second->write_result(r);
    }
    counters_.results += results_.size();
    results_.clear();
}

void query::report_node(std::size_t node) {
    const engine::node_engine& e = *engines_[node];
    if (node + 1 == plan_.nodes.size() && e.watermark() != window::k_no_time) {
        watermark_.store(e.watermark());
    }
    if (node_metrics_.empty()) return;
    node_metrics& m = *node_metrics_[node];
    const engine::engine_stats& now = e.stats();
    engine::engine_stats& before = reported_stats_[node];
    m.records.Increment(static_cast<double>(now.records - before.records));
    m.late_records.Increment(static_cast<double>(now.late - before.late));
    m.dropped_by(drop_reason::late).Increment(static_cast<double>(now.late - before.late));
    // Records kept despite a schema violation are counted invalid, but they were not dropped.
    m.dropped_by(drop_reason::invalid)
        .Increment(static_cast<double>((now.invalid - before.invalid) -
                                       (now.kept_invalid - before.kept_invalid)));
    m.dropped_by(drop_reason::group_overflow)
        .Increment(static_cast<double>(now.group_overflow - before.group_overflow));
    before = now;
    if (e.watermark() != window::k_no_time) {
        m.watermark_seconds.Set(static_cast<double>(e.watermark()) / 1e9);
    }
}

void query::report_capped(std::size_t node) {
    const std::uint64_t capped = engines_[node]->layout().capped_results();
    if (capped == capped_reported_[node]) return;
    spdlog::warn(
        "query {}/{}: node \"{}\": {} results of distinct counting hit the memory cap "
        "(distinct_count and unique_count are lower bounds there)",
        plan_.pipeline, plan_.name, plan_.nodes[node].config->name,
        capped - capped_reported_[node]);
    capped_reported_[node] = capped;
}

void query::on_end(std::size_t input) {
    if (!active() || stopping_) return;
    if (csv_[input] && !csv_carry_[input].empty()) {
        flow f;
        f.batch.slots = decoder_->slots();
        decode_csv(input, {}, true, f);
        accept(input, 0, f);
    }
    ended_[input] = true;
    for (bool e : ended_) {
        if (!e) return;
    }
    finish_once();
}

void query::finish_once() {
    const time::timestamp_ns now = env_.clock();
    for (std::size_t i = 0; i < plan_.nodes.size(); ++i) {
        if (!engines_[i]) continue;
        engines_[i]->finish(now, results_);
        dispatch(plan_.nodes[i]);
        report_node(i);
        report_capped(i);
    }
    tick_timer_.cancel();
    checkpoint_timer_.cancel();
    checkpoint([self = shared_from_this()](bool ok) {
        if (!ok) {
            self->fail("the final checkpoint could not be written");
            return;
        }
        self->state_ = query_state::finished;
        spdlog::info("query {}/{} finished: {} records, {} results", self->plan_.pipeline,
                     self->plan_.name, self->counters_.input_records.load(),
                     self->counters_.results.load());
        if (self->events_.finished) self->events_.finished();
    });
}

void query::on_problem(std::size_t input, std::string_view type, const std::string& message) {
    record_problem_log().log(problem_key_, spdlog::level::warn,
                             "query {}/{}: input \"{}\": {} ({})", plan_.pipeline, plan_.name,
                             plan_.inputs[input]->name, message, type);
    if (!input_metrics_.empty())
        input_metrics_[input]->errors_of(input_error_from(type)).Increment();
    count_errors(1);
}

bool query::count_errors(std::uint64_t n) {
    // `on_error` of the query's terminal node, over fixed windows of `per` wall-clock time.
    const config::on_error_config& rule = plan_.nodes.back().config->on_error;
    const time::timestamp_ns now = env_.clock();
    const time::timestamp_ns per = rule.per.value.count() * time::ns_per_ms;
    if (error_window_start_ == 0 || now - error_window_start_ >= per) {
        error_window_start_ = now;
        errors_in_window_ = 0;
        error_limit_reported_ = false;
        set_condition(errors_over_limit, false);
    }
    errors_in_window_ += n;
    const auto limit = static_cast<std::uint64_t>(rule.max_errors.value);
    if (errors_in_window_ <= limit) return true;
    const std::string what = fmt::format(
        "{} bad records or input errors within {} (on_error "
        "allows {})",
        errors_in_window_, params::format_duration(rule.per.value), limit);
    if (rule.action.value == "stop") {
        fail(what + "; on_error.action is stop");
        return false;
    }
    set_condition(errors_over_limit, true);
    if (!error_limit_reported_) {
        error_limit_reported_ = true;
        spdlog::warn("query {}/{}: {}; going on (on_error.action: continue)", plan_.pipeline,
                     plan_.name, what);
    }
    return true;
}

void query::fail(const std::string& message) {
    if (state_ == query_state::failed) return;
    state_ = query_state::failed;
    for (auto* m : node_metrics_) m->up.Set(0);
    stop_inputs();
    tick_timer_.cancel();
    checkpoint_timer_.cancel();
    pressure_timer_.cancel();
    if (events_.failed) events_.failed(message);
}

void query::stop_inputs() {
    for (auto& in : inputs_) in->stop();
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
    add(checkpoint_failing, "the last checkpoint failed");
    add(errors_over_limit, "bad records over on_error.max_errors");
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
            spdlog::warn("query {}/{} degraded: {}", plan_.pipeline, plan_.name, degraded_reason());
        } else {
            spdlog::info("query {}/{} running again", plan_.pipeline, plan_.name);
        }
    }
}

bool query::admit(std::size_t node, const std::string& out, std::uint64_t records) {
    if (shedding_.empty() || !shedding_.contains(out)) return true;
    if (!node_metrics_.empty()) {
        node_metrics_[node]
            ->dropped_by(drop_reason::buffer_full)
            .Increment(static_cast<double>(records));
    }
    return false;
}

void query::apply_back_pressure() {
    if (written_.empty()) return;
    const config::buffer_config& rule = plan_.nodes.back().config->buffer;
    const auto max = static_cast<std::uint64_t>(rule.max_records.value);
    const std::string& action = rule.when_full.value;
    bool full = false;
    for (const auto& [name, out] : written_) {
        const std::uint64_t pending = out->pending();
        if (action == "drop_newest") {
            // Sheds until the output is below its capacity again.
            if (pending >= max) {
                shedding_.insert(name);
            } else {
                shedding_.erase(name);
            }
        } else if (action == "drop_oldest" && pending > max) {
            if (!node_metrics_.empty()) {
                node_metrics_.back()
                    ->dropped_by(drop_reason::buffer_full)
                    .Increment(static_cast<double>(pending - max));
            }
            out->drop_oldest(pending - max);
        }
        full = full || pending >= max;
    }
    set_condition(outputs_full, full || paused_);
    if (action == "block" && full && !paused_) {
        paused_ = true;
        for (auto& in : inputs_) in->pause();
        spdlog::warn("query {}/{}: outputs hold {} or more records: reading paused", plan_.pipeline,
                     plan_.name, max);
        poll_back_pressure();
    } else if (action != "block" && full && !shedding_.empty()) {
        poll_back_pressure();  // to see when shedding can stop without new input
    }
}

void query::poll_back_pressure() {
    pressure_timer_.expires_after(std::chrono::milliseconds(20));
    pressure_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || !self->active() || self->stopping_) return;
        const config::buffer_config& rule = self->plan_.nodes.back().config->buffer;
        const auto max = static_cast<std::uint64_t>(rule.max_records.value);
        if (!self->paused_) {
            self->apply_back_pressure();
            return;
        }
        // Resumes once every output is down to half its capacity, not at the first free slot.
        for (const auto& [name, out] : self->written_) {
            if (out->pending() > max / 2) {
                self->poll_back_pressure();
                return;
            }
        }
        self->paused_ = false;
        self->set_condition(outputs_full, false);
        spdlog::info("query {}/{}: outputs drained: reading resumed", self->plan_.pipeline,
                     self->plan_.name);
        for (auto& in : self->inputs_) in->resume();
    });
}

void query::schedule_tick() {
    tick_timer_.expires_after(std::chrono::seconds(1));
    tick_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || !self->active() || self->stopping_) return;
        const time::timestamp_ns now = self->env_.clock();
        for (std::size_t i = 0; i < self->plan_.nodes.size(); ++i) {
            if (!self->engines_[i]) continue;
            self->engines_[i]->advance(now, self->results_);
            self->dispatch(self->plan_.nodes[i]);
            self->report_node(i);
            self->report_capped(i);
        }
        record_problem_log().flush_expired();
        self->apply_back_pressure();
        self->schedule_tick();
    });
}

void query::schedule_checkpoint() {
    checkpoint_timer_.expires_after(env_.checkpoint_interval);
    checkpoint_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || !self->active() || self->stopping_) return;
        self->checkpoint([self](bool) {
            if (self->active() && !self->stopping_) {
                self->schedule_checkpoint();
            }
        });
    });
}

void query::checkpoint(std::function<void(bool ok)> then) {
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
        data->inputs.emplace_back(plan_.inputs[i]->name, inputs_[i]->position());
        // A CSV stream resumed mid-file needs the header it began with.
        if (csv_[i]) {
            if (std::string header = csv_[i]->header_row(); !header.empty()) {
                data->inputs.emplace_back(k_csv_header + plan_.inputs[i]->name, std::move(header));
            }
        }
    }
    for (std::size_t i = 0; i < plan_.nodes.size(); ++i) {
        if (!engines_[i]) continue;
        byte_writer w;
        engines_[i]->snapshot(w);
        data->nodes.emplace_back(plan_.nodes[i].config->name, w.take());
    }

    struct pending_flush {
        std::size_t left = 0;
        bool ok = true;
        std::string error;
    };
    auto pending = std::make_shared<pending_flush>();
    auto write = [self = shared_from_this(), data, pending, then]() {
        bool ok = pending->ok;
        if (!ok) {
            spdlog::error("query {}/{}: checkpoint skipped: an output could not flush: {}",
                          self->plan_.pipeline, self->plan_.name, pending->error);
        } else {
            std::string error;
            const auto started = std::chrono::steady_clock::now();
            ok =
                self->env_.checkpoints->write(self->plan_.pipeline, self->plan_.name, *data, error);
            if (ok) {
                ++self->counters_.checkpoints;
                if (!self->node_metrics_.empty()) {
                    node_metrics& m = *self->node_metrics_.back();
                    m.checkpoint_duration_seconds.Observe(
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                            .count());
                    m.checkpoint_last_success_seconds.Set(static_cast<double>(data->written_at) /
                                                          1e9);
                }
            } else {
                spdlog::error("query {}/{}: checkpoint failed: {}", self->plan_.pipeline,
                              self->plan_.name, error);
            }
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
    std::vector<std::shared_ptr<connectors::output>> outputs;
    for (const auto& name : plan_.outputs) {
        if (auto it = env_.outputs.find(name); it != env_.outputs.end())
            outputs.push_back(it->second);
    }
    if (outputs.empty()) {
        write();
        return;
    }
    pending->left = outputs.size();
    for (auto& out : outputs) {
        out->flush([this_strand = strand_, pending, write](bool ok, const std::string& error) {
            asio::post(this_strand, [pending, write, ok, error] {
                if (!ok) {
                    pending->ok = false;
                    pending->error = error;
                }
                if (--pending->left == 0) write();
            });
        });
    }
}

void query::stop(std::function<void()> done) {
    asio::post(strand_, [self = shared_from_this(), done = std::move(done)] {
        if (self->stopping_) return;
        self->stopping_ = true;
        self->stop_inputs();
        self->tick_timer_.cancel();
        self->checkpoint_timer_.cancel();
        self->pressure_timer_.cancel();
        if (!self->active()) {
            done();
            return;
        }
        self->checkpoint([self, done](bool) {
            self->state_ = query_state::stopped;
            done();
        });
    });
}

}  // namespace weir::daemon
