package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync members}: lists a running cluster's members per thread, removes a dead member
 * ({@code --remove ID}), or makes the node itself leave ({@code --leave}), through a node's admin API.
 */
@Command(name = "members", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Lists the members of every thread of a running node's cluster; --remove ID takes a (dead) "
                + "member out of every thread; --leave makes the node itself leave the cluster and stop."})
final class MembersCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Mixin
    private AdminOption admin;

    @Option(names = "--remove", paramLabel = "ID", description = "remove this member from every thread")
    private String remove;

    @Option(names = "--leave", description = "the node at --admin leaves the cluster, then stops")
    private boolean leave;

    @Override
    public Integer call() throws Exception {
        if (remove != null && leave) {
            throw new ParameterException(spec.commandLine(), "give --remove ID or --leave, not both");
        }
        if (remove != null && !remove.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new ParameterException(spec.commandLine(), "--remove: member ids are 1-64 of [A-Za-z0-9._-]");
        }
        // A change waits for the leader to commit it, through an election if one is under way.
        JsonNode json = remove != null
                ? admin.send("POST", "/admin/members/" + remove + "/remove", null, Duration.ofSeconds(60))
                : leave ? admin.send("POST", "/admin/leave", null, Duration.ofSeconds(60))
                : admin.send("GET", "/admin/members", null, Duration.ofSeconds(60));
        PrintWriter out = spec.commandLine().getOut();
        if (remove != null || leave) {
            out.println((leave ? "left: " : "removed " + remove + ": ") + json.path("threads"));
        } else {
            for (Iterator<Map.Entry<String, JsonNode>> it = json.path("threads").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> t = it.next();
                StringBuilder line = new StringBuilder(t.getKey()).append(':');
                for (JsonNode m : t.getValue()) {
                    line.append(' ').append(m.path("id").asText()).append(" (").append(m.path("role").asText())
                            .append(", ").append(m.path("http").asText()).append(')');
                }
                out.println(line);
            }
        }
        out.flush();
        return Failures.OK;
    }
}
