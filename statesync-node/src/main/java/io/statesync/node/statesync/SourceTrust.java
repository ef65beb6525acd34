package io.statesync.node.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.discovery.card.NodeId;
import io.statesync.discovery.catalog.TrustedSet;
import io.statesync.groups.GroupStatus;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import io.statesync.transfer.tls.Tls;
import java.net.URI;
import io.statesync.transfer.tls.Tls;
import java.time.Duration;
import io.statesync.transfer.tls.Tls;
import java.util.HashSet;
import io.statesync.transfer.tls.Tls;
import java.util.List;
import io.statesync.transfer.tls.Tls;
import java.util.Map;
import io.statesync.transfer.tls.Tls;
import java.util.Optional;
import io.statesync.transfer.tls.Tls;
import java.util.Set;
import io.statesync.transfer.tls.Tls;
import java.util.concurrent.ConcurrentHashMap;
import io.statesync.transfer.tls.Tls;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which gossip nodes a thread's loads may take bytes from (the seed's block-keeper set), one
 * live {@link TrustedSet} per thread: the node ids of the thread's current group members, plus
 * the configured trusted keys.
 *
 * <p>A gossip card is signed by a node key, while a group member is a config id with an HTTP URL
 * in the group's consensus configuration. The two are tied by asking the member itself: {@code
 * GET <member URL>/node/identity} answers its member id and node id, and the URL comes from the
 * configuration, which an outsider cannot change. A card's own share URLs are never used for
 * this: anyone can sign a card that names a member's URL.
 */
public final class SourceTrust implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SourceTrust.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The route a member answers its identity at, below its HTTP base URL. */
    public static final String IDENTITY_ROUTE = "node/identity";
    /** A learned id is asked again this often: a member whose data was wiped comes back with a new key. */
    static final Duration RELEARN = Duration.ofSeconds(60);
    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(2);
    private static final int MAX_ANSWER_BYTES = 1024;

    private final Set<NodeId> configured;
    private final NodeId self;
    private final Map<ThreadId, TrustedSet> byThread = new ConcurrentHashMap<>();
    /** What each member (by member id and URL) said its node id is, and when. */
    private final Map<MemberAt, Learned> learned = new ConcurrentHashMap<>();
    private final SmallGets http;
    private final LongSupplier nanoClock;

    private record MemberAt(String member, URI http) {
    }

    private record Learned(NodeId id, long atNanos) {
    }

    /**
     * @param configured node ids trusted on every thread whatever the membership ({@code sync.trustedKeys})
     * @param self this node's own id, or null without gossip
     */
    public SourceTrust(List<NodeId> configured, NodeId self) {
        this(configured, self, null, System::nanoTime);
    }

    /** As {@link #SourceTrust(List, NodeId)}, asking https members with {@code tls}'s trust and certificate. */
    public SourceTrust(List<NodeId> configured, NodeId self, Tls tls) {
        this(configured, self, tls, System::nanoTime);
    }

    SourceTrust(List<NodeId> configured, NodeId self, LongSupplier nanoClock) {
        this(configured, self, null, nanoClock);
    }

    SourceTrust(List<NodeId> configured, NodeId self, Tls tls, LongSupplier nanoClock) {
        this.http = new SmallGets(tls);
        this.configured = Set.copyOf(configured);
        this.self = self;
        this.nanoClock = nanoClock;
    }

    /** The thread's trusted set: empty of members until {@link #refresh} learned them. */
    public TrustedSet of(ThreadId thread) {
        return byThread.computeIfAbsent(thread, t -> TrustedSet.of(configured));
    }

    /**
     * Brings the thread's set in line with its group's {@code members} (the live configuration):
     * asks every member whose node id is not known yet, or was learned long ago, at its URL. A
     * member that does not answer keeps the id it gave before; one never learned is not trusted
     * until it answers. Members gone from the configuration leave the set.
     */
    public void refresh(ThreadId thread, String selfMember, List<GroupStatus.Member> members) throws InterruptedException {
        refreshFrom(thread, selfMember, members.stream().map(m -> new MemberUrl(m.id(), m.http())).toList());
    }

    /** A member of a thread's group and its HTTP base URL, as the group's configuration records them. */
    public record MemberUrl(String id, URI http) {
    }

    /** As {@link #refresh}, from members given by id and URL (a catch-up session's peers). */
    public void refreshFrom(ThreadId thread, String selfMember, List<MemberUrl> members) throws InterruptedException {
        Set<NodeId> ids = new HashSet<>(configured);
        if (self != null) {
            // This node is a member of its own threads (its own card is never a source anyway).
            ids.add(self);
        }
        for (MemberUrl m : members) {
            if (m.id().equals(selfMember)) {
                continue;
            }
            if (m.http() == null) {
                continue;
            }
            learn(new MemberAt(m.id(), m.http())).ifPresent(ids::add);
        }
        TrustedSet set = of(thread);
        if (!ids.equals(set.members())) {
            log.info("thread {}: gossip sources trusted now: {}", thread.name(), ids);
            set.replace(ids);
        }
    }

    private Optional<NodeId> learn(MemberAt m) throws InterruptedException {
        Learned known = learned.get(m);
        if (known != null && nanoClock.getAsLong() - known.atNanos() < RELEARN.toNanos()) {
            return Optional.of(known.id());
        }
        try {
            byte[] body = http.get(SmallGets.below(m.http(), IDENTITY_ROUTE), MAX_ANSWER_BYTES, ASK_TIMEOUT);
            JsonNode answer = JSON.readTree(body);
            String member = answer.path("member").asText();
            if (!member.equals(m.member())) {
                // The URL now belongs to another node: what it says is not this member's id.
                log.warn("member {} at {} answers as member '{}'; its gossip card is not trusted", m.member(),
                        m.http(), member);
                learned.remove(m);
                return Optional.empty();
            }
            JsonNode id = answer.get("nodeId");
            if (id == null || id.isNull()) {
                return Optional.empty(); // the member runs without gossip
            }
            NodeId nodeId = new NodeId(id.asText());
            learned.put(m, new Learned(nodeId, nanoClock.getAsLong()));
            return Optional.of(nodeId);
        } catch (IOException | IllegalArgumentException e) {
            log.debug("member {} at {}: identity not learned: {}", m.member(), m.http(), e.toString());
            return known == null ? Optional.empty() : Optional.of(known.id());
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
