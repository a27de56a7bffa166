
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect's data: /data (the history, newest first),
 * /from (a live WebSocket stream), /to (downlink datagrams) and
 * /downlinks (those sent, with their state), of a collection or of one of
 * its devices.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_collections.h"
#include "ngx_iot_downlink.h"


/* /to of a whole collection: where the scan of its devices is */
typedef struct {
    ngx_http_request_t        *request;
    ngx_iot_downlink_batch_t  *batch;
    ngx_iot_store_cursor_t     cursor;
    ngx_uint_t                 sent;
    ngx_uint_t                 failed;
    ngx_chain_t               *errors;
    ngx_chain_t              **last;
    unsigned                   nomem:1;
} ngx_http_iot_to_all_t;


/* /to: the answer, once the store has the downlinks */
typedef struct {
    ngx_iot_rc_e               sent;      /* to one device */
    ngx_chain_t               *out;       /* to a collection */
} ngx_http_iot_to_t;


static ngx_int_t ngx_http_iot_newest(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_iot_store_t *store);
static ngx_int_t ngx_http_iot_to_one(void *row, void *data);
static ngx_int_t ngx_http_iot_to_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);


/*
 * The collection of a /from, /data or /to path, and its device when the
 * path names one: NGX_DECLINED, the reason noted, when there is none.
 */

static ngx_int_t
ngx_http_iot_target(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_uint_t device, uint64_t *cid, uint64_t *did, ngx_iot_device_t *d)
{
    ngx_cycle_t  *cycle;

    cycle = (ngx_cycle_t *) ngx_cycle;
    *did = 0;

    if (ngx_http_iot_collections_path_id(&ctx->seg[1], cid) != NGX_OK) {
        return ngx_http_iot_invalid(r, NGX_HTTP_NOT_FOUND,
                                    "collection not found");
    }

    if (!device) {
        return ngx_iot_collection_exists(cycle, *cid)
               ? NGX_OK
               : ngx_http_iot_invalid(r, NGX_HTTP_NOT_FOUND,
                                      "collection not found");
    }

    if (ngx_http_iot_collections_path_id(&ctx->seg[3], did) != NGX_OK
        || ngx_iot_device_get(cycle, *did, *cid, r->pool, d) != NGX_IOT_OK)
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_NOT_FOUND,
                                    "device not found");
    }

    return NGX_OK;
}


/* /from: a WebSocket stream of the collection's or the device's data */

