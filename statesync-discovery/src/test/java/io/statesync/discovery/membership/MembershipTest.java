package io.statesync.discovery.membership;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.scalecube.cluster.fdetector.FailureDetectorImpl;
import io.scalecube.cluster.transport.api.JdkMessageCodec;
import io.scalecube.cluster.transport.api.Message;
import io.statesync.core.testing.Await;
import io.statesync.core.testing.Ports;
import io.statesync.discovery.membership.TestCluster.Node;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Real gossip nodes on loopback: in this JVM, and one in a child process. */
@Timeout(60)
class MembershipTest {

    private final TestCluster cluster = new TestCluster();
    private Set<String> nonDaemonThreadsBefore;

    @BeforeEach
    void rememberThreads() {
        nonDaemonThreadsBefore = nonDaemonThreads();
    }

    /** Every scenario ends with every node closed and no gossip thread left running. */
    @AfterEach
    void closeNodesAndCheckThreads() throws Exception {
        cluster.close();
        try {
            Await.until("ScaleCube's threads end", Duration.ofSeconds(2), () -> Thread.getAllStackTraces().keySet()
                    .stream().noneMatch(t -> t.isAlive() && t.getName().startsWith("sc-cluster")));
        } catch (AssertionError e) {
            Thread.getAllStackTraces().forEach((t, stack) -> {
                if (t.getName().startsWith("sc-cluster")) {
                    e.addSuppressed(new AssertionError(t.getName() + " still runs: "
                            + Arrays.stream(stack).map(String::valueOf).collect(Collectors.joining("\n  "))));
                }
            });
            throw e;
        }
        Await.until("no new non-daemon thread", Duration.ofSeconds(10), () -> {
            Set<String> added = new java.util.HashSet<>(nonDaemonThreads());
            added.removeAll(nonDaemonThreadsBefore);
            if (!added.isEmpty()) {
                System.out.println("new non-daemon threads: " + added);
            }
            return added.isEmpty();
        });
    }

    @Test
    void fiveNodesConvergeOnEachOthersMetadata() throws Exception {
        Node seed = cluster.start("seed");
        List<Node> all = new ArrayList<>(List.of(seed));

        all.addAll(cluster.startAll(4, "node-"));

        Await.until("five nodes see each other with their metadata", Duration.ofSeconds(10),
                () -> TestCluster.converged(all));
        for (Node n : all) {
            assertEquals(4, n.membership().members().size());
            assertFalse(n.lists(n.id()), "a node does not list itself");
            assertEquals(4.0, n.registry().find("statesync.gossip.members").gauge().value());
        }
        for (Node other : all.subList(1, 5)) {
            Await.until("the seed delivered Joined for " + other.id(), Duration.ofSeconds(5),
                    () -> seed.heard(MembershipEvent.Joined.class, other.id()));
        }
        assertEquals(4.0, seed.counter("statesync.gossip.events", "type", "joined"));
        assertTrue(seed.counter("statesync.gossip.sent", "port", Integer.toString(seed.address().getPort())) > 0);
    }

    @Test
    void aKilledNodeIsReportedFailedAndARestartedOneRejoins() throws Exception {
        cluster.start("seed");
        List<Node> all = new ArrayList<>(List.of(cluster.seed()));
        all.addAll(cluster.startAll(4, "node-"));
        Await.until("five nodes converge", Duration.ofSeconds(10), () -> TestCluster.converged(all));
        Node victim = all.get(3);
        List<Node> survivors = all.stream().filter(n -> n != victim).toList();
        Duration detection = cluster.config().expectedFailureDetection(5);

        long killedAt = System.nanoTime();
        victim.membership().crash(); // returns once the victim's threads are gone: a second or two

        Await.until("the survivors report the killed node failed", detection.multipliedBy(2),
                () -> survivors.stream().allMatch(n -> n.heard(MembershipEvent.Failed.class, victim.id())
                        && !n.lists(victim.id())));
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
        System.out.printf("failure detected by all 4 survivors %d ms after the kill (expected about %d ms)%n", took,
                detection.toMillis());
        assertTrue(took < detection.multipliedBy(2).toMillis(), "detected in " + took + " ms");
        for (Node n : survivors) {
            assertFalse(n.heard(MembershipEvent.Left.class, victim.id()), "a killed node never says goodbye");
            assertEquals(1.0, n.counter("statesync.gossip.events", "type", "failed"));
        }

        Node reborn = cluster.start("reborn", c -> c.withPort(victim.address().getPort()));

        Await.until("the restarted node is seen again", Duration.ofSeconds(10),
                () -> survivors.stream().allMatch(n -> n.sees(reborn, "reborn")));
        List<Node> now = new ArrayList<>(survivors);
        now.add(reborn);
        Await.until("the restarted node sees everyone", Duration.ofSeconds(10), () -> TestCluster.converged(now));
        assertEquals(victim.address(), reborn.address(), "same port");
    }

