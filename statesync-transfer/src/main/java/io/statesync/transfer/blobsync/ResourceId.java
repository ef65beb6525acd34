package io.statesync.transfer.blobsync;

import java.util.regex.Pattern;

/**
 * The local name of a blob, such as a block id in hex. It names the file a load lands in, so it
 * is restricted to a safe file name: 1 to 128 of {@code [A-Za-z0-9._-]}, not {@code .} or
 * {@code ..}, not starting with a dot.
 */
public record ResourceId(String value) {
    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}");

    public ResourceId {
        if (value == null || !SAFE.matcher(value).matches()) {
            throw new IllegalArgumentException("resource id must be 1-128 characters of [A-Za-z0-9._-], not starting with '.': "
                    + (value == null ? "null" : "\"" + (value.length() > 40 ? value.substring(0, 40) + "..." : value) + "\""));
        }
    }

    @Override
    public String toString() {
        return value;
    }
}
