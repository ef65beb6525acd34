package io.statesync.node.ledger;

/** A block's content address: SHA-256 of its encoding ({@link BlockCodec}). */
public final class BlockId extends Digest32 {
    public static final int LENGTH = Digest32.LENGTH;

    /** The parent of every genesis block. */
    public static final BlockId ZERO = new BlockId(new byte[LENGTH]);

    private BlockId(byte[] digest) {
        super(digest);
    }

    public static BlockId of(byte[] digest) {
        return new BlockId(checked("block id", digest));
    }

    public static BlockId fromHex(String hex) {
        return new BlockId(Bytes.fromHex("block id", hex, LENGTH));
    }
}
