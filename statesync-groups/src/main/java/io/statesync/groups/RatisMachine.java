package io.statesync.groups;

import io.statesync.groups.log.LogEntry;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bridge from Ratis to the {@link Replica}: committed entries (and the engine's own entries, as
 * no-ops) go to the replica in order; Ratis's "install a snapshot" notification starts a catch-up;
 * the snapshot Ratis sees is the one it was told of (see {@link #ratisSnapshot}). Ratis checks the lifecycle during a
 * reload, and {@link BaseStateMachine} does not move it, so the transitions are made here
 * (its reload asserts PAUSED).
 *
 * <p>Indices: Ratis numbers its first entry 0; Statesync numbers it 1 and keeps 0 for "before
 * the first entry". This class is the one place that converts: ours = Ratis's + 1.
 */
final class RatisMachine extends BaseStateMachine {
    private static final Logger log = LoggerFactory.getLogger(RatisMachine.class);
    private final Replica replica;
    private final CatchUp catchUp;
    private final String self;
    private volatile String leader;
    /**
     * The snapshot position Ratis holds: the position it was started (or reloaded after a
     * catch-up) with, then each snapshot {@link #takeSnapshot} reported. It never goes down (an
     * answer below it made Ratis close the division for good), and it is exactly what {@link
     * #getLatestSnapshot} answers, so a leader whose log was purged up to it can still name the
     * entry before its first one; see {@link #getLatestSnapshot}. Guarded by this.
     */
    private LogPosition ratisSnapshot = LogPosition.ORIGIN;

    /** Where {@link #ratisSnapshot} is kept across restarts, or null (tests of a bare machine). */
    private final Path heldFile;

    RatisMachine(Replica replica, CatchUp catchUp, String self, Path heldFile) {
        this.replica = replica;
        this.catchUp = catchUp;
        this.self = self;
        this.heldFile = heldFile;
    }

    String leader() {
        return leader;
    }

    @Override
    public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage storage) throws IOException {
        super.initialize(server, groupId, storage);
        LogPosition start = startPosition();
        dropStaleOpenSegment(storage.getStorageDir().getCurrentDir().toPath(), start);
        getLifeCycle().startAndTransition(() -> resumeAt(start));
    }

    /**
     * Removes Ratis's open log segment when it ends below the snapshot position Ratis starts from
     * (every entry in it is covered, and the next entry Ratis receives would not follow its last). Ratis drops closed segments below its snapshot when
     * it opens the log, but not the open one, and then refuses every entry the leader sends
     * ("gap between start index 3429 and first entry to append 3684"): the member stalls until a
     * recovery. Seen in the restart soak when a node stopped right after a catch-up, between our
     * recording the new position and Ratis's purge of its old log. Called before Ratis opens the
     * log; what is removed is covered by the state the replica holds.
     */
    static void dropStaleOpenSegment(Path currentDir, LogPosition start) throws IOException {
        long snapshot = start.index() - 1; // Ratis's numbering
        if (snapshot < 0 || !Files.isDirectory(currentDir)) {
            return;
        }
        try (var files = Files.list(currentDir)) {
            for (Path f : files.toList()) {
                var m = java.util.regex.Pattern.compile("log_inprogress_(\\d+)").matcher(f.getFileName().toString());
                if (!m.matches()) {
                    continue;
                }
                long first = Long.parseLong(m.group(1));
                if (first > snapshot) {
                    continue;
                }
                long last = lastIndexIn(f, first);
                if (last < snapshot) {
                    log.warn("{}: removing the consensus log's open segment {} (entries {}..{}), all at or below the "
                            + "snapshot position {} consensus starts from", f.getParent(), f.getFileName(), first, last,
                            snapshot);
                    Files.delete(f);
                }
            }
        }
    }

    /**
     * The index of the last entry in a Ratis segment file starting at {@code first}, or {@code
     * first - 1} if it holds none. The format: the header {@code RaftLog1}, then per entry a
     * varint length, the entry, a 4-byte checksum; the rest of a preallocated file is zeros.
     */
    static long lastIndexIn(Path segment, long first) throws IOException {
        long last = first - 1;
        try (var in = new java.io.DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(segment)))) {
            byte[] header = in.readNBytes(8);
            if (header.length < 8) {
                return last;
            }
            while (true) {
                int length = readVarint(in);
                if (length <= 0) {
                    return last;
                }
                byte[] entry = in.readNBytes(length);
                if (entry.length < length || in.readNBytes(4).length < 4) {
                    return last; // a torn tail: Ratis drops it too
                }
                last = LogEntryProto.parseFrom(entry).getIndex();
            }
        }
    }

    private static int readVarint(java.io.DataInputStream in) throws IOException {
        int value = 0;
        for (int shift = 0; shift < 32; shift += 7) {
            int b = in.read();
            if (b < 0) {
                return -1;
            }
            value |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return value;
            }
        }
        return -1;
    }

    /**
     * Where Ratis starts: the snapshot it held when it stopped (kept in {@link #heldFile}), so
     * that its snapshot index and its own log look to it exactly as it left them; the entries
     * after it are replayed from its log and ignored by the replica up to what it already
     * applied. Answering the replica's applied position instead (past what Ratis held) put the
     * restarted member's snapshot index inside the range the leader was still sending, and the
     * two then disagreed about where to resume, sometimes for good (seen in the restart soak).
     * Without the file (a directory from before it existed) the applied position is used.
     */
    private LogPosition startPosition() {
        LogPosition applied = replica.applied();
        if (heldFile == null || !Files.exists(heldFile)) {
            return applied;
        }
        try {
            String[] f = Files.readString(heldFile, StandardCharsets.US_ASCII).trim().split(" ");
            LogPosition held = new LogPosition(Long.parseLong(f[0]), Long.parseLong(f[1]));
            // The replica always stands at or past it: it is a recorded snapshot, or the position a
            // catch-up made durable. Anything else means the file is not this replica's.
            return held.index() <= applied.index() ? held : applied;
        } catch (IOException | RuntimeException e) {
            log.warn("group {}: cannot read {}, starting consensus at the applied position: {}", getGroupId(),
                    heldFile, e.toString());
            return applied;
        }
    }

    /** Ratis starts (or resumes) with the state at {@code position}. */
    void resumeAt(LogPosition position) {
        hold(position);
        setLastAppliedTermIndex(toRatis(position));
    }

    /**
     * Records the snapshot position Ratis holds now: in memory always (it is what Ratis has been or
     * is about to be told), and durably (temp file, fsync, rename); false if the file could not be
     * written, in which case the caller must not let Ratis purge past the previous one.
     */
    private synchronized boolean hold(LogPosition position) {
        ratisSnapshot = position;
        if (heldFile != null) {
            Path tmp = heldFile.resolveSibling(heldFile.getFileName() + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(ByteBuffer.wrap((position.term() + " " + position.index() + "\n")
                        .getBytes(StandardCharsets.US_ASCII)));
                ch.force(true);
                Files.move(tmp, heldFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                log.warn("group {}: cannot record the consensus snapshot position {}: {}", getGroupId(), position,
                        e.toString());
                return false;
            }
        }
        return true;
    }

    /**
     * The snapshot Ratis holds ({@link #ratisSnapshot}), not the newest one recorded: a leader
     * asks this for the entry just before its first kept one when a follower stands exactly there
     * (it stopped at a snapshot point, which is where the log is purged to). Any other answer
     * makes Ratis notify an install, the follower answer "already installed", and the two repeat
     * that forever while no entry is sent: a restarted node froze this way.
     */
    @Override
    public SnapshotInfo getLatestSnapshot() {
        LogPosition p;
        synchronized (this) {
            p = ratisSnapshot;
        }
        if (p.index() == 0) {
            return null;
        }
        TermIndex ti = toRatis(p);
        return new SnapshotInfo() {
            @Override
            public TermIndex getTermIndex() {
                return ti;
            }

            @Override
            public List<FileInfo> getFiles() {
                // Ratis never moves our snapshots (notify mode); their files live in the store.
                return List.of();
            }
        };
    }

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
        LogEntryProto entry = trx.getLogEntry();
        try {
            byte[] data = entry.getStateMachineLogEntry().getLogData().toByteArray();
            byte[] result = replica.apply(new LogEntry(entry.getIndex() + 1, entry.getTerm(), LogEntry.Kind.COMMAND,
                    data));
            updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
            return CompletableFuture.completedFuture(Message.valueOf(
                    ByteString.copyFrom(result == null ? new byte[0] : result)));
        } catch (IOException | RuntimeException e) {
            // Thrown, not a failed future: Ratis would log a failed future and go on with the next
            // entry, leaving this member's state frozen while it votes. A throw stops the division.
            throw new IllegalStateException("group " + getGroupId() + ": applying entry " + (entry.getIndex() + 1)
                    + " failed", e);
        }
    }

    @Override
    public void notifyTermIndexUpdated(long term, long index) {
        try {
            replica.apply(LogEntry.noop(index + 1, term));
        } catch (IOException e) {
            throw new IllegalStateException("group " + getGroupId() + ": recording entry " + index + " failed", e);
        }
        super.notifyTermIndexUpdated(term, index);
    }

    @Override
    public void notifyConfigurationChanged(long term, long index, RaftConfigurationProto conf) {
        // Recorded as a no-op by notifyTermIndexUpdated, which Ratis calls right after.
    }

    @Override
    public CompletableFuture<Message> query(Message request) {
        try {
            return CompletableFuture.completedFuture(Message.valueOf(ByteString.copyFrom(
                    replica.machine().query(request.getContent().toByteArray()))));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Ratis purges its own log up to what this returns: the newest recorded snapshot. Snapshots a
     * machine's capture is still writing are not in the catalog yet, so Ratis never purges past a
     * snapshot that could still fail. Ratis asks after every batch of entries while it is {@code
     * snapshotEvery} past its snapshot index; "nothing new" (-1) is the answer until a snapshot
     * newer than the one Ratis already holds is recorded. After a catch-up (and at a first start
     * without a recorded position) Ratis holds a position past the newest recorded snapshot:
     * answering that older snapshot would move Ratis's snapshot index backwards, which Ratis treats
     * as a fatal bug in the state machine (it closed the division while the process stayed up).
     */
    @Override
    public long takeSnapshot() throws IOException {
        SnapshotRecord newest = replica.latestSnapshot().orElse(null);
        synchronized (this) {
            // Ratis refuses a snapshot past what it applied (while it replays after a start, the
            // replica is ahead of it); and one whose position cannot be recorded is not reported,
            // since Ratis would purge entries the next start replays.
            if (newest == null || newest.index() <= ratisSnapshot.index()
                    || newest.index() - 1 > getLastAppliedTermIndex().getIndex()) {
                return -1L;
            }
            LogPosition before = ratisSnapshot;
            if (!hold(newest.position())) {
                ratisSnapshot = before;
                return -1L;
            }
        }
        return newest.index() - 1;
    }

    @Override
    public CompletableFuture<TermIndex> notifyInstallSnapshotFromLeader(RoleInfoProto roleInfo,
                                                                       TermIndex firstTermIndexInLog) {
        if (roleInfo.hasFollowerInfo() && roleInfo.getFollowerInfo().hasLeaderInfo()) {
            leader = RaftPeerId.valueOf(roleInfo.getFollowerInfo().getLeaderInfo().getId().getId()).toString();
        }
        LogPosition target = new LogPosition(firstTermIndexInLog.getTerm(), firstTermIndexInLog.getIndex() + 1);
        LogPosition at = replica.applied();
        log.info("group {}: the leader's log starts at {} and this member is at {}: catching up", getGroupId(), target,
                at);
        // Ratis reloads next and reads getLatestSnapshot, which must then name the position reached.
        return catchUp.start(target).thenApply(p -> {
            // Ratis purges its log up to p next; a start that did not know would wait for those entries.
            if (!hold(p)) {
                throw new java.util.concurrent.CompletionException(new IOException("group " + getGroupId()
                        + ": cannot record the consensus snapshot position " + p));
            }
            return toRatis(p);
        });
    }

    @Override
    public void notifyLeaderChanged(RaftGroupMemberId groupMemberId, RaftPeerId newLeaderId) {
        String before = leader;
        leader = newLeaderId == null ? null : newLeaderId.toString();
        if (leader != null && !leader.equals(before)) {
            // Ratis's own election logs are quiet by default (they are many); this is the one an operator reads.
            log.info("group {}: member {} leads now{}", getGroupId(), leader,
                    self.equals(leader) ? " (this member)" : "");
        }
        if (self.equals(leader)) {
            // A leader never catches up; a session left from the follower days is stale.
            catchUp.cancel("this member became leader", false);
        }
    }

    @Override
    public void pause() {
        LifeCycle lc = getLifeCycle();
        if (lc.getCurrentState() == LifeCycle.State.RUNNING) {
            lc.transition(LifeCycle.State.PAUSING);
            lc.transition(LifeCycle.State.PAUSED);
        }
    }

    /** After a catch-up the replica already holds the new state; Ratis reads the position next. */
    @Override
    public void reinitialize() throws IOException {
        resumeAt(replica.applied());
        LifeCycle lc = getLifeCycle();
        lc.transition(LifeCycle.State.STARTING);
        lc.transition(LifeCycle.State.RUNNING);
    }

    private static TermIndex toRatis(LogPosition p) {
        return TermIndex.valueOf(p.term(), p.index() - 1);
    }

    /** The catch-up outlives this bridge (a consensus restart makes a new one); its group closes it. */
    @Override
    public void close() throws IOException {
        catchUp.cancel("the consensus engine stops", true);
        super.close();
    }
}
