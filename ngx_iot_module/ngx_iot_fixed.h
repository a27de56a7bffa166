
/*
 * Copyright (C) nginx-iot authors
 *
 * Objects of one size in shared memory (ngx_iot_fixed.c): whole slab
 * pages carved into objects of exactly that size, so that an object of
 * 200 bytes costs 200 bytes, not the 256 of the slab's size class.
 */


#ifndef _NGX_IOT_FIXED_H_INCLUDED_
#define _NGX_IOT_FIXED_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct ngx_iot_fixed_page_s  ngx_iot_fixed_page_t;


/* lives in the zone; all zero is "not set up" */
typedef struct {
    ngx_slab_pool_t           *shpool;
    ngx_iot_fixed_page_t      *partial;   /* pages with a free object */
    size_t                     size;
    ngx_uint_t                 per_page;
    ngx_uint_t                 pages;
} ngx_iot_fixed_t;


void ngx_iot_fixed_init(ngx_iot_fixed_t *f, ngx_slab_pool_t *shpool,
    size_t size);

/* zeroed; NULL: the zone is full.  The caller holds the zone's mutex. */
void *ngx_iot_fixed_alloc(ngx_iot_fixed_t *f);

/* any object of any ngx_iot_fixed_t (its page knows which) */
void ngx_iot_fixed_free(void *p);

/* the zone's pool an object was allocated from */
ngx_slab_pool_t *ngx_iot_fixed_pool(void *p);


#endif /* _NGX_IOT_FIXED_H_INCLUDED_ */
