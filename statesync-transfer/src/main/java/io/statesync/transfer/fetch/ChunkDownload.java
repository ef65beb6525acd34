package io.statesync.transfer.fetch;

import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.SnapshotAssembly;
import io.statesync.core.store.BlobWriter;
import io.statesync.core.store.ContentStore;
import io.statesync.core.store.DigestMismatchException;
import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * The requests of a fetch, one attempt per call: {@link #one} asks a source for one chunk,
 * {@link #batch} for several small ones in one {@code /blocks} request. It moves the bytes to
 * where they land (a store blob, or memory and then the files being assembled), verifies each
 * chunk against its CID, and tells {@link Outcomes} what became of it; what follows (releasing
 * the source, retrying elsewhere, banning, failing the fetch) is the fetch's ({@link FetchRun}).
 * Runs on the fetch's worker threads, never under its lock.
 */
final class ChunkDownload {
    /** Chunks up to this size are asked in batches from sources that serve {@code /blocks}. */
    static final int BATCH_CHUNK_MAX = 256 << 10;

    /**
     * A chunk on its way from a source. {@code endsRequest}: releasing it also frees the
     * source's request slot; the chunks of a batch release their slot once, together.
     */
    record Lease(ChunkTask task, Peer peer, boolean endsRequest) {
        Lease(ChunkTask task, Peer peer) {
            this(task, peer, true);
        }
    }

    /** Several chunks asked from one source in one {@code /blocks} request. */
    record Batch(List<ChunkTask> tasks, Peer peer) {
    }

    /** A worker's reusable memory for chunks bound for the assembly. */
    record Buffers(byte[] body, MessageDigest digest) {
    }

    /** How a batch request ended, for its chunks that no block settled. */
    enum BatchEnd {
        /** The source answered every block (all settled) or the answer ended early: the rest failed there. */
        SERVED,
        /** The source has no {@code /blocks} (400/404/405/501): the rest go back, unpenalized, to be asked one by one. */
        NO_BATCH,
        /** The fetch is being cancelled: the rest go back. */
        INTERRUPTED,
        /** The request failed (a network error): the rest failed at this source. */
        FAILED
    }

    /** What a download tells the fetch, per chunk (and per batch at its end). */
    interface Outcomes {
        /** Verified and landed, in {@code nanos}. */
        void done(Lease lease, long nanos);

        /** The source served other bytes (or another length) than the CID names. */
        void corrupt(Lease lease, String why);

        /** The request failed: a network error, a timeout, a 404. */
        void failed(Lease lease, String why);

        /** Another source delivered the chunk first (a hedged request). */
        void superseded(Lease lease);

        /** The chunk could not be written locally: the fetch cannot go on. */
        void localWriteFailed(Lease lease, IOException cause);

        /** The worker was interrupted (the fetch is cancelled): the lease ends without a verdict. */
        void interrupted(Lease lease);

        /**
         * A batch request ended. {@code settled[i]}: chunk {@code i} had its outcome already;
         * the others are dealt with as {@code how} says ({@code why}: the failure, for FAILED).
         */
        void batchEnded(Batch batch, boolean[] settled, BatchEnd how, String why);
    }

    private final HttpBlobClient client;
    private final ContentStore store;
    /** Where files are assembled; null when chunks go to the store. */
    private final SnapshotAssembly assembly;
    private final Outcomes outcomes;

    ChunkDownload(HttpBlobClient client, ContentStore store, SnapshotAssembly assembly, Outcomes outcomes) {
        this.client = client;
        this.store = store;
        this.assembly = assembly;
        this.outcomes = outcomes;
    }

    /** Asks the lease's source for its chunk, until {@code deadlineNanos}. */
    void one(Lease lease, Buffers buffers, long deadlineNanos) {
        ChunkTask t = lease.task();
        Peer p = lease.peer();
        long t0 = System.nanoTime();
        try (Receiver w = receiver(t, buffers)) {
            client.get(p.source, t.cid.toString(), deadlineNanos, t.length, new HttpBlobClient.BodySink() {
                @Override
                public void begin(long contentLength) throws IOException {
                    if (contentLength >= 0 && contentLength != t.length) {
                        throw new WrongLengthException(contentLength, t.length);
                    }
                }

                @Override
                public void accept(byte[] buf, int off, int len) throws IOException {
                    if (t.done) {
                        throw new SupersededException();
                    }
                    land(w, buf, off, len);
                }
            });
            if (w.written() != t.length) {
                throw new WrongLengthException(w.written(), t.length);
            }
            try {
                w.commit();
            } catch (DigestMismatchException e) {
                throw e;
            } catch (IOException e) {
                throw new LocalWriteException(e);
            }
            outcomes.done(lease, System.nanoTime() - t0);
        } catch (DigestMismatchException | WrongLengthException e) {
            outcomes.corrupt(lease, e.getMessage());
        } catch (SupersededException e) {
            outcomes.superseded(lease);
        } catch (LocalWriteException e) {
            outcomes.localWriteFailed(lease, (IOException) e.getCause());
        } catch (IOException e) {
            if (Thread.currentThread().isInterrupted()) {
                outcomes.interrupted(lease);
                return;
            }
            outcomes.failed(lease, FetchRun.describe(e));
        } catch (RuntimeException e) {
            outcomes.failed(lease, "unexpected error: " + e);
        }
    }

    /**
     * One {@code /blocks} request for several small chunks, until {@code deadlineNanos}: each
     * block is verified and landed as it ends, with the same outcomes as a single request (a
     * mismatch bans the source, a missing block fails that chunk there).
     */
    void batch(Batch batch, Buffers buffers, long deadlineNanos) {
        Peer p = batch.peer();
        List<ChunkTask> tasks = batch.tasks();
        boolean[] settled = new boolean[tasks.size()];
        long t0 = System.nanoTime();
        List<String> cids = new ArrayList<>(tasks.size());
        for (ChunkTask t : tasks) {
            cids.add(t.cid.toString());
        }
        BatchEnd how = BatchEnd.SERVED;
        String why = null;
        Receiver[] open = new Receiver[1];
        try {
            client.getBlocks(p.source, cids, deadlineNanos, BATCH_CHUNK_MAX, new HttpBlobClient.BlocksSink() {
                private Receiver current;
                private String bad;

                @Override
                public HttpBlobClient.BodySink block(int i, long length) throws IOException {
                    ChunkTask t = tasks.get(i);
                    bad = length != t.length ? "served " + length + " bytes for a chunk of " + t.length : null;
                    current = bad == null ? receiver(t, buffers) : null;
                    open[0] = current;
                    return new HttpBlobClient.BodySink() {
                        @Override
                        public void begin(long contentLength) {
                        }

                        @Override
                        public void accept(byte[] buf, int off, int len) throws IOException {
                            if (current == null) {
                                return; // a block of the wrong length: read past, then judged
                            }
                            land(current, buf, off, len);
                        }
                    };
                }

                @Override
                public void blockEnd(int i) throws IOException {
                    Lease one = new Lease(tasks.get(i), p, false);
                    settled[i] = true;
                    if (bad != null) {
                        outcomes.corrupt(one, bad);
                        return;
                    }
                    try (Receiver w = current) {
                        w.commit();
                        outcomes.done(one, (System.nanoTime() - t0) / tasks.size());
                    } catch (DigestMismatchException e) {
                        outcomes.corrupt(one, e.getMessage());
                    } catch (IOException e) {
                        throw new LocalWriteException(e);
                    } finally {
                        current = null;
                        open[0] = null;
                    }
                }

                @Override
                public void missing(int i) {
                    settled[i] = true;
                    outcomes.failed(new Lease(tasks.get(i), p, false), "HTTP 404 Not Found");
                }
            });
        } catch (HttpBlobClient.NoBatchException e) {
            how = BatchEnd.NO_BATCH;
        } catch (LocalWriteException e) {
            for (int i = 0; i < tasks.size(); i++) {
                if (!settled[i]) {
                    settled[i] = true;
                    outcomes.localWriteFailed(new Lease(tasks.get(i), p, false), (IOException) e.getCause());
                }
            }
        } catch (IOException | RuntimeException e) {
            how = Thread.currentThread().isInterrupted() ? BatchEnd.INTERRUPTED : BatchEnd.FAILED;
            why = e instanceof IOException io ? FetchRun.describe(io) : "unexpected error: " + e;
        } finally {
            // A block cut off mid-way: its receiver (a store temp file) is dropped, not left behind.
            if (open[0] != null) {
                try {
                    open[0].close();
                } catch (IOException ignored) {
                    // deleting a temp file failed; the store's sweep removes it at the next open
                }
            }
        }
        if (how == BatchEnd.SERVED) {
            // Whatever the answer left out failed at this source.
            why = "the answer ended before this block";
        }
        outcomes.batchEnded(batch, settled, how, why);
    }

    /**
     * Hands received bytes to their receiver. A failure to write them is the local disk's, which
     * fails the fetch ({@link LocalWriteException}); a wrong length is the source's, and an
     * interrupt a cancel: those two pass as they are.
     */
    private static void land(Receiver w, byte[] buf, int off, int len) throws IOException {
        try {
            w.write(buf, off, len);
        } catch (ClosedByInterruptException | WrongLengthException e) {
            throw e;
        } catch (IOException e) {
            throw new LocalWriteException(e);
        }
    }

    /** Where one chunk's body goes: a store blob, or memory then the assembled files. */
    private Receiver receiver(ChunkTask t, Buffers buffers) throws IOException {
        if (assembly == null) {
            BlobWriter w = store.writer(t.cid);
            return new Receiver() {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    w.write(b, off, len);
                }

                @Override
                public long written() {
                    return w.written();
                }

                @Override
                public void commit() throws IOException {
                    w.commit();
                }

                @Override
                public void close() throws IOException {
                    w.close();
                }
            };
        }
        byte[] body = buffers.body();
        MessageDigest md = buffers.digest();
        md.reset();
        return new Receiver() {
            private int n;

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (n + len > t.length) {
                    throw new WrongLengthException(n + (long) len, t.length);
                }
                System.arraycopy(b, off, body, n, len);
                md.update(b, off, len);
                n += len;
            }

            @Override
            public long written() {
                return n;
            }

            @Override
            public void commit() throws IOException {
                byte[] d = md.digest();
                if (!t.cid.matches(d)) {
                    throw new DigestMismatchException(t.cid, Cid.of(t.cid.codec(), d));
                }
                assembly.write(t.cid, body, n);
            }

            @Override
            public void close() {
            }
        };
    }

    /** One chunk's body on its way to where it lands; verified by {@link #commit()}. */
    private interface Receiver extends AutoCloseable {
        void write(byte[] b, int off, int len) throws IOException;

        long written();

        void commit() throws IOException;

        @Override
        void close() throws IOException;
    }

    private static final class WrongLengthException extends IOException {
        WrongLengthException(long got, long expected) {
            super("served " + got + " bytes for a chunk of " + expected);
        }
    }

    private static final class SupersededException extends IOException {
        SupersededException() {
            super("another source delivered this chunk first");
        }
    }

    private static final class LocalWriteException extends IOException {
        LocalWriteException(IOException cause) {
            super(cause);
        }
    }
}
