package io.statesync.node.statesync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.store.ContentStore;
import io.statesync.node.ledger.ThreadId;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A join node that answers its saved states with garbage gives no head start, and nothing breaks. */
class JoinPrefetchTest {
    private static final ThreadId T0 = new ThreadId("t0");

    @TempDir
    Path tmp;

    @Test
    void garbageOversizeAnswersAndAPathOutOfTheShareAreIgnoredAndTheHeadStartStillCloses() throws Exception {
        // Given three join nodes: one answers with broken JSON, one with a body far over the
        // limit, one names a saved state whose share path leaves the share
        AtomicInteger asked = new AtomicInteger();
        byte[] huge = new byte[6 << 20];
        java.util.Arrays.fill(huge, (byte) ' ');
        String escaping = "{\"savedStates\":{\"t0\":{\"manifest\":\"" + Cid.compute(Codec.DAG_JSON, new byte[] {1})
                + "\",\"height\":\"9\",\"sharePath\":\"../../etc\"}}}";
        List<URI> join = List.of(serve("{\"savedStates\":", asked), serve(huge, asked), serve(escaping, asked));
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Path dir = tmp.resolve("prefetch");
        ContentStore group = ContentStore.open(tmp.resolve("group"));
        Cid chunk = group.put(Codec.RAW, "state".getBytes(StandardCharsets.UTF_8));
        Manifest m = new Manifest(Manifest.VERSION, 1 << 20, Map.of(), List.of(new FileEntry("state.bin", 5, 0644,
                List.of(chunk))));

        JoinPrefetch prefetch = JoinPrefetch.open(dir, join, new SyncTimeline(java.time.Instant.now(), registry),
                registry);
        try {
            // When it looks for a while
            prefetch.start(List.of(T0));
            long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (asked.get() < 6 && System.nanoTime() < until) {
                Thread.sleep(50);
            }

            // Then it kept asking (each answer refused), fetched nothing, and has nothing to lend
            assertTrue(asked.get() >= 6, "asked " + asked.get() + " times");
            assertFalse(registry.scrape().contains("statesync_node_prefetch_fetched_bytes_total"), registry.scrape());
            assertEquals(0, prefetch.lend(T0, Cid.compute(Codec.DAG_JSON, new byte[] {2}), m, group,
                    Duration.ofMillis(10)).size());
        } finally {
            prefetch.close();
        }
        // And closing ends its threads and removes its store
        assertFalse(Files.exists(dir));
        assertTrue(Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("statesync-prefetch")));
        registry.close();
    }

    private final List<HttpServer> servers = new java.util.ArrayList<>();

    private URI serve(String body, AtomicInteger asked) throws Exception {
        return serve(body.getBytes(StandardCharsets.UTF_8), asked);
    }

    private URI serve(byte[] body, AtomicInteger asked) throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        s.createContext("/node/cluster", ex -> {
            asked.incrementAndGet();
            ex.sendResponseHeaders(200, body.length);
            try (var out = ex.getResponseBody()) {
                out.write(body);
            } catch (java.io.IOException cutOff) {
                // the client stopped reading an oversize body
            }
        });
        s.start();
        servers.add(s);
        return URI.create("http://127.0.0.1:" + s.getAddress().getPort());
    }

    @org.junit.jupiter.api.AfterEach
    void stop() {
        servers.forEach(s -> s.stop(0));
    }
}
