
/*
 * Copyright (C) nginx-iot authors
 *
 * One description per entity of the registry (collection, device, token,
 * session, network adapter, device group, membership, product): how it is
 * loaded
 * into the zone from a store row, found, dropped and repaired.  The code
 * that does it is written once, for all.
 */


#ifndef _NGX_IOT_ENTITIES_H_INCLUDED_
#define _NGX_IOT_ENTITIES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"


typedef enum {
    NGX_IOT_ENTITY_COLLECTION = 0,
    NGX_IOT_ENTITY_DEVICE,
    NGX_IOT_ENTITY_TOKEN,
    NGX_IOT_ENTITY_SESSION,
    NGX_IOT_ENTITY_ADAPTER,        /* after devices: loaded after them */
    NGX_IOT_ENTITY_GROUP,
    NGX_IOT_ENTITY_MEMBER,         /* after devices and groups */
    NGX_IOT_ENTITY_PRODUCT,
    NGX_IOT_ENTITY_IOTDA,          /* after devices and products */
    NGX_IOT_ENTITY_LAST
} ngx_iot_entity_e;


#define NGX_IOT_ENTITY_TEXTS  2


/*
 * A text field of an entity, copied into the zone: tags ("{}" and empty
 * are none), always kept (NUL-terminated, even empty), or plain (empty is
 * none).
 */
#define NGX_IOT_TEXT_TAGS     0
#define NGX_IOT_TEXT_ALWAYS   1
#define NGX_IOT_TEXT_PLAIN    2

typedef struct {
    size_t                     offset;    /* of its ngx_iot_text_t; 0: none */
    ngx_uint_t                 always;    /* NGX_IOT_TEXT_* */
} ngx_iot_entity_text_t;


typedef struct {
    ngx_str_t                  name;
    ngx_iot_store_kind_e       kind;      /* its rows in the store */
    size_t                     size;      /* in the zone */
    size_t                     index;     /* offsetof(ngx_iot_sh_t, ...) */
    ngx_uint_t                 bytes;     /* keyed by bytes: ngx_iot_slink_t */
    size_t                     key;       /* bytes: offset of the key */
    size_t                     key_len;   /* bytes: its length */
    ngx_iot_entity_text_t      texts[NGX_IOT_ENTITY_TEXTS];

    /* the entity of a store row: row itself, or a part of it */
    void                    *(*row)(void *row);

    /* into, and out of, the zone's other indexes and counts */
    void                     (*link)(ngx_iot_zone_ctx_t *ctx, void *e);
    void                     (*unlink)(ngx_iot_zone_ctx_t *ctx, void *e);

    /* what the zone derives from other rows, after a repair */
    void                     (*repaired)(ngx_iot_zone_ctx_t *ctx,
                                         ngx_iot_store_t *store, void *e,
                                         ngx_log_t *log);
} ngx_iot_entity_t;


/*
 * Every entity's zone struct starts with its key's link (ngx_iot_link_t,
 * or ngx_iot_slink_t when keyed by bytes).
 */
extern ngx_iot_entity_t  ngx_iot_entities[NGX_IOT_ENTITY_LAST];


void *ngx_iot_entity_find(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what,
    ngx_iot_store_key_t *key);
ngx_int_t ngx_iot_entity_load(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what,
    void *row);
void ngx_iot_entity_link(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what,
    void *e);
void ngx_iot_entity_drop(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what,
    void *e);
ngx_uint_t ngx_iot_entity_owns(ngx_iot_entity_e what, void *e, void *p);
void ngx_iot_entity_repair(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_iot_entity_e what, ngx_iot_store_key_t *key, ngx_log_t *log);

/*
 * n[NGX_IOT_ENTITY_LAST]: how many of each the store holds.  NGX_OK,
 * NGX_ERROR when the zone is full, NGX_DECLINED when the store fails.
 */
ngx_int_t ngx_iot_entities_init(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, ngx_uint_t *n, ngx_log_t *log);
ngx_int_t ngx_iot_entities_load(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, ngx_log_t *log);

/* the memberships of a device (of_group 0) or a group leave the zone */
void ngx_iot_members_drop(ngx_iot_zone_ctx_t *ctx, uint64_t id,
    ngx_uint_t of_group);

/* texts in the zone and copies of them in a pool */
ngx_int_t ngx_iot_text_alloc(ngx_slab_pool_t *shpool, ngx_str_t *src,
    ngx_iot_text_t *dst);
void ngx_iot_text_free(ngx_slab_pool_t *shpool, ngx_iot_text_t *t);
ngx_int_t ngx_iot_text_copy(ngx_pool_t *pool, ngx_iot_text_t *src,
    ngx_iot_text_t *dst);


#endif /* _NGX_IOT_ENTITIES_H_INCLUDED_ */
