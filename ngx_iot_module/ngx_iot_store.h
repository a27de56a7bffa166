
/*
 * Copyright (C) nginx-iot authors
 *
 * The store: the data of record, behind typed calls (docs/store.md).  No
 * file outside the store's own sees its query language.  A connection
 * belongs to one process, or to one thread task at a time.
 *
 * Rows handed out (to a row handler, or by a find) point into the store's
 * memory: they are valid until the handler returns.
 */


#ifndef _NGX_IOT_STORE_H_INCLUDED_
#define _NGX_IOT_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_downlink.h"


/* what a store finds, lists, counts or deletes, and the row it hands out */
typedef enum {
    NGX_IOT_STORE_COLLECTIONS = 0,   /* ngx_iot_collection_t, by id */
    NGX_IOT_STORE_DEVICES,           /* ngx_iot_device_t, by id */
    NGX_IOT_STORE_TOKENS,            /* ngx_iot_token_t, by hint */
    NGX_IOT_STORE_SESSIONS,          /* ngx_iot_session_row_t, by address */
    NGX_IOT_STORE_HISTORY,           /* ngx_iot_message_t, newest first */
    NGX_IOT_STORE_DEVICE_HISTORY,    /* ngx_iot_message_t, newest first */
    NGX_IOT_STORE_DOWNLINKS,         /* ngx_iot_downlink_row_t, newest */
    NGX_IOT_STORE_DEVICE_DOWNLINKS,  /* ngx_iot_downlink_row_t, newest */
    NGX_IOT_STORE_ADAPTERS,          /* ngx_iot_adapter_t, by device, type */
    NGX_IOT_STORE_GROUPS,            /* ngx_iot_group_t, by id */
    NGX_IOT_STORE_MEMBERS,           /* ngx_iot_member_t, by group, device */
    NGX_IOT_STORE_GROUP_MEMBERS,     /* ngx_iot_member_t, by device id */
    NGX_IOT_STORE_DEVICE_MEMBERS,    /* ngx_iot_member_t, by group id */
    NGX_IOT_STORE_PRODUCTS,          /* ngx_iot_product_t, by id */
    NGX_IOT_STORE_IOTDA              /* ngx_iot_iotda_row_t, by device id */
} ngx_iot_store_kind_e;


/* the iotda dialect's part of a device, its texts in buf */
typedef struct {
    ngx_iot_iotda_t            e;
    u_char                     buf[NGX_IOT_IOTDA_IDS_MAX];
} ngx_iot_iotda_row_t;


/* a session as the store keeps it: with its gateway's name */
typedef struct {
    ngx_iot_session_t          session;   /* .gateway is not set */
    ngx_str_t                  gateway;
} ngx_iot_session_row_t;


/*
 * The key of one row: an id (a collection, a device; a session's IPv4
 * address in host byte order), or bytes (a token: its hash of
 * NGX_IOT_HASH_LEN bytes, or its hint of NGX_IOT_TOKEN_HINT_LEN; an
 * adapter: ngx_iot_adapter_key(), NGX_IOT_ADAPTER_KEY_LEN; a membership:
 * ngx_iot_member_key(), NGX_IOT_MEMBER_KEY_LEN).
 */
typedef struct {
    uint64_t                   id;
    u_char                    *data;
    size_t                     len;
} ngx_iot_store_key_t;


/*
 * Keyed scans (the things dialect's lists of DEVICES and GROUPS): in the
 * order of up to three sort fields, each ascending or descending, then by
 * id (in the direction of the last field; by id alone when there is
 * none), filtered by the store.
 */
#define NGX_IOT_SORT_CREATED       1
#define NGX_IOT_SORT_MODIFIED      2
#define NGX_IOT_SORT_NAME          3    /* ignoring the case of A-Z */
#define NGX_IOT_SORT_MAX           3

/* a device's name (its tags.name, or its id's text), in bytes, at most */
#define NGX_IOT_STORE_NAME_MAX     NGX_IOT_TAG_VALUE_MAX