ngx_int_t
ngx_http_iot_collections_from(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    uint64_t          cid, did;
    ngx_uint_t        device;
    ngx_iot_device_t  d;

    device = ctx->route->arg & NGX_HTTP_IOT_ARG_DEVICE;

    if (ngx_http_iot_target(r, ctx, device, &cid, &did, &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    return ngx_http_iot_stream(r, cid, did);
}


/* /data: the stored messages, newest first */

static ngx_int_t
ngx_http_iot_message_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    void *row, ngx_buf_t *b)
{
    ngx_iot_message_t  *m = row;

    ngx_iot_device_t  d;

    /* the messages of a deleted device are not shown */

    if (ngx_iot_device_get((ngx_cycle_t *) ngx_cycle, m->device_id, 0,
                           list->tmp, &d)
        != NGX_IOT_OK)
    {
        return NGX_DECLINED;
    }

    /* one that has moved on: nothing of what its collection is now */

    if (d.collection_id != m->collection_id) {
        ngx_http_iot_collections_device_gone(m, &d);
    }

    if (b == NULL) {
        return NGX_OK;
    }

    if ((size_t) (b->end - b->last)
        < ngx_http_iot_collections_message_len(m, &d))
    {
        return NGX_AGAIN;
    }

    b->last = ngx_http_iot_collections_message_write(b->last, m, &d,
                  ngx_iot_collection_mask((ngx_cycle_t *) ngx_cycle,
                                          m->collection_id));

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_time_arg(ngx_http_request_t *r, char *name, int64_t *value)
{
    off_t      n;
    ngx_str_t  v;

    *value = 0;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK
        || v.len == 0)
    {
        return NGX_OK;
    }

    n = ngx_atoof(v.data, v.len);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    *value = (int64_t) n;

    return NGX_OK;
}


ngx_int_t
ngx_http_iot_collections_data(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    int64_t            since, until;
    uint64_t           cid, did;
    ngx_uint_t         device;
    ngx_iot_device_t   d;

    device = ctx->route->arg & NGX_HTTP_IOT_ARG_DEVICE;

    if (ngx_http_iot_target(r, ctx, device, &cid, &did, &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (ngx_http_iot_time_arg(r, "since", &since) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "since must be a time in milliseconds "
                                  "(0: from the first message)");
    }

    if (ngx_http_iot_time_arg(r, "until", &until) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "until must be a time in milliseconds "
                                  "(0: up to the last message)");
    }

    if (ngx_http_iot_list_new(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->list->cursor.kind = device ? NGX_IOT_STORE_DEVICE_HISTORY
                                   : NGX_IOT_STORE_HISTORY;
    ctx->list->cursor.scope = device ? did : cid;

    /* a device's messages of this collection only: it may have moved */
    ctx->list->cursor.collection = device ? cid : 0;
    ctx->list->cursor.since = (uint64_t) since;
    ctx->list->cursor.until = (uint64_t) until;
    ctx->list->row = ngx_http_iot_message_row;
    ngx_str_set(&ctx->list->head, "{\"messages\":[");

    return ngx_http_iot_newest(r, ctx,
                               ngx_iot_history_reader((ngx_cycle_t *) ngx_cycle,
                                                      r->connection->log));
}


/*
 * The list of ctx->list, newest first, from store (NULL: it could not be
 * had), at most limit rows (default 256, 0: all).
 */

static ngx_int_t
ngx_http_iot_newest(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_store_t *store)
{
    off_t      limit;
    ngx_str_t  v;

    limit = 256;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &v) == NGX_OK) {
        limit = ngx_atoof(v.data, v.len);

        if (limit == NGX_ERROR) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "limit must be a number (0: all)");
        }
    }

    if (store == NULL) {
        return ngx_http_iot_collections_rc_error(r, NGX_IOT_STORE_ERROR, NULL);
    }

    ctx->list->store = store;
    ctx->list->limit = (ngx_uint_t) limit;

    ctx->list->tmp = ngx_create_pool(4096, r->connection->log);
    if (ctx->list->tmp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_iot_list_cleanup(r, ctx->list) != NGX_OK) {
        ngx_destroy_pool(ctx->list->tmp);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_list_start(r, ctx->list);
}


/* one device of the collection: sent, or an entry in "errors" */

static ngx_int_t
ngx_http_iot_to_one(void *row, void *data)
{
    ngx_iot_device_t       *d = row;
    ngx_http_iot_to_all_t  *all = data;

    u_char               id[NGX_IOT_ID_LEN];
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_iot_rc_e         rc;
    ngx_http_request_t  *r;

    r = all->request;

    rc = ngx_iot_downlink((ngx_cycle_t *) ngx_cycle, all->batch, d,
                          r->connection->log);

    if (rc == NGX_IOT_STORE_ERROR) {
        all->nomem = 1;
        return NGX_ERROR;
    }

    if (rc == NGX_IOT_OK) {
        all->sent++;
        return NGX_OK;
    }

    b = ngx_create_temp_buf(r->pool, 128);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        all->nomem = 1;
        return NGX_ERROR;
    }

    if (all->failed++) {
        *b->last++ = ',';
    }

    b->last = ngx_cpymem(b->last, "{\"deviceId\":\"",
                         sizeof("{\"deviceId\":\"") - 1);
    b->last = ngx_cpymem(b->last, id, ngx_iot_id_encode(id, d->id.key) - id);
    b->last = ngx_sprintf(b->last, "\",\"message\":\"%s\"}",
                          ngx_http_iot_collections_downlink_error(rc));

    cl->buf = b;
    cl->next = NULL;
    *all->last = cl;
    all->last = &cl->next;

    return NGX_OK;
}


/* /to: a datagram to the device, or to every device of the collection */

