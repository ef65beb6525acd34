package io.statesync.groups;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.groups.MembershipException.Kind;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.protocol.exceptions.ReconfigurationInProgressException;
import org.apache.ratis.protocol.exceptions.SetConfigurationException;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.rpc.SupportedRpcType;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Membership changes of one group, made with Ratis's own reconfiguration. Every change is a
 * compare-and-set against the configuration this member holds: Ratis refuses it if another change
 * is in progress or the membership moved meanwhile, so changes happen one at a time and none is
 * made against a stale view. A change survives a leader change the way every Ratis entry does;
 * the caller that sees a conflict or a timeout reads the configuration again and decides anew.
 */
final class MemberChanges {
    private static final Logger log = LoggerFactory.getLogger(MemberChanges.class);
    /** How long one change request may wait for the leader (a joiner's staging may take longer; see Group). */
    private static final TimeDuration REQUEST_TIMEOUT = TimeDuration.valueOf(10, TimeUnit.SECONDS);

    /** A configuration: who votes, who listens, and whether a change is half done. */
    record Conf(List<GroupMember> voters, List<GroupMember> listeners, boolean stable, long index) {
        static final Conf EMPTY = new Conf(List.of(), List.of(), true, -1);

        Optional<RaftPeerRole> roleOf(String id) {
            if (voters.stream().anyMatch(m -> m.id().equals(id))) {
                return Optional.of(RaftPeerRole.FOLLOWER);
            }
            if (listeners.stream().anyMatch(m -> m.id().equals(id))) {
                return Optional.of(RaftPeerRole.LISTENER);
            }
            return Optional.empty();
        }

        List<GroupMember> all() {
            return Stream.concat(voters.stream(), listeners.stream()).toList();
        }

        String describe() {
            List<String> names = new ArrayList<>();
            voters.forEach(m -> names.add(m.id()));
            listeners.forEach(m -> names.add(m.id() + " (listener)"));
            return String.join(", ", names);
        }

        /** The configuration a Ratis division holds now. */
        static Conf of(RaftServer.Division division) {
            RaftConfiguration c = division.getRaftConf();
            boolean stable = c.getPreviousPeers(RaftPeerRole.FOLLOWER).isEmpty()
                    && c.getPreviousPeers(RaftPeerRole.LISTENER).isEmpty();
            return new Conf(c.getCurrentPeers(RaftPeerRole.FOLLOWER).stream().map(GroupMember::of).toList(),
                    c.getCurrentPeers(RaftPeerRole.LISTENER).stream().map(GroupMember::of).toList(), stable,
                    c.getLogEntryIndex() + 1);
        }
    }

    private final String groupName;
    private final RaftGroupId raftGroupId;
    private final MeterRegistry registry;

    MemberChanges(String groupName, RaftGroupId raftGroupId, MeterRegistry registry) {
        this.groupName = groupName;
        this.raftGroupId = raftGroupId;
        this.registry = registry;
    }

    /** Adds {@code joiner} as a listener: it receives the log but does not vote or count toward a quorum. */
    void addListener(Conf current, GroupMember joiner, String leaderHint) throws MembershipException {
        if (current.roleOf(joiner.id()).isPresent()) {
            return;
        }
        List<GroupMember> listeners = new ArrayList<>(current.listeners());
        listeners.add(joiner);
        change(current, current.voters(), listeners, leaderHint, "add " + joiner.id() + " as a listener", "add_listener");
    }

    /** Makes listener {@code id} a voter. */
    void promote(Conf current, String id, String leaderHint) throws MembershipException {
        if (current.roleOf(id).orElse(null) == RaftPeerRole.FOLLOWER) {
            return;
        }
        GroupMember m = current.listeners().stream().filter(l -> l.id().equals(id)).findFirst()
                .orElseThrow(() -> new MembershipException(Kind.NOT_A_MEMBER, id + " is not a listener of group "
                        + groupName + " (members: " + current.describe() + ")"));
        List<GroupMember> voters = new ArrayList<>(current.voters());
        voters.add(m);
        List<GroupMember> listeners = current.listeners().stream().filter(l -> !l.id().equals(id)).toList();
        change(current, voters, listeners, leaderHint, "promote " + id + " to voter", "promote");
    }

