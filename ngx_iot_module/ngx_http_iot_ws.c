
/*
 * Copyright (C) nginx-iot authors
 *
 * The WebSocket engine (RFC 6455, server side).  After the 101 answer the
 * connection's read and write handlers are the engine's.  Once the answer
 * is out, the request is freed (and logged, with status 101) the way
 * nginx frees a request before a keep-alive wait: an idle stream keeps only
 * its connection, the connection's small pool and the stream itself, which
 * lives in that pool.
 *
 * Input is read into a buffer on the stack and parsed byte by byte as it
 * comes; output goes straight to the socket and is copied (ngx_alloc, one
 * block per frame, freed when sent) only when the socket does not take it.
 * Nothing is allocated per frame from a pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_ws.h"


#define NGX_HTTP_IOT_WS_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define NGX_HTTP_IOT_WS_KEY_LEN   16
#define NGX_HTTP_IOT_WS_READ      4096
#define NGX_HTTP_IOT_WS_READ_MAX  65536      /* then other streams' turn */

#define NGX_HTTP_IOT_WS_UPGRADE_REQUIRED  426


typedef enum {
    ngx_http_iot_ws_st_start = 0,
    ngx_http_iot_ws_st_length,
    ngx_http_iot_ws_st_length_ext,
    ngx_http_iot_ws_st_mask,
    ngx_http_iot_ws_st_payload
} ngx_http_iot_ws_state_e;


/* one frame, or what is left of it, waiting for the socket */
typedef struct {
    ngx_chain_t                   link;
    ngx_buf_t                     buf;
    size_t                        size;
} ngx_http_iot_ws_out_t;


static ngx_int_t ngx_http_iot_ws_has_token(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *token);
static ngx_int_t ngx_http_iot_ws_get_key(ngx_http_request_t *r,
    ngx_str_t *key);
static void ngx_http_iot_ws_cleanup(void *data);
static ngx_http_iot_ws_t *ngx_http_iot_ws_get(ngx_connection_t *c);
static void ngx_http_iot_ws_leftover(ngx_http_iot_ws_t *ws);
static void ngx_http_iot_ws_detach(ngx_http_iot_ws_t *ws);
static void ngx_http_iot_ws_read_handler(ngx_event_t *rev);
static void ngx_http_iot_ws_write_handler(ngx_event_t *wev);
static void ngx_http_iot_ws_keepalive_handler(ngx_event_t *ev);
static void ngx_http_iot_ws_read(ngx_http_iot_ws_t *ws);
static void ngx_http_iot_ws_process(ngx_http_iot_ws_t *ws);
static void ngx_http_iot_ws_finalize(ngx_http_iot_ws_t *ws);
static ngx_int_t ngx_http_iot_ws_parse(ngx_http_iot_ws_t *ws, u_char *p,
    u_char *last);
static ngx_int_t ngx_http_iot_ws_frame_start(ngx_http_iot_ws_t *ws);
static ngx_int_t ngx_http_iot_ws_payload(ngx_http_iot_ws_t *ws, u_char *p,
    size_t n);
static ngx_int_t ngx_http_iot_ws_frame_end(ngx_http_iot_ws_t *ws);
static ngx_int_t ngx_http_iot_ws_control(ngx_http_iot_ws_t *ws);
static ngx_int_t ngx_http_iot_ws_fail(ngx_http_iot_ws_t *ws, ngx_uint_t code,
    const char *reason);
static ngx_uint_t ngx_http_iot_ws_code_valid(ngx_uint_t code);
static ngx_int_t ngx_http_iot_ws_utf8(ngx_http_iot_ws_utf8_t *st, u_char *p,
    u_char *last);
static ngx_int_t ngx_http_iot_ws_frame(ngx_http_iot_ws_t *ws,
    ngx_uint_t opcode, u_char *data, size_t len, ngx_uint_t bounded);
static ngx_int_t ngx_http_iot_ws_flush(ngx_http_iot_ws_t *ws);
static void ngx_http_iot_ws_sent(ngx_connection_t *c);


static ngx_str_t  ngx_http_iot_ws_connection = ngx_string("Connection");
static ngx_str_t  ngx_http_iot_ws_upgrade = ngx_string("Upgrade");
static ngx_str_t  ngx_http_iot_ws_version = ngx_string("Sec-WebSocket-Version");
static ngx_str_t  ngx_http_iot_ws_key = ngx_string("Sec-WebSocket-Key");
static ngx_str_t  ngx_http_iot_ws_websocket = ngx_string("websocket");
static ngx_str_t  ngx_http_iot_ws_upgrade_token = ngx_string("upgrade");


/* the handshake (RFC 6455 4.2.1) */

