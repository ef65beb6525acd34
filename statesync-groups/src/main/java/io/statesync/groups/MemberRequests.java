package io.statesync.groups;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.groups.sync.RequestSigning;
import io.statesync.transfer.http.BoundedCall;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.PublicKey;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells which member signed a request ({@link RequestSigning}), for the routes that hold something
 * for their caller. A member's host key is learned from the member's own host, at the URL the
 * group's configuration holds for it, and cached; when a signature does not verify with the cached
 * key (the member restarted with a new one) the key is asked for again, at most every
 * {@link #RELEARN_AFTER} per member, so forged requests cannot make this host hammer a member.
 * Refusals are counted in {@code statesync_groups_member_requests_refused_total{reason}}.
 */
final class MemberRequests implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MemberRequests.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final Duration RELEARN_AFTER = Duration.ofSeconds(5);
    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(2);
    private static final int MAX_ANSWER_BYTES = 64 * 1024;
    /** Verified requests remembered at most (a member renews a lease every few seconds). */
    static final int MAX_REMEMBERED = 100_000;
    private static final int PURGE_FLOOR = 1024;

    private record Known(PublicKey key, long atNanos) {
    }

    private final ExecutorService executor = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("statesync-group-keys-", 0).factory());
    private final HttpClient client;
    private final Map<URI, Known> keys = new ConcurrentHashMap<>();
    /** One ask at a time per member URL. */
    private final Map<URI, Object> askLocks = new ConcurrentHashMap<>();
    private final Map<String, Counter> refused = new ConcurrentHashMap<>();
    /** Digests of the verified messages still within the skew window, to their time. */
    private final Map<String, Long> seen = new java.util.HashMap<>();
    /** The size at which the expired entries of {@link #seen} are dropped next. */
    private int purgeAt = PURGE_FLOOR;
    private final MeterRegistry registry;
    private final LongSupplier nanoClock;

    MemberRequests(MeterRegistry registry) {
        this(registry, System::nanoTime);
    }

    /** Asks members over https with {@code tls}'s trust and certificate (null: the JDK's defaults). */
    MemberRequests(MeterRegistry registry, Tls tls) {
        this(registry, System::nanoTime, tls);
    }

    MemberRequests(MeterRegistry registry, LongSupplier nanoClock) {
        this(registry, nanoClock, null);
    }

    MemberRequests(MeterRegistry registry, LongSupplier nanoClock, Tls tls) {
        this.client = Tls.httpClient(tls).executor(executor).connectTimeout(ASK_TIMEOUT)
                .version(HttpClient.Version.HTTP_1_1).build();
        this.registry = registry;
        this.nanoClock = nanoClock;
    }

    /**
     * The id of the member among {@code members} that signed {@code request} to group {@code groupId}.
     *
     * @throws RouteException 401 unsigned, stale, a signature that does not verify, or a request
     *     received before (a replay); 403 signed as someone who is not a member
     */
    String signer(String groupId, String self, RouteRequest request, List<GroupMember> members)
            throws RouteException {
        Optional<String> member = request.header(RequestSigning.MEMBER);
        Optional<String> time = request.header(RequestSigning.TIME);
        Optional<String> signature = request.header(RequestSigning.SIGNATURE);
        if (member.isEmpty() || time.isEmpty() || signature.isEmpty()) {
            throw refuse("unsigned", 401, "only a member of the group may ask this: sign the request ("
                    + RequestSigning.MEMBER + ", " + RequestSigning.TIME + ", " + RequestSigning.SIGNATURE + ")");
        }
        String id = member.get();
        GroupMember m = members.stream().filter(g -> g.id().equals(id)).findFirst().orElse(null);
        if (m == null) {
            throw refuse("not_member", 403, "'" + (id.length() > 64 ? id.substring(0, 64) + "…" : id)
                    + "' is not a member of this group");
        }
        long millis;
        try {
            millis = Long.parseLong(time.get());
        } catch (NumberFormatException e) {
            throw refuse("bad_time", 401, RequestSigning.TIME + " is not a time in milliseconds");
        }
        long skew = Math.abs(System.currentTimeMillis() - millis);
        if (skew > RequestSigning.MAX_SKEW.toMillis()) {
            throw refuse("bad_time", 401, "the request's time is " + skew / 1000 + " s from this member's clock (at "
                    + "most " + RequestSigning.MAX_SKEW.toSeconds() + " s)");
        }
        byte[] message = RequestSigning.message(request.method(), groupId, request.route(), request.query(), id, self,
                millis);
        Known known = keys.get(m.http());
        boolean verified = known != null && known.key() != null
                && RequestSigning.verify(known.key(), message, signature.get());
        if (!verified) {
            known = relearn(m, known);
            verified = known != null && known.key() != null
                    && RequestSigning.verify(known.key(), message, signature.get());
        }
        if (!verified) {
            throw refuse("bad_signature", 401, "the signature does not verify with member " + id + "'s host key");
        }
        if (!firstSighting(message, millis)) {
            throw refuse("replayed", 401, "this signed request was received before (a replay); a member signs each "
                    + "request anew");
        }
        return id;
    }

    /**
     * Whether a verified message is new. It is remembered while its time is within the skew
     * window, after which the time check refuses it anyway; the message, not the signature's text,
     * is the key, so a re-encoded signature is a replay too. Only members' verified requests are
     * remembered, and at most {@link #MAX_REMEMBERED}: past that, 429.
     */
    private boolean firstSighting(byte[] message, long millis) throws RouteException {
        String key;
        try {
            key = java.util.Base64.getEncoder().encodeToString(
                    java.security.MessageDigest.getInstance("SHA-256").digest(message));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
        long now = System.currentTimeMillis();
        synchronized (seen) {
            if (seen.size() >= purgeAt) {
                seen.values().removeIf(t -> Math.abs(now - t) > RequestSigning.MAX_SKEW.toMillis());
                purgeAt = Math.max(PURGE_FLOOR, seen.size() * 2);
            }
            if (seen.size() >= MAX_REMEMBERED) {
                throw refuse("limit", 429, "too many signed requests within " + RequestSigning.MAX_SKEW.toMinutes()
                        + " minutes; retry later");
            }
            return seen.putIfAbsent(key, millis) == null;
        }
    }

    /** Counts a lease refused for a bound (429), beside the refusals above. */
    void refusedForLimit() {
        counter("limit").increment();
    }

    private RouteException refuse(String reason, int status, String message) {
        counter(reason).increment();
        return new RouteException(status, message);
    }

    private Counter counter(String reason) {
        return refused.computeIfAbsent(reason, r -> Counter.builder("statesync.groups.member.requests.refused")
                .description("Requests to routes that hold something for their caller (leases), refused: unsigned, "
                        + "not a member, bad time or signature, over a bound")
                .tag("reason", r).register(registry));
    }

    /**
     * The member's key, asked for again when the one known is older than {@link #RELEARN_AFTER}
     * (or there is none): one request at a time per member, however many requests wait on it,
     * and a failed ask keeps the key known before.
     */
    private Known relearn(GroupMember m, Known seen) {
        Object lock = askLocks.computeIfAbsent(m.http(), u -> new Object());
        synchronized (lock) {
            Known now = keys.get(m.http());
            if (now != seen && now != null) {
                return now; // another request asked meanwhile
            }
            if (now != null && nanoClock.getAsLong() - now.atNanos() < RELEARN_AFTER.toNanos()) {
                return now;
            }
            PublicKey key = learn(m);
            Known k = new Known(key != null ? key : now == null ? null : now.key(), nanoClock.getAsLong());
            keys.put(m.http(), k);
            return k;
        }
    }

    /** Asks the member's host for its key; null if it does not give one. */
    private PublicKey learn(GroupMember m) {
        URI uri = URI.create(m.http().toString().replaceAll("/+$", "") + "/groups");
        PublicKey key = null;
        try {
            // The whole answer within the timeout: this runs under the member's ask lock, which
            // every request signed by that member waits on.
            HttpResponse<byte[]> res = BoundedCall.send(client, HttpRequest.newBuilder(uri).timeout(ASK_TIMEOUT).GET()
                    .build(), MAX_ANSWER_BYTES);
            byte[] body = res.body();
            key = res.statusCode() == 200 ? RequestSigning.parseKey(JSON.readTree(body).path("hostKey").asText(""))
                    : null;
            if (key == null) {
                log.debug("member {} at {}: no host key in its answer ({})", m.id(), uri, res.statusCode());
            }
        } catch (IOException e) {
            log.debug("member {} at {}: host key not learned: {}", m.id(), uri, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return key;
    }

    @Override
    public void close() {
        client.close();
        executor.close();
    }
}
