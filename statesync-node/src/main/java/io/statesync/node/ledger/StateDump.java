package io.statesync.node.ledger;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.UUID;

/**
 * The canonical dump of a thread's state, identical on every node that holds the same state and
 * the same base:
 * <ul>
 *   <li>{@code head.bin}: the encoded last applied block ({@link BlockCodec});</li>
 *   <li>{@code state.bin}: every account and data entry in RocksDB key order, each as
 *       {@code u16 keyLength | key | u32 valueLength | value}, big-endian, nothing else. In a
 *       layered dump this is the state of an earlier block, the <em>base</em>, byte for byte the
 *       {@code state.bin} of that block's own full dump;</li>
 *   <li>{@code overlay.bin}, only in a layered dump: what changed from the base to the head.
 *       {@code "SSOV" | u8 version (1) | u64 baseHeight | 32-byte base block id}, then in key
 *       order {@code u8 op | u16 keyLength | key} followed, for a put (op 1), by
 *       {@code u32 valueLength | value}; op 0 deletes the base's entry.</li>
 * </ul>
 * The state of a layered dump is the base with the overlay applied; see {@link MergedReader}.
 */
final class StateDump {
    static final String HEAD_FILE = "head.bin";
    static final String STATE_FILE = "state.bin";
    static final String OVERLAY_FILE = "overlay.bin";
    private static final byte[] OVERLAY_MAGIC = {'S', 'S', 'O', 'V'};
    private static final int OVERLAY_VERSION = 1;
    private static final int OP_DELETE = 0;
    private static final int OP_PUT = 1;
    private static final int BUFFER = 1 << 20;

    private StateDump() {}

    @FunctionalInterface
    interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    /**
     * Writes {@code target} through a temp file in the same directory, fsynced and renamed into
     * place, so a partial file never carries the final name.
     */
    static void writeAtomically(Path target, Content content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path temp = dir.resolve(target.getFileName() + ".tmp-" + UUID.randomUUID());
        try {
            try (FileOutputStream file = new FileOutputStream(temp.toFile());
                    BufferedOutputStream out = new BufferedOutputStream(file, BUFFER)) {
                content.writeTo(out);
                out.flush();
                file.getChannel().force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
        syncDirectory(dir);
    }

    /** Makes a rename durable; some platforms cannot open a directory, and then it is skipped. */
    static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Not supported here (e.g. Windows); the file itself is already fsynced.
        }
    }

    static void writeEntry(DataOutputStream out, byte[] key, byte[] value) throws IOException {
        out.writeShort(key.length);
        out.write(key);
        out.writeInt(value.length);
        out.write(value);
    }

    static void writeOverlayHeader(DataOutputStream out, long baseHeight, BlockId baseBlock) throws IOException {
        out.write(OVERLAY_MAGIC);
        out.writeByte(OVERLAY_VERSION);
        out.writeLong(baseHeight);
        out.write(baseBlock.raw());
    }

    /** An overlay record that replaces or adds the entry {@code key}; returns the bytes written. */
    static long writePut(DataOutputStream out, byte[] key, byte[] value) throws IOException {
        out.writeByte(OP_PUT);
        writeEntry(out, key, value);
        return 1L + 2 + key.length + 4 + value.length;
    }

    /** An overlay record that removes the base's entry {@code key}; returns the bytes written. */
    static long writeDelete(DataOutputStream out, byte[] key) throws IOException {
        out.writeByte(OP_DELETE);
        out.writeShort(key.length);
        out.write(key);
        return 1L + 2 + key.length;
    }

    /** A stream of entries in strictly increasing key order. */
    interface Entries extends Closeable {
        /** Advances to the next entry; false at the end. */
        boolean next() throws IOException, MalformedException;

        byte[] key();

        byte[] value();
    }

    /** Opens the state a dump holds: its {@code state.bin}, with its {@code overlay.bin} applied if it has one. */
    static Entries open(Path dumpDir) throws IOException, MalformedException {
        Path overlay = dumpDir.resolve(OVERLAY_FILE);
        EntryReader base = new EntryReader(dumpDir.resolve(STATE_FILE));
        if (!Files.exists(overlay)) {
            return base;
        }
        try {
            return new MergedReader(base, EntryReader.overlay(overlay));
        } catch (IOException | MalformedException | RuntimeException e) {
            base.close();
            throw e;
        }
    }

    /**
     * Reads the base of a layered dump with its overlay applied: one ordered stream of the head's
     * entries. An overlay that deletes an entry the base lacks is malformed.
     */
    static final class MergedReader implements Entries {
        private final EntryReader base;
        private final EntryReader overlay;
        private boolean baseHas;
        private boolean overlayHas;
        private byte[] key;
        private byte[] value;

        MergedReader(EntryReader base, EntryReader overlay) throws IOException, MalformedException {
            this.base = base;
            this.overlay = overlay;
            baseHas = base.next();
            overlayHas = overlay.next();
        }

        @Override
        public boolean next() throws IOException, MalformedException {
            while (baseHas || overlayHas) {
                int order = !overlayHas ? -1 : !baseHas ? 1 : Arrays.compareUnsigned(base.key(), overlay.key());
                if (order < 0) {
                    key = base.key();
                    value = base.value();
                    baseHas = base.next();
                    return true;
                }
                byte[] changed = overlay.value();
                byte[] changedKey = overlay.key();
                if (order == 0) {
                    baseHas = base.next();
                } else if (changed == null) {
                    throw new MalformedException(OVERLAY_FILE + ": deletes a key the base does not hold");
                }
                overlayHas = overlay.next();
                if (changed != null) {
                    key = changedKey;
                    value = changed;
                    return true;
                }
            }
            return false;
        }

