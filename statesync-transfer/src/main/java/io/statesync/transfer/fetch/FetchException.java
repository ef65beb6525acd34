package io.statesync.transfer.fetch;

import io.statesync.core.cid.Cid;
import java.util.List;

/**
 * A fetch that did not complete. The message is one line a user can act on; the fields say
 * which chunks are missing and what each source did.
 */
public final class FetchException extends Exception {
    /** Why a fetch stopped. */
    public enum Reason {
        /** The overall deadline passed. */
        DEADLINE,
        /** Some chunk used up its tries, or no usable source is left. */
        SOURCES_EXHAUSTED,
        /** The manifest could not be had from any source, or is invalid. */
        MANIFEST,
        /** The local store could not be written. */
        LOCAL_IO
    }

    private final Reason reason;
    private final List<Cid> missing;
    private final List<SourceStats> sources;

    public FetchException(Reason reason, String message, List<Cid> missing, List<SourceStats> sources, Throwable cause) {
        super(message, cause);
        this.reason = reason;
        this.missing = List.copyOf(missing);
        this.sources = List.copyOf(sources);
    }

    public Reason reason() {
        return reason;
    }

    /** Chunks (or the manifest) not in the store when the fetch stopped. */
    public List<Cid> missing() {
        return missing;
    }

    /** What each source did. */
    public List<SourceStats> sources() {
        return sources;
    }
}
