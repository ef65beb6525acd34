package io.statesync.node.statesync;

import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import java.util.Collections;
import java.util.Comparator;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** Immutable address maps ordered by thread name (ThreadId itself is not Comparable). */
final class Addresses {
    static final Comparator<ThreadId> ORDER = Comparator.comparing(ThreadId::name);

    private Addresses() {
    }

    static SortedMap<ThreadId, BlockId> copy(Map<ThreadId, BlockId> address) {
        TreeMap<ThreadId, BlockId> m = new TreeMap<>(ORDER);
        m.putAll(address);
        return Collections.unmodifiableSortedMap(m);
    }

    static String describe(Map<ThreadId, BlockId> address) {
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<ThreadId, BlockId> e : copy(address).entrySet()) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append(e.getKey().name()).append('=').append(e.getValue().hex(), 0, 12);
        }
        return sb.append('}').toString();
    }
}
