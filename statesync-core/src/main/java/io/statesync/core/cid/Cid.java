package io.statesync.core.cid;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Objects;

/**
 * A content address: CIDv1, multihash sha2-256, rendered in multibase base32 lower case
 * ({@code b...}). For {@link Codec#RAW} this equals the CID IPFS gives the same bytes as a raw
 * block. Instances are immutable and compare by value.
 */
public final class Cid implements Comparable<Cid> {
    /** The multihash code of sha2-256. */
    static final int SHA2_256 = 0x12;
    /** Length in bytes of a sha2-256 digest. */
    public static final int DIGEST_LENGTH = 32;

    private final Codec codec;
    private final byte[] digest;

    /**
     * Only the codec and digest are kept, and the text form is made when asked for: a manifest of
     * a million chunks holds a million CIDs, and a cached text form more than doubled each one
     * (72 bytes of heap instead of about 176), which is what kept the largest allowed manifest
     * from being fetched in a 256 MiB heap.
     */
    private Cid(Codec codec, byte[] digest) {
        this.codec = codec;
        this.digest = digest;
    }

    /** The CID of a sha2-256 digest already computed over content of the given codec. */
    public static Cid of(Codec codec, byte[] sha256Digest) {
        Objects.requireNonNull(codec, "codec");
        if (sha256Digest.length != DIGEST_LENGTH) {
            throw new CidFormatException("sha2-256 digest must be 32 bytes, got " + sha256Digest.length);
        }
        return new Cid(codec, sha256Digest.clone());
    }

    /** Hashes {@code content} and returns its CID. */
    public static Cid compute(Codec codec, byte[] content) {
        MessageDigest md = newDigest();
        return new Cid(codec, md.digest(content));
    }

    /** A fresh sha2-256 digest, the one hash function CIDs here use. */
    public static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /**
     * Parses the text form. Rejects, with a message saying why: other multibases, CIDv0,
     * unknown codecs, hashes other than sha2-256, truncated or trailing bytes, non-canonical
     * base32.
     */
    public static Cid parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new CidFormatException("empty CID");
        }
        if (text.length() > 128) {
            throw new CidFormatException("CID too long (" + text.length() + " characters)");
        }
        if (text.startsWith("Qm") && text.length() == 46) {
            throw new CidFormatException("CIDv0 is not supported, use the CIDv1 base32 form: " + text);
        }
        if (text.charAt(0) != 'b') {
            throw new CidFormatException("unsupported multibase prefix '" + printable(text.charAt(0))
                    + "': only base32 lower case ('b') is accepted");
        }
        byte[] bytes = Base32.decode(text, 1);
        return fromBytes(bytes);
    }

    /** Parses the binary form (version, codec, multihash), rejecting trailing bytes. */
    public static Cid fromBytes(byte[] bytes) {
        int[] pos = {0};
        long version = Varint.read(bytes, pos);
        if (version != 1) {
            throw new CidFormatException("unsupported CID version " + version + ": only CIDv1 is accepted");
        }
        long codecCode = Varint.read(bytes, pos);
        Codec codec = Codec.ofCode(codecCode);
        if (codec == null) {
            throw new CidFormatException("unsupported codec 0x" + Long.toHexString(codecCode)
                    + ": only raw (0x55) and dag-json (0x129) are accepted");
        }
        long hashCode = Varint.read(bytes, pos);
        if (hashCode != SHA2_256) {
            throw new CidFormatException("unsupported multihash 0x" + Long.toHexString(hashCode)
                    + ": only sha2-256 (0x12) is accepted");
        }
        long length = Varint.read(bytes, pos);
        if (length != DIGEST_LENGTH) {
            throw new CidFormatException("sha2-256 digest length must be 32, got " + length);
        }
        int remaining = bytes.length - pos[0];
        if (remaining < DIGEST_LENGTH) {
            throw new CidFormatException("truncated CID: digest has " + remaining + " of 32 bytes");
        }
        if (remaining > DIGEST_LENGTH) {
            throw new CidFormatException("CID has " + (remaining - DIGEST_LENGTH) + " trailing bytes");
        }
        return new Cid(codec, Arrays.copyOfRange(bytes, pos[0], bytes.length));
    }

    /** The binary form: varint version, varint codec, multihash. */
    public byte[] toBytes() {
        byte[] out = new byte[1 + Varint.size(codec.code()) + 2 + DIGEST_LENGTH];
        int p = 0;
        out[p++] = 1;
        p = Varint.write(codec.code(), out, p);
        out[p++] = SHA2_256;
        out[p++] = DIGEST_LENGTH;
        System.arraycopy(digest, 0, out, p, DIGEST_LENGTH);
        return out;
    }

    public Codec codec() {
        return codec;
    }

    /** A copy of the sha2-256 digest. */
    public byte[] digest() {
        return digest.clone();
    }

    /** True if {@code sha256Digest} is this CID's digest. Constant time. */
    public boolean matches(byte[] sha256Digest) {
        return MessageDigest.isEqual(digest, sha256Digest);
    }

    @Override
    public String toString() {
        return "b" + Base32.encode(toBytes());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cid other && other.codec == codec && Arrays.equals(other.digest, digest);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(digest);
    }

    @Override
    public int compareTo(Cid o) {
        // The text order, which base32's alphabet (letters before digits) makes differ from the bytes'.
        return toString().compareTo(o.toString());
    }

    private static String printable(char c) {
        return c < 0x20 || c > 0x7e ? String.format("\\u%04x", (int) c) : String.valueOf(c);
    }
}
