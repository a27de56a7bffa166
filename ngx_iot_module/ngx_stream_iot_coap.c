
/*
 * Copyright (C) nginx-iot authors
 *
 * The CoAP link: a stream content handler for a "listen 127.0.0.1:... udp"
 * server that takes the CoAP sidecar's frames (ngx_iot_coaplink.h) into
 * the core: uplink messages, answered once the history has them; the
 * coap-pull queue, read and settled; coap-push downlinks, handed to the
 * sidecar when it asks and settled with the device's answer.  It gives the
 * core its coap-pull and coap-push transports.  docs/coap.md.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_session.h"
#include "ngx_iot_uplink.h"
#include "ngx_iot_downlink.h"
#include "ngx_iot_coaplink.h"
#include "ngx_iot_psk.h"


#define NGX_STREAM_IOT_COAP_QUEUE      16      /* coap-pull, per device */


typedef struct {
    ngx_str_t                          secret;
    ngx_uint_t                         queue;
    ngx_uint_t                         used;
} ngx_stream_iot_coap_main_conf_t;


/* a frame that waits for the core */
typedef struct {
    ngx_queue_t                        queue;     /* in the session's */
    ngx_stream_session_t              *session;
    ngx_pool_t                        *pool;      /* its own */
    ngx_uint_t                         type;      /* of the request */
    uint32_t                           seq;
    ngx_iot_wait_t                     wait;
} ngx_stream_iot_coap_req_t;


typedef struct {
    ngx_queue_t                        pending;
    u_char                            *out;       /* replies gathered */
    size_t                             out_len;
    ngx_event_t                        flush;     /* posted: out they go */
} ngx_stream_iot_coap_ctx_t;


/* what a pull (or a push poll) hands back */
typedef struct {
    uint64_t                           id;
    uint64_t                           device;
    ngx_uint_t                         port;
    u_char                             payload[NGX_IOT_PAYLOAD_MAX];
    size_t                             len;
    u_char                             path[256];
    size_t                             path_len;
} ngx_stream_iot_coap_pulled_t;


static void ngx_stream_iot_coap_handler(ngx_stream_session_t *s);
static void ngx_stream_iot_coap_read(ngx_event_t *rev);
static void ngx_stream_iot_coap_finish(ngx_stream_session_t *s);
static void ngx_stream_iot_coap_datagram(ngx_stream_session_t *s,
    u_char *data, size_t len);
static void ngx_stream_iot_coap_frame(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f);
static void ngx_stream_iot_coap_uplink(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f);
static void ngx_stream_iot_coap_pull(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f);
static ngx_int_t ngx_stream_iot_coap_take(ngx_iot_downlink_row_t *row,
    void *data);
static void ngx_stream_iot_coap_pulled(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f);
static void ngx_stream_iot_coap_key(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f);
static void ngx_stream_iot_coap_push_poll(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f);
static void ngx_stream_iot_coap_pushed(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f);
static ngx_iot_rc_e ngx_stream_iot_coap_push_send(ngx_cycle_t *cycle,
    ngx_iot_device_t *d, ngx_iot_downlink_t *m, ngx_log_t *log);
static ngx_iot_rc_e ngx_stream_iot_coap_device(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f, ngx_iot_device_t *d);
static ngx_stream_iot_coap_req_t *ngx_stream_iot_coap_request(
    ngx_stream_session_t *s, ngx_iot_coaplink_frame_t *f);
static void ngx_stream_iot_coap_answered(ngx_iot_wait_t *wait);
static ngx_int_t ngx_stream_iot_coap_result(ngx_iot_rc_e rc);
static void ngx_stream_iot_coap_flush_handler(ngx_event_t *ev);
static void ngx_stream_iot_coap_flush(ngx_stream_session_t *s);
static void ngx_stream_iot_coap_reply(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f);
static ngx_uint_t ngx_stream_iot_coap_loopback(struct sockaddr *sa);
static ngx_iot_rc_e ngx_stream_iot_coap_pull_send(ngx_cycle_t *cycle,
    ngx_iot_device_t *d, ngx_iot_downlink_t *m, ngx_log_t *log);
