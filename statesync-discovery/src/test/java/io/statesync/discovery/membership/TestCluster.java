package io.statesync.discovery.membership;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.UnaryOperator;

/**
 * The nodes of one scenario, on loopback in this JVM, in a namespace of their own. The first node
 * is the seed of the others. Closing closes every node still open, all at once (a graceful close
 * waits for its leave announcement to spread, about a second).
 */
final class TestCluster implements AutoCloseable {

    /** One member with its own registry and a log of the events it delivered. */
    record Node(ScaleCubeMembership membership, SimpleMeterRegistry registry, List<MembershipEvent> events) {

        String id() {
            return membership.self().id();
        }

        InetSocketAddress address() {
            return membership.self().address();
        }

        /** Whether this node lists {@code other} with exactly {@code metadata}. */
        boolean sees(Node other, String metadata) {
            return sees(other.id(), metadata);
        }

        boolean sees(String id, String metadata) {
            return membership.members().stream()
                    .anyMatch(m -> m.id().equals(id) && Arrays.equals(m.metadata(), metadata.getBytes(UTF_8)));
        }

        boolean lists(String id) {
            return membership.members().stream().anyMatch(m -> m.id().equals(id));
        }

        /** Whether this node delivered an event of {@code type} about {@code id}. */
        boolean heard(Class<? extends MembershipEvent> type, String id) {
            return events.stream().anyMatch(e -> type.isInstance(e) && e.member().id().equals(id));
        }

        double counter(String name, String tag, String value) {
            var c = registry.find(name).tag(tag, value).functionCounter();
            return c == null ? 0 : c.count();
        }
    }

    final String namespace = "test-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<Node> nodes = new CopyOnWriteArrayList<>();

    MembershipConfig config() {
        return MembershipConfig.loopback().withNamespace(namespace);
    }

    /** A node with the default test config, seeded by the first node (if any). */
    Node start(String metadata) {
        return start(metadata, UnaryOperator.identity());
    }

    Node start(String metadata, UnaryOperator<MembershipConfig> tune) {
        MembershipConfig c = config();
        if (!nodes.isEmpty()) {
            c = c.withSeeds(List.of(nodes.get(0).address()));
        }
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        ScaleCubeMembership m = ScaleCubeMembership.start(tune.apply(c), metadata.getBytes(UTF_8), registry);
        List<MembershipEvent> events = new CopyOnWriteArrayList<>();
        m.subscribe(events::add);
        Node node = new Node(m, registry, events);
        nodes.add(node);
        return node;
    }

    Node seed() {
        return nodes.get(0);
    }

    /** Starts {@code count} nodes at once (after the seed), with metadata {@code prefix + i}. */
    List<Node> startAll(int count, String prefix) throws Exception {
        try (ExecutorService starters = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Node>> started = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String metadata = prefix + i;
                started.add(starters.submit(() -> start(metadata)));
            }
            List<Node> result = new ArrayList<>();
            for (Future<Node> f : started) {
                result.add(f.get());
            }
            return result;
        }
    }

    /** Whether every node in {@code group} lists every other one of them (and nobody else). */
    static boolean converged(List<Node> group) {
        for (Node n : group) {
            List<Member> members = n.membership().members();
            if (members.size() != group.size() - 1) {
                return false;
            }
            for (Node other : group) {
                if (other != n && !n.sees(other, new String(other.membership().self().metadata(), UTF_8))) {
                    return false;
                }
            }
        }
        return true;
    }

    @Override
    public void close() throws ExecutionException {
        try (ExecutorService closers = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> closing = new ArrayList<>();
            for (Node n : nodes) {
                closing.add(closers.submit(() -> n.membership().close()));
            }
            for (Future<?> f : closing) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while closing the nodes", e);
        }
    }
}
