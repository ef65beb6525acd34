package io.statesync.node.statesync;

import io.statesync.transfer.http.BoundedCall;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Optional;

/**
 * Small bounded GETs (pointer files, manifests): a 3 s connect timeout, a whole-request timeout
 * that also covers a body that stalls, a cap on the body, and cancellation on interrupt
 * ({@link BoundedCall}).
 * Owns one HTTP client; closing it waits for its threads.
 */
final class SmallGets implements AutoCloseable {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(3);

    private final HttpClient client;

    SmallGets() {
        this(null);
    }

    /** GETs https URLs with {@code tls}'s trust and certificate (null: the JDK's defaults). */
    SmallGets(Tls tls) {
        this.client = Tls.httpClient(tls)
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build();
    }

    /** A failed GET whose status says the thing is not there (404 or 410). */
    static final class NotFound extends IOException {
        NotFound(String message) {
            super(message);
        }
    }

    /**
     * The body of a 2xx answer to {@code GET uri}, at most {@code maxBytes}.
     *
     * @throws NotFound on 404 or 410
     * @throws IOException on any other status, a body over the cap, a timeout or a network error
     */
    byte[] get(URI uri, long maxBytes, Duration timeout) throws IOException, InterruptedException {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IOException("no time left for GET " + uri);
        }
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout).GET().build();
        HttpResponse<byte[]> response;
        try {
            response = BoundedCall.send(client, request, maxBytes);
        } catch (HttpTimeoutException e) {
            throw new IOException("GET " + uri + " timed out after " + timeout.toMillis() + " ms", e);
        } catch (IOException e) {
            String why = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            throw new IOException("GET " + uri + ": " + why, e);
        }
        int status = response.statusCode();
        if (status == 404 || status == 410) {
            throw new NotFound("GET " + uri + ": " + status);
        }
        if (status / 100 != 2) {
            throw new IOException("GET " + uri + ": status " + status);
        }
        return response.body();
    }

    @Override
    public void close() {
        client.close();
    }

    /** {@code base} with {@code path} appended below it: unlike RFC 3986 resolution, the base's last segment is kept. */
    static URI below(URI base, String path) {
        String b = base.toString().replaceAll("/+$", "");
        return URI.create(b + "/" + path);
    }

    static Optional<String> firstLine(byte[] body) {
        String s = new String(body, java.nio.charset.StandardCharsets.UTF_8).strip();
        return s.isEmpty() ? Optional.empty() : Optional.of(s.lines().findFirst().orElse(""));
    }
}