    @Test
    void aGracefulCloseIsSeenAsLeftAtOnce() throws Exception {
        Node a = cluster.start("a");
        Node b = cluster.start("b");
        Node c = cluster.start("c");
        Await.until("three nodes converge", Duration.ofSeconds(10), () -> TestCluster.converged(List.of(a, b, c)));

        CompletableFuture<Void> closing = CompletableFuture.runAsync(c.membership()::close);
        Duration took = Await.until("the others hear that c left", Duration.ofSeconds(2),
                () -> a.heard(MembershipEvent.Left.class, c.id()) && b.heard(MembershipEvent.Left.class, c.id())
                        && !a.lists(c.id()) && !b.lists(c.id()));
        closing.get(10, TimeUnit.SECONDS);

        System.out.printf("Left seen by both others %d ms after close() began%n", took.toMillis());
        assertFalse(a.heard(MembershipEvent.Failed.class, c.id()));
        Member last = a.events().stream().filter(e -> e instanceof MembershipEvent.Left).findFirst().orElseThrow().member();
        assertArrayEquals("c".getBytes(UTF_8), last.metadata(), "Left carries the member's last metadata");
        c.membership().close();
        assertThrows(IllegalStateException.class, () -> c.membership().publish(new byte[1]));

        // A node restarted on the port it left is a new member; nothing stale stands in its way.
        Node back = cluster.start("c-again", cfg -> cfg.withPort(c.address().getPort()));
        Await.until("the restarted node is seen", Duration.ofSeconds(5), () -> a.sees(back, "c-again")
                && b.sees(back, "c-again"));
    }

    @Test
    void aMemberBoundToEveryInterfaceIsKnownByItsAdvertisedAddress() throws Exception {
        Node seed = cluster.start("seed");
        int port = Ports.free();
        // 127.0.0.2 reaches this machine too, but nothing else would announce it: only the advertised address can.
        InetSocketAddress advertised = new InetSocketAddress("127.0.0.2", port);
        Node wild = cluster.start("wild", c -> c.withHost("0.0.0.0").withPort(port).withAdvertise(advertised));
        Node third = cluster.start("third");
        Await.until("three nodes converge", Duration.ofSeconds(10),
                () -> TestCluster.converged(List.of(seed, wild, third)));

        assertEquals(advertised, wild.address());
        for (Node other : List.of(seed, third)) {
            Member seen = other.membership().members().stream().filter(m -> m.id().equals(wild.id())).findFirst()
                    .orElseThrow();
            assertEquals(advertised, seen.address(), "the others dial the advertised address");
        }
        assertThrows(IllegalArgumentException.class, () -> cluster.config().withAdvertise(
                new InetSocketAddress("0.0.0.0", port)), "a wildcard cannot be advertised");
    }

    @Test
    void anUpdatedPublishReachesTheOthers() throws Exception {
        Node a = cluster.start("a");
        Node b = cluster.start("b");
        Node c = cluster.start("c");
        Await.until("three nodes converge", Duration.ofSeconds(10), () -> TestCluster.converged(List.of(a, b, c)));

        a.membership().publish("a-v2".getBytes(UTF_8));

        Await.until("b and c see a's new metadata", Duration.ofSeconds(5), () -> b.sees(a, "a-v2") && c.sees(a, "a-v2"));
        Await.until("b delivered Updated", Duration.ofSeconds(5), () -> b.events().stream()
                .anyMatch(e -> e instanceof MembershipEvent.Updated u && u.member().id().equals(a.id())
                        && Arrays.equals(u.member().metadata(), "a-v2".getBytes(UTF_8))));
        assertArrayEquals("a-v2".getBytes(UTF_8), a.membership().self().metadata());

        // Quick successive updates: the others settle on the last one.
        for (int v = 3; v <= 6; v++) {
            a.membership().publish(("a-v" + v).getBytes(UTF_8));
        }
        c.membership().publish("c-v2".getBytes(UTF_8));
        Await.until("the last updates win everywhere", Duration.ofSeconds(5),
                () -> b.sees(a, "a-v6") && c.sees(a, "a-v6") && a.sees(c, "c-v2") && b.sees(c, "c-v2"));
    }

