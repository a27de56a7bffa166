
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
    ngx_iot_iotda_row_t        iotda;
} ngx_iot_store_any_t;


static sqlite3_stmt *ngx_iot_store_list_stmt(ngx_iot_store_t *store,
    ngx_iot_store_cursor_t *cur, ngx_uint_t max);
static sqlite3_stmt *ngx_iot_store_keyed_stmt(ngx_iot_store_t *store,
    ngx_iot_store_cursor_t *cur, ngx_uint_t max);
static u_char *ngx_iot_store_keyset(u_char *p, u_char *last,
    ngx_iot_store_cursor_t *cur, ngx_uint_t end);
static void ngx_iot_store_bind_pos(sqlite3_stmt *st, int col,
    ngx_iot_store_pos_t *pos);
static ngx_int_t ngx_iot_store_bind_like(sqlite3_stmt *st, int col,
    ngx_str_t *part);
static ngx_int_t ngx_iot_store_bind_specs(sqlite3_stmt *st, int col,
    ngx_iot_store_filter_t *f);
static void ngx_iot_store_keyed_pos(sqlite3_stmt *st,
    ngx_iot_store_cursor_t *cur, void *row);
static ngx_uint_t ngx_iot_store_name_first(ngx_iot_store_cursor_t *cur);
static ngx_int_t ngx_iot_store_pos_cmp(ngx_iot_store_cursor_t *cur,
    ngx_iot_store_pos_t *a, ngx_iot_store_pos_t *b);
static ngx_int_t ngx_iot_store_keyed_skip(ngx_iot_store_cursor_t *cur);


/* a keyed scan's statement: its text at most, the LIKE patterns' */
#define NGX_IOT_STORE_KEYED_SQL    16384
#define NGX_IOT_STORE_LIKE_MAX     2048

/* the parameters of a keyed scan's statement */
#define NGX_IOT_KP_AT              1      /* id, created, modified, name */
#define NGX_IOT_KP_END             5      /* the same */
#define NGX_IOT_KP_SCOPE           9
#define NGX_IOT_KP_Q               10
#define NGX_IOT_KP_BARCODE         11
#define NGX_IOT_KP_SPECS           12
#define NGX_IOT_KP_TIMES           13     /* four */
#define NGX_IOT_KP_LIMIT           17


/*
 * The sort fields, of devices, of groups and of memberships (only their
 * createdAt; "id" stands for the other side's id, ngx_iot_store_keyed_t)
 */
static const char  *ngx_iot_store_sort_sql[3][4] = {
    { "id", "created_at", "modified_at",
      NGX_IOT_SQL_DEVICE_NAME " COLLATE NOCASE" },
    { "id", "created_at", "modified_at", "name COLLATE NOCASE" },
    { "id", "created_at", "created_at", "created_at" }
};


/* what a keyed scan reads, per kind */
typedef struct {
    ngx_uint_t                 sql;       /* ngx_iot_store_sort_sql[sql] */
    const char                *columns;
    const char                *table;
    const char                *scope;     /* its column */
    const char                *id;        /* the rows' order after the sort */
    const char                *by_id;     /* the index of scope and id */
    const char                *by_sort;   /* of scope and the first field */
} ngx_iot_store_keyed_t;


static ngx_iot_store_keyed_t  ngx_iot_store_keyed_devices = {
    0, NGX_IOT_DEVICE_COLUMNS ", " NGX_IOT_SQL_DEVICE_NAME, "devices",
    "collection_id", "id", "devices_by_collection", "devices_in_by_"
};

static ngx_iot_store_keyed_t  ngx_iot_store_keyed_groups = {
    1, NGX_IOT_GROUP_COLUMNS, "groups", "collection_id", "id",
    "groups_by_collection", "groups_in_by_"
};

/* a group's members: by device; a device's links: by group */

static ngx_iot_store_keyed_t  ngx_iot_store_keyed_group_members = {
    2, NGX_IOT_MEMBER_COLUMNS, "members", "group_id", "device_id",
    NULL, "members_of_group_by_"
};

