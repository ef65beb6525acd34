package io.statesync.groups;

/**
 * A membership change that was not made, with a one-line reason. {@link Kind#NOT_A_MEMBER}: the
 * member named is not in the group; {@link Kind#REFUSED}: the change is unsafe (removing the last
 * voter); {@link Kind#CONFLICT}: another
 * change is in progress or the membership changed meanwhile, so try again later; {@link
 * Kind#UNAVAILABLE}: no leader could be reached to make it.
 */
public final class MembershipException extends Exception {
    public enum Kind { NOT_A_MEMBER, REFUSED, CONFLICT, UNAVAILABLE }

    private final Kind kind;

    public MembershipException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public MembershipException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
