package io.statesync.bench;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The benchmark's replicated state, kept on disk so it can be far larger than the heap: a map of
 * int key to a block of bytes (each block one file, or a range of the installed snapshot file), and
 * a small map of int key to a counter. Commands are tiny and deterministic: {@code FILL key seed
 * len} writes {@code len} pseudo-random bytes derived from {@code seed}; {@code NOTE key delta}
 * adds to a counter; {@code NOP} does nothing. The snapshot is one file whose bytes depend only on
 * the state: a header (every block's key, length and SHA-256; every counter), then the blocks in
 * key order. Both the statesync machine and the plain Ratis machine use this class, so both
 * systems move the same bytes.
 */
final class BlockState {
    static final byte NOP = 0;
    static final byte FILL = 1;
    static final byte NOTE = 2;
    private static final byte[] MAGIC = "SSBENCH1".getBytes(StandardCharsets.US_ASCII);

    private record Block(int len, byte[] sha, long baseOffset) {
        boolean inBase() {
            return baseOffset >= 0;
        }
    }

    private final Path dir;
    private final Path overlay;
    private final TreeMap<Integer, Block> blocks = new TreeMap<>();
    private final TreeMap<Integer, Long> notes = new TreeMap<>();
    private Path base;
    private int generation;
    final AtomicLong installs = new AtomicLong();
    /** When the last {@link #load} started and ended (System.nanoTime), for the profile. */
    volatile long lastLoadStart;
    volatile long lastLoadEnd;

    BlockState(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.overlay = Files.createDirectories(dir.resolve("overlay"));
    }

    static byte[] fill(int key, long seed, int len) {
        return ByteBuffer.allocate(17).put(FILL).putInt(key).putLong(seed).putInt(len).array();
    }

    static byte[] note(int key, long delta) {
        return ByteBuffer.allocate(13).put(NOTE).putInt(key).putLong(delta).array();
    }

    static byte[] nop() {
        return new byte[] {NOP};
    }

    /** Applies one command; returns a short result. */
    synchronized byte[] apply(byte[] command) {
        if (command.length == 0) {
            return new byte[0];
        }
        ByteBuffer b = ByteBuffer.wrap(command);
        try {
            switch (b.get()) {
                case FILL -> {
                    int key = b.getInt();
                    long seed = b.getLong();
                    int len = b.getInt();
                    byte[] data = generate(seed, len);
                    byte[] sha = MessageDigest.getInstance("SHA-256").digest(data);
                    Files.write(overlay.resolve("b-" + key), data);
                    blocks.put(key, new Block(len, sha, -1));
                }
                case NOTE -> notes.merge(b.getInt(), b.getLong(), Long::sum);
                default -> {
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException("applying a command failed", e);
        }
        return new byte[] {1};
    }

    static byte[] generate(long seed, int len) {
        byte[] out = new byte[len];
        ByteBuffer bb = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom r = new SplittableRandom(seed);
        while (bb.remaining() >= 8) {
            bb.putLong(r.nextLong());
        }
        while (bb.hasRemaining()) {
            bb.put((byte) r.nextInt());
        }
        return out;
    }

    private byte[] header() {
        try {
            java.io.ByteArrayOutputStream bos = new java.io.ByteArrayOutputStream(64 + blocks.size() * 40
                    + notes.size() * 12);
            DataOutputStream out = new DataOutputStream(bos);
            out.write(MAGIC);
            out.writeInt(blocks.size());
            for (Map.Entry<Integer, Block> e : blocks.entrySet()) {
                out.writeInt(e.getKey());
                out.writeInt(e.getValue().len());
                out.write(e.getValue().sha());
            }
            out.writeInt(notes.size());
            for (Map.Entry<Integer, Long> e : notes.entrySet()) {
                out.writeInt(e.getKey());
                out.writeLong(e.getValue());
            }
            out.flush();
            return bos.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SHA-256 of the state's header (every block's hash and every counter), with the counts. */
    synchronized String digest() {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(header())).substring(0, 16)
                    + "/" + blocks.size() + "b/" + notes.size() + "n";
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    synchronized long bytes() {
        return blocks.values().stream().mapToLong(Block::len).sum();
    }

    /** Writes the snapshot file (header, then every block in key order). */
    synchronized void writeSnapshot(Path file) throws IOException {
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             FileChannel baseCh = base == null ? null : FileChannel.open(base, StandardOpenOption.READ)) {
            ByteBuffer h = ByteBuffer.wrap(header());
            while (h.hasRemaining()) {
                out.write(h);
            }
            for (Map.Entry<Integer, Block> e : blocks.entrySet()) {
                Block bl = e.getValue();
                if (bl.inBase()) {
                    transfer(baseCh, bl.baseOffset(), bl.len(), out);
                } else {
                    try (FileChannel in = FileChannel.open(overlay.resolve("b-" + e.getKey()),
                            StandardOpenOption.READ)) {
                        transfer(in, 0, bl.len(), out);
                    }
                }
            }
            out.force(false);
        }
    }

    private static void transfer(FileChannel in, long pos, long len, FileChannel out) throws IOException {
        long done = 0;
        while (done < len) {
            long n = in.transferTo(pos + done, len - done, out);
            if (n <= 0) {
                throw new IOException("short read at " + (pos + done));
            }
            done += n;
        }
    }

    /**
     * Replaces the state with the snapshot file's: the file is hard-linked (copied if it cannot
     * be) into the state directory as the new base, the header read, the old overlay dropped.
     */
    synchronized void load(Path file) throws IOException {
        lastLoadStart = System.nanoTime();
        Path next = dir.resolve("base-" + (++generation) + ".bin");
        Files.deleteIfExists(next);
        try {
            Files.createLink(next, file);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(file, next, StandardCopyOption.REPLACE_EXISTING);
        }
        TreeMap<Integer, Block> fresh = new TreeMap<>();
        TreeMap<Integer, Long> freshNotes = new TreeMap<>();
        try (InputStream is = Files.newInputStream(next);
             DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(is, 1 << 16))) {
            byte[] magic = in.readNBytes(MAGIC.length);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                throw new IOException("not a benchmark snapshot: " + file);
            }
            int n = in.readInt();
            int[] keys = new int[n];
            int[] lens = new int[n];
            byte[][] shas = new byte[n][];
            for (int i = 0; i < n; i++) {
                keys[i] = in.readInt();
                lens[i] = in.readInt();
                shas[i] = in.readNBytes(32);
            }
            int m = in.readInt();
            for (int i = 0; i < m; i++) {
                freshNotes.put(in.readInt(), in.readLong());
            }
            long offset = MAGIC.length + 4 + n * 40L + 4 + m * 12L;
            for (int i = 0; i < n; i++) {
                fresh.put(keys[i], new Block(lens[i], shas[i], offset));
                offset += lens[i];
            }
            if (offset != Files.size(next)) {
                throw new IOException("snapshot " + file + " is " + Files.size(next) + " bytes, its header says "
                        + offset);
            }
        }
        Path old = base;
        base = next;
        blocks.clear();
        blocks.putAll(fresh);
        notes.clear();
        notes.putAll(freshNotes);
        try (var s = Files.list(overlay)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
        }
        if (old != null && !old.equals(next)) {
            Files.deleteIfExists(old);
        }
        installs.incrementAndGet();
        lastLoadEnd = System.nanoTime();
    }

    /** Re-reads every block and checks it against its recorded SHA-256; returns the mismatches. */
    synchronized int verify() throws Exception {
        int bad = 0;
        byte[] buf = new byte[1 << 20];
        for (Map.Entry<Integer, Block> e : blocks.entrySet()) {
            Block bl = e.getValue();
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            try (FileChannel in = FileChannel.open(bl.inBase() ? base : overlay.resolve("b-" + e.getKey()))) {
                long pos = bl.inBase() ? bl.baseOffset() : 0;
                long left = bl.len();
                while (left > 0) {
                    ByteBuffer bb = ByteBuffer.wrap(buf, 0, (int) Math.min(buf.length, left));
                    int n = in.read(bb, pos);
                    if (n <= 0) {
                        throw new IOException("short block " + e.getKey());
                    }
                    sha.update(buf, 0, n);
                    pos += n;
                    left -= n;
                }
            }
            if (!java.util.Arrays.equals(sha.digest(), bl.sha())) {
                bad++;
            }
        }
        return bad;
    }
}
