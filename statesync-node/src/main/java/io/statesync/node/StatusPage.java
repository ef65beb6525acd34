package io.statesync.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.transfer.server.Route;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code GET /}: the node's status as a page a person reads in a browser. The server renders it
 * once from {@code /node/status}, so it shows the facts without scripts; a few lines of inline
 * script then poll {@code /node/status} every two seconds, re-render, and draw each thread's
 * recent heights as a sparkline. Nothing is loaded from elsewhere: the page works on a machine
 * without internet access and leaks nothing to third parties.
 *
 * <p>Every value sits in an element with stable {@code data-field}/{@code data-thread} attributes
 * (and {@code data-member} in the members table), so scripts and tests read numbers from the DOM
 * rather than from layout.
 */
final class StatusPage implements Route {
    static final String HTML = "text/html; charset=utf-8";
    /** How many polls the sparkline spans, at two seconds each: two minutes. */
    static final int HISTORY = 60;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String nodeId;
    private final Route api;

    /**
     * @param nodeId named on the page while the node starts and has no status yet
     * @param api the node API, asked for {@code status} exactly as a client would, so the page
     *     and {@code /node/status} can never disagree (nor differ in when they answer 503)
     */
    StatusPage(String nodeId, Route api) {
        this.nodeId = nodeId;
        this.api = api;
    }

    @Override
    public RouteResponse handle(RouteRequest request) throws RouteException {
        request.requireMethod("GET", "HEAD");
        JsonNode status;
        String problem = null;
        try {
            RouteResponse r = api.handle(new RouteRequest("GET", List.of("status"), Map.of()));
            status = JSON.readTree(r.body());
        } catch (RouteException e) {
            // Starting, most likely: the page still opens, says so, and its script keeps polling.
            status = JSON.createObjectNode().put("node", nodeId);
            problem = e.getMessage();
        } catch (IOException e) {
            throw new IllegalStateException("the node's own status is not JSON", e);
        }
        return new RouteResponse(200, HTML, render(status, problem, Instant.now()).getBytes(StandardCharsets.UTF_8));
    }

