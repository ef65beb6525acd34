package io.statesync.node;

import io.micrometer.core.instrument.Counter;
import io.statesync.core.testing.Await;
import io.statesync.groups.Group;
import io.statesync.node.chain.ChainThread;
import io.statesync.node.ledger.Head;
import io.statesync.node.ledger.ThreadId;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A test cluster of real nodes in this JVM, on one thread, with what node-level scenarios do to
 * it: pause and resume production, push the consensus log past a stopped node, stop and restart
 * a node on its data directory.
 */
final class Cluster implements AutoCloseable {
    final List<NodeConfig> configs;
    /** Running nodes by position; null while stopped. */
    final Node[] nodes;
    final ThreadId thread;

    Cluster(List<NodeConfig> configs, ThreadId thread) {
        this.configs = configs;
        this.nodes = new Node[configs.size()];
        this.thread = thread;
    }

    void start(int i) throws IOException, InterruptedException {
        start(i, configs.get(i));
    }

    void start(int i, NodeConfig config) throws IOException, InterruptedException {
        nodes[i] = Node.start(config);
    }

    void stop(int i) {
        nodes[i].close();
        nodes[i] = null;
    }

    List<Node> running() {
        return Arrays.stream(nodes).filter(Objects::nonNull).toList();
    }

    ChainThread chain(Node n) {
        return n.thread(thread.name()).orElseThrow();
    }

    Group group(Node n) {
        return chain(n).group();
    }

    Head head(Node n) {
        return chain(n).machine().head();
    }

    Node leader() {
        return running().stream().filter(n -> "LEADER".equals(group(n).status().role())).findFirst().orElse(null);
    }

    /** Pauses every running producer and waits until the running nodes stand at one height. */
    void pauseAndSettle() throws InterruptedException {
        for (Node n : running()) {
            chain(n).producer().pause();
        }
        // A block formed before the pause took effect commits first.
        Await.until("every running producer paused", Duration.ofSeconds(30),
                () -> running().stream().allMatch(n -> chain(n).producer().paused()));
        // Still a sleep: a block whose commit the producer gave up on (a timeout) can land after
        // the pause, and no event says when.
        Thread.sleep(300);
        Await.until("the running nodes at one head and applied index", Duration.ofSeconds(30),
                () -> running().stream().map(n -> head(n).blockId()).distinct().count() == 1
                        && running().stream().map(n -> group(n).applied().index()).distinct().count() == 1);
    }

    /** Lets the running nodes produce until the leader's head grew by {@code blocks}, then settles. */
    void produce(long blocks) throws InterruptedException {
        Node[] lead = new Node[1];
        // Read once: leadership can move between two calls of leader().
        Await.until("a leader", Duration.ofSeconds(30), () -> (lead[0] = leader()) != null);
        long from = head(lead[0]).height();
        for (Node n : running()) {
            chain(n).producer().resume();
        }
        Await.until(blocks + " more blocks", Duration.ofSeconds(60), () -> {
            Node l = leader();
            return l != null && head(l).height() >= from + blocks;
        });
        pauseAndSettle();
    }

    /**
     * Commits {@code count} entries that are no block (every member skips them alike) of 16 KiB
     * each: they fill and close consensus log segments, so the leader purges its log past a node
     * that is down and must later ask it to catch up rather than send it entries.
     */
    void pushLogPast(int count) throws IOException, InterruptedException {
        Group g = group(running().get(0));
        byte[] noBlock = new byte[16 << 10];
        for (int i = 0; i < count; i++) {
            ThreadLocalRandom.current().nextBytes(noBlock);
            noBlock[0] = (byte) 0xEE; // never a block encoding's first byte
            g.submitBlocking(noBlock.clone());
        }
        pauseAndSettle();
    }

    /** Waits until node {@code i} stands where the others stand: same applied index and head. */
    void awaitLevel(int i, int seconds) {
        Node other = running().stream().filter(n -> n != nodes[i]).findFirst().orElseThrow();
        long index = group(other).applied().index();
        Await.until(configs.get(i).id() + " level with " + other.config().id(), Duration.ofSeconds(seconds),
                () -> group(nodes[i]).applied().index() >= index && !group(nodes[i]).status().catchingUp()
                        && head(nodes[i]).equals(head(other)));
    }

    /** A node's counter, 0 if it was never registered. */
    static double count(Node n, String name, Map<String, String> tags) {
        var search = n.registry().find(name);
        for (var e : tags.entrySet()) {
            search = search.tag(e.getKey(), e.getValue());
        }
        Counter c = search.counter();
        return c == null ? 0 : c.count();
    }

    @Override
    public void close() {
        List<Node> all = new ArrayList<>(running());
        for (Node n : all) {
            n.close();
        }
        Arrays.fill(nodes, null);
    }
}
