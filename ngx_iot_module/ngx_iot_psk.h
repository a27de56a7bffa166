
/*
 * Copyright (C) nginx-iot authors
 *
 * DTLS pre-shared keys of devices (CoAP over DTLS, docs/coap.md): the key
 * and the device of a PSK identity, from whatever the dialects hold.
 * Keys are secrets: never answered, never logged.
 */


#ifndef _NGX_IOT_PSK_H_INCLUDED_
#define _NGX_IOT_PSK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_registry.h"


#define NGX_IOT_PSK_MAX   128    /* bytes of a key */


/*
 * One source of keys: NGX_OK (the identity is its device's: key and
 * device set, the key in pool), NGX_DECLINED (not an identity of this
 * source, or no key), NGX_ERROR (the store failed).
 */
typedef ngx_int_t (*ngx_iot_psk_source_pt)(ngx_cycle_t *cycle,
    ngx_str_t *identity, ngx_pool_t *pool, ngx_str_t *key,
    ngx_iot_device_t *d, ngx_log_t *log);

/*
 * The key of a PSK identity, asked of each source in turn (ngx_iot_psk.c
 * lists them): NGX_IOT_OK, NGX_IOT_NOT_FOUND (no source knows it, or its
 * device has no key), NGX_IOT_STORE_ERROR.  key may be NULL when only the
 * device is wanted.
 */
ngx_iot_rc_e ngx_iot_psk_key(ngx_cycle_t *cycle, ngx_str_t *identity,
    ngx_pool_t *pool, ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log);

/* the collections dialect's key of a device (len 0: removed) */
ngx_iot_rc_e ngx_iot_psk_put(ngx_cycle_t *cycle, uint64_t device_id,
    ngx_str_t *key, ngx_pool_t *pool, ngx_log_t *log, ngx_iot_wait_t *wait);


#endif /* _NGX_IOT_PSK_H_INCLUDED_ */
