package io.statesync.groups.sync;

/**
 * A catch-up strategy: how a member that fell behind the group's log gets back to the group's
 * state. One instance per group, configured identically on every member (its {@link #signature()}
 * is part of the group id). The built-ins are {@code LogReplaySync} and {@code SnapshotSync}.
 */
public interface StateSync {
    /** Everything members must agree on: the strategy and each setting that changes the wire. */
    SyncSignature signature();

    /** Called once per member when the group starts; the provider lives as long as the group. */
    SyncProvider provider(ProviderContext context);

    /**
     * Called on a lagging member for each catch-up attempt. The session runs on its own virtual
     * thread; the runtime interrupts it on cancel or at its deadline.
     */
    SyncSession session(SessionContext context);
}