ngx_int_t
ngx_http_iot_ws_check(ngx_http_request_t *r, ngx_uint_t *status,
    const char **message)
{
    ngx_str_t        *v, key;
    ngx_table_elt_t  *h;

    *status = NGX_HTTP_BAD_REQUEST;

    if (r != r->main || r->method != NGX_HTTP_GET) {
        *message = "a WebSocket handshake must be a GET";
        return NGX_DECLINED;
    }

    if (r->http_version < NGX_HTTP_VERSION_11
        || r->http_version >= NGX_HTTP_VERSION_20)
    {
        *message = "a WebSocket handshake needs HTTP/1.1";
        return NGX_DECLINED;
    }

    if (!ngx_http_iot_ws_has_token(r, &ngx_http_iot_ws_upgrade,
                                   &ngx_http_iot_ws_websocket))
    {
        *message = "a WebSocket handshake needs \"Upgrade: websocket\"";
        return NGX_DECLINED;
    }

    if (!ngx_http_iot_ws_has_token(r, &ngx_http_iot_ws_connection,
                                   &ngx_http_iot_ws_upgrade_token))
    {
        *message = "a WebSocket handshake needs \"Connection: upgrade\"";
        return NGX_DECLINED;
    }

    /* the dialect may have discarded a body already: look at the header */

    h = r->headers_in.content_length;

    if (r->headers_in.chunked || r->discard_body
        || (h && ngx_atoof(h->value.data, h->value.len) != 0))
    {
        *message = "a WebSocket handshake has no body";
        return NGX_DECLINED;
    }

    v = ngx_http_iot_header(r, &ngx_http_iot_ws_version);

    if (v == NULL || v->len != 2 || v->data[0] != '1' || v->data[1] != '3') {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        ngx_str_set(&h->key, "Sec-WebSocket-Version");
        ngx_str_set(&h->value, "13");

        /* nginx has no reason phrase of its own for 426 */
        ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");

        *status = NGX_HTTP_IOT_WS_UPGRADE_REQUIRED;
        *message = "only WebSocket version 13 is supported "
                   "(Sec-WebSocket-Version: 13)";
        return NGX_DECLINED;
    }

    if (ngx_http_iot_ws_get_key(r, &key) != NGX_OK) {
        *message = "a WebSocket handshake needs a Sec-WebSocket-Key of "
                   "16 bytes in base64";
        return NGX_DECLINED;
    }

    if (ngx_terminate || ngx_exiting) {
        *status = NGX_HTTP_SERVICE_UNAVAILABLE;
        *message = "the server is shutting down";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a header (there may be several) has this token in its comma list */

static ngx_int_t
ngx_http_iot_ws_has_token(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *token)
{
    u_char           *p, *last, *start, *end;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != name->len
            || ngx_strncasecmp(h[i].key.data, name->data, name->len) != 0)
        {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;

        while (p < last) {
            while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }

            start = p;

            while (p < last && *p != ',') {
                p++;
            }

            end = p;

            while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
                end--;
            }

            if ((size_t) (end - start) == token->len
                && ngx_strncasecmp(start, token->data, token->len) == 0)
            {
                return 1;
            }
        }
    }
}


/* the key without the blanks around it, if it is 16 bytes in base64 */

