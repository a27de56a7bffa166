
/*
 * Copyright (C) nginx-iot authors
 *
 * A chained hash index in shared memory (ngx_iot_index.c).
 */


#ifndef _NGX_IOT_INDEX_H_INCLUDED_
#define _NGX_IOT_INDEX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"


/* an intrusive link of a chained hash index in shared memory */
typedef struct ngx_iot_link_s  ngx_iot_link_t;

struct ngx_iot_link_s {
    ngx_iot_link_t            *next;
    uint64_t                   key;
};


/*
 * A link keyed by bytes (a hash, a DevEUI, a UUID, an address): its key
 * is the hash of the bytes, and equal hashes are told apart by comparing
 * the bytes, which live in the entity (or the zone) as long as the link.
 */
typedef struct {
    ngx_iot_link_t             link;
    u_char                    *data;
    size_t                     len;
} ngx_iot_slink_t;


typedef struct {
    ngx_iot_link_t           **buckets;
    ngx_uint_t                 mask;
    ngx_uint_t                 nelts;
} ngx_iot_index_t;


ngx_int_t ngx_iot_index_init(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx,
    ngx_uint_t hint);
ngx_iot_link_t *ngx_iot_index_find(ngx_iot_index_t *idx, uint64_t key);
ngx_iot_link_t *ngx_iot_index_find_next(ngx_iot_link_t *link);
void ngx_iot_index_insert(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx,
    ngx_iot_link_t *link);
void ngx_iot_index_remove(ngx_iot_index_t *idx, ngx_iot_link_t *link);

/* keys that are bytes: an index holds either these or integer keys */
uint64_t ngx_iot_index_hash(u_char *data, size_t len);
void ngx_iot_index_key(ngx_iot_slink_t *sl, u_char *data, size_t len);
ngx_iot_slink_t *ngx_iot_index_find_bytes(ngx_iot_index_t *idx,
    u_char *data, size_t len);


#endif /* _NGX_IOT_INDEX_H_INCLUDED_ */
