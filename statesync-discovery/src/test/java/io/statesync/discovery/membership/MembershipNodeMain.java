package io.statesync.discovery.membership;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * A gossip node in a process of its own, for the test that kills one for real. Arguments:
 * namespace, seed host, seed port, metadata, and optionally the gossip port (default: a free one).
 * Prints {@code READY <member id> <gossip port>} once started, then runs until stdin closes (or
 * the process is killed, which is the point).
 */
public final class MembershipNodeMain {
    private MembershipNodeMain() {
    }

    public static void main(String[] args) throws IOException {
        MembershipConfig config = MembershipConfig.loopback()
                .withNamespace(args[0])
                .withSeeds(List.of(new InetSocketAddress(args[1], Integer.parseInt(args[2]))))
                .withPort(args.length > 4 ? Integer.parseInt(args[4]) : 0);
        try (Membership node = ScaleCubeMembership.start(config, args[3].getBytes(UTF_8), new SimpleMeterRegistry())) {
            System.out.println("READY " + node.self().id() + " " + node.self().address().getPort());
            System.out.flush();
            while (System.in.read() >= 0) {
                // Only the end of stdin (or a kill) stops the node.
            }
        }
    }
}
