
/*
 * Copyright (C) nginx-iot authors
 *
 * Metrics in the Prometheus text format (ngx_iot_metrics.h): the core's
 * counters by one table, what the zone holds, each worker's own values,
 * then the sources other modules added.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_bus.h"
#include "ngx_iot_downlink.h"
#include "ngx_iot_outputs.h"
#include "ngx_iot_metrics.h"


#define NGX_IOT_METRICS_BUF        4096


/*
 * A series of the core: a word of the zone's root (an ngx_atomic_t or an
 * index's count), read as it is, without a lock.  The lines of a family
 * follow each other; its first line has the type and help.
 */
typedef struct {
    const char                *name;
    const char                *type;      /* NULL: the family above */
    const char                *help;
    const char                *labels;
    size_t                     offset;    /* in ngx_iot_sh_t */
} ngx_iot_metric_t;


/* a value that each worker reports of itself */
typedef struct {
    ngx_iot_worker_value_e     what;
    const char                *name;
    const char                *help;
} ngx_iot_metric_worker_t;


typedef struct {
    ngx_iot_metrics_pt         handler;
    void                      *data;
} ngx_iot_metrics_source_t;


struct ngx_iot_metrics_s {
    ngx_cycle_t               *cycle;
    ngx_pool_t                *pool;
    ngx_chain_t               *out;
    ngx_chain_t              **last;
    ngx_buf_t                 *b;
};


static ngx_int_t ngx_iot_metrics_table_write(ngx_iot_metrics_t *m,
    ngx_iot_sh_t *sh);
static ngx_int_t ngx_iot_metrics_downlinks(ngx_iot_metrics_t *m,
    ngx_iot_sh_t *sh);
static ngx_int_t ngx_iot_metrics_zone(ngx_iot_metrics_t *m,
    ngx_iot_sh_t *sh);
static ngx_int_t ngx_iot_metrics_store(ngx_iot_metrics_t *m,
    ngx_iot_sh_t *sh);
static ngx_int_t ngx_iot_metrics_workers(ngx_iot_metrics_t *m,
    ngx_iot_sh_t *sh);
static ngx_uint_t ngx_iot_metrics_alive(ngx_pid_t pid);
static u_char *ngx_iot_metrics_room(ngx_iot_metrics_t *m, size_t len);


#define ngx_iot_metric_at(field)  offsetof(ngx_iot_sh_t, field)


