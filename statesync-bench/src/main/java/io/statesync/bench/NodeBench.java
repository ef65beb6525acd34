package io.statesync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.statesync.core.units.Sizes;
import io.statesync.node.Node;
import io.statesync.node.NodeConfig;
import io.statesync.node.ledger.Genesis;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import io.statesync.node.producer.ProducerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Block production with and without saving state every N blocks, same state, same offered load,
 * same run: three nodes in this JVM, one thread; the state is grown to {@code --state} first,
 * then a steady load runs for {@code --seconds} while the leader's block latency is measured.
 *
 * <pre>./bench node [--state 128MiB] [--save-every 10] [--seconds 30] [--work DIR]</pre>
 */
public final class NodeBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ThreadId T0 = new ThreadId("t0");
    private static final Signer FAUCET = Signer.fromPhrase("node-bench-faucet");

    private NodeBench() {
    }

    record Window(double blocksPerSecond, double meanMillis, double p99Millis, double maxMillis, long saves,
                  long transactions) {
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("bench.log", "warn"));
        System.setProperty("org.slf4j.simpleLogger.log.org.apache.ratis", "error");
        System.setProperty("org.slf4j.simpleLogger.log.io.scalecube", "error");
        long state = 128L << 20;
        long saveEvery = 10;
        int seconds = 30;
        Path work = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--state" -> state = Sizes.parse(args[++i]);
                case "--save-every" -> saveEvery = Long.parseLong(args[++i]);
                case "--seconds" -> seconds = Integer.parseInt(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Path dir = work != null ? Files.createDirectories(work) : Files.createTempDirectory("statesync-node-bench-");
        Window off = run(dir.resolve("no-save"), 0, state, seconds);
        Window on = run(dir.resolve("save"), saveEvery, state, seconds);
        print("state_size", Sizes.toMib(state), "MiB");
        print("block_rate_no_save", off.blocksPerSecond(), "blocks/s");
        print("block_latency_mean_no_save", off.meanMillis(), "ms");
        print("block_latency_p99_no_save", off.p99Millis(), "ms");
        print("block_latency_max_no_save", off.maxMillis(), "ms");
        print("block_rate_save_every_" + saveEvery, on.blocksPerSecond(), "blocks/s");
        print("block_latency_mean_save_every_" + saveEvery, on.meanMillis(), "ms");
        print("block_latency_p99_save_every_" + saveEvery, on.p99Millis(), "ms");
        print("block_latency_max_save_every_" + saveEvery, on.maxMillis(), "ms");
        print("saves_in_window", on.saves(), "snapshots");
        print("block_latency_mean_ratio_save_vs_no_save", on.meanMillis() / off.meanMillis(), "ratio");
        print("block_latency_p99_ratio_save_vs_no_save", on.p99Millis() / off.p99Millis(), "ratio");
        print("transactions_in_window_no_save", off.transactions(), "tx");
        print("transactions_in_window_save", on.transactions(), "tx");
    }

    private static void print(String name, double value, String unit) {
        System.out.printf(Locale.ROOT, "BENCH %s %.3f %s%n", name, value, unit);
    }

    private static Window run(Path dir, long saveEvery, long state, int seconds) throws Exception {
        List<NodeConfig> configs = configure(dir, 3, saveEvery);
        List<Node> nodes = new ArrayList<>();
        try (HttpClient http = HttpClient.newHttpClient()) {
            for (NodeConfig c : configs) {
                nodes.add(Node.start(c));
            }
            Node leader = awaitLeader(nodes);
            // Grow the state: 60 KiB values from 4 writers.
            List<Signer> writers = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Signer w = Signer.fromPhrase("bench-writer-" + i);
                writers.add(w);
                submit(http, leader, Transaction.transfer(FAUCET, T0, i, w.account(), 1_000_000_000L));
            }
            for (Signer w : writers) {
                long deadline = System.nanoTime() + 60_000_000_000L;
                while (http.send(HttpRequest.newBuilder(URI.create(leader.uri() + "/node/balance?thread=t0&account="
                        + w.account().hex())).GET().build(), HttpResponse.BodyHandlers.ofString()).statusCode() != 200) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the writers were not funded within 60 s");
                    }
                    Thread.sleep(50);
                }
            }
            long[] nonces = new long[writers.size()];
            fill(http, leader, writers, nonces, state, 60 * 1024);
            System.err.printf(Locale.ROOT, "%s: state %.1f MiB; measuring %d s%n", dir.getFileName(),
                    Sizes.toMib(status(http, leader).path("stateBytes").asLong()), seconds);

            Timer timer = leader.registry().find("statesync_node_block_latency").timer();
            CountAtBucket[] buckets0 = timer.takeSnapshot().histogramCounts();
            long count0 = timer.count();
            double total0 = timer.totalTime(TimeUnit.MILLISECONDS);
            long produced0 = leader.thread("t0").orElseThrow().producer().produced();
            long saves0 = (long) leader.registry().find("statesync.groups.snapshots").counters().stream()
                    .mapToDouble(c -> c.count()).sum();
            long start = System.nanoTime();
            long txs = steady(http, leader, writers, nonces, seconds);
            double elapsed = (System.nanoTime() - start) / 1e9;
            long produced = leader.thread("t0").orElseThrow().producer().produced() - produced0;
            long count = timer.count() - count0;
            double mean = (timer.totalTime(TimeUnit.MILLISECONDS) - total0) / Math.max(1, count);
            double p99 = percentile(buckets0, timer.takeSnapshot().histogramCounts(), 0.99);
            long saves = (long) leader.registry().find("statesync.groups.snapshots").counters().stream()
                    .mapToDouble(c -> c.count()).sum() - saves0;
            return new Window(produced / elapsed, mean, p99, timer.max(TimeUnit.MILLISECONDS), saves, txs);
        } finally {
            for (Node n : nodes) {
                n.close();
            }
        }
    }

    /**
     * The upper bound of the histogram bucket (ms) under which {@code q} of the blocks timed
     * between two snapshots fall: the window's own percentile, not the decaying one.
     */
    private static double percentile(CountAtBucket[] before, CountAtBucket[] after, double q) {
        double total = after[after.length - 1].count() - before[before.length - 1].count();
        for (int i = 0; i < after.length; i++) {
            if (after[i].count() - before[i].count() >= q * total) {
                return after[i].bucket(TimeUnit.MILLISECONDS);
            }
        }
        return Double.NaN;
    }

    /** Writers store values until the state reaches {@code target} bytes. */
    private static void fill(HttpClient http, Node leader, List<Signer> writers, long[] nonces, long target,
                             int valueBytes) throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers.size(); w++) {
            int i = w;
            threads.add(Thread.ofVirtual().start(() -> {
                Random r = new Random(i);
                byte[] value = new byte[valueBytes];
                try {
                    while (!done.get()) {
                        r.nextBytes(value);
                        submit(http, leader, Transaction.write(writers.get(i), T0, nonces[i],
                                ByteBuffer.allocate(8).putLong(nonces[i]).array(), value));
                        nonces[i]++;
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        while (status(http, leader).path("stateBytes").asLong() < target) {
            Thread.sleep(200);
        }
        done.set(true);
        for (Thread t : threads) {
            t.join();
        }
        // Let the pool drain so that the window starts from a quiet thread.
        while (status(http, leader).path("mempool").asLong() > 0) {
            Thread.sleep(100);
        }
    }

    /** A steady offered load: every writer stores a 4 KiB value every 20 ms. Returns transactions sent. */
    private static long steady(HttpClient http, Node leader, List<Signer> writers, long[] nonces, int seconds)
            throws Exception {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        long sent = 0;
        byte[] value = new byte[4096];
        Random r = new Random(7);
        while (System.nanoTime() < end) {
            long tick = System.nanoTime();
            for (int i = 0; i < writers.size(); i++) {
                r.nextBytes(value);
                submit(http, leader, Transaction.write(writers.get(i), T0, nonces[i],
                        ByteBuffer.allocate(8).putLong(nonces[i]).array(), value));
                nonces[i]++;
                sent++;
            }
            long sleep = 20 - (System.nanoTime() - tick) / 1_000_000;
            if (sleep > 0) {
                Thread.sleep(sleep);
            }
        }
        return sent;
    }

    private static void submit(HttpClient http, Node node, Transaction tx) throws Exception {
        for (int attempt = 0; attempt < 2000; attempt++) {
            HttpResponse<String> res = http.send(HttpRequest.newBuilder(URI.create(node.uri() + "/node/tx"))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(tx.encode())).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (res.statusCode() == 202 || res.statusCode() == 200) {
                return;
            }
            if (res.statusCode() != 503) {
                throw new IOException("refused: " + res.statusCode() + " " + res.body());
            }
            Thread.sleep(10);
        }
        throw new IOException("the pool stayed full");
    }

    private static JsonNode status(HttpClient http, Node node) throws Exception {
        String body = http.send(HttpRequest.newBuilder(URI.create(node.uri() + "/node/status")).GET().build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return JSON.readTree(body).path("threads").get(0);
    }

    private static Node awaitLeader(List<Node> nodes) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            for (Node n : nodes) {
                if ("LEADER".equals(n.thread("t0").orElseThrow().groupStatus().role())) {
                    return n;
                }
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("no leader within 60 s");
    }

    private static List<NodeConfig> configure(Path dir, int count, long saveEvery) throws IOException {
        List<NodeConfig.Member> members = new ArrayList<>();
        List<Integer> http = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            http.add(freePort());
            members.add(new NodeConfig.Member("n" + i, URI.create("http://127.0.0.1:" + http.get(i - 1)),
                    InetSocketAddress.createUnresolved("127.0.0.1", freePort())));
        }
        List<NodeConfig> out = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            out.add(new NodeConfig("n" + i, dir.resolve("n" + i), "127.0.0.1", http.get(i - 1), 0, 0, List.of(),
                    List.of(T0), members, ProducerConfig.defaults().withProductionTimeout(Duration.ofMillis(100))
                    .withMempool(20_000, 8L << 20), saveEvery,
                    new NodeConfig.Sync(List.of(), 5, Duration.ofMillis(500), Duration.ofMinutes(30), 2,
                            Duration.ofSeconds(30)),
                    Genesis.faucet(FAUCET.account(), 1_000_000_000_000L), List.of()));
        }
        return out;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }
}