        @Override
        public byte[] key() {
            return key;
        }

        @Override
        public byte[] value() {
            return value;
        }

        @Override
        public void close() throws IOException {
            try {
                base.close();
            } finally {
                overlay.close();
            }
        }
    }

    /** The base an overlay names in its header. */
    record OverlayBase(long height, BlockId block) {}

    /** Reads an overlay's header: which base it was laid over. */
    static OverlayBase readOverlayBase(Path overlay) throws IOException, MalformedException {
        try (EntryReader reader = EntryReader.overlay(overlay)) {
            return reader.base;
        }
    }

    /**
     * Streams the entries of a {@code state.bin}, or the records of an {@code overlay.bin} (a
     * deletion reads as a null value), checking each one's framing, lengths and that keys strictly
     * increase. Holds one entry in memory at a time.
     */
    static final class EntryReader implements Entries {
        private final InputStream in;
        private final boolean overlay;
        private final String name;
        private OverlayBase base;
        private long offset;
        private byte[] key;
        private byte[] value;
        private byte[] previousKey;

        EntryReader(Path file) throws IOException {
            this(Files.newInputStream(file), false);
        }

        /** Reads a {@code state.bin} from a stream it closes. */
        EntryReader(InputStream stream) {
            this(stream, false);
        }

        private EntryReader(InputStream stream, boolean overlay) {
            this.in = new BufferedInputStream(stream, BUFFER);
            this.overlay = overlay;
            this.name = overlay ? OVERLAY_FILE : STATE_FILE;
        }

        /** Opens an {@code overlay.bin} and reads its header. */
        static EntryReader overlay(Path file) throws IOException, MalformedException {
            EntryReader reader = new EntryReader(Files.newInputStream(file), true);
            try {
                reader.readHeader();
                return reader;
            } catch (IOException | MalformedException | RuntimeException e) {
                reader.close();
                throw e;
            }
        }

        private void readHeader() throws IOException, MalformedException {
            byte[] magic = readBytes(OVERLAY_MAGIC.length);
            if (!Arrays.equals(magic, OVERLAY_MAGIC)) {
                throw error("not an overlay (bad magic)");
            }
            int version = readByte();
            if (version != OVERLAY_VERSION) {
                throw error("overlay version " + version + ", this node reads " + OVERLAY_VERSION);
            }
            long height = 0;
            for (int i = 0; i < 8; i++) {
                height = (height << 8) | readByte();
            }
            if (height < 0) {
                throw error("negative base height");
            }
            base = new OverlayBase(height, BlockId.of(readBytes(BlockId.LENGTH)));
        }

        /** Advances to the next entry; false at a clean end of file. */
        @Override
        public boolean next() throws IOException, MalformedException {
            long entryStart = offset;
            int first = in.read();
            if (first < 0) {
                return false;
            }
            offset++;
            boolean put = true;
            if (overlay) {
                if (first != OP_PUT && first != OP_DELETE) {
                    throw error("unknown record type " + first + " at byte " + entryStart);
                }
                put = first == OP_PUT;
                first = readByte();
            }
            int keyLength = (first << 8) | readByte();
            if (keyLength < 1 || keyLength > StateLayout.MAX_DATA_KEY_LENGTH) {
                throw error("key of " + keyLength + " bytes at byte " + entryStart + ", must be 1 to "
                        + StateLayout.MAX_DATA_KEY_LENGTH);
            }
            byte[] k = readBytes(keyLength);
            if (!put) {
                String invalid = StateLayout.invalidKey(k);
                if (invalid != null) {
                    throw error(invalid + " at byte " + entryStart);
                }
                return advanceTo(k, null, entryStart);
            }
            long valueLength = 0;
            for (int i = 0; i < 4; i++) {
                valueLength = (valueLength << 8) | readByte();
            }
            if (valueLength > Transaction.MAX_VALUE_LENGTH) {
                throw error("value of " + valueLength + " bytes at byte " + entryStart + " exceeds "
                        + Transaction.MAX_VALUE_LENGTH);
            }
            byte[] v = readBytes((int) valueLength);
            String invalid = StateLayout.invalidEntry(k, v);
            if (invalid != null) {
                throw error(invalid + " at byte " + entryStart);
            }
            return advanceTo(k, v, entryStart);
        }

        private boolean advanceTo(byte[] k, byte[] v, long entryStart) throws MalformedException {
            if (previousKey != null && Arrays.compareUnsigned(previousKey, k) >= 0) {
                throw error("key at byte " + entryStart + " is not greater than the previous key");
            }
            previousKey = k;
            key = k;
            value = v;
            return true;
        }

        @Override
        public byte[] key() {
            return key;
        }

        /** The entry's value; null for an overlay's deletion. */
        @Override
        public byte[] value() {
            return value;
        }

        private int readByte() throws IOException, MalformedException {
            int b = in.read();
            if (b < 0) {
                throw error("truncated at byte " + offset);
            }
            offset++;
            return b;
        }

        private byte[] readBytes(int n) throws IOException, MalformedException {
            byte[] out = new byte[n];
            int got = in.readNBytes(out, 0, n);
            offset += got;
            if (got < n) {
                throw error("truncated at byte " + offset);
            }
            return out;
        }

        private MalformedException error(String reason) {
            return new MalformedException(name + ": " + reason);
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
