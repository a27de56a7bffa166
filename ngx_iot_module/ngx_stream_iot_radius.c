
/*
 * Copyright (C) nginx-iot authors
 *
 * NB-IoT attach over RADIUS: a stream content handler for "listen ... udp"
 * servers that answers the packet gateways' Access-Requests and
 * Accounting-Requests (3GPP TS 29.061) from the core's session API.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>
#include "ngx_iot.h"
#include "ngx_iot_session.h"
#include "ngx_iot_radius.h"
#include "ngx_stream_iot_listen.h"


/* replies kept for retransmissions, per worker */
#define NGX_STREAM_IOT_RADIUS_CACHE_TIME    30000
#define NGX_STREAM_IOT_RADIUS_CACHE_MAX     8192

/* source address (16), port (2), code, identifier, authenticator (16) */
#define NGX_STREAM_IOT_RADIUS_KEY_LEN       36

#define NGX_STREAM_IOT_RADIUS_NAME_MAX      64
#define NGX_STREAM_IOT_RADIUS_ZONE          "ngx_stream_iot_radius"


typedef enum {
    NGX_STREAM_IOT_RADIUS_RECEIVED = 0,
    NGX_STREAM_IOT_RADIUS_ACCESS_ACCEPT,
    NGX_STREAM_IOT_RADIUS_ACCESS_REJECT,
    NGX_STREAM_IOT_RADIUS_ACCOUNTING_RESPONSE,
    NGX_STREAM_IOT_RADIUS_RETRANSMITTED,
    NGX_STREAM_IOT_RADIUS_DROP_UNKNOWN_SOURCE,
    NGX_STREAM_IOT_RADIUS_DROP_MALFORMED,
    NGX_STREAM_IOT_RADIUS_DROP_UNSUPPORTED_CODE,
    NGX_STREAM_IOT_RADIUS_DROP_BAD_AUTHENTICATOR,
    NGX_STREAM_IOT_RADIUS_DROP_BAD_MA,
    NGX_STREAM_IOT_RADIUS_DROP_NO_MA,
    NGX_STREAM_IOT_RADIUS_DROP_CORE_ERROR,
    NGX_STREAM_IOT_RADIUS_DROP_SEND_FAILED,
    NGX_STREAM_IOT_RADIUS_NCOUNTERS
} ngx_stream_iot_radius_counter_e;


/* in shared memory: the totals of every worker */
typedef struct {
    ngx_atomic_t                       n[NGX_STREAM_IOT_RADIUS_NCOUNTERS];
} ngx_stream_iot_radius_stats_t;


typedef struct {
    ngx_iot_gateway_t                  core;
    ngx_cidr_t                         from;
    ngx_str_t                          secret;
    ngx_uint_t                         prefix;  /* of "from", longest wins */
    ngx_flag_t                         require_ma;
} ngx_stream_iot_radius_gateway_t;


typedef struct {
    ngx_rbtree_node_t                  node;
    ngx_queue_t                        queue;
    ngx_msec_t                         expire;
    u_char                             key[NGX_STREAM_IOT_RADIUS_KEY_LEN];
    size_t                             len;
    u_char                             reply[1];
} ngx_stream_iot_radius_cached_t;


typedef struct {
    ngx_rbtree_t                       rbtree;
    ngx_rbtree_node_t                  sentinel;
    ngx_queue_t                        queue;     /* oldest first */
    ngx_uint_t                         n;
} ngx_stream_iot_radius_cache_t;


/* a request the core has, until it answers */
typedef struct {
    ngx_queue_t                        queue;     /* in the session's */
    ngx_stream_session_t              *session;
    ngx_stream_iot_radius_gateway_t   *gw;
    ngx_pool_t                        *pool;      /* its own */
    ngx_iot_radius_packet_t            pkt;       /* in a copy of the data */
    ngx_iot_session_info_t             info;
    in_addr_t                          addr;      /* attach: the answer */
    const char                        *what;      /* accounting: its kind */
    ngx_iot_wait_t                     wait;
    u_char                             key[NGX_STREAM_IOT_RADIUS_KEY_LEN];
    u_char                             imeisv[NGX_IOT_IMEISV_MAX];
    u_char                             msisdn[NGX_IOT_MSISDN_MAX];
    unsigned                           refused:1; /* rejected before */
} ngx_stream_iot_radius_req_t;


/* a datagram session: its requests that wait for the core */
typedef struct {
    ngx_queue_t                        pending;
} ngx_stream_iot_radius_ctx_t;


typedef struct {
    ngx_array_t                        gateways;
    ngx_uint_t                         used;
    ngx_shm_zone_t                    *shm_zone;
    ngx_stream_iot_radius_stats_t     *stats;
    ngx_stream_iot_radius_cache_t      cache;
} ngx_stream_iot_radius_main_conf_t;


static void ngx_stream_iot_radius_handler(ngx_stream_session_t *s);
static void ngx_stream_iot_radius_read(ngx_event_t *rev);
static void ngx_stream_iot_radius_finish(ngx_stream_session_t *s);
static void ngx_stream_iot_radius_datagram(ngx_stream_session_t *s,
    u_char *data, size_t len);
static ngx_stream_iot_radius_req_t *ngx_stream_iot_radius_request(
    ngx_stream_session_t *s, ngx_stream_iot_radius_gateway_t *gw,
    u_char *data, size_t len, u_char *key);
static void ngx_stream_iot_radius_answered(ngx_iot_wait_t *wait);
static void ngx_stream_iot_radius_answer(ngx_stream_iot_radius_req_t *r,
    ngx_iot_rc_e rc);
static ngx_iot_rc_e ngx_stream_iot_radius_ask(
    ngx_stream_iot_radius_req_t *r);
static ssize_t ngx_stream_iot_radius_access_reply(
    ngx_stream_iot_radius_req_t *r, ngx_iot_rc_e rc, u_char *out);
static ssize_t ngx_stream_iot_radius_accounting_reply(
    ngx_stream_iot_radius_req_t *r, ngx_iot_rc_e rc, u_char *out);
static ngx_int_t ngx_stream_iot_radius_info(ngx_connection_t *c,
    ngx_stream_iot_radius_gateway_t *gw, ngx_iot_radius_packet_t *pkt,
    ngx_iot_session_info_t *info, u_char *imeisv, u_char *msisdn);
static void ngx_stream_iot_radius_send(ngx_stream_session_t *s,
    u_char *buf, size_t len);
static void ngx_stream_iot_radius_done(ngx_stream_session_t *s,
    ngx_int_t status);
static ngx_stream_iot_radius_gateway_t *ngx_stream_iot_radius_find_gateway(
    ngx_stream_iot_radius_main_conf_t *mcf, struct sockaddr *sa);

static void ngx_stream_iot_radius_key(ngx_connection_t *c,
    ngx_iot_radius_packet_t *pkt, u_char *key);