static ngx_int_t
ngx_http_iot_downlink_fields(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_downlink_e *transport, ngx_iot_downlink_t *m)
{
    json_t      *v;
    ngx_str_t    b64, name;
    ngx_int_t    t;
    ngx_str_t   *payload;
    json_int_t   n;

    *transport = NGX_IOT_DOWNLINK_UDP;
    payload = &m->payload;

    v = ngx_http_iot_collections_field(ctx->body, "transport");

    if (v) {
        if (!json_is_string(v)) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "transport must be udp, "
                                        "coap-push or coap-pull");
        }

        name.data = (u_char *) json_string_value(v);
        name.len = json_string_length(v);

        t = name.len ? ngx_iot_downlink_transport(&name)
                     : NGX_IOT_DOWNLINK_UDP;

        if (t == NGX_ERROR) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "transport must be udp, "
                                        "coap-push or coap-pull");
        }

        *transport = (ngx_iot_downlink_e) t;
    }

    v = ngx_http_iot_collections_field(ctx->body, "port");

    if (v == NULL && *transport != NGX_IOT_DOWNLINK_UDP) {
        /* CoAP's own port (coap-pull has none: the device asks) */
        m->port = 5683;
        goto payload;
    }

    if (v == NULL || !json_is_integer(v)
        || (n = json_integer_value(v)) < 1 || n > 65535)
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "port must be a number from 1 "
                                    "to 65535");
    }

    m->port = (ngx_uint_t) n;

payload:

    /* coap-push: the path to POST to on the device, without a "/" first */

    v = ngx_http_iot_collections_field(ctx->body, "coapPath");

    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || json_string_length(v) > 255
            || *transport != NGX_IOT_DOWNLINK_COAP_PUSH)
        {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "coapPath must be a string of up "
                                        "to 255 characters, for coap-push");
        }

        name.data = (u_char *) json_string_value(v);
        name.len = json_string_length(v);

        while (name.len && name.data[0] == '/') {
            name.data++;
            name.len--;
        }

        m->coap_path = name;
    }

    v = ngx_http_iot_collections_field(ctx->body, "payload");

    if (v == NULL || !json_is_string(v) || json_string_length(v) == 0) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "payload must be base64 of 1 "
                                    "to 2048 bytes");
    }

    b64.data = (u_char *) json_string_value(v);
    b64.len = json_string_length(v);

    if (ngx_base64_decoded_length(b64.len) > NGX_IOT_PAYLOAD_MAX + 2) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "payload must be base64 of 1 "
                                    "to 2048 bytes");
    }

    payload->data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(b64.len));
    if (payload->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64(payload, &b64) != NGX_OK
        || payload->len == 0 || payload->len > NGX_IOT_PAYLOAD_MAX)
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "payload must be base64 of 1 "
                                    "to 2048 bytes");
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_iot_collections_to(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t                  rc;
    uint64_t                   cid, did;
    ngx_buf_t                 *b;
    ngx_uint_t                 device;
    ngx_chain_t               *cl;
    ngx_iot_rc_e               irc;
    ngx_iot_wait_t            *wait;
    ngx_iot_store_t           *store;
    ngx_iot_device_t           d;
    ngx_http_iot_to_t         *to;
    ngx_iot_downlink_t        *m;
    ngx_iot_downlink_e         transport;
    ngx_http_iot_to_all_t      all;
    ngx_iot_downlink_batch_t  *batch;

    device = ctx->route->arg & NGX_HTTP_IOT_ARG_DEVICE;

    if (ngx_http_iot_target(r, ctx, device, &cid, &did, &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    /* the batch keeps the message until the store has it */

    m = ngx_pcalloc(r->pool, sizeof(ngx_iot_downlink_t));
    batch = ngx_pcalloc(r->pool, sizeof(ngx_iot_downlink_batch_t));
    to = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_to_t));
    if (m == NULL || batch == NULL || to == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_iot_downlink_fields(r, ctx, &transport, m);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    irc = ngx_iot_downlink_ready((ngx_cycle_t *) ngx_cycle, transport);

    if (irc == NGX_IOT_NO_TRANSPORT && transport != NGX_IOT_DOWNLINK_UDP) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "transport: coap-push and coap-pull need "
                                  "the CoAP link (iot_coap_link), which "
                                  "this server does not have");
    }

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  ngx_http_iot_collections_downlink_error(irc));
    }

    if (ngx_iot_downlink_batch_init(batch, r->pool, transport, m) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (device) {
        to->sent = ngx_iot_downlink((ngx_cycle_t *) ngx_cycle, batch, &d,
                                    r->connection->log);

        if (to->sent == NGX_IOT_STORE_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        goto keep;
    }

    /* the whole collection, from the store, a batch at a time */

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);
    if (store == NULL) {
        return ngx_http_iot_collections_rc_error(r, NGX_IOT_STORE_ERROR, NULL);
    }

    ngx_memzero(&all, sizeof(ngx_http_iot_to_all_t));
    all.request = r;
    all.batch = batch;
    all.last = &all.errors;
    all.cursor.kind = NGX_IOT_STORE_DEVICES;
    all.cursor.scope = cid;

    while (!all.cursor.done) {
        if (ngx_iot_store_list(store, &all.cursor, 256, ngx_http_iot_to_one,
                               &all, r->connection->log)
            != NGX_OK)
        {
            if (all.nomem) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            /* what was sent before the store failed is kept */
            to->sent = NGX_IOT_STORE_ERROR;
            goto keep;
        }
    }

    b = ngx_create_temp_buf(r->pool, 64);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "]}", 2);
    cl->buf = b;
    cl->next = NULL;
    *all.last = cl;

    /* the counts go first, now that they are known */

    b = ngx_create_temp_buf(r->pool, 64);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last,
                          "{\"sent\":%ui,\"failed\":%ui,\"errors\":[",
                          all.sent, all.failed);
    cl->buf = b;
    cl->next = all.errors;
    to->out = cl;

