
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's JSON request bodies through its validators: a
 * product (product_id, app_id, name and the model: services, properties,
 * their types, ranges and defaults; ngx_http_iot_iotda_products.c) as
 * ngx_http_iot_iotda_product_create() checks it, against a real, empty
 * registry (so an app_id never names a resource space).  The dialect has
 * no device body yet (its devices are read only).  A refusal must be a
 * 4xx with a message (ngx_fuzz_refusal).
 *
 * Input: byte 0 chooses the credentials (one space or all), the rest is
 * the body.
 */


#include "ngx_fuzz_http.h"
#include "ngx_http_iot_iotda_products.c"


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
    json_t                    *json, *model;
    size_t                     n;
    uint64_t                   cid;
    ngx_int_t                  rc;
    ngx_str_t                  s;
    ngx_pool_t                *pool;
    ngx_http_iot_ctx_t        *ctx;
    ngx_http_request_t        *r;
    ngx_iot_product_change_t   ch;

    r = ngx_fuzz_json_request(data, size);
    if (r == NULL) {
        return 0;
    }

    pool = r->pool;
    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    json = ctx->body;

    if (data[0] & 1) {
        ctx->who.admin = 0;
        ctx->who.all = 0;
        ctx->who.collections = ngx_palloc(pool, sizeof(uint64_t));
        ctx->who.collections[0] = 0x123456789ULL;
        ctx->who.ncollections = 1;
    }

    model = json_object();
    if (model == NULL) {
        abort();
    }

    ngx_memzero(&ch, sizeof(ngx_iot_product_change_t));

    rc = ngx_http_iot_iotda_text(r, json, "product_id", 0,
                                 NGX_IOT_PRODUCT_ID_MAX, 1, &ch.pid);

    if (rc == NGX_OK) {
        rc = ngx_http_iot_iotda_text(r, json, "app_id", 0, 36, 1, &s);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_iot_iotda_text(r, json, "name", 1, 64, 0, &ch.name);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_iot_iotda_model(r, json, model);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_iot_iotda_app(r, ctx, &s, 1, &cid);
    }

    ngx_fuzz_refusal(r, rc);

    if (rc == NGX_OK) {
        /* the model as the store keeps it */
        n = json_dumpb(model, NULL, 0, JSON_COMPACT);
        ch.model.data = ngx_pnalloc(pool, n ? n : 1);
        ch.model.len = json_dumpb(model, (char *) ch.model.data, n,
                                  JSON_COMPACT);
    }

    json_decref(model);
    ngx_fuzz_json_done(r);

    return 0;
}
