package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

/** Runs the CLI in-process with captured output, as a user would run it from a shell. */
final class Cli {
    private Cli() {
    }

    /** What one command run left behind. */
    record Result(int exitCode, String out, String err) {
        List<String> outLines() {
            return out.lines().toList();
        }

        List<String> errLines() {
            return err.lines().toList();
        }

        String lastOutLine() {
            List<String> lines = outLines();
            return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        }

        String lastErrLine() {
            List<String> lines = errLines();
            return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        }

        private static boolean looksLikeStackTrace(String line) {
            return line.matches("\\s+at \\S+\\(.*\\)") || line.startsWith("Caused by: ")
                    || line.matches("[\\w.$]+(Exception|Error)(: .*)?");
        }

        /** The contract for every failure: exactly one {@code statesync: } line, last, and no stack trace. */
        void assertOneLineFailure(int expectedExit) {
            assertEquals(expectedExit, exitCode, () -> "exit code; stderr was:\n" + err);
            List<String> reports = errLines().stream().filter(l -> l.startsWith("statesync: ")).toList();
            assertEquals(1, reports.size(), () -> "one 'statesync: ' line expected, stderr was:\n" + err);
            assertEquals(reports.get(0), lastErrLine(), () -> "the report must be the last line, stderr was:\n" + err);
            assertFalse(errLines().stream().anyMatch(Result::looksLikeStackTrace),
                    () -> "no stack trace expected, stderr was:\n" + err);
        }
    }

    /** Shutdown hooks fired by the test, standing in for SIGINT. */
    static final class ManualShutdown implements ShutdownHooks {
        private final List<Runnable> actions = new CopyOnWriteArrayList<>();

        @Override
        public Registration onShutdown(Runnable action) {
            actions.add(action);
            return () -> actions.remove(action);
        }

        /** Runs every registered action, as the JVM runs its hooks on SIGINT. */
        void fire() {
            for (Runnable r : actions) {
                r.run();
            }
        }

        boolean armed() {
            return !actions.isEmpty();
        }
    }

    /** An environment whose STATESYNC_HOME and home directory are {@code home}; not a terminal. */
    static Environment env(Path home) {
        return env(home, new ManualShutdown());
    }

    static Environment env(Path home, ShutdownHooks hooks) {
        return new Environment(Map.of(Environment.HOME_VARIABLE, home.toString()), home, false, hooks);
    }

    static Result run(Environment env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(Main.commandLine(env, new PrintWriter(out, true), new PrintWriter(err, true)), env, args);
        return new Result(code, out.toString(), err.toString());
    }

    /**
     * A small tree like a node's state: nested directories, an empty file, files that end
     * mid-chunk, and one spanning several chunks of {@code chunkSize}.
     */
    static Path tree(Path dir, int chunkSize, long seed) throws IOException {
        Random random = new Random(seed);
        write(dir.resolve("HEIGHT"), "1234\n".getBytes());
        write(dir.resolve("empty"), new byte[0]);
        write(dir.resolve("db/accounts.db"), bytes(random, chunkSize * 3 + 17));
        write(dir.resolve("db/index/0001.idx"), bytes(random, chunkSize - 1));
        write(dir.resolve("blocks/000.blk"), bytes(random, chunkSize * 2));
        return dir;
    }

    private static byte[] bytes(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static void write(Path p, byte[] content) throws IOException {
        Files.createDirectories(p.getParent());
        Files.write(p, content);
    }
}
