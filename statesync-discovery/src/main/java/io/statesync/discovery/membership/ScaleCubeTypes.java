package io.statesync.discovery.membership;

import io.scalecube.cluster.Member;
import io.scalecube.cluster.membership.MemberStatus;
import io.scalecube.cluster.transport.api.Message;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.List;

/**
 * Builds and reads ScaleCube 2.7.7's protocol objects (pings, membership records, sync tables,
 * gossip, metadata requests). They are package-private classes whose only wire form is Java
 * serialization, which we refuse to run on bytes from the network; {@link WireCodec} encodes
 * their fields itself and needs to reach them. Everything is resolved when this class loads, so
 * a ScaleCube upgrade that changes them fails at the first start, not on the first odd packet.
 */
final class ScaleCubeTypes {

    static final Class<?> PING_DATA = type("io.scalecube.cluster.fdetector.PingData");
    static final Class<?> MEMBERSHIP_RECORD = type("io.scalecube.cluster.membership.MembershipRecord");
    static final Class<?> SYNC_DATA = type("io.scalecube.cluster.membership.SyncData");
    static final Class<?> GOSSIP = type("io.scalecube.cluster.gossip.Gossip");
    static final Class<?> GOSSIP_REQUEST = type("io.scalecube.cluster.gossip.GossipRequest");
    static final Class<?> METADATA_REQUEST = type("io.scalecube.cluster.metadata.GetMetadataRequest");
    static final Class<?> METADATA_RESPONSE = type("io.scalecube.cluster.metadata.GetMetadataResponse");
    private static final Class<?> ACK_TYPE = type("io.scalecube.cluster.fdetector.PingData$AckType");

    /** PingData's ack types in declaration order (DEST_OK, DEST_GONE); the wire carries the index. */
    private static final Object[] ACK_TYPES = ACK_TYPE.getEnumConstants();

    private static final Constructor<?> NEW_PING = constructor(PING_DATA, Member.class, Member.class, Member.class);
    private static final Method PING_FROM = method(PING_DATA, "getFrom");
    private static final Method PING_TO = method(PING_DATA, "getTo");
    private static final Method PING_ISSUER = method(PING_DATA, "getOriginalIssuer");
    private static final Method PING_ACK_TYPE = method(PING_DATA, "getAckType");
    private static final Method PING_WITH_ACK_TYPE = method(PING_DATA, "withAckType", ACK_TYPE);

    private static final Constructor<?> NEW_RECORD =
            constructor(MEMBERSHIP_RECORD, Member.class, MemberStatus.class, int.class);
    private static final Method RECORD_MEMBER = method(MEMBERSHIP_RECORD, "member");
    private static final Method RECORD_STATUS = method(MEMBERSHIP_RECORD, "status");
    private static final Method RECORD_INCARNATION = method(MEMBERSHIP_RECORD, "incarnation");

    private static final Constructor<?> NEW_SYNC = constructor(SYNC_DATA, Collection.class);
    private static final Method SYNC_RECORDS = method(SYNC_DATA, "getMembership");

    private static final Constructor<?> NEW_GOSSIP = constructor(GOSSIP, String.class, Message.class, long.class);
    private static final Method GOSSIP_GOSSIPER = method(GOSSIP, "gossiperId");
    private static final Method GOSSIP_MESSAGE = method(GOSSIP, "message");
    private static final Method GOSSIP_SEQUENCE = method(GOSSIP, "sequenceId");

    private static final Constructor<?> NEW_GOSSIP_REQUEST = constructor(GOSSIP_REQUEST, List.class, String.class);
    private static final Method GOSSIP_REQUEST_GOSSIPS = method(GOSSIP_REQUEST, "gossips");
    private static final Method GOSSIP_REQUEST_FROM = method(GOSSIP_REQUEST, "from");

    private static final Constructor<?> NEW_METADATA_REQUEST = constructor(METADATA_REQUEST, Member.class);
    private static final Method METADATA_REQUEST_MEMBER = method(METADATA_REQUEST, "getMember");

    private static final Constructor<?> NEW_METADATA_RESPONSE =
            constructor(METADATA_RESPONSE, Member.class, ByteBuffer.class);
    private static final Method METADATA_RESPONSE_MEMBER = method(METADATA_RESPONSE, "getMember");
    private static final Method METADATA_RESPONSE_METADATA = method(METADATA_RESPONSE, "getMetadata");

    private ScaleCubeTypes() {
    }

