package io.statesync.node;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/**
 * How one thread of the status document ({@code GET /node/status}) reads to a person: the words
 * {@code statesync status} prints and the node's status page shows. Kept in one place so the two
 * views never disagree; the page's script mirrors these rules for its live updates.
 */
public final class StatusFacts {
    private StatusFacts() {
    }

    /** A thread's overall state, the worst that applies. */
    public enum State {
        /** Producing or following normally. */
        OK,
        /** Its group reports no progress for too long. */
        STALLED,
        /** Its group failed. */
        FAILED,
        /** Its state machine stopped applying blocks; only a restart or a load helps. */
        HALTED;

        /** Lower case, as printed. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The status field that carries the reason for this state, or null for {@link #OK}. */
        String field() {
            return this == OK ? null : label();
        }
    }

    /** The state of {@code thread}: halted before failed before stalled, since a halt outlasts the others. */
    public static State state(JsonNode thread) {
        for (State s : new State[] {State.HALTED, State.FAILED, State.STALLED}) {
            if (thread.hasNonNull(s.field())) {
                return s;
            }
        }
        return State.OK;
    }

    /** Why the thread is in its {@link #state}, or null when it is ok. */
    public static String stateReason(JsonNode thread) {
        State s = state(thread);
        return s == State.OK ? null : thread.path(s.field()).asText();
    }

    /**
     * The catch-up column: {@code -} when the thread is not catching up, {@code catching up 40%}
     * when it knows how much is left, {@code catching up} while it does not yet.
     */
    public static String sync(JsonNode thread) {
        if (!thread.path("catchingUp").asBoolean()) {
            return "-";
        }
        JsonNode p = thread.path("syncProgress");
        long done = p.path("done").asLong();
        long total = p.path("total").asLong();
        if (total <= 0) {
            return "catching up";
        }
        long percent = Math.max(0, Math.min(100, Math.floorDiv(done * 100, total)));
        return "catching up " + percent + "%";
    }

    /** The role in lower case ({@code leader}, {@code follower}, ...), or {@code -}. */
    public static String role(JsonNode node) {
        String role = node.path("role").asText("");
        return role.isEmpty() ? "-" : role.toLowerCase(Locale.ROOT);
    }

    /** A number field as text, or {@code -} when it is absent or negative (the status's "none yet"). */
    public static String number(JsonNode node, String field) {
        JsonNode v = node.path(field);
        return v.isNumber() && v.asLong() >= 0 ? Long.toString(v.asLong()) : "-";
    }

    /** A text field, or {@code -} when it is absent, null or empty. */
    public static String text(JsonNode node, String field) {
        String v = node.path(field).asText("");
        return node.hasNonNull(field) && !v.isEmpty() ? v : "-";
    }

    /** Applied and commit index as {@code applied/commit}. */
    public static String indexes(JsonNode thread) {
        return number(thread, "appliedIndex") + "/" + number(thread, "commitIndex");
    }
}
