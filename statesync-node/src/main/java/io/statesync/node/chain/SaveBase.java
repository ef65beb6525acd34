package io.statesync.node.chain;

import io.statesync.core.files.FileTrees;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.DumpBase;
import io.statesync.node.ledger.Head;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The full dump a thread's saves are laid over, kept in {@code <thread dir>/base-<height>/}
 * ({@code state.bin}, a hard link to the dump's own file, and {@code base.properties}: height,
 * block, CRC-32C).
 *
 * <p>Which saves are full and which are layered is decided by height alone, so every replica
 * that saved the same blocks writes the same bytes: the chain is cut into epochs of
 * {@code epochBlocks} blocks; the save at an epoch's first block is a full dump and becomes the
 * base, every later save of the epoch is layered over it (see
 * {@link io.statesync.node.ledger.Capture#writeTo(Path, DumpBase)}). A replica that lacks the
 * epoch's base (it was down, or skipped that save) writes full dumps until the next epoch, and
 * then agrees with the others again. A base is adopted from a full dump only (a save, or an
 * installed one whose state root was just checked); a layered dump's base is never adopted, since
 * only the state after its overlay was checked.
 */
final class SaveBase {
    private static final Logger log = LoggerFactory.getLogger(SaveBase.class);
    private static final String PREFIX = "base-";
    private static final String TEMP_SUFFIX = ".tmp";
    private static final String STATE = "state.bin";
    private static final String PROPERTIES = "base.properties";

    private final Path dir;
    private final long epochBlocks;
    private DumpBase current;

    /**
     * @param epochBlocks blocks per epoch; 0 turns layering off (every save is full)
     */
    SaveBase(Path dir, long epochBlocks) throws IOException {
        this.dir = dir;
        this.epochBlocks = epochBlocks;
        current = load();
    }

    /** Whether a save at {@code height} is an epoch's first, whose full dump becomes the base. */
    boolean startsEpoch(long height) {
        return epochBlocks > 0 && height % epochBlocks == 0;
    }

    /** The base a save at {@code height} is laid over: this epoch's, if this replica holds it. */
    synchronized Optional<DumpBase> forSave(long height) {
        if (epochBlocks <= 0 || current == null || startsEpoch(height)) {
            return Optional.empty();
        }
        return current.height() == height - height % epochBlocks ? Optional.of(current) : Optional.empty();
    }

    synchronized Optional<DumpBase> current() {
        return Optional.ofNullable(current);
    }

    /**
     * Keeps a full dump's {@code state.bin} as the base for its epoch (a hard link, not a copy),
     * fsynced, and drops the previous base. Failures are logged: later saves are then full.
     */
    synchronized void keep(Path stateFile, Head head) {
        if (!startsEpoch(head.height())) {
            return;
        }
        Path target = dir.resolve(PREFIX + head.height());
        Path temp = dir.resolve(PREFIX + head.height() + TEMP_SUFFIX);
        try {
            FileTrees.deleteRecursively(temp);
            Files.createDirectories(temp);
            FileTrees.linkOrCopy(stateFile, temp.resolve(STATE));
            long crc = DumpBase.crc32c(temp.resolve(STATE));
            Properties p = new Properties();
            p.setProperty("height", Long.toString(head.height()));
            p.setProperty("block", head.blockId().hex());
            p.setProperty("crc32c", Long.toString(crc));
            Path props = temp.resolve(PROPERTIES);
            try (Writer w = Files.newBufferedWriter(props, StandardCharsets.UTF_8)) {
                p.store(w, "the full dump later saves of this epoch are laid over");
            }
            force(props);
            force(temp.resolve(STATE));
            force(temp);
            FileTrees.deleteRecursively(target);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            force(dir);
            current = new DumpBase(target.resolve(STATE), head.height(), head.blockId(), crc);
            removeAllBut(target);
            log.debug("thread dir {}: saves up to height {} are laid over the dump of {}", dir,
                    head.height() + epochBlocks - 1, head.label());
        } catch (IOException | RuntimeException e) {
            log.warn("cannot keep the dump of {} as a base in {} (later saves of its epoch are full dumps): {}",
                    head.label(), dir, e.toString());
            try {
                FileTrees.deleteRecursively(temp);
            } catch (IOException ignored) {
                // best effort; load() removes leftovers at the next start
            }
        }
    }

    /** The newest complete base on disk; leftovers (temp directories, older bases) are removed. */
    private DumpBase load() throws IOException {
        DumpBase best = null;
        Path bestDir = null;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(PREFIX)).toList()) {
                DumpBase b = p.getFileName().toString().endsWith(TEMP_SUFFIX) ? null : read(p);
                if (b != null && (best == null || b.height() > best.height())) {
                    best = b;
                    bestDir = p;
                }
            }
        }
        removeAllBut(bestDir);
        return best;
    }

    private static DumpBase read(Path base) {
        try (Reader r = Files.newBufferedReader(base.resolve(PROPERTIES), StandardCharsets.UTF_8)) {
            Properties p = new Properties();
            p.load(r);
            return new DumpBase(base.resolve(STATE), Long.parseLong(p.getProperty("height")),
                    BlockId.fromHex(p.getProperty("block")), Long.parseLong(p.getProperty("crc32c")));
        } catch (IOException | RuntimeException e) {
            log.warn("ignoring the dump base in {}: {}", base, e.toString());
            return null;
        }
    }

    private void removeAllBut(Path keep) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(PREFIX)).toList()) {
                if (!p.equals(keep)) {
                    FileTrees.deleteRecursively(p);
                }
            }
        }
    }

    private static void force(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // directories cannot be opened on some platforms; the files themselves are forced
        }
    }
}
