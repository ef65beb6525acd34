package io.statesync.core.cid;

/** The multicodecs a Statesync CID may carry. */
public enum Codec {
    /** Opaque bytes: every snapshot chunk. */
    RAW(0x55, "raw"),
    /** A JSON document with links as {@code {"/": cid}}: snapshot manifests. */
    DAG_JSON(0x0129, "dag-json");

    private final int code;
    private final String label;

    Codec(int code, String label) {
        this.code = code;
        this.label = label;
    }

    /** The multicodec table code. */
    public int code() {
        return code;
    }

    /** The multicodec table name. */
    public String label() {
        return label;
    }

    static Codec ofCode(long code) {
        for (Codec c : values()) {
            if (c.code == code) {
                return c;
            }
        }
        return null;
    }
}
