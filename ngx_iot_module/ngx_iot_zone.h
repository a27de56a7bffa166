
/*
 * Copyright (C) nginx-iot authors
 *
 * The shared memory zone: what it holds, its locks, and the journal of the
 * write under way (ngx_iot_registry.c).
 */


#ifndef _NGX_IOT_ZONE_H_INCLUDED_
#define _NGX_IOT_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_index.h"
#include "ngx_iot_entity.h"


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


struct ngx_iot_zone_ctx_s {
    ngx_iot_sh_t              *sh;
    ngx_slab_pool_t           *shpool;
    ngx_str_t                  name;
    ngx_iot_conf_t            *conf;
};


ngx_int_t ngx_iot_registry_init_zone(ngx_shm_zone_t *shm_zone, void *data);
size_t ngx_iot_zone_size(ngx_iot_zone_ctx_t *ctx);
size_t ngx_iot_zone_used(ngx_iot_zone_ctx_t *ctx);

/* locks: one writer at a time across all workers; readers never wait for
 * the disk */
ngx_iot_zone_ctx_t *ngx_iot_lock_write(ngx_cycle_t *cycle, ngx_log_t *log,
    ngx_iot_rc_e *rc);
ngx_iot_zone_ctx_t *ngx_iot_lock_read(ngx_cycle_t *cycle);
void ngx_iot_unlock(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_unlock_read(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_zone_unlock(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_zone_lock(ngx_iot_zone_ctx_t *ctx);

/* the journal of the write under way, for repair after a crash */
void ngx_iot_pending_set(ngx_iot_zone_ctx_t *ctx, ngx_iot_pending_e kind,
    uint64_t id, u_char *hash, void *a0, void *a1);
void ngx_iot_pending_clear(ngx_iot_zone_ctx_t *ctx);


#endif /* _NGX_IOT_ZONE_H_INCLUDED_ */