typedef struct {
    ngx_uint_t                 n;
    u_char                     field[NGX_IOT_SORT_MAX];  /* NGX_IOT_SORT_* */
    u_char                     desc[NGX_IOT_SORT_MAX];
} ngx_iot_store_sort_t;

/* where a keyed scan is: a row's sort key and id */
typedef struct {
    uint64_t                   id;
    uint64_t                   created_at;
    uint64_t                   modified_at;
    size_t                     name_len;
    u_char                     name[NGX_IOT_STORE_NAME_MAX];
} ngx_iot_store_pos_t;

/*
 * What the rows of a keyed scan match (all that is set): q in the name or
 * the description, barcode in the barcode (both ignoring the case of
 * A-Z), one of the device types specs (nspecs UUIDs of 16 bytes), the
 * times (ms: created before, created since, modified before, modified
 * since; bit i of times_set for times[i]).
 */
typedef struct {
    ngx_str_t                  q;
    ngx_str_t                  barcode;
    u_char                    *specs;
    ngx_uint_t                 nspecs;
    uint64_t                   times[4];
    ngx_uint_t                 times_set;
} ngx_iot_store_filter_t;


/*
 * A scan in key order (history: newest first), a batch at a time.  Zeroed
 * and given kind (and scope, since, until), it starts at the beginning;
 * each row a handler takes moves it on.
 *
 *   COLLECTIONS     every collection, by id
 *   DEVICES         the devices of collection scope (0: of all), by id
 *   TOKENS          every token, by hint
 *   SESSIONS        every session, by address
 *   ADAPTERS        every network adapter
 *   GROUPS          the device groups of collection scope (0: of all), by id
 *   MEMBERS         every membership
 *   GROUP_MEMBERS   the memberships of group scope, by device id
 *   DEVICE_MEMBERS  the memberships of device scope, by group id
 *   PRODUCTS        every product, by id
 *   HISTORY         the messages received in collection scope, newest
 *                   first, received in [since, until] (until 0: no end)
 *   DEVICE_HISTORY  the same for the messages of device scope, only those
 *                   received while it was in collection (0: in any)
 *   DOWNLINKS       the downlinks of collection scope, newest first
 *   DEVICE_DOWNLINKS  the downlinks of device scope, newest first
 */
typedef struct {
    ngx_iot_store_kind_e       kind;
    uint64_t                   scope;
    uint64_t                   collection;    /* DEVICE_HISTORY */
    uint64_t                   since;
    uint64_t                   until;

    /* the position: after the row with this id, time (history), or key */
    uint64_t                   id;
    uint64_t                   time;
    u_char                     key[NGX_IOT_TOKEN_HINT_LEN];
    size_t                     key_len;

    unsigned                   started:1;
    unsigned                   done:1;    /* no row is left */

    /*
     * A keyed scan (keyed set; DEVICES and GROUPS, of collection scope or
     * of all): in sort's order, or backwards (reverse), from the start or
     * (started) after the row at at (from it, at_inclusive), up to the row
     * at end (bounded; to it, end_inclusive), with the rows that match
     * filter (NULL: all).  row is where the row handed to the handler is
     * (its sort key), at where the scan goes on from.
     */
    unsigned                   keyed:1;
    unsigned                   reverse:1;
    unsigned                   at_inclusive:1;
    unsigned                   bounded:1;
    unsigned                   end_inclusive:1;

    ngx_iot_store_sort_t       sort;
    ngx_iot_store_filter_t    *filter;
    ngx_iot_store_pos_t        at;
    ngx_iot_store_pos_t        end;
    ngx_iot_store_pos_t        row;
} ngx_iot_store_cursor_t;


/*
 * Takes one row (ngx_iot_collection_t *, ...: see ngx_iot_store_kind_e).
 * NGX_OK: the row is taken, go on; NGX_DONE: the row is taken, stop;
 * NGX_AGAIN: stop before this row (the next batch starts with it);
 * NGX_ERROR: stop.
 */
typedef ngx_int_t (*ngx_iot_store_row_pt)(void *row, void *data);


