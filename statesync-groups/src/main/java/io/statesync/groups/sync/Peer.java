package io.statesync.groups.sync;

import java.net.URI;

/**
 * Another member as a session sees it.
 *
 * @param id the member id
 * @param http the base URL of the member's HTTP server; its group routes are under
 *     {@code /groups/{groupId}/}
 * @param leader whether it is the leader as far as this member knows
 */
public record Peer(String id, URI http, boolean leader) {
}