static ngx_iot_rc_e ngx_stream_iot_coap_pull_ready(ngx_cycle_t *cycle);
static void *ngx_stream_iot_coap_create_main_conf(ngx_conf_t *cf);
static char *ngx_stream_iot_coap_link(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_stream_iot_coap_secret(ngx_conf_t *cf,
    ngx_str_t *path, ngx_str_t *secret);


/* the core's "coap-pull" downlink transport */
static ngx_iot_downlink_sender_t  ngx_stream_iot_coap_pull_sender = {
    ngx_stream_iot_coap_pull_send,
    ngx_stream_iot_coap_pull_ready
};


/* ... and "coap-push": queued too, until the sidecar takes it */
static ngx_iot_downlink_sender_t  ngx_stream_iot_coap_push_sender = {
    ngx_stream_iot_coap_push_send,
    ngx_stream_iot_coap_pull_ready
};


static ngx_command_t  ngx_stream_iot_coap_commands[] = {

    { ngx_string("iot_coap_link"),
      NGX_STREAM_SRV_CONF|NGX_CONF_1MORE,
      ngx_stream_iot_coap_link,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_iot_coap_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_stream_iot_coap_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL                                   /* merge server configuration */
};


ngx_module_t  ngx_stream_iot_coap_module = {
    NGX_MODULE_V1,
    &ngx_stream_iot_coap_module_ctx,       /* module context */
    ngx_stream_iot_coap_commands,          /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
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
 * The sidecar sends from one socket, so its datagrams share a datagram
 * session; the session stays while frames of it wait for the core (as
 * the RADIUS adapter's do) and takes the next ones in its read handler.
 * Its replies are gathered and sent at the end of the event loop's turn
 * (a posted event), all those of a history batch in one datagram.
 */

static void
ngx_stream_iot_coap_handler(ngx_stream_session_t *s)
{
    ngx_buf_t                  *b;
    ngx_connection_t           *c;
    ngx_stream_iot_coap_ctx_t  *ctx;

    c = s->connection;
    b = c->buffer;

    c->log->action = "handling a CoAP link frame";

    if (c->type != SOCK_DGRAM || b == NULL) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "iot_coap_link needs a \"listen ... udp\" server");
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx = ngx_pcalloc(c->pool, sizeof(ngx_stream_iot_coap_ctx_t));
    if (ctx == NULL) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_queue_init(&ctx->pending);

    ctx->flush.handler = ngx_stream_iot_coap_flush_handler;
    ctx->flush.data = s;
    ctx->flush.log = c->log;

    ngx_stream_set_ctx(s, ctx, ngx_stream_iot_coap_module);

    ngx_stream_iot_coap_datagram(s, b->pos, b->last - b->pos);

    ngx_stream_iot_coap_finish(s);
}


static void
ngx_stream_iot_coap_read(ngx_event_t *rev)
{
    ssize_t                n;
    ngx_connection_t      *c;
    ngx_stream_session_t  *s;

    static u_char          buf[NGX_IOT_COAPLINK_DATAGRAM_MAX + 1];

    c = rev->data;
    s = c->data;

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN || n == NGX_ERROR) {
            break;
        }

        ngx_stream_iot_coap_datagram(s, buf, n);
    }

    ngx_stream_iot_coap_finish(s);
}


static void
ngx_stream_iot_coap_finish(ngx_stream_session_t *s)
{
    ngx_stream_iot_coap_ctx_t  *ctx;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_coap_module);

    if (ngx_queue_empty(&ctx->pending)) {
        /* what it answered goes now: the session (and its pool) goes */

        ngx_stream_iot_coap_flush(s);

        if (ctx->flush.posted) {
            ngx_delete_posted_event(&ctx->flush);
        }

        ngx_stream_finalize_session(s, NGX_STREAM_OK);
        return;
    }

    s->connection->read->handler = ngx_stream_iot_coap_read;
}


/* a datagram: its frames one after the other, up to one that is not one */

