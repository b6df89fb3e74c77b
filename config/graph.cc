// The node graph of a pipeline: reference and type checks, cycles, warnings about unused
// parts, the split into managed queries, and its rendering as text, Graphviz or Mermaid.
#include "config/graph.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace weir::config {

namespace {

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
    const std::string near = nearest(name, candidates);
    return near.empty() ? std::string() : "; did you mean " + in_quotes(near) + "?";
}

template <class T>
std::vector<std::string> names_of(const std::vector<T>& items) {
    std::vector<std::string> out;
    for (const auto& i : items) out.push_back(i.name);
    return out;
}

std::string node_path(const node_config& n, std::string_view field) {
    return "nodes." + n.name + "." + std::string(field);
}

// What the graph checks need to know about one pipeline, computed once.
class graph_checker {
  public:
    graph_checker(const pipeline_config& p, diagnostics& out) : p_(p), out_(out) {
        source_names_ = names_of(p.inputs);
        for (const auto& n : p.nodes) source_names_.push_back(n.name);
        output_names_ = names_of(p.outputs);
    }

    void run() {
        for (const auto& n : p_.nodes) check_node(n);
        check_cycles();
        warn_unused();
    }

  private:
    void check_node(const node_config& n) {
        for (const auto& from : n.from) {
            const std::string path = node_path(n, "from");
            if (from.value == n.name) {
                out_.error(from.pos, path, "node " + in_quotes(n.name) + " reads from itself");
                continue;
            }
            if (p_.find_input(from.value)) {
                read_inputs_.insert(from.value);
                continue;
            }
            if (const node_config* upstream = p_.find_node(from.value)) {
                read_nodes_.insert(from.value);
                if (upstream->emits_results()) {
                    out_.error(from.pos, path,
                               "node " + in_quotes(n.name) + " reads check results of node " +
                                   in_quotes(upstream->name) + ", but expects records");
                }
                continue;
            }
            out_.error(from.pos, path,
                       "unknown input or node " + in_quotes(from.value) +
                           did_you_mean(from.value, source_names_));
        }

        for (const auto& o : n.outputs)
            check_output(n, o, node_path(n, "outputs"), !n.emits_results());
        if (n.late_output) check_output(n, *n.late_output, node_path(n, "late_output"), true);
        if (n.schema && n.schema->dead_letter) {
            check_output(n, *n.schema->dead_letter, node_path(n, "schema.dead_letter"), true);
        }
        if (n.dead_letter) check_output(n, *n.dead_letter, node_path(n, "dead_letter"), true);

        if (n.join) {
            for (const auto* side : {&n.join->left, &n.join->right}) {
                const bool listed = std::any_of(n.from.begin(), n.from.end(), [&](const auto& f) {
                    return f.value == side->value;
                });
                if (!listed) {
                    out_.error(side->pos, node_path(n, "join"),
                               in_quotes(side->value) + " is not one of the node's inputs (from: " +
                                   join_names(n.from) + ")");
                }
            }
        }

        for (const auto& dep : n.depends_on) {
            if (p_.find_input(dep.input.value)) {
                read_inputs_.insert(dep.input.value);
            } else {
                out_.error(dep.input.pos, node_path(n, "depends_on"),
                           "unknown input " + in_quotes(dep.input.value) +
                               did_you_mean(dep.input.value, names_of(p_.inputs)));
            }
        }
    }

    // `records`: what reaches the output is records, not check results.
    void check_output(const node_config& n, const located<std::string>& name,
                      const std::string& path, bool records) {
        const output_config* o = p_.find_output(name.value);
        if (!o) {
            out_.error(name.pos, path,
                       "unknown output " + in_quotes(name.value) +
                           did_you_mean(name.value, output_names_));
            return;
        }
        written_outputs_.insert(name.value);
        if (records && o->info && !o->info->accepts_records) {
            out_.error(name.pos, path,
                       "output " + in_quotes(o->name) + " (" + o->type.value +
                           ") accepts only check results, but node " + in_quotes(n.name) +
                           " sends it records");
        }
    }

