/* GET /metrics: Prometheus text exposition format 0.0.4. */
#include "broker-metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-api.h"

const double metrics_connect_bounds[METRICS_CONNECT_BUCKETS] = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

void metrics_connect_observe(BrokerMetrics *m, uint64_t usec) {
        double s = (double) usec / 1e6;
        for (size_t i = 0; i < METRICS_CONNECT_BUCKETS; i++)
                if (s <= metrics_connect_bounds[i]) {
                        m->connect_buckets[i]++;
                        break;
                }
        m->connect_count++;
        m->connect_sum_seconds += s;
}

/* Label values come from the store; names there are validated, but escape anyway. */
static void label(FILE *f, const char *v) {
        for (; v && *v; v++) {
                if (*v == '\\' || *v == '"')
                        fputc('\\', f);
                if (*v == '\n')
                        fputs("\\n", f);
                else
                        fputc(*v, f);
        }
}

typedef struct Series {
        const char *name, *help, *type, *sql;
        const char *labels[3]; /* column names of the label columns, before the value column */
} Series;

static const Series store_series[] = {
        { "tandem_desktops", "Desktops by power state and health.", "gauge",
          "SELECT power_state, health, count(*) FROM desktops GROUP BY 1, 2", { "power_state", "health" } },
        { "tandem_desktops_ready", "Desktops ready and unassigned, per pool.", "gauge",
          "SELECT p.name, (SELECT count(*) FROM desktops d WHERE d.pool_id = p.id AND d.ready "
          "AND d.assigned_user_id IS NULL) FROM pools p",
          { "pool" } },
        { "tandem_resets_total", "Resets and reboots by action and cause.", "counter",
          "SELECT action, ifnull(json_extract(evidence, '$.cause'), 'unknown'), count(*) FROM events "
          "WHERE action IN ('reset', 'reboot', 'reboot-request') GROUP BY 1, 2",
          { "action", "cause" } },
        { "tandem_pool_desktops", "Desktops per pool: ready (unassigned), all, and being provisioned or reset.",
          "gauge",
          "SELECT p.name, 'ready', (SELECT count(*) FROM desktops d WHERE d.pool_id = p.id AND d.ready "
          "AND d.assigned_user_id IS NULL AND d.provision_state = 'done') FROM pools p UNION ALL "
          "SELECT p.name, 'total', (SELECT count(*) FROM desktops d WHERE d.pool_id = p.id) FROM pools p UNION ALL "
          "SELECT p.name, 'provisioning', (SELECT count(*) FROM desktops d WHERE d.pool_id = p.id "
          "AND d.provision_state IN ('provisioning', 'reset-pending', 'resetting')) FROM pools p",
          { "pool", "state" } },
        { "tandem_desktops_provisioned_total", "Desktops the pool upkeep provisioned from a template.", "counter",
          "SELECT count(*) FROM events WHERE action = 'provision'", {} },
        { "tandem_desktops_reset_to_template_total", "Floating desktops reset to their template, by cause.",
          "counter",
          "SELECT ifnull(json_extract(evidence, '$.cause'), 'unknown'), count(*) FROM events "
          "WHERE action = 'reset-to-template' GROUP BY 1",
          { "cause" } },
        { "tandem_provision_failures_total", "Failed provisions and resets to template, by action.", "counter",
          "SELECT 'provision', count(*) FROM events WHERE action = 'provision-failed' UNION ALL "
          "SELECT 'reset-to-template', count(*) FROM events WHERE action = 'reset-failed'",
          { "action" } },
        { "tandem_sessions_open", "Sessions without an end.", "gauge",
          "SELECT count(*) FROM sessions WHERE end IS NULL", {} },
        { "tandem_sessions_total", "Sessions ever opened.", "counter", "SELECT count(*) FROM sessions", {} },
        { "tandem_host_report_age_seconds", "Seconds since each host's last report (-1: never).", "gauge",
          "SELECT name, CASE WHEN last_report IS NULL THEN -1 ELSE max(0, ?1 - last_report) END FROM hosts",
          { "host" } },
        { "tandem_host_viewers", "Viewers per host and transport, as the host last reported.", "gauge",
          "SELECT name, 'tcp', viewers_tcp FROM hosts UNION ALL SELECT name, 'udp', viewers_udp FROM hosts",
          { "host", "transport" } },
        { "tandem_host_rtt_milliseconds", "Viewers' round-trip time as the host last reported.", "gauge",
          "SELECT name, rtt_ms FROM hosts WHERE rtt_ms IS NOT NULL", { "host" } },
        { "tandem_host_loss_ratio", "Viewers' packet loss as the host last reported.", "gauge",
          "SELECT name, loss_ratio FROM hosts WHERE loss_ratio IS NOT NULL", { "host" } },
        { "tandem_host_bytes_sent_total", "Bytes sent to viewers as the host last reported.", "counter",
          "SELECT name, bytes_sent FROM hosts", { "host" } },
};

