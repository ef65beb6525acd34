package io.statesync.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.statesync.core.units.Durations;
import io.statesync.core.units.Sizes;
import io.statesync.discovery.card.NodeId;
import io.statesync.node.ledger.AccountId;
import io.statesync.node.ledger.Genesis;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.producer.ProducerConfig;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.tls.ClientAuth;
import io.statesync.transfer.tls.Tls;
import io.statesync.transfer.tls.TlsException;
import io.statesync.transfer.tls.TlsFiles;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * A node's configuration, read from a YAML file (see {@code docs/node-config.md} for every key).
 * Every value is checked when the file is read; a bad one is a {@link ConfigException} whose
 * one-line message names the key.
 *
 * @param id this node's member id in every thread's group
 * @param dataDir where the node keeps its state (created if missing)
 * @param host the address the node's HTTP server binds
 * @param httpPort the node's HTTP port: API, metrics, snapshots and catch-up
 * @param httpRateLimit bytes per second the node sends at most over all connections (0: no cap),
 *     so that serving snapshots leaves room for consensus on the same uplink
 * @param gossipPort the gossip (membership) port; 0 turns gossip off
 * @param gossipSeeds gossip peers to join through
 * @param threads the threads (parallel chains) the node runs, each one replicated group
 * @param members the founding nodes of the cluster, this one included; for a node that joins a
 *     running cluster ({@code join}), only this node
 * @param join HTTP base URLs of running nodes to join the cluster through; empty for a founder
 * @param producer how blocks are produced
 * @param saveStateEvery a state snapshot is saved after every block whose number is a multiple
 *     of this (every replica saves the same blocks, so their snapshots share one content address)
 * @param sync how state is loaded from peers and static storages
 * @param genesis the initial balances of every thread
 * @param network what this node tells others about where to reach it, and its gossip timings
 * @param log how the node process logs (applied by the command that runs the node)
 * @param admin where the operator's API listens, and the token it asks for
 * @param tls the certificate the node's HTTP port serves HTTPS with, the CA bundle its clients
 *     trust (and check client certificates against), and whether members must present one; null
 *     for plain HTTP
 * @param httpLimits how many connections the HTTP port holds, in all and from one client address
 */
