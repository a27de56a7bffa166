
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


/* a random (version 4) UUID, for the rows that had none */
#define NGX_IOT_SQL_UUID                                                      \
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'"           \
    " || substr(hex(randomblob(2)), 2) || '-'"                                \
    " || substr('89ab', 1 + (abs(random()) % 4), 1)"                          \
    " || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"

#define NGX_IOT_SQL_NOW_MS                                                    \
    "(CAST(strftime('%s', 'now') AS INTEGER) * 1000)"


static void ngx_iot_store_configure(void);
static ngx_int_t ngx_iot_store_connect(ngx_iot_store_t *store,
    ngx_log_t *log);
static void ngx_iot_store_disconnect(ngx_iot_store_t *store);
static ngx_uint_t ngx_iot_store_files(ngx_iot_store_t *store,
    ngx_err_t *err, u_char **name);
static ngx_int_t ngx_iot_store_ready(ngx_iot_store_t *store, ngx_log_t *log);
static void ngx_iot_store_healed(ngx_iot_store_t *store, ngx_log_t *log);
static void ngx_iot_store_unwritable(ngx_iot_store_t *store, ngx_log_t *log);
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

    /*
     * 6: products (device types and their models), each of a collection;
     * product ids unique in the registry.  Repeatable (t/33 runs the
     * migrations from 5 on again).
     */
    "CREATE TABLE IF NOT EXISTS products ("
    "  id INTEGER PRIMARY KEY,"
    "  collection_id INTEGER NOT NULL,"
    "  product_id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  model TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS products_by_collection"
    "  ON products (collection_id, id);",

    /*
     * 7: the things dialect's sorted lists.  Each sort key has an index
     * of its own and one per collection (a token of one project), ending
     * with the id, so that a page is a range of an index.  A device's
     * name (NGX_IOT_SQL_DEVICE_NAME_V7) is indexed as an expression, names
     * ignoring the case of ASCII letters.  Repeatable.
     */
    "CREATE INDEX IF NOT EXISTS devices_by_created ON devices (created_at,"
    "  id);"
    "CREATE INDEX IF NOT EXISTS devices_by_modified ON devices (modified_at,"
    "  id);"
    "CREATE INDEX IF NOT EXISTS devices_by_name ON devices ("
    NGX_IOT_SQL_DEVICE_NAME_V7 " COLLATE NOCASE, id);"
    "CREATE INDEX IF NOT EXISTS devices_in_by_created ON devices"
    "  (collection_id, created_at, id);"
    "CREATE INDEX IF NOT EXISTS devices_in_by_modified ON devices"
    "  (collection_id, modified_at, id);"
    "CREATE INDEX IF NOT EXISTS devices_in_by_name ON devices"
    "  (collection_id, " NGX_IOT_SQL_DEVICE_NAME_V7 " COLLATE NOCASE, id);"
    "CREATE INDEX IF NOT EXISTS groups_by_created ON groups (created_at,"
    "  id);"
    "CREATE INDEX IF NOT EXISTS groups_by_modified ON groups (modified_at,"
    "  id);"
    "CREATE INDEX IF NOT EXISTS groups_by_name ON groups"
    "  (name COLLATE NOCASE, id);"
    "CREATE INDEX IF NOT EXISTS groups_in_by_created ON groups"
    "  (collection_id, created_at, id);"
    "CREATE INDEX IF NOT EXISTS groups_in_by_modified ON groups"
    "  (collection_id, modified_at, id);"
    "CREATE INDEX IF NOT EXISTS groups_in_by_name ON groups"
    "  (collection_id, name COLLATE NOCASE, id);",

    /*
     * 8: users and teams.  Every user has a private team (users.team_id);
     * a team's members and their roles (1: Admin, 0: Member); invites by
     * code; the user a token belongs to (a token without a row here
     * belongs to the installation's first user, made with its first team
     * by ngx_iot_store_first_user()).  The installation's team and first
     * user are named in a row of their own: ids are random, so the
     * lowest is not the first.  A store from before has one team: that
     * is the installation's.  Repeatable.
     */
    "CREATE TABLE IF NOT EXISTS installation ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  team_id INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL DEFAULT 0);"
    "INSERT OR IGNORE INTO installation (id, team_id)"
    "  SELECT 1, id FROM teams ORDER BY rowid LIMIT 1;"
    "CREATE TABLE IF NOT EXISTS users ("
    "  id INTEGER PRIMARY KEY,"
    "  team_id INTEGER NOT NULL UNIQUE,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  email TEXT NOT NULL DEFAULT '',"
    "  phone TEXT NOT NULL DEFAULT '',"
    "  avatar_url TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS team_members ("
    "  team_id INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  role INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (team_id, user_id));"
    "CREATE INDEX IF NOT EXISTS team_members_by_user"
    "  ON team_members (user_id, team_id);"
    "CREATE TABLE IF NOT EXISTS invites ("
    "  code TEXT PRIMARY KEY,"
    "  team_id INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS invites_by_team ON invites (team_id, code);"
    "CREATE TABLE IF NOT EXISTS token_users ("
    "  hash BLOB PRIMARY KEY,"
    "  user_id INTEGER NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS token_users_gone AFTER DELETE ON tokens"
    "  BEGIN DELETE FROM token_users WHERE hash = old.hash; END;",

    /*
     * 9: the iotda dialect's messages (what it keeps of a downlink beside
     * the downlink: its message_id, unique per device, and its fields as
     * a JSON text), gone with their downlink; and access keys made like
     * Huawei IAM's permanent ones, bound to a team.  Repeatable.
     */
    "CREATE TABLE IF NOT EXISTS iotda_messages ("
    "  downlink_id INTEGER PRIMARY KEY,"
    "  device_id INTEGER NOT NULL,"
    "  message_id TEXT NOT NULL,"
    "  fields TEXT NOT NULL DEFAULT '{}');"
    "CREATE UNIQUE INDEX IF NOT EXISTS iotda_messages_by_id"
    "  ON iotda_messages (device_id, message_id);"
    "CREATE TRIGGER IF NOT EXISTS iotda_messages_gone"
    "  AFTER DELETE ON downlinks BEGIN"
    "  DELETE FROM iotda_messages WHERE downlink_id = OLD.id; END;"
    "CREATE TABLE IF NOT EXISTS access_keys ("
    "  ak TEXT PRIMARY KEY,"
    "  team_id INTEGER NOT NULL,"
    "  sk TEXT NOT NULL,"
    "  write INTEGER NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL);",

    /*
     * 10: the lists of memberships sorted by when a device joined: a
     * group's and a device's, each a range of an index.  Repeatable.
     */
    "CREATE INDEX IF NOT EXISTS members_of_group_by_created ON members"
    "  (group_id, created_at, device_id);"
    "CREATE INDEX IF NOT EXISTS members_of_device_by_created ON members"
    "  (device_id, created_at, group_id);",

    /*
     * 11: a device's name indexed by the expression of schema 11
     * (NGX_IOT_SQL_DEVICE_NAME): the same text, made by one call instead
     * of 25 for a device without a name tag.  Repeatable.
     */
    "DROP INDEX IF EXISTS devices_by_name;"
    "DROP INDEX IF EXISTS devices_in_by_name;"
    "CREATE INDEX devices_by_name ON devices ("
    NGX_IOT_SQL_DEVICE_NAME " COLLATE NOCASE, id);"
    "CREATE INDEX devices_in_by_name ON devices"
    "  (collection_id, " NGX_IOT_SQL_DEVICE_NAME " COLLATE NOCASE, id);",

    /*
     * 12: the iotda dialect's part of a device (ngx_iot_iotda_t): its
     * IoTDA device id and node id (NULL: its IMEI), product, gateway,
     * flags, the JSON of the rest, and its secrets (never read into a
     * row; found by node id).  Repeatable.
     */
    "CREATE TABLE IF NOT EXISTS iotda_devices ("
    "  device INTEGER PRIMARY KEY,"
    "  device_id TEXT NOT NULL UNIQUE,"
    "  node_id TEXT UNIQUE,"
    "  product INTEGER NOT NULL DEFAULT 0,"
    "  gateway INTEGER NOT NULL DEFAULT 0,"
    "  depth INTEGER NOT NULL DEFAULT 0,"
    "  flags INTEGER NOT NULL DEFAULT 0,"
    "  timeout INTEGER NOT NULL DEFAULT 0,"
    "  doc TEXT NOT NULL DEFAULT '{}',"
    "  secret TEXT NOT NULL DEFAULT '',"
    "  secondary_secret TEXT NOT NULL DEFAULT '');",

    /* 13: a device's queued downlinks (coap-pull), oldest first */
    "CREATE INDEX IF NOT EXISTS downlinks_queued ON downlinks"
    "  (device_id, transport, id) WHERE state = 0;",

    /*
     * 14: a device's DTLS pre-shared key (CoAP), set in the collections
     * dialect; it goes with its device
     */
    "CREATE TABLE IF NOT EXISTS psk_keys ("
    "  device_id INTEGER PRIMARY KEY,"
    "  key BLOB NOT NULL,"
    "  updated INTEGER NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS psk_keys_of_device AFTER DELETE ON devices"
    "  BEGIN DELETE FROM psk_keys WHERE device_id = old.id; END;",

    /* 15: the CoAP path of a coap-push downlink; it goes with it */
    "CREATE TABLE IF NOT EXISTS downlink_paths ("
    "  downlink_id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS downlink_paths_of_downlink"
    "  AFTER DELETE ON downlinks"
    "  BEGIN DELETE FROM downlink_paths WHERE downlink_id = old.id; END;",

    /*
     * 16: outputs (forwarding of a collection's data, ngx_iot_outputs.h);
     * their state and logs are in the history's file.  Repeatable.
     */
    "CREATE TABLE IF NOT EXISTS outputs ("
    "  id INTEGER PRIMARY KEY,"
    "  collection_id INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  enabled INTEGER NOT NULL,"
    "  config TEXT NOT NULL,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  since INTEGER NOT NULL,"
    "  revision INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS outputs_by_collection"
    "  ON outputs (collection_id, id);",

    /*
     * 17: when a waiting downlink (coap-pull, coap-push) expires, while it
     * waits: gone when it is settled or deleted.  Repeatable.
     */
    "CREATE TABLE IF NOT EXISTS downlink_expiry ("
    "  downlink_id INTEGER PRIMARY KEY,"
    "  expires INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS downlink_expiry_by_time"
    "  ON downlink_expiry (expires);"
    "CREATE TRIGGER IF NOT EXISTS downlink_expiry_of_downlink"
    "  AFTER DELETE ON downlinks"
    "  BEGIN DELETE FROM downlink_expiry WHERE downlink_id = old.id; END;"
    "CREATE TRIGGER IF NOT EXISTS downlink_expiry_settled"
    "  AFTER UPDATE OF state ON downlinks WHEN new.state != 0"
    "  BEGIN DELETE FROM downlink_expiry WHERE downlink_id = old.id; END;",

    /*
     * 18: a collection's outputs go with it, in the same transaction; the
     * outputs of collections deleted before, too.  Repeatable.
     */
    "CREATE TRIGGER IF NOT EXISTS outputs_of_collection"
    "  AFTER DELETE ON collections"
    "  BEGIN DELETE FROM outputs WHERE collection_id = old.id; END;"
    "DELETE FROM outputs"
    "  WHERE collection_id NOT IN (SELECT id FROM collections);",

    /*
     * 19: the iotda dialect's commands (what it keeps of a command's
     * downlink: its command_id and fields as a JSON text), apart from its
     * messages, gone with their downlink.  Repeatable.
     */
    "CREATE TABLE IF NOT EXISTS iotda_commands ("
    "  downlink_id INTEGER PRIMARY KEY,"
    "  device_id INTEGER NOT NULL,"
    "  command_id TEXT NOT NULL,"
    "  fields TEXT NOT NULL DEFAULT '{}');"
    "CREATE UNIQUE INDEX IF NOT EXISTS iotda_commands_by_id"
    "  ON iotda_commands (command_id);"
    "CREATE TRIGGER IF NOT EXISTS iotda_commands_gone"
    "  AFTER DELETE ON downlinks BEGIN"
    "  DELETE FROM iotda_commands WHERE downlink_id = OLD.id; END;",

    /*
     * 20: the iotda part without indexes on its device_id and node_id.
     * The registry keeps both unique under the zone's lock (it is the
     * one that can tell a node id from another device's IMSI or id), and
     * nothing is found by them in SQL (a secret is found by its device):
     * two B-trees less to write for every device.  Repeatable.
     */
    "CREATE TABLE IF NOT EXISTS iotda_devices_20 ("
    "  device INTEGER PRIMARY KEY,"
    "  device_id TEXT NOT NULL,"
    "  node_id TEXT,"
    "  product INTEGER NOT NULL DEFAULT 0,"
    "  gateway INTEGER NOT NULL DEFAULT 0,"
    "  depth INTEGER NOT NULL DEFAULT 0,"
    "  flags INTEGER NOT NULL DEFAULT 0,"
    "  timeout INTEGER NOT NULL DEFAULT 0,"
    "  doc TEXT NOT NULL DEFAULT '{}',"
    "  secret TEXT NOT NULL DEFAULT '',"
    "  secondary_secret TEXT NOT NULL DEFAULT '');"
    "INSERT INTO iotda_devices_20 (device, device_id, node_id, product,"
    "  gateway, depth, flags, timeout, doc, secret, secondary_secret)"
    "  SELECT device, device_id, node_id, product, gateway, depth, flags,"
    "  timeout, doc, secret, secondary_secret FROM iotda_devices;"
    "DROP TABLE iotda_devices;"
    "ALTER TABLE iotda_devices_20 RENAME TO iotda_devices;",

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

    /*
     * 2: where each output is (the last message it took) and what it
     * counted and logged; a collection's messages by id, as outputs read
     * them.  Repeatable.
     */
    "CREATE TABLE IF NOT EXISTS output_state ("
    "  output_id INTEGER PRIMARY KEY,"
    "  since INTEGER NOT NULL,"
    "  cursor INTEGER NOT NULL,"
    "  received INTEGER NOT NULL,"
    "  forwarded INTEGER NOT NULL,"
    "  errors INTEGER NOT NULL,"
    "  retries INTEGER NOT NULL,"
    "  dropped INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS output_logs ("
    "  output_id INTEGER NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  message TEXT NOT NULL,"
    "  repeated INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS output_logs_by_output"
    "  ON output_logs (output_id);"
    "CREATE INDEX IF NOT EXISTS messages_by_collection_id ON messages"
    "  (collection_id, id);",

    NULL
};