static ngx_iot_store_keyed_t  ngx_iot_store_keyed_device_members = {
    2, NGX_IOT_MEMBER_COLUMNS, "members", "device_id", "group_id",
    "members_by_device", "members_of_device_by_"
};


static ngx_iot_store_keyed_t *
ngx_iot_store_keyed_of(ngx_iot_store_cursor_t *cur)
{
    switch (cur->kind) {

    case NGX_IOT_STORE_GROUPS:
        return &ngx_iot_store_keyed_groups;

    case NGX_IOT_STORE_GROUP_MEMBERS:
        return &ngx_iot_store_keyed_group_members;

    case NGX_IOT_STORE_DEVICE_MEMBERS:
        return &ngx_iot_store_keyed_device_members;

    default:
        return &ngx_iot_store_keyed_devices;
    }
}

static const char  *ngx_iot_store_sort_index[] = {
    "", "created", "modified", "name"
};


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

    case NGX_IOT_STORE_IOTDA:
        sql = NGX_IOT_SQL_IOTDA_LIST;
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


/*
 * A keyed scan: the range of the index of its first sort field (of its
 * collection's index when it has a scope) that follows the position, in
 * the index's order or backwards; the filters are checked on the rows of
 * that range.  ORDER BY puts rows that share the first field in the
 * order of the others (SQLite sorts each such run by itself).
 */

