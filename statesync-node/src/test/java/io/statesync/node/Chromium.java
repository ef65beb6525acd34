package io.statesync.node;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Headless Chromium for the status page's browser test: from the {@code PATH}, or installed from
 * the distribution's packages (as root, or through password-less sudo) when missing. An install
 * takes a minute or two on a fresh machine, so {@link EarlyChromiumLookup} starts it when this
 * module's tests begin, and the browser test finds it done by the time it runs.
 * {@code STATESYNC_NO_BROWSER_INSTALL=1} forbids installing.
 */
final class Chromium {
    /** Chromium's path, or why there is none. */
    record Lookup(Optional<Path> path, String whyMissing) {
    }

    private static final Duration INSTALL_TIMEOUT = Duration.ofMinutes(15);
    private static CompletableFuture<Lookup> lookup;

    private Chromium() {
    }

    /** Starts finding (or installing) Chromium on a daemon thread, once per test JVM. */
    static synchronized CompletableFuture<Lookup> lookup() {
        if (lookup == null) {
            lookup = new CompletableFuture<>();
            Thread.ofPlatform().daemon(true).name("chromium-lookup").start(() -> {
                try {
                    lookup.complete(findOrInstall());
                } catch (IOException | RuntimeException e) {
                    lookup.complete(new Lookup(Optional.empty(), "looking for chromium failed: " + e));
                } catch (InterruptedException e) {
                    lookup.complete(new Lookup(Optional.empty(), "interrupted while installing chromium"));
                }
            });
        }
        return lookup;
    }

    /** Waits for the lookup {@link #lookup()} started. */
    static Lookup await() throws InterruptedException {
        try {
            return lookup().get(INSTALL_TIMEOUT.toMinutes() + 1, TimeUnit.MINUTES);
        } catch (java.util.concurrent.ExecutionException | TimeoutException e) {
            return new Lookup(Optional.empty(), "looking for chromium did not finish: " + e);
        }
    }

    private static Lookup findOrInstall() throws IOException, InterruptedException {
        Optional<Path> found = onPath();
        if (found.isPresent()) {
            return new Lookup(found, null);
        }
        if ("1".equals(System.getenv("STATESYNC_NO_BROWSER_INSTALL"))) {
            return missing("chromium is not on the PATH and STATESYNC_NO_BROWSER_INSTALL=1 forbids installing it");
        }
        List<String> apt = new ArrayList<>();
        if (!"0".equals(run(List.of("id", "-u"), Duration.ofSeconds(10)).output().strip())) {
            if (onPath("sudo").isEmpty()) {
                return missing("chromium is not on the PATH, this is not root and there is no sudo to install it with");
            }
            // -n: never wait for a password; env: sudo resets the environment.
            apt.addAll(List.of("sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"));
        }
        apt.add("apt-get");
        long started = System.nanoTime();
        // With its recommended packages: the fonts the page's text is drawn with come that way.
        // Each test JVM of the module looks; the second install waits for the first's lock and finds it done.
        String[] install = {"-o", "DPkg::Lock::Timeout=" + INSTALL_TIMEOUT.toSeconds(), "install", "-y", "chromium"};
        Result installed = run(withTail(apt, install), INSTALL_TIMEOUT);
        if (installed.exit() != 0) {
            // A fresh machine may have no package lists yet.
            run(withTail(apt, "-o", "DPkg::Lock::Timeout=" + INSTALL_TIMEOUT.toSeconds(), "update"), INSTALL_TIMEOUT);
            installed = run(withTail(apt, install), INSTALL_TIMEOUT);
        }
        if (installed.exit() != 0) {
            return missing("chromium is not on the PATH and '" + String.join(" ", apt) + " install chromium' failed "
                    + "(exit " + installed.exit() + "): " + lastLine(installed.output()));
        }
        System.err.printf("Chromium: installed from the distribution's packages in %d s%n",
                (System.nanoTime() - started) / 1_000_000_000L);
        found = onPath();
        return found.isPresent() ? new Lookup(found, null) : missing("chromium was installed but is not on the PATH");
    }

    private static Lookup missing(String why) {
        return new Lookup(Optional.empty(), why);
    }

    private static List<String> withTail(List<String> head, String... tail) {
        List<String> all = new ArrayList<>(head);
        all.addAll(List.of(tail));
        return all;
    }

    private static Optional<Path> onPath() {
        return onPath("chromium").or(() -> onPath("chromium-browser"));
    }

    private static Optional<Path> onPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String d : path.split(File.pathSeparator)) {
            Path candidate = Path.of(d.isEmpty() ? "." : d, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    private record Result(int exit, String output) {
    }

    /** Runs a command to its end (or kills it after {@code timeout}), with stdout and stderr merged. */
    private static Result run(List<String> command, Duration timeout) throws IOException, InterruptedException {
        Path log = Files.createTempFile("statesync-chromium-", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
            Process p = pb.start();
            try {
                if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
                    return new Result(-1, String.join(" ", command) + " timed out after " + timeout.toSeconds() + " s");
                }
                return new Result(p.exitValue(), Files.readString(log));
            } finally {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        } finally {
            Files.deleteIfExists(log);
        }
    }

    private static String lastLine(String text) {
        List<String> lines = text.strip().lines().toList();
        return lines.isEmpty() ? "(no output)" : lines.get(lines.size() - 1);
    }
}
