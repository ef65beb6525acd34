package io.statesync.node.statesync;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.discovery.card.NodeId;
import io.statesync.node.ledger.ThreadId;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Who counts as a trusted gossip source without any member answering: the configured keys and this node. */
class SourceTrustTest {
    private static final ThreadId T0 = new ThreadId("t0");
    private static final NodeId LISTED = new NodeId("n" + "A".repeat(32));
    private static final NodeId SELF = new NodeId("n" + "B".repeat(32));
    private static final NodeId STRANGER = new NodeId("n" + "C".repeat(32));

    @Test
    void aKeyListedInTrustedKeysIsTrustedOnEveryThreadWhateverTheMembership() throws Exception {
        try (SourceTrust trust = new SourceTrust(List.of(LISTED), SELF)) {
            assertTrue(trust.of(T0).contains(LISTED), "before any refresh");
            // A refresh from a membership that names nobody else keeps the listed key and this node
            trust.refreshFrom(T0, "n1", List.of());
            assertTrue(trust.of(T0).contains(LISTED));
            assertTrue(trust.of(T0).contains(SELF));
            assertTrue(trust.of(new ThreadId("t1")).contains(LISTED));
            // And an id neither listed nor a member is not trusted
            assertFalse(trust.of(T0).contains(STRANGER));
        }
    }
}
