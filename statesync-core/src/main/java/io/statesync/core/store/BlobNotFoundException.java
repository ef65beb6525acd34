package io.statesync.core.store;

import io.statesync.core.cid.Cid;
import java.io.FileNotFoundException;

/** The store holds no blob with this CID. */
public final class BlobNotFoundException extends FileNotFoundException {
    private final Cid cid;

    public BlobNotFoundException(Cid cid) {
        super("no blob " + cid + " in the store");
        this.cid = cid;
    }

    public Cid cid() {
        return cid;
    }
}
