package io.statesync.groups;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback for fault tests: it listens on one port and forwards every connection
 * to a target port, in the mode the test sets. A switch of mode applies to the connections already
 * open too:
 * <ul>
 *   <li>{@link Mode#FORWARD}: bytes pass both ways (optionally at a bounded rate from the target);</li>
 *   <li>{@link Mode#BLACKHOLE}: connections are accepted and read, nothing is passed on either way,
 *       and nothing is closed: a peer that went silent, or a path that drops every packet;</li>
 *   <li>{@link Mode#CUT}: every open connection is closed, and new ones are closed at once.</li>
 * </ul>
 * Each connection has two named virtual threads (one per direction); the proxy owns them and its
 * accept thread, and {@link #close} closes every socket and joins every thread.
 */
final class TcpProxy implements AutoCloseable {
    enum Mode { FORWARD, BLACKHOLE, CUT }

    private final String name;
    private final int target;
    private final ServerSocket server;
    private final Thread acceptor;
    private final Set<Link> links = ConcurrentHashMap.newKeySet();
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicLong forwarded = new AtomicLong();
    private final AtomicLong swallowed = new AtomicLong();
    private volatile Mode mode = Mode.FORWARD;
    /** Bytes per second from the target to the client in FORWARD; 0 for no bound. */
    private volatile long rate;
    private volatile boolean closed;

    /** A proxy listening on {@code 127.0.0.1:listen} for {@code 127.0.0.1:target}. */
    TcpProxy(String name, int listen, int target) throws IOException {
        this.name = name;
        this.target = target;
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), listen), 64);
        acceptor = Thread.ofPlatform().daemon().name("tcp-proxy-" + name + "-accept").start(this::acceptLoop);
    }

    Mode mode() {
        return mode;
    }

    /** Switches the mode for open connections and new ones. */
    void mode(Mode m) {
        mode = m;
        if (m == Mode.CUT) {
            for (Link l : links) {
                l.close();
            }
        }
    }

    /** Bounds the rate from the target to clients (bytes per second, 0 for none). */
    void rate(long bytesPerSecond) {
        rate = bytesPerSecond;
    }

    /** Connections accepted so far. */
    int connections() {
        return connections.get();
    }

    /** Bytes passed on, both ways. */
    long forwarded() {
        return forwarded.get();
    }

    /** Bytes read while blackholed and passed on to no one, both ways. */
    long swallowed() {
        return swallowed.get();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            int n = connections.incrementAndGet();
            if (mode == Mode.CUT) {
                quietly(client);
                continue;
            }
            Socket upstream = null;
            if (mode == Mode.FORWARD) {
                try {
                    upstream = new Socket();
                    upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), target), 2000);
                } catch (IOException e) {
                    // The target is down: the client sees its connection closed, as it would.
                    quietly(upstream);
                    quietly(client);
                    continue;
                }
            }
            Link link = new Link(client, upstream);
            links.add(link);
            synchronized (threads) {
                if (closed) {
                    link.close();
                    return;
                }
                threads.removeIf(t -> !t.isAlive());
                threads.add(Thread.ofVirtual().name("tcp-proxy-" + name + "-" + n + "-up")
                        .start(() -> pump(link, client, link.upstream, false)));
                if (upstream != null) {
                    threads.add(Thread.ofVirtual().name("tcp-proxy-" + name + "-" + n + "-down")
                            .start(() -> pump(link, link.upstream, client, true)));
                }
            }
        }
    }

    /**
     * Copies {@code from} to {@code to} while FORWARD; reads and drops while BLACKHOLE (never
     * closing); ends, closing the link, on EOF, an error or CUT. {@code to} is null for a
     * connection accepted while blackholed, which never reaches the target.
     */
    private void pump(Link link, Socket from, Socket to, boolean fromTarget) {
        byte[] buf = new byte[16 * 1024];
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to == null ? null : to.getOutputStream();
            int n;
            while ((n = in.read(buf)) >= 0) {
                Mode m = mode;
                if (m == Mode.CUT) {
                    break;
                }
                if (m == Mode.BLACKHOLE || out == null) {
                    swallowed.addAndGet(n);
                    continue;
                }
                long r = rate;
                if (fromTarget && r > 0) {
                    Thread.sleep(Math.max(1, n * 1000L / r));
                }
                out.write(buf, 0, n);
                out.flush();
                forwarded.addAndGet(n);
            }
        } catch (IOException | InterruptedException e) {
            // Closed by the other side, by CUT or by close().
        }
        // Blackholed connections stay open until the client gives up: a silent peer closes nothing.
        if (mode != Mode.BLACKHOLE || closed) {
            link.close();
        }
    }

    private final class Link {
        final Socket client;
        final Socket upstream;

        Link(Socket client, Socket upstream) {
            this.client = client;
            this.upstream = upstream;
        }

        void close() {
            links.remove(this);
            quietly(client);
            quietly(upstream);
        }
    }

    private static void quietly(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException e) {
                // Nothing left to do.
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            // Already closed.
        }
        acceptor.join(Duration.ofSeconds(5));
        List<Thread> all;
        synchronized (threads) {
            all = new ArrayList<>(threads);
        }
        for (Link l : links) {
            l.close();
        }
        for (Thread t : all) {
            if (!t.join(Duration.ofSeconds(5))) {
                throw new IllegalStateException("proxy thread " + t.getName() + " did not end");
            }
        }
        if (acceptor.isAlive()) {
            throw new IllegalStateException("proxy thread " + acceptor.getName() + " did not end");
        }
    }

    @Override
    public String toString() {
        return "proxy " + name + " :" + server.getLocalPort() + " -> :" + target + " " + mode + " (" + connections
                + " connections, " + forwarded + " bytes forwarded, " + swallowed + " swallowed)";
    }
}
