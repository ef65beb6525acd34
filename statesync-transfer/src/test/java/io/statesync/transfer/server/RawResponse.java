package io.statesync.transfer.server;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One HTTP/1.1 response read off a raw socket (header names in lower case), and the few helpers
 * the server's tests use to send bytes exactly as written: no client library in between to
 * normalize a hostile request.
 *
 * @param closed whether the server closed the connection after this response (only known for
 *               responses read by {@link #exchange}, which asks when the server said {@code close})
 */
public record RawResponse(int status, Map<String, String> headers, byte[] body, boolean closed) {
    /** How long a test waits for a byte from the server. */
    public static final int READ_TIMEOUT_MILLIS = 5000;

    /** A request head with {@code Host} and the given extra header lines. */
    public static byte[] request(String methodAndTarget, String... headerLines) {
        StringBuilder b = new StringBuilder(methodAndTarget).append(" HTTP/1.1\r\nHost: test\r\n");
        for (String h : headerLines) {
            b.append(h).append("\r\n");
        }
        return b.append("\r\n").toString().getBytes(UTF_8);
    }

    /** A connection to {@code s} whose reads time out after {@link #READ_TIMEOUT_MILLIS}. */
    public static Socket connect(FileShareServer s) throws IOException {
        Socket socket = new Socket("127.0.0.1", s.port());
        socket.setSoTimeout(READ_TIMEOUT_MILLIS);
        return socket;
    }

    /** Sends raw bytes on a fresh connection and reads one response; notes whether the server then closed. */
    public static RawResponse exchange(FileShareServer s, byte[] raw) throws IOException {
        try (Socket socket = connect(s)) {
            socket.getOutputStream().write(raw);
            InputStream in = socket.getInputStream();
            RawResponse res = read(in, new String(raw, 0, Math.min(5, raw.length), US_ASCII).equals("HEAD "));
            boolean closed = "close".equals(res.headers().get("connection")) && in.read() == -1;
            return new RawResponse(res.status(), res.headers(), res.body(), closed);
        }
    }

    /** Reads a status line and headers; the body is left in {@code in}. */
    public static RawResponse readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed inside a response head: " + head.toString(US_ASCII));
            }
            head.write(b);
            matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        String[] lines = head.toString(US_ASCII).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
        }
        return new RawResponse(status, headers, new byte[0], false);
    }

    /** Reads a whole response framed by Content-Length; with {@code headOnly} (a HEAD) only the head. */
    public static RawResponse read(InputStream in, boolean headOnly) throws IOException {
        RawResponse head = readHead(in);
        String length = head.headers().get("content-length");
        if (headOnly || head.status() == 204 || head.status() == 304 || length == null) {
            return head;
        }
        byte[] body = new byte[Integer.parseInt(length)];
        readFully(in, body, 0, body.length);
        return new RawResponse(head.status(), head.headers(), body, false);
    }

    /** Reads exactly {@code len} bytes into {@code into} at {@code off}, or fails naming where the stream ended. */
    public static void readFully(InputStream in, byte[] into, int off, int len) throws IOException {
        int done = 0;
        while (done < len) {
            int n = in.read(into, off + done, len - done);
            if (n < 0) {
                throw new IOException("connection closed after " + (off + done) + " bytes");
            }
            done += n;
        }
    }
}
