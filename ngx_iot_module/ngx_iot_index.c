
/*
 * Copyright (C) nginx-iot authors
 *
 * A chained hash index in shared memory.  Entries embed their link, so an
 * index costs one pointer per bucket and two words per entry.  The bucket
 * array grows when chains get long; if the zone has no room for a larger
 * array the index keeps working with longer chains rather than failing.
 * The caller holds the zone's mutex.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_index.h"


#define NGX_IOT_INDEX_MIN   64


static ngx_uint_t ngx_iot_index_slot(ngx_iot_index_t *idx, uint64_t key);
static void ngx_iot_index_grow(ngx_slab_pool_t *shpool,
    ngx_iot_index_t *idx);


static ngx_uint_t
ngx_iot_index_slot(ngx_iot_index_t *idx, uint64_t key)
{
    /* a 64-bit finalizer: IMSIs and IMEIs are far from random */
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    key ^= key >> 33;

    return (ngx_uint_t) key & idx->mask;
}


ngx_int_t
ngx_iot_index_init(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx,
    ngx_uint_t hint)
{
    ngx_uint_t  n;

    n = NGX_IOT_INDEX_MIN;

    while (n < hint) {
        n <<= 1;
    }

    idx->buckets = ngx_slab_calloc_locked(shpool, n * sizeof(void *));
    if (idx->buckets == NULL) {
        return NGX_ERROR;
    }

    idx->mask = n - 1;
    idx->nelts = 0;

    return NGX_OK;
}


ngx_iot_link_t *
ngx_iot_index_find(ngx_iot_index_t *idx, uint64_t key)
{
    ngx_iot_link_t  *link;

    for (link = idx->buckets[ngx_iot_index_slot(idx, key)];
         link;
         link = link->next)
    {
        if (link->key == key) {
            return link;
        }
    }

    return NULL;
}


/* the next link after link with the same key (keys that may repeat) */

ngx_iot_link_t *
ngx_iot_index_find_next(ngx_iot_link_t *link)
{
    uint64_t  key;

    key = link->key;

    for (link = link->next; link; link = link->next) {
        if (link->key == key) {
            return link;
        }
    }

    return NULL;
}


void
ngx_iot_index_insert(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx,
    ngx_iot_link_t *link)
{
    ngx_uint_t  slot;

    if (idx->nelts > 2 * (idx->mask + 1)) {
        ngx_iot_index_grow(shpool, idx);
    }

    slot = ngx_iot_index_slot(idx, link->key);

    link->next = idx->buckets[slot];
    idx->buckets[slot] = link;
    idx->nelts++;
}


void
ngx_iot_index_remove(ngx_iot_index_t *idx, ngx_iot_link_t *link)
{
    ngx_iot_link_t  **pp;

    /* tolerant of a link that is not there: see the registry's repair */

    for (pp = &idx->buckets[ngx_iot_index_slot(idx, link->key)];
         *pp;
         pp = &(*pp)->next)
    {
        if (*pp == link) {
            *pp = link->next;
            link->next = NULL;
            idx->nelts--;
            return;
        }
    }
}


static void
ngx_iot_index_grow(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx)
{
    ngx_uint_t        i, n, slot;
    ngx_iot_link_t  **old, *link, *next;
    ngx_iot_index_t   grown;

    n = (idx->mask + 1) * 4;

    grown.buckets = ngx_slab_calloc_locked(shpool, n * sizeof(void *));
    if (grown.buckets == NULL) {
        return;
    }

    grown.mask = n - 1;
    grown.nelts = idx->nelts;

    old = idx->buckets;

    for (i = 0; i <= idx->mask; i++) {
        for (link = old[i]; link; link = next) {
            next = link->next;
            slot = ngx_iot_index_slot(&grown, link->key);
            link->next = grown.buckets[slot];
            grown.buckets[slot] = link;
        }
    }

    *idx = grown;

    ngx_slab_free_locked(shpool, old);
}


/* keys that are bytes */

uint64_t
ngx_iot_index_hash(u_char *data, size_t len)
{
    size_t    i;
    uint64_t  h;

    /* FNV-1a; the slot finalizer spreads it further */

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < len; i++) {
        h ^= data[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


void
ngx_iot_index_key(ngx_iot_slink_t *sl, u_char *data, size_t len)
{
    sl->data = data;
    sl->len = len;
    sl->link.key = ngx_iot_index_hash(data, len);
}


ngx_iot_slink_t *
ngx_iot_index_find_bytes(ngx_iot_index_t *idx, u_char *data, size_t len)
{
    uint64_t          key;
    ngx_iot_link_t   *link;
    ngx_iot_slink_t  *sl;

    key = ngx_iot_index_hash(data, len);

    for (link = idx->buckets[ngx_iot_index_slot(idx, key)];
         link;
         link = link->next)
    {
        if (link->key != key) {
            continue;
        }

        /* equal hashes: the bytes decide */

        sl = (ngx_iot_slink_t *) link;

        if (sl->len == len && ngx_memcmp(sl->data, data, len) == 0) {
            return sl;
        }
    }

    return NULL;
}
