package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync init}: writes node configurations, so that nobody writes YAML by hand for a
 * first cluster. Either the founders of a new cluster ({@code --nodes N}), or one node that joins
 * a running cluster ({@code --join URL --id ID}), learning threads, genesis and members from it.
 */
@Command(name = "init", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes node configurations: a new cluster's founders (--nodes N), or a node that joins "
                + "a running cluster (--join URL --id ID). Prints the commands that start them."})
final class InitCommand implements Callable<Integer> {
    /** Ports per node: HTTP, gossip, then one consensus port per thread. */
    private static final int MAX_THREADS = 16;
    /** The admin API's port, the last of a node's block of 20 (on 127.0.0.1). */
    private static final int ADMIN_OFFSET = 19;

    @Spec
    private CommandSpec spec;

    @Option(names = "--dir", paramLabel = "DIR", required = true, description = "where to write the files")
    private Path dir;

    @Option(names = "--nodes", paramLabel = "N", description = "a new cluster of N founding nodes (n1..nN)")
    private Integer nodes;

    @Option(names = "--threads", paramLabel = "T", defaultValue = "2",
            description = "threads (parallel chains) of a new cluster: t0..t(T-1) (default: ${DEFAULT-VALUE})")
    private int threads;

    @Option(names = "--join", paramLabel = "URL", description = "the HTTP URL of a running node to join through")
    private URI join;

    @Option(names = "--id", paramLabel = "ID", description = "the joining node's id")
    private String id;

    @Option(names = "--host", paramLabel = "HOST", split = ",", defaultValue = "127.0.0.1",
            description = "the address each node listens on and is reached at: one for all, or one per node "
                    + "(comma separated, in node order) (default: ${DEFAULT-VALUE})")
    private List<String> hosts;

    @Option(names = "--base-port", paramLabel = "P", defaultValue = "7100",
            description = "node i uses ports P+20i (HTTP), P+20i+1 (gossip), P+20i+2.. (one per thread) and "
                    + "P+20i+19 (admin, on 127.0.0.1); a joiner uses P, P+1, P+2.. and P+19 (default: ${DEFAULT-VALUE})")
    private int basePort;

    @Option(names = "--save-every", paramLabel = "BLOCKS", defaultValue = "100",
            description = "blocks between saved states, a new cluster (default: ${DEFAULT-VALUE})")
    private long saveEvery;

    @Option(names = "--force", description = "overwrite existing files")
    private boolean force;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if ((nodes == null) == (join == null)) {
            throw usage("give either --nodes N (a new cluster) or --join URL --id ID (a node joining one)");
        }
        if (threads < 1 || threads > MAX_THREADS) {
            throw usage("--threads must be 1-" + MAX_THREADS + ", not " + threads);
        }
        for (String h : hosts) {
            if (!h.matches("[A-Za-z0-9.-]{1,253}")) {
                throw usage("--host: '" + h + "' is not a host name or IPv4 address");
            }
        }
        Files.createDirectories(dir);
        List<Path> written = join == null ? founders(out) : joiner(out);
        out.println();
        out.println("start " + (written.size() == 1 ? "it" : "each node on its host") + ":");
        for (Path p : written) {
            out.println("  statesync node --config " + p);
        }
        out.flush();
        return Failures.OK;
    }

    private List<Path> founders(PrintWriter out) throws IOException, CommandFailure {
        if (nodes < 1 || nodes > 99) {
            throw usage("--nodes must be 1-99, not " + nodes);
        }
        if (id != null) {
            throw usage("--id names a joining node; founders are n1..nN");
        }
        if (hosts.size() != 1 && hosts.size() != nodes) {
            throw usage("--host: give one host, or one per node (" + nodes + "), not " + hosts.size());
        }
        checkPorts(basePort + 20 * nodes + ADMIN_OFFSET);
        List<ClusterConfigs.Plan> plans = new ArrayList<>();
        for (int i = 1; i <= nodes; i++) {
            int base = basePort + 20 * i;
            plans.add(new ClusterConfigs.Plan("n" + i, hosts.get(hosts.size() == 1 ? 0 : i - 1), base, base + 1,
                    base + 2, base + ADMIN_OFFSET, "./n" + i));
        }
        List<String> threadNames = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            threadNames.add("t" + t);
        }
        ClusterConfigs.Shared shared = new ClusterConfigs.Shared(threadNames, saveEvery, 0, "",
                "  faucetSeed: statesync-demo   # the faucet's key derives from this text: change it\n", "");
        List<Path> written = new ArrayList<>();
        for (ClusterConfigs.Plan p : plans) {
            Path file = dir.resolve(p.id() + ".yaml");
            write(file, ClusterConfigs.founder("# Written by statesync init: founder " + p.id() + " of "
                    + nodes + ".\n", p, plans, shared));
            written.add(file);
        }
        out.println("wrote " + nodes + " founder configs to " + dir + " (threads " + String.join(",", threadNames)
                + ", one genesis)");
        return written;
    }

    private List<Path> joiner(PrintWriter out) throws IOException, InterruptedException, CommandFailure {
        if (id == null || !id.matches("[A-Za-z0-9._-]{1,64}")) {
            throw usage("--join needs --id ID (1-64 of [A-Za-z0-9._-])");
        }
        if (hosts.size() != 1) {
            throw usage("--host: a joining node has one host");
        }
        if (!"http".equals(join.getScheme()) || join.getHost() == null) {
            throw usage("--join: '" + join + "' is not an http://host:port URL");
        }
        checkPorts(basePort + ADMIN_OFFSET);
        JsonNode cluster;
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            cluster = ClusterConfigs.cluster(client, join);
        } catch (IOException e) {
            throw new CommandFailure("cannot ask " + join + " about its cluster: " + Failures.describeIo(e), e);
        }
        for (JsonNode m : cluster.path("members")) {
            if (m.path("id").asText().equals(id)) {
                throw usage("--id: the cluster already has a member " + id);
            }
        }
        ClusterConfigs.Plan self = new ClusterConfigs.Plan(id, hosts.get(0), basePort, basePort + 1, basePort + 2,
                basePort + ADMIN_OFFSET, "./" + id);
        Path file = dir.resolve(id + ".yaml");
        write(file, ClusterConfigs.joiner("# Written by statesync init --join " + join + ".\n", self, join, cluster,
                0, ""));
        out.println("wrote " + file + ": " + id + " joins the cluster of " + cluster.path("node").asText()
                + " (threads " + cluster.path("threads").toString().replaceAll("[\\[\\]\"]", "") + ")");
        return List.of(file);
    }

    private void write(Path file, String yaml) throws IOException, CommandFailure {
        if (Files.exists(file) && !force) {
            throw new CommandFailure(file + " exists; remove it or pass --force");
        }
        Files.writeString(file, yaml);
    }

    private void checkPorts(int highest) {
        if (basePort < 1024 || highest > 65535) {
            throw usage("--base-port " + basePort + " leaves the port range (1024-65535) for this many nodes/threads");
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
