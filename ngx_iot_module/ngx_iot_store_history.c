
/*
 * Copyright (C) nginx-iot authors
 *
 * The store's history of uplink messages: its rows, batched writes and
 * retention.  The history has a file of its own (ngx_iot_history.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"


/* expired rows are deleted this many at a time, in this many steps */
/* collections trimmed in one run, at most */
#define NGX_IOT_HISTORY_TRIM_BATCH  256
#define NGX_IOT_HISTORY_EXPIRE_STEPS  100


void
ngx_iot_history_row(sqlite3_stmt *st, ngx_iot_message_t *m)
{
    ngx_memzero(m, sizeof(ngx_iot_message_t));

    m->id = (uint64_t) sqlite3_column_int64(st, 0);
    m->collection_id = (uint64_t) sqlite3_column_int64(st, 1);
    m->device_id = (uint64_t) sqlite3_column_int64(st, 2);
    m->received = (uint64_t) sqlite3_column_int64(st, 3);
    m->transport = (ngx_uint_t) sqlite3_column_int(st, 4);
    m->local_port = (ngx_uint_t) sqlite3_column_int(st, 5);
    m->remote_port = (ngx_uint_t) sqlite3_column_int(st, 6);
    m->payload.data = (u_char *) sqlite3_column_blob(st, 7);
    m->payload.len = sqlite3_column_bytes(st, 7);
    m->coap_method.data = (u_char *) sqlite3_column_text(st, 8);
    m->coap_method.len = sqlite3_column_bytes(st, 8);
    m->coap_path.data = (u_char *) sqlite3_column_text(st, 9);
    m->coap_path.len = sqlite3_column_bytes(st, 9);
}


ngx_int_t
ngx_iot_store_history_add(ngx_iot_store_t *store, ngx_iot_message_t *m,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_HISTORY_INSERT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "recording messages", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) m->collection_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) m->device_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) m->received);
    sqlite3_bind_int(st, 4, (int) m->transport);
    sqlite3_bind_int(st, 5, (int) m->local_port);
    sqlite3_bind_int(st, 6, (int) m->remote_port);
    sqlite3_bind_blob(st, 7, m->payload.data, m->payload.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, (char *) m->coap_method.data,
                      m->coap_method.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, (char *) m->coap_path.data, m->coap_path.len,
                      SQLITE_STATIC);

    if (m->payload.data == NULL) {
        sqlite3_bind_zeroblob(st, 7, 0);
    }

    if (m->coap_method.data == NULL) {
        sqlite3_bind_text(st, 8, "", 0, SQLITE_STATIC);
    }

    if (m->coap_path.data == NULL) {
        sqlite3_bind_text(st, 9, "", 0, SQLITE_STATIC);
    }

    return ngx_iot_store_step(store, st, "recording a message", log);
}


ngx_int_t
ngx_iot_store_history_expire(ngx_iot_store_t *store, uint64_t before,
    ngx_uint_t *deleted, ngx_log_t *log)
{
    int            rc;
    ngx_uint_t     n;
    sqlite3_stmt  *st;

    *deleted = 0;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_HISTORY_EXPIRE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "expiring messages", log);
        return NGX_ERROR;
    }

    for (n = 0; n < NGX_IOT_HISTORY_EXPIRE_STEPS; n++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64) before);

        rc = sqlite3_step(st);

        if (rc != SQLITE_DONE) {
            sqlite3_reset(st);
            ngx_iot_store_log_error(store, "expiring messages", log);
            return NGX_ERROR;
        }

        if (sqlite3_changes(store->db) == 0) {
            break;
        }

        *deleted += sqlite3_changes(store->db);
    }

    sqlite3_reset(st);

    return NGX_OK;
}


/*
 * The collections over the limit are found first, and the statement that
 * found them is done before any is trimmed: a delete made while a read
 * of an older snapshot is still open cannot wait for another writer's
 * commit (SQLite answers "database is locked" at once), and under load
 * the other workers' history writers commit all the time.  Each delete
 * is a transaction of its own, which waits for the lock as long as any.
 */

ngx_int_t
ngx_iot_store_history_trim(ngx_iot_store_t *store, ngx_uint_t max,
    ngx_log_t *log)
{
    int            rc;
    uint64_t       cid[NGX_IOT_HISTORY_TRIM_BATCH];
    ngx_uint_t     i, n;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_HISTORY_CROWDED);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "trimming messages", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) max);

    n = 0;

    while (n < NGX_IOT_HISTORY_TRIM_BATCH) {
        rc = sqlite3_step(st);

        if (rc != SQLITE_ROW) {
            break;
        }

        cid[n++] = (uint64_t) sqlite3_column_int64(st, 0);
    }

    if (n < NGX_IOT_HISTORY_TRIM_BATCH && rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "trimming messages", log);
        sqlite3_reset(st);
        return NGX_ERROR;
    }

    sqlite3_reset(st);

    for (i = 0; i < n; i++) {
        st = ngx_iot_store_stmt(store, NGX_IOT_SQL_HISTORY_TRIM);
        if (st == NULL) {
            ngx_iot_store_log_error(store, "trimming messages", log);
            return NGX_ERROR;
        }

        sqlite3_bind_int64(st, 1, (sqlite3_int64) cid[i]);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) max);

        if (ngx_iot_store_step(store, st, "trimming messages", log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
