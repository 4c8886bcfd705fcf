/* POST /v1/hosts/{name}/report: what one hostd saw since its last report. Ages are seconds before
 * the report (the broker turns them into times on its own clock, so the hosts' clocks do not
 * matter). A report is bounded by the route's body cap; counts and each thumbnail are capped too. */
#include <stdlib.h>
#include <string.h>

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

static int decode_domain(json_t *obj, ReportDomain *d, ApiError *e) {
        json_t *v;
        const char *key;
        bool named = false;
        int r = 0;
        if (!json_is_object(obj))
                return api_fail(e, 422, "bad-field", "Each of `domains' must be an object");
        json_object_foreach(obj, key, v) {
                if (strcmp(key, "name") == 0) {
                        r = json_field_name("domains[].name", v, false, d->name, e);
                        named = true;
                } else if (strcmp(key, "uuid") == 0) {
                        r = decode_uuid(v, d->uuid, e);
                        d->has |= DOMAIN_HAS_UUID;
                } else if (strcmp(key, "state") == 0) {
                        r = json_field_enum("domains[].state", v, power_states, &d->state, e);
                        d->has |= DOMAIN_HAS_STATE;
                } else if (strcmp(key, "libvirt_state") == 0) {
                        r = json_field_token("domains[].libvirt_state", v, 32, d->libvirt_state, sizeof(d->libvirt_state), e);
                        d->has |= DOMAIN_HAS_LIBVIRT_STATE;
                } else if (strcmp(key, "cpu_time_ns") == 0) {
                        r = json_field_uint("domains[].cpu_time_ns", v, INT64_MAX, &d->cpu_time_ns, e);
                        d->has |= DOMAIN_HAS_CPU;
                } else if (strcmp(key, "display_frames") == 0) {
                        r = json_field_uint("domains[].display_frames", v, INT64_MAX, &d->display_frames, e);
                        d->has |= DOMAIN_HAS_FRAMES;
                } else if (strcmp(key, "input_age") == 0) {
                        r = json_field_uint("domains[].input_age", v, REPORT_AGE_MAX, &d->input_age, e);
                        d->has |= DOMAIN_HAS_INPUT_AGE;
                } else if (strcmp(key, "agent") == 0) {
                        r = json_field_enum("domains[].agent", v, agent_states, &d->agent, e);
                        d->has |= DOMAIN_HAS_AGENT;
                } else if (strcmp(key, "agent_heartbeat_age") == 0) {
                        r = json_field_uint("domains[].agent_heartbeat_age", v, REPORT_AGE_MAX, &d->heartbeat_age, e);
                        d->has |= DOMAIN_HAS_HEARTBEAT_AGE;
                } else if (strcmp(key, "logged_on_user") == 0) {
                        if (json_is_string(v) && json_string_length(v) == 0)
                                d->logged_on_user[0] = 0;
                        else
                                r = json_field_name("domains[].logged_on_user", v, true, d->logged_on_user, e);
                        d->has |= DOMAIN_HAS_LOGGED_ON;
                } else if (strcmp(key, "libvirt_timeouts") == 0) {
                        r = json_field_uint("domains[].libvirt_timeouts", v, INT64_MAX, &d->libvirt_timeouts, e);
                        d->has |= DOMAIN_HAS_TIMEOUTS;
                } else if (strcmp(key, "thumbnail") == 0) {
                        if (!json_is_string(v))
                                return api_fail(e, 422, "bad-field", "Field `domains[].thumbnail' must be base64 text");
                        free(d->thumbnail);
                        d->thumbnail = NULL;
                        r = base64_decode_alloc(json_string_value(v), json_string_length(v), REPORT_THUMBNAIL_MAX,
                                                &d->thumbnail, &d->thumbnail_len);
                        if (r == -EFBIG)
                                return api_fail(e, 413, "thumbnail-too-large", "A thumbnail is larger than %d bytes",
                                                REPORT_THUMBNAIL_MAX);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return api_fail(e, 422, "bad-field", "Field `domains[].thumbnail' must be padded base64");
                        /* JPEG only: the broker serves it as image/jpeg. */
                        if (d->thumbnail_len < 4 || d->thumbnail[0] != 0xff || d->thumbnail[1] != 0xd8)
                                return api_fail(e, 422, "bad-field", "Field `domains[].thumbnail' must be a JPEG");
                } else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        return r;
        }
        if (!named)
                return json_missing_field("domains[].name", e);
        return 0;
}

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
                unsigned seen = 0;
                json_t *v;
                const char *key;
                int r = 0;
                if (!json_is_object(obj))
                        return api_fail(e, 422, "bad-field", "Each of `%s' must be an object", field);
                json_object_foreach(obj, key, v) {
                        if (strcmp(key, "domain") == 0) {
                                r = json_field_name("domain", v, false, ev->domain, e);
                                seen |= 1;
                        } else if (strcmp(key, "user") == 0) {
                                r = json_field_name("user", v, true, ev->user, e);
                                seen |= 2;
                        } else
                                r = json_unknown_field(key, e);
                        if (r < 0)
                                return r;
                }
                if (!(seen & 1))
                        return json_missing_field("domain", e);
                if (!(seen & 2))
                        return json_missing_field("user", e);
                rep->n_session_events++;
        }
        return 0;
}

