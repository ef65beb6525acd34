package io.statesync.transfer.blobsync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.fetch.FetchException;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.SnapshotFetcher;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.TestShares;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The blob-sync service (seed 003) with real stores, real HTTP on loopback and real files. */
@Timeout(60)
class BlobSyncServiceTest {
    @TempDir
    Path tmp;
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    ContentStore sharerStore;
    ContentStore loaderStore;
    SnapshotFetcher fetcher;
    BlobSyncService sharer;
    BlobSyncService loader;
    final List<AutoCloseable> closeLater = new ArrayList<>();
    byte[] blob;

    @BeforeEach
    void givenASharerAndALoader() throws IOException {
        sharerStore = ContentStore.open(tmp.resolve("sharer-store"));
        loaderStore = ContentStore.open(tmp.resolve("loader-store"));
        fetcher = new SnapshotFetcher(loaderStore, registry);
        FetchOptions base = FetchOptions.DEFAULT.withChunkDeadline(Duration.ofSeconds(5));
        sharer = BlobSyncService.start(tmp.resolve("sharer-base"), sharerStore, new SnapshotFetcher(sharerStore, registry), base, registry);
        loader = BlobSyncService.start(tmp.resolve("loader-base"), loaderStore, fetcher, base, registry);
        blob = new byte[3 * 1024 * 1024 + 17];
        new SplittableRandom(5).nextBytes(blob);
    }

    @AfterEach
    void tearDown() throws Exception {
        sharer.close();
        loader.close();
        fetcher.close();
        for (AutoCloseable c : closeLater) {
            c.close();
        }
    }

    private Source serve(ContentStore store) throws IOException {
        AutoCloseable[] handle = new AutoCloseable[1];
        Source s = TestShares.serve(store, handle);
        closeLater.add(handle[0]);
        return s;
    }

    private static Instant in(Duration d) {
        return Instant.now().plus(d);
    }

    @Test
    void aSharedBlobLoadsOnAnotherNodeByteForByte() throws Exception {
        Cid root = sharer.shareBlob(new ResourceId("block-00ff"), new ByteArrayInputStream(blob)).get(10, TimeUnit.SECONDS);
        Source source = serve(sharerStore);

        Path landed = loader.loadBlob(new ResourceId("block-00ff"), root, List.of(source), 3, Duration.ofMillis(100), in(Duration.ofSeconds(30)))
                .get(30, TimeUnit.SECONDS);

        assertEquals(tmp.resolve("loader-base").resolve("block-00ff"), landed);
        assertArrayEquals(blob, Files.readAllBytes(landed));
        assertEquals(1.0, registry.get("statesync.blobsync.loaded").counter().count());
        assertTrue(registry.get("statesync.queue.sent").tag("queue", "blob_sync_command").counter().count() >= 1);
        assertEquals(registry.get("statesync.queue.sent").counter().count(), registry.get("statesync.queue.received").counter().count());
    }

    @Test
    void aBlobAlreadyInTheStoreLoadsWithoutAnySource() throws Exception {
        Cid root = loader.shareBlob(new ResourceId("mine"), new ByteArrayInputStream(blob)).get(10, TimeUnit.SECONDS);

        Path landed = loader.loadBlob(new ResourceId("copy"), root, List.of(), 1, Duration.ZERO, in(Duration.ofSeconds(10)))
                .get(10, TimeUnit.SECONDS);

        assertArrayEquals(blob, Files.readAllBytes(landed));
    }

