package io.statesync.core.chunking;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ChunkerTest {
    private static final Chunking.ContentDefined CDC_64K = Chunking.ContentDefined.ofAverage(64 << 10);

    /**
     * The cuts are part of the format: a change here means every node re-chunks differently and
     * no longer finds what it holds. The input is SplitMix64 from seed 1, spelt out below, so the
     * vector does not depend on any library's random generator.
     */
    @Test
    void contentDefinedCutsMatchTheFixedVector() throws IOException {
        byte[] data = splitMix64Bytes(1, 1 << 20);
        assertEquals(List.of(88902, 32196, 84453, 76955, 73561, 91203, 75452, 82264, 90626, 71742, 68552,
                82719, 67393, 62558), lengths(CDC_64K, data));
    }

    @Test
    void smallAverageCutsMatchTheFixedVector() throws IOException {
        byte[] data = splitMix64Bytes(7, 64 << 10);
        assertEquals(List.of(5008, 4944, 4337, 5383, 5514, 3296, 4687, 4418, 5185, 4839, 4851, 4363, 2928, 4821, 962),
                lengths(Chunking.ContentDefined.ofAverage(4096), data));
    }

    @Test
    void zeroBytesAreCutAtTheMaximum() throws IOException {
        // No content to find a cut in: every chunk is max, the last one holds the rest.
        List<Integer> cuts = lengths(CDC_64K, new byte[600 << 10]);
        assertEquals(List.of(256 << 10, 256 << 10, 88 << 10), cuts);
    }

    @Test
    void chunksStayWithinTheBoundsAndCoverTheInput() throws IOException {
        byte[] data = splitMix64Bytes(3, 8 << 20);
        List<Integer> cuts = lengths(CDC_64K, data);
        long sum = 0;
        for (int i = 0; i < cuts.size(); i++) {
            int len = cuts.get(i);
            sum += len;
            assertTrue(len <= CDC_64K.max(), "chunk " + i + " is " + len);
            assertTrue(i == cuts.size() - 1 || len >= CDC_64K.min(), "chunk " + i + " is " + len);
        }
        assertEquals(data.length, sum);
        double avg = (double) data.length / cuts.size();
        assertTrue(avg > 40_000 && avg < 100_000, "average " + avg);
    }

    @Test
    void theSameBytesCutTheSameWayWhateverTheReadSizes() throws IOException {
        byte[] data = splitMix64Bytes(5, 3 << 20);
        List<Integer> whole = lengths(CDC_64K, data);
        // A stream that hands out a few bytes at a time must not move a single cut.
        InputStream trickle = new FilterInputStream(new ByteArrayInputStream(data)) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return super.read(b, off, Math.min(len, 777));
            }
        };
        List<Integer> trickled = new ArrayList<>();
        Chunker.cut(CDC_64K, trickle, (b, off, len) -> trickled.add(len));
        assertEquals(whole, trickled);
    }

    @Test
    void anInsertionChangesOnlyTheChunksAroundIt() throws IOException {
        byte[] v1 = splitMix64Bytes(11, 16 << 20);
        byte[] v2 = new byte[v1.length + 4096];
        int at = v1.length / 2;
        System.arraycopy(v1, 0, v2, 0, at);
        System.arraycopy(splitMix64Bytes(12, 4096), 0, v2, at, 4096);
        System.arraycopy(v1, at, v2, at + 4096, v1.length - at);
        Set<String> before = new HashSet<>(digests(CDC_64K, v1));
        List<String> after = digests(CDC_64K, v2);
        long fresh = after.stream().filter(d -> !before.contains(d)).count();
        assertTrue(fresh <= 3, fresh + " new chunks of " + after.size() + " after a 4 KiB insertion");
        // Fixed-size chunks shift: everything after the insertion is new.
        Set<String> fixedBefore = new HashSet<>(digests(new Chunking.Fixed(64 << 10), v1));
        long fixedFresh = digests(new Chunking.Fixed(64 << 10), v2).stream().filter(d -> !fixedBefore.contains(d)).count();
        assertTrue(fixedFresh > 100, "fixed chunks: " + fixedFresh);
    }

    @Test
    void fixedChunkingCutsEverySizeBytes() throws IOException {
        assertEquals(List.of(4096, 4096, 100), lengths(new Chunking.Fixed(4096), new byte[8292]));
        assertEquals(List.of(), lengths(new Chunking.Fixed(4096), new byte[0]));
    }

    @Test
    void badParametersAreRefusedWithTheReason() {
        var e = assertThrows(IllegalArgumentException.class, () -> new Chunking.ContentDefined(1024, 3000, 8192));
        assertTrue(e.getMessage().contains("power of two"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Chunking.ContentDefined(1024, 4096, 2 << 20));
        assertThrows(IllegalArgumentException.class, () -> new Chunking.Fixed(0));
    }

    private static List<Integer> lengths(Chunking c, byte[] data) throws IOException {
        List<Integer> out = new ArrayList<>();
        Chunker.cut(c, new ByteArrayInputStream(data), (b, off, len) -> out.add(len));
        return out;
    }

    private static List<String> digests(Chunking c, byte[] data) throws IOException {
        List<String> out = new ArrayList<>();
        Chunker.cut(c, new ByteArrayInputStream(data), (b, off, len) -> {
            try {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                md.update(b, off, len);
                out.add(HexFormat.of().formatHex(md.digest()));
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        });
        return out;
    }

    /** SplitMix64 (Steele, Lea, Flood 2014), little-endian bytes: a generator pinned by its definition. */
    static byte[] splitMix64Bytes(long seed, int n) {
        byte[] out = new byte[n];
        long state = seed;
        for (int i = 0; i < n; i += 8) {
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            for (int k = 0; k < 8 && i + k < n; k++) {
                out[i + k] = (byte) (z >>> (8 * k));
            }
        }
        return out;
    }
}
