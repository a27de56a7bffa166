
/*
 * Copyright (C) nginx-iot authors
 *
 * The core shared by every dialect and transport: the registry of
 * collections, devices and tokens, kept in SQLite (the data of record) and
 * indexed in a shared memory zone that every worker reads.
 */


#ifndef _NGX_IOT_H_INCLUDED_
#define _NGX_IOT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif
#include <jansson.h>
#include <sqlite3.h>


#define NGX_IOT_VERSION            "0.1.0"

#ifndef NGX_IOT_BUILD_DATE
#define NGX_IOT_BUILD_DATE         "unknown"
#endif

#define NGX_IOT_ID_LEN             13
#define NGX_IOT_IDENT_MAX_DIGITS   16
#define NGX_IOT_TOKEN_LEN          64
#define NGX_IOT_TOKEN_HINT_LEN     12
#define NGX_IOT_HASH_LEN           32

#define NGX_IOT_TAGS_MAX           100
#define NGX_IOT_TAG_NAME_MAX       64
#define NGX_IOT_TAG_VALUE_MAX      1024
#define NGX_IOT_RESOURCE_MAX       512
#define NGX_IOT_TAGS_TEXT_MAX      8192

#define NGX_IOT_MASK_IMSI          0x01
#define NGX_IOT_MASK_IMEI          0x02
#define NGX_IOT_MASK_MSISDN        0x04
#define NGX_IOT_MASK_LOCATION      0x08

#define NGX_IOT_SYNC_NORMAL        1
#define NGX_IOT_SYNC_FULL          2


/* the structure of type that holds field at ptr */
#define ngx_iot_container_of(ptr, type, field)                               \
    ((type *) ((u_char *) (ptr) - offsetof(type, field)))


/* the outcome of a registry operation, mapped to an error by each dialect */
typedef enum {
    NGX_IOT_OK = 0,
    NGX_IOT_NOT_FOUND,
    NGX_IOT_COLLECTION_NOT_FOUND,
    NGX_IOT_CONFLICT_IMSI,
    NGX_IOT_CONFLICT_IMEI,
    NGX_IOT_NOT_EMPTY,
    NGX_IOT_TOO_MANY_TAGS,
    NGX_IOT_ZONE_FULL,
    NGX_IOT_RETIRED,
    NGX_IOT_POOL_EXHAUSTED,
    NGX_IOT_STORE_ERROR
} ngx_iot_rc_e;


/* an intrusive link of a chained hash index in shared memory */
typedef struct ngx_iot_link_s  ngx_iot_link_t;

struct ngx_iot_link_s {
    ngx_iot_link_t            *next;
    uint64_t                   key;
};


typedef struct {
    ngx_iot_link_t           **buckets;
    ngx_uint_t                 mask;
    ngx_uint_t                 nelts;
} ngx_iot_index_t;


/* tags are kept as the text of a compact JSON object of strings */
typedef struct {
    u_char                    *data;
    uint32_t                   len;
} ngx_iot_text_t;


typedef struct {
    ngx_iot_link_t             id;
    uint64_t                   team_id;
    uint32_t                   field_mask;
    uint32_t                   ndevices;
    ngx_iot_text_t             tags;
} ngx_iot_collection_t;


typedef struct {
    ngx_iot_link_t             id;
    ngx_iot_link_t             imsi;
    ngx_iot_link_t             imei;
    uint64_t                   collection_id;
    ngx_iot_text_t             tags;
    uint64_t                   net_at;
    uint64_t                   net_cell;
    uint64_t                   net_imeisv;    /* ident keys, 0: unknown */
    uint64_t                   net_msisdn;
    u_char                     net_family;
    u_char                     net_addr[16];
} ngx_iot_device_t;


/* the device behind an address, from RADIUS accounting */
typedef struct {
    ngx_iot_link_t             addr;          /* key: IPv4 address */
    uint64_t                   device_id;
    uint64_t                   gateway;       /* ngx_iot_gateway_key() */
    u_char                     session_id[64];
    size_t                     session_id_len;
} ngx_iot_session_t;


typedef struct {
    ngx_iot_link_t             id;
    u_char                     hash[NGX_IOT_HASH_LEN];
    u_char                     hint[NGX_IOT_TOKEN_HINT_LEN];
    ngx_uint_t                 write;
    ngx_iot_text_t             resource;
    ngx_iot_text_t             tags;
} ngx_iot_token_t;


#include "ngx_iot_message.h"