static ngx_stream_iot_radius_cached_t *ngx_stream_iot_radius_cache_find(
    ngx_stream_iot_radius_cache_t *cache, u_char *key);
static void ngx_stream_iot_radius_cache_add(
    ngx_stream_iot_radius_cache_t *cache, u_char *key, u_char *reply,
    size_t len, ngx_log_t *log);
static void ngx_stream_iot_radius_cache_expire(
    ngx_stream_iot_radius_cache_t *cache, ngx_uint_t room);
static void ngx_stream_iot_radius_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);

static ngx_int_t ngx_stream_iot_radius_stats_variable(
    ngx_stream_session_t *s, ngx_stream_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_stream_iot_radius_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_stream_iot_radius_metrics(ngx_iot_metrics_t *m,
    void *data);

static ngx_int_t ngx_stream_iot_radius_preconfiguration(ngx_conf_t *cf);
static void *ngx_stream_iot_radius_create_main_conf(ngx_conf_t *cf);
static char *ngx_stream_iot_radius_init_main_conf(ngx_conf_t *cf,
    void *conf);
static char *ngx_stream_iot_radius_gateway(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_stream_iot_radius(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_stream_iot_radius_exit_process(ngx_cycle_t *cycle);

static char *ngx_stream_iot_radius_check_conf(ngx_cycle_t *cycle,
    void *conf);
static ngx_int_t ngx_stream_iot_radius_not_udp(
    ngx_stream_iot_listen_server_t *srv, void *data);


#define ngx_stream_iot_radius_count(mcf, i)                                  \
    (void) ngx_atomic_fetch_add(&(mcf)->stats->n[i], 1)


/* the names of the counters in $iot_radius_stats */
static ngx_str_t  ngx_stream_iot_radius_counter_names[] = {
    ngx_string("received"),
    ngx_string("accessAccept"),
    ngx_string("accessReject"),
    ngx_string("accountingResponse"),
    ngx_string("retransmitted"),
    ngx_string("unknownSource"),
    ngx_string("malformed"),
    ngx_string("unsupportedCode"),
    ngx_string("badAuthenticator"),
    ngx_string("badMessageAuthenticator"),
    ngx_string("noMessageAuthenticator"),
    ngx_string("coreError"),
    ngx_string("sendFailed")
};


/*
 * The counters as metrics (ngx_iot_metrics.h): each counter's family and
 * labels, in the order of the counters; a family's first line has its
 * type and help.
 */
static struct {
    const char                        *name;
    const char                        *help;
    const char                        *labels;
} ngx_stream_iot_radius_metric[] = {
    { "nginx_iot_radius_received_total",
      "RADIUS datagrams received.", "" },
    { "nginx_iot_radius_requests_total",
      "RADIUS requests answered by the core, by type and result.",
      "type=\"access\",result=\"accept\"" },
    { "nginx_iot_radius_requests_total", NULL,
      "type=\"access\",result=\"reject\"" },
    { "nginx_iot_radius_requests_total", NULL,
      "type=\"accounting\",result=\"response\"" },
    { "nginx_iot_radius_retransmissions_total",
      "RADIUS retransmissions answered from the cache.", "" },
    { "nginx_iot_radius_drops_total",
      "RADIUS datagrams not answered, by reason.",
      "reason=\"unknown_source\"" },
    { "nginx_iot_radius_drops_total", NULL, "reason=\"malformed\"" },
    { "nginx_iot_radius_drops_total", NULL, "reason=\"unsupported_code\"" },
    { "nginx_iot_radius_drops_total", NULL,
      "reason=\"bad_authenticator\"" },
    { "nginx_iot_radius_drops_total", NULL,
      "reason=\"bad_message_authenticator\"" },
    { "nginx_iot_radius_drops_total", NULL,
      "reason=\"no_message_authenticator\"" },
    { "nginx_iot_radius_drops_total", NULL, "reason=\"core_error\"" },
    { "nginx_iot_radius_drops_total", NULL, "reason=\"send_failed\"" }
};


static ngx_command_t  ngx_stream_iot_radius_commands[] = {

    { ngx_string("iot_radius_gateway"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_2MORE,
      ngx_stream_iot_radius_gateway,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_radius"),
      NGX_STREAM_SRV_CONF|NGX_CONF_NOARGS,
      ngx_stream_iot_radius,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_iot_radius_module_ctx = {
    ngx_stream_iot_radius_preconfiguration,  /* preconfiguration */
    NULL,                                    /* postconfiguration */

    ngx_stream_iot_radius_create_main_conf,  /* create main configuration */
    ngx_stream_iot_radius_init_main_conf,    /* init main configuration */

    NULL,                                    /* create server configuration */
    NULL                                     /* merge server configuration */
};


ngx_module_t  ngx_stream_iot_radius_module = {
    NGX_MODULE_V1,
    &ngx_stream_iot_radius_module_ctx,     /* module context */
    ngx_stream_iot_radius_commands,        /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_stream_iot_radius_exit_process,    /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the check of the listens, once they are made: see below */

static ngx_core_module_t  ngx_stream_iot_radius_check_module_ctx = {
    ngx_string("iot_radius_check"),
    NULL,                                  /* create configuration */
    ngx_stream_iot_radius_check_conf       /* init configuration */
};


ngx_module_t  ngx_stream_iot_radius_check_module = {
    NGX_MODULE_V1,
    &ngx_stream_iot_radius_check_module_ctx, /* module context */
    NULL,                                  /* module directives */
    NGX_CORE_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * A datagram session belongs to one source address and port, which a
 * gateway keeps for all its requests.  What needs no write (a reject, a
 * retransmission, a drop) is answered at once.  What does (an attach, the
 * accounting) is answered once the write is durable: until then the
 * session stays, takes the gateway's next datagrams in its read handler,
 * and is finalized when no request of it waits any more.
 */

static void
ngx_stream_iot_radius_handler(ngx_stream_session_t *s)
{
    ngx_buf_t                          *b;
    ngx_connection_t                   *c;
    ngx_stream_iot_radius_ctx_t        *ctx;
    ngx_stream_iot_radius_main_conf_t  *mcf;

    c = s->connection;
    b = c->buffer;

    mcf = ngx_stream_get_module_main_conf(s, ngx_stream_iot_radius_module);

    c->log->action = "handling a RADIUS request";

    if (c->type != SOCK_DGRAM || b == NULL) {
        ngx_stream_iot_radius_count(mcf, NGX_STREAM_IOT_RADIUS_RECEIVED);
        ngx_stream_iot_radius_done(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx = ngx_pcalloc(c->pool, sizeof(ngx_stream_iot_radius_ctx_t));
    if (ctx == NULL) {
        ngx_stream_iot_radius_done(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_queue_init(&ctx->pending);
    ngx_stream_set_ctx(s, ctx, ngx_stream_iot_radius_module);

    ngx_stream_iot_radius_datagram(s, b->pos, b->last - b->pos);

    ngx_stream_iot_radius_finish(s);
}


/* the gateway's next datagrams while requests of the session wait */

static void
ngx_stream_iot_radius_read(ngx_event_t *rev)
{
    ssize_t                n;
    ngx_connection_t      *c;
    ngx_stream_session_t  *s;

    static u_char          buf[65536];

    c = rev->data;
    s = c->data;

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN || n == NGX_ERROR) {
            break;
        }

        ngx_stream_iot_radius_datagram(s, buf, n);
    }

    ngx_stream_iot_radius_finish(s);
}


/* the session ends once none of its requests waits for the core */

static void
ngx_stream_iot_radius_finish(ngx_stream_session_t *s)
{
    ngx_stream_iot_radius_ctx_t  *ctx;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_radius_module);

    if (ngx_queue_empty(&ctx->pending)) {
        ngx_stream_iot_radius_done(s, NGX_STREAM_OK);
        return;
    }

    s->connection->read->handler = ngx_stream_iot_radius_read;
}


static void
ngx_stream_iot_radius_datagram(ngx_stream_session_t *s, u_char *data,
    size_t len)
{
    ngx_uint_t                           counter;
    ngx_queue_t                         *q;
    const char                          *why;
    ngx_iot_rc_e                         irc;
    ngx_connection_t                    *c;
    ngx_iot_radius_rc_e                  rc;
    ngx_iot_radius_packet_t              pkt;
    ngx_stream_iot_radius_req_t         *r;
    ngx_stream_iot_radius_ctx_t         *ctx;
    ngx_stream_iot_radius_cached_t      *cached;
    ngx_stream_iot_radius_gateway_t     *gw;
    ngx_stream_iot_radius_main_conf_t   *mcf;
    u_char                               key[NGX_STREAM_IOT_RADIUS_KEY_LEN];

    c = s->connection;

    mcf = ngx_stream_get_module_main_conf(s, ngx_stream_iot_radius_module);
    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_radius_module);

    ngx_stream_iot_radius_count(mcf, NGX_STREAM_IOT_RADIUS_RECEIVED);

    gw = ngx_stream_iot_radius_find_gateway(mcf, c->sockaddr);

    if (gw == NULL) {
        ngx_stream_iot_radius_count(mcf,
                                    NGX_STREAM_IOT_RADIUS_DROP_UNKNOWN_SOURCE);
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: datagram from an address of no "
                      "iot_radius_gateway, dropped");
        return;
    }

    rc = ngx_iot_radius_parse(data, len, &pkt, &why);

    if (rc == NGX_IOT_RADIUS_OK
        && pkt.code == NGX_IOT_RADIUS_ACCOUNTING_REQUEST
        && pkt.acct_status_type == -1)
    {
        rc = NGX_IOT_RADIUS_MALFORMED;
        why = "Accounting-Request without Acct-Status-Type";
    }

    if (rc != NGX_IOT_RADIUS_OK) {
        ngx_stream_iot_radius_count(mcf, NGX_STREAM_IOT_RADIUS_DROP_MALFORMED);
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: malformed datagram from gateway \"%V\" "
                      "(%uz bytes): %s, dropped", &gw->core.name, len, why);
        return;
    }

    if (pkt.code != NGX_IOT_RADIUS_ACCESS_REQUEST
        && pkt.code != NGX_IOT_RADIUS_ACCOUNTING_REQUEST)
    {
        ngx_stream_iot_radius_count(mcf,
                                  NGX_STREAM_IOT_RADIUS_DROP_UNSUPPORTED_CODE);
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: code %ui from gateway \"%V\" is not "
                      "supported, dropped", pkt.code, &gw->core.name);
        return;
    }

    rc = ngx_iot_radius_verify(&pkt, &gw->secret, gw->require_ma, &why);

    if (rc != NGX_IOT_RADIUS_OK) {

        switch (rc) {

        case NGX_IOT_RADIUS_BAD_AUTHENTICATOR:
            counter = NGX_STREAM_IOT_RADIUS_DROP_BAD_AUTHENTICATOR;
            break;

        case NGX_IOT_RADIUS_NO_MESSAGE_AUTHENTICATOR:
            counter = NGX_STREAM_IOT_RADIUS_DROP_NO_MA;
            break;

        default:
            counter = NGX_STREAM_IOT_RADIUS_DROP_BAD_MA;
            break;
        }

        ngx_stream_iot_radius_count(mcf, counter);
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: %s %ui from gateway \"%V\": %s, dropped",
                      ngx_iot_radius_code_name(pkt.code), pkt.id,
                      &gw->core.name, why);
        return;
    }

    /* a retransmission gets the reply it had, without the core */

    ngx_stream_iot_radius_key(c, &pkt, key);

    cached = ngx_stream_iot_radius_cache_find(&mcf->cache, key);

    if (cached) {
        ngx_stream_iot_radius_count(mcf, NGX_STREAM_IOT_RADIUS_RETRANSMITTED);
        ngx_log_debug2(NGX_LOG_DEBUG_STREAM, c->log, 0,
                       "radius: %s %ui retransmitted, same reply sent",
                       ngx_iot_radius_code_name(pkt.code), pkt.id);
        ngx_stream_iot_radius_send(s, cached->reply, cached->len);
        return;
    }

    /* ... and none while the core still has it: its reply is on its way */

    for (q = ngx_queue_head(&ctx->pending);
         q != ngx_queue_sentinel(&ctx->pending);
         q = ngx_queue_next(q))
    {
        r = ngx_queue_data(q, ngx_stream_iot_radius_req_t, queue);

        if (ngx_memcmp(r->key, key, NGX_STREAM_IOT_RADIUS_KEY_LEN) == 0) {
            ngx_stream_iot_radius_count(mcf,
                                        NGX_STREAM_IOT_RADIUS_RETRANSMITTED);
            ngx_log_debug2(NGX_LOG_DEBUG_STREAM, c->log, 0,
                           "radius: %s %ui retransmitted while it is "
                           "being answered",
                           ngx_iot_radius_code_name(pkt.code), pkt.id);
            return;
        }
    }

    r = ngx_stream_iot_radius_request(s, gw, data, len, key);
    if (r == NULL) {
        ngx_stream_iot_radius_count(mcf,
                                    NGX_STREAM_IOT_RADIUS_DROP_CORE_ERROR);
        return;
    }

    irc = ngx_stream_iot_radius_ask(r);

    if (irc == NGX_IOT_QUEUED) {
        ngx_queue_insert_tail(&ctx->pending, &r->queue);
        return;
    }

    ngx_stream_iot_radius_answer(r, irc);
}


/* a request to the core, with a copy of its datagram */

static ngx_stream_iot_radius_req_t *
ngx_stream_iot_radius_request(ngx_stream_session_t *s,
    ngx_stream_iot_radius_gateway_t *gw, u_char *data, size_t len,
    u_char *key)
{
    u_char                       *copy;
    ngx_pool_t                   *pool;
    const char                   *why;
    ngx_connection_t             *c;
    ngx_stream_iot_radius_req_t  *r;

    c = s->connection;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, c->log);
    if (pool == NULL) {
        return NULL;
    }

    r = ngx_pcalloc(pool, sizeof(ngx_stream_iot_radius_req_t));
    copy = ngx_pnalloc(pool, len);
    if (r == NULL || copy == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    ngx_memcpy(copy, data, len);

    /* it parsed before: now its fields point into the copy */

    if (ngx_iot_radius_parse(copy, len, &r->pkt, &why) != NGX_IOT_RADIUS_OK) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    r->session = s;
    r->gw = gw;
    r->pool = pool;
    ngx_memcpy(r->key, key, NGX_STREAM_IOT_RADIUS_KEY_LEN);

    r->wait.handler = ngx_stream_iot_radius_answered;
    r->wait.data = r;
    r->wait.pool = pool;

    return r;
}


/* on the event loop: the core has a request's write */

static void
ngx_stream_iot_radius_answered(ngx_iot_wait_t *wait)
{
    ngx_stream_iot_radius_req_t *r = wait->data;

    ngx_stream_session_t  *s;

    s = r->session;

    ngx_queue_remove(&r->queue);
    ngx_stream_iot_radius_answer(r, wait->rc);

    ngx_stream_iot_radius_finish(s);
}


/* the reply to a request, from the core's answer; the request is done */

static void
ngx_stream_iot_radius_answer(ngx_stream_iot_radius_req_t *r, ngx_iot_rc_e rc)
{
    ssize_t                              n;
    ngx_uint_t                           counter;
    ngx_stream_session_t                *s;
    ngx_stream_iot_radius_main_conf_t   *mcf;
    u_char                               out[NGX_IOT_RADIUS_MAX_LEN];

    s = r->session;

    mcf = ngx_stream_get_module_main_conf(s, ngx_stream_iot_radius_module);

    if (r->pkt.code == NGX_IOT_RADIUS_ACCESS_REQUEST) {
        n = ngx_stream_iot_radius_access_reply(r, rc, out);

    } else {
        n = ngx_stream_iot_radius_accounting_reply(r, rc, out);
    }

    if (n <= 0) {
        /* not answered: the gateway retries */
        ngx_stream_iot_radius_count(mcf,
                                    NGX_STREAM_IOT_RADIUS_DROP_CORE_ERROR);
        ngx_destroy_pool(r->pool);
        return;
    }

    switch (out[0]) {

    case NGX_IOT_RADIUS_ACCESS_ACCEPT:
        counter = NGX_STREAM_IOT_RADIUS_ACCESS_ACCEPT;
        break;

    case NGX_IOT_RADIUS_ACCESS_REJECT:
        counter = NGX_STREAM_IOT_RADIUS_ACCESS_REJECT;
        break;

    default:
        counter = NGX_STREAM_IOT_RADIUS_ACCOUNTING_RESPONSE;
        break;
    }

    ngx_stream_iot_radius_count(mcf, counter);

    ngx_stream_iot_radius_cache_add(&mcf->cache, r->key, out, n,
                                    s->connection->log);

    ngx_stream_iot_radius_send(s, out, n);

    ngx_destroy_pool(r->pool);
}


/*
 * What the request asks of the core: NGX_IOT_QUEUED (the write is posted),
 * or the answer here and now, for the reply.
 */

static ngx_iot_rc_e
ngx_stream_iot_radius_ask(ngx_stream_iot_radius_req_t *r)
{
    ngx_int_t                         usable;
    ngx_cycle_t                      *cycle;
    ngx_connection_t                 *c;
    ngx_iot_radius_packet_t          *pkt;
    ngx_stream_iot_radius_gateway_t  *gw;

    c = r->session->connection;
    cycle = (ngx_cycle_t *) ngx_cycle;
    pkt = &r->pkt;
    gw = r->gw;

    usable = ngx_stream_iot_radius_info(c, gw, pkt, &r->info, r->imeisv,
                                        r->msisdn);

    if (pkt->code == NGX_IOT_RADIUS_ACCESS_REQUEST) {

        if (pkt->has_eap) {
            /* this server authenticates by IMSI only, never by EAP */
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "radius: Access-Request %ui from gateway \"%V\" "
                          "carries EAP, which is not supported: rejected",
                          pkt->id, &gw->core.name);
            r->refused = 1;
            return NGX_IOT_NOT_FOUND;
        }

        if (usable != NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "radius: Access-Request %ui from gateway \"%V\" "
                          "without a usable 3GPP-IMSI: rejected",
                          pkt->id, &gw->core.name);
            r->refused = 1;
            return NGX_IOT_NOT_FOUND;
        }

        return ngx_iot_session_attach(cycle, &r->info, &r->addr, c->log,
                                      &r->wait);
    }

    switch (pkt->acct_status_type) {

    case NGX_IOT_RADIUS_ACCT_START:
    case NGX_IOT_RADIUS_ACCT_INTERIM:
        r->what = pkt->acct_status_type == NGX_IOT_RADIUS_ACCT_START
                  ? "Start" : "Interim-Update";

        if (usable != NGX_OK) {
            /* nothing to record, but answered: else it comes forever */
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "radius: Accounting %s %ui from gateway \"%V\" "
                          "without a usable 3GPP-IMSI: answered, ignored",
                          r->what, pkt->id, &gw->core.name);
            return NGX_IOT_OK;
        }

        return ngx_iot_session_start(cycle, &r->info, c->log, &r->wait);

    case NGX_IOT_RADIUS_ACCT_STOP:
        r->what = "Stop";

        /* the core matches a Stop by address and session id */
        return ngx_iot_session_stop(cycle, &r->info, c->log, &r->wait);

    case NGX_IOT_RADIUS_ACCT_ON:
    case NGX_IOT_RADIUS_ACCT_OFF:
        r->what = pkt->acct_status_type == NGX_IOT_RADIUS_ACCT_ON
                  ? "Accounting-On" : "Accounting-Off";

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: %s from gateway \"%V\": its sessions end",
                      r->what, &gw->core.name);

        return ngx_iot_session_purge(cycle, &gw->core, c->log, &r->wait);

    default:
        r->what = "of another type";

        ngx_log_debug2(NGX_LOG_DEBUG_STREAM, c->log, 0,
                       "radius: Acct-Status-Type %i from gateway \"%V\" "
                       "answered, ignored", pkt->acct_status_type,
                       &gw->core.name);
        return NGX_IOT_OK;
    }
}


