package io.statesync.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a Grafana dashboard the way the test run checks the shipped one: its panels (those inside
 * collapsed rows too), the PromQL of every target and template variable, the Grafana variables in
 * them, and the metric names each expression reads; and a Prometheus text page's metric families,
 * to tell which of those names no node exposes. A dashboard cannot be checked by Prometheus as it
 * stands (Grafana fills in {@code $node}, {@code $__rate_interval}, ... first), so the expressions
 * are made concrete here and handed to {@code promtool} as recording rules.
 */
final class DashboardQueries {
    /** One PromQL expression of the dashboard, and where it is, for failure messages. */
    record Query(String where, String expr) {
    }

    /** What a duration variable becomes: any valid range works for parsing. */
    private static final String SAMPLE_RANGE = "5m";
    /** What a user variable becomes: valid as a label value and as a regular expression. */
    static final String SAMPLE_VALUE = "sample";

    /** {@code $name}, {@code ${name}}, {@code ${name:format}} and the old {@code [[name]]}. */
    private static final Pattern VARIABLE =
            Pattern.compile("\\$\\{(\\w+)(?::[^}]*)?}|\\$(\\w+)|\\[\\[(\\w+)(?::[^\\]]*)?]]");
    private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`");
    private static final Pattern NAME_MATCHER = Pattern.compile("__name__\\s*=\\s*\"([^\"]+)\"");
    private static final Pattern MATCHERS = Pattern.compile("\\{[^{}]*}");
    private static final Pattern RANGE = Pattern.compile("\\[[^\\[\\]]*]");
    private static final Pattern GROUPING =
            Pattern.compile("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^()]*\\)");
    /** Identifiers, and numbers with what sticks to them ({@code 1e3}, {@code 5m}) so those are never read as names. */
    private static final Pattern TOKEN = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)|[0-9.][0-9a-zA-Z_.]*");
    /** PromQL words that stand where a metric name could but are not one (aggregations may come before "by"). */
    private static final Set<String> NOT_METRICS = Set.of("by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan", "sum", "min", "max",
            "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk",
            "limit_ratio");
    private static final Pattern LABEL_VALUES = Pattern.compile("(?s)^\\s*label_values\\s*\\((.*)\\)\\s*$");
    private static final Pattern QUERY_RESULT = Pattern.compile("(?s)^\\s*query_result\\s*\\((.*)\\)\\s*$");

    private DashboardQueries() {
    }

    /** Every panel of the dashboard in order, rows included, with the panels of collapsed rows after their row. */
    static List<JsonNode> panels(JsonNode dashboard) {
        List<JsonNode> all = new ArrayList<>();
        for (JsonNode p : dashboard.path("panels")) {
            all.add(p);
            p.path("panels").forEach(all::add);
        }
        return all;
    }

    /**
     * What keeps the dashboard from being a usable one: no title or uid, no panels, a panel that
     * names no data source variable or has no query, a variable used but never defined. Empty
     * when there is nothing to say.
     */
    static List<String> problems(JsonNode dashboard) {
        List<String> problems = new ArrayList<>();
        for (String field : List.of("title", "uid")) {
            if (dashboard.path(field).asText().isBlank()) {
                problems.add("the dashboard has no " + field);
            }
        }
        Set<String> defined = new TreeSet<>();
        Set<String> dataSources = new TreeSet<>();
        for (JsonNode v : dashboard.path("templating").path("list")) {
            defined.add(v.path("name").asText());
            if (v.path("type").asText().equals("datasource")) {
                dataSources.add(v.path("name").asText());
            }
        }
        if (dataSources.isEmpty()) {
            problems.add("no data source variable: the dashboard would be tied to one Grafana's data source");
        }
        List<JsonNode> panels = panels(dashboard).stream().filter(p -> !p.path("type").asText().equals("row")).toList();
        if (panels.isEmpty()) {
            problems.add("the dashboard has no panels");
        }
        for (JsonNode p : panels) {
            String name = "panel '" + p.path("title").asText() + "'";
            JsonNode ds = p.path("datasource");
            String variable = variables(ds.path("uid").asText()).stream().findFirst().orElse("");
            if (!ds.path("type").asText().equals("prometheus") || !dataSources.contains(variable)) {
                problems.add(name + " does not query Prometheus through a data source variable " + dataSources + ": " + ds);
            }
            if (p.path("targets").isEmpty()) {
                problems.add(name + " has no query");
            }
            for (JsonNode t : p.path("targets")) {
                if (t.path("expr").asText().isBlank()) {
                    problems.add(name + " has a target without an expression: " + t);
                }
            }
        }
        for (Query q : queries(dashboard)) {
            for (String v : variables(q.expr())) {
                if (!v.startsWith("__") && !defined.contains(v)) {
                    problems.add(q.where() + " uses $" + v + ", which no template variable defines");
                }
            }
        }
        return problems;
    }

    /**
     * The PromQL of the dashboard: each target's {@code expr}, and the series selector of each
     * query variable ({@code label_values(selector, label)}, {@code query_result(expr)}); forms
     * that hold no PromQL ({@code label_values(label)}, {@code label_names()}) give none.
     */
    static List<Query> queries(JsonNode dashboard) {
        List<Query> queries = new ArrayList<>();
        for (JsonNode p : panels(dashboard)) {
            for (JsonNode t : p.path("targets")) {
                queries.add(new Query("panel '" + p.path("title").asText() + "' " + t.path("refId").asText(),
                        t.path("expr").asText()));
            }
        }
        for (JsonNode v : dashboard.path("templating").path("list")) {
            if (!v.path("type").asText().equals("query")) {
                continue;
            }
            // Grafana 10+ keeps the query in an object, older versions as a plain string.
            JsonNode q = v.path("query");
            String text = q.isObject() ? q.path("query").asText() : q.asText();
            variableExpression(text).ifPresent(e -> queries.add(new Query("variable $" + v.path("name").asText(), e)));
        }
        return queries;
    }

    /** The PromQL inside a Prometheus variable query, if it has any. */
    static java.util.Optional<String> variableExpression(String query) {
        Matcher m = LABEL_VALUES.matcher(query);
        if (m.matches()) {
            // label_values(selector, label): the label follows the last comma outside braces and quotes.
            int comma = lastTopLevelComma(m.group(1));
            return comma < 0 ? java.util.Optional.empty() : java.util.Optional.of(m.group(1).substring(0, comma).trim());
        }
        m = QUERY_RESULT.matcher(query);
        return m.matches() ? java.util.Optional.of(m.group(1).trim()) : java.util.Optional.empty();
    }

    private static int lastTopLevelComma(String s) {
        int depth = 0;
        int last = -1;
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '"' || c == '\'' || c == '`') {
                quote = c;
            } else if (c == '(' || c == '{' || c == '[') {
                depth++;
            } else if (c == ')' || c == '}' || c == ']') {
                depth--;
            } else if (c == ',' && depth == 0) {
                last = i;
            }
        }
        return last;
    }

    /** The names of the Grafana variables an expression uses, in order of first use. */
    static Set<String> variables(String expr) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = VARIABLE.matcher(expr);
        while (m.find()) {
            names.add(m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3));
        }
        return names;
    }

    /**
     * The expression as Prometheus would get it from Grafana: interval and range variables become
     * a duration (or its milli/seconds for the {@code _ms}/{@code _s} forms), every other
     * variable {@link #SAMPLE_VALUE}.
     */
    static String substitute(String expr) {
        return VARIABLE.matcher(expr).replaceAll(m -> {
            String name = m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
            String value = switch (name) {
                case "__rate_interval", "__interval", "__range" -> SAMPLE_RANGE;
                case "__rate_interval_ms", "__interval_ms", "__range_ms" -> "300000";
                case "__range_s" -> "300";
                default -> SAMPLE_VALUE;
            };
            return Matcher.quoteReplacement(value);
        });
    }

    /**
     * The metric names an expression reads. Strings, label matchers, ranges and grouping label
     * lists are dropped first, so what is left are functions (followed by a parenthesis), PromQL
     * keywords and aggregations, numbers, and the metric names.
     */
    static SortedSet<String> metricNames(String promql) {
        SortedSet<String> names = new TreeSet<>();
        Matcher byName = NAME_MATCHER.matcher(promql);
        while (byName.find()) {
            names.add(byName.group(1));
        }
        String s = STRING.matcher(promql).replaceAll("\"\"");
        s = MATCHERS.matcher(s).replaceAll(" ");
        s = RANGE.matcher(s).replaceAll(" ");
        s = GROUPING.matcher(s).replaceAll("$1 ");
        Matcher t = TOKEN.matcher(s);
        while (t.find()) {
            String id = t.group(1);
            if (id == null || NOT_METRICS.contains(id.toLowerCase(java.util.Locale.ROOT))) {
                continue;
            }
            int next = t.end();
            while (next < s.length() && Character.isWhitespace(s.charAt(next))) {
                next++;
            }
            if (next < s.length() && s.charAt(next) == '(') {
                continue; // a function
            }
            names.add(id);
        }
        return names;
    }

    /**
     * The metric families of one or more Prometheus text pages, by name, with their types. A
     * histogram's {@code _bucket}, {@code _count} and {@code _sum} series and a summary's
     * {@code _count} and {@code _sum} are theirs, so those names count as present too.
     */
    record Families(Map<String, String> types) {
        static Families of(Collection<String> pages) {
            Map<String, String> types = new TreeMap<>();
            for (String page : pages) {
                for (String line : page.lines().toList()) {
                    if (line.startsWith("# TYPE ")) {
                        String[] f = line.substring(7).trim().split("\\s+");
                        types.putIfAbsent(f[0], f.length > 1 ? f[1] : "untyped");
                    } else if (!line.isBlank() && !line.startsWith("#")) {
                        // A sample with no TYPE line before it is a family of its own, untyped.
                        String sample = line.split("[{\\s]", 2)[0];
                        if (!covers(types, sample)) {
                            types.put(sample, "untyped");
                        }
                    }
                }
            }
            return new Families(Map.copyOf(types));
        }

        boolean has(String name) {
            return covers(types, name);
        }

        private static boolean covers(Map<String, String> types, String name) {
            if (types.containsKey(name)) {
                return true;
            }
            for (String suffix : List.of("_bucket", "_count", "_sum")) {
                if (name.endsWith(suffix)) {
                    String type = types.get(name.substring(0, name.length() - suffix.length()));
                    return "histogram".equals(type) || ("summary".equals(type) && !suffix.equals("_bucket"));
                }
            }
            return false;
        }

        /** The names, of those given, that are no family or family sample here, sorted. */
        SortedSet<String> missing(Collection<String> names) {
            SortedSet<String> missing = new TreeSet<>();
            names.stream().filter(n -> !has(n)).forEach(missing::add);
            return missing;
        }
    }

    /**
     * A Prometheus rules file with one recording rule per expression (variables substituted),
     * named {@code dashboard_query_<i>} after the expression's index in {@code queries}, so that
     * {@code promtool check rules} parses each.
     */
    static String recordingRules(List<Query> queries) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ArrayNode rules = f.arrayNode();
        for (int i = 0; i < queries.size(); i++) {
            rules.add(f.objectNode().put("record", "dashboard_query_" + i).put("expr", substitute(queries.get(i).expr())));
        }
        ObjectNode group = f.objectNode().put("name", "dashboard");
        group.set("rules", rules);
        ObjectNode file = f.objectNode();
        file.set("groups", f.arrayNode().add(group));
        try {
            return new YAMLMapper().writeValueAsString(file);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
