
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect's JSON request bodies through its validators:
 * a collection (tags, fieldMask, teamId), a device (imsi, imei, tags) as
 * made and as changed, a token (resource, write, tags) as made and as
 * changed, a downlink message (transport, port, base64 payload)
 * (ngx_http_iot_collections_devices.c, ngx_http_iot_collections_tokens.c,
 * ngx_http_iot_collections_data.c), against a real, empty registry.
 * A refusal must be a 4xx with a message (ngx_fuzz_refusal).
 *
 * Input: byte 0 chooses the validator, the rest is the body.
 */


#include "ngx_fuzz_http.h"
#include "ngx_http_iot_collections_devices.c"
#include "ngx_http_iot_collections_tokens.c"
#include "ngx_http_iot_collections_data.c"


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    ngx_fuzz_zone();
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t                       *json;
    ngx_int_t                     rc;
    ngx_pool_t                   *pool;
    ngx_http_iot_ctx_t           *ctx;
    ngx_http_request_t           *r;
    ngx_iot_downlink_t            dl;
    ngx_iot_downlink_e            transport;
    ngx_iot_token_change_t        tch;
    ngx_iot_device_change_t       dch;
    ngx_iot_collection_change_t   cch;

    r = ngx_fuzz_json_request(data, size);
    if (r == NULL) {
        return 0;
    }

    pool = r->pool;
    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    json = ctx->body;

    /* a token that reaches one collection makes tokens of it only */
    if (data[0] & 0x10) {
        ctx->who.admin = 0;
        ctx->who.all = 0;
        ctx->who.collections = ngx_palloc(pool, sizeof(uint64_t));
        ctx->who.collections[0] = 0x123456789ULL;
        ctx->who.ncollections = 1;
        ngx_str_set(&ctx->who.resource, "/collections/0000009a5ih2p");
    }

    switch (data[0] & 0x7) {

    case 0:
        rc = ngx_http_iot_collection_fields(r, ctx, &cch);
        break;

    case 1:
        rc = ngx_http_iot_device_fields(r, json, &dch, 1);
        break;

    case 2:
        rc = ngx_http_iot_device_fields(r, json, &dch, 0);
        break;

    case 3:
        rc = ngx_http_iot_token_fields(r, ctx, &tch, 1);
        break;

    case 5:
        ngx_memzero(&dl, sizeof(ngx_iot_downlink_t));
        rc = ngx_http_iot_downlink_fields(r, ctx, &transport, &dl);
        break;

    default:
        rc = ngx_http_iot_token_fields(r, ctx, &tch, 0);
        break;
    }

    ngx_fuzz_refusal(r, rc);

    ngx_fuzz_json_done(r);

    return 0;
}
