package io.statesync.groups.sync;

import io.statesync.core.cid.Cid;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The snapshots whose fetch or install failed lately in one group's catch-up. The next attempt
 * passes them over while another usable offer exists, instead of trying the same broken one again
 * (its chunks gone from every offerer, its content not what its offer said); after
 * {@link #REMEMBER} they count as new. Thread-safe.
 */
public final class FailedOffers {
    public static final Duration REMEMBER = Duration.ofMinutes(2);
    private final Map<Cid, Long> failedAt = new ConcurrentHashMap<>();
    private final LongSupplier nanoClock;

    public FailedOffers() {
        this(System::nanoTime);
    }

    public FailedOffers(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
    }

    /** The snapshot named by {@code manifest} could not be fetched or installed now. */
    public void failed(Cid manifest) {
        failedAt.put(manifest, nanoClock.getAsLong());
    }

    /** Whether it failed within {@link #REMEMBER}. */
    public boolean recent(Cid manifest) {
        Long at = failedAt.get(manifest);
        if (at == null) {
            return false;
        }
        if (nanoClock.getAsLong() - at >= REMEMBER.toNanos()) {
            failedAt.remove(manifest, at);
            return false;
        }
        return true;
    }
}
