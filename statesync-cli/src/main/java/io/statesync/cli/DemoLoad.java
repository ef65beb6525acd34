package io.statesync.cli;

import io.statesync.core.concurrent.Uninterruptibly;
import com.fasterxml.jackson.databind.JsonNode;
import io.statesync.node.ledger.AccountId;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import io.statesync.node.ledger.TransactionCodec;
import io.statesync.transfer.http.BoundedCall;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The demo's load generator: a faucet funds a few writer accounts per thread, then each writer
 * stores random values in its account data, as fast as the thread takes them ({@link Mode#FILL})
 * or a few per second ({@link Mode#TRICKLE}). One virtual thread per writer submits in nonce
 * order, straight to the thread's leader.
 */
final class DemoLoad implements AutoCloseable {
    static final String FAUCET_SEED = "statesync-demo";
    /** Bytes of each stored value: big values grow the state fast. */
    static final int VALUE_BYTES = 60 * 1024;

    enum Mode { FILL, TRICKLE, STOP }

    private final DemoCluster cluster;
    private final List<DemoCluster.NodeSpec> running;
    private final List<ThreadId> threads;
    private final int writersPerThread;
    private final List<Thread> writers = new ArrayList<>();
    private volatile Mode mode = Mode.STOP;
    private final int valueBytes;
    private final AtomicLong submitted = new AtomicLong();
    private final AtomicReference<String> failure = new AtomicReference<>();
    /** The leader's URL per thread, as last seen. */
    private final Map<ThreadId, URI> leaders = new ConcurrentHashMap<>();

    DemoLoad(DemoCluster cluster, List<DemoCluster.NodeSpec> running, List<ThreadId> threads, int writersPerThread) {
        this(cluster, running, threads, writersPerThread, VALUE_BYTES);
    }

    /** With values of {@code valueBytes}: small ones keep a long run's state (and its saves) small. */
    DemoLoad(DemoCluster cluster, List<DemoCluster.NodeSpec> running, List<ThreadId> threads, int writersPerThread,
             int valueBytes) {
        this.cluster = cluster;
        this.running = running;
        this.threads = threads;
        this.writersPerThread = writersPerThread;
        this.valueBytes = valueBytes;
    }

    static Signer writer(ThreadId thread, int i) {
        return Signer.fromPhrase("statesync-demo-writer-" + thread.name() + "-" + i);
    }

    /** Funds the writers from the faucet and waits until every thread has included the transfers. */
    void fund() throws IOException, InterruptedException, CommandFailure {
        Signer faucet = Signer.fromPhrase(FAUCET_SEED);
        for (ThreadId t : threads) {
            for (int i = 0; i < writersPerThread; i++) {
                submit(t, Transaction.transfer(faucet, t, i, writer(t, i).account(), 1_000_000_000L));
            }
        }
        long deadline = System.nanoTime() + 60_000_000_000L;
        for (ThreadId t : threads) {
            AccountId last = writer(t, writersPerThread - 1).account();
            while (!exists(t, last)) {
                if (System.nanoTime() > deadline) {
                    throw new CommandFailure("the faucet's transfers on thread " + t.name()
                            + " were not included within 60 s");
                }
                Thread.sleep(100);
            }
        }
    }

    /** Starts the writers (in {@link Mode#STOP} until {@link #mode} says otherwise). */
    void start() {
        for (ThreadId t : threads) {
            for (int i = 0; i < writersPerThread; i++) {
                Signer w = writer(t, i);
                int index = i;
                writers.add(Thread.ofVirtual().name("statesync-demo-writer-" + t.name() + "-" + i)
                        .start(() -> write(t, w, index)));
            }
        }
    }

    void mode(Mode m) {
        mode = m;
    }

    long submitted() {
        return submitted.get();
    }

    /** Why a writer stopped, or null. */
    String failure() {
        return failure.get();
    }

    private void write(ThreadId thread, Signer signer, int index) {
        Random random = new Random(thread.name().hashCode() * 31L + index);
        long nonce = 0;
        long key = 0;
        byte[] value = new byte[valueBytes];
        try {
            while (!Thread.currentThread().isInterrupted()) {
                Mode m = mode;
                if (m == Mode.STOP) {
                    Thread.sleep(50);
                    continue;
                }
                random.nextBytes(value);
                byte[] k = ByteBuffer.allocate(8).putLong(key++).array();
                submit(thread, Transaction.write(signer, thread, nonce++, k, value));
                submitted.incrementAndGet();
                if (m == Mode.TRICKLE) {
                    Thread.sleep(500);
                }
            }
        } catch (InterruptedException e) {
            // stopped
        } catch (IOException | CommandFailure | RuntimeException e) {
            failure.compareAndSet(null, "writer " + index + " of thread " + thread.name() + ": " + e.getMessage());
        }
    }

    /** Submits one transaction to the thread's leader, retrying while the pool is full or the leader moves. */
    private void submit(ThreadId thread, Transaction tx) throws IOException, InterruptedException, CommandFailure {
        byte[] body = TransactionCodec.encode(tx);
        for (int attempt = 0; ; attempt++) {
            URI leader = leaders.get(thread);
            if (leader == null) {
                // Looked up outside the map: HTTP calls must not run under its bin lock.
                leader = findLeader(thread);
                leaders.put(thread, leader);
            }
            HttpResponse<byte[]> res;
            try {
                res = cluster.post(leader.resolve("/node/tx"), body);
            } catch (IOException e) {
                res = null;
            }
            if (res != null && (res.statusCode() == 202 || res.statusCode() == 200)) {
                return;
            }
            if (res != null && res.statusCode() != 503) {
                throw new CommandFailure("transaction refused by " + leader + ": " + res.statusCode() + " "
                        + new String(res.body(), StandardCharsets.UTF_8).strip());
            }
            if (attempt > 2_000) {
                throw new CommandFailure("thread " + thread.name() + " takes no transactions (pool full or no leader)");
            }
            if (res == null || new String(res.body(), StandardCharsets.UTF_8).contains("leader")) {
                leaders.remove(thread);
            }
            Thread.sleep(20);
        }
    }

    private URI findLeader(ThreadId thread) {
        for (DemoCluster.NodeSpec s : running) {
            JsonNode st = cluster.status(s).orElse(null);
            if (st == null) {
                continue;
            }
            for (JsonNode t : st.path("threads")) {
                if (t.path("thread").asText().equals(thread.name()) && t.path("role").asText().equals("LEADER")) {
                    return s.url();
                }
            }
        }
        return running.get(0).url();
    }

    private boolean exists(ThreadId thread, AccountId account) {
        try {
            HttpResponse<byte[]> res = BoundedCall.send(cluster.http(), java.net.http.HttpRequest.newBuilder(
                            running.get(0).url().resolve("/node/balance?thread=" + thread.name() + "&account="
                                    + account.hex())).timeout(java.time.Duration.ofSeconds(10)).GET().build(),
                    DemoCluster.MAX_ANSWER_BYTES);
            return res.statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public void close() {
        for (Thread w : writers) {
            w.interrupt();
        }
        for (Thread w : writers) {
            Uninterruptibly.join(w);
        }
    }
}