#define NGX_IOT_DOWNLINK_COLUMNS                                              \
    "id, collection_id, device_id, transport, port, state, reason, created,"  \
    " updated, payload"

/* column 10 beside them: a coap-push downlink's path */
#define NGX_IOT_DOWNLINK_PATH                                                 \
    "(SELECT path FROM downlink_paths WHERE downlink_id = downlinks.id)"


#define NGX_IOT_MESSAGE_COLUMNS                                               \
    "id, collection_id, device_id, received, transport, local_port,"          \
    " remote_port, payload, coap_method, coap_path"


/* in the order of ngx_iot_sql_e, one for each (checked below) */
static const char  *ngx_iot_store_statements[] = {
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
    "SELECT " NGX_IOT_TOKEN_COLUMNS " FROM tokens WHERE hash = ?1",
    "SELECT " NGX_IOT_TOKEN_COLUMNS " FROM tokens WHERE hint = ?1",
    "SELECT " NGX_IOT_TOKEN_COLUMNS " FROM tokens"
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
    /* by id: messages received in the same millisecond are kept or not */
    "DELETE FROM messages WHERE id IN"
    " (SELECT id FROM messages WHERE collection_id = ?1"
    " ORDER BY received DESC, id DESC LIMIT -1 OFFSET ?2)",

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
    "SELECT " NGX_IOT_DOWNLINK_COLUMNS ", " NGX_IOT_DOWNLINK_PATH
    " FROM downlinks"
    " WHERE collection_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
    "SELECT " NGX_IOT_DOWNLINK_COLUMNS ", " NGX_IOT_DOWNLINK_PATH
    " FROM downlinks"
    " WHERE device_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",

    "INSERT INTO products (id, collection_id, product_id, name, model,"
    " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
    " model = excluded.model",
    "SELECT " NGX_IOT_PRODUCT_COLUMNS " FROM products WHERE id = ?1",
    "DELETE FROM products WHERE id = ?1",
    "SELECT " NGX_IOT_PRODUCT_COLUMNS " FROM products"
    " WHERE id > ?1 ORDER BY id LIMIT ?2",
    "SELECT count(*) FROM products",

    /* a user's teams: read for every request (ngx_iot_auth_teams) */
    "SELECT team_id, role FROM team_members WHERE user_id = ?1"
    " ORDER BY team_id",
    "INSERT INTO iotda_devices (device, device_id, node_id, product,"
    " gateway, depth, flags, timeout, doc, secret, secondary_secret)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (device) DO UPDATE SET device_id = excluded.device_id,"
    " node_id = excluded.node_id, product = excluded.product,"
    " gateway = excluded.gateway, depth = excluded.depth,"
    " flags = excluded.flags, timeout = excluded.timeout,"
    " doc = excluded.doc,"
    " secret = CASE WHEN ?12 THEN excluded.secret"
    " ELSE iotda_devices.secret END,"
    " secondary_secret = CASE WHEN ?13 THEN excluded.secondary_secret"
    " ELSE iotda_devices.secondary_secret END",
    "SELECT " NGX_IOT_IOTDA_COLUMNS " FROM iotda_devices WHERE device = ?1",
    "DELETE FROM iotda_devices WHERE device = ?1",
    "SELECT " NGX_IOT_IOTDA_COLUMNS " FROM iotda_devices"
    " WHERE device > ?1 ORDER BY device LIMIT ?2",
    "SELECT count(*) FROM iotda_devices",
    "SELECT secret, secondary_secret FROM iotda_devices WHERE device = ?1"
    " AND node_id IS ?2 AND secret != ''",

    /* a device's queued downlinks of one transport (coap-pull) */
    "SELECT " NGX_IOT_DOWNLINK_COLUMNS " FROM downlinks"
    " WHERE device_id = ?1 AND state = 0 AND transport = ?2"
    " AND id NOT IN (SELECT downlink_id FROM downlink_expiry"
    " WHERE expires <= ?3) ORDER BY id LIMIT 1",
    "SELECT count(*) FROM downlinks"
    " WHERE device_id = ?1 AND state = 0 AND transport = ?2"
    " AND id NOT IN (SELECT downlink_id FROM downlink_expiry"
    " WHERE expires <= ?3)",
    "UPDATE downlinks SET state = ?3, reason = ?4, updated = ?5"
    " WHERE id = ?1 AND device_id = ?2 AND state = 0",

    /* DTLS pre-shared keys set in the collections dialect */
    "INSERT OR REPLACE INTO psk_keys (device_id, key, updated)"
    " VALUES (?1, ?2, ?3)",
    "DELETE FROM psk_keys WHERE device_id = ?1",
    "SELECT key FROM psk_keys WHERE device_id = ?1",

    /* coap-push: the path of a downlink; the next queued one */
    "INSERT OR REPLACE INTO downlink_paths (downlink_id, path)"
    " VALUES (?1, ?2)",
    "SELECT " NGX_IOT_DOWNLINK_COLUMNS ", (SELECT path FROM downlink_paths"
    " WHERE downlink_id = downlinks.id) FROM downlinks"
    " WHERE state = 0 AND transport = ?1 AND id > ?2"
    " AND id NOT IN (SELECT downlink_id FROM downlink_expiry"
    " WHERE expires <= ?3) ORDER BY id LIMIT 1",

    /* a downlink as it is (announced); when a waiting one expires */
    "SELECT " NGX_IOT_DOWNLINK_COLUMNS ", " NGX_IOT_DOWNLINK_PATH
    " FROM downlinks WHERE id = ?1",
    "INSERT OR REPLACE INTO downlink_expiry (downlink_id, expires)"
    " VALUES (?1, ?2)",
    "SELECT downlink_id, downlinks.device_id FROM downlink_expiry"
    " JOIN downlinks ON downlinks.id = downlink_id"
    " WHERE expires <= ?1 AND state = 0 ORDER BY expires LIMIT ?2"
};