static ngx_int_t
ngx_http_iot_ws_get_key(ngx_http_request_t *r, ngx_str_t *key)
{
    u_char     *p, *last;
    ngx_str_t  *v, decoded;
    u_char      buf[NGX_HTTP_IOT_WS_KEY_LEN + 2];

    v = ngx_http_iot_header(r, &ngx_http_iot_ws_key);

    if (v == NULL) {
        return NGX_DECLINED;
    }

    p = v->data;
    last = p + v->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    key->data = p;
    key->len = last - p;

    if (key->len != ngx_base64_encoded_length(NGX_HTTP_IOT_WS_KEY_LEN)) {
        return NGX_DECLINED;
    }

    decoded.data = buf;

    if (ngx_decode_base64(&decoded, key) != NGX_OK
        || decoded.len != NGX_HTTP_IOT_WS_KEY_LEN)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* in the connection's pool, which outlives the request */

ngx_http_iot_ws_t *
ngx_http_iot_ws_create(ngx_http_request_t *r, size_t size)
{
    ngx_connection_t          *c;
    ngx_http_iot_ws_t         *ws;
    ngx_pool_cleanup_t        *cln;
    ngx_http_iot_loc_conf_t   *lcf;
    ngx_http_core_loc_conf_t  *clcf;

    c = r->connection;

    ws = ngx_pcalloc(c->pool, sizeof(ngx_http_iot_ws_t) + size);
    if (ws == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(c->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_iot_ws_cleanup;
    cln->data = ws;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ws->connection = c;
    ws->request = r;
    ws->data = size ? (void *) (ws + 1) : NULL;
    ws->keepalive_time = lcf->ws_keepalive;
    ws->max_message = lcf->ws_max_message;
    ws->send_buffer = lcf->ws_send_buffer;
    ws->close_timeout = clcf->lingering_timeout;
    ws->send_timeout = clcf->send_timeout;
    ws->last_out = &ws->out;

    return ws;
}


ngx_int_t
ngx_http_iot_ws_accept(ngx_http_iot_ws_t *ws)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_sha1_t                 sha1;
    ngx_table_elt_t           *h;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_str_t                  key, digest, value;
    u_char                     hash[20];

    r = ws->request;
    c = r->connection;

    /* whatever happens now, this connection serves no other request */
    r->keepalive = 0;

    if (ngx_http_iot_ws_get_key(r, &key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, key.data, key.len);
    ngx_sha1_update(&sha1, NGX_HTTP_IOT_WS_GUID,
                    sizeof(NGX_HTTP_IOT_WS_GUID) - 1);
    ngx_sha1_final(hash, &sha1);

    p = ngx_pnalloc(r->pool, ngx_base64_encoded_length(sizeof(hash)));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    digest.data = hash;
    digest.len = sizeof(hash);
    value.data = p;
    ngx_encode_base64(&value, &digest);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Sec-WebSocket-Accept");
    h->value = value;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* frames are small and should not wait for more */
    if (clcf->tcp_nodelay && ngx_tcp_nodelay(c) != NGX_OK) {
        return NGX_ERROR;
    }

    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    r->headers_out.content_length_n = -1;

    /* the header alone, flushed now; frames bypass the output filters */
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return rc;
    }

    /*
     * The content phase's finalization leaves the request to us; it is
     * freed from the first event, once nginx is done with it.
     */
    r->main->count++;

    ws->accepted = 1;

    c->log->action = "streaming over WebSocket";

    /* a graceful shutdown (reload, QUIT) reaches us through c->close */
    c->idle = 1;

    c->read->handler = ngx_http_iot_ws_read_handler;
    c->write->handler = ngx_http_iot_ws_write_handler;

    ws->keepalive_ev.handler = ngx_http_iot_ws_keepalive_handler;
    ws->keepalive_ev.data = ws;
    ws->keepalive_ev.log = c->log;
    ws->last_data = ngx_current_msec;

    if (ws->keepalive_time) {
        ngx_add_timer(&ws->keepalive_ev, ws->keepalive_time);
    }

    if (r->header_in->pos < r->header_in->last || c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }

    ngx_post_event(c->write, &ngx_posted_events);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "iot ws: accepted");

    return NGX_DONE;
}


/*
 * The stream ends: the dialect is told, and what the stream allocated
 * goes.  Called when the connection is finalized and, should anything else
 * destroy the connection's pool, from its cleanup.
 */

static void
ngx_http_iot_ws_cleanup(void *data)
{
    ngx_http_iot_ws_t  *ws = data;

    ngx_chain_t  *cl, *next;

    if (ws->done) {
        return;
    }

    ws->done = 1;

    if (ws->keepalive_ev.timer_set) {
        ngx_del_timer(&ws->keepalive_ev);
    }

    if (ws->keepalive_ev.posted) {
        ngx_delete_posted_event(&ws->keepalive_ev);
    }

    if (ws->accepted && ws->closed) {
        ws->closed(ws);
    }

    for (cl = ws->out; cl; cl = next) {
        next = cl->next;
        ngx_free(cl);
    }

    ws->out = NULL;
    ws->last_out = &ws->out;
    ws->out_bytes = 0;

    if (ws->msg) {
        ngx_free(ws->msg);
        ws->msg = NULL;
    }
}


/*
 * c->data is the request until it is freed (nginx reads it as one after
 * the content handler): the stream is found through its cleanup in the
 * connection's pool, the only one there as a rule.
 */

static ngx_http_iot_ws_t *
ngx_http_iot_ws_get(ngx_connection_t *c)
{
    ngx_pool_cleanup_t  *cln;

    for (cln = c->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_iot_ws_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


static void
ngx_http_iot_ws_read_handler(ngx_event_t *rev)
{
    ngx_connection_t   *c;
    ngx_http_iot_ws_t  *ws;

    c = rev->data;
    ws = ngx_http_iot_ws_get(c);

    if (c->close) {

        /*
         * The worker is shutting down: at first gracefully (idle
         * connections are closed at once), then at the shutdown timeout.
         */

        c->close = 0;

        if (c->error || ws->close_sent) {
            ngx_http_iot_ws_finalize(ws);
            return;
        }

        ngx_http_iot_ws_close(ws, NGX_HTTP_IOT_WS_GOING_AWAY,
                              "the server is going away");
        ngx_http_iot_ws_process(ws);
        return;
    }

    if (rev->timedout) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "iot ws: no close frame in time");
        ngx_http_iot_ws_finalize(ws);
        return;
    }

    ngx_http_iot_ws_read(ws);
    ngx_http_iot_ws_process(ws);
}


static void
ngx_http_iot_ws_write_handler(ngx_event_t *wev)
{
    ngx_connection_t   *c;
    ngx_http_iot_ws_t  *ws;

    c = wev->data;
    ws = ngx_http_iot_ws_get(c);

    if (wev->timedout) {
        c->timedout = 1;
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "client timed out");
        ngx_http_iot_ws_finalize(ws);
        return;
    }

    ngx_http_iot_ws_process(ws);
}


static void
ngx_http_iot_ws_keepalive_handler(ngx_event_t *ev)
{
    ngx_msec_t          idle;
    ngx_http_iot_ws_t  *ws;

    ws = ev->data;

    if (ws->close_sent || ws->error) {
        return;
    }

    idle = ngx_current_msec - ws->last_data;

    if (idle < ws->keepalive_time) {
        ngx_add_timer(ev, ws->keepalive_time - idle);
        return;
    }

    if (ws->keepalive) {
        ws->keepalive(ws);

    } else {
        (void) ngx_http_iot_ws_send(ws, NGX_HTTP_IOT_WS_PING, NULL, 0);
    }

    ws->last_data = ngx_current_msec;

    if (!ws->close_sent && !ws->error) {
        ngx_add_timer(ev, ws->keepalive_time);
    }

    ngx_http_iot_ws_process(ws);
}


