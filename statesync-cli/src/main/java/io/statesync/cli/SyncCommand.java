package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync sync load|reset|status|share}: the state-sync controls of a running node,
 * through its admin API ({@code /admin/sync/...}).
 */
@Command(name = "sync", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Controls a running node's state sync: load saved states into threads that are behind, "
                + "reset (cancel) loads, show where loads stand, or ask every replica for a fresh save."},
        subcommands = {SyncCommand.Load.class, SyncCommand.Reset.class, SyncCommand.Status.class,
                SyncCommand.Share.class})
final class SyncCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    private CommandSpec spec;

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "missing subcommand: one of load, reset, status, share");
    }

    @Command(name = "load", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Loads one saved state per named thread into the node, as one task: all of them are "
                    + "installed or none. Only a thread that stands behind the block can take it (not its "
                    + "leader, not while it catches up); the node refuses anything else with the reason."})
    static final class Load implements Callable<Integer> {
        @Spec
        private CommandSpec spec;

        @Mixin
        private AdminOption admin;

        @Option(names = "--block", paramLabel = "THREAD=BLOCK", required = true,
                description = "a thread and the 64-hex id of the block whose saved state to load; repeat per thread")
        private List<String> blocks;

        @Option(names = "--wait", paramLabel = "DURATION",
                description = "wait this long for the load to end and report how it ended (default: do not wait)")
        private Duration wait;

        @Override
        public Integer call() throws Exception {
            Map<String, String> address = new LinkedHashMap<>();
            for (String b : blocks) {
                int eq = b.indexOf('=');
                if (eq <= 0) {
                    throw new ParameterException(spec.commandLine(), "--block: '" + b + "' is not THREAD=BLOCK");
                }
                String thread = b.substring(0, eq);
                String block = b.substring(eq + 1);
                if (!thread.matches("[a-z0-9][a-z0-9-]{0,31}")) {
                    throw new ParameterException(spec.commandLine(), "--block: '" + thread
                            + "' is not a thread name ([a-z0-9][a-z0-9-]{0,31})");
                }
                if (!block.matches("[0-9a-fA-F]{64}")) {
                    throw new ParameterException(spec.commandLine(), "--block: the block id of " + thread
                            + " must be 64 hex digits, not '" + block + "'");
                }
                if (address.put(thread, block.toLowerCase(java.util.Locale.ROOT)) != null) {
                    throw new ParameterException(spec.commandLine(), "--block: thread " + thread
                            + " is named twice");
                }
            }
            if (wait != null && (wait.isNegative() || wait.isZero())) {
                throw new ParameterException(spec.commandLine(), "--wait: must be positive");
            }
            ObjectNode body = JSON.createObjectNode();
            address.forEach(body::put);
            JsonNode queued = admin.send("POST", "/admin/sync/load", body.toString(), Duration.ofSeconds(60));
            PrintWriter out = spec.commandLine().getOut();
            for (Iterator<Map.Entry<String, JsonNode>> it = queued.path("threads").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> t = it.next();
                out.println("queued " + t.getKey() + " block " + t.getValue().path("block").asText() + " (height "
                        + t.getValue().path("height").asLong() + ", " + t.getValue().path("sources").asInt()
                        + " sources)");
            }
            out.flush();
            if (wait == null) {
                return Failures.OK;
            }
            long deadline = System.nanoTime() + wait.toNanos();
            while (true) {
                JsonNode load = admin.send("GET", "/admin/sync/status", null, Duration.ofSeconds(30))
                        .path("operatorLoad");
                String state = load.path("state").asText();
                switch (state) {
                    case "loaded" -> {
                        out.println("loaded " + load.path("address").asText() + " in "
                                + load.path("elapsedMs").asLong() + " ms, "
                                + load.path("bytesFetched").asLong() + " bytes fetched");
                        out.flush();
                        return Failures.OK;
                    }
                    case "failed", "skipped" -> throw new CommandFailure("load " + load.path("address").asText()
                            + " " + state + ": " + Failures.oneLine(load.path("reason").asText()));
                    case "cancelled" -> throw new CommandFailure("load " + load.path("address").asText()
                            + " was cancelled (a reset, or the node stopping)");
                    default -> {
                        if (System.nanoTime() > deadline) {
                            throw new CommandFailure("load " + load.path("address").asText() + " still " + state
                                    + " after " + wait.toSeconds() + " s; see 'statesync sync status'");
                        }
                        Thread.sleep(200);
                    }
                }
            }
        }
    }

    @Command(name = "reset", mixinStandardHelpOptions = true,
            description = "Cancels every running load of the node and clears its load queues.")
    static final class Reset implements Callable<Integer> {
        @Spec
        private CommandSpec spec;

        @Mixin
        private AdminOption admin;

        @Override
        public Integer call() throws Exception {
            JsonNode r = admin.send("POST", "/admin/sync/reset", null, Duration.ofSeconds(60));
            List<String> threads = new java.util.ArrayList<>();
            r.path("threads").forEach(t -> threads.add(t.asText()));
            spec.commandLine().getOut().println("reset: loads cancelled"
                    + (threads.isEmpty() ? "" : " on " + String.join(", ", threads)));
            spec.commandLine().getOut().flush();
            return Failures.OK;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Shows, per thread, the height, role, catch-up and running load; and the newest "
                    + "load asked for with 'sync load' and how it ended.")
    static final class Status implements Callable<Integer> {
        @Spec
        private CommandSpec spec;

        @Mixin
        private AdminOption admin;

        @Override
        public Integer call() throws Exception {
            JsonNode s = admin.send("GET", "/admin/sync/status", null, Duration.ofSeconds(30));
            PrintWriter out = spec.commandLine().getOut();
            for (Iterator<Map.Entry<String, JsonNode>> it = s.path("threads").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode t = e.getValue();
                StringBuilder line = new StringBuilder(e.getKey()).append(": height ").append(t.path("height").asLong())
                        .append(", ").append(t.path("role").asText().toLowerCase(java.util.Locale.ROOT));
                if (t.path("catchingUp").asBoolean()) {
                    line.append(", catching up");
                }
                JsonNode l = t.path("load");
                if (!l.isMissingNode()) {
                    line.append(", loading ").append(l.path("address").asText()).append(' ')
                            .append(l.path("bytesDone").asLong()).append('/').append(l.path("bytesTotal").asLong())
                            .append(" bytes from ").append(l.path("sources").size()).append(" sources");
                }
                if (t.path("pendingLoads").asInt() > 0) {
                    line.append(", ").append(t.path("pendingLoads").asInt()).append(" loads queued");
                }
                out.println(line);
            }
            JsonNode o = s.path("operatorLoad");
            if (!o.isMissingNode()) {
                out.println("last load " + o.path("address").asText() + ": " + o.path("state").asText()
                        + (o.hasNonNull("reason") ? ": " + Failures.oneLine(o.path("reason").asText()) : ""));
            }
            out.flush();
            return Failures.OK;
        }
    }

    @Command(name = "share", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Asks every thread (or one) to save its state at its next block, on every replica, "
                    + "so a joining node loads a fresh one. At most one such save per thread per "
                    + "sync.shareInterval (1 minute by default); more are refused."})
    static final class Share implements Callable<Integer> {
        @Spec
        private CommandSpec spec;

        @Mixin
        private AdminOption admin;

        @Option(names = "--thread", paramLabel = "THREAD", description = "only this thread")
        private String thread;

        @Option(names = "--wait", paramLabel = "DURATION", description = "wait up to this long (at most 60s) for "
                + "the saves and print them")
        private Duration wait;

        @Override
        public Integer call() throws Exception {
            if (thread != null && !thread.matches("[a-z0-9][a-z0-9-]{0,31}")) {
                throw new ParameterException(spec.commandLine(), "--thread: '" + thread + "' is not a thread name");
            }
            if (wait != null && (wait.isNegative() || wait.compareTo(Duration.ofSeconds(60)) > 0)) {
                throw new ParameterException(spec.commandLine(), "--wait: between 0s and 60s");
            }
            StringBuilder path = new StringBuilder("/admin/sync/share");
            String sep = "?";
            if (thread != null) {
                path.append(sep).append("thread=").append(thread);
                sep = "&";
            }
            if (wait != null) {
                path.append(sep).append("wait=").append(wait.toMillis()).append("ms");
            }
            Duration timeout = (wait == null ? Duration.ZERO : wait).plusSeconds(60);
            JsonNode r = admin.send("POST", path.toString(), null, timeout);
            PrintWriter out = spec.commandLine().getOut();
            for (Iterator<Map.Entry<String, JsonNode>> it = r.path("threads").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode t = e.getValue();
                out.println(e.getKey() + ": " + switch (t.path("status").asText()) {
                    case "saved" -> "saved block " + t.path("block").asText() + " (height " + t.path("height").asLong()
                            + "), manifest " + t.path("manifest").asText();
                    case "requested" -> "requested; the block after height " + t.path("after").asLong() + " is saved";
                    default -> "refused: " + Failures.oneLine(t.path("reason").asText());
                });
            }
            out.flush();
            return Failures.OK;
        }
    }
}
