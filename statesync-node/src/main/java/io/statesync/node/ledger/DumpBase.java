package io.statesync.node.ledger;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The {@code state.bin} of an earlier full dump, kept so that later dumps can be laid over it
 * (see {@link Capture#writeTo(Path, DumpBase)}): the state of block {@code block} at
 * {@code height}, and the SHA-256 of the file as it was kept, so that a kept file damaged on
 * disk is noticed and not used.
 */
public record DumpBase(Path stateFile, long height, BlockId block, byte[] sha256) {
    public DumpBase {
        if (height < 0) {
            throw new IllegalArgumentException("negative height " + height);
        }
        if (sha256.length != 32) {
            throw new IllegalArgumentException("a SHA-256 digest has 32 bytes, not " + sha256.length);
        }
        sha256 = sha256.clone();
    }

    @Override
    public byte[] sha256() {
        return sha256.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DumpBase b && stateFile.equals(b.stateFile) && height == b.height && block.equals(b.block)
                && Arrays.equals(sha256, b.sha256);
    }

    @Override
    public int hashCode() {
        return stateFile.hashCode() * 31 + Long.hashCode(height);
    }

    @Override
    public String toString() {
        return "DumpBase[" + stateFile + ", height " + height + ", block " + block.hex() + ", sha256 "
                + HexFormat.of().formatHex(sha256) + "]";
    }
}