static sqlite3_stmt *
ngx_iot_store_keyed_stmt(ngx_iot_store_t *store, ngx_iot_store_cursor_t *cur,
    ngx_uint_t max)
{
    int                      limit;
    u_char                  *p, *last;
    ngx_uint_t               i, groups, desc, first, members;
    sqlite3_stmt            *st;
    ngx_iot_store_sort_t    *sort;
    ngx_iot_store_keyed_t   *k;
    ngx_iot_store_filter_t  *f;
    u_char                   sql[NGX_IOT_STORE_KEYED_SQL];

    sort = &cur->sort;
    f = cur->filter;
    k = ngx_iot_store_keyed_of(cur);
    groups = (cur->kind == NGX_IOT_STORE_GROUPS);
    members = (k->sql == 2);

    p = sql;
    last = sql + sizeof(sql);

    p = ngx_slprintf(p, last, "SELECT %s FROM %s", k->columns, k->table);

    first = sort->n ? sort->field[0] : 0;

    if (first) {
        p = ngx_slprintf(p, last, " INDEXED BY %s%s",
                         (cur->scope || members) ? k->by_sort
                                                 : groups ? "groups_by_"
                                                          : "devices_by_",
                         ngx_iot_store_sort_index[first]);

    } else if (cur->scope && k->by_id) {
        p = ngx_slprintf(p, last, " INDEXED BY %s", k->by_id);

    } else if (!cur->scope) {
        p = ngx_slprintf(p, last, " NOT INDEXED");
    }

    p = ngx_slprintf(p, last, " WHERE 1");

    if (cur->scope) {
        p = ngx_slprintf(p, last, " AND %s = ?%d", k->scope,
                         NGX_IOT_KP_SCOPE);
    }

    if (cur->started) {
        p = ngx_iot_store_keyset(p, last, cur, 0);
    }

    if (cur->bounded) {
        p = ngx_iot_store_keyset(p, last, cur, 1);
    }

    if (f) {
        if (f->q.len && !members) {
            p = ngx_slprintf(p, last,
                             " AND (%s LIKE ?%d ESCAPE '\\'"
                             " OR description LIKE ?%d ESCAPE '\\')",
                             groups ? "name" : NGX_IOT_SQL_DEVICE_NAME,
                             NGX_IOT_KP_Q, NGX_IOT_KP_Q);
        }

        if (f->barcode.len && !groups && !members) {
            p = ngx_slprintf(p, last, " AND barcode LIKE ?%d ESCAPE '\\'",
                             NGX_IOT_KP_BARCODE);
        }

        if (f->nspecs && !groups && !members) {
            p = ngx_slprintf(p, last,
                             " AND spec IN (SELECT value FROM json_each(?%d))",
                             NGX_IOT_KP_SPECS);
        }

        for (i = 0; i < 4; i++) {
            if (f->times_set & (1 << i)) {
                p = ngx_slprintf(p, last, " AND %s %s ?%d",
                                 (i < 2 || members) ? "created_at"
                                                    : "modified_at",
                                 (i % 2) ? ">=" : "<",
                                 (int) (NGX_IOT_KP_TIMES + i));
            }
        }
    }

    p = ngx_slprintf(p, last, " ORDER BY ");

    if (cur->scope && !first) {
        /* the index of the scope: ordered by it, then by id */
        p = ngx_slprintf(p, last, "%s %s, ", k->scope,
                         cur->reverse ? "DESC" : "ASC");
    }

    desc = 0;

    for (i = 0; i < sort->n; i++) {
        desc = sort->desc[i] ^ cur->reverse;
        p = ngx_slprintf(p, last, "%s %s, ",
                         ngx_iot_store_sort_sql[k->sql][sort->field[i]],
                         desc ? "DESC" : "ASC");
    }

    if (sort->n == 0) {
        desc = cur->reverse;
    }

    p = ngx_slprintf(p, last, "%s %s LIMIT ?%d", k->id, desc ? "DESC" : "ASC",
                     NGX_IOT_KP_LIMIT);

    if (p == last) {
        return NULL;
    }

    st = ngx_iot_store_prepare(store, sql, p - sql);
    if (st == NULL) {
        return NULL;
    }

    if (cur->scope) {
        sqlite3_bind_int64(st, NGX_IOT_KP_SCOPE, (sqlite3_int64) cur->scope);
    }

    if (cur->started) {
        ngx_iot_store_bind_pos(st, NGX_IOT_KP_AT, &cur->at);
    }

    if (cur->bounded) {
        ngx_iot_store_bind_pos(st, NGX_IOT_KP_END, &cur->end);
    }

    if (f) {
        if ((f->q.len && !members
             && ngx_iot_store_bind_like(st, NGX_IOT_KP_Q, &f->q) != NGX_OK)
            || (f->barcode.len && !groups && !members
                && ngx_iot_store_bind_like(st, NGX_IOT_KP_BARCODE,
                                           &f->barcode)
                   != NGX_OK)
            || (f->nspecs && !groups && !members
                && ngx_iot_store_bind_specs(st, NGX_IOT_KP_SPECS, f)
                   != NGX_OK))
        {
            return NULL;
        }

        for (i = 0; i < 4; i++) {
            if (f->times_set & (1 << i)) {
                sqlite3_bind_int64(st, NGX_IOT_KP_TIMES + i,
                                   (sqlite3_int64) f->times[i]);
            }
        }
    }

    limit = (max == 0 || max > INT_MAX) ? -1 : (int) max;
    sqlite3_bind_int(st, NGX_IOT_KP_LIMIT, limit);

    return st;
}


/*
 * The rows after the position (end: up to the bound) in the scan's
 * order: (k1 > p1) OR (k1 = p1 AND k2 > p2) ... OR (all equal AND id >
 * pid), with < where the order goes down; k1 >= p1 first, for the index.
 */

