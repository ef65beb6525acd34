package io.statesync.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync soak}: the restart soak of {@link RestartSoak} at any length, for manual runs
 * (the test run does a dozen restarts). Prints one line per restart, a summary and BENCH lines;
 * exit 0 only if every restart came back in time, no thread stalled and the state roots match.
 */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = {"Restarts nodes of a 4-node, 2-thread cluster under load again and again (SIGKILL and SIGTERM,"
                + " leaders and followers, some during saves) and checks each comes back and the state roots match."})
final class SoakCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--restarts", paramLabel = "N", defaultValue = "100",
            description = "restarts in a row (default: ${DEFAULT-VALUE})")
    private int restarts;

    @Option(names = "--back-within", paramLabel = "DURATION", defaultValue = "30s",
            description = "a restarted node must reach the leader's height within this (default: ${DEFAULT-VALUE})")
    private Duration backWithin;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "picks pauses and followers")
    private long seed;

    @Option(names = "--work", paramLabel = "DIR", required = true,
            description = "configs, data and node logs (must be empty or absent; kept afterwards)")
    private Path work;

    @Override
    public Integer call() throws Exception {
        if (restarts < 1 || restarts > 100_000) {
            throw new ParameterException(spec.commandLine(), "--restarts must be between 1 and 100000, got " + restarts);
        }
        if (Files.exists(work) && !Directories.isEmptyDirectory(work)) {
            throw new ParameterException(spec.commandLine(), "--work " + work + " must be an empty directory or not exist");
        }
        PrintWriter out = spec.commandLine().getOut();
        long t0 = System.nanoTime();
        RestartSoak.Result r = new RestartSoak(Files.createDirectories(work), restarts, backWithin, seed, out).run();
        double minutes = (System.nanoTime() - t0) / 60e9;
        out.printf(Locale.ROOT, "restarts %d in %.1f min, worst time back to the leader's height %.1f s, stalls seen %d,"
                + " state roots %s%n", r.restarts(), minutes, r.worstBack().toMillis() / 1000.0, r.stallsSeen(),
                r.rootsMatch() ? "match" : "DIFFER");
        r.roots().forEach((node, roots) -> out.println(node + "   " + roots));
        out.printf(Locale.ROOT, "BENCH soak_restarts %d count%n", r.restarts());
        out.printf(Locale.ROOT, "BENCH soak_worst_back_seconds %.3f s%n", r.worstBack().toMillis() / 1000.0);
        out.printf(Locale.ROOT, "BENCH soak_stalls %d count%n", r.stallsSeen());
        out.printf(Locale.ROOT, "BENCH soak_roots_match %d bool%n", r.rootsMatch() ? 1 : 0);
        out.flush();
        return r.rootsMatch() && r.stallsSeen() == 0 ? 0 : 1;
    }
}
