package io.statesync.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tarball as a user installs it: unpacked in an empty directory, away from the source tree,
 * with a {@code mvn} on the PATH that fails the test if anything calls it; {@code bin/statesync}
 * answers {@code --version} and runs the demo (real node processes) to the end.
 */
class DistributionIT {
    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void theUnpackedTarballRunsTheDemoWithoutMaven() throws Exception {
        Path tarball = Path.of(System.getProperty("statesync.tarball"));
        assertTrue(Files.isRegularFile(tarball), "the package phase made " + tarball);
        Path install = Files.createDirectories(tmp.resolve("opt"));
        assertEquals(0, run(List.of("tar", "-xzf", tarball.toString(), "-C", install.toString()), install,
                tmp.resolve("tar.log")));
        Path home;
        try (Stream<Path> s = Files.list(install)) {
            List<Path> top = s.toList();
            assertEquals(1, top.size(), "one top directory: " + top);
            home = top.get(0);
        }
        assertEquals(tarball.getFileName().toString().replace(".tar.gz", ""), home.getFileName().toString());
        for (String f : List.of("bin/statesync", "libexec/find-java.sh", "libexec/run-cli.sh", "LICENSE", "NOTICE",
                "README.md", "config/node.example.yaml", "systemd/statesync-node@.service", "docs/operations.md", "prometheus/alerts.yml",
                "grafana/statesync.json")) {
            assertTrue(Files.isRegularFile(home.resolve(f)), f);
        }
        assertTrue(Files.isExecutable(home.resolve("bin/statesync")));
        try (Stream<Path> s = Files.list(home.resolve("lib"))) {
            List<String> jars = s.map(p -> p.getFileName().toString()).toList();
            assertTrue(jars.stream().anyMatch(j -> j.startsWith("statesync-cli-")), jars.toString());
            assertEquals(1, jars.stream().filter(j -> j.matches("netty-common-.*\\.jar")).count(), "one Netty");
        }

        // A mvn that leaves a mark: the installed launcher must never build.
        Path fakeBin = Files.createDirectories(tmp.resolve("fake-bin"));
        Path marker = tmp.resolve("mvn-was-called");
        Path mvn = fakeBin.resolve("mvn");
        Files.writeString(mvn, "#!/bin/sh\ntouch '" + marker + "'\nexit 1\n");
        Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path cwd = Files.createDirectories(tmp.resolve("empty"));

        // The first command makes the command line's class-data cache, in the user's cache directory.
        Path version = tmp.resolve("version.log");
        assertEquals(0, run(List.of(home.resolve("bin/statesync").toString(), "--version"), cwd, version, fakeBin));
        assertTrue(Files.readString(version).startsWith("statesync "), Files.readString(version));
        Path caches = tmp.resolve("home/.cache/statesync").resolve(home.getFileName());
        try (Stream<Path> s = Files.list(caches)) {
            assertTrue(s.anyMatch(p -> p.getFileName().toString().matches("statesync-cli-.*\\.(aot|jsa)")),
                    "the command line's cache is in " + caches);
        }

        Path demo = tmp.resolve("demo.log");
        Path work = tmp.resolve("work");
        int code = run(List.of(home.resolve("bin/statesync").toString(), "demo", "--state-size", "32MiB",
                "--node-heap", "256m", "--timeout", "6m", "--work", work.toString()), cwd, demo, fakeBin);
        String out = Files.readString(demo);
        assertEquals(0, code, out);
        assertFalse(Files.exists(marker), "mvn was called");
        try (Stream<Path> s = Files.list(cwd)) {
            assertEquals(0, s.count(), "nothing written into the working directory");
        }
        assertTheDemoSyncedAJoinerFromItsPeers(out, work);
    }

    /**
     * The main job's promises (this is the test run's one full demo): three founders and a joiner in
     * separate processes, the joiner fetched from its peers and came in through the API, every
     * state root matches, every node logged at INFO, and no process is left behind.
     */
    private static void assertTheDemoSyncedAJoinerFromItsPeers(String out, Path work) throws IOException {
        assertTrue(out.contains("state roots match on every node"), out);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("sources used") && l.matches(".*\\bn[1-3]\\b.*")),
                "the joiner fetched from its peers: " + out);
        assertEquals(4, out.lines().filter(l -> l.matches("n[1-4] +\\{t0=.*, t1=.*}")).count(), out);
        // The joiner came in through the API: the founders' configs never name it, and every thread
        // counted 3 voters before and 4 after, n4 a voter.
        for (int i = 1; i <= 3; i++) {
            assertFalse(Files.readString(work.resolve("n" + i + ".yaml")).contains("n4"));
        }
        assertTrue(Files.readString(work.resolve("n4.yaml")).contains("join: [http://127.0.0.1:"));
        assertEquals(2, out.lines().filter(l -> l.startsWith("members of t")
                && l.matches(".*before n\\d (leader|follower), n\\d (leader|follower), n\\d (leader|follower); "
                + "after .*n4 (leader|follower).*")).count(), out);
        // A node logs at INFO, with ISO times and thread names: the joiner told how it joined, and the
        // JVM and libraries had nothing to warn about.
        for (int i = 1; i <= 4; i++) {
            assertTrue(Files.size(work.resolve("n" + i + ".log")) > 0);
        }
        List<String> joinerLog = Files.readAllLines(work.resolve("n4.log"));
        assertTrue(joinerLog.stream().anyMatch(l -> l.matches(
                "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO +\\[[^]]+] \\S+ - node n4 serving .*")),
                () -> String.join("\n", joinerLog));
        assertTrue(joinerLog.stream().anyMatch(l -> l.contains(" INFO ") && l.contains("joins through")),
                () -> String.join("\n", joinerLog));
        assertEquals(List.of(), joinerLog.stream().filter(l -> l.startsWith("WARNING:") || l.contains("sun.misc.Unsafe")
                || l.contains("already registered") || l.contains(" WARN ") && l.contains("Force-closing")).toList(),
                "no JDK, meter-registry or shutdown warnings");
        assertFalse(ProcessHandle.allProcesses().anyMatch(p -> p.isAlive() && p.info().commandLine()
                .map(c -> c.contains(work.toString())).orElse(false)), "no node process left");
    }

    private int run(List<String> command, Path cwd, Path log, Path... pathFirst) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (Path p : pathFirst) {
            path = p + File.pathSeparator + path;
        }
        pb.environment().put("PATH", path);
        pb.environment().put("HOME", Files.createDirectories(tmp.resolve("home")).toString());
        pb.environment().remove("XDG_CACHE_HOME");
        pb.environment().remove("STATESYNC_CACHE_DIR");

        Process p = pb.start();
        if (!p.waitFor(8, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError(command + " did not end; output:\n" + Files.readString(log));
        }
        return p.exitValue();
    }
}
