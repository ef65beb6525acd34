package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The dashboard reader on its own; NodeClusterTest checks the shipped dashboard against live nodes. */
class DashboardQueriesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void grafanaVariablesBecomeConcreteValues() {
        String expr = "rate(x_total{thread=~\"$thread\",instance=~\"${node:regex}\",a=\"[[old]]\"}[$__rate_interval])"
                + " offset ${__range}";
        assertEquals(Set.of("thread", "node", "old", "__rate_interval", "__range"), DashboardQueries.variables(expr));
        assertEquals("rate(x_total{thread=~\"sample\",instance=~\"sample\",a=\"sample\"}[5m]) offset 5m",
                DashboardQueries.substitute(expr));
        assertEquals("sum(x) / 300", DashboardQueries.substitute("sum(x) / $__range_s"));
    }

    @Test
    void metricNamesAreTheIdentifiersThatAreNeitherFunctionsKeywordsLabelsNorStrings() {
        String expr = "histogram_quantile(0.99, sum by (le, thread) (rate(statesync_a_seconds_bucket"
                + "{thread=~\"t0|statesync_in_a_string\", le!=\"1e3\"}[5m:1m] offset 1h)))"
                + " / on (thread) group_left (role) max without(instance) (jvm_b_bytes)"
                + " > bool 2^20 and process_c unless {__name__=\"system_d\"} or sum(e_total) by (thread)";
        assertEquals(Set.of("statesync_a_seconds_bucket", "jvm_b_bytes", "process_c", "system_d", "e_total"),
                DashboardQueries.metricNames(expr));
        assertEquals(Set.of("up"), DashboardQueries.metricNames("up == 0"));
        assertEquals(Set.of(), DashboardQueries.metricNames("vector(1) + time()"));
    }

    @Test
    void namesNoFamilyHasAreReportedAndSeriesOfAFamilyAreNot() {
        String page = """
                # HELP a_seconds latency
                # TYPE a_seconds histogram
                a_seconds_bucket{le="0.1"} 1.0
                a_seconds_count 1.0
                a_seconds_sum 0.05
                # TYPE b_seconds summary
                b_seconds_count 2.0
                b_seconds_sum 1.0
                # TYPE c_total counter
                c_total{x="y"} 3.0
                untyped_thing 4
                """;
        DashboardQueries.Families families = DashboardQueries.Families.of(List.of(page, "# TYPE d gauge\nd 1\n"));
        assertEquals(Set.of("b_seconds_bucket", "statesync_made_up_total", "c_total_sum", "c"),
                families.missing(List.of("a_seconds", "a_seconds_bucket", "a_seconds_count", "b_seconds_sum",
                        "b_seconds_bucket", "c_total", "c_total_sum", "c", "d", "untyped_thing",
                        "statesync_made_up_total")));
    }

    @Test
    void queriesComeFromPanelsCollapsedRowsAndVariables() throws Exception {
        JsonNode d = JSON.readTree("""
                {"title": "t", "uid": "u", "panels": [
                  {"type": "timeseries", "title": "p1", "datasource": {"type": "prometheus", "uid": "${ds}"},
                   "targets": [{"refId": "A", "expr": "rate(a_total{n=~\\"$node\\"}[$__rate_interval])"}]},
                  {"type": "row", "title": "r", "collapsed": true, "panels": [
                    {"type": "stat", "title": "p2", "datasource": {"type": "prometheus", "uid": "$ds"},
                     "targets": [{"refId": "B", "expr": "b"}]}]}],
                 "templating": {"list": [
                   {"name": "ds", "type": "datasource", "query": "prometheus"},
                   {"name": "node", "type": "query", "query": {"query": "label_values(c{x=\\"1\\",y=~\\"a,b\\"}, instance)"}},
                   {"name": "old", "type": "query", "query": "label_values(instance)"},
                   {"name": "res", "type": "query", "query": "query_result(topk(3, d))"}]}}
                """);
        assertEquals(List.of(
                new DashboardQueries.Query("panel 'p1' A", "rate(a_total{n=~\"$node\"}[$__rate_interval])"),
                new DashboardQueries.Query("panel 'p2' B", "b"),
                new DashboardQueries.Query("variable $node", "c{x=\"1\",y=~\"a,b\"}"),
                new DashboardQueries.Query("variable $res", "topk(3, d)")), DashboardQueries.queries(d));
        assertEquals(List.of(), DashboardQueries.problems(d));
        assertEquals(Optional.empty(), DashboardQueries.variableExpression("label_names()"));
    }

    @Test
    void aDashboardThatCannotWorkIsTold() throws Exception {
        JsonNode d = JSON.readTree("""
                {"title": "t", "panels": [
                  {"type": "timeseries", "title": "fixed", "datasource": {"type": "prometheus", "uid": "abc123"},
                   "targets": [{"refId": "A", "expr": "a{t=~\\"$typo\\"}"}]},
                  {"type": "timeseries", "title": "empty", "datasource": {"type": "prometheus", "uid": "${ds}"}},
                  {"type": "timeseries", "title": "blank", "datasource": {"type": "prometheus", "uid": "${ds}"},
                   "targets": [{"refId": "A", "expr": " "}]}],
                 "templating": {"list": [{"name": "ds", "type": "datasource", "query": "prometheus"}]}}
                """);
        List<String> problems = DashboardQueries.problems(d);
        assertEquals(5, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("no uid"), problems.toString());
        assertTrue(problems.get(1).contains("'fixed' does not query Prometheus through a data source variable"), problems.toString());
        assertTrue(problems.get(2).contains("'empty' has no query"), problems.toString());
        assertTrue(problems.get(3).contains("'blank' has a target without an expression"), problems.toString());
        assertTrue(problems.get(4).contains("uses $typo"), problems.toString());
    }

    @Test
    void recordingRulesHoldEachExpressionWithItsVariablesFilledIn() throws Exception {
        List<DashboardQueries.Query> queries = List.of(new DashboardQueries.Query("a", "rate(x{t=~\"$t\"}[$__rate_interval])"),
                new DashboardQueries.Query("b", "y'"));
        JsonNode rules = new YAMLMapper().readTree(DashboardQueries.recordingRules(queries)).path("groups").path(0).path("rules");
        assertEquals(2, rules.size());
        assertEquals("dashboard_query_0", rules.path(0).path("record").asText());
        assertEquals("rate(x{t=~\"sample\"}[5m])", rules.path(0).path("expr").asText());
        assertEquals("y'", rules.path(1).path("expr").asText());
    }

    @Test
    void theShippedDashboardIsWellFormedAndEveryQueryReadsAMetric() throws Exception {
        JsonNode d = JSON.readTree(Files.readString(Path.of("../ops/grafana/statesync.json")));
        assertEquals(List.of(), DashboardQueries.problems(d));
        List<DashboardQueries.Query> queries = DashboardQueries.queries(d);
        assertFalse(queries.isEmpty());
        for (DashboardQueries.Query q : queries) {
            assertFalse(DashboardQueries.metricNames(DashboardQueries.substitute(q.expr())).isEmpty(), q.toString());
        }
    }
}
