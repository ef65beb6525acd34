package io.statesync.discovery.catalog;

import io.statesync.core.cid.Cid;
import io.statesync.discovery.card.NodeCard;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceResolver;
import io.statesync.transfer.fetch.SourceScores;
import java.net.URI;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Sources for a snapshot: the configured static storages (always; content addressing verifies
 * their bytes) plus the share URLs of live, trusted nodes that advertise it. Deduplicated and
 * ordered by the process-wide scores of the transfer layer: sources known to be good first
 * (fastest first), then unknown ones, then those known to fail.
 */
public final class DiscoveryResolver implements SourceResolver {
    private final Catalog catalog;
    private final TrustedSet trusted;
    private final List<Source> staticStorages;
    private final SourceScores scores;

    public DiscoveryResolver(Catalog catalog, TrustedSet trusted, List<Source> staticStorages, SourceScores scores) {
        this.catalog = catalog;
        this.trusted = trusted;
        this.staticStorages = List.copyOf(staticStorages);
        this.scores = scores;
    }

    /** A snapshot chosen for a query, and where to get it. */
    public record Resolution(io.statesync.discovery.card.SnapshotAd snapshot, List<Source> sources) {
    }

    @Override
    public List<Source> resolve(Cid root) {
        Set<Source> all = new LinkedHashSet<>(staticStorages);
        for (NodeCard c : catalog.holders(root)) {
            if (!trusted.contains(c.id())) {
                continue;
            }
            for (URI u : c.shareUrls()) {
                try {
                    all.add(new Source(u));
                } catch (IllegalArgumentException unusable) {
                    // A card's URL that cannot be a source (checked at decode, so rare): skip it.
                }
            }
        }
        List<Source> ordered = new ArrayList<>(all);
        ordered.sort(Comparator.comparingInt(this::rank).thenComparingDouble(s -> -goodput(s)));
        return ordered;
    }

    /**
     * Resolves "group {@code group} at height at least {@code minHeight}": the newest such
     * snapshot that a trusted live node advertises, with its sources.
     */
    public Optional<Resolution> resolve(String group, long minHeight) {
        return catalog.newest(group, minHeight, c -> trusted.contains(c.id())).map(s -> new Resolution(s, resolve(s.root())));
    }

    @Override
    public AutoCloseable watch(Cid root, Runnable onChange) {
        AutoCloseable a = catalog.subscribe(change -> onChange.run());
        AutoCloseable b = trusted.watch(set -> onChange.run());
        return () -> {
            try (a; b) {
                // Both subscriptions end here.
            }
        };
    }

    /** 0: known good, 1: unknown, 2: known to fail. */
    private int rank(Source s) {
        SourceScores.Score sc = scores.get(s);
        if (sc.successes() == 0 && sc.failures() == 0) {
            return 1;
        }
        return sc.successes() > 0 && sc.errorRate() < 0.5 ? 0 : 2;
    }

    private double goodput(Source s) {
        SourceScores.Score sc = scores.get(s);
        return sc.bytesPerSecond() * (1 - sc.errorRate());
    }
}
