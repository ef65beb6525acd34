package io.statesync.node;

import io.statesync.core.cid.Cid;
import io.statesync.core.files.FileTrees;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestException;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.Materializer;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.store.ContentStore;
import io.statesync.groups.Group;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.chain.ChainThread;
import io.statesync.node.chain.LedgerMachine;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.Ledger;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.statesync.StateRepository;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;

/**
 * The node's running threads as the repository of an operator's load ({@code POST
 * /admin/sync/load}). A thread's state only changes through its group, so a loaded state goes in
 * the way a catch-up's does: it must be a saved state of the thread's own group (its manifest
 * names the group and the log position it reflects), this member must stand behind it, and the
 * group installs it ({@link Group#installSaved}), after which the member follows the log on from
 * there. Installs are two-step so that a load of several threads installs all or none: staging
 * rebuilds and verifies each thread's state beside the live one; committing switches to it.
 */
final class ThreadRepository implements StateRepository {
    private final Map<ThreadId, ChainThread> threads;
    /** Where dumps are materialized while they are staged; same file system as the data. */
    private final Path work;

    ThreadRepository(Map<ThreadId, ChainThread> threads, Path work) {
        this.threads = threads;
        this.work = work;
    }

    private ChainThread thread(ThreadId t) {
        ChainThread c = threads.get(t);
        if (c == null) {
            throw new IllegalArgumentException("thread " + t.name() + " is not run by this node");
        }
        return c;
    }

    @Override
    public ContentStore store(ThreadId thread) {
        return thread(thread).group().store();
    }

    /** An operator's load runs outside a catch-up session: it holds the group's dropped blobs itself. */
    @Override
    public Hold hold(ThreadId thread) {
        return thread(thread).group().holdDroppedBlobs()::close;
    }

    /** Worth it only for a member behind the block; a thread at or past it is covered. */
    @Override
    public Decision decide(ThreadId thread, BlockId block, long height) {
        long local = thread(thread).machine().read(Ledger::head).height();
        long distance = height - local;
        return distance <= 0 ? new Decision.AlreadyCovered(distance) : new Decision.ImportNeeded(distance);
    }

    @Override
    public void install(ThreadId thread, BlockId block, Cid manifest) throws IOException {
        stage(thread, block, manifest).commit();
    }

    @Override
    public Staged stage(ThreadId thread, BlockId block, Cid manifest) throws IOException {
        ChainThread c = thread(thread);
        Group group = c.group();
        Manifest m;
        try {
            m = SnapshotImporter.loadManifest(group.store(), manifest, ManifestLimits.DEFAULT);
        } catch (ManifestException e) {
            throw new IOException("manifest " + manifest + " is unusable: " + e.getMessage(), e);
        }
        SnapshotRecord record = SnapshotRecord.ofManifest(manifest, m.metadata(), group.id().toString())
                .orElseThrow(() -> new IOException("manifest " + manifest + " is not a saved state of thread "
                        + thread.name() + "'s group " + group.id() + " (its metadata names group "
                        + m.metadata().get(SnapshotRecord.META_GROUP) + ")"));
        long applied = group.applied().index();
        if (record.index() <= applied) {
            throw new IOException("thread " + thread.name() + " already stands at log index " + applied
                    + ", at or past block " + block.hex() + " (log index " + record.index() + ")");
        }
        Path dump = work.resolve(thread.name() + "-" + UUID.randomUUID());
        LedgerMachine.Prepared prepared;
        try {
            // The fetcher verified every chunk moments ago; the state root check below covers the rest.
            Materializer.materialize(m, group.store(), dump, false, null);
            prepared = c.machine().prepareInstall(dump, block);
        } catch (ManifestException e) {
            throw new IOException("cannot write out manifest " + manifest + ": " + e.getMessage(), e);
        } finally {
            FileTrees.deleteRecursively(dump);
        }
        return new Staged() {
            @Override
            public void commit() throws IOException {
                c.machine().expectInstallOf(prepared);
                try {
                    group.installSaved(record);
                } catch (IOException | RuntimeException e) {
                    c.machine().cancelInstall(prepared);
                    throw e;
                }
            }

            @Override
            public void discard() {
                prepared.close();
            }
        };
    }

}
