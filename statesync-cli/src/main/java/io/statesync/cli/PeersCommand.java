package io.statesync.cli;

import io.statesync.core.units.Durations;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.discovery.Discovery;
import io.statesync.discovery.Discovery.DiscoveryConfig;
import io.statesync.discovery.card.NodeCard;
import io.statesync.discovery.card.NodeId;
import io.statesync.discovery.card.SnapshotAd;
import io.statesync.discovery.membership.MembershipConfig;
import io.statesync.discovery.membership.ScaleCubeMembership;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync peers}: joins the gossip cluster as an observer (publishing nothing), waits
 * for the catalog to settle, prints it as a table or JSON, and leaves.
 *
 * <p>Anyone can sign a card with a key of their own making, and gossip carries it. So only cards
 * signed by trusted keys are listed: the members of the cluster of the node at {@code --node}
 * (each member's {@code GET /node/identity}, at the URL the cluster's membership holds for it),
 * and the keys given with {@code --trust}. {@code --all} lists every card, each marked trusted or
 * not.
 */
@Command(name = "peers", mixinStandardHelpOptions = true,
        description = {"Joins the cluster as an observer and prints the live nodes whose cards trusted keys signed "
                + "(the members of the cluster of --node, and --trust keys): id, share URLs, snapshots, card. "
                + "--all lists every card, marked trusted or not."})
