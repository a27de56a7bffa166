
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect's JSON: collections, devices, tokens, tags,
 * errors {"status":N,"message":"..."}, the end of its lists, and data
 * messages, the same text on every live stream and in GET .../data.
 * Strings are escaped with nginx's ngx_escape_json().
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_collections.h"


/* the longest device JSON without its tags */
#define NGX_HTTP_IOT_DEVICE_JSON_LEN  384


static u_char *ngx_http_iot_collections_escape(u_char *p, u_char *s,
    size_t len);


size_t
ngx_http_iot_collections_json_len(u_char *s, size_t len)
{
    return len + ngx_escape_json(NULL, s, len);
}


static u_char *
ngx_http_iot_collections_escape(u_char *p, u_char *s, size_t len)
{
    return (u_char *) ngx_escape_json(p, s, len);
}


static u_char *
ngx_http_iot_collections_bool_write(u_char *p, ngx_uint_t v)
{
    return v ? ngx_cpymem(p, "true", 4) : ngx_cpymem(p, "false", 5);
}


/* errors */

ngx_buf_t *
ngx_http_iot_collections_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    size_t      len, size;
    ngx_buf_t  *b;

    len = ngx_strlen(message);

    size = sizeof("{\"status\":,\"message\":\"\"}") + NGX_INT_T_LEN
           + ngx_http_iot_collections_json_len((u_char *) message, len);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "{\"status\":%ui,\"message\":\"",
                          status);
    b->last = ngx_http_iot_collections_escape(b->last, (u_char *) message,
                                              len);
    b->last = ngx_cpymem(b->last, "\"}", 2);

    return b;
}


/* lists: {"...":[ rows ],"nextCursor":"..."} */

u_char *
ngx_http_iot_collections_list_tail(u_char *p, ngx_http_iot_list_t *list,
    ngx_uint_t more)
{
    *p++ = ']';

    if (more) {
        p = ngx_cpymem(p, ",\"nextCursor\":\"",
                       sizeof(",\"nextCursor\":\"") - 1);
        p = ngx_http_iot_collections_cursor(p, list);
        *p++ = '"';
    }

    *p++ = '}';

    return p;
}


/* the key of the last row sent: a token's public prefix, or an id */

u_char *
ngx_http_iot_collections_cursor(u_char *p, ngx_http_iot_list_t *list)
{
    if (list->cursor.kind == NGX_IOT_STORE_TOKENS) {
        return ngx_cpymem(p, list->sent_key, list->sent_key_len);
    }

    return ngx_iot_id_encode(p, (uint64_t) list->sent_id);
}


/* entities */

u_char *
ngx_http_iot_collections_tags_write(u_char *p, ngx_iot_text_t *tags)
{
    if (tags->len == 0) {
        return ngx_cpymem(p, "{}", 2);
    }

    return ngx_cpymem(p, tags->data, tags->len);
}


size_t
ngx_http_iot_collections_collection_len(ngx_iot_collection_t *c)
{
    return NGX_HTTP_IOT_ENTITY_LEN + c->tags.len;
}


/* a field mask: {"imsi":..,"imei":..,"msisdn":..,"location":..} */

u_char *
ngx_http_iot_collections_mask_write(u_char *p, ngx_uint_t mask)
{
    p = ngx_cpymem(p, "{\"imsi\":", sizeof("{\"imsi\":") - 1);
    p = ngx_http_iot_collections_bool_write(p, mask & NGX_IOT_MASK_IMSI);
    p = ngx_cpymem(p, ",\"imei\":", sizeof(",\"imei\":") - 1);
    p = ngx_http_iot_collections_bool_write(p, mask & NGX_IOT_MASK_IMEI);
    p = ngx_cpymem(p, ",\"msisdn\":", sizeof(",\"msisdn\":") - 1);
    p = ngx_http_iot_collections_bool_write(p, mask & NGX_IOT_MASK_MSISDN);
    p = ngx_cpymem(p, ",\"location\":", sizeof(",\"location\":") - 1);
    p = ngx_http_iot_collections_bool_write(p, mask & NGX_IOT_MASK_LOCATION);
    *p++ = '}';

    return p;
}