    /**
     * Removes member {@code id}, voter or listener. Refused for a member that is not in the group,
     * for the group's last voter, and while another change is in progress.
     */
    void remove(Conf current, String id, String leaderHint) throws MembershipException {
        if (!current.stable()) {
            throw new MembershipException(Kind.CONFLICT, "group " + groupName
                    + ": a membership change is in progress; try again when it is done");
        }
        RaftPeerRole role = current.roleOf(id).orElseThrow(() -> new MembershipException(Kind.NOT_A_MEMBER,
                "'" + GroupConfig.printable(id) + "' is not a member of group " + groupName + " (members: "
                        + current.describe() + ")"));
        if (role == RaftPeerRole.FOLLOWER && current.voters().size() == 1) {
            throw new MembershipException(Kind.REFUSED, id + " is the last voter of group " + groupName
                    + "; a group without voters cannot commit anything");
        }
        change(current, current.voters().stream().filter(m -> !m.id().equals(id)).toList(),
                current.listeners().stream().filter(m -> !m.id().equals(id)).toList(), leaderHint, "remove " + id,
                "remove");
    }

    private void change(Conf current, List<GroupMember> voters, List<GroupMember> listeners, String leaderHint,
                        String what, String meterTag) throws MembershipException {
        if (!current.stable()) {
            throw new MembershipException(Kind.CONFLICT, "group " + groupName
                    + ": a membership change is in progress; try again when it is done");
        }
        SetConfigurationRequest.Arguments args = SetConfigurationRequest.Arguments.newBuilder()
                .setMode(SetConfigurationRequest.Mode.COMPARE_AND_SET)
                .setServersInCurrentConf(peers(current.voters(), RaftPeerRole.FOLLOWER))
                .setListenersInCurrentConf(peers(current.listeners(), RaftPeerRole.LISTENER))
                .setServersInNewConf(peers(voters, RaftPeerRole.FOLLOWER))
                .setListenersInNewConf(peers(listeners, RaftPeerRole.LISTENER))
                .build();
        log.info("group {}: {} (members now: {})", groupName, what, current.describe());
        RaftClientReply reply;
        try (RaftClient client = client(current, leaderHint)) {
            reply = client.admin().setConfiguration(args);
        } catch (ReconfigurationInProgressException e) {
            throw new MembershipException(Kind.CONFLICT, "group " + groupName
                    + ": another membership change is in progress", e);
        } catch (SetConfigurationException e) {
            throw new MembershipException(Kind.CONFLICT, "group " + groupName
                    + ": the membership changed meanwhile; read it again", e);
        } catch (IOException e) {
            throw new MembershipException(Kind.UNAVAILABLE, "group " + groupName + ": cannot " + what + ": "
                    + oneLine(e), e);
        }
        if (!reply.isSuccess()) {
            Exception e = reply.getException();
            Kind kind = e instanceof ReconfigurationInProgressException || e instanceof SetConfigurationException
                    ? Kind.CONFLICT : Kind.UNAVAILABLE;
            throw new MembershipException(kind, "group " + groupName + ": cannot " + what + ": "
                    + (e == null ? "refused" : oneLine(e)), e);
        }
        log.info("group {}: done: {}", groupName, what);
        Counter.builder("statesync.groups.membership.changes")
                .description("membership changes this member made (a joiner adds and promotes itself)")
                .tag("group", groupName).tag("change", meterTag).register(registry).increment();
    }

    /** A client for one change: the group's members as this member knows them, leader first if known. */
    private RaftClient client(Conf current, String leaderHint) {
        RaftProperties p = new RaftProperties();
        RaftConfigKeys.Rpc.setType(p, SupportedRpcType.GRPC);
        RaftClientConfigKeys.Rpc.setRequestTimeout(p, REQUEST_TIMEOUT);
        List<RaftPeer> all = new ArrayList<>(peers(current.voters(), RaftPeerRole.FOLLOWER));
        all.addAll(peers(current.listeners(), RaftPeerRole.LISTENER));
        RaftClient.Builder b = RaftClient.newBuilder().setProperties(p)
                .setRaftGroup(RaftGroup.valueOf(raftGroupId, all))
                // Redirects to the leader, and through an election (a few seconds). A resent change
                // that was made already fails its compare-and-set, and the caller reads the
                // configuration again to find out.
                .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(20,
                        TimeDuration.valueOf(300, TimeUnit.MILLISECONDS)));
        if (leaderHint != null && current.roleOf(leaderHint).isPresent()) {
            b.setLeaderId(RaftPeerId.valueOf(leaderHint));
        }
        return b.build();
    }

    static List<RaftPeer> peers(List<GroupMember> members, RaftPeerRole role) {
        return members.stream().map(m -> m.toRaftPeer(role)).toList();
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
