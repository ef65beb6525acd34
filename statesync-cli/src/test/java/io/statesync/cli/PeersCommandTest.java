package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.testing.Ports;
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

            Cli.Result table = Cli.run(Cli.env(tmp), "peers", seedArg, "--wait=10s", "--all");
            Cli.Result json = Cli.run(Cli.env(tmp), "peers", seedArg, "--wait=10s", "--json", "--trust=" + a.id().value(),
                    "--all");
            Cli.Result trusted = Cli.run(Cli.env(tmp), "peers", seedArg, "--wait=10s", "--trust=" + a.id().value());

            assertEquals(0, table.exitCode(), table.err());
            assertTrue(table.out().contains("http://127.0.0.1:9601") && table.out().contains("http://127.0.0.1:9602"), table.out());
            assertTrue(table.out().contains("t0@42"), table.out());
            assertTrue(table.out().contains("2 live nodes"), table.out());
            assertEquals(2, table.out().lines().filter(l -> l.contains("UNTRUSTED")).count(), "nothing trusted: " + table.out());
            assertEquals(0, json.exitCode(), json.err());
            var cards = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.out());
            for (var card : cards) {
                assertEquals(card.path("node").asText().equals(a.id().value()), card.path("trusted").asBoolean(),
                        json.out());
            }
            assertEquals(2, cards.size(), json.out());
            assertTrue(json.out().contains(root.toString()), json.out());
            // Without --all, only what trusted keys signed
            assertEquals(0, trusted.exitCode(), trusted.err());
            assertTrue(trusted.out().contains("http://127.0.0.1:9601"), trusted.out());
            assertTrue(!trusted.out().contains("http://127.0.0.1:9602"), trusted.out());
            assertTrue(trusted.out().contains("1 live node; 1 card signed by untrusted keys not listed (--all lists them)"),
                    trusted.out());
        }
    }

    @Test
    void withoutAnythingToTrustOrWithABadKeyItIsAUsageError() {
        Cli.Result none = Cli.run(Cli.env(tmp), "peers", "--seed=127.0.0.1:1");
        none.assertOneLineFailure(Failures.USAGE);
        assertTrue(none.lastErrLine().contains("nothing to trust: give --node URL"), none.err());
        Cli.Result bad = Cli.run(Cli.env(tmp), "peers", "--seed=127.0.0.1:1", "--trust=n1");
        bad.assertOneLineFailure(Failures.USAGE);
        assertTrue(bad.lastErrLine().contains("--trust: 'n1' is not a node id"), bad.err());
        Cli.Result url = Cli.run(Cli.env(tmp), "peers", "--seed=127.0.0.1:1", "--node=ftp://x");
        url.assertOneLineFailure(Failures.USAGE);
    }

    @Test
    void aRealNodesMembersAreTrustedAndACardFromASelfMadeKeyIsNot() throws Exception {
        int gossip = Ports.free();
        io.statesync.node.Node node = OneNode.start(tmp.resolve("node"), "peers-cli", s -> s,
                io.statesync.node.NodeConfig.Admin.DEFAULT, gossip);
        NodeIdentity rogue = NodeIdentity.generate();
        try (node; Discovery r = Discovery.start(DiscoveryConfig.serving(List.of(URI.create("http://127.0.0.1:9666")),
                List.of("t0")), rogue, ScaleCubeMembership.start(MembershipConfig.loopback().withSeeds(
                        List.of(new InetSocketAddress("127.0.0.1", gossip))), new SimpleMeterRegistry()),
                new SimpleMeterRegistry())) {
            Cli.Result res = Cli.run(Cli.env(tmp), "peers", "--seed=127.0.0.1:" + gossip, "--node=" + node.uri(),
                    "--wait=10s");

            assertEquals(0, res.exitCode(), res.err());
            assertTrue(res.out().contains(node.uri().toString()), res.out());
            assertTrue(!res.out().contains("9666"), "the rogue card is not listed: " + res.out());
            assertTrue(res.out().contains("1 live node; 1 card signed by untrusted keys not listed"), res.out());

            Cli.Result unreachable = Cli.run(Cli.env(tmp), "peers", "--seed=127.0.0.1:" + gossip,
                    "--node=http://127.0.0.1:" + Ports.free());
            unreachable.assertOneLineFailure(Failures.FAILED);
            assertTrue(unreachable.lastErrLine().contains("cannot ask --node"), unreachable.err());
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