static ngx_iot_metric_t  ngx_iot_metrics_table[] = {

    { "nginx_iot_devices", "gauge",
      "Devices in the registry.", "",
      ngx_iot_metric_at(devices.nelts) },

    { "nginx_iot_collections", "gauge",
      "Collections in the registry.", "",
      ngx_iot_metric_at(collections.nelts) },

    { "nginx_iot_tokens", "gauge",
      "API tokens in the registry.", "",
      ngx_iot_metric_at(tokens.nelts) },

    { "nginx_iot_device_groups", "gauge",
      "Device groups (things dialect) in the registry.", "",
      ngx_iot_metric_at(groups.nelts) },

    { "nginx_iot_products", "gauge",
      "Products (iotda dialect) in the registry.", "",
      ngx_iot_metric_at(products.nelts) },

    { "nginx_iot_sessions", "gauge",
      "Addresses that RADIUS accounting maps to a device now.", "",
      ngx_iot_metric_at(sessions.nelts) },

    { "nginx_iot_uplinks_total", "counter",
      "Uplink messages taken in from known devices, by transport.",
      "transport=\"udp\"",
      ngx_iot_metric_at(metrics.uplinks[NGX_IOT_TRANSPORT_UDP]) },
    { "nginx_iot_uplinks_total", NULL, NULL,
      "transport=\"coap\"",
      ngx_iot_metric_at(metrics.uplinks[NGX_IOT_TRANSPORT_COAP]) },
    { "nginx_iot_uplinks_total", NULL, NULL,
      "transport=\"http\"",
      ngx_iot_metric_at(metrics.uplinks[NGX_IOT_TRANSPORT_HTTP]) },

    { "nginx_iot_uplink_drops_total", "counter",
      "Uplinks not taken in (unknown, large, malformed, refused), or taken "
      "in and not recorded in the history (unrecorded), by reason.",
      "reason=\"unknown\"", ngx_iot_metric_at(unknown) },
    { "nginx_iot_uplink_drops_total", NULL, NULL,
      "reason=\"large\"", ngx_iot_metric_at(large) },
    { "nginx_iot_uplink_drops_total", NULL, NULL,
      "reason=\"malformed\"", ngx_iot_metric_at(malformed) },
    { "nginx_iot_uplink_drops_total", NULL, NULL,
      "reason=\"refused\"", ngx_iot_metric_at(refused) },
    { "nginx_iot_uplink_drops_total", NULL, NULL,
      "reason=\"unrecorded\"", ngx_iot_metric_at(unrecorded) },

    { "nginx_iot_websocket_streams_opened_total", "counter",
      "WebSocket handshakes accepted (each a stream opened).", "",
      ngx_iot_metric_at(metrics.ws_opened) },

    { "nginx_iot_websocket_refused_total", "counter",
      "WebSocket handshakes refused for a limit, by limit.",
      "limit=\"token\"",
      ngx_iot_metric_at(metrics.ws_refused[NGX_IOT_WS_REFUSED_TOKEN]) },
    { "nginx_iot_websocket_refused_total", NULL, NULL,
      "limit=\"collection\"",
      ngx_iot_metric_at(metrics.ws_refused[NGX_IOT_WS_REFUSED_COLLECTION]) },
    { "nginx_iot_websocket_refused_total", NULL, NULL,
      "limit=\"worker\"",
      ngx_iot_metric_at(metrics.ws_refused[NGX_IOT_WS_REFUSED_WORKER]) },
    { "nginx_iot_websocket_refused_total", NULL, NULL,
      "limit=\"zone\"",
      ngx_iot_metric_at(metrics.ws_refused[NGX_IOT_WS_REFUSED_ZONE]) },

    { "nginx_iot_output_messages_total", "counter",
      "Messages of outputs forwarded, or dropped from a full queue "
      "(iot_outputs_queue), by output type.",
      "type=\"webhook\",result=\"forwarded\"",
      ngx_iot_metric_at(metrics.outputs_forwarded[NGX_IOT_OUTPUT_WEBHOOK]) },
    { "nginx_iot_output_messages_total", NULL, NULL,
      "type=\"udp\",result=\"forwarded\"",
      ngx_iot_metric_at(metrics.outputs_forwarded[NGX_IOT_OUTPUT_UDP]) },
    { "nginx_iot_output_messages_total", NULL, NULL,
      "type=\"mqtt\",result=\"forwarded\"",
      ngx_iot_metric_at(metrics.outputs_forwarded[NGX_IOT_OUTPUT_MQTT]) },
    { "nginx_iot_output_messages_total", NULL, NULL,
      "type=\"ifttt\",result=\"forwarded\"",
      ngx_iot_metric_at(metrics.outputs_forwarded[NGX_IOT_OUTPUT_IFTTT]) },
    { "nginx_iot_output_messages_total", NULL, NULL,
      "type=\"webhook\",result=\"dropped\"",
      ngx_iot_metric_at(metrics.outputs_dropped[NGX_IOT_OUTPUT_WEBHOOK]) },
    { "nginx_iot_output_messages_total", NULL, NULL,
      "type=\"udp\",result=\"dropped\"",
      ngx_iot_metric_at(metrics.outputs_dropped[NGX_IOT_OUTPUT_UDP]) },
    { "nginx_iot_output_messages_total", NULL, NULL,
      "type=\"mqtt\",result=\"dropped\"",
      ngx_iot_metric_at(metrics.outputs_dropped[NGX_IOT_OUTPUT_MQTT]) },
    { "nginx_iot_output_messages_total", NULL, NULL,
      "type=\"ifttt\",result=\"dropped\"",
      ngx_iot_metric_at(metrics.outputs_dropped[NGX_IOT_OUTPUT_IFTTT]) },
    { "nginx_iot_output_errors_total", "counter",
      "Delivery rounds of outputs that failed (tried again after a "
      "back-off), by output type.",
      "type=\"webhook\"",
      ngx_iot_metric_at(metrics.outputs_errors[NGX_IOT_OUTPUT_WEBHOOK]) },
    { "nginx_iot_output_errors_total", NULL, NULL,
      "type=\"udp\"",
      ngx_iot_metric_at(metrics.outputs_errors[NGX_IOT_OUTPUT_UDP]) },
    { "nginx_iot_output_errors_total", NULL, NULL,
      "type=\"mqtt\"",
      ngx_iot_metric_at(metrics.outputs_errors[NGX_IOT_OUTPUT_MQTT]) },
    { "nginx_iot_output_errors_total", NULL, NULL,
      "type=\"ifttt\"",
      ngx_iot_metric_at(metrics.outputs_errors[NGX_IOT_OUTPUT_IFTTT]) },

    { "nginx_iot_store_errors_total", "counter",
      "Failed store operations (SQLite errors, files not writable), by "
      "file.",
      "file=\"registry\"", ngx_iot_metric_at(store_fault.errors) },
    { "nginx_iot_store_errors_total", NULL, NULL,
      "file=\"history\"", ngx_iot_metric_at(history_fault.errors) },

    { NULL, NULL, NULL, NULL, 0 }
};


