
/*
 * Copyright (C) nginx-iot authors
 *
 * Products (ngx_iot_products.c): device types and their models, each of
 * one collection, found by their product id (text, unique in the
 * registry).  A product that devices use is not deleted.
 */


#ifndef _NGX_IOT_PRODUCTS_H_INCLUDED_
#define _NGX_IOT_PRODUCTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_registry.h"


/* by product id */
ngx_iot_rc_e ngx_iot_product_get(ngx_cycle_t *cycle, ngx_str_t *pid,
    ngx_pool_t *pool, ngx_iot_product_t *out);

/*
 * NGX_IOT_COLLECTION_NOT_FOUND: no such collection; NGX_IOT_EXISTS:
 * another product has the product id.
 */
ngx_iot_rc_e ngx_iot_product_create(ngx_cycle_t *cycle,
    ngx_iot_product_change_t *ch, ngx_pool_t *pool, ngx_iot_product_t *out,
    ngx_log_t *log, ngx_iot_wait_t *wait);

/*
 * A product's name and model (ch->pid names it; ch->collection_id is not
 * read): NGX_IOT_NOT_FOUND (of collection cid, 0: any).
 */
ngx_iot_rc_e ngx_iot_product_update(ngx_cycle_t *cycle,
    ngx_iot_product_change_t *ch, uint64_t cid, ngx_pool_t *pool,
    ngx_iot_product_t *out, ngx_log_t *log, ngx_iot_wait_t *wait);

/* NGX_IOT_NOT_FOUND (of collection cid, 0: any); NGX_IOT_NOT_EMPTY: used */
ngx_iot_rc_e ngx_iot_product_delete(ngx_cycle_t *cycle, ngx_str_t *pid,
    uint64_t cid, ngx_log_t *log, ngx_iot_wait_t *wait);

/* does collection cid have products?  The caller holds the zone's lock */
ngx_uint_t ngx_iot_products_in(ngx_iot_zone_ctx_t *ctx, uint64_t cid);

/*
 * A page of products, as ngx_iot_device_select() gives devices: match()
 * sees each product of the zone under its read lock.
 */
typedef ngx_uint_t (*ngx_iot_product_match_pt)(ngx_iot_product_t *p,
    void *data);

ngx_iot_rc_e ngx_iot_product_select(ngx_cycle_t *cycle, uint64_t after,
    ngx_iot_product_match_pt match, void *data, ngx_pool_t *pool,
    ngx_iot_product_t *out, ngx_uint_t n, ngx_uint_t *found,
    ngx_uint_t *count);


#endif /* _NGX_IOT_PRODUCTS_H_INCLUDED_ */
