package io.statesync.node;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Prometheus's own {@code promtool}, the real exposition-format parser and linter: the one on the
 * PATH, or one unpacked (not installed: no service is started, nothing outside {@code target/}
 * changes) from Debian's {@code prometheus} package with {@code apt-get download} and
 * {@code dpkg-deb -x}. Empty when neither works, with the reason in {@link #whyMissing}.
 */
final class Promtool {
    private static final Path TOOLS = Path.of("target", "tools");
    static String whyMissing = "";

    private Promtool() {
    }

    static synchronized Optional<Path> find() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "promtool");
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        Path unpacked = TOOLS.resolve("usr/bin/promtool");
        if (Files.isExecutable(unpacked)) {
            return Optional.of(unpacked);
        }
        try {
            Files.createDirectories(TOOLS);
            if (run(List.of("apt-get", "download", "prometheus")) != 0
                    && (run(List.of("apt-get", "update", "-qq")) != 0 || run(List.of("apt-get", "download", "prometheus")) != 0)) {
                whyMissing = "promtool is not on the PATH and 'apt-get download prometheus' failed";
                return Optional.empty();
            }
            try (Stream<Path> s = Files.list(TOOLS)) {
                Path deb = s.filter(p -> p.getFileName().toString().matches("prometheus_.*\\.deb")).findFirst()
                        .orElseThrow(() -> new IOException("apt-get download left no prometheus_*.deb"));
                if (run(List.of("dpkg-deb", "-x", deb.getFileName().toString(), ".")) != 0) {
                    whyMissing = "dpkg-deb could not unpack " + deb;
                    return Optional.empty();
                }
            }
        } catch (IOException | InterruptedException e) {
            whyMissing = "promtool is not on the PATH and could not be fetched: " + e;
            return Optional.empty();
        }
        return Files.isExecutable(unpacked) ? Optional.of(unpacked) : Optional.empty();
    }

    /** Runs {@code promtool check metrics} on a page: its exit code (0 clean, 3 lint problems, else unparsable) and output. */
    static Result checkMetrics(Path promtool, String page) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true).start();
        try (var in = p.getOutputStream()) {
            in.write(page.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("promtool did not end");
        }
        return new Result(p.exitValue(), out);
    }

    /** Runs {@code promtool check rules} on a rules file: exit code 0 when every rule parses. */
    static Result checkRules(Path promtool, Path rules) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(promtool.toString(), "check", "rules", rules.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("promtool did not end");
        }
        return new Result(p.exitValue(), out);
    }

    record Result(int exitCode, String output) {
    }

    private static int run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(TOOLS.toFile()).redirectErrorStream(true)
                .redirectOutput(TOOLS.resolve("fetch.log").toFile()).start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }
}