/* a write between its SQLite commit and its shared memory update */
typedef enum {
    NGX_IOT_PENDING_NONE = 0,
    NGX_IOT_PENDING_COLLECTION,
    NGX_IOT_PENDING_DEVICE,
    NGX_IOT_PENDING_TOKEN,
    NGX_IOT_PENDING_SESSION
} ngx_iot_pending_e;


typedef struct {
    ngx_pid_t                  pid;
    ngx_iot_pending_e          kind;
    uint64_t                   id;
    uint64_t                   id2;       /* a session's device */
    u_char                     hash[NGX_IOT_HASH_LEN];
    void                      *alloc[2];
} ngx_iot_pending_t;


typedef struct ngx_iot_bus_s        ngx_iot_bus_t;
typedef struct ngx_iot_bus_local_s  ngx_iot_bus_local_t;
typedef struct ngx_iot_history_s    ngx_iot_history_t;


typedef struct {
    ngx_iot_bus_t             *bus;
    ngx_iot_index_t            collections;
    ngx_iot_index_t            devices;
    ngx_iot_index_t            imsi;
    ngx_iot_index_t            imei;
    ngx_iot_index_t            tokens;
    ngx_iot_index_t            sessions;
    uint64_t                   team_id;
    ngx_iot_pending_t          pending;
    ngx_uint_t                 retired;   /* replaced by a new zone */
    ngx_shmtx_sh_t             writer_lock;
    ngx_shmtx_t                writer;
    ngx_atomic_t               received;  /* uplink messages */
    ngx_atomic_t               unknown;   /* from no known device */
    ngx_atomic_t               large;     /* over NGX_IOT_PAYLOAD_MAX */
    ngx_atomic_t               unrecorded; /* not in the history */
    ngx_atomic_t               retained;  /* last retention run, s */
} ngx_iot_sh_t;


typedef struct ngx_iot_conf_s  ngx_iot_conf_t;

typedef struct {
    ngx_iot_sh_t              *sh;
    ngx_slab_pool_t           *shpool;
    ngx_str_t                  name;
    ngx_iot_conf_t            *conf;
} ngx_iot_zone_ctx_t;


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
    NGX_IOT_SQL_LAST
} ngx_iot_sql_e;


typedef struct {
    sqlite3                   *db;
    sqlite3_stmt              *stmt[NGX_IOT_SQL_LAST];
} ngx_iot_store_t;


struct ngx_iot_conf_s {
    ngx_str_t                  store_path;
    ngx_str_t                  history_path;  /* "<store_path>-history" */
    ngx_str_t                  token_path;
    ngx_uint_t                 sync;
    ngx_shm_zone_t            *shm_zone;
    u_char                     admin_hash[NGX_IOT_HASH_LEN];
    ngx_flag_t                 admin_set;
    size_t                     bus_size;
    time_t                     history_max_age;
    ngx_uint_t                 history_max_count;
    ngx_iot_store_t           *store;     /* this worker's connection */
    ngx_iot_history_t         *history;   /* this worker's */
    ngx_iot_bus_local_t       *bus;       /* this worker's side */
    ngx_event_t                checkpoint;
#if (NGX_THREADS)
    ngx_thread_pool_t         *thread_pool;
    ngx_thread_task_t         *checkpoint_task;
    ngx_iot_store_t           *checkpoint_store;  /* the thread's own */
    ngx_uint_t                 checkpoint_busy;
#endif
};


/* what a caller asks to change; absent parts are left as they are */
typedef struct {
    uint64_t                   collection_id;
    uint64_t                   imsi;
    uint64_t                   imei;
    json_t                    *tags;
} ngx_iot_device_change_t;


typedef struct {
    uint64_t                   team_id;
    uint32_t                   mask_set;
    uint32_t                   mask_value;
    json_t                    *tags;
} ngx_iot_collection_change_t;


typedef struct {
    ngx_str_t                  resource;
    ngx_int_t                  write;     /* -1 unchanged */
    json_t                    *tags;
} ngx_iot_token_change_t;


#include "ngx_iot_auth.h"


extern ngx_module_t  ngx_iot_module;


ngx_iot_conf_t *ngx_iot_get_conf(ngx_cycle_t *cycle);
ngx_iot_store_t *ngx_iot_store_get(ngx_cycle_t *cycle, ngx_log_t *log);
ngx_iot_zone_ctx_t *ngx_iot_zone_ctx(ngx_cycle_t *cycle);

/* ngx_iot_id.c */
uint64_t ngx_iot_id_new(void);
u_char *ngx_iot_id_encode(u_char *p, uint64_t id);
ngx_int_t ngx_iot_id_decode(u_char *p, size_t len, uint64_t *id);
ngx_int_t ngx_iot_ident_decode(u_char *p, size_t len, uint64_t *key);
u_char *ngx_iot_ident_encode(u_char *p, uint64_t key);
ngx_int_t ngx_iot_random(u_char *buf, size_t len);
uint64_t ngx_iot_now_ms(void);

