package io.statesync.node;

import io.statesync.core.cid.Cid;
import io.statesync.discovery.Discovery;
import io.statesync.discovery.card.SnapshotAd;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.chain.ChainThread;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Keeps this node's gossip card in step with the state snapshots its threads hold: a saved
 * snapshot is advertised with its thread, block, height and state root; a pruned one is
 * withdrawn. Runs on the node's watchdog thread.
 */
final class SnapshotAds {
    private final Discovery discovery;
    /** What is advertised now, by manifest. */
    private final Set<Cid> advertised = new HashSet<>();

    SnapshotAds(Discovery discovery) {
        this.discovery = discovery;
    }

    void refresh(Collection<ChainThread> threads) {
        if (discovery == null) {
            return;
        }
        Set<Cid> now = new HashSet<>();
        for (ChainThread t : threads) {
            for (SnapshotRecord r : t.group().snapshots()) {
                Map<String, String> meta = r.metadata();
                if (!meta.containsKey("block")) {
                    continue;
                }
                now.add(r.manifest());
                if (!advertised.contains(r.manifest())) {
                    Map<String, String> ad = new HashMap<>();
                    ad.put(SnapshotAd.GROUP, t.id().name());
                    ad.put(SnapshotAd.HEIGHT, meta.get("height"));
                    ad.put(SnapshotAd.BLOCK, meta.get("block"));
                    ad.put(SnapshotAd.STATE_ROOT, meta.get("stateRoot"));
                    discovery.advertise(new SnapshotAd(r.manifest(), ad));
                    advertised.add(r.manifest());
                }
            }
        }
        for (Cid gone : Set.copyOf(advertised)) {
            if (!now.contains(gone)) {
                discovery.withdraw(gone);
                advertised.remove(gone);
            }
        }
    }
}
