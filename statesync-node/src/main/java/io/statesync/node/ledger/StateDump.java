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
 * The canonical dump of a thread's state, identical on every node that holds the same state:
 * <ul>
 *   <li>{@code head.bin}: the encoded last applied block ({@link BlockCodec});</li>
 *   <li>{@code state.bin}: every account and data entry in RocksDB key order, each as
 *       {@code u16 keyLength | key | u32 valueLength | value}, big-endian, nothing else.</li>
 * </ul>
 */
final class StateDump {
    static final String HEAD_FILE = "head.bin";
    static final String STATE_FILE = "state.bin";
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

    /**
     * Streams the entries of a {@code state.bin}, checking each one's framing, lengths and that
     * keys strictly increase. Holds one entry in memory at a time.
     */
    static final class EntryReader implements Closeable {
        private final InputStream in;
        private long offset;
        private byte[] key;
        private byte[] value;
        private byte[] previousKey;

        EntryReader(Path file) throws IOException {
            this.in = new BufferedInputStream(Files.newInputStream(file), BUFFER);
        }

        /** Advances to the next entry; false at a clean end of file. */
        boolean next() throws IOException, MalformedException {
            long entryStart = offset;
            int first = in.read();
            if (first < 0) {
                return false;
            }
            offset++;
            int keyLength = (first << 8) | readByte();
            if (keyLength < 1 || keyLength > StateLayout.MAX_DATA_KEY_LENGTH) {
                throw error("key of " + keyLength + " bytes at byte " + entryStart + ", must be 1 to "
                        + StateLayout.MAX_DATA_KEY_LENGTH);
            }
            byte[] k = readBytes(keyLength);
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
            if (previousKey != null && Arrays.compareUnsigned(previousKey, k) >= 0) {
                throw error("key at byte " + entryStart + " is not greater than the previous key");
            }
            previousKey = k;
            key = k;
            value = v;
            return true;
        }

        byte[] key() {
            return key;
        }

        byte[] value() {
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

        private static MalformedException error(String reason) {
            return new MalformedException(STATE_FILE + ": " + reason);
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