u_char *
ngx_http_iot_collections_collection_write(u_char *p, ngx_iot_collection_t *c)
{
    ngx_uint_t  mask;

    /* the forced bits are set whatever the collection says */

    mask = ngx_iot_field_mask((ngx_cycle_t *) ngx_cycle, c->field_mask);

    p = ngx_cpymem(p, "{\"collectionId\":\"",
                   sizeof("{\"collectionId\":\"") - 1);
    p = ngx_iot_id_encode(p, c->id.key);
    p = ngx_cpymem(p, "\",\"teamId\":\"", sizeof("\",\"teamId\":\"") - 1);
    p = ngx_iot_id_encode(p, c->team_id);
    p = ngx_cpymem(p, "\",\"fieldMask\":", sizeof("\",\"fieldMask\":") - 1);
    p = ngx_http_iot_collections_mask_write(p, mask);
    p = ngx_cpymem(p, ",\"tags\":", sizeof(",\"tags\":") - 1);
    p = ngx_http_iot_collections_tags_write(p, &c->tags);
    *p++ = '}';

    return p;
}


size_t
ngx_http_iot_collections_device_len(ngx_iot_device_t *d)
{
    return NGX_HTTP_IOT_DEVICE_JSON_LEN + d->tags.len;
}


/*
 * What a mask hides is shown empty (clients read every key): the IMSI,
 * the IMEI, the MSISDN, and for "location" the cell id.
 */

u_char *
ngx_http_iot_collections_device_write(u_char *p, ngx_iot_device_t *d,
    ngx_uint_t mask)
{
    p = ngx_cpymem(p, "{\"deviceId\":\"", sizeof("{\"deviceId\":\"") - 1);
    p = ngx_iot_id_encode(p, d->id.key);
    p = ngx_cpymem(p, "\",\"collectionId\":\"",
                   sizeof("\",\"collectionId\":\"") - 1);
    p = ngx_iot_id_encode(p, d->collection_id);
    p = ngx_cpymem(p, "\",\"imsi\":\"", sizeof("\",\"imsi\":\"") - 1);

    if (!(mask & NGX_IOT_MASK_IMSI)) {
        p = ngx_iot_ident_encode(p, d->imsi.key);
    }

    p = ngx_cpymem(p, "\",\"imei\":\"", sizeof("\",\"imei\":\"") - 1);

    if (!(mask & NGX_IOT_MASK_IMEI)) {
        p = ngx_iot_ident_encode(p, d->imei.key);
    }

    p = ngx_cpymem(p, "\",\"tags\":", sizeof("\",\"tags\":") - 1);
    p = ngx_http_iot_collections_tags_write(p, &d->tags);
    p = ngx_cpymem(p, ",\"network\":{\"allocatedIp\":\"",
                   sizeof(",\"network\":{\"allocatedIp\":\"") - 1);
    p = ngx_iot_addr_text(p, d);
    p = ngx_sprintf(p, "\",\"allocatedAt\":%uL,\"cellId\":%uL,\"imeisv\":\"",
                    d->net_at,
                    (mask & NGX_IOT_MASK_LOCATION) ? 0 : d->net_cell);

    if (d->net_imeisv) {
        p = ngx_iot_ident_encode(p, d->net_imeisv);
    }

    p = ngx_cpymem(p, "\",\"msisdn\":\"", sizeof("\",\"msisdn\":\"") - 1);

    if (d->net_msisdn && !(mask & NGX_IOT_MASK_MSISDN)) {
        p = ngx_iot_ident_encode(p, d->net_msisdn);
    }

    return ngx_cpymem(p, "\"}}", 3);
}


size_t
ngx_http_iot_collections_token_len(ngx_iot_token_t *t)
{
    return NGX_HTTP_IOT_ENTITY_LEN + t->tags.len
           + ngx_http_iot_collections_json_len(t->resource.data,
                                               t->resource.len);
}


u_char *
ngx_http_iot_collections_token_write(u_char *p, ngx_iot_token_t *t,
    u_char *secret)
{
    p = ngx_cpymem(p, "{\"token\":\"", sizeof("{\"token\":\"") - 1);

    if (secret) {
        p = ngx_cpymem(p, secret, NGX_IOT_TOKEN_LEN);

    } else {
        p = ngx_cpymem(p, t->hint, NGX_IOT_TOKEN_HINT_LEN);
    }

    p = ngx_cpymem(p, "\",\"resource\":\"", sizeof("\",\"resource\":\"") - 1);
    p = ngx_http_iot_collections_escape(p, t->resource.data, t->resource.len);
    p = ngx_cpymem(p, "\",\"write\":", sizeof("\",\"write\":") - 1);
    p = ngx_http_iot_collections_bool_write(p, t->write);
    p = ngx_cpymem(p, ",\"tags\":", sizeof(",\"tags\":") - 1);
    p = ngx_http_iot_collections_tags_write(p, &t->tags);
    *p++ = '}';

    return p;
}


/* data messages */

