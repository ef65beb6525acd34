package io.statesync.transfer.fetch;

/**
 * What one source did during a fetch.
 *
 * @param source the source
 * @param state where it stands now
 * @param bytes verified bytes it delivered
 * @param chunks verified chunks it delivered
 * @param failures requests that failed (refused, error status, stalled, cut short)
 * @param corrupt chunks whose bytes did not match their CID (one is enough for a ban)
 * @param bytesPerSecond recent verified throughput of one request to it, 0 if unknown
 * @param lastError the last failure, or null
 */
public record SourceStats(Source source, SourceState state, long bytes, long chunks, long failures, long corrupt,
                          double bytesPerSecond, String lastError) {

    /** Where a source stands in a fetch. */
    public enum SourceState {
        /** Usable now. */
        ACTIVE,
        /** Failed recently; not used until its back-off ends. */
        BACKING_OFF,
        /** Served bytes that did not match a CID; never used again in this fetch. */
        BANNED,
        /** No longer offered by the source resolver (it left); gets no new requests. */
        GONE
    }

    /** One line for humans: {@code http://a:1 active 120 MiB 45 chunks 2 failures}. */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(source).append(' ').append(state.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'))
                .append(String.format(java.util.Locale.ROOT, " %.1f MiB in %d chunks", bytes / 1048576.0, chunks));
        if (failures > 0) {
            sb.append(", ").append(failures).append(failures == 1 ? " failure" : " failures");
        }
        if (corrupt > 0) {
            sb.append(", ").append(corrupt).append(" corrupt");
        }
        if (lastError != null) {
            sb.append(" (last: ").append(lastError).append(')');
        }
        return sb.toString();
    }
}