/* the reply's length, or 0 when the core failed and nothing is sent */

static ssize_t
ngx_stream_iot_radius_access_reply(ngx_stream_iot_radius_req_t *r,
    ngx_iot_rc_e rc, u_char *out)
{
    ssize_t                           n;
    in_addr_t                         addr;
    ngx_uint_t                        code;
    ngx_connection_t                 *c;
    ngx_iot_radius_packet_t          *pkt;
    ngx_stream_iot_radius_gateway_t  *gw;
    u_char                            text[NGX_INET_ADDRSTRLEN];

    c = r->session->connection;
    pkt = &r->pkt;
    gw = r->gw;
    addr = 0;

    switch (rc) {

    case NGX_IOT_OK:
        code = NGX_IOT_RADIUS_ACCESS_ACCEPT;

        /* the core speaks host byte order, the packet network order */
        addr = htonl(r->addr);

        n = ngx_inet_ntop(AF_INET, &addr, text, NGX_INET_ADDRSTRLEN);

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: IMSI %V attached through gateway \"%V\" "
                      "with address %*s", &pkt->imsi, &gw->core.name,
                      (size_t) n, text);
        break;

    case NGX_IOT_NOT_FOUND:
        code = NGX_IOT_RADIUS_ACCESS_REJECT;

        if (!r->refused) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "radius: IMSI %V (gateway \"%V\") is no "
                          "registered device: rejected",
                          &pkt->imsi, &gw->core.name);
        }

        break;

    case NGX_IOT_POOL_EXHAUSTED:
        code = NGX_IOT_RADIUS_ACCESS_REJECT;
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "radius: the address pool of gateway \"%V\" is "
                      "exhausted: IMSI %V rejected",
                      &gw->core.name, &pkt->imsi);
        break;

    default:
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "radius: Access-Request %ui for IMSI %V (gateway "
                      "\"%V\") failed in the core (%d): not answered",
                      pkt->id, &pkt->imsi, &gw->core.name, (int) rc);
        return 0;
    }

    n = ngx_iot_radius_reply(pkt, code,
                             code == NGX_IOT_RADIUS_ACCESS_ACCEPT
                             ? &addr : NULL,
                             &gw->secret, out, NGX_IOT_RADIUS_MAX_LEN);

    if (n == NGX_ERROR) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: reply to Access-Request %ui would be too "
                      "long, not answered", pkt->id);
        return 0;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_STREAM, c->log, 0,
                   "radius: %s %ui, %z bytes",
                   ngx_iot_radius_code_name(out[0]), pkt->id, n);

    return n;
}


