package io.statesync.groups.sync;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How one member proves to another which member sends a request, for the routes that hold
 * something for their caller (leases). The request carries three headers: the member id, the
 * time, and an Ed25519 signature by the sending host's key over the method, the group, the route,
 * the query (sorted), the member, the member it is sent to, and the time. The receiver takes the sender's public key from
 * the sender's own host ({@code GET <member http>/groups}, {@code hostKey}), at the URL the group's
 * configuration holds for that member, which an outsider can change neither of.
 *
 * <p>A signed request names its receiver, so it cannot be replayed to another member, and its
 * time, so it is refused once {@link #MAX_SKEW} from the receiver's clock; within that window the
 * receiver remembers what it verified and refuses the same request a second time.
 */
public final class RequestSigning {
    public static final String MEMBER = "Statesync-Member";
    public static final String TIME = "Statesync-Time";
    public static final String SIGNATURE = "Statesync-Signature";
    /** How far a request's time may stand from the receiver's clock. */
    public static final Duration MAX_SKEW = Duration.ofMinutes(2);
    private static final String DOMAIN = "statesync-member-request-v1";

    private RequestSigning() {
    }

    /** The bytes a request's signature covers. */
    public static byte[] message(String method, String groupId, String route, Map<String, List<String>> query,
                                 String member, String receiver, long timeMillis) {
        StringBuilder b = new StringBuilder(DOMAIN).append('\n').append(method).append('\n').append(groupId)
                .append('\n').append(route).append('\n');
        // Each name and value with its length first: no two different queries give the same text.
        new TreeMap<>(query).forEach((k, values) -> values.forEach(v -> b.append(k.length()).append(':').append(k)
                .append(v.length()).append(':').append(v).append(';')));
        b.append('\n').append(member).append('\n').append(receiver).append('\n').append(timeMillis);
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Splits {@code route?query} as the server decodes it: the route, and each parameter's values
     * in order.
     */
    public static Map.Entry<String, Map<String, List<String>>> split(String pathAndQuery) {
        int q = pathAndQuery.indexOf('?');
        String route = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
        Map<String, List<String>> query = new LinkedHashMap<>();
        if (q >= 0) {
            for (String pair : pathAndQuery.substring(q + 1).split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                query.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
            }
        }
        return Map.entry(route, query);
    }

    /** A host's Ed25519 key pair, made when the host starts (a restarted host has a new one). */
    public static final class HostKey {
        private final KeyPair keys;
        private final String publicText;

        private HostKey(KeyPair keys) {
            this.keys = keys;
            this.publicText = Base64.getUrlEncoder().withoutPadding().encodeToString(keys.getPublic().getEncoded());
        }

        public static HostKey generate() {
            try {
                return new HostKey(KeyPairGenerator.getInstance("Ed25519").generateKeyPair());
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("the JDK has no Ed25519", e);
            }
        }

        /** The public key as it is published: base64url of its X.509 encoding. */
        public String publicText() {
            return publicText;
        }

        /** The headers that prove {@code member}, on this host, sends this request to {@code receiver} now. */
        public Map<String, String> sign(String member, String receiver, String method, String groupId,
                                        String pathAndQuery) {
            return sign(member, receiver, method, groupId, pathAndQuery, System.currentTimeMillis());
        }

        /** As above, dated {@code now} (milliseconds since the epoch). */
        public Map<String, String> sign(String member, String receiver, String method, String groupId,
                                        String pathAndQuery, long now) {
            var split = split(pathAndQuery);
            byte[] message = message(method, groupId, split.getKey(), split.getValue(), member, receiver, now);
            try {
                Signature s = Signature.getInstance("Ed25519");
                s.initSign(keys.getPrivate());
                s.update(message);
                return Map.of(MEMBER, member, TIME, Long.toString(now),
                        SIGNATURE, Base64.getUrlEncoder().withoutPadding().encodeToString(s.sign()));
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("Ed25519 signing failed", e);
            }
        }
    }

    /** A published public key, or null when the text is not one. */
    public static PublicKey parseKey(String text) {
        try {
            return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(
                    Base64.getUrlDecoder().decode(text)));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return null;
        }
    }

    /** Whether {@code signature} (base64url) is {@code key}'s signature of {@code message}. */
    public static boolean verify(PublicKey key, byte[] message, String signature) {
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initVerify(key);
            s.update(message);
            return s.verify(Base64.getUrlDecoder().decode(signature));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }
}
