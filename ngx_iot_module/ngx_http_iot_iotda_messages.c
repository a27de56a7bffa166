
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's messages (/devices/{device_id}/messages): a message
 * is a downlink of the core (ngx_iot_downlink.h) over the device's
 * transport (UDP today), kept with its state; what IoTDA adds (the
 * message_id, unique per device, and the request's fields) is kept
 * beside the downlink in the same transaction.  Its status is the
 * downlink's state in IoTDA's words (docs/iotda.md, "Messages").
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_iotda.h"
#include "ngx_iot_downlink.h"
#include "ngx_iot_store_iotda.h"


#define NGX_HTTP_IOT_IOTDA_MESSAGE_ID_MAX  100
#define NGX_HTTP_IOT_IOTDA_TTL_DEFAULT     1440
#define NGX_HTTP_IOT_IOTDA_TTL_MAX         1440


/* a message on its way: sent, then kept */
typedef struct {
    ngx_iot_downlink_batch_t       batch;
    ngx_iot_downlink_t             m;
    ngx_str_t                      message_id;
    ngx_str_t                      fields;
    ngx_str_t                      topic;
} ngx_http_iot_iotda_msg_t;


/* what a list or a show collects from the store */
typedef struct {
    ngx_http_request_t            *r;
    json_t                        *out;       /* an array, or NULL: one */
    json_t                        *one;
    ngx_uint_t                     nomem;
} ngx_http_iot_iotda_msgs_t;


static ngx_iot_downlink_e ngx_http_iot_iotda_msg_transport(
    ngx_http_request_t *r, ngx_iot_iotda_view_t *v);
static ngx_int_t ngx_http_iot_iotda_msg_create(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_iot_device_t *d,
    ngx_iot_downlink_e transport);
static ngx_int_t ngx_http_iot_iotda_msg_fields(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_http_iot_iotda_msg_t *msg, json_t *fields,
    ngx_str_t *payload);
static ngx_int_t ngx_http_iot_iotda_msg_keep(ngx_iot_store_t *store,
    ngx_iot_downlink_batch_t *b, ngx_log_t *log);
static ngx_int_t ngx_http_iot_iotda_msg_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_iotda_msg_row(void *row, void *data);
static json_t *ngx_http_iot_iotda_msg_json(ngx_iot_downlink_row_t *dl,
    ngx_str_t *message_id, ngx_str_t *fields);
static void ngx_http_iot_iotda_msg_cleanup(void *data);


/*
 * The device of the path: found as the devices of this dialect are, and
 * reached by the credentials (write: to send to it, by the transport its
 * product names).  A command's too (ngx_http_iot_iotda_commands.c).
 */

ngx_int_t
ngx_http_iot_iotda_msg_device(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_uint_t write, ngx_iot_iotda_view_t *v, ngx_iot_downlink_e *transport)
{
    /* {device_id}: an IoTDA device id or the registry's, as for devices */

    if (ngx_http_iot_iotda_target(r, ctx, 0, write, v) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (transport) {
        *transport = ngx_http_iot_iotda_msg_transport(r, v);
    }

    if (write
        && !ngx_http_iot_iotda_reaches(&ctx->who, v->d.collection_id, 1))
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_FORBIDDEN,
                                          "IOTDA.000022 the credentials are "
                                          "read-only for this device");
    }

    /*
     * the device as its device_id names it, whichever id the path used:
     * in the envelope the device receives and in the answers
     */

    if (v->device_id.len) {
        ctx->seg[2] = v->device_id;
    }

    return NGX_OK;
}


/*
 * A device of a product whose protocol_type is CoAP gets its messages over
 * CoAP, as coap-pull or coap-push (iot_iotda_coap_downlink), when the
 * server has a CoAP link (iot_coap_link); any other device, and one
 * without a product, over UDP.
 */