static void
ngx_stream_iot_coap_datagram(ngx_stream_session_t *s, u_char *data,
    size_t len)
{
    const char                       *why;
    ngx_connection_t                 *c;
    ngx_iot_coaplink_frame_t          f;
    ngx_stream_iot_coap_main_conf_t  *mcf;

    c = s->connection;

    mcf = ngx_stream_get_module_main_conf(s, ngx_stream_iot_coap_module);

    /* the link is local: the secret is the second line of defence */

    if (!ngx_stream_iot_coap_loopback(c->sockaddr)) {
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "coap link: a frame from %V, not a loopback address, "
                      "dropped", &c->addr_text);
        return;
    }

    while (len) {
        if (ngx_iot_coaplink_parse(data, len, &mcf->secret, ngx_iot_now_ms(),
                                   &f, &why)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_WARN, c->log, 0,
                          "coap link: a frame of %uz bytes from %V dropped: "
                          "%s", len, &c->addr_text, why);
            return;
        }

        ngx_stream_iot_coap_frame(s, &f);

        data += f.size;
        len -= f.size;
    }
}


static void
ngx_stream_iot_coap_frame(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f)
{
    ngx_connection_t          *c;
    ngx_iot_coaplink_frame_t   r;

    c = s->connection;

    switch (f->type) {

    case NGX_IOT_COAPLINK_UPLINK:
        ngx_stream_iot_coap_uplink(s, f);
        return;

    case NGX_IOT_COAPLINK_PULL:
        ngx_stream_iot_coap_pull(s, f);
        return;

    case NGX_IOT_COAPLINK_PULLED:
        ngx_stream_iot_coap_pulled(s, f);
        return;

    case NGX_IOT_COAPLINK_KEY:
        ngx_stream_iot_coap_key(s, f);
        return;

    case NGX_IOT_COAPLINK_PUSH_POLL:
        ngx_stream_iot_coap_push_poll(s, f);
        return;

    case NGX_IOT_COAPLINK_PUSHED:
        ngx_stream_iot_coap_pushed(s, f);
        return;

    default:
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "coap link: a frame of type %ui is not known here",
                      f->type);

        ngx_memzero(&r, sizeof(ngx_iot_coaplink_frame_t));
        r.type = f->type + 1;
        r.seq = f->seq;
        r.result = NGX_IOT_COAPLINK_BAD;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }
}


/* a device's POST or PUT: a data message, answered once it is recorded */

