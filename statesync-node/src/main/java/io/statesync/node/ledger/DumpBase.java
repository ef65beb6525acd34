package io.statesync.node.ledger;

import java.nio.file.Path;

/**
 * The {@code state.bin} of an earlier full dump, kept so that later dumps can be laid over it
 * (see {@link Capture#writeTo(Path, DumpBase)}): the state of block {@code block} at
 * {@code height}, and the CRC-32C of the file as it was kept, so that a kept file damaged on disk
 * is noticed and not used. (A checksum, not a hash: the file is this node's own, and the
 * states made from it are checked against their block's root wherever they are installed.)
 */
public record DumpBase(Path stateFile, long height, BlockId block, long crc32c) {
    public DumpBase {
        if (height < 0) {
            throw new IllegalArgumentException("negative height " + height);
        }
    }

    /** The CRC-32C of a file, streamed (hardware-assisted: gigabytes per second). */
    public static long crc32c(Path file) throws java.io.IOException {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        byte[] buffer = new byte[1 << 20];
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                crc.update(buffer, 0, n);
            }
        }
        return crc.getValue();
    }
}
