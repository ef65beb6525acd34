package io.statesync.node.statesync;

import io.statesync.transfer.tls.Tls;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Small bounded GETs (pointer files, manifests): a 3 s connect timeout, a whole-request timeout
 * that also covers a body that stalls, a cap on the body, and cancellation on interrupt.
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
        CompletableFuture<HttpResponse<byte[]>> f = client.sendAsync(request,
                // An error's body (a 404 page) is not wanted and not held to the cap.
                info -> info.statusCode() / 100 == 2 ? new Bounded(maxBytes)
                        : HttpResponse.BodySubscribers.replacing(new byte[0]));
        HttpResponse<byte[]> response;
        try {
            response = f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            f.cancel(true);
            throw e;
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new IOException("GET " + uri + " timed out after " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            String why = c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName();
            throw new IOException("GET " + uri + ": " + why, c);
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

    /** Collects a body, failing once it passes the cap (the rest is not read). */
    private static final class Bounded implements HttpResponse.BodySubscriber<byte[]> {
        private final long max;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private Flow.Subscription subscription;

        Bounded(long max) {
            this.max = max;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (result.isDone()) {
                return;
            }
            for (ByteBuffer b : items) {
                if (out.size() + (long) b.remaining() > max) {
                    subscription.cancel();
                    result.completeExceptionally(new IOException("body longer than " + max + " bytes"));
                    return;
                }
                byte[] a = new byte[b.remaining()];
                b.get(a);
                out.write(a, 0, a.length);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(out.toByteArray());
        }
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
