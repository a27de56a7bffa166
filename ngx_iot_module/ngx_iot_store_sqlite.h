
/*
 * Copyright (C) nginx-iot authors
 *
 * The SQLite backend's own declarations: for the store's files only.
 * (The HTTP list engine still binds list statements itself; it moves to
 * the typed list cursor of ngx_iot_store.h.)
 */


#ifndef _NGX_IOT_STORE_SQLITE_H_INCLUDED_
#define _NGX_IOT_STORE_SQLITE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <sqlite3.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_store.h"


#define NGX_IOT_STORE_BUSY_TIMEOUT  5000     /* ms */

/*
 * The log starts over once a write leaves it longer than this many pages
 * (of 4096 bytes, and 24 bytes of frame header each: about 16 MB), and
 * readers are waited for this long at most (ms) when it does.
 */
#define NGX_IOT_STORE_WAL_PAGES     4000
#define NGX_IOT_STORE_WAL_WAIT      100


/* the prepared statements of one worker's SQLite connection */
typedef enum {
    NGX_IOT_SQL_BEGIN = 0,
    NGX_IOT_SQL_COMMIT,
    NGX_IOT_SQL_ROLLBACK,
    NGX_IOT_SQL_COLLECTION_INSERT,
    NGX_IOT_SQL_COLLECTION_UPDATE,
    NGX_IOT_SQL_COLLECTION_DELETE,
    NGX_IOT_SQL_COLLECTION_GET,
    NGX_IOT_SQL_COLLECTION_LIST,
    NGX_IOT_SQL_DEVICE_INSERT,
    NGX_IOT_SQL_DEVICE_UPDATE,
    NGX_IOT_SQL_DEVICE_DELETE,
    NGX_IOT_SQL_DEVICE_GET,
    NGX_IOT_SQL_DEVICE_LIST,
    NGX_IOT_SQL_TOKEN_INSERT,
    NGX_IOT_SQL_TOKEN_UPDATE,
    NGX_IOT_SQL_TOKEN_DELETE,
    NGX_IOT_SQL_TOKEN_GET,
    NGX_IOT_SQL_TOKEN_BY_HINT,
    NGX_IOT_SQL_TOKEN_LIST,
    NGX_IOT_SQL_DEVICE_NET,
    NGX_IOT_SQL_ADDRESS_TAKEN,
    NGX_IOT_SQL_SESSION_PUT,
    NGX_IOT_SQL_SESSION_DELETE,
    NGX_IOT_SQL_SESSION_PURGE,
    NGX_IOT_SQL_SESSION_GET,
    NGX_IOT_SQL_HISTORY_INSERT,
    NGX_IOT_SQL_HISTORY_LIST,
    NGX_IOT_SQL_HISTORY_DEVICE_LIST,
    NGX_IOT_SQL_HISTORY_EXPIRE,
    NGX_IOT_SQL_HISTORY_CROWDED,
    NGX_IOT_SQL_HISTORY_TRIM,
    NGX_IOT_SQL_DEVICE_ALL,
    NGX_IOT_SQL_SESSION_LIST,
    NGX_IOT_SQL_COLLECTION_COUNT,
    NGX_IOT_SQL_DEVICE_COUNT,
    NGX_IOT_SQL_DEVICE_COUNT_IN,
    NGX_IOT_SQL_TOKEN_COUNT,
    NGX_IOT_SQL_SESSION_COUNT,
    NGX_IOT_SQL_ADAPTER_PUT,
    NGX_IOT_SQL_ADAPTER_GET,
    NGX_IOT_SQL_ADAPTER_DELETE,
    NGX_IOT_SQL_ADAPTER_DELETE_DEVICE,
    NGX_IOT_SQL_ADAPTER_LIST,
    NGX_IOT_SQL_ADAPTER_COUNT,
    NGX_IOT_SQL_ADAPTER_SECRET,
    NGX_IOT_SQL_GROUP_INSERT,
    NGX_IOT_SQL_GROUP_UPDATE,
    NGX_IOT_SQL_GROUP_GET,
    NGX_IOT_SQL_GROUP_DELETE,
    NGX_IOT_SQL_MEMBERS_DELETE_GROUP,
    NGX_IOT_SQL_GROUP_ALL,
    NGX_IOT_SQL_GROUP_LIST,
    NGX_IOT_SQL_GROUP_COUNT,
    NGX_IOT_SQL_GROUP_COUNT_IN,
    NGX_IOT_SQL_MEMBER_INSERT,
    NGX_IOT_SQL_MEMBER_GET,
    NGX_IOT_SQL_MEMBER_DELETE,
    NGX_IOT_SQL_MEMBERS_DELETE_DEVICE,
    NGX_IOT_SQL_MEMBER_ALL,
    NGX_IOT_SQL_MEMBER_LIST_GROUP,
    NGX_IOT_SQL_MEMBER_LIST_DEVICE,
    NGX_IOT_SQL_MEMBER_COUNT,
    NGX_IOT_SQL_SAVEPOINT,
    NGX_IOT_SQL_RELEASE,
    NGX_IOT_SQL_ROLLBACK_TO,
    NGX_IOT_SQL_DOWNLINK_INSERT,
    NGX_IOT_SQL_DOWNLINK_TRIM,
    NGX_IOT_SQL_DOWNLINK_LIST,
    NGX_IOT_SQL_DOWNLINK_DEVICE_LIST,
    NGX_IOT_SQL_PRODUCT_INSERT,
    NGX_IOT_SQL_PRODUCT_GET,
    NGX_IOT_SQL_PRODUCT_DELETE,
    NGX_IOT_SQL_PRODUCT_LIST,
    NGX_IOT_SQL_PRODUCT_COUNT,
    NGX_IOT_SQL_MEMBERSHIPS,
    NGX_IOT_SQL_IOTDA_PUT,
    NGX_IOT_SQL_IOTDA_GET,
    NGX_IOT_SQL_IOTDA_DELETE,
    NGX_IOT_SQL_IOTDA_LIST,
    NGX_IOT_SQL_IOTDA_COUNT,
    NGX_IOT_SQL_IOTDA_SECRET,
    NGX_IOT_SQL_DOWNLINK_QUEUED_NEXT,
    NGX_IOT_SQL_DOWNLINK_QUEUED_COUNT,
    NGX_IOT_SQL_DOWNLINK_SETTLE,
    NGX_IOT_SQL_PSK_PUT,
    NGX_IOT_SQL_PSK_DELETE,
    NGX_IOT_SQL_PSK_GET,
    NGX_IOT_SQL_DOWNLINK_PATH,
    NGX_IOT_SQL_DOWNLINK_PUSH_NEXT,
    NGX_IOT_SQL_DOWNLINK_GET,
    NGX_IOT_SQL_DOWNLINK_EXPIRES,
    NGX_IOT_SQL_DOWNLINK_DUE,
    NGX_IOT_SQL_LAST
} ngx_iot_sql_e;