static void
ngx_stream_iot_coap_uplink(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f)
{
    uint64_t                    device;
    struct sockaddr            *sa;
    ngx_iot_device_t            d;
    ngx_iot_rc_e                rc;
    ngx_connection_t           *c;
    ngx_iot_message_t           m;
    ngx_iot_coaplink_frame_t    r;
    ngx_stream_iot_coap_req_t  *req;
    ngx_stream_iot_coap_ctx_t  *ctx;
    ngx_sockaddr_t              addr;

    c = s->connection;
    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_coap_module);

    ngx_memzero(&r, sizeof(ngx_iot_coaplink_frame_t));
    r.type = NGX_IOT_COAPLINK_UPLINK_R;
    r.seq = f->seq;

    if (!f->has_addr || f->method.len == 0 || f->payload.data == NULL) {
        r.result = NGX_IOT_COAPLINK_BAD;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    if (f->payload.len > NGX_IOT_PAYLOAD_MAX) {
        r.result = NGX_IOT_COAPLINK_TOO_LARGE;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    sa = &addr.sockaddr;

    if (ngx_iot_coaplink_sockaddr(f, sa) == 0) {
        r.result = NGX_IOT_COAPLINK_UNKNOWN;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    req = ngx_stream_iot_coap_request(s, f);
    if (req == NULL) {
        r.result = NGX_IOT_COAPLINK_UNAVAILABLE;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    ngx_memzero(&m, sizeof(ngx_iot_message_t));

    m.transport = NGX_IOT_TRANSPORT_COAP;
    m.local_port = f->local_port;
    m.remote_port = f->port;
    m.coap_method = f->method;
    m.coap_path = f->path;
    m.payload = f->payload;

    /* over DTLS the identity names the device, not the address */

    device = 0;

    if (f->identity.len) {
        rc = ngx_stream_iot_coap_device(s, f, &d);

        if (rc == NGX_IOT_OK) {
            device = d.id.key;
        }

    } else {
        rc = NGX_IOT_OK;
    }

    if (rc == NGX_IOT_OK) {
        rc = ngx_iot_uplink_durable((ngx_cycle_t *) ngx_cycle, sa, device,
                                    &m, req->pool, c->log, &req->wait);
    }

    if (rc == NGX_IOT_QUEUED) {
        ngx_queue_insert_tail(&ctx->pending, &req->queue);
        return;
    }

    ngx_destroy_pool(req->pool);

    if (rc == NGX_IOT_NOT_FOUND) {
        ngx_log_debug1(NGX_LOG_DEBUG_STREAM, c->log, 0,
                       "coap link: no device has the address of a CoAP "
                       "%V", &f->method);
    }

    r.result = ngx_stream_iot_coap_result(rc);
    ngx_stream_iot_coap_reply(s, &r);
}


/* a device's GET: its oldest queued coap-pull downlink, if any */

static void
ngx_stream_iot_coap_pull(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f)
{
    ngx_int_t                      rc;
    ngx_iot_rc_e                   found;
    ngx_connection_t              *c;
    ngx_iot_store_t               *store;
    ngx_iot_device_t               d;
    ngx_iot_coaplink_frame_t       r;
    ngx_stream_iot_coap_pulled_t   pulled;

    c = s->connection;

    ngx_memzero(&r, sizeof(ngx_iot_coaplink_frame_t));
    r.type = NGX_IOT_COAPLINK_PULL_R;
    r.seq = f->seq;

    found = ngx_stream_iot_coap_device(s, f, &d);

    if (found != NGX_IOT_OK) {
        r.result = ngx_stream_iot_coap_result(found);
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, c->log);

    rc = (store == NULL)
         ? NGX_ERROR
         : ngx_iot_store_downlink_next(store, d.id.key,
                                       NGX_IOT_DOWNLINK_COAP_PULL,
                                       ngx_stream_iot_coap_take, &pulled,
                                       c->log);

    switch (rc) {

    case NGX_OK:
        r.result = NGX_IOT_COAPLINK_OK;
        r.downlink = pulled.id;
        r.device = d.id.key;
        r.payload.data = pulled.payload;
        r.payload.len = pulled.len;
        break;

    case NGX_DECLINED:
        r.result = NGX_IOT_COAPLINK_EMPTY;
        break;

    default:
        r.result = NGX_IOT_COAPLINK_UNAVAILABLE;
        break;
    }

    ngx_stream_iot_coap_reply(s, &r);
}


static ngx_int_t
ngx_stream_iot_coap_take(ngx_iot_downlink_row_t *row, void *data)
{
    ngx_stream_iot_coap_pulled_t  *pulled = data;

    pulled->id = row->id;
    pulled->device = row->device;
    pulled->port = row->port;
    pulled->len = ngx_min(row->payload.len, NGX_IOT_PAYLOAD_MAX);
    ngx_memcpy(pulled->payload, row->payload.data, pulled->len);
    pulled->path_len = ngx_min(row->coap_path.len, sizeof(pulled->path));
    ngx_memcpy(pulled->path, row->coap_path.data, pulled->path_len);

    return NGX_OK;
}


/*
 * The sidecar asks for the next queued coap-push after the last one it
 * took (0 after its start: what was in flight when it stopped goes
 * again).  The device's address is the one it has now.
 */

static void
ngx_stream_iot_coap_push_poll(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f)
{
    ngx_int_t                      rc;
    ngx_connection_t              *c;
    ngx_iot_store_t               *store;
    ngx_iot_device_t               d;
    ngx_iot_coaplink_frame_t       r;
    ngx_stream_iot_coap_pulled_t   pushed;

    c = s->connection;

    ngx_memzero(&r, sizeof(ngx_iot_coaplink_frame_t));
    r.type = NGX_IOT_COAPLINK_PUSH_POLL_R;
    r.seq = f->seq;

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, c->log);

    rc = (store == NULL)
         ? NGX_ERROR
         : ngx_iot_store_downlink_push_next(store,
                                            NGX_IOT_DOWNLINK_COAP_PUSH,
                                            f->downlink,
                                            ngx_stream_iot_coap_take,
                                            &pushed, c->log);

    switch (rc) {

    case NGX_OK:
        r.result = NGX_IOT_COAPLINK_OK;
        r.downlink = pushed.id;
        r.device = pushed.device;
        r.payload.data = pushed.payload;
        r.payload.len = pushed.len;
        r.path.data = pushed.path;
        r.path.len = pushed.path_len;

        if (ngx_iot_device_get((ngx_cycle_t *) ngx_cycle, pushed.device, 0,
                               c->pool, &d)
            == NGX_IOT_OK
            && d.net_family == 4)
        {
            r.has_addr = 1;
            r.family = AF_INET;
            r.port = pushed.port;
            ngx_memcpy(r.addr, d.net_addr, 4);
        }

        break;

    case NGX_DECLINED:
        r.result = NGX_IOT_COAPLINK_EMPTY;
        break;

    default:
        r.result = NGX_IOT_COAPLINK_UNAVAILABLE;
        break;
    }

    ngx_stream_iot_coap_reply(s, &r);
}


/* what the device said to a push: delivered, or failed and why */

static void
ngx_stream_iot_coap_pushed(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f)
{
    ngx_uint_t                  state, reason, level;
    ngx_iot_rc_e                rc;
    ngx_connection_t           *c;
    ngx_iot_coaplink_frame_t    r;
    ngx_stream_iot_coap_req_t  *req;
    ngx_stream_iot_coap_ctx_t  *ctx;

    c = s->connection;
    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_coap_module);

    ngx_memzero(&r, sizeof(ngx_iot_coaplink_frame_t));
    r.type = NGX_IOT_COAPLINK_PUSHED_R;
    r.seq = f->seq;

    state = NGX_IOT_DOWNLINK_FAILED;

    switch (f->result) {

    case NGX_IOT_COAPLINK_DELIVERED:
        state = NGX_IOT_DOWNLINK_DELIVERED;
        reason = NGX_IOT_DOWNLINK_NO_REASON;
        break;

    case NGX_IOT_COAPLINK_REFUSED:
        reason = NGX_IOT_DOWNLINK_REFUSED;
        break;

    case NGX_IOT_COAPLINK_NO_ANSWER:
        reason = NGX_IOT_DOWNLINK_NO_ANSWER;
        break;

    case NGX_IOT_COAPLINK_NO_ADDRESS:
        reason = NGX_IOT_DOWNLINK_NO_ADDRESS;
        break;

    default:
        reason = NGX_IOT_DOWNLINK_SEND_FAILED;
        break;
    }

    if (f->downlink == 0 || f->device == 0 || f->result < 0) {
        r.result = NGX_IOT_COAPLINK_BAD;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    if (f->code >= 0) {
        level = (state == NGX_IOT_DOWNLINK_DELIVERED) ? NGX_LOG_INFO
                                                      : NGX_LOG_NOTICE;

        ngx_log_error(level, c->log, 0,
                      "coap link: coap-push %uL answered %d.%02d",
                      f->downlink, (int) (f->code >> 5), (int) (f->code & 31));
    }

    req = ngx_stream_iot_coap_request(s, f);
    if (req == NULL) {
        r.result = NGX_IOT_COAPLINK_UNAVAILABLE;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    rc = ngx_iot_downlink_settle((ngx_cycle_t *) ngx_cycle, f->downlink,
                                 f->device, NGX_IOT_DOWNLINK_COAP_PUSH,
                                 state, reason, c->log, &req->wait);

    if (rc == NGX_IOT_QUEUED) {
        ngx_queue_insert_tail(&ctx->pending, &req->queue);
        return;
    }

    ngx_destroy_pool(req->pool);

    r.result = ngx_stream_iot_coap_result(rc);
    ngx_stream_iot_coap_reply(s, &r);
}


/* the sidecar handed a pulled downlink to its device: delivered */

static void
ngx_stream_iot_coap_pulled(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f)
{
    ngx_iot_rc_e                rc;
    ngx_connection_t           *c;
    ngx_iot_coaplink_frame_t    r;
    ngx_stream_iot_coap_req_t  *req;
    ngx_stream_iot_coap_ctx_t  *ctx;

    c = s->connection;
    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_coap_module);

    ngx_memzero(&r, sizeof(ngx_iot_coaplink_frame_t));
    r.type = NGX_IOT_COAPLINK_PULLED_R;
    r.seq = f->seq;

    if (f->downlink == 0 || f->device == 0) {
        r.result = NGX_IOT_COAPLINK_BAD;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    req = ngx_stream_iot_coap_request(s, f);
    if (req == NULL) {
        r.result = NGX_IOT_COAPLINK_UNAVAILABLE;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    rc = ngx_iot_downlink_settle((ngx_cycle_t *) ngx_cycle, f->downlink,
                                 f->device, NGX_IOT_DOWNLINK_COAP_PULL,
                                 NGX_IOT_DOWNLINK_DELIVERED,
                                 NGX_IOT_DOWNLINK_NO_REASON, c->log,
                                 &req->wait);

    if (rc == NGX_IOT_QUEUED) {
        ngx_queue_insert_tail(&ctx->pending, &req->queue);
        return;
    }

    ngx_destroy_pool(req->pool);

    r.result = ngx_stream_iot_coap_result(rc);
    ngx_stream_iot_coap_reply(s, &r);
}


/*
 * The device a frame is about: by its PSK identity over DTLS, else by its
 * address (the RADIUS map).
 */

static ngx_iot_rc_e
ngx_stream_iot_coap_device(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f, ngx_iot_device_t *d)
{
    in_addr_t  a;

    if (f->identity.len) {
        return ngx_iot_psk_key((ngx_cycle_t *) ngx_cycle, &f->identity,
                               s->connection->pool, NULL, d,
                               s->connection->log);
    }

    if (!f->has_addr || f->family != AF_INET) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_memcpy(&a, f->addr, 4);

    return ngx_iot_session_device((ngx_cycle_t *) ngx_cycle, ntohl(a),
                                  s->connection->pool, d);
}


/*
 * A DTLS handshake's identity: its key, for this handshake.  The key is
 * read from the store each time, so a new one counts from the next
 * handshake; it is in the reply only, never in a log line.
 */

static void
ngx_stream_iot_coap_key(ngx_stream_session_t *s, ngx_iot_coaplink_frame_t *f)
{
    ngx_str_t                  key;
    ngx_pool_t                *pool;
    ngx_iot_rc_e               rc;
    ngx_iot_device_t           d;
    ngx_iot_coaplink_frame_t   r;

    ngx_memzero(&r, sizeof(ngx_iot_coaplink_frame_t));
    r.type = NGX_IOT_COAPLINK_KEY_R;
    r.seq = f->seq;

    pool = ngx_create_pool(1024, s->connection->log);
    if (pool == NULL) {
        r.result = NGX_IOT_COAPLINK_UNAVAILABLE;
        ngx_stream_iot_coap_reply(s, &r);
        return;
    }

    rc = ngx_iot_psk_key((ngx_cycle_t *) ngx_cycle, &f->identity, pool, &key,
                         &d, s->connection->log);

    if (rc == NGX_IOT_OK && key.len) {
        r.result = NGX_IOT_COAPLINK_OK;
        r.key = key;
        r.device = d.id.key;

    } else {
        ngx_log_debug0(NGX_LOG_DEBUG_STREAM, s->connection->log, 0,
                       "coap link: a PSK identity of no device with a key");
        r.result = (rc == NGX_IOT_STORE_ERROR) ? NGX_IOT_COAPLINK_UNAVAILABLE
                                               : NGX_IOT_COAPLINK_UNKNOWN;
    }

    ngx_stream_iot_coap_reply(s, &r);

    if (rc == NGX_IOT_OK && key.data) {
        ngx_explicit_memzero(key.data, key.len);
    }

    ngx_destroy_pool(pool);
}


static ngx_stream_iot_coap_req_t *
ngx_stream_iot_coap_request(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f)
{
    ngx_pool_t                 *pool;
    ngx_stream_iot_coap_req_t  *req;

    pool = ngx_create_pool(1024, s->connection->log);
    if (pool == NULL) {
        return NULL;
    }

    req = ngx_pcalloc(pool, sizeof(ngx_stream_iot_coap_req_t));
    if (req == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    req->session = s;
    req->pool = pool;
    req->type = f->type;
    req->seq = f->seq;

    req->wait.handler = ngx_stream_iot_coap_answered;
    req->wait.data = req;
    req->wait.pool = pool;

    return req;
}


/* on the event loop: the core has a frame's message or write */

static void
ngx_stream_iot_coap_answered(ngx_iot_wait_t *wait)
{
    ngx_stream_iot_coap_req_t *req = wait->data;

    ngx_stream_session_t      *s;
    ngx_iot_coaplink_frame_t   r;

    s = req->session;

    ngx_queue_remove(&req->queue);

    ngx_memzero(&r, sizeof(ngx_iot_coaplink_frame_t));
    r.type = req->type + 1;
    r.seq = req->seq;
    r.result = ngx_stream_iot_coap_result(wait->rc);

    ngx_destroy_pool(req->pool);

    ngx_stream_iot_coap_reply(s, &r);

    ngx_stream_iot_coap_finish(s);
}


static ngx_int_t
ngx_stream_iot_coap_result(ngx_iot_rc_e rc)
{
    switch (rc) {

    case NGX_IOT_OK:
        return NGX_IOT_COAPLINK_OK;

    case NGX_IOT_NOT_FOUND:
        return NGX_IOT_COAPLINK_UNKNOWN;

    default:
        return NGX_IOT_COAPLINK_UNAVAILABLE;
    }
}


static void
ngx_stream_iot_coap_flush_handler(ngx_event_t *ev)
{
    ngx_stream_iot_coap_flush(ev->data);
}


static void
ngx_stream_iot_coap_flush(ngx_stream_session_t *s)
{
    ssize_t                     n;
    ngx_connection_t           *c;
    ngx_stream_iot_coap_ctx_t  *ctx;

    c = s->connection;
    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_coap_module);

    if (ctx->out_len == 0) {
        return;
    }

    n = c->send(c, ctx->out, ctx->out_len);

    if (n != (ssize_t) ctx->out_len) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "coap link: replies of %uz bytes not sent",
                      ctx->out_len);
    }

    ctx->out_len = 0;
}


/* a reply, to the datagram that goes at the end of this turn */

static void
ngx_stream_iot_coap_reply(ngx_stream_session_t *s,
    ngx_iot_coaplink_frame_t *f)
{
    size_t                            len;
    ngx_connection_t                 *c;
    ngx_stream_iot_coap_ctx_t        *ctx;
    ngx_stream_iot_coap_main_conf_t  *mcf;

    c = s->connection;

    mcf = ngx_stream_get_module_main_conf(s, ngx_stream_iot_coap_module);
    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_coap_module);

    if (ngx_exiting) {
        /* the listening socket is gone: the sidecar's timeout answers */
        return;
    }

    if (ctx->out == NULL) {
        ctx->out = ngx_pnalloc(c->pool, NGX_IOT_COAPLINK_DATAGRAM_MAX);
        if (ctx->out == NULL) {
            return;
        }
    }

    if (NGX_IOT_COAPLINK_DATAGRAM_MAX - ctx->out_len
        < NGX_IOT_COAPLINK_MAX_LEN)
    {
        ngx_stream_iot_coap_flush(s);
    }

    f->time = ngx_iot_now_ms();

    len = ngx_iot_coaplink_build(f, &mcf->secret, ctx->out + ctx->out_len);

    if (len == 0) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "coap link: a reply could not be built");
        return;
    }

    ctx->out_len += len;

    if (!ctx->flush.posted) {
        ngx_post_event(&ctx->flush, &ngx_posted_events);
    }
}


