package io.statesync.discovery.membership;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The value types: members compare by content; configs refuse what ScaleCube would choke on. */
class MembershipValuesTest {

    private static final InetSocketAddress ADDRESS = new InetSocketAddress("127.0.0.1", 7000);

    @Test
    void membersCompareTheirMetadataByContentAndNeverShareIt() {
        byte[] bytes = {1, 2, 3};
        Member m = new Member("id", ADDRESS, bytes);
        bytes[0] = 9;

        assertEquals(new Member("id", ADDRESS, new byte[] {1, 2, 3}), m);
        assertEquals(new Member("id", ADDRESS, new byte[] {1, 2, 3}).hashCode(), m.hashCode());
        assertNotEquals(new Member("id", ADDRESS, new byte[] {1, 2}), m);
        m.metadata()[0] = 9;
        assertEquals(1, m.metadata()[0]);
        assertEquals(0, new Member("id", ADDRESS, null).metadata().length);
        assertTrue(m.toString().contains("3B"), m.toString());
    }

    @Test
    void eventsCarryTheirMember() {
        Member m = new Member("id", ADDRESS, new byte[0]);
        MembershipEvent e = new MembershipEvent.Failed(m);

        String kind = switch (e) {
            case MembershipEvent.Joined j -> "joined";
            case MembershipEvent.Updated u -> "updated";
            case MembershipEvent.Left l -> "left";
            case MembershipEvent.Failed f -> "failed " + f.member().id();
        };

        assertEquals("failed id", kind);
    }

    @Test
    void theLoopbackDefaultsAndTheirFailureDetectionTime() {
        MembershipConfig c = MembershipConfig.loopback();

        assertEquals("127.0.0.1", c.host());
        assertEquals(0, c.port());
        assertEquals(16 * 1024, c.maxMetadataBytes());
        // 2 pings + 3 × ⌈log2(5+1)⌉=3 × 500 ms suspicion + 3 gossip rounds
        assertEquals(Duration.ofMillis(1_000 + 4_500 + 600), c.expectedFailureDetection(5));
        assertEquals(Duration.ofMillis(1_000 + 7_500 + 1_000), c.expectedFailureDetection(20));
        assertEquals(Duration.ofMillis(250), c.withGossipInterval(Duration.ofMillis(250)).gossipInterval());
        assertEquals(List.of(ADDRESS), c.withSeeds(List.of(ADDRESS)).seeds());
    }

    @Test
    void theLanAndWanProfilesDetectAsDocumented() {
        // docs/node-config.md, "Gossip profiles": about 18 s / 28 s and 1.7 min / 2.7 min for 5 / 20 nodes.
        MembershipConfig lan = MembershipConfig.lan();
        assertEquals(Duration.ofMillis(2_000 + 15_000 + 600), lan.expectedFailureDetection(5));
        assertEquals(Duration.ofMillis(2_000 + 25_000 + 1_000), lan.expectedFailureDetection(20));
        MembershipConfig wan = MembershipConfig.wan();
        assertEquals(Duration.ofMillis(10_000 + 90_000 + 1_500), wan.expectedFailureDetection(5));
        assertEquals(Duration.ofMillis(10_000 + 150_000 + 2_500), wan.expectedFailureDetection(20));
        assertEquals(Duration.ofSeconds(3), wan.pingTimeout());
        assertEquals(null, wan.advertise(), "the profiles announce the bound address unless told otherwise");
    }

    @Test
    void badConfigsAreRefusedWithTheReason() {
        MembershipConfig c = MembershipConfig.loopback();

        assertMessage("namespace", () -> c.withNamespace("a"));
        assertMessage("namespace", () -> c.withNamespace("has space"));
        assertMessage("port", () -> c.withPort(70_000));
        assertMessage("ping timeout", () -> c.withPingTimeout(Duration.ofSeconds(1)));
        assertMessage("gossip interval", () -> c.withGossipInterval(Duration.ZERO));
        assertMessage("suspicion", () -> c.withSuspicionMultiplier(0));
        assertMessage("max metadata", () -> c.withMaxMetadataBytes(-1));
        assertMessage("no port", () -> c.withSeeds(List.of(new InetSocketAddress("127.0.0.1", 0))));
        assertFalse(c.withNamespace("ok/sub-1.x").namespace().isEmpty());
    }

    private static void assertMessage(String fragment, org.junit.jupiter.api.function.Executable e) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
        assertTrue(x.getMessage().contains(fragment), x.getMessage());
    }
}
