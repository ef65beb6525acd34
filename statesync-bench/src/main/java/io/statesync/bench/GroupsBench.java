package io.statesync.bench;

import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.files.FileTrees;
import io.statesync.core.store.ContentStore;
import io.statesync.groups.Group;
import io.statesync.groups.GroupConfig;
import io.statesync.groups.GroupHost;
import io.statesync.groups.GroupMember;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.replay.LogReplaySync;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.rpc.SupportedRpcType;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/**
 * The groups benchmark, all in one run on the same data:
 * <ol>
 *   <li>a wiped follower of a 4-member statesync group catches up with {@link SnapshotSync} from
 *       the 3 up-to-date members (Ratis notify-install, then a verified multi-source fetch);</li>
 *   <li>the same state in a plain Apache Ratis cluster of 4, where the leader streams its
 *       snapshot to the wiped follower (Ratis's built-in install);</li>
 *   <li>a follower of a 3-member group that missed many small commands catches up with
 *       {@link LogReplaySync}.</li>
 * </ol>
 * The state ({@link BlockState}) lives on disk: {@code --state} bytes of pseudo-random blocks,
 * written by tiny deterministic commands, so loading it costs no log bandwidth and the catch-up is
 * all snapshot. Both systems' snapshots are one file with the same bytes.
 *
 * <p>Arguments: {@code [--state 1GiB] [--block 1MiB] [--replay-entries 200000] [--work DIR] [--keep]
 * [--skip-ours] [--skip-ratis] [--skip-replay]}. Prints {@code BENCH} lines last.
 */
public final class GroupsBench {
    private static final double MIB = 1024.0 * 1024.0;
    private static final Duration ELECTION = Duration.ofSeconds(1);
    private static final long SEGMENT = 16 * 1024;
    private static final Duration CATCH_UP_LIMIT = Duration.ofMinutes(20);

    public static void main(String[] args) throws Exception {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("bench.log", "warn"));
        System.setProperty("org.slf4j.simpleLogger.log.io.statesync.groups",
                System.getProperty("bench.groupsLog", "info"));
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        long state = 1L << 30;
        int block = 1 << 20;
        int replayEntries = 200_000;
        Path work = null;
        boolean keep = false;
        boolean ours = true;
        boolean ratis = true;
        boolean replay = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--state" -> state = TransferBench.parseSize(args[++i]);
                case "--block" -> block = (int) TransferBench.parseSize(args[++i]);
                case "--replay-entries" -> replayEntries = Integer.parseInt(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                case "--keep" -> keep = true;
                case "--skip-ours" -> ours = false;
                case "--skip-ratis" -> ratis = false;
                case "--skip-replay" -> replay = false;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (work == null) {
            work = Files.createTempDirectory("statesync-groups-bench-");
        } else {
            Files.createDirectories(work);
        }
        int blocks = (int) Math.max(1, (state + block - 1) / block);
        long stateBytes = (long) blocks * block;
        List<String> bench = new ArrayList<>();
        List<String> summary = new ArrayList<>();
        bench.add(line("state_size", stateBytes / MIB, "MiB"));
        log("state: %d blocks of %d KiB = %.0f MiB; work dir %s; heap max %.0f MiB", blocks, block / 1024,
                stateBytes / MIB, work, Runtime.getRuntime().maxMemory() / MIB);
        double oursSecs = Double.NaN;
        double ratisSecs = Double.NaN;
        try {
            if (ours) {
                oursSecs = snapshotSync(work.resolve("ours"), blocks, block, bench, summary, keep);
            }
            if (ratis) {
                ratisSecs = ratisInstall(work.resolve("ratis"), blocks, block, bench, summary, keep);
            }
            if (ours && ratis) {
                double speedup = ratisSecs / oursSecs;
                bench.add(line("snapshot_sync_vs_ratis_install_speedup", speedup, "ratio"));
                summary.add(String.format(Locale.ROOT,
                        "SnapshotSync from 3 peers vs Ratis leader install: %.2fx (target >= 1.5: %s)", speedup,
                        speedup >= 1.5 ? "met" : "NOT met"));
            }
            if (replay) {
                logReplay(work.resolve("replay"), replayEntries, bench, summary);
            }
        } finally {
            if (!keep) {
                FileTrees.deleteRecursively(work);
            }
        }
        bench.add(line("heap_max", Runtime.getRuntime().maxMemory() / MIB, "MiB"));
        bench.add(line("heap_peak_used", peakHeap() / MIB, "MiB"));
        System.out.println();
        System.out.println("Summary (" + blocks + " blocks of " + block / 1024 + " KiB):");
        summary.forEach(s -> System.out.println("  " + s));
        bench.forEach(System.out::println);
    }

