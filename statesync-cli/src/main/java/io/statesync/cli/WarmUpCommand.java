package io.statesync.cli;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.chunking.Chunking;
import io.statesync.core.snapshot.ManifestException;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.node.Node;
import io.statesync.node.NodeConfig;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code statesync warm-up --work DIR [--fetch]} (hidden): the training run of the launcher's
 * class-data caches. The JVM records what the run loaded (and, on JDK 25 and later, how the hot
 * methods behaved, so that the JIT compiles them early) and every later start maps it.
 * <ul>
 *   <li>Plain: the node's cache, for {@code node}, {@code demo}, {@code soak} and the nodes the
 *       demo launches: a fetch that finds no source, then a one-node cluster with gossip, one
 *       thread and its group, until it has made a block. On the 2-core machine a joining node
 *       under load reached its API, gossip and groups in about half the time with it.</li>
 *   <li>{@code --fetch}: the command line's cache: a real fetch of 96 MiB from three file
 *       shares in this JVM into a store and an output directory, then one that finds no
 *       source. With JDK 25's method profiles a 1 GiB fetch took about 0.7 s less (15 to 20 %),
 *       most of it compilation the JIT no longer repeats.</li>
 * </ul>
 */
@Command(name = "warm-up", hidden = true, description = "Runs the paths a start needs (training run of the launcher's class-data caches).")
final class WarmUpCommand implements Callable<Integer> {
    private static final Duration NODE_WAIT = Duration.ofSeconds(30);
    private static final int TRAINING_BYTES = 96 << 20;

    @Spec
    private CommandSpec spec;

    @Option(names = "--work", paramLabel = "DIR", required = true, description = "an empty scratch directory")
    private Path work;

    @Option(names = "--fetch", description = "train the command line's fetch instead of a node")
    private boolean fetch;

    private final Environment env;

    WarmUpCommand(Environment env) {
        this.env = env;
    }

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(work.resolve("cluster"));
        StringWriter sink = new StringWriter();
        PrintWriter quiet = new PrintWriter(sink);
        if (fetch) {
            realFetch(quiet, sink);
        }
        // The fetch path: a source that refuses, so it ends at once with a failure.
        Main.commandLine(env, quiet, quiet).execute("fetch",
                "baguqeeradr5owd2i3vhpgaoygq6n3pxjwghgqiqyysp7oku62hdtybwnoudq", "--source", "http://127.0.0.1:9",
                "--out", work.resolve("out").toString(), "--store", work.resolve("store").toString(),
                "--deadline", "1s", "--max-tries", "1");
        if (fetch) {
            return Failures.OK;
        }
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

    /** A fetch as a user runs it, from three shares of one store in this JVM, with the default chunking. */
    private void realFetch(PrintWriter quiet, StringWriter sink) throws IOException, InterruptedException {
        Path input = Files.createDirectories(work.resolve("input"));
        byte[] block = new byte[1 << 20];
        SplittableRandom random = new SplittableRandom(7);
        try (var out = Files.newOutputStream(input.resolve("state.bin"))) {
            for (int written = 0; written < TRAINING_BYTES; written += block.length) {
                random.nextBytes(block);
                out.write(block);
            }
        }
        ContentStore origin = ContentStore.open(work.resolve("origin"));
        SnapshotRef ref;
        try {
            ref = SnapshotImporter.importPaths(origin, List.of(input),
                    Chunking.DEFAULT, Map.of());
        } catch (ManifestException e) {
            throw new IOException(e.getMessage(), e);
        }
        var registry = new PrometheusMeterRegistry(
                PrometheusConfig.DEFAULT);
        List<FileShareServer> servers = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                servers.add(FileShareServer.start(
                        ServerConfig.loopback(), origin, registry));
            }
            String sources = String.join(",", servers.stream().map(s -> s.uri().toString()).toList());
            int exit = Main.commandLine(env, quiet, quiet).execute("fetch", ref.root().toString(), "--source", sources,
                    "--out", work.resolve("fetched").toString(), "--store", work.resolve("fetch-store").toString());
            if (exit != 0) {
                // A cache trained on a failed fetch is still usable, but say why it failed.
                quiet.flush();
                spec.commandLine().getErr().println("statesync: warm-up: the training fetch failed (exit " + exit
                        + "): " + sink.toString().strip());
            }
        } finally {
            servers.forEach(FileShareServer::close);
        }
    }
}
