package io.statesync.bench;

import io.statesync.groups.StateMachine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** The benchmark state as a statesync group state machine; the snapshot is one file, {@code state.bin}. */
final class BlockMachine implements StateMachine {
    final BlockState state;

    BlockMachine(Path dir) throws IOException {
        state = new BlockState(dir);
    }

    @Override
    public String typeTag() {
        return "bench-blocks/v1";
    }

    @Override
    public byte[] apply(long index, byte[] command) {
        return state.apply(command);
    }

    @Override
    public byte[] query(byte[] request) {
        return state.digest().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void writeSnapshot(Path dir) throws IOException {
        state.writeSnapshot(dir.resolve("state.bin"));
    }

    @Override
    public void installSnapshot(Path dir) throws IOException {
        state.load(dir.resolve("state.bin"));
    }
}
