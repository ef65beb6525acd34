package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.discovery.Discovery;
import io.statesync.discovery.Discovery.DiscoveryConfig;
import io.statesync.discovery.card.NodeIdentity;
import io.statesync.discovery.card.SnapshotAd;
import io.statesync.discovery.membership.MembershipConfig;
import io.statesync.discovery.membership.ScaleCubeMembership;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code statesync peers} against real gossip nodes on loopback. */
@Timeout(60)
class PeersCommandTest {
    @TempDir
    Path tmp;

    @Test
    void peersPrintsTheLiveNodesWithTheirSnapshotsAsATableAndAsJson() throws Exception {
        ScaleCubeMembership first = ScaleCubeMembership.start(MembershipConfig.loopback(), new SimpleMeterRegistry());
        InetSocketAddress seed = first.self().address();
        NodeIdentity a = NodeIdentity.generate(), b = NodeIdentity.generate();
        Cid root = Cid.compute(Codec.DAG_JSON, "peers-test".getBytes());
        try (Discovery da = Discovery.start(DiscoveryConfig.serving(List.of(URI.create("http://127.0.0.1:9601")), List.of("t0")),
                a, first, new SimpleMeterRegistry());
             Discovery db = Discovery.start(DiscoveryConfig.serving(List.of(URI.create("http://127.0.0.1:9602")), List.of("t0")),
                     b, ScaleCubeMembership.start(MembershipConfig.loopback().withSeeds(List.of(seed)), new SimpleMeterRegistry()),
                     new SimpleMeterRegistry())) {
            da.advertise(new SnapshotAd(root, Map.of(SnapshotAd.GROUP, "t0", SnapshotAd.HEIGHT, "42")));
            String seedArg = "--seed=127.0.0.1:" + seed.getPort();

            Cli.Result table = Cli.run(Cli.env(tmp), "peers", seedArg, "--wait=10s");
            Cli.Result json = Cli.run(Cli.env(tmp), "peers", seedArg, "--wait=10s", "--json");

            assertEquals(0, table.exitCode(), table.err());
            assertTrue(table.out().contains("http://127.0.0.1:9601") && table.out().contains("http://127.0.0.1:9602"), table.out());
            assertTrue(table.out().contains("t0@42"), table.out());
            assertTrue(table.out().contains("2 live nodes"), table.out());
            assertEquals(0, json.exitCode(), json.err());
            assertTrue(json.out().contains("\"node\" : \"" + a.id() + "\""), json.out());
            assertTrue(json.out().contains(root.toString()), json.out());
        }
    }

    @Test
    void aMalformedSeedIsAOneLineUsageError() {
        Cli.Result r = Cli.run(Cli.env(tmp), "peers", "--seed=nohostport");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("--seed must be HOST:PORT"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }
}
