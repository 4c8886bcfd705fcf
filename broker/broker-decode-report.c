/* POST /v1/hosts/{name}/report: what one hostd saw since its last report. Ages are seconds before
 * the report (the broker turns them into times on its own clock, so the hosts' clocks do not
 * matter). A report is bounded by the route's body cap; counts and each thumbnail are capped too. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "broker-decode-fields.h"
#include "broker-decode.h"

const char *const power_states[] = { "unknown", "running", "paused", "shutoff", "crashed", "starting", "stopping", NULL };
const char *const agent_states[] = { "absent", "active", "lost", NULL };
const char *const power_request_outcomes[] = { "ok", "failed", "no-agent", NULL };

void host_report_done(HostReport *r) {
        for (size_t i = 0; i < r->n_domains; i++)
                free(r->domains[i].thumbnail);
        free(r->domains);
        free(r->session_events);
        free(r->request_results);
        *r = (HostReport) {};
}

static int decode_uuid(json_t *v, char out[40], ApiError *e) {
        char buf[40];
        int r = json_field_token("uuid", v, 36, buf, sizeof(buf), e);
        if (r < 0)
                return r;
        size_t n = strlen(buf);
        bool ok = n == 36;
        for (size_t i = 0; ok && i < n; i++)
                ok = (i == 8 || i == 13 || i == 18 || i == 23) ? buf[i] == '-'
                                                                : ((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f'));
        if (!ok)
                return api_fail(e, 422, "bad-field", "Field `uuid' must be a lower-case UUID");
        memcpy(out, buf, n + 1);
        return 0;
}

static int domain_uuid(json_t *v, void *out, ApiError *e) {
        return decode_uuid(v, ((ReportDomain *) out)->uuid, e);
}

static int domain_thumbnail(json_t *v, void *out, ApiError *e) {
        ReportDomain *d = out;
        if (!json_is_string(v))
                return api_fail(e, 422, "bad-field", "Field `domains[].thumbnail' must be base64 text");
        free(d->thumbnail);
        d->thumbnail = NULL;
        int r = base64_decode_alloc(json_string_value(v), json_string_length(v), REPORT_THUMBNAIL_MAX, &d->thumbnail,
                                    &d->thumbnail_len);
        if (r == -EFBIG)
                return api_fail(e, 413, "thumbnail-too-large", "A thumbnail is larger than %d bytes", REPORT_THUMBNAIL_MAX);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return api_fail(e, 422, "bad-field", "Field `domains[].thumbnail' must be padded base64");
        /* JPEG only: the broker serves it as image/jpeg. */
        if (d->thumbnail_len < 4 || d->thumbnail[0] != 0xff || d->thumbnail[1] != 0xd8)
                return api_fail(e, 422, "bad-field", "Field `domains[].thumbnail' must be a JPEG");
        return 0;
}

#define DOMAIN_FIELD(k, kd, member, bit, ...)                                                                    \
        { .key = k, .label = "domains[]." k, .kind = kd, .offset = offsetof(ReportDomain, member), .has = bit, \
          __VA_ARGS__ }
static const DecodeField domain_fields[] = {
        DOMAIN_FIELD("name", DECODE_NAME, name, 0, .required = true),
        { .key = "uuid", .kind = DECODE_CUSTOM, .custom = domain_uuid, .has = DOMAIN_HAS_UUID },
        DOMAIN_FIELD("state", DECODE_ENUM, state, DOMAIN_HAS_STATE, .options = power_states),
        DOMAIN_FIELD("libvirt_state", DECODE_TOKEN, libvirt_state, DOMAIN_HAS_LIBVIRT_STATE, .max = 32,
                     .size = sizeof(((ReportDomain *) NULL)->libvirt_state)),
        DOMAIN_FIELD("cpu_time_ns", DECODE_UINT, cpu_time_ns, DOMAIN_HAS_CPU, .max = INT64_MAX),
        DOMAIN_FIELD("display_frames", DECODE_UINT, display_frames, DOMAIN_HAS_FRAMES, .max = INT64_MAX),
        DOMAIN_FIELD("input_age", DECODE_UINT, input_age, DOMAIN_HAS_INPUT_AGE, .max = REPORT_AGE_MAX),
        DOMAIN_FIELD("agent", DECODE_ENUM, agent, DOMAIN_HAS_AGENT, .options = agent_states),
        DOMAIN_FIELD("agent_heartbeat_age", DECODE_UINT, heartbeat_age, DOMAIN_HAS_HEARTBEAT_AGE, .max = REPORT_AGE_MAX),
        DOMAIN_FIELD("logged_on_user", DECODE_USER_OR_EMPTY, logged_on_user, DOMAIN_HAS_LOGGED_ON),
        DOMAIN_FIELD("libvirt_timeouts", DECODE_UINT, libvirt_timeouts, DOMAIN_HAS_TIMEOUTS, .max = INT64_MAX),
        DOMAIN_FIELD("viewers", DECODE_UINT, viewers, DOMAIN_HAS_VIEWERS, .max = REPORT_VIEWERS_MAX),
        { .key = "thumbnail", .kind = DECODE_CUSTOM, .custom = domain_thumbnail },
};

