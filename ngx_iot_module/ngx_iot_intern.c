
/*
 * Copyright (C) nginx-iot authors
 *
 * Shared UUIDs in the zone.  An entry is found by its UUID's first 8
 * bytes (ngx_iot_uuid_key) and the whole UUID; its handle is its offset
 * from the zone's start in units of its slab size class (64 bytes, the
 * slab aligns it so), which every process resolves the same way.  An entry
 * made for a write that then fails stays with no holder until a device
 * takes that UUID again: at most three per failed write.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_index.h"
#include "ngx_iot_id.h"
#include "ngx_iot_intern.h"


#define NGX_IOT_INTERN_SHIFT  6       /* the 64-byte size class */


typedef struct {
    ngx_iot_link_t             link;      /* key: ngx_iot_uuid_key(uuid) */
    u_char                     uuid[NGX_IOT_UUID_SIZE];
    uint32_t                   refs;
} ngx_iot_interned_t;


static u_char  ngx_iot_intern_nil[NGX_IOT_UUID_SIZE];


#define ngx_iot_interned(shpool, h)                                           \
    ((ngx_iot_interned_t *) ((u_char *) (shpool)                              \
                             + ((size_t) (h) << NGX_IOT_INTERN_SHIFT)))


ngx_int_t
ngx_iot_intern_init(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx)
{
    return ngx_iot_index_init(shpool, idx, 0);
}


ngx_int_t
ngx_iot_intern(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx, u_char *uuid,
    ngx_iot_intern_t *h)
{
    size_t               off;
    uint64_t             key;
    ngx_iot_link_t      *link;
    ngx_iot_interned_t  *e;

    if (ngx_iot_uuid_is_nil(uuid)) {
        *h = 0;
        return NGX_OK;
    }

    ngx_memcpy(&key, uuid, sizeof(uint64_t));

    for (link = ngx_iot_index_find(idx, key);
         link;
         link = ngx_iot_index_find_next(link))
    {
        e = (ngx_iot_interned_t *) link;

        if (ngx_memcmp(e->uuid, uuid, NGX_IOT_UUID_SIZE) == 0) {
            *h = (ngx_iot_intern_t) (((u_char *) e - (u_char *) shpool)
                                     >> NGX_IOT_INTERN_SHIFT);
            return NGX_OK;
        }
    }

    e = ngx_slab_alloc_locked(shpool, sizeof(ngx_iot_interned_t));
    if (e == NULL) {
        return NGX_ERROR;
    }

    off = (u_char *) e - (u_char *) shpool;

    if ((off & ((1 << NGX_IOT_INTERN_SHIFT) - 1))
        || (off >> NGX_IOT_INTERN_SHIFT) > NGX_MAX_UINT32_VALUE)
    {
        /* not where a handle can say (a zone over 256 GB) */
        ngx_slab_free_locked(shpool, e);
        return NGX_ERROR;
    }

    ngx_memcpy(e->uuid, uuid, NGX_IOT_UUID_SIZE);
    e->refs = 0;
    e->link.key = key;

    ngx_iot_index_insert(shpool, idx, &e->link);

    *h = (ngx_iot_intern_t) (off >> NGX_IOT_INTERN_SHIFT);

    return NGX_OK;
}


void
ngx_iot_intern_hold(ngx_slab_pool_t *shpool, ngx_iot_intern_t h)
{
    if (h) {
        ngx_iot_interned(shpool, h)->refs++;
    }
}


void
ngx_iot_intern_release(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx,
    ngx_iot_intern_t h)
{
    ngx_iot_interned_t  *e;

    if (h == 0) {
        return;
    }

    e = ngx_iot_interned(shpool, h);

    if (e->refs && --e->refs) {
        return;
    }

    ngx_iot_index_remove(idx, &e->link);
    ngx_slab_free_locked(shpool, e);
}


u_char *
ngx_iot_intern_uuid(ngx_slab_pool_t *shpool, ngx_iot_intern_t h)
{
    return h ? ngx_iot_interned(shpool, h)->uuid : ngx_iot_intern_nil;
}
