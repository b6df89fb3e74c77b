// The status page (GET / of the HTTP server): the pipelines, their graphs, every check with its
// latest outcome, value and failing groups, and a small chart of its recent values — one
// server-rendered HTML page with inline CSS and SVG, no script and nothing fetched from
// elsewhere. Rendered from a copy of the status model and of the check history, so it never
// holds a lock the queries need, and its work is bounded by the number of checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/check_history.h"
#include "daemon/status.h"

namespace weir::daemon {

// A pipeline's graph: its inputs, nodes and outputs, and who feeds whom.
struct graph_vertex {
    enum class kind : std::uint8_t { input, node, output };
    kind type = kind::node;
    std::string name;

    bool operator==(const graph_vertex&) const = default;
};

struct graph_edge {
    std::size_t from = 0;  // indices into pipeline_graph::vertices
    std::size_t to = 0;

    bool operator==(const graph_edge&) const = default;
};

struct pipeline_graph {
    std::string pipeline;
    std::vector<graph_vertex> vertices;
    std::vector<graph_edge> edges;

    // Adds a vertex unless there is one of that kind and name; returns its index.
    std::size_t vertex(graph_vertex::kind type, std::string_view name);
    // Adds an edge unless it is there.
    void edge(std::size_t from, std::size_t to);
};

// A check as the configuration declares it, with what the daemon knows of it.
struct page_check {
    std::string pipeline;
    std::string query;
    std::string node;
    std::string check;
    std::string measure;
    std::string must_be;                    // "" when none
    std::string should_be;                  // "" when none
    bool grouped = false;                   // its node has a group_by
    std::optional<check_snapshot> history;  // nullopt before its first result
    // Groups failing now, as the status model counts them (nullopt: not known there).
    std::optional<std::uint64_t> failing_groups;
};

struct status_page {
    daemon_status status;
    std::vector<pipeline_graph> graphs;  // sorted by pipeline
    std::vector<page_check> checks;      // in any order: the page sorts them
    std::string generated_at;            // RFC 3339, the wall clock when it was taken
    std::string version;
};

std::string render_status_page(const status_page& page);

// A check's value as the page shows it: through the shared formatter, in the unit of the check's
// assessment ("26.7 %" beside "< 5%", "1m 12s" beside "< 5m"); long strings cut to 80 columns.
std::string format_for_display(const measure_value& value, const page_check& check);

// `text` with & < > " ' replaced by their character references.
std::string html_escape(std::string_view text);

}  // namespace weir::daemon
