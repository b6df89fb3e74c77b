// The status page; see status_page.h.
#include "daemon/status_page.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <tuple>

#include "core/check/assessment.h"
#include "core/result/format.h"
#include "core/time/timestamp.h"

namespace weir::daemon {

namespace {

// What the page draws at most; the rest is counted.
constexpr std::size_t k_max_listed_groups = 10;  // failing groups named per check
constexpr std::size_t k_max_vertices = 80;       // per pipeline graph
constexpr std::size_t k_label_chars = 22;        // a graph box's label

// Failing first, then warnings, no data, passing, and checks without a result yet.
int severity(const page_check& c) {
    if (!c.history) return 4;
    if (c.history->failing() || (c.failing_groups && *c.failing_groups > 0)) return 0;
    switch (c.history->last_outcome) {
        case outcome::fail:
            // A grouped check whose failing groups all recovered.
            return c.grouped ? 3 : 0;
        case outcome::warn:
            return 1;
        case outcome::no_data:
            return 2;
        case outcome::pass:
            return 3;
    }
    return 3;
}

struct badge_look {
    const char* css;
    const char* text;  // colour is never the only sign
};

badge_look badge_of(int s) {
    switch (s) {
        case 0:
            return {"fail", "&#10007; FAIL"};
        case 1:
            return {"warn", "! WARN"};
        case 2:
            return {"nodata", "&#8211; NO DATA"};
        case 3:
            return {"pass", "&#10003; PASS"};
        default:
            return {"none", "&#8230; WAITING"};
    }
}

void append_escaped(std::string& out, std::string_view text) {
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
}

// A label cut to `n` characters (not inside a UTF-8 sequence), with an ellipsis.
std::string shorten(std::string_view text, std::size_t n) {
    if (text.size() <= n) return std::string(text);
    std::size_t cut = n - 1;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return std::string(text.substr(0, cut)) + "\xE2\x80\xA6";
}

// The unit of the check's assessments (must_be first), as the shared formatter wants it.
value_unit unit_of(const page_check& c) {
    for (const std::string* text : {&c.must_be, &c.should_be}) {
        if (text->empty()) continue;
        const auto parsed = check::parse_assessment(*text);
        // An assessment against history judges the change or z, not the value.
        if (parsed && parsed->history() == nullptr && parsed->unit() != value_unit::none) {
            return parsed->unit();
        }
    }
    return value_unit::none;
}

std::string display_number(double v, const page_check& c) {
    return format_value(measure_value::make_number(v), unit_of(c));
}

std::string rfc3339(time::timestamp_ns t) {
    return t == 0 ? std::string("-") : time::format_rfc3339_ms(t);
}

// ---- the sparkline of a check's recent values ----

void append_sparkline(std::string& out, const page_check& c) {
    constexpr double w = 160;
    constexpr double h = 34;
    constexpr double pad = 3;
    const auto& points = c.history->recent;
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    std::size_t numeric = 0;
    for (const auto& p : points) {
        if (std::isnan(p.low)) continue;
        lo = std::min(lo, p.low);
        hi = std::max(hi, p.high);
        ++numeric;
    }
    if (numeric == 0) {
        out += "<span class=\"muted\">no numbers yet</span>";
        return;
    }
    const double span = hi > lo ? hi - lo : 1;
    // Over the whole width, however few windows there are yet (one: a dot in the middle).
    const double step =
        (w - 2 * pad) / static_cast<double>(std::max<std::size_t>(points.size() - 1, 1));
    const double x0 = points.size() == 1 ? w / 2 : pad;
    auto x = [&](std::size_t i) { return x0 + step * static_cast<double>(i); };
    auto y = [&](double v) { return hi > lo ? h - pad - (v - lo) / span * (h - 2 * pad) : h / 2; };
    out += fmt::format(
        "<svg class=\"spark\" width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" "
        "role=\"img\" aria-label=\"recent values\"><title>",
        w, h, w, h);
    append_escaped(out, fmt::format("last {} windows: from {} to {}", points.size(),
                                    display_number(lo, c), display_number(hi, c)));
    out += "</title>";
    // A grouped check: the band between the lowest and the highest group of each window.
    bool band = false;
    for (const auto& p : points) band = band || (!std::isnan(p.low) && p.low != p.high);
    std::string line;
    std::string lower;
    auto flush = [&] {
        if (line.empty()) return;
        if (band) {
            out += "<polygon class=\"band\" points=\"" + line + lower + "\"/>";
        }
        out += "<polyline class=\"line\" points=\"" + line + "\"/>";
        line.clear();
        lower.clear();
    };
    for (std::size_t i = 0; i < points.size(); ++i) {
        const auto& p = points[i];
        if (std::isnan(p.low)) {
            flush();
            continue;
        }
        line += fmt::format("{:.1f},{:.1f} ", x(i), y(p.high));
        lower.insert(0, fmt::format("{:.1f},{:.1f} ", x(i), y(p.low)));
    }
    flush();
    for (std::size_t i = 0; i < points.size(); ++i) {
        const auto& p = points[i];
        const bool alone = points.size() == 1;
        if (std::isnan(p.low) || (!alone && p.worst != outcome::fail && p.worst != outcome::warn)) {
            continue;
        }
        out += fmt::format("<circle class=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.2\"/>",
                           p.worst == outcome::fail   ? "dot-fail"
                           : p.worst == outcome::warn ? "dot-warn"
                                                      : "dot",
                           x(i), y(p.high));
    }
    out += "</svg>";
}

// ---- the checks table ----

void append_value(std::string& out, const page_check& c) {
    const check_snapshot& s = *c.history;
    if (!c.grouped || s.recent.empty()) {
        append_escaped(out, format_for_display(s.last_value, c));
        return;
    }
    const history_point& p = s.recent.back();
    if (std::isnan(p.low)) {
        append_escaped(out, format_for_display(s.last_value, c));
    } else if (p.low == p.high) {
        append_escaped(out, display_number(p.low, c));
    } else {
        append_escaped(out, display_number(p.low, c) + " to " + display_number(p.high, c));
    }
    out += fmt::format("<div class=\"muted\">{} group{} in the last window</div>", p.results,
                       p.results == 1 ? "" : "s");
}

void append_groups(std::string& out, const page_check& c) {
    if (!c.grouped) {
        out += "<span class=\"muted\">not grouped</span>";
        return;
    }
    const std::vector<history_failing_group>* groups =
        c.history ? &c.history->failing_groups : nullptr;
    const std::size_t kept = groups ? groups->size() : 0;
    const bool more = c.history && c.history->more_failing;
    const std::uint64_t count =
        c.failing_groups ? std::max<std::uint64_t>(*c.failing_groups, kept) : kept;
    if (count == 0) {
        out += "<span class=\"muted\">none failing</span>";
        return;
    }
    out += fmt::format("<div class=\"gcount\">{}{} group{} failing</div><ul class=\"groups\">",
                       count, more && !c.failing_groups ? "+" : "", count == 1 ? "" : "s");
    for (std::size_t i = 0; i < kept && i < k_max_listed_groups; ++i) {
        const history_failing_group& g = (*groups)[i];
        out += "<li><code>";
        append_escaped(out, g.group);
        out += "</code>: <b>";
        append_escaped(out, format_for_display(g.value, c));
        out += "</b>";
        out += "</li>";
    }
    if (count > std::min(kept, k_max_listed_groups)) {
        out += fmt::format("<li class=\"muted\">and {} more</li>",
                           count - std::min(kept, k_max_listed_groups));
    }
    out += "</ul>";
}

void append_checks(std::string& out, std::vector<const page_check*>& checks) {
    out += "<section><h2>Checks</h2>";
    if (checks.empty()) {
        out += "<p class=\"muted\">No check is configured.</p></section>";
        return;
    }
    out +=
        "<table class=\"checks\"><thead><tr><th>Outcome</th><th>Check</th><th>Latest "
        "value</th><th>Must be / should be</th><th>Failing groups</th><th>Recent "
        "values</th><th>Window end</th></tr></thead><tbody>";
    for (const page_check* c : checks) {
        const int s = severity(*c);
        const badge_look b = badge_of(s);
        out += fmt::format(
            "<tr class=\"check row-{}\" data-outcome=\"{}\"><td><span "
            "class=\"badge {}\">{}</span></td><td><div class=\"name\">",
            b.css, b.css, b.css, b.text);
        append_escaped(out, c->check);
        out += "</div><div class=\"path\">";
        append_escaped(out, c->pipeline + " / " + c->node);
        out += "</div><code class=\"measure\">";
        append_escaped(out, c->measure);
        out += "</code></td><td class=\"value\">";
        if (c->history) {
            append_value(out, *c);
        } else {
            out += "<span class=\"muted\">no result yet</span>";
        }
        out += "</td><td>";
        if (!c->must_be.empty()) {
            out += "must be <code>";
            append_escaped(out, c->must_be);
            out += "</code>";
        }
        if (!c->should_be.empty()) {
            out += c->must_be.empty() ? "should be <code>" : "<br>should be <code>";
            append_escaped(out, c->should_be);
            out += "</code>";
        }
        out += "</td><td>";
        append_groups(out, *c);
        out += "</td><td>";
        if (c->history) append_sparkline(out, *c);
        out += "</td><td class=\"time\">";
        append_escaped(out, c->history ? rfc3339(c->history->last_window_end) : "-");
        out += "</td></tr>";
    }
    out += "</tbody></table></section>";
}

// ---- a pipeline: its queries and its graph ----

const char* state_css(std::string_view state) {
    if (state == "running" || state == "finished") return "pass";
    if (state == "degraded" || state == "starting") return "warn";
    if (state == "failed") return "fail";
    return "none";
}

void append_queries(std::string& out, const daemon_status& status, std::string_view pipeline) {
    out +=
        "<table class=\"queries\"><thead><tr><th>Query</th><th>State</th><th>Inputs</th><th>"
        "Records</th><th>Invalid</th><th>Results</th><th>Watermark lag</th><th>Restarts</th>"
        "</tr></thead><tbody>";
    for (const auto& q : status.queries) {
        if (q.pipeline != pipeline) continue;
        out += "<tr><td>";
        append_escaped(out, q.query);
        out += fmt::format("</td><td><span class=\"badge {}\">", state_css(q.state));
        append_escaped(out, q.state);
        out += "</span>";
        if (!q.degraded_reason.empty()) {
            out += "<div class=\"muted\">";
            append_escaped(out, q.degraded_reason);
            out += "</div>";
        }
        out += "</td><td>";
        for (std::size_t i = 0; i < q.inputs.size(); ++i) {
            if (i > 0) out += ", ";
            append_escaped(out, q.inputs[i]);
        }
        out += "</td>";
        if (q.figures) {
            const query_figures& f = *q.figures;
            out += fmt::format(
                "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>", f.input_records, f.invalid_records,
                f.results,
                f.lag_seconds
                    ? format_value(measure_value::make_number(*f.lag_seconds), value_unit::duration)
                    : "-");
        } else {
            out += "<td>-</td><td>-</td><td>-</td><td>-</td>";
        }
        out += fmt::format("<td>{}</td></tr>", q.restarts);
    }
    out += "</tbody></table>";
}

void append_graph(std::string& out, const pipeline_graph& g,
                  const std::vector<const page_check*>& checks, std::size_t index) {
    using kind = graph_vertex::kind;
    const std::size_t n = std::min(g.vertices.size(), k_max_vertices);
    if (n == 0) return;
    // Columns: inputs first, each node right of what it reads, outputs last.
    std::vector<std::size_t> column(n, 0);
    std::size_t last = 0;
    for (std::size_t round = 0; round < n; ++round) {
        bool changed = false;
        for (const auto& e : g.edges) {
            if (e.from >= n || e.to >= n || g.vertices[e.to].type != kind::node) continue;
            if (column[e.to] < column[e.from] + 1) {
                column[e.to] = column[e.from] + 1;
                changed = true;
            }
        }
        if (!changed) break;
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (g.vertices[i].type == kind::node) {
            column[i] = std::max<std::size_t>(column[i], 1);
            last = std::max(last, column[i]);
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (g.vertices[i].type == kind::output) column[i] = last + 1;
    }
    std::vector<std::size_t> row(n, 0);
    std::vector<std::size_t> rows(last + 2, 0);
    for (std::size_t i = 0; i < n; ++i) row[i] = rows[column[i]]++;
    const std::size_t max_rows = *std::max_element(rows.begin(), rows.end());
    constexpr double box_w = 168;
    constexpr double box_h = 40;
    constexpr double col_w = box_w + 56;
    constexpr double row_h = box_h + 14;
    const double width = col_w * static_cast<double>(last + 2) - 56 + 8;
    const double height = row_h * static_cast<double>(max_rows) - 14 + 8;
    auto bx = [&](std::size_t i) { return 4 + col_w * static_cast<double>(column[i]); };
    auto by = [&](std::size_t i) { return 4 + row_h * static_cast<double>(row[i]); };

    out += fmt::format(
        "<svg class=\"graph\" width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" "
        "role=\"img\" aria-label=\"pipeline graph\"><defs><marker id=\"arrow{}\" "
        "viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
        "orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#5f6b7a\"/></marker></defs>",
        width, height, width, height, index);
    for (const auto& e : g.edges) {
        if (e.from >= n || e.to >= n) continue;
        const double x1 = bx(e.from) + box_w;
        const double y1 = by(e.from) + box_h / 2;
        const double x2 = bx(e.to);
        const double y2 = by(e.to) + box_h / 2;
        const double mid = (x1 + x2) / 2;
        out += fmt::format(
            "<path class=\"edge\" d=\"M{:.1f},{:.1f} C{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\" "
            "marker-end=\"url(#arrow{})\"/>",
            x1, y1, mid, y1, mid, y2, x2, y2, index);
    }
    for (std::size_t i = 0; i < n; ++i) {
        const graph_vertex& v = g.vertices[i];
        std::string css = v.type == kind::input    ? "v-input"
                          : v.type == kind::output ? "v-output"
                                                   : "v-node";
        std::string note = v.type == kind::input    ? "input"
                           : v.type == kind::output ? "output"
                                                    : "node";
        if (v.type == kind::node) {
            std::size_t total = 0;
            std::size_t failing = 0;
            for (const page_check* c : checks) {
                if (c->node != v.name) continue;
                ++total;
                if (severity(*c) == 0) ++failing;
            }
            if (failing > 0) {
                css += " v-fail";
                note = fmt::format("{} of {} check{} FAIL", failing, total, total == 1 ? "" : "s");
            } else if (total > 0) {
                note = fmt::format("{} check{}", total, total == 1 ? "" : "s");
            } else {
                note = "records";
            }
        }
        out += fmt::format("<g class=\"{}\"><title>", css);
        append_escaped(out, v.name);
        out += fmt::format(
            "</title><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.0f}\" height=\"{:.0f}\" "
            "rx=\"6\"/><text x=\"{:.1f}\" y=\"{:.1f}\" class=\"vname\">",
            bx(i), by(i), box_w, box_h, bx(i) + 8, by(i) + 16);
        append_escaped(out, shorten(v.name, k_label_chars));
        out += fmt::format("</text><text x=\"{:.1f}\" y=\"{:.1f}\" class=\"vnote\">", bx(i) + 8,
                           by(i) + 32);
        append_escaped(out, note);
        out += "</text></g>";
    }
    out += "</svg>";
    if (g.vertices.size() > n) {
        out += fmt::format("<p class=\"muted\">{} more inputs, nodes and outputs not drawn.</p>",
                           g.vertices.size() - n);
    }
}

constexpr std::string_view k_style = R"(
*{box-sizing:border-box}
body{font:14px/1.4 "DejaVu Sans",system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
header .meta{color:#c5cbd3;font-size:12px}
main{max-width:1260px;margin:0 auto;padding:8px 16px 24px}
h2{font-size:16px;margin:18px 0 8px}
h3{font-size:15px;margin:14px 0 6px}
.summary{padding:10px 14px;border-radius:6px;font-size:15px;font-weight:600;margin-top:10px;border:2px solid}
.summary.bad{background:#fdecea;border-color:#c62828;color:#8e1b1b}
.summary.good{background:#e8f5e9;border-color:#2e7d32;color:#1b5e20}
.summary.meh{background:#fff8e1;border-color:#f9a825;color:#6d4c00}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e6}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e9ed;vertical-align:top}
th{background:#eef0f3;font-size:12px;font-weight:600}
tr.row-fail td{background:#fdf1f0}
tr.row-fail td:first-child{border-left:4px solid #c62828}
tr.row-warn td:first-child{border-left:4px solid #f9a825}
.badge{display:inline-block;min-width:78px;padding:2px 6px;border-radius:4px;font-weight:700;font-size:12px;text-align:center;white-space:nowrap}
.badge.fail{background:#c62828;color:#fff}
.badge.warn{background:#f9a825;color:#1d2330}
.badge.pass{background:#2e7d32;color:#fff}
.badge.nodata{background:#78909c;color:#fff}
.badge.none{background:#e0e3e7;color:#37404c}
.name{font-weight:600}
.path,.muted{color:#5f6b7a;font-size:12px}
code{font:12px "DejaVu Sans Mono",ui-monospace,monospace;overflow-wrap:anywhere}
td:nth-child(2){min-width:220px}
.value{font-variant-numeric:tabular-nums;white-space:nowrap}
.time{font-size:12px;white-space:nowrap}
.gcount{font-weight:600;color:#8e1b1b}
ul.groups{margin:2px 0 0;padding-left:16px;font-size:12px}
ul.groups b{white-space:nowrap}
svg.spark .line{fill:none;stroke:#3b6ea8;stroke-width:1.5}
svg.spark .band{fill:#3b6ea8;fill-opacity:.18;stroke:none}
svg.spark .dot{fill:#3b6ea8}
svg.spark .dot-fail{fill:#c62828}
svg.spark .dot-warn{fill:#f9a825}
.graphbox{overflow-x:auto;background:#fff;border:1px solid #dde1e6;padding:6px;margin-bottom:8px}
svg.graph{max-width:100%;height:auto}
svg.graph .edge{fill:none;stroke:#5f6b7a;stroke-width:1.4}
svg.graph rect{stroke-width:1.5}
svg.graph .v-input rect{fill:#e3edf7;stroke:#3b6ea8}
svg.graph .v-node rect{fill:#fff;stroke:#2e7d32}
svg.graph .v-fail rect{fill:#fdecea;stroke:#c62828;stroke-width:2.5}
svg.graph .v-output rect{fill:#eceff1;stroke:#78909c}
svg.graph .vname{font-size:13px;font-weight:600;fill:#1d2330}
svg.graph .vnote{font-size:11px;fill:#5f6b7a}
svg.graph .v-fail .vnote{fill:#8e1b1b;font-weight:700}
footer{color:#5f6b7a;font-size:12px;margin-top:18px}
)";

}  // namespace

std::size_t pipeline_graph::vertex(graph_vertex::kind type, std::string_view name) {
    for (std::size_t i = 0; i < vertices.size(); ++i) {
        if (vertices[i].type == type && vertices[i].name == name) return i;
    }
    vertices.push_back({type, std::string(name)});
    return vertices.size() - 1;
}

void pipeline_graph::edge(std::size_t from, std::size_t to) {
    const graph_edge e{from, to};
    if (std::find(edges.begin(), edges.end(), e) == edges.end()) edges.push_back(e);
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_escaped(out, text);
    return out;
}

std::string format_for_display(const measure_value& value, const page_check& check) {
    if (value.kind == measure_kind::string) return shorten(value.text, 80);
    return format_value(value, unit_of(check));
}

std::string render_status_page(const status_page& page) {
    std::vector<const page_check*> checks;
    checks.reserve(page.checks.size());
    for (const auto& c : page.checks) checks.push_back(&c);
    std::stable_sort(checks.begin(), checks.end(), [](const page_check* a, const page_check* b) {
        const int sa = severity(*a);
        const int sb = severity(*b);
        if (sa != sb) return sa < sb;
        return std::tie(a->pipeline, a->node, a->check) < std::tie(b->pipeline, b->node, b->check);
    });
    std::array<std::size_t, 5> counts{};
    for (const page_check* c : checks) ++counts[static_cast<std::size_t>(severity(*c))];

    std::string out;
    out.reserve(16 * 1024 + checks.size() * 2048);
    out +=
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"refresh\" content=\"10\"><title>";
    out += counts[0] > 0 ? fmt::format("{} failing - weir", counts[0]) : "weir";
    out += "</title><style>";
    out += k_style;
    out += "</style></head><body><header><h1>weir</h1><span class=\"meta\">daemon ";
    append_escaped(out, page.status.state);
    out += " &middot; version ";
    append_escaped(out, page.version);
    out += " &middot; ";
    append_escaped(out, page.generated_at);
    out += " &middot; refreshes every 10 s</span></header><main>";

    const char* tone = counts[0] > 0 ? "bad" : counts[1] > 0 ? "meh" : "good";
    out += fmt::format("<div class=\"summary {}\" id=\"summary\">", tone);
    if (counts[0] > 0) {
        out += fmt::format("&#10007; {} check{} failing", counts[0], counts[0] == 1 ? "" : "s");
    } else if (counts[1] > 0) {
        out += "! No check fails; some warn";
    } else {
        out += "&#10003; No check fails";
    }
    out += fmt::format(
        " <span class=\"muted\">&middot; {} failing &middot; {} warning &middot; {} no data "
        "&middot; {} passing &middot; {} waiting for a first result</span></div>",
        counts[0], counts[1], counts[2], counts[3], counts[4]);

    append_checks(out, checks);

    out += "<section><h2>Pipelines</h2>";
    if (page.graphs.empty()) out += "<p class=\"muted\">No pipeline runs.</p>";
    for (std::size_t i = 0; i < page.graphs.size(); ++i) {
        const pipeline_graph& g = page.graphs[i];
        std::vector<const page_check*> own;
        for (const page_check* c : checks) {
            if (c->pipeline == g.pipeline) own.push_back(c);
        }
        out += "<h3>Pipeline ";
        append_escaped(out, g.pipeline);
        out += "</h3><div class=\"graphbox\">";
        append_graph(out, g, own, i);
        out += "</div>";
        append_queries(out, page.status, g.pipeline);
    }
    out +=
        "</section><footer>The same as JSON: <a href=\"/api/v1/status\">/api/v1/status</a>; "
        "metrics: <a href=\"/metrics\">/metrics</a>.</footer></main></body></html>\n";
    return out;
}

}  // namespace weir::daemon
