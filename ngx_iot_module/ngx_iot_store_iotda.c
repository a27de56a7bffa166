
/*
 * Copyright (C) nginx-iot authors
 *
 * The store's part of the iotda dialect (ngx_iot_store_iotda.h): its
 * messages and commands, each kept beside its downlink (and gone with
 * it), and access keys.  The statements are prepared on first use and
 * kept among the connection's made statements (ngx_iot_store_prepare()).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"
#include "ngx_iot_store_iotda.h"


#define NGX_IOT_MESSAGE_SELECT                                                \
    "SELECT d.id, d.collection_id, d.device_id, d.transport, d.port,"        \
    " d.state, d.reason, d.created, d.updated, d.payload, m.message_id,"     \
    " m.fields FROM iotda_messages m JOIN downlinks d"                       \
    " ON d.id = m.downlink_id"

#define NGX_IOT_ACCESS_KEY_SELECT                                             \
    "SELECT ak, team_id, sk, write, description, created_at"                 \
    " FROM access_keys"


static sqlite3_stmt *ngx_iot_store_iotda_stmt(ngx_iot_store_t *store,
    const char *sql, const char *what, ngx_log_t *log);
static void ngx_iot_store_row_message(sqlite3_stmt *st,
    ngx_iot_store_message_t *m);
static void ngx_iot_store_row_access_key(sqlite3_stmt *st,
    ngx_iot_store_access_key_t *k);
static ngx_int_t ngx_iot_store_iotda_rows(ngx_iot_store_t *store,
    sqlite3_stmt *st, ngx_uint_t keys, ngx_iot_store_row_pt handler,
    void *data, const char *what, ngx_log_t *log);


static sqlite3_stmt *
ngx_iot_store_iotda_stmt(ngx_iot_store_t *store, const char *sql,
    const char *what, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_prepare(store, (u_char *) sql, ngx_strlen(sql));

    if (st == NULL) {
        ngx_iot_store_log_error(store, what, log);
    }

    return st;
}


ngx_int_t
ngx_iot_store_message_add(ngx_iot_store_t *store, ngx_iot_downlink_row_t *dl,
    ngx_str_t *message_id, ngx_str_t *fields, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_iotda_stmt(store,
                                  "INSERT INTO iotda_messages (downlink_id,"
                                  " device_id, message_id, fields)"
                                  " VALUES (?1, ?2, ?3, ?4)",
                                  "recording a message", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) dl->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) dl->device);
    sqlite3_bind_text(st, 3, (char *) message_id->data,
                      (int) message_id->len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, (char *) fields->data, (int) fields->len,
                      SQLITE_STATIC);

    return ngx_iot_store_step(store, st, "recording a message", log);
}


ngx_int_t
ngx_iot_store_command_add(ngx_iot_store_t *store, ngx_iot_downlink_row_t *dl,
    ngx_str_t *command_id, ngx_str_t *fields, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_iotda_stmt(store,
                                  "INSERT INTO iotda_commands (downlink_id,"
                                  " device_id, command_id, fields)"
                                  " VALUES (?1, ?2, ?3, ?4)",
                                  "recording a command", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) dl->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) dl->device);
    sqlite3_bind_text(st, 3, (char *) command_id->data,
                      (int) command_id->len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, (char *) fields->data, (int) fields->len,
                      SQLITE_STATIC);

    return ngx_iot_store_step(store, st, "recording a command", log);
}


ngx_int_t
ngx_iot_store_message_find(ngx_iot_store_t *store, uint64_t device,
    ngx_str_t *message_id, ngx_iot_store_row_pt handler, void *data,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_iotda_stmt(store,
                                  NGX_IOT_MESSAGE_SELECT
                                  " WHERE m.device_id = ?1"
                                  " AND m.message_id = ?2",
                                  "reading a message", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device);
    sqlite3_bind_text(st, 2, (char *) message_id->data,
                      (int) message_id->len, SQLITE_STATIC);

    return ngx_iot_store_iotda_rows(store, st, 0, handler, data,
                                    "reading a message", log);
}


ngx_int_t
ngx_iot_store_messages(ngx_iot_store_t *store, uint64_t device,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log)
{
    ngx_int_t      rc;
    sqlite3_stmt  *st;

    st = ngx_iot_store_iotda_stmt(store,
                                  NGX_IOT_MESSAGE_SELECT
                                  " WHERE m.device_id = ?1"
                                  " ORDER BY m.downlink_id DESC",
                                  "reading messages", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device);

    rc = ngx_iot_store_iotda_rows(store, st, 0, handler, data,
                                  "reading messages", log);

    return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


ngx_int_t
ngx_iot_store_access_key_put(ngx_iot_store_t *store,
    ngx_iot_store_access_key_t *k, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_iotda_stmt(store,
                                  "INSERT INTO access_keys (ak, team_id, sk,"
                                  " write, description, created_at)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                  "adding an access key", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_text(st, 1, (char *) k->ak.data, (int) k->ak.len,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) k->team_id);
    sqlite3_bind_text(st, 3, (char *) k->sk.data, (int) k->sk.len,
                      SQLITE_STATIC);
    sqlite3_bind_int(st, 4, k->write ? 1 : 0);
    sqlite3_bind_text(st, 5, k->description.len
                             ? (char *) k->description.data : "",
                      (int) k->description.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64) k->created_at);

    return ngx_iot_store_step(store, st, "adding an access key", log);
}


ngx_int_t
ngx_iot_store_access_key_delete(ngx_iot_store_t *store, ngx_str_t *ak,
    ngx_uint_t *deleted, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_iotda_stmt(store,
                                  "DELETE FROM access_keys WHERE ak = ?1",
                                  "deleting an access key", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_text(st, 1, (char *) ak->data, (int) ak->len,
                      SQLITE_STATIC);

    if (ngx_iot_store_step(store, st, "deleting an access key", log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    *deleted = (sqlite3_changes(store->db) > 0);

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_access_key_find(ngx_iot_store_t *store, ngx_str_t *ak,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_iotda_stmt(store,
                                  NGX_IOT_ACCESS_KEY_SELECT
                                  " WHERE ak = ?1",
                                  "reading an access key", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_text(st, 1, (char *) ak->data, (int) ak->len,
                      SQLITE_STATIC);

    return ngx_iot_store_iotda_rows(store, st, 1, handler, data,
                                    "reading an access key", log);
}


ngx_int_t
ngx_iot_store_access_keys(ngx_iot_store_t *store, uint64_t team_id,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log)
{
    ngx_int_t      rc;
    sqlite3_stmt  *st;

    st = ngx_iot_store_iotda_stmt(store,
                                  NGX_IOT_ACCESS_KEY_SELECT
                                  " WHERE team_id = ?1 ORDER BY ak",
                                  "reading access keys", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) team_id);

    rc = ngx_iot_store_iotda_rows(store, st, 1, handler, data,
                                  "reading access keys", log);

    return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


/* every row to handler: NGX_OK (at least one), NGX_DECLINED, NGX_ERROR */

