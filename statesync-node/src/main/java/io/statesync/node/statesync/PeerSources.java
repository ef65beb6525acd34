package io.statesync.node.statesync;

import io.statesync.core.cid.Cid;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.fetch.Source;
import java.util.List;
import java.util.Objects;

/** Trusted peers that hold a thread's state snapshot; the node implements it with discovery. */
@FunctionalInterface
public interface PeerSources {
    /** No peers at all: loads use static storages only. */
    PeerSources NONE = (thread, block) -> List.of();

    /**
     * The snapshots of {@code block} of {@code thread} that trusted peers advertise now, each with
     * the peers that hold it. Called again on every try, so peers that appear later are used.
     */
    List<Located> locate(ThreadId thread, BlockId block);

    /** One advertised snapshot: its manifest CID and the peers that serve it. */
    record Located(Cid manifest, List<Source> sources) {
        public Located {
            Objects.requireNonNull(manifest, "manifest");
            sources = List.copyOf(sources);
        }
    }
}
