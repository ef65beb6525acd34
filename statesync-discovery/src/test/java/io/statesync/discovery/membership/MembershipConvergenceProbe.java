package io.statesync.discovery.membership;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Measures the gossip layer on loopback with {@link MembershipConfig#loopback()}; not a test.
 * For each cluster size (default 5 and 20): time until every node sees every other with its
 * metadata, counted from the moment the nodes start joining (after a warm-up cluster); time for one published update to
 * reach everyone; gossip bytes per second per node at rest; and time from killing a node until
 * every survivor has removed it. Prints {@code BENCH} lines last.
 *
 * <p>Usage: {@code MembershipConvergenceProbe [rest-seconds] [size...]}
 */
public final class MembershipConvergenceProbe {

    private record Node(ScaleCubeMembership membership, SimpleMeterRegistry registry) {
        double bytes(String direction) {
            FunctionCounter c = registry.find("statesync.gossip." + direction).functionCounter();
            return c == null ? 0 : c.count();
        }
    }

    private MembershipConvergenceProbe() {
    }

    public static void main(String[] args) throws Exception {
        int restSeconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int[] sizes = args.length > 1 ? Arrays.stream(args, 1, args.length).mapToInt(Integer::parseInt).toArray()
                : new int[] {5, 20};
        List<String> bench = new ArrayList<>();
        // Class loading and JIT would otherwise be billed to the first cluster.
        probe(3, 1, new ArrayList<>());
        for (int size : sizes) {
            probe(size, restSeconds, bench);
        }
        bench.forEach(System.out::println);
    }

    private static void probe(int size, int restSeconds, List<String> bench) throws Exception {
        MembershipConfig config = MembershipConfig.loopback().withNamespace("probe-" + size);
        List<Node> nodes = new ArrayList<>();
        try {
            long t0 = System.nanoTime();
            nodes.add(start(config, "node-0"));
            MembershipConfig seeded = config.withSeeds(List.of(nodes.get(0).membership().self().address()));
            try (ExecutorService starters = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<Node>> started = new ArrayList<>();
                for (int i = 1; i < size; i++) {
                    String metadata = "node-" + i;
                    started.add(starters.submit(() -> start(seeded, metadata)));
                }
                for (Future<Node> f : started) {
                    nodes.add(f.get());
                }
            }
            long started = System.nanoTime();
            Await.until(size + " nodes converge", Duration.ofSeconds(60), () -> converged(nodes));
            long converged = System.nanoTime();
            System.out.printf("%d nodes: all started in %d ms; converged %d ms after the first start, %d ms after"
                    + " the last%n", size, (started - t0) / 1_000_000, (converged - t0) / 1_000_000,
                    (converged - started) / 1_000_000);
            bench.add(String.format("BENCH gossip.converge.%d %d ms", size, (converged - t0) / 1_000_000));

            Node publisher = nodes.get(size / 2);
            byte[] update = ("updated-" + size).getBytes(UTF_8);
            long u0 = System.nanoTime();
            publisher.membership().publish(update);
            Await.until("the update reaches everyone", Duration.ofSeconds(30), () -> nodes.stream()
                    .filter(n -> n != publisher)
                    .allMatch(n -> n.membership().members().stream().anyMatch(m -> Arrays.equals(m.metadata(), update))));
            long updated = (System.nanoTime() - u0) / 1_000_000;
            System.out.printf("%d nodes: an update reached all others in %d ms%n", size, updated);
            bench.add(String.format("BENCH gossip.update.%d %d ms", size, updated));

            // At rest: let the last gossip die down, then count the bytes of a quiet window.
            Thread.sleep(3_000);
            double sent0 = nodes.stream().mapToDouble(n -> n.bytes("sent")).sum();
            double received0 = nodes.stream().mapToDouble(n -> n.bytes("received")).sum();
            Thread.sleep(restSeconds * 1_000L);
            double sent = nodes.stream().mapToDouble(n -> n.bytes("sent")).sum() - sent0;
            double received = nodes.stream().mapToDouble(n -> n.bytes("received")).sum() - received0;
            double perNode = sent / size / restSeconds;
            System.out.printf("%d nodes at rest: %.0f bytes/s sent and %.0f received per node (%d s window)%n", size,
                    perNode, received / size / restSeconds, restSeconds);
            bench.add(String.format("BENCH gossip.rest.%d %.0f bytes/s/node", size, perNode));

            Node victim = nodes.get(size - 1);
            String victimId = victim.membership().self().id();
            List<Node> survivors = nodes.subList(0, size - 1);
            long k0 = System.nanoTime();
            victim.membership().crash();
            Await.until("the survivors remove the killed node", Duration.ofSeconds(60), () -> survivors.stream()
                    .allMatch(n -> n.membership().members().stream().noneMatch(m -> m.id().equals(victimId))));
            long detected = (System.nanoTime() - k0) / 1_000_000;
            System.out.printf("%d nodes: a killed node was removed by all %d survivors %d ms after the kill"
                    + " (expected about %d ms)%n", size, size - 1, detected,
                    config.expectedFailureDetection(size).toMillis());
            bench.add(String.format("BENCH gossip.failure-detection.%d %d ms", size, detected));
        } finally {
            try (ExecutorService closers = Executors.newVirtualThreadPerTaskExecutor()) {
                for (Node n : nodes) {
                    closers.submit(() -> n.membership().close());
                }
            }
        }
    }

    private static Node start(MembershipConfig config, String metadata) {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        return new Node(ScaleCubeMembership.start(config, metadata.getBytes(UTF_8), registry), registry);
    }

    private static boolean converged(List<Node> nodes) {
        for (Node n : nodes) {
            List<Member> members = n.membership().members();
            if (members.size() != nodes.size() - 1) {
                return false;
            }
            for (Member m : members) {
                if (!new String(m.metadata(), UTF_8).startsWith("node-")) {
                    return false;
                }
            }
        }
        return true;
    }
}