    /** A ping, ping request or ack; {@code ackType} is -1 (none), 0 (DEST_OK) or 1 (DEST_GONE). */
    record Ping(Member from, Member to, Member originalIssuer, int ackType) {
    }

    record Record(Member member, MemberStatus status, int incarnation) {
    }

    record Gossip(String gossiperId, Message message, long sequenceId) {
    }

    static int ackTypeCount() {
        return ACK_TYPES.length;
    }

    static Object newPing(Ping p) {
        Object ping = construct(NEW_PING, p.from(), p.to(), p.originalIssuer());
        return p.ackType() < 0 ? ping : call(PING_WITH_ACK_TYPE, ping, ACK_TYPES[p.ackType()]);
    }

    static Ping readPing(Object ping) {
        Object ack = call(PING_ACK_TYPE, ping);
        return new Ping((Member) call(PING_FROM, ping), (Member) call(PING_TO, ping),
                (Member) call(PING_ISSUER, ping), ack == null ? -1 : ((Enum<?>) ack).ordinal());
    }

    static Object newRecord(Record r) {
        return construct(NEW_RECORD, r.member(), r.status(), r.incarnation());
    }

    static Record readRecord(Object record) {
        return new Record((Member) call(RECORD_MEMBER, record), (MemberStatus) call(RECORD_STATUS, record),
                (Integer) call(RECORD_INCARNATION, record));
    }

    static Object newSync(List<Object> records) {
        return construct(NEW_SYNC, records);
    }

    static Collection<?> readSync(Object sync) {
        return (Collection<?>) call(SYNC_RECORDS, sync);
    }

    static Object newGossip(Gossip g) {
        return construct(NEW_GOSSIP, g.gossiperId(), g.message(), g.sequenceId());
    }

    static Gossip readGossip(Object gossip) {
        return new Gossip((String) call(GOSSIP_GOSSIPER, gossip), (Message) call(GOSSIP_MESSAGE, gossip),
                (Long) call(GOSSIP_SEQUENCE, gossip));
    }

    static Object newGossipRequest(List<Object> gossips, String from) {
        return construct(NEW_GOSSIP_REQUEST, gossips, from);
    }

    static List<?> readGossipRequestGossips(Object request) {
        return (List<?>) call(GOSSIP_REQUEST_GOSSIPS, request);
    }

    static String readGossipRequestFrom(Object request) {
        return (String) call(GOSSIP_REQUEST_FROM, request);
    }

    static Object newMetadataRequest(Member member) {
        return construct(NEW_METADATA_REQUEST, member);
    }

    static Member readMetadataRequest(Object request) {
        return (Member) call(METADATA_REQUEST_MEMBER, request);
    }

    static Object newMetadataResponse(Member member, ByteBuffer metadata) {
        return construct(NEW_METADATA_RESPONSE, member, metadata);
    }

    static Member readMetadataResponseMember(Object response) {
        return (Member) call(METADATA_RESPONSE_MEMBER, response);
    }

    static ByteBuffer readMetadataResponseMetadata(Object response) {
        return (ByteBuffer) call(METADATA_RESPONSE_METADATA, response);
    }

    private static Class<?> type(String name) {
        try {
            return Class.forName(name, true, ScaleCubeTypes.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw incompatible(name, e);
        }
    }

    private static Constructor<?> constructor(Class<?> type, Class<?>... parameters) {
        try {
            Constructor<?> c = type.getDeclaredConstructor(parameters);
            c.setAccessible(true);
            return c;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw incompatible(type.getName() + " constructor", e);
        }
    }

    private static Method method(Class<?> type, String name, Class<?>... parameters) {
        try {
            Method m = type.getDeclaredMethod(name, parameters);
            m.setAccessible(true);
            return m;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw incompatible(type.getName() + "." + name, e);
        }
    }

    private static IllegalStateException incompatible(String what, Exception cause) {
        return new IllegalStateException("ScaleCube's protocol classes are not the 2.7.7 ones this codec was"
                + " written for (" + what + "); check the scalecube-cluster version", cause);
    }

    private static Object construct(Constructor<?> c, Object... args) {
        try {
            return c.newInstance(args);
        } catch (InvocationTargetException e) {
            throw unwrap(c.toString(), e);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot call " + c, e);
        }
    }

    private static Object call(Method m, Object target, Object... args) {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw unwrap(m.toString(), e);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot call " + m, e);
        }
    }

    /** ScaleCube's constructors check their arguments (non-null); their complaint is what we rethrow. */
    private static RuntimeException unwrap(String what, InvocationTargetException e) {
        return e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(what + " failed", e.getCause());
    }
}
