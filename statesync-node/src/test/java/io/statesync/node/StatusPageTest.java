package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /}: the status page as the server renders it (its facts, escaping, what it shows
 * while the node starts), and served by a real node next to the API it reads from.
 */
class StatusPageTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A {@code <td>} with its attributes and its text (no markup inside). */
    private static final Pattern CELL = Pattern.compile("<td ([^>]*)>([^<]*)</td>");

    @TempDir
    Path dir;

    @Test
    void thePageShowsEveryFactOfEveryThreadInCellsATestCanRead() throws Exception {
        JsonNode status = JSON.readTree("""
                {"node":"n1","startup":{"api":0.012,"groups":1.5},"threads":[
                 {"thread":"t0","height":153,"role":"LEADER","leader":"n1","appliedIndex":160,"commitIndex":161,
                  "mempool":4,"catchingUp":false,"latestSnapshotIndex":150,
                  "members":[{"id":"n1","role":"leader","index":160,"http":"http://127.0.0.1:8080"},
                             {"id":"n2","role":"listener","index":-1,"http":"http://127.0.0.1:8081"}]},
                 {"thread":"t1","height":7,"role":"FOLLOWER","leader":null,"appliedIndex":-1,"commitIndex":3,
                  "mempool":0,"catchingUp":true,"syncProgress":{"done":40,"total":100,"unit":"bytes"},
                  "stalled":"no block applied for 30 s","members":[]}]}
                """);

        String html = StatusPage.render(status, null, Instant.parse("2025-01-02T03:04:05.678Z"));

        assertTrue(html.startsWith("<!doctype html>"), html);
        assertTrue(html.contains("<span id=\"node-id\" data-field=\"node\">n1</span>"), html);
        assertEquals(Map.of("thread", "t0", "height", "153", "role", "leader", "leader", "n1", "indexes", "160/161",
                "mempool", "4", "sync", "-", "snapshot", "150", "state", "ok", "sparkline", ""), cells(html, "t0"));
        Map<String, String> t1 = cells(html, "t1");
        assertEquals("7", t1.get("height"));
        assertEquals("follower", t1.get("role"));
        assertEquals("-", t1.get("leader"), "no leader known");
        assertEquals("-/3", t1.get("indexes"), "nothing applied yet");
        assertEquals("catching up 40%", t1.get("sync"));
        assertEquals("-", t1.get("snapshot"));
        assertEquals("stalled", t1.get("state"));
        assertTrue(html.contains("title=\"no block applied for 30 s\" class=\"bad\">stalled<"), html);
        assertTrue(html.contains("data-member=\"n2\""), html);
        assertTrue(html.contains("<a href=\"http://127.0.0.1:8081\">"), html);
        assertTrue(html.contains("startup: api 0.01 s, groups 1.50 s"), html);
        assertTrue(html.contains("<polyline points=\"\"/>"), "an empty sparkline until the script polls");
        assertTrue(html.contains("rendered at 2025-01-02T03:04:05Z"), html);
        assertTrue(html.contains("<p id=\"problem\" class=\"bad\" hidden></p>"), "no problem shown");
        for (String external : List.of("src=", "<link", "@import", "url(", "fetch(\"http")) {
            assertFalse(html.contains(external), "nothing is loaded from elsewhere: " + external);
        }
        assertFalse(html.contains("\u001b"), "no terminal escapes");
    }

    @Test
    void everyValueIsEscapedAndOnlyHttpMembersBecomeLinks() throws Exception {
        JsonNode status = JSON.readTree("""
                {"node":"n<1>&\\"'","failure":"<b>boom</b>","threads":[
                 {"thread":"t0","height":1,"role":"<i>","leader":"<script>alert(1)</script>",
                  "halted":"x\\" onmouseover=\\"alert(1)","members":[
                   {"id":"m\\"1","role":"follower","index":1,"http":"javascript:alert(1)"}]}]}
                """);

        String html = StatusPage.render(status, null, Instant.EPOCH);

        assertTrue(html.contains("data-field=\"node\">n&lt;1&gt;&amp;&quot;&#39;</span>"), html);
        assertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), html);
        assertFalse(html.contains("<script>alert"), html);
        assertFalse(html.contains("<b>boom"), html);
        assertTrue(html.contains("node failed: &lt;b&gt;boom&lt;/b&gt;</p>"), "the failure is shown: " + html);
        assertTrue(html.contains("title=\"x&quot; onmouseover=&quot;alert(1)\""), html);
        assertTrue(html.contains("data-member=\"m&quot;1\""), html);
        assertFalse(html.contains("href=\"javascript"), html);
        assertEquals("halted", cells(html, "t0").get("state"));
    }

    @Test
    void whileTheNodeStartsThePageOpensAndSaysSo() throws Exception {
        StatusPage page = new StatusPage("n7", request -> {
            throw new RouteException(503, "node n7 is starting; try again shortly");
        });

        RouteResponse r = page.handle(new RouteRequest("GET", List.of(), Map.of()));

        assertEquals(200, r.status());
        assertEquals("text/html; charset=utf-8", r.contentType());
        String html = new String(r.body(), StandardCharsets.UTF_8);
        assertTrue(html.contains("data-field=\"node\">n7</span>"), html);
        assertTrue(html.contains("<p id=\"problem\" class=\"bad\">node n7 is starting; try again shortly</p>"), html);
        assertTrue(html.contains("<tbody id=\"thread-rows\">\n</tbody>"), html);
    }

    @Test
    void statusFactsReadTheWorstStateAndTheProgress() throws Exception {
        assertEquals(StatusFacts.State.HALTED, StatusFacts.state(JSON.readTree(
                "{\"halted\":\"a\",\"stalled\":\"b\",\"failed\":\"c\"}")));
        assertEquals(StatusFacts.State.FAILED, StatusFacts.state(JSON.readTree("{\"stalled\":\"b\",\"failed\":\"c\"}")));
        assertEquals("c", StatusFacts.stateReason(JSON.readTree("{\"stalled\":\"b\",\"failed\":\"c\"}")));
        assertEquals(StatusFacts.State.OK, StatusFacts.state(JSON.readTree("{\"halted\":null}")));
        assertEquals("catching up", StatusFacts.sync(JSON.readTree("{\"catchingUp\":true}")));
        assertEquals("catching up 0%", StatusFacts.sync(JSON.readTree(
                "{\"catchingUp\":true,\"syncProgress\":{\"done\":0,\"total\":3}}")));
        assertEquals("catching up 100%", StatusFacts.sync(JSON.readTree(
                "{\"catchingUp\":true,\"syncProgress\":{\"done\":5,\"total\":3}}")));
        assertEquals("-", StatusFacts.sync(JSON.readTree(
                "{\"catchingUp\":false,\"syncProgress\":{\"done\":1,\"total\":3}}")));
    }

    @Test
    void aRealNodeServesThePageAtTheRootBesideItsApi() throws Exception {
        List<ThreadId> threads = List.of(new ThreadId("t0"), new ThreadId("t1"));
        NodeConfig config = TestNodes.configure(dir, 1, threads, 100_000, false).get(0);
        try (Node node = Node.start(config);
             HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!threads.stream().allMatch(t -> "LEADER".equals(node.thread(t.name()).orElseThrow()
                    .groupStatus().role()))) {
                assertTrue(System.nanoTime() < deadline, "the one node leads its threads");
                Thread.sleep(50);
            }
            long before = JSON.readTree(send(http, node, "GET", "/node/status").body())
                    .path("threads").get(0).path("height").asLong();

            HttpResponse<String> page = send(http, node, "GET", "/");
            assertEquals(200, page.statusCode(), page.body());
            assertEquals("text/html; charset=utf-8", page.headers().firstValue("content-type").orElseThrow());
            assertEquals("no-store", page.headers().firstValue("cache-control").orElseThrow());
            String html = page.body();
            assertTrue(html.contains("data-field=\"node\">n1</span>"), html);
            for (ThreadId t : threads) {
                Map<String, String> row = cells(html, t.name());
                assertEquals("leader", row.get("role"), row::toString);
                assertEquals("n1", row.get("leader"), row::toString);
                assertEquals("ok", row.get("state"), row::toString);
            }
            long shown = Long.parseLong(cells(html, "t0").get("height"));
            long after = JSON.readTree(send(http, node, "GET", "/node/status").body())
                    .path("threads").get(0).path("height").asLong();
            assertTrue(before <= shown && shown <= after, before + " <= " + shown + " <= " + after);

            HttpResponse<String> post = send(http, node, "POST", "/");
            assertEquals(405, post.statusCode());
            assertTrue(post.body().contains("method POST not allowed here: use GET or HEAD"), post.body());
            HttpResponse<String> head = send(http, node, "HEAD", "/");
            assertEquals(200, head.statusCode());
            assertEquals("", head.body());
            assertEquals(404, send(http, node, "GET", "/nothing-here").statusCode());
            assertEquals(200, send(http, node, "GET", "/metrics").statusCode());
            assertEquals(200, send(http, node, "GET", "/health").statusCode());
        }
    }

    /**
     * The cells of {@code thread}'s row in the threads table, by field, as the server or a browser
     * serialised them; the sparkline's value is its polyline's points.
     */
    static Map<String, String> cells(String html, String thread) {
        Matcher body = Pattern.compile("(?s)<tbody id=\"thread-rows\">(.*?)</tbody>").matcher(html);
        assertTrue(body.find(), "no threads table in:\n" + html);
        Matcher row = Pattern.compile("(?s)<tr data-thread=\"" + Pattern.quote(thread) + "\">(.*?)</tr>")
                .matcher(body.group(1));
        assertTrue(row.find(), "no row of " + thread + " in:\n" + body.group(1));
        Map<String, String> out = new java.util.LinkedHashMap<>();
        Matcher m = CELL.matcher(row.group(1));
        while (m.find()) {
            Matcher field = Pattern.compile("data-field=\"([a-z]+)\"").matcher(m.group(1));
            if (field.find()) {
                out.put(field.group(1), m.group(2));
            }
        }
        // The sparkline's cell holds markup, which CELL skips.
        Matcher spark = Pattern.compile("(?s)data-field=\"sparkline\".*?<polyline points=\"([^\"]*)\"")
                .matcher(row.group(1));
        if (spark.find()) {
            out.put("sparkline", spark.group(1));
        }
        return out;
    }

    private static HttpResponse<String> send(HttpClient http, Node node, String method, String path)
            throws Exception {
        return http.send(HttpRequest.newBuilder(node.uri().resolve(path)).timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }
}
