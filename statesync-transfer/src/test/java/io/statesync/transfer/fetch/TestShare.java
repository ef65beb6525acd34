package io.statesync.transfer.fetch;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.core.store.ContentStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real HTTP/1.1 server on loopback that serves a store the way a static web server would,
 * and can be told to misbehave: corrupt bodies, die mid-transfer, stall, answer 500. Faults
 * start after {@code healthyRequests} good chunk responses, so a fetch can be caught midway.
 */
final class TestShare implements AutoCloseable {
    enum Fault { NONE, CORRUPT, DIE, STALL, STALL_ONCE, ERROR_500, NOT_FOUND }

    private final ContentStore store;
    private final ServerSocket server;
    private final ExecutorService threads = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("test-share-", 0).factory());
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final CountDownLatch stallRelease = new CountDownLatch(1);
    private volatile Fault fault = Fault.NONE;
    private volatile int healthyRequests;
    private volatile boolean faultManifest;
    private final AtomicInteger chunkRequests = new AtomicInteger();
    private final AtomicInteger manifestRequests = new AtomicInteger();
    private final AtomicInteger concurrent = new AtomicInteger();
    private final AtomicInteger maxConcurrent = new AtomicInteger();
    private final ConcurrentHashMap<String, AtomicInteger> perCid = new ConcurrentHashMap<>();
    private volatile boolean closed;
    /** Faults for single chunks, whatever {@link #fault} says: a bad sector, a file missing. */
    private final ConcurrentHashMap<String, Fault> perChunk = new ConcurrentHashMap<>();

    private TestShare(ContentStore store, int port) throws IOException {
        this.store = store;
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        threads.execute(this::acceptLoop);
    }

    static TestShare start(ContentStore store) throws IOException {
        return new TestShare(store, 0);
    }

    /** A new server on the same port as a closed one: a source coming back. */
    static TestShare restart(ContentStore store, int port) throws IOException {
        return new TestShare(store, port);
    }

    /** Misbehave with {@code f} after {@code healthy} good chunk responses. */
    TestShare fault(Fault f, int healthy) {
        this.healthyRequests = healthy;
        this.fault = f;
        return this;
    }

    /** Misbehave with {@code f} on every request for {@code chunk}, from the first. */
    TestShare faultOn(Cid chunk, Fault f) {
        perChunk.put(chunk.toString(), f);
        return this;
    }

    /** Apply the fault to manifest requests too (by default manifests are served correctly). */
    TestShare faultManifest() {
        this.faultManifest = true;
        return this;
    }

    Source source() {
        return new Source(URI.create("http://127.0.0.1:" + port()));
    }

    int port() {
        return server.getLocalPort();
    }

    /** True once the server has died or been closed. */
    boolean isDown() {
        return closed;
    }

    int chunkRequests() {
        return chunkRequests.get();
    }

    int manifestRequests() {
        return manifestRequests.get();
    }

    int maxConcurrent() {
        return maxConcurrent.get();
    }

    int requestsFor(Cid cid) {
        AtomicInteger n = perCid.get(cid.toString());
        return n == null ? 0 : n.get();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                open.add(s);
                threads.execute(() -> serve(s));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))) {
            OutputStream out = s.getOutputStream();
            while (true) {
                String requestLine = in.readLine();
                if (requestLine == null) {
                    return;
                }
                String line;
                while ((line = in.readLine()) != null && !line.isEmpty()) {
                    // Headers are not needed.
                }
                String[] parts = requestLine.split(" ");
                String path = parts.length > 1 ? parts[1] : "";
                int q = path.indexOf('?');
                if (q >= 0) {
                    path = path.substring(0, q);
                }
                if (!path.startsWith("/ipfs/")) {
                    respond(out, 404, new byte[0]);
                    continue;
                }
                Cid cid;
                try {
                    cid = Cid.parse(path.substring(6));
                } catch (CidFormatException e) {
                    respond(out, 400, new byte[0]);
                    continue;
                }
                perCid.computeIfAbsent(cid.toString(), k -> new AtomicInteger()).incrementAndGet();
                boolean manifest = cid.codec() == io.statesync.core.cid.Codec.DAG_JSON;
                int n = manifest ? manifestRequests.incrementAndGet() : chunkRequests.incrementAndGet();
                int now = concurrent.incrementAndGet();
                maxConcurrent.accumulateAndGet(now, Math::max);
                try {
                    Fault f = (!manifest || faultManifest) && (manifest || n > healthyRequests) ? fault : Fault.NONE;
                    if (f == Fault.STALL_ONCE && !manifest) {
                        f = n == healthyRequests + 1 ? Fault.STALL : Fault.NONE;
                    }
                    f = perChunk.getOrDefault(cid.toString(), f);
                    if (!store.has(cid)) {
                        respond(out, 404, "not found".getBytes(StandardCharsets.US_ASCII));
                        continue;
                    }
                    byte[] body = Files.readAllBytes(store.pathOf(cid));
                    switch (f) {
                        case NONE -> respond(out, 200, body);
                        case NOT_FOUND -> respond(out, 404, new byte[0]);
                        case ERROR_500 -> respond(out, 500, "boom".getBytes(StandardCharsets.US_ASCII));
                        case CORRUPT -> {
                            if (body.length > 0) {
                                body[body.length / 2] ^= 0x5a;
                            }
                            respond(out, 200, body);
                        }
                        case DIE -> {
                            writeHead(out, 200, body.length);
                            out.write(body, 0, body.length / 2);
                            out.flush();
                            closeServerSide();
                            return;
                        }
                        case STALL, STALL_ONCE -> {
                            writeHead(out, 200, body.length);
                            out.write(body, 0, body.length / 2);
                            out.flush();
                            stallRelease.await();
                            return;
                        }
                    }
                } finally {
                    concurrent.decrementAndGet();
                }
            }
        } catch (IOException | InterruptedException e) {
            // The client went away, or the server is closing.
        }
    }

    private static void writeHead(OutputStream out, int status, long length) throws IOException {
        String head = "HTTP/1.1 " + status + " X\r\nContent-Type: application/vnd.ipld.raw\r\nContent-Length: " + length + "\r\n\r\n";
        out.write(head.getBytes(StandardCharsets.US_ASCII));
    }

    private static void respond(OutputStream out, int status, byte[] body) throws IOException {
        writeHead(out, status, body.length);
        out.write(body);
        out.flush();
    }

    /** Simulates the process dying: the port refuses and every open connection is cut. */
    private void closeServerSide() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // Already closed.
        }
        for (Socket s : open) {
            try {
                s.close();
            } catch (IOException ignored) {
                // Already closed.
            }
        }
    }

    @Override
    public void close() {
        closeServerSide();
        stallRelease.countDown();
        threads.shutdownNow();
        threads.close();
    }
}
