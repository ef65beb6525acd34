package io.statesync.groups;

/** A member whose group settings differ from its peers' and so cannot join; the message says which. */
public final class GroupMismatchException extends Exception {
    public GroupMismatchException(String message) {
        super(message);
    }
}