static int decode_domain(json_t *obj, ReportDomain *d, ApiError *e) {
        if (!json_is_object(obj))
                return api_fail(e, 422, "bad-field", "Each of `domains' must be an object");
        return decode_fields(obj, DECODE_FIELDS(domain_fields), d, &d->has, e);
}

static const DecodeField session_event_fields[] = {
        { .key = "domain", .kind = DECODE_NAME, .offset = offsetof(ReportSessionEvent, domain), .required = true },
        { .key = "user", .kind = DECODE_USER, .offset = offsetof(ReportSessionEvent, user), .required = true },
};

static int decode_session_events(json_t *arr, bool logon, HostReport *rep, ApiError *e) {
        const char *field = logon ? "logons" : "logoffs";
        if (!json_is_array(arr))
                return api_fail(e, 422, "bad-field", "Field `%s' must be an array", field);
        if (rep->n_session_events + json_array_size(arr) > REPORT_SESSION_EVENTS_MAX)
                return api_fail(e, 413, "too-many-items", "At most %d logons and logoffs per report",
                                REPORT_SESSION_EVENTS_MAX);
        size_t i;
        json_t *obj;
        json_array_foreach(arr, i, obj) {
                ReportSessionEvent *ev = &rep->session_events[rep->n_session_events];
                *ev = (ReportSessionEvent) { .logon = logon };
                if (!json_is_object(obj))
                        return api_fail(e, 422, "bad-field", "Each of `%s' must be an object", field);
                int r = decode_fields(obj, DECODE_FIELDS(session_event_fields), ev, NULL, e);
                if (r < 0)
                        return r;
                rep->n_session_events++;
        }
        return 0;
}

static const DecodeField transport_fields[] = {
        { .key = "viewers_tcp", .kind = DECODE_UINT, .offset = offsetof(HostReport, viewers_tcp), .max = 1000000 },
        { .key = "viewers_udp", .kind = DECODE_UINT, .offset = offsetof(HostReport, viewers_udp), .max = 1000000 },
        { .key = "bytes_sent", .kind = DECODE_UINT, .offset = offsetof(HostReport, bytes_sent), .max = INT64_MAX },
        { .key = "rtt_ms", .kind = DECODE_NUMBER, .offset = offsetof(HostReport, rtt_ms), .min = 0, .max_d = 3600000,
          .has = REPORT_HAS_RTT },
        { .key = "loss_ratio", .kind = DECODE_NUMBER, .offset = offsetof(HostReport, loss_ratio), .min = 0, .max_d = 1,
          .has = REPORT_HAS_LOSS },
};

static int decode_transport(json_t *obj, void *out, ApiError *e) {
        HostReport *rep = out;
        if (!json_is_object(obj))
                return api_fail(e, 422, "bad-field", "Field `transport' must be an object");
        rep->has_transport = true;
        return decode_fields(obj, DECODE_FIELDS(transport_fields), rep, &rep->transport_has, e);
}

static int decode_detail(json_t *v, char out[REPORT_DETAIL_MAX + 1], ApiError *e) {
        if (!json_is_string(v) || json_string_length(v) > REPORT_DETAIL_MAX)
                return api_fail(e, 422, "bad-field", "Field `request_results[].detail' must be text of at most %d bytes",
                                REPORT_DETAIL_MAX);
        const char *t = json_string_value(v);
        size_t n = json_string_length(v);
        for (size_t i = 0; i < n; i++)
                if (t[i] < ' ' || t[i] > '~' || t[i] == '"' || t[i] == '\\')
                        return api_fail(e, 422, "bad-field",
                                        "Field `request_results[].detail' must be printable ASCII without quotes or backslashes");
        memcpy(out, t, n + 1);
        return 0;
}

