package io.statesync.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.statesync.groups.GroupStatus;
import io.statesync.node.chain.ChainThread;
import io.statesync.node.ledger.Head;
import io.statesync.node.ledger.Ledger;

/** The node's status document, {@code GET /node/status}: one entry per thread. */
final class NodeStatus {
    private static final ObjectMapper JSON = new ObjectMapper();

    private NodeStatus() {
    }

    static ObjectNode of(Node node) {
        ObjectNode root = JSON.createObjectNode().put("node", node.config().id());
        if (node.failure() != null) {
            root.put("failure", node.failure());
        }
        ObjectNode startup = root.putObject("startup");
        node.stateSync().timeline().reached().forEach((phase, seconds) ->
                startup.put(phase.label(), Math.round(seconds * 1000) / 1000.0));
        ArrayNode threads = root.putArray("threads");
        for (ChainThread t : node.threads().values()) {
            Head head = t.machine().read(Ledger::head);
            GroupStatus g = t.groupStatus();
            ObjectNode n = threads.addObject().put("thread", t.id().name()).put("height", head.height())
                    .put("block", head.blockId().hex()).put("stateRoot", head.root().hex())
                    .put("stateBytes", head.stateBytes()).put("role", g.role()).put("consensus", g.consensus())
                    .put("leader", g.leader())
                    .put("appliedIndex", g.applied() == null ? -1 : g.applied().index())
                    .put("commitIndex", g.commitIndex()).put("produced", t.producer().produced())
                    .put("paused", t.producer().paused()).put("mempool", t.mempool().size())
                    .put("catchingUp", g.catchingUp()).put("syncAttempts", g.catchUpAttempts());
            if (g.syncProgress() != null) {
                n.putObject("syncProgress").put("done", g.syncProgress().done())
                        .put("total", g.syncProgress().total()).put("unit", g.syncProgress().unit());
            }
            if (g.lastSyncError() != null) {
                n.put("lastSyncError", g.lastSyncError());
            }
            if (g.latestSnapshot() != null) {
                n.put("latestSnapshotIndex", g.latestSnapshot().index());
            }
            if (!g.health().ok()) {
                n.put(g.health().status() == io.statesync.groups.GroupHealth.Status.STALLED ? "stalled" : "failed",
                        g.health().reason());
            }
            if (t.machine().halted() != null) {
                n.put("halted", t.machine().halted());
            }
            if (g.joining() != null) {
                n.put("joining", g.joining().toLowerCase(java.util.Locale.ROOT));
            }
            ArrayNode members = n.putArray("members");
            for (GroupStatus.Member m : g.members()) {
                members.addObject().put("id", m.id()).put("role", m.role().name().toLowerCase(java.util.Locale.ROOT))
                        .put("index", m.index()).put("http", m.http().toString());
            }
        }
        return root;
    }
}