/* the columns of a row of each kind, as the row readers take them */
#define NGX_IOT_DEVICE_COLUMNS                                                \
    "id, collection_id, imsi, imei, tags, net_ip, net_at, net_cell,"          \
    " net_imeisv, net_msisdn, uuid, description, barcode, status, spec,"      \
    " created_at, created_by, modified_at, modified_by"

#define NGX_IOT_ADAPTER_COLUMNS                                               \
    "device_id, type, ident, iccid, created_at, modified_at, secret != '',"   \
    " rowid"

#define NGX_IOT_GROUP_COLUMNS                                                 \
    "id, collection_id, uuid, name, description, created_at, created_by,"     \
    " modified_at, modified_by"

#define NGX_IOT_MEMBER_COLUMNS                                                \
    "group_id, device_id, created_at, created_by"

#define NGX_IOT_PRODUCT_COLUMNS                                               \
    "id, collection_id, product_id, name, model, created_at"

#define NGX_IOT_IOTDA_COLUMNS                                                 \
    "device, device_id, node_id, product, gateway, depth, flags, timeout,"    \
    " doc"

#define NGX_IOT_COLLECTION_COLUMNS                                            \
    "id, team_id, field_mask, tags, uuid"


/* an id as its 13-character text (ngx_iot_id_encode()) */
#define NGX_IOT_SQL_B32  "'0123456789abcdefghijklmnopqrstuv'"