    static std::string join_names(const std::vector<located<std::string>>& names) {
        std::string s;
        for (const auto& n : names) s += (s.empty() ? "" : ", ") + n.value;
        return s;
    }

    // Depth-first search along "reads" edges; each back edge closes one cycle, reported once
    // with arrows pointing downstream (the way records flow).
    void check_cycles() {
        enum class mark { white, grey, black };
        std::map<std::string, mark, std::less<>> marks;
        std::vector<const node_config*> stack;

        std::function<void(const node_config&)> visit = [&](const node_config& n) {
            marks[n.name] = mark::grey;
            stack.push_back(&n);
            for (const auto& from : n.from) {
                const node_config* up = p_.find_node(from.value);
                if (!up || up == &n) continue;
                const mark m = marks[up->name];
                if (m == mark::white) {
                    visit(*up);
                } else if (m == mark::grey) {
                    // stack[k] reads stack[k + 1], so records flow from the top of the stack
                    // down to `up`: print up -> n -> ... -> stack[k + 1] -> up.
                    auto start = std::find(stack.begin(), stack.end(), up);
                    std::string printed = up->name;
                    for (auto it = stack.rbegin(); it != std::make_reverse_iterator(start + 1);
                         ++it) {
                        printed += " -> " + (*it)->name;
                    }
                    printed += " -> " + up->name;
                    out_.error(from.pos, node_path(n, "from"), "cycle: " + printed);
                }
            }
            stack.pop_back();
            marks[n.name] = mark::black;
        };
        for (const auto& n : p_.nodes) {
            if (marks[n.name] == mark::white) visit(n);
        }
    }

    void warn_unused() {
        for (const auto& i : p_.inputs) {
            if (!read_inputs_.count(i.name)) {
                out_.warning(i.pos, "inputs." + i.name,
                             "input " + in_quotes(i.name) + " is not read by any node");
            }
        }
        for (const auto& n : p_.nodes) {
            if (!n.emits_results() && !read_nodes_.count(n.name) && n.outputs.empty()) {
                out_.warning(n.pos, "nodes." + n.name,
                             "node " + in_quotes(n.name) +
                                 " has no checks and its records go nowhere: add checks, "
                                 "outputs, or a node that reads it");
            }
        }
        for (const auto& o : p_.outputs) {
            if (!written_outputs_.count(o.name)) {
                out_.warning(o.pos, "outputs." + o.name,
                             "output " + in_quotes(o.name) + " is not used by any node");
            }
        }
    }

    const pipeline_config& p_;
    diagnostics& out_;
    std::vector<std::string> source_names_;
    std::vector<std::string> output_names_;
    std::set<std::string, std::less<>> read_inputs_;
    std::set<std::string, std::less<>> read_nodes_;
    std::set<std::string, std::less<>> written_outputs_;
};

}  // namespace

void check_graph(const pipeline_config& pipeline, diagnostics& out) {
    graph_checker(pipeline, out).run();
}

std::vector<query_plan> split_queries(const pipeline_config& p) {
    std::set<std::string, std::less<>> read_by_a_node;
    for (const auto& n : p.nodes) {
        for (const auto& f : n.from) {
            if (p.find_node(f.value)) read_by_a_node.insert(f.value);
        }
    }

    std::vector<query_plan> queries;
    for (const auto& terminal : p.nodes) {
        if (read_by_a_node.count(terminal.name)) continue;
        query_plan q;
        q.pipeline = p.name;
        q.name = terminal.name;
        std::set<std::string> inputs, outputs, seen;
        // Post-order over upstream nodes gives a topological order with the terminal last.
        std::function<void(const node_config&)> collect = [&](const node_config& n) {
            if (!seen.insert(n.name).second) return;
            for (const auto& f : n.from) {
                if (const node_config* up = p.find_node(f.value)) {
                    collect(*up);
                } else if (p.find_input(f.value)) {
                    inputs.insert(f.value);
                }
            }
            for (const auto& d : n.depends_on) inputs.insert(d.input.value);
            for (const auto& o : n.outputs) outputs.insert(o.value);
            if (n.late_output) outputs.insert(n.late_output->value);
            if (n.schema && n.schema->dead_letter) outputs.insert(n.schema->dead_letter->value);
            if (n.dead_letter) outputs.insert(n.dead_letter->value);
            q.nodes.push_back(n.name);
        };
        collect(terminal);
        q.inputs.assign(inputs.begin(), inputs.end());
        q.outputs.assign(outputs.begin(), outputs.end());
        queries.push_back(std::move(q));
    }
    std::sort(queries.begin(), queries.end(),
              [](const query_plan& a, const query_plan& b) { return a.name < b.name; });
    return queries;
}

