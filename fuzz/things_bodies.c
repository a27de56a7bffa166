
/*
 * Copyright (C) nginx-iot authors
 *
 * The things dialect's JSON request bodies through its validators: a
 * device (ngx_http_iot_things_devices.c), an adapter of each type as made
 * and as changed (ngx_http_iot_things_adapters.c), a group
 * (ngx_http_iot_things_groups.c), against a real, empty registry (so a
 * projectId never names a collection).  A refusal must be a 4xx with a
 * message (ngx_fuzz_refusal).
 *
 * Input: byte 0 chooses the validator, the rest is the body.
 */


#include "ngx_fuzz_http.h"
#include "ngx_http_iot_things_devices.c"
#include "ngx_http_iot_things_adapters.c"
#include "ngx_http_iot_things_groups.c"


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
    json_t                    *json;
    ngx_int_t                  rc;
    ngx_http_iot_ctx_t        *ctx;
    ngx_http_request_t        *r;
    ngx_iot_group_change_t     gch;
    ngx_iot_device_change_t    dch;
    ngx_iot_adapter_change_t   ach;

    r = ngx_fuzz_json_request(data, size);
    if (r == NULL) {
        return 0;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    json = ctx->body;

    switch (data[0] % 6) {

    case 0:
        rc = ngx_http_iot_things_fields(r, json, &dch);
        break;

    case 1:
        rc = ngx_http_iot_things_group_fields(r, json, &gch);
        break;

    case 2:
        /* POST: the type is the body's */
        rc = ngx_http_iot_things_adapter_fields(r, json, 0, 1, &ach);
        break;

    default:
        /* PUT of an adapter of a type (1, 2, 3) */
        rc = ngx_http_iot_things_adapter_fields(r, json, data[0] % 6 - 2, 0,
                                                &ach);
        break;
    }

    ngx_fuzz_refusal(r, rc);

    ngx_fuzz_json_done(r);

    return 0;
}
