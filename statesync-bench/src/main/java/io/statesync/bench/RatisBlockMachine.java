package io.statesync.bench;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.CompletableFuture;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.LifeCycle;
import org.apache.ratis.util.MD5FileUtil;

/**
 * The same benchmark state as a plain Ratis state machine: {@link SimpleStateMachineStorage}, the
 * snapshot is the same single file ({@code snapshot.T_I}, same bytes as statesync's
 * {@code state.bin}) with its MD5, which Ratis's leader streams to a follower that needs it.
 */
final class RatisBlockMachine extends BaseStateMachine {
    final BlockState state;
    private final SimpleStateMachineStorage storage = new SimpleStateMachineStorage();

    RatisBlockMachine(Path dir) throws IOException {
        state = new BlockState(dir);
    }

    @Override
    public StateMachineStorage getStateMachineStorage() {
        return storage;
    }

    @Override
    public SnapshotInfo getLatestSnapshot() {
        return storage.getLatestSnapshot();
    }

    @Override
    public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
        super.initialize(server, groupId, raftStorage);
        storage.init(raftStorage);
        getLifeCycle().startAndTransition(this::loadLatest);
    }

    private void loadLatest() throws IOException {
        SingleFileSnapshotInfo s = storage.loadLatestSnapshot();
        if (s != null) {
            state.load(s.getFile().getPath());
            setLastAppliedTermIndex(s.getTermIndex());
        }
    }

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
        LogEntryProto entry = trx.getLogEntry();
        byte[] result = state.apply(entry.getStateMachineLogEntry().getLogData().toByteArray());
        updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
        return CompletableFuture.completedFuture(Message.valueOf(ByteString.copyFrom(result)));
    }

    @Override
    public CompletableFuture<Message> query(Message request) {
        return CompletableFuture.completedFuture(Message.valueOf(state.digest()));
    }

    @Override
    public long takeSnapshot() throws IOException {
        TermIndex ti = getLastAppliedTermIndex();
        File file = storage.getSnapshotFile(ti.getTerm(), ti.getIndex());
        Path tmp = file.toPath().resolveSibling(file.getName() + ".writing");
        Files.deleteIfExists(tmp);
        state.writeSnapshot(tmp);
        Files.move(tmp, file.toPath(), StandardCopyOption.ATOMIC_MOVE);
        MD5Hash md5 = MD5FileUtil.computeAndSaveMd5ForFile(file);
        storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(file.toPath(), md5), ti));
        return ti.getIndex();
    }

    /** BaseStateMachine.pause() does not move the lifecycle; reload asserts PAUSED. */
    @Override
    public void pause() {
        LifeCycle lc = getLifeCycle();
        if (lc.getCurrentState() == LifeCycle.State.RUNNING) {
            lc.transition(LifeCycle.State.PAUSING);
            lc.transition(LifeCycle.State.PAUSED);
        }
    }

    /** After Ratis installed a snapshot from the leader: load it. */
    @Override
    public void reinitialize() throws IOException {
        loadLatest();
        LifeCycle lc = getLifeCycle();
        lc.transition(LifeCycle.State.STARTING);
        lc.transition(LifeCycle.State.RUNNING);
    }
}
