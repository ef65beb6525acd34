package io.statesync.transfer.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestCodec;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The largest manifest the limits allow must not take a small fetcher down: a fetch of it in a
 * JVM of {@code -Xmx256m} gets as far as asking for chunks and ends with a one-line failure,
 * never an {@link OutOfMemoryError}.
 */
class LargestManifestTest {
    /** The heap the issue names: a fetcher on a small host. */
    private static final String HEAP = "-Xmx256m";

    @TempDir
    Path tmp;

    @Test
    void theLargestAllowedManifestIsFetchedWithin256MiBOfHeap() throws Exception {
        ContentStore store = ContentStore.open(tmp.resolve("origin"));
        Manifest m = largestAllowed();
        SnapshotRef snap = SnapshotImporter.storeManifest(store, m);
        try (TestShare share = TestShare.start(store)) {
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            Process child = new ProcessBuilder(java.toString(), HEAP, "-cp", System.getProperty("java.class.path"),
                    Child.class.getName(), share.source().base().toString(), snap.root().toString(),
                    tmp.resolve("store").toString(), tmp.resolve("out").toString())
                    .redirectErrorStream(true).start();
            String output;
            try (var in = child.getInputStream()) {
                output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            assertTrue(child.waitFor(2, TimeUnit.MINUTES));
            assertEquals(0, child.exitValue(), output);
            // The deadline ends it once every chunk is planned and asked for (none exists at the share).
            assertTrue(output.contains("reached the chunks: DEADLINE: ") && output.contains(" chunks missing"), output);
        }
    }

    /** One file of as many distinct chunk references as fit under the manifest byte limit. */
    private static Manifest largestAllowed() {
        long maxBytes = ManifestLimits.DEFAULT.maxManifestBytes();
        long small = ManifestCodec.encode(manifestOf(1000)).length;
        long perThousand = ManifestCodec.encode(manifestOf(2000)).length - small;
        int chunks = (int) (1000 + (maxBytes - small) * 1000 / perThousand);
        // Every link has the same length, so a step or two corrects for the rounding.
        while (ManifestCodec.encode(manifestOf(chunks)).length > maxBytes) {
            chunks -= 1 + (int) ((ManifestCodec.encode(manifestOf(chunks)).length - maxBytes) * 1000 / perThousand);
        }
        Manifest m = manifestOf(chunks);
        assertTrue(ManifestCodec.encode(manifestOf(chunks + 1)).length > maxBytes, "one chunk more is over the limit");
        return m;
    }

    private static Manifest manifestOf(int chunks) {
        List<Cid> cids = new ArrayList<>(chunks);
        ByteBuffer seed = ByteBuffer.allocate(8);
        for (int i = 0; i < chunks; i++) {
            seed.clear();
            seed.putLong(i);
            cids.add(Cid.of(Codec.RAW, Cid.newDigest().digest(seed.array())));
        }
        return new Manifest(Manifest.VERSION, 4096, Map.of(), List.of(new FileEntry("f", (long) chunks * 4096, 0644, cids)));
    }

    /** The fetcher, in its own small JVM: prints how far it got. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            ContentStore store = ContentStore.open(Path.of(args[2]));
            try (SnapshotFetcher fetcher = new SnapshotFetcher(store, new SimpleMeterRegistry())) {
                FetchOptions options = FetchOptions.DEFAULT.withDeadline(Duration.ofSeconds(8)); // with the expansion check, as a user gets it
                fetcher.fetchInto(Cid.parse(args[1]), SourceResolver.of(List.of(Source.parse(args[0]))), Path.of(args[3]),
                        options, null);
                System.out.println("fetched everything?");
                System.exit(2);
            } catch (FetchException e) {
                System.out.println("reached the chunks: " + e.reason() + ": " + e.getMessage());
                System.exit(0);
            } catch (OutOfMemoryError e) {
                System.out.println("out of memory");
                e.printStackTrace(System.out);
                System.exit(3);
            }
        }
    }
}
