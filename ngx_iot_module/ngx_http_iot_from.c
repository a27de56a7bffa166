
/*
 * Copyright (C) nginx-iot authors
 *
 * Live streams: the data messages of a collection (or of one device) as
 * they arrive, one WebSocket text frame each, from the message bus of
 * this worker.  The dialect's table renders each message (the bus asks it
 * once per message for all of this worker's streams of the dialect), and
 * gives the keep-alive text and the error format of a refused handshake.
 * What the client sends is checked by the engine and otherwise ignored.
 *
 * A stream is counted against the limits of its token, its collection and
 * its worker from its handshake to its end (ngx_http_iot_streams.c).  It
 * lives on what its token allowed when it opened: when a token changes or
 * goes, in any worker, every worker checks the tokens of its streams again
 * (ngx_iot_bus_revise) and closes those that the token no longer allows
 * with 1008.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_dialect.h"
#include "ngx_http_iot_ws.h"
#include "ngx_http_iot_streams.h"
#include "ngx_iot_bus.h"
#include "ngx_iot_registry.h"


typedef struct {
    ngx_iot_subscriber_t       sub;
    ngx_http_iot_ws_t         *ws;
    ngx_http_iot_dialect_t    *dialect;
    ngx_queue_t                queue;         /* streams with a token */
    ngx_str_t                  path;          /* as it was authorized */
    u_char                     hash[NGX_IOT_HASH_LEN];   /* its token's */
    unsigned                   subscribed:1;
    unsigned                   counted:1;
    unsigned                   checked:1;     /* in the queue */
} ngx_http_iot_from_t;


static void ngx_http_iot_from_deliver(ngx_iot_subscriber_t *s,
    ngx_str_t *text);
static void ngx_http_iot_from_lost(ngx_iot_subscriber_t *s);
static void ngx_http_iot_from_keepalive(ngx_http_iot_ws_t *ws);
static void ngx_http_iot_from_closed(ngx_http_iot_ws_t *ws);
static void ngx_http_iot_from_revised(void);


/* this worker's streams of API tokens, which may change or go */
static ngx_queue_t  ngx_http_iot_from_streams;
static ngx_uint_t   ngx_http_iot_from_ready;


