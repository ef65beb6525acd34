package io.statesync.groups;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;

/** A key-value state machine for tests: {@code put} commands, {@code get} and {@code digest} queries. */
class KvMachine implements StateMachine {
    private final ConcurrentSkipListMap<String, byte[]> map = new ConcurrentSkipListMap<>();
    final AtomicLong applied = new AtomicLong();
    final AtomicLong installs = new AtomicLong();

    static byte[] put(String key, byte[] value) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(1 + 2 + k.length + value.length).put((byte) 1).putShort((short) k.length).put(k)
                .put(value).array();
    }

    static byte[] put(String key, String value) {
        return put(key, value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String typeTag() {
        return "test-kv/v1";
    }

    @Override
    public byte[] apply(long index, byte[] command) {
        applied.incrementAndGet();
        ByteBuffer b = ByteBuffer.wrap(command);
        if (command.length < 3 || b.get() != 1) {
            return "bad command".getBytes(StandardCharsets.UTF_8);
        }
        byte[] k = new byte[b.getShort()];
        b.get(k);
        byte[] v = new byte[b.remaining()];
        b.get(v);
        map.put(new String(k, StandardCharsets.UTF_8), v);
        return "ok".getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public byte[] query(byte[] request) {
        String q = new String(request, StandardCharsets.UTF_8);
        if (q.equals("digest")) {
            return digest().getBytes(StandardCharsets.UTF_8);
        }
        if (q.startsWith("get ")) {
            byte[] v = map.get(q.substring(4));
            return v == null ? new byte[0] : v;
        }
        return new byte[0];
    }

    String digest() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, byte[]> e : map.entrySet()) {
                sha.update(e.getKey().getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
                sha.update(e.getValue());
                sha.update((byte) 0);
            }
            return HexFormat.of().formatHex(sha.digest()) + "/" + map.size();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    int size() {
        return map.size();
    }

    /** A copy of the whole state, consistent if taken while no command is applied. */
    java.util.TreeMap<String, byte[]> copy() {
        return new java.util.TreeMap<>(map);
    }

    @Override
    public void writeSnapshot(Path dir) throws IOException {
        write(map, dir);
    }

    /** The snapshot format: {@code kv.bin}, the entries in key order. */
    static void write(Map<String, byte[]> map, Path dir) throws IOException {
        try (OutputStream os = Files.newOutputStream(dir.resolve("kv.bin"));
             DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(os, 1 << 16))) {
            out.writeInt(map.size());
            for (Map.Entry<String, byte[]> e : map.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeInt(e.getValue().length);
                out.write(e.getValue());
            }
        }
    }

    @Override
    public void installSnapshot(Path dir) throws IOException {
        installs.incrementAndGet();
        ConcurrentSkipListMap<String, byte[]> fresh = new ConcurrentSkipListMap<>();
        try (InputStream is = Files.newInputStream(dir.resolve("kv.bin"));
             DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(is, 1 << 16))) {
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                String k = in.readUTF();
                byte[] v = new byte[in.readInt()];
                in.readFully(v);
                fresh.put(k, v);
            }
        }
        map.clear();
        map.putAll(fresh);
    }
}