static int render_series(ApiCall *c, FILE *f, const Series *s) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(c->store, s->sql, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_parameter_count(st) >= 1)
                sqlite3_bind_int64(st, 1, c->now);
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", s->name, s->help, s->name, s->type);
        size_t nl = 0;
        while (nl < 3 && s->labels[nl])
                nl++;
        while ((r = store_step(c->store, st)) > 0) {
                fputs(s->name, f);
                for (size_t i = 0; i < nl; i++) {
                        fprintf(f, "%s%s=\"", i ? "," : "{", s->labels[i]);
                        label(f, (const char *) sqlite3_column_text(st, (int) i));
                        fputc('"', f);
                }
                if (nl)
                        fputc('}', f);
                if (sqlite3_column_type(st, (int) nl) == SQLITE_FLOAT)
                        fprintf(f, " %.6g\n", sqlite3_column_double(st, (int) nl));
                else
                        fprintf(f, " %lld\n", (long long) sqlite3_column_int64(st, (int) nl));
        }
        return r;
}

void api_metrics(ApiCall *c) {
        BrokerMetrics *m = &c->m->metrics;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return http_respond_error(c->resp, 500, "internal", "Out of memory");
        int r = 0;
        for (size_t i = 0; i < ELEMENTSOF(store_series) && r >= 0; i++)
                r = render_series(c, f, &store_series[i]);
        fputs("# HELP tandem_connect_duration_seconds Connect requests answered, from headers to answer.\n"
              "# TYPE tandem_connect_duration_seconds histogram\n",
              f);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < METRICS_CONNECT_BUCKETS; i++) {
                cumulative += m->connect_buckets[i];
                fprintf(f, "tandem_connect_duration_seconds_bucket{le=\"%g\"} %llu\n", metrics_connect_bounds[i],
                        (unsigned long long) cumulative);
        }
        fprintf(f,
                "tandem_connect_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                "tandem_connect_duration_seconds_sum %.6f\n"
                "tandem_connect_duration_seconds_count %llu\n"
                "# HELP tandem_connect_failures_total Connect requests refused (no desktop, no host, errors).\n"
                "# TYPE tandem_connect_failures_total counter\n"
                "tandem_connect_failures_total %llu\n"
                "# HELP tandem_http_requests_total Requests by class of answer.\n"
                "# TYPE tandem_http_requests_total counter\n"
                "tandem_http_requests_total{class=\"all\"} %llu\n"
                "tandem_http_requests_total{class=\"4xx\"} %llu\n"
                "tandem_http_requests_total{class=\"5xx\"} %llu\n",
                (unsigned long long) m->connect_count, m->connect_sum_seconds, (unsigned long long) m->connect_count,
                (unsigned long long) m->connect_failed, (unsigned long long) m->requests,
                (unsigned long long) m->requests_4xx, (unsigned long long) m->requests_5xx);
        fclose(f);
        if (r < 0) {
                free(text);
                return api_reply_store_error(c, r, "metrics");
        }
        http_respond_text(c->resp, 200, "text/plain; version=0.0.4", text, len);
}