#define NGX_IOT_SQL_ID_TEXT_V7                                                \
    "substr(" NGX_IOT_SQL_B32 ", (id >> 60 & 31) + 1, 1)"                     \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 55 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 50 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 45 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 40 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 35 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 30 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 25 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 20 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 15 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 10 & 31) + 1, 1)"                 \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 5 & 31) + 1, 1)"                  \
    " || substr(" NGX_IOT_SQL_B32 ", (id >> 0 & 31) + 1, 1)"

/* a device's name as schema 7 indexed it, for that migration's text */
#define NGX_IOT_SQL_DEVICE_NAME_V7                                            \
    "coalesce(nullif(json_extract(tags, '$.name'), ''), "                     \
    NGX_IOT_SQL_ID_TEXT_V7 ")"


/*
 * The same 13 characters made by one call (schema 11): each 5 bits of the
 * id as a code point, '0' to '9' then 'a' to 'v'.  The 13 calls of
 * substr() and 12 concatenations above were half of what inserting a
 * device without a name cost SQLite (it makes the text for each of the
 * two name indexes).
 */
#define NGX_IOT_SQL_ID_TEXT                                                   \
    "char("                                                                   \
    "(id >> 60 & 31) + 48 + (id >> 60 & 31 > 9) * 39, "                       \
    "(id >> 55 & 31) + 48 + (id >> 55 & 31 > 9) * 39, "                       \
    "(id >> 50 & 31) + 48 + (id >> 50 & 31 > 9) * 39, "                       \
    "(id >> 45 & 31) + 48 + (id >> 45 & 31 > 9) * 39, "                       \
    "(id >> 40 & 31) + 48 + (id >> 40 & 31 > 9) * 39, "                       \
    "(id >> 35 & 31) + 48 + (id >> 35 & 31 > 9) * 39, "                       \
    "(id >> 30 & 31) + 48 + (id >> 30 & 31 > 9) * 39, "                       \
    "(id >> 25 & 31) + 48 + (id >> 25 & 31 > 9) * 39, "                       \
    "(id >> 20 & 31) + 48 + (id >> 20 & 31 > 9) * 39, "                       \
    "(id >> 15 & 31) + 48 + (id >> 15 & 31 > 9) * 39, "                       \
    "(id >> 10 & 31) + 48 + (id >> 10 & 31 > 9) * 39, "                       \
    "(id >> 5 & 31) + 48 + (id >> 5 & 31 > 9) * 39, "                         \
    "(id >> 0 & 31) + 48 + (id >> 0 & 31 > 9) * 39)"


/*
 * A device's name in the things dialect: its tags.name, or its collections
 * id when it has none.  Written the same wherever it is used, so that
 * SQLite finds its index (schema 11; schema 7 had NGX_IOT_SQL_ID_TEXT_V7).
 */
#define NGX_IOT_SQL_DEVICE_NAME                                               \
    "coalesce(nullif(json_extract(tags, '$.name'), ''), "                     \
    NGX_IOT_SQL_ID_TEXT ")"


/*
 * A token's columns: its user (a token of a store before schema 8, or of
 * the admin, belongs to the first user) and that user's private team.
 */
