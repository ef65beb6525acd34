package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoTransferTest {
    @TempDir
    Path tmp;

    /** Needs the file-share server and the fetcher of statesync-transfer. */
    @Test
    void demoTransferOf8MiBEndsByteIdentical() throws Exception {
        Path work = tmp.resolve("work");

        Cli.Result r = Cli.run(Cli.env(tmp), "demo-transfer", "--size", "8MiB", "--work", work.toString());

        assertEquals(0, r.exitCode(), () -> r.err() + r.out());
        assertTrue(r.out().contains("byte-identical"), r.out());
        assertTrue(r.out().contains("MiB/s"), r.out());
        assertEquals(3, r.outLines().stream().filter(l -> l.matches("  (A|B|C \\(corrupt\\)): http://.*")).count(), r.out());
        assertEquals(List.of(), Trees.differences(work.resolve("input"), work.resolve("output")));
        assertFalse(Trees.differences(work.resolve("store-a"), work.resolve("store-c")).isEmpty(), "C really is corrupt");
    }

    @Test
    void theTemporaryWorkDirectoryIsDeletedAtTheEndWhateverHappened() {
        Cli.Result r = Cli.run(Cli.env(tmp), "demo-transfer", "--size", "64KiB");

        Matcher m = Pattern.compile("working in (\\S+)").matcher(r.err());
        assertTrue(m.find(), r.err());
        assertFalse(Files.exists(Path.of(m.group(1))), "deleted: " + m.group(1));
    }

    @Test
    void aNonEmptyWorkDirectoryIsRefused() throws Exception {
        Files.writeString(tmp.resolve("precious.txt"), "keep me");

        Cli.Result r = Cli.run(Cli.env(tmp), "demo-transfer", "--size", "64KiB", "--work", tmp.toString());

        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(Files.exists(tmp.resolve("precious.txt")));
    }
}
