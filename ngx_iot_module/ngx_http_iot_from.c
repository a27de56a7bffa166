
/*
 * Copyright (C) nginx-iot authors
 *
 * Live streams: the data messages of a collection (or of one device) as
 * they arrive, one WebSocket text frame each, from the message bus of
 * this worker.  The dialect's table renders each message (the bus asks it
 * once per message for all of this worker's streams of the dialect), and
 * gives the keep-alive text and the error format of a refused handshake.
 * What the client sends is checked by the engine and otherwise ignored.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_dialect.h"
#include "ngx_http_iot_ws.h"
#include "ngx_iot_bus.h"


typedef struct {
    ngx_iot_subscriber_t       sub;
    ngx_http_iot_ws_t         *ws;
    ngx_http_iot_dialect_t    *dialect;
    unsigned                   subscribed:1;
} ngx_http_iot_from_t;


static void ngx_http_iot_from_deliver(ngx_iot_subscriber_t *s,
    ngx_str_t *text);
static void ngx_http_iot_from_lost(ngx_iot_subscriber_t *s);
static void ngx_http_iot_from_keepalive(ngx_http_iot_ws_t *ws);
static void ngx_http_iot_from_closed(ngx_http_iot_ws_t *ws);


ngx_int_t
ngx_http_iot_stream(ngx_http_request_t *r, uint64_t cid, uint64_t did)
{
    ngx_int_t                 rc;
    ngx_uint_t                status;
    const char               *message;
    ngx_http_iot_ws_t        *ws;
    ngx_http_iot_from_t      *f;
    ngx_http_iot_dialect_t   *d;
    ngx_http_iot_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);
    d = lcf->dialect;

    rc = ngx_http_iot_ws_check(r, &status, &message);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_error(r, status, message);
    }

    ws = ngx_http_iot_ws_create(r, sizeof(ngx_http_iot_from_t));
    if (ws == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f = ws->data;

    f->ws = ws;
    f->dialect = d;
    f->sub.collection_id = cid;
    f->sub.device_id = did;
    f->sub.render = d->render;
    f->sub.deliver = ngx_http_iot_from_deliver;
    f->sub.lost = ngx_http_iot_from_lost;
    f->sub.data = f;

    ws->keepalive = d->ws_keepalive.len ? ngx_http_iot_from_keepalive : NULL;
    ws->closed = ngx_http_iot_from_closed;

    rc = ngx_http_iot_ws_accept(ws);

    if (rc != NGX_DONE) {
        return rc;
    }

    ngx_iot_bus_subscribe(&f->sub);
    f->subscribed = 1;

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
}
