
/*
 * Copyright (C) nginx-iot authors
 *
 * Outputs in the store: their rows in the registry (schema 8), their
 * state (cursor, counters) and logs in the history's file beside the
 * messages they follow (history schema 2).  Outputs are few and written
 * seldom: statements are prepared per call.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"
#include "ngx_iot_outputs.h"


#define NGX_IOT_OUTPUT_COLUMNS                                                \
    "id, collection_id, type, enabled, config, tags, since, revision"


static sqlite3_stmt *ngx_iot_store_output_prepare(ngx_iot_store_t *store,
    const char *sql, const char *what, ngx_log_t *log);
static ngx_int_t ngx_iot_store_output_done(ngx_iot_store_t *store,
    sqlite3_stmt *st, const char *what, ngx_log_t *log);
static void ngx_iot_store_output_row(sqlite3_stmt *st, ngx_iot_output_t *o);


static sqlite3_stmt *
ngx_iot_store_output_prepare(ngx_iot_store_t *store, const char *sql,
    const char *what, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    if (ngx_iot_store_usable(store, log) != NGX_OK) {
        return NULL;
    }

    if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL) != SQLITE_OK)
    {
        ngx_iot_store_log_error(store, what, log);
        return NULL;
    }

    return st;
}


static ngx_int_t
ngx_iot_store_output_done(ngx_iot_store_t *store, sqlite3_stmt *st,
    const char *what, ngx_log_t *log)
{
    int  rc;

    rc = sqlite3_step(st);
    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, what, log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_iot_store_output_row(sqlite3_stmt *st, ngx_iot_output_t *o)
{
    ngx_memzero(o, sizeof(ngx_iot_output_t));

    o->id = (uint64_t) sqlite3_column_int64(st, 0);
    o->collection_id = (uint64_t) sqlite3_column_int64(st, 1);
    o->type = (ngx_uint_t) sqlite3_column_int(st, 2);
    o->enabled = (ngx_uint_t) sqlite3_column_int(st, 3);
    o->config.data = (u_char *) sqlite3_column_text(st, 4);
    o->config.len = sqlite3_column_bytes(st, 4);
    o->tags.data = (u_char *) sqlite3_column_text(st, 5);
    o->tags.len = sqlite3_column_bytes(st, 5);
    o->since = (uint64_t) sqlite3_column_int64(st, 6);
    o->revision = (uint64_t) sqlite3_column_int64(st, 7);
}


ngx_int_t
ngx_iot_store_output_get(ngx_iot_store_t *store, uint64_t id,
    ngx_iot_store_output_pt handler, void *data, ngx_log_t *log)
{
    int                rc;
    ngx_int_t          n;
    sqlite3_stmt      *st;
    ngx_iot_output_t   o;

    st = ngx_iot_store_output_prepare(store,
             "SELECT " NGX_IOT_OUTPUT_COLUMNS " FROM outputs WHERE id = ?1",
             "reading an output", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);

    rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        ngx_iot_store_output_row(st, &o);
        n = handler(&o, data);
        sqlite3_finalize(st);
        return (n == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "reading an output", log);
        return NGX_ERROR;
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_iot_store_output_list(ngx_iot_store_t *store, uint64_t cid,
    ngx_iot_store_output_pt handler, void *data, ngx_log_t *log)
{
    int                rc;
    ngx_int_t          n;
    sqlite3_stmt      *st;
    ngx_iot_output_t   o;

    st = ngx_iot_store_output_prepare(store,
             "SELECT " NGX_IOT_OUTPUT_COLUMNS " FROM outputs"
             " WHERE ?1 = 0 OR collection_id = ?1 ORDER BY id",
             "listing outputs", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) cid);

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ngx_iot_store_output_row(st, &o);

        n = handler(&o, data);

        if (n == NGX_ERROR) {
            sqlite3_finalize(st);
            return NGX_ERROR;
        }
    }

    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "listing outputs", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_output_put(ngx_iot_store_t *store, ngx_iot_output_t *o,
    ngx_uint_t fresh, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_output_prepare(store,
             fresh ? "INSERT INTO outputs (" NGX_IOT_OUTPUT_COLUMNS ")"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                   : "UPDATE outputs SET collection_id = ?2, type = ?3,"
                     " enabled = ?4, config = ?5, tags = ?6, since = ?7,"
                     " revision = ?8 WHERE id = ?1",
             "writing an output", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) o->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) o->collection_id);
    sqlite3_bind_int(st, 3, (int) o->type);
    sqlite3_bind_int(st, 4, (int) o->enabled);
    sqlite3_bind_text(st, 5, (char *) o->config.data, o->config.len,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 6, o->tags.len ? (char *) o->tags.data : "{}",
                      o->tags.len ? (int) o->tags.len : 2, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (sqlite3_int64) o->since);
    sqlite3_bind_int64(st, 8, (sqlite3_int64) o->revision);

    return ngx_iot_store_output_done(store, st, "writing an output", log);
}


ngx_int_t
ngx_iot_store_output_delete(ngx_iot_store_t *store, uint64_t id,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_output_prepare(store,
                                      "DELETE FROM outputs WHERE id = ?1",
                                      "deleting an output", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);

    return ngx_iot_store_output_done(store, st, "deleting an output", log);
}


/* the history's file */