static int decode_transport(json_t *obj, HostReport *rep, ApiError *e) {
        json_t *v;
        const char *key;
        int r = 0;
        if (!json_is_object(obj))
                return api_fail(e, 422, "bad-field", "Field `transport' must be an object");
        rep->has_transport = true;
        json_object_foreach(obj, key, v) {
                if (strcmp(key, "viewers_tcp") == 0)
                        r = json_field_uint(key, v, 1000000, &rep->viewers_tcp, e);
                else if (strcmp(key, "viewers_udp") == 0)
                        r = json_field_uint(key, v, 1000000, &rep->viewers_udp, e);
                else if (strcmp(key, "bytes_sent") == 0)
                        r = json_field_uint(key, v, INT64_MAX, &rep->bytes_sent, e);
                else if (strcmp(key, "rtt_ms") == 0) {
                        r = json_field_number(key, v, 0, 3600000, &rep->rtt_ms, e);
                        rep->has_rtt = true;
                } else if (strcmp(key, "loss_ratio") == 0) {
                        r = json_field_number(key, v, 0, 1, &rep->loss_ratio, e);
                        rep->has_loss = true;
                } else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        return r;
        }
        return 0;
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

static int decode_request_results(json_t *arr, HostReport *rep, ApiError *e) {
        if (!json_is_array(arr))
                return api_fail(e, 422, "bad-field", "Field `request_results' must be an array");
        if (json_array_size(arr) > REPORT_REQUEST_RESULTS_MAX)
                return api_fail(e, 413, "too-many-items", "At most %d request results per report",
                                REPORT_REQUEST_RESULTS_MAX);
        if (rep->request_results)
                return api_fail(e, 400, "bad-json", "Field `request_results' appears twice");
        rep->request_results = calloc(json_array_size(arr) + 1, sizeof(ReportRequestResult));
        if (!rep->request_results)
                return -ENOMEM;
        size_t i;
        json_t *obj;
        json_array_foreach(arr, i, obj) {
                ReportRequestResult *q = &rep->request_results[i];
                unsigned seen = 0;
                json_t *v;
                const char *key;
                int r = 0;
                if (!json_is_object(obj))
                        return api_fail(e, 422, "bad-field", "Each of `request_results' must be an object");
                json_object_foreach(obj, key, v) {
                        if (strcmp(key, "id") == 0) {
                                r = json_field_uint("request_results[].id", v, INT64_MAX, &q->id, e);
                                seen |= 1;
                        } else if (strcmp(key, "outcome") == 0) {
                                r = json_field_enum("request_results[].outcome", v, power_request_outcomes, &q->outcome, e);
                                seen |= 2;
                        } else if (strcmp(key, "detail") == 0)
                                r = decode_detail(v, q->detail, e);
                        else
                                r = json_unknown_field(key, e);
                        if (r < 0)
                                return r;
                }
                if (!(seen & 1))
                        return json_missing_field("request_results[].id", e);
                if (!(seen & 2))
                        return json_missing_field("request_results[].outcome", e);
                rep->n_request_results = i + 1;
        }
        return 0;
}

static int decode_root(json_t *root, HostReport *rep, ApiError *e) {
        json_t *v;
        const char *key;
        int r = 0;
        json_object_foreach(root, key, v) {
                if (strcmp(key, "domains") == 0) {
                        if (!json_is_array(v))
                                return api_fail(e, 422, "bad-field", "Field `domains' must be an array");
                        if (json_array_size(v) > REPORT_DOMAINS_MAX)
                                return api_fail(e, 413, "too-many-items", "At most %d domains per report", REPORT_DOMAINS_MAX);
                        if (rep->domains)
                                return api_fail(e, 400, "bad-json", "Field `domains' appears twice");
                        rep->domains = calloc(json_array_size(v) + 1, sizeof(ReportDomain));
                        if (!rep->domains)
                                return -ENOMEM;
                        size_t i;
                        json_t *d;
                        json_array_foreach(v, i, d) {
                                r = decode_domain(d, &rep->domains[i], e);
                                rep->n_domains = i + 1; /* so a partial entry's thumbnail is freed */
                                if (r < 0)
                                        return r;
                        }
                } else if (strcmp(key, "logons") == 0 || strcmp(key, "logoffs") == 0) {
                        r = decode_session_events(v, strcmp(key, "logons") == 0, rep, e);
                } else if (strcmp(key, "transport") == 0)
                        r = decode_transport(v, rep, e);
                else if (strcmp(key, "request_results") == 0)
                        r = decode_request_results(v, rep, e);
                else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

int decode_report(const char *data, size_t len, HostReport *ret, ApiError *e) {
        HostReport rep = {};
        json_t *root = NULL;
        int r = json_load_object(data, len, false, &root, e);
        if (r < 0)
                return r;
        rep.session_events = calloc(REPORT_SESSION_EVENTS_MAX, sizeof(ReportSessionEvent));
        r = rep.session_events ? decode_root(root, &rep, e) : -ENOMEM;
        json_decref(root);
        if (r < 0) {
                host_report_done(&rep);
                return r;
        }
        *ret = rep;
        return 0;
}