/* a statement added to ngx_iot_sql_e and not here (or the other way round) */
typedef char  ngx_iot_store_statements_match[
    (sizeof(ngx_iot_store_statements) / sizeof(char *) == NGX_IOT_SQL_LAST)
    ? 1 : -1];


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


/* the files of a store, as suffixes of its path */
static char  *ngx_iot_store_suffixes[] = { "", "-wal", "-shm", NULL };

#define NGX_IOT_STORE_ALL_WRITABLE  7


/*
 * Set in a process that serves (a worker): its connections check their
 * files (ngx_iot_store_ready()).  The master reads the store at start
 * even when it cannot write it.
 */
static ngx_uint_t  ngx_iot_store_guarded;


/* an error at start is fatal; in a worker it is an error it lives with */
#define ngx_iot_store_level()                                                 \
    ((ngx_process == NGX_PROCESS_WORKER) ? NGX_LOG_ERR : NGX_LOG_EMERG)


ngx_iot_store_t *
ngx_iot_store_open(ngx_str_t *path, ngx_uint_t sync, ngx_log_t *log)
{
    ngx_err_t         err;
    ngx_iot_store_t  *store;

    store = ngx_calloc(sizeof(ngx_iot_store_t), log);
    if (store == NULL) {
        return NULL;
    }

    store->path.data = ngx_alloc(path->len + 1, log);
    if (store->path.data == NULL) {
        ngx_free(store);
        return NULL;
    }

    ngx_memcpy(store->path.data, path->data, path->len);
    store->path.data[path->len] = '\0';
    store->path.len = path->len;
    store->sync = sync;
    store->fault = &store->own;

    /*
     * A worker does not open a store it may not write: another connection
     * of the process may have its WAL index mapped for writing already
     * (ngx_iot_store_ready() opens it once it may).  At start the master
     * reads even a store it may not write.
     */

    if (ngx_iot_store_guarded
        && ngx_iot_store_files(store, &err, NULL)
           != NGX_IOT_STORE_ALL_WRITABLE)
    {
        /* said by ngx_iot_store_watch(), or at its first use */
        return store;
    }

    if (ngx_iot_store_connect(store, log) != NGX_OK) {
        ngx_iot_store_close(store);
        return NULL;
    }

    return store;
}


