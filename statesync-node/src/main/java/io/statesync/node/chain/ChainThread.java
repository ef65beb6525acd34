package io.statesync.node.chain;

import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.groups.Group;
import io.statesync.groups.GroupStatus;
import io.statesync.node.ledger.Block;
import io.statesync.node.ledger.BlockCodec;
import io.statesync.node.ledger.Ledger;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import io.statesync.node.producer.BlockSink;
import io.statesync.node.producer.Mempool;
import io.statesync.node.producer.ProducerConfig;
import io.statesync.node.producer.ProducerService;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Optional;

/**
 * One thread (parallel chain) on this node: its ledger as the state machine of its replicated
 * group, the pool of pending transactions, and the producer that turns them into blocks while
 * this node leads the group.
 */
public final class ChainThread implements AutoCloseable {
    private final ThreadId id;
    private final LedgerMachine machine;
    private final Group group;
    private final Mempool mempool;
    private final ProducerService producer;

    /** What became of a submitted transaction on arrival. */
    public enum Submitted { ACCEPTED, DUPLICATE, FULL }

    private ChainThread(ThreadId id, LedgerMachine machine, Group group, Mempool mempool, ProducerService producer) {
        this.id = id;
        this.machine = machine;
        this.group = group;
        this.mempool = mempool;
        this.producer = producer;
    }

    /** Starts the producer of a thread whose group and machine are running. */
    public static ChainThread start(LedgerMachine machine, Group group, ProducerConfig config, String nodeId,
                                    MeterRegistry registry, Clock clock) {
        Mempool mempool = new Mempool(config.mempoolCapacity(), config.mempoolBytes());
        BlockSink sink = new GroupSink(group);
        ProducerService producer = ProducerService.start(config, new ProducerService.Collaborators(machine.thread(),
                nodeId, machine::propose, sink, mempool, registry, clock));
        return new ChainThread(machine.thread(), machine, group, mempool, producer);
    }

    public ThreadId id() {
        return id;
    }

    public Group group() {
        return group;
    }

    public LedgerMachine machine() {
        return machine;
    }

    public ProducerService producer() {
        return producer;
    }

    public Mempool mempool() {
        return mempool;
    }

    /**
     * Queues a transaction that passed its admission checks (see {@link Ledger#admit}); the
     * producer checks it again when it forms the block.
     */
    public Submitted submit(Transaction tx, int encodedBytes) {
        return switch (mempool.offer(new Mempool.Pending(tx, tx.id(), encodedBytes))) {
            case ACCEPTED -> Submitted.ACCEPTED;
            case DUPLICATE -> Submitted.DUPLICATE;
            case FULL -> Submitted.FULL;
        };
    }

    /** Why a transaction may not join the pool now, if it may not (see {@link Ledger#admit}). */
    public Optional<String> admit(Transaction tx) {
        return machine.read(l -> l.admit(tx));
    }

    public GroupStatus groupStatus() {
        return group.status();
    }

    /** Stops the producer; the group and the machine are closed by their owner. */
    @Override
    public void close() {
        producer.stop();
    }

    /** Blocks go through the group; this node produces only while it leads and is caught up. */
    private record GroupSink(Group group) implements BlockSink {
        @Override
        public boolean mayProduce() {
            GroupStatus s = group.status();
            return "LEADER".equals(s.role()) && !s.catchingUp() && s.applied() != null
                    && s.applied().index() >= s.commitIndex();
        }

        @Override
        public void commit(Block block) throws IOException {
            byte[] result = group.submitBlocking(BlockCodec.encode(block));
            String text = new String(result, StandardCharsets.UTF_8);
            if (!text.startsWith("ok ")) {
                throw new IOException("block " + block.seqNo() + " was not applied: " + text);
            }
        }
    }
}