    @Test
    void oversizeMetadataIsRefusedOnPublishAndDroppedOnReceipt() throws Exception {
        int limit = MembershipConfig.DEFAULT_MAX_METADATA_BYTES;
        Node small = cluster.start("small");
        Node big1 = cluster.start("big1", c -> c.withMaxMetadataBytes(4 * limit));
        Node big2 = cluster.start("big2", c -> c.withMaxMetadataBytes(4 * limit));
        Await.until("three nodes converge", Duration.ofSeconds(10),
                () -> TestCluster.converged(List.of(small, big1, big2)));

        assertThrows(IllegalArgumentException.class, () -> small.membership().publish(new byte[limit + 1]));
        assertThrows(IllegalArgumentException.class, () -> ScaleCubeMembership.start(cluster.config(),
                new byte[limit + 1], new SimpleMeterRegistry()));
        byte[] atLimit = new byte[limit];
        Arrays.fill(atLimit, (byte) 'x');
        small.membership().publish(atLimit);
        Await.until("metadata at the limit travels", Duration.ofSeconds(5),
                () -> big1.sees(small, new String(atLimit, UTF_8)));

        // big2 publishes what big1 accepts and small must refuse.
        String twice = "y".repeat(2 * limit);
        big2.membership().publish(twice.getBytes(UTF_8));

        Await.until("big1 sees big2's large metadata", Duration.ofSeconds(5), () -> big1.sees(big2, twice));
        Await.until("small drops it, counted", Duration.ofSeconds(5),
                () -> small.counter("statesync.gossip.dropped", "reason", "oversize") >= 1);
        assertTrue(small.sees(big2, "big2"), "small keeps the metadata it last accepted");
        assertFalse(small.heard(MembershipEvent.Failed.class, big2.id()));
    }

    @Test
    void garbageOnTheGossipPortIsIgnoredAndTheClusterKeepsWorking() throws Exception {
        Node a = cluster.start("a");
        Node b = cluster.start("b");
        Node c = cluster.start("c");
        Await.until("three nodes converge", Duration.ofSeconds(10), () -> TestCluster.converged(List.of(a, b, c)));
        InetSocketAddress port = a.address();
        byte[] valid = validPingFrame();
        byte[] random = new byte[4096];
        new SplittableRandom(42).nextBytes(random);
        random[0] = (byte) 0x80; // a negative length: the frame decoder refuses it at once

        // One connection stays open with half a frame for the whole test: it must block nobody.
        try (Socket stalled = new Socket(port.getAddress(), port.getPort())) {
            stalled.getOutputStream().write(new byte[] {0, 0, 1, 0, 'S', 'G'});
            stalled.getOutputStream().flush();

            sendRaw(port, random);
            sendRaw(port, "GET / HTTP/1.1\r\nHost: gossip\r\n\r\n".getBytes(US_ASCII)); // reads as a 1.2 GB frame
            sendRaw(port, frame(new byte[0])); // an empty frame
            sendRaw(port, frame(jdkSerializedMessage())); // what a stock ScaleCube node sends: never deserialized
            sendRaw(port, frame(Arrays.copyOf(random, 2000))); // framed noise
            sendRaw(port, frame(Arrays.copyOf(valid, valid.length - 3))); // a real message, cut short
            sendRaw(port, frame(Arrays.copyOf(valid, valid.length + 1))); // a real message with a trailing byte
            byte[] wrongKind = valid.clone();
            wrongKind[3] = 7; // a metadata request kind with a ping's body
            sendRaw(port, frame(wrongKind));
            sendRaw(port, Arrays.copyOf(frame(valid), 20)); // a frame cut off by the connection closing

            Await.until("a counted the garbage", Duration.ofSeconds(5),
                    () -> a.counter("statesync.gossip.dropped", "reason", "malformed") >= 8
                            && a.counter("statesync.gossip.dropped", "reason", "oversize") >= 1);

            b.membership().publish("b-after".getBytes(UTF_8));
            a.membership().publish("a-after".getBytes(UTF_8));
            Await.until("metadata still travels to and from a", Duration.ofSeconds(5),
                    () -> a.sees(b, "b-after") && b.sees(a, "a-after") && c.sees(a, "a-after"));
        }
        for (Node n : List.of(a, b, c)) {
            assertTrue(n.events().stream().noneMatch(e -> e instanceof MembershipEvent.Failed), "nobody failed");
        }
        assertEquals(2, a.membership().members().size());
    }