/* ngx_iot_json.c */
ngx_int_t ngx_iot_tags_check(json_t *tags, const char **err);
ngx_iot_rc_e ngx_iot_tags_merge(ngx_iot_text_t *cur, json_t *patch,
    ngx_pool_t *pool, ngx_str_t *out);
ngx_int_t ngx_iot_tags_get(ngx_iot_text_t *tags, ngx_str_t *name,
    ngx_pool_t *pool, ngx_str_t *value);

/* ngx_iot_index.c */
ngx_int_t ngx_iot_index_init(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx,
    ngx_uint_t hint);
ngx_iot_link_t *ngx_iot_index_find(ngx_iot_index_t *idx, uint64_t key);
void ngx_iot_index_insert(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx,
    ngx_iot_link_t *link);
void ngx_iot_index_remove(ngx_iot_index_t *idx, ngx_iot_link_t *link);

/* ngx_iot_store.c */
ngx_iot_store_t *ngx_iot_store_open(ngx_str_t *path, ngx_uint_t sync,
    ngx_log_t *log);
void ngx_iot_store_close(ngx_iot_store_t *store);
ngx_int_t ngx_iot_store_migrate(ngx_iot_store_t *store, ngx_uint_t history,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_team(ngx_iot_store_t *store, uint64_t *team_id,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_checkpoint(ngx_iot_store_t *store, ngx_log_t *log);
sqlite3_stmt *ngx_iot_store_stmt(ngx_iot_store_t *store, ngx_iot_sql_e sql);
ngx_int_t ngx_iot_store_exec(ngx_iot_store_t *store, ngx_iot_sql_e sql,
    ngx_log_t *log);
void ngx_iot_store_log_error(ngx_iot_store_t *store, const char *what,
    ngx_log_t *log);
void ngx_iot_store_row_collection(sqlite3_stmt *st,
    ngx_iot_collection_t *c);
void ngx_iot_store_row_device(sqlite3_stmt *st, ngx_iot_device_t *d);
void ngx_iot_store_row_token(sqlite3_stmt *st, ngx_iot_token_t *t);
void ngx_iot_store_row_session(sqlite3_stmt *st, ngx_iot_session_t *s,
    ngx_str_t *gateway);
u_char *ngx_iot_addr_text(u_char *p, ngx_iot_device_t *d);

/* ngx_iot_registry.c */
ngx_int_t ngx_iot_registry_init_zone(ngx_shm_zone_t *shm_zone, void *data);
size_t ngx_iot_zone_size(ngx_iot_zone_ctx_t *ctx);
size_t ngx_iot_zone_used(ngx_iot_zone_ctx_t *ctx);
uint64_t ngx_iot_team_id(ngx_cycle_t *cycle);
ngx_int_t ngx_iot_token_principal(ngx_cycle_t *cycle, u_char *hash,
    ngx_pool_t *pool, ngx_iot_principal_t *who);
ngx_uint_t ngx_iot_collection_exists(ngx_cycle_t *cycle, uint64_t id);
ngx_iot_rc_e ngx_iot_collection_get(ngx_cycle_t *cycle, uint64_t id,
    ngx_pool_t *pool, ngx_iot_collection_t *out);
ngx_iot_rc_e ngx_iot_collection_create(ngx_cycle_t *cycle,
    ngx_iot_collection_change_t *ch, ngx_pool_t *pool,
    ngx_iot_collection_t *out, ngx_log_t *log);
ngx_iot_rc_e ngx_iot_collection_update(ngx_cycle_t *cycle, uint64_t id,
    ngx_iot_collection_change_t *ch, ngx_pool_t *pool,
    ngx_iot_collection_t *out, ngx_log_t *log);
ngx_iot_rc_e ngx_iot_collection_delete(ngx_cycle_t *cycle, uint64_t id,
    ngx_log_t *log);
ngx_iot_rc_e ngx_iot_device_get(ngx_cycle_t *cycle, uint64_t id,
    uint64_t cid, ngx_pool_t *pool, ngx_iot_device_t *out);
ngx_iot_rc_e ngx_iot_device_create(ngx_cycle_t *cycle,
    ngx_iot_device_change_t *ch, ngx_pool_t *pool, ngx_iot_device_t *out,
    ngx_log_t *log);
ngx_iot_rc_e ngx_iot_device_update(ngx_cycle_t *cycle, uint64_t id,
    uint64_t cid, ngx_iot_device_change_t *ch, ngx_pool_t *pool,
    ngx_iot_device_t *out, ngx_log_t *log);
ngx_iot_rc_e ngx_iot_device_delete(ngx_cycle_t *cycle, uint64_t id,
    uint64_t cid, ngx_log_t *log);
ngx_iot_rc_e ngx_iot_token_get(ngx_cycle_t *cycle, u_char *hash,
    ngx_pool_t *pool, ngx_iot_token_t *out);
ngx_iot_rc_e ngx_iot_token_create(ngx_cycle_t *cycle,
    ngx_iot_token_change_t *ch, ngx_pool_t *pool, ngx_iot_token_t *out,
    u_char *secret, ngx_log_t *log);
ngx_iot_rc_e ngx_iot_token_update(ngx_cycle_t *cycle, u_char *hash,
    ngx_iot_token_change_t *ch, ngx_pool_t *pool, ngx_iot_token_t *out,
    ngx_log_t *log);
ngx_iot_rc_e ngx_iot_token_delete(ngx_cycle_t *cycle, u_char *hash,
    ngx_log_t *log);

/* registry internals, for the core's other files */
ngx_iot_zone_ctx_t *ngx_iot_lock_write(ngx_cycle_t *cycle, ngx_log_t *log,
    ngx_iot_rc_e *rc);
ngx_iot_zone_ctx_t *ngx_iot_lock_read(ngx_cycle_t *cycle);
void ngx_iot_unlock(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_unlock_read(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_zone_unlock(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_zone_lock(ngx_iot_zone_ctx_t *ctx);
ngx_iot_device_t *ngx_iot_device_find(ngx_iot_zone_ctx_t *ctx, uint64_t id);
ngx_iot_rc_e ngx_iot_device_copy(ngx_iot_device_t *d, ngx_pool_t *pool,
    ngx_iot_device_t *out);
void ngx_iot_pending_set(ngx_iot_zone_ctx_t *ctx, ngx_iot_pending_e kind,
    uint64_t id, u_char *hash, void *a0, void *a1);
void ngx_iot_pending_clear(ngx_iot_zone_ctx_t *ctx);
ngx_int_t ngx_iot_session_load(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_session_t *row);
void ngx_iot_session_repair(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_iot_pending_t *p);

/* ngx_iot_uplink.c */
ngx_iot_rc_e ngx_iot_uplink(ngx_cycle_t *cycle, in_addr_t addr,
    ngx_iot_message_t *m, ngx_pool_t *pool, ngx_log_t *log);

/* ngx_stream_iot_module.c */
ngx_socket_t ngx_iot_uplink_socket(ngx_cycle_t *cycle, ngx_uint_t *port);

/* ngx_iot_history.c */
ngx_int_t ngx_iot_history_path(ngx_pool_t *pool, ngx_str_t *store,
    ngx_str_t *path);
ngx_int_t ngx_iot_history_init_process(ngx_cycle_t *cycle,
    ngx_iot_conf_t *icf);
void ngx_iot_history_exit_process(ngx_iot_history_t *h);
ngx_int_t ngx_iot_history_add(ngx_cycle_t *cycle, ngx_iot_message_t *m,
    ngx_log_t *log);
ngx_iot_store_t *ngx_iot_history_reader(ngx_cycle_t *cycle, ngx_log_t *log);
void ngx_iot_history_row(sqlite3_stmt *st, ngx_iot_message_t *m);

/* ngx_iot_bus.c */
ngx_int_t ngx_iot_bus_init_zone(ngx_slab_pool_t *shpool, ngx_iot_sh_t *sh,
    size_t size);
ngx_int_t ngx_iot_bus_init_process(ngx_cycle_t *cycle, ngx_iot_sh_t *sh,
    ngx_iot_bus_local_t **out);
void ngx_iot_bus_exit_process(ngx_iot_bus_local_t *bl);

/* ngx_iot_token.c */
void ngx_iot_token_hash(u_char *token, size_t len, u_char *hash);
ngx_int_t ngx_iot_token_find_hash(ngx_cycle_t *cycle, ngx_str_t *name,
    u_char *hash, ngx_log_t *log);
ngx_int_t ngx_iot_authenticate(ngx_cycle_t *cycle, ngx_str_t *token,
    ngx_pool_t *pool, ngx_iot_principal_t *who);
ngx_int_t ngx_iot_admin_token_load(ngx_cycle_t *cycle, ngx_iot_conf_t *conf);


#endif /* _NGX_IOT_H_INCLUDED_ */