    // ---------------------------------------------------------------- 1. SnapshotSync from 3 peers

    private static double snapshotSync(Path root, int blocks, int block, List<String> bench, List<String> summary,
                                       boolean keep) throws Exception {
        long every = snapshotIndex(blocks);
        log("== statesync: 4 members, SnapshotSync, snapshot every %d entries", every);
        try (OurCluster c = new OurCluster(root, 4, SnapshotSync.DEFAULT,
                cfg -> cfg.withSnapshotEvery(every).withRaftSegmentBytes(SEGMENT))) {
            c.startAll();
            OurCluster.Node first = c.leader();
            long t0 = System.nanoTime();
            submitAll(first.group::submit, blocks, 16, k -> BlockState.fill(k, seedOf(k), block));
            log("loaded %d blocks in %.1f s (leader %s)", blocks, secs(t0), first.member.id());
            await(Duration.ofMinutes(10), c::converged, c::describe);
            // The follower goes down (and loses its disk) before the snapshot point, so the leader's
            // log moves past everything it had: it must come back through a snapshot.
            OurCluster.Node leader = c.leader();
            int f = (leader.index + 1) % 4;
            log("stopping and wiping %s at applied %d", c.nodes[f].member.id(), c.nodes[f].group.applied().index());
            c.stop(f);
            c.wipe(f);
            padTo(leader.group::submit, () -> leader.group.applied().index(), every + 100);
            long s0 = System.nanoTime();
            await(Duration.ofMinutes(30), () -> {
                for (OurCluster.Node n : c.nodes) {
                    if (n.group != null && n.group.snapshots().stream().noneMatch(r -> r.index() == every)) {
                        return false;
                    }
                }
                return c.converged();
            }, c::describe);
            log("the 3 live members snapshotted at %d and converged %.1f s after the padding", every, secs(s0));
            List<String> manifests = Stream.of(c.nodes).filter(n -> n.group != null).map(n -> n.group.snapshots()
                    .stream().filter(r -> r.index() == every).map(r -> r.manifest().toString()).findFirst()
                    .orElse("?")).distinct().toList();
            log("manifests at %d: %s", every, manifests);
            long leaderApplied = leader.group.applied().index();
            String digest = leader.machine.state.digest();
            log("restarting %s; leader %s applied %d, digest %s", c.nodes[f].member.id(), leader.member.id(),
                    leaderApplied, digest);
            long r0 = System.nanoTime();
            c.start(f);
            OurCluster.Node fol = c.nodes[f];
            OurCluster.Node lead = leader;
            await(CATCH_UP_LIMIT, () -> fol.group.applied().index() >= lead.group.applied().index()
                    && fol.machine.state.digest().equals(lead.machine.state.digest()), c::describe);
            long r1 = System.nanoTime();
            double took = (r1 - r0) / 1e9;
            await(Duration.ofSeconds(60), () -> fol.group.syncMetrics().count("completed") >= 1, c::describe);
            double syncCompleted = fol.group.syncMetrics().count("completed");
            long installs = fol.machine.state.installs.get();
            double session = timerSeconds(fol.registry, "statesync.groups.sync.duration");
            double fetch = timerSeconds(fol.registry, "statesync.fetch.duration");
            double load = (fol.machine.state.lastLoadEnd - fol.machine.state.lastLoadStart) / 1e9;
            double toLoadStart = (fol.machine.state.lastLoadStart - r0) / 1e9;
            long bytes = fol.machine.state.bytes();
            log("caught up in %.2f s: session %.2f s (fetch %.2f s), machine load %.2f s, load started at %.2f s;"
                    + " %s snapshot install(s), %s completed session(s)", took, session, fetch, load, toLoadStart,
                    installs, syncCompleted);
            if (installs < 1 || syncCompleted < 1) {
                throw new IllegalStateException("the follower did not catch up through SnapshotSync (installs "
                        + installs + ", sessions " + syncCompleted + "); the benchmark measured something else");
            }
            long v0 = System.nanoTime();
            int bad = fol.machine.state.verify();
            log("verified the follower's %d blocks in %.1f s: %d bad", blocks, secs(v0), bad);
            if (bad != 0) {
                throw new IllegalStateException(bad + " blocks of the follower do not match their hash");
            }
            bench.add(line("snapshot_sync_3_peers_seconds", took, "s"));
            bench.add(line("snapshot_sync_mib_per_s", bytes / MIB / took, "MiB/s"));
            bench.add(line("snapshot_sync_session_seconds", session, "s"));
            bench.add(line("snapshot_sync_fetch_seconds", fetch, "s"));
            bench.add(line("snapshot_sync_fetch_mib_per_s", bytes / MIB / fetch, "MiB/s"));
            bench.add(line("snapshot_sync_materialize_and_install_seconds", Math.max(0, session - fetch), "s"));
            summary.add(String.format(Locale.ROOT,
                    "SnapshotSync, wiped follower, %d peers offering manifest(s) %s: %.2f s restart->caught up"
                            + " (%.0f MiB/s); session %.2f s = fetch %.2f s + offers/materialize/install %.2f s;"
                            + " outside the session (Ratis start, notify, tail) %.2f s",
                    3, manifests.size() == 1 ? "(one CID)" : manifests.size() + " different", took,
                    bytes / MIB / took, session, fetch, session - fetch, took - session));
            if (!keep) {
                c.close();
                FileTrees.deleteRecursively(root);
            }
            return took;
        }
    }