keep:

    wait = ngx_http_iot_waiter(r, ngx_http_iot_to_answer, to);

    return ngx_http_iot_answer(r,
                               ngx_iot_downlink_keep((ngx_cycle_t *) ngx_cycle,
                                                     batch, r->connection->log,
                                                     wait));
}


/*
 * The answer is what the network did: a datagram that went is not taken
 * back when its state could not be stored (the store said why in the
 * error log), so that a client does not send it twice.
 */

static ngx_int_t
ngx_http_iot_to_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    ngx_http_iot_to_t   *to;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    to = ctx->answer_data;

    if (to->out) {
        return ngx_http_iot_send_chain(r, NGX_HTTP_OK, to->out);
    }

    switch (to->sent) {

    case NGX_IOT_OK:
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);

    case NGX_IOT_STORE_ERROR:
        return ngx_http_iot_collections_rc_error(r, NGX_IOT_STORE_ERROR,
                                                 NULL);

    default:
        return ngx_http_iot_error(r, (to->sent == NGX_IOT_NO_ADDRESS
                                      || to->sent == NGX_IOT_QUEUE_FULL)
                                     ? NGX_HTTP_CONFLICT
                                     : NGX_HTTP_SERVICE_UNAVAILABLE,
                                  ngx_http_iot_collections_downlink_error(
                                      to->sent));
    }
}


/* /downlinks: what was sent, newest first, with its state */

static ngx_int_t
ngx_http_iot_downlink_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    void *row, ngx_buf_t *b)
{
    ngx_iot_downlink_row_t  *dl = row;

    if (b == NULL) {
        return NGX_OK;
    }

    if ((size_t) (b->end - b->last)
        < ngx_http_iot_collections_downlink_len(dl))
    {
        return NGX_AGAIN;
    }

    b->last = ngx_http_iot_collections_downlink_write(b->last, dl);

    return NGX_OK;
}


ngx_int_t
ngx_http_iot_collections_downlinks(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    uint64_t          cid, did;
    ngx_uint_t        device;
    ngx_iot_device_t  d;

    device = ctx->route->arg & NGX_HTTP_IOT_ARG_DEVICE;

    if (ngx_http_iot_target(r, ctx, device, &cid, &did, &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (ngx_http_iot_list_new(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->list->cursor.kind = device ? NGX_IOT_STORE_DEVICE_DOWNLINKS
                                   : NGX_IOT_STORE_DOWNLINKS;
    ctx->list->cursor.scope = device ? did : cid;
    ctx->list->row = ngx_http_iot_downlink_row;
    ngx_str_set(&ctx->list->head, "{\"downlinks\":[");

    return ngx_http_iot_newest(r, ctx,
                               ngx_iot_store_get((ngx_cycle_t *) ngx_cycle,
                                                 r->connection->log));
}