static ngx_uint_t
ngx_stream_iot_coap_loopback(struct sockaddr *sa)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (sa->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
#endif

#if (NGX_HAVE_UNIX_DOMAIN)
    case AF_UNIX:
        return 1;
#endif

    default:
        return 0;
    }
}


/*
 * coap-pull: the message is queued in the store for the device to take
 * with a CoAP GET; a device has at most "queue=" of them waiting.
 */

static ngx_iot_rc_e
ngx_stream_iot_coap_pull_send(ngx_cycle_t *cycle, ngx_iot_device_t *d,
    ngx_iot_downlink_t *m, ngx_log_t *log)
{
    ngx_uint_t                        n;
    ngx_iot_store_t                  *store;
    ngx_stream_iot_coap_main_conf_t  *mcf;

    mcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                ngx_stream_iot_coap_module);

    store = ngx_iot_store_get(cycle, log);

    if (store == NULL
        || ngx_iot_store_downlink_queued(store, d->id.key,
                                         NGX_IOT_DOWNLINK_COAP_PULL, &n, log)
           != NGX_OK)
    {
        return NGX_IOT_SEND_FAILED;
    }

    if (n >= mcf->queue) {
        return NGX_IOT_QUEUE_FULL;
    }

    return NGX_IOT_QUEUED;
}


