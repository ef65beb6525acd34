package io.statesync.cli;

import io.statesync.core.units.Durations;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.statesync.transfer.fetch.FetchOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** fetch's checks and failures that need no working source. */
class FetchCommandTest {
    static final String CID = UsageErrorsTest.CID;
    static final String UNREACHABLE = "http://127.0.0.1:1";

    @TempDir
    Path tmp;

    @Test
    void defaultsAreTheFetchersDefaults() {
        FetchOptions d = FetchOptions.DEFAULT;
        assertEquals(d.maxTries(), Integer.parseInt(FetchCommand.DEFAULT_MAX_TRIES));
        assertEquals(d.retryWait(), Durations.parse(FetchCommand.DEFAULT_RETRY_WAIT));
        assertEquals(d.deadline(), Durations.parse(FetchCommand.DEFAULT_DEADLINE));
        assertEquals(d.chunkDeadline(), Durations.parse(FetchCommand.DEFAULT_CHUNK_DEADLINE));
        assertEquals(d.parallelism(), Integer.parseInt(FetchCommand.DEFAULT_PARALLEL));
        assertEquals(d.perSourceParallelism(), Integer.parseInt(FetchCommand.DEFAULT_PER_SOURCE));
        assertEquals(d.maxExpansion(), Integer.parseInt(FetchCommand.DEFAULT_MAX_EXPANSION));
    }

    @Test
    void anOutputPathThatIsAFileFailsBeforeFetching() throws Exception {
        Path file = Files.writeString(tmp.resolve("out"), "in the way");

        Cli.Result r = fetch("--out=" + file, "--store=" + tmp.resolve("store"));

        r.assertOneLineFailure(Failures.FAILED);
        assertTrue(r.lastErrLine().contains("not a directory"), r.err());
        assertFalse(Files.exists(tmp.resolve("store")), "failed before touching the store");
    }

    @Test
    void anOutputDirectoryBelowAFileFailsBeforeFetching() throws Exception {
        Path file = Files.writeString(tmp.resolve("file"), "in the way");

        Cli.Result r = fetch("--out=" + file.resolve("out"), "--store=" + tmp.resolve("store"));

        r.assertOneLineFailure(Failures.FAILED);
        assertTrue(r.lastErrLine().contains("cannot create output directory"), r.err());
        assertFalse(Files.exists(tmp.resolve("store")));
    }

    @Test
    void aReadOnlyOutputDirectoryFailsBeforeFetching() throws Exception {
        Path out = Files.createDirectory(tmp.resolve("out"));
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeFalse(Files.isWritable(out), "running as root: permissions do not stop us");

            Cli.Result r = fetch("--out=" + out, "--store=" + tmp.resolve("store"));

            r.assertOneLineFailure(Failures.FAILED);
            assertTrue(r.lastErrLine().contains("is not writable"), r.err());
        } finally {
            Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void anUnusableStoreFailsBeforeFetching() throws Exception {
        Path file = Files.writeString(tmp.resolve("store"), "in the way");

        Cli.Result r = fetch("--out=" + tmp.resolve("out"), "--store=" + file);

        r.assertOneLineFailure(Failures.FAILED);
        assertTrue(r.lastErrLine().contains("store"), r.err());
    }

    @Test
    void anOutputDirectoryInsideTheStoreIsRefused() {
        Path store = tmp.resolve("store");

        Cli.Result r = fetch("--out=" + store.resolve("ipfs"), "--store=" + store);

        r.assertOneLineFailure(Failures.USAGE);
    }

    @Test
    void aStoreInsideTheOutputDirectoryIsRefused() throws Exception {
        // `fetch --out ~` with the default store ($STATESYNC_HOME/store, here below home): the files could overwrite blobs.
        Path home = tmp.resolve("home");

        Cli.Result r = fetch("--out=" + home);

        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.err().contains("must not be inside --out"), r.err());
        assertTrue(Files.notExists(home.resolve("store")), "nothing was created");
    }

    @Test
    void aNegativeExpansionBoundIsAUsageError() {
        Cli.Result r = fetch("--out=" + tmp.resolve("out"), "--store=" + tmp.resolve("store"), "--max-expansion=-1");

        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.err().contains("expansion bound must be 0 (none) or more, got -1"), r.err());
    }

    /** Needs the fetcher: nobody listens on port 1, so the fetch must give up within its deadline, in one line. */
    @Test
    void anUnreachableSourceFailsWithinTheDeadline() {
        long started = System.nanoTime();

        Cli.Result r = fetch("--out=" + tmp.resolve("out"), "--store=" + tmp.resolve("store"),
                "--deadline=3s", "--retry-wait=100ms", "--chunk-deadline=1s");

        Duration took = Duration.ofNanos(System.nanoTime() - started);
        r.assertOneLineFailure(Failures.FAILED);
        assertTrue(r.lastErrLine().startsWith("statesync: fetch failed: "), r.err());
        assertTrue(took.compareTo(Duration.ofSeconds(20)) < 0, "gave up in " + took);
        assertEquals("", r.out());
    }

    private Cli.Result fetch(String... options) {
        String[] args = new String[options.length + 3];
        args[0] = "fetch";
        args[1] = CID;
        args[2] = "--source=" + UNREACHABLE;
        System.arraycopy(options, 0, args, 3, options.length);
        return Cli.run(Cli.env(tmp.resolve("home")), args);
    }
}
