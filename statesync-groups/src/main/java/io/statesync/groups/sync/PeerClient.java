package io.statesync.groups.sync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.transfer.http.BoundedCall;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Calls to peers' group routes. Owns its HTTP client and the virtual threads behind it; close it.
 * A non-2xx answer is a {@link PeerException} carrying the peer's one-line reason.
 */
public final class PeerClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * The most a peer may answer: an entry frame holds 8 MiB of data, or one entry of up to
     * {@link io.statesync.groups.log.CommittedLog#MAX_ENTRY_BYTES}, plus headers.
     */
    static final int MAX_BODY = io.statesync.groups.log.CommittedLog.MAX_ENTRY_BYTES + (16 << 20);
    private final ExecutorService executor;
    private final HttpClient http;
    private final String groupId;
    /** Signs the requests that hold something for this member (leases), or null for none. */
    private final RequestSigning.HostKey key;
    private final String self;

    /** An answer other than 2xx, or no answer. */
    public static final class PeerException extends IOException {
        private final int status;

        PeerException(int status, String message) {
            super(message);
            this.status = status;
        }

        /** The HTTP status, or 0 when there was no answer. */
        public int status() {
            return status;
        }
    }

    public PeerClient(String groupId, Duration connectTimeout) {
        this(groupId, connectTimeout, null, null);
    }

    /** A client whose POSTs and DELETEs {@code key} signs as member {@code self} ({@link RequestSigning}). */
    public PeerClient(String groupId, Duration connectTimeout, RequestSigning.HostKey key, String self) {
        this(groupId, connectTimeout, key, self, null);
    }

    /**
     * As {@link #PeerClient(String, Duration, RequestSigning.HostKey, String)}, reaching https peers
     * with {@code tls}'s trust and certificate (null: the JDK's defaults).
     */
    public PeerClient(String groupId, Duration connectTimeout, RequestSigning.HostKey key, String self, Tls tls) {
        this.groupId = groupId;
        this.key = key;
        this.self = self;
        this.executor = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("statesync-group-http-" + groupId.substring(0, 8) + "-", 0).factory());
        this.http = Tls.httpClient(tls).executor(executor).connectTimeout(connectTimeout)
                .version(HttpClient.Version.HTTP_1_1).build();
    }

    /** The URL of {@code /groups/{id}/{path}} on a peer. */
    public URI uri(Peer peer, String pathAndQuery) {
        String base = peer.http().toString().replaceAll("/+$", "");
        return URI.create(base + "/groups/" + groupId + "/" + pathAndQuery);
    }

    public byte[] get(Peer peer, String pathAndQuery, Duration timeout) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(uri(peer, pathAndQuery)).timeout(timeout).GET().build(), peer);
    }

    public JsonNode getJson(Peer peer, String pathAndQuery, Duration timeout) throws IOException, InterruptedException {
        return JSON.readTree(get(peer, pathAndQuery, timeout));
    }

    public JsonNode postJson(Peer peer, String pathAndQuery, Duration timeout) throws IOException, InterruptedException {
        return JSON.readTree(send(signed(HttpRequest.newBuilder(uri(peer, pathAndQuery)).timeout(timeout)
                .POST(HttpRequest.BodyPublishers.noBody()), "POST", pathAndQuery, peer).build(), peer));
    }

    public void delete(Peer peer, String pathAndQuery, Duration timeout) throws IOException, InterruptedException {
        send(signed(HttpRequest.newBuilder(uri(peer, pathAndQuery)).timeout(timeout).DELETE(), "DELETE", pathAndQuery,
                peer).build(), peer);
    }

    private HttpRequest.Builder signed(HttpRequest.Builder request, String method, String pathAndQuery, Peer to) {
        if (key != null) {
            key.sign(self, to.id(), method, groupId, pathAndQuery).forEach(request::header);
        }
        return request;
    }

    /**
     * Releases a session's leases on these peers, best effort: a lease not released expires by
     * itself. Stops early, keeping the interrupt, if the thread is interrupted.
     */
    public void releaseLeases(java.util.Collection<Peer> peers, String sessionId) {
        for (Peer p : peers) {
            try {
                delete(p, "leases?session=" + sessionId, Duration.ofSeconds(2));
            } catch (IOException e) {
                org.slf4j.LoggerFactory.getLogger(PeerClient.class)
                        .debug("group {}: releasing a lease on {} failed: {}", groupId, p.id(), e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * A lease that could not be had: the session goes on without it (the peer may prune what it
     * fetches, and the attempt then retries). A refusal (not a member yet, as a joiner is before
     * it is added; a clock more than two minutes off; a bound) is worth an INFO line, a network
     * failure only a DEBUG one.
     */
    public static void logLeaseFailure(org.slf4j.Logger log, String groupId, Peer p, IOException e) {
        if (e instanceof PeerException pe && (pe.status() == 401 || pe.status() == 403 || pe.status() == 429)) {
            log.info("group {}: {} refused a lease, going on without it: {}", groupId, p.id(), e.getMessage());
        } else {
            log.debug("group {}: lease on {} failed: {}", groupId, p.id(), e.getMessage());
        }
    }

    /**
     * The answer's body; the request's timeout covers all of it ({@link BoundedCall}): a peer that
     * sends the headers and then goes silent, without closing, no longer holds a catch-up session
     * until the session's deadline.
     */
    private byte[] send(HttpRequest request, Peer peer) throws IOException, InterruptedException {
        HttpResponse<byte[]> res;
        try {
            res = BoundedCall.send(http, request, MAX_BODY);
        } catch (IOException e) {
            throw new PeerException(0, "peer " + peer.id() + " (" + request.uri() + "): " + e);
        }
        byte[] body = res.body();
        if (res.statusCode() / 100 != 2) {
            String reason = new String(body, 0, Math.min(body.length, 512), StandardCharsets.UTF_8).strip()
                    .replaceAll("[\\r\\n]+", " ");
            throw new PeerException(res.statusCode(), "peer " + peer.id() + " answered " + reason);
        }
        return body;
    }

    @Override
    public void close() {
        http.close();
        executor.close();
    }
}