    @Test
    void aFailedLoadLeavesNoPartialFile() throws Exception {
        Cid root = sharer.shareBlob(new ResourceId("b1"), new ByteArrayInputStream(blob)).get(10, TimeUnit.SECONDS);
        Source corrupt = TestShares.serveCorrupt(sharerStore, closeLater);

        CompletableFuture<Path> f = loader.loadBlob(new ResourceId("b1"), root, List.of(corrupt), 2, Duration.ofMillis(10),
                in(Duration.ofSeconds(10)));

        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(20, TimeUnit.SECONDS));
        assertInstanceOf(FetchException.class, e.getCause());
        try (var files = Files.list(tmp.resolve("loader-base"))) {
            assertEquals(List.of(), files.toList(), "nothing in the base directory");
        }
        assertEquals(1.0, registry.get("statesync.blobsync.failed").counter().count());
    }

    @Test
    void aLoadWhoseDeadlineHasPassedFailsAtOnce() {
        Cid someRoot = Cid.compute(io.statesync.core.cid.Codec.DAG_JSON, new byte[] {1});
        CompletableFuture<Path> f = loader.loadBlob(new ResourceId("x"), someRoot, List.of(), 3, Duration.ofSeconds(1),
                Instant.now().minusSeconds(1));
        CompletionException e = assertThrows(CompletionException.class, f::join);
        assertTrue(e.getCause().getMessage().contains("deadline"), e.getCause().getMessage());
    }

    @Test
    void aLoadIsBoundedByItsDeadline() throws Exception {
        Cid root = sharer.shareBlob(new ResourceId("b2"), new ByteArrayInputStream(blob)).get(10, TimeUnit.SECONDS);
        Source dead = Source.parse("http://127.0.0.1:1");

        long t0 = System.nanoTime();
        CompletableFuture<Path> f = loader.loadBlob(new ResourceId("b2"), root, List.of(dead), 1000, Duration.ofMillis(50),
                in(Duration.ofMillis(800)));
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(20, TimeUnit.SECONDS));

        assertEquals(FetchException.Reason.DEADLINE, ((FetchException) e.getCause()).reason());
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(5).toNanos());
    }

    @Test
    void cancellingALoadStopsItsWork() throws Exception {
        Cid root = sharer.shareBlob(new ResourceId("b3"), new ByteArrayInputStream(blob)).get(10, TimeUnit.SECONDS);
        Source dead = Source.parse("http://127.0.0.1:1");
        CompletableFuture<Path> f = loader.loadBlob(new ResourceId("b3"), root, List.of(dead), 1000, Duration.ofMillis(50),
                in(Duration.ofMinutes(5)));

        f.cancel(true);

        assertTrue(f.isCancelled());
        // close() joins every command thread: it returns only because the cancelled load ended.
        long t0 = System.nanoTime();
        loader.close();
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(10).toNanos());
    }

    @Test
    void closeRunsEveryQueuedCommandAndThenRefusesNewOnes() throws Exception {
        List<CompletableFuture<Cid>> shares = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            byte[] b = ("blob " + i).getBytes();
            shares.add(sharer.shareBlob(new ResourceId("r" + i), new ByteArrayInputStream(b)));
        }

        sharer.close();

        for (CompletableFuture<Cid> f : shares) {
            assertTrue(f.isDone() && !f.isCompletedExceptionally());
        }
        CompletableFuture<Cid> late = sharer.shareBlob(new ResourceId("late"), InputStream.nullInputStream());
        ExecutionException e = assertThrows(ExecutionException.class, late::get);
        assertInstanceOf(IllegalStateException.class, e.getCause());
    }

    @Test
    void aShareWhoseStreamFailsLeavesNothingAndReportsTheError() throws Exception {
        long before = sharerStore.blobCount();
        InputStream failing = new InputStream() {
            int n;

            @Override
            public int read() throws IOException {
                if (n++ > 1000) {
                    throw new IOException("disk gone");
                }
                return 1;
            }
        };

        ExecutionException e = assertThrows(ExecutionException.class,
                () -> sharer.shareBlob(new ResourceId("broken"), failing).get(10, TimeUnit.SECONDS));

        assertTrue(e.getCause().getMessage().contains("disk gone"));
        assertEquals(before, sharerStore.blobCount());
        try (var temps = Files.list(sharerStore.root().resolve("tmp"))) {
            assertEquals(0, temps.count());
        }
    }

    @Test
    void aSnapshotOfSeveralFilesIsNotABlob() throws Exception {
        Path dir = tmp.resolve("two");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("a"), "a");
        Files.writeString(dir.resolve("b"), "b");
        Cid root = SnapshotImporter.importPaths(loaderStore, List.of(dir), 1024, Map.of()).root();

        CompletableFuture<Path> f = loader.loadBlob(new ResourceId("two"), root, List.of(), 1, Duration.ZERO, in(Duration.ofSeconds(5)));

        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("a blob is exactly one"), e.getCause().getMessage());
    }

    @Test
    void resourceIdsThatCouldEscapeTheBaseDirectoryAreRefused() {
        for (String bad : List.of("", ".", "..", "../x", "a/b", ".hidden", "x".repeat(129), "a b", "a\u0000")) {
            assertThrows(IllegalArgumentException.class, () -> new ResourceId(bad), bad);
        }
        assertEquals("0a1B_c-d.e", new ResourceId("0a1B_c-d.e").value());
    }
}
