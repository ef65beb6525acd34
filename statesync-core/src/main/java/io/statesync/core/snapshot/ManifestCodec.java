package io.statesync.core.snapshot;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.core.cid.Codec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The manifest's wire form: dag-json (codec 0x0129) with map keys in sorted order and chunk
 * links as {@code {"/": "<cid>"}}, so equal manifests encode to equal bytes and equal CIDs.
 * Version 1 (fixed-size chunks) has a top-level {@code chunkSize}; version 2 (content-defined)
 * has {@code chunking: {type: "fastcdc", min, avg, max}} instead and a {@code lengths} array
 * in every file. A version-1 manifest encodes exactly as it did before version 2 existed, so
 * its CID is unchanged.
 * Decoding streams, rejects unknown or duplicate keys, and validates against
 * {@link ManifestLimits} before returning.
 */
public final class ManifestCodec {
    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(8)
                    .maxStringLength(64 * 1024)
                    .maxNumberLength(20)
                    .build())
            // dag-json writes characters outside the BMP as UTF-8, not as escaped surrogate pairs.
            .enable(JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8)
            .build();
    /**
     * dag-json orders map keys by their UTF-8 bytes, which is code point order; String's own
     * order (UTF-16 units) differs for characters beyond U+FFFF against U+E000..U+FFFF.
     */
    private static final Comparator<String> UTF8_ORDER =
            (a, b) -> Arrays.compare(a.codePoints().toArray(), b.codePoints().toArray());

    private static final String FASTCDC = "fastcdc";

    private ManifestCodec() {
    }

    /** The canonical dag-json bytes of a manifest. */
    public static byte[] encode(Manifest m) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256 + (int) Math.min(Integer.MAX_VALUE / 2, m.chunkCount() * 70));
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            switch (m.chunking()) {
                case Chunking.Fixed fixed -> g.writeNumberField("chunkSize", fixed.size());
                case Chunking.ContentDefined cdc -> {
                    g.writeObjectFieldStart("chunking");
                    g.writeNumberField("avg", cdc.avg());
                    g.writeNumberField("max", cdc.max());
                    g.writeNumberField("min", cdc.min());
                    g.writeStringField("type", FASTCDC);
                    g.writeEndObject();
                }
            }
            g.writeArrayFieldStart("files");
            for (FileEntry f : m.files()) {
                g.writeStartObject();
                g.writeArrayFieldStart("chunks");
                for (Cid c : f.chunks()) {
                    g.writeStartObject();
                    g.writeStringField("/", c.toString());
                    g.writeEndObject();
                }
                g.writeEndArray();
                if (m.chunking() instanceof Chunking.ContentDefined) {
                    g.writeArrayFieldStart("lengths");
                    for (int len : f.lengths()) {
                        g.writeNumber(len);
                    }
                    g.writeEndArray();
                }
                g.writeNumberField("mode", f.mode());
                g.writeStringField("path", f.path());
                g.writeNumberField("size", f.size());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeObjectFieldStart("metadata");
            Map<String, String> sorted = new TreeMap<>(UTF8_ORDER);
            sorted.putAll(m.metadata());
            for (Map.Entry<String, String> e : sorted.entrySet()) {
                g.writeStringField(e.getKey(), e.getValue());
            }
            g.writeEndObject();
            g.writeNumberField("version", m.version());
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** The CID naming a manifest: dag-json codec over its canonical encoding. */
    public static Cid cidOf(Manifest m) {
        return Cid.compute(Codec.DAG_JSON, encode(m));
    }

    /**
     * Decodes and validates a manifest.
     *
     * @throws ManifestException naming the offending entry when the bytes are not a valid manifest
     */
    public static Manifest decode(byte[] bytes, ManifestLimits limits) throws ManifestException {
        if (bytes.length > limits.maxManifestBytes()) {
            throw new ManifestException("manifest is " + bytes.length + " bytes, over the limit of "
                    + limits.maxManifestBytes());
        }
        Manifest m;
        try (JsonParser p = JSON.createParser(bytes)) {
            try {
                m = readManifest(p, limits);
                if (p.nextToken() != null) {
                    throw new ManifestException("manifest has trailing data after the top-level object");
                }
            } catch (JsonProcessingException e) {
                // Jackson's own message lacks the place (duplicate keys, overlong numbers or strings).
                String at = p.getParsingContext().pathAsPointer().toString();
                throw new ManifestException("manifest is not valid JSON" + (at.isEmpty() ? "" : " at " + at)
                        + ": " + e.getOriginalMessage(), e);
            }
        } catch (IOException e) {
            throw new ManifestException("manifest could not be read: " + e.getMessage(), e);
        }
        ManifestValidator.validate(m, limits);
        return m;
    }

    private static Manifest readManifest(JsonParser p, ManifestLimits limits) throws IOException, ManifestException {
        expect(p.nextToken(), JsonToken.START_OBJECT, "manifest");
        Integer version = null;
        Integer chunkSize = null;
        Chunking chunking = null;
        Map<String, String> metadata = null;
        List<FileEntry> files = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            p.nextToken();
            switch (key) {
                case "version" -> version = (int) readLong(p, "version", 0, Integer.MAX_VALUE);
                case "chunkSize" -> chunkSize = (int) readLong(p, "chunkSize", 1, limits.maxChunkSize());
                case "chunking" -> chunking = readChunking(p, limits);
                case "metadata" -> metadata = readMetadata(p);
                case "files" -> files = readFiles(p, limits);
                default -> throw new ManifestException("manifest has unknown field \"" + key + "\"");
            }
        }
        if (version == null) {
            throw new ManifestException("manifest lacks the field \"version\"");
        }
        if (version != Manifest.VERSION && version != Manifest.VERSION_CDC) {
            throw new ManifestException("unsupported manifest version " + version + " (this build reads "
                    + Manifest.VERSION + " and " + Manifest.VERSION_CDC + ")");
        }
        boolean cdc = version == Manifest.VERSION_CDC;
        String missing = !cdc && chunkSize == null ? "chunkSize" : cdc && chunking == null ? "chunking"
                : metadata == null ? "metadata" : files == null ? "files" : null;
        if (missing != null) {
            throw new ManifestException("manifest lacks the field \"" + missing + "\"");
        }
        if (cdc ? chunkSize != null : chunking != null) {
            throw new ManifestException("a version " + version + " manifest has no field \"" + (cdc ? "chunkSize" : "chunking") + "\"");
        }
        for (int i = 0; i < files.size(); i++) {
            FileEntry f = files.get(i);
            if (cdc && f.lengths().size() != f.chunks().size()) {
                throw new ManifestException("files[" + i + "] (" + f.path() + ") lists " + f.chunks().size() + " chunks and "
                        + f.lengths().size() + " lengths; version 2 needs one length per chunk");
            }
            if (!cdc && !f.lengths().isEmpty()) {
                throw new ManifestException("files[" + i + "] (" + f.path() + "): a version 1 manifest has no field \"lengths\"");
            }
        }
        return new Manifest(version, cdc ? chunking : new Chunking.Fixed(chunkSize), metadata, files);
    }

    private static Chunking readChunking(JsonParser p, ManifestLimits limits) throws IOException, ManifestException {
        expect(p.currentToken(), JsonToken.START_OBJECT, "chunking");
        String type = null;
        Integer min = null;
        Integer avg = null;
        Integer max = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            p.nextToken();
            switch (key) {
                case "type" -> {
                    if (p.currentToken() != JsonToken.VALUE_STRING) {
                        throw new ManifestException("chunking.type must be a string");
                    }
                    type = p.getText();
                }
                case "min" -> min = (int) readLong(p, "chunking.min", 1, limits.maxChunkSize());
                case "avg" -> avg = (int) readLong(p, "chunking.avg", 1, limits.maxChunkSize());
                case "max" -> max = (int) readLong(p, "chunking.max", 1, limits.maxChunkSize());
                default -> throw new ManifestException("chunking has unknown field \"" + key + "\"");
            }
        }
        if (type == null || min == null || avg == null || max == null) {
            throw new ManifestException("chunking needs the fields type, min, avg and max");
        }
        if (!FASTCDC.equals(type)) {
            throw new ManifestException("unknown chunking type \"" + type + "\" (this build knows \"" + FASTCDC + "\")");
        }
        try {
            return new Chunking.ContentDefined(min, avg, max);
        } catch (IllegalArgumentException e) {
            throw new ManifestException("chunking: " + e.getMessage());
        }
    }

    private static Map<String, String> readMetadata(JsonParser p) throws IOException, ManifestException {
        expect(p.currentToken(), JsonToken.START_OBJECT, "metadata");
        Map<String, String> out = new TreeMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new ManifestException("metadata \"" + key + "\" must be a string");
            }
            if (out.size() >= 256) {
                throw new ManifestException("metadata has more than 256 entries");
            }
            out.put(key, p.getText());
        }
        return out;
    }

    private static List<FileEntry> readFiles(JsonParser p, ManifestLimits limits) throws IOException, ManifestException {
        expect(p.currentToken(), JsonToken.START_ARRAY, "files");
        List<FileEntry> files = new ArrayList<>();
        long chunks = 0;
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (files.size() >= limits.maxFiles()) {
                throw new ManifestException("manifest has more than " + limits.maxFiles() + " files");
            }
            int index = files.size();
            expect(p.currentToken(), JsonToken.START_OBJECT, "files[" + index + "]");
            String path = null;
            Long size = null;
            Integer mode = null;
            List<Cid> cids = null;
            List<Integer> lengths = List.of();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                String where = "files[" + index + "]" + (path != null ? " (" + path + ")" : "");
                switch (key) {
                    case "path" -> {
                        if (p.currentToken() != JsonToken.VALUE_STRING) {
                            throw new ManifestException(where + ": path must be a string");
                        }
                        path = p.getText();
                    }
                    case "size" -> size = readLong(p, where + ".size", 0, Long.MAX_VALUE);
                    case "mode" -> mode = (int) readLong(p, where + ".mode", 0, 07777);
                    case "chunks" -> {
                        cids = readChunks(p, where, limits.maxChunks() - chunks);
                        chunks += cids.size();
                    }
                    case "lengths" -> lengths = readLengths(p, where, limits);
                    default -> throw new ManifestException(where + " has unknown field \"" + key + "\"");
                }
            }
            String missing = path == null ? "path" : size == null ? "size" : mode == null ? "mode"
                    : cids == null ? "chunks" : null;
            if (missing != null) {
                throw new ManifestException("files[" + index + "]" + (path != null ? " (" + path + ")" : "")
                        + " lacks the field \"" + missing + "\"");
            }
            files.add(new FileEntry(path, size, mode, cids, lengths));
        }
        return files;
    }

    private static List<Cid> readChunks(JsonParser p, String where, long budget) throws IOException, ManifestException {
        expect(p.currentToken(), JsonToken.START_ARRAY, where + ".chunks");
        List<Cid> out = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (out.size() >= budget) {
                throw new ManifestException(where + ": the manifest names more chunks than the limit allows");
            }
            String at = where + ".chunks[" + out.size() + "]";
            expect(p.currentToken(), JsonToken.START_OBJECT, at);
            if (p.nextToken() != JsonToken.FIELD_NAME || !"/".equals(p.currentName())
                    || p.nextToken() != JsonToken.VALUE_STRING) {
                throw new ManifestException(at + " must be a link {\"/\": \"<cid>\"}");
            }
            Cid cid;
            try {
                cid = Cid.parse(p.getText());
            } catch (CidFormatException e) {
                throw new ManifestException(at + ": " + e.getMessage());
            }
            if (cid.codec() != Codec.RAW) {
                throw new ManifestException(at + ": chunk CIDs must use the raw codec, got " + cid.codec().label());
            }
            if (p.nextToken() != JsonToken.END_OBJECT) {
                throw new ManifestException(at + " must be a link with the single key \"/\"");
            }
            out.add(cid);
        }
        return out;
    }

    private static List<Integer> readLengths(JsonParser p, String where, ManifestLimits limits)
            throws IOException, ManifestException {
        expect(p.currentToken(), JsonToken.START_ARRAY, where + ".lengths");
        List<Integer> out = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (out.size() >= limits.maxChunks()) {
                throw new ManifestException(where + ": the manifest lists more lengths than the chunk limit allows");
            }
            out.add((int) readLong(p, where + ".lengths[" + out.size() + "]", 1, limits.maxChunkSize()));
        }
        return out;
    }

    private static long readLong(JsonParser p, String what, long min, long max) throws IOException, ManifestException {
        if (p.currentToken() != JsonToken.VALUE_NUMBER_INT) {
            throw new ManifestException(what + " must be an integer");
        }
        if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            throw new ManifestException(what + " is out of range");
        }
        long v = p.getLongValue();
        if (v < min || v > max) {
            throw new ManifestException(what + " is " + v + ", outside [" + min + ", " + max + "]");
        }
        return v;
    }

    private static void expect(JsonToken actual, JsonToken expected, String what) throws ManifestException {
        if (actual != expected) {
            throw new ManifestException(what + " must be a JSON " + (expected == JsonToken.START_OBJECT ? "object" : "array"));
        }
    }
}
