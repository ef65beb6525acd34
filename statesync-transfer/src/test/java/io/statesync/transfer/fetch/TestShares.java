package io.statesync.transfer.fetch;

import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.util.List;

/** Public access to {@link TestShare} for tests in other packages. */
public final class TestShares {
    private TestShares() {
    }

    /** Serves {@code store} correctly; {@code handle[0]} receives the server to close. */
    public static Source serve(ContentStore store, AutoCloseable[] handle) throws IOException {
        TestShare s = TestShare.start(store);
        handle[0] = s;
        return s.source();
    }

    /** Serves {@code store} with every chunk corrupted; the server is added to {@code closeLater}. */
    public static Source serveCorrupt(ContentStore store, List<AutoCloseable> closeLater) throws IOException {
        TestShare s = TestShare.start(store).fault(TestShare.Fault.CORRUPT, 0);
        closeLater.add(s);
        return s.source();
    }
}
