package io.statesync.node.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ParallelStateHashTest {
    /** Data entries of varied sizes, about 5 MiB in all: several batches. */
    private static List<byte[][]> entries(long seed) {
        Random random = new Random(seed);
        List<byte[][]> out = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            byte[] owner = new byte[32];
            random.nextBytes(owner);
            byte[] name = new byte[1 + random.nextInt(40)];
            random.nextBytes(name);
            byte[] value = new byte[random.nextInt(26_000)];
            random.nextBytes(value);
            out.add(new byte[][] {StateLayout.dataKey(AccountId.of(owner), name), value});
        }
        return out;
    }

    private static LtHash oneByOne(List<byte[][]> entries) {
        LtHash h = new LtHash();
        entries.forEach(e -> h.add(StateLayout.elementFromRaw(e[0], e[1])));
        return h;
    }

    private static LtHash parallel(List<byte[][]> entries, int threads) throws InterruptedException {
        try (ParallelStateHash p = new ParallelStateHash(threads)) {
            for (byte[][] e : entries) {
                p.add(e[0], e[1]);
            }
            return p.finish();
        }
    }

    @Test
    void givesTheSameHashAsAddingOneByOneOnAnyNumberOfWorkers() throws Exception {
        List<byte[][]> entries = entries(7);
        LtHash expected = oneByOne(entries);
        for (int threads : new int[] {1, 2, 5}) {
            assertEquals(expected.root(), parallel(entries, threads).root(), threads + " workers");
        }
    }

    @Test
    void anEmptyStateHasTheEmptyRootAndOneChangedValueChangesIt() throws Exception {
        assertEquals(new LtHash().root(), parallel(List.of(), 2).root());
        List<byte[][]> entries = entries(8);
        StateRoot before = parallel(entries, 2).root();
        entries.get(399)[1] = new byte[] {1, 2, 3};
        assertNotEquals(before, parallel(entries, 2).root());
    }
}
