package io.statesync.groups.sync;

import io.statesync.core.store.ContentStore;
import io.statesync.groups.log.CommittedLog;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import java.util.List;
import java.util.Optional;

/** What a provider may see of its member. Implemented by the group runtime only. */
public interface ProviderContext {
    String groupId();

    String memberId();

    /** The committed entries this member keeps for peers (read them; the runtime writes). */
    CommittedLog log();

    /** The snapshots this member holds, oldest first. */
    List<SnapshotRecord> snapshots();

    /** The group's content store; snapshots' manifests and chunks live there. */
    ContentStore store();

    /** The leases peers' sessions hold on this member. */
    Leases leases();

    /** The position the local state reflects. */
    LogPosition applied();

    /** The current leader's id, if known. */
    Optional<String> leader();
}