static ssize_t
ngx_stream_iot_radius_accounting_reply(ngx_stream_iot_radius_req_t *r,
    ngx_iot_rc_e rc, u_char *out)
{
    ssize_t                           n;
    ngx_connection_t                 *c;
    ngx_iot_radius_packet_t          *pkt;
    ngx_stream_iot_radius_gateway_t  *gw;

    c = r->session->connection;
    pkt = &r->pkt;
    gw = r->gw;

    switch (rc) {

    case NGX_IOT_OK:
        break;

    case NGX_IOT_NOT_FOUND:
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: Accounting %s %ui from gateway \"%V\" for "
                      "IMSI \"%V\", session \"%V\": no such device or "
                      "session, answered", r->what, pkt->id, &gw->core.name,
                      &pkt->imsi, &pkt->acct_session_id);
        break;

    default:
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "radius: Accounting %s %ui from gateway \"%V\" "
                      "failed in the core (%d): not answered",
                      r->what, pkt->id, &gw->core.name, (int) rc);
        return 0;
    }

    n = ngx_iot_radius_reply(pkt, NGX_IOT_RADIUS_ACCOUNTING_RESPONSE, NULL,
                             &gw->secret, out, NGX_IOT_RADIUS_MAX_LEN);

    if (n == NGX_ERROR) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: reply to Accounting-Request %ui would be "
                      "too long, not answered", pkt->id);
        return 0;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_STREAM, c->log, 0,
                   "radius: Accounting %s %ui answered, %z bytes",
                   r->what, pkt->id, n);

    return n;
}


