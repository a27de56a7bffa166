
/*
 * Copyright (C) nginx-iot authors
 *
 * The store's scans: a batch of rows at a time from where a cursor is,
 * each handed to the caller as a typed row.  No statement stays open
 * between batches, so a scan never holds the log back.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"


typedef union {
    ngx_iot_collection_t       collection;
    ngx_iot_device_t           device;
    ngx_iot_token_t            token;
    ngx_iot_session_row_t      session;
    ngx_iot_message_t          message;
    ngx_iot_downlink_row_t     downlink;
    ngx_iot_adapter_t          adapter;
    ngx_iot_group_t            group;
    ngx_iot_member_t           member;
    ngx_iot_product_t          product;
} ngx_iot_store_any_t;


static sqlite3_stmt *ngx_iot_store_list_stmt(ngx_iot_store_t *store,
    ngx_iot_store_cursor_t *cur, ngx_uint_t max);


static sqlite3_stmt *
ngx_iot_store_list_stmt(ngx_iot_store_t *store, ngx_iot_store_cursor_t *cur,
    ngx_uint_t max)
{
    int            col, limit;
    sqlite3_stmt  *st;
    ngx_iot_sql_e  sql;

    switch (cur->kind) {

    case NGX_IOT_STORE_COLLECTIONS:
        sql = NGX_IOT_SQL_COLLECTION_LIST;
        break;

    case NGX_IOT_STORE_DEVICES:
        sql = cur->scope ? NGX_IOT_SQL_DEVICE_LIST : NGX_IOT_SQL_DEVICE_ALL;
        break;

    case NGX_IOT_STORE_TOKENS:
        sql = NGX_IOT_SQL_TOKEN_LIST;
        break;

    case NGX_IOT_STORE_SESSIONS:
        sql = NGX_IOT_SQL_SESSION_LIST;
        break;

    case NGX_IOT_STORE_HISTORY:
        sql = NGX_IOT_SQL_HISTORY_LIST;
        break;

    case NGX_IOT_STORE_DEVICE_HISTORY:
        sql = NGX_IOT_SQL_HISTORY_DEVICE_LIST;
        break;

    case NGX_IOT_STORE_DOWNLINKS:
        sql = NGX_IOT_SQL_DOWNLINK_LIST;
        break;

    case NGX_IOT_STORE_DEVICE_DOWNLINKS:
        sql = NGX_IOT_SQL_DOWNLINK_DEVICE_LIST;
        break;

    case NGX_IOT_STORE_ADAPTERS:
        sql = NGX_IOT_SQL_ADAPTER_LIST;
        break;

    case NGX_IOT_STORE_GROUPS:
        sql = cur->scope ? NGX_IOT_SQL_GROUP_LIST : NGX_IOT_SQL_GROUP_ALL;
        break;

    case NGX_IOT_STORE_MEMBERS:
        sql = NGX_IOT_SQL_MEMBER_ALL;
        break;

    case NGX_IOT_STORE_GROUP_MEMBERS:
        sql = NGX_IOT_SQL_MEMBER_LIST_GROUP;
        break;

    case NGX_IOT_STORE_DEVICE_MEMBERS:
        sql = NGX_IOT_SQL_MEMBER_LIST_DEVICE;
        break;

    case NGX_IOT_STORE_PRODUCTS:
        sql = NGX_IOT_SQL_PRODUCT_LIST;
        break;

    default:
        return NULL;
    }

    st = ngx_iot_store_stmt(store, sql);
    if (st == NULL) {
        return NULL;
    }

    limit = (max == 0 || max > INT_MAX) ? -1 : (int) max;
    col = 1;

    switch (cur->kind) {

    case NGX_IOT_STORE_DEVICES:
    case NGX_IOT_STORE_GROUPS:
        if (cur->scope) {
            sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->scope);
        }

        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->id);
        break;

    case NGX_IOT_STORE_GROUP_MEMBERS:
    case NGX_IOT_STORE_DEVICE_MEMBERS:
        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->scope);
        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->id);
        break;

    case NGX_IOT_STORE_TOKENS:
        sqlite3_bind_text(st, col++, (char *) cur->key, cur->key_len,
                          SQLITE_STATIC);
        break;

    case NGX_IOT_STORE_HISTORY:
    case NGX_IOT_STORE_DEVICE_HISTORY:
        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->scope);
        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->time);
        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->id);
        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->since);

        if (cur->kind == NGX_IOT_STORE_DEVICE_HISTORY) {
            /* after the limit (?5): a device may have moved */
            sqlite3_bind_int64(st, 6, (sqlite3_int64) cur->collection);
        }

        break;

    case NGX_IOT_STORE_DOWNLINKS:
    case NGX_IOT_STORE_DEVICE_DOWNLINKS:
        /* newest first: below the id in time */
        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->scope);
        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->time);
        break;

    default:
        sqlite3_bind_int64(st, col++, (sqlite3_int64) cur->id);
        break;
    }

    sqlite3_bind_int(st, col, limit);

    return st;
}


