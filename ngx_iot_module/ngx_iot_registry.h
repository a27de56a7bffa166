
/*
 * Copyright (C) nginx-iot authors
 *
 * The registry: collections, devices and tokens, read from the zone and
 * written through the store (ngx_iot_registry.c).
 */


#ifndef _NGX_IOT_REGISTRY_H_INCLUDED_
#define _NGX_IOT_REGISTRY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_zone.h"


/*
 * A caller that waits for its write (wait NULL: the write runs here and
 * now).  A write with a wait is posted to this worker's writer and answers
 * NGX_IOT_QUEUED; once it is durable (or failed) handler is called with
 * rc, out (what out would have had) and a new token's secret.  Without a
 * writer it runs here and now and answers as without a wait.  What the
 * change points to (a resource) must live until the answer; its tags are
 * kept by the write.
 */
typedef struct ngx_iot_wait_s  ngx_iot_wait_t;

typedef void (*ngx_iot_wait_pt)(ngx_iot_wait_t *wait);

struct ngx_iot_wait_s {
    ngx_iot_wait_pt            handler;
    void                      *data;
    ngx_pool_t                *pool;      /* lives until the answer */
    ngx_iot_rc_e               rc;
    union {
        ngx_iot_collection_t   c;
        ngx_iot_device_t       d;
        ngx_iot_token_t        t;
        ngx_iot_adapter_t      a;
        ngx_iot_group_t        g;
        ngx_iot_member_t       m;
        ngx_iot_product_t      p;
    } out;
    u_char                     secret[NGX_IOT_TOKEN_LEN];
};


ngx_int_t ngx_iot_token_principal(ngx_cycle_t *cycle, u_char *hash,
    ngx_pool_t *pool, ngx_iot_principal_t *who);

ngx_uint_t ngx_iot_collection_exists(ngx_cycle_t *cycle, uint64_t id);
/* a collection's team; 0: no such collection */
uint64_t ngx_iot_collection_team(ngx_cycle_t *cycle, uint64_t id);
ngx_iot_rc_e ngx_iot_collection_get(ngx_cycle_t *cycle, uint64_t id,
    ngx_pool_t *pool, ngx_iot_collection_t *out);
ngx_iot_rc_e ngx_iot_collection_create(ngx_cycle_t *cycle,
    ngx_iot_collection_change_t *ch, ngx_pool_t *pool,
    ngx_iot_collection_t *out, ngx_log_t *log, ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_collection_update(ngx_cycle_t *cycle, uint64_t id,
    ngx_iot_collection_change_t *ch, ngx_pool_t *pool,
    ngx_iot_collection_t *out, ngx_log_t *log, ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_collection_delete(ngx_cycle_t *cycle, uint64_t id,
    ngx_log_t *log, ngx_iot_wait_t *wait);

ngx_iot_rc_e ngx_iot_device_get(ngx_cycle_t *cycle, uint64_t id,
    uint64_t cid, ngx_pool_t *pool, ngx_iot_device_t *out);
ngx_iot_rc_e ngx_iot_device_create(ngx_cycle_t *cycle,
    ngx_iot_device_change_t *ch, ngx_pool_t *pool, ngx_iot_device_t *out,
    ngx_log_t *log, ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_device_update(ngx_cycle_t *cycle, uint64_t id,
    uint64_t cid, ngx_iot_device_change_t *ch, ngx_pool_t *pool,
    ngx_iot_device_t *out, ngx_log_t *log, ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_device_delete(ngx_cycle_t *cycle, uint64_t id,
    uint64_t cid, ngx_log_t *log, ngx_iot_wait_t *wait);

ngx_iot_rc_e ngx_iot_token_get(ngx_cycle_t *cycle, u_char *hash,
    ngx_pool_t *pool, ngx_iot_token_t *out);
ngx_iot_rc_e ngx_iot_token_create(ngx_cycle_t *cycle,
    ngx_iot_token_change_t *ch, ngx_pool_t *pool, ngx_iot_token_t *out,
    u_char *secret, ngx_log_t *log, ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_token_update(ngx_cycle_t *cycle, u_char *hash,
    ngx_iot_token_change_t *ch, ngx_pool_t *pool, ngx_iot_token_t *out,
    ngx_log_t *log, ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_token_delete(ngx_cycle_t *cycle, u_char *hash,
    ngx_log_t *log, ngx_iot_wait_t *wait);

/* by UUID, or by an identifier (ngx_iot_ident_e) and its key */
ngx_iot_rc_e ngx_iot_device_get_uuid(ngx_cycle_t *cycle, u_char *uuid,
    ngx_pool_t *pool, ngx_iot_device_t *out);
ngx_iot_rc_e ngx_iot_device_get_ident(ngx_cycle_t *cycle, ngx_uint_t which,
    uint64_t key, ngx_pool_t *pool, ngx_iot_device_t *out);
ngx_iot_rc_e ngx_iot_collection_uuid(ngx_cycle_t *cycle, uint64_t id,
    u_char *uuid);
ngx_iot_rc_e ngx_iot_device_uuid(ngx_cycle_t *cycle, uint64_t id,
    u_char *uuid);
ngx_iot_rc_e ngx_iot_collection_get_uuid(ngx_cycle_t *cycle, u_char *uuid,
    ngx_pool_t *pool, ngx_iot_collection_t *out);

/*
 * Field masks (NGX_IOT_MASK_*): a collection's own with the forced bits
 * of iot_field_mask_forced; of a collection by id (forced only if none)
 */
ngx_uint_t ngx_iot_field_mask(ngx_cycle_t *cycle, ngx_uint_t mask);
ngx_uint_t ngx_iot_collection_mask(ngx_cycle_t *cycle, uint64_t cid);

/*
 * A page of devices chosen in the zone: of those match() takes (a device
 * of the zone, under the read lock: it keeps no pointer into it), how
 * many there are (*count), and the first n by id above after, copied into
 * out[] (*found of them).
 */
typedef ngx_uint_t (*ngx_iot_device_match_pt)(ngx_iot_device_t *d,
    void *data);

ngx_iot_rc_e ngx_iot_device_select(ngx_cycle_t *cycle, uint64_t after,
    ngx_iot_device_match_pt match, void *data, ngx_pool_t *pool,
    ngx_iot_device_t *out, ngx_uint_t n, ngx_uint_t *found,
    ngx_uint_t *count);

/* for the core's other files; the caller holds a lock */
ngx_iot_device_t *ngx_iot_device_find(ngx_iot_zone_ctx_t *ctx, uint64_t id);
/* a device of the zone, its shared UUIDs resolved (texts in the zone) */
void ngx_iot_device_unpack(ngx_iot_device_t *d, ngx_iot_device_t *out);
ngx_iot_rc_e ngx_iot_device_copy(ngx_iot_device_t *d, ngx_pool_t *pool,
    ngx_iot_device_t *out);


#endif /* _NGX_IOT_REGISTRY_H_INCLUDED_ */
