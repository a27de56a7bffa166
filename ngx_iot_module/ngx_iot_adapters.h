
/*
 * Copyright (C) nginx-iot authors
 *
 * The network adapters of devices (ngx_iot_adapters.c): at most one per
 * type and device.  A cellular adapter's IMEI is its device's IMEI, so a
 * device with an IMEI has a cellular adapter in every dialect; LoRa and
 * generic adapters have a DevEUI and a DVN UUID, unique in the registry
 * through the identifier table.  Their secrets live in the store only.
 */


#ifndef _NGX_IOT_ADAPTERS_H_INCLUDED_
#define _NGX_IOT_ADAPTERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_ident.h"
#include "ngx_iot_registry.h"


/* an adapter's UUID: the same for the same device and type, always */
void ngx_iot_adapter_uuid(u_char *device_uuid, ngx_uint_t type,
    u_char *uuid);

/*
 * The device (of collection cid; 0: of any) and its adapters, out[type -
 * 1] for each type present (present[type - 1] set).  A cellular adapter
 * that only the device's IMEI makes has the device's times.
 */
ngx_iot_rc_e ngx_iot_adapters_get(ngx_cycle_t *cycle, uint64_t device_id,
    uint64_t cid, ngx_pool_t *pool, ngx_iot_device_t *d,
    ngx_iot_adapter_t *out, ngx_uint_t *present);

/* the device whose adapter has this DevEUI or DVN UUID */
ngx_iot_rc_e ngx_iot_device_get_adapter(ngx_cycle_t *cycle,
    ngx_iot_ident_e which, u_char *value, ngx_pool_t *pool,
    ngx_iot_device_t *out);

/*
 * Makes (ch->create) or changes an adapter: NGX_IOT_EXISTS (create: one
 * of its type is there), NGX_IOT_NOT_FOUND (no such device, or no such
 * adapter to change), NGX_IOT_IMMUTABLE (another identifier than the
 * adapter's), an identifier's conflict; a change that changes nothing is
 * answered NGX_IOT_OK with nothing written.  out: the adapter.
 */
ngx_iot_rc_e ngx_iot_adapter_put(ngx_cycle_t *cycle,
    ngx_iot_adapter_change_t *ch, ngx_pool_t *pool, ngx_iot_adapter_t *out,
    ngx_log_t *log, ngx_iot_wait_t *wait);

/* a cellular adapter's removal takes the device's IMEI */
ngx_iot_rc_e ngx_iot_adapter_delete(ngx_cycle_t *cycle, uint64_t device_id,
    uint64_t cid, ngx_uint_t type, ngx_log_t *log, ngx_iot_wait_t *wait);


#endif /* _NGX_IOT_ADAPTERS_H_INCLUDED_ */
