
/*
 * Copyright (C) nginx-iot authors
 *
 * The store: SQLite in WAL mode, the data of record.  One connection per
 * process, opened after fork, with every statement prepared once.  The
 * schema is versioned by PRAGMA user_version and migrated at start.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"
#include "ngx_iot_id.h"


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

#define NGX_IOT_COLLECTION_COLUMNS                                            \
    "id, team_id, field_mask, tags, uuid"

/* a random (version 4) UUID, for the rows that had none */
#define NGX_IOT_SQL_UUID                                                      \
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'"           \
    " || substr(hex(randomblob(2)), 2) || '-'"                                \
    " || substr('89ab', 1 + (abs(random()) % 4), 1)"                          \
    " || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"

#define NGX_IOT_SQL_NOW_MS                                                    \
    "(CAST(strftime('%s', 'now') AS INTEGER) * 1000)"


static ngx_int_t ngx_iot_store_sql(ngx_iot_store_t *store, const char *sql,
    ngx_log_t *log);
static ngx_int_t ngx_iot_store_private(ngx_str_t *path, ngx_log_t *log);
static int ngx_iot_store_wal_hook(void *data, sqlite3 *db, const char *name,
    int pages);


/* each entry moves the schema one version up; never edit a released one */
static const char  *ngx_iot_migrations[] = {

    "CREATE TABLE teams ("
    "  id INTEGER PRIMARY KEY,"
    "  tags TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE collections ("
    "  id INTEGER PRIMARY KEY,"
    "  team_id INTEGER NOT NULL,"
    "  field_mask INTEGER NOT NULL DEFAULT 0,"
    "  tags TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE devices ("
    "  id INTEGER PRIMARY KEY,"
    "  collection_id INTEGER NOT NULL,"
    "  imsi TEXT NOT NULL UNIQUE,"
    "  imei TEXT NOT NULL UNIQUE,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  net_ip TEXT NOT NULL DEFAULT '',"
    "  net_at INTEGER NOT NULL DEFAULT 0,"
    "  net_cell INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX devices_by_collection ON devices (collection_id, id);"
    "CREATE TABLE tokens ("
    "  hash BLOB PRIMARY KEY,"
    "  hint TEXT NOT NULL UNIQUE,"
    "  resource TEXT NOT NULL,"
    "  write INTEGER NOT NULL DEFAULT 0,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL);",

    /* 2: NB-IoT attach */
    "ALTER TABLE devices ADD COLUMN net_imeisv TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE devices ADD COLUMN net_msisdn TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX devices_by_address ON devices (net_ip) WHERE net_ip != '';"
    "CREATE TABLE sessions ("
    "  addr TEXT PRIMARY KEY,"
    "  device_id INTEGER NOT NULL,"
    "  gateway TEXT NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL);",

    /* 3: downlinks and their state */
    "CREATE TABLE downlinks ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  collection_id INTEGER NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  transport INTEGER NOT NULL,"
    "  port INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  reason INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  payload BLOB NOT NULL);"
    "CREATE INDEX downlinks_by_collection ON downlinks (collection_id, id);"
    "CREATE INDEX downlinks_by_device ON downlinks (device_id, id);",

    /*
     * 4: UUIDs of teams, collections and devices (the things dialect's
     * ids); the fields the things dialect keeps of a device; a device's
     * IMSI and IMEI may be unknown (NULL: unique only when known), which
     * SQLite changes only by copying the table
     */
    "ALTER TABLE teams ADD COLUMN uuid TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE collections ADD COLUMN uuid TEXT NOT NULL DEFAULT '';"
    "UPDATE teams SET uuid = " NGX_IOT_SQL_UUID ";"
    "UPDATE collections SET uuid = " NGX_IOT_SQL_UUID ";"
    "CREATE UNIQUE INDEX collections_by_uuid ON collections (uuid);"
    "CREATE TABLE devices_3 ("
    "  id INTEGER PRIMARY KEY,"
    "  collection_id INTEGER NOT NULL,"
    "  imsi TEXT UNIQUE,"
    "  imei TEXT UNIQUE,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  net_ip TEXT NOT NULL DEFAULT '',"
    "  net_at INTEGER NOT NULL DEFAULT 0,"
    "  net_cell INTEGER NOT NULL DEFAULT 0,"
    "  net_imeisv TEXT NOT NULL DEFAULT '',"
    "  net_msisdn TEXT NOT NULL DEFAULT '',"
    "  uuid TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  barcode TEXT NOT NULL DEFAULT '',"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  spec TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  created_by TEXT NOT NULL DEFAULT '',"
    "  modified_at INTEGER NOT NULL,"
    "  modified_by TEXT NOT NULL DEFAULT '');"
    "INSERT INTO devices_3 (id, collection_id, imsi, imei, tags, net_ip,"
    "  net_at, net_cell, net_imeisv, net_msisdn, uuid, created_at,"
    "  modified_at)"
    "  SELECT id, collection_id, imsi, imei, tags, net_ip, net_at, net_cell,"
    "  net_imeisv, net_msisdn, " NGX_IOT_SQL_UUID ", " NGX_IOT_SQL_NOW_MS ","
    "  " NGX_IOT_SQL_NOW_MS " FROM devices;"
    "DROP TABLE devices;"
    "ALTER TABLE devices_3 RENAME TO devices;"
    "CREATE INDEX devices_by_collection ON devices (collection_id, id);"
    "CREATE INDEX devices_by_address ON devices (net_ip) WHERE net_ip != '';"
    "CREATE UNIQUE INDEX devices_by_uuid ON devices (uuid);"
    "CREATE TABLE adapters ("
    "  device_id INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  ident TEXT NOT NULL DEFAULT '',"
    "  iccid TEXT NOT NULL DEFAULT '',"
    "  secret TEXT NOT NULL DEFAULT '',"
    "  join_eui TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  modified_at INTEGER NOT NULL,"
    "  PRIMARY KEY (device_id, type));"
    "CREATE UNIQUE INDEX adapters_by_ident ON adapters (type, ident)"
    "  WHERE ident != '';"
    "CREATE TABLE groups ("
    "  id INTEGER PRIMARY KEY,"
    "  collection_id INTEGER NOT NULL,"
    "  uuid TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  created_by TEXT NOT NULL DEFAULT '',"
    "  modified_at INTEGER NOT NULL,"
    "  modified_by TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX groups_by_collection ON groups (collection_id, id);"
    "CREATE TABLE members ("
    "  group_id INTEGER NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  created_by TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (group_id, device_id));"
    "CREATE INDEX members_by_device ON members (device_id, group_id);",

    /*
     * 5: an address belongs to one device at a time.  Of the devices that
     * show the same address, the one with the address's session keeps it,
     * else the one that got it last; the others lose it.
     */
    "UPDATE devices SET net_ip = '', net_at = 0"
    " WHERE net_ip != '' AND EXISTS (SELECT 1 FROM devices o"
    "  WHERE o.net_ip = devices.net_ip AND o.id != devices.id"
    "  AND (EXISTS (SELECT 1 FROM sessions s"
    "    WHERE s.addr = o.net_ip AND s.device_id = o.id)"
    "   OR (NOT EXISTS (SELECT 1 FROM sessions s"
    "     WHERE s.addr = devices.net_ip AND s.device_id = devices.id)"
    "    AND (o.net_at > devices.net_at"
    "     OR (o.net_at = devices.net_at AND o.id > devices.id)))));",

    NULL
};


