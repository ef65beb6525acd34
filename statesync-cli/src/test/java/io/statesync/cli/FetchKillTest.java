package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.files.FileTrees;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code statesync fetch} as a separate JVM, killed with SIGKILL (no shutdown hook runs), then
 * run again: the next run resumes from the part files and journal the killed one left in the
 * output directory (batched syncs: what was not yet synced is re-verified), and ends with the
 * same files and nothing of its own left behind.
 */
@Timeout(300)
class FetchKillTest {
    private static final int MIB = 1 << 20;
    /** The assembly's part files and journal. */
    private static final String PART = ".statesync-fetch";
    private static final String JOURNAL = ".journal";
    private static final Pattern SUMMARY = Pattern.compile("fetched ([\\d.]+) MiB in (\\d+) chunks?, (\\d+) chunks? local");

    @TempDir
    Path tmp;

    @Test
    void aFetchKilledWhileCopyingFromTheStoreFinishesOnTheRerun() throws Exception {
        Path in = tree(tmp.resolve("in"), 4, 32 * MIB);
        Path store = tmp.resolve("store");
        String root = share(in, store);
        Path out = tmp.resolve("out");
        // Every chunk is already in the store, so the child goes straight to assembling files; no
        // source is ever asked.
        String[] args = {"fetch", root, "--source=http://127.0.0.1:9", "--store=" + store, "--out=" + out};

        List<Path> left = List.of();
        for (int attempt = 1; attempt <= 3 && left.isEmpty(); attempt++) {
            Process child = launch(args);
            try {
                boolean caught = awaitOrExit(child, () -> !ours(out).isEmpty() && ours(out).size() > 1);
                if (!caught) {
                    FileTrees.deleteRecursively(out);
                    continue; // it wrote everything before we saw a part file: go again
                }
                child.destroyForcibly(); // SIGKILL
                assertTrue(child.waitFor(30, TimeUnit.SECONDS));
                assertEquals(137, child.exitValue(), "killed by SIGKILL");
            } finally {
                child.destroyForcibly();
            }
            left = ours(out);
        }
        assertFalse(left.isEmpty(), "a kill mid-assembly leaves part files and the journal");

        Cli.Result rerun = Cli.run(Cli.env(tmp.resolve("home")), args);

        assertEquals(0, rerun.exitCode(), rerun.err());
        assertEquals(List.of(), ours(out), "no part file or journal is left");
        assertEquals(List.of(), Trees.differences(in, out));
    }

    @Test
    void aFetchKilledTwiceWhileDownloadingResumesFromItsJournal() throws Exception {
        Path in = tree(tmp.resolve("in"), 2, 8 * MIB);
        Path origin = tmp.resolve("origin");
        String root = share(in, origin);
        Path store = tmp.resolve("store");
        Path out = tmp.resolve("out");
        long journaled = 0;
        // A slow source keeps the fetch going long enough to be killed at two points; syncs every
        // MiB, so the journal grows while it runs.
        for (int kill = 1; kill <= 2; kill++) {
            long before = journaled;
            try (Share slow = new Share(origin, 2L * MIB)) {
                Process child = launch("fetch", root, "--source=" + slow.server.uri(), "--store=" + store, "--out=" + out,
                        "--parallel=4", "--sync-every=1MiB");
                try {
                    assertTrue(awaitOrExit(child, () -> journalBytes(out) > before + 200),
                            "the child journaled more synced chunks (kill " + kill + ")");
                    child.destroyForcibly();
                    assertTrue(child.waitFor(30, TimeUnit.SECONDS));
                } finally {
                    child.destroyForcibly();
                }
            }
            journaled = journalBytes(out);
            assertTrue(journaled > before, "the journal survives the kill");
        }

        Cli.Result rerun;
        try (Share fast = new Share(origin, 0)) {
            rerun = Cli.run(Cli.env(tmp.resolve("home")), "fetch", root, "--source=" + fast.server.uri(),
                    "--store=" + store, "--out=" + out);
        }

        assertEquals(0, rerun.exitCode(), rerun.err());
        Matcher m = SUMMARY.matcher(rerun.err());
        assertTrue(m.find(), rerun.err());
        assertTrue(Integer.parseInt(m.group(3)) > 0, "chunks the killed runs wrote are not fetched again: " + rerun.err());
        assertTrue(Double.parseDouble(m.group(1)) < 16, rerun.err());
        assertEquals(List.of(), ours(out), "no part file or journal is left");
        assertEquals(List.of(), Trees.differences(in, out));
    }

    private static long journalBytes(Path out) {
        long sum = 0;
        for (Path p : ours(out)) {
            if (p.getFileName().toString().endsWith(JOURNAL)) {
                try {
                    sum += Files.size(p);
                } catch (IOException e) {
                    // renamed or removed meanwhile
                }
            }
        }
        return sum;
    }

    /** A file share over {@code store}, optionally capped to {@code bytesPerSecond}. */
    private static final class Share implements AutoCloseable {
        final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        final FileShareServer server;

        Share(Path store, long bytesPerSecond) throws Exception {
            ServerConfig c = ServerConfig.loopback();
            server = FileShareServer.start(bytesPerSecond > 0 ? c.withMaxBytesPerSecond(bytesPerSecond) : c,
                    ContentStore.open(store), registry);
        }

        @Override
        public void close() {
            server.close();
            registry.close();
        }
    }

    private String share(Path in, Path store) {
        Cli.Result r = Cli.run(Cli.env(tmp.resolve("home")), "share", "--store=" + store, in.toString());
        assertEquals(0, r.exitCode(), r.err());
        return r.lastOutLine();
    }

    /** {@code files} files of {@code size} random bytes each. */
    private static Path tree(Path dir, int files, int size) throws IOException {
        Files.createDirectories(dir.resolve("db"));
        SplittableRandom random = new SplittableRandom(files * 31L + size);
        byte[] b = new byte[size];
        for (int i = 0; i < files; i++) {
            random.nextBytes(b);
            Files.write(dir.resolve("db/part-" + i + ".bin"), b);
        }
        return dir;
    }

    /** The CLI in a JVM of its own, as a user runs it; output to a log file. */
    private Process launch(String... args) throws IOException {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(tmp.resolve("child.log").toFile()));
        pb.environment().put(Environment.HOME_VARIABLE, tmp.resolve("home").toString());
        return pb.start();
    }

    /** Polls {@code condition} until it holds (true) or the child ends first (false). */
    private static boolean awaitOrExit(Process child, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (!child.isAlive()) {
                return condition.getAsBoolean();
            }
            Thread.sleep(1);
        }
        throw new AssertionError("neither the condition nor the child's end within 120 s");
    }

    /** The assembly's part files and journals under {@code dir}. */
    private static List<Path> ours(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(PART) || p.getFileName().toString().endsWith(JOURNAL))
                    .toList();
        } catch (IOException | java.io.UncheckedIOException e) {
            return List.of(); // a file renamed while we walked: look again
        }
    }
}