void
ngx_iot_store_guard(void)
{
    ngx_iot_store_guarded = 1;
}


void
ngx_iot_store_watch(ngx_iot_store_t *store, ngx_iot_store_fault_t *fault,
    ngx_log_t *log)
{
    store->fault = fault;

    if (store->db == NULL || store->writable != NGX_IOT_STORE_ALL_WRITABLE) {
        /* not writable at start: say so, once */
        ngx_iot_store_unwritable(store, log);
    }
}


/*
 * A write's savepoint copies each page it changes into a statement
 * journal first.  SQLite keeps that journal in memory up to the "spill"
 * size, in one piece of that size, and writes the rest to a temporary
 * file a page at a time; the default, 64k, is less than a device's
 * creation changes (a page of each of a dozen trees), and a journal kept
 * in memory with temp_store=MEMORY grows by pieces of 1k, each allocated
 * and freed on its own (a fifth of a creation's instructions).  So the
 * journal gets NGX_IOT_STORE_JOURNAL bytes in one piece.  That piece
 * must stay under 128k: a journal that outgrows it is written to its
 * file in one write(), and SQLite's unix VFS writes at most 0x1ffff
 * bytes at a time (seekAndWriteFd()), failing the rest as "database or
 * disk is full" (t/18).  SQLite takes this only before its first use in
 * the process: the first store opened, in the master at the zone's start
 * (or in a worker's init_process, before any thread of ours runs).  If
 * SQLite was started already, by someone else, the journal stays in
 * memory the old way.
 */