static ngx_iot_metric_worker_t  ngx_iot_metrics_worker_values[] = {

    { NGX_IOT_WORKER_STREAMS, "nginx_iot_worker_websocket_streams",
      "WebSocket streams open in the worker." },

    { NGX_IOT_WORKER_VALUES, NULL, NULL }
};


/* this worker's place in the zone (ngx_iot_metrics_init_process) */
static ngx_iot_metrics_worker_t  *ngx_iot_metrics_me;


ngx_int_t
ngx_iot_metrics_add_source(ngx_cycle_t *cycle, ngx_iot_metrics_pt handler,
    void *data)
{
    ngx_iot_conf_t            *icf;
    ngx_iot_metrics_source_t  *src;

    icf = ngx_iot_get_conf(cycle);

    if (icf == NULL) {
        return NGX_OK;
    }

    if (icf->metrics == NULL) {
        icf->metrics = ngx_array_create(cycle->pool, 4,
                                        sizeof(ngx_iot_metrics_source_t));
        if (icf->metrics == NULL) {
            return NGX_ERROR;
        }
    }

    src = ngx_array_push(icf->metrics);
    if (src == NULL) {
        return NGX_ERROR;
    }

    src->handler = handler;
    src->data = data;

    return NGX_OK;
}


ngx_chain_t *
ngx_iot_metrics_text(ngx_cycle_t *cycle, ngx_pool_t *pool)
{
    ngx_uint_t                 i;
    ngx_iot_sh_t              *sh;
    ngx_iot_conf_t            *icf;
    ngx_iot_metrics_t          m;
    ngx_iot_metrics_source_t  *src;

    icf = ngx_iot_get_conf(cycle);

    if (icf == NULL || icf->shm_zone == NULL) {
        return NULL;
    }

    sh = ngx_iot_zone_ctx(cycle)->sh;

    m.cycle = cycle;
    m.pool = pool;
    m.out = NULL;
    m.last = &m.out;
    m.b = NULL;

    if (ngx_iot_metrics_family(&m, "nginx_iot_info", "gauge",
                               "The module's version.") != NGX_OK
        || ngx_iot_metrics_sample(&m, "nginx_iot_info",
                                  "version=\"" NGX_IOT_VERSION "\"", 1)
           != NGX_OK
        || ngx_iot_metrics_table_write(&m, sh) != NGX_OK
        || ngx_iot_metrics_downlinks(&m, sh) != NGX_OK
        || ngx_iot_metrics_store(&m, sh) != NGX_OK
        || ngx_iot_metrics_zone(&m, sh) != NGX_OK
        || ngx_iot_metrics_workers(&m, sh) != NGX_OK)
    {
        return NULL;
    }

    if (icf->metrics) {
        src = icf->metrics->elts;

        for (i = 0; i < icf->metrics->nelts; i++) {
            if (src[i].handler(&m, src[i].data) != NGX_OK) {
                return NULL;
            }
        }
    }

    if (m.b == NULL) {
        /* nothing at all: an empty answer still needs a buffer */
        if (ngx_iot_metrics_room(&m, 0) == NULL) {
            return NULL;
        }
    }

    m.b->last_buf = 1;
    m.b->last_in_chain = 1;

    return m.out;
}


