
/*
 * Copyright (C) nginx-iot authors
 *
 * The store's rows of the iotda dialect's part of a device: the row as
 * the zone takes it, its writes, and its secrets found by node id (the
 * only read of them).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"


void
ngx_iot_store_row_iotda(sqlite3_stmt *st, ngx_iot_iotda_row_t *row)
{
    size_t            did, node;
    ngx_iot_iotda_t  *x;

    x = &row->e;
    ngx_memzero(x, sizeof(ngx_iot_iotda_t));

    x->id.key = (uint64_t) sqlite3_column_int64(st, 0);

    did = ngx_min((size_t) sqlite3_column_bytes(st, 1),
                  (size_t) NGX_IOT_IOTDA_DID_MAX);
    node = (sqlite3_column_type(st, 2) == SQLITE_NULL)
           ? 0 : ngx_min((size_t) sqlite3_column_bytes(st, 2),
                         (size_t) NGX_IOT_IOTDA_NODE_MAX);

    ngx_memcpy(row->buf, sqlite3_column_text(st, 1), did);

    if (node) {
        ngx_memcpy(row->buf + did, sqlite3_column_text(st, 2), node);
    }

    x->ids.data = row->buf;
    x->ids.len = (uint32_t) (did + node);
    x->did_len = (uint16_t) did;

    x->product = (uint64_t) sqlite3_column_int64(st, 3);
    x->gateway = (uint64_t) sqlite3_column_int64(st, 4);
    x->depth = (u_char) sqlite3_column_int(st, 5);
    x->flags = (u_char) sqlite3_column_int(st, 6);
    x->timeout = (uint32_t) sqlite3_column_int64(st, 7);

    x->doc.data = (u_char *) sqlite3_column_text(st, 8);
    x->doc.len = sqlite3_column_bytes(st, 8);
}


ngx_int_t
ngx_iot_store_iotda_put(ngx_iot_store_t *store, ngx_iot_iotda_t *x,
    ngx_str_t *node_id, ngx_uint_t set_secret, ngx_str_t *secret,
    ngx_uint_t set_secondary, ngx_str_t *secondary, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_IOTDA_PUT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "writing a device's iotda part", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) x->id.key);
    sqlite3_bind_text(st, 2, (char *) x->ids.data, x->did_len,
                      SQLITE_STATIC);

    if (node_id->len) {
        sqlite3_bind_text(st, 3, (char *) node_id->data, node_id->len,
                          SQLITE_STATIC);

    } else {
        sqlite3_bind_null(st, 3);
    }

    sqlite3_bind_int64(st, 4, (sqlite3_int64) x->product);
    sqlite3_bind_int64(st, 5, (sqlite3_int64) x->gateway);
    sqlite3_bind_int(st, 6, x->depth);
    sqlite3_bind_int(st, 7, x->flags);
    sqlite3_bind_int64(st, 8, (sqlite3_int64) x->timeout);
    sqlite3_bind_text(st, 9, x->doc.len ? (char *) x->doc.data : "{}",
                      x->doc.len ? (int) x->doc.len : 2, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, secret->len ? (char *) secret->data : "",
                      secret->len, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, secondary->len ? (char *) secondary->data : "",
                      secondary->len, SQLITE_STATIC);
    sqlite3_bind_int(st, 12, set_secret ? 1 : 0);
    sqlite3_bind_int(st, 13, set_secondary ? 1 : 0);

    return ngx_iot_store_step(store, st, "writing a device's iotda part",
                              log);
}


ngx_int_t
ngx_iot_store_iotda_secret(ngx_iot_store_t *store, uint64_t device_id,
    ngx_str_t *node_id, ngx_pool_t *pool, ngx_str_t *secret,
    ngx_str_t *secondary, ngx_log_t *log)
{
    int            rc, i;
    ngx_str_t     *out;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_IOTDA_SECRET);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "finding a device's secret", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device_id);

    if (node_id->len) {
        sqlite3_bind_text(st, 2, (char *) node_id->data, node_id->len,
                          SQLITE_STATIC);

    } else {
        sqlite3_bind_null(st, 2);
    }

    rc = sqlite3_step(st);

    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);

        if (rc == SQLITE_DONE) {
            return NGX_DECLINED;
        }

        ngx_iot_store_log_error(store, "finding a device's secret", log);
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        out = i ? secondary : secret;
        out->len = sqlite3_column_bytes(st, i);
        out->data = ngx_pnalloc(pool, out->len + 1);

        if (out->data == NULL) {
            sqlite3_reset(st);
            return NGX_ERROR;
        }

        ngx_memcpy(out->data, sqlite3_column_text(st, i), out->len);
        out->data[out->len] = '\0';
    }

    sqlite3_reset(st);

    return NGX_OK;
}
