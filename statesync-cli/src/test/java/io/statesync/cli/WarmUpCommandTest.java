package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's training run for the command line's cache really fetches, so the cache records a fetch's hot paths. */
class WarmUpCommandTest {
    @TempDir
    Path tmp;

    @Test
    void theFetchTrainingFetchesItsStateFromThreeSharesIntoTheOutput() throws Exception {
        Path work = tmp.resolve("work");

        Cli.Result r = Cli.run(Cli.env(tmp.resolve("home")), "warm-up", "--fetch", "--work", work.toString());

        assertEquals(0, r.exitCode(), r.err());
        Path input = work.resolve("input").resolve("state.bin");
        Path fetched = work.resolve("fetched").resolve("state.bin");
        assertTrue(Files.isRegularFile(fetched), () -> "the training fetch wrote its output; stderr: " + r.err());
        assertEquals(96L << 20, Files.size(fetched));
        assertEquals(-1, Files.mismatch(input, fetched), "and it is the shared state, byte for byte");
    }
}
