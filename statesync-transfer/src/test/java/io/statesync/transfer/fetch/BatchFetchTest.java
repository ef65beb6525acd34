package io.statesync.transfer.fetch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.chunking.Chunking;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Small content-defined chunks are asked in batches ({@code /blocks}) from our own file share,
 * and one by one from a plain web server that has no such route; both give the same files.
 */
@Timeout(120)
class BatchFetchTest {
    @TempDir
    Path tmp;
    private ContentStore origin;
    private SnapshotRef snapshot;
    private byte[] data;

    @BeforeEach
    void share() throws Exception {
        data = new byte[2 << 20];
        new SplittableRandom(9).nextBytes(data);
        Files.createDirectories(tmp.resolve("in"));
        Files.write(tmp.resolve("in/state.bin"), data);
        origin = ContentStore.open(tmp.resolve("origin"));
        snapshot = SnapshotImporter.importPaths(origin, List.of(tmp.resolve("in")), Chunking.ContentDefined.ofAverage(4096),
                Map.of());
        assertTrue(snapshot.manifest().chunkCount() > 300, snapshot.manifest().chunkCount() + " chunks");
    }

    @Test
    void ourFileShareServesSmallChunksInBatches() throws Exception {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (FileShareServer server = FileShareServer.start(ServerConfig.loopback(), origin, registry)) {
            fetchInto(new Source(server.uri()), "ours");
            double requests = registry.get("statesync.share.requests").tag("status", "200").counter().count();
            long chunks = snapshot.manifest().chunkCount();
            assertTrue(requests < chunks / 10.0, requests + " requests for " + chunks + " chunks");
        } finally {
            registry.close();
        }
    }

    @Test
    void aPlainServerWithoutTheRouteGetsOneRequestPerChunk() throws Exception {
        try (TestShare plain = TestShare.start(origin)) {
            fetchInto(plain.source(), "plain");
            assertEquals(snapshot.manifest().chunkCount(), plain.chunkRequests(), "each chunk asked once, singly");
        }
    }

    @Test
    void aCorruptBlockInABatchIsFetchedFromAnotherAndItsSourceIsMarked() throws Exception {
        ContentStore bad = ContentStore.open(tmp.resolve("bad"));
        for (var c : origin.list()) {
            bad.put(c, origin.open(c));
        }
        // One chunk's bytes are replaced on the bad share's disk (same length, other bytes).
        var victim = snapshot.manifest().files().get(0).chunks().get(5);
        byte[] b = Files.readAllBytes(bad.pathOf(victim));
        b[0] ^= 1;
        Files.write(bad.pathOf(victim), b);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (FileShareServer liar = FileShareServer.start(ServerConfig.loopback(), bad, registry);
             FileShareServer honest = FileShareServer.start(ServerConfig.loopback(), origin, registry)) {
            FetchResult r = fetchInto(List.of(new Source(liar.uri()), new Source(honest.uri())), "mixed");
            // One bad block bans nobody (a bad sector is no lie); the block came from the honest
            // share, and fetchInto compared every file with the original.
            SourceStats l = r.sources().stream().filter(s -> s.source().equals(new Source(liar.uri()))).findFirst()
                    .orElseThrow();
            assertEquals(1, l.corrupt(), r.sources().toString());
            assertEquals(SourceStats.SourceState.ACTIVE, l.state(), r.sources().toString());
        } finally {
            registry.close();
        }
    }

    private FetchResult fetchInto(Source source, String name) throws Exception {
        return fetchInto(List.of(source), name);
    }

    private FetchResult fetchInto(List<Source> sources, String name) throws Exception {
        Path out = tmp.resolve("out-" + name);
        try (SnapshotFetcher f = new SnapshotFetcher(ContentStore.open(tmp.resolve("store-" + name)), new SimpleMeterRegistry())) {
            FetchResult r = f.fetchInto(snapshot.root(), SourceResolver.of(sources), out, FetchOptions.DEFAULT, null);
            assertArrayEquals(data, Files.readAllBytes(out.resolve("state.bin")));
            return r;
        }
    }
}