    // ---------------------------------------------------------------- 2. Ratis leader install

    private static double ratisInstall(Path root, int blocks, int block, List<String> bench, List<String> summary,
                                       boolean keep) throws Exception {
        long every = snapshotIndex(blocks);
        log("== plain Ratis: 4 servers, leader-streamed install, snapshot threshold %d entries", every);
        try (RatisCluster c = new RatisCluster(root, 4, every)) {
            c.startAll();
            int leader = c.leader();
            long t0 = System.nanoTime();
            submitAll(c::submit, blocks, 16, k -> BlockState.fill(k, seedOf(k), block));
            log("loaded %d blocks in %.1f s (leader r%d)", blocks, secs(t0), leader);
            await(Duration.ofMinutes(10), c::converged, c::describe);
            leader = c.leader();
            int f = (leader + 1) % 4;
            int l = leader;
            log("stopping and wiping r%d at applied %d", f, c.applied(f));
            c.stop(f);
            c.wipe(f);
            padTo(c::submit, () -> c.applied(l), every + 100);
            long s0 = System.nanoTime();
            await(Duration.ofMinutes(30), () -> {
                for (int i = 0; i < c.n; i++) {
                    if (c.servers[i] == null) {
                        continue;
                    }
                    var s = c.machines[i].getLatestSnapshot();
                    if (s == null || s.getIndex() < 2L * blocks) {
                        return false;
                    }
                }
                return c.converged();
            }, c::describe);
            log("the 3 live servers snapshotted and converged %.1f s after the padding:%s", secs(s0), c.describe());
            long r0 = System.nanoTime();
            c.start(f);
            await(CATCH_UP_LIMIT, () -> c.applied(f) >= c.applied(l)
                    && c.machines[f].state.digest().equals(c.machines[l].state.digest()), c::describe);
            double took = secs(r0);
            BlockState st = c.machines[f].state;
            long installs = st.installs.get();
            double load = (st.lastLoadEnd - st.lastLoadStart) / 1e9;
            double toLoadStart = (st.lastLoadStart - r0) / 1e9;
            long bytes = st.bytes();
            log("caught up in %.2f s: snapshot reached the machine at %.2f s, machine load %.2f s; %d install(s)",
                    took, toLoadStart, load, installs);
            if (installs < 1) {
                throw new IllegalStateException("the Ratis follower did not install a snapshot");
            }
            int bad = st.verify();
            log("verified the Ratis follower's blocks: %d bad", bad);
            if (bad != 0) {
                throw new IllegalStateException(bad + " blocks of the Ratis follower do not match their hash");
            }
            bench.add(line("ratis_leader_install_seconds", took, "s"));
            bench.add(line("ratis_leader_install_mib_per_s", bytes / MIB / took, "MiB/s"));
            summary.add(String.format(Locale.ROOT,
                    "Ratis built-in install, wiped follower: %.2f s restart->caught up (%.0f MiB/s);"
                            + " streamed + MD5-checked snapshot handed to the machine after %.2f s", took,
                    bytes / MIB / took, toLoadStart));
            if (!keep) {
                c.close();
                FileTrees.deleteRecursively(root);
            }
            return took;
        }
    }