/* the history has a file and a schema of its own */
static const char  *ngx_iot_history_migrations[] = {

    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  collection_id INTEGER NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  received INTEGER NOT NULL,"
    "  transport INTEGER NOT NULL,"
    "  local_port INTEGER NOT NULL DEFAULT 0,"
    "  remote_port INTEGER NOT NULL DEFAULT 0,"
    "  coap_method TEXT NOT NULL DEFAULT '',"
    "  coap_path TEXT NOT NULL DEFAULT '',"
    "  payload BLOB NOT NULL);"
    "CREATE INDEX messages_by_collection ON messages (collection_id,"
    "  received);"
    "CREATE INDEX messages_by_device ON messages (device_id, received);"
    "CREATE INDEX messages_by_time ON messages (received);",

    NULL
};


#define NGX_IOT_DOWNLINK_COLUMNS                                              \
    "id, collection_id, device_id, transport, port, state, reason, created,"  \
    " updated, payload"


#define NGX_IOT_MESSAGE_COLUMNS                                               \
    "id, collection_id, device_id, received, transport, local_port,"          \
    " remote_port, payload, coap_method, coap_path"


static const char  *ngx_iot_store_statements[NGX_IOT_SQL_LAST] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",

    "INSERT INTO collections (id, team_id, field_mask, tags, uuid)"
    " VALUES (?1, ?2, ?3, ?4, ?5)",
    "UPDATE collections SET team_id = ?2, field_mask = ?3, tags = ?4"
    " WHERE id = ?1",
    "DELETE FROM collections WHERE id = ?1",
    "SELECT " NGX_IOT_COLLECTION_COLUMNS " FROM collections WHERE id = ?1",
    "SELECT " NGX_IOT_COLLECTION_COLUMNS " FROM collections"
    " WHERE id > ?1 ORDER BY id LIMIT ?2",

    "INSERT INTO devices (id, collection_id, imsi, imei, tags, uuid,"
    " description, barcode, status, spec, created_at, created_by,"
    " modified_at, modified_by)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    "UPDATE devices SET collection_id = ?2, imsi = ?3, imei = ?4, tags = ?5,"
    " description = ?7, barcode = ?8, status = ?9, spec = ?10,"
    " modified_at = ?13, modified_by = ?14"
    " WHERE id = ?1",
    "DELETE FROM devices WHERE id = ?1",
    "SELECT " NGX_IOT_DEVICE_COLUMNS " FROM devices WHERE id = ?1",
    "SELECT " NGX_IOT_DEVICE_COLUMNS " FROM devices"
    " WHERE collection_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",

    "INSERT INTO tokens (hash, hint, resource, write, tags, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "UPDATE tokens SET resource = ?2, write = ?3, tags = ?4 WHERE hash = ?1",
    "DELETE FROM tokens WHERE hash = ?1",
    "SELECT hash, hint, resource, write, tags FROM tokens WHERE hash = ?1",
    "SELECT hash, hint, resource, write, tags FROM tokens WHERE hint = ?1",
    "SELECT hash, hint, resource, write, tags FROM tokens"
    " WHERE hint > ?1 ORDER BY hint LIMIT ?2",

    "UPDATE devices SET net_ip = ?2, net_at = ?3, net_imeisv = ?4,"
    " net_msisdn = ?5 WHERE id = ?1",
    "SELECT id FROM devices WHERE net_ip = ?1 AND id != ?2"
    " UNION SELECT device_id FROM sessions WHERE addr = ?1"
    " AND device_id != ?2 LIMIT ?3",
    "INSERT OR REPLACE INTO sessions (addr, device_id, gateway, session_id,"
    " updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    "DELETE FROM sessions WHERE addr = ?1",
    "DELETE FROM sessions WHERE gateway = ?1",
    "SELECT addr, device_id, gateway, session_id FROM sessions"
    " WHERE addr = ?1",

    "INSERT INTO messages (collection_id, device_id, received, transport,"
    " local_port, remote_port, payload, coap_method, coap_path)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    "SELECT " NGX_IOT_MESSAGE_COLUMNS " FROM messages"
    " WHERE collection_id = ?1 AND (received < ?2 OR (received = ?2"
    " AND id < ?3)) AND received >= ?4 ORDER BY received DESC, id DESC"
    " LIMIT ?5",
    "SELECT " NGX_IOT_MESSAGE_COLUMNS " FROM messages"
    " WHERE device_id = ?1 AND (?6 = 0 OR collection_id = ?6)"
    " AND (received < ?2 OR (received = ?2 AND id < ?3)) AND received >= ?4"
    " ORDER BY received DESC, id DESC LIMIT ?5",
    "DELETE FROM messages WHERE id IN"
    " (SELECT id FROM messages WHERE received < ?1 LIMIT 10000)",
    "SELECT collection_id FROM messages GROUP BY collection_id"
    " HAVING count(*) > ?1",
    "DELETE FROM messages WHERE collection_id = ?1 AND received <="
    " (SELECT received FROM messages WHERE collection_id = ?1"
    " ORDER BY received DESC LIMIT 1 OFFSET ?2)",

    "SELECT " NGX_IOT_DEVICE_COLUMNS " FROM devices"
    " WHERE id > ?1 ORDER BY id LIMIT ?2",
    "SELECT addr, device_id, gateway, session_id, rowid FROM sessions"
    " WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
    "SELECT count(*) FROM collections",
    "SELECT count(*) FROM devices",
    "SELECT count(*) FROM devices WHERE collection_id = ?1",
    "SELECT count(*) FROM tokens",
    "SELECT count(*) FROM sessions",

    "INSERT INTO adapters (device_id, type, ident, iccid, secret, join_eui,"
    " created_at, modified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT (device_id, type) DO UPDATE SET ident = excluded.ident,"
    " iccid = excluded.iccid,"
    " secret = CASE WHEN ?9 THEN excluded.secret ELSE adapters.secret END,"
    " join_eui = CASE WHEN ?10 THEN excluded.join_eui"
    " ELSE adapters.join_eui END,"
    " modified_at = excluded.modified_at",
    "SELECT " NGX_IOT_ADAPTER_COLUMNS " FROM adapters"
    " WHERE device_id = ?1 AND type = ?2",
    "DELETE FROM adapters WHERE device_id = ?1 AND type = ?2",
    "DELETE FROM adapters WHERE device_id = ?1",
    "SELECT " NGX_IOT_ADAPTER_COLUMNS " FROM adapters"
    " WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
    "SELECT count(*) FROM adapters",
    "SELECT secret FROM adapters WHERE device_id = ?1 AND type = ?2",

    "INSERT INTO groups (id, collection_id, uuid, name, description,"
    " created_at, created_by, modified_at, modified_by)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    "UPDATE groups SET name = ?4, description = ?5, modified_at = ?8,"
    " modified_by = ?9 WHERE id = ?1",
    "SELECT " NGX_IOT_GROUP_COLUMNS " FROM groups WHERE id = ?1",
    "DELETE FROM groups WHERE id = ?1",
    "DELETE FROM members WHERE group_id = ?1",
    "SELECT " NGX_IOT_GROUP_COLUMNS " FROM groups"
    " WHERE id > ?1 ORDER BY id LIMIT ?2",
    "SELECT " NGX_IOT_GROUP_COLUMNS " FROM groups"
    " WHERE collection_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    "SELECT count(*) FROM groups",
    "SELECT count(*) FROM groups WHERE collection_id = ?1",

    "INSERT INTO members (group_id, device_id, created_at, created_by)"
    " VALUES (?1, ?2, ?3, ?4)",
    "SELECT " NGX_IOT_MEMBER_COLUMNS " FROM members"
    " WHERE group_id = ?1 AND device_id = ?2",
    "DELETE FROM members WHERE group_id = ?1 AND device_id = ?2",
    "DELETE FROM members WHERE device_id = ?1",
    "SELECT " NGX_IOT_MEMBER_COLUMNS ", rowid FROM members"
    " WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
    "SELECT " NGX_IOT_MEMBER_COLUMNS " FROM members"
    " WHERE group_id = ?1 AND device_id > ?2 ORDER BY device_id LIMIT ?3",
    "SELECT " NGX_IOT_MEMBER_COLUMNS " FROM members"
    " WHERE device_id = ?1 AND group_id > ?2 ORDER BY group_id LIMIT ?3",
    "SELECT count(*) FROM members",

    /* one write of a batch: ngx_iot_store_write_begin() */
    "SAVEPOINT w",
    "RELEASE w",
    "ROLLBACK TO w",

    "INSERT INTO downlinks (collection_id, device_id, transport, port, state,"
    " reason, created, updated, payload)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* a queued downlink stays until it is taken or expires */
    "DELETE FROM downlinks WHERE collection_id = ?1 AND state != 0"
    " AND id <= (SELECT id FROM downlinks WHERE collection_id = ?1"
    " ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    "SELECT " NGX_IOT_DOWNLINK_COLUMNS " FROM downlinks"
    " WHERE collection_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
    "SELECT " NGX_IOT_DOWNLINK_COLUMNS " FROM downlinks"
    " WHERE device_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
};


