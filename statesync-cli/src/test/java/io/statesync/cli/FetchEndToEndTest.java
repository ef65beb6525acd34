package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.ContentStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * share, then fetch over real loopback sockets from two file shares. Needs the file-share
 * server and the fetcher of statesync-transfer.
 */
class FetchEndToEndTest {
    private static final int CHUNK = 64 * 1024;
    private static final Pattern SUMMARY = Pattern.compile("fetched ([\\d.]+) MiB in (\\d+) chunks?, (\\d+) chunks? local");

    @TempDir
    Path tmp;

    @Test
    void aSnapshotSharedFromTwoStoresIsFetchedByteIdentical() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), CHUNK, 11);
        String root = share(in, tmp.resolve("store-a"));
        assertEquals(root, share(in, tmp.resolve("store-b")));
        Path home = tmp.resolve("home");
        Path out = tmp.resolve("out");

        Cli.Result r;
        try (LocalShare a = LocalShare.start(tmp.resolve("store-a")); LocalShare b = LocalShare.start(tmp.resolve("store-b"))) {
            r = Cli.run(Cli.env(home), "fetch", root, "--source", a.source().toString(), "--source",
                    b.source().toString(), "--out", out.toString(), "--deadline", "1m");
        }

        assertEquals(0, r.exitCode(), r.err());
        assertEquals(List.of(), Trees.differences(in, out));
        assertTrue(blobCount(home.resolve("store")) > 0, "no --store: chunks go to $STATESYNC_HOME/store");
        Matcher m = SUMMARY.matcher(r.err());
        assertTrue(m.find(), r.err());
        assertEquals(8, Integer.parseInt(m.group(2)) + Integer.parseInt(m.group(3)), r.err());
        assertEquals(2, r.errLines().stream().filter(l -> l.startsWith("  http://127.0.0.1:")).count(),
                "one summary line per source:\n" + r.err());
        assertEquals("", r.out());
    }

    @Test
    void aSecondFetchWithTheSameStoreDownloadsNothing() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), CHUNK, 12);
        String root = share(in, tmp.resolve("store-a"));
        share(in, tmp.resolve("store-b"));
        Path store = tmp.resolve("local");

        Cli.Result first;
        Cli.Result second;
        try (LocalShare a = LocalShare.start(tmp.resolve("store-a")); LocalShare b = LocalShare.start(tmp.resolve("store-b"))) {
            String sources = a.source() + "," + b.source();
            first = Cli.run(Cli.env(tmp), "fetch", root, "--source=" + sources, "--out=" + tmp.resolve("out1"),
                    "--store=" + store);
            second = Cli.run(Cli.env(tmp), "fetch", root, "--source=" + sources, "--out=" + tmp.resolve("out2"),
                    "--store=" + store);
        }

        assertEquals(0, first.exitCode(), first.err());
        assertEquals(0, second.exitCode(), second.err());
        Matcher m = SUMMARY.matcher(second.err());
        assertTrue(m.find(), second.err());
        assertEquals("0.0", m.group(1), second.err());
        assertEquals(0, Integer.parseInt(m.group(2)), second.err());
        assertTrue(Integer.parseInt(m.group(3)) >= 8, second.err());
        assertEquals(List.of(), Trees.differences(in, tmp.resolve("out2")));
    }

    @Test
    void aRefetchIntoChangedFilesFetchesOnlyTheChangedChunks() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), CHUNK, 13);
        String root = share(in, tmp.resolve("store-a"));
        Path store = tmp.resolve("local");
        Path out = tmp.resolve("out");

        Cli.Result rerun;
        try (LocalShare a = LocalShare.start(tmp.resolve("store-a"))) {
            String[] args = {"fetch", root, "--source=" + a.source(), "--out=" + out, "--store=" + store};
            assertEquals(0, Cli.run(Cli.env(tmp), args).exitCode());
            // Three chunks of the written files go bad (a bit each); the rest still matches.
            flip(out.resolve("db/accounts.db"), 17);
            flip(out.resolve("db/accounts.db"), CHUNK + 17);
            flip(out.resolve("blocks/000.blk"), 5);

            rerun = Cli.run(Cli.env(tmp), args);
        }

        assertEquals(0, rerun.exitCode(), rerun.err());
        Matcher m = SUMMARY.matcher(rerun.err());
        assertTrue(m.find(), rerun.err());
        assertEquals(3, Integer.parseInt(m.group(2)), rerun.err());
        assertEquals(List.of(), Trees.differences(in, out));
    }

    private static void flip(Path file, int at) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        bytes[at] ^= 0x01;
        Files.write(file, bytes);
    }

    @Test
    void aChunkCorruptedInTheStoreIsFetchedInstead() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), CHUNK, 14);
        String root = share(in, tmp.resolve("store-a"));
        // The local store holds every chunk, one of them with a bit flipped on disk.
        Path store = tmp.resolve("local");
        share(in, store);
        ContentStore local = ContentStore.open(store);
        Cid victim = local.list().stream().filter(c -> c.codec() == Codec.RAW).sorted().findFirst().orElseThrow();
        byte[] bytes = Files.readAllBytes(local.pathOf(victim));
        bytes[bytes.length / 2] ^= 0x04;
        Files.write(local.pathOf(victim), bytes);

        Cli.Result r;
        try (LocalShare a = LocalShare.start(tmp.resolve("store-a"))) {
            r = Cli.run(Cli.env(tmp), "fetch", root, "--source=" + a.source(), "--out=" + tmp.resolve("out"),
                    "--store=" + store);
        }

        assertEquals(0, r.exitCode(), r.err());
        Matcher m = SUMMARY.matcher(r.err());
        assertTrue(m.find(), r.err());
        assertEquals(1, Integer.parseInt(m.group(2)), "only the corrupt chunk is fetched: " + r.err());
        assertEquals(List.of(), Trees.differences(in, tmp.resolve("out")));
    }

    @Test
    void aCidNoSourceHoldsFailsInOneLine() throws Exception {
        Cli.Result r;
        try (LocalShare empty = LocalShare.start(tmp.resolve("empty"))) {
            r = Cli.run(Cli.env(tmp), "fetch", UsageErrorsTest.CID, "--source=" + empty.source(),
                    "--out=" + tmp.resolve("out"), "--store=" + tmp.resolve("local"), "--deadline=10s",
                    "--retry-wait=100ms");
        }

        r.assertOneLineFailure(Failures.FAILED);
        assertTrue(r.lastErrLine().startsWith("statesync: fetch failed: "), r.err());
    }

    /** Needs the fetcher: SIGINT while the only source stalls ends the fetch with exit 130 and one line. */
    @Test
    void aShutdownStopsAStalledFetchWithOneLine() throws Exception {
        Cli.ManualShutdown shutdown = new Cli.ManualShutdown();
        Environment env = Cli.env(tmp, shutdown);
        StringWriter err = new StringWriter();
        var cmd = Main.commandLine(env, new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
        ExecutorService executor = Executors.newFixedThreadPool(2);
        // A source that accepts connections and never answers.
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            CountDownLatch connected = new CountDownLatch(1);
            List<Socket> accepted = new CopyOnWriteArrayList<>();
            executor.submit(() -> {
                while (!silent.isClosed()) {
                    accepted.add(silent.accept());
                    connected.countDown();
                }
                return null;
            });
            Future<Integer> fetch = executor.submit(() -> Main.execute(cmd, env, "fetch", UsageErrorsTest.CID,
                    "--source=http://127.0.0.1:" + silent.getLocalPort(), "--out=" + tmp.resolve("out"),
                    "--store=" + tmp.resolve("local")));
            assertTrue(connected.await(20, TimeUnit.SECONDS), "the fetch reached the source");

            shutdown.fire();

            assertEquals(Failures.INTERRUPTED, fetch.get(20, TimeUnit.SECONDS));
            Cli.Result r = new Cli.Result(Failures.INTERRUPTED, "", err.toString());
            r.assertOneLineFailure(Failures.INTERRUPTED);
            assertTrue(r.lastErrLine().contains("interrupted"), r.err());
            for (Socket s : accepted) {
                s.close();
            }
        } finally {
            executor.shutdownNow();
        }
    }

    private String share(Path in, Path store) {
        Cli.Result r = Cli.run(Cli.env(tmp), "share", "--chunking=fixed", "--chunk-size=64KiB", "--store=" + store, in.toString());
        assertEquals(0, r.exitCode(), r.err());
        return r.lastOutLine();
    }

    private static long blobCount(Path store) throws Exception {
        try (Stream<Path> s = Files.list(store.resolve("ipfs"))) {
            return s.count();
        }
    }
}