ngx_int_t
ngx_http_iot_stream(ngx_http_request_t *r, uint64_t cid, uint64_t did)
{
    ngx_int_t                 rc;
    ngx_uint_t                status;
    const char               *message;
    ngx_http_iot_ws_t        *ws;
    ngx_http_iot_ctx_t       *ctx;
    ngx_http_iot_from_t      *f;
    ngx_http_iot_dialect_t   *d;
    ngx_http_iot_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    d = lcf->dialect;

    rc = ngx_http_iot_ws_check(r, &status, &message);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_error(r, status, message);
    }

    /* a refusal is an HTTP answer in the dialect's format, not a stream */

    rc = ngx_http_iot_streams_count(r, ctx->who.hash, cid, &status,
                                    &message);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_error(r, status, message);
    }

    ws = ngx_http_iot_ws_create(r, sizeof(ngx_http_iot_from_t));
    if (ws == NULL) {
        ngx_http_iot_streams_uncount(ctx->who.hash, cid);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f = ws->data;

    f->ws = ws;
    f->dialect = d;
    f->counted = 1;
    ngx_memcpy(f->hash, ctx->who.hash, NGX_IOT_HASH_LEN);

    if (ctx->who.token) {
        /* the stream outlives the request: its path goes with it */

        f->path.data = ngx_pnalloc(r->connection->pool, ctx->path.len + 1);
        if (f->path.data == NULL) {
            f->counted = 0;
            ngx_http_iot_streams_uncount(ctx->who.hash, cid);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(f->path.data, ctx->path.data, ctx->path.len);
        f->path.len = ctx->path.len;
    }

    f->sub.collection_id = cid;
    f->sub.device_id = did;
    f->sub.render = d->render;
    f->sub.render_downlink = d->render_downlink;
    f->sub.deliver = ngx_http_iot_from_deliver;
    f->sub.lost = ngx_http_iot_from_lost;
    f->sub.data = f;

    ws->keepalive = d->ws_keepalive.len ? ngx_http_iot_from_keepalive : NULL;
    ws->closed = ngx_http_iot_from_closed;

    rc = ngx_http_iot_ws_accept(ws);

    if (rc != NGX_DONE) {
        /* not a stream: closed is not called */
        f->counted = 0;
        ngx_http_iot_streams_uncount(f->hash, cid);
        return rc;
    }

    ngx_iot_bus_subscribe(&f->sub);
    f->subscribed = 1;

    if (ctx->who.token) {
        if (!ngx_http_iot_from_ready) {
            ngx_queue_init(&ngx_http_iot_from_streams);
            ngx_iot_bus_on_revise(ngx_http_iot_from_revised);
            ngx_http_iot_from_ready = 1;
        }

        ngx_queue_insert_tail(&ngx_http_iot_from_streams, &f->queue);
        f->checked = 1;
    }

    return NGX_DONE;
}


static void
ngx_http_iot_from_deliver(ngx_iot_subscriber_t *s, ngx_str_t *text)
{
    ngx_http_iot_from_t  *f = s->data;

    /* a slow client is closed by the engine (1008); nothing else to do */
    (void) ngx_http_iot_ws_send(f->ws, NGX_HTTP_IOT_WS_TEXT, text->data,
                                text->len);
}


static void
ngx_http_iot_from_lost(ngx_iot_subscriber_t *s)
{
    ngx_http_iot_from_t  *f = s->data;

    ngx_log_error(NGX_LOG_INFO, f->ws->connection->log, 0,
                  "WebSocket stream missed messages of the bus, "
                  "closing with 1011");

    /* the client reconnects and reads what it missed from the history */
    ngx_http_iot_ws_close(f->ws, NGX_HTTP_IOT_WS_INTERNAL_ERROR,
                          "messages were lost, reconnect");
}


static void
ngx_http_iot_from_keepalive(ngx_http_iot_ws_t *ws)
{
    ngx_http_iot_from_t  *f = ws->data;

    (void) ngx_http_iot_ws_send(ws, NGX_HTTP_IOT_WS_TEXT,
                                f->dialect->ws_keepalive.data,
                                f->dialect->ws_keepalive.len);
}


static void
ngx_http_iot_from_closed(ngx_http_iot_ws_t *ws)
{
    ngx_http_iot_from_t  *f = ws->data;

    if (f->subscribed) {
        ngx_iot_bus_unsubscribe(&f->sub);
        f->subscribed = 0;
    }

    if (f->checked) {
        ngx_queue_remove(&f->queue);
        f->checked = 0;
    }

    if (f->counted) {
        ngx_http_iot_streams_uncount(f->hash, f->sub.collection_id);
        f->counted = 0;
    }
}


/*
 * A token changed or went, in this worker or another: every stream whose
 * token is gone, or no longer allows it, is closed with 1008.  The zone
 * has the change: the token is looked up by its hash as on a request.
 */

static void
ngx_http_iot_from_revised(void)
{
    ngx_int_t             rc;
    ngx_pool_t           *pool;
    ngx_queue_t          *q, *next;
    const char           *reason;
    ngx_iot_principal_t   who;
    ngx_http_iot_from_t  *f;

    if (!ngx_http_iot_from_ready
        || ngx_queue_empty(&ngx_http_iot_from_streams))
    {
        return;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    for (q = ngx_queue_head(&ngx_http_iot_from_streams);
         q != ngx_queue_sentinel(&ngx_http_iot_from_streams);
         q = next)
    {
        next = ngx_queue_next(q);
        f = ngx_queue_data(q, ngx_http_iot_from_t, queue);

        ngx_memzero(&who, sizeof(ngx_iot_principal_t));

        rc = ngx_iot_token_principal((ngx_cycle_t *) ngx_cycle, f->hash,
                                     pool, &who);

        if (rc == NGX_DECLINED) {
            reason = "the API token was deleted";

        } else if (rc == NGX_OK && f->dialect->stream_allowed
                   && f->dialect->stream_allowed(&who, f->sub.collection_id,
                                                 &f->path, pool)
                      == 0)
        {
            reason = "the API token no longer reaches this stream";

        } else {
            reason = NULL;
        }

        ngx_reset_pool(pool);

        if (reason == NULL) {
            continue;
        }

        ngx_log_error(NGX_LOG_INFO, f->ws->connection->log, 0,
                      "WebSocket stream closed with 1008: %s", reason);

        ngx_queue_remove(&f->queue);
        f->checked = 0;

        ngx_http_iot_ws_close(f->ws, NGX_HTTP_IOT_WS_POLICY, reason);
    }

    ngx_destroy_pool(pool);
}