/*
 * The store holds device secrets (adapters' shared secrets and keys): its
 * files are for nginx's user alone.  SQLite makes the log and the shared
 * memory file with the database file's permissions.
 */

static ngx_int_t
ngx_iot_store_private(ngx_str_t *path, ngx_log_t *log)
{
    u_char       name[NGX_MAX_PATH];
    ngx_uint_t   i;
    struct stat  st;

    static char  *suffixes[] = { "", "-wal", "-shm", NULL };

    if (path->len + sizeof("-wal") > sizeof(name)) {
        return NGX_OK;
    }

    for (i = 0; suffixes[i]; i++) {
        ngx_memcpy(name, path->data, path->len);
        ngx_cpystrn(name + path->len, (u_char *) suffixes[i], sizeof("-wal"));

        if (stat((char *) name, &st) == -1 || (st.st_mode & 0077) == 0) {
            continue;
        }

        if (chmod((char *) name, st.st_mode & 0700) == -1) {
            /* not its owner: it goes on, and says so */
            ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                          "chmod(\"%s\", 0600) failed: the store holds "
                          "device secrets", name);
        }
    }

    return NGX_OK;
}


ngx_iot_store_t *
ngx_iot_store_open(ngx_str_t *path, ngx_uint_t sync, ngx_log_t *log)
{
    int               rc;
    ngx_iot_store_t  *store;

    store = ngx_calloc(sizeof(ngx_iot_store_t), log);
    if (store == NULL) {
        return NULL;
    }

    rc = sqlite3_open_v2((char *) path->data, &store->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "iot store \"%V\" cannot be opened: %s", path,
                      store->db ? sqlite3_errmsg(store->db)
                                : sqlite3_errstr(rc));
        ngx_iot_store_close(store);
        return NULL;
    }

    sqlite3_busy_timeout(store->db, NGX_IOT_STORE_BUSY_TIMEOUT);

    if (ngx_iot_store_private(path, log) != NGX_OK) {
        ngx_iot_store_close(store);
        return NULL;
    }

    /*
     * WAL: readers never wait for the writer.  Checkpoints are not run
     * inside a commit but by ngx_iot_store_checkpoint(), in a thread, so
     * that neither a write nor the event loop waits for the disk; the
     * writer makes the log start over once it has grown past
     * NGX_IOT_STORE_WAL_PAGES (ngx_iot_store_wal_restart()).  The log's
     * file is cut back to 64m whenever it starts over.
     */

    if (ngx_iot_store_sql(store, "PRAGMA journal_mode=WAL", log) != NGX_OK
        || ngx_iot_store_sql(store, sync == NGX_IOT_SYNC_FULL
                                    ? "PRAGMA synchronous=FULL"
                                    : "PRAGMA synchronous=NORMAL", log)
           != NGX_OK
        || ngx_iot_store_sql(store, "PRAGMA wal_autocheckpoint=0", log)
           != NGX_OK
        || ngx_iot_store_sql(store, "PRAGMA journal_size_limit=67108864",
                             log)
           != NGX_OK
        || ngx_iot_store_sql(store, "PRAGMA foreign_keys=OFF", log)
           != NGX_OK)
    {
        ngx_iot_store_close(store);
        return NULL;
    }

    /* how long the log is after each commit: ngx_iot_store_wal_restart() */
    (void) sqlite3_wal_hook(store->db, ngx_iot_store_wal_hook, store);

    return store;
}


