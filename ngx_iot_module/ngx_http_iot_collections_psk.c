
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect's write-only DTLS pre-shared key of a device
 * (CoAP over DTLS, docs/coap.md): PATCH .../devices/{did}/psk sets it,
 * DELETE removes it; nothing ever reads it back.  The device's id is its
 * PSK identity.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_collections.h"
#include "ngx_iot_psk.h"


#define NGX_HTTP_IOT_PSK_MIN   4       /* bytes */
#define NGX_HTTP_IOT_PSK_MAX   64


static ngx_int_t ngx_http_iot_psk_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);


ngx_int_t
ngx_http_iot_collections_psk(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t            *v;
    size_t             len;
    uint64_t           cid, did;
    ngx_str_t          key;
    ngx_iot_wait_t    *wait;
    ngx_iot_device_t   d;

    if (ngx_http_iot_collections_path_id(&ctx->seg[1], &cid) != NGX_OK
        || !ngx_iot_collection_exists((ngx_cycle_t *) ngx_cycle, cid))
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "collection not found");
    }

    if (ngx_http_iot_collections_path_id(&ctx->seg[3], &did) != NGX_OK
        || ngx_iot_device_get((ngx_cycle_t *) ngx_cycle, did, cid, r->pool,
                              &d)
           != NGX_IOT_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "device not found");
    }

    ngx_str_null(&key);

    if (r->method == NGX_HTTP_PATCH) {
        v = ngx_http_iot_collections_field(ctx->body, "key");
        len = (v && json_is_string(v)) ? json_string_length(v) : 0;

        if (len < 2 * NGX_HTTP_IOT_PSK_MIN || len > 2 * NGX_HTTP_IOT_PSK_MAX
            || len % 2)
        {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "key must be 8 to 128 hex digits "
                                      "(4 to 64 bytes)");
        }

        key.data = ngx_pnalloc(r->pool, len / 2);
        if (key.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_iot_hex_decode(key.data, (u_char *) json_string_value(v),
                               len)
            != NGX_OK)
        {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "key must be 8 to 128 hex digits "
                                      "(4 to 64 bytes)");
        }

        key.len = len / 2;
    }

    wait = ngx_http_iot_waiter(r, ngx_http_iot_psk_answer, NULL);

    return ngx_http_iot_answer(r, ngx_iot_psk_put((ngx_cycle_t *) ngx_cycle,
                                                  did, &key, r->pool,
                                                  r->connection->log, wait));
}


static ngx_int_t
ngx_http_iot_psk_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    if (rc == NGX_IOT_OK) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    return ngx_http_iot_collections_rc_error(r, rc, NULL);
}