static ngx_int_t
ngx_iot_metrics_table_write(ngx_iot_metrics_t *m, ngx_iot_sh_t *sh)
{
    ngx_iot_metric_t  *t;

    for (t = ngx_iot_metrics_table; t->name; t++) {

        if (t->type
            && ngx_iot_metrics_family(m, t->name, t->type, t->help) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_iot_metrics_sample(m, t->name, t->labels,
                                   *(volatile ngx_atomic_uint_t *)
                                       ((u_char *) sh + t->offset))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* every transport the core knows, by each state a downlink took */

static ngx_int_t
ngx_iot_metrics_downlinks(ngx_iot_metrics_t *m, ngx_iot_sh_t *sh)
{
    u_char       labels[128];
    ngx_uint_t   t, s;

    static const char  *name = "nginx_iot_downlinks_total";

    if (ngx_iot_metrics_family(m, name, "counter",
                               "Downlinks that took a state (sent, failed, "
                               "queued, delivered, expired), by transport "
                               "and state.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (t = 0; t < NGX_IOT_DOWNLINK_TRANSPORTS; t++) {
        for (s = 0; s < NGX_IOT_METRICS_DOWNLINK_STATES; s++) {

            (void) ngx_sprintf(labels, "transport=\"%V\",state=\"%V\"%Z",
                               ngx_iot_downlink_transport_name(t),
                               ngx_iot_downlink_state_name(s));

            if (ngx_iot_metrics_sample(m, name, (const char *) labels,
                                       sh->metrics.downlinks[t][s])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iot_metrics_store(ngx_iot_metrics_t *m, ngx_iot_sh_t *sh)
{
    static const char  *name = "nginx_iot_store_failing";

    if (ngx_iot_metrics_family(m, name, "gauge",
                               "1 while a store file has trouble (writes "
                               "refused or failing), else 0, by file.")
           != NGX_OK
        || ngx_iot_metrics_sample(m, name, "file=\"registry\"",
                                  sh->store_fault.seen != 0)
           != NGX_OK
        || ngx_iot_metrics_sample(m, name, "file=\"history\"",
                                  sh->history_fault.seen != 0)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the zone's slab pool, and the bus's ring inside it */

static ngx_int_t
ngx_iot_metrics_zone(ngx_iot_metrics_t *m, ngx_iot_sh_t *sh)
{
    u_char              *labels, *p;
    uint64_t             size, used, published;
    ngx_uint_t           i;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_zone_ctx(m->cycle);

    /* the zone's name as the configuration has it, escaped for a label */

    labels = ngx_pnalloc(m->pool, 2 * ctx->name.len + sizeof("zone=\"\""));
    if (labels == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(labels, "zone=\"", sizeof("zone=\"") - 1);

    for (i = 0; i < ctx->name.len; i++) {
        switch (ctx->name.data[i]) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = ctx->name.data[i];
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = ctx->name.data[i];
        }
    }

    *p++ = '"';
    *p = '\0';

    if (ngx_iot_metrics_family(m, "nginx_iot_zone_size_bytes", "gauge",
                               "The size of the shared memory zone "
                               "(iot_zone).")
           != NGX_OK
        || ngx_iot_metrics_sample(m, "nginx_iot_zone_size_bytes",
                                  (const char *) labels,
                                  ngx_iot_zone_size(ctx))
           != NGX_OK
        || ngx_iot_metrics_family(m, "nginx_iot_zone_used_bytes", "gauge",
                                  "Bytes of the zone in use (whole pages "
                                  "of its slab pool).")
           != NGX_OK
        || ngx_iot_metrics_sample(m, "nginx_iot_zone_used_bytes",
                                  (const char *) labels,
                                  ngx_iot_zone_used(ctx))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (sh->bus == NULL) {
        return NGX_OK;
    }

    ngx_iot_bus_usage(sh->bus, &size, &used, &published);

    if (ngx_iot_metrics_family(m, "nginx_iot_bus_size_bytes", "gauge",
                               "The size of the message bus's ring "
                               "(iot_bus_size).")
           != NGX_OK
        || ngx_iot_metrics_sample(m, "nginx_iot_bus_size_bytes", "", size)
           != NGX_OK
        || ngx_iot_metrics_family(m, "nginx_iot_bus_used_bytes", "gauge",
                                  "Bytes of the ring that hold messages "
                                  "(it fills up, then the oldest go).")
           != NGX_OK
        || ngx_iot_metrics_sample(m, "nginx_iot_bus_used_bytes", "", used)
           != NGX_OK
        || ngx_iot_metrics_family(m, "nginx_iot_bus_messages_total",
                                  "counter",
                                  "Messages published on the bus.")
           != NGX_OK
        || ngx_iot_metrics_sample(m, "nginx_iot_bus_messages_total", "",
                                  published)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Each worker's own values, labelled with its pid; a worker that is gone
 * (killed) is left out.  The streams of all workers together too.
 */

static ngx_int_t
ngx_iot_metrics_workers(ngx_iot_metrics_t *m, ngx_iot_sh_t *sh)
{
    u_char                     labels[64];
    uint64_t                   total;
    ngx_pid_t                  pid;
    ngx_uint_t                 i;
    ngx_iot_metric_worker_t   *w;
    ngx_iot_metrics_worker_t  *slot;

    total = 0;

    for (i = 0; i < NGX_IOT_METRICS_WORKERS; i++) {
        slot = &sh->metrics.workers[i];
        pid = (ngx_pid_t) slot->pid;

        if (pid && ngx_iot_metrics_alive(pid)) {
            total += slot->value[NGX_IOT_WORKER_STREAMS];
        }
    }

    if (ngx_iot_metrics_family(m, "nginx_iot_websocket_streams", "gauge",
                               "WebSocket streams open, all workers "
                               "together.")
           != NGX_OK
        || ngx_iot_metrics_sample(m, "nginx_iot_websocket_streams", "",
                                  total)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (w = ngx_iot_metrics_worker_values; w->name; w++) {

        if (ngx_iot_metrics_family(m, w->name, "gauge", w->help) != NGX_OK) {
            return NGX_ERROR;
        }

        for (i = 0; i < NGX_IOT_METRICS_WORKERS; i++) {
            slot = &sh->metrics.workers[i];
            pid = (ngx_pid_t) slot->pid;

            if (pid == 0 || !ngx_iot_metrics_alive(pid)) {
                continue;
            }

            (void) ngx_sprintf(labels, "worker=\"%P\"%Z", pid);

            if (ngx_iot_metrics_sample(m, w->name, (const char *) labels,
                                       slot->value[w->what])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    /* the history's backlog: its peers are the workers (ngx_iot_history.c) */

    if (ngx_iot_metrics_family(m, "nginx_iot_worker_history_backlog",
                               "gauge",
                               "Messages the worker took in that are not "
                               "in the history yet.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_IOT_HISTORY_PEERS; i++) {
        pid = (ngx_pid_t) sh->history_peers[i].pid;

        if (pid == 0 || !ngx_iot_metrics_alive(pid)) {
            continue;
        }

        (void) ngx_sprintf(labels, "worker=\"%P\"%Z", pid);

        if (ngx_iot_metrics_sample(m, "nginx_iot_worker_history_backlog",
                                   (const char *) labels,
                                   sh->history_peers[i].pending)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_iot_metrics_alive(ngx_pid_t pid)
{
    return pid == ngx_pid || kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH;
}


ngx_int_t
ngx_iot_metrics_family(ngx_iot_metrics_t *m, const char *name,
    const char *type, const char *help)
{
    u_char  *p;
    size_t   len;

    len = 2 * ngx_strlen(name) + ngx_strlen(type) + ngx_strlen(help)
          + sizeof("# HELP  \n# TYPE  \n");

    p = ngx_iot_metrics_room(m, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    /* help texts are ours: no backslash or newline to escape */

    m->b->last = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                             name, help, name, type);

    return NGX_OK;
}


ngx_int_t
ngx_iot_metrics_sample(ngx_iot_metrics_t *m, const char *name,
    const char *labels, uint64_t value)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(name) + ngx_strlen(labels) + NGX_INT64_LEN
          + sizeof("{} \n");

    p = ngx_iot_metrics_room(m, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (labels[0]) {
        m->b->last = ngx_sprintf(p, "%s{%s} %uL\n", name, labels, value);

    } else {
        m->b->last = ngx_sprintf(p, "%s %uL\n", name, value);
    }

    return NGX_OK;
}


/* where len more bytes go: a new buffer when the last one is full */

static u_char *
ngx_iot_metrics_room(ngx_iot_metrics_t *m, size_t len)
{
    ngx_chain_t  *cl;

    if (m->b && (size_t) (m->b->end - m->b->last) >= len) {
        return m->b->last;
    }

    cl = ngx_alloc_chain_link(m->pool);
    if (cl == NULL) {
        return NULL;
    }

    m->b = ngx_create_temp_buf(m->pool,
                               ngx_max(len, NGX_IOT_METRICS_BUF));
    if (m->b == NULL) {
        return NULL;
    }

    cl->buf = m->b;
    cl->next = NULL;
    *m->last = cl;
    m->last = &cl->next;

    return m->b->last;
}


void
ngx_iot_metrics_downlink(ngx_cycle_t *cycle, ngx_uint_t transport,
    ngx_uint_t state)
{
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf(cycle);

    if (icf == NULL || icf->shm_zone == NULL
        || transport >= NGX_IOT_DOWNLINK_TRANSPORTS
        || state >= NGX_IOT_METRICS_DOWNLINK_STATES)
    {
        return;
    }

    ngx_iot_metrics_count(
        ngx_iot_zone_ctx(cycle)->sh->metrics.downlinks[transport][state]);
}


/*
 * A place among the workers; the place of a worker that is gone (killed)
 * is taken back first.  With none left (more than 64 workers at once)
 * this worker's values are not reported.
 */

void
ngx_iot_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_pid_t                  pid;
    ngx_uint_t                 i, j;
    ngx_iot_sh_t              *sh;
    ngx_iot_metrics_worker_t  *slot;

    sh = ngx_iot_zone_ctx(cycle)->sh;

    for (i = 0; i < NGX_IOT_METRICS_WORKERS; i++) {
        slot = &sh->metrics.workers[i];
        pid = (ngx_pid_t) slot->pid;

        if (pid == 0 || ngx_iot_metrics_alive(pid)) {
            continue;
        }

        for (j = 0; j < NGX_IOT_WORKER_VALUES; j++) {
            slot->value[j] = 0;
        }

        (void) ngx_atomic_cmp_set(&slot->pid, (ngx_atomic_uint_t) pid, 0);
    }

    for (i = 0; i < NGX_IOT_METRICS_WORKERS; i++) {
        slot = &sh->metrics.workers[i];

        if (ngx_atomic_cmp_set(&slot->pid, 0, (ngx_atomic_uint_t) ngx_pid)) {
            for (j = 0; j < NGX_IOT_WORKER_VALUES; j++) {
                slot->value[j] = 0;
            }

            ngx_iot_metrics_me = slot;
            return;
        }
    }
}


void
ngx_iot_metrics_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                 j;
    ngx_iot_metrics_worker_t  *slot;

    slot = ngx_iot_metrics_me;

    if (slot == NULL) {
        return;
    }

    ngx_iot_metrics_me = NULL;

    for (j = 0; j < NGX_IOT_WORKER_VALUES; j++) {
        slot->value[j] = 0;
    }

    (void) ngx_atomic_cmp_set(&slot->pid, (ngx_atomic_uint_t) ngx_pid, 0);
}


void
ngx_iot_metrics_worker(ngx_iot_worker_value_e what, ngx_uint_t value)
{
    if (ngx_iot_metrics_me) {
        ngx_iot_metrics_me->value[what] = value;
    }
}