#define NGX_IOT_STORE_JOURNAL  (124 * 1024)

static ngx_uint_t  ngx_iot_store_journal_tried;
static ngx_uint_t  ngx_iot_store_journal_sized;


static void
ngx_iot_store_configure(void)
{
    if (ngx_iot_store_journal_tried) {
        return;
    }

    ngx_iot_store_journal_tried = 1;
    ngx_iot_store_journal_sized =
        (sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, NGX_IOT_STORE_JOURNAL)
         == SQLITE_OK);
}


/*
 * Opens the connection.  SQLite opens a file it may not write read-only,
 * without a word, and maps its WAL index (the -shm file) read-only then
 * too; which files were writable is kept (ngx_iot_store_ready()).
 */

static ngx_int_t
ngx_iot_store_connect(ngx_iot_store_t *store, ngx_log_t *log)
{
    int         rc;
    ngx_err_t   err;
    ngx_uint_t  before;

    before = ngx_iot_store_files(store, &err, NULL);

    ngx_iot_store_configure();

    rc = sqlite3_open_v2((char *) store->path.data, &store->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        ngx_log_error(ngx_iot_store_level(), log, 0,
                      "iot store \"%V\" cannot be opened: %s", &store->path,
                      store->db ? sqlite3_errmsg(store->db)
                                : sqlite3_errstr(rc));
        ngx_iot_store_disconnect(store);
        return NGX_ERROR;
    }

    sqlite3_busy_timeout(store->db, NGX_IOT_STORE_BUSY_TIMEOUT);

    if (ngx_iot_store_private(&store->path, log) != NGX_OK) {
        ngx_iot_store_disconnect(store);
        return NGX_ERROR;
    }

    /*
     * WAL: readers never wait for the writer.  Checkpoints are not run
     * inside a commit but by ngx_iot_store_checkpoint(), in a thread, so
     * that neither a write nor the event loop waits for the disk; the
     * writer makes the log start over once it has grown past
     * NGX_IOT_STORE_WAL_PAGES (ngx_iot_store_wal_restart()).  The log's
     * file is cut back to 64m whenever it starts over.  A write's
     * savepoint keeps its statement journal in memory, not in a temporary
     * file written a page at a time (ngx_iot_store_configure()).
     */

    if (ngx_iot_store_sql(store, "PRAGMA journal_mode=WAL", log) != NGX_OK
        || ngx_iot_store_sql(store, store->sync == NGX_IOT_SYNC_FULL
                                    ? "PRAGMA synchronous=FULL"
                                    : "PRAGMA synchronous=NORMAL", log)
           != NGX_OK
        || ngx_iot_store_sql(store, "PRAGMA wal_autocheckpoint=0", log)
           != NGX_OK
        || ngx_iot_store_sql(store, "PRAGMA journal_size_limit=67108864",
                             log)
           != NGX_OK
        || ngx_iot_store_sql(store, "PRAGMA foreign_keys=OFF", log)
           != NGX_OK
        || (!ngx_iot_store_journal_sized
            && ngx_iot_store_sql(store, "PRAGMA temp_store=MEMORY", log)
               != NGX_OK))
    {
        ngx_iot_store_disconnect(store);
        return NGX_ERROR;
    }

    if (store->autocheckpoint) {
        (void) sqlite3_wal_autocheckpoint(store->db,
                                          (int) store->autocheckpoint);
    }

    if (store->cache) {
        (void) ngx_iot_store_cache(store, store->cache, log);
    }

    /* how long the log is after each commit: ngx_iot_store_wal_restart() */
    (void) sqlite3_wal_hook(store->db, ngx_iot_store_wal_hook, store);

    /* what changed while opening is found on the next call */

    store->writable = before & ngx_iot_store_files(store, &err, NULL);

    if (sqlite3_db_readonly(store->db, "main") == 1) {
        store->writable &= ~1;
    }

    return NGX_OK;
}


