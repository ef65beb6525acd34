package io.statesync.discovery.membership;

import io.scalecube.cluster.Member;
import io.scalecube.cluster.fdetector.FailureDetectorImpl;
import io.scalecube.cluster.gossip.GossipProtocolImpl;
import io.scalecube.cluster.membership.MemberStatus;
import io.scalecube.cluster.membership.MembershipProtocolImpl;
import io.scalecube.cluster.metadata.MetadataStoreImpl;
import io.scalecube.cluster.transport.api.Message;
import io.scalecube.cluster.transport.api.MessageCodec;
import io.statesync.discovery.membership.GossipMetrics.DropReason;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Our wire format for ScaleCube's protocol messages. ScaleCube's own codec is Java serialization
 * ({@code ObjectInputStream.readObject} on whatever arrives at the gossip port), which lets any
 * peer run code in our JVM through a gadget chain and, even with a class filter, allocate
 * whatever sizes it likes. This codec knows exactly the nine messages the protocol sends and
 * reads each field by hand, with bounds:
 *
 * <pre>
 * frame   = magic "SG" (2) · version 1 (1) · message
 * message = kind (1) · flags (1: bit 0 correlation id, bit 1 sender) · [cid str] · [sender str] · body(kind)
 * str     = length (2) · UTF-8, at most 1024 bytes
 * member  = id str · has-alias (1) · [alias str] · address str ("host:port") · namespace str
 * ping, pingReq, pingAck  = from member · to member · has-issuer (1) · [issuer member] · ack (1: 0 none, 1 ok, 2 gone)
 * sync, syncAck           = count (2) · record*
 * record                  = member · status (1) · incarnation (4)
 * gossipReq               = count (2) · (gossiper str · sequence (8) · message of kind membershipGossip)* · from str
 * metadataReq             = member
 * metadataResp            = member · length (4) · bytes, at most maxMetadataBytes
 * </pre>
 *
 * A frame that does not parse, has trailing bytes, pairs a kind with the wrong body or lacks a
 * header its kind needs is dropped and counted. It becomes a stand-in message with the
 * {@link #DROPPED} qualifier, which no ScaleCube component listens to: throwing instead would make
 * ScaleCube log a stack trace per garbage frame, and a body of the wrong type would throw inside
 * its listeners and end their subscriptions, silently stopping failure detection.
 */
final class WireCodec implements MessageCodec {

    /** Qualifier of the stand-in for a dropped frame. */
    static final String DROPPED = "statesync/gossip-dropped";

    static final int MAX_STRING_BYTES = 1024;

    private static final Logger log = LoggerFactory.getLogger(WireCodec.class);
    private static final int MAGIC = 0x5347;
    private static final int VERSION = 1;
    private static final int FLAG_CID = 1;
    private static final int FLAG_SENDER = 2;
    // ScaleCube compares namespaces as file-system paths; anything outside its own pattern is refused.
    private static final Pattern NAMESPACE = Pattern.compile("(\\w+[\\w\\-./]*\\w)+");
    private static final MemberStatus[] STATUSES = MemberStatus.values();

    /** What a message carries; fixes the body's layout. */
    private enum Body {
        PING, SYNC, GOSSIP_REQUEST, METADATA_REQUEST, METADATA_RESPONSE, RECORD
    }

    /** The protocol's messages. The code is what goes on the wire. */
    private enum Kind {
        PING(1, FailureDetectorImpl.PING, Body.PING, true),
        PING_REQ(2, FailureDetectorImpl.PING_REQ, Body.PING, true),
        PING_ACK(3, FailureDetectorImpl.PING_ACK, Body.PING, true),
        SYNC(4, MembershipProtocolImpl.SYNC, Body.SYNC, false),
        SYNC_ACK(5, MembershipProtocolImpl.SYNC_ACK, Body.SYNC, false),
        GOSSIP_REQ(6, GossipProtocolImpl.GOSSIP_REQ, Body.GOSSIP_REQUEST, false),
        METADATA_REQ(7, MetadataStoreImpl.GET_METADATA_REQ, Body.METADATA_REQUEST, true),
        METADATA_RESP(8, MetadataStoreImpl.GET_METADATA_RESP, Body.METADATA_RESPONSE, true),
        /** Only inside a gossip request: a membership record being spread. */
        MEMBERSHIP_GOSSIP(9, MembershipProtocolImpl.MEMBERSHIP_GOSSIP, Body.RECORD, false);

        final int code;
        final String qualifier;
        final Body body;
        /** Request-response messages: ScaleCube matches the answer by correlation id. */
        final boolean needsCid;

        Kind(int code, String qualifier, Body body, boolean needsCid) {
            this.code = code;
            this.qualifier = qualifier;
            this.body = body;
            this.needsCid = needsCid;
        }

        static Kind ofCode(int code) {
            for (Kind k : values()) {
                if (k.code == code) {
                    return k;
                }
            }
            return null;
        }

        static Kind ofQualifier(String qualifier) {
            for (Kind k : values()) {
                if (k.qualifier.equals(qualifier)) {
                    return k;
                }
            }
            return null;
        }
    }

    /** A frame we refuse; carries no stack trace, since hostile input is an expected event. */
    private static final class Refused extends Exception {
        final DropReason reason;

        Refused(DropReason reason, String detail) {
            super(detail, null, false, false);
            this.reason = reason;
        }
    }

    private final int maxMetadataBytes;
    private final GossipMetrics metrics;

    WireCodec(int maxMetadataBytes, GossipMetrics metrics) {
        this.maxMetadataBytes = maxMetadataBytes;
        this.metrics = metrics;
    }

    /** Never throws on bad input: a refused frame is counted and becomes a {@link #DROPPED} stand-in. */
    @Override
    public Message deserialize(InputStream stream) throws IOException {
        // One whole frame, already bounded by the frame decoder.
        ByteBuffer frame = ByteBuffer.wrap(stream.readAllBytes());
        try {
            return decodeFrame(frame);
        } catch (Refused e) {
            metrics.dropped(e.reason);
            log.debug("dropped a gossip frame of {} bytes ({}): {}", frame.capacity(), e.reason, e.getMessage());
            return Message.fromQualifier(DROPPED);
        }
    }

    @Override
    public void serialize(Message message, OutputStream stream) throws IOException {
        DataOutputStream out = new DataOutputStream(stream);
        out.writeShort(MAGIC);
        out.writeByte(VERSION);
        writeMessage(out, message, false);
        out.flush();
    }

    // ---------------------------------------------------------------- decoding

    private Message decodeFrame(ByteBuffer in) throws Refused {
        try {
            if (in.remaining() < 3 || (in.getShort() & 0xffff) != MAGIC) {
                throw malformed("not a statesync gossip frame");
            }
            int version = in.get() & 0xff;
            if (version != VERSION) {
                throw malformed("unknown version " + version);
            }
            Message message = readMessage(in, false);
            if (in.hasRemaining()) {
                throw malformed(in.remaining() + " trailing bytes");
            }
            return message;
        } catch (BufferUnderflowException e) {
            throw malformed("truncated");
        }
    }

    private Message readMessage(ByteBuffer in, boolean insideGossip) throws Refused {
        int code = u8(in);
        Kind kind = Kind.ofCode(code);
        if (kind == null) {
            throw malformed("unknown message kind " + code);
        }
        if (insideGossip != (kind == Kind.MEMBERSHIP_GOSSIP)) {
            throw malformed(kind + (insideGossip ? " inside a gossip" : " outside a gossip"));
        }
        int flags = u8(in);
        if ((flags & ~(FLAG_CID | FLAG_SENDER)) != 0) {
            throw malformed("unknown flags " + flags);
        }
        String cid = (flags & FLAG_CID) != 0 ? string(in) : null;
        String sender = (flags & FLAG_SENDER) != 0 ? address(in) : null;
        if (kind.needsCid && cid == null) {
            throw malformed(kind + " without a correlation id");
        }
        // ScaleCube stamps every message it sends with the sender and answers to that address.
        if (!insideGossip && sender == null) {
            throw malformed(kind + " without a sender");
        }
        Object data = switch (kind.body) {
            case PING -> readPing(in);
            case SYNC -> readSync(in);
            case GOSSIP_REQUEST -> readGossipRequest(in);
            case METADATA_REQUEST -> ScaleCubeTypes.newMetadataRequest(member(in));
            case METADATA_RESPONSE -> readMetadataResponse(in);
            case RECORD -> readRecord(in);
        };
        Message.Builder b = Message.withData(data).qualifier(kind.qualifier);
        if (cid != null) {
            b.correlationId(cid);
        }
        if (sender != null) {
            b.sender(sender);
        }
        return b.build();
    }

    private Object readPing(ByteBuffer in) throws Refused {
        Member from = member(in);
        Member to = member(in);
        Member issuer = bool(in) ? member(in) : null;
        int ack = u8(in);
        if (ack > ScaleCubeTypes.ackTypeCount()) {
            throw malformed("unknown ack type " + ack);
        }
        return ScaleCubeTypes.newPing(new ScaleCubeTypes.Ping(from, to, issuer, ack - 1));
    }

    private Object readSync(ByteBuffer in) throws Refused {
        int count = u16(in);
        // Never sized from the wire: each record must really be there.
        List<Object> records = new ArrayList<>(Math.min(count, 64));
        for (int i = 0; i < count; i++) {
            records.add(readRecord(in));
        }
        return ScaleCubeTypes.newSync(records);
    }

    private Object readRecord(ByteBuffer in) throws Refused {
        Member member = member(in);
        int status = u8(in);
        if (status >= STATUSES.length) {
            throw malformed("unknown member status " + status);
        }
        int incarnation = in.getInt();
        return ScaleCubeTypes.newRecord(new ScaleCubeTypes.Record(member, STATUSES[status], incarnation));
    }

    private Object readGossipRequest(ByteBuffer in) throws Refused {
        int count = u16(in);
        List<Object> gossips = new ArrayList<>(Math.min(count, 64));
        for (int i = 0; i < count; i++) {
            String gossiper = nonEmpty(in, "gossiper id");
            long sequence = in.getLong();
            Message inner = readMessage(in, true);
            gossips.add(ScaleCubeTypes.newGossip(new ScaleCubeTypes.Gossip(gossiper, inner, sequence)));
        }
        String from = nonEmpty(in, "gossip sender id");
        return ScaleCubeTypes.newGossipRequest(gossips, from);
    }

    private Object readMetadataResponse(ByteBuffer in) throws Refused {
        Member member = member(in);
        int length = in.getInt();
        if (length < 0) {
            throw malformed("negative metadata length");
        }
        if (length > maxMetadataBytes) {
            throw new Refused(DropReason.OVERSIZE, "metadata of " + length + " bytes from " + member
                    + " exceeds the limit of " + maxMetadataBytes);
        }
        if (length > in.remaining()) {
            throw malformed("truncated metadata");
        }
        byte[] bytes = new byte[length];
        in.get(bytes);
        return ScaleCubeTypes.newMetadataResponse(member, ByteBuffer.wrap(bytes));
    }

    private static Member member(ByteBuffer in) throws Refused {
        String id = nonEmpty(in, "member id");
        String alias = bool(in) ? string(in) : null;
        String address = address(in);
        String namespace = string(in);
        if (!NAMESPACE.matcher(namespace).matches()) {
            throw malformed("bad namespace");
        }
        return new Member(id, alias, address, namespace);
    }

    /** "host:port" as ScaleCube parses it, with a real port: a bad one would fail deep in its connect code. */
    private static String address(ByteBuffer in) throws Refused {
        String address = string(in);
        int colon = address.lastIndexOf(':');
        if (colon <= 0 || colon == address.length() - 1 || address.length() - colon > 6) {
            throw malformed("bad address");
        }
        for (int i = colon + 1; i < address.length(); i++) {
            if (address.charAt(i) < '0' || address.charAt(i) > '9') {
                throw malformed("bad address");
            }
        }
        int port = Integer.parseInt(address, colon + 1, address.length(), 10);
        if (port < 1 || port > 65_535) {
            throw malformed("bad port");
        }
        return address;
    }

    private static String nonEmpty(ByteBuffer in, String what) throws Refused {
        String s = string(in);
        if (s.isEmpty()) {
            throw malformed("empty " + what);
        }
        return s;
    }

    private static String string(ByteBuffer in) throws Refused {
        int length = u16(in);
        if (length > MAX_STRING_BYTES) {
            throw malformed("string of " + length + " bytes");
        }
        if (length > in.remaining()) {
            throw malformed("truncated string");
        }
        ByteBuffer bytes = in.slice(in.position(), length);
        in.position(in.position() + length);
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw malformed("invalid UTF-8");
        }
    }

    private static boolean bool(ByteBuffer in) throws Refused {
        int b = u8(in);
        if (b > 1) {
            throw malformed("bad boolean " + b);
        }
        return b == 1;
    }

    private static int u8(ByteBuffer in) {
        return in.get() & 0xff;
    }

    private static int u16(ByteBuffer in) {
        return in.getShort() & 0xffff;
    }

    private static Refused malformed(String detail) {
        return new Refused(DropReason.MALFORMED, detail);
    }

    // ---------------------------------------------------------------- encoding

    private void writeMessage(DataOutputStream out, Message message, boolean insideGossip) throws IOException {
        Kind kind = Kind.ofQualifier(message.qualifier());
        if (kind == null || insideGossip != (kind == Kind.MEMBERSHIP_GOSSIP)) {
            throw new IOException("not a ScaleCube protocol message the statesync codec carries: qualifier "
                    + message.qualifier());
        }
        for (Map.Entry<String, String> h : message.headers().entrySet()) {
            if (!h.getKey().equals(Message.HEADER_QUALIFIER) && !h.getKey().equals(Message.HEADER_CORRELATION_ID)
                    && !h.getKey().equals(Message.HEADER_SENDER) && h.getValue() != null) {
                throw new IOException("header " + h.getKey() + " is not carried by the statesync gossip codec");
            }
        }
        String cid = message.correlationId();
        String sender = message.sender();
        out.writeByte(kind.code);
        out.writeByte((cid != null ? FLAG_CID : 0) | (sender != null ? FLAG_SENDER : 0));
        if (cid != null) {
            writeString(out, cid);
        }
        if (sender != null) {
            writeString(out, sender);
        }
        Object data = message.data();
        switch (kind.body) {
            case PING -> writePing(out, expect(data, ScaleCubeTypes.PING_DATA, kind));
            case SYNC -> writeSync(out, expect(data, ScaleCubeTypes.SYNC_DATA, kind));
            case GOSSIP_REQUEST -> writeGossipRequest(out, expect(data, ScaleCubeTypes.GOSSIP_REQUEST, kind));
            case METADATA_REQUEST -> writeMember(out,
                    ScaleCubeTypes.readMetadataRequest(expect(data, ScaleCubeTypes.METADATA_REQUEST, kind)));
            case METADATA_RESPONSE -> writeMetadataResponse(out, expect(data, ScaleCubeTypes.METADATA_RESPONSE, kind));
            case RECORD -> writeRecord(out, expect(data, ScaleCubeTypes.MEMBERSHIP_RECORD, kind));
        }
    }

    private static Object expect(Object data, Class<?> type, Kind kind) throws IOException {
        if (data == null || data.getClass() != type) {
            throw new IOException(kind + " carries " + (data == null ? "nothing" : data.getClass().getName())
                    + " instead of " + type.getName());
        }
        return data;
    }

    private static void writePing(DataOutputStream out, Object data) throws IOException {
        ScaleCubeTypes.Ping p = ScaleCubeTypes.readPing(data);
        writeMember(out, p.from());
        writeMember(out, p.to());
        out.writeBoolean(p.originalIssuer() != null);
        if (p.originalIssuer() != null) {
            writeMember(out, p.originalIssuer());
        }
        out.writeByte(p.ackType() + 1);
    }

    private static void writeSync(DataOutputStream out, Object data) throws IOException {
        Collection<?> records = ScaleCubeTypes.readSync(data);
        writeCount(out, records.size(), "membership records");
        for (Object r : records) {
            writeRecord(out, r);
        }
    }

    private static void writeRecord(DataOutputStream out, Object record) throws IOException {
        ScaleCubeTypes.Record r = ScaleCubeTypes.readRecord(record);
        writeMember(out, r.member());
        out.writeByte(r.status().ordinal());
        out.writeInt(r.incarnation());
    }

    private void writeGossipRequest(DataOutputStream out, Object data) throws IOException {
        List<?> gossips = ScaleCubeTypes.readGossipRequestGossips(data);
        writeCount(out, gossips.size(), "gossips");
        for (Object g : gossips) {
            ScaleCubeTypes.Gossip gossip = ScaleCubeTypes.readGossip(g);
            writeString(out, gossip.gossiperId());
            out.writeLong(gossip.sequenceId());
            writeMessage(out, gossip.message(), true);
        }
        writeString(out, ScaleCubeTypes.readGossipRequestFrom(data));
    }

    private static void writeMetadataResponse(DataOutputStream out, Object data) throws IOException {
        writeMember(out, ScaleCubeTypes.readMetadataResponseMember(data));
        ByteBuffer metadata = ScaleCubeTypes.readMetadataResponseMetadata(data).duplicate();
        out.writeInt(metadata.remaining());
        byte[] bytes = new byte[metadata.remaining()];
        metadata.get(bytes);
        out.write(bytes);
    }

    private static void writeMember(DataOutputStream out, Member m) throws IOException {
        writeString(out, m.id());
        out.writeBoolean(m.alias() != null);
        if (m.alias() != null) {
            writeString(out, m.alias());
        }
        writeString(out, m.address());
        writeString(out, m.namespace());
    }

    private static void writeCount(DataOutputStream out, int count, String what) throws IOException {
        if (count > 0xffff) {
            throw new IOException(count + " " + what + " do not fit one gossip frame");
        }
        out.writeShort(count);
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_STRING_BYTES) {
            throw new IOException("string of " + bytes.length + " bytes exceeds " + MAX_STRING_BYTES);
        }
        out.writeShort(bytes.length);
        out.write(bytes);
    }
}