/*
 * What the core is told.  NGX_DECLINED when there is no usable IMSI (absent,
 * or not 1 to 16 digits); the rest is filled in anyway.  IMEISV and MSISDN
 * that are not digits are left empty rather than refusing the request.
 */

static ngx_int_t
ngx_stream_iot_radius_info(ngx_connection_t *c,
    ngx_stream_iot_radius_gateway_t *gw, ngx_iot_radius_packet_t *pkt,
    ngx_iot_session_info_t *info, u_char *imeisv, u_char *msisdn)
{
    ngx_int_t  rc;

    ngx_memzero(info, sizeof(ngx_iot_session_info_t));

    info->gateway = &gw->core;
    info->addr = pkt->has_framed_ip ? ntohl(pkt->framed_ip) : 0;

    /* longer session ids are cut, the same way every time */

    info->session_id.data = pkt->acct_session_id.data;
    info->session_id.len = ngx_min(pkt->acct_session_id.len,
                                   NGX_IOT_SESSION_ID_MAX);

    info->imeisv.data = imeisv;
    info->imeisv.len = ngx_iot_radius_digits(&pkt->imeisv, imeisv,
                                             NGX_IOT_IMEISV_MAX);

    info->msisdn.data = msisdn;
    info->msisdn.len = ngx_iot_radius_msisdn(&pkt->calling_station_id,
                                             msisdn, NGX_IOT_MSISDN_MAX);

    rc = NGX_DECLINED;

    if (pkt->imsi.len
        && ngx_iot_ident_decode(pkt->imsi.data, pkt->imsi.len, &info->imsi)
           == NGX_OK)
    {
        rc = NGX_OK;
    }

    ngx_log_debug8(NGX_LOG_DEBUG_STREAM, c->log, 0,
                   "radius: %s %ui gateway:\"%V\" imsi:\"%V\" "
                   "imeisv:\"%V\" msisdn:\"%V\" session:\"%V\" rat:%i",
                   ngx_iot_radius_code_name(pkt->code), pkt->id,
                   &gw->core.name, &pkt->imsi, &info->imeisv, &info->msisdn,
                   &info->session_id, pkt->rat_type);

    return rc;
}


/*
 * A reply that cannot be sent now is not retried: the gateway retransmits
 * and the retransmission finds the reply in the cache.
 */

static void
ngx_stream_iot_radius_send(ngx_stream_session_t *s, u_char *buf, size_t len)
{
    ssize_t                             n;
    ngx_connection_t                   *c;
    ngx_stream_iot_radius_main_conf_t  *mcf;

    c = s->connection;

    mcf = ngx_stream_get_module_main_conf(s, ngx_stream_iot_radius_module);

    if (ngx_exiting) {
        /*
         * the listening socket is closed and its descriptor may be another
         * file's by now; the gateway retransmits to a worker that listens
         */
        ngx_stream_iot_radius_count(mcf,
                                    NGX_STREAM_IOT_RADIUS_DROP_SEND_FAILED);
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "radius: reply of %uz bytes not sent: the worker "
                      "is exiting", len);
        return;
    }

    n = c->send(c, buf, len);

    if (n == (ssize_t) len) {
        return;
    }

    ngx_stream_iot_radius_count(mcf, NGX_STREAM_IOT_RADIUS_DROP_SEND_FAILED);

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "radius: reply of %uz bytes not sent", len);
}