/* An array field of at most max items (`what' in the message), allocated once: a second
 * appearance (taken) is refused. */
static int array_alloc(json_t *v, const char *field, size_t max, const char *what, const void *taken, size_t item,
                       void **ret, ApiError *e) {
        if (!json_is_array(v))
                return api_fail(e, 422, "bad-field", "Field `%s' must be an array", field);
        if (json_array_size(v) > max)
                return api_fail(e, 413, "too-many-items", "At most %zu %s per report", max, what);
        if (taken)
                return api_fail(e, 400, "bad-json", "Field `%s' appears twice", field);
        *ret = calloc(json_array_size(v) + 1, item);
        return *ret ? 0 : -ENOMEM;
}

static int result_detail(json_t *v, void *out, ApiError *e) {
        return decode_detail(v, ((ReportRequestResult *) out)->detail, e);
}

static const DecodeField request_result_fields[] = {
        { .key = "id", .label = "request_results[].id", .kind = DECODE_UINT, .offset = offsetof(ReportRequestResult, id),
          .max = INT64_MAX, .required = true },
        { .key = "outcome", .label = "request_results[].outcome", .kind = DECODE_ENUM,
          .offset = offsetof(ReportRequestResult, outcome), .options = power_request_outcomes, .required = true },
        { .key = "detail", .kind = DECODE_CUSTOM, .custom = result_detail },
};

static int decode_request_results(json_t *arr, void *out, ApiError *e) {
        HostReport *rep = out;
        int r = array_alloc(arr, "request_results", REPORT_REQUEST_RESULTS_MAX, "request results", rep->request_results,
                            sizeof(ReportRequestResult), (void **) &rep->request_results, e);
        if (r < 0)
                return r;
        size_t i;
        json_t *obj;
        json_array_foreach(arr, i, obj) {
                if (!json_is_object(obj))
                        return api_fail(e, 422, "bad-field", "Each of `request_results' must be an object");
                r = decode_fields(obj, DECODE_FIELDS(request_result_fields), &rep->request_results[i], NULL, e);
                if (r < 0)
                        return r;
                rep->n_request_results = i + 1;
        }
        return 0;
}

static int decode_domains(json_t *v, void *out, ApiError *e) {
        HostReport *rep = out;
        int r = array_alloc(v, "domains", REPORT_DOMAINS_MAX, "domains", rep->domains, sizeof(ReportDomain),
                            (void **) &rep->domains, e);
        if (r < 0)
                return r;
        size_t i;
        json_t *d;
        json_array_foreach(v, i, d) {
                r = decode_domain(d, &rep->domains[i], e);
                rep->n_domains = i + 1; /* so a partial entry's thumbnail is freed */
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decode_logons(json_t *v, void *out, ApiError *e) {
        return decode_session_events(v, true, out, e);
}

static int decode_logoffs(json_t *v, void *out, ApiError *e) {
        return decode_session_events(v, false, out, e);
}

static const DecodeField report_fields[] = {
        { .key = "domains", .kind = DECODE_CUSTOM, .custom = decode_domains },
        { .key = "logons", .kind = DECODE_CUSTOM, .custom = decode_logons },
        { .key = "logoffs", .kind = DECODE_CUSTOM, .custom = decode_logoffs },
        { .key = "transport", .kind = DECODE_CUSTOM, .custom = decode_transport },
        { .key = "request_results", .kind = DECODE_CUSTOM, .custom = decode_request_results },
};

int decode_report(const char *data, size_t len, HostReport *ret, ApiError *e) {
        HostReport rep = {};
        json_t *root = NULL;
        int r = json_load_object(data, len, false, &root, e);
        if (r < 0)
                return r;
        rep.session_events = calloc(REPORT_SESSION_EVENTS_MAX, sizeof(ReportSessionEvent));
        r = rep.session_events ? decode_fields(root, DECODE_FIELDS(report_fields), &rep, NULL, e) : -ENOMEM;
        json_decref(root);
        if (r < 0) {
                host_report_done(&rep);
                return r;
        }
        *ret = rep;
        return 0;
}