static void
ngx_http_iot_ws_read(ngx_http_iot_ws_t *ws)
{
    size_t             total;
    ssize_t            n;
    ngx_event_t       *rev;
    ngx_connection_t  *c;
    u_char             buf[NGX_HTTP_IOT_WS_READ];

    c = ws->connection;
    rev = c->read;

    ngx_http_iot_ws_leftover(ws);

    total = 0;

    while (!ws->close_received && !ws->error && !ws->eof) {

        if (total >= NGX_HTTP_IOT_WS_READ_MAX) {
            ngx_post_event(rev, &ngx_posted_events);
            break;
        }

        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "iot ws: the client closed the connection");
            ws->eof = 1;
            break;
        }

        total += n;

        if (ws->failed) {
            continue;
        }

        (void) ngx_http_iot_ws_parse(ws, buf, buf + n);
    }

    if (!ws->eof && ngx_handle_read_event(rev, 0) != NGX_OK) {
        ws->error = 1;
    }
}


/* the first frames may have come in the same packets as the handshake */

static void
ngx_http_iot_ws_leftover(ngx_http_iot_ws_t *ws)
{
    u_char     *p;
    ngx_buf_t  *b;

    if (ws->request == NULL) {
        return;
    }

    b = ws->request->header_in;

    if (b->pos < b->last) {
        p = b->pos;
        b->pos = b->last;

        if (!ws->failed) {
            (void) ngx_http_iot_ws_parse(ws, p, b->last);
        }
    }
}


/*
 * The 101 answer is out and nginx is done with the request: it is logged
 * and freed, and so are the buffers its header was read into, as
 * ngx_http_set_keepalive() does.  The connection's pool, the stream in it,
 * and the connection are what is left.
 */

static void
ngx_http_iot_ws_detach(ngx_http_iot_ws_t *ws)
{
    ngx_buf_t              *b;
    ngx_chain_t            *cl, *ln;
    ngx_connection_t       *c;
    ngx_http_request_t     *r;
    ngx_http_connection_t  *hc;

    r = ws->request;
    c = ws->connection;
    hc = r->http_connection;

    ngx_http_iot_ws_leftover(ws);

    ngx_http_free_request(r, 0);

    ws->request = NULL;
    c->data = ws;
    c->log->action = "streaming over WebSocket";

    b = c->buffer;

    if (ngx_pfree(c->pool, b->start) == NGX_OK) {
        b->start = NULL;
        b->pos = NULL;
        b->last = NULL;
        b->end = NULL;

    } else {
        b->pos = b->start;
        b->last = b->start;
    }

    for (cl = hc->free; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->free = NULL;

    for (cl = hc->busy; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->busy = NULL;
    hc->nbusy = 0;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "iot ws: detached");
}


/*
 * After every event: send what waits, and close the connection once the
 * close handshake is over, the client went away, or a write failed.
 */

static void
ngx_http_iot_ws_process(ngx_http_iot_ws_t *ws)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    c = ws->connection;
    r = ws->request;

    if (r && !ws->error && !ws->eof) {

        /* the 101 answer first */

        if (r->out && ngx_http_write_filter(r, NULL) == NGX_ERROR) {
            ws->error = 1;
        }

        if (r->out == NULL) {
            ngx_http_iot_ws_detach(ws);
        }
    }

    if (ws->error || ws->eof) {
        ngx_http_iot_ws_finalize(ws);
        return;
    }

    rc = ngx_http_iot_ws_flush(ws);

    if (rc == NGX_ERROR) {
        ngx_http_iot_ws_finalize(ws);
        return;
    }

    if (rc != NGX_OK || !ws->close_sent) {
        return;
    }

    /* our close frame is out */

    if (ws->close_received) {
        ngx_http_iot_ws_finalize(ws);
        return;
    }

    if (ws->failed && !ws->shut_wr
#if (NGX_HTTP_SSL)
        && c->ssl == NULL
#endif
       )
    {

        /*
         * The input cannot be parsed any more: tell the client that we
         * are done, and read what it still sends until it closes too.
         */

        ws->shut_wr = 1;

        if (ngx_shutdown_socket(c->fd, NGX_WRITE_SHUTDOWN) == -1) {
            ngx_http_iot_ws_finalize(ws);
            return;
        }
    }
}


static void
ngx_http_iot_ws_finalize(ngx_http_iot_ws_t *ws)
{
    ngx_connection_t  *c;

    c = ws->connection;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "iot ws: finalize");

    /* the dialect lets go first: an SSL shutdown may keep c a while */
    ngx_http_iot_ws_cleanup(ws);

    if (ws->request) {
        /* what ngx_http_close_request() does once the count is one */
        ngx_http_free_request(ws->request, 0);
        ws->request = NULL;
    }

    ngx_http_close_connection(c);
}


/* the frame parser (RFC 6455 5.2), resumable at any byte */

