/* stats — GET /api/stats/jobs?window=SECONDS&agent=NAME: counts, failure rates,
 * retries, throughput, latency percentiles and the most common errors of the
 * jobs created or finished within the window, per agent and taskType. One
 * statement (fs_job_stats in sql/005_api.sql) builds the whole answer. */
#include <stdio.h>

#include "gateway/db/queries.h"
#include "gateway/handlers.h"
#include "gateway/http/request.h"

#define STATS_WINDOW_DEFAULT 3600
#define STATS_WINDOW_MAX 2592000 /* 30 days */

void stats_jobs(struct request *r)
{
    long window = STATS_WINDOW_DEFAULT;
    if (request_query_int(r, "window", 1, STATS_WINDOW_MAX, &window) < 0)
        return;
    const char *agent = request_query_param(r, "agent");
    if (agent && request_check_agent_name(r, agent, "agent") < 0)
        return;
    char wbuf[24];
    snprintf(wbuf, sizeof(wbuf), "%ld", window);
    const char *params[2] = {wbuf, agent};
    request_query_body(r, Q_JOB_STATS, 2, params, 200);
}