static u_char *
ngx_iot_store_keyset(u_char *p, u_char *last, ngx_iot_store_cursor_t *cur,
    ngx_uint_t end)
{
    int                     base;
    ngx_uint_t              i, j, desc, after, inclusive, groups;
    const char             *op, *col;
    ngx_iot_store_sort_t   *sort;
    ngx_iot_store_keyed_t  *k;

    sort = &cur->sort;
    k = ngx_iot_store_keyed_of(cur);
    groups = k->sql;
    base = end ? NGX_IOT_KP_END : NGX_IOT_KP_AT;
    inclusive = end ? cur->end_inclusive : cur->at_inclusive;

    /* the position: rows after it; the bound: rows before it */
    after = !end;

    if (sort->n) {
        desc = sort->desc[0] ^ cur->reverse;
        op = (desc ^ !after) ? "<=" : ">=";
        p = ngx_slprintf(p, last, " AND %s %s ?%d",
                         ngx_iot_store_sort_sql[groups][sort->field[0]], op,
                         base + sort->field[0]);

        if (ngx_iot_store_name_first(cur)) {
            /*
             * A device's name is an expression that SQLite 3.40 computes
             * from the row for every term but the index's range: the rows
             * that share the position's name are told apart by
             * ngx_iot_store_keyed_skip() instead.
             */
            return p;
        }
    }

    p = ngx_slprintf(p, last, " AND (");

    for (i = 0; i <= sort->n; i++) {

        if (i) {
            p = ngx_slprintf(p, last, " OR ");
        }

        p = ngx_slprintf(p, last, "(");

        for (j = 0; j < i; j++) {
            p = ngx_slprintf(p, last, "%s = ?%d AND ",
                             ngx_iot_store_sort_sql[groups][sort->field[j]],
                             base + sort->field[j]);
        }

        if (i < sort->n) {
            desc = sort->desc[i] ^ cur->reverse;
            col = ngx_iot_store_sort_sql[groups][sort->field[i]];
            op = (desc ^ !after) ? "<" : ">";
            p = ngx_slprintf(p, last, "%s %s ?%d)", col, op,
                             base + sort->field[i]);
            continue;
        }

        /* the id, in the direction of the last field */
        desc = (sort->n ? sort->desc[sort->n - 1] : 0) ^ cur->reverse;

        if (desc ^ !after) {
            op = inclusive ? "<=" : "<";

        } else {
            op = inclusive ? ">=" : ">";
        }

        p = ngx_slprintf(p, last, "%s %s ?%d)", k->id, op, base);
    }

    return ngx_slprintf(p, last, ")");
}


static void
ngx_iot_store_bind_pos(sqlite3_stmt *st, int col, ngx_iot_store_pos_t *pos)
{
    sqlite3_bind_int64(st, col, (sqlite3_int64) pos->id);
    sqlite3_bind_int64(st, col + 1, (sqlite3_int64) pos->created_at);
    sqlite3_bind_int64(st, col + 2, (sqlite3_int64) pos->modified_at);
    /* a copy: the position moves on while the statement runs */
    sqlite3_bind_text(st, col + 3, (char *) pos->name, pos->name_len,
                      SQLITE_TRANSIENT);
}


/* "contains": %part% with its own % _ and \ escaped */

static ngx_int_t
ngx_iot_store_bind_like(sqlite3_stmt *st, int col, ngx_str_t *part)
{
    u_char      *p;
    ngx_uint_t   i;
    u_char       buf[NGX_IOT_STORE_LIKE_MAX];

    if (2 * part->len + 2 > sizeof(buf)) {
        return NGX_ERROR;
    }

    p = buf;
    *p++ = '%';

    for (i = 0; i < part->len; i++) {
        if (part->data[i] == '%' || part->data[i] == '_'
            || part->data[i] == '\\')
        {
            *p++ = '\\';
        }

        *p++ = part->data[i];
    }

    *p++ = '%';

    return (sqlite3_bind_text(st, col, (char *) buf, p - buf,
                              SQLITE_TRANSIENT)
            == SQLITE_OK) ? NGX_OK : NGX_ERROR;
}


/* the device types as a JSON array of their UUIDs' text */