static ngx_int_t
ngx_http_iot_ws_parse(ngx_http_iot_ws_t *ws, u_char *p, u_char *last)
{
    u_char      ch;
    size_t      n;
    ngx_uint_t  opcode;

    while (p < last) {

        switch (ws->state) {

        case ngx_http_iot_ws_st_start:
            ch = *p++;

            if (ch & 0x70) {
                return ngx_http_iot_ws_fail(ws,
                                            NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                            "reserved bits are set");
            }

            ws->fin = ch >> 7;
            opcode = ch & 0x0f;
            ws->opcode = opcode;

            switch (opcode) {

            case NGX_HTTP_IOT_WS_CONTINUATION:
                if (!ws->in_message) {
                    return ngx_http_iot_ws_fail(ws,
                                          NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                          "a continuation frame without a "
                                          "message");
                }
                break;

            case NGX_HTTP_IOT_WS_TEXT:
            case NGX_HTTP_IOT_WS_BINARY:
                if (ws->in_message) {
                    return ngx_http_iot_ws_fail(ws,
                                          NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                          "a new message inside a "
                                          "fragmented one");
                }
                break;

            case NGX_HTTP_IOT_WS_CLOSE:
            case NGX_HTTP_IOT_WS_PING:
            case NGX_HTTP_IOT_WS_PONG:
                if (!ws->fin) {
                    return ngx_http_iot_ws_fail(ws,
                                          NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                          "a fragmented control frame");
                }
                break;

            default:
                return ngx_http_iot_ws_fail(ws,
                                            NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                            "an unknown opcode");
            }

            ws->state = ngx_http_iot_ws_st_length;
            break;

        case ngx_http_iot_ws_st_length:
            ch = *p++;

            if (!(ch & 0x80)) {
                return ngx_http_iot_ws_fail(ws,
                                            NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                            "client frames must be masked");
            }

            ch &= 0x7f;
            ws->left = 0;

            if (ch == 126) {
                ws->need = 2;
                ws->state = ngx_http_iot_ws_st_length_ext;

            } else if (ch == 127) {
                ws->need = 8;
                ws->state = ngx_http_iot_ws_st_length_ext;

            } else {
                ws->left = ch;
                ws->need = 4;
                ws->state = ngx_http_iot_ws_st_mask;
            }

            break;

        case ngx_http_iot_ws_st_length_ext:
            if (ws->need == 8 && (*p & 0x80)) {
                return ngx_http_iot_ws_fail(ws,
                                            NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                            "a frame length over 63 bits");
            }

            ws->left = (ws->left << 8) | *p++;

            if (--ws->need == 0) {
                ws->need = 4;
                ws->state = ngx_http_iot_ws_st_mask;
            }

            break;

        case ngx_http_iot_ws_st_mask:

            /*
             * The payload's length, whatever form announced it: RFC 6455
             * bounds a control frame's payload (5.5); writing a length
             * in the fewest bytes (5.2) is the sender's duty, and a longer
             * form changes nothing about the frame.
             */

            if (ws->need == 4 && (ws->opcode & 0x08)
                && ws->left > NGX_HTTP_IOT_WS_CONTROL_MAX)
            {
                return ngx_http_iot_ws_fail(ws,
                                            NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                            "a control frame over 125 "
                                            "bytes");
            }

            ws->mask[4 - ws->need] = *p++;

            if (--ws->need) {
                break;
            }

            if (ngx_http_iot_ws_frame_start(ws) != NGX_OK) {
                return NGX_ERROR;
            }

            if (ws->left) {
                ws->state = ngx_http_iot_ws_st_payload;
                break;
            }

            ws->state = ngx_http_iot_ws_st_start;

            if (ngx_http_iot_ws_frame_end(ws) != NGX_OK) {
                return NGX_ERROR;
            }

            break;

        default: /* ngx_http_iot_ws_st_payload */
            n = last - p;

            if ((uint64_t) n > ws->left) {
                n = (size_t) ws->left;
            }

            if (ngx_http_iot_ws_payload(ws, p, n) != NGX_OK) {
                return NGX_ERROR;
            }

            p += n;
            ws->left -= n;

            if (ws->left) {
                break;
            }

            ws->state = ngx_http_iot_ws_st_start;

            if (ngx_http_iot_ws_frame_end(ws) != NGX_OK) {
                return NGX_ERROR;
            }

            break;
        }

        if (ws->close_received) {
            /* nothing may follow a close frame */
            return NGX_OK;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_ws_frame_start(ngx_http_iot_ws_t *ws)
{
    u_char  *msg;
    size_t   size;

    ws->mask_pos = 0;

    if (ws->opcode & 0x08) {
        ws->ctl_len = 0;
        return NGX_OK;
    }

    if (ws->opcode != NGX_HTTP_IOT_WS_CONTINUATION) {
        ws->msg_opcode = ws->opcode;
        ws->msg_len = 0;
        ws->utf8.need = 0;
        ws->in_message = 1;
    }

    if (ws->left > ws->max_message - ws->msg_len) {
        return ngx_http_iot_ws_fail(ws, NGX_HTTP_IOT_WS_TOO_BIG,
                                    "the message is too big");
    }

    ws->msg_len += ws->left;

    if (ws->message == NULL || ws->msg_len <= ws->msg_size) {
        return NGX_OK;
    }

    /* room for the message so far; grows by doubling, up to the limit */

    size = ngx_max((size_t) ws->msg_len, 2 * ws->msg_size);
    size = ngx_min(size, ws->max_message);

    msg = ngx_alloc(size, ws->connection->log);
    if (msg == NULL) {
        ws->error = 1;
        return NGX_ERROR;
    }

    if (ws->msg) {
        ngx_memcpy(msg, ws->msg, (size_t) (ws->msg_len - ws->left));
        ngx_free(ws->msg);
    }

    ws->msg = msg;
    ws->msg_size = size;

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_ws_payload(ngx_http_iot_ws_t *ws, u_char *p, size_t n)
{
    u_char      *q, *last;
    ngx_uint_t   i;

    if (ws->opcode == NGX_HTTP_IOT_WS_BINARY
        || (ws->opcode == NGX_HTTP_IOT_WS_CONTINUATION
            && ws->msg_opcode == NGX_HTTP_IOT_WS_BINARY))
    {
        if (ws->message == NULL) {
            /* not looked at, not even unmasked */
            return NGX_OK;
        }
    }

    last = p + n;
    i = ws->mask_pos;

    for (q = p; q < last; q++) {
        *q ^= ws->mask[i++ & 3];
    }

    ws->mask_pos = i & 3;

    if (ws->opcode & 0x08) {
        ngx_memcpy(ws->ctl + ws->ctl_len, p, n);
        ws->ctl_len += n;
        return NGX_OK;
    }

    if (ws->msg_opcode == NGX_HTTP_IOT_WS_TEXT
        && ngx_http_iot_ws_utf8(&ws->utf8, p, last) != NGX_OK)
    {
        return ngx_http_iot_ws_fail(ws, NGX_HTTP_IOT_WS_INVALID_DATA,
                                    "a text message is not valid UTF-8");
    }

    if (ws->message) {
        ngx_memcpy(ws->msg + (size_t) (ws->msg_len - ws->left), p, n);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_ws_frame_end(ngx_http_iot_ws_t *ws)
{
    ngx_str_t  message;

    if (ws->opcode & 0x08) {
        return ngx_http_iot_ws_control(ws);
    }

    if (!ws->fin) {
        return NGX_OK;
    }

    ws->in_message = 0;

    if (ws->msg_opcode == NGX_HTTP_IOT_WS_TEXT && ws->utf8.need) {
        return ngx_http_iot_ws_fail(ws, NGX_HTTP_IOT_WS_INVALID_DATA,
                                    "a text message ends inside a UTF-8 "
                                    "character");
    }

    if (ws->message == NULL || ws->close_sent) {
        return NGX_OK;
    }

    message.data = ws->msg;
    message.len = (size_t) ws->msg_len;

    ws->message(ws, ws->msg_opcode, &message);

    /* an idle stream keeps no buffer */

    if (ws->msg) {
        ngx_free(ws->msg);
        ws->msg = NULL;
        ws->msg_size = 0;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_ws_control(ngx_http_iot_ws_t *ws)
{
    ngx_uint_t              code;
    ngx_http_iot_ws_utf8_t  utf8;

    switch (ws->opcode) {

    case NGX_HTTP_IOT_WS_PING:
        (void) ngx_http_iot_ws_send(ws, NGX_HTTP_IOT_WS_PONG, ws->ctl,
                                    ws->ctl_len);
        return NGX_OK;

    case NGX_HTTP_IOT_WS_PONG:
        return NGX_OK;

    default: /* NGX_HTTP_IOT_WS_CLOSE */
        break;
    }

    code = 0;

    if (ws->ctl_len == 1) {
        return ngx_http_iot_ws_fail(ws, NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                    "a close frame of one byte");
    }

    if (ws->ctl_len >= 2) {
        code = (ws->ctl[0] << 8) | ws->ctl[1];

        if (!ngx_http_iot_ws_code_valid(code)) {
            return ngx_http_iot_ws_fail(ws, NGX_HTTP_IOT_WS_PROTOCOL_ERROR,
                                        "an invalid close code");
        }

        utf8.need = 0;

        if (ngx_http_iot_ws_utf8(&utf8, ws->ctl + 2, ws->ctl + ws->ctl_len)
            != NGX_OK
            || utf8.need)
        {
            return ngx_http_iot_ws_fail(ws, NGX_HTTP_IOT_WS_INVALID_DATA,
                                        "a close reason is not valid UTF-8");
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ws->connection->log, 0,
                   "iot ws: close frame from the client, code %ui", code);

    ws->close_received = 1;

    if (ws->close_sent) {
        return NGX_OK;
    }

    /* the answer echoes the code, or is empty as the client's was */

    ws->close_sent = 1;

    if (ws->keepalive_ev.timer_set) {
        ngx_del_timer(&ws->keepalive_ev);
    }

    ngx_add_timer(ws->connection->read, ws->close_timeout);

    (void) ngx_http_iot_ws_frame(ws, NGX_HTTP_IOT_WS_CLOSE, ws->ctl,
                                 code ? 2 : 0, 0);

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_ws_fail(ngx_http_iot_ws_t *ws, ngx_uint_t code,
    const char *reason)
{
    ngx_log_error(NGX_LOG_INFO, ws->connection->log, 0,
                  "WebSocket client error: %s, closing with %ui",
                  reason, code);

    ngx_http_iot_ws_close(ws, code, reason);

    ws->failed = 1;

    return NGX_ERROR;
}


/*
 * Codes a client may send: RFC 6455 7.4.1 and those IANA registered since
 * (1012 to 1014), and 3000 to 4999; never 1004 to 1006, 1015 or others.
 */

static ngx_uint_t
ngx_http_iot_ws_code_valid(ngx_uint_t code)
{
    if (code >= 3000 && code <= 4999) {
        return 1;
    }

    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}


/*
 * A UTF-8 check that may stop and go on at any byte: st remembers how many
 * continuation bytes are due and the range allowed for the next one, which
 * rules out overlong forms, surrogates and code points over U+10FFFF.
 */

static ngx_int_t
ngx_http_iot_ws_utf8(ngx_http_iot_ws_utf8_t *st, u_char *p, u_char *last)
{
    u_char  ch, need, lo, hi;

    need = st->need;
    lo = st->lo;
    hi = st->hi;

    for ( /* void */ ; p < last; p++) {
        ch = *p;

        if (need) {
            if (ch < lo || ch > hi) {
                return NGX_ERROR;
            }

            need--;
            lo = 0x80;
            hi = 0xbf;
            continue;
        }

        if (ch < 0x80) {
            continue;
        }

        lo = 0x80;
        hi = 0xbf;

        if (ch >= 0xc2 && ch <= 0xdf) {
            need = 1;

        } else if (ch == 0xe0) {
            need = 2;
            lo = 0xa0;

        } else if (ch == 0xed) {
            need = 2;
            hi = 0x9f;

        } else if (ch >= 0xe1 && ch <= 0xef) {
            need = 2;

        } else if (ch == 0xf0) {
            need = 3;
            lo = 0x90;

        } else if (ch >= 0xf1 && ch <= 0xf3) {
            need = 3;

        } else if (ch == 0xf4) {
            need = 3;
            hi = 0x8f;

        } else {
            return NGX_ERROR;
        }
    }

    st->need = need;
    st->lo = lo;
    st->hi = hi;

    return NGX_OK;
}


/* output */

ngx_int_t
ngx_http_iot_ws_send(ngx_http_iot_ws_t *ws, ngx_uint_t opcode, u_char *data,
    size_t len)
{
    ngx_int_t  rc;

    if ((opcode & 0x08) && len > NGX_HTTP_IOT_WS_CONTROL_MAX) {
        return NGX_ERROR;
    }

    if (ws->close_sent || ws->error || ws->done || !ws->accepted) {
        return NGX_DECLINED;
    }

    rc = ngx_http_iot_ws_frame(ws, opcode, data, len, 1);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, ws->connection->log, 0,
                      "WebSocket client reads too slowly: more than %uz "
                      "bytes would wait for it, closing with 1008",
                      ws->send_buffer);

        ngx_http_iot_ws_close(ws, NGX_HTTP_IOT_WS_POLICY,
                              "the client reads too slowly");
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return NGX_DECLINED;
    }

    if (!(opcode & 0x08)) {
        ws->last_data = ngx_current_msec;
    }

    return NGX_OK;
}


void
ngx_http_iot_ws_close(ngx_http_iot_ws_t *ws, ngx_uint_t code,
    const char *reason)
{
    size_t             len;
    ngx_connection_t  *c;
    u_char             payload[NGX_HTTP_IOT_WS_CONTROL_MAX];

    if (ws->close_sent || ws->error || ws->done || !ws->accepted) {
        return;
    }

    c = ws->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "iot ws: closing with %ui", code);

    ws->close_sent = 1;

    if (ws->keepalive_ev.timer_set) {
        ngx_del_timer(&ws->keepalive_ev);
    }

    payload[0] = (u_char) (code >> 8);
    payload[1] = (u_char) code;

    len = 0;

    if (reason) {
        len = ngx_min(ngx_strlen(reason), NGX_HTTP_IOT_WS_REASON_MAX);
        ngx_memcpy(payload + 2, reason, len);
    }

    (void) ngx_http_iot_ws_frame(ws, NGX_HTTP_IOT_WS_CLOSE, payload, 2 + len,
                                 0);

    /* how long the client has to answer, and to take what is queued */
    ngx_add_timer(c->read, ws->close_timeout);
}


/*
 * One frame, unmasked.  A control frame, while nothing waits, goes
 * straight to the socket from the caller's memory; what the socket does
 * not take is copied to the queue.  Data frames (bounded) are gathered:
 * queued, and written together at the end of the event loop's turn by the
 * posted write event, one writev() for all the messages the bus hands over
 * at once instead of one each.  bounded: NGX_DECLINED (nothing sent) when
 * the queue would grow past send_buffer.
 */

static ngx_int_t
ngx_http_iot_ws_frame(ngx_http_iot_ws_t *ws, ngx_uint_t opcode, u_char *data,
    size_t len, ngx_uint_t bounded)
{
    u_char                 *p;
    size_t                  hlen, sent, rest;
    uint64_t                n;
    ngx_int_t               i;
    ngx_buf_t               hb, db;
    ngx_uint_t              idle, gather;
    ngx_chain_t             hl, dl, *cl;
    ngx_connection_t       *c;
    ngx_http_iot_ws_out_t  *out;
    u_char                  head[10];

    c = ws->connection;

    head[0] = (u_char) (0x80 | opcode);

    if (len < 126) {
        head[1] = (u_char) len;
        hlen = 2;

    } else if (len < 65536) {
        head[1] = 126;
        head[2] = (u_char) (len >> 8);
        head[3] = (u_char) len;
        hlen = 4;

    } else {
        head[1] = 127;
        n = len;

        for (i = 9; i >= 2; i--) {
            head[i] = (u_char) n;
            n >>= 8;
        }

        hlen = 10;
    }

    sent = 0;

    if (bounded && ws->gathering
        && ws->out_bytes + hlen + len
           > ngx_min(NGX_HTTP_IOT_WS_GATHER, ws->send_buffer))
    {
        /* enough gathered: out with it before this frame */

        if (ngx_http_iot_ws_flush(ws) == NGX_ERROR) {
            ws->error = 1;
            ngx_post_event(c->write, &ngx_posted_events);
            return NGX_ERROR;
        }
    }

    /* nothing waits: neither frames, nor the 101 answer, nor the socket */

    idle = ws->out == NULL
           && (ws->request == NULL || ws->request->out == NULL)
           && !(c->buffered & NGX_LOWLEVEL_BUFFERED);

    gather = bounded && !(opcode & 0x08) && (ws->gathering || idle);

    if (idle && !gather) {
        ngx_memzero(&hb, sizeof(ngx_buf_t));
        hb.pos = head;
        hb.last = head + hlen;
        hb.memory = 1;
        hb.flush = 1;

        hl.buf = &hb;
        hl.next = NULL;

        if (len) {
            ngx_memzero(&db, sizeof(ngx_buf_t));
            db.pos = data;
            db.last = data + len;
            db.memory = 1;
            db.flush = 1;

            dl.buf = &db;
            dl.next = NULL;
            hl.next = &dl;
        }

        cl = c->send_chain(c, &hl, 0);

        if (cl == NGX_CHAIN_ERROR) {
            c->error = 1;
            ws->error = 1;

            /* the connection is closed from an event, not from here */
            ngx_post_event(c->write, &ngx_posted_events);
            return NGX_ERROR;
        }

        sent = hb.pos - head;

        if (len) {
            sent += db.pos - data;
        }

        if (sent == hlen + len) {
            ngx_http_iot_ws_sent(c);
            return NGX_OK;
        }
    }

    rest = hlen + len - sent;

    if (bounded && sent == 0 && ws->out_bytes + rest > ws->send_buffer) {
        return NGX_DECLINED;
    }

    out = ngx_alloc(sizeof(ngx_http_iot_ws_out_t) + rest, c->log);
    if (out == NULL) {
        ws->error = 1;
        ngx_post_event(c->write, &ngx_posted_events);
        return NGX_ERROR;
    }

    p = (u_char *) (out + 1);

    ngx_memzero(&out->buf, sizeof(ngx_buf_t));
    out->buf.start = p;
    out->buf.pos = p;
    out->buf.end = p + rest;
    out->buf.temporary = 1;
    out->buf.flush = 1;
    out->size = rest;

    if (sent < hlen) {
        p = ngx_cpymem(p, head + sent, hlen - sent);
        sent = hlen;
    }

    if (len) {
        p = ngx_cpymem(p, data + (sent - hlen), len - (sent - hlen));
    }

    out->buf.last = p;
    out->link.buf = &out->buf;
    out->link.next = NULL;

    *ws->last_out = &out->link;
    ws->last_out = &out->link.next;
    ws->out_bytes += rest;

    if (gather) {
        ws->gathering = 1;

        if (!c->write->posted) {
            ngx_post_event(c->write, &ngx_posted_events);
        }

        return NGX_OK;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ws->error = 1;
        ngx_post_event(c->write, &ngx_posted_events);
        return NGX_ERROR;
    }

    if (!c->write->timer_set) {
        ngx_add_timer(c->write, ws->send_timeout);
    }

    if (bounded && ws->out_bytes > ws->send_buffer) {
        /* a frame begun on the wire had to be queued whole */
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* NGX_OK: nothing waits; NGX_AGAIN: the socket is full */

static ngx_int_t
ngx_http_iot_ws_flush(ngx_http_iot_ws_t *ws)
{
    off_t                   sent;
    ngx_uint_t              header;
    ngx_chain_t            *cl, *next;
    ngx_connection_t       *c;
    ngx_http_iot_ws_out_t  *out;

    c = ws->connection;
    sent = c->sent;

    ws->gathering = 0;

    /* frames wait until the 101 answer is all out */
    header = (ws->request && ws->request->out);

    if (!header && (ws->out || (c->buffered & NGX_LOWLEVEL_BUFFERED))) {
        cl = c->send_chain(c, ws->out, 0);

        if (cl == NGX_CHAIN_ERROR) {
            c->error = 1;
            return NGX_ERROR;
        }

        while (ws->out != cl) {
            out = (ngx_http_iot_ws_out_t *) ws->out;
            next = ws->out->next;

            ws->out_bytes -= out->size;
            ngx_free(out);

            ws->out = next;
        }

        if (ws->out == NULL) {
            ws->last_out = &ws->out;
        }
    }

    if (header || ws->out || (c->buffered & NGX_LOWLEVEL_BUFFERED)) {

        /* the client has send_timeout to take something */

        if (c->sent != sent || !c->write->timer_set) {
            ngx_add_timer(c->write, ws->send_timeout);
        }

        if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
            return NGX_ERROR;
        }

        return NGX_AGAIN;
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_http_iot_ws_sent(c);

    return NGX_OK;
}


/* all is out: an idle TLS stream does not keep its 16k write buffer */

static void
ngx_http_iot_ws_sent(ngx_connection_t *c)
{
#if (NGX_HTTP_SSL)
    if (c->ssl && !(c->buffered & NGX_SSL_BUFFERED)) {
        ngx_ssl_free_buffer(c);
    }
#endif
}
