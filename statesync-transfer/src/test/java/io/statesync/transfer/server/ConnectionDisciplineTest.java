package io.statesync.transfer.server;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attacks that used to take the whole port down, each run against a real server while a
 * legitimate client keeps asking: it must be served throughout. The attacker connects from
 * 127.0.0.2, the legitimate client from 127.0.0.1 (both loopback on Linux), so the per-address
 * bound applies to the attacker only, as it would to a remote host.
 */
class ConnectionDisciplineTest {
    private static final String ATTACKER = "127.0.0.2";

    @TempDir
    Path dir;
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final List<Socket> sockets = new ArrayList<>();
    private FileShareServer server;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @AfterEach
    void close() throws IOException {
        synchronized (sockets) {
            for (Socket s : sockets) {
                s.close();
            }
        }
        if (server != null) {
            server.close();
        }
        http.close();
        registry.close();
    }

    private void start(ServerConfig config) throws Exception {
        server = FileShareServer.start(config, ContentStore.open(dir.resolve("store")), registry);
        // A route that reads bodies, as the node's transaction API does.
        server.mount("api", null, request -> RouteResponse.json("{\"bytes\":" + request.body().length + "}"), 64 * 1024);
    }

    private Socket attackerSocket() throws IOException {
        Socket s = new Socket();
        synchronized (sockets) {
            sockets.add(s);
        }
        s.bind(new InetSocketAddress(ATTACKER, 0));
        s.connect(new InetSocketAddress("127.0.0.1", server.port()), 2000);
        s.setSoTimeout(5000);
        return s;
    }

    /** A legitimate request, from 127.0.0.1: its status. */
    private int legitimate() throws Exception {
        HttpResponse<String> res = http.send(HttpRequest.newBuilder(server.uri().resolve("/api/tx"))
                .timeout(Duration.ofSeconds(5)).POST(HttpRequest.BodyPublishers.ofString("hello")).build(),
                HttpResponse.BodyHandlers.ofString());
        return res.statusCode();
    }

    @Test
    void slowBodiesAreCutOffByTheirDeadlineAndOthersAreServedMeanwhile() throws Exception {
        start(ServerConfig.loopback().withMaxConnections(40).withMaxConnectionsPerAddress(30)
                .withBodyDeadline(Duration.ofSeconds(1), 64 * 1024));
        // Thirty connections announce a 1000-byte body and send it a byte every 200 ms: each byte
        // would reset an idle timer, never the deadline.
        List<Socket> slow = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            Socket s = attackerSocket();
            s.getOutputStream().write(("POST /api/tx HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
                    .getBytes(US_ASCII));
            slow.add(s);
        }
        AtomicBoolean trickling = new AtomicBoolean(true);
        Thread trickle = Thread.ofVirtual().name("test-trickle").start(() -> {
            while (trickling.get()) {
                for (Socket s : slow) {
                    try {
                        s.getOutputStream().write('x');
                    } catch (IOException e) {
                        // Closed by the server: what the test waits for.
                    }
                }
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try {
            for (int i = 0; i < 5; i++) {
                assertEquals(200, legitimate(), "a legitimate client is served during the attack");
            }
            // Each read gives up after 5 s: a connection still open then would have outlived its
            // deadline (about 1 s) by far, as it did when only the 60 s idle timer applied.
            for (Socket s : slow) {
                assertEquals(-1, readToEnd(s.getInputStream()), "the server closed the slow body's connection");
            }
            assertEquals(200, legitimate());
            assertTrue(scrape().contains("statesync_share_timeouts_total{kind=\"body\"} 30.0"), scrape());
        } finally {
            trickling.set(false);
            trickle.interrupt();
            trickle.join();
        }
    }

    @Test
    void aClientThatKeepsReconnectingHoldsOnlyItsShareOfTheConnections() throws Exception {
        start(ServerConfig.loopback().withMaxConnections(20).withMaxConnectionsPerAddress(8));
        // Slowloris that reconnects: heads that never end, reopened as fast as they are refused.
        AtomicBoolean attacking = new AtomicBoolean(true);
        AtomicInteger refusedForAddress = new AtomicInteger();
        Thread attacker = Thread.ofVirtual().name("test-slowloris").start(() -> {
            while (attacking.get()) {
                try {
                    Socket s = attackerSocket();
                    s.getOutputStream().write("GET /api/x HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(US_ASCII));
                    s.setSoTimeout(300);
                    try {
                        byte[] answer = s.getInputStream().readNBytes(4096);
                        if (new String(answer, US_ASCII).contains("too many connections from your address (limit 8)")) {
                            refusedForAddress.incrementAndGet();
                        }
                        s.close();
                    } catch (SocketTimeoutException e) {
                        // Admitted: it holds a slot.
                    }
                } catch (IOException e) {
                    // Refused or reset; try again.
                }
            }
        });
        try {
            // Until the attacker was refused a good many times (its first 8 connections are admitted)
            long until = System.nanoTime() + 30_000_000_000L;
            int served = 0;
            while (refusedForAddress.get() < 20 && System.nanoTime() < until) {
                assertEquals(200, legitimate(), "a legitimate client is served throughout");
                served++;
            }
            assertTrue(refusedForAddress.get() >= 20, "the attacker was refused, and told why: "
                    + refusedForAddress.get());
            assertTrue(served > 5, "served " + served);
            assertTrue(server.connections() <= 8 + 1, "the attacker holds at most its share: " + server.connections());
            assertTrue(scrape().contains("statesync_share_connections_refused_total{limit=\"address\"}"), scrape());
        } finally {
            attacking.set(false);
            attacker.join();
        }
    }

    private static int readToEnd(InputStream in) throws IOException {
        int b;
        do {
            b = in.read();
        } while (b >= 0);
        return b;
    }

    private String scrape() throws Exception {
        return http.send(HttpRequest.newBuilder(server.uri().resolve("/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
