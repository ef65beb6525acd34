package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.statesync.core.testing.Ports;
import io.statesync.node.Node;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code statesync status} against a real one-node cluster in this JVM, and
 * against addresses that are no node: what it prints, and that each failure is one line.
 */
class StatusCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    private static Node node;
    private static String url;

    @BeforeAll
    static void start() throws Exception {
        node = OneNode.start(dir, "status-cli", UnaryOperator.identity());
        url = node.uri().toString();
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void theTableShowsTheNodesRealHeightRoleAndMembers() throws Exception {
        long before = height(status());
        Cli.Result r = Cli.run(Cli.env(dir), "status", "--node", url);
        long after = height(status());

        assertEquals(0, r.exitCode(), r::err);
        assertEquals("", r.err());
        List<String> lines = r.outLines();
        assertEquals("node n1 at " + url.replaceAll("/+$", ""), lines.get(0));
        assertEquals(List.of("THREAD", "HEIGHT", "ROLE", "LEADER", "APPLIED/COMMIT", "MEMPOOL", "SYNC", "SNAPSHOT",
                "STATE"), Arrays.asList(lines.get(2).split("\\s+")));
        String[] row = lines.get(3).split("\\s+");
        assertEquals("t0", row[0]);
        long shown = Long.parseLong(row[1]);
        // Blocks keep coming: what it printed lies between the status before and after it.
        assertTrue(before <= shown && shown <= after, before + " <= " + shown + " <= " + after);
        assertEquals(List.of("leader", "n1"), List.of(row[2], row[3]));
        assertTrue(row[4].matches("\\d+/\\d+"), row[4]);
        assertEquals(List.of("0", "-", "-", "ok"), List.of(row[5], row[6], row[7], row[8]), lines.get(3));
        // Columns line up: each value starts where its heading does.
        assertEquals(lines.get(2).indexOf("HEIGHT"), lines.get(3).indexOf(row[1], 2));
        assertEquals(lines.get(2).indexOf("STATE"), lines.get(3).lastIndexOf("ok"));

        assertEquals("", lines.get(4));
        assertEquals(List.of("THREAD", "MEMBER", "ROLE", "INDEX", "HTTP"), Arrays.asList(lines.get(5).split("\\s+")));
        String[] member = lines.get(6).split("\\s+");
        assertEquals(List.of("t0", "n1", "leader"), List.of(member[0], member[1], member[2]));
        assertEquals(url.replaceAll("/+$", ""), member[4]);
        assertEquals(7, lines.size(), r.out());
        assertFalse(r.out().contains("\u001b"), "no terminal escapes");
    }

    @Test
    void jsonPrintsTheDocumentTheNodeAnswered() throws Exception {
        Cli.Result r = Cli.run(Cli.env(dir), "status", "--node=" + url + "/", "--json");

        assertEquals(0, r.exitCode(), r::err);
        JsonNode doc = JSON.readTree(r.out());
        assertEquals("n1", doc.path("node").asText());
        assertEquals("t0", doc.path("threads").get(0).path("thread").asText());
        assertTrue(doc.path("threads").get(0).has("stateRoot"), r.out());
    }

    @Test
    void anUnreachableNodeIsOneLineAndExit1() throws IOException {
        String nowhere = "http://127.0.0.1:" + Ports.free();
        Cli.Result r = Cli.run(Cli.env(dir), "status", "--node", nowhere);

        r.assertOneLineFailure(Failures.FAILED);
        assertEquals("statesync: cannot reach " + nowhere + ": connection refused", r.lastErrLine());
        assertEquals("", r.out());
    }

    @Test
    void anAddressThatIsNoNodeSaysWhatItAnswered() throws Exception {
        HttpServer other = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        other.createContext("/", exchange -> {
            byte[] body = "no such page\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(404, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        other.start();
        try {
            String base = "http://127.0.0.1:" + other.getAddress().getPort();
            Cli.Result r = Cli.run(Cli.env(dir), "status", "--node", base);

            r.assertOneLineFailure(Failures.FAILED);
            assertEquals("statesync: " + base + "/node/status answered 404: no such page (no node status there: "
                    + "is this a statesync node's URL?)", r.lastErrLine());
        } finally {
            other.stop(0);
        }
    }

    @Test
    void aPathOnTheNodeThatIsNotTheNodeIs404WithTheNodesReason() {
        Cli.Result r = Cli.run(Cli.env(dir), "status", "--node", url + "/elsewhere");

        r.assertOneLineFailure(Failures.FAILED);
        assertTrue(r.lastErrLine().contains("/elsewhere/node/status answered 404: not found"), r.err());
        assertTrue(r.lastErrLine().endsWith("is this a statesync node's URL?)"), r.err());
    }

    @Test
    void aNodeThatDoesNotAnswerInTimeIsOneLine() throws Exception {
        // Connections complete in the backlog, unaccepted: a server that takes the request and never answers.
        try (ServerSocket silent = new ServerSocket(0, 8, java.net.InetAddress.getLoopbackAddress())) {
            String base = "http://127.0.0.1:" + silent.getLocalPort();
            Cli.Result r = Cli.run(Cli.env(dir), "status", "--node", base, "--timeout=300ms");

            r.assertOneLineFailure(Failures.FAILED);
            assertEquals("statesync: no answer from " + base + " within 300 ms (see --timeout)", r.lastErrLine());
        }
    }

    @Test
    void aNodeThatStallsMidAnswerIsOneLineAtTheTimeout() throws Exception {
        // The headers and the document's first bytes, then silence without closing: the JDK's own
        // timeout ends at the headers, so the command waited for good.
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        HttpServer stalling = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        stalling.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        stalling.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, 1000);
            exchange.getResponseBody().write("{\"node\":".getBytes(StandardCharsets.UTF_8));
            exchange.getResponseBody().flush();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.close();
        });
        stalling.start();
        try {
            String base = "http://127.0.0.1:" + stalling.getAddress().getPort();
            Cli.Result r = Cli.run(Cli.env(dir), "status", "--node", base, "--timeout=500ms");

            r.assertOneLineFailure(Failures.FAILED);
            assertEquals("statesync: no answer from " + base + " within 500 ms (see --timeout)", r.lastErrLine());
        } finally {
            release.countDown();
            stalling.stop(0);
        }
    }

    static Stream<Arguments> badCommandLines() {
        return Stream.of(
                Arguments.of(new String[] {"status"}, "--node"),
                Arguments.of(new String[] {"status", "--node", "localhost:8080"}, "is not an http://host:port URL"),
                Arguments.of(new String[] {"status", "--node", "ftp://host/"}, "is not an http://host:port URL"),
                Arguments.of(new String[] {"status", "--node", "http://"}, "is not an http://host:port URL"),
                Arguments.of(new String[] {"status", "--node", "http://a b"}, "is not an http://host:port URL"),
                Arguments.of(new String[] {"status", "--node=http://127.0.0.1:1", "--timeout=0s"}, "--timeout"),
                Arguments.of(new String[] {"status", "--node=http://127.0.0.1:1", "--timeout=soon"}, "--timeout"),
                Arguments.of(new String[] {"status", "--node=http://127.0.0.1:1", "--bogus"}, "--bogus"));
    }

    @ParameterizedTest
    @MethodSource("badCommandLines")
    void aWrongCommandLineIsOneLineAndExit2(String[] args, String mentions) {
        Cli.Result r = Cli.run(Cli.env(dir), args);
        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains(mentions), r.err());
    }

    @Test
    void troubleAndProgressReadAsWordsAndHostileValuesCannotReachTheTerminal() throws Exception {
        JsonNode status = JSON.readTree("""
                {"node":"n2","failure":"disk full","threads":[
                 {"thread":"t0","height":12,"role":"FOLLOWER","leader":"n1","appliedIndex":-1,"commitIndex":30,
                  "mempool":0,"catchingUp":true,"syncProgress":{"done":2,"total":5,"unit":"chunks"},
                  "halted":"state root mismatch\\u001b[2J","lastSyncError":"no source",
                  "members":[{"id":"n1\\u001b[31m","role":"follower","index":30,"http":"http://h:1"}]}]}
                """);

        String text = StatusCommand.render(status, URI.create("http://h:2"));

        assertFalse(text.contains("\u001b"), text);
        List<String> lines = text.lines().toList();
        assertEquals("node n2 at http://h:2", lines.get(0));
        assertEquals("node failed: disk full", lines.get(1));
        assertEquals(List.of("t0", "12", "follower", "n1", "-/30", "0", "catching", "up", "40%", "-", "halted"),
                Arrays.asList(lines.get(4).split("\\s+")));
        assertEquals("t0 halted: state root mismatch?[2J", lines.get(5));
        assertEquals("t0 last catch-up error: no source", lines.get(6));
        assertTrue(lines.get(9).startsWith("t0      n1?[31m  follower"), text);
    }

    private static JsonNode status() throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(url).resolve("/node/status")).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
        }
    }

    private static long height(JsonNode status) {
        return status.path("threads").get(0).path("height").asLong();
    }
}
