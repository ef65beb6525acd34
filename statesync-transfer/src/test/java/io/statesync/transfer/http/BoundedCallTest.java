package io.statesync.transfer.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Calls against a raw server on loopback that answers as told: whole, stalled mid-body, or too much. */
class BoundedCallTest {
    private ServerSocket server;
    private HttpClient client;

    @BeforeEach
    void open() throws IOException {
        server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2))
                .build();
    }

    @AfterEach
    void close() throws IOException {
        client.close();
        server.close();
    }

    @Test
    void aWholeAnswerIsReturnedWhateverItsStatus() throws Exception {
        CompletableFuture<Void> served = serveOnce("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here.", false);

        HttpResponse<byte[]> res = BoundedCall.send(client, get(Duration.ofSeconds(5)), 100);

        assertEquals(404, res.statusCode());
        assertArrayEquals("not here.".getBytes(StandardCharsets.US_ASCII), res.body());
        served.get(5, TimeUnit.SECONDS);
    }

    /**
     * The headers and part of the body, then silence without closing: the plain client waits for
     * good; here the call fails at its deadline and the connection is given up.
     */
    @Test
    void anAnswerStalledMidBodyFailsAtTheDeadlineAndTheConnectionIsClosed() throws Exception {
        CompletableFuture<Void> closedByClient = serveOnce(
                "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789", true);
        long t0 = System.nanoTime();

        HttpTimeoutException e = assertThrows(HttpTimeoutException.class,
                () -> BoundedCall.send(client, get(Duration.ofMillis(500)), 10_000));

        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertTrue(e.getMessage().contains("no whole answer") && e.getMessage().contains("500 ms"), e.getMessage());
        assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "failed after " + took);
        closedByClient.get(10, TimeUnit.SECONDS);
    }

    @Test
    void aBodyOverTheBoundIsRefused() throws Exception {
        serveOnce("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + "x".repeat(5000), false);

        IOException e = assertThrows(IOException.class, () -> BoundedCall.send(client, get(Duration.ofSeconds(5)), 1000));

        assertTrue(e.getMessage().contains("larger than 1000 bytes"), e.getMessage());
    }

    @Test
    void anErrorAnswersLongBodyIsCutToItsReason() throws Exception {
        serveOnce("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 20000\r\n\r\nbusy: " + "x".repeat(19994), false);

        HttpResponse<byte[]> res = BoundedCall.send(client, get(Duration.ofSeconds(5)), 1 << 20);

        assertEquals(503, res.statusCode());
        assertEquals(BoundedCall.MAX_REASON_BYTES, res.body().length);
        assertTrue(new String(res.body(), StandardCharsets.US_ASCII).startsWith("busy: xxx"));
    }

    @Test
    void aRequestWithoutATimeoutIsAMistake() {
        HttpRequest none = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getLocalPort() + "/x")).build();

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BoundedCall.send(client, none, 10));

        assertTrue(e.getMessage().contains("timeout"), e.getMessage());
    }

    private HttpRequest get(Duration timeout) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getLocalPort() + "/x")).timeout(timeout)
                .GET().build();
    }

    /**
     * Answers one request with {@code answer}; then, if {@code holdOpen}, keeps the connection open
     * and completes once the client closes it, else closes it and completes.
     */
    private CompletableFuture<Void> serveOnce(String answer, boolean holdOpen) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread.ofVirtual().name("bounded-call-test-server").start(() -> {
            try (Socket s = server.accept()) {
                InputStream in = s.getInputStream();
                int state = 0; // the request head ends with an empty line
                while (state < 4) {
                    int b = in.read();
                    if (b < 0) {
                        throw new IOException("the client closed before its request ended");
                    }
                    state = (b == '\r' && (state == 0 || state == 2)) || (b == '\n' && (state == 1 || state == 3))
                            ? state + 1 : 0;
                }
                OutputStream out = s.getOutputStream();
                out.write(answer.getBytes(StandardCharsets.US_ASCII));
                out.flush();
                if (holdOpen) {
                    try {
                        while (in.read() >= 0) {
                            // nothing more is sent; wait for the client to give the connection up
                        }
                    } catch (java.net.SocketException reset) {
                        // given up with a reset: closed all the same
                    }
                }
                done.complete(null);
            } catch (IOException | RuntimeException e) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }
}
