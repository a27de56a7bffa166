
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
#include <pthread.h>
#include "ngx_iot.h"
#include "ngx_iot_index.h"
#include "ngx_iot_fixed.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_store.h"
#include "ngx_iot_metrics.h"


/* a batch of writes (NGX_IOT_WRITE_BATCH) names two entities each at most */
#define NGX_IOT_WRITE_BATCH        64
#define NGX_IOT_JOURNAL_KEYS       (2 * NGX_IOT_WRITE_BATCH)

/* a wait for the zone's lock spins 1 + 2 + 4 + ... pauses below this */
#define NGX_IOT_ZONE_SPIN          256


typedef struct {
    ngx_uint_t                 entity;    /* ngx_iot_entity_e */
    uint64_t                   id;
    size_t                     len;       /* of bytes, for a byte key */
    u_char                     bytes[NGX_IOT_HASH_LEN];
} ngx_iot_journal_key_t;


/* the write under way (ngx_iot_journal.h) */
typedef struct {
    ngx_pid_t                  pid;       /* 0: none */
    ngx_uint_t                 nkeys;
    ngx_iot_journal_key_t      keys[NGX_IOT_JOURNAL_KEYS];
    void                     **alloc;     /* in the zone, grows */
    ngx_uint_t                 nalloc;
    ngx_uint_t                 size;
} ngx_iot_journal_t;


typedef struct ngx_iot_bus_s        ngx_iot_bus_t;


/*
 * A worker's messages taken in and not yet in the history: counted as
 * unrecorded by the next worker to start when it was killed.
 */
#define NGX_IOT_HISTORY_PEERS      32

typedef struct {
    ngx_atomic_t               pid;
    ngx_atomic_t               pending;
} ngx_iot_history_peer_t;


typedef struct {
    ngx_iot_bus_t             *bus;
    ngx_iot_index_t            collections;
    ngx_iot_index_t            devices;
    ngx_iot_index_t            imsi;
    ngx_iot_index_t            imei;
    ngx_iot_index_t            tokens;
    ngx_iot_index_t            sessions;
    ngx_iot_index_t            collection_uuids;
    ngx_iot_index_t            device_uuids;
    ngx_iot_index_t            adapters;
    ngx_iot_index_t            deveuis;
    ngx_iot_index_t            dvnuuids;
    ngx_iot_index_t            groups;
    ngx_iot_index_t            group_uuids;
    ngx_iot_index_t            members;
    ngx_iot_index_t            members_by_group;
    ngx_iot_index_t            members_by_device;
    ngx_iot_index_t            products;
    ngx_iot_index_t            product_ids;
    ngx_iot_index_t            interned;  /* shared UUIDs (ngx_iot_intern.h) */
    ngx_iot_fixed_t            device_mem;    /* devices, exactly sized */
    ngx_iot_index_t            iotda;         /* ngx_iot_iotda_t */
    ngx_iot_index_t            iotda_dids;
    ngx_iot_index_t            iotda_nodes;
    ngx_iot_index_t            iotda_children;
    uint64_t                   team_id;
    u_char                     team_uuid[NGX_IOT_UUID_SIZE];
    uint64_t                   user_id;       /* the first user, its own */
    ngx_iot_journal_t          journal;
    pthread_mutex_t            lock;      /* the zone's (ngx_iot_zone_lock) */
    ngx_uint_t                 retired;   /* replaced by a new zone */
    ngx_shmtx_sh_t             writer_lock;
    ngx_shmtx_t                writer;
    ngx_atomic_t               received;  /* uplink messages */
    ngx_atomic_t               unknown;   /* from no known device */
    ngx_atomic_t               large;     /* over NGX_IOT_PAYLOAD_MAX */
    ngx_atomic_t               unrecorded; /* not in the history */
    ngx_atomic_t               refused;   /* a wrong signature */
    ngx_atomic_t               malformed; /* not a message at all */
    ngx_atomic_t               retained;  /* last retention run, s */
    ngx_atomic_t               signatures[8];  /* refused (iotda), why */
    ngx_atomic_t               teams_deleted;  /* workers' caches of teams */
    ngx_iot_store_fault_t      store_fault;    /* logged once */
    ngx_iot_store_fault_t      history_fault;
    ngx_iot_history_peer_t     history_peers[NGX_IOT_HISTORY_PEERS];
    ngx_iot_metrics_sh_t       metrics;
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
uint64_t ngx_iot_team_id(ngx_cycle_t *cycle);
u_char *ngx_iot_team_uuid(ngx_cycle_t *cycle);
uint64_t ngx_iot_first_user(ngx_cycle_t *cycle);

/*
 * Locks: one writer at a time across all workers (the writer mutex), and
 * the zone's mutex, which a writer lets go while the store works, so that
 * readers never wait for the disk.
 */
/* store: the writer's connection, for a repair (NULL: this worker's) */
ngx_iot_zone_ctx_t *ngx_iot_lock_write(ngx_cycle_t *cycle,
    ngx_iot_store_t *store, ngx_log_t *log, ngx_iot_rc_e *rc);
ngx_iot_zone_ctx_t *ngx_iot_lock_read(ngx_cycle_t *cycle);
ngx_uint_t ngx_iot_zone_read_held(void);
void ngx_iot_unlock(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_writer_unlock(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_unlock_read(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_zone_unlock(ngx_iot_zone_ctx_t *ctx);
void ngx_iot_zone_lock(ngx_iot_zone_ctx_t *ctx);
/* any other lock of ours in the zone: freed when its holder died */
void ngx_iot_shmtx_lock(ngx_shmtx_t *mtx);


#endif /* _NGX_IOT_ZONE_H_INCLUDED_ */
