
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
#include "ngx_iot_id.h"


static ngx_int_t ngx_iot_store_downlink_one(ngx_iot_store_t *store,
    sqlite3_stmt *st, ngx_uint_t path, ngx_iot_store_downlink_pt handler,
    void *data, ngx_log_t *log);


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
    row->expires = 0;
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

        if (rows[i].expires) {
            st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_EXPIRES);
            if (st == NULL) {
                ngx_iot_store_log_error(store, "recording downlinks", log);
                return NGX_ERROR;
            }

            sqlite3_bind_int64(st, 1, (sqlite3_int64) rows[i].id);
            sqlite3_bind_int64(st, 2, (sqlite3_int64) rows[i].expires);

            if (ngx_iot_store_step(store, st, "recording downlinks", log)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_INSERT);
            if (st == NULL) {
                ngx_iot_store_log_error(store, "recording downlinks", log);
                return NGX_ERROR;
            }
        }

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
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_QUEUED_NEXT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "reading queued downlinks", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device);
    sqlite3_bind_int(st, 2, (int) transport);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) ngx_iot_now_ms());

    return ngx_iot_store_downlink_one(store, st, 0, handler, data, log);
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
    sqlite3_bind_int64(st, 3, (sqlite3_int64) ngx_iot_now_ms());

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
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_PUSH_NEXT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "reading queued downlinks", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int(st, 1, (int) transport);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) after);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) ngx_iot_now_ms());

    return ngx_iot_store_downlink_one(store, st, 1, handler, data, log);
}


/*
 * The one queued downlink a bound statement finds, to handler (its CoAP
 * path from column 10 when the statement has it); NGX_DECLINED: none.
 */

static ngx_int_t
ngx_iot_store_downlink_one(ngx_iot_store_t *store, sqlite3_stmt *st,
    ngx_uint_t path, ngx_iot_store_downlink_pt handler, void *data,
    ngx_log_t *log)
{
    int                      rc;
    ngx_int_t                hrc;
    ngx_iot_downlink_row_t   row;

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

    if (path) {
        row.coap_path.data = (u_char *) sqlite3_column_text(st, 10);
        row.coap_path.len = sqlite3_column_bytes(st, 10);
    }

    hrc = handler(&row, data);

    sqlite3_reset(st);

    return hrc;
}


/* a downlink as the store has it, its payload and path copied to pool */

ngx_int_t
ngx_iot_store_downlink_get(ngx_iot_store_t *store, uint64_t id,
    ngx_pool_t *pool, ngx_iot_downlink_row_t *row, ngx_log_t *log)
{
    int            rc;
    u_char        *p;
    ngx_str_t      path;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_GET);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "reading a downlink", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);

    rc = sqlite3_step(st);

    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return NGX_DECLINED;
    }

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "reading a downlink", log);
        sqlite3_reset(st);
        return NGX_ERROR;
    }

    ngx_iot_store_row_downlink(st, row);

    path.data = (u_char *) sqlite3_column_text(st, 10);
    path.len = sqlite3_column_bytes(st, 10);

    p = ngx_pnalloc(pool, row->payload.len + path.len + 1);
    if (p == NULL) {
        sqlite3_reset(st);
        return NGX_ERROR;
    }

    ngx_memcpy(p, row->payload.data, row->payload.len);
    row->payload.data = p;
    p += row->payload.len;

    ngx_memcpy(p, path.data, path.len);
    row->coap_path.data = p;
    row->coap_path.len = path.len;

    sqlite3_reset(st);

    return NGX_OK;
}


/*
 * Up to n waiting downlinks whose time has come (expires at or before
 * now), soonest first: their ids and devices; *found how many.
 */

ngx_int_t
ngx_iot_store_downlink_due(ngx_iot_store_t *store, uint64_t now,
    uint64_t *ids, uint64_t *devices, ngx_uint_t n, ngx_uint_t *found,
    ngx_log_t *log)
{
    int            rc;
    ngx_uint_t     i;
    sqlite3_stmt  *st;

    *found = 0;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DOWNLINK_DUE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "reading expired downlinks", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) now);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) n);

    for (i = 0; i < n; i++) {
        rc = sqlite3_step(st);

        if (rc == SQLITE_DONE) {
            break;
        }

        if (rc != SQLITE_ROW) {
            ngx_iot_store_log_error(store, "reading expired downlinks", log);
            sqlite3_reset(st);
            return NGX_ERROR;
        }

        ids[i] = (uint64_t) sqlite3_column_int64(st, 0);
        devices[i] = (uint64_t) sqlite3_column_int64(st, 1);
    }

    *found = i;

    sqlite3_reset(st);

    return NGX_OK;
}
