package io.statesync.groups.snapshot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.statesync.core.cid.Cid;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.LogPosition;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The snapshots a member holds, newest last, persisted in one JSON file that is replaced
 * atomically: the file names the snapshot the member's state comes from, so flipping it is the
 * commit point of taking or installing a snapshot.
 */
public final class SnapshotCatalog {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final List<SnapshotRecord> records = new ArrayList<>();

    private SnapshotCatalog(Path file) {
        this.file = file;
    }

    public static SnapshotCatalog open(Path file) throws IOException {
        SnapshotCatalog c = new SnapshotCatalog(file);
        if (Files.exists(file)) {
            JsonNode root = JSON.readTree(file.toFile());
            for (JsonNode n : root.path("snapshots")) {
                // "metadata" is absent in catalogs written before it existed.
                Map<String, String> metadata = new TreeMap<>();
                n.path("metadata").fields().forEachRemaining(e -> metadata.put(e.getKey(), e.getValue().asText()));
                c.records.add(new SnapshotRecord(Cid.parse(n.path("manifest").asText()),
                        new LogPosition(n.path("term").asLong(), n.path("index").asLong()),
                        Chain.parse(n.path("chain").asText()), metadata));
            }
            c.records.sort(Comparator.comparingLong(SnapshotRecord::index));
        }
        return c;
    }

    /** The newest snapshot, if any. */
    public synchronized Optional<SnapshotRecord> latest() {
        return records.isEmpty() ? Optional.empty() : Optional.of(records.get(records.size() - 1));
    }

    /** All snapshots, oldest first. */
    public synchronized List<SnapshotRecord> all() {
        return List.copyOf(records);
    }

    /** Records a snapshot (replacing one at the same index) and persists the catalog durably. */
    public synchronized void add(SnapshotRecord record) throws IOException {
        records.removeIf(r -> r.index() == record.index());
        records.add(record);
        records.sort(Comparator.comparingLong(SnapshotRecord::index));
        persist();
    }

    /** Forgets snapshots and persists; their blobs are the caller's to delete. */
    public synchronized void removeAll(List<SnapshotRecord> gone) throws IOException {
        if (records.removeAll(gone)) {
            persist();
        }
    }

    private void persist() throws IOException {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode list = root.putArray("snapshots");
        for (SnapshotRecord r : records) {
            ObjectNode n = list.addObject().put("manifest", r.manifest().toString()).put("term", r.position().term())
                    .put("index", r.index()).put("chain", Chain.hex(r.chain()));
            if (!r.metadata().isEmpty()) {
                ObjectNode m = n.putObject("metadata");
                r.metadata().forEach(m::put);
            }
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