static void
ngx_stream_iot_radius_done(ngx_stream_session_t *s, ngx_int_t status)
{
#if (NGX_DEBUG)
    ngx_uint_t                          i;
    ngx_atomic_uint_t                   dropped;
    ngx_stream_iot_radius_stats_t      *st;
    ngx_stream_iot_radius_main_conf_t  *mcf;

    if (!(s->connection->log->log_level & NGX_LOG_DEBUG_STREAM)) {
        goto done;
    }

    mcf = ngx_stream_get_module_main_conf(s, ngx_stream_iot_radius_module);
    st = mcf->stats;

    dropped = 0;

    for (i = NGX_STREAM_IOT_RADIUS_DROP_UNKNOWN_SOURCE;
         i < NGX_STREAM_IOT_RADIUS_NCOUNTERS;
         i++)
    {
        dropped += st->n[i];
    }

    ngx_log_debug7(NGX_LOG_DEBUG_STREAM, s->connection->log, 0,
                   "radius: counters: received:%uA accept:%uA reject:%uA "
                   "accounting:%uA retransmitted:%uA dropped:%uA "
                   "cached:%ui",
                   st->n[NGX_STREAM_IOT_RADIUS_RECEIVED],
                   st->n[NGX_STREAM_IOT_RADIUS_ACCESS_ACCEPT],
                   st->n[NGX_STREAM_IOT_RADIUS_ACCESS_REJECT],
                   st->n[NGX_STREAM_IOT_RADIUS_ACCOUNTING_RESPONSE],
                   st->n[NGX_STREAM_IOT_RADIUS_RETRANSMITTED],
                   dropped, mcf->cache.n);

done:
#endif

    ngx_stream_finalize_session(s, status);
}


/* the gateway whose "from" holds the address; the longest prefix wins */

static ngx_stream_iot_radius_gateway_t *
ngx_stream_iot_radius_find_gateway(ngx_stream_iot_radius_main_conf_t *mcf,
    struct sockaddr *sa)
{
    u_char                           *p;
    in_addr_t                         addr;
    ngx_uint_t                        i, family;
    struct sockaddr_in               *sin;
    ngx_stream_iot_radius_gateway_t  *gw, *best;
#if (NGX_HAVE_INET6)
    ngx_uint_t                        j;
    struct sockaddr_in6              *sin6;
#endif

    addr = 0;
    p = NULL;
    family = sa->sa_family;

    switch (family) {

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        addr = sin->sin_addr.s_addr;
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        p = sin6->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            family = AF_INET;
            ngx_memcpy(&addr, p + 12, 4);
        }

        break;
#endif

    default:
        return NULL;
    }

    best = NULL;
    gw = mcf->gateways.elts;

    for (i = 0; i < mcf->gateways.nelts; i++) {

        if (gw[i].from.family != family) {
            continue;
        }

        if (best && best->prefix >= gw[i].prefix) {
            continue;
        }

        switch (family) {

#if (NGX_HAVE_INET6)
        case AF_INET6:
            for (j = 0; j < 16; j++) {
                if ((p[j] & gw[i].from.u.in6.mask.s6_addr[j])
                    != gw[i].from.u.in6.addr.s6_addr[j])
                {
                    break;
                }
            }

            if (j == 16) {
                best = &gw[i];
            }

            break;
#endif

        default: /* AF_INET */
            if ((addr & gw[i].from.u.in.mask) == gw[i].from.u.in.addr) {
                best = &gw[i];
            }

            break;
        }
    }

    return best;
}


/* ---------------------------------------------- the retransmission cache */


static void
ngx_stream_iot_radius_key(ngx_connection_t *c, ngx_iot_radius_packet_t *pkt,
    u_char *key)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ngx_memzero(key, NGX_STREAM_IOT_RADIUS_KEY_LEN);

    switch (c->sockaddr->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) c->sockaddr;
        ngx_memcpy(key, sin6->sin6_addr.s6_addr, 16);
        ngx_memcpy(key + 16, &sin6->sin6_port, 2);
        break;
#endif

    default: /* AF_INET, as ::ffff:a.b.c.d */
        sin = (struct sockaddr_in *) c->sockaddr;
        key[10] = 0xff;
        key[11] = 0xff;
        ngx_memcpy(key + 12, &sin->sin_addr.s_addr, 4);
        ngx_memcpy(key + 16, &sin->sin_port, 2);
        break;
    }

    key[18] = (u_char) pkt->code;
    key[19] = (u_char) pkt->id;
    ngx_memcpy(key + 20, pkt->authenticator, NGX_IOT_RADIUS_AUTH_LEN);
}


