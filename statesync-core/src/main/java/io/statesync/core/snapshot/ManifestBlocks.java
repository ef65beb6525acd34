package io.statesync.core.snapshot;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.core.cid.Codec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A manifest as IPFS blocks, each at most 1 MiB (the largest block an IPFS node accepts). A
 * manifest whose canonical encoding fits is its own root block, exactly as before. A larger
 * one is cut into raw blocks of 1 MiB and the root block lists them:
 * {@code {"parts":[{"/":cid},...],"size":N,"type":"statesync-manifest-parts"}}. A reader
 * verifies every part against its CID, joins them and decodes the whole with
 * {@link ManifestCodec}'s limits. One level suffices: a root of 1 MiB lists about 13 000 parts,
 * 13 GiB of manifest, far beyond {@link ManifestLimits#maxManifestBytes()}.
 */
public final class ManifestBlocks {
    /** The largest block: 1 MiB. */
    public static final int MAX_BLOCK = 1 << 20;
    private static final String TYPE = "statesync-manifest-parts";
    private static final byte[] SPLIT_PREFIX = "{\"parts\":".getBytes(StandardCharsets.US_ASCII);
    private static final JsonFactory JSON = JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    private ManifestBlocks() {
    }

    /** The root block and, for a manifest over 1 MiB, its parts in order. */
    public record Encoded(byte[] root, List<byte[]> parts) {
        public Cid rootCid() {
            return Cid.compute(Codec.DAG_JSON, root);
        }
    }

    /** What a root block says: the whole manifest, or the parts that hold it. */
    public sealed interface Root {
    }

    /** A root that is the manifest itself. */
    public record Whole(Manifest manifest) implements Root {
    }

    /** A root that lists the raw blocks holding the manifest's encoding, {@code size} bytes in all. */
    public record Split(List<Cid> parts, long size) implements Root {
        public Split {
            parts = List.copyOf(parts);
        }
    }

    /** Cuts the canonical encoding of {@code m} into blocks. */
    public static Encoded encode(Manifest m) {
        return split(ManifestCodec.encode(m));
    }

    static Encoded split(byte[] whole) {
        if (whole.length <= MAX_BLOCK) {
            return new Encoded(whole, List.of());
        }
        List<byte[]> parts = new ArrayList<>();
        for (int off = 0; off < whole.length; off += MAX_BLOCK) {
            parts.add(Arrays.copyOfRange(whole, off, Math.min(whole.length, off + MAX_BLOCK)));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 + parts.size() * 70);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeArrayFieldStart("parts");
            for (byte[] p : parts) {
                g.writeStartObject();
                g.writeStringField("/", Cid.compute(Codec.RAW, p).toString());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeNumberField("size", whole.length);
            g.writeStringField("type", TYPE);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Encoded(out.toByteArray(), parts);
    }

    /**
     * Reads a root block, whose bytes the caller has checked against the root CID.
     *
     * @throws ManifestException when it is neither a valid manifest nor a valid parts list
     */
    public static Root decodeRoot(byte[] root, ManifestLimits limits) throws ManifestException {
        if (!startsWith(root, SPLIT_PREFIX)) {
            return new Whole(ManifestCodec.decode(root, limits));
        }
        if (root.length > MAX_BLOCK) {
            throw new ManifestException("manifest parts list is " + root.length + " bytes, over the block limit of " + MAX_BLOCK);
        }
        List<Cid> parts = new ArrayList<>();
        Long size = null;
        String type = null;
        try (JsonParser p = JSON.createParser(root)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new ManifestException("manifest parts list must be a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                JsonToken t = p.nextToken();
                switch (key) {
                    case "parts" -> {
                        if (t != JsonToken.START_ARRAY) {
                            throw new ManifestException("manifest parts must be an array of links");
                        }
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            if (p.nextToken() != JsonToken.FIELD_NAME || !"/".equals(p.currentName())
                                    || p.nextToken() != JsonToken.VALUE_STRING) {
                                throw new ManifestException("manifest parts[" + parts.size() + "] must be a link {\"/\": \"<cid>\"}");
                            }
                            Cid cid = Cid.parse(p.getText());
                            if (cid.codec() != Codec.RAW) {
                                throw new ManifestException("manifest parts[" + parts.size() + "] must be a raw block");
                            }
                            parts.add(cid);
                            if (p.nextToken() != JsonToken.END_OBJECT) {
                                throw new ManifestException("manifest parts[" + (parts.size() - 1) + "] must have the single key \"/\"");
                            }
                        }
                    }
                    case "size" -> {
                        if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                            throw new ManifestException("manifest parts size must be an integer");
                        }
                        size = p.getLongValue();
                    }
                    case "type" -> type = t == JsonToken.VALUE_STRING ? p.getText() : null;
                    default -> throw new ManifestException("manifest parts list has unknown field \"" + key + "\"");
                }
            }
        } catch (CidFormatException e) {
            throw new ManifestException("manifest parts list: " + e.getMessage());
        } catch (IOException e) {
            throw new ManifestException("manifest parts list is not valid JSON: " + e.getMessage(), e);
        }
        if (!TYPE.equals(type) || size == null || parts.isEmpty()) {
            throw new ManifestException("manifest parts list needs parts, size and type \"" + TYPE + "\"");
        }
        if (size > limits.maxManifestBytes() || size < 1) {
            throw new ManifestException("manifest is " + size + " bytes, over the limit of " + limits.maxManifestBytes());
        }
        long expectedParts = (size + MAX_BLOCK - 1) / MAX_BLOCK;
        if (parts.size() != expectedParts) {
            throw new ManifestException("a manifest of " + size + " bytes has " + expectedParts + " parts of 1 MiB, the list names "
                    + parts.size());
        }
        return new Split(parts, size);
    }

    /** Size part {@code i} of a split manifest must have. */
    public static int partLength(Split s, int i) {
        return (int) Math.min(MAX_BLOCK, s.size() - (long) i * MAX_BLOCK);
    }

    /**
     * Joins parts (each already checked against its CID by the caller) and decodes the manifest.
     */
    public static Manifest join(Split s, List<byte[]> parts, ManifestLimits limits) throws ManifestException {
        byte[] whole = new byte[Math.toIntExact(s.size())];
        int off = 0;
        for (int i = 0; i < parts.size(); i++) {
            byte[] p = parts.get(i);
            if (p.length != partLength(s, i)) {
                throw new ManifestException("manifest part " + i + " is " + p.length + " bytes, expected " + partLength(s, i));
            }
            System.arraycopy(p, 0, whole, off, p.length);
            off += p.length;
        }
        return ManifestCodec.decode(whole, limits);
    }

    private static boolean startsWith(byte[] b, byte[] prefix) {
        return b.length >= prefix.length && Arrays.equals(b, 0, prefix.length, prefix, 0, prefix.length);
    }
}
