package io.statesync.transfer.fetch;

import io.statesync.transfer.tls.Tls;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * A small blocking HTTP/1.1 client for {@code GET <base>/ipfs/<cid>}, built for virtual
 * threads: one socket per request in flight, kept alive and pooled per source, and a read
 * timeout recomputed before every read so that a stalled body is caught by the request's
 * deadline. The body is handed to a sink as it arrives, never buffered whole. We use our own
 * client rather than {@code java.net.http} because that one's timeout stops at the response
 * head and its body path copies every buffer through its selector thread.
 */
final class HttpBlobClient implements Closeable {
    private static final int MAX_HEAD_BYTES = 64 * 1024;
    /** Interim 1xx responses read past before the final one; more is a server playing games. */
    private static final int MAX_INTERIM_RESPONSES = 8;
    private static final int MAX_IDLE_PER_SOURCE = 32;

    private final Map<Source, ConcurrentLinkedDeque<Connection>> idle = new ConcurrentHashMap<>();
    /** Trust and client certificate for https sources; null for the JDK's default CAs and none. */
    private final Tls tls;
    private volatile boolean closed;

    /** A client that checks https sources against the JDK's default CAs. */
    HttpBlobClient() {
        this(null);
    }

    /** A client that checks https sources against {@code tls}'s CA bundle and presents its certificate if asked. */
    HttpBlobClient(Tls tls) {
        this.tls = tls;
    }

    /** Receives a body as it arrives. */
    interface BodySink {
        /** Called before the body with its declared length, or -1 if unknown. May reject it. */
        void begin(long contentLength) throws IOException;

        void accept(byte[] buf, int off, int len) throws IOException;
    }

    /** A response head: status and the few headers we act on. */
    record Head(int status, String reason, long contentLength, boolean chunked, boolean keepAlive) {
    }

    /** An HTTP status other than 200 for a blob request. */
    static final class StatusException extends IOException {
        final int status;

        StatusException(int status, String reason) {
            super("HTTP " + status + (reason.isEmpty() ? "" : " " + reason));
            this.status = status;
        }
    }

    /**
     * GETs {@code <base>/ipfs/<cid>?format=raw} and streams a 200 body into {@code sink}.
     *
     * @param deadlineNanos {@link System#nanoTime()} by which the whole body must have arrived
     * @param maxBody a body longer than this is cut off as an error
     * @return the number of body bytes delivered
     * @throws StatusException for any status but 200
     * @throws SocketTimeoutException when the deadline passes
     */
    long get(Source source, String cid, long deadlineNanos, long maxBody, BodySink sink) throws IOException {
        if (closed) {
            throw new IOException("client closed");
        }
        Connection c = borrow(source, deadlineNanos);
        boolean reusable = false;
        try {
            c.sendGet(source, cid);
            Head head = c.readHead(deadlineNanos);
            if (head.status() != 200) {
                // Drain small error bodies so the connection can be reused; drop it otherwise.
                reusable = head.keepAlive() && c.skipBody(head, deadlineNanos, 16 * 1024);
                throw new StatusException(head.status(), head.reason());
            }
            if (head.contentLength() > maxBody) {
                throw new BodyTooLongException(head.contentLength(), maxBody);
            }
            sink.begin(head.contentLength());
            long n = c.readBody(head, deadlineNanos, maxBody, sink);
            reusable = head.keepAlive();
            return n;
        } finally {
            if (reusable && !closed) {
                release(source, c);
            } else {
                c.close();
            }
        }
    }

    /** Receives the blocks of one {@code /blocks} response, in the order asked. */
    interface BlocksSink {
        /** Block {@code index} follows, {@code length} bytes; its bytes go to the returned sink. */
        BodySink block(int index, long length) throws IOException;

        /** Block {@code index} has been delivered in full. */
        void blockEnd(int index) throws IOException;

        /** The source does not hold block {@code index}. */
        void missing(int index);
    }

    /** A source that does not serve {@code /blocks}: a plain web server or a gateway. */
    static final class NoBatchException extends IOException {
        NoBatchException(int status) {
            super("HTTP " + status + " for /blocks: the source serves single blocks only");
        }
    }

