
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's part of a device (ngx_iot_iotda.c): an entity of
 * its own (ngx_iot_iotda_t, keyed by the device's id) that only devices
 * made or changed through the iotda dialect have.  It is written with
 * its device (ngx_iot_device_create/_update with ch->side) or alone
 * (ngx_iot_iotda_write), always by an edit that makes the part as it
 * will be from the part as it is, under the zone's lock, so that checks
 * (ids taken, shadow versions) and the change are one.
 */


#ifndef _NGX_IOT_IOTDA_H_INCLUDED_
#define _NGX_IOT_IOTDA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_write.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_message.h"


/* what a refusal of an edit is about (op->why) */
#define NGX_IOT_IOTDA_WHY_DID         1   /* device id taken */
#define NGX_IOT_IOTDA_WHY_NODE        2   /* node id taken */
#define NGX_IOT_IOTDA_WHY_GATEWAY     3   /* no such gateway */
#define NGX_IOT_IOTDA_WHY_DEPTH       4   /* a third level */
#define NGX_IOT_IOTDA_WHY_PRODUCT     5   /* no such product */
#define NGX_IOT_IOTDA_WHY_CHILD       6   /* freezing a child */
#define NGX_IOT_IOTDA_WHY_NOT_FROZEN  7
#define NGX_IOT_IOTDA_WHY_VERSION     8   /* a shadow's version */
#define NGX_IOT_IOTDA_WHY_NO_PART     9   /* the device has no part */
#define NGX_IOT_IOTDA_WHY_INVALID     10  /* op->message says why */


typedef struct ngx_iot_iotda_op_s  ngx_iot_iotda_op_t;

/*
 * Makes op->row, op->ids (device id, then node id), op->doc and the
 * secrets to set from op->cur (NULL: the device has no part yet; row
 * and texts start as the part is, or as a part made for the device
 * now).  NGX_IOT_OK, or a refusal with op->why.  Runs under the zone's
 * lock, perhaps in the writer's thread: it reads the zone through
 * op->ctx and allocates from op->pool only.
 */
typedef ngx_iot_rc_e (*ngx_iot_iotda_edit_pt)(ngx_iot_iotda_op_t *op);

struct ngx_iot_iotda_op_s {
    ngx_iot_write_t            w;
    uint64_t                   device_id;
    uint64_t                   cid;       /* of this collection; 0: any */
    ngx_iot_iotda_edit_pt      edit;
    void                      *data;      /* the edit's */

    /* for the edit */
    ngx_iot_zone_ctx_t        *ctx;
    ngx_pool_t                *pool;
    ngx_iot_device_t          *d;         /* in the zone */
    ngx_iot_iotda_t           *cur;       /* in the zone; NULL: none */
    ngx_iot_iotda_t            row;
    ngx_str_t                  ids;
    ngx_str_t                  doc;
    ngx_uint_t                 set_secret;
    ngx_uint_t                 set_secondary;
    ngx_str_t                  secret;
    ngx_str_t                  secondary;
    ngx_uint_t                 unchanged; /* nothing to write */
    ngx_uint_t                 why;
    const char                *message;
    ngx_uint_t                 status;    /* the caller's */

    /* the write's */
    ngx_str_t                  node;      /* a node id kept, for the store */
    ngx_iot_iotda_t           *e;
    ngx_iot_text_t             zids;
    ngx_iot_text_t             zdoc;
    ngx_iot_device_side_t      side;
    ngx_iot_wait_t            *wait;
};


/* a device as the iotda dialect shows it */
typedef struct {
    ngx_iot_device_t           d;
    ngx_iot_iotda_t            x;         /* x.id.key 0: no part */
    ngx_str_t                  device_id;
    ngx_str_t                  node_id;
    ngx_str_t                  gateway_id;
    ngx_str_t                  product_id;
    ngx_str_t                  product_name;
    ngx_str_t                  model;     /* the product's, when asked */
    ngx_str_t                  doc;
    ngx_uint_t                 children;  /* has child devices */
} ngx_iot_iotda_view_t;


/* the side of a device write that writes the part with it (ch->side) */
ngx_iot_device_side_t *ngx_iot_iotda_side(ngx_iot_iotda_op_t *op);

/* the part alone, of a device that exists (of collection op->cid) */
ngx_iot_rc_e ngx_iot_iotda_write(ngx_cycle_t *cycle, ngx_iot_iotda_op_t *op,
    ngx_pool_t *pool, ngx_log_t *log, ngx_iot_wait_t *wait);

/* an IoTDA device id (or the device's id of the registry): the device */
ngx_iot_rc_e ngx_iot_iotda_resolve(ngx_cycle_t *cycle, ngx_str_t *did,
    uint64_t *id);

/* a device and its part (model: the product's model too) */
ngx_iot_rc_e ngx_iot_iotda_view(ngx_cycle_t *cycle, uint64_t id,
    ngx_pool_t *pool, ngx_uint_t model, ngx_iot_iotda_view_t *v);

/* the devices of ids[] that are there, in that order, under one lock */
ngx_iot_rc_e ngx_iot_iotda_views(ngx_cycle_t *cycle, uint64_t *ids,
    ngx_uint_t n, ngx_pool_t *pool, ngx_iot_iotda_view_t *out,
    ngx_uint_t *found);

/*
 * A page of devices as ngx_iot_device_select() makes it: match() sees
 * each device, its part (NULL: none) and its gateway's gateway (0: none)
 * under the zone's read lock.
 */
typedef ngx_uint_t (*ngx_iot_iotda_match_pt)(ngx_iot_device_t *d,
    ngx_iot_iotda_t *x, uint64_t grand, void *data);

ngx_iot_rc_e ngx_iot_iotda_select(ngx_cycle_t *cycle, uint64_t after,
    ngx_iot_iotda_match_pt match, void *data, ngx_pool_t *pool,
    ngx_iot_iotda_view_t *out, ngx_uint_t n, ngx_uint_t *found,
    ngx_uint_t *count);

/* how many devices the collections reach() takes have (cid: that one) */
typedef ngx_uint_t (*ngx_iot_iotda_reach_pt)(uint64_t cid, void *data);

ngx_uint_t ngx_iot_iotda_count(ngx_cycle_t *cycle, uint64_t cid,
    ngx_iot_iotda_reach_pt reach, void *data);

/* the caller holds the zone's lock */
ngx_iot_iotda_t *ngx_iot_iotda_find(ngx_iot_zone_ctx_t *ctx, uint64_t id);
ngx_iot_iotda_t *ngx_iot_iotda_find_did(ngx_iot_zone_ctx_t *ctx,
    u_char *did, size_t len);
ngx_uint_t ngx_iot_iotda_has_children(ngx_iot_zone_ctx_t *ctx, uint64_t id);
/* is a node id (not an IMEI) shown by another device than self? */
ngx_uint_t ngx_iot_iotda_node_taken(ngx_iot_zone_ctx_t *ctx, u_char *node,
    size_t len, uint64_t self);
/* is a device id text taken (by a part, or as a device's own id)? */
ngx_uint_t ngx_iot_iotda_did_taken(ngx_iot_zone_ctx_t *ctx, u_char *did,
    size_t len, uint64_t self);

/* the device whose node id (one that is no IMEI) is node, or 0 */
uint64_t ngx_iot_iotda_node_device(ngx_cycle_t *cycle, u_char *node,
    size_t len);

/* is the device frozen (its uplinks are refused)? */
ngx_uint_t ngx_iot_iotda_frozen(ngx_cycle_t *cycle, uint64_t device_id);

/* an uplink of a device with a part: its reported properties (a write) */
void ngx_iot_iotda_report(ngx_cycle_t *cycle, ngx_iot_message_t *m,
    ngx_log_t *log);

/* a node id that is an IMEI (15 digits): its identifier key, else 0 */
uint64_t ngx_iot_iotda_imei(u_char *node, size_t len);


#endif /* _NGX_IOT_IOTDA_H_INCLUDED_ */
