package io.statesync.node.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestBlocks;
import io.statesync.core.snapshot.ManifestException;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.fetch.Source;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Finds a block's saved state before a load of it is queued, and reads what its manifest says
 * (height, log position), so that a request for it can be judged at once: the thread's group
 * members (their snapshot offers, {@code GET /groups/{id}/sync/snapshots}), the nodes that
 * advertise it by gossip, and the pointer files of the static storages. Every manifest is
 * checked against its CID and must name the thread and block asked for.
 */
public final class BlockLocator implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** An offer list is a few hundred bytes per snapshot; a member holds a handful. */
    private static final long MAX_OFFERS_BYTES = 1 << 20;

    private final LoaderConfig config;
    private final PeerSources gossip;
    private final SmallGets http;

    /**
     * What was found.
     *
     * @param manifest the state's manifest CID
     * @param metadata the manifest's metadata (thread, block, height, and the group's log position)
     * @param where the manifest with every source found for it: offering members, advertisers, static storages
     * @param offeredByMembers whether members of the thread's group offer it (they vouch for its log position)
     */
    public record Found(Cid manifest, Map<String, String> metadata, PeerSources.Located where,
                        boolean offeredByMembers) {
        public Found {
            metadata = Map.copyOf(metadata);
        }

        /** The block's height, from the manifest. */
        public long height() {
            return Long.parseLong(metadata.get("height"));
        }
    }

    public BlockLocator(LoaderConfig config, PeerSources gossip) {
        this.config = config;
        this.http = new SmallGets(config.tls());
        this.gossip = gossip;
    }

    /**
     * Finds the saved state of {@code block} of {@code thread}.
     *
     * @param memberStores base URLs of the group members' stores ({@code <member>/groups/<id>}),
     *     asked first
     * @param timeout for each request
     * @return empty, with the reasons in {@code notes}, if no source knows the block
     */
    public Optional<Found> find(ThreadId thread, BlockId block, List<URI> memberStores, Duration timeout,
                                List<String> notes) throws InterruptedException {
        Map<Cid, Set<Source>> candidates = new LinkedHashMap<>();
        Set<Cid> offered = new LinkedHashSet<>();
        for (URI member : memberStores) {
            try {
                JsonNode offers = JSON.readTree(http.get(SmallGets.below(member, "sync/snapshots"), MAX_OFFERS_BYTES,
                        timeout));
                for (JsonNode o : offers.path("snapshots")) {
                    if (block.hex().equalsIgnoreCase(o.path("metadata").path("block").asText())) {
                        Cid cid = Cid.parse(o.path("manifest").asText());
                        candidates.computeIfAbsent(cid, c -> new LinkedHashSet<>()).add(new Source(member));
                        offered.add(cid);
                    }
                }
            } catch (IOException | RuntimeException e) {
                notes.add(member + ": " + e.getMessage());
            }
        }
        try {
            for (PeerSources.Located l : gossip.locate(thread, block)) {
                candidates.computeIfAbsent(l.manifest(), c -> new LinkedHashSet<>()).addAll(l.sources());
            }
        } catch (RuntimeException e) {
            notes.add("gossip: " + e.getMessage());
        }
        for (URI base : config.staticStorages()) {
            try {
                Cid cid = Pointers.resolve(http, base, thread, block, timeout);
                candidates.computeIfAbsent(cid, c -> new LinkedHashSet<>()).add(new Source(base));
            } catch (SmallGets.NotFound e) {
                notes.add(base + ": no pointer to the block");
            } catch (IOException e) {
                notes.add(e.getMessage());
            }
        }
        for (URI base : config.staticStorages()) {
            // Static storages serve every manifest they hold; any candidate may be there too.
            candidates.values().forEach(s -> s.add(new Source(base)));
        }
        // Offered by members first: their position is the group's.
        List<Cid> order = new ArrayList<>(offered);
        candidates.keySet().stream().filter(c -> !offered.contains(c)).forEach(order::add);
        for (Cid cid : order) {
            Optional<Manifest> m = manifest(cid, candidates.get(cid), timeout, notes);
            if (m.isEmpty()) {
                continue;
            }
            Map<String, String> meta = m.get().metadata();
            if (!thread.name().equals(meta.get("thread")) || !block.hex().equalsIgnoreCase(meta.get("block"))) {
                notes.add("manifest " + cid + " is of thread=" + meta.get("thread") + " block=" + meta.get("block"));
                continue;
            }
            try {
                Long.parseLong(meta.get("height"));
            } catch (RuntimeException e) {
                notes.add("manifest " + cid + " has no valid height");
                continue;
            }
            return Optional.of(new Found(cid, meta, new PeerSources.Located(cid, List.copyOf(candidates.get(cid))),
                    offered.contains(cid)));
        }
        return Optional.empty();
    }

    private Optional<Manifest> manifest(Cid cid, Set<Source> sources, Duration timeout, List<String> notes)
            throws InterruptedException {
        if (cid.codec() != Codec.DAG_JSON) {
            notes.add(cid + " is not a manifest CID");
            return Optional.empty();
        }
        ManifestLimits limits = config.fetch().limits();
        for (Source s : sources) {
            try {
                byte[] bytes = block(s, cid, limits.maxManifestBytes(), timeout);
                if (bytes == null) {
                    notes.add(s + " served bytes not matching manifest " + cid);
                    continue;
                }
                // A manifest over 1 MiB is a root naming its parts (ManifestBlocks): join them.
                ManifestBlocks.Root root = ManifestBlocks.decodeRoot(bytes, limits);
                if (root instanceof ManifestBlocks.Whole w) {
                    return Optional.of(w.manifest());
                }
                ManifestBlocks.Split split = (ManifestBlocks.Split) root;
                List<byte[]> parts = new ArrayList<>();
                for (int i = 0; i < split.parts().size(); i++) {
                    byte[] part = block(s, split.parts().get(i), ManifestBlocks.partLength(split, i), timeout);
                    if (part == null) {
                        throw new IOException(s + " served bytes not matching part " + i + " of manifest " + cid);
                    }
                    parts.add(part);
                }
                return Optional.of(ManifestBlocks.join(split, parts, limits));
            } catch (ManifestException e) {
                notes.add("manifest " + cid + " is invalid: " + e.getMessage());
                return Optional.empty();
            } catch (IOException e) {
                notes.add(e.getMessage());
            }
        }
        return Optional.empty();
    }

    /** One block from a source, checked against its CID; null if the source served other bytes. */
    private byte[] block(Source s, Cid cid, long maxBytes, Duration timeout) throws IOException, InterruptedException {
        byte[] bytes = http.get(SmallGets.below(s.base(), "ipfs/" + cid), maxBytes, timeout);
        return Cid.compute(cid.codec(), bytes).equals(cid) ? bytes : null;
    }

    @Override
    public void close() {
        http.close();
    }
}
