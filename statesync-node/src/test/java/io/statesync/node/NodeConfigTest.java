package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.node.ledger.ThreadId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The node's YAML configuration: a valid file, and one clear line for every kind of mistake. */
class NodeConfigTest {
    static final String VALID = """
            node:
              id: n1
              dataDir: data/n1
            http:
              port: 8101
            gossip:
              port: 7101
              seeds: [127.0.0.1:7102]
            threads: [t0, t1]
            members:
              - id: n1
                http: http://127.0.0.1:8101
                raft: 127.0.0.1:9101
              - id: n2
                http: http://127.0.0.1:8102
                raft: 127.0.0.1:9111
            producer:
              productionTimeout: 150ms
              maxBlockBytes: 1MiB
              saveStateEvery: 50
            sync:
              staticStorages: [http://cdn.example/state/]
              maxTries: 3
              retryWait: 2s
              deadline: 10m
              importMinDistance: 12
              trustedKeys: [nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA]
            """;

    @TempDir
    Path dir;

    @Test
    void aValidFileGivesEveryValueAndTheDefaults() throws Exception {
        NodeConfig c = load(VALID);

        assertEquals("n1", c.id());
        assertEquals(dir.resolve("data/n1"), c.dataDir());
        assertEquals("127.0.0.1", c.host());
        assertEquals(8101, c.httpPort());
        assertEquals(NodeConfig.HttpLimits.DEFAULT, c.httpLimits());
        assertEquals(new NodeConfig.HttpLimits(512, 64), c.httpLimits(), "the defaults the docs give");
        assertEquals(7101, c.gossipPort());
        assertEquals(List.of(new ThreadId("t0"), new ThreadId("t1")), c.threads());
        assertEquals(2, c.members().size());
        assertEquals(9111, c.members().get(1).raft().getPort());
        assertEquals(Duration.ofMillis(150), c.producer().productionTimeout());
        assertEquals(1 << 20, c.producer().maxBlockBytes());
        assertEquals(2000, c.producer().maxTransactionsPerBlock(), "default");
        assertEquals(50, c.saveStateEvery());
        assertEquals(3, c.sync().maxTries());
        assertEquals(Duration.ofSeconds(2), c.sync().retryWait());
        assertEquals(Duration.ofMinutes(10), c.sync().deadline());
        assertEquals(2, c.sync().retainSnapshots(), "default");
        assertEquals(12, c.sync().importMinDistance());
        assertEquals(List.of(new io.statesync.discovery.card.NodeId("nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
                c.sync().trustedKeys());
        assertEquals(java.time.Duration.ofMinutes(1), c.sync().shareInterval(), "default");
        assertFalse(c.sync().freshStateOnJoin(), "default");
        assertEquals(1, c.genesis().balances().size(), "the faucet");
        assertEquals("n1", c.self().id());
    }

    @Test
    void withoutTheKeysTheImportDistanceIsTheSeedsAndOnlyMembersAreTrusted() throws Exception {
        NodeConfig c = load(VALID.replace("  importMinDistance: 12\n", "").replaceAll("  trustedKeys: .*\n", ""));

        assertEquals(NodeConfig.Sync.DEFAULT_IMPORT_MIN_DISTANCE, c.sync().importMinDistance());
        assertEquals(5, c.sync().importMinDistance());
        assertEquals(List.of(), c.sync().trustedKeys());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "unknown top-level key   | 'node:'                    | 'nodes:'              | 'nodes: unknown key'",
            "unknown nested key      | '  port: 8101'             | '  prot: 8101'        | 'http.prot: unknown key'",
            "missing id              | '  id: n1'                 | '  ix: n1'            | 'node.ix: unknown key'",
            "bad port                | '  port: 8101'             | '  port: 99999'       | 'http.port: 99999 is out of range'",
            "zero connection cap     | '  port: 8101'             | '  port: 8101\n  maxConnections: 0' | 'http.maxConnections: 0 is out of range'",
            "per-address cap text    | '  port: 8101'             | '  port: 8101\n  maxConnectionsPerAddress: many' | 'http.maxConnectionsPerAddress: ''many'' is not an integer'",
            "port not a number       | '  port: 8101'             | '  port: eighty'      | 'http.port: ''eighty'' is not an integer'",
            "bad duration            | '  productionTimeout: 150ms' | '  productionTimeout: 2x' | 'producer.productionTimeout:'",
            "bad size                | '  maxBlockBytes: 1MiB'    | '  maxBlockBytes: 1PB' | 'producer.maxBlockBytes:'",
            "block too big           | '  maxBlockBytes: 1MiB'    | '  maxBlockBytes: 64MiB' | 'producer: maxBlockBytes must be between'",
            "bad thread name         | 'threads: [t0, t1]'        | 'threads: [T0]'       | 'threads:'",
            "duplicate thread        | 'threads: [t0, t1]'        | 'threads: [t0, t0]'   | 'threads: thread names must be unique'",
            "no threads              | 'threads: [t0, t1]'        | 'threads: []'         | 'threads: list at least one thread'",
            "bad seed                | 'seeds: [127.0.0.1:7102]'  | 'seeds: [nowhere]'    | 'gossip.seeds: ''nowhere'' is not host:port'",
            "bad url                 | 'http: http://127.0.0.1:8102' | 'http: ftp://x'    | 'members[1].http: ''ftp://x'' is not an http(s) URL'",
            "self not a member       | '  id: n1'                 | '  id: n9'            | 'members: this node (node.id n9) must be one of the members'",
            "zero tries              | '  maxTries: 3'            | '  maxTries: 0'       | 'sync.maxTries: 0 is out of range'",
            "zero retry wait         | '  retryWait: 2s'          | '  retryWait: 0s'     | 'sync.retryWait: must be positive'",
            "zero share interval     | '  retryWait: 2s'          | '  retryWait: 2s\n  shareInterval: 0s' | 'sync.shareInterval: must be positive'",
            "fresh state not boolean | '  retryWait: 2s'          | '  retryWait: 2s\n  freshStateOnJoin: yes please' | 'sync.freshStateOnJoin: ''yes please'' is not true or false'",
            "section not a mapping   | 'sync:'                    | 'sync: 3'             | 'not valid YAML'",
            "members and join        | 'threads: [t0, t1]'        | 'threads: [t0, t1]\njoin: [http://127.0.0.1:8102]' | 'list either members (a founder) or join (a joiner), not both'",
            "bad join url            | 'threads: [t0, t1]'        | 'threads: [t0, t1]\njoin: [nowhere]' | 'join:'",
            "negative faucet         | 'threads: [t0, t1]'        | 'threads: [t0, t1]\ngenesis:\n  faucetBalance: -1' | 'genesis.faucetBalance:'",
            "zero import distance    | 'importMinDistance: 12'    | 'importMinDistance: 0' | 'sync.importMinDistance: 0 is out of range'",
            "import distance text    | 'importMinDistance: 12'    | 'importMinDistance: far' | 'sync.importMinDistance: ''far'' is not an integer'",
            "bad trusted key         | 'trustedKeys: [nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA]' | 'trustedKeys: [n1]' | 'sync.trustedKeys: ''n1'' is not a node id'",
            "trusted keys not a list | 'trustedKeys: [nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA]' | 'trustedKeys: nX' | 'sync.trustedKeys: must be a list'",
            "wildcard, no advertise  | '  port: 8101'             | '  host: 0.0.0.0\n  port: 8101' | 'http.advertise: missing: http.host 0.0.0.0 binds every interface'",
            "wildcard, no gossip adv | '  port: 8101'             | '  host: 0.0.0.0\n  advertise: http://127.0.0.1:8101\n  port: 8101' | 'gossip.advertise: missing'",
            "advertise not members'  | '  port: 8101'             | '  port: 8101\n  advertise: http://10.9.9.9:8101' | 'http.advertise: http://10.9.9.9:8101 is not this node''s URL in members'",
            "bad gossip advertise    | 'seeds: [127.0.0.1:7102]'  | 'seeds: [127.0.0.1:7102]\n  advertise: nowhere' | 'gossip.advertise: ''nowhere'' is not host:port'",
            "bad gossip profile      | 'seeds: [127.0.0.1:7102]'  | 'seeds: [127.0.0.1:7102]\n  profile: fast' | 'gossip.profile: ''fast'' is not allowed here'",
            "zero parallel           | '  maxTries: 3'            | '  maxTries: 3\n  parallel: 0' | 'sync.parallel: 0 is out of range'",
            "bad chunk deadline      | '  maxTries: 3'            | '  maxTries: 3\n  chunkDeadline: soon' | 'sync.chunkDeadline:'",
            "bad log format          | 'threads: [t0, t1]'        | 'threads: [t0, t1]\nlog:\n  format: xml' | 'log.format: ''xml'' is not allowed here'",
            "bad log level           | 'threads: [t0, t1]'        | 'threads: [t0, t1]\nlog:\n  levels: {org.apache.ratis: loud}' | 'log.levels: org.apache.ratis: ''loud'' is not one of'",
            "bad logger name         | 'threads: [t0, t1]'        | 'threads: [t0, t1]\nlog:\n  levels: {\"a b\": info}' | 'log.levels: ''a b'' is not a logger name'",
            "admin open, no token    | 'threads: [t0, t1]'        | 'threads: [t0, t1]\nadmin:\n  host: 0.0.0.0\n  port: 7119' | 'admin.tokenFile: missing: admin.host 0.0.0.0 can be reached from other machines'",
            "admin on a 127. name    | 'threads: [t0, t1]'        | 'threads: [t0, t1]\nadmin:\n  host: 127.evil.example' | 'admin.tokenFile: missing: admin.host 127.evil.example can be reached'",
            "admin on the http port  | 'threads: [t0, t1]'        | 'threads: [t0, t1]\nadmin:\n  port: 8101' | 'admin.port: 8101 is http.port too'",
            "admin unknown key       | 'threads: [t0, t1]'        | 'threads: [t0, t1]\nadmin:\n  token: abc' | 'admin.token: unknown key (known: host, port, tokenFile)'",
    })
    void aBadValueIsOneLineNamingTheKey(String name, String find, String replace, String expected) throws Exception {
        String yaml = VALID.replaceFirst(java.util.regex.Pattern.quote(find), java.util.regex.Matcher.quoteReplacement(replace));
        assertFalse(yaml.equals(VALID), "the test replaced something: " + find);

        NodeConfig.ConfigException e = assertThrows(NodeConfig.ConfigException.class, () -> load(yaml));

        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    static final String JOINER = """
            node:
              id: n4
              dataDir: data/n4
              raft: 10.0.0.4:7102
            http:
              host: 10.0.0.4
              port: 7100
            threads: [t0, t1]
            join: [http://10.0.0.1:7120, http://10.0.0.2:7140]
            genesis:
              faucetBalance: 0
              accounts:
                "%s": 1000
            """.formatted("ab".repeat(32));

    @Test
    void aJoinerNamesNodesToJoinThroughAndItsOwnAddresses() throws Exception {
        NodeConfig c = load(JOINER);
        assertEquals(List.of(java.net.URI.create("http://10.0.0.1:7120"), java.net.URI.create("http://10.0.0.2:7140")),
                c.join());
        assertEquals(1, c.members().size(), "only itself");
        assertEquals("http://10.0.0.4:7100", c.self().http().toString());
        assertEquals(7102, c.self().raft().getPort());
        assertEquals(1, c.genesis().balances().size(), "no faucet of its own: the accounts as written");
    }

    @Test
    void theHttpPortsConnectionCapsAreSetInTheFileOrTheEnvironment() throws Exception {
        // Behind a proxy every client arrives from the proxy's address: the per-address cap must rise.
        NodeConfig c = load(VALID.replace("  port: 8101\n", "  port: 8101\n  maxConnections: 4096\n"
                + "  maxConnectionsPerAddress: 1024\n"));
        assertEquals(new NodeConfig.HttpLimits(4096, 1024), c.httpLimits());

        NodeConfig e = load(VALID, Map.of("STATESYNC_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "300"));
        assertEquals(new NodeConfig.HttpLimits(512, 300), e.httpLimits());
    }

    @Test
    void aJoinerWithoutItsConsensusAddressIsOneLine() {
        NodeConfig.ConfigException e = assertThrows(NodeConfig.ConfigException.class,
                () -> load(JOINER.replace("  raft: 10.0.0.4:7102\n", "")));
        assertTrue(e.getMessage().startsWith("node.raft:"), e.getMessage());
    }

    @Test
    void aMissingFileOrNotYamlIsOneLine() throws Exception {
        var missing = assertThrows(NodeConfig.ConfigException.class, () -> NodeConfig.load(dir.resolve("none.yaml")));
        assertTrue(missing.getMessage().startsWith("cannot read config"), missing.getMessage());

        var garbled = assertThrows(NodeConfig.ConfigException.class, () -> load("node: [unclosed"));
        assertTrue(garbled.getMessage().contains("is not valid YAML"), garbled.getMessage());

        var scalar = assertThrows(NodeConfig.ConfigException.class, () -> load("just text"));
        assertTrue(scalar.getMessage().contains("must be a YAML mapping"), scalar.getMessage());
    }

    @Test
    void aNodeOnEveryInterfaceTellsOthersTheAdvertisedAddresses() throws Exception {
        NodeConfig c = load(VALID.replace("  port: 8101\n", "  host: 0.0.0.0\n  port: 8101\n  advertise: http://127.0.0.1:8101\n")
                .replace("  seeds: [127.0.0.1:7102]\n", "  seeds: [127.0.0.1:7102]\n  advertise: 10.0.0.1:7101\n  profile: wan\n"));

        assertEquals("0.0.0.0", c.host());
        assertEquals(java.net.URI.create("http://127.0.0.1:8101"), c.network().httpAdvertise());
        assertEquals("10.0.0.1", c.network().gossipAdvertise().getHostString());
        assertEquals(7101, c.network().gossipAdvertise().getPort());
        assertEquals(NodeConfig.GossipProfile.WAN, c.network().gossipProfile());
    }

    @Test
    void aJoinerOnEveryInterfaceAnnouncesItsAdvertisedUrlAsItsMembership() throws Exception {
        NodeConfig c = load(JOINER.replace("  host: 10.0.0.4\n", "  host: 0.0.0.0\n  advertise: http://joiner.example:7100\n"));

        assertEquals("http://joiner.example:7100", c.self().http().toString());
    }

    @Test
    void theGossipProfileFollowsTheHostUnlessSet() throws Exception {
        assertEquals(NodeConfig.GossipProfile.LOOPBACK, load(VALID).network().gossipProfile(), "127.0.0.1: one machine");
        assertEquals(NodeConfig.GossipProfile.LAN, load(JOINER).network().gossipProfile(), "10.0.0.4: a network");
        assertEquals(java.net.URI.create("http://10.0.0.4:7100"), load(JOINER).network().httpAdvertise(),
                "by default the bound address");
    }

    @Test
    void everyFetchKnobIsUnderSync() throws Exception {
        NodeConfig c = load(VALID.replace("  maxTries: 3\n",
                "  maxTries: 3\n  parallel: 8\n  perSource: 2\n  chunkDeadline: 5s\n  syncEvery: 64MiB\n"));

        assertEquals(8, c.sync().fetch().parallelism());
        assertEquals(2, c.sync().fetch().perSourceParallelism());
        assertEquals(Duration.ofSeconds(5), c.sync().fetch().chunkDeadline());
        assertEquals(64L << 20, c.sync().fetch().syncEvery());
        assertEquals(io.statesync.transfer.fetch.FetchOptions.DEFAULT, load(VALID).sync().fetch(), "and the defaults");
    }

    @Test
    void logSettingsAreReadAndDefaultToText() throws Exception {
        assertEquals(NodeConfig.Log.DEFAULT, load(VALID).log());
        NodeConfig c = load(VALID + "log:\n  format: json\n  levels: {root: debug, org.apache.ratis: INFO}\n");

        assertEquals("json", c.log().format());
        assertEquals(java.util.Map.of("root", "debug", "org.apache.ratis", "info"), c.log().levels());
    }

    @Test
    void theAdminApiIsOnAFreeLoopbackPortUnlessSetAndAnOpenOneNamesItsTokenFile() throws Exception {
        assertEquals(NodeConfig.Admin.DEFAULT, load(VALID).admin());
        assertTrue(load(VALID).admin().loopback());

        NodeConfig open = load(VALID + "admin:\n  host: 0.0.0.0\n  port: 7119\n  tokenFile: secrets/admin.token\n");
        assertEquals(new NodeConfig.Admin("0.0.0.0", 7119, dir.resolve("secrets/admin.token")), open.admin());
        assertFalse(open.admin().loopback());

        NodeConfig env = load(VALID, java.util.Map.of("STATESYNC_ADMIN_PORT", "7300",
                "STATESYNC_ADMIN_TOKEN_FILE", "/run/secrets/token"));
        assertEquals(new NodeConfig.Admin("127.0.0.1", 7300, Path.of("/run/secrets/token")), env.admin());
    }

    @Test
    void environmentVariablesOverrideTheFile() throws Exception {
        NodeConfig c = load(VALID, java.util.Map.of(
                "STATESYNC_HTTP_PORT", "9001",
                "STATESYNC_SYNC_CHUNK_DEADLINE", "1m",
                "STATESYNC_SYNC_FRESH_STATE_ON_JOIN", "true",
                "STATESYNC_GOSSIP_SEEDS", "127.0.0.1:7201, 127.0.0.1:7202",
                "STATESYNC_LOG_LEVELS", "io.statesync=debug,warn",
                "STATESYNC_LOG_FORMAT", "json",
                "STATESYNC_HOME", "/not/a/key", "STATESYNC_DEBUG", "1", "PATH", "/usr/bin"));

        assertEquals(9001, c.httpPort());
        assertEquals(Duration.ofMinutes(1), c.sync().fetch().chunkDeadline());
        assertTrue(c.sync().freshStateOnJoin());
        assertEquals(List.of(7201, 7202), c.gossipSeeds().stream().map(java.net.InetSocketAddress::getPort).toList());
        assertEquals(java.util.Map.of("io.statesync", "debug", "root", "warn"), c.log().levels());
        assertEquals("json", c.log().format());
        assertEquals(3, c.sync().maxTries(), "keys no variable names keep the file's value");
    }

    @Test
    void anEnvironmentVariableForAnUnknownKeyOrABadValueIsOneLine() {
        var unknown = assertThrows(NodeConfig.ConfigException.class,
                () -> load(VALID, java.util.Map.of("STATESYNC_HTTP_PROT", "9001")));
        assertTrue(unknown.getMessage().startsWith("environment variable STATESYNC_HTTP_PROT names no key of section "
                + "http (known: STATESYNC_HTTP_HOST, STATESYNC_HTTP_PORT, STATESYNC_HTTP_RATE_LIMIT"), unknown.getMessage());

        var bad = assertThrows(NodeConfig.ConfigException.class,
                () -> load(VALID, java.util.Map.of("STATESYNC_HTTP_PORT", "eighty")));
        assertTrue(bad.getMessage().startsWith("http.port: 'eighty' is not an integer"), bad.getMessage());
    }

    private NodeConfig load(String yaml) throws Exception {
        return load(yaml, java.util.Map.of());
    }

    private NodeConfig load(String yaml, java.util.Map<String, String> env) throws Exception {
        Path f = dir.resolve("node.yaml");
        Files.writeString(f, yaml);
        return NodeConfig.load(f, env);
    }
}