static ngx_stream_iot_radius_cached_t *
ngx_stream_iot_radius_cache_find(ngx_stream_iot_radius_cache_t *cache,
    u_char *key)
{
    ngx_int_t                        rc;
    ngx_rbtree_key_t                 hash;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_stream_iot_radius_cached_t  *cached;

    ngx_stream_iot_radius_cache_expire(cache, 0);

    hash = ngx_crc32_short(key, NGX_STREAM_IOT_RADIUS_KEY_LEN);

    node = cache->rbtree.root;
    sentinel = cache->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        cached = (ngx_stream_iot_radius_cached_t *) node;

        rc = ngx_memcmp(key, cached->key, NGX_STREAM_IOT_RADIUS_KEY_LEN);

        if (rc == 0) {
            return cached;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_stream_iot_radius_cache_add(ngx_stream_iot_radius_cache_t *cache,
    u_char *key, u_char *reply, size_t len, ngx_log_t *log)
{
    ngx_stream_iot_radius_cached_t  *cached;

    ngx_stream_iot_radius_cache_expire(cache, 1);

    cached = ngx_alloc(offsetof(ngx_stream_iot_radius_cached_t, reply) + len,
                       log);
    if (cached == NULL) {
        /* only a retransmission would miss it: it goes to the core */
        return;
    }

    ngx_memcpy(cached->key, key, NGX_STREAM_IOT_RADIUS_KEY_LEN);
    ngx_memcpy(cached->reply, reply, len);
    cached->len = len;
    cached->expire = ngx_current_msec + NGX_STREAM_IOT_RADIUS_CACHE_TIME;
    cached->node.key = ngx_crc32_short(key, NGX_STREAM_IOT_RADIUS_KEY_LEN);

    ngx_rbtree_insert(&cache->rbtree, &cached->node);
    ngx_queue_insert_tail(&cache->queue, &cached->queue);
    cache->n++;
}


/* drops expired replies, and the oldest ones while room is needed */

static void
ngx_stream_iot_radius_cache_expire(ngx_stream_iot_radius_cache_t *cache,
    ngx_uint_t room)
{
    ngx_queue_t                     *q;
    ngx_stream_iot_radius_cached_t  *cached;

    while (!ngx_queue_empty(&cache->queue)) {

        q = ngx_queue_head(&cache->queue);
        cached = ngx_queue_data(q, ngx_stream_iot_radius_cached_t, queue);

        if ((ngx_msec_int_t) (cached->expire - ngx_current_msec) > 0
            && cache->n + room <= NGX_STREAM_IOT_RADIUS_CACHE_MAX)
        {
            return;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&cache->rbtree, &cached->node);
        cache->n--;

        ngx_free(cached);
    }
}


static void
ngx_stream_iot_radius_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t               **p;
    ngx_stream_iot_radius_cached_t   *n, *t;

    for ( ;; ) {

        n = (ngx_stream_iot_radius_cached_t *) node;
        t = (ngx_stream_iot_radius_cached_t *) temp;

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            p = (ngx_memcmp(n->key, t->key, NGX_STREAM_IOT_RADIUS_KEY_LEN)
                 < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* ------------------------------------------------------------ counters */


static ngx_int_t
ngx_stream_iot_radius_stats_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    u_char                             *p;
    size_t                              len;
    ngx_uint_t                          i;
    ngx_stream_iot_radius_stats_t      *st;
    ngx_stream_iot_radius_main_conf_t  *mcf;

    mcf = ngx_stream_get_module_main_conf(s, ngx_stream_iot_radius_module);

    if (mcf->stats == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    st = mcf->stats;

    len = sizeof("{,\"dropped\":{}}") - 1;

    for (i = 0; i < NGX_STREAM_IOT_RADIUS_NCOUNTERS; i++) {
        len += sizeof("\"\":,") - 1
               + ngx_stream_iot_radius_counter_names[i].len
               + NGX_ATOMIC_T_LEN;
    }

    p = ngx_pnalloc(s->connection->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    *p++ = '{';

    for (i = 0; i < NGX_STREAM_IOT_RADIUS_NCOUNTERS; i++) {

        if (i == NGX_STREAM_IOT_RADIUS_DROP_UNKNOWN_SOURCE) {
            p = ngx_cpymem(p, ",\"dropped\":{", sizeof(",\"dropped\":{") - 1);

        } else if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "\"%V\":%uA",
                        &ngx_stream_iot_radius_counter_names[i], st->n[i]);
    }

    *p++ = '}';
    *p++ = '}';

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_stream_iot_radius_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_stream_iot_radius_main_conf_t  *omcf = data;

    ngx_slab_pool_t                    *shpool;
    ngx_stream_iot_radius_main_conf_t  *mcf;

    mcf = shm_zone->data;

    if (omcf) {
        /* a reload: the counters go on */
        mcf->stats = omcf->stats;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        mcf->stats = shpool->data;
        return NGX_OK;
    }

    mcf->stats = ngx_slab_calloc(shpool,
                                 sizeof(ngx_stream_iot_radius_stats_t));
    if (mcf->stats == NULL) {
        return NGX_ERROR;
    }

    shpool->data = mcf->stats;

    return NGX_OK;
}


/* the counters for the metrics endpoint (ngx_http_iot_metrics.c) */

static ngx_int_t
ngx_stream_iot_radius_metrics(ngx_iot_metrics_t *m, void *data)
{
    ngx_stream_iot_radius_main_conf_t *mcf = data;

    ngx_uint_t                      i;
    ngx_stream_iot_radius_stats_t  *st;

    st = mcf->stats;

    if (st == NULL) {
        return NGX_OK;
    }

    for (i = 0; i < NGX_STREAM_IOT_RADIUS_NCOUNTERS; i++) {

        if (ngx_stream_iot_radius_metric[i].help
            && ngx_iot_metrics_family(m, ngx_stream_iot_radius_metric[i].name,
                                      "counter",
                                      ngx_stream_iot_radius_metric[i].help)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_iot_metrics_sample(m, ngx_stream_iot_radius_metric[i].name,
                                   ngx_stream_iot_radius_metric[i].labels,
                                   st->n[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* ------------------------------------------------------- configuration */


static ngx_int_t
ngx_stream_iot_radius_preconfiguration(ngx_conf_t *cf)
{
    ngx_stream_variable_t  *var;

    static ngx_str_t  name = ngx_string("iot_radius_stats");

    var = ngx_stream_add_variable(cf, &name, NGX_STREAM_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_stream_iot_radius_stats_variable;

    return NGX_OK;
}


/*
 * Answering over TCP would make no sense: every address an iot_radius
 * server can be reached on must be udp.  The stream listening sockets are
 * made at the end of the stream block, after the stream modules'
 * postconfiguration, so the check is the init_conf of a core module,
 * which runs once the whole configuration is read and can still refuse
 * it (for "nginx -t" and a reload alike).
 */

static char *
ngx_stream_iot_radius_check_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_stream_iot_radius_main_conf_t  *mcf;

    mcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                ngx_stream_iot_radius_module);

    if (mcf == NULL || !mcf->used) {
        return NGX_CONF_OK;
    }

    if (ngx_stream_iot_listen_walk(cycle, ngx_stream_iot_radius_not_udp,
                                   cycle)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* every server of every address counts: a server name may lead to any */

static ngx_int_t
ngx_stream_iot_radius_not_udp(ngx_stream_iot_listen_server_t *srv,
    void *data)
{
    ngx_cycle_t  *cycle = data;

    size_t  len;
    u_char  text[NGX_SOCKADDR_STRLEN];

    if (srv->listening->type == SOCK_DGRAM
        || srv->server->handler != ngx_stream_iot_radius_handler)
    {
        return NGX_OK;
    }

    len = ngx_sock_ntop(srv->sockaddr, srv->socklen, text,
                        NGX_SOCKADDR_STRLEN, 1);

    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                  "\"iot_radius\" needs \"listen ... udp\", "
                  "but \"%*s\" is not udp", len, text);

    return NGX_ERROR;
}


static void *
ngx_stream_iot_radius_create_main_conf(ngx_conf_t *cf)
{
    ngx_stream_iot_radius_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_iot_radius_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->used = 0;
     *     mcf->shm_zone = NULL;
     *     mcf->stats = NULL;
     *     mcf->cache.n = 0;
     */

    if (ngx_array_init(&mcf->gateways, cf->pool, 4,
                       sizeof(ngx_stream_iot_radius_gateway_t))
        != NGX_OK)
    {
        return NULL;
    }

    ngx_rbtree_init(&mcf->cache.rbtree, &mcf->cache.sentinel,
                    ngx_stream_iot_radius_rbtree_insert);
    ngx_queue_init(&mcf->cache.queue);

    return mcf;
}


static char *
ngx_stream_iot_radius_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_stream_iot_radius_main_conf_t *mcf = conf;

    static ngx_str_t  name = ngx_string(NGX_STREAM_IOT_RADIUS_ZONE);

    if (mcf->gateways.nelts == 0) {
        if (mcf->used) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"iot_radius\" is used but no "
                          "\"iot_radius_gateway\" is defined");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    mcf->shm_zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize,
                                          &ngx_stream_iot_radius_module);
    if (mcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->shm_zone->init = ngx_stream_iot_radius_init_zone;
    mcf->shm_zone->data = mcf;

    if (ngx_iot_metrics_add_source(cf->cycle, ngx_stream_iot_radius_metrics,
                                   mcf)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * iot_radius_gateway name=<name> from=<addr|cidr> secret=<secret>
 *                    pool=<ipv4 cidr> [require_message_authenticator=on]
 */

static char *
ngx_stream_iot_radius_gateway(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_iot_radius_main_conf_t *mcf = conf;

    u_char                           *p;
    in_addr_t                         mask;
    ngx_int_t                         rc;
    ngx_str_t                        *value, s, pool;
    ngx_uint_t                        i, n, have_from, have_pool;
    ngx_cidr_t                        cidr;
    ngx_stream_iot_radius_gateway_t  *gw, *other;

    value = cf->args->elts;

    gw = ngx_array_push(&mcf->gateways);
    if (gw == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(gw, sizeof(ngx_stream_iot_radius_gateway_t));

    have_from = 0;
    have_pool = 0;
    pool.len = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "name=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (s.len == 0 || s.len > NGX_STREAM_IOT_RADIUS_NAME_MAX) {
                goto invalid;
            }

            for (p = s.data; p < s.data + s.len; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                      || (*p >= '0' && *p <= '9')
                      || *p == '-' || *p == '_' || *p == '.'))
                {
                    goto invalid;
                }
            }

            gw->core.name = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "from=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            rc = ngx_ptocidr(&s, &gw->from);

            if (rc == NGX_ERROR) {
                goto invalid;
            }

            if (rc == NGX_DONE) {
                ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                                   "low address bits of %V are meaningless",
                                   &s);
            }

            have_from = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "secret=", 7) == 0) {
            gw->secret.data = value[i].data + 7;
            gw->secret.len = value[i].len - 7;

            if (gw->secret.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "pool=", 5) == 0) {
            pool.data = value[i].data + 5;
            pool.len = value[i].len - 5;

            rc = ngx_ptocidr(&pool, &cidr);

            if (rc == NGX_ERROR || cidr.family != AF_INET) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"pool\" must be an IPv4 network such "
                                   "as 10.64.0.0/16, not \"%V\"", &pool);
                return NGX_CONF_ERROR;
            }

            mask = ntohl(cidr.u.in.mask);

            for (n = 0; mask & 0x80000000; n++) {
                mask <<= 1;
            }

            if (n < 8 || n > 30) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "the prefix of \"pool\" \"%V\" must be "
                                   "/8 to /30", &pool);
                return NGX_CONF_ERROR;
            }

            if (rc == NGX_DONE) {
                ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                                   "low address bits of %V are meaningless",
                                   &pool);
            }

            /* the core counts addresses in host byte order */
            gw->core.pool_addr = ntohl(cidr.u.in.addr);
            gw->core.pool_mask = ntohl(cidr.u.in.mask);
            have_pool = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "require_message_authenticator=on")
            == 0)
        {
            gw->require_ma = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "require_message_authenticator=off")
            == 0)
        {
            gw->require_ma = 0;
            continue;
        }

        goto invalid;
    }

    if (gw->core.name.len == 0 || !have_from || gw->secret.len == 0
        || !have_pool)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iot_radius_gateway\" needs name=, from=, "
                           "secret= and pool=");
        return NGX_CONF_ERROR;
    }

    switch (gw->from.family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        p = gw->from.u.in6.mask.s6_addr;
        n = 16;
        break;
#endif

    default: /* AF_INET */
        p = (u_char *) &gw->from.u.in.mask;
        n = 4;
        break;
    }

    gw->prefix = 0;

    for (i = 0; i < n; i++) {
        for (mask = p[i]; mask & 0x80; mask = (mask << 1) & 0xff) {
            gw->prefix++;
        }
    }

    other = mcf->gateways.elts;

    for (i = 0; i + 1 < mcf->gateways.nelts; i++) {

        if (other[i].core.name.len == gw->core.name.len
            && ngx_strncmp(other[i].core.name.data, gw->core.name.data,
                           gw->core.name.len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate iot_radius_gateway name \"%V\"",
                               &gw->core.name);
            return NGX_CONF_ERROR;
        }

        mask = other[i].core.pool_mask & gw->core.pool_mask;

        if ((other[i].core.pool_addr & mask) == (gw->core.pool_addr & mask)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the pool of iot_radius_gateway \"%V\" "
                               "overlaps the pool of \"%V\"",
                               &gw->core.name, &other[i].core.name);
            return NGX_CONF_ERROR;
        }

        if (other[i].from.family == gw->from.family
            && other[i].prefix == gw->prefix
            && ngx_memcmp(&other[i].from.u, &gw->from.u,
                          sizeof(gw->from.u))
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "iot_radius_gateway \"%V\" has the same "
                               "\"from\" as \"%V\"",
                               &gw->core.name, &other[i].core.name);
            return NGX_CONF_ERROR;
        }
    }

    /* the name, not its place in the file, identifies the sessions */

    gw->core.key = ngx_iot_gateway_key(&gw->core.name);

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


