
/*
 * Copyright (C) nginx-iot authors
 *
 * Devices and data messages as JSON in the collections format: the same
 * text is an HTTP answer, a frame on every WebSocket, and a history item.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"


/* the longest device JSON without its tags */
#define NGX_IOT_DEVICE_JSON_LEN  384


u_char *
ngx_iot_tags_write(u_char *p, ngx_iot_text_t *tags)
{
    if (tags->len == 0) {
        return ngx_cpymem(p, "{}", 2);
    }

    return ngx_cpymem(p, tags->data, tags->len);
}


size_t
ngx_iot_device_len(ngx_iot_device_t *d)
{
    return NGX_IOT_DEVICE_JSON_LEN + d->tags.len;
}


u_char *
ngx_iot_device_write(u_char *p, ngx_iot_device_t *d)
{
    p = ngx_cpymem(p, "{\"deviceId\":\"", sizeof("{\"deviceId\":\"") - 1);
    p = ngx_iot_id_encode(p, d->id.key);
    p = ngx_cpymem(p, "\",\"collectionId\":\"",
                   sizeof("\",\"collectionId\":\"") - 1);
    p = ngx_iot_id_encode(p, d->collection_id);
    p = ngx_cpymem(p, "\",\"imsi\":\"", sizeof("\",\"imsi\":\"") - 1);
    p = ngx_iot_ident_encode(p, d->imsi.key);
    p = ngx_cpymem(p, "\",\"imei\":\"", sizeof("\",\"imei\":\"") - 1);
    p = ngx_iot_ident_encode(p, d->imei.key);
    p = ngx_cpymem(p, "\",\"tags\":", sizeof("\",\"tags\":") - 1);
    p = ngx_iot_tags_write(p, &d->tags);
    p = ngx_cpymem(p, ",\"network\":{\"allocatedIp\":\"",
                   sizeof(",\"network\":{\"allocatedIp\":\"") - 1);
    p = ngx_iot_addr_text(p, d);
    p = ngx_sprintf(p, "\",\"allocatedAt\":%uL,\"cellId\":%uL,\"imeisv\":\"",
                    d->net_at, d->net_cell);

    if (d->net_imeisv) {
        p = ngx_iot_ident_encode(p, d->net_imeisv);
    }

    p = ngx_cpymem(p, "\",\"msisdn\":\"", sizeof("\",\"msisdn\":\"") - 1);

    if (d->net_msisdn) {
        p = ngx_iot_ident_encode(p, d->net_msisdn);
    }

    return ngx_cpymem(p, "\"}}", 3);
}


size_t
ngx_iot_message_len(ngx_iot_message_t *m, ngx_iot_device_t *d)
{
    return sizeof("{\"type\":\"data\",\"device\":,\"payload\":\"\","
                  "\"received\":,\"transport\":\"coap\",\"coapMetaData\":"
                  "{\"method\":\"\",\"coapPath\":\"\"}}")
           + ngx_iot_device_len(d)
           + ngx_base64_encoded_length(m->payload.len)
           + NGX_INT64_LEN + 2 * NGX_INT_T_LEN
           + ngx_iot_json_escape_len(m->coap_method.data, m->coap_method.len)
           + ngx_iot_json_escape_len(m->coap_path.data, m->coap_path.len);
}


u_char *
ngx_iot_message_write(u_char *p, ngx_iot_message_t *m, ngx_iot_device_t *d)
{
    ngx_str_t  b64;

    p = ngx_cpymem(p, "{\"type\":\"data\",\"device\":",
                   sizeof("{\"type\":\"data\",\"device\":") - 1);
    p = ngx_iot_device_write(p, d);
    p = ngx_cpymem(p, ",\"payload\":\"", sizeof(",\"payload\":\"") - 1);

    b64.data = p;
    ngx_encode_base64(&b64, &m->payload);
    p += b64.len;

    p = ngx_sprintf(p, "\",\"received\":%uL,\"transport\":", m->received);

    if (m->transport == NGX_IOT_TRANSPORT_COAP) {
        p = ngx_cpymem(p, "\"coap\",\"coapMetaData\":{\"method\":\"",
                       sizeof("\"coap\",\"coapMetaData\":{\"method\":\"") - 1);
        p = ngx_iot_json_escape(p, m->coap_method.data, m->coap_method.len);
        p = ngx_cpymem(p, "\",\"coapPath\":\"",
                       sizeof("\",\"coapPath\":\"") - 1);
        p = ngx_iot_json_escape(p, m->coap_path.data, m->coap_path.len);
        return ngx_cpymem(p, "\"}}", 3);
    }

    return ngx_sprintf(p, "\"udp\",\"udpMetaData\":{\"localPort\":%ui,"
                       "\"remotePort\":%ui}}",
                       m->local_port, m->remote_port);
}