final class PeersCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--seed", paramLabel = "HOST:PORT", required = true, description = "a gossip address of a member; repeatable")
    private List<String> seeds;

    @Option(names = "--json", description = "print JSON instead of a table")
    private boolean json;

    @Option(names = "--wait", paramLabel = "DURATION", defaultValue = "3s",
            description = "longest wait for the catalog to settle (default: ${DEFAULT-VALUE})")
    private Duration wait;

    @Option(names = "--namespace", paramLabel = "NAME", defaultValue = "statesync",
            description = "gossip namespace of the cluster (default: ${DEFAULT-VALUE})")
    private String namespace;

    @Option(names = "--node", paramLabel = "URL",
            description = "a node of the cluster (its HTTP URL): the keys of its cluster's members are trusted")
    private URI node;

    @Option(names = "--trust", paramLabel = "NODE_ID", split = ",",
            description = "a node id (n + 32 characters, as --all lists them) to trust; repeatable")
    private List<String> trust = new ArrayList<>();

    @Mixin
    private TlsOptions tls;

    @Option(names = "--all", description = "list every card, trusted or not, marked as such")
    private boolean all;

    @Override
    public Integer call() throws Exception {
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (String s : seeds) {
            addresses.add(parseSeed(s));
        }
        if (wait.isNegative() || wait.isZero()) {
            throw new ParameterException(spec.commandLine(), "--wait must be positive, got " + wait);
        }
        Set<NodeId> trusted = new HashSet<>();
        for (String t : trust) {
            try {
                trusted.add(new NodeId(t.strip()));
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--trust: '" + t + "' is not a node id");
            }
        }
        if (node != null && (!"http".equals(node.getScheme()) && !"https".equals(node.getScheme())
                || node.getHost() == null)) {
            throw new ParameterException(spec.commandLine(), "--node: '" + node + "' is not an http://host:port URL");
        }
        if (node == null && trusted.isEmpty() && !all) {
            throw new ParameterException(spec.commandLine(), "nothing to trust: give --node URL (a node of the cluster) "
                    + "or --trust NODE_ID, or --all to list every card unverified");
        }
        if (node != null) {
            trusted.addAll(ClusterKeys.of(node, tls.client()));
        }
        MembershipConfig config = MembershipConfig.loopback().withHost("0.0.0.0").withSeeds(addresses).withNamespace(namespace);
        List<NodeCard> cards;
        try (Discovery d = Discovery.start(DiscoveryConfig.serving(List.of(), List.of()), null,
                ScaleCubeMembership.start(config, new SimpleMeterRegistry()), new SimpleMeterRegistry())) {
            cards = settle(d);
        }
        PrintWriter out = spec.commandLine().getOut();
        List<NodeCard> shown = all ? cards : cards.stream().filter(c -> trusted.contains(c.id())).toList();
        if (json) {
            printJson(out, shown, trusted);
        } else {
            printTable(out, shown, trusted, cards.size() - shown.size());
        }
        out.flush();
        return Failures.OK;
    }

    /** Waits until the catalog has not changed for a second, or {@code --wait} has passed. */
    private List<NodeCard> settle(Discovery d) throws InterruptedException {
        long until = System.nanoTime() + wait.toNanos();
        List<NodeCard> last = d.catalog().cards();
        long stableSince = System.nanoTime();
        while (System.nanoTime() < until) {
            Thread.sleep(100);
            List<NodeCard> now = d.catalog().cards();
            if (!now.equals(last)) {
                last = now;
                stableSince = System.nanoTime();
            } else if (!now.isEmpty() && System.nanoTime() - stableSince > 1_000_000_000L) {
                break;
            }
        }
        return d.catalog().cards();
    }

    private InetSocketAddress parseSeed(String s) {
        int colon = s.lastIndexOf(':');
        try {
            if (colon <= 0) {
                throw new NumberFormatException();
            }
            int port = Integer.parseInt(s.substring(colon + 1));
            if (port < 1 || port > 65535) {
                throw new NumberFormatException();
            }
            String host = s.substring(0, colon).replace("[", "").replace("]", "");
            return new InetSocketAddress(host, port);
        } catch (NumberFormatException e) {
            throw new ParameterException(spec.commandLine(), "--seed must be HOST:PORT, got '" + s + "'");
        }
    }

    private static void printTable(PrintWriter out, List<NodeCard> cards, Set<NodeId> trusted, int hidden) {
        out.printf(Locale.ROOT, "%-14s %-9s %-28s %-9s %-40s %s%n", "NODE", "SIGNER", "SHARE URL", "SNAPSHOTS", "NEWEST",
                "CARD");
        Instant now = Instant.now();
        for (NodeCard c : cards) {
            String url = c.shareUrls().isEmpty() ? "-" : c.shareUrls().get(0).toString()
                    + (c.shareUrls().size() > 1 ? " +" + (c.shareUrls().size() - 1) : "");
            SnapshotAd newest = c.snapshots().stream().max(java.util.Comparator.comparingLong(SnapshotAd::height)).orElse(null);
            String newestText = newest == null ? "-" : shortCid(newest.root().toString()) + " "
                    + (newest.group() == null ? "" : newest.group()) + "@" + newest.height();
            out.printf(Locale.ROOT, "%-14s %-9s %-28s %-9d %-40s v%d, live, expires in %s%n",
                    c.id().value().substring(0, 13) + "…", trusted.contains(c.id()) ? "trusted" : "UNTRUSTED", url,
                    c.snapshots().size(), newestText, c.version(), Durations.format(Duration.between(now, c.expires())));
        }
        out.printf(Locale.ROOT, "%d live node%s%s%n", cards.size(), cards.size() == 1 ? "" : "s",
                hidden == 0 ? "" : "; " + hidden + " card" + (hidden == 1 ? "" : "s") + " signed by untrusted keys not "
                        + "listed (--all lists them)");
    }

    private static String shortCid(String cid) {
        return cid.length() > 20 ? cid.substring(0, 10) + "…" + cid.substring(cid.length() - 8) : cid;
    }

    private static void printJson(PrintWriter out, List<NodeCard> cards, Set<NodeId> trusted) throws IOException {
        try (JsonGenerator g = new JsonFactory().createGenerator(out)) {
            g.useDefaultPrettyPrinter();
            g.writeStartArray();
            for (NodeCard c : cards) {
                g.writeStartObject();
                g.writeStringField("node", c.id().value());
                g.writeBooleanField("trusted", trusted.contains(c.id()));
                g.writeArrayFieldStart("shareUrls");
                for (URI u : c.shareUrls()) {
                    g.writeString(u.toString());
                }
                g.writeEndArray();
                g.writeArrayFieldStart("groups");
                for (String grp : c.groups()) {
                    g.writeString(grp);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("snapshots");
                for (SnapshotAd s : c.snapshots()) {
                    g.writeStartObject();
                    g.writeStringField("root", s.root().toString());
                    g.writeObjectFieldStart("metadata");
                    for (Map.Entry<String, String> e : s.metadata().entrySet()) {
                        g.writeStringField(e.getKey(), e.getValue());
                    }
                    g.writeEndObject();
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeBooleanField("live", true);
                g.writeNumberField("version", c.version());
                g.writeStringField("expires", c.expires().toString());
                g.writeEndObject();
            }
            g.writeEndArray();
        }
        out.println();
    }
}