    /** Deserializing it is what an attacker wants: its readObject runs code. */
    static final class Tripwire implements java.io.Serializable {
        static final java.util.concurrent.atomic.AtomicBoolean TRIPPED = new java.util.concurrent.atomic.AtomicBoolean();

        private void readObject(java.io.ObjectInputStream in) throws IOException, ClassNotFoundException {
            in.defaultReadObject();
            TRIPPED.set(true);
        }
    }

    @Test
    void javaSerializedPayloadsAreNeverDeserialized() throws Exception {
        Node a = cluster.start("a");
        Node b = cluster.start("b");
        Await.until("two nodes converge", Duration.ofSeconds(10), () -> TestCluster.converged(List.of(a, b)));
        ByteArrayOutputStream gadget = new ByteArrayOutputStream();
        new JdkMessageCodec().serialize(Message.withData(new Tripwire()).qualifier(FailureDetectorImpl.PING)
                .sender("127.0.0.1:1").build(), gadget);
        ByteArrayOutputStream serializedObject = new ByteArrayOutputStream();
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(serializedObject)) {
            out.writeObject(new Tripwire());
        }

        // As a message on the gossip port (what ScaleCube's default codec would deserialize) ...
        sendRaw(a.address(), frame(gadget.toByteArray()));
        // ... and as metadata (what its default metadata codec would).
        b.membership().publish(serializedObject.toByteArray());