static ngx_int_t
ngx_iot_store_iotda_rows(ngx_iot_store_t *store, sqlite3_stmt *st,
    ngx_uint_t keys, ngx_iot_store_row_pt handler, void *data,
    const char *what, ngx_log_t *log)
{
    int                          rc;
    ngx_int_t                    hrc, found;
    ngx_iot_store_message_t      m;
    ngx_iot_store_access_key_t   k;

    found = NGX_DECLINED;

    for ( ;; ) {
        rc = sqlite3_step(st);

        if (rc == SQLITE_DONE) {
            break;
        }

        if (rc != SQLITE_ROW) {
            sqlite3_reset(st);
            ngx_iot_store_log_error(store, what, log);
            return NGX_ERROR;
        }

        found = NGX_OK;

        if (handler == NULL) {
            break;
        }

        if (keys) {
            ngx_iot_store_row_access_key(st, &k);
            hrc = handler(&k, data);

        } else {
            ngx_iot_store_row_message(st, &m);
            hrc = handler(&m, data);
        }

        if (hrc == NGX_ERROR) {
            sqlite3_reset(st);
            return NGX_ERROR;
        }

        if (hrc == NGX_DONE) {
            break;
        }
    }

    sqlite3_reset(st);

    return found;
}


static void
ngx_iot_store_row_message(sqlite3_stmt *st, ngx_iot_store_message_t *m)
{
    ngx_iot_store_row_downlink(st, &m->dl);

    m->message_id.data = (u_char *) sqlite3_column_text(st, 10);
    m->message_id.len = sqlite3_column_bytes(st, 10);
    m->fields.data = (u_char *) sqlite3_column_text(st, 11);
    m->fields.len = sqlite3_column_bytes(st, 11);
}


static void
ngx_iot_store_row_access_key(sqlite3_stmt *st, ngx_iot_store_access_key_t *k)
{
    k->ak.data = (u_char *) sqlite3_column_text(st, 0);
    k->ak.len = sqlite3_column_bytes(st, 0);
    k->team_id = (uint64_t) sqlite3_column_int64(st, 1);
    k->sk.data = (u_char *) sqlite3_column_text(st, 2);
    k->sk.len = sqlite3_column_bytes(st, 2);
    k->write = (ngx_uint_t) sqlite3_column_int(st, 3);
    k->description.data = (u_char *) sqlite3_column_text(st, 4);
    k->description.len = sqlite3_column_bytes(st, 4);
    k->created_at = (uint64_t) sqlite3_column_int64(st, 5);
}
