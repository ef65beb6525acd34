package io.statesync.transfer.server;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedNioFile;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.buffer.ByteBuf;
import java.io.ByteArrayOutputStream;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers the requests of one connection, strictly one at a time and in order: while a response
 * is being written the connection is not read, and requests already decoded (pipelined) wait.
 * A pipelining client thus cannot make the server hold many open files for it at once.
 */
final class ShareHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ShareHandler.class);

    static final String RAW_BLOCK = "application/vnd.ipld.raw";
    /** The multi-block body of {@code /blocks} (see {@link #serveBlocks}). */
    static final String BLOCKS = "application/vnd.statesync.blocks";
    /** CIDs one {@code /blocks} request may ask for. */
    static final int MAX_BATCH = 64;
    /** Bytes read from a file per write on a TLS connection: a few TLS records each. */
    private static final int TLS_CHUNK = 64 * 1024;
    static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    /** Blobs never change under their name, so caches may keep them for the longest time HTTP allows. */
    static final String IMMUTABLE = "public, max-age=29030400, immutable";
    static final String ALLOWED_METHODS = "GET, HEAD";
    /**
     * Request bodies up to this size are read and dropped and the connection is kept; a larger
     * or chunked body ends the connection after the response instead of being drained.
     */
    static final long MAX_DRAINED_BODY = 64 * 1024;
    /** The body of a request whose body is not read (compared by identity). */
    private static final byte[] NO_BODY = new byte[0];

    private final ContentStore store;
    private final PrometheusMeterRegistry registry;
    private final ShareMetrics metrics;
    private final Mounts mounts;
    /**
     * Request heads decoded while an earlier response was still being written, in arrival
     * order. Only heads are kept: bodies are dropped as they arrive.
     */
    private final ArrayDeque<HttpRequest> waiting = new ArrayDeque<>();
    /** The head of a request whose body is being read for a route mount, or null. */
    private HttpRequest bodyHead;
    /** That body so far. */
    private ByteArrayOutputStream body;
    /** That mount's limit on it. */
    private int bodyLimit;
    /** True from a request's arrival until its response is completely written. */
    private boolean responding;
    /** Set once the connection is to close: anything read after is dropped unanswered. */
    private boolean closing;
    /** The request being answered is HTTP/1.0, which keeps a connection only when told so. */
    private boolean http10;

    ShareHandler(ContentStore store, PrometheusMeterRegistry registry, ShareMetrics metrics, Mounts mounts) {
        this.store = store;
        this.mounts = mounts;
        this.registry = registry;
        this.metrics = metrics;
    }

    /**
     * One response handed to the channel: its status (read once {@code done} completes; a route
     * answered on another thread knows it only then) and the future of its last write.
     */
    private record Sent(IntSupplier status, ChannelFuture done) {
        Sent(int status, ChannelFuture done) {
            this(() -> status, done);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            // The head stays usable after release: a decoded request's content is its only
            // reference-counted part, and it is copied out (route bodies) or never looked at.
            if (closing) {
                return;
            }
            if (msg instanceof HttpRequest req) {
                refuseUnknownTransferEncoding(req);
                int limit = responding ? 0 : bodyLimitOf(req);
                if (limit > 0) {
                    if (HttpUtil.getContentLength(req, 0L) > limit) {
                        answer(ctx, req, null, limit);
                        return;
                    }
                    bodyHead = req;
                    body = new ByteArrayOutputStream();
                    bodyLimit = limit;
                } else if (responding) {
                    // Pipelined behind a response: a route that wants a body gets none (it says so).
                    waiting.add(req);
                } else {
                    answer(ctx, req, NO_BODY, 0);
                }
            }
            if (msg instanceof HttpContent content && bodyHead != null) {
                ByteBuf bytes = content.content();
                if (body.size() + bytes.readableBytes() > bodyLimit) {
                    HttpRequest req = bodyHead;
                    bodyHead = null;
                    body = null;
                    answer(ctx, req, null, bodyLimit);
                    return;
                }
                bytes.readBytes(body, bytes.readableBytes());
                if (msg instanceof LastHttpContent) {
                    HttpRequest req = bodyHead;
                    byte[] complete = body.toByteArray();
                    bodyHead = null;
                    body = null;
                    answer(ctx, req, complete, 0);
                }
            }
        } catch (IOException e) {
            // ByteBuf to a ByteArrayOutputStream does not fail; the signature says it might.
            throw new java.io.UncheckedIOException(e);
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    /**
     * A request whose body is framed by a transfer coding other than exactly {@code chunked}
     * (say {@code xchunked}, or {@code gzip, chunked}) is undecodable here: read as having no
     * body, its body's bytes would be taken for the next request, which a proxy in front may
     * frame differently (request smuggling). It is answered 400 with that reason, and the
     * connection closed. (Netty 4.2.18's decoder refuses some of these itself, as "malformed";
     * the reason given is this one either way.)
     */
    private static void refuseUnknownTransferEncoding(HttpRequest req) {
        String coding = req.headers().get(HttpHeaderNames.TRANSFER_ENCODING);
        if (coding != null && !coding.trim().equalsIgnoreCase("chunked")) {
            req.setDecoderResult(io.netty.handler.codec.DecoderResult.failure(new UnsupportedCoding(coding)));
        }
    }

    /** Why a request with an unknown transfer coding is refused. */
    private static final class UnsupportedCoding extends Exception {
        UnsupportedCoding(String coding) {
            super("unsupported Transfer-Encoding '" + printable(coding) + "' (only chunked is understood)", null,
                    false, false);
        }
    }

    /** The body limit of the mount a POST or PUT goes to; 0 when its body is not read. */
    private int bodyLimitOf(HttpRequest req) {
        if (req.decoderResult().isFailure()
                || !(HttpMethod.POST.equals(req.method()) || HttpMethod.PUT.equals(req.method()))) {
            return 0;
        }
        try {
            Mounts.Mount mount = mounts.find(RequestTarget.parse(req.uri()).segments());
            return mount == null ? 0 : mount.maxBody();
        } catch (RequestRejected e) {
            return 0;
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            // Resets and broken pipes: the client went away; nothing to answer.
            log.debug("connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("closing connection {} after an unexpected error", ctx.channel().remoteAddress(), cause);
        }
        ctx.close();
    }

    /**
     * Answers one request. {@code body} is the complete body a route mount read, {@link #NO_BODY}
     * when none was read, or null when it exceeded {@code tooLargeLimit} (413, then close: the
     * rest of it is not read).
     */
    private void answer(ChannelHandlerContext ctx, HttpRequest req, byte[] body, int tooLargeLimit) {
        responding = true;
        http10 = HttpVersion.HTTP_1_0.equals(req.protocolVersion());
        ctx.channel().config().setAutoRead(false);
        long started = System.nanoTime();
        boolean failed = req.decoderResult().isFailure();
        boolean bodyRead = body != null && body != NO_BODY;
        boolean keepAlive = !failed && body != null && HttpUtil.isKeepAlive(req) && (bodyRead || bodyIsDrainable(req));
        boolean head = !failed && HttpMethod.HEAD.equals(req.method());
        Sent sent;
        if (failed) {
            sent = rejectUndecodable(ctx, req.decoderResult());
        } else if (body == null) {
            sent = sendText(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                    "request body exceeds " + tooLargeLimit + " bytes", false, false);
        } else {
            try {
                sent = dispatch(ctx, req, body, head, keepAlive);
            } catch (RequestRejected e) {
                sent = sendText(ctx, e.status(), e.getMessage(), head, keepAlive);
            } catch (IOException e) {
                log.warn("cannot serve {} to {}: {}", req.uri(), ctx.channel().remoteAddress(), e.toString());
                sent = sendText(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, "cannot read the blob", head,
                        keepAlive);
            }
        }
        IntSupplier statusOf = sent.status();
        ChannelFuture done = sent.done();
        done.addListener(f -> {
            int status = statusOf.getAsInt();
            metrics.request(status, System.nanoTime() - started);
            if (!f.isSuccess()) {
                log.debug("response {} to {} not delivered: {}", status, ctx.channel().remoteAddress(),
                        String.valueOf(f.cause()));
                ctx.close();
                return;
            }
            responding = false;
            if (!keepAlive) {
                closing = true;
                waiting.clear();
                Responses.closeGracefully(done);
                return;
            }
            HttpRequest next = waiting.poll();
            if (next != null) {
                // Not inline: a long pipeline answered from listeners would grow the stack.
                ctx.executor().execute(() -> answer(ctx, next, NO_BODY, 0));
            } else {
                ctx.channel().config().setAutoRead(true);
            }
        });
    }

    /** Routes a well-formed request: mounts, {@code /ipfs/{cid}}, {@code /metrics}, {@code /health}; 404 otherwise. */
    private Sent dispatch(ChannelHandlerContext ctx, HttpRequest req, byte[] body, boolean head, boolean keepAlive)
            throws RequestRejected, IOException {
        RequestTarget target = RequestTarget.parse(req.uri());
        List<String> seg = target.segments();
        Mounts.Mount mount = mounts.find(seg);
        if (mount != null) {
            return dispatchMounted(ctx, req, body, target, mount, head, keepAlive);
        }
        String first = seg.get(0);
        boolean known = store == null
                ? seg.size() == 1 && (first.equals("metrics") || first.equals("health"))
                : first.equals("ipfs") || (seg.size() == 1
                        && (first.equals("metrics") || first.equals("health") || first.equals("blocks")));
        if (!known) {
            throw new RequestRejected(HttpResponseStatus.NOT_FOUND, store == null
                    ? "not found: this server serves no blobs, only its routes, /metrics and /health"
                    : "not found: this server serves /ipfs/{cid}");
        }
        HttpMethod method = req.method();
        if (!HttpMethod.GET.equals(method) && !HttpMethod.HEAD.equals(method)) {
            FullHttpResponse res = Responses.text(HttpResponseStatus.METHOD_NOT_ALLOWED,
                    "method " + printable(method.name()) + " not allowed: use GET or HEAD", false);
            res.headers().set(HttpHeaderNames.ALLOW, ALLOWED_METHODS);
            return send(ctx, res, keepAlive);
        }
        return switch (first) {
            case "health" -> {
                String problem = mounts.healthProblem();
                yield problem == null
                        ? send(ctx, Responses.body(HttpResponseStatus.OK, "ok\n".getBytes(StandardCharsets.UTF_8),
                                Responses.TEXT_PLAIN, head, true), keepAlive)
                        : send(ctx, Responses.text(HttpResponseStatus.SERVICE_UNAVAILABLE, "unhealthy: " + problem,
                                head), keepAlive);
            }
            case "blocks" -> serveBlocks(ctx, target, head, keepAlive);
            case "metrics" -> send(ctx, Responses.body(HttpResponseStatus.OK,
                    registry.scrape().getBytes(StandardCharsets.UTF_8), PROMETHEUS_TEXT, head, true), keepAlive);
            default -> serveBlob(ctx, req, store, parseCid(seg, target), head, keepAlive);
        };
    }

    /** A request below a mount: its store's blobs at {@code ipfs/{cid}}, everything else to its route. */
    private Sent dispatchMounted(ChannelHandlerContext ctx, HttpRequest req, byte[] body, RequestTarget target,
                                 Mounts.Mount mount, boolean head, boolean keepAlive)
            throws RequestRejected, IOException {
        List<String> rest = target.segments().subList(mount.prefix().size(), target.segments().size());
        if (mount.store() != null && !rest.isEmpty() && rest.get(0).equals("ipfs")) {
            HttpMethod method = req.method();
            if (!HttpMethod.GET.equals(method) && !HttpMethod.HEAD.equals(method)) {
                FullHttpResponse res = Responses.text(HttpResponseStatus.METHOD_NOT_ALLOWED,
                        "method " + printable(method.name()) + " not allowed: use GET or HEAD", false);
                res.headers().set(HttpHeaderNames.ALLOW, ALLOWED_METHODS);
                return send(ctx, res, keepAlive);
            }
            return serveBlob(ctx, req, mount.store(), parseCid(rest, target), head, keepAlive);
        }
        // RouteRequest folds the names to lower case.
        Map<String, List<String>> headers = new HashMap<>();
        for (Map.Entry<String, String> h : req.headers()) {
            headers.computeIfAbsent(h.getKey(), k -> new ArrayList<>()).add(h.getValue());
        }
        RouteRequest request = new RouteRequest(req.method().name(), rest, target.query(), body, headers);
        AtomicInteger status = new AtomicInteger(HttpResponseStatus.INTERNAL_SERVER_ERROR.code());
        ChannelPromise done = ctx.newPromise();
        mounts.routeStarted();
        done.addListener(f -> mounts.routeDone());
        // A route may block (files, locks), which the event loop must never do.
        Thread.ofVirtual().name("statesync-share-route").start(() -> {
            FullHttpResponse res = answerRoute(mount, request, head);
            status.set(res.status().code());
            try {
                ctx.executor().execute(() -> {
                    persist(res, keepAlive);
                    ctx.writeAndFlush(res).addListener(f -> {
                        if (f.isSuccess()) {
                            done.trySuccess();
                        } else {
                            done.tryFailure(f.cause());
                        }
                    });
                });
            } catch (RejectedExecutionException e) {
                // The server is shutting down; the connection goes with it.
                ReferenceCountUtil.release(res);
                done.tryFailure(e);
            }
        });
        return new Sent(status::get, done);
    }

    private static FullHttpResponse answerRoute(Mounts.Mount mount, RouteRequest request, boolean head) {
        try {
            RouteResponse r = mount.route().handle(request);
            return Responses.body(HttpResponseStatus.valueOf(r.status()), r.body(), r.contentType(), head, true);
        } catch (RouteException e) {
            FullHttpResponse res = Responses.text(HttpResponseStatus.valueOf(e.status()), e.getMessage(), head);
            if (e.status() == HttpResponseStatus.UNAUTHORIZED.code()) {
                // RFC 9110: a 401 names the scheme that would be accepted.
                res.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"statesync\"");
            }
            return res;
        } catch (Throwable e) {
            // Throwable, not RuntimeException: a checked exception thrown undeclared (another JVM
            // language, a sneaky throw) would otherwise end this thread and leave the client
            // unanswered. The details go to the log only: the reason stays one line, no internals.
            log.warn("route /{}/{} failed", String.join("/", mount.prefix()), request.route(), e);
            return Responses.text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error", head);
        }
    }

    /** The CID of {@code /ipfs/{cid}}, checking the one query parameter that changes the answer. */
    private static Cid parseCid(List<String> seg, RequestTarget target) throws RequestRejected {
        if (seg.size() < 2 || seg.get(1).isEmpty()) {
            throw new RequestRejected(HttpResponseStatus.BAD_REQUEST, "missing CID: use /ipfs/{cid}");
        }
        if (seg.size() > 2) {
            throw new RequestRejected(HttpResponseStatus.NOT_FOUND,
                    "not found: paths inside a block are not served, use /ipfs/{cid}");
        }
        for (String format : target.param("format")) {
            if (!format.equals("raw")) {
                throw new RequestRejected(HttpResponseStatus.BAD_REQUEST,
                        "unsupported format '" + printable(format) + "': only format=raw is served");
            }
        }
        try {
            return Cid.parse(seg.get(1));
        } catch (CidFormatException e) {
            throw new RequestRejected(HttpResponseStatus.BAD_REQUEST, "malformed CID: " + e.getMessage());
        }
    }

    /**
     * Serves a blob, or the requested slice of it, straight from its file (sendfile where the
     * transport has it); the file is opened once so size and bytes come from the same inode.
     */
    /**
     * {@code GET /blocks?cids=<cid>,<cid>,...}: many small blocks in one response, so a fetch of
     * content-defined chunks does not pay a request per chunk. The body is, for each CID in the
     * order asked, a 4-byte big-endian length and the block's bytes (sendfile, as for one
     * block), or the length 0xFFFFFFFF and nothing for a block this store does not hold. The
     * client verifies every block against its CID, as for single blocks. At most
     * {@link #MAX_BATCH} CIDs per request.
     */
    private Sent serveBlocks(ChannelHandlerContext ctx, RequestTarget target, boolean head, boolean keepAlive)
            throws RequestRejected, IOException {
        List<String> lists = target.param("cids");
        if (lists.size() != 1 || lists.get(0).isEmpty()) {
            throw new RequestRejected(HttpResponseStatus.BAD_REQUEST, "missing cids: use /blocks?cids=<cid>,<cid>,...");
        }
        String[] names = lists.get(0).split(",", -1);
        if (names.length > MAX_BATCH) {
            throw new RequestRejected(HttpResponseStatus.BAD_REQUEST, names.length + " CIDs asked, at most " + MAX_BATCH
                    + " per request");
        }
        List<Cid> cids = new java.util.ArrayList<>(names.length);
        for (String name : names) {
            try {
                cids.add(Cid.parse(name));
            } catch (CidFormatException e) {
                throw new RequestRejected(HttpResponseStatus.BAD_REQUEST, "malformed CID: " + e.getMessage());
            }
        }
        FileChannel[] files = new FileChannel[cids.size()];
        long[] sizes = new long[cids.size()];
        boolean handedOver = false;
        try {
            long total = 0;
            for (int i = 0; i < files.length; i++) {
                try {
                    files[i] = FileChannel.open(store.pathOf(cids.get(i)), StandardOpenOption.READ);
                    sizes[i] = files[i].size();
                    total += 4 + sizes[i];
                } catch (NoSuchFileException e) {
                    sizes[i] = -1;
                    total += 4;
                }
            }
            HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, BLOCKS);
            res.headers().set(HttpHeaderNames.CONTENT_LENGTH, total);
            if (head) {
                return sendHeadOnly(ctx, res, keepAlive);
            }
            persist(res, keepAlive);
            ctx.write(res);
            handedOver = true;
            long served = 0;
            for (int i = 0; i < files.length; i++) {
                ctx.write(ctx.alloc().buffer(4).writeInt(sizes[i] < 0 ? -1 : (int) sizes[i]));
                if (sizes[i] > 0) {
                    // The region owns the file from here: Netty closes it once written or failed.
                    ctx.write(fileBytes(ctx, files[i], 0, sizes[i]));
                    served += sizes[i];
                } else if (files[i] != null) {
                    files[i].close();
                }
            }
            long bytes = served;
            ChannelFuture done = ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
            done.addListener(f -> {
                if (f.isSuccess()) {
                    metrics.served(bytes);
                }
            });
            return new Sent(HttpResponseStatus.OK.code(), done);
        } finally {
            if (!handedOver) {
                for (FileChannel f : files) {
                    if (f != null) {
                        f.close();
                    }
                }
            }
        }
    }

    private Sent serveBlob(ChannelHandlerContext ctx, HttpRequest req, ContentStore store, Cid cid, boolean head,
                           boolean keepAlive)
            throws RequestRejected, IOException {
        FileChannel file;
        try {
            file = FileChannel.open(store.pathOf(cid), StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new RequestRejected(HttpResponseStatus.NOT_FOUND, "blob not found: " + cid);
        }
        boolean fileHandedOver = false;
        try {
            long size = file.size();
            String etag = "\"" + cid + "\"";
            if (noneMatch(req.headers(), etag)) {
                HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_MODIFIED);
                blobHeaders(res.headers(), etag);
                return sendHeadOnly(ctx, res, keepAlive);
            }
            String range = req.headers().get(HttpHeaderNames.RANGE);
            String ifRange = req.headers().get(HttpHeaderNames.IF_RANGE);
            if (ifRange != null && !ifRange.strip().equals(etag)) {
                // A date or another entity: the client's partial copy is not of this blob.
                range = null;
            }
            HttpResponseStatus status;
            long first;
            long length;
            switch (RangeSpec.parse(range, size)) {
                case RangeSpec.Unsatisfiable u -> {
                    FullHttpResponse res = Responses.text(HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                            "range not satisfiable: the blob has " + size + " bytes", head);
                    res.headers().set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + size);
                    res.headers().set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
                    return send(ctx, res, keepAlive);
                }
                case RangeSpec.Slice s -> {
                    status = HttpResponseStatus.PARTIAL_CONTENT;
                    first = s.first();
                    length = s.length();
                }
                case RangeSpec.Whole w -> {
                    status = HttpResponseStatus.OK;
                    first = 0;
                    length = size;
                }
            }
            HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
            HttpHeaders h = res.headers();
            blobHeaders(h, etag);
            h.set(HttpHeaderNames.CONTENT_TYPE, RAW_BLOCK);
            h.set(HttpHeaderNames.CONTENT_LENGTH, length);
            if (status == HttpResponseStatus.PARTIAL_CONTENT) {
                h.set(HttpHeaderNames.CONTENT_RANGE, "bytes " + first + "-" + (first + length - 1) + "/" + size);
            }
            if (head || length == 0) {
                return sendHeadOnly(ctx, res, keepAlive);
            }
            persist(res, keepAlive);
            ctx.write(res);
            fileHandedOver = true;
            // The region owns the file from here: Netty closes it once written or failed.
            ctx.write(fileBytes(ctx, file, first, length)).addListener(f -> {
                if (f.isSuccess()) {
                    metrics.served(length);
                }
            });
            return new Sent(status.code(), ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
        } finally {
            if (!fileHandedOver) {
                file.close();
            }
        }
    }

    /**
     * A file's bytes to write: a region sent by sendfile on a plain connection; on a TLS one,
     * where the bytes must pass through the cipher, chunks read as the socket takes them (the
     * pipeline then has a {@code ChunkedWriteHandler}). Either way the file is closed when done.
     */
    private static Object fileBytes(ChannelHandlerContext ctx, FileChannel file, long first, long length)
            throws IOException {
        if (ctx.pipeline().get(SslHandler.class) != null) {
            return new ChunkedNioFile(file, first, length, TLS_CHUNK);
        }
        return new DefaultFileRegion(file, first, length);
    }

    /** Headers every answer about a blob carries, 304 included. */
    private static void blobHeaders(HttpHeaders h, String etag) {
        h.set(HttpHeaderNames.ETAG, etag);
        h.set(HttpHeaderNames.CACHE_CONTROL, IMMUTABLE);
        h.set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
        h.set(Responses.X_CONTENT_TYPE_OPTIONS, "nosniff");
    }

    /** If-None-Match (weak comparison, RFC 9110 §13.1.2): true if any listed tag, or *, matches. */
    private static boolean noneMatch(HttpHeaders headers, String etag) {
        for (String value : headers.getAll(HttpHeaderNames.IF_NONE_MATCH)) {
            for (String tag : value.split(",")) {
                String t = tag.strip();
                if (t.startsWith("W/")) {
                    t = t.substring(2);
                }
                if (t.equals("*") || t.equals(etag)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A request the codec could not decode: 414, 431 or 400 by cause. The connection closes after. */
    private Sent rejectUndecodable(ChannelHandlerContext ctx, DecoderResult result) {
        Throwable cause = result.cause();
        FullHttpResponse res;
        if (cause instanceof TooLongHttpLineException) {
            res = Responses.text(HttpResponseStatus.REQUEST_URI_TOO_LONG,
                    "request line longer than " + ShareInitializer.MAX_REQUEST_LINE + " bytes", false);
        } else if (cause instanceof TooLongHttpHeaderException) {
            res = Responses.text(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large", false);
        } else if (cause instanceof UnsupportedCoding) {
            res = Responses.text(HttpResponseStatus.BAD_REQUEST, cause.getMessage(), false);
        } else {
            log.debug("undecodable request from {}: {}", ctx.channel().remoteAddress(), cause.toString());
            res = Responses.text(HttpResponseStatus.BAD_REQUEST, "malformed HTTP request", false);
        }
        return send(ctx, res, false);
    }

    private static boolean bodyIsDrainable(HttpRequest req) {
        if (HttpUtil.isTransferEncodingChunked(req)) {
            return false;
        }
        return HttpUtil.getContentLength(req, 0L) <= MAX_DRAINED_BODY;
    }

    private Sent sendText(ChannelHandlerContext ctx, HttpResponseStatus status, String reason, boolean head,
                          boolean keepAlive) {
        return send(ctx, Responses.text(status, reason, head), keepAlive);
    }

    private Sent send(ChannelHandlerContext ctx, FullHttpResponse res, boolean keepAlive) {
        persist(res, keepAlive);
        return new Sent(res.status().code(), ctx.writeAndFlush(res));
    }

    /** Headers without a body (HEAD, 304, empty blob): the announced Content-Length stays as set. */
    private Sent sendHeadOnly(ChannelHandlerContext ctx, HttpResponse head, boolean keepAlive) {
        persist(head, keepAlive);
        ctx.write(head);
        return new Sent(head.status().code(), ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
    }

    /** Says whether the connection stays open, in the terms the request's HTTP version expects. */
    private void persist(HttpResponse res, boolean keepAlive) {
        if (!keepAlive) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (http10) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        } else {
            res.headers().remove(HttpHeaderNames.CONNECTION);
        }
    }

    /** Client-supplied text made safe for a one-line reason. */
    private static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 64));
        for (int i = 0; i < s.length() && i < 64; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return s.length() > 64 ? b + "..." : b.toString();
    }
}
