package io.statesync.node.chain;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;

/**
 * A request, committed through a thread's group like a block, that every replica save the state
 * at the next block, whatever {@code saveStateEvery} says (the seed's "state sync requested").
 * It goes through consensus because a save is decided while a block is applied: only a decision
 * every replica takes at the same log position gives snapshots with one content address.
 *
 * <p>Wire form: the 4 ASCII bytes {@code SSR1}, then {@code minIntervalMillis} as a big-endian
 * u64, nothing more. A block starts with its version byte 0x01, so the two never collide.
 *
 * @param minInterval a requested save is granted only if the last granted one lies at least this
 *     far back in block time; carried in the command so that every replica decides alike
 */
public record ShareRequest(Duration minInterval) {
    private static final byte[] MAGIC = {'S', 'S', 'R', '1'};
    private static final int LENGTH = MAGIC.length + Long.BYTES;

    public ShareRequest {
        if (minInterval.isNegative()) {
            throw new IllegalArgumentException("minInterval must not be negative");
        }
    }

    /** A replica's answer to a request, returned to the submitter as the command's result. */
    public sealed interface Answer {
        /** Granted: the block after {@code height} is saved. */
        record Granted(long height) implements Answer {
        }

        /** A request granted earlier waits for its block, the one after {@code height}. */
        record Pending(long height) implements Answer {
        }

        /** Refused, with the reason: the last save on request is too recent. */
        record Limited(String reason) implements Answer {
        }

        /** The answer as the command's result: {@code share granted|pending <height>} or {@code share limited <reason>}. */
        default byte[] encode() {
            String text = switch (this) {
                case Granted g -> "share granted " + g.height();
                case Pending p -> "share pending " + p.height();
                case Limited l -> "share limited " + l.reason();
            };
            return text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }

        /** Reads a command result; empty if it is not an answer to a share request. */
        static Optional<Answer> decode(byte[] result) {
            String text = new String(result, java.nio.charset.StandardCharsets.UTF_8);
            try {
                if (text.startsWith("share granted ")) {
                    return Optional.of(new Granted(Long.parseLong(text.substring(14))));
                }
                if (text.startsWith("share pending ")) {
                    return Optional.of(new Pending(Long.parseLong(text.substring(14))));
                }
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
            return text.startsWith("share limited ") ? Optional.of(new Limited(text.substring(14))) : Optional.empty();
        }
    }

    public byte[] encode() {
        return ByteBuffer.allocate(LENGTH).put(MAGIC).putLong(minInterval.toMillis()).array();
    }

    /** The request a command holds, or empty if the command is not one (a block, or garbage). */
    public static Optional<ShareRequest> decode(byte[] command) {
        if (command.length != LENGTH) {
            return Optional.empty();
        }
        ByteBuffer b = ByteBuffer.wrap(command);
        for (byte m : MAGIC) {
            if (b.get() != m) {
                return Optional.empty();
            }
        }
        long millis = b.getLong();
        return millis < 0 ? Optional.empty() : Optional.of(new ShareRequest(Duration.ofMillis(millis)));
    }
}
