
/*
 * Copyright (C) nginx-iot authors
 *
 * Ids and identifiers as they come in paths, bodies and queries: entity
 * ids (ngx_iot_id.c, 13 base32 characters), IMSI and IMEI (digits), UUIDs,
 * hex; the things dialect's seven deviceId forms (a UUID, imei:, deveui:,
 * dvnuuid:, and the last three as urn:dev:...), its projectId and clientId
 * and its ISO 8601 times; the collections dialect's path ids and token
 * resources; the iotda dialect's X-Sdk-Date.  The things dialect's forms
 * are looked up in a real, empty registry (ngx_fuzz_http.h).
 *
 * Invariants: what decodes encodes back to the same value.
 * Input: the text of the id.
 */


#include "ngx_fuzz_http.h"
#include "ngx_iot_id.h"
#include "ngx_http_iot_collections.h"
#include "ngx_http_iot_things.h"
#include "ngx_http_iot_iotda.h"


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
    u_char               *p, *hex;
    u_char                text[NGX_IOT_UUID_LEN + NGX_IOT_ID_LEN + 32];
    u_char                uuid[NGX_IOT_UUID_SIZE], again[NGX_IOT_UUID_SIZE];
    time_t                t;
    uint64_t              id, id2, ms, team;
    ngx_str_t             s;
    ngx_int_t             rc;
    ngx_pool_t           *pool;
    ngx_iot_device_t      d;
    ngx_http_request_t   *r;
    ngx_iot_principal_t   who;

    if (size > 4096) {
        return 0;
    }

    pool = ngx_fuzz_pool();
    p = ngx_fuzz_copy(pool, data, size);

    s.data = p;
    s.len = size;

    /* entity ids */

    if (ngx_iot_id_decode(p, size, &id) == NGX_OK) {
        (void) ngx_iot_id_encode(text, id);

        if (ngx_iot_id_decode(text, NGX_IOT_ID_LEN, &id2) != NGX_OK
            || id2 != id || ngx_memcmp(text, p, NGX_IOT_ID_LEN) != 0)
        {
            abort();
        }
    }

    /* IMSI, IMEI */

    if (ngx_iot_ident_decode(p, size, &id) == NGX_OK) {
        if ((size_t) (ngx_iot_ident_encode(text, id) - text) != size
            || ngx_memcmp(text, p, size) != 0)
        {
            abort();
        }
    }

    /* UUIDs */

    if (ngx_iot_uuid_decode(p, size, uuid) == NGX_OK) {
        (void) ngx_iot_uuid_encode(text, uuid);

        if (ngx_iot_uuid_decode(text, NGX_IOT_UUID_LEN, again) != NGX_OK
            || ngx_memcmp(uuid, again, NGX_IOT_UUID_SIZE) != 0
            || ngx_strncasecmp(text, p, NGX_IOT_UUID_LEN) != 0)
        {
            abort();
        }

        (void) ngx_iot_uuid_is_nil(uuid);
    }

    hex = ngx_pnalloc(pool, size / 2 + 1);
    if (hex == NULL) {
        abort();
    }

    (void) ngx_iot_hex_decode(hex, p, size);

    /* the collections dialect */

    (void) ngx_http_iot_collections_path_id(&s, &id);
    (void) ngx_http_iot_collections_resource_check(&s);

    /* the things dialect: deviceId, projectId, clientId, times */

    r = ngx_fuzz_request(pool);

    rc = ngx_http_iot_things_device_ref(r, &s, &d);

    if (rc == NGX_OK) {
        /* the registry is empty */
        abort();
    }

    ngx_fuzz_refusal(r, rc);

    if (ngx_http_iot_things_project(r, p, size, &id) == NGX_OK) {
        abort();
    }

    /* a clientId: an administrator's principal reaches any team */
    ngx_memzero(&who, sizeof(ngx_iot_principal_t));
    who.admin = 1;
    (void) ngx_http_iot_things_client(&who, p, size, &team);

    if (ngx_http_iot_things_parse_time(p, size, &ms) == NGX_OK) {
        (void) ngx_http_iot_things_time(text, ms);
    }

    /* the iotda dialect */

    (void) ngx_http_iot_iotda_date(&s, &t);

    ngx_destroy_pool(pool);

    return 0;
}