    // ---------------------------------------------------------------- 3. LogReplaySync

    private static void logReplay(Path root, int entries, List<String> bench, List<String> summary) throws Exception {
        log("== statesync: 3 members, LogReplaySync, follower misses %d commands", entries);
        try (OurCluster c = new OurCluster(root, 3, LogReplaySync.DEFAULT,
                cfg -> cfg.withSnapshotEvery(10_000).withRaftSegmentBytes(SEGMENT))) {
            c.startAll();
            OurCluster.Node leader = c.leader();
            submitAll(leader.group::submit, 1000, 500, k -> BlockState.note(k % 1000, k));
            await(Duration.ofMinutes(2), c::converged, c::describe);
            int f = (leader.index + 1) % 3;
            long before = c.nodes[f].group.applied().index();
            c.stop(f);
            long w0 = System.nanoTime();
            submitAll(leader.group::submit, entries, 1000, k -> BlockState.note(k % 1000, k));
            log("wrote %d commands in %.1f s (%.0f/s) with the follower down", entries, secs(w0),
                    entries / secs(w0));
            long leaderApplied = leader.group.applied().index();
            long r0 = System.nanoTime();
            c.start(f);
            OurCluster.Node fol = c.nodes[f];
            OurCluster.Node lead = leader;
            await(CATCH_UP_LIMIT, () -> fol.group.applied().index() >= lead.group.applied().index()
                    && fol.machine.state.digest().equals(lead.machine.state.digest()), c::describe);
            double took = secs(r0);
            // The session reports completion after it made the reached position durable, which
            // can be a moment after the state matched.
            await(Duration.ofSeconds(60), () -> fol.group.syncMetrics().count("completed") >= 1, c::describe);
            long missed = leaderApplied - before;
            double sessions = fol.group.syncMetrics().count("completed");
            double session = timerSeconds(fol.registry, "statesync.groups.sync.duration");
            double fetched = counterSum(fol.registry, "statesync.groups.sync.entries");
            log("caught up %d entries in %.2f s; %s LogReplaySync session(s), %.2f s, %.0f entries fetched",
                    missed, took, sessions, session, fetched);
            if (sessions < 1) {
                throw new IllegalStateException("the follower did not catch up through LogReplaySync");
            }
            bench.add(line("log_replay_entries", missed, "entries"));
            bench.add(line("log_replay_seconds", took, "s"));
            bench.add(line("log_replay_entries_per_s", missed / took, "entries/s"));
            bench.add(line("log_replay_session_entries_per_s", fetched / session, "entries/s"));
            summary.add(String.format(Locale.ROOT,
                    "LogReplaySync: %d missed entries in %.2f s restart->caught up (%.0f entries/s);"
                            + " the LogReplaySync session fetched %.0f entries in %.2f s (%.0f entries/s); the rest of"
                            + " the time is outside the session (restart, Ratis reconnect and notify, tail)",
                    missed, took, missed / took, fetched, session, fetched / session));
        }
    }

    // ---------------------------------------------------------------- helpers

