package io.statesync.node.chain;

import io.statesync.core.files.FileTrees;
import io.statesync.groups.StateMachine;
import io.statesync.node.ledger.Block;
import io.statesync.node.ledger.BlockCodec;
import io.statesync.node.ledger.BlockRejectedException;
import io.statesync.node.ledger.Genesis;
import io.statesync.node.ledger.Ledger;
import io.statesync.node.ledger.MalformedException;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.statesync.LocalChain;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A thread's ledger as the state machine of its group: every committed command is a block,
 * re-executed and checked against the state root it carries.
 *
 * <p>A block that does not extend the current head (a proposal from a leader that has since been
 * deposed, or a duplicate) is skipped: every member skips it the same way, so the log goes on.
 * A block that does extend the head but whose transactions fail or whose state root differs
 * halts the thread on this member, loudly and naming the block: that is either a bug or a
 * corrupted state, and applying more blocks on top would only spread it.
 *
 * <p>The live database sits in {@code <dir>/db-<n>}; {@code <dir>/current} names it. An install
 * builds the new state into a fresh directory, verifies its state root, and only then switches
 * {@code current} and drops the old one, so a failed install keeps the old state.
 */
public final class LedgerMachine implements StateMachine, LocalChain, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LedgerMachine.class);
    public static final String TYPE_TAG = "statesync-ledger/v1";
    /**
     * Regular saves per epoch: the first is a full dump, the next seven are laid over it (a
     * base plus what changed), so successive saves share the base's chunks whatever changed.
     */
    static final int SAVES_PER_EPOCH = 8;

    private final ThreadId thread;
    private final Path dir;
    private final long saveEvery;
    private final Genesis genesis;
    /** The full dump this epoch's saves are laid over. */
    private final SaveBase bases;
    /** Guards the swap of {@link #ledger} on install against every other use. */
    private final ReadWriteLock swap = new ReentrantReadWriteLock();
    private Ledger ledger;
    /** The database directory in use. */
    private Path current;
    /** Set by apply: the block just applied is one to save (its seqNo is a multiple of saveEvery). */
    private volatile long saveDueAt = -1;
    /** Why this thread halted on this member, or null. */
    private volatile String halted;
    /** The block the next install must hold, when a catch-up chose it (see {@link #expectInstallOf}). */
    private final java.util.concurrent.atomic.AtomicReference<io.statesync.node.ledger.BlockId> expectedBlock =
            new java.util.concurrent.atomic.AtomicReference<>();
    /** A state built ahead of its install ({@link #prepareInstall}); the next install of its block adopts it. */
    private final java.util.concurrent.atomic.AtomicReference<Prepared> prepared =
            new java.util.concurrent.atomic.AtomicReference<>();
    /** The number of the next {@code db-<n>} directory handed out; guarded by this. */
    private int nextDb;
    /*
     * Share requests (see ShareRequest). Touched by apply only, which the group runs one entry at a
     * time and in log order, so every replica holds the same values at the same log position
     * (after a restart they start empty again: at worst one replica saves once more than others).
     */
    /** A request was granted and the next block is to be saved. */
    private boolean shareGranted;
    /** Block time of the newest block applied since start, or Long.MIN_VALUE. */
    private long headTimeMillis = Long.MIN_VALUE;
    /** Block time of the last block saved on request since start, or Long.MIN_VALUE. */
    private long requestedSaveMillis = Long.MIN_VALUE;

    /**
     * @param saveEvery a snapshot is asked for after every block whose seqNo is a multiple of
     *     this; 0 turns that off
     */
    public LedgerMachine(ThreadId thread, Path dir, Genesis genesis, long saveEvery) throws IOException {
        this.thread = thread;
        this.dir = dir;
        this.saveEvery = saveEvery;
        this.genesis = genesis;
        Files.createDirectories(dir);
        Path pointer = dir.resolve("current");
        current = Files.exists(pointer)
                ? dir.resolve(Files.readString(pointer, StandardCharsets.UTF_8).trim())
                : dir.resolve("db-0");
        removeStaleDatabases();
        bases = new SaveBase(dir, saveEvery * SAVES_PER_EPOCH);
        nextDb = Integer.parseInt(current.getFileName().toString().substring(3)) + 1;
        ledger = Ledger.open(current, thread, genesis);
        if (!Files.exists(pointer)) {
            writePointer(current.getFileName().toString());
        }
    }

    @Override
    public String typeTag() {
        return TYPE_TAG;
    }

    public ThreadId thread() {
        return thread;
    }

    /** Runs {@code read} against the current ledger, never concurrently with an install. */
    public <T> T read(Function<Ledger, T> read) {
        swap.readLock().lock();
        try {
            return read.apply(ledger);
        } finally {
            swap.readLock().unlock();
        }
    }

    /** Forms the next block on the current ledger (the producer's side; nothing is written). */
    public io.statesync.node.ledger.Proposal propose(java.util.List<io.statesync.node.ledger.Transaction> pending,
                                                     String producer, long timeMillis, int maxTransactions,
                                                     long maxBytes) {
        return read(l -> l.propose(pending, producer, timeMillis, maxTransactions, maxBytes));
    }

    @Override
    public io.statesync.node.ledger.Head head() {
        return read(Ledger::head);
    }

    @Override
    public java.util.Optional<io.statesync.node.ledger.BlockId> blockAt(long height) {
        return read(l -> l.blockAt(height));
    }

    /**
     * Says which block the next {@link #installSnapshot} must hold: a dump whose own head block
     * is another (even one that is self-consistent) is refused. A catch-up calls this with the
     * block its peers offered; installs at start-up, of this member's own snapshots, expect none.
     */
    @Override
    public void expectInstallOf(io.statesync.node.ledger.BlockId block) {
        expectedBlock.set(block);
    }

    /** Why this thread halted on this member, or null while it runs. */
    public String halted() {
        return halted;
    }

    @Override
    public byte[] apply(long index, byte[] command) {
        java.util.Optional<ShareRequest> request = ShareRequest.decode(command);
        if (request.isPresent()) {
            return shareRequested(request.get()).encode();
        }
        Block block;
        try {
            block = BlockCodec.decode(command);
        } catch (MalformedException e) {
            return ("skipped: malformed block: " + e.getMessage()).getBytes(StandardCharsets.UTF_8);
        }
        swap.readLock().lock();
        try {
            var head = ledger.head();
            if (!block.thread().equals(thread) || block.seqNo() <= head.height()) {
                // Formed on a head this log has already passed (a deposed leader's proposal, a
                // duplicate): every member skips it alike.
                return ("skipped: block " + block.seqNo() + " does not extend the head " + head.height() + " "
                        + head.blockId().hex()).getBytes(StandardCharsets.UTF_8);
            }
            try {
                if (block.seqNo() > head.height() + 1 || !block.parent().equals(head.blockId())) {
                    // Every member applies the same log, so a committed block always extends the
                    // head it was formed on; one that does not means this state is not the log's.
                    throw new BlockRejectedException("block " + block.id().hex() + " (" + thread.name() + "#"
                            + block.seqNo() + ") does not follow the local head " + head.height() + " "
                            + head.blockId().hex() + ": this member's state diverged from the log");
                }
                ledger.apply(block);
            } catch (BlockRejectedException | RuntimeException e) {
                halted = e.getMessage();
                log.error("THREAD {} HALTED on this node at log index {}: {}", thread.name(), index, e.getMessage());
                throw new IllegalStateException("thread " + thread.name() + " halted: " + e.getMessage(), e);
            }
            headTimeMillis = block.timeMillis();
            if (saveEvery > 0 && block.seqNo() % saveEvery == 0) {
                saveDueAt = index;
            }
            if (shareGranted) {
                shareGranted = false;
                requestedSaveMillis = block.timeMillis();
                saveDueAt = index;
                log.info("thread {}: saving the state of block {} on request", thread.name(), block.seqNo());
            }
            return ("ok " + block.seqNo() + " " + block.id().hex()).getBytes(StandardCharsets.UTF_8);
        } finally {
            swap.readLock().unlock();
        }
    }

    /**
     * Decides a share request where it sits in the log: granted (the next block is saved), already
     * pending, or refused because a block saved on request lies less than the request's interval
     * back in block time. A thread whose head was saved on request and that has made no block
     * since is refused too: that saved state is the freshest there is.
     */
    private ShareRequest.Answer shareRequested(ShareRequest request) {
        long height = read(l -> l.head().height());
        if (shareGranted) {
            return new ShareRequest.Answer.Pending(height);
        }
        long since = headTimeMillis - requestedSaveMillis;
        if (requestedSaveMillis != Long.MIN_VALUE && since < request.minInterval().toMillis()) {
            return new ShareRequest.Answer.Limited("thread " + thread.name() + " saved a state on request "
                    + since / 1000 + " s ago in block time; at most one per " + request.minInterval().toSeconds()
                    + " s, the next in " + (request.minInterval().toMillis() - since + 999) / 1000 + " s");
        }
        shareGranted = true;
        return new ShareRequest.Answer.Granted(height);
    }

    @Override
    public boolean snapshotDue(long index) {
        return saveDueAt == index;
    }

    @Override
    public java.util.Optional<SnapshotCapture> capture() {
        swap.readLock().lock();
        try {
            io.statesync.node.ledger.Capture c = ledger.capture();
            return java.util.Optional.of(new SnapshotCapture() {
                @Override
                public java.util.Map<String, String> metadata() {
                    return c.metadata();
                }

                @Override
                public void writeTo(Path target) throws IOException {
                    long height = c.head().height();
                    java.util.Optional<io.statesync.node.ledger.DumpBase> base = bases.forSave(height);
                    if (c.writeTo(target, base.orElse(null))) {
                        log.debug("thread {}: save at {} laid over the dump at {}", thread.name(), height,
                                base.get().height());
                    } else {
                        bases.keep(target.resolve(io.statesync.node.ledger.Capture.STATE_FILE), c.head());
                    }
                }

                @Override
                public void close() {
                    c.close();
                }
            });
        } finally {
            swap.readLock().unlock();
        }
    }

    @Override
    public byte[] query(byte[] request) {
        return read(l -> l.head().toString()).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void writeSnapshot(Path target) throws IOException {
        io.statesync.node.ledger.Capture c;
        swap.readLock().lock();
        try {
            c = ledger.capture();
        } finally {
            swap.readLock().unlock();
        }
        try (c) {
            c.writeTo(target);
        }
    }

    /**
     * Replaces the state with a dump: rebuilds it into a fresh database, checks the recomputed
     * state root against the dump's head block, then switches to it. On any failure the old
     * state stays in place and the reason is thrown.
     */
    @Override
    public void installSnapshot(Path dump) throws IOException {
        io.statesync.node.ledger.BlockId expected = expectedBlock.getAndSet(null);
        Prepared ready = prepared.getAndSet(null);
        Path fresh;
        io.statesync.node.ledger.Head head;
        if (ready != null && expected != null && ready.take(expected)) {
            // Built and verified by prepareInstall from the same snapshot: only the switch is left.
            fresh = ready.dir;
            head = ready.head;
        } else {
            if (ready != null) {
                ready.close();
            }
            fresh = freshDatabase();
            head = restoreInto(dump, fresh, expected, "offered");
        }
        Ledger opened;
        try {
            opened = Ledger.open(fresh, thread, genesis);
        } catch (IOException | RuntimeException e) {
            FileTrees.deleteRecursively(fresh);
            throw e;
        }
        Ledger old;
        Path oldDir;
        swap.writeLock().lock();
        try {
            try {
                writePointer(fresh.getFileName().toString());
            } catch (IOException | RuntimeException e) {
                opened.close();
                FileTrees.deleteRecursively(fresh);
                throw e;
            }
            old = ledger;
            oldDir = current;
            ledger = opened;
            current = fresh;
            halted = null;
            // The log between the old state and this one was not applied here: start afresh.
            shareGranted = false;
            headTimeMillis = Long.MIN_VALUE;
            requestedSaveMillis = Long.MIN_VALUE;
        } finally {
            swap.writeLock().unlock();
        }
        // Outside the lock: closing waits for a dump of the old state still being written, which
        // must not hold up reads and blocks on the new one.
        old.close();
        FileTrees.deleteRecursively(oldDir);
        if (io.statesync.node.ledger.Capture.layeredOver(dump).isEmpty()) {
            // A full dump whose root was just checked: if it starts an epoch, this replica's saves
            // of that epoch are laid over it like everyone else's.
            bases.keep(dump.resolve(io.statesync.node.ledger.Capture.STATE_FILE), head);
        }
        log.info("thread {}: state installed at block {} ({}), state root {} verified", thread.name(), head.height(),
                head.blockId().hex(), head.root().hex());
    }

    /**
     * Builds and verifies the state of a dump without installing it, so that a load of several
     * threads can fail on any of them before any is switched: the expensive and fallible part of
     * an install (rebuild, state root against the head block, the head block being {@code block})
     * happens here. The state is adopted by the next {@link #installSnapshot} after {@link
     * #expectInstallOf(Prepared)}; until then, and if it never is, closing it deletes it.
     *
     * @throws IOException with the reason if the dump is not a valid state of {@code block}
     */
    public Prepared prepareInstall(Path dump, io.statesync.node.ledger.BlockId block) throws IOException {
        Path fresh = freshDatabase();
        return new Prepared(fresh, restoreInto(dump, fresh, block, "requested"));
    }

    /**
     * Says that the next {@link #installSnapshot} is of {@code ready}'s block and adopts that
     * state instead of rebuilding it from the dump it is handed (the same snapshot).
     */
    public void expectInstallOf(Prepared ready) {
        Prepared old = prepared.getAndSet(ready);
        if (old != null && old != ready) {
            old.close();
        }
        expectedBlock.set(ready.head.blockId());
    }

    /** Withdraws {@link #expectInstallOf(Prepared)} after an install that did not happen, and deletes the state. */
    public void cancelInstall(Prepared ready) {
        if (prepared.compareAndSet(ready, null)) {
            expectedBlock.compareAndSet(ready.head.blockId(), null);
        }
        ready.close();
    }

    /** A state built by {@link #prepareInstall}: its own database directory, verified, not in use. */
    public static final class Prepared implements AutoCloseable {
        private final Path dir;
        private final io.statesync.node.ledger.Head head;
        /** Guarded by this: taken by an install, or closed (deleted); never both. */
        private boolean taken;
        private boolean closed;

        private Prepared(Path dir, io.statesync.node.ledger.Head head) {
            this.dir = dir;
            this.head = head;
        }

        /** The head block the prepared state holds. */
        public io.statesync.node.ledger.Head head() {
            return head;
        }

        private synchronized boolean take(io.statesync.node.ledger.BlockId block) {
            if (closed || taken || !head.blockId().equals(block)) {
                return false;
            }
            taken = true;
            return true;
        }

        /** Deletes the prepared state unless an install took it. */
        @Override
        public void close() {
            synchronized (this) {
                if (taken || closed) {
                    return;
                }
                closed = true;
            }
            try {
                FileTrees.deleteRecursively(dir);
            } catch (IOException e) {
                log.warn("cannot delete the prepared state {}: {}", dir, e.toString());
            }
        }
    }

    /** A database directory no one uses: never the current one, nor one handed out before. */
    private synchronized Path freshDatabase() throws IOException {
        Path fresh = dir.resolve("db-" + nextDb++);
        FileTrees.deleteRecursively(fresh);
        return fresh;
    }

    /** Rebuilds a dump into {@code fresh} and checks it holds {@code expected} (if given); nothing is left on failure. */
    private io.statesync.node.ledger.Head restoreInto(Path dump, Path fresh, io.statesync.node.ledger.BlockId expected,
                                                     String expectedAs) throws IOException {
        io.statesync.node.ledger.Head head;
        try {
            head = Ledger.restore(dump, fresh, thread);
        } catch (io.statesync.node.ledger.InvalidStateException e) {
            FileTrees.deleteRecursively(fresh);
            throw new IOException("thread " + thread.name() + ": snapshot rejected, the old state is kept: "
                    + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            FileTrees.deleteRecursively(fresh);
            throw e;
        }
        if (expected != null && !expected.equals(head.blockId())) {
            FileTrees.deleteRecursively(fresh);
            throw new IOException("thread " + thread.name() + ": snapshot rejected, the old state is kept: it holds"
                    + " block " + head.blockId().hex() + ", not the " + expectedAs + " block " + expected.hex());
        }
        return head;
    }

    /** Closes the database. */
    @Override
    public void close() {
        swap.writeLock().lock();
        try {
            ledger.close();
        } finally {
            swap.writeLock().unlock();
        }
    }

    private void writePointer(String name) throws IOException {
        Path tmp = dir.resolve("current.tmp");
        try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.TRUNCATE_EXISTING, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(name.getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        }
        Files.move(tmp, dir.resolve("current"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Databases other than the current one are leftovers of an install cut short. */
    private void removeStaleDatabases() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                if (p.getFileName().toString().startsWith("db-") && !p.equals(current)) {
                    FileTrees.deleteRecursively(p);
                }
            }
        }
    }

}
