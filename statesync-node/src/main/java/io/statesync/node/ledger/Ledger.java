package io.statesync.node.ledger;

import io.statesync.core.files.FileTrees;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.rocksdb.EnvOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Snapshot;
import org.rocksdb.SstFileWriter;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The state of one thread in its own RocksDB: accounts, account data, the incrementally
 * maintained {@link LtHash} and the head. Key layout: {@link StateLayout}.
 *
 * <p>Concurrency: {@link #apply} calls are serialized among themselves; {@link #propose},
 * {@link #check}, {@link #capture}, {@link #recomputeRoot} and the reads may run on other
 * threads at the same time. Each of them sees one committed head and the state exactly as of
 * that head (a RocksDB snapshot pinned together with the head). {@link #close} waits for calls
 * in progress. Storage failures surface as {@link UncheckedIOException} from methods that do not
 * declare {@link IOException}.
 */
public final class Ledger implements AutoCloseable {
    static {
        RocksDB.loadLibrary();
    }

    /** Restore writes entries in batches of about this many bytes. */
    /** Entries per table file a restore writes for ingestion: big files, few of them, as a bulk load wants. */
    private static final long RESTORE_TABLE_BYTES = 256L << 20;

    /** The head, its encoded block and its state hash; immutable once published. */
    record Committed(Head head, byte[] block, LtHash hash) {}

    /** A committed head together with a RocksDB snapshot holding exactly its state. */
    record View(Committed committed, Snapshot snapshot, ReadOptions readOptions) {}

    private final Path dir;
    private final ThreadId thread;
    private final Options options;
    private final RocksDB db;
    private final WriteOptions writeOptions;
    /** Serializes appliers: only one block executes against the live state at a time. */
    private final Lock applyLock = new ReentrantLock();
    /** Held while a block's batch is written and published, and while a view is pinned. */
    private final Lock publishLock = new ReentrantLock();
    /** Native handles: read side for any use of the DB, write side to close it. */
    private final ReentrantReadWriteLock handles = new ReentrantReadWriteLock();
    /** Captures not yet closed; close() releases their snapshots. */
    private final Set<Capture> captures = ConcurrentHashMap.newKeySet();
    private volatile Committed committed;
    private boolean closed;

    private Ledger(Path dir, ThreadId thread, Options options, RocksDB db, Committed committed) {
        this.dir = dir;
        this.thread = thread;
        this.options = options;
        this.db = db;
        this.writeOptions = new WriteOptions();
        this.committed = committed;
    }

    /**
     * Opens the ledger of {@code thread} at {@code dir}, creating it with the genesis state when
     * the directory holds no database yet. An existing ledger keeps its state ({@code genesis}
     * is then unused); one of another thread, or whose stored hash disagrees with its head, is
     * refused.
     */
    public static Ledger open(Path dir, ThreadId thread, Genesis genesis) throws IOException {
        Files.createDirectories(dir);
        Options options = new Options().setCreateIfMissing(true);
        RocksDB db = null;
        try {
            db = RocksDB.open(options, dir.toString());
            byte[] storedThread = db.get(StateLayout.META_THREAD);
            Committed committed = storedThread == null
                    ? initialize(db, dir, thread, genesis)
                    : load(db, dir, thread, new String(storedThread, StandardCharsets.US_ASCII));
            return new Ledger(dir, thread, options, db, committed);
        } catch (RocksDBException e) {
            closeQuietly(db, options);
            throw new IOException("ledger at " + dir + ": " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            closeQuietly(db, options);
            throw e;
        }
    }

    private static Committed initialize(RocksDB db, Path dir, ThreadId thread, Genesis genesis)
            throws RocksDBException, IOException {
        try (RocksIterator it = db.newIterator()) {
            it.seekToFirst();
            if (it.isValid()) {
                throw new IOException("ledger at " + dir + " holds data but no thread marker; refusing to overwrite it");
            }
        }
        Block block = Block.genesis(thread, genesis);
        byte[] encoded = block.encode();
        LtHash hash = genesis.hash();
        Head head = new Head(thread, 0, BlockId.of(Bytes.sha256(encoded)), hash.root(), genesis.stateBytes());
        try (WriteBatch batch = new WriteBatch(); WriteOptions sync = new WriteOptions().setSync(true)) {
            for (var e : genesis.balances().entrySet()) {
                batch.put(StateLayout.accountKey(e.getKey()),
                        StateLayout.encodeAccount(new Account(e.getValue(), 0)));
            }
            putMeta(batch, head, encoded, hash);
            batch.put(StateLayout.META_THREAD, thread.name().getBytes(StandardCharsets.US_ASCII));
            db.write(sync, batch);
        }
        return new Committed(head, encoded, hash);
    }

    private static Committed load(RocksDB db, Path dir, ThreadId thread, String storedThread)
            throws RocksDBException, IOException {
        if (!storedThread.equals(thread.name())) {
            throw new IOException("ledger at " + dir + " belongs to thread " + storedThread + ", not " + thread);
        }
        byte[] encoded = db.get(StateLayout.META_BLOCK);
        byte[] hashBytes = db.get(StateLayout.META_LTHASH);
        byte[] size = db.get(StateLayout.META_SIZE);
        if (encoded == null || hashBytes == null || size == null || size.length != 8
                || hashBytes.length != LtHash.BYTES) {
            throw new IOException("ledger at " + dir + " is incomplete: head, block, hash or size missing");
        }
        Block block;
        try {
            block = BlockCodec.decode(encoded);
        } catch (MalformedException e) {
            throw new IOException("ledger at " + dir + ": stored head block is corrupt: " + e.getMessage(), e);
        }
        LtHash hash = LtHash.fromBytes(hashBytes);
        Head head = new Head(thread, block.seqNo(), BlockId.of(Bytes.sha256(encoded)), block.stateRoot(),
                Bytes.getLong(size, 0));
        StateRoot stored = hash.root();
        if (!stored.equals(head.root())) {
            throw new IOException("ledger at " + dir + " is corrupt: stored hash gives root " + stored.hex()
                    + " but head " + head.label() + " says " + head.root().hex());
        }
        return new Committed(head, encoded, hash);
    }

    private static void putMeta(WriteBatch batch, Head head, byte[] encodedBlock, LtHash hash)
            throws RocksDBException {
        byte[] headBytes = new byte[8 + BlockId.LENGTH + StateRoot.LENGTH];
        Bytes.putLong(headBytes, 0, head.height());
        System.arraycopy(head.blockId().raw(), 0, headBytes, 8, BlockId.LENGTH);
        System.arraycopy(head.root().raw(), 0, headBytes, 8 + BlockId.LENGTH, StateRoot.LENGTH);
        byte[] size = new byte[8];
        Bytes.putLong(size, 0, head.stateBytes());
        batch.put(StateLayout.META_HEAD, headBytes);
        batch.put(StateLayout.historyKey(head.height()), head.blockId().raw());
        batch.put(StateLayout.META_BLOCK, encodedBlock);
        batch.put(StateLayout.META_LTHASH, hash.toBytes());
        batch.put(StateLayout.META_SIZE, size);
    }

    public ThreadId thread() {
        return thread;
    }

    /** The last applied block's height, id and state root, and the state size. */
    public Head head() {
        return committed.head;
    }

    /**
     * One of RocksDB's integer properties of this ledger's database (e.g.
     * {@code rocksdb.estimate-num-keys}, {@code rocksdb.total-sst-files-size}); NaN when RocksDB
     * cannot tell, or the ledger is closed.
     */
    public double storeProperty(String name) {
        try {
            return db.getLongProperty(name);
        } catch (RocksDBException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** The last applied block. */
    public Block headBlock() {
        try {
            return BlockCodec.decode(committed.block);
        } catch (MalformedException e) {
            throw new IllegalStateException("stored head block no longer decodes: " + e.getMessage(), e);
        }
    }

    /**
     * The id of the block this ledger holds at {@code height} on its own chain: the head, or one
     * of the newest {@value StateLayout#HISTORY_BLOCKS} blocks below it that it applied (a
     * restored ledger knows its head block's parent and what it applied since). Empty above the
     * head and below what it remembers.
     */
    public Optional<BlockId> blockAt(long height) {
        Head head = committed.head();
        if (height == head.height()) {
            return Optional.of(head.blockId());
        }
        if (height < 0 || height > head.height()) {
            return Optional.empty();
        }
        Lock lock = enter();
        try {
            byte[] raw = db.get(StateLayout.historyKey(height));
            return raw == null || raw.length != BlockId.LENGTH ? Optional.empty() : Optional.of(BlockId.of(raw));
        } catch (RocksDBException e) {
            throw storageFailure(e);
        } finally {
            lock.unlock();
        }
    }

    /** The committed account, if it exists. */
    public Optional<Account> account(AccountId id) {
        byte[] value = read(StateLayout.accountKey(id));
        return Optional.ofNullable(value).map(StateLayout::decodeAccount);
    }

    /** The committed data value of (account, key), if any. */
    public Optional<byte[]> data(AccountId id, byte[] key) {
        if (key == null || key.length < 1 || key.length > Transaction.MAX_KEY_LENGTH) {
            return Optional.empty();
        }
        return Optional.ofNullable(read(StateLayout.dataKey(id, key)));
    }

    private byte[] read(byte[] key) {
        Lock lock = enter();
        try {
            return db.get(key);
        } catch (RocksDBException e) {
            throw storageFailure(e);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Why {@code tx} may not join the pending transactions now, or empty: {@link #check}'s
     * reasons on one consistent read, except that a nonce ahead of the sender's is admitted.
     */
    public Optional<String> admit(Transaction tx) {
        Lock lock = enter();
        try {
            return Optional.ofNullable(new Execution(thread, this::getLive).admit(tx));
        } finally {
            lock.unlock();
        }
    }

    /** Why {@code tx} would be rejected on the committed state now, or empty if it would execute. */
    public Optional<String> check(Transaction tx) {
        Lock lock = enter();
        try {
            Execution execution = new Execution(thread, this::getLive);
            return Optional.ofNullable(execution.execute(tx));
        } finally {
            lock.unlock();
        }
    }

    /**
     * The producer's next block on the current head: executes {@code pending} in order on an
     * overlay (nothing is written), skips invalid transactions as rejected, and stops before
     * the first transaction that would take the block past {@code maxTransactions} or
     * {@code maxBytes} of encoding (both also capped by the block limits). Never throws on a bad
     * transaction.
     */
    public Proposal propose(List<Transaction> pending, String producer, long timeMillis, int maxTransactions,
            long maxBytes) {
        int txLimit = Math.max(0, Math.min(maxTransactions, Block.MAX_TRANSACTIONS));
        long byteLimit = Math.min(maxBytes, Block.MAX_BYTES);
        Lock lock = enter();
        View view = pin();
        try {
            Committed base = view.committed();
            Execution execution = new Execution(thread, key -> getAt(view, key));
            long bytes = BlockCodec.headerLength(thread.name().length(),
                    producer.getBytes(StandardCharsets.UTF_8).length);
            List<Transaction> included = new ArrayList<>();
            List<Proposal.Rejected> rejected = new ArrayList<>();
            List<Transaction> leftOver = List.of();
            boolean[] signed = new boolean[0];
            int signedFrom = 0;
            for (int i = 0; i < pending.size(); i++) {
                if (i >= signedFrom + signed.length) {
                    // Verify ahead in windows: signatures do not depend on state, so they can run in parallel.
                    signedFrom = i;
                    signed = Signatures.verify(pending, i, Math.min(pending.size(), i + Signatures.WINDOW));
                }
                Transaction tx = pending.get(i);
                if (tx == null) {
                    rejected.add(new Proposal.Rejected("(null)", "null transaction"));
                    continue;
                }
                long length = 4L + TransactionCodec.encodedLength(tx);
                if (included.size() >= txLimit || bytes + length > byteLimit) {
                    leftOver = pending.subList(i, pending.size());
                    break;
                }
                String reason = execution.execute(tx, signed[i - signedFrom]);
                if (reason != null) {
                    rejected.add(new Proposal.Rejected(tx.id(), reason));
                    continue;
                }
                included.add(tx);
                bytes += length;
            }
            LtHash hash = base.hash().copy();
            execution.updateHash(hash);
            Head head = base.head();
            Block block = new Block(thread, head.height() + 1, head.blockId(), included, hash.root(), producer,
                    timeMillis);
            return new Proposal(block, rejected, leftOver);
        } finally {
            unpin(view);
            lock.unlock();
        }
    }

    /** Decodes and applies an encoded block; see {@link #apply(Block)}. Returns the block. */
    public Block apply(byte[] encodedBlock) throws BlockRejectedException {
        Block block;
        try {
            block = BlockCodec.decode(encodedBlock);
        } catch (MalformedException e) {
            throw new BlockRejectedException("block " + Bytes.hex(Bytes.sha256(encodedBlock)) + ": malformed: "
                    + e.getMessage());
        }
        apply(block, encodedBlock);
        return block;
    }

    /**
     * Applies the next block: it must be of this thread, at height head+1 on the head's id,
     * every transaction must execute, and the resulting state root must equal the block's.
     * On success the state, hash, size and head change in one atomic write; on rejection
     * nothing is written and the message names the block.
     */
    public void apply(Block block) throws BlockRejectedException {
        byte[] encoded;
        try {
            encoded = block.encode();
        } catch (IllegalArgumentException e) {
            throw new BlockRejectedException("block (" + block.label() + "): " + e.getMessage());
        }
        apply(block, encoded);
    }

    private void apply(Block block, byte[] encoded) throws BlockRejectedException {
        BlockId id = BlockId.of(Bytes.sha256(encoded));
        String name = "block " + id.hex() + " (" + block.label() + ")";
        Lock lock = enter();
        applyLock.lock();
        try {
            Head head = committed.head();
            if (!block.thread().equals(thread)) {
                throw new BlockRejectedException(name + ": for thread " + block.thread() + ", ledger is " + thread);
            }
            if (block.seqNo() != head.height() + 1) {
                throw new BlockRejectedException(name + ": expected height " + (head.height() + 1) + " on head "
                        + head.label() + ", got " + block.seqNo());
            }
            if (!block.parent().equals(head.blockId())) {
                throw new BlockRejectedException(name + ": parent " + block.parent().hex() + " is not the head "
                        + head.blockId().hex());
            }
            Execution execution = new Execution(thread, this::getLive);
            List<Transaction> txs = block.transactions();
            boolean[] signed = Signatures.verify(txs, 0, txs.size());
            for (int i = 0; i < txs.size(); i++) {
                String reason = execution.execute(txs.get(i), signed[i]);
                if (reason != null) {
                    throw new BlockRejectedException(name + ": transaction " + i + " (" + txs.get(i).id()
                            + ") rejected: " + reason);
                }
            }
            LtHash hash = committed.hash().copy();
            long stateBytes = head.stateBytes() + execution.updateHash(hash);
            StateRoot root = hash.root();
            if (!root.equals(block.stateRoot())) {
                throw new BlockRejectedException(name + ": state root mismatch: block says "
                        + block.stateRoot().hex() + ", state gives " + root.hex());
            }
            Head next = new Head(thread, block.seqNo(), id, root, stateBytes);
            try (WriteBatch batch = new WriteBatch()) {
                execution.forEachChange((key, value) -> {
                    if (value == null) {
                        batch.delete(key);
                    } else {
                        batch.put(key, value);
                    }
                });
                putMeta(batch, next, encoded, hash);
                if (next.height() >= StateLayout.HISTORY_BLOCKS) {
                    batch.delete(StateLayout.historyKey(next.height() - StateLayout.HISTORY_BLOCKS));
                }
                publishLock.lock();
                try {
                    db.write(writeOptions, batch);
                    committed = new Committed(next, encoded, hash);
                } finally {
                    publishLock.unlock();
                }
            } catch (RocksDBException e) {
                throw storageFailure(e);
            } catch (BlockRejectedException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(name + ": " + e.getMessage(), e);
            }
        } finally {
            applyLock.unlock();
            lock.unlock();
        }
    }

    /** Recomputes the state root from a full scan of the committed entries (ignores the stored hash). */
    public StateRoot recomputeRoot() {
        Lock lock = enter();
        View view = pin();
        try {
            LtHash hash = new LtHash();
            scan(view, (key, value) -> hash.add(StateLayout.elementFromRaw(key, value)));
            return hash.root();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            unpin(view);
            lock.unlock();
        }
    }

    /**
     * Pins the committed head and its state (a RocksDB snapshot: no flush, no copy) for a dump
     * that may be written later, on any thread, while blocks keep being applied. Close it to
     * release the snapshot.
     */
    public Capture capture() {
        Lock lock = enter();
        try {
            Capture capture = new Capture(this, pin());
            captures.add(capture);
            return capture;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writes a capture's dump files; called by {@link Capture#writeTo}. With a usable {@code base}
     * (the state of an earlier block of this chain, its bytes intact) and an overlay of at most
     * half the base's size, the dump is layered: the base is hard-linked in as {@code state.bin}
     * and only the changes go to {@code overlay.bin}. Otherwise it is a full dump.
     *
     * @return whether the dump is layered
     */
    boolean writeDump(View view, Path dumpDir, DumpBase base) throws IOException {
        Lock lock = enter();
        try {
            Files.createDirectories(dumpDir);
            byte[] block = view.committed().block();
            StateDump.writeAtomically(dumpDir.resolve(StateDump.HEAD_FILE), out -> out.write(block));
            Files.deleteIfExists(dumpDir.resolve(StateDump.OVERLAY_FILE));
            if (base != null && layerable(view, base) && writeOverlay(view, dumpDir, base)) {
                Path state = dumpDir.resolve(StateDump.STATE_FILE);
                Files.deleteIfExists(state);
                FileTrees.linkOrCopy(base.stateFile(), state);
                return true;
            }
            StateDump.writeAtomically(dumpDir.resolve(StateDump.STATE_FILE), out -> {
                DataOutputStream data = new DataOutputStream(out);
                scan(view, (key, value) -> StateDump.writeEntry(data, key, value));
                data.flush();
            });
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** A base is of an earlier block on this chain (its bytes are checked while the overlay is written). */
    private boolean layerable(View view, DumpBase base) {
        Head head = view.committed().head();
        if (base.height() >= head.height() || !Files.isRegularFile(base.stateFile())) {
            return false;
        }
        byte[] raw = getAt(view, StateLayout.historyKey(base.height()));
        return raw != null && java.util.Arrays.equals(raw, base.block().raw());
    }

    /**
     * Signals, inside the overlay's writer, that no layered dump is to be written: the overlay
     * grew too large (expected), or the kept base is damaged ({@code damaged}: worth a warning).
     */
    private static final class NotLayered extends IOException {
        final boolean damaged;

        NotLayered(String why, boolean damaged) {
            super(why);
            this.damaged = damaged;
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this; // a signal, not an error: no trace needed
        }
    }

    /**
     * Writes {@code overlay.bin}: the view's entries against the base's, both in key order.
     * Returns false, leaving no file, when it would pass half the base's size or when the base's
     * bytes no longer match their checksum (read in the same pass).
     */
    private boolean writeOverlay(View view, Path dumpDir, DumpBase base) throws IOException {
        long limit = Files.size(base.stateFile()) / 2;
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        try (StateDump.EntryReader old = new StateDump.EntryReader(
                new java.util.zip.CheckedInputStream(Files.newInputStream(base.stateFile()), crc))) {
            StateDump.writeAtomically(dumpDir.resolve(StateDump.OVERLAY_FILE), out -> {
                DataOutputStream data = new DataOutputStream(out);
                StateDump.writeOverlayHeader(data, base.height(), base.block());
                OverlayCursor cursor = new OverlayCursor(old, data, limit);
                scan(view, cursor::entry);
                cursor.rest();
                if (crc.getValue() != base.crc32c()) {
                    throw new NotLayered("kept dump base " + base.stateFile() + " no longer matches its checksum", true);
                }
                data.flush();
            });
            return true;
        } catch (NotLayered e) {
            if (e.damaged) {
                org.slf4j.LoggerFactory.getLogger(Ledger.class).warn("{}; writing a full dump", e.getMessage());
            }
            return false;
        }
    }

    /** Walks the base alongside the view's scan and writes what differs. */
    private static final class OverlayCursor {
        private final StateDump.EntryReader base;
        private final DataOutputStream out;
        private final long limit;
        private boolean has;
        private long written;

        OverlayCursor(StateDump.EntryReader base, DataOutputStream out, long limit) throws IOException {
            this.base = base;
            this.out = out;
            this.limit = limit;
            has = advance();
        }

        void entry(byte[] key, byte[] value) throws IOException {
            while (has && java.util.Arrays.compareUnsigned(base.key(), key) < 0) {
                count(StateDump.writeDelete(out, base.key()));
                has = advance();
            }
            if (has && java.util.Arrays.equals(base.key(), key)) {
                if (!java.util.Arrays.equals(base.value(), value)) {
                    count(StateDump.writePut(out, key, value));
                }
                has = advance();
            } else {
                count(StateDump.writePut(out, key, value));
            }
        }

        void rest() throws IOException {
            while (has) {
                count(StateDump.writeDelete(out, base.key()));
                has = advance();
            }
        }

        private void count(long bytes) throws NotLayered {
            written += bytes;
            if (written > limit) {
                throw new NotLayered("overlay larger than half its base", false);
            }
        }

        private boolean advance() throws IOException {
            try {
                return base.next();
            } catch (MalformedException e) {
                throw new NotLayered("kept dump base: " + e.getMessage(), true);
            }
        }
    }

    /** Releases a capture's snapshot unless close() already did. */
    void release(Capture capture, View view) {
        if (!captures.remove(capture)) {
            return;
        }
        handles.readLock().lock();
        try {
            if (!closed) {
                unpin(view);
            }
        } finally {
            handles.readLock().unlock();
        }
    }

    @FunctionalInterface
    private interface EntryConsumer {
        void accept(byte[] key, byte[] value) throws IOException;
    }

    /** Visits every account and data entry of a view in key order. */
    private void scan(View view, EntryConsumer consumer) throws IOException {
        try (ReadOptions scanOptions = new ReadOptions().setSnapshot(view.snapshot()).setFillCache(false);
                RocksIterator it = db.newIterator(scanOptions)) {
            for (it.seek(new byte[] {StateLayout.ACCOUNT}); it.isValid(); it.next()) {
                byte[] key = it.key();
                if (key[0] != StateLayout.ACCOUNT && key[0] != StateLayout.DATA) {
                    break;
                }
                consumer.accept(key, it.value());
            }
            it.status();
        } catch (RocksDBException e) {
            throw new IOException("ledger at " + dir + ": scan failed: " + e.getMessage(), e);
        }
    }

    /**
     * Builds a fresh ledger database at {@code dbDir} (which must not exist) from a dump written
     * by {@link Capture#writeTo}: streams the entries into table files beside it (its name plus
     * {@code .ingest}) while the state hash is recomputed on all cores, checks the hash against the
     * root of the dump's head block, and only then has the database ingest the files. On any
     * failure {@code dbDir} is deleted. Open the result with {@link #open}.
     *
     * @throws InvalidStateException the dump is malformed, of another thread, or its state does
     *     not match its head block
     * @throws IOException reading the dump or writing the database failed, or dbDir exists
     */
    public static Head restore(Path dumpDir, Path dbDir, ThreadId thread) throws IOException, InvalidStateException {
        if (Files.exists(dbDir)) {
            throw new IOException("restore target " + dbDir + " already exists");
        }
        Path headFile = dumpDir.resolve(StateDump.HEAD_FILE);
        long headSize = Files.size(headFile);
        if (headSize > Block.MAX_BYTES) {
            throw new InvalidStateException(StateDump.HEAD_FILE + ": " + headSize + " bytes exceed the largest block");
        }
        byte[] encoded = Files.readAllBytes(headFile);
        Block block;
        try {
            block = BlockCodec.decode(encoded);
        } catch (MalformedException e) {
            throw new InvalidStateException(StateDump.HEAD_FILE + ": " + e.getMessage());
        }
        BlockId id = BlockId.of(Bytes.sha256(encoded));
        String name = "block " + id.hex() + " (" + block.label() + ")";
        if (!block.thread().equals(thread)) {
            throw new InvalidStateException("dump of " + name + " is for thread " + block.thread() + ", not " + thread);
        }
        boolean done = false;
        // The entries go straight into sorted table files, which the new database takes in whole
        // (no memtable, no flush, no compaction of what a put-by-put load would have written),
        // while the state hash is computed on every core. Nothing is ingested before the hash
        // matched the block's state root.
        Path tables = dbDir.resolveSibling(dbDir.getFileName() + ".ingest");
        FileTrees.deleteRecursively(tables);
        Files.createDirectories(tables);
        try (Options options = new Options().setCreateIfMissing(true).setErrorIfExists(true);
                RocksDB db = RocksDB.open(options, dbDir.toString());
                WriteOptions sync = new WriteOptions().setSync(true);
                StateDump.Entries entries = StateDump.open(dumpDir);
                ParallelStateHash hasher = new ParallelStateHash();
                WriteBatch batch = new WriteBatch()) {
            List<String> files = new ArrayList<>();
            long stateBytes = 0;
            SstFileWriter table = null;
            long inTable = 0;
            try (EnvOptions env = new EnvOptions()) {
                while (entries.next()) {
                    byte[] key = entries.key();
                    byte[] value = entries.value();
                    hasher.add(key, value);
                    stateBytes += key.length + value.length;
                    if (table == null) {
                        Path file = tables.resolve(String.format(java.util.Locale.ROOT, "%06d.sst", files.size()));
                        table = new SstFileWriter(env, options);
                        table.open(file.toString());
                        files.add(file.toString());
                        inTable = 0;
                    }
                    table.put(key, value);
                    inTable += key.length + value.length;
                    if (inTable >= RESTORE_TABLE_BYTES) {
                        table.finish();
                        table.close();
                        table = null;
                    }
                }
                if (table != null) {
                    table.finish();
                }
            } finally {
                if (table != null) {
                    table.close();
                }
            }
            LtHash hash = hasher.finish();
            StateRoot root = hash.root();
            if (!root.equals(block.stateRoot())) {
                throw new InvalidStateException("state root mismatch for " + name + ": block says "
                        + block.stateRoot().hex() + ", dump gives " + root.hex());
            }
            if (!files.isEmpty()) {
                try (IngestExternalFileOptions ingest = new IngestExternalFileOptions().setMoveFiles(true)) {
                    db.ingestExternalFile(files, ingest);
                }
            }
            Head head = new Head(thread, block.seqNo(), id, root, stateBytes);
            putMeta(batch, head, encoded, hash);
            if (block.seqNo() > 0) {
                // The dump names its head's parent too: the chain below is known that far.
                batch.put(StateLayout.historyKey(block.seqNo() - 1), block.parent().raw());
            }
            batch.put(StateLayout.META_THREAD, thread.name().getBytes(StandardCharsets.US_ASCII));
            db.write(sync, batch);
            done = true;
            return head;
        } catch (MalformedException e) {
            throw new InvalidStateException(name + ": " + e.getMessage());
        } catch (RocksDBException e) {
            throw new IOException("restore of " + name + " into " + dbDir + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("restore of " + name + " interrupted");
        } finally {
            FileTrees.deleteRecursively(tables);
            if (!done) {
                FileTrees.deleteRecursively(dbDir);
            }
        }
    }


    /** Reads the live (latest written) state; used where the caller holds the state steady. */
    private byte[] getLive(byte[] key) {
        try {
            return db.get(key);
        } catch (RocksDBException e) {
            throw storageFailure(e);
        }
    }

    private byte[] getAt(View view, byte[] key) {
        try {
            return db.get(view.readOptions(), key);
        } catch (RocksDBException e) {
            throw storageFailure(e);
        }
    }

    /** A consistent (head, state) pair; the caller must hold the handles read lock and unpin it. */
    private View pin() {
        publishLock.lock();
        try {
            Snapshot snapshot = db.getSnapshot();
            return new View(committed, snapshot, new ReadOptions().setSnapshot(snapshot));
        } finally {
            publishLock.unlock();
        }
    }

    private void unpin(View view) {
        view.readOptions().close();
        db.releaseSnapshot(view.snapshot());
    }

    /** Takes the handles read lock, failing if the ledger is closed. */
    private Lock enter() {
        Lock lock = handles.readLock();
        lock.lock();
        if (closed) {
            lock.unlock();
            throw new IllegalStateException("ledger of thread " + thread + " at " + dir + " is closed");
        }
        return lock;
    }

    private UncheckedIOException storageFailure(RocksDBException e) {
        return new UncheckedIOException(new IOException("ledger at " + dir + ": " + e.getMessage(), e));
    }

    /** Closes the database once; waits for calls in progress and releases open captures' snapshots. */
    @Override
    public void close() {
        handles.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            for (Capture capture : captures) {
                unpin(capture.view());
            }
            captures.clear();
            writeOptions.close();
            db.close();
            options.close();
        } finally {
            handles.writeLock().unlock();
        }
    }

    private static void closeQuietly(RocksDB db, Options options) {
        if (db != null) {
            db.close();
        }
        options.close();
    }

    @Override
    public String toString() {
        return "Ledger[" + committed.head().label() + " at " + dir + "]";
    }
}
