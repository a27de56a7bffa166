
/*
 * Copyright (C) nginx-iot authors
 *
 * NB-IoT attach: the address each device is given by RADIUS, and the map
 * from a device's current address to the device, kept by accounting.
 */


#ifndef _NGX_IOT_SESSION_H_INCLUDED_
#define _NGX_IOT_SESSION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_registry.h"


#define NGX_IOT_SESSION_ID_MAX     64
#define NGX_IOT_IMEISV_MAX         16
#define NGX_IOT_MSISDN_MAX         16


/* every in_addr_t here is an IPv4 address in host byte order */

/* a packet gateway (RADIUS client), as configured */
typedef struct {
    ngx_str_t                  name;      /* names its sessions */
    uint64_t                   key;       /* ngx_iot_gateway_key(&name) */
    ngx_uint_t                 next;      /* where address search goes on */
    in_addr_t                  pool_addr; /* the addresses handed out */
    in_addr_t                  pool_mask;
} ngx_iot_gateway_t;


/* what an Accounting-Request (or Access-Request) reports */
typedef struct {
    ngx_iot_gateway_t         *gateway;
    uint64_t                   imsi;      /* ngx_iot_ident_decode() key */
    in_addr_t                  addr;      /* Framed-IP-Address, or 0 */
    ngx_str_t                  session_id;
    ngx_str_t                  imeisv;    /* digits, or empty */
    ngx_str_t                  msisdn;    /* digits, or empty */
} ngx_iot_session_info_t;


/*
 * Each write may wait (ngx_iot_registry.h): with a wait it runs in this
 * worker's writer, answers NGX_IOT_QUEUED and calls the wait's handler
 * with rc once durable (attach: *addr is set first); what it points to
 * (info and its strings, addr) must live until then.  Without a wait it
 * runs here and now.
 */

/*
 * Access-Request: NGX_IOT_OK with *addr set to the address of the device
 * with this IMSI, a host of the gateway's pool that no other device holds
 * (the same address as last time while that is so), NGX_IOT_NOT_FOUND for
 * an IMSI no device has (Access-Reject), NGX_IOT_POOL_EXHAUSTED when the
 * pool has no free address (Access-Reject, logged), or a store/zone error.
 */
ngx_iot_rc_e ngx_iot_session_attach(ngx_cycle_t *cycle,
    ngx_iot_session_info_t *info, in_addr_t *addr, ngx_log_t *log,
    ngx_iot_wait_t *wait);

/*
 * Accounting Start and Interim-Update: the address now means the device,
 * and every other device that had it as its address loses it
 */
ngx_iot_rc_e ngx_iot_session_start(ngx_cycle_t *cycle,
    ngx_iot_session_info_t *info, ngx_log_t *log, ngx_iot_wait_t *wait);

/* Accounting Stop: forgets the address if the session id matches */
ngx_iot_rc_e ngx_iot_session_stop(ngx_cycle_t *cycle,
    ngx_iot_session_info_t *info, ngx_log_t *log, ngx_iot_wait_t *wait);

/* Accounting-On and -Off: the gateway restarted, all its sessions end */
ngx_iot_rc_e ngx_iot_session_purge(ngx_cycle_t *cycle,
    ngx_iot_gateway_t *gateway, ngx_log_t *log, ngx_iot_wait_t *wait);

uint64_t ngx_iot_gateway_key(ngx_str_t *name);

/* a copy of the device behind an address: NGX_IOT_NOT_FOUND when none */
ngx_iot_rc_e ngx_iot_session_device(ngx_cycle_t *cycle, in_addr_t addr,
    ngx_pool_t *pool, ngx_iot_device_t *out);


#endif /* _NGX_IOT_SESSION_H_INCLUDED_ */