static void
ngx_iot_store_disconnect(ngx_iot_store_t *store)
{
    ngx_err_t   err;
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_SQL_LAST; i++) {
        if (store->stmt[i]) {
            sqlite3_finalize(store->stmt[i]);
            store->stmt[i] = NULL;
        }
    }

    for (i = 0; i < NGX_IOT_STORE_KEYED; i++) {
        if (store->keyed[i]) {
            sqlite3_finalize(store->keyed[i]);
            store->keyed[i] = NULL;
        }
    }

    if (store->db) {
        if (store->writable != NGX_IOT_STORE_ALL_WRITABLE
            || ngx_iot_store_files(store, &err, NULL)
               != NGX_IOT_STORE_ALL_WRITABLE)
        {
            /*
             * The last connection to close checkpoints the log, which
             * writes to the WAL index: not into files that cannot be
             * written.
             */
            (void) sqlite3_db_config(store->db,
                                     SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
                                     NULL);
        }

        sqlite3_close(store->db);
        store->db = NULL;
    }

    store->wal_pages = 0;
}


void
ngx_iot_store_close(ngx_iot_store_t *store)
{
    ngx_iot_store_disconnect(store);

    if (store->path.data) {
        ngx_free(store->path.data);
    }

    ngx_free(store);
}


/*
 * Which of the store's files may be written (a bit each; a file that is
 * not there yet counts as writable): a file made immutable (chattr +i) or
 * on a file system remounted read-only may not.
 */

static ngx_uint_t
ngx_iot_store_files(ngx_iot_store_t *store, ngx_err_t *err, u_char **name)
{
    u_char      *p;
    ngx_uint_t   i, mask;
    u_char       file[NGX_MAX_PATH];

    mask = 0;
    *err = 0;

    if (store->path.len + sizeof("-wal") > NGX_MAX_PATH) {
        return NGX_IOT_STORE_ALL_WRITABLE;
    }

    for (i = 0; ngx_iot_store_suffixes[i]; i++) {
        p = ngx_cpymem(file, store->path.data, store->path.len);
        ngx_cpystrn(p, (u_char *) ngx_iot_store_suffixes[i], sizeof("-wal"));

        if (access((char *) file, W_OK) == 0 || ngx_errno == NGX_ENOENT) {
            mask |= 1 << i;
            continue;
        }

        if (*err == 0) {
            *err = ngx_errno;

            if (name) {
                *name = (u_char *) ngx_iot_store_suffixes[i];
            }
        }
    }

    return mask;
}


/*
 * Before a connection starts a transaction.  SQLite maps a file's WAL
 * index (the -shm file) for writing, once per process for all of its
 * connections to the file; when the file is made immutable (chattr +i),
 * a write there (a reader's mark, too) is a SIGBUS.  So while any of the
 * files cannot be written the connection is closed and not used at all:
 * reads and writes fail, and every other connection of the process does
 * the same at its next use.  Once they can be written again it is opened
 * again, so the store heals by itself.  Never closed while one of its
 * statements is running.
 */

