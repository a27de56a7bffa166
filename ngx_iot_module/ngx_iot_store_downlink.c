
/*
 * Copyright (C) nginx-iot authors
 *
 * The store's downlinks: each message sent to a device, with its state,
 * newest first; a collection's oldest finished ones are dropped beyond a
 * limit.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"


/* a collection keeps up to this many more than its limit between trims */
#define NGX_IOT_DOWNLINK_TRIM_EVERY  64


void
ngx_iot_store_row_downlink(sqlite3_stmt *st, ngx_iot_downlink_row_t *row)
{
    row->id = (uint64_t) sqlite3_column_int64(st, 0);
    row->collection = (uint64_t) sqlite3_column_int64(st, 1);
    row->device = (uint64_t) sqlite3_column_int64(st, 2);
    row->transport = (ngx_uint_t) sqlite3_column_int(st, 3);
    row->port = (ngx_uint_t) sqlite3_column_int(st, 4);
    row->state = (ngx_uint_t) sqlite3_column_int(st, 5);
    row->reason = (ngx_uint_t) sqlite3_column_int(st, 6);
    row->created = (uint64_t) sqlite3_column_int64(st, 7);
    row->updated = (uint64_t) sqlite3_column_int64(st, 8);
    row->payload.data = (u_char *) sqlite3_column_blob(st, 9);
    row->payload.len = sqlite3_column_bytes(st, 9);
    ngx_str_null(&row->coap_path);
}


ngx_int_t
ngx_iot_store_downlink_add(ngx_iot_store_t *store,
    ngx_iot_downlink_row_t *rows, ngx_uint_t n, ngx_uint_t keep,
    ngx_log_t *log)
{
    ngx_uint_t     i;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_INSERT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "recording downlinks", log);
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64) rows[i].collection);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) rows[i].device);
        sqlite3_bind_int(st, 3, (int) rows[i].transport);
        sqlite3_bind_int(st, 4, (int) rows[i].port);
        sqlite3_bind_int(st, 5, (int) rows[i].state);
        sqlite3_bind_int(st, 6, (int) rows[i].reason);
        sqlite3_bind_int64(st, 7, (sqlite3_int64) rows[i].created);
        sqlite3_bind_int64(st, 8, (sqlite3_int64) rows[i].updated);
        sqlite3_bind_blob(st, 9, rows[i].payload.data,
                          (int) rows[i].payload.len, SQLITE_STATIC);

        if (ngx_iot_store_step(store, st, "recording downlinks", log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        rows[i].id = (uint64_t) sqlite3_last_insert_rowid(store->db);

        if (rows[i].coap_path.len == 0) {
            continue;
        }

        st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_PATH);
        if (st == NULL) {
            ngx_iot_store_log_error(store, "recording downlinks", log);
            return NGX_ERROR;
        }

        sqlite3_bind_int64(st, 1, (sqlite3_int64) rows[i].id);
        sqlite3_bind_text(st, 2, (char *) rows[i].coap_path.data,
                          (int) rows[i].coap_path.len, SQLITE_STATIC);

        if (ngx_iot_store_step(store, st, "recording downlinks", log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* the next row's insert */
        st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_INSERT);
        if (st == NULL) {
            ngx_iot_store_log_error(store, "recording downlinks", log);
            return NGX_ERROR;
        }
    }

    if (keep == 0) {
        return NGX_OK;
    }

    /* the oldest beyond the limit, every NGX_IOT_DOWNLINK_TRIM_EVERY rows */

    for (i = 0; i < n; i++) {
        if (rows[i].id % NGX_IOT_DOWNLINK_TRIM_EVERY) {
            continue;
        }

        st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_TRIM);
        if (st == NULL) {
            ngx_iot_store_log_error(store, "trimming downlinks", log);
            return NGX_ERROR;
        }

        sqlite3_bind_int64(st, 1, (sqlite3_int64) rows[i].collection);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) keep);

        if (ngx_iot_store_step(store, st, "trimming downlinks", log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the oldest queued downlink of a device by one transport: handler gets it */

ngx_int_t
ngx_iot_store_downlink_next(ngx_iot_store_t *store, uint64_t device,
    ngx_uint_t transport, ngx_iot_store_downlink_pt handler, void *data,
    ngx_log_t *log)
{
    int                      rc;
    ngx_int_t                hrc;
    sqlite3_stmt            *st;
    ngx_iot_downlink_row_t   row;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_QUEUED_NEXT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "reading queued downlinks", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device);
    sqlite3_bind_int(st, 2, (int) transport);

    rc = sqlite3_step(st);

    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return NGX_DECLINED;
    }

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "reading queued downlinks", log);
        sqlite3_reset(st);
        return NGX_ERROR;
    }

    ngx_iot_store_row_downlink(st, &row);

    hrc = handler(&row, data);

    sqlite3_reset(st);

    return hrc;
}


ngx_int_t
ngx_iot_store_downlink_queued(ngx_iot_store_t *store, uint64_t device,
    ngx_uint_t transport, ngx_uint_t *n, ngx_log_t *log)
{
    int            rc;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_QUEUED_COUNT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "counting queued downlinks", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device);
    sqlite3_bind_int(st, 2, (int) transport);

    rc = sqlite3_step(st);

    *n = (rc == SQLITE_ROW) ? (ngx_uint_t) sqlite3_column_int64(st, 0) : 0;

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "counting queued downlinks", log);
        sqlite3_reset(st);
        return NGX_ERROR;
    }

    sqlite3_reset(st);

    return NGX_OK;
}


/* a queued downlink of the device finished: NGX_DECLINED if none was */

ngx_int_t
ngx_iot_store_downlink_settle(ngx_iot_store_t *store, uint64_t id,
    uint64_t device, ngx_uint_t state, ngx_uint_t reason, uint64_t updated,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_SETTLE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "settling a downlink", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) device);
    sqlite3_bind_int(st, 3, (int) state);
    sqlite3_bind_int(st, 4, (int) reason);
    sqlite3_bind_int64(st, 5, (sqlite3_int64) updated);

    if (ngx_iot_store_step(store, st, "settling a downlink", log) != NGX_OK) {
        return NGX_ERROR;
    }

    return sqlite3_changes(store->db) ? NGX_OK : NGX_DECLINED;
}


/* the oldest queued downlink of a transport after the id after, any device */

ngx_int_t
ngx_iot_store_downlink_push_next(ngx_iot_store_t *store, ngx_uint_t transport,
    uint64_t after, ngx_iot_store_downlink_pt handler, void *data,
    ngx_log_t *log)
{
    int                      rc;
    ngx_int_t                hrc;
    sqlite3_stmt            *st;
    ngx_iot_downlink_row_t   row;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_PUSH_NEXT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "reading queued downlinks", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int(st, 1, (int) transport);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) after);

    rc = sqlite3_step(st);

    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return NGX_DECLINED;
    }

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "reading queued downlinks", log);
        sqlite3_reset(st);
        return NGX_ERROR;
    }

    ngx_iot_store_row_downlink(st, &row);

    row.coap_path.data = (u_char *) sqlite3_column_text(st, 10);
    row.coap_path.len = sqlite3_column_bytes(st, 10);

    hrc = handler(&row, data);

    sqlite3_reset(st);

    return hrc;
}
