
/*
 * Copyright (C) nginx-iot authors
 *
 * UUIDs that many devices share (the principals that made and changed
 * them, their device types), kept once in the zone and counted: a device
 * holds a 4-byte handle to each instead of 16 bytes (ngx_iot_intern.c).
 */


#ifndef _NGX_IOT_INTERN_H_INCLUDED_
#define _NGX_IOT_INTERN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_index.h"


/* a handle: 0 is the nil UUID, which is never kept */
typedef uint32_t  ngx_iot_intern_t;


ngx_int_t ngx_iot_intern_init(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx);

/*
 * The handle of a UUID, kept (with no holder yet) if it was not: NGX_OK,
 * or NGX_ERROR when the zone is full.  The caller holds the zone's mutex.
 */
ngx_int_t ngx_iot_intern(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx,
    u_char *uuid, ngx_iot_intern_t *h);

/* a holder more, one less (the last one frees it) */
void ngx_iot_intern_hold(ngx_slab_pool_t *shpool, ngx_iot_intern_t h);
void ngx_iot_intern_release(ngx_slab_pool_t *shpool, ngx_iot_index_t *idx,
    ngx_iot_intern_t h);

/* the UUID of a handle (the nil UUID for 0) */
u_char *ngx_iot_intern_uuid(ngx_slab_pool_t *shpool, ngx_iot_intern_t h);


#endif /* _NGX_IOT_INTERN_H_INCLUDED_ */
