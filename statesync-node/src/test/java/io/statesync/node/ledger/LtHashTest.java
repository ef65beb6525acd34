package io.statesync.node.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LtHashTest {
    private static byte[] e(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void theRootDoesNotDependOnTheOrderOfAdds() {
        // given two hashes fed the same elements in different orders
        LtHash a = new LtHash();
        LtHash b = new LtHash();
        for (String s : new String[] {"alice", "bob", "carol", "dave"}) {
            a.add(e(s));
        }
        for (String s : new String[] {"dave", "bob", "alice", "carol"}) {
            b.add(e(s));
        }
        // then they agree
        assertEquals(a.root(), b.root());
        assertEquals(a, b);
    }

    @Test
    void addingThenRemovingGivesTheEmptyRoot() {
        LtHash hash = new LtHash();
        StateRoot empty = hash.root();
        hash.add(e("x"));
        hash.add(e("y"));
        assertNotEquals(empty, hash.root());
        hash.remove(e("x"));
        hash.remove(e("y"));
        assertEquals(empty, hash.root());
    }

    @Test
    void distinctSetsHaveDistinctRoots() {
        LtHash one = new LtHash();
        one.add(e("x"));
        LtHash other = new LtHash();
        other.add(e("y"));
        LtHash twice = new LtHash();
        twice.add(e("x"));
        twice.add(e("x"));
        assertNotEquals(one.root(), other.root());
        assertNotEquals(one.root(), twice.root());
        assertNotEquals(one.root(), new LtHash().root());
    }

    @Test
    void bytesRoundTripAndCopiesAreIndependent() {
        LtHash hash = new LtHash();
        hash.add(e("state"));
        byte[] bytes = hash.toBytes();
        assertEquals(LtHash.BYTES, bytes.length);
        LtHash back = LtHash.fromBytes(bytes);
        assertEquals(hash.root(), back.root());
        assertArrayEquals(bytes, back.toBytes());

        LtHash copy = hash.copy();
        copy.add(e("more"));
        assertEquals(back.root(), hash.root());
        assertNotEquals(hash.root(), copy.root());
        assertThrows(IllegalArgumentException.class, () -> LtHash.fromBytes(new byte[10]));
    }

    @Test
    void theRootIsTheDigestOfTheLittleEndianLanes() {
        // the empty hash is 2048 zero bytes; its root is their SHA-256
        assertEquals(Bytes.hex(Bytes.sha256(new byte[LtHash.BYTES])), new LtHash().root().hex());
    }

    @Test
    void unionOfTwoHashesEqualsOneHashOfBoth() {
        LtHash a = new LtHash();
        a.add(e("a"));
        LtHash b = new LtHash();
        b.add(e("b"));
        LtHash both = new LtHash();
        both.add(e("b"));
        both.add(e("a"));
        a.add(b);
        assertEquals(both.root(), a.root());
    }
}
