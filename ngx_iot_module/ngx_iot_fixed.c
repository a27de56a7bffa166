
/*
 * Copyright (C) nginx-iot authors
 *
 * Objects of one size carved out of whole slab pages.  A page starts with
 * its header (its allocator, its free objects, how many are used, its
 * place in the list of pages that have room); the objects follow.  A page
 * whose last object is freed goes back to the slab.  The caller holds the
 * zone's mutex.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot_fixed.h"


struct ngx_iot_fixed_page_s {
    ngx_iot_fixed_t           *fixed;
    ngx_iot_fixed_page_t      *next;      /* in fixed->partial */
    ngx_iot_fixed_page_t      *prev;
    void                      *free;      /* a chain through the objects */
    ngx_uint_t                 used;
};


#define ngx_iot_fixed_page(p)                                                 \
    ((ngx_iot_fixed_page_t *)                                                 \
         ((uintptr_t) (p) & ~((uintptr_t) ngx_pagesize - 1)))


static void ngx_iot_fixed_unlist(ngx_iot_fixed_page_t *page);


void
ngx_iot_fixed_init(ngx_iot_fixed_t *f, ngx_slab_pool_t *shpool, size_t size)
{
    size = ngx_align(size, sizeof(void *));

    f->shpool = shpool;
    f->partial = NULL;
    f->size = size;
    f->per_page = (ngx_pagesize - sizeof(ngx_iot_fixed_page_t)) / size;
    f->pages = 0;
}


void *
ngx_iot_fixed_alloc(ngx_iot_fixed_t *f)
{
    u_char                *p;
    ngx_uint_t             i;
    ngx_iot_fixed_page_t  *page;

    page = f->partial;

    if (page == NULL) {
        /* a whole page: the slab gives it page-aligned */
        page = ngx_slab_alloc_locked(f->shpool, ngx_pagesize);
        if (page == NULL) {
            return NULL;
        }

        page->fixed = f;
        page->next = NULL;
        page->prev = NULL;
        page->used = 0;
        page->free = NULL;

        p = (u_char *) page + sizeof(ngx_iot_fixed_page_t);

        for (i = f->per_page; i--; /* void */) {
            *(void **) (p + i * f->size) = page->free;
            page->free = p + i * f->size;
        }

        f->partial = page;
        f->pages++;
    }

    p = page->free;
    page->free = *(void **) p;
    page->used++;

    if (page->free == NULL) {
        ngx_iot_fixed_unlist(page);
    }

    ngx_memzero(p, f->size);

    return p;
}


void
ngx_iot_fixed_free(void *p)
{
    ngx_iot_fixed_t       *f;
    ngx_iot_fixed_page_t  *page;

    page = ngx_iot_fixed_page(p);
    f = page->fixed;

    if (page->free == NULL) {
        /* it was full: it has room again */
        page->prev = NULL;
        page->next = f->partial;

        if (f->partial) {
            f->partial->prev = page;
        }

        f->partial = page;
    }

    *(void **) p = page->free;
    page->free = p;
    page->used--;

    if (page->used == 0) {
        ngx_iot_fixed_unlist(page);
        f->pages--;
        ngx_slab_free_locked(f->shpool, page);
    }
}


ngx_slab_pool_t *
ngx_iot_fixed_pool(void *p)
{
    return ngx_iot_fixed_page(p)->fixed->shpool;
}


static void
ngx_iot_fixed_unlist(ngx_iot_fixed_page_t *page)
{
    ngx_iot_fixed_t  *f;

    f = page->fixed;

    if (page->prev) {
        page->prev->next = page->next;

    } else if (f->partial == page) {
        f->partial = page->next;
    }

    if (page->next) {
        page->next->prev = page->prev;
    }

    page->next = NULL;
    page->prev = NULL;
}
