package io.statesync.core.snapshot;

import io.statesync.core.cid.Cid;

/** A snapshot in a store: its root CID (the manifest's CID) and the decoded manifest. */
public record SnapshotRef(Cid root, Manifest manifest) {
}
