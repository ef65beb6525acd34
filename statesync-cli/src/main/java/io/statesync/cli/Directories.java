package io.statesync.cli;

import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The directories a command writes to, checked before any real work: a fetch that would only
 * fail at its last step after minutes of transfer should fail at once instead.
 */
final class Directories {
    private Directories() {
    }

    /** Creates {@code dir} if needed and proves it writable by creating and deleting a file in it. */
    static void prepareWritable(Path dir, String role) throws CommandFailure {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new CommandFailure(role + " " + dir + " exists and is not a directory");
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CommandFailure("cannot create " + role + " " + dir + ": " + Failures.reason(e), e);
        }
        try {
            Path probe = Files.createTempFile(dir, ".statesync-probe-", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            throw new CommandFailure(role + " " + dir + " is not writable: " + Failures.reason(e), e);
        }
    }

    /** Opens the store at {@code dir}, creating it if missing. */
    static ContentStore openStore(Path dir) throws CommandFailure {
        try {
            return ContentStore.open(dir);
        } catch (IOException e) {
            throw new CommandFailure("cannot open store " + dir + ": " + Failures.describeIo(e), e);
        }
    }

    /** Whether {@code p} is a directory with nothing in it. */
    static boolean isEmptyDirectory(Path p) throws IOException {
        if (!Files.isDirectory(p)) {
            return false;
        }
        try (java.util.stream.Stream<Path> s = Files.list(p)) {
            return s.findAny().isEmpty();
        }
    }
}