static ngx_int_t
ngx_iot_store_ready(ngx_iot_store_t *store, ngx_log_t *log)
{
    ngx_err_t      err;
    ngx_uint_t     now;
    sqlite3_stmt  *st;

    if (!ngx_iot_store_guarded && store->db) {
        return NGX_OK;
    }

    now = ngx_iot_store_files(store, &err, NULL);

    if (store->db && now == NGX_IOT_STORE_ALL_WRITABLE
        && store->writable == NGX_IOT_STORE_ALL_WRITABLE)
    {
        return NGX_OK;
    }

    if (store->db) {
        for (st = sqlite3_next_stmt(store->db, NULL);
             st;
             st = sqlite3_next_stmt(store->db, st))
        {
            if (sqlite3_stmt_busy(st)) {
                return NGX_OK;
            }
        }

        ngx_iot_store_disconnect(store);
    }

    if (now != NGX_IOT_STORE_ALL_WRITABLE) {
        ngx_iot_store_unwritable(store, log);
        return NGX_ERROR;
    }

    if (ngx_iot_store_connect(store, log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (store->writable != NGX_IOT_STORE_ALL_WRITABLE) {
        /* SQLite opened it read-only all the same */
        ngx_iot_store_disconnect(store);
        ngx_iot_store_unwritable(store, log);
        return NGX_ERROR;
    }

    ngx_iot_store_healed(store, log);

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_usable(ngx_iot_store_t *store, ngx_log_t *log)
{
    return ngx_iot_store_ready(store, log);
}


/* said once, for every connection to the file in every process */

static void
ngx_iot_store_unwritable(ngx_iot_store_t *store, ngx_log_t *log)
{
    u_char                 *name;
    ngx_err_t               err;
    ngx_atomic_uint_t       seen;
    ngx_iot_store_fault_t  *f;

    f = store->fault;

    (void) ngx_atomic_fetch_add(&f->errors, 1);

    for ( ;; ) {
        seen = f->seen;

        if (seen & (1 << SQLITE_READONLY)) {
            return;
        }

        if (ngx_atomic_cmp_set(&f->seen, seen,
                               seen | (1 << SQLITE_READONLY)))
        {
            break;
        }
    }

    if (seen == 0) {
        f->since = ngx_time();
        f->first = SQLITE_READONLY;
    }

    name = (u_char *) "";
    (void) ngx_iot_store_files(store, &err, &name);

    if (err) {
        ngx_log_error(NGX_LOG_ERR, log, err,
                      "iot store \"%V\" is not writable (\"%V%s\"): writes "
                      "are refused and uplinks are not recorded until it "
                      "is", &store->path, &store->path, name);

    } else {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "iot store \"%V\" is not writable (SQLite opened it "
                      "read-only): writes are refused and uplinks are not "
                      "recorded until it is", &store->path);
    }
}


/* the connection works: the end of whatever trouble its file had */

static void
ngx_iot_store_healed(ngx_iot_store_t *store, ngx_log_t *log)
{
    time_t                  since;
    ngx_atomic_uint_t       seen, repeated;
    ngx_iot_store_fault_t  *f;

    f = store->fault;
    seen = f->seen;

    /* a commit with nothing written works on a read-only connection too */

    if (seen == 0 || store->writable != NGX_IOT_STORE_ALL_WRITABLE
        || !ngx_atomic_cmp_set(&f->seen, seen, 0))
    {
        return;
    }

    since = (time_t) f->since;
    repeated = f->repeated;
    (void) ngx_atomic_fetch_add(&f->repeated, -repeated);

    if (seen & (1 << SQLITE_READONLY)) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "iot store \"%V\" is writable again after %T s; "
                      "%uA more failures were not logged", &store->path,
                      ngx_time() - since, repeated);
        return;
    }

    if (seen == (1 << SQLITE_BUSY) && repeated == 0) {
        /* a lock that was waited for too long once: said already */
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "iot store \"%V\" works again after %T s; %uA more "
                  "failures were not logged (the first: \"%s\")",
                  &store->path, ngx_time() - since, repeated,
                  sqlite3_errstr((int) f->first));
}


