package io.statesync.core.chunking;

/**
 * The cut-point search of FastCDC (Xia et al., USENIX ATC 2016) with normalized chunking at
 * level 2: a gear hash rolls over the bytes from {@code min} on; before {@code avg} a cut needs
 * two more zero bits than after it, which pulls chunk sizes towards the average.
 *
 * <p>The gear table and the masks are part of the format: the same bytes must give the same
 * chunks on every machine and in every version, or a node could no longer find the chunks it
 * holds. {@code FastCdcTest} pins them with fixed vectors. The table is 256 outputs of
 * SplitMix64 from the seed below; the masks take the hash's top bits, which depend on the last
 * 64 bytes only (each step shifts the hash left by one).
 */
final class FastCdc {
    private static final long SEED = 0x5374617465737963L; // "Statesyc"
    private static final long[] GEAR = gearTable();

    private final int min;
    private final int avg;
    private final int max;
    private final long maskBefore;
    private final long maskAfter;

    FastCdc(Chunking.ContentDefined c) {
        this.min = c.min();
        this.avg = c.avg();
        this.max = c.max();
        int bits = Integer.numberOfTrailingZeros(c.avg());
        this.maskBefore = topBits(bits + 2);
        this.maskAfter = topBits(Math.max(1, bits - 2));
    }

    /**
     * The length of the next chunk of {@code b[off, off+len)}. The caller passes at least
     * {@code max} bytes unless the stream ends within them; then the rest is the last chunk.
     */
    int cut(byte[] b, int off, int len) {
        if (len <= min) {
            return len;
        }
        int end = Math.min(len, max);
        int normal = Math.min(end, avg);
        long hash = 0;
        int i = min;
        for (; i < normal; i++) {
            hash = (hash << 1) + GEAR[b[off + i] & 0xff];
            if ((hash & maskBefore) == 0) {
                return i + 1;
            }
        }
        for (; i < end; i++) {
            hash = (hash << 1) + GEAR[b[off + i] & 0xff];
            if ((hash & maskAfter) == 0) {
                return i + 1;
            }
        }
        return end;
    }

    private static long topBits(int n) {
        return -1L << (64 - n);
    }

    private static long[] gearTable() {
        long[] t = new long[256];
        long state = SEED;
        for (int i = 0; i < t.length; i++) {
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            t[i] = z ^ (z >>> 31);
        }
        return t;
    }
}
