package io.statesync.discovery.membership;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.testing.Await;
import io.statesync.core.testing.Await;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The gossip port bounds what peers open: a host that opens many idle connections (it used to
 * take every file descriptor) gets only its share, and those it keeps are closed when idle, while
 * real members keep gossiping and a new member still joins. The flood comes from 127.0.0.2, the
 * members from 127.0.0.1.
 */
class GossipConnectionLimitsTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    private <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    @Test
    void aFloodOfIdleConnectionsGetsItsShareAndIsClosedWhenIdleWhileMembersGoOn() throws Exception {
        var limits = new GossipTransportFactory.InboundLimits(16, 4, Duration.ofSeconds(2));
        ScaleCubeMembership a = keep(ScaleCubeMembership.start(MembershipConfig.loopback(), new byte[0], registry,
                limits));
        InetSocketAddress seed = a.self().address();
        ScaleCubeMembership b = keep(ScaleCubeMembership.start(MembershipConfig.loopback().withSeeds(List.of(seed)),
                new SimpleMeterRegistry()));
        Await.until("a and b see each other", Duration.ofSeconds(20), () -> a.members().size() == 1
                && b.members().size() == 1);

        // A flood: ten connections that never send a byte
        List<Socket> flood = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            Socket s = keep(new Socket());
            s.bind(new InetSocketAddress("127.0.0.2", 0));
            s.connect(seed, 2000);
            s.setSoTimeout(10_000);
            flood.add(s);
        }
        // Six are closed at once (the address's share is four)
        Await.until("the address's extra connections closed", Duration.ofSeconds(10),
                () -> closed("limit_address") == 6);

        // Meanwhile a new member joins through the same port, and everyone sees everyone
        ScaleCubeMembership c = keep(ScaleCubeMembership.start(MembershipConfig.loopback().withSeeds(List.of(seed)),
                new SimpleMeterRegistry()));
        Await.until("c joined", Duration.ofSeconds(20), () -> a.members().size() == 2 && c.members().size() == 2
                && b.members().size() == 2);

        // The four it kept are closed once idle; the members' own connections carry pings and stay
        for (Socket s : flood) {
            assertEquals(-1, s.getInputStream().read(), "closed by the gossip port");
        }
        Await.until("four idle closes counted", Duration.ofSeconds(10), () -> closed("idle") >= 4);
        assertEquals(2, a.members().size(), "b and c are still members: " + a.members());
    }

    private double closed(String reason) {
        var counter = registry.find("statesync.gossip.connections.closed").tag("reason", reason).functionCounter();
        return counter == null ? -1 : counter.count();
    }
}
