/* reporter — the worker's one HTTP connection to the gateway (libcurl, keep-alive): it
 * registers the agent, sends heartbeats (idle/busy, then offline at exit), and reports
 * outcomes in batches with the attempt each job was claimed at. The gateway applies an
 * outcome only while the job is still running at that attempt; a refused one (409) is
 * logged and dropped. Transport errors and the answers http_status_retryable names (408,
 * 429, 5xx) are retried with backoff for as long as the job is still ours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/http_client.h"
#include "common/http_status.h"
#include "common/isotime.h"
#include "common/json_print.h"
#include "common/log.h"
#include "worker/runtime/shared.h"

#define HTTP_TIMEOUT_MS 30000
#define REPORT_BODY_MAX (512 * 1024)
#define REPORT_BODY_KEEP (128 * 1024) /* larger report buffers are freed after use */

static struct http_client *client_for(const struct runtime *rt)
{
    return http_client_new(config_str(rt->cfg, CFG_BACKEND_API_URL),
                           config_str(rt->cfg, CFG_API_KEY), HTTP_TIMEOUT_MS);
}

/* The agent state fields this process maintains (merged into agent_states.state). */
static cJSON *agent_state(const struct runtime *rt, const char *status, int active)
{
    cJSON *s = cJSON_CreateObject();
    char now[ISOTIME_LEN];
    isotime_now(now);
    cJSON_AddStringToObject(s, "status", status);
    cJSON *caps = cJSON_AddArrayToObject(s, "capabilities");
    for (const char *const *c = rt->agent->capabilities; c && *c; c++)
        cJSON_AddItemToArray(caps, cJSON_CreateString(*c));
    cJSON_AddStringToObject(s, "lastHeartbeat", now);
    cJSON_AddStringToObject(s, "worker", rt->worker);
    cJSON_AddNumberToObject(s, "activeJobs", active);
    return s;
}

static bool key_refused_status(int status) { return status == 401 || status == 403; }

/* The gateway refused our key at work (revoked, or not an agent key): no retry can help, and
 * jobs we claim could never be reported. Tells the main thread, which hands every job back
 * and exits with WORKER_EXIT_FATAL. */
static void key_refused(struct runtime *rt, int status, const char *body)
{
    pthread_mutex_lock(&rt->lock);
    bool first = !rt->key_refused;
    rt->key_refused = true;
    runtime_wake(rt);
    pthread_mutex_unlock(&rt->lock);
    if (first) {
        char quoted[400];
        log_error(
            "msg=\"the gateway refused our API key; handing every job back and exiting\" status=%d "
            "error=%s",
            status, log_quote(body, quoted, sizeof(quoted)));
    }
}

/* PUT-merges our fields into the agent's state, registering the agent when it is unknown.
 * Returns the last HTTP status (0: no answer). */
static int send_state(struct http_client *hc, const struct runtime *rt, const char *status,
                      int active, struct http_response *resp)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "state", agent_state(rt, status, active));
    cJSON_AddBoolToObject(body, "merge", true);
    char *text = json_print(body);
    cJSON_Delete(body);
    char path[256];
    snprintf(path, sizeof(path), "/api/agents/%s", rt->agent->name);
    int code = text ? http_client_send(hc, "PUT", path, text, resp) : 0;
    free(text);
    if (code != 404)
        return code;
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "agentName", rt->agent->name);
    cJSON_AddItemToObject(body, "initialState", agent_state(rt, status, active));
    text = json_print(body);
    cJSON_Delete(body);
    code = text ? http_client_send(hc, "POST", "/api/agents/register", text, resp) : 0;
    free(text);
    return code;
}

int reporter_register(struct runtime *rt, char *err, size_t errlen)
{
    struct http_client *hc = client_for(rt);
    if (!hc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct http_response resp;
    int code = send_state(hc, rt, "idle", 0, &resp);
    int rc = 0;
    if (http_status_retryable(code)) {
        snprintf(err, errlen, "%s", code ? resp.body : resp.error);
        rc = -1;
    } else if (code >= 400) {
        snprintf(err, errlen, "the gateway answered %d: %.300s", code, resp.body);
        rc = -2;
    }
    http_client_free(hc);
    return rc;
}

/* ---- outcomes ---------------------------------------------------------------------- */

/* Appends a completed job's item, {"id":…,"attempt":…,"result":…}, written around the
 * result's text directly: building a tree for the wrapper costs more than the result
 * (docs/measurements.md). */
static bool add_completed(struct strbuf *b, const struct job *j)
{
    char num[JSON_NUMBER_MAX];
    size_t before = b->len;
    bool ok = strbuf_add(b, "{\"id\":", 6) == 0 &&
              strbuf_add(b, num, json_print_number((double)j->id, num)) == 0 &&
              strbuf_add(b, ",\"attempt\":", 11) == 0 &&
              strbuf_add(b, num, json_print_number(j->attempt, num)) == 0 &&
              (!j->result || (strbuf_add(b, ",\"result\":", 10) == 0 &&
                              strbuf_add(b, j->result, strlen(j->result)) == 0)) &&
              strbuf_add(b, "}", 1) == 0;
    if (!ok && b->p) {
        b->len = before;
        b->p[before] = '\0';
    }
    return ok;
}

/* Appends job's outcome to a report body as one item of "jobs". */
static bool add_outcome(struct strbuf *b, const struct job *j)
{
    if (!j->failed)
        return add_completed(b, j);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)j->id);
    cJSON_AddNumberToObject(o, "attempt", j->attempt);
    cJSON_AddStringToObject(o, "error", j->error ? j->error : "failed");
    cJSON_AddBoolToObject(o, "retryable", j->retryable);
    bool ok = json_print_append(b, o) == 0;
    cJSON_Delete(o);
    return ok;
}

