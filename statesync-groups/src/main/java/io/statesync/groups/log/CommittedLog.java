package io.statesync.groups.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The committed entries a member keeps to serve lagging peers, independent of the consensus
 * engine's own log: Ratis purges its log whenever it snapshots, while this log is pruned only when
 * no running catch-up session holds a lease on the range (see {@code Leases}).
 *
 * <p>Layout: {@code <dir>/base} holds the position and chain value just before the first kept
 * entry; {@code <dir>/seg-<firstIndex>.log} files hold records {@code [index u64][term u64][kind
 * u8][length u32][data][chain 32 bytes]}. Appends are written straight to the file without fsync;
 * {@link #sync} makes them durable (the group calls it before it records a snapshot, so a crash
 * can lose only entries the consensus log still holds and re-applies). Pruning drops whole
 * segments.
 *
 * <p>Thread safety: one writer (the apply thread or a catch-up session), many readers.
 */
public final class CommittedLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CommittedLog.class);
    private static final int HEADER = 8 + 8 + 1 + 4;
    /** One offset is remembered per this many entries; a read scans at most this many headers. */
    private static final int SPARSE = 64;
    /** Larger entries are refused: the wire frame and the readers assume entries fit in memory. */
    public static final int MAX_ENTRY_BYTES = 64 * 1024 * 1024;

    private final Path dir;
    private final long segmentBytes;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Segments by first index; the last one takes appends. */
    private final TreeMap<Long, Segment> segments = new TreeMap<>();
    private LogPosition base;
    private byte[] baseChain;
    private volatile LogPosition last;
    private byte[] lastChain;

    /** An entry as stored, with the chain value after it. */
    public record Stored(LogEntry entry, byte[] chain) {
    }

    /** A position and the chain value there. */
    public record Point(LogPosition position, byte[] chain) {
    }

    private static final class Segment {
        final Path path;
        final long first;
        long last;
        long size;
        long[] sparse = new long[16];
        FileChannel channel;

        Segment(Path path, long first) {
            this.path = path;
            this.first = first;
            this.last = first - 1;
        }

        void remember(long index, long offset) {
            long slot = (index - first) / SPARSE;
            if ((index - first) % SPARSE == 0) {
                if (slot >= sparse.length) {
                    sparse = Arrays.copyOf(sparse, sparse.length * 2);
                }
                sparse[(int) slot] = offset;
            }
        }

        long offsetNear(long index) {
            return sparse[(int) ((index - first) / SPARSE)];
        }

        long scanFrom(long index) {
            return first + ((index - first) / SPARSE) * SPARSE;
        }
    }

    private CommittedLog(Path dir, long segmentBytes) {
        this.dir = dir;
        this.segmentBytes = segmentBytes;
    }

    /** Opens (or creates) the log in {@code dir}, dropping a torn record at the tail. */
    public static CommittedLog open(Path dir, long segmentBytes) throws IOException {
        Files.createDirectories(dir);
        CommittedLog l = new CommittedLog(dir, segmentBytes);
        l.load();
        return l;
    }

    private void load() throws IOException {
        Path basePath = dir.resolve("base");
        if (Files.exists(basePath)) {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(basePath));
            if (b.remaining() != 16 + Chain.SIZE) {
                throw new IOException("corrupt committed-log base file " + basePath);
            }
            base = new LogPosition(b.getLong(), b.getLong());
            baseChain = new byte[Chain.SIZE];
            b.get(baseChain);
        } else {
            base = LogPosition.ORIGIN;
            baseChain = Chain.GENESIS;
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "seg-*.log")) {
            ds.forEach(files::add);
        }
        files.sort(null);
        last = base;
        lastChain = baseChain;
        for (Path p : files) {
            long first = Long.parseLong(p.getFileName().toString().substring(4, 24));
            if (first <= base.index() || first != last.index() + 1) {
                // Pruned already (a crash between writing base and deleting), or not contiguous
                // with what came before: nothing after a hole can be served.
                log.info("dropping committed-log segment {} (kept entries end at {})", p, last.index());
                Files.deleteIfExists(p);
                continue;
            }
            Segment s = new Segment(p, first);
            scan(s);
            if (s.last >= s.first) {
                segments.put(first, s);
            } else {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Reads a segment's records, rebuilding the sparse index and cutting a torn or broken tail. */
    private void scan(Segment s) throws IOException {
        try (FileChannel ch = FileChannel.open(s.path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            long pos = 0;
            byte[] chain = lastChain;
            ByteBuffer head = ByteBuffer.allocate(HEADER);
            while (pos + HEADER <= size) {
                head.clear();
                readFully(ch, head, pos);
                head.flip();
                long index = head.getLong();
                long term = head.getLong();
                int kind = head.get();
                int len = head.getInt();
                if (index != s.last + 1 || len < 0 || len > MAX_ENTRY_BYTES || kind < 0 || kind > 1
                        || pos + HEADER + len + Chain.SIZE > size) {
                    break;
                }
                ByteBuffer body = ByteBuffer.allocate(len + Chain.SIZE);
                readFully(ch, body, pos + HEADER);
                byte[] data = Arrays.copyOf(body.array(), len);
                byte[] stored = Arrays.copyOfRange(body.array(), len, len + Chain.SIZE);
                LogEntry e;
                try {
                    e = new LogEntry(index, term, LogEntry.Kind.ofCode(kind), data);
                } catch (IllegalArgumentException bad) {
                    break;
                }
                if (!Arrays.equals(Chain.next(chain, e), stored)) {
                    break;
                }
                chain = stored;
                s.remember(index, pos);
                s.last = index;
                last = e.position();
                lastChain = chain;
                pos += HEADER + len + Chain.SIZE;
            }
            if (pos < size) {
                log.warn("committed log {}: cutting {} bytes of torn or corrupt tail after index {}", s.path,
                        size - pos, s.last);
                ch.truncate(pos);
            }
            s.size = pos;
        }
    }

    /** The position just before the first entry kept. */
    public LogPosition base() {
        lock.readLock().lock();
        try {
            return base;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** The last entry's position (or the base when the log holds no entry). */
    public LogPosition last() {
        return last;
    }

    /** The chain value after the last entry. */
    public byte[] lastChain() {
        lock.readLock().lock();
        try {
            return lastChain.clone();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Appends the entry after {@link #last()}; {@code chain} must be the chain value after it. */
    public void append(LogEntry entry, byte[] chain) throws IOException {
        if (entry.data().length > MAX_ENTRY_BYTES) {
            throw new IOException("entry " + entry.index() + " has " + entry.data().length + " bytes, more than "
                    + MAX_ENTRY_BYTES);
        }
        lock.writeLock().lock();
        try {
            if (entry.index() != last.index() + 1) {
                throw new IllegalStateException("append of entry " + entry.index() + " after " + last.index());
            }
            Segment s = segments.isEmpty() ? null : segments.lastEntry().getValue();
            if (s == null || s.size >= segmentBytes) {
                if (s != null && s.channel != null) {
                    // Durable before it leaves the set sync() forces.
                    uninterruptibly(s, ch -> ch.force(false));
                    s.channel.close();
                    s.channel = null;
                }
                Path p = dir.resolve(String.format("seg-%020d.log", entry.index()));
                s = new Segment(p, entry.index());
                segments.put(s.first, s);
            }
            ByteBuffer rec = ByteBuffer.allocate(HEADER + entry.data().length + Chain.SIZE);
            rec.putLong(entry.index()).putLong(entry.term()).put((byte) entry.kind().code())
                    .putInt(entry.data().length).put(entry.data()).put(chain);
            rec.flip();
            long pos = s.size;
            uninterruptibly(s, ch -> {
                rec.rewind();
                while (rec.hasRemaining()) {
                    ch.write(rec, pos + rec.position());
                }
            });
            s.remember(entry.index(), pos);
            s.size = pos + rec.limit();
            s.last = entry.index();
            lastChain = chain.clone();
            last = entry.position();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Entries {@code from..to} (inclusive) that are kept, in order, stopping early once
     * {@code maxBytes} of data is reached (at least one entry is returned if any is kept).
     */
    public List<Stored> read(long from, long to, long maxBytes) throws IOException {
        List<Stored> out = new ArrayList<>();
        lock.readLock().lock();
        try {
            long end = Math.min(to, last.index());
            long index = Math.max(from, base.index() + 1);
            long bytes = 0;
            while (index <= end && (out.isEmpty() || bytes < maxBytes)) {
                Map.Entry<Long, Segment> se = segments.floorEntry(index);
                if (se == null) {
                    break;
                }
                Segment s = se.getValue();
                try (FileChannel ch = FileChannel.open(s.path, StandardOpenOption.READ)) {
                    long i = s.scanFrom(index);
                    long pos = s.offsetNear(index);
                    ByteBuffer head = ByteBuffer.allocate(HEADER);
                    while (i <= Math.min(end, s.last) && (out.isEmpty() || bytes < maxBytes)) {
                        head.clear();
                        readFully(ch, head, pos);
                        head.flip();
                        long idx = head.getLong();
                        long term = head.getLong();
                        int kind = head.get();
                        int len = head.getInt();
                        if (idx != i) {
                            throw new IOException("committed log " + s.path + " is corrupt at index " + i);
                        }
                        if (i >= index) {
                            ByteBuffer body = ByteBuffer.allocate(len + Chain.SIZE);
                            readFully(ch, body, pos + HEADER);
                            byte[] data = Arrays.copyOf(body.array(), len);
                            byte[] chain = Arrays.copyOfRange(body.array(), len, len + Chain.SIZE);
                            out.add(new Stored(new LogEntry(idx, term, LogEntry.Kind.ofCode(kind), data), chain));
                            bytes += len;
                        }
                        pos += HEADER + len + Chain.SIZE;
                        i++;
                    }
                    index = i;
                }
            }
            return out;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** The position and chain value at {@code index} if it is the base or a kept entry. */
    public Optional<Point> at(long index) throws IOException {
        lock.readLock().lock();
        try {
            if (index == base.index()) {
                return Optional.of(new Point(base, baseChain.clone()));
            }
            List<Stored> one = read(index, index, 1);
            return one.isEmpty() ? Optional.empty()
                    : Optional.of(new Point(one.get(0).entry().position(), one.get(0).chain()));
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Makes every appended entry durable. */
    public void sync() throws IOException {
        lock.writeLock().lock();
        try {
            for (Segment s : segments.values()) {
                if (s.channel != null) {
                    uninterruptibly(s, ch -> ch.force(false));
                }
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** One write or fsync on a segment's channel. */
    @FunctionalInterface
    private interface ChannelIo {
        void run(FileChannel channel) throws IOException;
    }

    /**
     * A {@link FileChannel} closes itself when its thread is interrupted during I/O, and catch-up
     * sessions are interrupted on cancel and at their deadline. So the interrupt is set aside for
     * the operation, and a channel closed by one is reopened and the operation repeated (positional
     * writes and fsyncs are idempotent); the interrupt is restored afterwards for the caller to see.
     */
    private void uninterruptibly(Segment s, ChannelIo io) throws IOException {
        boolean interrupted = Thread.interrupted();
        try {
            for (int attempt = 1; ; attempt++) {
                try {
                    if (s.channel == null || !s.channel.isOpen()) {
                        s.channel = FileChannel.open(s.path, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    }
                    io.run(s.channel);
                    return;
                } catch (java.nio.channels.ClosedChannelException e) {
                    interrupted |= Thread.interrupted();
                    if (attempt >= 5) {
                        throw e;
                    }
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Bytes the kept entries take on disk (every segment file). */
    public long bytes() {
        lock.readLock().lock();
        try {
            long total = 0;
            for (Segment s : segments.values()) {
                total += s.size;
            }
            return total;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * The index to {@link #prune} up to so that at most {@code maxBytes} of segments stay: the
     * last index of the newest segment that does not fit, counting back from the newest one
     * (which {@code prune} always keeps, so it counts even if it alone exceeds the budget). The
     * base index when everything fits. Pruning drops whole segments, so segments much smaller
     * than the budget keep the log close to it.
     */
    public long pruneIndexForBytes(long maxBytes) {
        lock.readLock().lock();
        try {
            long kept = 0;
            boolean newest = true;
            for (Segment s : segments.descendingMap().values()) {
                if (!newest && kept + s.size > maxBytes) {
                    return s.last;
                }
                kept += s.size;
                newest = false;
            }
            return base.index();
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Drops whole segments whose entries all lie at or below {@code upTo}; returns the new base
     * index. The segment holding the last entry is always kept.
     */
    public long prune(long upTo) throws IOException {
        lock.writeLock().lock();
        try {
            List<Segment> drop = new ArrayList<>();
            for (Segment s : segments.values()) {
                if (s.last <= upTo && s.last < last.index()) {
                    drop.add(s);
                } else {
                    break;
                }
            }
            if (drop.isEmpty()) {
                return base.index();
            }
            Segment lastDropped = drop.get(drop.size() - 1);
            List<Stored> tail = read(lastDropped.last, lastDropped.last, 1);
            Stored t = tail.get(0);
            writeBase(t.entry().position(), t.chain());
            for (Segment s : drop) {
                segments.remove(s.first);
                if (s.channel != null) {
                    s.channel.close();
                }
                Files.deleteIfExists(s.path);
            }
            return base.index();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Forgets every entry and continues after {@code position}, whose chain value is {@code chain}:
     * what a member does after it installs a snapshot taken at that position.
     */
    public void resetTo(LogPosition position, byte[] chain) throws IOException {
        lock.writeLock().lock();
        try {
            writeBase(position, chain);
            for (Segment s : segments.values()) {
                if (s.channel != null) {
                    s.channel.close();
                }
                Files.deleteIfExists(s.path);
            }
            segments.clear();
            last = position;
            lastChain = chain.clone();
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void writeBase(LogPosition position, byte[] chain) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16 + Chain.SIZE);
        b.putLong(position.term()).putLong(position.index()).put(chain);
        Path tmp = dir.resolve("base.tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            b.flip();
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        try {
            Files.move(tmp, dir.resolve("base"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, dir.resolve("base"), StandardCopyOption.REPLACE_EXISTING);
        }
        base = position;
        baseChain = chain.clone();
    }

    @Override
    public void close() throws IOException {
        lock.writeLock().lock();
        try {
            for (Segment s : segments.values()) {
                if (s.channel != null) {
                    s.channel.force(false);
                    s.channel.close();
                    s.channel = null;
                }
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of committed-log segment");
            }
        }
    }
}