public record NodeConfig(String id, Path dataDir, String host, int httpPort, long httpRateLimit, int gossipPort,
                         List<InetSocketAddress> gossipSeeds, List<ThreadId> threads, List<Member> members,
                         ProducerConfig producer, long saveStateEvery, Sync sync, Genesis genesis, List<URI> join,
                         Network network, Log log, Admin admin, Tls tls, HttpLimits httpLimits) {
    public NodeConfig {
        Objects.requireNonNull(httpLimits, "httpLimits");
    }

    /** As the canonical constructor, with the default connection limits. */
    public NodeConfig(String id, Path dataDir, String host, int httpPort, long httpRateLimit, int gossipPort,
                      List<InetSocketAddress> gossipSeeds, List<ThreadId> threads, List<Member> members,
                      ProducerConfig producer, long saveStateEvery, Sync sync, Genesis genesis, List<URI> join,
                      Network network, Log log, Admin admin, Tls tls) {
        this(id, dataDir, host, httpPort, httpRateLimit, gossipPort, gossipSeeds, threads, members, producer,
                saveStateEvery, sync, genesis, join, network, log, admin, tls, HttpLimits.DEFAULT);
    }

    /**
     * A configuration with the defaults for everything the file's {@code http.advertise},
     * {@code gossip.advertise}, {@code gossip.profile}, {@code log} and {@code admin} say: this node
     * is reached at the address it binds, with the loopback gossip timings, logging text at the
     * node's levels, its admin API on a free loopback port without a token.
     */
    public NodeConfig(String id, Path dataDir, String host, int httpPort, long httpRateLimit, int gossipPort,
                      List<InetSocketAddress> gossipSeeds, List<ThreadId> threads, List<Member> members,
                      ProducerConfig producer, long saveStateEvery, Sync sync, Genesis genesis, List<URI> join) {
        this(id, dataDir, host, httpPort, httpRateLimit, gossipPort, gossipSeeds, threads, members, producer,
                saveStateEvery, sync, genesis, join,
                new Network(httpUrl(host, httpPort), null, GossipProfile.LOOPBACK), Log.DEFAULT, Admin.DEFAULT, null,
                HttpLimits.DEFAULT);
    }

    /** The keys of each section of the file (and of the environment variables that override them). */
    static final Map<String, List<String>> KEYS = Map.of(
            "node", List.of("id", "dataDir", "raft"),
            "http", List.of("host", "port", "rateLimit", "advertise", "maxConnections", "maxConnectionsPerAddress"),
            "gossip", List.of("port", "seeds", "advertise", "profile"),
            "producer", List.of("productionTimeout", "maxTransactionsPerBlock", "maxBlockBytes", "mempoolCapacity",
                    "mempoolBytes", "saveStateEvery"),
            "sync", List.of("staticStorages", "maxTries", "retryWait", "deadline", "retainSnapshots", "stallTimeout",
                    "importMinDistance", "trustedKeys", "shareInterval", "freshStateOnJoin", "parallel", "perSource",
                    "chunkDeadline", "syncEvery"),
            "log", List.of("format", "levels"),
            "admin", List.of("host", "port", "tokenFile"),
            "tls", List.of("cert", "key", "ca", "clientAuth"),
            "genesis", List.of("faucetSeed", "faucetBalance", "accounts"));

    /** Keys whose value is a list; an environment variable gives them comma-separated. */
    private static final Set<String> LIST_KEYS = Set.of("threads", "join", "gossip.seeds", "sync.staticStorages",
            "sync.trustedKeys");

    /** The prefix of environment variables that override keys of the file. */
    public static final String ENV_PREFIX = "STATESYNC_";

    /**
     * Where other nodes reach this one, and how fast gossip probes.
     *
     * @param httpAdvertise the URL of this node's HTTP server as others reach it (gossip cards, the
     *     membership a joiner announces); {@code http.advertise}, by default {@code http://host:port}
     * @param gossipAdvertise the gossip address others reach this node at; null for the bound address
     * @param gossipProfile the failure detector's timings
     */
    public record Network(URI httpAdvertise, InetSocketAddress gossipAdvertise, GossipProfile gossipProfile) {
    }

    /**
     * The HTTP port's connection limits; a connection past either is answered 503 with the limit
     * it hit, and closed.
     *
     * @param maxConnections open connections in all ({@code http.maxConnections}, 512)
     * @param maxConnectionsPerAddress open connections from one client address
     *     ({@code http.maxConnectionsPerAddress}, 64), so one client cannot take every connection;
     *     raise it when clients arrive through a proxy, which gives them all one address
     */
    public record HttpLimits(int maxConnections, int maxConnectionsPerAddress) {
        public static final HttpLimits DEFAULT = new HttpLimits(512, 64);

        public HttpLimits {
            if (maxConnections < 1 || maxConnectionsPerAddress < 1) {
                throw new IllegalArgumentException("connection limits must be at least 1, not " + maxConnections
                        + " and " + maxConnectionsPerAddress);
            }
        }
    }

    /**
     * Gossip timings for the network the nodes share; {@code gossip.profile}. See
     * docs/node-config.md for what each means in seconds.
     */
    public enum GossipProfile {
        /** One machine: a dead node is noticed within seconds. */
        LOOPBACK,
        /** One data centre. */
        LAN,
        /** Across regions: slower probes, fewer false suspicions. */
        WAN
    }

    /**
     * How the node process logs.
     *
     * @param format {@code text} or {@code json}
     * @param levels logger name ({@code root} for all) to level, over the node's defaults
     */
    public record Log(String format, Map<String, String> levels) {
        public static final Log DEFAULT = new Log("text", Map.of());
        static final Set<String> LEVELS = Set.of("trace", "debug", "info", "warn", "error", "off");

        public Log {
            levels = Collections.unmodifiableMap(new LinkedHashMap<>(levels));
        }
    }
    /**
     * The admin API's own listener: every control that changes what the node does (members,
     * loads, saves, the producer) answers there and nowhere else.
     *
     * @param host the address it binds; loopback by default, so only this machine reaches it
     * @param port its port; 0 picks a free one (the node logs the URL)
     * @param tokenFile a file only the node's user may read, holding the bearer token every admin
     *     request must carry; null for none, which is allowed only on a loopback host
     */
    public record Admin(String host, int port, Path tokenFile) {
        public static final Admin DEFAULT = new Admin("127.0.0.1", 0, null);

        public Admin {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("admin port must be 0..65535, not " + port);
            }
        }

        /** Whether only this machine can reach the listener. */
        public boolean loopback() {
            return isLoopback(host);
        }
    }

    static boolean isLoopback(String host) {
        // An address, not a name that merely starts like one (127.evil.example).
        return host.equals("localhost") || host.matches("127(\\.\\d{1,3}){3}") || host.equals("::1")
                || host.equals("[::1]");
    }

    /**
     * A node of the cluster.
     *
     * @param raft the consensus address of the first thread's group; thread {@code i} uses port + i
     */
    public record Member(String id, URI http, InetSocketAddress raft) {
    }

    /**
     * @param staticStorages base URLs of static file shares holding snapshots (store layout)
     * @param maxTries tries per chunk before a source is given up for the load
     * @param retryWait the first wait between tries (it doubles)
     * @param deadline the longest a load may take
     * @param retainSnapshots saved snapshots kept per thread, besides those a peer is fetching
     * @param stallTimeout how long a thread may stop following its group before the node reports it
     *     stalled (and tries to recover it; see the groups' stall watch)
     * @param importMinDistance blocks an offered saved state must be ahead of this node's head to be
     *     worth importing; closer, the node replays the log instead
     * @param trustedKeys gossip nodes (their ids, i.e. key fingerprints) whose advertised saved
     *     states are used as sources besides those of the thread's current group members
     * @param shareInterval the least time between two saves made on request ({@code POST
     *     /admin/sync/share}); more requests within it are refused
     * @param freshStateOnJoin whether a node that joins asks the node it joins through for a fresh
     *     save of every thread first, so it loads a state close to the head
     * @param fetch the chunk fetcher's settings: parallel requests in all and per source, the
     *     deadline of one chunk request, bytes written between syncs to disk (its tries, retry
     *     wait and deadline are the ones above)
     */
    public record Sync(List<URI> staticStorages, int maxTries, Duration retryWait, Duration deadline,
                       int retainSnapshots, Duration stallTimeout, long importMinDistance, List<NodeId> trustedKeys,
                       Duration shareInterval, boolean freshStateOnJoin, FetchOptions fetch) {
        /** The seed's minimum import distance: closer than this, replaying the log is cheaper. */
        public static final long DEFAULT_IMPORT_MIN_DISTANCE = 5;
        public static final Duration DEFAULT_SHARE_INTERVAL = Duration.ofMinutes(1);

        public Sync {
            staticStorages = List.copyOf(staticStorages);
            trustedKeys = List.copyOf(trustedKeys);
        }

        /**
         * With the defaults: the seed's import distance, no trusted keys besides the members', at
         * most one save on request per minute, none asked for on joining.
         */
        public Sync(List<URI> staticStorages, int maxTries, Duration retryWait, Duration deadline, int retainSnapshots,
                    Duration stallTimeout) {
            this(staticStorages, maxTries, retryWait, deadline, retainSnapshots, stallTimeout,
                    DEFAULT_IMPORT_MIN_DISTANCE, List.of(), DEFAULT_SHARE_INTERVAL, false, FetchOptions.DEFAULT);
        }

        public Sync withImportMinDistance(long blocks) {
            return new Sync(staticStorages, maxTries, retryWait, deadline, retainSnapshots, stallTimeout, blocks,
                    trustedKeys, shareInterval, freshStateOnJoin, fetch);
        }

        public Sync withTrustedKeys(List<NodeId> keys) {
            return new Sync(staticStorages, maxTries, retryWait, deadline, retainSnapshots, stallTimeout,
                    importMinDistance, keys, shareInterval, freshStateOnJoin, fetch);
        }

        public Sync withShareInterval(Duration v) {
            return new Sync(staticStorages, maxTries, retryWait, deadline, retainSnapshots, stallTimeout,
                    importMinDistance, trustedKeys, v, freshStateOnJoin, fetch);
        }

        public Sync withFetch(FetchOptions v) {
            return new Sync(staticStorages, maxTries, retryWait, deadline, retainSnapshots, stallTimeout,
                    importMinDistance, trustedKeys, shareInterval, freshStateOnJoin, v);
        }

        public Sync withFreshStateOnJoin(boolean v) {
            return new Sync(staticStorages, maxTries, retryWait, deadline, retainSnapshots, stallTimeout,
                    importMinDistance, trustedKeys, shareInterval, v, fetch);
        }
    }

    /** A bad configuration: the message names the key and says what is wrong, on one line. */
    public static final class ConfigException extends Exception {
        public ConfigException(String message) {
            super(message);
        }
    }

    /** This configuration with other sync settings. */
    public NodeConfig withSync(Sync other) {
        return new NodeConfig(id, dataDir, host, httpPort, httpRateLimit, gossipPort, gossipSeeds, threads, members,
                producer, saveStateEvery, other, genesis, join, network, log, admin, tls, httpLimits);
    }

    /** This configuration with another admin listener. */
    public NodeConfig withAdmin(Admin other) {
        return new NodeConfig(id, dataDir, host, httpPort, httpRateLimit, gossipPort, gossipSeeds, threads, members,
                producer, saveStateEvery, sync, genesis, join, network, log, other, tls, httpLimits);
    }

    /**
     * This configuration serving HTTPS with {@code other} (null: plain HTTP); {@code http.advertise}
     * follows the scheme when it is still this node's bound address.
     */
    public NodeConfig withTls(Tls other) {
        URI advertise = network.httpAdvertise();
        if (sameUrl(advertise, httpUrl(host, httpPort)) || sameUrl(advertise, httpsUrl(host, httpPort))) {
            advertise = other == null ? httpUrl(host, httpPort) : httpsUrl(host, httpPort);
        }
        return new NodeConfig(id, dataDir, host, httpPort, httpRateLimit, gossipPort, gossipSeeds, threads, members,
                producer, saveStateEvery, sync, genesis, join,
                new Network(advertise, network.gossipAdvertise(), network.gossipProfile()), log, admin, other,
                httpLimits);
    }

    /** This configuration with other limits on the HTTP port's connections. */
    public NodeConfig withHttpLimits(HttpLimits other) {
        return new NodeConfig(id, dataDir, host, httpPort, httpRateLimit, gossipPort, gossipSeeds, threads, members,
                producer, saveStateEvery, sync, genesis, join, network, log, admin, tls, other);
    }

    public Member self() {
        return members.stream().filter(m -> m.id().equals(id)).findFirst().orElseThrow();
    }

    /** Reads and checks a YAML configuration file. */
    public static NodeConfig load(Path file) throws ConfigException {
        return load(file, Map.of());
    }

    /**
     * Reads and checks a YAML configuration file, with the keys that {@code env} overrides:
     * {@code STATESYNC_<SECTION>_<KEY>} with the key in upper snake case ({@code STATESYNC_HTTP_PORT},
     * {@code STATESYNC_SYNC_CHUNK_DEADLINE}), lists comma-separated ({@code STATESYNC_GOSSIP_SEEDS},
     * {@code STATESYNC_JOIN}). Variables whose second word names no section are not ours and are
     * ignored; one that names a section but no key of it is an error.
     */
    public static NodeConfig load(Path file, Map<String, String> env) throws ConfigException {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException("cannot read config " + file + ": " + e.getMessage());
        }
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(text);
        } catch (IOException e) {
            throw new ConfigException("config " + file + " is not valid YAML: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException("config " + file + " must be a YAML mapping of sections");
        }
        applyEnvironment((ObjectNode) root, env);
        Path base = file.toAbsolutePath().getParent();
        return parse(new Section("", root), base);
    }

    /** Overrides keys of {@code root} by {@link #ENV_PREFIX} variables (see {@link #load(Path, Map)}). */
    static void applyEnvironment(ObjectNode root, Map<String, String> env) throws ConfigException {
        for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
            String name = e.getKey();
            if (!name.startsWith(ENV_PREFIX)) {
                continue;
            }
            String rest = name.substring(ENV_PREFIX.length());
            if (rest.equals("THREADS") || rest.equals("JOIN")) {
                root.set(rest.toLowerCase(Locale.ROOT), envValue(rest.toLowerCase(Locale.ROOT), e.getValue()));
                continue;
            }
            int cut = rest.indexOf('_');
            String section = (cut < 0 ? rest : rest.substring(0, cut)).toLowerCase(Locale.ROOT);
            if (!KEYS.containsKey(section) || section.equals("genesis")) {
                continue;
            }
            String key = cut < 0 ? "" : camelCase(rest.substring(cut + 1));
            if (!KEYS.get(section).contains(key) || key.equals("accounts")) {
                throw new ConfigException("environment variable " + name + " names no key of section " + section
                        + " (known: " + String.join(", ", KEYS.get(section).stream()
                        .map(k -> ENV_PREFIX + section.toUpperCase(Locale.ROOT) + "_" + upperSnake(k)).toList()) + ")");
            }
            JsonNode present = root.get(section);
            ObjectNode target = present instanceof ObjectNode o ? o : root.putObject(section);
            target.set(key, envValue(section + "." + key, e.getValue()));
        }
    }

    /** An environment value as the file would have it: a list, a whole number, a boolean, or text. */
    private static JsonNode envValue(String key, String value) {
        var nodes = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance;
        if (LIST_KEYS.contains(key)) {
            var list = nodes.arrayNode();
            for (String part : value.split(",")) {
                if (!part.isBlank()) {
                    list.add(part.trim());
                }
            }
            return list;
        }
        if (key.equals("log.levels")) {
            return nodes.textNode(value);
        }
        String v = value.trim();
        if (v.matches("-?[0-9]{1,18}")) {
            return nodes.numberNode(Long.parseLong(v));
        }
        if (v.equals("true") || v.equals("false")) {
            return nodes.booleanNode(Boolean.parseBoolean(v));
        }
        return nodes.textNode(v);
    }

    private static String camelCase(String upperSnake) {
        StringBuilder out = new StringBuilder();
        boolean upper = false;
        for (char c : upperSnake.toLowerCase(Locale.ROOT).toCharArray()) {
            if (c == '_') {
                upper = true;
            } else {
                out.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return out.toString();
    }

    private static String upperSnake(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toUpperCase(Locale.ROOT);
    }

    static NodeConfig parse(Section root, Path base) throws ConfigException {
        root.allow("node", "http", "gossip", "threads", "members", "join", "producer", "sync", "genesis", "log",
                "admin", "tls");
        Section node = root.section("node", true);
        node.allow(KEYS.get("node"));
        String id = node.string("id", null, "[A-Za-z0-9._-]{1,64}");
        Path dataDir = base.resolve(node.string("dataDir", null, ".+")).normalize();

        Section http = root.section("http", true);
        http.allow(KEYS.get("http"));
        String host = http.string("host", "127.0.0.1", "[A-Za-z0-9.:-]{1,253}");
        int httpPort = http.port("port", null, false);
        long rateLimit = http.size("rateLimit", 0);
        HttpLimits httpLimits = new HttpLimits(
                (int) http.number("maxConnections", HttpLimits.DEFAULT.maxConnections(), 1, 1_000_000),
                (int) http.number("maxConnectionsPerAddress", HttpLimits.DEFAULT.maxConnectionsPerAddress(), 1,
                        1_000_000));
        boolean wildcard = host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
        Tls tls = tls(root.section("tls", false), base);
        String scheme = tls == null ? "http" : "https";
        URI httpAdvertise;
        if (http.has("advertise")) {
            httpAdvertise = http.url("advertise");
            if (!httpAdvertise.getScheme().equals(scheme)) {
                throw new ConfigException("http.advertise: " + httpAdvertise + " must be an " + scheme + ":// URL"
                        + (tls == null ? " (no tls: section, so the port serves plain HTTP)"
                        : " (the tls: section makes the port serve HTTPS)"));
            }
        } else if (wildcard) {
            throw new ConfigException("http.advertise: missing: http.host " + host + " binds every interface, so "
                    + "set the URL other nodes reach this one at (e.g. " + scheme + "://10.0.0.5:" + httpPort + ")");
        } else {
            httpAdvertise = tls == null ? httpUrl(host, httpPort) : httpsUrl(host, httpPort);
        }

        Section gossip = root.section("gossip", false);
        gossip.allow(KEYS.get("gossip"));
        int gossipPort = gossip.port("port", 0, true);
        List<InetSocketAddress> seeds = new ArrayList<>();
        for (String s : gossip.strings("seeds")) {
            seeds.add(address("gossip.seeds", s));
        }
        InetSocketAddress gossipAdvertise = null;
        if (gossip.has("advertise")) {
            gossipAdvertise = address("gossip.advertise", gossip.string("advertise", null, ".+"));
        } else if (wildcard && gossipPort != 0) {
            throw new ConfigException("gossip.advertise: missing: http.host " + host + " binds every interface, so "
                    + "set the host:port other nodes reach this node's gossip at (e.g. 10.0.0.5:" + gossipPort + ")");
        }
        boolean loopbackHost = isLoopback(host);
        GossipProfile profile;
        String profileName = gossip.string("profile", loopbackHost ? "loopback" : "lan", "loopback|lan|wan");
        profile = GossipProfile.valueOf(profileName.toUpperCase(Locale.ROOT));

        List<ThreadId> threads = new ArrayList<>();
        for (String t : root.strings("threads")) {
            try {
                threads.add(new ThreadId(t));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("threads: " + e.getMessage());
            }
        }
        if (threads.isEmpty()) {
            throw new ConfigException("threads: list at least one thread, e.g. threads: [t0, t1]");
        }
        if (Set.copyOf(threads).size() != threads.size()) {
            throw new ConfigException("threads: thread names must be unique");
        }

        List<URI> join = new ArrayList<>();
        for (String u : root.strings("join")) {
            join.add(Section.parseUrl(root.where("join"), u));
        }
        List<Member> members = new ArrayList<>();
        JsonNode ms = root.node.get("members");
        if (!join.isEmpty()) {
            // A joiner names running nodes instead of the members: it learns the membership from them.
            if (ms != null) {
                throw new ConfigException("members: a node that joins (join: ...) learns the members from the "
                        + "cluster; list either members (a founder) or join (a joiner), not both");
            }
            String raft = node.string("raft", null, ".+");
            members.add(new Member(id, httpAdvertise, address("node.raft", raft)));
        } else if (ms == null || !ms.isArray() || ms.isEmpty()) {
            throw new ConfigException("members: list every founding node of the cluster (id, http, raft), this one "
                    + "included; or, to join a running cluster, join: [URL of a running node] and node.raft");
        }
        for (int i = 0; join.isEmpty() && i < ms.size(); i++) {
            Section m = new Section("members[" + i + "]", ms.get(i));
            if (!ms.get(i).isObject()) {
                throw new ConfigException(m.where("") + "must be a mapping with id, http and raft");
            }
            m.allow(List.of("id", "http", "raft"));
            String mid = m.string("id", null, "[A-Za-z0-9._-]{1,64}");
            URI mhttp = m.url("http");
            InetSocketAddress raft = address(m.where("raft"), m.string("raft", null, ".+"));
            members.add(new Member(mid, mhttp, raft));
        }
        if (members.stream().map(Member::id).distinct().count() != members.size()) {
            throw new ConfigException("members: member ids must be unique");
        }
        if (members.stream().noneMatch(m -> m.id().equals(id))) {
            throw new ConfigException("members: this node (node.id " + id + ") must be one of the members");
        }

        if (join.isEmpty() && http.has("advertise")) {
            URI listed = members.stream().filter(m -> m.id().equals(id)).findFirst().orElseThrow().http();
            if (!sameUrl(listed, httpAdvertise)) {
                throw new ConfigException("http.advertise: " + httpAdvertise + " is not this node's URL in members ("
                        + listed + "); the other nodes reach it at the members' URL");
            }
        }

        Section p = root.section("producer", false);
        p.allow(KEYS.get("producer"));
        ProducerConfig d = ProducerConfig.defaults();
        ProducerConfig producer;
        try {
            producer = new ProducerConfig(p.duration("productionTimeout", d.productionTimeout()),
                    (int) p.number("maxTransactionsPerBlock", d.maxTransactionsPerBlock(), 1, 100_000),
                    p.size("maxBlockBytes", d.maxBlockBytes()),
                    (int) p.number("mempoolCapacity", d.mempoolCapacity(), 1, 10_000_000),
                    p.size("mempoolBytes", d.mempoolBytes()));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("producer: " + e.getMessage());
        }
        long saveEvery = p.number("saveStateEvery", 100, 0, Long.MAX_VALUE);

        Section s = root.section("sync", false);
        s.allow(KEYS.get("sync"));
        List<URI> statics = new ArrayList<>();
        for (String u : s.strings("staticStorages")) {
            statics.add(Section.parseUrl(s.where("staticStorages"), u));
        }
        List<NodeId> trustedKeys = new ArrayList<>();
        for (String k : s.strings("trustedKeys")) {
            try {
                trustedKeys.add(new NodeId(k));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(s.where("trustedKeys") + "'" + k + "' is not a node id (n and 32 base64url "
                        + "characters, as statesync peers lists them)");
            }
        }
        Sync sync = new Sync(statics, (int) s.number("maxTries", 5, 1, 1000),
                s.positiveDuration("retryWait", Duration.ofMillis(500)),
                s.positiveDuration("deadline", Duration.ofMinutes(30)),
                (int) s.number("retainSnapshots", 2, 1, 1000),
                s.positiveDuration("stallTimeout", Duration.ofSeconds(30)),
                s.number("importMinDistance", Sync.DEFAULT_IMPORT_MIN_DISTANCE, 1, 1_000_000_000),
                trustedKeys,
                s.positiveDuration("shareInterval", Sync.DEFAULT_SHARE_INTERVAL),
                s.bool("freshStateOnJoin", false), fetchOptions(s));

        Section l = root.section("log", false);
        l.allow(KEYS.get("log"));
        Log log = new Log(l.string("format", "text", "text|json"), l.levels("levels"));

        Section adm = root.section("admin", false);
        adm.allow(KEYS.get("admin"));
        String adminHost = adm.string("host", Admin.DEFAULT.host(), "[A-Za-z0-9.:-]{1,253}");
        int adminPort = adm.port("port", 0, true);
        Path tokenFile = adm.has("tokenFile") ? base.resolve(adm.string("tokenFile", null, ".+")).normalize() : null;
        if (tokenFile == null && !isLoopback(adminHost)) {
            throw new ConfigException("admin.tokenFile: missing: admin.host " + adminHost + " can be reached from "
                    + "other machines, so the admin API needs a token (a file only the node's user can read)");
        }
        if (adminPort != 0 && adminPort == httpPort && adminHost.equals(host)) {
            throw new ConfigException("admin.port: " + adminPort + " is http.port too; the admin API needs its own");
        }
        Admin admin = new Admin(adminHost, adminPort, tokenFile);

        Section g = root.section("genesis", false);
        g.allow(KEYS.get("genesis"));
        TreeMap<AccountId, Long> balances = new TreeMap<>();
        String seed = g.string("faucetSeed", "statesync-demo", ".{1,200}");
        long faucet = g.number("faucetBalance", 1_000_000_000_000L, 0, Long.MAX_VALUE / 4);
        if (faucet > 0) {
            // 0: no faucet account (a joiner's config lists every genesis balance under accounts).
            balances.put(Signer.fromPhrase(seed).account(), faucet);
        }
        JsonNode accounts = g.node == null ? null : g.node.get("accounts");
        if (accounts != null) {
            if (!accounts.isObject()) {
                throw new ConfigException("genesis.accounts: must map account ids (64 hex) to balances");
            }
            for (Iterator<String> it = accounts.fieldNames(); it.hasNext(); ) {
                String hex = it.next();
                AccountId a;
                try {
                    a = AccountId.fromHex(hex);
                } catch (IllegalArgumentException e) {
                    throw new ConfigException("genesis.accounts: " + e.getMessage());
                }
                JsonNode v = accounts.get(hex);
                if (!v.canConvertToLong() || v.asLong() < 0) {
                    throw new ConfigException("genesis.accounts." + hex + ": balance must be a non-negative integer");
                }
                balances.put(a, v.asLong());
            }
        }
        return new NodeConfig(id, dataDir, host, httpPort, rateLimit, gossipPort, seeds, threads, members, producer, saveEvery,
                sync, new Genesis(balances), List.copyOf(join), new Network(httpAdvertise, gossipAdvertise, profile), log,
                admin, tls, httpLimits);
    }

    /**
     * The {@code tls:} section, its PEM files read and checked now so that a bad one stops the node
     * at start with one line naming it; null when the section is absent.
     */
    private static Tls tls(Section t, Path base) throws ConfigException {
        if (t.node == null) {
            return null;
        }
        t.allow(KEYS.get("tls"));
        Path cert = base.resolve(t.string("cert", null, ".+")).normalize();
        Path key = base.resolve(t.string("key", null, ".+")).normalize();
        Path ca = t.has("ca") ? base.resolve(t.string("ca", null, ".+")).normalize() : null;
        ClientAuth clientAuth = ClientAuth.parse(t.string("clientAuth", "none", "none|want|require"));
        if (clientAuth != ClientAuth.NONE && ca == null) {
            throw new ConfigException("tls.ca: missing: tls.clientAuth " + clientAuth.spelling()
                    + " checks members' certificates against this CA bundle");
        }
        try {
            return new TlsFiles(cert, key, ca, clientAuth).load();
        } catch (TlsException e) {
            throw new ConfigException("tls: " + e.getMessage());
        }
    }

    /** The fetch command's knobs under {@code sync:}, with the same defaults and limits. */
    private static FetchOptions fetchOptions(Section s) throws ConfigException {
        FetchOptions d = FetchOptions.DEFAULT;
        try {
            return d.withParallelism((int) s.number("parallel", d.parallelism(), 1, 1024))
                    .withPerSourceParallelism((int) s.number("perSource", d.perSourceParallelism(), 1, 1024))
                    .withChunkDeadline(s.positiveDuration("chunkDeadline", d.chunkDeadline()))
                    .withSyncEvery(s.size("syncEvery", d.syncEvery()));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("sync: " + e.getMessage());
        }
    }

    /** {@code http://host:port}, brackets around an IPv6 host. */
    static URI httpUrl(String host, int port) {
        return URI.create("http://" + (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host) + ":"
                + port);
    }

    static URI httpsUrl(String host, int port) {
        return URI.create("https" + httpUrl(host, port).toString().substring("http".length()));
    }

    private static boolean sameUrl(URI a, URI b) {
        return a.toString().replaceAll("/+$", "").equalsIgnoreCase(b.toString().replaceAll("/+$", ""));
    }

    static InetSocketAddress address(String key, String text) throws ConfigException {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new ConfigException(key + ": '" + text + "' is not host:port");
        }
        try {
            int port = Integer.parseInt(text.substring(colon + 1));
            if (port < 1 || port > 65535) {
                throw new NumberFormatException();
            }
            return InetSocketAddress.createUnresolved(text.substring(0, colon), port);
        } catch (NumberFormatException e) {
            throw new ConfigException(key + ": '" + text + "' has no valid port (1-65535)");
        }
    }

    /** One mapping of the file, with checked typed getters whose errors name the full key. */
    record Section(String path, JsonNode node) {
        String where(String key) {
            return (path.isEmpty() ? "" : path + ".") + key + (key.isEmpty() ? "" : ": ");
        }

        void allow(String... keys) throws ConfigException {
            allow(List.of(keys));
        }

        void allow(List<String> keys) throws ConfigException {
            if (node == null || node.isMissingNode()) {
                return;
            }
            Set<String> known = Set.copyOf(keys);
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!known.contains(k)) {
                    throw new ConfigException((path.isEmpty() ? "" : path + ".") + k + ": unknown key (known: "
                            + String.join(", ", keys) + ")");
                }
            }
        }

        Section section(String key, boolean required) throws ConfigException {
            JsonNode n = node == null ? null : node.get(key);
            if (n == null || n.isNull()) {
                if (required) {
                    throw new ConfigException(where(key) + "missing section");
                }
                return new Section(where(key).replaceAll(": $", ""), null);
            }
            if (!n.isObject()) {
                throw new ConfigException(where(key) + "must be a mapping");
            }
            return new Section(where(key).replaceAll(": $", ""), n);
        }

        boolean has(String key) {
            return get(key) != null;
        }

        /**
         * A map of logger names to levels, or the same as text, {@code logger=level,...} (how an
         * environment variable gives it); a bare level is the root logger's.
         */
        Map<String, String> levels(String key) throws ConfigException {
            JsonNode n = get(key);
            Map<String, String> out = new LinkedHashMap<>();
            if (n == null) {
                return out;
            }
            if (n.isObject()) {
                for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                    var e = it.next();
                    putLevel(out, e.getKey(), e.getValue().asText());
                }
            } else if (n.isValueNode()) {
                for (String part : n.asText().split(",")) {
                    if (part.isBlank()) {
                        continue;
                    }
                    int eq = part.indexOf('=');
                    putLevel(out, eq < 0 ? "root" : part.substring(0, eq).trim(), part.substring(eq + 1).trim());
                }
            } else {
                throw new ConfigException(where(key) + "must map logger names to levels, e.g. {org.apache.ratis: info}");
            }
            return out;
        }

        private void putLevel(Map<String, String> out, String logger, String level) throws ConfigException {
            if (!logger.matches("[A-Za-z0-9_.$]+")) {
                throw new ConfigException(where("levels") + "'" + logger + "' is not a logger name");
            }
            String l = level.toLowerCase(Locale.ROOT);
            if (!Log.LEVELS.contains(l)) {
                throw new ConfigException(where("levels") + logger + ": '" + level + "' is not one of trace, debug, "
                        + "info, warn, error, off");
            }
            out.put(logger, l);
        }

        private JsonNode get(String key) {
            JsonNode n = node == null ? null : node.get(key);
            return n == null || n.isNull() ? null : n;
        }

        String string(String key, String fallback, String pattern) throws ConfigException {
            JsonNode n = get(key);
            if (n == null) {
                if (fallback == null) {
                    throw new ConfigException(where(key) + "missing");
                }
                return fallback;
            }
            if (!n.isValueNode()) {
                throw new ConfigException(where(key) + "must be a single value");
            }
            String v = n.asText();
            if (!v.matches(pattern)) {
                throw new ConfigException(where(key) + "'" + v + "' is not allowed here");
            }
            return v;
        }

        List<String> strings(String key) throws ConfigException {
            JsonNode n = get(key);
            List<String> out = new ArrayList<>();
            if (n == null) {
                return out;
            }
            if (!n.isArray()) {
                throw new ConfigException(where(key) + "must be a list");
            }
            for (JsonNode e : n) {
                if (!e.isValueNode()) {
                    throw new ConfigException(where(key) + "every entry must be a single value");
                }
                out.add(e.asText());
            }
            return out;
        }

        long number(String key, long fallback, long min, long max) throws ConfigException {
            JsonNode n = get(key);
            if (n == null) {
                return fallback;
            }
            if (!n.canConvertToLong() || !n.isIntegralNumber()) {
                throw new ConfigException(where(key) + "'" + n.asText() + "' is not an integer");
            }
            long v = n.asLong();
            if (v < min || v > max) {
                throw new ConfigException(where(key) + v + " is out of range [" + min + ", " + max + "]");
            }
            return v;
        }

        boolean bool(String key, boolean fallback) throws ConfigException {
            JsonNode n = get(key);
            if (n == null) {
                return fallback;
            }
            if (!n.isBoolean()) {
                throw new ConfigException(where(key) + "'" + n.asText() + "' is not true or false");
            }
            return n.asBoolean();
        }

        int port(String key, Integer fallback, boolean zeroAllowed) throws ConfigException {
            if (get(key) == null && fallback == null) {
                throw new ConfigException(where(key) + "missing");
            }
            return (int) number(key, fallback == null ? 0 : fallback, zeroAllowed ? 0 : 1, 65535);
        }

        Duration duration(String key, Duration fallback) throws ConfigException {
            JsonNode n = get(key);
            if (n == null) {
                return fallback;
            }
            try {
                return Durations.parse(n.asText());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(where(key) + e.getMessage());
            }
        }

        Duration positiveDuration(String key, Duration fallback) throws ConfigException {
            Duration d = duration(key, fallback);
            if (d.isZero() || d.isNegative()) {
                throw new ConfigException(where(key) + "must be positive");
            }
            return d;
        }

        long size(String key, long fallback) throws ConfigException {
            JsonNode n = get(key);
            if (n == null) {
                return fallback;
            }
            try {
                return Sizes.parse(n.asText());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(where(key) + e.getMessage());
            }
        }

        URI url(String key) throws ConfigException {
            return parseUrl(where(key), string(key, null, ".+"));
        }

        static URI parseUrl(String where, String text) throws ConfigException {
            try {
                URI u = new URI(text);
                if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
                    throw new ConfigException(where + "'" + text + "' is not an http(s) URL with a host");
                }
                return u;
            } catch (java.net.URISyntaxException e) {
                throw new ConfigException(where + "'" + text + "' is not a URL: " + e.getReason());
            }
        }
    }
}
