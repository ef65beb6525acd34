package io.statesync.node.ledger;

/** The 32-byte commitment to a thread's whole state: the digest of its {@link LtHash}. */
public final class StateRoot extends Digest32 {
    public static final int LENGTH = Digest32.LENGTH;

    private StateRoot(byte[] digest) {
        super(digest);
    }

    public static StateRoot of(byte[] digest) {
        return new StateRoot(checked("state root", digest));
    }

    public static StateRoot fromHex(String hex) {
        return new StateRoot(Bytes.fromHex("state root", hex, LENGTH));
    }
}
