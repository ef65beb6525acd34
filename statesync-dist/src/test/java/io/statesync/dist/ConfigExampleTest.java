package io.statesync.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.statesync.node.NodeConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The example configuration shipped in the tarball is one a node accepts. */
class ConfigExampleTest {
    @Test
    void theShippedExampleLoads() throws Exception {
        NodeConfig c = NodeConfig.load(Path.of("src/config/node.example.yaml"));
        assertEquals("n1", c.id());
        assertEquals(3, c.members().size());
        assertEquals(2, c.threads().size());
        assertEquals(100, c.saveStateEvery());
        assertEquals("http://10.0.0.1:8101", c.network().httpAdvertise().toString(), "bound to 0.0.0.0, so it says");
        assertEquals(c.self().http(), c.network().httpAdvertise());
        assertEquals("10.0.0.1:7101", c.network().gossipAdvertise().getHostString() + ":"
                + c.network().gossipAdvertise().getPort());
        assertEquals(NodeConfig.GossipProfile.LAN, c.network().gossipProfile());
        assertEquals("text", c.log().format());
    }
}
