package io.statesync.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generates the demo's input: a few files shaped like a node's state (two large block files, a
 * state database, a small height file), filled with pseudo-random bytes so that no chunk
 * repeats and nothing compresses.
 */
final class DemoSnapshot {
    private static final int BUFFER = 1 << 20;

    /** One generated file: where it goes and how many bytes it has. */
    record Planned(String path, long size) {
    }

    private DemoSnapshot() {
    }

    /** The files {@code totalBytes} is split into; their sizes add up to it exactly. */
    static List<Planned> plan(long totalBytes) {
        long height = Math.min(4097, totalBytes / 10);
        long blocks0 = totalBytes / 2;
        long blocks1 = totalBytes / 10 * 3;
        long accounts = totalBytes - blocks0 - blocks1 - height;
        return List.of(new Planned("chain/blocks-000.dat", blocks0), new Planned("chain/blocks-001.dat", blocks1),
                new Planned("state/accounts.db", accounts), new Planned("state/HEIGHT", height));
    }

    /** Writes the planned files under {@code dir} from one random stream seeded with {@code seed}. */
    static List<Planned> generate(Path dir, long totalBytes, long seed) throws IOException {
        List<Planned> files = plan(totalBytes);
        SplittableRandom random = new SplittableRandom(seed);
        byte[] buf = new byte[BUFFER];
        for (Planned f : files) {
            Path p = dir.resolve(f.path());
            Files.createDirectories(p.getParent());
            try (OutputStream out = Files.newOutputStream(p)) {
                long left = f.size();
                while (left > 0) {
                    int n = (int) Math.min(BUFFER, left);
                    random.nextBytes(buf);
                    out.write(buf, 0, n);
                    left -= n;
                }
            }
        }
        return files;
    }
}