size_t
ngx_http_iot_collections_message_len(ngx_iot_message_t *m,
    ngx_iot_device_t *d)
{
    return sizeof("{\"type\":\"data\",\"device\":,\"payload\":\"\","
                  "\"received\":,\"transport\":\"coap\",\"coapMetaData\":"
                  "{\"method\":\"\",\"coapPath\":\"\"}}")
           + ngx_http_iot_collections_device_len(d)
           + ngx_base64_encoded_length(m->payload.len)
           + NGX_INT64_LEN + 2 * NGX_INT_T_LEN
           + ngx_http_iot_collections_json_len(m->coap_method.data,
                                               m->coap_method.len)
           + ngx_http_iot_collections_json_len(m->coap_path.data,
                                               m->coap_path.len);
}


u_char *
ngx_http_iot_collections_message_write(u_char *p, ngx_iot_message_t *m,
    ngx_iot_device_t *d, ngx_uint_t mask)
{
    ngx_str_t  b64;

    p = ngx_cpymem(p, "{\"type\":\"data\",\"device\":",
                   sizeof("{\"type\":\"data\",\"device\":") - 1);
    p = ngx_http_iot_collections_device_write(p, d, mask);
    p = ngx_cpymem(p, ",\"payload\":\"", sizeof(",\"payload\":\"") - 1);

    b64.data = p;
    ngx_encode_base64(&b64, &m->payload);
    p += b64.len;

    p = ngx_sprintf(p, "\",\"received\":%uL,\"transport\":", m->received);

    if (m->transport == NGX_IOT_TRANSPORT_COAP) {
        p = ngx_cpymem(p, "\"coap\",\"coapMetaData\":{\"method\":\"",
                       sizeof("\"coap\",\"coapMetaData\":{\"method\":\"") - 1);
        p = ngx_http_iot_collections_escape(p, m->coap_method.data,
                                            m->coap_method.len);
        p = ngx_cpymem(p, "\",\"coapPath\":\"",
                       sizeof("\",\"coapPath\":\"") - 1);
        p = ngx_http_iot_collections_escape(p, m->coap_path.data,
                                            m->coap_path.len);
        return ngx_cpymem(p, "\"}}", 3);
    }

    if (m->transport == NGX_IOT_TRANSPORT_HTTP) {
        return ngx_cpymem(p, "\"http\"}", sizeof("\"http\"}") - 1);
    }

    return ngx_sprintf(p, "\"udp\",\"udpMetaData\":{\"localPort\":%ui,"
                       "\"remotePort\":%ui}}",
                       m->local_port, m->remote_port);
}


/* why a downlink did not go, in this dialect's words */

const char *
ngx_http_iot_collections_downlink_error(ngx_iot_rc_e rc)
{
    switch (rc) {

    case NGX_IOT_NO_ADDRESS:
        return "the device has no known address";

    case NGX_IOT_NO_TRANSPORT:
    case NGX_IOT_UNAVAILABLE:
        return "there is no iot_uplink UDP listener to send from";

    case NGX_IOT_REFUSED:
        return "the device answered the coap-push with an error code "
               "(4.xx or 5.xx) or a reset";

    case NGX_IOT_NO_ANSWER:
        return "the device did not answer the coap-push (no "
               "acknowledgement after the retransmissions)";

    case NGX_IOT_QUEUE_FULL:
        return "the device's queue of coap-pull downlinks is full: it "
               "must take some (CoAP GET) before more are queued";

    default:
        return "the datagram could not be sent";
    }
}


size_t
ngx_http_iot_collections_downlink_len(ngx_iot_downlink_row_t *dl)
{
    return sizeof("{\"id\":\"\",\"collectionId\":\"\",\"deviceId\":\"\","
                  "\"transport\":\"\",\"port\":,\"payload\":\"\","
                  "\"state\":\"\",\"reason\":\"\",\"created\":,"
                  "\"updated\":}")
           + 3 * NGX_IOT_ID_LEN + 2 * NGX_INT64_LEN + NGX_INT_T_LEN
           + ngx_iot_downlink_transport_name(dl->transport)->len
           + ngx_iot_downlink_state_name(dl->state)->len
           + ngx_strlen(ngx_http_iot_collections_downlink_error(
                            ngx_iot_downlink_reason_rc(dl->reason)))
           + ngx_base64_encoded_length(dl->payload.len);
}


