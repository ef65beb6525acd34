package io.statesync.transfer.server;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A request target decoded strictly: path segments and query parameters, percent-decoded as
 * UTF-8. Anything that could steer a lookup somewhere unexpected is rejected rather than
 * normalised: dot segments, encoded {@code /} or {@code \}, control characters, malformed
 * escapes. Routing then compares whole decoded segments, so no request maps to a file by
 * accident.
 *
 * @param segments the decoded path segments; {@code "/ipfs/b..."} is {@code ["ipfs", "b..."]}
 * @param query decoded query parameters, in order, each with all its values
 */
record RequestTarget(List<String> segments, Map<String, List<String>> query) {

    RequestTarget {
        segments = List.copyOf(segments);
        query = Map.copyOf(query);
    }

    /** Decodes an origin-form ({@code /path?query}) or absolute-form ({@code http://host/path}) target. */
    static RequestTarget parse(String raw) throws RequestRejected {
        String target = stripSchemeAndAuthority(raw);
        if (!target.startsWith("/")) {
            throw bad("request target must be a path starting with '/'");
        }
        for (int i = 0; i < target.length(); i++) {
            char c = target.charAt(i);
            if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\') {
                throw bad("request target contains a character that must be percent-encoded");
            }
        }
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        String rawQuery = q < 0 ? "" : target.substring(q + 1);

        List<String> segments = new ArrayList<>();
        for (String s : path.substring(1).split("/", -1)) {
            String seg = decode(s, false);
            if (seg.indexOf('/') >= 0 || seg.indexOf('\\') >= 0) {
                throw bad("encoded '/' or '\\' in the path");
            }
            if (seg.equals(".") || seg.equals("..")) {
                throw bad("the path must not contain '.' or '..' segments");
            }
            segments.add(seg);
        }

        Map<String, List<String>> query = new LinkedHashMap<>();
        if (!rawQuery.isEmpty()) {
            for (String pair : rawQuery.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String name = decode(eq < 0 ? pair : pair.substring(0, eq), true);
                String value = eq < 0 ? "" : decode(pair.substring(eq + 1), true);
                query.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            }
        }
        return new RequestTarget(segments, query);
    }

    /** All values of a query parameter, empty if absent. */
    List<String> param(String name) {
        return query.getOrDefault(name, List.of());
    }

    private static String stripSchemeAndAuthority(String raw) {
        for (String scheme : new String[] {"http://", "https://"}) {
            if (raw.regionMatches(true, 0, scheme, 0, scheme.length())) {
                int slash = raw.indexOf('/', scheme.length());
                int question = raw.indexOf('?', scheme.length());
                if (slash < 0 || (question >= 0 && question < slash)) {
                    return "/" + (question < 0 ? "" : raw.substring(question));
                }
                return raw.substring(slash);
            }
        }
        return raw;
    }

    /** Percent-decodes strictly; in a query, {@code +} is a space. */
    private static String decode(String s, boolean plusIsSpace) throws RequestRejected {
        if (s.indexOf('%') < 0 && !(plusIsSpace && s.indexOf('+') >= 0)) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                int hi = i + 2 < s.length() ? Character.digit(s.charAt(i + 1), 16) : -1;
                int lo = i + 2 < s.length() ? Character.digit(s.charAt(i + 2), 16) : -1;
                if (hi < 0 || lo < 0) {
                    throw bad("malformed percent-encoding in the request target");
                }
                int b = hi << 4 | lo;
                if (b < 0x20 || b == 0x7f) {
                    throw bad("encoded control character in the request target");
                }
                out.write(b);
                i += 2;
            } else if (c == '+' && plusIsSpace) {
                out.write(' ');
            } else {
                out.write(c);
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(out.toByteArray()))
                    .toString();
        } catch (CharacterCodingException e) {
            throw bad("percent-encoded bytes in the request target are not UTF-8");
        }
    }

    private static RequestRejected bad(String reason) {
        return new RequestRejected(HttpResponseStatus.BAD_REQUEST, reason);
    }
}