    interface Submitter {
        CompletableFuture<?> submit(byte[] command);
    }

    interface CommandOf {
        byte[] of(int k);
    }

    private static long seedOf(int k) {
        return 0x9E3779B97F4A7C15L * (k + 1);
    }

    private static void submitAll(Submitter s, int count, int window, CommandOf cmd) throws Exception {
        ArrayDeque<CompletableFuture<?>> inFlight = new ArrayDeque<>();
        for (int k = 0; k < count; k++) {
            inFlight.add(s.submit(cmd.of(k)));
            if (inFlight.size() >= window) {
                inFlight.poll().get(5, TimeUnit.MINUTES);
            }
        }
        for (CompletableFuture<?> f : inFlight) {
            f.get(5, TimeUnit.MINUTES);
        }
    }

    private static void padTo(Submitter s, Supplier<Long> applied, long index) throws Exception {
        while (applied.get() < index) {
            long gap = index - applied.get();
            submitAll(s, (int) Math.min(gap, 100), 50, k -> BlockState.nop());
        }
    }

    private static double timerSeconds(PrometheusMeterRegistry r, String name) {
        return r.find(name).timers().stream().mapToDouble(t -> t.totalTime(TimeUnit.NANOSECONDS) / 1e9).sum();
    }

    private static double counterSum(PrometheusMeterRegistry r, String name) {
        return r.find(name).counters().stream().mapToDouble(Counter::count).sum();
    }

    /**
     * The log index of the one snapshot: past the load (each command takes 2 indices, the command and
     * Ratis's commit metadata entry) with room for a few closed 16 KiB segments, so that purging up
     * to it leaves the leader's log starting after everything the stopped follower had.
     */
    static long snapshotIndex(int blocks) {
        return roundUp(2L * blocks + 1000, 100);
    }

    static long roundUp(long v, long m) {
        return (v + m - 1) / m * m;
    }