static ngx_iot_downlink_e
ngx_http_iot_iotda_msg_transport(ngx_http_request_t *r,
    ngx_iot_iotda_view_t *v)
{
    json_t                   *model, *p;
    ngx_iot_downlink_e        t;
    ngx_http_iot_loc_conf_t  *lcf;

    if (v->model.len == 0) {
        return NGX_IOT_DOWNLINK_UDP;
    }

    model = ngx_http_iot_iotda_model_json(r, v->model.data, v->model.len);
    p = model ? json_object_get(model, "protocol_type") : NULL;

    t = NGX_IOT_DOWNLINK_UDP;

    if (p && json_is_string(p)
        && ngx_strcmp(json_string_value(p), "CoAP") == 0)
    {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);

        /* a server without a CoAP link sends over UDP, as before it */
        if (ngx_iot_downlink_ready((ngx_cycle_t *) ngx_cycle,
                                   lcf->coap_downlink)
            != NGX_IOT_NO_TRANSPORT)
        {
            t = (ngx_iot_downlink_e) lcf->coap_downlink;
        }
    }

    return t;
}


/* POST, GET /devices/{device_id}/messages */

ngx_int_t
ngx_http_iot_iotda_messages(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t                     *o, *list;
    ngx_int_t                   rc;
    ngx_iot_store_t            *store;
    ngx_pool_cleanup_t         *cln;
    ngx_iot_downlink_e          transport;
    ngx_iot_iotda_view_t       *v;
    ngx_http_iot_iotda_msgs_t   all;

    transport = NGX_IOT_DOWNLINK_UDP;

    v = ngx_palloc(r->pool, sizeof(ngx_iot_iotda_view_t));
    if (v == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_iot_iotda_msg_device(r, ctx, r->method == NGX_HTTP_POST,
                                       v, &transport);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                 : ngx_http_iot_error(r, ctx->status,
                                                      ctx->message);
    }

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_iot_iotda_msg_create(r, ctx, &v->d, transport);
    }

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);
    list = json_array();
    o = json_object();

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (list == NULL || o == NULL || cln == NULL) {
        json_decref(list);
        json_decref(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iot_iotda_msg_cleanup;
    cln->data = list;

    ngx_memzero(&all, sizeof(ngx_http_iot_iotda_msgs_t));
    all.r = r;
    all.out = list;

    if (store == NULL
        || ngx_iot_store_messages(store, v->d.id.key,
                                  ngx_http_iot_iotda_msg_row,
                                  &all, r->connection->log)
           != NGX_OK)
    {
        json_decref(o);

        if (all.nomem) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the messages cannot be read "
                                  "now");
    }

    if (json_object_set_new(o, "device_id",
                            json_stringn((char *) ctx->seg[2].data,
                                         ctx->seg[2].len))
        != 0
        || json_object_set(o, "messages", list) != 0)
    {
        json_decref(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, o);
}


/* GET /devices/{device_id}/messages/{message_id} */

ngx_int_t
ngx_http_iot_iotda_message(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_iot_store_t            *store;
    ngx_iot_iotda_view_t       *v;
    ngx_http_iot_iotda_msgs_t   one;

    v = ngx_palloc(r->pool, sizeof(ngx_iot_iotda_view_t));
    if (v == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_iot_iotda_msg_device(r, ctx, 0, v, NULL);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                 : ngx_http_iot_error(r, ctx->status,
                                                      ctx->message);
    }

    ngx_memzero(&one, sizeof(ngx_http_iot_iotda_msgs_t));
    one.r = r;

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);

    rc = (store == NULL)
         ? NGX_ERROR
         : ngx_iot_store_message_find(store, v->d.id.key, &ctx->seg[4],
                                      ngx_http_iot_iotda_msg_row, &one,
                                      r->connection->log);

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IOTDA.014017 the device has no message "
                                  "with this message_id");
    }

    if (rc != NGX_OK || one.one == NULL) {
        json_decref(one.one);

        if (one.nomem) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the message cannot be read "
                                  "now");
    }

    if (json_object_set_new(one.one, "device_id",
                            json_stringn((char *) ctx->seg[2].data,
                                         ctx->seg[2].len))
        != 0)
    {
        json_decref(one.one);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, one.one);
}


