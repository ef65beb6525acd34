package io.statesync.groups;

/**
 * Whether this member follows its group, as its stall watch sees it.
 *
 * @param status {@code OK}; {@code STALLED}: the member stopped following (its consensus stopped,
 *     or its applied index stood still while the group moved on) and a recovery is under way;
 *     {@code FAILED}: it cannot follow (its state machine failed, or the recoveries did not bring
 *     it back), so the host should stop rather than pretend to be a member
 * @param reason why, in one line; null while {@code OK}
 */
public record GroupHealth(Status status, String reason) {
    public static final GroupHealth OK = new GroupHealth(Status.OK, null);

    public enum Status { OK, STALLED, FAILED }

    public boolean ok() {
        return status == Status.OK;
    }
}