ngx_int_t
ngx_iot_store_list(ngx_iot_store_t *store, ngx_iot_store_cursor_t *cur,
    ngx_uint_t max, ngx_iot_store_row_pt handler, void *data, ngx_log_t *log)
{
    int                   rc;
    size_t                key_len;
    uint64_t              id, time;
    ngx_int_t             hrc;
    ngx_uint_t            n;
    sqlite3_stmt         *st;
    ngx_iot_store_any_t   row;

    if (cur->done) {
        return NGX_OK;
    }

    if (!cur->started) {
        cur->started = 1;
        cur->id = 0;
        cur->key_len = 0;

        /*
         * newest first: below (until + 1, 0); an until at the end of time
         * (or past it) is no end
         */
        cur->time = (cur->until && cur->until < (uint64_t) INT64_MAX)
                    ? cur->until + 1 : (uint64_t) INT64_MAX;
    }

    st = ngx_iot_store_list_stmt(store, cur, max);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "listing", log);
        return NGX_ERROR;
    }

    n = 0;
    hrc = NGX_OK;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {

        time = cur->time;
        key_len = 0;

        switch (cur->kind) {

        case NGX_IOT_STORE_COLLECTIONS:
            ngx_iot_store_row_collection(st, &row.collection);
            id = row.collection.id.key;
            break;

        case NGX_IOT_STORE_DEVICES:
            ngx_iot_store_row_device(store, st, &row.device);
            id = row.device.id.key;
            break;

        case NGX_IOT_STORE_TOKENS:
            ngx_iot_store_row_token(st, &row.token);
            id = 0;
            key_len = NGX_IOT_TOKEN_HINT_LEN;
            break;

        case NGX_IOT_STORE_SESSIONS:
            ngx_iot_store_row_session(st, &row.session.session,
                                      &row.session.gateway);
            id = (uint64_t) sqlite3_column_int64(st, 4);
            break;

        case NGX_IOT_STORE_DOWNLINKS:
        case NGX_IOT_STORE_DEVICE_DOWNLINKS:
            ngx_iot_store_row_downlink(st, &row.downlink);
            id = row.downlink.id;
            time = id;
            break;

        case NGX_IOT_STORE_ADAPTERS:
            ngx_iot_store_row_adapter(st, &row.adapter);
            id = (uint64_t) sqlite3_column_int64(st, 7);
            break;

        case NGX_IOT_STORE_GROUPS:
            ngx_iot_store_row_group(st, &row.group);
            id = row.group.id.key;
            break;

        case NGX_IOT_STORE_MEMBERS:
            ngx_iot_store_row_member(st, &row.member);
            id = (uint64_t) sqlite3_column_int64(st, 4);
            break;

        case NGX_IOT_STORE_GROUP_MEMBERS:
            ngx_iot_store_row_member(st, &row.member);
            id = row.member.device_id;
            break;

        case NGX_IOT_STORE_DEVICE_MEMBERS:
            ngx_iot_store_row_member(st, &row.member);
            id = row.member.group_id;
            break;

        case NGX_IOT_STORE_PRODUCTS:
            ngx_iot_store_row_product(st, &row.product);
            id = row.product.id.key;
            break;

        default: /* the history */
            ngx_iot_history_row(st, &row.message);
            id = row.message.id;
            time = row.message.received;
            break;
        }

        hrc = handler(&row, data);

        if (hrc == NGX_AGAIN || hrc == NGX_ERROR) {
            break;
        }

        cur->id = id;
        cur->time = time;

        if (key_len) {
            ngx_memcpy(cur->key, row.token.hint, key_len);
            cur->key_len = key_len;
        }

        n++;

        if (hrc == NGX_DONE) {
            break;
        }
    }

    sqlite3_reset(st);

    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "listing", log);
        return NGX_ERROR;
    }

    if (rc == SQLITE_DONE && (max == 0 || n < max)) {
        cur->done = 1;
    }

    return (rc == SQLITE_ROW) ? hrc : NGX_OK;
}