static ngx_int_t
ngx_http_iot_iotda_msg_row(void *row, void *data)
{
    ngx_iot_store_message_t    *m = row;
    ngx_http_iot_iotda_msgs_t  *all = data;

    json_t  *o;

    o = ngx_http_iot_iotda_msg_json(&m->dl, &m->message_id, &m->fields);
    if (o == NULL) {
        all->nomem = 1;
        return NGX_ERROR;
    }

    if (all->out == NULL) {
        all->one = o;
        return NGX_DONE;
    }

    if (json_array_append_new(all->out, o) != 0) {
        all->nomem = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_iot_iotda_msg_cleanup(void *data)
{
    json_decref(data);
}


/* a message as IoTDA shows it: its fields, its id, status and times */

static json_t *
ngx_http_iot_iotda_msg_json(ngx_iot_downlink_row_t *dl, ngx_str_t *message_id,
    ngx_str_t *fields)
{
    json_t        *o;
    json_error_t   err;

    o = json_loadb((char *) fields->data, fields->len, 0, &err);

    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        o = json_object();
        if (o == NULL) {
            return NULL;
        }
    }

    if (json_object_set_new(o, "message_id",
                            json_stringn((char *) message_id->data,
                                         message_id->len))
        != 0
        || ngx_http_iot_iotda_msg_status(o, dl) != NGX_OK)
    {
        json_decref(o);
        return NULL;
    }

    return o;
}


/*
 * status, created_time, finished_time (once it is final) and, for a
 * failed one, error_info: the core's state in IoTDA's words.  A UDP
 * datagram handed to the network is as delivered as UDP can say.
 */

ngx_int_t
ngx_http_iot_iotda_msg_status(json_t *o, ngx_iot_downlink_row_t *dl)
{
    u_char       text[sizeof("yyyyMMddTHHmmssZ")], *last;
    json_t      *info;
    const char  *status, *code, *msg;
    ngx_uint_t   fail;

    switch (dl->state) {

    case NGX_IOT_DOWNLINK_QUEUED:
        status = "PENDING";
        break;

    case NGX_IOT_DOWNLINK_SENT:
    case NGX_IOT_DOWNLINK_DELIVERED:
        status = "DELIVERED";
        break;

    case NGX_IOT_DOWNLINK_EXPIRED:
        status = "TIMEOUT";
        break;

    default:
        status = "FAILED";
        break;
    }

    fail = 0;

    fail |= json_object_set_new(o, "status", json_string(status));

    last = ngx_http_iot_iotda_time(text, dl->created);
    fail |= json_object_set_new(o, "created_time",
                                json_stringn((char *) text, last - text));

    if (dl->state == NGX_IOT_DOWNLINK_QUEUED) {
        fail |= json_object_set_new(o, "finished_time", json_null());

    } else {
        last = ngx_http_iot_iotda_time(text, dl->updated);
        fail |= json_object_set_new(o, "finished_time",
                                    json_stringn((char *) text,
                                                 last - text));
    }

    if (dl->state == NGX_IOT_DOWNLINK_FAILED
        || dl->state == NGX_IOT_DOWNLINK_EXPIRED)
    {
        switch (dl->reason) {

        case NGX_IOT_DOWNLINK_NO_ADDRESS:
            code = "IOTDA.014016";
            msg = "the device is not online: it has no address";
            break;

        case NGX_IOT_DOWNLINK_UNAVAILABLE:
            code = "IOTDA.000003";
            msg = "the server has no socket to send the message from";
            break;

        case NGX_IOT_DOWNLINK_NO_TRANSPORT:
            code = "IOTDA.000001";
            msg = "the server does not give the device's transport";
            break;

        case NGX_IOT_DOWNLINK_NO_REASON:
            code = "IOTDA.014016";
            msg = "the device did not take the message in time";
            break;

        case NGX_IOT_DOWNLINK_QUEUE_FULL:
            code = "IOTDA.000001";
            msg = "the device's queue of CoAP messages is full";
            break;

        case NGX_IOT_DOWNLINK_REFUSED:
            code = "IOTDA.000001";
            msg = "the device answered the CoAP message with an error code";
            break;

        case NGX_IOT_DOWNLINK_NO_ANSWER:
            code = "IOTDA.000001";
            msg = "the device did not acknowledge the CoAP message";
            break;

        default:
            code = "IOTDA.000001";
            msg = "the network refused the message";
            break;
        }

        info = json_pack("{s:s,s:s}", "error_code", code, "error_msg", msg);
        fail |= json_object_set_new(o, "error_info", info);
    }

    return fail ? NGX_ERROR : NGX_OK;
}


/*
 * CreateMessage: the fields checked, the payload made (IoTDA's standard
 * envelope, or the message itself: raw), sent once through the device's
 * transport, then the downlink and the message kept in one transaction.
 */

static ngx_int_t
ngx_http_iot_iotda_msg_create(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_device_t *d, ngx_iot_downlink_e transport)
{
    size_t                     size;
    json_t                    *fields;
    ngx_int_t                  rc;
    ngx_str_t                  payload;
    ngx_iot_rc_e               irc;
    ngx_iot_store_t           *store;
    ngx_iot_wait_t            *wait;
    ngx_pool_cleanup_t        *cln;
    ngx_http_iot_loc_conf_t   *lcf;
    ngx_http_iot_iotda_msg_t  *msg;

    msg = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_msg_t));
    fields = json_object();
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (msg == NULL || fields == NULL || cln == NULL) {
        json_decref(fields);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iot_iotda_msg_cleanup;
    cln->data = fields;

    rc = ngx_http_iot_iotda_msg_fields(r, ctx, msg, fields, &payload);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    /* a message_id is the device's once */

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);

    rc = (store == NULL)
         ? NGX_ERROR
         : ngx_iot_store_message_find(store, d->id.key, &msg->message_id,
                                      NULL, NULL, r->connection->log);

    if (rc == NGX_ERROR) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the messages cannot be read "
                                  "now");
    }

    if (rc == NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 message_id: the device has "
                                  "a message with this id");
    }

    irc = ngx_iot_downlink_ready((ngx_cycle_t *) ngx_cycle, transport);

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  (transport == NGX_IOT_DOWNLINK_UDP)
                                  ? "IOTDA.000003 the server has no UDP "
                                    "socket to send messages from "
                                    "(iot_uplink)"
                                  : "IOTDA.000003 the server has no CoAP "
                                    "link for the device's CoAP product "
                                    "(iot_coap_link)");
    }

    size = json_dumpb(fields, NULL, 0, JSON_COMPACT);

    msg->fields.data = ngx_pnalloc(r->pool, size ? size : 1);
    if (msg->fields.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg->fields.len = json_dumpb(fields, (char *) msg->fields.data, size,
                                 JSON_COMPACT);

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);

    msg->m.port = lcf->message_port;
    msg->m.payload = payload;

    if (transport == NGX_IOT_DOWNLINK_COAP_PUSH) {
        /* the message's topic, if any, is the path it is POSTed to */
        msg->m.coap_path = msg->topic;

        while (msg->m.coap_path.len && msg->m.coap_path.data[0] == '/') {
            msg->m.coap_path.data++;
            msg->m.coap_path.len--;
        }
    }

    if (ngx_iot_downlink_batch_init(&msg->batch, r->pool, transport,
                                    &msg->m)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg->batch.also = ngx_http_iot_iotda_msg_keep;
    msg->batch.also_data = msg;

    irc = ngx_iot_downlink((ngx_cycle_t *) ngx_cycle, &msg->batch, d,
                           r->connection->log);

    if (irc == NGX_IOT_STORE_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wait = ngx_http_iot_waiter(r, ngx_http_iot_iotda_msg_answer, msg);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_answer(r,
                               ngx_iot_downlink_keep((ngx_cycle_t *) ngx_cycle,
                                                     &msg->batch,
                                                     r->connection->log,
                                                     wait));
}


/* in the writer, once the downlink has its id */

static ngx_int_t
ngx_http_iot_iotda_msg_keep(ngx_iot_store_t *store,
    ngx_iot_downlink_batch_t *b, ngx_log_t *log)
{
    ngx_http_iot_iotda_msg_t  *msg = b->also_data;

    ngx_uint_t               i;
    ngx_iot_downlink_row_t  *rows;

    rows = b->rows.elts;

    for (i = 0; i < b->rows.nelts; i++) {
        if (ngx_iot_store_message_add(store, &rows[i], &msg->message_id,
                                      &msg->fields, log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * 201 with what the network did: a message that went is not taken back
 * when the store could not keep it (the error log says why), so that a
 * client does not send it twice.
 */

static ngx_int_t
ngx_http_iot_iotda_msg_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t                    *o, *result;
    ngx_http_iot_ctx_t        *ctx;
    ngx_iot_downlink_row_t    *row;
    ngx_http_iot_iotda_msg_t  *msg;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    msg = ctx->answer_data;
    row = msg->batch.rows.elts;

    result = json_object();
    o = json_object();

    if (result == NULL || o == NULL
        || ngx_http_iot_iotda_msg_status(result, row) != NGX_OK
        || json_object_set_new(o, "message_id",
                               json_stringn((char *) msg->message_id.data,
                                            msg->message_id.len))
           != 0)
    {
        json_decref(result);
        json_decref(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* IoTDA's result has status and times; error_info goes beside it */

    if (json_object_get(result, "error_info")) {
        if (json_object_set(o, "error_info",
                            json_object_get(result, "error_info"))
            != 0)
        {
            json_decref(result);
            json_decref(o);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        (void) json_object_del(result, "error_info");
    }

    if (json_object_set_new(o, "result", result) != 0) {
        json_decref(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, NGX_HTTP_CREATED, o);
}


/*
 * The request's fields (docs/iotda.md, "Messages"), into fields as they
 * are shown again, and the payload to send.
 */

static ngx_int_t
ngx_http_iot_iotda_msg_fields(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_http_iot_iotda_msg_t *msg, json_t *fields, ngx_str_t *payload)
{
    u_char      *p, uuid[NGX_IOT_UUID_SIZE];
    size_t       size;
    json_t      *body, *v, *message, *env;
    ngx_int_t    raw, b64;
    ngx_str_t    name, topic, full, s;
    json_int_t   ttl;
    ngx_uint_t   fail;

    body = ctx->body;

    if (ngx_http_iot_iotda_text(r, body, "message_id", 0,
                                NGX_HTTP_IOT_IOTDA_MESSAGE_ID_MAX, 1,
                                &msg->message_id)
        != NGX_OK
        || ngx_http_iot_iotda_text(r, body, "name", 0, 128, 0, &name)
           != NGX_OK
        || ngx_http_iot_iotda_text(r, body, "topic", 0, 128, 0, &topic)
           != NGX_OK
        || ngx_http_iot_iotda_text(r, body, "topic_full_name", 0, 128, 0,
                                   &full)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (topic.len && full.len) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 topic and "
                                          "topic_full_name: one at most");
    }

    /* an absent topic is a null string: no pointer arithmetic on it */

    if ((topic.len
         && (ngx_strlchr(topic.data, topic.data + topic.len, '+')
             || ngx_strlchr(topic.data, topic.data + topic.len, '#')))
        || (full.len
            && (ngx_strlchr(full.data, full.data + full.len, '+')
                || ngx_strlchr(full.data, full.data + full.len, '#'))))
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 topic and "
                                          "topic_full_name must not hold "
                                          "the wildcards + and #");
    }

    msg->topic = topic;

    /* encoding: none or base64; payload_format: standard or raw */

    b64 = 0;
    v = json_object_get(body, "encoding");

    if (v && !json_is_null(v)) {
        s.data = (u_char *) (json_is_string(v) ? json_string_value(v) : "");
        s.len = ngx_strlen(s.data);

        if (s.len == sizeof("base64") - 1
            && ngx_strncmp(s.data, "base64", s.len) == 0)
        {
            b64 = 1;

        } else if (!(s.len == sizeof("none") - 1
                     && ngx_strncmp(s.data, "none", s.len) == 0))
        {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 encoding must "
                                              "be none or base64");
        }
    }

    raw = 0;
    v = json_object_get(body, "payload_format");

    if (v && !json_is_null(v)) {
        s.data = (u_char *) (json_is_string(v) ? json_string_value(v) : "");
        s.len = ngx_strlen(s.data);

        if (s.len == sizeof("raw") - 1
            && ngx_strncmp(s.data, "raw", s.len) == 0)
        {
            raw = 1;

        } else if (!(s.len == sizeof("standard") - 1
                     && ngx_strncmp(s.data, "standard", s.len) == 0))
        {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 payload_format "
                                              "must be standard or raw");
        }
    }

    if (b64 && !raw) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 encoding base64 is "
                                          "for payload_format raw only");
    }

    /* ttl: minutes, 0 to 1440 */

    ttl = NGX_HTTP_IOT_IOTDA_TTL_DEFAULT;
    v = json_object_get(body, "ttl");

    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0
            || json_integer_value(v) > NGX_HTTP_IOT_IOTDA_TTL_MAX)
        {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 ttl must be a "
                                              "number of minutes from 0 to "
                                              "1440");
        }

        ttl = json_integer_value(v);
    }

    /* what the message may wait for its device (coap-pull, coap-push) */
    msg->m.ttl = (ngx_msec_t) ttl * 60000;
    msg->m.ttl_set = 1;

    /* message: a string or a JSON object or array, not empty */

    message = json_object_get(body, "message");

    if (message == NULL
        || !(json_is_string(message) || json_is_object(message)
             || json_is_array(message))
        || (json_is_string(message) && json_string_length(message) == 0))
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 message is "
                                          "required: a string or a JSON "
                                          "object");
    }

    if (b64 && !json_is_string(message)) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 message must be a "
                                          "base64 string with encoding "
                                          "base64");
    }

    if (msg->message_id.len == 0) {
        /* the platform's: a UUID */

        p = ngx_pnalloc(r->pool, NGX_IOT_UUID_LEN);
        if (p == NULL || ngx_iot_uuid_new(uuid) != NGX_OK) {
            return NGX_ERROR;
        }

        msg->message_id.data = p;
        msg->message_id.len = ngx_iot_uuid_encode(p, uuid) - p;
    }

    /* the payload */

    if (raw && json_is_string(message)) {
        s.data = (u_char *) json_string_value(message);
        s.len = json_string_length(message);

        if (b64) {
            payload->data = ngx_pnalloc(r->pool,
                                        ngx_base64_decoded_length(s.len) + 1);
            if (payload->data == NULL) {
                return NGX_ERROR;
            }

            if (ngx_base64_decoded_length(s.len) > NGX_IOT_PAYLOAD_MAX + 2
                || ngx_decode_base64(payload, &s) != NGX_OK
                || payload->len == 0)
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                  "IOTDA.000006 message is "
                                                  "not base64");
            }

        } else {
            *payload = s;
        }

    } else {
        if (raw) {
            env = json_incref(message);

        } else {
            env = json_pack("{s:s%,s:o,s:s%,s:O}",
                            "object_device_id",
                            (char *) ctx->seg[2].data, ctx->seg[2].len,
                            "name", name.len ? json_stringn((char *) name.data,
                                                           name.len)
                                             : json_null(),
                            "id",
                            (char *) msg->message_id.data,
                            msg->message_id.len,
                            "content", message);
        }

        if (env == NULL) {
            return NGX_ERROR;
        }

        size = json_dumpb(env, NULL, 0, JSON_COMPACT);

        payload->data = ngx_pnalloc(r->pool, size ? size : 1);
        if (payload->data == NULL) {
            json_decref(env);
            return NGX_ERROR;
        }

        payload->len = json_dumpb(env, (char *) payload->data, size,
                                  JSON_COMPACT);
        json_decref(env);
    }

    if (payload->len > NGX_IOT_PAYLOAD_MAX) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 message: what is "
                                          "sent is more than 2048 bytes");
    }

    /* what is shown again */

    fail = 0;

    if (name.len) {
        fail |= json_object_set_new(fields, "name",
                                    json_stringn((char *) name.data,
                                                 name.len));
    }

    fail |= json_object_set(fields, "message", message);
    fail |= json_object_set_new(fields, "encoding",
                                json_string(b64 ? "base64" : "none"));
    fail |= json_object_set_new(fields, "payload_format",
                                json_string(raw ? "raw" : "standard"));

    if (topic.len) {
        fail |= json_object_set_new(fields, "topic",
                                    json_stringn((char *) topic.data,
                                                 topic.len));
    }

    if (full.len) {
        fail |= json_object_set_new(fields, "topic_full_name",
                                    json_stringn((char *) full.data,
                                                 full.len));
    }

    fail |= json_object_set_new(fields, "ttl", json_integer(ttl));

    return fail ? NGX_ERROR : NGX_OK;
}