    /**
     * GETs {@code <base>/blocks?cids=...}: many blocks in one response (the format is in the file
     * share's {@code serveBlocks}). Each block's length is checked against {@code maxBlock}.
     *
     * @throws NoBatchException when the source answers 400, 404, 405 or 501: it has no such route
     */
    void getBlocks(Source source, List<String> cids, long deadlineNanos, long maxBlock, BlocksSink sink)
            throws IOException {
        if (closed) {
            throw new IOException("client closed");
        }
        Connection c = borrow(source, deadlineNanos);
        boolean reusable = false;
        try {
            c.send(source, "/blocks?cids=" + String.join(",", cids), "application/vnd.statesync.blocks");
            Head head = c.readHead(deadlineNanos);
            if (head.status() != 200) {
                reusable = head.keepAlive() && c.skipBody(head, deadlineNanos, 16 * 1024);
                int st = head.status();
                if (st == 400 || st == 404 || st == 405 || st == 501) {
                    throw new NoBatchException(st);
                }
                throw new StatusException(st, head.reason());
            }
            long max = cids.size() * (4 + maxBlock);
            Frames frames = new Frames(cids.size(), maxBlock, sink);
            c.readBody(head, deadlineNanos, max, frames);
            frames.finish();
            reusable = head.keepAlive();
        } finally {
            if (reusable && !closed) {
                release(source, c);
            } else {
                c.close();
            }
        }
    }

    /** Splits a {@code /blocks} body into its length-prefixed blocks. */
    private static final class Frames implements BodySink {
        private final int count;
        private final long maxBlock;
        private final BlocksSink sink;
        private final byte[] header = new byte[4];
        private int headerFill;
        private int index;
        private long left = -1;
        private BodySink current;

        Frames(int count, long maxBlock, BlocksSink sink) {
            this.count = count;
            this.maxBlock = maxBlock;
            this.sink = sink;
        }

        @Override
        public void begin(long contentLength) {
        }

        @Override
        public void accept(byte[] buf, int off, int len) throws IOException {
            int end = off + len;
            while (off < end) {
                if (left < 0) {
                    if (index >= count) {
                        throw new IOException("the /blocks response has more than the " + count + " blocks asked");
                    }
                    int take = Math.min(4 - headerFill, end - off);
                    System.arraycopy(buf, off, header, headerFill, take);
                    headerFill += take;
                    off += take;
                    if (headerFill < 4) {
                        return;
                    }
                    headerFill = 0;
                    int n = ((header[0] & 0xff) << 24) | ((header[1] & 0xff) << 16) | ((header[2] & 0xff) << 8) | (header[3] & 0xff);
                    if (n == -1) {
                        sink.missing(index++);
                        continue;
                    }
                    if (n < 0 || n > maxBlock) {
                        throw new IOException("the /blocks response frames a block of " + Integer.toUnsignedString(n)
                                + " bytes, expected at most " + maxBlock);
                    }
                    left = n;
                    current = sink.block(index, n);
                    if (left == 0) {
                        endBlock();
                    }
                    continue;
                }
                int take = (int) Math.min(left, end - off);
                current.accept(buf, off, take);
                off += take;
                left -= take;
                if (left == 0) {
                    endBlock();
                }
            }
        }

        private void endBlock() throws IOException {
            left = -1;
            current = null;
            sink.blockEnd(index++);
        }

        void finish() throws IOException {
            if (index != count || left >= 0 || headerFill != 0) {
                throw new IOException("the /blocks response ended after " + index + " of " + count + " blocks");
            }
        }
    }

    /** A body longer than the caller allows: the source is sending something other than the blob. */
    static final class BodyTooLongException extends IOException {
        BodyTooLongException(long length, long max) {
            super("body of " + (length < 0 ? "more than " + max : String.valueOf(length)) + " bytes, expected at most " + max);
        }
    }

    private Connection borrow(Source source, long deadlineNanos) throws IOException {
        ConcurrentLinkedDeque<Connection> pool = idle.get(source);
        if (pool != null) {
            Connection c;
            while ((c = pool.pollFirst()) != null) {
                if (c.isUsable()) {
                    return c;
                }
                c.close();
            }
        }
        return Connection.open(source, deadlineNanos, tls);
    }

    private void release(Source source, Connection c) {
        ConcurrentLinkedDeque<Connection> pool = idle.computeIfAbsent(source, s -> new ConcurrentLinkedDeque<>());
        if (pool.size() >= MAX_IDLE_PER_SOURCE) {
            c.close();
        } else {
            pool.addFirst(c);
        }
    }

    /** Closes every pooled connection. Requests in flight close their own when they end. */
    @Override
    public void close() {
        closed = true;
        for (ConcurrentLinkedDeque<Connection> pool : idle.values()) {
            Connection c;
            while ((c = pool.pollFirst()) != null) {
                c.close();
            }
        }
    }

    private static final class Connection implements Closeable {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;
        private final byte[] buf = new byte[128 * 1024];
        private int pos;
        private int lim;

