package io.statesync.core.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Free loopback ports for the servers a test starts itself. A port is checked free, not held:
 * the server binds it later, so two picks in this JVM must never be the same port, and none is
 * handed out twice.
 *
 * <p>Picked below Linux's ephemeral range (32768-60999): a port picked there and released can be
 * taken by any process's outgoing connection before the server binds it (seen as Ratis's "Failed
 * to start Grpc server: Address already in use" while other tests ran).
 */
public final class Ports {
    private static final int LOWEST = 10_000;
    /** Ports are picked below this, under the start of the ephemeral range. */
    private static final int CEILING = 32_000;
    private static final int ATTEMPTS = 200;

    /** Every port handed out (or found busy) in this JVM. */
    private static final Set<Integer> TAKEN = new HashSet<>();

    private Ports() {
    }

    /** A free loopback port, never handed out before in this JVM. */
    public static int free() throws IOException {
        return free(1);
    }

    /** The first of {@code count} consecutive free loopback ports, none handed out before in this JVM. */
    public static int free(int count) throws IOException {
        if (count < 1 || count > 1000) {
            throw new IllegalArgumentException("count " + count + " not in 1..1000");
        }
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int first = ThreadLocalRandom.current().nextInt(LOWEST, CEILING - count + 1);
            // Reserved before the check, and kept even if a port is busy: a busy port is no loss.
            if (reserve(first, count) && bindable(first, count)) {
                return first;
            }
        }
        throw new IOException("no " + count + " consecutive free ports below " + CEILING + " in " + ATTEMPTS
                + " attempts");
    }

    private static synchronized boolean reserve(int first, int count) {
        for (int p = first; p < first + count; p++) {
            if (TAKEN.contains(p)) {
                return false;
            }
        }
        for (int p = first; p < first + count; p++) {
            TAKEN.add(p);
        }
        return true;
    }

    /** Whether all the ports can be bound on 127.0.0.1 now; each one is released again. */
    private static boolean bindable(int first, int count) throws IOException {
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int p = first; p < first + count; p++) {
                ServerSocket s = new ServerSocket();
                held.add(s);
                // Checked without SO_REUSEADDR: a port that still has connections in TIME_WAIT
                // counts as busy too (stricter than a server's own bind).
                s.setReuseAddress(false);
                s.bind(new InetSocketAddress("127.0.0.1", p));
            }
            return true;
        } catch (IOException busy) {
            return false;
        } finally {
            for (ServerSocket s : held) {
                s.close();
            }
        }
    }
}
