
/*
 * Copyright (C) nginx-iot authors
 *
 * What every part of the module shares: the version, the result codes,
 * the core configuration.  Each concern has a header of its own
 * (ngx_iot_id.h, ngx_iot_index.h, ngx_iot_entity.h, ngx_iot_json.h,
 * ngx_iot_zone.h, ngx_iot_store.h, ngx_iot_registry.h, ngx_iot_ident.h,
 * ngx_iot_history.h, ngx_iot_token.h, ngx_iot_session.h, and inside the
 * registry ngx_iot_entities.h, ngx_iot_journal.h, ngx_iot_write.h); the
 * first ones are included at the end of this one until every file
 * includes what it uses.
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


/* the structure that holds field, from a pointer to that field */
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
    NGX_IOT_STORE_ERROR,
    NGX_IOT_NO_TRANSPORT,     /* downlink: not given by this server */
    NGX_IOT_UNAVAILABLE,      /* downlink: nothing to send from */
    NGX_IOT_NO_ADDRESS,       /* downlink: the device cannot be reached */
    NGX_IOT_SEND_FAILED,
    NGX_IOT_CONFLICT_DEVEUI,
    NGX_IOT_CONFLICT_DVNUUID,
    NGX_IOT_EXISTS,           /* the device has an adapter of that type */
    NGX_IOT_IMMUTABLE,        /* an adapter's identifier cannot change */
    NGX_IOT_OTHER_COLLECTION, /* a group takes devices of its own only */
    NGX_IOT_HAS_GROUPS,       /* a collection with device groups stays */
    NGX_IOT_HAS_PRODUCTS,     /* a collection with products stays */
    NGX_IOT_FORBIDDEN,        /* teams: the caller's role does not allow */
    NGX_IOT_HAS_CHILDREN,     /* a device with child devices stays */
    NGX_IOT_QUEUED,           /* posted: the answer comes later */
    NGX_IOT_QUEUE_FULL,       /* downlink: the device's queue is full */
    NGX_IOT_REFUSED,          /* downlink: the device answered an error */
    NGX_IOT_NO_ANSWER         /* downlink: the device did not answer */
} ngx_iot_rc_e;


#include "ngx_iot_message.h"


typedef struct ngx_iot_store_s      ngx_iot_store_t;
typedef struct ngx_iot_zone_ctx_s   ngx_iot_zone_ctx_t;
typedef struct ngx_iot_bus_local_s  ngx_iot_bus_local_t;
typedef struct ngx_iot_history_s    ngx_iot_history_t;
typedef struct ngx_iot_conf_s       ngx_iot_conf_t;
typedef struct ngx_iot_writer_s     ngx_iot_writer_t;
typedef struct ngx_iot_downlink_sender_s  ngx_iot_downlink_sender_t;

/* udp, coap-push, coap-pull (ngx_iot_downlink.h) */
#define NGX_IOT_DOWNLINK_TRANSPORTS  3


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
    ngx_uint_t                 downlink_keep;
    ngx_msec_t                 downlink_ttl;  /* a waiting one's; 0: none */
    ngx_uint_t                 field_mask_default;   /* NGX_IOT_MASK_* */
    ngx_uint_t                 field_mask_forced;
    ngx_flag_t                 event_loop_realtime;  /* SCHED_RR */
    ngx_flag_t                 outputs_private;  /* may reach private */
    ngx_uint_t                 outputs_queue;
    ngx_str_t                  outputs_ifttt;    /* the maker service */
    ngx_str_t                  outputs_ca_file;  /* "": the system's */
    ngx_iot_store_t           *store;     /* this worker's connection */
    ngx_iot_history_t         *history;   /* this worker's */
    ngx_iot_bus_local_t       *bus;       /* this worker's side */
    ngx_iot_writer_t          *writer;    /* this worker's registry writes */
    ngx_iot_downlink_sender_t *downlink[NGX_IOT_DOWNLINK_TRANSPORTS];
    ngx_array_t               *metrics;   /* sources (ngx_iot_metrics.h) */
    ngx_event_t                checkpoint;
#if (NGX_THREADS)
    ngx_thread_pool_t         *thread_pool;
    ngx_thread_task_t         *checkpoint_task;
    ngx_iot_store_t           *checkpoint_store;  /* the thread's own */
    ngx_uint_t                 checkpoint_busy;
#endif
};


#include "ngx_iot_auth.h"


extern ngx_module_t  ngx_iot_module;


ngx_iot_conf_t *ngx_iot_get_conf(ngx_cycle_t *cycle);
ngx_iot_zone_ctx_t *ngx_iot_zone_ctx(ngx_cycle_t *cycle);


/* every core concern, for the files that include this header alone */
#include "ngx_iot_id.h"
#include "ngx_iot_index.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_json.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_ident.h"
#include "ngx_iot_history.h"
#include "ngx_iot_token.h"



/* ngx_iot_bus.c */
ngx_int_t ngx_iot_bus_init_zone(ngx_slab_pool_t *shpool, ngx_iot_sh_t *sh,
    size_t size);
ngx_int_t ngx_iot_bus_init_process(ngx_cycle_t *cycle, ngx_iot_sh_t *sh,
    ngx_iot_bus_local_t **out);
void ngx_iot_bus_exit_process(ngx_iot_bus_local_t *bl);


/* ngx_iot_token.c: authentication */
ngx_int_t ngx_iot_authenticate(ngx_cycle_t *cycle, ngx_str_t *token,
    ngx_pool_t *pool, ngx_iot_principal_t *who);


#endif /* _NGX_IOT_H_INCLUDED_ */