ngx_int_t
ngx_iot_store_output_state(ngx_iot_store_t *store, uint64_t oid,
    ngx_iot_output_state_t *state, ngx_log_t *log)
{
    int            rc;
    sqlite3_stmt  *st;

    st = ngx_iot_store_output_prepare(store,
             "SELECT since, cursor, received, forwarded, errors, retries,"
             " dropped FROM output_state WHERE output_id = ?1",
             "reading an output's state", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) oid);

    rc = sqlite3_step(st);

    ngx_memzero(state, sizeof(ngx_iot_output_state_t));
    state->output_id = oid;

    if (rc == SQLITE_ROW) {
        state->since = (uint64_t) sqlite3_column_int64(st, 0);
        state->cursor = (uint64_t) sqlite3_column_int64(st, 1);
        state->received = (uint64_t) sqlite3_column_int64(st, 2);
        state->forwarded = (uint64_t) sqlite3_column_int64(st, 3);
        state->errors = (uint64_t) sqlite3_column_int64(st, 4);
        state->retries = (uint64_t) sqlite3_column_int64(st, 5);
        state->dropped = (uint64_t) sqlite3_column_int64(st, 6);
        sqlite3_finalize(st);
        return NGX_OK;
    }

    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "reading an output's state", log);
        return NGX_ERROR;
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_iot_store_output_state_put(ngx_iot_store_t *store,
    ngx_iot_output_state_t *state, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_output_prepare(store,
             "INSERT OR REPLACE INTO output_state (output_id, since, cursor,"
             " received, forwarded, errors, retries, dropped)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
             "writing an output's state", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) state->output_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) state->since);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) state->cursor);
    sqlite3_bind_int64(st, 4, (sqlite3_int64) state->received);
    sqlite3_bind_int64(st, 5, (sqlite3_int64) state->forwarded);
    sqlite3_bind_int64(st, 6, (sqlite3_int64) state->errors);
    sqlite3_bind_int64(st, 7, (sqlite3_int64) state->retries);
    sqlite3_bind_int64(st, 8, (sqlite3_int64) state->dropped);

    return ngx_iot_store_output_done(store, st, "writing an output's state",
                                     log);
}


