package io.statesync.groups.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The per-request deadline of {@link PeerClient} against peers that stop answering part-way. */
@Timeout(60)
class PeerClientTest {
    private static final String GROUP = "0123456789abcdef0123456789abcdef";

    /**
     * A peer that sends the status line, headers and part of the body, then goes silent without
     * closing: the deadline must cover the body too, or the caller waits for good.
     */
    @Test
    void aPeerThatStallsMidBodyFailsTheRequestAtItsDeadline() throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        try (ServerSocket server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
             PeerClient client = new PeerClient(GROUP, Duration.ofSeconds(2))) {
            Thread peer = Thread.ofVirtual().name("stalling-peer").start(() -> {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    // The request head ends with an empty line.
                    int state = 0;
                    while (state < 4) {
                        int b = in.read();
                        if (b < 0) {
                            return;
                        }
                        state = (b == '\r' && (state == 0 || state == 2)) || (b == '\n' && (state == 1 || state == 3))
                                ? state + 1 : 0;
                    }
                    OutputStream out = s.getOutputStream();
                    out.write(("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n"
                            + "0123456789").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    done.await();
                } catch (Exception e) {
                    // The test ended.
                }
            });
            Peer p = new Peer("silent", URI.create("http://127.0.0.1:" + server.getLocalPort()), false);
            long t0 = System.nanoTime();
            PeerClient.PeerException e = assertThrows(PeerClient.PeerException.class,
                    () -> client.get(p, "sync/log/range", Duration.ofSeconds(1)));
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            assertEquals(0, e.status(), e.getMessage());
            assertTrue(e.getMessage().contains("silent"), e.getMessage());
            assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "failed after " + took);
            done.countDown();
            peer.join(Duration.ofSeconds(5));
        }
    }
}