    /** The whole page for one status document; {@code problem}, if not null, is shown prominently. */
    static String render(JsonNode status, String problem, Instant at) {
        String node = status.path("node").asText("");
        StringBuilder b = new StringBuilder(8192);
        b.append("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                .append("<title>statesync node ").append(esc(node)).append("</title>\n")
                .append("<style>").append(CSS).append("</style>\n</head>\n<body>\n");
        b.append("<header>\n<h1>statesync node <span id=\"node-id\" data-field=\"node\">").append(esc(node))
                .append("</span></h1>\n<p id=\"updated\" class=\"muted\">rendered at ")
                .append(esc(at.truncatedTo(ChronoUnit.SECONDS).toString()))
                .append("; this page refreshes every 2 s while scripts run</p>\n");
        String failure = status.hasNonNull("failure") ? "node failed: " + status.path("failure").asText() : null;
        String shown = problem != null ? problem : failure;
        b.append("<p id=\"problem\" class=\"bad\"").append(shown == null ? " hidden>" : ">")
                .append(shown == null ? "" : esc(shown)).append("</p>\n</header>\n");

        b.append("<h2>Threads</h2>\n<table id=\"threads\">\n<thead><tr><th>thread</th><th>height</th><th>role</th>")
                .append("<th>leader</th><th>applied/commit</th><th>mempool</th><th>sync</th><th>snapshot</th>")
                .append("<th>state</th><th>height, last ").append(HISTORY * 2 / 60).append(" min</th></tr></thead>\n")
                .append("<tbody id=\"thread-rows\">\n");
        for (JsonNode t : status.path("threads")) {
            threadRow(b, t);
        }
        b.append("</tbody>\n</table>\n");

        b.append("<h2>Members</h2>\n<table id=\"members\">\n<thead><tr><th>thread</th><th>member</th><th>role</th>")
                .append("<th>index</th><th>http</th></tr></thead>\n<tbody id=\"member-rows\">\n");
        for (JsonNode t : status.path("threads")) {
            String thread = t.path("thread").asText();
            for (JsonNode m : t.path("members")) {
                memberRow(b, thread, m);
            }
        }
        b.append("</tbody>\n</table>\n");
        b.append("<p id=\"startup\" class=\"muted\">").append(esc(startup(status))).append("</p>\n");
        b.append("<script>\"use strict\";\nconst HISTORY = ").append(HISTORY).append(";\n").append(SCRIPT)
                .append("</script>\n</body>\n</html>\n");
        return b.toString();
    }

    private static void threadRow(StringBuilder b, JsonNode t) {
        String thread = t.path("thread").asText();
        StatusFacts.State state = StatusFacts.state(t);
        b.append("<tr data-thread=\"").append(esc(thread)).append("\">");
        cell(b, "thread", thread, thread, null);
        cell(b, "height", thread, StatusFacts.number(t, "height"), null);
        cell(b, "role", thread, StatusFacts.role(t), null);
        cell(b, "leader", thread, StatusFacts.text(t, "leader"), null);
        cell(b, "indexes", thread, StatusFacts.indexes(t), null);
        cell(b, "mempool", thread, StatusFacts.number(t, "mempool"), null);
        cell(b, "sync", thread, StatusFacts.sync(t), null);
        cell(b, "snapshot", thread, StatusFacts.number(t, "latestSnapshotIndex"), null);
        cell(b, "state", thread, state.label(), StatusFacts.stateReason(t));
        // Empty until the script has polled: the server sees one moment, not a history.
        b.append("<td data-field=\"sparkline\" data-thread=\"").append(esc(thread)).append("\">")
                .append("<svg class=\"spark\" viewBox=\"0 0 120 24\" width=\"120\" height=\"24\" role=\"img\"")
                .append(" aria-label=\"height of ").append(esc(thread)).append("\">")
                .append("<polyline points=\"\"/></svg></td></tr>\n");
    }

    private static void memberRow(StringBuilder b, String thread, JsonNode m) {
        String id = m.path("id").asText();
        b.append("<tr data-thread=\"").append(esc(thread)).append("\" data-member=\"").append(esc(id)).append("\">");
        cell(b, "thread", thread, thread, null);
        cell(b, "member", thread, id, null);
        cell(b, "role", thread, StatusFacts.role(m), null);
        cell(b, "index", thread, StatusFacts.number(m, "index"), null);
        String http = m.path("http").asText("");
        b.append("<td data-field=\"http\" data-thread=\"").append(esc(thread)).append("\">");
        if (http.startsWith("http://") || http.startsWith("https://")) {
            // Each member serves this page too; only http(s) links, never a javascript: one.
            b.append("<a href=\"").append(esc(http)).append("\">").append(esc(http)).append("</a>");
        } else {
            b.append(esc(http.isEmpty() ? "-" : http));
        }
        b.append("</td></tr>\n");
    }

    private static void cell(StringBuilder b, String field, String thread, String text, String title) {
        b.append("<td data-field=\"").append(field).append("\" data-thread=\"").append(esc(thread)).append('"');
        if (title != null) {
            b.append(" title=\"").append(esc(title)).append('"');
        }
        if (field.equals("state")) {
            b.append(" class=\"").append(text.equals("ok") ? "ok" : "bad").append('"');
        }
        b.append('>').append(esc(text)).append("</td>");
    }

    /** The startup phases the node has reached, {@code startup: api 0.05 s, groups 1.2 s}; empty if none. */
    static String startup(JsonNode status) {
        StringBuilder s = new StringBuilder();
        status.path("startup").fields().forEachRemaining(e -> s.append(s.isEmpty() ? "startup: " : ", ")
                .append(e.getKey()).append(' ')
                .append(String.format(Locale.ROOT, "%.2f", e.getValue().asDouble())).append(" s"));
        return s.toString();
    }

    /** Escapes text for an HTML element or a quoted attribute value. */
    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static final String CSS = """
            :root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --line: #8884; }
            body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; max-width: 72rem; }
            h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1rem; margin: 1.4rem 0 .4rem; }
            table { border-collapse: collapse; }
            th, td { text-align: left; padding: .25rem .7rem .25rem 0; border-bottom: 1px solid var(--line);
                     white-space: nowrap; }
            th { font-weight: 600; font-size: .85rem; }
            td { font-variant-numeric: tabular-nums; }
            td[data-field=height], td[data-field=mempool], td[data-field=snapshot], td[data-field=index] {
                text-align: right; }
            .muted { opacity: .7; margin: 0; } .ok { color: var(--ok); } .bad { color: var(--bad); font-weight: 600; }
            .spark { background: #8881; display: block; }
            .spark polyline { fill: none; stroke: currentColor; stroke-width: 1.5; }
            #startup { margin-top: 1rem; }
            """;

    /**
     * The live part: poll, then rebuild both tables with DOM calls (text nodes, never HTML
     * strings, so no value can inject markup). Its rules for sync and state mirror
     * {@link StatusFacts}; a failed poll keeps the last rendering and says why.
     */
    private static final String SCRIPT = """
            const heights = new Map();
            const SVG = "http://www.w3.org/2000/svg";
            const dash = v => (typeof v === "number" && v >= 0) ? String(v) : "-";
            const text = v => (v === undefined || v === null || v === "") ? "-" : String(v);
            const role = v => v ? String(v).toLowerCase() : "-";
            function sync(t) {
              if (!t.catchingUp) return "-";
              const p = t.syncProgress;
              if (!p || !(p.total > 0)) return "catching up";
              return "catching up " + Math.max(0, Math.min(100, Math.floor(p.done * 100 / p.total))) + "%";
            }
            function state(t) {
              for (const s of ["halted", "failed", "stalled"]) {
                if (t[s] !== undefined && t[s] !== null) return [s, String(t[s])];
              }
              return ["ok", null];
            }
            function td(tr, field, thread, value, title) {
              const c = tr.insertCell();
              c.dataset.field = field;
              c.dataset.thread = thread;
              c.textContent = value;
              if (title) c.title = title;
              return c;
            }
            function spark(cell, series) {
              const svg = document.createElementNS(SVG, "svg");
              svg.setAttribute("class", "spark");
              svg.setAttribute("viewBox", "0 0 120 24");
              svg.setAttribute("width", "120");
              svg.setAttribute("height", "24");
              const line = document.createElementNS(SVG, "polyline");
              const lo = Math.min(...series), hi = Math.max(...series), span = (hi - lo) || 1;
              // Newest at the right edge, one fixed step per poll: the time scale stays put as history fills.
              const step = 120 / (HISTORY - 1), first = 120 - (series.length - 1) * step;
              line.setAttribute("points", series.map((h, i) =>
                (first + i * step).toFixed(1) + "," + (22 - (h - lo) * 20 / span).toFixed(1)).join(" "));
              svg.appendChild(line);
              cell.appendChild(svg);
            }
            function render(s) {
              document.getElementById("node-id").textContent = s.node;
              document.title = "statesync node " + s.node;
              const rows = document.getElementById("thread-rows");
              const members = document.getElementById("member-rows");
              rows.replaceChildren();
              members.replaceChildren();
              for (const t of s.threads || []) {
                const series = heights.get(t.thread) || [];
                series.push(t.height);
                if (series.length > HISTORY) series.shift();
                heights.set(t.thread, series);
                const tr = rows.insertRow();
                tr.dataset.thread = t.thread;
                td(tr, "thread", t.thread, t.thread);
                td(tr, "height", t.thread, dash(t.height));
                td(tr, "role", t.thread, role(t.role));
                td(tr, "leader", t.thread, text(t.leader));
                td(tr, "indexes", t.thread, dash(t.appliedIndex) + "/" + dash(t.commitIndex));
                td(tr, "mempool", t.thread, dash(t.mempool));
                td(tr, "sync", t.thread, sync(t));
                td(tr, "snapshot", t.thread, dash(t.latestSnapshotIndex));
                const [st, why] = state(t);
                td(tr, "state", t.thread, st, why).className = st === "ok" ? "ok" : "bad";
                spark(td(tr, "sparkline", t.thread, ""), series);
                for (const m of t.members || []) {
                  const mr = members.insertRow();
                  mr.dataset.thread = t.thread;
                  mr.dataset.member = m.id;
                  td(mr, "thread", t.thread, t.thread);
                  td(mr, "member", t.thread, m.id);
                  td(mr, "role", t.thread, role(m.role));
                  td(mr, "index", t.thread, dash(m.index));
                  const h = td(mr, "http", t.thread, "");
                  if (/^https?:[/][/]/.test(m.http || "")) {
                    const a = document.createElement("a");
                    a.href = m.http;
                    a.textContent = m.http;
                    h.appendChild(a);
                  } else {
                    h.textContent = text(m.http);
                  }
                }
              }
              const phases = Object.entries(s.startup || {}).map(([k, v]) => k + " " + Number(v).toFixed(2) + " s");
              document.getElementById("startup").textContent = phases.length ? "startup: " + phases.join(", ") : "";
              problem(s.failure ? "node failed: " + s.failure : null);
            }
            function problem(message) {
              const p = document.getElementById("problem");
              p.textContent = message || "";
              p.hidden = !message;
            }
            async function poll() {
              try {
                const res = await fetch("/node/status", { cache: "no-store" });
                const body = await res.text();
                if (res.ok) {
                  render(JSON.parse(body));
                  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
                } else {
                  problem(body.trim() || "the node answered " + res.status);
                }
              } catch (e) {
                problem("cannot reach the node: " + e.message);
              } finally {
                setTimeout(poll, 2000);
              }
            }
            poll();
            """;
}
