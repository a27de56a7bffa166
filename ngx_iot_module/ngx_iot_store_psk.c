
/*
 * Copyright (C) nginx-iot authors
 *
 * The store's DTLS pre-shared keys (CoAP devices): one per device, set in
 * the collections dialect, read for a handshake, never listed.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"
#include "ngx_iot_id.h"


ngx_int_t
ngx_iot_store_psk_put(ngx_iot_store_t *store, uint64_t device_id,
    ngx_str_t *key, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, key->len ? NGX_IOT_SQL_PSK_PUT
                                            : NGX_IOT_SQL_PSK_DELETE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "keeping a pre-shared key", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device_id);

    if (key->len) {
        sqlite3_bind_blob(st, 2, key->data, (int) key->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) ngx_iot_now_ms());
    }

    return ngx_iot_store_step(store, st, "keeping a pre-shared key", log);
}


ngx_int_t
ngx_iot_store_psk_get(ngx_iot_store_t *store, uint64_t device_id,
    u_char *buf, size_t size, size_t *len, ngx_log_t *log)
{
    int            rc, n;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_PSK_GET);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "reading a pre-shared key", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device_id);

    rc = sqlite3_step(st);

    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return NGX_DECLINED;
    }

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "reading a pre-shared key", log);
        sqlite3_reset(st);
        return NGX_ERROR;
    }

    n = sqlite3_column_bytes(st, 0);

    if (n <= 0 || (size_t) n > size) {
        sqlite3_reset(st);
        return NGX_DECLINED;
    }

    ngx_memcpy(buf, sqlite3_column_blob(st, 0), n);
    *len = n;

    sqlite3_reset(st);

    return NGX_OK;
}