        private Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        static Connection open(Source source, long deadlineNanos, Tls tls) throws IOException {
            Socket s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.setReceiveBufferSize(1 << 20);
                s.connect(new InetSocketAddress(source.base().getHost(), source.port()), timeoutMillis(deadlineNanos));
                if (source.base().getScheme().equals("https")) {
                    // The handshake is bounded by the request's deadline, like every read.
                    s.setSoTimeout(timeoutMillis(deadlineNanos));
                    s = Tls.connect(tls, s, source.base().getHost(), source.port());
                }
                return new Connection(s);
            } catch (IOException e) {
                s.close();
                throw e;
            }
        }

        boolean isUsable() {
            return !socket.isClosed() && !socket.isInputShutdown() && pos == lim;
        }

        void sendGet(Source source, String cid) throws IOException {
            send(source, "/ipfs/" + cid + "?format=raw", "application/vnd.ipld.raw");
        }

        void send(Source source, String pathAndQuery, String accept) throws IOException {
            String path = source.base().getRawPath() == null ? "" : source.base().getRawPath();
            String host = source.base().getHost() + (source.base().getPort() > 0 ? ":" + source.base().getPort() : "");
            String req = "GET " + path + pathAndQuery + " HTTP/1.1\r\n"
                    + "Host: " + host + "\r\n"
                    + "Accept: " + accept + "\r\n"
                    + "User-Agent: statesync\r\n"
                    + "\r\n";
            out.write(req.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        /**
         * The final response's head. Interim 1xx responses (100 Continue, 103 Early Hints) are
         * read past, as HTTP/1.1 requires of a client; 101 would switch protocols, which no
         * share asks for, so it is an error.
         */
        Head readHead(long deadlineNanos) throws IOException {
            for (int interim = 0; ; interim++) {
                Head head = readOneHead(deadlineNanos);
                if (head.status() < 100 || head.status() > 199) {
                    return head;
                }
                if (head.status() == 101) {
                    throw new IOException("the server switched protocols (101), which a share never does");
                }
                if (interim >= MAX_INTERIM_RESPONSES) {
                    throw new IOException("more than " + MAX_INTERIM_RESPONSES + " interim 1xx responses");
                }
            }
        }

        private Head readOneHead(long deadlineNanos) throws IOException {
            String statusLine = readLine(deadlineNanos);
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
                throw new IOException("not an HTTP/1.x response: " + truncate(statusLine));
            }
            int status;
            try {
                status = Integer.parseInt(parts[1]);
            } catch (NumberFormatException e) {
                throw new IOException("bad HTTP status line: " + truncate(statusLine));
            }
            boolean keepAlive = !parts[0].equals("HTTP/1.0");
            long length = -1;
            boolean chunked = false;
            int headBytes = statusLine.length();
            while (true) {
                String line = readLine(deadlineNanos);
                headBytes += line.length() + 2;
                if (headBytes > MAX_HEAD_BYTES) {
                    throw new IOException("response head larger than " + MAX_HEAD_BYTES + " bytes");
                }
                if (line.isEmpty()) {
                    break;
                }
                int colon = line.indexOf(':');
                if (colon <= 0) {
                    throw new IOException("malformed response header: " + truncate(line));
                }
                String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = line.substring(colon + 1).trim();
                switch (name) {
                    case "content-length" -> {
                        long declared;
                        try {
                            declared = Long.parseLong(value);
                        } catch (NumberFormatException e) {
                            throw new IOException("bad Content-Length: " + truncate(value));
                        }
                        if (declared < 0) {
                            throw new IOException("negative Content-Length");
                        }
                        if (length >= 0 && declared != length) {
                            // RFC 9112 §6.3: which one frames the body is undecidable, so neither does.
                            throw new IOException("two different Content-Lengths: " + length + " and " + declared);
                        }
                        length = declared;
                    }
                    case "transfer-encoding" -> {
                        // Only "chunked" frames a body we can read; anything else (gzip, a typo such
                        // as xchunked) would be misread as a body that ends at close.
                        if (!value.trim().equalsIgnoreCase("chunked")) {
                            throw new IOException("unsupported Transfer-Encoding: " + truncate(value));
                        }
                        chunked = true;
                    }
                    case "connection" -> {
                        String v = value.toLowerCase(Locale.ROOT);
                        if (v.contains("close")) {
                            keepAlive = false;
                        } else if (v.contains("keep-alive")) {
                            keepAlive = true;
                        }
                    }
                    default -> {
                        // Not needed.
                    }
                }
            }
            if (chunked) {
                length = -1;
            } else if (length < 0) {
                keepAlive = false; // Body ends at close.
            }
            return new Head(status, parts.length > 2 ? parts[2] : "", length, chunked, keepAlive);
        }

        long readBody(Head head, long deadlineNanos, long maxBody, BodySink sink) throws IOException {
            if (head.chunked()) {
                return readChunked(deadlineNanos, maxBody, sink);
            }
            long want = head.contentLength();
            long got = 0;
            while (want < 0 || got < want) {
                if (pos == lim && !fill(deadlineNanos)) {
                    if (want < 0) {
                        return got;
                    }
                    throw new EOFException("connection closed after " + got + " of " + want + " body bytes");
                }
                int n = (int) Math.min(lim - pos, want < 0 ? Long.MAX_VALUE : want - got);
                if (got + n > maxBody) {
                    throw new BodyTooLongException(-1, maxBody);
                }
                sink.accept(buf, pos, n);
                pos += n;
                got += n;
            }
            return got;
        }

        private long readChunked(long deadlineNanos, long maxBody, BodySink sink) throws IOException {
            long got = 0;
            while (true) {
                String sizeLine = readLine(deadlineNanos);
                int semi = sizeLine.indexOf(';');
                long size;
                try {
                    size = Long.parseLong((semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).trim(), 16);
                } catch (NumberFormatException e) {
                    throw new IOException("bad chunk size in chunked body: " + truncate(sizeLine));
                }
                if (size < 0 || got + size > maxBody) {
                    throw new BodyTooLongException(-1, maxBody);
                }
                if (size == 0) {
                    while (!readLine(deadlineNanos).isEmpty()) {
                        // Trailers are ignored.
                    }
                    return got;
                }
                long left = size;
                while (left > 0) {
                    if (pos == lim && !fill(deadlineNanos)) {
                        throw new EOFException("connection closed inside a chunked body");
                    }
                    int n = (int) Math.min(lim - pos, left);
                    sink.accept(buf, pos, n);
                    pos += n;
                    left -= n;
                    got += n;
                }
                if (!readLine(deadlineNanos).isEmpty()) {
                    throw new IOException("chunked body: missing CRLF after a chunk");
                }
            }
        }

        boolean skipBody(Head head, long deadlineNanos, long max) {
            if (!head.chunked() && head.contentLength() < 0) {
                return false;
            }
            if (head.contentLength() > max) {
                return false;
            }
            try {
                readBody(head, deadlineNanos, max, new BodySink() {
                    @Override
                    public void begin(long contentLength) {
                    }

                    @Override
                    public void accept(byte[] b, int off, int len) {
                    }
                });
                return true;
            } catch (IOException e) {
                return false;
            }
        }

        private String readLine(long deadlineNanos) throws IOException {
            ByteArrayOutputStream line = null;
            while (true) {
                if (pos == lim && !fill(deadlineNanos)) {
                    throw new EOFException("connection closed by the source");
                }
                int start = pos;
                while (pos < lim && buf[pos] != '\n') {
                    pos++;
                }
                int end = pos;
                boolean found = pos < lim;
                if (found) {
                    pos++; // past '\n'
                }
                if (line == null && found) {
                    int e = end > start && buf[end - 1] == '\r' ? end - 1 : end;
                    return new String(buf, start, e - start, StandardCharsets.ISO_8859_1);
                }
                if (line == null) {
                    line = new ByteArrayOutputStream();
                }
                line.write(buf, start, end - start);
                if (line.size() > MAX_HEAD_BYTES) {
                    throw new IOException("response line longer than " + MAX_HEAD_BYTES + " bytes");
                }
                if (found) {
                    byte[] b = line.toByteArray();
                    int e = b.length > 0 && b[b.length - 1] == '\r' ? b.length - 1 : b.length;
                    return new String(b, 0, e, StandardCharsets.ISO_8859_1);
                }
            }
        }

        private boolean fill(long deadlineNanos) throws IOException {
            socket.setSoTimeout(timeoutMillis(deadlineNanos));
            int n = in.read(buf, 0, buf.length);
            if (n < 0) {
                return false;
            }
            pos = 0;
            lim = n;
            return true;
        }

        private static int timeoutMillis(long deadlineNanos) throws SocketTimeoutException {
            long left = (deadlineNanos - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                throw new SocketTimeoutException("request deadline passed");
            }
            return (int) Math.min(Integer.MAX_VALUE, left);
        }

        private static String truncate(String s) {
            return s.length() > 100 ? s.substring(0, 100) + "..." : s;
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // Closing a broken socket has nothing left to report.
            }
        }
    }
}