/* coap-push: queued for the sidecar, to a device with an address */

static ngx_iot_rc_e
ngx_stream_iot_coap_push_send(ngx_cycle_t *cycle, ngx_iot_device_t *d,
    ngx_iot_downlink_t *m, ngx_log_t *log)
{
    if (d->net_family != 4) {
        return NGX_IOT_NO_ADDRESS;
    }

    return NGX_IOT_QUEUED;
}


static ngx_iot_rc_e
ngx_stream_iot_coap_pull_ready(ngx_cycle_t *cycle)
{
    /* queued in the store: the sidecar may come later */
    return NGX_IOT_OK;
}


/* ------------------------------------------------------- configuration */


static void *
ngx_stream_iot_coap_create_main_conf(ngx_conf_t *cf)
{
    ngx_stream_iot_coap_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_iot_coap_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    mcf->queue = NGX_STREAM_IOT_COAP_QUEUE;

    return mcf;
}


/* iot_coap_link secret_file=<path> [queue=<n>]; */

static char *
ngx_stream_iot_coap_link(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_iot_coap_main_conf_t *mcf = conf;

    ngx_int_t                    n;
    ngx_str_t                   *value, path;
    ngx_uint_t                   i;
    ngx_iot_conf_t              *icf;
    ngx_stream_core_srv_conf_t  *cscf;

    if (mcf->used) {
        return "is duplicate: one CoAP link per configuration";
    }

    icf = (ngx_iot_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                          ngx_iot_module);

    if (icf->shm_zone == NULL) {
        return "needs \"iot_zone\", \"iot_store\" and "
               "\"iot_admin_token_file\" at the top level of the "
               "configuration, before the stream block";
    }

    value = cf->args->elts;
    ngx_str_null(&path);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "secret_file=", 12) == 0) {
            path.data = value[i].data + 12;
            path.len = value[i].len - 12;
            continue;
        }

        if (ngx_strncmp(value[i].data, "queue=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n < 1 || n > 10000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"queue=\" must be 1 to 10000");
                return NGX_CONF_ERROR;
            }

            mcf->queue = (ngx_uint_t) n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (path.len == 0) {
        return "needs \"secret_file=\"";
    }

    if (ngx_conf_full_name(cf->cycle, &path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_stream_iot_coap_secret(cf, &path, &mcf->secret) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mcf->used = 1;

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);
    cscf->handler = ngx_stream_iot_coap_handler;

    ngx_iot_downlink_register(cf->cycle, NGX_IOT_DOWNLINK_COAP_PULL,
                              &ngx_stream_iot_coap_pull_sender);
    ngx_iot_downlink_register(cf->cycle, NGX_IOT_DOWNLINK_COAP_PUSH,
                              &ngx_stream_iot_coap_push_sender);

    return NGX_CONF_OK;
}


/* the shared secret: the file's first line, 16 bytes at least, private */

static ngx_int_t
ngx_stream_iot_coap_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *secret)
{
    u_char           *p;
    size_t            len;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;
    u_char            buf[1024];

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open the CoAP link secret \"%V\"", path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || (fi.st_mode & 077) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the CoAP link secret \"%V\" must be a file "
                           "for its owner alone (mode 0600)", path);
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));
    (void) ngx_close_file(fd);

    if (n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read the CoAP link secret \"%V\"", path);
        return NGX_ERROR;
    }

    p = ngx_strlchr(buf, buf + n, '\n');
    len = (p ? p : buf + n) - buf;

    if (len > 0 && buf[len - 1] == '\r') {
        len--;
    }

    if (len < 16) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the CoAP link secret \"%V\" must be 16 "
                           "characters at least", path);
        return NGX_ERROR;
    }

    secret->data = ngx_pnalloc(cf->pool, len);
    if (secret->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(secret->data, buf, len);
    secret->len = len;

    ngx_explicit_memzero(buf, sizeof(buf));

    return NGX_OK;
}