ngx_int_t
ngx_iot_store_output_start(ngx_iot_store_t *store, uint64_t since,
    uint64_t *cursor, ngx_log_t *log)
{
    int            rc;
    sqlite3_stmt  *st;

    st = ngx_iot_store_output_prepare(store,
             "SELECT coalesce(max(id), 0) FROM messages WHERE received < ?1",
             "reading the history", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) since);

    rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *cursor = (uint64_t) sqlite3_column_int64(st, 0);
    }

    sqlite3_finalize(st);

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "reading the history", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_output_skip(ngx_iot_store_t *store, uint64_t cid,
    uint64_t *cursor, ngx_uint_t keep, uint64_t counted, ngx_uint_t *skipped,
    ngx_uint_t *fresh, ngx_log_t *log)
{
    int            rc;
    uint64_t       n, from;
    sqlite3_stmt  *st;

    *skipped = 0;
    *fresh = 0;
    from = *cursor;

    st = ngx_iot_store_output_prepare(store,
             "SELECT count(*) FROM messages"
             " WHERE collection_id = ?1 AND id > ?2",
             "reading the history", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) cid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) *cursor);

    rc = sqlite3_step(st);
    n = (rc == SQLITE_ROW) ? (uint64_t) sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "reading the history", log);
        return NGX_ERROR;
    }

    if (n <= keep) {
        return NGX_OK;
    }

    /* the newest of those that do not fit */

    st = ngx_iot_store_output_prepare(store,
             "SELECT id FROM messages WHERE collection_id = ?1 AND id > ?2"
             " ORDER BY id LIMIT 1 OFFSET ?3",
             "reading the history", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) cid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) *cursor);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) (n - keep - 1));

    rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *cursor = (uint64_t) sqlite3_column_int64(st, 0);
        *skipped = (ngx_uint_t) (n - keep);
    }

    sqlite3_finalize(st);

    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "reading the history", log);
        return NGX_ERROR;
    }

    /* of those, the ones no earlier round had read (and counted) */

    st = ngx_iot_store_output_prepare(store,
             "SELECT count(*) FROM messages WHERE collection_id = ?1"
             " AND id > ?2 AND id <= ?3",
             "reading the history", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) cid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) ngx_max(from, counted));
    sqlite3_bind_int64(st, 3, (sqlite3_int64) *cursor);

    rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *fresh = (ngx_uint_t) sqlite3_column_int64(st, 0);
    }

    sqlite3_finalize(st);

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "reading the history", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_output_messages(ngx_iot_store_t *store, uint64_t cid,
    uint64_t cursor, ngx_uint_t max, ngx_iot_store_row_pt handler,
    void *data, ngx_log_t *log)
{
    int                 rc;
    ngx_int_t           n;
    sqlite3_stmt       *st;
    ngx_iot_message_t   m;

    st = ngx_iot_store_output_prepare(store,
             "SELECT id, collection_id, device_id, received, transport,"
             " local_port, remote_port, payload, coap_method, coap_path"
             " FROM messages WHERE collection_id = ?1 AND id > ?2"
             " ORDER BY id LIMIT ?3",
             "reading the history", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) cid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) cursor);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) max);

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ngx_iot_history_row(st, &m);

        n = handler(&m, data);

        if (n != NGX_OK) {
            sqlite3_finalize(st);
            return (n == NGX_ERROR) ? NGX_ERROR : NGX_OK;
        }
    }

    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "reading the history", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_output_log_add(ngx_iot_store_t *store, uint64_t oid,
    uint64_t time, ngx_str_t *message, ngx_log_t *log)
{
    int            rc;
    sqlite3_stmt  *st;

    /* the same message as the newest entry: counted there */

    st = ngx_iot_store_output_prepare(store,
             "UPDATE output_logs SET repeated = repeated + 1, time = ?3"
             " WHERE rowid = (SELECT max(rowid) FROM output_logs"
             "  WHERE output_id = ?1) AND message = ?2",
             "writing an output's log", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) oid);
    sqlite3_bind_text(st, 2, (char *) message->data, message->len,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) time);

    if (ngx_iot_store_output_done(store, st, "writing an output's log", log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (sqlite3_changes(store->db) > 0) {
        return NGX_OK;
    }

    st = ngx_iot_store_output_prepare(store,
             "INSERT INTO output_logs (output_id, time, message, repeated)"
             " VALUES (?1, ?2, ?3, 0)",
             "writing an output's log", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) oid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) time);
    sqlite3_bind_text(st, 3, (char *) message->data, message->len,
                      SQLITE_STATIC);

    rc = ngx_iot_store_output_done(store, st, "writing an output's log", log);
    if (rc != NGX_OK) {
        return rc;
    }

    st = ngx_iot_store_output_prepare(store,
             "DELETE FROM output_logs WHERE output_id = ?1 AND rowid <="
             " (SELECT rowid FROM output_logs WHERE output_id = ?1"
             "  ORDER BY rowid DESC LIMIT 1 OFFSET ?2)",
             "writing an output's log", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) oid);
    sqlite3_bind_int(st, 2, NGX_IOT_OUTPUT_LOGS);

    return ngx_iot_store_output_done(store, st, "writing an output's log",
                                     log);
}


ngx_int_t
ngx_iot_store_output_logs(ngx_iot_store_t *store, uint64_t oid,
    ngx_iot_output_log_pt handler, void *data, ngx_log_t *log)
{
    int                    rc;
    sqlite3_stmt          *st;
    ngx_iot_output_log_t   l;

    st = ngx_iot_store_output_prepare(store,
             "SELECT time, message, repeated FROM output_logs"
             " WHERE output_id = ?1 ORDER BY rowid",
             "reading an output's log", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) oid);

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        l.time = (uint64_t) sqlite3_column_int64(st, 0);
        l.message.data = (u_char *) sqlite3_column_text(st, 1);
        l.message.len = sqlite3_column_bytes(st, 1);
        l.repeated = (ngx_uint_t) sqlite3_column_int(st, 2);

        if (handler(&l, data) == NGX_ERROR) {
            sqlite3_finalize(st);
            return NGX_ERROR;
        }
    }

    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "reading an output's log", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_output_forget(ngx_iot_store_t *store, uint64_t oid,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_output_prepare(store,
             "DELETE FROM output_state WHERE output_id = ?1",
             "forgetting an output", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) oid);

    if (ngx_iot_store_output_done(store, st, "forgetting an output", log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    st = ngx_iot_store_output_prepare(store,
             "DELETE FROM output_logs WHERE output_id = ?1",
             "forgetting an output", log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) oid);

    return ngx_iot_store_output_done(store, st, "forgetting an output", log);
}