#define NGX_IOT_TOKEN_USER                                                    \
    "coalesce((SELECT user_id FROM token_users u"                             \
    " WHERE u.hash = tokens.hash),"                                           \
    " (SELECT user_id FROM installation WHERE id = 1), 0)"

#define NGX_IOT_TOKEN_COLUMNS                                                 \
    "hash, hint, resource, write, tags, " NGX_IOT_TOKEN_USER ","              \
    " coalesce((SELECT team_id FROM users WHERE id = " NGX_IOT_TOKEN_USER     \
    "), 0)"


/* the statements of keyed scans a connection keeps */
#define NGX_IOT_STORE_KEYED         16


/* a device's description or barcode as a row shows it, at most */
#define NGX_IOT_STORE_ABOUT_MAX     1024


struct ngx_iot_store_s {
    sqlite3                   *db;        /* NULL: to be opened again */
    sqlite3_stmt              *stmt[NGX_IOT_SQL_LAST];
    sqlite3_stmt              *keyed[NGX_IOT_STORE_KEYED];
    ngx_uint_t                 keyed_next;
    ngx_uint_t                 wal_pages;   /* in the log after a commit */
    u_char                     about[2 * NGX_IOT_STORE_ABOUT_MAX];
    ngx_str_t                  path;      /* null-terminated */
    ngx_uint_t                 sync;
    ngx_uint_t                 autocheckpoint;   /* pages, 0: none */
    ngx_uint_t                 cache;            /* KiB, 0: SQLite's */
    ngx_uint_t                 writable;  /* of the files, when opened */
    ngx_iot_store_fault_t     *fault;     /* shared, or &own */
    ngx_iot_store_fault_t      own;
};


sqlite3_stmt *ngx_iot_store_stmt(ngx_iot_store_t *store, ngx_iot_sql_e sql);
sqlite3_stmt *ngx_iot_store_prepare(ngx_iot_store_t *store, u_char *sql,
    size_t len);
ngx_int_t ngx_iot_store_exec(ngx_iot_store_t *store, ngx_iot_sql_e sql,
    ngx_log_t *log);
void ngx_iot_store_log_error(ngx_iot_store_t *store, const char *what,
    ngx_log_t *log);
void ngx_iot_store_row_collection(sqlite3_stmt *st,
    ngx_iot_collection_t *c);
void ngx_iot_store_row_device(ngx_iot_store_t *store, sqlite3_stmt *st,
    ngx_iot_device_t *d);
void ngx_iot_store_row_token(sqlite3_stmt *st, ngx_iot_token_t *t);
void ngx_iot_store_row_adapter(sqlite3_stmt *st, ngx_iot_adapter_t *a);
void ngx_iot_store_row_group(sqlite3_stmt *st, ngx_iot_group_t *g);
void ngx_iot_store_row_member(sqlite3_stmt *st, ngx_iot_member_t *m);
void ngx_iot_store_row_product(sqlite3_stmt *st, ngx_iot_product_t *p);
void ngx_iot_store_row_iotda(sqlite3_stmt *st, ngx_iot_iotda_row_t *row);
void ngx_iot_store_row_session(sqlite3_stmt *st, ngx_iot_session_t *s,
    ngx_str_t *gateway);
void ngx_iot_history_row(sqlite3_stmt *st, ngx_iot_message_t *m);
void ngx_iot_store_row_downlink(sqlite3_stmt *st,
    ngx_iot_downlink_row_t *row);

/* binding helpers of the store's files */
void ngx_iot_store_bind_tags(sqlite3_stmt *st, int col,
    ngx_iot_text_t *tags);
void ngx_iot_store_bind_addr(sqlite3_stmt *st, int col, in_addr_t addr,
    u_char *buf);
ngx_int_t ngx_iot_store_step(ngx_iot_store_t *store, sqlite3_stmt *st,
    const char *what, ngx_log_t *log);


#endif /* _NGX_IOT_STORE_SQLITE_H_INCLUDED_ */
