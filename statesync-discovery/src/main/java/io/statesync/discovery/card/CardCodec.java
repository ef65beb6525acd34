package io.statesync.discovery.card;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.discovery.card.CardException.Reason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The wire form of a signed card: {@code "SSC1"}, a 4-byte big-endian length, the card as
 * canonical JSON (sorted keys), then the 64-byte Ed25519 signature of exactly those JSON bytes.
 * Decoding bounds the size first, then parses with limits, checks that the id is the key's
 * fingerprint, verifies the signature, the expiry and, if configured, that the key is accepted.
 */
public final class CardCodec {
    /**
     * The furthest in the future a card may expire. A node re-signs its card every few minutes
     * (its TTL is 10 minutes by default); a card valid for years would let a key that has since
     * been distrusted or lost keep its advertisements alive in every catalog.
     */
    public static final java.time.Duration MAX_LIFETIME = java.time.Duration.ofDays(1);

    /** Default upper bound of an encoded card. */
    public static final int DEFAULT_MAX_BYTES = 16 * 1024;
    private static final byte[] MAGIC = "SSC1".getBytes(StandardCharsets.US_ASCII);
    private static final int SIGNATURE_BYTES = 64;
    /** The most entries a card's lists (snapshots, groups, share URLs) may have; decoding refuses more. */
    public static final int MAX_LIST = 256;
    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(5).maxStringLength(4096).maxNumberLength(20).build())
            .build();

    private CardCodec() {
    }

    /** Signs and encodes a card; the card's id and key must be the identity's. */
    public static byte[] encode(NodeCard card, NodeIdentity identity) {
        if (!card.id().equals(identity.id()) || !card.key().equals(identity.publicKey())) {
            throw new IllegalArgumentException("a card can only be signed by its own node's identity");
        }
        byte[] json = json(card);
        byte[] sig = identity.sign(json);
        return ByteBuffer.allocate(MAGIC.length + 4 + json.length + sig.length)
                .put(MAGIC).putInt(json.length).put(json).put(sig).array();
    }

    /**
     * Decodes and verifies a card.
     *
     * @param accepted node ids whose cards are accepted at all, or null to accept any valid signer
     * @throws CardException saying why the card is refused
     */
    public static NodeCard decode(byte[] bytes, int maxBytes, Set<NodeId> accepted, Instant now) throws CardException {
        if (bytes.length > maxBytes) {
            throw new CardException(Reason.OVERSIZE, "card of " + bytes.length + " bytes, over the limit of " + maxBytes);
        }
        if (bytes.length < MAGIC.length + 4 + SIGNATURE_BYTES || !ByteBuffer.wrap(bytes, 0, 4).equals(ByteBuffer.wrap(MAGIC))) {
            throw new CardException(Reason.MALFORMED, "not a Statesync card (bad magic or too short)");
        }
        int jsonLength = ByteBuffer.wrap(bytes, 4, 4).getInt();
        if (jsonLength < 2 || jsonLength != bytes.length - 8 - SIGNATURE_BYTES) {
            throw new CardException(Reason.MALFORMED, "card length field " + jsonLength + " does not match its size");
        }
        byte[] json = java.util.Arrays.copyOfRange(bytes, 8, 8 + jsonLength);
        byte[] sig = java.util.Arrays.copyOfRange(bytes, 8 + jsonLength, bytes.length);
        NodeCard card = parse(json);
        if (!NodeId.of(card.key()).equals(card.id())) {
            throw new CardException(Reason.ID_MISMATCH, "card claims id " + card.id() + " but its key's id is " + NodeId.of(card.key()));
        }
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initVerify(card.key());
            s.update(json);
            if (!s.verify(sig)) {
                throw new CardException(Reason.BAD_SIGNATURE, "card of " + card.id() + " has a signature that does not verify");
            }
        } catch (GeneralSecurityException e) {
            throw new CardException(Reason.BAD_SIGNATURE, "card of " + card.id() + " cannot be verified: " + e.getMessage());
        }
        if (card.expiredAt(now)) {
            throw new CardException(Reason.EXPIRED, "card of " + card.id() + " expired at " + card.expires());
        }
        if (card.expires().isAfter(now.plus(MAX_LIFETIME))) {
            throw new CardException(Reason.EXPIRY_TOO_FAR, "card of " + card.id() + " expires at " + card.expires()
                    + ", more than " + MAX_LIFETIME.toHours() + " h ahead");
        }
        for (SnapshotAd ad : card.snapshots()) {
            String height = ad.metadata().get(SnapshotAd.HEIGHT);
            if (height != null && !height.matches("[0-9]{1,18}")) {
                throw new CardException(Reason.MALFORMED, "card of " + card.id() + " advertises snapshot " + ad.root()
                        + " at height '" + (height.length() > 20 ? height.substring(0, 20) + "..." : height)
                        + "', not a whole number of at least 0");
            }
        }
        if (accepted != null && !accepted.contains(card.id())) {
            throw new CardException(Reason.UNTRUSTED_KEY, "card of " + card.id() + " is signed by a key outside the accepted set");
        }
        return card;
    }

    private static byte[] json(NodeCard c) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeNumberField("expires", c.expires().toEpochMilli());
            g.writeArrayFieldStart("groups");
            for (String grp : c.groups()) {
                g.writeString(grp);
            }
            g.writeEndArray();
            g.writeStringField("id", c.id().value());
            g.writeStringField("key", Base64.getEncoder().encodeToString(c.key().getEncoded()));
            g.writeArrayFieldStart("shares");
            for (URI u : c.shareUrls()) {
                g.writeString(u.toString());
            }
            g.writeEndArray();
            g.writeArrayFieldStart("snapshots");
            for (SnapshotAd ad : c.snapshots()) {
                g.writeStartObject();
                g.writeObjectFieldStart("meta");
                for (Map.Entry<String, String> e : ad.metadata().entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
                g.writeStringField("root", ad.root().toString());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeNumberField("version", c.version());
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static NodeCard parse(byte[] json) throws CardException {
        try (JsonParser p = JSON.createParser(json)) {
            expect(p.nextToken() == JsonToken.START_OBJECT, "card must be a JSON object");
            Long expires = null;
            Long version = null;
            String id = null;
            String key = null;
            List<String> groups = null;
            List<URI> shares = null;
            List<SnapshotAd> snapshots = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                switch (field) {
                    case "expires" -> expires = number(p, field);
                    case "version" -> version = number(p, field);
                    case "id" -> id = text(p, field);
                    case "key" -> key = text(p, field);
                    case "groups" -> groups = strings(p, field);
                    case "shares" -> {
                        shares = new ArrayList<>();
                        for (String s : strings(p, field)) {
                            shares.add(url(s));
                        }
                    }
                    case "snapshots" -> snapshots = snapshots(p);
                    default -> throw new CardException(Reason.MALFORMED, "card has unknown field \"" + field + "\"");
                }
            }
            expect(p.nextToken() == null, "card has trailing data");
            expect(expires != null && version != null && id != null && key != null && groups != null && shares != null
                    && snapshots != null, "card lacks a field");
            NodeId nodeId;
            try {
                nodeId = new NodeId(id);
            } catch (IllegalArgumentException e) {
                throw new CardException(Reason.MALFORMED, e.getMessage());
            }
            return new NodeCard(nodeId, publicKey(key), shares, groups, snapshots, version, Instant.ofEpochMilli(expires));
        } catch (JsonProcessingException e) {
            throw new CardException(Reason.MALFORMED, "card is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new CardException(Reason.MALFORMED, "card cannot be read: " + e.getMessage());
        }
    }

    private static List<SnapshotAd> snapshots(JsonParser p) throws IOException, CardException {
        expect(p.currentToken() == JsonToken.START_ARRAY, "snapshots must be an array");
        List<SnapshotAd> out = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
            expect(out.size() < MAX_LIST, "card lists more than " + MAX_LIST + " snapshots");
            expect(p.currentToken() == JsonToken.START_OBJECT, "a snapshot must be an object");
            Cid root = null;
            Map<String, String> meta = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                switch (field) {
                    case "root" -> {
                        try {
                            root = Cid.parse(text(p, field));
                        } catch (CidFormatException e) {
                            throw new CardException(Reason.MALFORMED, "snapshot root: " + e.getMessage());
                        }
                    }
                    case "meta" -> {
                        expect(p.currentToken() == JsonToken.START_OBJECT, "snapshot meta must be an object");
                        meta = new TreeMap<>();
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String k = p.currentName();
                            p.nextToken();
                            expect(meta.size() < 64, "snapshot meta has more than 64 entries");
                            meta.put(k, text(p, k));
                        }
                    }
                    default -> throw new CardException(Reason.MALFORMED, "snapshot has unknown field \"" + field + "\"");
                }
            }
            expect(root != null && meta != null, "snapshot lacks root or meta");
            out.add(new SnapshotAd(root, meta));
        }
        return out;
    }

    private static List<String> strings(JsonParser p, String field) throws IOException, CardException {
        expect(p.currentToken() == JsonToken.START_ARRAY, field + " must be an array");
        List<String> out = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
            expect(out.size() < MAX_LIST, field + " has more than " + MAX_LIST + " entries");
            out.add(text(p, field));
        }
        return out;
    }

    private static String text(JsonParser p, String field) throws IOException, CardException {
        expect(p.currentToken() == JsonToken.VALUE_STRING, field + " must be a string");
        return p.getText();
    }

    private static long number(JsonParser p, String field) throws IOException, CardException {
        expect(p.currentToken() == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER,
                field + " must be an integer");
        return p.getLongValue();
    }

    private static URI url(String s) throws CardException {
        try {
            URI u = new URI(s);
            expect(("http".equals(u.getScheme()) || "https".equals(u.getScheme())) && u.getHost() != null,
                    "share URL must be http(s) with a host: " + s);
            return u;
        } catch (URISyntaxException e) {
            throw new CardException(Reason.MALFORMED, "share URL is not a URL: " + s);
        }
    }

    private static PublicKey publicKey(String base64) throws CardException {
        try {
            return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(base64)));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new CardException(Reason.MALFORMED, "card key is not an Ed25519 public key");
        }
    }

    private static void expect(boolean ok, String message) throws CardException {
        if (!ok) {
            throw new CardException(Reason.MALFORMED, message);
        }
    }
}
