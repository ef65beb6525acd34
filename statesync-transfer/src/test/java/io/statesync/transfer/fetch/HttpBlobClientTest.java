package io.statesync.transfer.fetch;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The fetcher's HTTP client against servers that answer in ways a share never does, byte for byte. */
class HttpBlobClientTest {
    private static final String CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

    /** A server that answers one request on one connection with {@code response}, then closes. */
    private static String fetch(String response) throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             HttpBlobClient client = new HttpBlobClient()) {
            Thread answering = Thread.ofVirtual().name("raw-http-server").start(() -> {
                try (Socket s = server.accept()) {
                    readRequestHead(s.getInputStream());
                    s.getOutputStream().write(response.getBytes(US_ASCII));
                    s.getOutputStream().flush();
                } catch (IOException e) {
                    // The client may hang up first; the assertions are on its side.
                }
            });
            try {
                ByteArrayOutputStream body = new ByteArrayOutputStream();
                Source source = new Source(URI.create("http://127.0.0.1:" + server.getLocalPort()));
                long n = client.get(source, CID, System.nanoTime() + TimeUnit.SECONDS.toNanos(10), 1 << 20,
                        new HttpBlobClient.BodySink() {
                            @Override
                            public void begin(long contentLength) {
                            }

                            @Override
                            public void accept(byte[] buf, int off, int len) {
                                body.write(buf, off, len);
                            }
                        });
                assertEquals(n, body.size());
                return body.toString(US_ASCII);
            } finally {
                answering.join(10_000);
            }
        }
    }

    private static void readRequestHead(InputStream in) throws IOException {
        int matched = 0;
        byte[] end = "\r\n\r\n".getBytes(US_ASCII);
        while (matched < end.length) {
            int b = in.read();
            if (b < 0) {
                return;
            }
            matched = b == end[matched] ? matched + 1 : (b == end[0] ? 1 : 0);
        }
    }

    @Test
    void interimResponsesAreReadPastToTheFinalOne() throws Exception {
        String body = fetch("HTTP/1.1 100 Continue\r\n\r\n"
                + "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");

        assertEquals("hello", body);
    }

    @Test
    void aTransferCodingOtherThanChunkedIsAnErrorNotABodyThatEndsAtClose() {
        IOException e = assertThrows(IOException.class, () -> fetch(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
        assertTrue(e.getMessage().contains("unsupported Transfer-Encoding: xchunked"), e.getMessage());

        assertEquals("hello", assertDoesNotThrowFetch(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "chunked, in any case");
    }

    @Test
    void switchingProtocolsOrEndlessInterimResponsesAreErrors() {
        IOException upgrade = assertThrows(IOException.class, () -> fetch(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"));
        assertTrue(upgrade.getMessage().contains("switched protocols"), upgrade.getMessage());

        IOException endless = assertThrows(IOException.class, () -> fetch(
                "HTTP/1.1 100 Continue\r\n\r\n".repeat(20) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assertTrue(endless.getMessage().contains("interim 1xx responses"), endless.getMessage());
    }

    private static String assertDoesNotThrowFetch(String response) {
        try {
            return fetch(response);
        } catch (Exception e) {
            throw new AssertionError("the fetch failed: " + e, e);
        }
    }
}