static ngx_int_t
ngx_iot_store_bind_specs(sqlite3_stmt *st, int col, ngx_iot_store_filter_t *f)
{
    u_char      *p, *buf;
    size_t       size;
    ngx_int_t    rc;
    ngx_uint_t   i;

    size = f->nspecs * (NGX_IOT_UUID_LEN + 3) + 2;

    buf = ngx_alloc(size, ngx_cycle->log);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    p = buf;
    *p++ = '[';

    for (i = 0; i < f->nspecs; i++) {
        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_iot_uuid_encode(p, f->specs + i * NGX_IOT_UUID_SIZE);
        *p++ = '"';
    }

    *p++ = ']';

    rc = (sqlite3_bind_text(st, col, (char *) buf, p - buf, SQLITE_TRANSIENT)
          == SQLITE_OK) ? NGX_OK : NGX_ERROR;

    ngx_free(buf);

    return rc;
}


/* the sort key of the row about to be handed out */

static void
ngx_iot_store_keyed_pos(sqlite3_stmt *st, ngx_iot_store_cursor_t *cur,
    void *row)
{
    int                   col;
    ngx_iot_group_t      *g;
    ngx_iot_member_t     *m;
    ngx_iot_device_t     *d;
    ngx_iot_store_pos_t  *pos;

    pos = &cur->row;

    if (cur->kind == NGX_IOT_STORE_GROUP_MEMBERS
        || cur->kind == NGX_IOT_STORE_DEVICE_MEMBERS)
    {
        m = row;
        pos->id = (cur->kind == NGX_IOT_STORE_GROUP_MEMBERS) ? m->device_id
                                                              : m->group_id;
        pos->created_at = m->created_at;
        pos->modified_at = m->created_at;
        pos->name_len = 0;
        return;
    }

    if (cur->kind == NGX_IOT_STORE_GROUPS) {
        g = row;
        pos->id = g->id.key;
        pos->created_at = g->created_at;
        pos->modified_at = g->modified_at;
        col = 3;

    } else {
        d = row;
        pos->id = d->id.key;
        pos->created_at = d->created_at;
        pos->modified_at = d->modified_at;
        col = 19;
    }

    pos->name_len = ngx_min((size_t) sqlite3_column_bytes(st, col),
                            NGX_IOT_STORE_NAME_MAX);

    if (pos->name_len) {
        ngx_memcpy(pos->name, sqlite3_column_text(st, col), pos->name_len);
    }
}


/* does a keyed scan sort by a device's name first? */

static ngx_uint_t
ngx_iot_store_name_first(ngx_iot_store_cursor_t *cur)
{
    return cur->kind == NGX_IOT_STORE_DEVICES && cur->sort.n
           && cur->sort.field[0] == NGX_IOT_SORT_NAME;
}


/* two positions in a keyed scan's order: <0, 0, >0 (names: NOCASE) */

static ngx_int_t
ngx_iot_store_pos_cmp(ngx_iot_store_cursor_t *cur, ngx_iot_store_pos_t *a,
    ngx_iot_store_pos_t *b)
{
    u_char                 ca, cb;
    size_t                 i, n;
    ngx_int_t              c;
    ngx_uint_t             k, desc;
    ngx_iot_store_sort_t  *sort;

    sort = &cur->sort;
    desc = 0;

    for (k = 0; k < sort->n; k++) {
        desc = sort->desc[k] ^ cur->reverse;

        switch (sort->field[k]) {

        case NGX_IOT_SORT_CREATED:
            c = (a->created_at > b->created_at)
                - (a->created_at < b->created_at);
            break;

        case NGX_IOT_SORT_MODIFIED:
            c = (a->modified_at > b->modified_at)
                - (a->modified_at < b->modified_at);
            break;

        default:
            /* SQLite's NOCASE: A-Z as a-z, then bytes, then the length */

            c = 0;
            n = ngx_min(a->name_len, b->name_len);

            for (i = 0; i < n && c == 0; i++) {
                ca = a->name[i];
                cb = b->name[i];
                ca = (ca >= 'A' && ca <= 'Z') ? (u_char) (ca | 0x20) : ca;
                cb = (cb >= 'A' && cb <= 'Z') ? (u_char) (cb | 0x20) : cb;
                c = (ngx_int_t) ca - (ngx_int_t) cb;
            }

            if (c == 0) {
                c = (a->name_len > b->name_len) - (a->name_len < b->name_len);
            }

            break;
        }

        if (c) {
            return desc ? -c : c;
        }
    }

    if (sort->n == 0) {
        desc = cur->reverse;
    }

    c = (a->id > b->id) - (a->id < b->id);

    return desc ? -c : c;
}


