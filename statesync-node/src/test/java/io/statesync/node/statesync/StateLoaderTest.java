package io.statesync.node.statesync;

import static io.statesync.node.statesync.Fixtures.address;
import static io.statesync.node.statesync.Fixtures.block;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.SimpleFileServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loader end to end: real HTTP servers on loopback, real stores and state directories. */
class StateLoaderTest {
    private static final ThreadId T0 = new ThreadId("t0");
    private static final ThreadId T1 = new ThreadId("t1");
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private PrometheusMeterRegistry prometheus;
    private ContentStore shared;
    private TestRepository repo;

    @BeforeEach
    void setUp() throws Exception {
        prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        shared = ContentStore.open(tmp.resolve("shared"));
        repo = new TestRepository(tmp.resolve("node"));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeAfter.size() - 1; i >= 0; i--) {
            closeAfter.get(i).close();
        }
    }

    // ---- helpers ------------------------------------------------------------------------

    private URI staticServer(Path dir) throws Exception {
        HttpServer s = SimpleFileServer.createFileServer(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                dir.toAbsolutePath(), SimpleFileServer.OutputLevel.NONE);
        s.start();
        closeAfter.add(() -> s.stop(0));
        return URI.create("http://127.0.0.1:" + s.getAddress().getPort() + "/");
    }

    private FileShareServer share(ContentStore store, long bytesPerSecond) throws Exception {
        FileShareServer s = FileShareServer.start(ServerConfig.loopback().withMaxBytesPerSecond(bytesPerSecond), store,
                prometheus);
        closeAfter.add(s);
        return s;
    }

    private StateLoader loader(LoaderConfig config, PeerSources peers) {
        StateLoader l = new StateLoader(config, peers, prometheus);
        closeAfter.add(l);
        return l;
    }

    private static LoaderConfig fast() {
        return LoaderConfig.DEFAULT.withMaxTries(2).withRetryWait(Duration.ofMillis(100)).withDeadline(Duration.ofSeconds(30));
    }

    private static PeerSources peers(Cid manifest, FileShareServer... servers) {
        List<Source> sources = Stream.of(servers).map(s -> new Source(s.uri())).toList();
        return (thread, block) -> List.of(new PeerSources.Located(manifest, sources));
    }

    private static LoadResult next(LoadOutput out) throws InterruptedException {
        return out.poll(WAIT).orElseThrow(() -> new AssertionError("no result within " + WAIT));
    }

    private static List<String> statesyncThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("statesync-") && !n.startsWith("statesync-share")).toList();
    }

    private static long files(Path dir) throws Exception {
        if (!Files.exists(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    // ---- scenarios ------------------------------------------------------------------------

    @Test
    void loadsFromAStaticStorageOnly() throws Exception {
        // given a plain directory in store layout with a pointer, served by the JDK's generic file server
        Cid cid = Fixtures.snapshot(shared, tmp, T0, block(7), 100, 200_000, 1);
        Pointers.write(shared.root(), T0, block(7), cid);
        URI base = staticServer(shared.root());
        StateLoader loader = loader(fast().withStaticStorages(List.of(base)), PeerSources.NONE);
        LoadOutput out = new LoadOutput();

        // when
        assertEquals(PushResult.PUSHED, loader.addLoadStateTask(address(T0, block(7)), new Anchor(T0, 100), repo, out));

        // then
        LoadResult.Loaded loaded = assertInstanceOf(LoadResult.Loaded.class, next(out));
        assertTrue(loaded.bytesFetched() >= 200_000, "fetched " + loaded.bytesFetched());
        assertEquals(List.of(new Source(base)), loaded.sources());
        assertEquals(1, repo.installs.get());
        assertEquals(100L, repo.finalized.get(T0));
        assertTrue(Files.isRegularFile(repo.stateDir(T0).resolve("data")));
        String metrics = prometheus.scrape();
        assertTrue(metrics.contains("statesync_node_state_load_attempts_total{loader=\"state\"} 1.0"), metrics);
        assertTrue(metrics.contains("statesync_node_state_loads_total{loader=\"state\",outcome=\"loaded\"} 1.0"),
                metrics);
        assertTrue(metrics.contains("statesync_node_state_load_seconds_count{loader=\"state\"} 1"), metrics);
        assertTrue(metrics.contains("statesync_node_state_load_fetched_bytes_total"), metrics);
        // and the same address again is Completed (history), a covered one is skipped
        assertEquals(PushResult.COMPLETED, loader.addLoadStateTask(address(T0, block(7)), new Anchor(T0, 100), repo, out));
        assertEquals(PushResult.PUSHED, loader.addLoadStateTask(address(T0, block(8)), new Anchor(T0, 102), repo, out));
        LoadResult.Skipped skipped = assertInstanceOf(LoadResult.Skipped.class, next(out));
        assertTrue(skipped.reason().contains("TooClose"), skipped.reason());
    }

    @Test
    void loadsAStateWhoseManifestIsSplitIntoSeveralBlocks() throws Exception {
        // given a state whose manifest is over 1 MiB (30 000 chunk references, stored as parts
        // under a small root), cheap to serve: every data chunk is the same 64 bytes
        byte[] chunk = new byte[64];
        java.util.Arrays.fill(chunk, (byte) 7);
        Cid c = shared.put(io.statesync.core.cid.Codec.RAW, chunk);
        byte[] data = new byte[64 * 30_000];
        for (int off = 0; off < data.length; off += 64) {
            System.arraycopy(chunk, 0, data, off, 64);
        }
        var checksum = io.statesync.core.snapshot.SnapshotImporter.importStream(shared,
                new java.io.ByteArrayInputStream((Fixtures.sha256Hex(data) + "\n").getBytes()), "CHECKSUM", 64, 0644);
        var manifest = new io.statesync.core.snapshot.Manifest(io.statesync.core.snapshot.Manifest.VERSION, 64,
                java.util.Map.of("thread", "t0", "block", block(9).hex(), "height", "90", "stateRoot", "x"),
                List.of(checksum, new io.statesync.core.snapshot.FileEntry("data", data.length, 0644,
                        java.util.Collections.nCopies(30_000, c))));
        Cid root = io.statesync.core.snapshot.SnapshotImporter.storeManifest(shared, manifest).root();
        assertTrue(io.statesync.core.snapshot.ManifestBlocks.decodeRoot(shared.readAll(root),
                io.statesync.core.snapshot.ManifestLimits.DEFAULT) instanceof io.statesync.core.snapshot.ManifestBlocks.Split);
        FileShareServer peer = share(shared, 0);
        StateLoader loader = loader(fast(), peers(root, peer));
        LoadOutput out = new LoadOutput();

        // when it is loaded from a peer
        assertEquals(PushResult.PUSHED, loader.addLoadStateTask(address(T0, block(9)), new Anchor(T0, 90), repo, out));

        // then the whole state is installed, the manifest's parts kept in the local store
        assertInstanceOf(LoadResult.Loaded.class, next(out));
        assertEquals(data.length, Files.size(repo.stateDir(T0).resolve("data")));
        assertEquals(manifest, io.statesync.core.snapshot.SnapshotImporter.loadManifest(repo.store(T0), root,
                io.statesync.core.snapshot.ManifestLimits.DEFAULT));
    }

    @Test
    void loadsTwoThreadsFromPeersOnly() throws Exception {
        // given three peers serving the snapshots of two threads, and no static storage
        Cid c0 = Fixtures.snapshot(shared, tmp, T0, block(1), 50, 300_000, 2);
        Cid c1 = Fixtures.snapshot(shared, tmp, T1, block(2), 40, 100_000, 3);
        FileShareServer a = share(shared, 0);
        FileShareServer b = share(shared, 0);
        FileShareServer c = share(shared, 0);
        List<Source> all = Stream.of(a, b, c).map(s -> new Source(s.uri())).toList();
        PeerSources peers = (thread, blk) -> List.of(new PeerSources.Located(thread.equals(T0) ? c0 : c1, all));
        StateLoader loader = loader(fast(), peers);
        LoadOutput out = new LoadOutput();

        loader.addLoadStateTask(address(T0, block(1), T1, block(2)), new Anchor(T0, 50), repo, out);

        LoadResult.Loaded loaded = assertInstanceOf(LoadResult.Loaded.class, next(out));
        assertEquals(2, repo.installs.get());
        assertEquals(50L, repo.finalized.get(T0));
        assertEquals(40L, repo.finalized.get(T1));
        assertTrue(loaded.bytesFetched() >= 400_000);
        assertTrue(loaded.sources().size() >= 2, "several peers served: " + loaded.sources());
        // Each thread's store was held from the first fetch to its install (chunks counted as
        // present stay present), and nothing is held once the result is out.
        assertEquals(java.util.Set.of(T0, T1), repo.heldAtInstall);
        assertTrue(repo.holds.values().stream().allMatch(n -> n.get() == 0), "holds released: " + repo.holds);
    }

    @Test
    void aTaskOfTwoThreadsWhoseSecondCannotBeStagedInstallsNeither() throws Exception {
        // given a repository that installs in two steps, both threads fetchable, and t1's state bad
        Cid c0 = Fixtures.snapshot(shared, tmp, T0, block(11), 50, 100_000, 21);
        Cid c1 = Fixtures.snapshot(shared, tmp, T1, block(12), 40, 100_000, 22);
        FileShareServer a = share(shared, 0);
        List<Source> all = List.of(new Source(a.uri()));
        PeerSources peers = (thread, blk) -> List.of(new PeerSources.Located(thread.equals(T0) ? c0 : c1, all));
        repo.staging = true;
        repo.rejectStageOf = T1;
        StateLoader loader = loader(fast(), peers);
        LoadOutput out = new LoadOutput();

        // when one task loads both
        loader.addLoadStateTask(address(T0, block(11), T1, block(12)), new Anchor(T0, 50), repo, out);

        // then it fails naming t1, t0's staged state is dropped, and neither thread was installed
        LoadResult.Failed f = assertInstanceOf(LoadResult.Failed.class, next(out));
        assertTrue(f.reason().contains("of thread t1 failed, no thread of the task was installed"), f.reason());
        assertEquals(0, repo.installs.get());
        assertEquals(1, repo.discards.get());
        assertFalse(Files.exists(repo.stateDir(T0)));
        assertFalse(Files.exists(repo.stateDir(T1)));

        // and once t1's state is good, the next task installs both
        repo.rejectStageOf = null;
        assertEquals(PushResult.FAILED_BACKOFF, loader.addLoadStateTask(address(T0, block(11), T1, block(12)),
                new Anchor(T0, 51), repo, out), "the same address waits out its back-off");
        StateLoader fresh = loader(fast(), peers);
        fresh.addLoadStateTask(address(T0, block(11), T1, block(12)), new Anchor(T0, 50), repo, out);
        assertInstanceOf(LoadResult.Loaded.class, next(out));
        assertEquals(2, repo.installs.get());
        assertTrue(Files.isRegularFile(repo.stateDir(T0).resolve("data")));
        assertTrue(Files.isRegularFile(repo.stateDir(T1).resolve("data")));
    }

    @Test
    void noSourceAtAllFailsAtOnce() throws Exception {
        StateLoader loader = loader(fast().withMaxTries(5).withRetryWait(Duration.ofSeconds(5)), PeerSources.NONE);
        LoadOutput out = new LoadOutput();
        long t0 = System.nanoTime();
        loader.addLoadStateTask(address(T0, block(3)), new Anchor(T0, 10), repo, out);
        LoadResult.Failed f = assertInstanceOf(LoadResult.Failed.class, next(out));
        assertTrue(f.reason().startsWith("no source holds block " + block(3).hex() + " of thread t0"), f.reason());
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(2).toNanos(), "no retry loop on an empty source list");
        // and it backs off instead of cycling
        assertEquals(PushResult.FAILED_BACKOFF, loader.addLoadStateTask(address(T0, block(3)), new Anchor(T0, 10), repo, out));
    }

    @Test
    void pointerToTheWrongBlockIsRejected() throws Exception {
        // given a static storage whose pointer for block 5 names the snapshot of block 6
        Cid wrong = Fixtures.snapshot(shared, tmp, T0, block(6), 100, 50_000, 4);
        Pointers.write(shared.root(), T0, block(5), wrong);
        StateLoader loader = loader(fast().withStaticStorages(List.of(staticServer(shared.root()))), PeerSources.NONE);
        LoadOutput out = new LoadOutput();

        loader.addLoadStateTask(address(T0, block(5)), new Anchor(T0, 100), repo, out);

        LoadResult.Failed f = assertInstanceOf(LoadResult.Failed.class, next(out));
        assertTrue(f.reason().contains("no source holds block " + block(5).hex()), f.reason());
        assertTrue(f.reason().contains("rejected") && f.reason().contains("block=" + block(6).hex()), f.reason());
        assertEquals(0, repo.installAttempts.get());
        assertFalse(Files.exists(repo.stateDir(T0)));
    }

    @Test
    void persistent404FailsAfterMaxTriesNotAnHour() throws Exception {
        // given a static storage that has nothing (every GET is 404)
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        URI base = staticServer(empty);
        StateLoader loader = loader(LoaderConfig.DEFAULT.withMaxTries(2).withRetryWait(Duration.ofMillis(200))
                .withStaticStorages(List.of(base)), PeerSources.NONE);
        LoadOutput out = new LoadOutput();
        long t0 = System.nanoTime();

        loader.addLoadStateTask(address(T0, block(9)), new Anchor(T0, 10), repo, out);

        LoadResult.Failed f = assertInstanceOf(LoadResult.Failed.class, next(out));
        long took = System.nanoTime() - t0;
        assertTrue(took < Duration.ofSeconds(3).toNanos(), "took " + took / 1_000_000 + " ms");
        assertTrue(took >= Duration.ofMillis(200).toNanos(), "the retry wait is honoured");
        assertTrue(f.reason().contains("after 2 tries") && f.reason().contains("404"), f.reason());
        assertEquals(PushResult.FAILED_BACKOFF, loader.addLoadStateTask(address(T0, block(9)), new Anchor(T0, 10), repo, out));
    }

    @Test
    void stalledSourceFailsAtTheDeadline() throws Exception {
        // given a server that accepts connections and never answers
        ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        List<Socket> accepted = new CopyOnWriteArrayList<>();
        Thread acceptor = Thread.ofVirtual().name("test-silent").start(() -> {
            try {
                while (true) {
                    accepted.add(silent.accept());
                }
            } catch (Exception closed) {
                // done
            }
        });
        closeAfter.add(() -> {
            silent.close();
            for (Socket s : accepted) {
                s.close();
            }
            acceptor.join();
        });
        StateLoader loader = loader(LoaderConfig.DEFAULT.withMaxTries(3).withRetryWait(Duration.ofMillis(100))
                .withDeadline(Duration.ofMillis(1500))
                .withStaticStorages(List.of(URI.create("http://127.0.0.1:" + silent.getLocalPort()))), PeerSources.NONE);
        LoadOutput out = new LoadOutput();
        long t0 = System.nanoTime();

        loader.addLoadStateTask(address(T0, block(4)), new Anchor(T0, 10), repo, out);

        LoadResult.Failed f = assertInstanceOf(LoadResult.Failed.class, next(out));
        long took = System.nanoTime() - t0;
        assertTrue(took >= Duration.ofMillis(1400).toNanos() && took < Duration.ofSeconds(4).toNanos(),
                "took " + took / 1_000_000 + " ms");
        assertTrue(f.reason().contains("deadline of 1.5 s"), f.reason());
    }

    @Test
    void rejectedInstallKeepsTheOldState() throws Exception {
        Cid v1 = Fixtures.snapshot(shared, tmp, T0, block(10), 10, 40_000, 5);
        Cid v2 = Fixtures.snapshot(shared, tmp, T0, block(20), 20, 40_000, 6);
        FileShareServer peer = share(shared, 0);
        PeerSources peers = (thread, blk) -> List.of(new PeerSources.Located(blk.equals(block(10)) ? v1 : v2,
                List.of(new Source(peer.uri()))));
        StateLoader loader = loader(fast(), peers);
        LoadOutput out = new LoadOutput();
        loader.addLoadStateTask(address(T0, block(10)), new Anchor(T0, 10), repo, out);
        assertInstanceOf(LoadResult.Loaded.class, next(out));
        byte[] before = Files.readAllBytes(repo.stateDir(T0).resolve("data"));

        repo.rejectInstalls = true;
        loader.addLoadStateTask(address(T0, block(20)), new Anchor(T0, 20), repo, out);

        LoadResult.Failed f = assertInstanceOf(LoadResult.Failed.class, next(out));
        assertTrue(f.reason().contains("install of block " + block(20).hex() + " of thread t0 failed")
                && f.reason().contains("state root mismatch"), f.reason());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(repo.stateDir(T0).resolve("data"))));
        assertEquals(10L, repo.finalized.get(T0));
    }

    @Test
    void resetSyncCancelsADownloadInFlight() throws Exception {
        Cid cid = Fixtures.snapshot(shared, tmp, T0, block(30), 30, 1 << 20, 7);
        FileShareServer slow = share(shared, 128 * 1024);
        StateLoader loader = loader(fast(), peers(cid, slow));
        LoadOutput out = new LoadOutput();
        loader.addLoadStateTask(address(T0, block(30)), new Anchor(T0, 30), repo, out);
        Await.until("bytes flowing", WAIT, () -> loader.progress().map(p -> p.bytesDone() > 0).orElse(false));

        loader.resetSync();

        assertInstanceOf(LoadResult.Cancelled.class, out.poll().orElseThrow(() -> new AssertionError("no Cancelled")));
        assertEquals(List.of(), statesyncThreads());
        assertEquals(0, repo.installAttempts.get());
        assertFalse(Files.exists(repo.stateDir(T0)));
        assertEquals(0, files(repo.store(T0).root().resolve("tmp")), "no temp files left in the target store");
        assertTrue(loader.progress().isEmpty());
        // a reset leaves no back-off: the same task can be queued again at once
        assertEquals(PushResult.PUSHED, loader.addLoadStateTask(address(T0, block(30)), new Anchor(T0, 30), repo, out));
        loader.resetSync();
        assertInstanceOf(LoadResult.Cancelled.class, next(out));
    }

    @Test
    void closedOutputGetsNothingAndItsTaskIsCancelled() throws Exception {
        Cid cid = Fixtures.snapshot(shared, tmp, T0, block(40), 40, 1 << 20, 8);
        FileShareServer slow = share(shared, 128 * 1024);
        StateLoader loader = loader(fast(), peers(cid, slow));
        LoadOutput out = new LoadOutput();
        loader.addLoadStateTask(address(T0, block(40)), new Anchor(T0, 40), repo, out);
        Await.until("the load to run", WAIT, () -> loader.progress().isPresent());

        out.close();

        Await.until("the running load to stop", WAIT, () -> loader.progress().isEmpty());
        // A reset of an idle loader returns once the worker has ended (it joins it), and the
        // worker hands a task's result to its output before it ends: any delivery is in by now.
        loader.resetSync();
        assertTrue(out.poll().isEmpty(), "nothing is delivered into a closed output");
        assertEquals(0, repo.installAttempts.get());
        assertEquals(PushResult.CLOSED, loader.addLoadStateTask(address(T0, block(41)), new Anchor(T0, 50), repo, out));
        // another output still works with the same loader
        LoadOutput other = new LoadOutput();
        assertEquals(PushResult.PUSHED, loader.addLoadStateTask(address(T0, block(40)), new Anchor(T0, 40), repo, other));
        loader.resetSync();
        assertInstanceOf(LoadResult.Cancelled.class, next(other));
    }

    @Test
    void eachTaskReportsIntoItsOwnOutput() throws Exception {
        StateLoader loader = loader(fast(), PeerSources.NONE);
        LoadOutput first = new LoadOutput();
        LoadOutput second = new LoadOutput();
        repo.finalized.put(T0, 100L);
        loader.addLoadStateTask(address(T0, block(50)), new Anchor(T0, 90), repo, first);
        assertInstanceOf(LoadResult.Skipped.class, next(first));
        loader.addLoadStateTask(address(T0, block(51)), new Anchor(T0, 101), repo, second);
        assertInstanceOf(LoadResult.Skipped.class, next(second));
        assertTrue(first.poll().isEmpty());
    }

    @Test
    void anErrorInTheRepositoryIsReportedAndTheWorkerGoesOn() throws Exception {
        StateLoader loader = loader(fast(), PeerSources.NONE);
        LoadOutput out = new LoadOutput();
        repo.decideThrows = new AssertionError("boom");
        loader.addLoadStateTask(address(T0, block(60)), new Anchor(T0, 10), repo, out);
        LoadResult.Failed f = assertInstanceOf(LoadResult.Failed.class, next(out));
        assertTrue(f.reason().contains("internal error") && f.reason().contains("boom"), f.reason());
        repo.decideThrows = null;
        repo.finalized.put(T0, 100L);
        loader.addLoadStateTask(address(T0, block(61)), new Anchor(T0, 11), repo, out);
        assertInstanceOf(LoadResult.Skipped.class, next(out));
    }

    @Test
    void anInterruptedLoadResumesWithOnlyTheMissingChunks() throws Exception {
        int size = 1 << 20;
        Cid cid = Fixtures.snapshot(shared, tmp, T0, block(70), 70, size, 9);
        FileShareServer slow = share(shared, 256 * 1024);
        SortedMap<ThreadId, BlockId> addr = address(T0, block(70));
        StateLoader first = new StateLoader(fast(), peers(cid, slow), new SimpleMeterRegistry());
        LoadOutput out = new LoadOutput();
        first.addLoadStateTask(addr, new Anchor(T0, 70), repo, out);
        Await.until("a third of the snapshot", WAIT,
                () -> first.progress().map(p -> p.bytesDone() > size / 3).orElse(false));
        first.close();
        assertInstanceOf(LoadResult.Cancelled.class, next(out));
        long held = repo.store(T0).totalBytes();
        assertTrue(held > size / 4, "chunks kept in the store: " + held);

        FileShareServer fast = share(shared, 0);
        StateLoader second = loader(fast(), peers(cid, fast));
        second.addLoadStateTask(addr, new Anchor(T0, 70), repo, out);

        LoadResult.Loaded loaded = assertInstanceOf(LoadResult.Loaded.class, next(out));
        assertTrue(loaded.bytesFetched() < size - size / 4, "fetched again: " + loaded.bytesFetched());
        assertTrue(loaded.bytesFetched() > 0);
        assertEquals(1, repo.installs.get());
    }
    @Test
    void closingAnOutputDropsItsQueuedTasksSilently() throws Exception {
        Cid cid = Fixtures.snapshot(shared, tmp, T0, block(80), 80, 1 << 20, 10);
        FileShareServer slow = share(shared, 128 * 1024);
        StateLoader loader = loader(fast(), peers(cid, slow));
        LoadOutput running = new LoadOutput();
        LoadOutput queued = new LoadOutput();
        loader.addLoadStateTask(address(T0, block(80)), new Anchor(T0, 80), repo, running);
        Await.until("the first load to run", WAIT, () -> loader.progress().isPresent());
        assertEquals(PushResult.PUSHED, loader.addLoadStateTask(address(T0, block(81)), new Anchor(T0, 90), repo, queued));
        assertEquals(1, loader.pendingTasks());

        queued.close();

        assertEquals(0, loader.pendingTasks());
        loader.resetSync();
        assertInstanceOf(LoadResult.Cancelled.class, next(running));
        assertTrue(queued.poll().isEmpty());
    }

    @Test
    void pointerWriteIsAtomicAndReadable() throws Exception {
        Cid cid = Fixtures.snapshot(shared, tmp, T0, block(90), 1, 10, 11);
        Path p = Pointers.write(shared.root(), T0, block(90), cid);
        assertEquals(shared.root().resolve("blocks/t0/" + block(90).hex()), p);
        assertEquals(cid.toString(), Files.readString(p).strip());
        assertEquals(1, files(p.getParent()), "no temp file left beside the pointer");
        try (SmallGets http = new SmallGets()) {
            assertEquals(cid, Pointers.resolve(http, staticServer(shared.root()), T0, block(90), Duration.ofSeconds(5)));
        }
    }
}
