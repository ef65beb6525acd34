package io.statesync.transfer.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A {@link HttpClient} call whose deadline covers the whole answer and whose body is bounded.
 *
 * <p>The JDK client's request timeout ends when the headers arrive: a server that sent them and
 * then went silent without closing held the caller for good (a forwarded transaction, a join
 * check, a {@code status} command). Here the request's timeout is the time to the last byte of the
 * body, after which the exchange is cancelled. A 2xx body over the bound is refused as it arrives,
 * never buffered whole; any other answer's body is only its reason, so it is cut short instead.
 */
public final class BoundedCall {
    /** The most kept of a non-2xx answer's body (its reason). */
    public static final int MAX_REASON_BYTES = 4096;

    private BoundedCall() {
    }

    /**
     * Sends {@code request} and returns the answer, whatever its status: a 2xx body whole, any
     * other body cut to {@code min(maxBytes, MAX_REASON_BYTES)}.
     *
     * @param request a request with a timeout: the deadline of the whole exchange
     * @param maxBytes the largest 2xx body accepted
     * @throws HttpTimeoutException when the answer is not whole by the deadline
     * @throws IOException when the call fails or the body is over {@code maxBytes}
     */
    public static HttpResponse<byte[]> send(HttpClient client, HttpRequest request, long maxBytes)
            throws IOException, InterruptedException {
        Duration timeout = request.timeout()
                .orElseThrow(() -> new IllegalArgumentException("a bounded call needs a request timeout"));
        CompletableFuture<HttpResponse<byte[]>> answer = client.sendAsync(request,
                info -> info.statusCode() / 100 == 2 ? new Limited(maxBytes, false)
                        : new Limited(Math.min(maxBytes, MAX_REASON_BYTES), true));
        try {
            return answer.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new HttpTimeoutException("no whole answer from " + request.uri() + " within " + timeout.toMillis()
                    + " ms");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            throw new IOException(cause.toString(), cause);
        } finally {
            // Cancelling a finished call does nothing; an unfinished one (deadline, interrupt) is aborted.
            answer.cancel(true);
        }
    }

    /** Collects the body up to a bound; past it, cancels the stream and fails, or keeps what fits. */
    private static final class Limited implements HttpResponse.BodySubscriber<byte[]> {
        private final long maxBytes;
        private final boolean cut;
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private Flow.Subscription subscription;

        Limited(long maxBytes, boolean cut) {
            this.maxBytes = maxBytes;
            this.cut = cut;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (body.isDone()) {
                return;
            }
            for (ByteBuffer b : items) {
                long room = maxBytes - bytes.size();
                if (b.remaining() > room) {
                    subscription.cancel();
                    if (cut) {
                        byte[] fits = new byte[(int) room];
                        b.get(fits);
                        bytes.write(fits, 0, fits.length);
                        body.complete(bytes.toByteArray());
                    } else {
                        body.completeExceptionally(new IOException("the answer is larger than " + maxBytes + " bytes"));
                    }
                    return;
                }
                byte[] piece = new byte[b.remaining()];
                b.get(piece);
                bytes.write(piece, 0, piece.length);
            }
        }

        @Override
        public void onError(Throwable t) {
            body.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            body.complete(bytes.toByteArray());
        }
    }
}