        Await.until("the message is dropped", Duration.ofSeconds(5),
                () -> a.counter("statesync.gossip.dropped", "reason", "malformed") >= 1);
        Await.until("the metadata arrives as plain bytes", Duration.ofSeconds(5), () -> a.membership().members()
                .stream().anyMatch(m -> Arrays.equals(m.metadata(), serializedObject.toByteArray())));
        assertFalse(Tripwire.TRIPPED.get(), "no gossip byte was ever deserialized as a Java object");
    }

    @Test
    void aNodeInAChildProcessJoinsIsReportedFailedWhenKilledAndRejoinsOnItsPort() throws Exception {
        Node seed = cluster.start("seed");

        ChildNode child = ChildNode.start(cluster, seed, "child", 0);
        Await.until("the seed sees the child with its metadata", Duration.ofSeconds(10),
                () -> seed.sees(child.id(), "child"));

        long killedAt = System.nanoTime();
        child.kill();
        Duration detection = cluster.config().expectedFailureDetection(2);
        Await.until("the seed reports the killed child failed", detection.multipliedBy(2),
                () -> seed.heard(MembershipEvent.Failed.class, child.id()) && !seed.lists(child.id()));
        System.out.printf("kill -9 of a child process detected in %d ms (expected about %d ms)%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt), detection.toMillis());
        assertFalse(seed.heard(MembershipEvent.Left.class, child.id()));

        // The restarted process takes the same port: the seed's connection to the dead one must not linger.
        ChildNode again = ChildNode.start(cluster, seed, "child-again", child.port());
        try {
            Await.until("the seed sees the restarted child", Duration.ofSeconds(10),
                    () -> seed.sees(again.id(), "child-again"));
        } finally {
            again.kill();
        }
    }

    /** A node in a child JVM; see {@link MembershipNodeMain}. */
    private record ChildNode(Process process, String id, int port) {

        static ChildNode start(TestCluster cluster, Node seed, String metadata, int port) throws Exception {
            String java = ProcessHandle.current().info().command().orElseThrow();
            Process p = new ProcessBuilder(java, "-Xmx64m", "-XX:TieredStopAtLevel=1",
                    "-cp", System.getProperty("java.class.path"), MembershipNodeMain.class.getName(),
                    cluster.namespace, seed.address().getHostString(), Integer.toString(seed.address().getPort()),
                    metadata, Integer.toString(port))
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), UTF_8));
                String[] ready = CompletableFuture.supplyAsync(() -> {
                    try {
                        String line;
                        while ((line = out.readLine()) != null) {
                            if (line.startsWith("READY ")) {
                                return line.split(" ");
                            }
                        }
                        throw new IllegalStateException("child exited before it was ready");
                    } catch (IOException e) {
                        throw new IllegalStateException("reading the child's output", e);
                    }
                }).get(20, TimeUnit.SECONDS);
                return new ChildNode(p, ready[1], Integer.parseInt(ready[2]));
            } catch (Exception e) {
                p.destroyForcibly();
                throw e;
            }
        }

        /** kill -9: no goodbye, no cleanup. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            assertTrue(process.waitFor(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aListenerThatThrowsKeepsReceivingAndAClosedSubscriptionStops() throws Exception {
        Node a = cluster.start("a");
        List<MembershipEvent> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        AutoCloseable throwing = a.membership().subscribe(e -> {
            seen.add(e);
            throw new IllegalStateException("listener bug");
        });
        Node b = cluster.start("b");
        Await.until("the throwing listener got Joined", Duration.ofSeconds(5), () -> seen.size() == 1);

        b.membership().publish("b2".getBytes(UTF_8));
        Await.until("it still gets Updated", Duration.ofSeconds(5), () -> seen.size() == 2);
        throwing.close();
        b.membership().publish("b3".getBytes(UTF_8));
        Await.until("a sees b3", Duration.ofSeconds(5), () -> a.sees(b, "b3"));
        Await.until("the other listener got the update", Duration.ofSeconds(5), () -> a.events().stream()
                .anyMatch(e -> Arrays.equals(e.member().metadata(), "b3".getBytes(UTF_8))));
        assertEquals(2, seen.size(), "no delivery after the subscription closed");
    }

    @Test
    void aPortInUseFailsTheStartAndLeavesNothingRunning() throws Exception {
        Node a = cluster.start("a");

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ScaleCubeMembership.start(
                cluster.config().withPort(a.address().getPort()), new SimpleMeterRegistry()));

        assertTrue(e.getMessage().contains(Integer.toString(a.address().getPort())), e.getMessage());
    }

    /** A well-formed ping frame body (our format), to cut and bend. */
    private static byte[] validPingFrame() throws IOException {
        io.scalecube.cluster.Member from = new io.scalecube.cluster.Member("x", null, "127.0.0.1:1", "ns");
        Object ping = ScaleCubeTypes.newPing(new ScaleCubeTypes.Ping(from, from, null, -1));
        Message message = Message.withData(ping).qualifier(FailureDetectorImpl.PING).correlationId("c")
                .sender("127.0.0.1:1").build();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new WireCodec(1024, new GossipMetrics()).serialize(message, out);
        return out.toByteArray();
    }

    private static byte[] jdkSerializedMessage() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new JdkMessageCodec().serialize(Message.withData("payload").qualifier(FailureDetectorImpl.PING)
                .sender("127.0.0.1:1").build(), out);
        return out.toByteArray();
    }

    private static byte[] frame(byte[] body) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(body.length);
        out.write(body);
        return bytes.toByteArray();
    }

    /** Connects, writes, and closes. */
    private static void sendRaw(InetSocketAddress to, byte[] bytes) throws IOException {
        try (Socket s = new Socket(to.getAddress(), to.getPort())) {
            OutputStream out = s.getOutputStream();
            out.write(bytes);
            out.flush();
        }
    }

    private static Set<String> nonDaemonThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                // JUnit's timeout watcher starts with the first test; it is not ours.
                .filter(t -> t.isAlive() && !t.isDaemon() && !t.getName().startsWith("junit-"))
                .map(Thread::getName)
                .collect(Collectors.toSet());
    }
}
