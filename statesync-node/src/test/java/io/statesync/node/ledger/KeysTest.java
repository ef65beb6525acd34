package io.statesync.node.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import org.junit.jupiter.api.Test;

class KeysTest {
    @Test
    void aSeedGivesTheSameKeyPairEveryTime() {
        KeyPair one = Keys.fromSeed(Keys.seed("statesync-demo-faucet"));
        KeyPair two = Keys.fromSeed(Keys.seed("statesync-demo-faucet"));
        assertEquals(Keys.id(one), Keys.id(two));
        assertNotEquals(Keys.id(one), Keys.id(Keys.fromSeed(Keys.seed("someone else"))));
    }

    @Test
    void matchesTheRfc8032TestVector() {
        // RFC 8032 section 7.1, TEST 1: secret key -> public key
        KeyPair pair = Keys.fromSeed(Bytes.fromHex("seed",
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", 32));
        assertEquals("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", Keys.id(pair).hex());
    }

    @Test
    void verifiesOwnSignaturesAndRejectsOthers() {
        Signer alice = Signer.generate();
        Signer bob = Signer.generate();
        byte[] msg = "hello".getBytes(StandardCharsets.UTF_8);
        byte[] sig = alice.sign(msg);
        assertTrue(Keys.verify(alice.account(), msg, sig));
        assertFalse(Keys.verify(bob.account(), msg, sig));
        assertFalse(Keys.verify(alice.account(), "hellO".getBytes(StandardCharsets.UTF_8), sig));
        assertFalse(Keys.verify(alice.account(), msg, new byte[64]));
        assertFalse(Keys.verify(alice.account(), msg, new byte[3]));
        // a key that is not a curve point never throws
        assertFalse(Keys.verify(AccountId.of(filled(0xff)), msg, sig));
    }

    @Test
    void aRememberedValidSignatureVouchesForExactlyItsOwnBytes() {
        // Given a signature of a 32-byte digest found valid (and so remembered)
        Signer alice = Signer.generate();
        byte[] digest = Bytes.sha256("tx".getBytes(StandardCharsets.UTF_8));
        byte[] sig = alice.sign(digest);
        assertTrue(Keys.verify(alice.account(), digest, sig));

        // Then it verifies again, and any other signature, digest or key is still checked and refused
        assertTrue(Keys.verify(alice.account(), digest, sig));
        byte[] flipped = sig.clone();
        flipped[10] ^= 1;
        assertFalse(Keys.verify(alice.account(), digest, flipped));
        byte[] otherDigest = digest.clone();
        otherDigest[0] ^= 1;
        assertFalse(Keys.verify(alice.account(), otherDigest, sig));
        assertFalse(Keys.verify(Signer.generate().account(), digest, sig));
        // and a long message (never remembered) verifies as always
        byte[] longMessage = new byte[200];
        assertTrue(Keys.verify(alice.account(), longMessage, alice.sign(longMessage)));
        assertFalse(Keys.verify(alice.account(), longMessage, sig));
    }

    @Test
    void accountIdsParseAndPrintAsHex() {
        AccountId id = Signer.generate().account();
        assertEquals(id, AccountId.fromHex(id.hex()));
        assertEquals(id.hex(), id.toString());
        IllegalArgumentException tooShort = assertThrows(IllegalArgumentException.class, () -> AccountId.fromHex("abcd"));
        assertEquals("account id: expected 64 hex digits, got 4", tooShort.getMessage());
        assertThrows(IllegalArgumentException.class, () -> AccountId.fromHex("zz".repeat(32)));
    }

    @Test
    void threadNamesAreValidated() {
        assertEquals("t0", new ThreadId("t0").name());
        assertEquals("a-" + "b".repeat(30), new ThreadId("a-" + "b".repeat(30)).name());
        for (String bad : new String[] {"", "-t", "T0", "t_0", "a".repeat(33), "t 0"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ThreadId(bad));
            assertFalse(e.getMessage().contains("\n"));
        }
    }

    private static byte[] filled(int b) {
        byte[] out = new byte[32];
        java.util.Arrays.fill(out, (byte) b);
        return out;
    }
}
