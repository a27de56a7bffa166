
/*
 * Copyright (C) nginx-iot authors
 *
 * SenML packs of the things dialect's ingestion
 * (ngx_http_iot_things_ingest.c): the body parsed as JSON and checked as
 * a pack of one device, as ngx_http_iot_things_ingest_run() does before
 * it looks the device up.  Input: the body.
 */


#include "ngx_fuzz.h"
#include "ngx_http_iot_things_ingest.c"


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char       *body;
    u_char        dvn[NGX_IOT_UUID_SIZE];
    u_char        text[NGX_IOT_UUID_LEN];
    json_t       *pack;
    ngx_pool_t   *pool;
    const char   *err;

    if (size > NGX_IOT_PAYLOAD_MAX) {
        /* refused before it is parsed */
        return 0;
    }

    pool = ngx_fuzz_pool();
    body = ngx_fuzz_copy(pool, data, size);

    pack = json_loadb((char *) body, size, 0, NULL);
    err = pack ? ngx_http_iot_things_senml(pack, dvn)
               : "the body is not JSON";
    json_decref(pack);

    if (err == NULL) {
        /* the DVN UUID found is one the registry can be asked for */
        (void) ngx_iot_uuid_encode(text, dvn);

        if (ngx_iot_uuid_decode(text, NGX_IOT_UUID_LEN, dvn) != NGX_OK) {
            abort();
        }
    }

    ngx_log_error(NGX_LOG_INFO, &ngx_fuzz_log, 0, "senml: %s",
                  err ? err : "ok");

    ngx_destroy_pool(pool);

    return 0;
}
