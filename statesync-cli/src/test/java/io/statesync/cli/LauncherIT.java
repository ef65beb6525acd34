package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the real {@code ./statesync} launcher as a separate process, from another working
 * directory, as a user would. An integration test (failsafe, after {@code package}), because
 * the launcher runs the packaged jar.
 */
// The launcher may build the jar first, on a slow machine for minutes: its own wait below (5
// minutes) must end a run before the 5-minute default timeout every test gets (see the root pom).
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class LauncherIT {
    private static final Path ROOT = Path.of(System.getProperty("statesync.root", "..")).toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    @Test
    void sharePrintsTheRootCidAsTheLastLineOnStdout() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), 4096, 21);

        Run r = launch("share", "--store", tmp.resolve("store").toString(), in.toString());

        assertEquals(0, r.exitCode(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(1, lines.size(), "stdout holds only the CID, build output included: " + r.out());
        Cid root = Cid.parse(lines.get(0));
        assertEquals(Codec.DAG_JSON, root.codec());
        Cid direct = SnapshotImporter.importPaths(ContentStore.open(tmp.resolve("direct")), List.of(in),
                Chunking.DEFAULT, Map.of()).root();
        assertEquals(direct, root);
    }

    @Test
    void aBadFlagIsOneLineAndExitTwo() throws Exception {
        Run r = launch("fetch", "--bogus");

        assertEquals(2, r.exitCode(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("statesync: "), r.err());
        assertEquals("", r.out());
    }

    private record Run(int exitCode, String out, String err) {
    }

    private Run launch(String... args) throws IOException, InterruptedException {
        Path launcher = ROOT.resolve("statesync");
        assertTrue(Files.isExecutable(launcher), launcher + " must be executable");
        List<String> command = new java.util.ArrayList<>(List.of("bash", launcher.toString()));
        command.addAll(List.of(args));
        Path out = tmp.resolve("stdout");
        Path err = tmp.resolve("stderr");
        Process p = new ProcessBuilder(command).directory(tmp.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the launcher finished");
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }
}