static void ack(struct runtime *rt, struct job **jobs, int n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&rt->lock);
    for (int i = 0; i < n; i++)
        jobq_push(&rt->acked_q, jobs[i]);
    runtime_wake(rt);
    pthread_mutex_unlock(&rt->lock);
}

/* Reads {"results":[{"id":…,"status":…}|{"id":…,"error":{…}}]} and logs refusals. */
static void log_refusals(const char *body, bool failed_kind)
{
    if (!strstr(body, "\"error\"")) /* the usual answer: every outcome applied */
        return;
    cJSON *doc = cJSON_Parse(body);
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(doc, "results");
    const cJSON *r;
    cJSON_ArrayForEach(r, results)
    {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
        if (!e)
            continue;
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        char quoted[600];
        log_warn(
            "msg=\"gateway refused an outcome; dropping it\" job=%.0f kind=%s code=%s reason=%s",
            cJSON_IsNumber(id) ? id->valuedouble : -1.0, failed_kind ? "fail" : "complete",
            cJSON_IsString(code) ? code->valuestring : "?",
            log_quote(cJSON_IsString(msg) ? msg->valuestring : "", quoted, sizeof(quoted)));
    }
    cJSON_Delete(doc);
}

/* Whether the reporter should stop retrying: jobs no longer ours, or shutdown gave up. */
static bool give_up(struct runtime *rt, struct job **jobs, int n)
{
    pthread_mutex_lock(&rt->lock);
    bool all_dropped = true;
    for (int i = 0; i < n && all_dropped; i++)
        all_dropped = jobs[i]->dropped;
    bool late = rt->reporter_stop && clock_now() > rt->reporter_give_up;
    pthread_mutex_unlock(&rt->lock);
    return all_dropped || late;
}

static void backoff_wait(struct runtime *rt, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&rt->lock);
    pthread_cond_timedwait(&rt->report_cond, &rt->lock, &ts);
    pthread_mutex_unlock(&rt->lock);
}

/* Sends jobs (all completes or all fails) in bodies of at most REPORT_BODY_MAX bytes, built
 * in b (kept between reports so that it does not grow again for each). */
static void send_kind(struct runtime *rt, struct http_client *hc, struct strbuf *b,
                      struct job **jobs, int n, bool failed_kind)
{
    const char *path = failed_kind ? "/api/jobs/fail" : "/api/jobs/complete";
    struct backoff bo;
    backoff_init(&bo, 200, 5000);
    int done = 0;
    while (done < n) {
        b->len = 0;
        int take = 0;
        bool ok = strbuf_add(b, "{\"jobs\":[", 9) == 0;
        while (ok && done + take < n && (take == 0 || b->len < REPORT_BODY_MAX)) {
            ok = (take == 0 || strbuf_add(b, ",", 1) == 0) && add_outcome(b, jobs[done + take]);
            take += ok;
        }
        ok = ok && strbuf_add(b, "]}", 2) == 0;
        if (!ok) {
            log_error("msg=\"out of memory building a report\"");
            backoff_wait(rt, backoff_next(&bo));
            continue;
        }
        struct http_response resp;
        int code = http_client_send(hc, "POST", path, b->p, &resp);
        if (code == 200) {
            log_refusals(resp.body, failed_kind);
            ack(rt, jobs + done, take);
            done += take;
            backoff_reset(&bo);
        } else if (code == 413 && take == 1 && !failed_kind) {
            /* A result larger than the gateway accepts: report the job failed instead. */
            struct job *j = jobs[done];
            char msg[200];
            snprintf(msg, sizeof(msg), "the task's result is too large for the gateway (HTTP 413)");
            free(j->result);
            j->result = NULL;
            free(j->error);
            j->error = strdup(msg);
            j->failed = true;
            j->retryable = false;
            send_kind(rt, hc, b, jobs + done, 1, true);
            done++;
        } else if (key_refused_status(code)) {
            /* Not acked: the jobs stay held, and the main thread hands them back. */
            key_refused(rt, code, resp.body);
            return;
        } else if (http_status_retryable(code)) {
            char quoted[400];
            long delay = backoff_next(&bo);
            log_warn(
                "msg=\"cannot report outcomes; retrying\" status=%d error=%s retry_ms=%ld jobs=%d",
                code, log_quote(code ? resp.body : resp.error, quoted, sizeof(quoted)), delay,
                n - done);
            if (give_up(rt, jobs + done, n - done)) {
                log_warn("msg=\"giving up on outcomes\" jobs=%d", n - done);
                ack(rt, jobs + done, n - done);
                return;
            }
            backoff_wait(rt, delay);
        } else {
            char quoted[400];
            log_error("msg=\"gateway rejected a report; dropping it\" status=%d body=%s jobs=%d",
                      code, log_quote(resp.body, quoted, sizeof(quoted)), take);
            ack(rt, jobs + done, take);
            done += take;
        }
    }
}