    static void await(Duration timeout, BooleanSupplier cond, Supplier<String> what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextReport = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("not reached within " + timeout + ":" + what.get());
            }
            if (System.nanoTime() > nextReport) {
                log("still waiting:%s", what.get());
                nextReport = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            }
            Thread.sleep(20);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }

    private static long peakHeap() {
        long peak = 0;
        for (var pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.getPeakUsage() != null) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak;
    }

    private static String line(String name, double value, String unit) {
        return String.format(Locale.ROOT, "BENCH %s %.3f %s", name, value, unit);
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static void log(String fmt, Object... args) {
        System.err.printf(Locale.ROOT, "[bench %tT] " + fmt + "%n", prepend(new java.util.Date(), args));
    }

    private static Object[] prepend(Object first, Object[] rest) {
        Object[] all = new Object[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }


    // ---------------------------------------------------------------- clusters

    /** N statesync group members on loopback, each with its own HTTP server, group host and directories. */
    static final class OurCluster implements AutoCloseable {
        final Node[] nodes;
        final List<GroupMember> members = new ArrayList<>();
        private final StateSync sync;
        private final java.util.function.UnaryOperator<GroupConfig> tweak;

        static final class Node {
            final int index;
            final GroupMember member;
            final Path dir;
            FileShareServer http;
            PrometheusMeterRegistry registry;
            GroupHost host;
            Group group;
            BlockMachine machine;

            Node(int index, GroupMember member, Path dir) {
                this.index = index;
                this.member = member;
                this.dir = dir;
            }
        }

        OurCluster(Path root, int n, StateSync sync, java.util.function.UnaryOperator<GroupConfig> tweak)
                throws IOException {
            this.sync = sync;
            this.tweak = tweak;
            nodes = new Node[n];
            for (int i = 0; i < n; i++) {
                GroupMember m = new GroupMember("n" + i, new InetSocketAddress("127.0.0.1", freePort()),
                        URI.create("http://127.0.0.1:" + freePort()));
                members.add(m);
                nodes[i] = new Node(i, m, root.resolve("n" + i));
            }
        }

        GroupConfig config(int i) {
            return tweak.apply(GroupConfig.of("bench", "n" + i, members, nodes[i].dir.resolve("data"), sync)
                    .withElectionTimeout(ELECTION)
                    .withRetryBackoffMax(Duration.ofSeconds(1))
                    .withSessionTimeout(Duration.ofMinutes(15)));
        }

        void startAll() throws Exception {
            List<CompletableFuture<Void>> starts = new ArrayList<>();
            for (int i = 0; i < nodes.length; i++) {
                int k = i;
                starts.add(CompletableFuture.runAsync(() -> {
                    try {
                        start(k);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            for (CompletableFuture<Void> f : starts) {
                f.get(2, TimeUnit.MINUTES);
            }
        }

        void start(int i) throws Exception {
            Node n = nodes[i];
            n.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            n.http = FileShareServer.start(ServerConfig.loopback().withPort(n.member.http().getPort()),
                    ContentStore.open(n.dir.resolve("share")), n.registry);
            n.host = GroupHost.on(n.http, n.registry);
            n.machine = new BlockMachine(n.dir.resolve("machine"));
            n.group = n.host.start(config(i), n.machine);
        }

        void stop(int i) throws Exception {
            Node n = nodes[i];
            if (n.group != null) {
                n.group.close();
                n.group = null;
            }
            if (n.host != null) {
                n.host.close();
                n.host = null;
            }
            if (n.http != null) {
                n.http.close();
                n.http = null;
            }
        }

        void wipe(int i) throws IOException {
            FileTrees.deleteRecursively(nodes[i].dir);
        }

        Node leader() throws InterruptedException {
            Node[] found = new Node[1];
            await(Duration.ofSeconds(60), () -> {
                for (Node n : nodes) {
                    if (n.group != null && n.group.status().role().equals("LEADER")) {
                        found[0] = n;
                        return true;
                    }
                }
                return false;
            }, this::describe);
            return found[0];
        }

        boolean converged() {
            String digest = null;
            long index = -1;
            for (Node n : nodes) {
                if (n.group == null) {
                    continue;
                }
                String d = n.machine.state.digest();
                long a = n.group.applied().index();
                if (digest == null) {
                    digest = d;
                    index = a;
                } else if (!digest.equals(d) || index != a) {
                    return false;
                }
            }
            return true;
        }

        String describe() {
            StringBuilder b = new StringBuilder();
            for (Node n : nodes) {
                b.append("\n  ").append(n.member.id()).append(": ");
                b.append(n.group != null ? n.group.status() + " digest=" + n.machine.state.digest() + " snapshots="
                        + n.group.snapshots().stream().map(SnapshotRecord::index).toList() : "stopped");
            }
            return b.toString();
        }

        @Override
        public void close() {
            for (int i = 0; i < nodes.length; i++) {
                try {
                    stop(i);
                } catch (Exception e) {
                    log("closing n%d: %s", i, e);
                }
            }
        }
    }

    /** N plain Ratis servers (gRPC, loopback) with leader-streamed snapshot install. */
    static final class RatisCluster implements AutoCloseable {
        final int n;
        final RatisBlockMachine[] machines;
        final RaftServer[] servers;
        private final Path root;
        private final int[] ports;
        private final long threshold;
        private final RaftGroup group;
        private RaftClient client;

        RatisCluster(Path root, int n, long threshold) throws IOException {
            this.n = n;
            this.root = root;
            this.threshold = threshold;
            machines = new RatisBlockMachine[n];
            servers = new RaftServer[n];
            ports = new int[n];
            List<RaftPeer> peers = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ports[i] = freePort();
                peers.add(RaftPeer.newBuilder().setId("r" + i).setAddress("127.0.0.1:" + ports[i]).build());
            }
            group = RaftGroup.valueOf(RaftGroupId.randomId(), peers);
        }

        RaftProperties props(int i) {
            RaftProperties p = new RaftProperties();
            RaftConfigKeys.Rpc.setType(p, SupportedRpcType.GRPC);
            if (i >= 0) {
                GrpcConfigKeys.Server.setHost(p, "127.0.0.1");
                GrpcConfigKeys.Server.setPort(p, ports[i]);
                RaftServerConfigKeys.setStorageDir(p, List.of(root.resolve("r" + i).resolve("ratis").toFile()));
            }
            long election = ELECTION.toMillis();
            RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(election, TimeUnit.MILLISECONDS));
            RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(2 * election, TimeUnit.MILLISECONDS));
            // Ratis's own install: the leader streams its snapshot files to a follower behind its log.
            RaftServerConfigKeys.Log.Appender.setInstallSnapshotEnabled(p, true);
            RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
            RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, threshold);
            RaftServerConfigKeys.Snapshot.setTriggerWhenStopEnabled(p, false);
            RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
            RaftServerConfigKeys.Log.setPurgeGap(p, 1);
            RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf(SEGMENT));
            return p;
        }

        void startAll() throws Exception {
            for (int i = 0; i < n; i++) {
                start(i);
            }
            client = RaftClient.newBuilder().setProperties(props(-1)).setRaftGroup(group).build();
        }

        void start(int i) throws IOException {
            machines[i] = new RatisBlockMachine(root.resolve("r" + i).resolve("machine"));
            servers[i] = RaftServer.newBuilder().setServerId(RaftPeerId.valueOf("r" + i)).setGroup(group)
                    .setProperties(props(i)).setStateMachine(machines[i])
                    .setOption(RaftStorage.StartupOption.RECOVER).build();
            servers[i].start();
        }

        void stop(int i) throws IOException {
            if (servers[i] != null) {
                servers[i].close();
                servers[i] = null;
            }
        }

        void wipe(int i) throws IOException {
            FileTrees.deleteRecursively(root.resolve("r" + i));
        }

        CompletableFuture<RaftClientReply> submit(byte[] command) {
            return client.async().send(Message.valueOf(ByteString.copyFrom(command))).thenApply(r -> {
                if (!r.isSuccess()) {
                    throw new IllegalStateException("not committed: " + r.getException());
                }
                return r;
            });
        }

        long applied(int i) {
            var ti = machines[i].getLastAppliedTermIndex();
            return ti == null ? -1 : ti.getIndex();
        }

        int leaderNow() {
            try {
                return leader();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }

        int leader() throws InterruptedException {
            int[] found = {-1};
            await(Duration.ofSeconds(60), () -> {
                for (int i = 0; i < n; i++) {
                    try {
                        if (servers[i] != null && servers[i].getDivision(group.getGroupId()).getInfo().isLeader()) {
                            found[0] = i;
                            return true;
                        }
                    } catch (IOException e) {
                        // not yet
                    }
                }
                return false;
            }, this::describe);
            return found[0];
        }

        boolean converged() {
            String digest = null;
            long index = -1;
            for (int i = 0; i < n; i++) {
                if (servers[i] == null) {
                    continue;
                }
                String d = machines[i].state.digest();
                long a = applied(i);
                if (digest == null) {
                    digest = d;
                    index = a;
                } else if (!digest.equals(d) || index != a) {
                    return false;
                }
            }
            return true;
        }

        String describe() {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < n; i++) {
                b.append("\n  r").append(i).append(": ");
                if (servers[i] == null) {
                    b.append("stopped");
                    continue;
                }
                String role = "?";
                long start = -1;
                try {
                    RaftServer.Division d = servers[i].getDivision(group.getGroupId());
                    role = d.getInfo().getCurrentRole().name();
                    start = d.getRaftLog().getStartIndex();
                } catch (IOException e) {
                    role = e.toString();
                }
                b.append(role).append(" applied=").append(applied(i)).append(" logStart=").append(start)
                        .append(" snapshot=").append(machines[i].getLatestSnapshot()).append(" digest=")
                        .append(machines[i].state.digest());
            }
            return b.toString();
        }

        @Override
        public void close() {
            try {
                if (client != null) {
                    client.close();
                    client = null;
                }
            } catch (IOException e) {
                log("closing the Ratis client: %s", e);
            }
            for (int i = 0; i < n; i++) {
                try {
                    stop(i);
                } catch (IOException e) {
                    log("closing r%d: %s", i, e);
                }
            }
        }
    }
}
