
/*
 * Copyright (C) nginx-iot authors
 *
 * The identifiers of a device, one row each: its field, its index in the
 * zone, whether it is unique, and the conflict that names it.  IMSI and
 * IMEI are fields of the device; DevEUI and DVN UUID are its network
 * adapters' (an adapter of each type at most).  Node id and address are
 * rows to come.
 */


#ifndef _NGX_IOT_IDENT_H_INCLUDED_
#define _NGX_IOT_IDENT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_zone.h"


/* the device's own first, then its adapters' */
typedef enum {
    NGX_IOT_IDENT_IMSI = 0,
    NGX_IOT_IDENT_IMEI,
    NGX_IOT_IDENT_DEVEUI,
    NGX_IOT_IDENT_DVNUUID,
    NGX_IOT_IDENT_LAST
} ngx_iot_ident_e;

#define NGX_IOT_IDENT_DEVICE  (NGX_IOT_IDENT_IMEI + 1)  /* of the device */


typedef struct {
    ngx_str_t                  name;      /* "imsi", as a dialect names it */
    ngx_str_t                  title;     /* "IMSI", in messages */
    size_t                     link;      /* offsetof(ngx_iot_device_t, ...),
                                             of an adapter's: in it */
    size_t                     index;     /* offsetof(ngx_iot_sh_t, ...) */
    size_t                     change;    /* in ngx_iot_device_change_t */
    ngx_uint_t                 unique;    /* across the whole registry */
    ngx_iot_rc_e               conflict;  /* when another device has it */
    ngx_uint_t                 adapter;   /* of an adapter of this type */
    size_t                     len;       /* an adapter's value, its bytes */
} ngx_iot_ident_t;


extern ngx_iot_ident_t  ngx_iot_idents[NGX_IOT_IDENT_LAST];


/* the identifier a result code says is taken, or NULL */
ngx_iot_ident_t *ngx_iot_ident_conflict(ngx_iot_rc_e rc);

/* the device with this identifier; the caller holds the zone's lock */
ngx_iot_device_t *ngx_iot_ident_find(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_ident_e which, uint64_t key);

/*
 * keys[]: the device's identifiers once the change is made.  NGX_IOT_OK,
 * or the conflict of the first unique one another device (not self) has.
 */
ngx_iot_rc_e ngx_iot_ident_check(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_device_t *self, uint64_t *keys);

/*
 * An adapter's identifier (DevEUI, DVN UUID, len bytes in value): the
 * adapter that has it, or NULL.  The caller holds the zone's lock.
 */
ngx_iot_adapter_t *ngx_iot_ident_adapter(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_ident_e which, u_char *value);
/* the index key of an adapter's identifier */
uint64_t ngx_iot_ident_adapter_key(ngx_iot_ident_e which, u_char *value);
/* the identifier of an adapter type (DEVEUI, DVNUUID), or LAST: none */
ngx_iot_ident_e ngx_iot_ident_of_adapter(ngx_uint_t type);
void ngx_iot_ident_adapter_link(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_adapter_t *a);
void ngx_iot_ident_adapter_unlink(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_adapter_t *a);

/* keys[] of a device as it is, or as a change asks (0: unchanged) */
void ngx_iot_ident_keys(ngx_iot_device_t *d, ngx_iot_device_change_t *ch,
    uint64_t *keys);

void ngx_iot_ident_link(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *d);
void ngx_iot_ident_unlink(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *d);
void ngx_iot_ident_set(ngx_iot_device_t *d, uint64_t *keys);
/* moves the identifiers that change in the indexes */
void ngx_iot_ident_move(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *d,
    uint64_t *keys);


#endif /* _NGX_IOT_IDENT_H_INCLUDED_ */