void
ngx_iot_store_close(ngx_iot_store_t *store)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_SQL_LAST; i++) {
        if (store->stmt[i]) {
            sqlite3_finalize(store->stmt[i]);
        }
    }

    if (store->db) {
        sqlite3_close(store->db);
    }

    ngx_free(store);
}


static ngx_int_t
ngx_iot_store_sql(ngx_iot_store_t *store, const char *sql, ngx_log_t *log)
{
    char  *err;

    if (sqlite3_exec(store->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "iot store: \"%s\" failed: %s",
                      sql, err ? err : "unknown error");
        sqlite3_free(err);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_migrate(ngx_iot_store_t *store, ngx_uint_t history,
    ngx_log_t *log)
{
    const char  **migrations;

    int            version, n;
    u_char         buf[64];
    sqlite3_stmt  *st;

    if (sqlite3_prepare_v2(store->db, "PRAGMA user_version", -1, &st, NULL)
        != SQLITE_OK)
    {
        ngx_iot_store_log_error(store, "reading the schema version", log);
        return NGX_ERROR;
    }

    version = (sqlite3_step(st) == SQLITE_ROW) ? sqlite3_column_int(st, 0)
                                                : 0;
    sqlite3_finalize(st);

    migrations = history ? ngx_iot_history_migrations : ngx_iot_migrations;

    for (n = 0; migrations[n]; n++) { /* void */ }

    if (version > n) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "iot store has schema version %d, newer than this "
                      "module's %d", version, n);
        return NGX_ERROR;
    }

    for ( /* void */ ; version < n; version++) {
        ngx_snprintf(buf, sizeof(buf), "PRAGMA user_version=%d%Z",
                     version + 1);

        if (ngx_iot_store_sql(store, "BEGIN IMMEDIATE", log) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_iot_store_sql(store, migrations[version], log)
            != NGX_OK
            || ngx_iot_store_sql(store, (char *) buf, log) != NGX_OK
            || ngx_iot_store_sql(store, "COMMIT", log) != NGX_OK)
        {
            (void) sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "iot store migrated to schema version %d",
                      version + 1);
    }

    return NGX_OK;
}