u_char *
ngx_http_iot_collections_downlink_write(u_char *p, ngx_iot_downlink_row_t *dl)
{
    ngx_str_t  b64;

    p = ngx_cpymem(p, "{\"id\":\"", sizeof("{\"id\":\"") - 1);
    p = ngx_iot_id_encode(p, dl->id);
    p = ngx_cpymem(p, "\",\"collectionId\":\"",
                   sizeof("\",\"collectionId\":\"") - 1);
    p = ngx_iot_id_encode(p, dl->collection);
    p = ngx_cpymem(p, "\",\"deviceId\":\"", sizeof("\",\"deviceId\":\"") - 1);
    p = ngx_iot_id_encode(p, dl->device);
    p = ngx_sprintf(p, "\",\"transport\":\"%V\",\"port\":%ui,\"payload\":\"",
                    ngx_iot_downlink_transport_name(dl->transport), dl->port);

    b64.data = p;
    ngx_encode_base64(&b64, &dl->payload);
    p += b64.len;

    p = ngx_sprintf(p, "\",\"state\":\"%V\"",
                    ngx_iot_downlink_state_name(dl->state));

    if (dl->reason != NGX_IOT_DOWNLINK_NO_REASON) {
        p = ngx_sprintf(p, ",\"reason\":\"%s\"",
                        ngx_http_iot_collections_downlink_error(
                            ngx_iot_downlink_reason_rc(dl->reason)));
    }

    return ngx_sprintf(p, ",\"created\":%uL,\"updated\":%uL}",
                       dl->created, dl->updated);
}


/*
 * The device of a message that is no longer in the collection the message
 * was received in (deleted, or moved to another collection, maybe another
 * tenant's): what the message carries, its deviceId and that collectionId,
 * with empty identities, no tags and no network.
 */

void
ngx_http_iot_collections_device_gone(ngx_iot_message_t *m,
    ngx_iot_device_t *d)
{
    ngx_memzero(d, sizeof(ngx_iot_device_t));
    d->id.key = m->device_id;
    d->collection_id = m->collection_id;
}


/*
 * A message for the live streams, with its device as it is now while it
 * is still in the message's collection.  (GET .../data leaves out the
 * messages of a deleted device.)
 */

ngx_int_t
ngx_http_iot_collections_render(ngx_iot_message_t *m, ngx_pool_t *pool,
    ngx_str_t *out)
{
    ngx_iot_device_t  d;

    if (ngx_iot_device_get((ngx_cycle_t *) ngx_cycle, m->device_id, 0, pool,
                           &d)
        != NGX_IOT_OK
        || d.collection_id != m->collection_id)
    {
        ngx_http_iot_collections_device_gone(m, &d);
    }

    out->data = ngx_pnalloc(pool, ngx_http_iot_collections_message_len(m, &d));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_http_iot_collections_message_write(out->data, m, &d,
                   ngx_iot_collection_mask((ngx_cycle_t *) ngx_cycle,
                                           m->collection_id))
               - out->data;

    return NGX_OK;
}


/* answers */

ngx_int_t
ngx_http_iot_collections_send_collection(ngx_http_request_t *r,
    ngx_uint_t status, ngx_iot_collection_t *c)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool,
                            ngx_http_iot_collections_collection_len(c));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_iot_collections_collection_write(b->last, c);

    return ngx_http_iot_send(r, status, b);
}


ngx_int_t
ngx_http_iot_collections_send_device(ngx_http_request_t *r,
    ngx_uint_t status, ngx_iot_device_t *d)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, ngx_http_iot_collections_device_len(d));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_iot_collections_device_write(b->last, d,
                  ngx_iot_collection_mask((ngx_cycle_t *) ngx_cycle,
                                          d->collection_id));

    return ngx_http_iot_send(r, status, b);
}


ngx_int_t
ngx_http_iot_collections_send_token(ngx_http_request_t *r, ngx_uint_t status,
    ngx_iot_token_t *t, u_char *secret)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, ngx_http_iot_collections_token_len(t));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_iot_collections_token_write(b->last, t, secret);

    return ngx_http_iot_send(r, status, b);
}


ngx_int_t
ngx_http_iot_collections_send_tags(ngx_http_request_t *r,
    ngx_iot_text_t *tags)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, tags->len + 2);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_iot_collections_tags_write(b->last, tags);

    return ngx_http_iot_send(r, NGX_HTTP_OK, b);
}


ngx_int_t
ngx_http_iot_collections_send_value(ngx_http_request_t *r, ngx_str_t *value)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool,
                            sizeof("{\"value\":\"\"}")
                            + ngx_http_iot_collections_json_len(value->data,
                                                                value->len));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "{\"value\":\"", sizeof("{\"value\":\"") - 1);
    b->last = ngx_http_iot_collections_escape(b->last, value->data,
                                              value->len);
    b->last = ngx_cpymem(b->last, "\"}", 2);

    return ngx_http_iot_send(r, NGX_HTTP_OK, b);
}
