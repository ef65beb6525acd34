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
    }
}