static ngx_int_t
ngx_iot_store_sql(ngx_iot_store_t *store, const char *sql, ngx_log_t *log)
{
    char  *err;

    if (sqlite3_exec(store->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        ngx_log_error(ngx_iot_store_level(), log, 0,
                      "iot store \"%V\": \"%s\" failed: %s", &store->path,
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
                           "SELECT t.id, t.uuid FROM installation i"
                           " JOIN teams t ON t.id = i.team_id",
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

    /* the installation's team from now on */

    if (sqlite3_prepare_v2(store->db,
                           "INSERT OR IGNORE INTO installation (id, team_id)"
                           " VALUES (1, ?1)", -1, &st, NULL)
        != SQLITE_OK)
    {
        ngx_iot_store_log_error(store, "making the team", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
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

    if (ngx_iot_store_ready(store, log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (store->writable != NGX_IOT_STORE_ALL_WRITABLE) {
        /* nothing can be copied into a file that cannot be written */
        return NGX_DECLINED;
    }

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

    /* a statement that starts a transaction: are the files as they were? */

    if (store->db == NULL || sqlite3_get_autocommit(store->db)) {
        if (ngx_iot_store_ready(store, ngx_cycle->log) != NGX_OK) {
            return NULL;
        }
    }

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


/*
 * A statement made for a keyed scan (its text depends on the sort and the
 * filters), kept among the last few made: a list's pages use the same.
 */

sqlite3_stmt *
ngx_iot_store_prepare(ngx_iot_store_t *store, u_char *sql, size_t len)
{
    const char    *text;
    ngx_uint_t     i;
    sqlite3_stmt  *st;

    if (store->db == NULL || sqlite3_get_autocommit(store->db)) {
        if (ngx_iot_store_ready(store, ngx_cycle->log) != NGX_OK) {
            return NULL;
        }
    }

    for (i = 0; i < NGX_IOT_STORE_KEYED; i++) {
        st = store->keyed[i];

        if (st == NULL) {
            continue;
        }

        text = sqlite3_sql(st);

        if (ngx_strlen(text) == len && ngx_strncmp(text, sql, len) == 0) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }

    if (sqlite3_prepare_v3(store->db, (char *) sql, (int) len,
                           SQLITE_PREPARE_PERSISTENT, &st, NULL)
        != SQLITE_OK)
    {
        return NULL;
    }

    i = store->keyed_next++ % NGX_IOT_STORE_KEYED;

    if (store->keyed[i]) {
        sqlite3_finalize(store->keyed[i]);
    }

    store->keyed[i] = st;

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


/*
 * An error is logged the first time its kind (SQLite's primary code) is
 * seen while the file has trouble; repeats are counted, and the count is
 * logged once the file works again (ngx_iot_store_healed()).  A disk full
 * keeps the log's own lines from being written too: the line that says it
 * works again comes after.
 */

void
ngx_iot_store_log_error(ngx_iot_store_t *store, const char *what,
    ngx_log_t *log)
{
    int                     code;
    ngx_atomic_uint_t       seen, bit;
    ngx_iot_store_fault_t  *f;

    /* not open: its files may not be written (said already), or worse */
    code = store->db ? (sqlite3_errcode(store->db) & 0xff) : SQLITE_READONLY;
    bit = (ngx_atomic_uint_t) 1 << (code & 31);
    f = store->fault;

    (void) ngx_atomic_fetch_add(&f->errors, 1);

    for ( ;; ) {
        seen = f->seen;

        if (seen & bit) {
            (void) ngx_atomic_fetch_add(&f->repeated, 1);

            ngx_log_debug3(NGX_LOG_DEBUG_CORE, log, 0,
                           "iot store: %s: %s (%d), again", what,
                           ngx_iot_store_error(store), code);
            return;
        }

        if (ngx_atomic_cmp_set(&f->seen, seen, seen | bit)) {
            break;
        }
    }

    if (seen == 0) {
        f->since = ngx_time();
        f->first = (ngx_atomic_uint_t) code;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0, "iot store \"%V\": %s: %s (%d)",
                  &store->path, what, ngx_iot_store_error(store),
                  store->db ? sqlite3_extended_errcode(store->db) : code);
}


ngx_int_t
ngx_iot_store_begin(ngx_iot_store_t *store, ngx_log_t *log)
{
    return ngx_iot_store_exec(store, NGX_IOT_SQL_BEGIN, log);
}


ngx_int_t
ngx_iot_store_commit(ngx_iot_store_t *store, ngx_log_t *log)
{
    if (ngx_iot_store_exec(store, NGX_IOT_SQL_COMMIT, log) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_iot_store_healed(store, log);

    return NGX_OK;
}


void
ngx_iot_store_rollback(ngx_iot_store_t *store, ngx_log_t *log)
{
    int            rc;
    sqlite3_stmt  *st;

    if (store->db == NULL || sqlite3_get_autocommit(store->db)) {
        return;
    }

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_ROLLBACK);
    if (st == NULL) {
        return;
    }

    rc = sqlite3_step(st);
    sqlite3_reset(st);

    /*
     * A COMMIT that failed on a full disk or an I/O error may have rolled
     * the transaction back itself: then there is nothing to say.
     */

    if (rc != SQLITE_DONE && !sqlite3_get_autocommit(store->db)) {
        ngx_iot_store_log_error(store, "ROLLBACK", log);
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
    return store->db ? sqlite3_errmsg(store->db)
                     : "its files may not be written";
}


/*
 * A connection that lives in a thread may checkpoint as it commits, which
 * keeps its log from growing forever.
 */

ngx_int_t
ngx_iot_store_autocheckpoint(ngx_iot_store_t *store, ngx_uint_t pages,
    ngx_log_t *log)
{
    store->autocheckpoint = pages;

    if (store->db == NULL) {
        return NGX_OK;
    }

    if (sqlite3_wal_autocheckpoint(store->db, (int) pages) != SQLITE_OK) {
        ngx_iot_store_log_error(store, "wal_autocheckpoint", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The connection's page cache, in KiB; a store not connected yet (its
 * files not writable) takes it when it connects.
 */

ngx_int_t
ngx_iot_store_cache(ngx_iot_store_t *store, ngx_uint_t kib, ngx_log_t *log)
{
    u_char  sql[64];

    store->cache = kib;

    if (store->db == NULL) {
        return NGX_OK;
    }

    ngx_snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%ui%Z", kib);

    return ngx_iot_store_sql(store, (char *) sql, log);
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

    if (store->wal_pages < NGX_IOT_STORE_WAL_PAGES || store->db == NULL
        || store->writable != NGX_IOT_STORE_ALL_WRITABLE)
    {
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
