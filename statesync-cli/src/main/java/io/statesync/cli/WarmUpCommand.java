package io.statesync.cli;

import io.statesync.node.Node;
import io.statesync.node.NodeConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code statesync warm-up --work DIR} (hidden): the training run of the launcher's node
 * class-data sharing archive. It walks the paths whose class loading a node's start pays for: a
 * fetch (that finds no source) and a one-node cluster with gossip, one thread and its group, run
 * until it has made a block. The JVM records the classes it loaded at exit
 * ({@code -XX:ArchiveClassesAtExit}); every later start of {@code node}, {@code demo} and
 * {@code soak}, and of the nodes the demo launches, maps them instead of loading them again. On the 2-core machine a joining node under load reached its API, gossip and
 * groups in about half the time with the archive.
 */
@Command(name = "warm-up", hidden = true, description = "Loads the classes a start needs (training run of the launcher's CDS archive).")
final class WarmUpCommand implements Callable<Integer> {
    private static final Duration NODE_WAIT = Duration.ofSeconds(30);

    @Spec
    private CommandSpec spec;

    @Option(names = "--work", paramLabel = "DIR", required = true, description = "an empty scratch directory")
    private Path work;

    private final Environment env;

    WarmUpCommand(Environment env) {
        this.env = env;
    }

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(work.resolve("cluster"));
        StringWriter sink = new StringWriter();
        PrintWriter quiet = new PrintWriter(sink);
        // The fetch path: a source that refuses, so it ends at once with a failure.
        Main.commandLine(env, quiet, quiet).execute("fetch",
                "baguqeeradr5owd2i3vhpgaoygq6n3pxjwghgqiqyysp7oku62hdtybwnoudq", "--source", "http://127.0.0.1:9",
                "--out", work.resolve("out").toString(), "--store", work.resolve("store").toString(),
                "--deadline", "1s", "--max-tries", "1");
        // The node path: gossip, RocksDB, Ratis and its gRPC, the API; and a block or two.
        try (DemoCluster cluster = DemoCluster.configure(work.resolve("cluster"), 1, 1, 10)) {
            DemoCluster.NodeSpec spec = cluster.specs().get(0);
            try (Node node = Node.start(NodeConfig.load(spec.config()))) {
                long deadline = System.nanoTime() + NODE_WAIT.toNanos();
                while (System.nanoTime() < deadline) {
                    var status = cluster.status(spec);
                    if (status.isPresent() && status.get().path("threads").path(0).path("height").asLong() >= 1) {
                        break;
                    }
                    Thread.sleep(100);
                }
                DemoCommand.metrics(cluster, spec);
            }
        } catch (IOException e) {
            // A training run that could not start a node still made a useful archive of the rest.
            spec.commandLine().getErr().println("statesync: warm-up: " + Failures.describeIo(e));
        }
        return Failures.OK;
    }
}