/* the installation's team, made at first start, and its UUID */

ngx_int_t
ngx_iot_store_team(ngx_iot_store_t *store, uint64_t *team_id, u_char *uuid,
    ngx_log_t *log)
{
    int            rc;
    u_char         text[NGX_IOT_UUID_LEN];
    uint64_t       id;
    sqlite3_stmt  *st;

    if (sqlite3_prepare_v2(store->db,
                           "SELECT id, uuid FROM teams ORDER BY rowid LIMIT 1",
                           -1, &st, NULL)
        != SQLITE_OK)
    {
        ngx_iot_store_log_error(store, "reading the team", log);
        return NGX_ERROR;
    }

    rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *team_id = (uint64_t) sqlite3_column_int64(st, 0);

        rc = ngx_iot_uuid_decode((u_char *) sqlite3_column_text(st, 1),
                                 sqlite3_column_bytes(st, 1), uuid);
        sqlite3_finalize(st);

        if (rc == NGX_OK) {
            return NGX_OK;
        }

        /* a team made before teams had UUIDs: it gets one now */
        id = *team_id;

    } else {
        sqlite3_finalize(st);
        id = 0;
    }

    if (ngx_iot_uuid_new(uuid) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "getrandom() failed");
        return NGX_ERROR;
    }

    (void) ngx_iot_uuid_encode(text, uuid);

    if (sqlite3_prepare_v2(store->db,
                           id ? "UPDATE teams SET uuid = ?2 WHERE id = ?1"
                              : "INSERT INTO teams (id, uuid) VALUES (?1, ?2)",
                           -1, &st, NULL)
        != SQLITE_OK)
    {
        ngx_iot_store_log_error(store, "making the team", log);
        return NGX_ERROR;
    }

    if (id == 0) {
        id = ngx_iot_id_new();
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
    sqlite3_bind_text(st, 2, (char *) text, NGX_IOT_UUID_LEN, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "making the team", log);
        return NGX_ERROR;
    }

    *team_id = id;

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_checkpoint(ngx_iot_store_t *store, ngx_log_t *log)
{
    int  rc;

    /* PASSIVE: it copies what it can and never holds up a writer */

    rc = sqlite3_wal_checkpoint_v2(store->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                   NULL, NULL);

    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        ngx_iot_store_log_error(store, "checkpoint", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


sqlite3_stmt *
ngx_iot_store_stmt(ngx_iot_store_t *store, ngx_iot_sql_e sql)
{
    sqlite3_stmt  *st;

    st = store->stmt[sql];

    if (st == NULL) {
        if (sqlite3_prepare_v3(store->db, ngx_iot_store_statements[sql], -1,
                               SQLITE_PREPARE_PERSISTENT, &st, NULL)
            != SQLITE_OK)
        {
            return NULL;
        }

        store->stmt[sql] = st;

    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }

    return st;
}


/* runs a statement that returns no rows: BEGIN, COMMIT, ROLLBACK */

ngx_int_t
ngx_iot_store_exec(ngx_iot_store_t *store, ngx_iot_sql_e sql, ngx_log_t *log)
{
    int            rc;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, sql);
    if (st == NULL) {
        ngx_iot_store_log_error(store, ngx_iot_store_statements[sql], log);
        return NGX_ERROR;
    }

    rc = sqlite3_step(st);
    sqlite3_reset(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, ngx_iot_store_statements[sql], log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_iot_store_log_error(ngx_iot_store_t *store, const char *what,
    ngx_log_t *log)
{
    ngx_log_error(NGX_LOG_ERR, log, 0, "iot store: %s: %s (%d)", what,
                  sqlite3_errmsg(store->db), sqlite3_errcode(store->db));
}


ngx_int_t
ngx_iot_store_begin(ngx_iot_store_t *store, ngx_log_t *log)
{
    return ngx_iot_store_exec(store, NGX_IOT_SQL_BEGIN, log);
}


ngx_int_t
ngx_iot_store_commit(ngx_iot_store_t *store, ngx_log_t *log)
{
    return ngx_iot_store_exec(store, NGX_IOT_SQL_COMMIT, log);
}


void
ngx_iot_store_rollback(ngx_iot_store_t *store, ngx_log_t *log)
{
    if (!sqlite3_get_autocommit(store->db)) {
        (void) ngx_iot_store_exec(store, NGX_IOT_SQL_ROLLBACK, log);
    }
}


/*
 * One write inside a batch's transaction: a write that fails is undone
 * alone, the others of the batch stay.
 */

ngx_int_t
ngx_iot_store_write_begin(ngx_iot_store_t *store, ngx_log_t *log)
{
    return ngx_iot_store_exec(store, NGX_IOT_SQL_SAVEPOINT, log);
}


ngx_int_t
ngx_iot_store_write_end(ngx_iot_store_t *store, ngx_uint_t keep,
    ngx_log_t *log)
{
    if (!keep
        && ngx_iot_store_exec(store, NGX_IOT_SQL_ROLLBACK_TO, log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iot_store_exec(store, NGX_IOT_SQL_RELEASE, log);
}


const char *
ngx_iot_store_error(ngx_iot_store_t *store)
{
    return sqlite3_errmsg(store->db);
}


/*
 * A connection that lives in a thread may checkpoint as it commits, which
 * keeps its log from growing forever.
 */

ngx_int_t
ngx_iot_store_autocheckpoint(ngx_iot_store_t *store, ngx_uint_t pages,
    ngx_log_t *log)
{
    if (sqlite3_wal_autocheckpoint(store->db, (int) pages) != SQLITE_OK) {
        ngx_iot_store_log_error(store, "wal_autocheckpoint", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* runs a statement that returns no rows, bound by the caller */

ngx_int_t
ngx_iot_store_step(ngx_iot_store_t *store, sqlite3_stmt *st,
    const char *what, ngx_log_t *log)
{
    int  rc;

    rc = sqlite3_step(st);
    sqlite3_reset(st);

    if (rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, what, log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static int
ngx_iot_store_wal_hook(void *data, sqlite3 *db, const char *name, int pages)
{
    ngx_iot_store_t  *store = data;

    store->wal_pages = (ngx_uint_t) pages;

    return SQLITE_OK;
}


/*
 * The log cannot start over while writes keep coming: a PASSIVE
 * checkpoint in a thread copies what was committed when it started, but
 * by the time it is done more has been appended, and the log only starts
 * over when a writer finds all of it copied.  So the registry's writer,
 * after its write and while it still holds the writer mutex (no other
 * writer can append), checks the length of the log its commit left; past
 * NGX_IOT_STORE_WAL_PAGES it runs a RESTART checkpoint: the rest of the
 * log is copied (most of it already is, by the thread), and the next
 * write starts the log from its beginning.  Readers are waited for a
 * short while at most; when one holds an old snapshot longer, the next
 * write tries again.
 */

ngx_int_t
ngx_iot_store_wal_restart(ngx_iot_store_t *store, ngx_log_t *log)
{
    int  rc, frames, copied;

    if (store->wal_pages < NGX_IOT_STORE_WAL_PAGES) {
        return NGX_DECLINED;
    }

    sqlite3_busy_timeout(store->db, NGX_IOT_STORE_WAL_WAIT);

    rc = sqlite3_wal_checkpoint_v2(store->db, NULL,
                                   SQLITE_CHECKPOINT_RESTART, &frames,
                                   &copied);

    sqlite3_busy_timeout(store->db, NGX_IOT_STORE_BUSY_TIMEOUT);

    if (rc == SQLITE_BUSY) {
        ngx_log_debug2(NGX_LOG_DEBUG_CORE, log, 0,
                       "iot store: log of %d frames not restarted yet, "
                       "%d copied", frames, copied);
        return NGX_AGAIN;
    }

    if (rc != SQLITE_OK) {
        ngx_iot_store_log_error(store, "restarting the log", log);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                   "iot store: log of %d frames restarts", frames);

    store->wal_pages = 0;

    return NGX_OK;
}
