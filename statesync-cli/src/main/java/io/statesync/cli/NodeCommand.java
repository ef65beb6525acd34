package io.statesync.cli;

import io.statesync.node.Node;
import io.statesync.node.NodeConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code statesync node --config FILE}: runs a node until SIGINT or SIGTERM, then closes it
 * cleanly. A node that fails (a producer that ended, a thread that halted) exits 1 with the
 * reason.
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = {"Runs a node: its threads (replicated chains), block producers, state sync and HTTP API.",
                "The configuration file (YAML) is described in docs/node-config.md."})
final class NodeCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", required = true, description = "the node's YAML configuration")
    private Path config;

    @Option(names = "--log-format", paramLabel = "FORMAT",
            description = "text (the default) or json: one JSON object per line, for log shippers; "
                    + "overrides log.format")
    private String logFormat;

    @Option(names = "--log-level", paramLabel = "[LOGGER=]LEVEL", split = ",",
            description = "a logger's level (a bare level is every logger's), e.g. --log-level "
                    + "org.apache.ratis=info; over log.levels and STATESYNC_LOG_LEVELS")
    private java.util.List<String> logLevels = new java.util.ArrayList<>();

    private final Environment env;

    NodeCommand(Environment env) {
        this.env = env;
    }

    @Option(names = "--exit-with-parent", hidden = true,
            description = "stop when the process that started this one ends (the demo's children)")
    private boolean exitWithParent;

    /** The node's levels, then the file's and the environment's, then the command line's. */
    private void configureLogging(NodeConfig.Log fromConfig) {
        Map<String, String> levels = new LinkedHashMap<>(Logging.NODE_LEVELS);
        fromConfig.levels().forEach((logger, level) -> levels.put(logger, level.toUpperCase(java.util.Locale.ROOT)));
        try {
            for (String l : logLevels) {
                Logging.parseLevels(l, levels);
            }
            Logging.configure(Logging.Format.parse(logFormat != null ? logFormat : fromConfig.format()), levels);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    @Override
    public Integer call() throws Exception {
        NodeConfig cfg;
        try {
            cfg = NodeConfig.load(config, env.variables());
        } catch (NodeConfig.ConfigException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        configureLogging(cfg.log());
        PrintWriter err = spec.commandLine().getErr();
        Node node;
        try {
            node = Node.start(cfg);
        } catch (IOException e) {
            throw new CommandFailure("cannot start node " + cfg.id() + ": " + Failures.describeIo(e), e);
        }
        if (exitWithParent) {
            // A demo killed outright (SIGKILL) cannot stop its children; they stop themselves.
            Thread command = Thread.currentThread();
            ProcessHandle.current().parent().ifPresent(p -> p.onExit().thenRun(command::interrupt));
        }
        try (node) {
            err.println("node " + cfg.id() + " serving " + node.uri() + " threads "
                    + String.join(",", cfg.threads().stream().map(t -> t.name()).toList()));
            err.flush();
            String failure = node.awaitFailure(Long.MAX_VALUE, TimeUnit.DAYS);
            if (node.left() && failure == null) {
                err.println("node " + cfg.id() + " left the cluster");
                err.flush();
                return Failures.OK;
            }
            throw new CommandFailure("node " + cfg.id() + " failed: " + failure);
        } catch (InterruptedException stop) {
            err.println("node " + cfg.id() + " stopped");
            err.flush();
            return Failures.OK;
        }
    }
}
