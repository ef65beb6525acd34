package io.statesync.discovery.membership;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * Every metric of one gossip membership, rendered by Prometheus as {@code statesync_gossip_*}:
 * {@code members}, {@code events_total{type}}, {@code dropped_total{reason}},
 * {@code connections_closed_total{reason}},
 * {@code sent_bytes_total} and {@code received_bytes_total}, each tagged with the gossip port so
 * several nodes can report into one registry.
 *
 * <p>Counting starts before the port is known (the first messages go out while the node starts),
 * so counts live in adders here and the meters that read them are registered once bound.
 */
final class GossipMetrics {

    /** Why an incoming frame or metadata was thrown away. */
    enum DropReason {
        /** Larger than the frame or metadata limit. */
        OVERSIZE,
        /** Not our wire format, truncated, inconsistent, or stalled half-way. */
        MALFORMED
    }

    /** Why the gossip port closed a connection a peer opened. */
    enum CloseReason {
        /** The port held its most inbound connections. */
        LIMIT_TOTAL,
        /** The peer's address held its most inbound connections. */
        LIMIT_ADDRESS,
        /** Nothing arrived on it for the idle timeout. */
        IDLE
    }

    /** The membership event types, as tag values. */
    enum EventType {
        JOINED, UPDATED, LEFT, FAILED
    }

    private final Map<DropReason, LongAdder> dropped = new EnumMap<>(DropReason.class);
    private final Map<EventType, LongAdder> events = new EnumMap<>(EventType.class);
    private final Map<CloseReason, LongAdder> closed = new EnumMap<>(CloseReason.class);
    private final LongAdder bytesSent = new LongAdder();
    private final LongAdder bytesReceived = new LongAdder();
    /** Registered meters, removed at close. */
    private final List<Meter> meters = new ArrayList<>();

    GossipMetrics() {
        for (DropReason r : DropReason.values()) {
            dropped.put(r, new LongAdder());
        }
        for (EventType t : EventType.values()) {
            events.put(t, new LongAdder());
        }
        for (CloseReason r : CloseReason.values()) {
            closed.put(r, new LongAdder());
        }
    }

    void closed(CloseReason reason) {
        closed.get(reason).increment();
    }

    void dropped(DropReason reason) {
        dropped.get(reason).increment();
    }

    void event(EventType type) {
        events.get(type).increment();
    }

    void sent(long bytes) {
        bytesSent.add(bytes);
    }

    void received(long bytes) {
        bytesReceived.add(bytes);
    }

    /** Registers the meters of the node bound at {@code port}. */
    synchronized void register(MeterRegistry registry, int port, IntSupplier members) {
        String p = Integer.toString(port);
        meters.add(Gauge.builder("statesync.gossip.members", members, IntSupplier::getAsInt)
                .description("Other live members this node sees")
                .tag("port", p)
                .strongReference(true)
                .register(registry));
        for (EventType t : EventType.values()) {
            meters.add(FunctionCounter.builder("statesync.gossip.events", events.get(t), LongAdder::doubleValue)
                    .description("Membership events by type")
                    .tag("port", p)
                    .tag("type", t.name().toLowerCase())
                    .register(registry));
        }
        for (DropReason r : DropReason.values()) {
            meters.add(FunctionCounter.builder("statesync.gossip.dropped", dropped.get(r), LongAdder::doubleValue)
                    .description("Incoming gossip frames or metadata thrown away")
                    .tag("port", p)
                    .tag("reason", r.name().toLowerCase())
                    .register(registry));
        }
        for (CloseReason r : CloseReason.values()) {
            meters.add(FunctionCounter.builder("statesync.gossip.connections.closed", closed.get(r),
                            LongAdder::doubleValue)
                    .description("Inbound gossip connections this node closed: over the port's or the peer "
                            + "address's limit, or idle")
                    .tag("port", p)
                    .tag("reason", r.name().toLowerCase())
                    .register(registry));
        }
        meters.add(FunctionCounter.builder("statesync.gossip.sent", bytesSent, LongAdder::doubleValue)
                .description("Bytes written to gossip connections, framing included")
                .baseUnit("bytes")
                .tag("port", p)
                .register(registry));
        meters.add(FunctionCounter.builder("statesync.gossip.received", bytesReceived, LongAdder::doubleValue)
                .description("Bytes read from gossip connections, garbage included")
                .baseUnit("bytes")
                .tag("port", p)
                .register(registry));
    }

    synchronized void unregister(MeterRegistry registry) {
        for (Meter m : meters) {
            registry.remove(m);
        }
        meters.clear();
    }
}