namespace {

std::string window_summary(const node_config& n) {
    if (!n.window) return "";
    const auto& w = *n.window;
    std::string s = w.type.value;
    if (w.type.value == "session") {
        s += " gap " + params::format_duration(w.gap.value);
    } else {
        s += " " + params::format_duration(w.size.value);
        if (w.type.value == "sliding") s += " every " + params::format_duration(w.slide.value);
    }
    return s;
}

std::string node_summary(const node_config& n) {
    std::vector<std::string> parts;
    if (const auto w = window_summary(n); !w.empty()) parts.push_back(w);
    if (!n.group_by.empty()) {
        std::string g = "by ";
        for (std::size_t i = 0; i < n.group_by.size(); ++i) {
            g += (i ? ", " : "") + n.group_by[i].value;
        }
        parts.push_back(g);
    }
    if (n.join) parts.push_back(n.join->type.value + " join");
    if (!n.transforms.empty()) parts.push_back(std::to_string(n.transforms.size()) + " transforms");
    parts.push_back(n.emits_results() ? std::to_string(n.checks.size()) + " checks"
                                      : "derived records");
    if (n.critical) parts.push_back("critical");
    std::string s;
    for (const auto& p : parts) s += (s.empty() ? "" : ", ") + p;
    return s;
}

std::string list(const std::vector<std::string>& items, std::string_view sep = ", ") {
    std::string s;
    for (const auto& i : items) s += (s.empty() ? "" : std::string(sep)) + i;
    return s;
}

std::string list(const std::vector<located<std::string>>& items) {
    std::vector<std::string> plain;
    for (const auto& i : items) plain.push_back(i.value);
    return list(plain);
}

void render_text(const config_set& config, std::ostringstream& os) {
    bool first = true;
    for (const auto& p : config.pipelines) {
        if (!first) os << '\n';
        first = false;
        os << "pipeline " << p.name << " (" << p.file << ")\n";
        os << "  inputs:\n";
        for (const auto& i : p.inputs) os << "    " << i.name << " [" << i.type.value << "]\n";
        os << "  nodes:\n";
        for (const auto& n : p.nodes) {
            os << "    " << n.name << " <- " << list(n.from) << " (" << node_summary(n) << ")";
            if (!n.outputs.empty()) os << " -> " << list(n.outputs);
            os << '\n';
            for (const auto& c : n.checks) {
                os << "      check " << c.name.value << ": " << c.measure.value;
                if (c.must_be) os << " must_be \"" << c.must_be->value << '"';
                if (c.should_be) os << " should_be \"" << c.should_be->value << '"';
                os << '\n';
            }
        }
        os << "  outputs:\n";
        for (const auto& o : p.outputs) os << "    " << o.name << " [" << o.type.value << "]\n";
        os << "  queries:\n";
        for (const auto& q : split_queries(p)) {
            os << "    " << q.name << ": " << list(q.inputs) << " -> " << list(q.nodes, " -> ");
            if (!q.outputs.empty()) os << " -> " << list(q.outputs);
            os << '\n';
        }
    }
}

// Graphviz and Mermaid ids: pipeline, kind and name joined; names are snake_case.
std::string gid(const pipeline_config& p, std::string_view kind, std::string_view name) {
    return p.name + "__" + std::string(kind) + "__" + std::string(name);
}

void render_dot(const config_set& config, std::ostringstream& os) {
    os << "digraph weir {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n";
    for (const auto& p : config.pipelines) {
        os << "  subgraph \"cluster_" << p.name << "\" {\n    label=\"" << p.name << "\";\n";
        for (const auto& i : p.inputs) {
            os << "    \"" << gid(p, "in", i.name) << "\" [shape=cds, label=\"" << i.name << "\\n"
               << i.type.value << "\"];\n";
        }
        for (const auto& n : p.nodes) {
            os << "    \"" << gid(p, "node", n.name) << "\" [shape=box, style=rounded, label=\""
               << n.name << "\\n"
               << node_summary(n) << "\"];\n";
        }
        for (const auto& o : p.outputs) {
            os << "    \"" << gid(p, "out", o.name) << "\" [shape=note, label=\"" << o.name << "\\n"
               << o.type.value << "\"];\n";
        }
        for (const auto& n : p.nodes) {
            for (const auto& f : n.from) {
                const bool is_node = p.find_node(f.value) != nullptr;
                os << "    \"" << gid(p, is_node ? "node" : "in", f.value) << "\" -> \""
                   << gid(p, "node", n.name) << "\";\n";
            }
            for (const auto& d : n.depends_on) {
                os << "    \"" << gid(p, "in", d.input.value) << "\" -> \""
                   << gid(p, "node", n.name) << "\" [style=dashed, label=\"depends_on\"];\n";
            }
            for (const auto& o : n.outputs) {
                os << "    \"" << gid(p, "node", n.name) << "\" -> \"" << gid(p, "out", o.value)
                   << "\";\n";
            }
            if (n.late_output) {
                os << "    \"" << gid(p, "node", n.name) << "\" -> \""
                   << gid(p, "out", n.late_output->value) << "\" [style=dotted, label=\"late\"];\n";
            }
        }
        os << "  }\n";
    }
    os << "}\n";
}

void render_mermaid(const config_set& config, std::ostringstream& os) {
    os << "flowchart LR\n";
    for (const auto& p : config.pipelines) {
        os << "  subgraph " << p.name << "\n";
        for (const auto& i : p.inputs) {
            os << "    " << gid(p, "in", i.name) << "[/\"" << i.name << " (" << i.type.value
               << ")\"/]\n";
        }
        for (const auto& n : p.nodes) {
            os << "    " << gid(p, "node", n.name) << "(\"" << n.name << "<br/>" << node_summary(n)
               << "\")\n";
        }
        for (const auto& o : p.outputs) {
            os << "    " << gid(p, "out", o.name) << "[[\"" << o.name << " (" << o.type.value
               << ")\"]]\n";
        }
        for (const auto& n : p.nodes) {
            for (const auto& f : n.from) {
                const bool is_node = p.find_node(f.value) != nullptr;
                os << "    " << gid(p, is_node ? "node" : "in", f.value) << " --> "
                   << gid(p, "node", n.name) << '\n';
            }
            for (const auto& d : n.depends_on) {
                os << "    " << gid(p, "in", d.input.value) << " -. depends_on .-> "
                   << gid(p, "node", n.name) << '\n';
            }
            for (const auto& o : n.outputs) {
                os << "    " << gid(p, "node", n.name) << " --> " << gid(p, "out", o.value) << '\n';
            }
            if (n.late_output) {
                os << "    " << gid(p, "node", n.name) << " -. late .-> "
                   << gid(p, "out", n.late_output->value) << '\n';
            }
        }
        os << "  end\n";
    }
}

}  // namespace

std::string render_graph(const config_set& config, graph_format format) {
    std::ostringstream os;
    switch (format) {
        case graph_format::text:
            render_text(config, os);
            break;
        case graph_format::dot:
            render_dot(config, os);
            break;
        case graph_format::mermaid:
            render_mermaid(config, os);
            break;
    }
    return os.str();
}

}  // namespace weir::config