static void report(struct runtime *rt, struct http_client *hc, struct strbuf *body,
                   struct job **jobs, int n)
{
    int nc = 0;
    /* completes first, then fails, each keeping claim order */
    struct job **sorted = malloc((size_t)n * sizeof(*sorted));
    if (!sorted) {
        for (int i = 0; i < n; i++)
            send_kind(rt, hc, body, jobs + i, 1, jobs[i]->failed);
        return;
    }
    for (int i = 0; i < n; i++)
        if (!jobs[i]->failed)
            sorted[nc++] = jobs[i];
    int nf = 0;
    for (int i = 0; i < n; i++)
        if (jobs[i]->failed)
            sorted[nc + nf++] = jobs[i];
    if (nc)
        send_kind(rt, hc, body, sorted, nc, false);
    if (nf)
        send_kind(rt, hc, body, sorted + nc, nf, true);
    free(sorted);
}

/* Whether the finished jobs should be reported now: a full batch, nothing else running
 * that could join them, or the oldest has waited report_delay_s. Under rt->lock. */
bool outcomes_due(const struct runtime *rt, double now)
{
    const struct job *oldest = rt->report_q.head;
    return oldest && (rt->report_q.len >= rt->report_batch || rt->executing + rt->exec_q.len == 0 ||
                      now >= oldest->finished_at + rt->report_delay_s);
}

static void *reporter_main(void *arg)
{
    struct runtime *rt = arg;
    struct http_client *hc = client_for(rt);
    if (!hc) {
        log_error("msg=\"cannot create the HTTP client\"");
        return NULL;
    }
    struct job **batch = calloc((size_t)rt->report_batch, sizeof(*batch));
    double next_beat = clock_now() + rt->heartbeat_s;
    double last_beat = 0;
    bool was_busy = false;
    struct strbuf body = {0}; /* report bodies are built here */
    for (;;) {
        pthread_mutex_lock(&rt->lock);
        for (;;) {
            bool busy = rt->executing + rt->exec_q.len > 0;
            double now = clock_now();
            if (outcomes_due(rt, now) || rt->reporter_stop || now >= next_beat ||
                (busy != was_busy && now - last_beat >= 1.0))
                break;
            double until = busy != was_busy ? last_beat + 1.0 : next_beat;
            if (rt->report_q.head && rt->report_q.head->finished_at + rt->report_delay_s < until)
                until = rt->report_q.head->finished_at + rt->report_delay_s;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double wait = until - now;
            ts.tv_sec += (time_t)wait;
            ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&rt->report_cond, &rt->lock, &ts);
        }
        int n = 0;
        while (batch && n < rt->report_batch && rt->report_q.head) {
            struct job *j = jobq_pop(&rt->report_q);
            if (j->dropped)
                jobq_push(&rt->acked_q, j);
            else
                batch[n++] = j;
        }
        int active = rt->executing + rt->exec_q.len;
        bool stop = rt->reporter_stop && !rt->report_q.head;
        if (!batch)
            runtime_wake(rt);
        pthread_mutex_unlock(&rt->lock);

        if (n > 0)
            report(rt, hc, &body, batch, n);
        if (body.cap > REPORT_BODY_KEEP) { /* an unusually large report: give it back */
            free(body.p);
            body = (struct strbuf){0};
        }
        if (stop && n == 0)
            break;
        double now = clock_now();
        bool busy = active > 0;
        if (now >= next_beat || (busy != was_busy && now - last_beat >= 1.0)) {
            struct http_response resp;
            int code = send_state(hc, rt, busy ? "busy" : "idle", active, &resp);
            if (key_refused_status(code))
                key_refused(rt, code, resp.body);
            else if (code != 200 && code != 201)
                log_warn("msg=\"heartbeat failed\" status=%d error=\"%.200s\"", code,
                         code ? "" : resp.error);
            was_busy = busy;
            last_beat = now;
            next_beat = now + rt->heartbeat_s;
        }
    }
    struct http_response resp;
    if (send_state(hc, rt, "offline", 0, &resp) == 0)
        log_warn("msg=\"could not mark the agent offline\" error=\"%s\"", resp.error);
    free(batch);
    free(body.p);
    http_client_free(hc);
    return NULL;
}

int reporter_start(struct runtime *rt)
{
    return pthread_create(&rt->reporter_thread, NULL, reporter_main, rt) == 0 ? 0 : -1;
}