/*
 * A row of a scan by name that its statement could not tell apart from
 * the position or the bound (ngx_iot_store_keyset()): NGX_DECLINED: not
 * after the position, skip it; NGX_DONE: past the bound, stop; NGX_OK.
 */

static ngx_int_t
ngx_iot_store_keyed_skip(ngx_iot_store_cursor_t *cur)
{
    ngx_int_t  c;

    if (cur->started) {
        c = ngx_iot_store_pos_cmp(cur, &cur->row, &cur->at);

        if (c < 0 || (c == 0 && !cur->at_inclusive)) {
            return NGX_DECLINED;
        }
    }

    if (cur->bounded) {
        c = ngx_iot_store_pos_cmp(cur, &cur->row, &cur->end);

        if (c > 0 || (c == 0 && !cur->end_inclusive)) {
            return NGX_DONE;
        }
    }

    return NGX_OK;
}


/* copies a position (the name as long as it is) */

void
ngx_iot_store_pos_copy(ngx_iot_store_pos_t *dst, ngx_iot_store_pos_t *src)
{
    dst->id = src->id;
    dst->created_at = src->created_at;
    dst->modified_at = src->modified_at;
    dst->name_len = src->name_len;
    ngx_memcpy(dst->name, src->name, src->name_len);
}


ngx_int_t
ngx_iot_store_list(ngx_iot_store_t *store, ngx_iot_store_cursor_t *cur,
    ngx_uint_t max, ngx_iot_store_row_pt handler, void *data, ngx_log_t *log)
{
    int                   rc;
    size_t                key_len;
    uint64_t              id, time;
    ngx_int_t             hrc, krc;
    ngx_uint_t            n, seen;
    sqlite3_stmt         *st;
    ngx_iot_store_any_t   row;

    if (cur->done) {
        return NGX_OK;
    }

    if (!cur->started && !cur->keyed) {
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

    st = cur->keyed ? ngx_iot_store_keyed_stmt(store, cur, max)
                    : ngx_iot_store_list_stmt(store, cur, max);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "listing", log);
        return NGX_ERROR;
    }

    n = 0;
    seen = 0;
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
            row.downlink.coap_path.data = (u_char *) sqlite3_column_text(st,
                                                                         10);
            row.downlink.coap_path.len = sqlite3_column_bytes(st, 10);
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

        case NGX_IOT_STORE_IOTDA:
            ngx_iot_store_row_iotda(st, &row.iotda);
            id = row.iotda.e.id.key;
            break;

        default: /* the history */
            ngx_iot_history_row(st, &row.message);
            id = row.message.id;
            time = row.message.received;
            break;
        }

        seen++;

        if (cur->keyed) {
            ngx_iot_store_keyed_pos(st, cur, &row);

            if (ngx_iot_store_name_first(cur)) {
                krc = ngx_iot_store_keyed_skip(cur);

                if (krc == NGX_DECLINED) {
                    continue;
                }

                if (krc == NGX_DONE) {
                    /* past the bound: so is every row after it */
                    rc = SQLITE_DONE;
                    seen = 0;
                    break;
                }
            }
        }

        hrc = handler(&row, data);

        if (hrc == NGX_AGAIN || hrc == NGX_ERROR) {
            break;
        }

        cur->id = id;
        cur->time = time;

        if (cur->keyed) {
            ngx_iot_store_pos_copy(&cur->at, &cur->row);
            cur->at_inclusive = 0;
            cur->started = 1;
        }

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

    if (rc == SQLITE_DONE && (max == 0 || seen < max)) {
        cur->done = 1;
    }

    return (rc == SQLITE_ROW) ? hrc : NGX_OK;
}
