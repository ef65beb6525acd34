package io.statesync.core.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PortsTest {
    @Test
    void portsAreBelowTheEphemeralRangeAndNeverHandedOutTwice() throws IOException {
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            int p = Ports.free();
            assertTrue(p >= 10_000 && p < 32_000, "port " + p);
            assertTrue(seen.add(p), "handed out twice: " + p);
        }
    }

    @Test
    void aRangeIsFreeAndBindableAsAWhole() throws IOException {
        int first = Ports.free(20);
        assertTrue(first >= 10_000 && first + 20 <= 32_000, "first " + first);
        for (int p = first; p < first + 20; p++) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress("127.0.0.1", p));
            }
        }
        int next = Ports.free(20);
        assertTrue(next + 20 <= first || next >= first + 20, "overlaps: " + first + " and " + next);
    }
}