/*
 * The trouble of one file, shared by every connection to it in every
 * process (in the zone), so that it is logged once: each kind of error
 * once while it lasts (seen: a bit per SQLite primary code), and once
 * when the file works again, with how many failures were not logged.
 */
typedef struct {
    ngx_atomic_t               seen;
    ngx_atomic_t               since;     /* s */
    ngx_atomic_t               first;     /* SQLite's code */
    ngx_atomic_t               repeated;
    ngx_atomic_t               errors;    /* every one, for the metrics */
} ngx_iot_store_fault_t;


/* connections, schema, checkpoints: ngx_iot_store.c */
ngx_iot_store_t *ngx_iot_store_open(ngx_str_t *path, ngx_uint_t sync,
    ngx_log_t *log);
void ngx_iot_store_close(ngx_iot_store_t *store);
/*
 * NGX_OK: the connection can be used now; NGX_ERROR: its files cannot be
 * written (so it is not used at all) or it cannot be opened
 */
ngx_int_t ngx_iot_store_usable(ngx_iot_store_t *store, ngx_log_t *log);
/* in a process that serves: connections check their files from now on */
void ngx_iot_store_guard(void);
/* the connection logs its trouble through fault (shared by processes) */
void ngx_iot_store_watch(ngx_iot_store_t *store, ngx_iot_store_fault_t *fault,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_migrate(ngx_iot_store_t *store, ngx_uint_t history,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_team(ngx_iot_store_t *store, uint64_t *team_id,
    u_char *uuid, ngx_log_t *log);
ngx_int_t ngx_iot_store_checkpoint(ngx_iot_store_t *store, ngx_log_t *log);
/* by the writer after a write, holding the writer mutex: bounds the log */
ngx_int_t ngx_iot_store_wal_restart(ngx_iot_store_t *store, ngx_log_t *log);
ngx_int_t ngx_iot_store_cache(ngx_iot_store_t *store, ngx_uint_t kib,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_autocheckpoint(ngx_iot_store_t *store,
    ngx_uint_t pages, ngx_log_t *log);
ngx_int_t ngx_iot_store_begin(ngx_iot_store_t *store, ngx_log_t *log);
ngx_int_t ngx_iot_store_commit(ngx_iot_store_t *store, ngx_log_t *log);
void ngx_iot_store_rollback(ngx_iot_store_t *store, ngx_log_t *log);
/* one write of a batch, inside its transaction; keep 0: it is undone */
ngx_int_t ngx_iot_store_write_begin(ngx_iot_store_t *store, ngx_log_t *log);
ngx_int_t ngx_iot_store_write_end(ngx_iot_store_t *store, ngx_uint_t keep,
    ngx_log_t *log);
const char *ngx_iot_store_error(ngx_iot_store_t *store);

/* the registry's rows: ngx_iot_store_registry.c */

/* NGX_OK and the row given to handler, NGX_DECLINED: none, NGX_ERROR */
ngx_int_t ngx_iot_store_find(ngx_iot_store_t *store,
    ngx_iot_store_kind_e kind, ngx_iot_store_key_t *key,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log);
ngx_int_t ngx_iot_store_count(ngx_iot_store_t *store,
    ngx_iot_store_kind_e kind, uint64_t scope, ngx_uint_t *n,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_delete(ngx_iot_store_t *store,
    ngx_iot_store_kind_e kind, ngx_iot_store_key_t *key, ngx_log_t *log);

/* fresh: a new row, else the row with the same key changes */
ngx_int_t ngx_iot_store_collection_put(ngx_iot_store_t *store,
    ngx_iot_collection_t *c, ngx_uint_t fresh, ngx_log_t *log);
ngx_int_t ngx_iot_store_device_put(ngx_iot_store_t *store,
    ngx_iot_device_t *d, ngx_uint_t fresh, ngx_log_t *log);
ngx_int_t ngx_iot_store_token_put(ngx_iot_store_t *store,
    ngx_iot_token_t *t, ngx_uint_t fresh, ngx_log_t *log);
ngx_int_t ngx_iot_store_group_put(ngx_iot_store_t *store,
    ngx_iot_group_t *g, ngx_uint_t fresh, ngx_log_t *log);
ngx_int_t ngx_iot_store_member_put(ngx_iot_store_t *store,
    ngx_iot_member_t *m, ngx_log_t *log);
/* a new product */
ngx_int_t ngx_iot_store_product_put(ngx_iot_store_t *store,
    ngx_iot_product_t *p, ngx_log_t *log);

/*
 * The iotda dialect's part of a device, made or changed
 * (ngx_iot_store_iotda.c): node_id, the node id when it is not the
 * device's IMEI (empty: it is);
 * the secrets are written when set_* is set (empty: none), never read
 * back into a row.
 */
ngx_int_t ngx_iot_store_iotda_put(ngx_iot_store_t *store,
    ngx_iot_iotda_t *x, ngx_str_t *node_id, ngx_uint_t set_secret,
    ngx_str_t *secret, ngx_uint_t set_secondary, ngx_str_t *secondary,
    ngx_log_t *log);

/*
 * The secrets of a device's iotda part if its node id is node_id (empty:
 * it has none of its own, its node id is its IMEI), for the transports
 * that check them (a CoAP DTLS PSK): NGX_OK with the secret (and the
 * secondary one, or empty) copied into pool memory, NGX_DECLINED: no such
 * part, another node id or no secret.
 */
ngx_int_t ngx_iot_store_iotda_secret(ngx_iot_store_t *store,
    uint64_t device_id, ngx_str_t *node_id, ngx_pool_t *pool,
    ngx_str_t *secret, ngx_str_t *secondary, ngx_log_t *log);

/* a device leaves all its groups (it moved to another collection) */
ngx_int_t ngx_iot_store_device_leave(ngx_iot_store_t *store,
    uint64_t device_id, ngx_log_t *log);
/*
 * An adapter's secret (the shared secret; a LoRa adapter's AppKey) into
 * buf (at most size bytes): NGX_OK and its length, NGX_DECLINED: none.
 */
ngx_int_t ngx_iot_store_adapter_secret(ngx_iot_store_t *store,
    uint64_t device_id, ngx_uint_t type, u_char *buf, size_t size,
    size_t *len, ngx_log_t *log);
/* an adapter, made or changed: its secrets when given (else kept) */
ngx_int_t ngx_iot_store_adapter_put(ngx_iot_store_t *store,
    ngx_iot_adapter_t *a, ngx_str_t *secret, ngx_str_t *join_eui,
    ngx_log_t *log);

/* the network fields of a device (address, net_at, IMEISV, MSISDN) */
ngx_int_t ngx_iot_store_device_net(ngx_iot_store_t *store,
    ngx_iot_device_t *d, ngx_log_t *log);
ngx_int_t ngx_iot_store_session_put(ngx_iot_store_t *store,
    ngx_iot_session_row_t *s, ngx_log_t *log);
ngx_int_t ngx_iot_store_session_purge(ngx_iot_store_t *store,
    ngx_str_t *gateway, ngx_log_t *log);

/*
 * The devices other than except that hold the IPv4 address (host order):
 * as their address, or through a session.  At most max ids in ids; the
 * number found, or NGX_ERROR.
 */
ngx_int_t ngx_iot_store_address_holders(ngx_iot_store_t *store,
    in_addr_t addr, uint64_t except, uint64_t *ids, ngx_uint_t max,
    ngx_log_t *log);

/* scans: ngx_iot_store_list.c */

/*
 * Hands at most max rows (0: all) from where the cursor is to handler.
 * NGX_OK: max rows were handed, or none is left (cursor->done);
 * NGX_DONE, NGX_AGAIN: the handler stopped; NGX_ERROR.
 */
ngx_int_t ngx_iot_store_list(ngx_iot_store_t *store,
    ngx_iot_store_cursor_t *cursor, ngx_uint_t max,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log);

/* a keyed scan's position, copied (its name as long as it is) */
void ngx_iot_store_pos_copy(ngx_iot_store_pos_t *dst,
    ngx_iot_store_pos_t *src);

/* downlinks: ngx_iot_store_downlink.c */

/*
 * The rows (their ids are set), in the caller's transaction; then now
 * and then the finished ones of their collections beyond the newest keep
 * (0: no limit) are dropped.
 */
ngx_int_t ngx_iot_store_downlink_add(ngx_iot_store_t *store,
    ngx_iot_downlink_row_t *rows, ngx_uint_t n, ngx_uint_t keep,
    ngx_log_t *log);

/* a queued downlink (coap-pull), handed to the handler while it runs */
typedef ngx_int_t (*ngx_iot_store_downlink_pt)(ngx_iot_downlink_row_t *row,
    void *data);

/* the device's oldest queued one: the handler's answer, or NGX_DECLINED */
ngx_int_t ngx_iot_store_downlink_next(ngx_iot_store_t *store,
    uint64_t device, ngx_uint_t transport, ngx_iot_store_downlink_pt handler,
    void *data, ngx_log_t *log);
/* the oldest queued one of a transport after the id after (coap-push) */
ngx_int_t ngx_iot_store_downlink_push_next(ngx_iot_store_t *store,
    ngx_uint_t transport, uint64_t after, ngx_iot_store_downlink_pt handler,
    void *data, ngx_log_t *log);
ngx_int_t ngx_iot_store_downlink_queued(ngx_iot_store_t *store,
    uint64_t device, ngx_uint_t transport, ngx_uint_t *n, ngx_log_t *log);

/* a queued one is done (delivered, failed, expired); NGX_DECLINED: none */
ngx_int_t ngx_iot_store_downlink_settle(ngx_iot_store_t *store, uint64_t id,
    uint64_t device, ngx_uint_t state, ngx_uint_t reason, uint64_t updated,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_downlink_get(ngx_iot_store_t *store, uint64_t id,
    ngx_pool_t *pool, ngx_iot_downlink_row_t *row, ngx_log_t *log);
ngx_int_t ngx_iot_store_downlink_due(ngx_iot_store_t *store, uint64_t now,
    uint64_t *ids, uint64_t *devices, ngx_uint_t n, ngx_uint_t *found,
    ngx_log_t *log);

/* DTLS pre-shared keys of the collections dialect: ngx_iot_store_psk.c */

/* the device's key (len 0: none any more) */
ngx_int_t ngx_iot_store_psk_put(ngx_iot_store_t *store, uint64_t device_id,
    ngx_str_t *key, ngx_log_t *log);
/* into buf (size bytes at most): NGX_OK and its length, NGX_DECLINED */
ngx_int_t ngx_iot_store_psk_get(ngx_iot_store_t *store, uint64_t device_id,
    u_char *buf, size_t size, size_t *len, ngx_log_t *log);

/* the history: ngx_iot_store_history.c */

/* one message of a batch, between ngx_iot_store_begin() and _commit() */
ngx_int_t ngx_iot_store_history_add(ngx_iot_store_t *store,
    ngx_iot_message_t *m, ngx_log_t *log);
/* deletes up to a bounded number of messages received before "before" */
ngx_int_t ngx_iot_store_history_expire(ngx_iot_store_t *store,
    uint64_t before, ngx_uint_t *deleted, ngx_log_t *log);
/* keeps the newest max messages of each collection */
ngx_int_t ngx_iot_store_history_trim(ngx_iot_store_t *store,
    ngx_uint_t max, ngx_log_t *log);


/*
 * Users and teams (schema 8, ngx_iot_store_teams.c).  Rows handed to a
 * handler point into the store's memory, as other rows do.
 */
#define NGX_IOT_ROLE_MEMBER        0
#define NGX_IOT_ROLE_ADMIN         1

#define NGX_IOT_INVITE_LEN         32     /* hex digits */

typedef struct {
    uint64_t                   id;
    uint64_t                   team_id;   /* the user's own team */
    ngx_str_t                  name;
    ngx_str_t                  email;
    ngx_str_t                  phone;
    ngx_str_t                  avatar_url;
} ngx_iot_user_t;

typedef struct {
    uint64_t                   id;
    u_char                     uuid[NGX_IOT_UUID_SIZE];
    uint64_t                   owner;     /* a user's own team: the user */
    ngx_str_t                  tags;      /* a JSON object's text */
} ngx_iot_team_t;

/* a member of a team (with the user, where the call says so) */
typedef struct {
    uint64_t                   team_id;
    ngx_uint_t                 role;      /* NGX_IOT_ROLE_* */
    ngx_iot_user_t             user;
} ngx_iot_membership_t;

typedef struct {
    u_char                     code[NGX_IOT_INVITE_LEN];
    uint64_t                   team_id;
    uint64_t                   created_at;    /* ms */
} ngx_iot_invite_t;

/* the installation's first user, made with its first team */
ngx_int_t ngx_iot_store_first_user(ngx_iot_store_t *store, uint64_t team_id,
    uint64_t *user_id, ngx_log_t *log);
ngx_int_t ngx_iot_store_token_user(ngx_iot_store_t *store, u_char *hash,
    uint64_t user_id, ngx_log_t *log);

/* reads: NGX_OK, NGX_DECLINED (none for a find), NGX_ERROR */
ngx_int_t ngx_iot_store_memberships(ngx_iot_store_t *store,
    uint64_t user_id, ngx_iot_store_row_pt handler, void *data,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_team_find(ngx_iot_store_t *store, uint64_t id,
    u_char *uuid, ngx_iot_store_row_pt handler, void *data, ngx_log_t *log);
ngx_int_t ngx_iot_store_team_members(ngx_iot_store_t *store,
    uint64_t team_id, uint64_t user_id, ngx_iot_store_row_pt handler,
    void *data, ngx_log_t *log);
ngx_int_t ngx_iot_store_user_find(ngx_iot_store_t *store, uint64_t id,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log);
ngx_int_t ngx_iot_store_users(ngx_iot_store_t *store,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log);
ngx_int_t ngx_iot_store_invites(ngx_iot_store_t *store, uint64_t team_id,
    u_char *code, ngx_iot_store_row_pt handler, void *data, ngx_log_t *log);
ngx_int_t ngx_iot_store_team_collections(ngx_iot_store_t *store,
    uint64_t team_id, ngx_uint_t *n, ngx_log_t *log);

/* writes, in a write's transaction */
ngx_int_t ngx_iot_store_user_add(ngx_iot_store_t *store, ngx_iot_user_t *u,
    u_char *team_uuid, ngx_log_t *log);
ngx_int_t ngx_iot_store_team_add(ngx_iot_store_t *store, ngx_iot_team_t *t,
    uint64_t creator, ngx_log_t *log);
ngx_int_t ngx_iot_store_team_tags(ngx_iot_store_t *store, uint64_t id,
    ngx_str_t *tags, ngx_log_t *log);
ngx_int_t ngx_iot_store_team_delete(ngx_iot_store_t *store, uint64_t id,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_team_member_put(ngx_iot_store_t *store,
    uint64_t team_id, uint64_t user_id, ngx_uint_t role, ngx_log_t *log);
ngx_int_t ngx_iot_store_team_member_delete(ngx_iot_store_t *store,
    uint64_t team_id, uint64_t user_id, ngx_log_t *log);
ngx_int_t ngx_iot_store_invite_add(ngx_iot_store_t *store,
    ngx_iot_invite_t *inv, ngx_log_t *log);
ngx_int_t ngx_iot_store_invite_delete(ngx_iot_store_t *store, u_char *code,
    ngx_log_t *log);


/* this process's connection to the registry's store (ngx_iot_module.c) */
ngx_iot_store_t *ngx_iot_store_get(ngx_cycle_t *cycle, ngx_log_t *log);


#endif /* _NGX_IOT_STORE_H_INCLUDED_ */
