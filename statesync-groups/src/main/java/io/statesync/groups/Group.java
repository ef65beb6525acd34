package io.statesync.groups;

import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.store.ContentStore;
import io.statesync.groups.log.CommittedLog;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.Leases;
import io.statesync.groups.sync.Peer;
import io.statesync.groups.sync.PeerClient;
import io.statesync.groups.sync.RequestSigning;
import io.statesync.groups.sync.ProviderContext;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.SyncMetrics;
import io.statesync.groups.sync.SyncProgress;
import io.statesync.groups.sync.SyncProvider;
import io.statesync.transfer.fetch.SnapshotFetcher;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.tls.Tls;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.AlreadyClosedException;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.rpc.SupportedRpcType;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One member of one replicated group: a Ratis server for the group, the {@link Replica} holding
 * the state, the sync provider serving peers under {@code /groups/{id}/} on the node's HTTP
 * server, and the catch-up driver. Start one with {@link GroupHost#start}; close it to leave.
 */
public final class Group implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Group.class);

    static {
        // Ratis ends the whole JVM (System.exit) when, say, its gRPC server cannot bind its port.
        // A library must not kill its host: with exit disabled Ratis throws instead, start fails
        // with the reason, and the caller decides.
        org.apache.ratis.util.ExitUtils.disableSystemExit();
    }
    /** The snapshot position the consensus engine holds, kept beside its storage (see RatisMachine). */
    private static final String HELD_FILE = "consensus-snapshot";
    /** Tries of one submit before it fails (each waits for its request timeout, then 200 ms). */
    private static final int SUBMIT_RETRIES = 30;
    /** A listener this close to its peers' applied index is level with them and may vote. */
    private static final long PROMOTION_LAG = 16;

    private final GroupConfig config;
    private final GroupId id;
    private final Replica replica;
    /** The running consensus engine (replaced when the stall watch restarts it) and what it tells. */
    private final Consensus consensus;
    private final RaftClient client;
    private final RaftGroupId raftGroupId;
    private final RaftGroup raftGroup;
    private final RaftProperties props;
    private final StallWatch stallWatch;
    private final CatchUp catchUp;
    private final SyncMetrics metrics;
    private final PeerClient peers;
    private final SnapshotFetcher fetcher;
    private final AutoCloseable mount;
    private final Leases leases;
    private final Runnable onClose;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final MemberChanges changes;
    /** Runs {@link #join} for a member that joins a running group; interrupted and joined by close. */
    private final Thread joiner;
    private volatile JoinPhase joinPhase;
    /** Whether the configuration named this member since it started (a later absence means it was removed). */
    private volatile boolean wasMember;

    /**
     * How far a joining member is. {@code SYNCING}: loading the group's newest state from its
     * members before asking to be added (so the leader finds it close to the head); {@code ADDING}:
     * asking the leader to add it as a listener, which Ratis does once it has caught up with the
     * log; {@code LISTENING}: a listener, receiving the log without a vote, until it stands level
     * with its peers; {@code PROMOTING}: asking to become a voter; {@code MEMBER}: a voter.
     */
    public enum JoinPhase { SYNCING, ADDING, LISTENING, PROMOTING, MEMBER }

    /** Runs {@link #submit}'s blocking calls; closed with the group. */
    private final java.util.concurrent.ExecutorService submitters;

    /** What a started member is made of; each part is closed by {@link #close}. */
    private record Parts(GroupConfig config, GroupId id, Replica replica, Consensus consensus, Endpoint endpoint,
                         CatchUp catchUp, SyncMetrics metrics, PeerClient peers, SnapshotFetcher fetcher,
                         AutoCloseable mount, Leases leases) {
    }

    /** The consensus endpoint: Ratis's settings, the group as Ratis knows it, and the client that submits. */
    private record Endpoint(RaftGroup raftGroup, RaftProperties props, RaftClient client) {
    }

    private Group(Parts parts, Runnable onClose, MeterRegistry registry) {
        this.config = parts.config();
        this.id = parts.id();
        this.replica = parts.replica();
        this.consensus = parts.consensus();
        this.client = parts.endpoint().client();
        this.raftGroup = parts.endpoint().raftGroup();
        this.raftGroupId = raftGroup.getGroupId();
        this.props = parts.endpoint().props();
        this.catchUp = parts.catchUp();
        this.metrics = parts.metrics();
        this.peers = parts.peers();
        this.fetcher = parts.fetcher();
        this.mount = parts.mount();
        this.leases = parts.leases();
        this.onClose = onClose;
        this.submitters = java.util.concurrent.Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("statesync-group-submit-" + id.toString().substring(0, 8) + "-", 0).factory());
        this.stallWatch = new StallWatch(id.toString(), config.name(), new WatchProbe(), config.stallTimeout(),
                registry);
        this.changes = new MemberChanges(config.name(), raftGroupId, registry);
        this.joinPhase = config.joining() ? JoinPhase.SYNCING : null;
        this.joiner = Thread.ofVirtual().name("statesync-group-join-" + id.toString().substring(0, 8))
                .unstarted(this::join);
    }

    /** Builds and starts the member; see {@link GroupHost#start}. */
    static Group start(GroupConfig config, StateMachine userMachine, FileShareServer http, MeterRegistry registry,
                       RequestSigning.HostKey hostKey, MemberRequests memberRequests, Tls tls, Runnable onClose)
            throws IOException {
        GroupId id = GroupId.derive(config.name(), userMachine.typeTag(), config.sync().signature());
        String gid = id.toString();
        Path groupDir = Files.createDirectories(groupDir(config, gid));
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            Replica replica = Replica.open(gid, config, userMachine, groupDir, registry);
            opened.add(replica);
            Leases leases = new Leases();
            AtomicLong knownCommit = new AtomicLong();
            PeerClient peerClient = new PeerClient(gid, Duration.ofSeconds(2), hostKey, config.self(), tls);
            opened.add(peerClient);
            SnapshotFetcher fetcher = new SnapshotFetcher(replica.store(), registry,
                    new io.statesync.transfer.fetch.SourceScores(), tls);
            opened.add(fetcher);
            SyncMetrics metrics = new SyncMetrics(registry, config.name(), config.sync().getClass().getSimpleName(),
                    () -> Math.max(0, knownCommit.get() - replica.applied().index()));
            opened.add(metrics);

            RaftGroupId raftGroupId = RaftGroupId.valueOf(id.uuid());
            List<RaftPeer> known = knownPeers(config, gid, peerClient,
                    !Files.isDirectory(groupDir.resolve("ratis").resolve(raftGroupId.getUuid().toString())));
            java.util.concurrent.atomic.AtomicReference<Group> groupRef = new java.util.concurrent.atomic.AtomicReference<>();
            Consensus consensus = new Consensus(config.self(), raftGroupId,
                    known.stream().map(GroupMember::of).toList());
            SyncProvider provider = config.sync().provider(new ProviderView(gid, config.self(), replica, leases,
                    consensus));
            replica.provider(provider);
            // Each attempt asks the live membership for its peers (the configured or reported ones
            // while consensus names nobody yet).
            CatchUp catchUp = new CatchUp(gid, config.sync(), metrics, config.sessionTimeout(),
                    config.retryBackoffMax(),
                    new CatchUp.Contexts() {
                        @Override
                        public SessionContext create(LogPosition target, Instant deadline, CatchUp runner) {
                            knownCommit.accumulateAndGet(target.index() - 1, Math::max);
                            Session session = new Session(gid, config, replica, target, deadline, consensus.peers(),
                                    peerClient, fetcher, metrics, runner);
                            // Blobs a running fetch counted as present must stay until it ends.
                            replica.sessionOpened();
                            return session;
                        }

                        @Override
                        public void ended(SessionContext ctx) {
                            replica.sessionClosed();
                        }
                    },
                    reached -> replica.checkpoint(),
                    // A joiner until it votes: its consensus log starts empty (see CatchUp.attempt).
                    () -> groupRef.get() != null && groupRef.get().joinPhase() != null
                            && groupRef.get().joinPhase() != JoinPhase.MEMBER);
            RatisMachine machine = new RatisMachine(replica, catchUp, config.self(), groupDir.resolve(HELD_FILE));
            consensus.use(null, machine);

            AutoCloseable mount = http.mount("groups/" + gid, replica.store(),
                    new GroupRoutes(gid, config, userMachine.typeTag(), provider, leases, replica, consensus,
                            memberRequests));
            opened.add(mount);

            Endpoint endpoint = startConsensus(config, groupDir, consensus, machine, known, opened);
            log.info("group {} ({}) started on member {} at {}, sync {}", config.name(), gid, config.self(),
                    config.selfMember().raftAddress(), config.sync().signature());
            Group group = new Group(new Parts(config, id, replica, consensus, endpoint, catchUp, metrics, peerClient,
                    fetcher, mount, leases), onClose, registry);
            groupRef.set(group);
            group.stallWatch.start();
            if (config.joining()) {
                group.joiner.start();
            }
            return group;
        } catch (IOException | RuntimeException e) {
            for (int i = opened.size() - 1; i >= 0; i--) {
                try {
                    opened.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /**
     * Starts the Ratis server on the replica (checking that its log continues the replica's state)
     * and builds the submitting client. {@code known}: the members known before consensus starts.
     */
    private static Endpoint startConsensus(GroupConfig config, Path groupDir, Consensus consensus,
                                           RatisMachine machine, List<RaftPeer> known, List<AutoCloseable> opened)
            throws IOException {
        RaftGroupId raftGroupId = consensus.raftGroupId();
        // A joiner's consensus starts with no membership at all: Ratis then keeps it outside the
        // configuration, where it neither votes nor campaigns, until the leader adds it. It is
        // never started with itself in a list: alone, it would elect itself leader of a group of one.
        RaftGroup raftGroup = config.joining() ? RaftGroup.valueOf(raftGroupId) : RaftGroup.valueOf(raftGroupId, known);
        RaftProperties props = ratisProperties(config, groupDir.resolve("ratis").toFile());
        RaftServer server = newServer(config, raftGroup, props, machine);
        opened.add(server);
        server.start();
        consensus.use(server, machine);
        checkContinuity(raftGroupId.getUuid().toString(), server.getDivision(raftGroupId), machine);
        // Bounded retries: Ratis's default retries forever, so a submit to a group that lost its
        // quorum (or whose member stopped) would never return. The client starts from the
        // membership Ratis holds (members added since the founders' list are in it) and follows
        // the leader's redirects from there.
        MemberChanges.Conf held = consensus.conf();
        RaftGroup clientGroup = held.all().isEmpty() ? RaftGroup.valueOf(raftGroupId, known)
                : RaftGroup.valueOf(raftGroupId, Stream.concat(
                        MemberChanges.peers(held.voters(), RaftPeerRole.FOLLOWER).stream(),
                        MemberChanges.peers(held.listeners(), RaftPeerRole.LISTENER).stream()).toList());
        RaftClient client = RaftClient.newBuilder().setProperties(props).setRaftGroup(clientGroup)
                .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                        SUBMIT_RETRIES, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
                .build();
        return new Endpoint(raftGroup, props, client);
    }

    /** What the sync provider serving peers reads of this member. */
    private record ProviderView(String groupId, String memberId, Replica replica, Leases leases, Consensus consensus)
            implements ProviderContext {
        @Override
        public CommittedLog log() {
            return replica.log();
        }

        @Override
        public List<SnapshotRecord> snapshots() {
            return replica.snapshots();
        }

        @Override
        public ContentStore store() {
            return replica.store();
        }

        @Override
        public LogPosition applied() {
            return replica.applied();
        }

        @Override
        public Optional<String> leader() {
            return Optional.ofNullable(consensus.leader());
        }
    }

    /**
     * The members known before consensus starts. Founders: the configured members (Ratis's own
     * record wins once it has one). A joiner: the running group's membership as its members report
     * it; a joiner that has never run must learn it, one that has may go on from its own record.
     */
    private static List<RaftPeer> knownPeers(GroupConfig config, String gid, PeerClient peers, boolean fresh)
            throws IOException {
        if (!config.joining()) {
            return MemberChanges.peers(config.members(), RaftPeerRole.FOLLOWER);
        }
        MemberChanges.Conf remote;
        try {
            remote = remoteConf(config, gid, peers, List.of());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while asking the group's members");
        }
        if (remote == null) {
            if (fresh) {
                throw new IOException("group " + config.name() + ": none of the members to join through ("
                        + config.joinVia() + ") answered with the group's membership");
            }
            return List.of(); // Ratis has its own record of the membership.
        }
        List<RaftPeer> out = new ArrayList<>(MemberChanges.peers(remote.voters(), RaftPeerRole.FOLLOWER));
        out.addAll(MemberChanges.peers(remote.listeners(), RaftPeerRole.LISTENER));
        return out;
    }

    /**
     * The group's membership as the running members report it ({@code GET /groups/{id}/members}):
     * asked of the members to join through and of {@code known}; the newest complete answer wins.
     * Null if none answered.
     */
    private static MemberChanges.Conf remoteConf(GroupConfig config, String gid, PeerClient peers,
                                                 List<GroupMember> known) throws InterruptedException {
        List<Peer> ask = new ArrayList<>();
        config.joinVia().forEach(u -> ask.add(new Peer(u.toString(), u, false)));
        known.stream().filter(m -> !m.id().equals(config.self()))
                .forEach(m -> ask.add(new Peer(m.id(), m.http(), false)));
        MemberChanges.Conf best = null;
        for (Peer p : ask) {
            try {
                var json = peers.getJson(p, "members", Duration.ofSeconds(2));
                List<GroupMember> voters = new ArrayList<>();
                List<GroupMember> listeners = new ArrayList<>();
                for (var m : json.path("members")) {
                    GroupMember gm = new GroupMember(m.path("id").asText(),
                            GroupMember.parseRaft(m.path("raft").asText()), java.net.URI.create(m.path("http").asText()));
                    (m.path("role").asText().equals("LISTENER") ? listeners : voters).add(gm);
                }
                MemberChanges.Conf c = new MemberChanges.Conf(voters, listeners, json.path("stable").asBoolean(),
                        json.path("index").asLong());
                if (!c.voters().isEmpty() && (best == null || c.stable() && !best.stable()
                        || c.stable() == best.stable() && c.index() > best.index())) {
                    best = c;
                }
            } catch (IOException | RuntimeException e) {
                log.info("group {}: {} did not tell the membership: {}", config.name(), p.http(), e.toString());
            }
        }
        return best;
    }

    private static Path groupDir(GroupConfig config, String gid) {
        return config.dataDir().resolve(config.name() + "-" + gid.substring(0, 8));
    }

    private static RaftServer newServer(GroupConfig config, RaftGroup raftGroup, RaftProperties props,
                                        RatisMachine machine) throws IOException {
        return RaftServer.newBuilder()
                .setServerId(RaftPeerId.valueOf(config.self()))
                .setGroup(raftGroup)
                .setProperties(props)
                .setStateMachine(machine)
                .setOption(RaftStorage.StartupOption.RECOVER)
                .build();
    }

    /**
     * The invariant between Ratis's view and ours, checked at every start: Ratis's log must go on
     * from the snapshot position Ratis resumed at (which the replica's state covers), i.e. its first
     * entry is at most one past that position. Ratis purges only up to what it holds as its
     * snapshot (see {@link RatisMachine}), so a gap means the consensus log and the replica's files
     * come from different histories (a copied or partly restored data directory): the member
     * would wait for entries no one sends.
     */
    private static void checkContinuity(String gid, RaftServer.Division division, RatisMachine machine)
            throws IOException {
        // Read the log's start first: the held position only moves up before a purge, never after.
        long ratisStart = division.getRaftLog().getStartIndex();
        var held = machine.getLatestSnapshot();
        // Ratis numbers from 0 (its entry i is our i + 1); -1 means "no entries" / "no snapshot".
        long heldIndex = held == null ? -1 : held.getIndex();
        if (ratisStart >= 0 && ratisStart > heldIndex + 1) {
            throw new IOException("group " + gid + ": the consensus log starts at entry " + (ratisStart + 1)
                    + " but consensus resumed at " + (heldIndex + 1) + ": the data directory is inconsistent");
        }
    }

    /**
     * Stops this member's consensus engine and starts a new one on the same storage, port and
     * replica: the recovery for a division Ratis closed, or one that stopped following. The replica
     * (state, committed log, snapshots) is kept; a catch-up in progress is cancelled and the leader
     * starts a new one if it is still needed.
     */
    synchronized void restartConsensus() throws IOException {
        if (closed.get()) {
            throw new IOException("group " + config.name() + " is closed");
        }
        log.warn("group {}: restarting the consensus engine on member {}", config.name(), config.self());
        catchUp.cancel("the consensus engine restarts", true);
        try {
            consensus.server().close();
        } catch (IOException e) {
            log.warn("group {}: closing the consensus engine failed, starting a new one anyway: {}", config.name(),
                    e.toString());
        }
        RatisMachine fresh = new RatisMachine(replica, catchUp, config.self(),
                groupDir(config, id.toString()).resolve(HELD_FILE));
        RaftServer next = newServer(config, raftGroup, props, fresh);
        consensus.use(next, fresh);
        try {
            next.start();
            checkContinuity(id.toString(), next.getDivision(raftGroupId), fresh);
        } catch (IOException | RuntimeException e) {
            // Not left half-started: its port, threads and storage lock would outlive the group.
            try {
                next.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * The stall recovery. A member that stands behind its peers first catches up to just past
     * where it stands (a newer snapshot, or entries from the peers' committed logs; waited for at
     * most {@code wait}), so that it no longer sits exactly before the leader's first kept entry,
     * where Ratis's notify handshake can loop without ever sending an entry. Then its consensus
     * engine restarts: Ratis resumes at the snapshot position it held and replays its own log from
     * there (the replica ignores what it already applied), or, if its log no longer reaches the
     * leader's, the leader notifies an install, which the replica's newer state now answers.
     */
    void recover(boolean behind, Duration wait) throws IOException, InterruptedException {
        if (behind) {
            LogPosition at = replica.applied();
            CompletableFuture<LogPosition> f = catchUp.start(new LogPosition(at.term(), at.index() + 2));
            try {
                LogPosition reached = f.get(wait.toNanos(), TimeUnit.NANOSECONDS);
                log.info("group {}: recovery caught up from {} to {}", config.name(), at, reached);
            } catch (java.util.concurrent.TimeoutException e) {
                log.warn("group {}: recovery catch-up did not finish within {} s; restarting consensus anyway",
                        config.name(), wait.toSeconds());
                catchUp.cancel("the recovery's wait is over", true);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.CancellationException e) {
                log.warn("group {}: recovery catch-up failed: {}; restarting consensus anyway", config.name(),
                        e.getCause() == null ? e.toString() : e.getCause().toString());
            }
        }
        restartConsensus();
    }

    /**
     * Whether this member follows its group: see {@link StallWatch}. A host reports it (a node's
     * {@code /health}) and stops when it is {@code FAILED}.
     */
    public GroupHealth health() {
        return stallWatch.health();
    }

    /** Notify-install mode: Ratis tells us to catch up and moves no data itself. */
    private static RaftProperties ratisProperties(GroupConfig config, File storage) {
        RaftProperties p = new RaftProperties();
        RaftConfigKeys.Rpc.setType(p, SupportedRpcType.GRPC);
        GroupMember self = config.selfMember();
        GrpcConfigKeys.Server.setHost(p, self.raft().getHostString());
        GrpcConfigKeys.Server.setPort(p, self.raft().getPort());
        RaftServerConfigKeys.setStorageDir(p, List.of(storage));
        long election = config.electionTimeout().toMillis();
        RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(election, TimeUnit.MILLISECONDS));
        RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(2 * election, TimeUnit.MILLISECONDS));
        RaftServerConfigKeys.Log.Appender.setInstallSnapshotEnabled(p, false);
        // Ratis's default waits 5 s between tries once a follower failed 30 times (down for a
        // few seconds), so a restarted member idled up to that long before the leader noticed it.
        // Loopback and LAN peers are cheap to try: at most 1 s between tries, however long it was down.
        RaftServerConfigKeys.Log.Appender.setRetryPolicy(p, "1ms,10, 200ms,20, 1s,1000000");
        RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
        RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, config.snapshotEvery());
        RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
        RaftServerConfigKeys.Log.setPurgeGap(p, (int) Math.max(1, Math.min(Integer.MAX_VALUE, config.snapshotEvery())));
        // Only closed segments are purged; small ones let the log shrink soon after each snapshot.
        RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf(config.raftSegmentBytes()));
        RaftServerConfigKeys.Log.setPurgePreservationLogNum(p, config.raftLogKept());
        return p;
    }

    private List<Peer> peers() {
        return consensus.peers();
    }

    public GroupId id() {
        return id;
    }

    public String name() {
        return config.name();
    }

    /**
     * Proposes a command; completes with the state machine's result once the command is committed
     * and applied (on the leader). Fails if no leader accepts it in time.
     */
    public CompletableFuture<byte[]> submit(byte[] command) {
        byte[] copy = command.clone();
        // Ratis's blocking client on a virtual thread rather than its async client: in tests with
        // several groups in one JVM, async requests stalled for good once another group's client
        // had closed (its callbacks were rejected by a terminated executor).
        return CompletableFuture.supplyAsync(() -> {
            try {
                return submitBlocking(copy);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, submitters);
    }

    /**
     * Proposes a command and waits until it is committed and applied; returns the result. Ratis's
     * blocking client retries through leader changes.
     */
    public byte[] submitBlocking(byte[] command) throws IOException {
        Message message = Message.valueOf(ByteString.copyFrom(command));
        for (int attempt = 1; ; attempt++) {
            try {
                return contentOf(client.io().send(message));
            } catch (AlreadyClosedException e) {
                // Ratis's blocking client passes on, without retrying, a "proxy already CLOSED" that
                // one of its per-peer connections throws for a moment after a peer went away (the
                // connection is being replaced). Only our own close is final.
                if (closed.get() || attempt >= 20) {
                    throw e;
                }
                try {
                    Thread.sleep(50L * attempt);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("submit interrupted");
                }
            }
        }
    }

    /** Runs a query against the local state (possibly behind the leader). */
    public byte[] query(byte[] request) {
        return replica.machine().query(request);
    }

    /** This member's replica (tests read its store). */
    Replica replica() {
        return replica;
    }

    /** The position the local state reflects. */
    public LogPosition applied() {
        return replica.applied();
    }

    /**
     * Takes a snapshot of the current state now (normally they happen every {@code snapshotEvery}
     * and where the machine's {@link StateMachine#snapshotDue} asks) and returns it once recorded.
     * Synchronous: a snapshot write in progress is waited for first; a machine that supports {@link
     * StateMachine#capture} is captured with apply held off for the capture only, and the capture is
     * written on the calling thread.
     */
    public SnapshotRecord snapshotNow() throws IOException {
        return replica.snapshotNow();
    }

    /**
     * Installs a snapshot of this group's own history that something other than a catch-up
     * brought (an operator's load), when this member stands behind it: the blobs must all be in
     * {@link #store()}, and the state and committed log move to the snapshot's position exactly as
     * a catch-up's install moves them. The consensus engine is not told: it goes on delivering
     * entries from where it stands, and the replica ignores those up to the snapshot's index (as
     * it does after a restart), so the member follows the log on from there. Refused while this
     * member leads the group (a leader is never behind its own log), while a catch-up runs (the
     * two would race for the same state), and for a snapshot not ahead of the applied position.
     *
     * @throws IOException with the reason; the state is unchanged unless the machine's install
     *     itself says otherwise
     */
    public void installSaved(SnapshotRecord snapshot) throws IOException {
        if (closed.get()) {
            throw new IOException("group " + config.name() + " is closed");
        }
        if ("LEADER".equals(status().role())) {
            throw new IOException("member " + config.self() + " leads group " + config.name()
                    + ": its state is the group's log, and a leader is never behind it");
        }
        if (catchUp.state().running()) {
            throw new IOException("group " + config.name() + ": a catch-up is running on member " + config.self());
        }
        replica.install(snapshot);
        log.info("group {}: member {} installed the saved state {} (loaded outside a catch-up)", config.name(),
                config.self(), snapshot);
    }

    /**
     * Sets the listener that hears about every snapshot this member records (taken here, not
     * installed from peers), right after it is committed to the catalog: on the snapshot writer
     * thread, or on the apply thread for a machine without capture support, so it should be quick.
     * Its exceptions are logged. {@code null} removes it. Snapshots recorded while the member opened
     * (before this call could be made) are not reported.
     */
    public void onSnapshot(java.util.function.Consumer<SnapshotRecord> listener) {
        replica.onSnapshot(listener);
    }

    /**
     * The group's content store: its snapshots' manifests and chunks, served at
     * {@code /groups/{id}/ipfs/{cid}}. A copy of its directory on any static web server is a
     * valid source too.
     */
    public ContentStore store() {
        return replica.store();
    }

    public GroupStatus status() {
        String role = "UNKNOWN";
        String state = "CLOSED";
        long commit = -1;
        try {
            RaftServer.Division d = division();
            state = d.getInfo().getLifeCycleState().name();
            // A closed division keeps its last role: a stopped leader must not look like one.
            var current = d.getInfo().getCurrentRole();
            role = d.getInfo().isAlive() && current != null ? current.name() : "UNKNOWN";
            commit = d.getRaftLog().getLastCommittedIndex() + 1;
        } catch (IOException | RuntimeException e) {
            // Between a stop and a start (a consensus restart) the division is not readable.
            log.debug("group {}: no division: {}", id, e.toString());
        }
        CatchUp.State c = catchUp.state();
        return new GroupStatus(id.toString(), config.name(), config.self(), role, state, consensus.leader(),
                replica.applied(), commit, replica.latestSnapshot().map(SnapshotRecord::position).orElse(null),
                c.running(), c.attempts(), c.lastError(), c.running() ? c.progress() : null, stallWatch.health(),
                members(), joinPhase == null ? null : joinPhase.name());
    }

    /** The configuration this member's consensus engine holds, or an empty one while it is not readable. */
    private MemberChanges.Conf localConf() {
        MemberChanges.Conf c = consensus.conf();
        if (c.roleOf(config.self()).isPresent()) {
            wasMember = true;
        }
        return c;
    }

    /**
     * The group's members as this member's copy of the configuration records them, leader first:
     * voters, then listeners. Empty while the consensus engine is not readable (a restart).
     */
    public List<GroupStatus.Member> members() {
        MemberChanges.Conf c = localConf();
        String leader = consensus.leader();
        java.util.Map<String, Long> commits = new java.util.HashMap<>();
        try {
            for (var ci : division().getCommitInfos()) {
                commits.put(ci.getServer().getId().toStringUtf8(), ci.getCommitIndex() + 1);
            }
        } catch (IOException | RuntimeException e) {
            log.debug("group {}: commit infos not readable: {}", config.name(), e.toString());
        }
        List<GroupStatus.Member> out = new ArrayList<>();
        for (GroupMember m : c.all()) {
            GroupStatus.Role role = c.roleOf(m.id()).orElseThrow() == RaftPeerRole.LISTENER ? GroupStatus.Role.LISTENER
                    : m.id().equals(leader) ? GroupStatus.Role.LEADER : GroupStatus.Role.FOLLOWER;
            long index = m.id().equals(config.self()) ? replica.applied().index() : commits.getOrDefault(m.id(), -1L);
            out.add(new GroupStatus.Member(m.id(), role, m.raftAddress(), m.http(), index));
        }
        out.sort(Comparator.comparing((GroupStatus.Member m) -> m.role() != GroupStatus.Role.LEADER)
                .thenComparing(m -> m.role() == GroupStatus.Role.LISTENER));
        return out;
    }

    /** Whether the membership this member holds is settled (not a joint configuration mid-change). */
    public boolean membershipStable() {
        return localConf().stable();
    }

    /**
     * Removes a member from the group (a dead one, or one that leaves), through the leader, as one
     * compare-and-set change against the membership this member holds.
     *
     * @throws MembershipException not a member, refused (the last voter), in conflict with another
     *     change in progress, or no leader reachable; the message says which
     */
    public void removeMember(String memberId) throws MembershipException {
        try {
            changes.remove(localConf(), memberId, consensus.leader());
        } catch (MembershipException e) {
            if (e.kind() == MembershipException.Kind.REFUSED || e.kind() == MembershipException.Kind.NOT_A_MEMBER
                    || !removedWithin(memberId, Duration.ofSeconds(5))) {
                throw e;
            }
            // A request cut short by a leader change can still have been made: the answer is lost,
            // the change is not.
            log.info("group {}: {} is out of the group after all ({})", config.name(), memberId, e.getMessage());
        }
    }

    private boolean removedWithin(String memberId, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < deadline) {
            MemberChanges.Conf c = localConf();
            if (c.stable() && !c.all().isEmpty() && c.roleOf(memberId).isEmpty()) {
                return true;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    /** How far this member's join is, or null if it was in the group when it started. */
    public JoinPhase joinPhase() {
        return joinPhase;
    }

    /**
     * A joining member's way in, on its own thread (see {@link JoinPhase}): it loads the group's
     * state from the members first, then asks to be added as a listener, which does not change the
     * quorum; once it stands level with its peers it asks to become a voter. Every step starts from
     * the membership as it is now, so a restarted joiner goes on where it was (a member is never
     * added twice), and a step cut short by a leader change is simply tried again.
     */
    private void join() {
        try {
            MemberChanges.Conf local = localConf();
            log.info("group {}: {} joins through {} (its record of the membership: {})", config.name(), config.self(),
                    config.joinVia(), local.all().isEmpty() ? "none" : local.describe());
            if (local.roleOf(config.self()).isEmpty()) {
                joinPhase = JoinPhase.SYNCING;
                preSync();
                joinPhase = JoinPhase.ADDING;
                while (localConf().roleOf(config.self()).isEmpty()) {
                    MemberChanges.Conf remote = remoteConf(config, id.toString(), peers, localConf().all());
                    if (remote != null) {
                        consensus.known(remote.all());
                    }
                    if (remote == null || remote.roleOf(config.self()).isPresent()) {
                        Thread.sleep(300); // Added already (the entry is on its way here), or nobody answered.
                        continue;
                    }
                    try {
                        changes.addListener(remote, config.selfMember(), consensus.leader());
                    } catch (MembershipException e) {
                        log.info("group {}: not added yet, trying again: {}", config.name(), e.getMessage());
                        Thread.sleep(1000);
                    }
                }
            }
            if (localConf().roleOf(config.self()).orElse(null) == RaftPeerRole.LISTENER) {
                joinPhase = JoinPhase.LISTENING;
                while (!levelWithPeers()) {
                    Thread.sleep(250);
                }
                joinPhase = JoinPhase.PROMOTING;
                while (localConf().roleOf(config.self()).orElse(null) == RaftPeerRole.LISTENER) {
                    try {
                        changes.promote(localConf(), config.self(), consensus.leader());
                    } catch (MembershipException e) {
                        log.info("group {}: not promoted yet, trying again: {}", config.name(), e.getMessage());
                        Thread.sleep(1000);
                    }
                }
            }
            if (localConf().roleOf(config.self()).isPresent()) {
                joinPhase = JoinPhase.MEMBER;
                log.info("group {}: {} is a voting member (members: {})", config.name(), config.self(),
                        localConf().describe());
            }
        } catch (InterruptedException e) {
            // The group is closing.
        } catch (RuntimeException e) {
            log.error("group {}: joining failed: {}", config.name(), e.toString(), e);
        }
    }

    /**
     * Loads the group's newest state before asking to be added: the leader then finds this member
     * near the head instead of at zero, and the state starts moving at once instead of after the
     * leader's appender has noticed the new member.
     */
    private void preSync() throws InterruptedException {
        while (true) {
            PeersView peersView = askPeers();
            long applied = replica.applied().index();
            // Past the log's start a saved state is the only way; short of it, a saved state far
            // ahead still beats having the leader send the whole log (at 1 GiB of state in a young
            // cluster that never purged its log, the listener took minutes to be added).
            long target = peersView.logStart();
            if (peersView.snapshot() > applied + PRESYNC_MIN_ENTRIES) {
                target = Math.max(target, peersView.snapshot());
            }
            if (target <= applied + 1) {
                return;
            }
            log.info("group {}: loading the group's state (its log starts at index {}, its newest saved state is at"
                    + " {}) before asking to be added", config.name(), peersView.logStart(), peersView.snapshot());
            try {
                // The term there is not known here; a catch-up compares indices only.
                catchUp.start(new LogPosition(0, target)).get();
                return;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.CancellationException e) {
                log.info("group {}: loading the state before joining failed, trying again: {}", config.name(),
                        e.getCause() == null ? e.toString() : e.getCause().toString());
                Thread.sleep(1000);
            }
        }
    }

    /**
     * What the members report at {@code /info}, asked once each: the latest start of a member's
     * consensus log (where a joiner must stand before the log can carry it; the leader would name
     * the same point when it asks a member behind it to catch up; 0 if none purged its log yet),
     * the highest applied index (-1 if none answered), and the index of the newest saved state a
     * peer holds (-1 if none).
     */
    private record PeersView(long logStart, long applied, long snapshot) {
    }

    /** How far ahead of this member a peer's saved state must be for a joiner to load it rather than replay the log. */
    private static final long PRESYNC_MIN_ENTRIES = 64;

    private PeersView askPeers() throws InterruptedException {
        long logStart = 0;
        long applied = -1;
        long snapshot = -1;
        List<Peer> ask = new ArrayList<>(peers());
        config.joinVia().forEach(u -> ask.add(new Peer(u.toString(), u, false)));
        for (Peer p : ask) {
            try {
                var info = peers.getJson(p, "info", Duration.ofSeconds(2));
                logStart = Math.max(logStart, info.path("logStart").asLong(0));
                applied = Math.max(applied, info.path("appliedIndex").asLong(-1));
                snapshot = Math.max(snapshot, info.path("snapshotIndex").asLong(-1));
            } catch (IOException e) {
                log.debug("group {}: {} did not answer /info: {}", config.name(), p.http(), e.toString());
            }
        }
        return new PeersView(logStart, applied, snapshot);
    }

    /** Level with the peers: no catch-up running and at most a few entries behind the best of them. */
    private boolean levelWithPeers() throws InterruptedException {
        if (catchUp.state().running()) {
            return false;
        }
        long best = askPeers().applied();
        return best >= 0 && replica.applied().index() >= best - PROMOTION_LAG;
    }

    /** Catch-up meters of this member. */
    public SyncMetrics syncMetrics() {
        return metrics;
    }

    /** Leases peers' sessions (and this process's {@link #holdSnapshot holds}) have on this member now. */
    public int leases() {
        return leases.size();
    }

    /** The owner of this process's own holds: no member id has parentheses. */
    private static final String LOCAL_OWNER = "(local)";

    /**
     * Keeps {@code snapshot} on this member for up to {@code ttl} (at most
     * {@link Leases#MAX_TTL}), as a peer's lease would, for this process's own use (a backup that
     * copies it); closing the handle releases it. Bounded like a member's leases.
     *
     * @throws Leases.LimitException if this process holds the most leases a member may
     */
    public AutoCloseable holdSnapshot(io.statesync.core.cid.Cid snapshot, Duration ttl) throws Leases.LimitException {
        String session = "hold-" + java.util.UUID.randomUUID();
        leases.grant(LOCAL_OWNER, session, -1, snapshot, ttl);
        return () -> leases.release(LOCAL_OWNER, session);
    }

    /** Prunes old snapshots and the committed log as far as retention and leases allow. */
    public void prune() throws IOException {
        replica.prune();
    }

    /**
     * Keeps the blobs of snapshots dropped from now on until the hold is closed, as a catch-up
     * session does: a fetch into {@link #store()} outside a session (an operator's load) counts
     * the chunks it finds as present, and they must still be there when it installs.
     */
    public BlobHold holdDroppedBlobs() {
        replica.sessionOpened();
        return new BlobHold(replica);
    }

    /** A hold on the blobs of dropped snapshots; closing it (once or more) lets them go. */
    public static final class BlobHold implements AutoCloseable {
        private final Replica replica;
        private final java.util.concurrent.atomic.AtomicBoolean open = new java.util.concurrent.atomic.AtomicBoolean(true);

        private BlobHold(Replica replica) {
            this.replica = replica;
        }

        @Override
        public void close() {
            if (open.compareAndSet(true, false)) {
                replica.sessionClosed();
            }
        }
    }

    /**
     * Drops the local snapshots {@code which} selects, never the newest one (what a restart
     * rebuilds the state from), one a peer's session leases, or any while a snapshot is being
     * written (it may be reusing their blobs). Returns the dropped ones.
     */
    public List<SnapshotRecord> dropSnapshots(java.util.function.Predicate<SnapshotRecord> which) throws IOException {
        return replica.drop(which);
    }

    /** Local snapshots, oldest first. */
    public List<SnapshotRecord> snapshots() {
        return replica.snapshots();
    }

    /** The committed log this member serves to peers (read-only use). */
    public CommittedLog committedLog() {
        return replica.log();
    }

    /** Leaves the group: stops catch-up, the Ratis server, the routes; keeps the data directory. */
    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        stallWatch.close();
        joiner.interrupt();
        if (joiner.isAlive()) {
            io.statesync.core.concurrent.Uninterruptibly.join(joiner);
        }
        catchUp.close();
        List<Exception> errors = new ArrayList<>();
        submitters.shutdownNow();
        for (AutoCloseable c : List.<AutoCloseable>of(client, consensus.server(), mount, fetcher, peers, metrics,
                replica)) {
            try {
                c.close();
            } catch (Exception e) {
                errors.add(e);
            }
        }
        onClose.run();
        log.info("group {} stopped on member {}", config.name(), config.self());
        if (!errors.isEmpty()) {
            IOException e = new IOException("group " + config.name() + " did not close cleanly: " + errors.get(0));
            errors.forEach(e::addSuppressed);
            throw e;
        }
    }

    /**
     * A reply that is not a success (the leader stepped down, a state machine error) is an
     * {@link IOException} like every other failed submit: callers retry those. It was an unchecked
     * exception, which ended a node's block producer (and failed the node) on a leader change.
     */
    private static byte[] contentOf(RaftClientReply reply) throws IOException {
        if (!reply.isSuccess()) {
            throw new IOException("command not committed: " + reply.getException());
        }
        return reply.getMessage().getContent().toByteArray();
    }

    /** The running consensus division (tests stop it to play a division Ratis closed). */
    RaftServer.Division division() throws IOException {
        return consensus.division();
    }

    /** What the stall watch reads: the live division, the replica, the catch-up, the peers. */
    private final class WatchProbe implements StallWatch.Probe {
        @Override
        public String consensusState() {
            try {
                return division().getInfo().getLifeCycleState().name();
            } catch (IOException | RuntimeException e) {
                return "CLOSED";
            }
        }

        @Override
        public long applied() {
            return replica.applied().index();
        }

        @Override
        public long catchUpProgress() {
            CatchUp.State c = catchUp.state();
            return c.running() && c.progress() != null ? c.progress().done() : -1;
        }

        @Override
        public boolean catchingUp() {
            // A joiner that is loading the state or waiting to be added stands still by design.
            JoinPhase p = joinPhase;
            return catchUp.state().running() || p == JoinPhase.SYNCING || p == JoinPhase.ADDING;
        }

        @Override
        public boolean removed() {
            if (!wasMember) {
                localConf();
                return false;
            }
            MemberChanges.Conf c = localConf();
            return c.stable() && !c.all().isEmpty() && c.roleOf(config.self()).isEmpty();
        }

        @Override
        public String failure() {
            return replica.failure();
        }

        @Override
        public long peersApplied() throws InterruptedException {
            long best = -1;
            for (Peer p : peers()) {
                try {
                    best = Math.max(best, peers.getJson(p, "info", Duration.ofSeconds(1)).path("appliedIndex")
                            .asLong(-1));
                } catch (IOException e) {
                    // An unreachable peer says nothing about this member.
                }
            }
            return best;
        }

        @Override
        public void recover(boolean behind) throws IOException, InterruptedException {
            Group.this.recover(behind, config.stallTimeout());
        }
    }

    /** The context of one catch-up attempt. */
    private record Session(String groupId, GroupConfig config, Replica replica, LogPosition target, Instant deadline,
                           List<Peer> peers, PeerClient client, SnapshotFetcher fetcher, SyncMetrics metrics,
                           CatchUp catchUp, String sessionId) implements SessionContext {
        Session(String groupId, GroupConfig config, Replica replica, LogPosition target, Instant deadline,
                List<Peer> peers, PeerClient client, SnapshotFetcher fetcher, SyncMetrics metrics, CatchUp catchUp) {
            this(groupId, config, replica, target, deadline, peers, client, fetcher, metrics, catchUp,
                    config.self() + "-" + UUID.randomUUID().toString().substring(0, 8));
        }

        @Override
        public void progress(SyncProgress progress) {
            catchUp.progress(progress);
        }

        @Override
        public io.statesync.groups.sync.FailedOffers failedOffers() {
            return catchUp.failedOffers();
        }

        @Override
        public String memberId() {
            return config.self();
        }

        @Override
        public LogPosition applied() {
            return replica.applied();
        }

        @Override
        public byte[] appliedChain() {
            return replica.chain();
        }

        @Override
        public Applied appliedNow() {
            return replica.appliedNow();
        }

        @Override
        public boolean logEmptyPastState() {
            return catchUp.logEmptyPastState();
        }

        @Override
        public void apply(LogEntry entry) throws IOException {
            replica.apply(entry);
        }

        @Override
        public void install(SnapshotRecord snapshot) throws IOException {
            replica.install(snapshot);
        }

        @Override
        public ContentStore store() {
            return replica.store();
        }
    }
}