static char *
ngx_stream_iot_radius(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_conf_t                     *icf;
    ngx_stream_core_srv_conf_t         *cscf;
    ngx_stream_iot_radius_main_conf_t  *mcf;

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);

    if (cscf->handler) {
        return "is duplicate";
    }

    icf = (ngx_iot_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                          ngx_iot_module);

    if (icf == NULL || icf->shm_zone == NULL) {
        return "needs \"iot_zone\", \"iot_store\" and "
               "\"iot_admin_token_file\" at the top level of the "
               "configuration, before the stream block";
    }

    mcf = ngx_stream_conf_get_module_main_conf(cf,
                                               ngx_stream_iot_radius_module);
    mcf->used = 1;

    cscf->handler = ngx_stream_iot_radius_handler;

    return NGX_CONF_OK;
}


static void
ngx_stream_iot_radius_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                        *q;
    ngx_stream_iot_radius_cached_t     *cached;
    ngx_stream_iot_radius_main_conf_t  *mcf;

    mcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                ngx_stream_iot_radius_module);
    if (mcf == NULL) {
        return;
    }

    while (!ngx_queue_empty(&mcf->cache.queue)) {
        q = ngx_queue_head(&mcf->cache.queue);
        cached = ngx_queue_data(q, ngx_stream_iot_radius_cached_t, queue);

        ngx_queue_remove(q);
        ngx_rbtree_delete(&mcf->cache.rbtree, &cached->node);

        ngx_free(cached);
    }

    mcf->cache.n = 0;
}
