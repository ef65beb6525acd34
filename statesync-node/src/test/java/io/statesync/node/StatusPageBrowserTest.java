package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.node.ledger.ThreadId;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page in a real headless browser (Chromium from the distribution's packages), against
 * a real node: the page's script runs, polls {@code /node/status} and renders what it says.
 *
 * <p>Without Chromium on the {@code PATH} the test installs it when it can (see {@link Chromium}),
 * and otherwise is skipped with the reason.
 */
class StatusPageBrowserTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<ThreadId> THREADS = List.of(new ThreadId("t0"), new ThreadId("t1"));
    /** Longest a browser run may take; it is then killed with everything it started. */
    private static final Duration BROWSER_TIMEOUT = Duration.ofSeconds(90);

    @TempDir
    static Path dir;
    private static Path chromium;
    private static Node node;
    private static HttpClient http;

    @BeforeAll
    static void start() throws Exception {
        Chromium.Lookup found = Chromium.await();
        Assumptions.assumeTrue(found.path().isPresent(), () -> "skipping the browser test: " + found.whyMissing());
        chromium = found.path().get();
        node = Node.start(TestNodes.configure(dir, 1, THREADS, 100_000, false).get(0));
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!THREADS.stream().allMatch(t -> "LEADER".equals(node.thread(t.name()).orElseThrow()
                .groupStatus().role()))) {
            assertTrue(System.nanoTime() < deadline, "the one node leads its threads");
            Thread.sleep(50);
        }
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
        if (http != null) {
            http.close();
        }
    }

    @Test
    void theBrowserShowsTheNodesLiveHeightsAndRoles() throws Exception {
        Map<String, Long> before = heights(status());

        // Five seconds of virtual time: the script polls at once and twice more, two seconds apart.
        String dom = runChromium("--virtual-time-budget=5000", "--dump-dom", page());

        Map<String, Long> after = heights(status());
        assertTrue(dom.contains("<span id=\"node-id\" data-field=\"node\">n1</span>"), dom);
        assertTrue(dom.contains("<p id=\"updated\" class=\"muted\">updated "), "the script ran and polled:\n" + dom);
        assertTrue(dom.contains("<p id=\"problem\" class=\"bad\" hidden=\"\"></p>"), "no problem shown:\n" + dom);
        for (ThreadId t : THREADS) {
            Map<String, String> row = StatusPageTest.cells(dom, t.name());
            long shown = Long.parseLong(row.get("height"));
            // Blocks keep coming: what the page shows lies between the status before and after it.
            assertTrue(before.get(t.name()) <= shown && shown <= after.get(t.name()),
                    t.name() + ": " + before.get(t.name()) + " <= " + shown + " <= " + after.get(t.name()));
            assertEquals("leader", row.get("role"), row::toString);
            assertEquals("n1", row.get("leader"), row::toString);
            assertEquals("ok", row.get("state"), row::toString);
            assertEquals("-", row.get("sync"), row::toString);
            assertFalse(row.get("sparkline").isBlank(), "the script drew the heights it polled: " + row);
        }
        assertTrue(dom.contains("data-thread=\"t0\" data-member=\"n1\""), "the members table:\n" + dom);
    }

    @Test
    void aScreenshotOfThePageIsARealPicture() throws Exception {
        Path png = Path.of("target", "status-page.png").toAbsolutePath();
        Files.createDirectories(png.getParent());
        Files.deleteIfExists(png);

        runChromium("--virtual-time-budget=5000", "--window-size=1200,800", "--screenshot=" + png, page());

        assertTrue(Files.exists(png), "no screenshot at " + png);
        byte[] bytes = Files.readAllBytes(png);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
                java.util.Arrays.copyOf(bytes, 8), "PNG signature");
        // A blank 1200x800 page compresses to a few KB; text, tables and lines make it larger.
        assertTrue(bytes.length > 10 * 1024, "a screenshot of " + bytes.length + " bytes shows next to nothing");
    }

    private static String page() {
        return node.uri().resolve("/").toString();
    }

    private static JsonNode status() throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(node.uri().resolve("/node/status"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    private static Map<String, Long> heights(JsonNode status) {
        Map<String, Long> out = new LinkedHashMap<>();
        status.path("threads").forEach(t -> out.put(t.path("thread").asText(), t.path("height").asLong()));
        return out;
    }

    /**
     * Runs headless Chromium with {@code args} and a profile of its own, and returns what it
     * printed. Output goes to files, not pipes, so a chatty browser cannot block on a full pipe;
     * whatever it started is killed when it is done or out of time.
     */
    private static String runChromium(String... args) throws Exception {
        Path work = Files.createTempDirectory(dir, "chromium");
        List<String> command = new ArrayList<>(List.of(chromium.toString(), "--headless", "--no-sandbox",
                "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage",
                "--user-data-dir=" + work.resolve("profile")));
        command.addAll(List.of(args));
        Path out = work.resolve("stdout");
        Path err = work.resolve("stderr");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            if (!p.waitFor(BROWSER_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                fail("chromium did not finish within " + BROWSER_TIMEOUT.toSeconds() + " s: " + tail(err));
            }
            assertEquals(0, p.exitValue(), () -> "chromium failed: " + tail(err));
            return Files.readString(out);
        } finally {
            // Renderer and zygote processes may outlive a killed parent; take them first.
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static String tail(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
            return text.length() > 2000 ? "..." + text.substring(text.length() - 2000) : text;
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }
}
