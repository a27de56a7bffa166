
/*
 * Copyright (C) nginx-iot authors
 *
 * NB-IoT attach.  RADIUS gives each registered device an address from its
 * gateway's pool (the same one again while it is free), and accounting
 * keeps the map from a device's current address to the device, which is
 * how an uplink datagram is attributed.  Both live in the store and in the
 * zone, written by the registry's write sequence (ngx_iot_write.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_id.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_entities.h"
#include "ngx_iot_ident.h"
#include "ngx_iot_journal.h"
#include "ngx_iot_write.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_session.h"


#define ngx_iot_session_of(link)                                              \
    ngx_iot_container_of(link, ngx_iot_session_t, addr)

/*
 * the other devices a Start detaches from its address at once; more (only
 * a store written before addresses were kept unique can have them) go
 * with the next Start or Interim-Update of the address
 */
#define NGX_IOT_SESSION_HOLDERS_MAX  8


/* one session write */
typedef struct {
    ngx_iot_session_info_t    *info;
    ngx_iot_gateway_t         *gateway;   /* purge */
    ngx_iot_device_t          *d;         /* in the zone */
    ngx_iot_device_t           next;      /* its new state */
    ngx_iot_session_t         *s;         /* in the zone */
    ngx_iot_session_row_t      row;       /* its new state */
    in_addr_t                  addr;      /* attach: the answer */
    ngx_uint_t                 fresh;

    /* start: the devices that held the address, and their new state */
    ngx_iot_device_t          *held[NGX_IOT_SESSION_HOLDERS_MAX];
    ngx_iot_device_t           held_next[NGX_IOT_SESSION_HOLDERS_MAX];
    ngx_uint_t                 nheld;
} ngx_iot_session_op_t;


/* a posted session write, until it is answered */
typedef struct {
    ngx_iot_write_t            w;
    ngx_iot_session_op_t       op;
    in_addr_t                 *addr;      /* attach: where the answer goes */
    ngx_iot_wait_t            *wait;
} ngx_iot_session_posted_t;


static ngx_iot_device_t *ngx_iot_session_owner(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_session_info_t *info);
static void ngx_iot_session_note(ngx_iot_device_t *d,
    ngx_iot_session_info_t *info);
static ngx_uint_t ngx_iot_session_in_pool(ngx_iot_gateway_t *gw,
    in_addr_t addr);
static ngx_uint_t ngx_iot_session_host(ngx_iot_gateway_t *gw,
    in_addr_t addr);
static ngx_iot_rc_e ngx_iot_session_address(ngx_iot_write_t *w,
    ngx_iot_gateway_t *gw, uint64_t device_id, in_addr_t *addr);
static ngx_iot_rc_e ngx_iot_session_holders(ngx_iot_write_t *w,
    ngx_iot_session_op_t *op, ngx_iot_device_t *d, in_addr_t addr);
static void ngx_iot_session_journal(ngx_iot_write_t *w,
    ngx_iot_entity_e what, uint64_t id);
static ngx_iot_rc_e ngx_iot_session_run(ngx_cycle_t *cycle,
    ngx_iot_session_op_t *op, ngx_iot_write_pt check,
    ngx_iot_write_store_pt write, ngx_iot_write_pt apply, in_addr_t *addr,
    ngx_log_t *log, ngx_iot_wait_t *wait);
static void ngx_iot_session_done(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_session_attach_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_session_device_net(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_session_attach_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_session_start_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_session_start_write(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_session_start_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_session_stop_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_session_stop_write(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_session_stop_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_session_purge_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_session_purge_write(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_session_purge_apply(ngx_iot_write_t *w);


uint64_t
ngx_iot_gateway_key(ngx_str_t *name)
{
    size_t    i;
    uint64_t  h;

    /* FNV-1a: a gateway's sessions are found by its name */

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < name->len; i++) {
        h ^= name->data[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


/* IMEISV and MSISDN as the gateway reports them, when it does */

static void
ngx_iot_session_note(ngx_iot_device_t *d, ngx_iot_session_info_t *info)
{
    uint64_t  key;

    if (info->imeisv.len
        && ngx_iot_ident_decode(info->imeisv.data, info->imeisv.len, &key)
           == NGX_OK)
    {
        d->net_imeisv = key;
    }

    if (info->msisdn.len
        && ngx_iot_ident_decode(info->msisdn.data, info->msisdn.len, &key)
           == NGX_OK)
    {
        d->net_msisdn = key;
    }
}


static ngx_uint_t
ngx_iot_session_in_pool(ngx_iot_gateway_t *gw, in_addr_t addr)
{
    return (addr & gw->pool_mask) == (gw->pool_addr & gw->pool_mask);
}


/* an address of the pool that may be handed out: not its network or
 * broadcast address (pools are /8 to /30) */

static ngx_uint_t
ngx_iot_session_host(ngx_iot_gateway_t *gw, in_addr_t addr)
{
    in_addr_t  host;

    host = addr & ~gw->pool_mask;

    return ngx_iot_session_in_pool(gw, addr)
           && host != 0 && host != ~gw->pool_mask;
}


/*
 * The address a device is given: the one it has, while it is a host of
 * the pool that no other device holds (as its address or through a
 * session), else the next such address of the pool.  Called with the
 * zone unlocked: the writer mutex keeps other writers out.
 */

static ngx_iot_rc_e
ngx_iot_session_address(ngx_iot_write_t *w, ngx_iot_gateway_t *gw,
    uint64_t device_id, in_addr_t *addr)
{
    uint64_t   size, i, host, other;
    in_addr_t  a;
    ngx_int_t  n;

    if (ngx_iot_session_host(gw, *addr)) {
        n = ngx_iot_store_address_holders(w->store, *addr, device_id, &other,
                                          1, w->log);
        if (n == NGX_ERROR) {
            return NGX_IOT_STORE_ERROR;
        }

        if (n == 0) {
            return NGX_IOT_OK;
        }
    }

    size = (uint64_t) (~gw->pool_mask) + 1;

    for (i = 0; i < size; i++) {
        host = (gw->next + i) % size;
        a = (gw->pool_addr & gw->pool_mask) | (in_addr_t) host;

        if (!ngx_iot_session_host(gw, a)) {
            continue;
        }

        n = ngx_iot_store_address_holders(w->store, a, device_id, &other, 1,
                                          w->log);
        if (n == NGX_ERROR) {
            return NGX_IOT_STORE_ERROR;
        }

        if (n == 0) {
            gw->next = host + 1;
            *addr = a;
            return NGX_IOT_OK;
        }
    }

    return NGX_IOT_POOL_EXHAUSTED;
}


static ngx_iot_device_t *
ngx_iot_session_owner(ngx_iot_zone_ctx_t *ctx, ngx_iot_session_info_t *info)
{
    if (info->imsi == 0) {
        return NULL;
    }

    return ngx_iot_ident_find(ctx, NGX_IOT_IDENT_IMSI, info->imsi);
}


static void
ngx_iot_session_journal(ngx_iot_write_t *w, ngx_iot_entity_e what,
    uint64_t id)
{
    ngx_iot_store_key_t  key;

    key.id = id;
    key.data = NULL;
    key.len = 0;

    ngx_iot_journal_note(w->ctx, what, &key);
}


static ngx_iot_rc_e
ngx_iot_session_run(ngx_cycle_t *cycle, ngx_iot_session_op_t *op,
    ngx_iot_write_pt check, ngx_iot_write_store_pt write,
    ngx_iot_write_pt apply, in_addr_t *addr, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_rc_e               rc;
    ngx_iot_write_t           *w, here;
    ngx_iot_session_posted_t  *p;

    p = NULL;

    if (wait) {
        p = ngx_pcalloc(wait->pool, sizeof(ngx_iot_session_posted_t));
        if (p == NULL) {
            return NGX_IOT_STORE_ERROR;
        }

        p->op = *op;
        p->addr = addr;
        p->wait = wait;
        op = &p->op;
        w = &p->w;

    } else {
        ngx_memzero(&here, sizeof(ngx_iot_write_t));
        w = &here;
    }

    w->check = check;
    w->write = write;
    w->apply = apply;
    w->data = op;
    w->log = log;

    if (p) {
        w->pool = wait->pool;
        w->done = ngx_iot_session_done;
        w->done_data = p;

        rc = ngx_iot_write_post(cycle, w);

    } else {
        rc = ngx_iot_write(cycle, w);
    }

    if (rc == NGX_IOT_OK && addr) {
        *addr = op->addr;
    }

    return rc;
}


/* on the event loop: a posted session write is answered */

static void
ngx_iot_session_done(ngx_iot_write_t *w)
{
    ngx_iot_session_posted_t  *p = w->done_data;

    if (w->rc == NGX_IOT_OK && p->addr) {
        *p->addr = p->op.addr;
    }

    p->wait->rc = w->rc;
    p->wait->handler(p->wait);
}


/* Access-Request */

ngx_iot_rc_e
ngx_iot_session_attach(ngx_cycle_t *cycle, ngx_iot_session_info_t *info,
    in_addr_t *addr, ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_session_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_session_op_t));
    op.info = info;

    return ngx_iot_session_run(cycle, &op, ngx_iot_session_attach_check,
                               ngx_iot_session_device_net,
                               ngx_iot_session_attach_apply, addr, log, wait);
}


static ngx_iot_rc_e
ngx_iot_session_attach_check(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    in_addr_t          cur, net;
    ngx_iot_rc_e       rc;
    ngx_iot_device_t  *d;

    d = ngx_iot_ident_find(w->ctx, NGX_IOT_IDENT_IMSI, op->info->imsi);
    if (d == NULL) {
        return NGX_IOT_NOT_FOUND;
    }

    cur = 0;

    if (d->net_family == 4) {
        ngx_memcpy(&net, d->net_addr, 4);
        cur = ntohl(net);
    }

    /* writers are kept out by the writer mutex; readers may go on */

    ngx_iot_zone_unlock(w->ctx);
    rc = ngx_iot_session_address(w, op->info->gateway, d->id.key, &cur);
    ngx_iot_zone_lock(w->ctx);

    if (rc != NGX_IOT_OK) {
        return rc;
    }

    /* the store first, as the registry does; readers see the old one */

    op->d = d;
    ngx_memcpy(&op->next, d, NGX_IOT_DEVICE_ZONE_SIZE);
    op->addr = cur;

    net = htonl(cur);
    op->next.net_family = 4;
    ngx_memzero(op->next.net_addr, sizeof(op->next.net_addr));
    ngx_memcpy(op->next.net_addr, &net, 4);
    op->next.net_at = ngx_iot_now_ms();
    ngx_iot_session_note(&op->next, op->info);

    ngx_iot_session_journal(w, NGX_IOT_ENTITY_DEVICE, d->id.key);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_session_device_net(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    return ngx_iot_store_device_net(w->store, &op->next, w->log);
}


static ngx_iot_rc_e
ngx_iot_session_attach_apply(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    ngx_memcpy(op->d, &op->next, NGX_IOT_DEVICE_ZONE_SIZE);

    return NGX_IOT_OK;
}


/* Accounting Start and Interim-Update */

ngx_iot_rc_e
ngx_iot_session_start(ngx_cycle_t *cycle, ngx_iot_session_info_t *info,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_session_op_t  op;

    if (info->addr == 0) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_memzero(&op, sizeof(ngx_iot_session_op_t));
    op.info = info;

    return ngx_iot_session_run(cycle, &op, ngx_iot_session_start_check,
                               ngx_iot_session_start_write,
                               ngx_iot_session_start_apply, NULL, log,
                               wait);
}


static ngx_iot_rc_e
ngx_iot_session_start_check(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    size_t                   sid;
    in_addr_t                net;
    ngx_uint_t               moved;
    ngx_iot_rc_e             rc;
    ngx_iot_link_t          *link;
    ngx_iot_device_t        *d;
    ngx_iot_session_t       *s, *next;
    ngx_iot_session_info_t  *info;

    info = op->info;
    sid = ngx_min(info->session_id.len, NGX_IOT_SESSION_ID_MAX);

    d = ngx_iot_session_owner(w->ctx, info);
    if (d == NULL) {
        return NGX_IOT_NOT_FOUND;
    }

    rc = ngx_iot_session_holders(w, op, d, info->addr);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    link = ngx_iot_index_find(&w->ctx->sh->sessions, info->addr);
    s = link ? ngx_iot_session_of(link) : NULL;

    op->fresh = (s == NULL);

    if (s == NULL) {
        s = ngx_iot_journal_alloc(w->ctx, sizeof(ngx_iot_session_t));
        if (s == NULL) {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "iot zone \"%V\" is full: cannot add a session; "
                          "make the zone larger (iot_zone)", &w->ctx->name);
            return NGX_IOT_ZONE_FULL;
        }

        s->addr.key = info->addr;
    }

    op->d = d;
    op->s = s;
    ngx_memcpy(&op->next, d, NGX_IOT_DEVICE_ZONE_SIZE);

    net = htonl(info->addr);
    moved = (d->net_family != 4 || ngx_memcmp(d->net_addr, &net, 4) != 0);

    if (moved) {
        op->next.net_family = 4;
        ngx_memzero(op->next.net_addr, sizeof(op->next.net_addr));
        ngx_memcpy(op->next.net_addr, &net, 4);
        op->next.net_at = ngx_iot_now_ms();
    }

    ngx_iot_session_note(&op->next, info);

    /* an Interim-Update that changes nothing is not written again */

    if (!op->fresh && !moved
        && op->nheld == 0
        && s->device_id == d->id.key
        && s->gateway == info->gateway->key
        && s->session_id_len == sid
        && ngx_memcmp(s->session_id, info->session_id.data, sid) == 0
        && op->next.net_imeisv == d->net_imeisv
        && op->next.net_msisdn == d->net_msisdn)
    {
        w->unchanged = 1;
        return NGX_IOT_OK;
    }

    next = &op->row.session;

    *next = *s;
    next->device_id = d->id.key;
    next->gateway = info->gateway->key;
    next->session_id_len = sid;
    ngx_memcpy(next->session_id, info->session_id.data, sid);

    op->row.gateway = info->gateway->name;

    ngx_iot_session_journal(w, NGX_IOT_ENTITY_SESSION, info->addr);
    ngx_iot_session_journal(w, NGX_IOT_ENTITY_DEVICE, d->id.key);

    return NGX_IOT_OK;
}


/*
 * An address belongs to one device at a time: the other devices that show
 * it as theirs lose it (no downlink goes there for them).  Its session,
 * and with it the uplinks from there, is the Start's device's already.
 */

static ngx_iot_rc_e
ngx_iot_session_holders(ngx_iot_write_t *w, ngx_iot_session_op_t *op,
    ngx_iot_device_t *d, in_addr_t addr)
{
    uint64_t           ids[NGX_IOT_SESSION_HOLDERS_MAX];
    in_addr_t          net;
    ngx_int_t          n, i;
    ngx_iot_device_t  *e, *next;

    /* writers are kept out by the writer mutex; readers may go on */

    ngx_iot_zone_unlock(w->ctx);
    n = ngx_iot_store_address_holders(w->store, addr, d->id.key, ids,
                                      NGX_IOT_SESSION_HOLDERS_MAX, w->log);
    ngx_iot_zone_lock(w->ctx);

    if (n == NGX_ERROR) {
        return NGX_IOT_STORE_ERROR;
    }

    net = htonl(addr);

    for (i = 0; i < n; i++) {
        e = ngx_iot_device_find(w->ctx, ids[i]);

        /* one that holds it only through the session: that is replaced */

        if (e == NULL
            || e->net_family != 4
            || ngx_memcmp(e->net_addr, &net, 4) != 0)
        {
            continue;
        }

        next = &op->held_next[op->nheld];
        ngx_memcpy(next, e, NGX_IOT_DEVICE_ZONE_SIZE);
        next->net_family = 0;
        ngx_memzero(next->net_addr, sizeof(next->net_addr));
        next->net_at = 0;

        op->held[op->nheld++] = e;

        ngx_iot_session_journal(w, NGX_IOT_ENTITY_DEVICE, e->id.key);
    }

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_session_start_write(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    ngx_uint_t  i;

    /* one transaction with the write sequence's (ngx_iot_write.h) */

    if (ngx_iot_store_session_put(w->store, &op->row, w->log) != NGX_OK
        || ngx_iot_store_device_net(w->store, &op->next, w->log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < op->nheld; i++) {
        if (ngx_iot_store_device_net(w->store, &op->held_next[i], w->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_iot_rc_e
ngx_iot_session_start_apply(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    u_char      text[NGX_INET_ADDRSTRLEN];
    u_char      id[NGX_IOT_ID_LEN], held[NGX_IOT_ID_LEN];
    size_t      len;
    in_addr_t   net;
    ngx_uint_t  i;

    *op->s = op->row.session;
    ngx_memcpy(op->d, &op->next, NGX_IOT_DEVICE_ZONE_SIZE);

    for (i = 0; i < op->nheld; i++) {
        ngx_memcpy(op->held[i], &op->held_next[i],
                   NGX_IOT_DEVICE_ZONE_SIZE);

        net = htonl(op->info->addr);
        len = ngx_inet_ntop(AF_INET, &net, text, NGX_INET_ADDRSTRLEN);
        (void) ngx_iot_id_encode(id, op->d->id.key);
        (void) ngx_iot_id_encode(held, op->held[i]->id.key);

        ngx_log_error(NGX_LOG_INFO, w->log, 0,
                      "iot: address %*s is now device %*s's: device %*s "
                      "no longer has it", len, text,
                      (size_t) NGX_IOT_ID_LEN, id,
                      (size_t) NGX_IOT_ID_LEN, held);
    }

    if (op->fresh) {
        ngx_iot_index_insert(w->ctx->shpool, &w->ctx->sh->sessions,
                             &op->s->addr);
    }

    return NGX_IOT_OK;
}


/* Accounting Stop */

ngx_iot_rc_e
ngx_iot_session_stop(ngx_cycle_t *cycle, ngx_iot_session_info_t *info,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_session_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_session_op_t));
    op.info = info;

    return ngx_iot_session_run(cycle, &op, ngx_iot_session_stop_check,
                               ngx_iot_session_stop_write,
                               ngx_iot_session_stop_apply, NULL, log,
                               wait);
}


static ngx_iot_rc_e
ngx_iot_session_stop_check(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    size_t                   sid;
    ngx_iot_link_t          *link;
    ngx_iot_session_t       *s;
    ngx_iot_session_info_t  *info;

    info = op->info;
    sid = ngx_min(info->session_id.len, NGX_IOT_SESSION_ID_MAX);

    link = info->addr ? ngx_iot_index_find(&w->ctx->sh->sessions, info->addr)
                      : NULL;
    s = link ? ngx_iot_session_of(link) : NULL;

    /* addresses are reused: a Stop ends only the session it names */

    if (s == NULL
        || s->session_id_len != sid
        || ngx_memcmp(s->session_id, info->session_id.data, sid) != 0)
    {
        w->unchanged = 1;
        return NGX_IOT_OK;
    }

    op->s = s;

    ngx_iot_session_journal(w, NGX_IOT_ENTITY_SESSION, info->addr);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_session_stop_write(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    ngx_iot_store_key_t  key;

    key.id = op->info->addr;
    key.data = NULL;
    key.len = 0;

    return ngx_iot_store_delete(w->store, NGX_IOT_STORE_SESSIONS, &key,
                                w->log);
}


static ngx_iot_rc_e
ngx_iot_session_stop_apply(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    ngx_iot_entity_drop(w->ctx, NGX_IOT_ENTITY_SESSION, op->s);

    return NGX_IOT_OK;
}


/* Accounting-On and -Off */

ngx_iot_rc_e
ngx_iot_session_purge(ngx_cycle_t *cycle, ngx_iot_gateway_t *gateway,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_session_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_session_op_t));
    op.gateway = gateway;

    return ngx_iot_session_run(cycle, &op, ngx_iot_session_purge_check,
                               ngx_iot_session_purge_write,
                               ngx_iot_session_purge_apply, NULL, log,
                               wait);
}


static ngx_iot_rc_e
ngx_iot_session_purge_check(ngx_iot_write_t *w)
{
    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_session_purge_write(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    return ngx_iot_store_session_purge(w->store, &op->gateway->name, w->log);
}


/* the store is done with them: a crash here leaves only stale zone
 * entries, which the next Start of each address replaces */

static ngx_iot_rc_e
ngx_iot_session_purge_apply(ngx_iot_write_t *w)
{
    ngx_iot_session_op_t  *op = w->data;

    ngx_uint_t           i, n;
    ngx_iot_sh_t        *sh;
    ngx_iot_link_t     **pp, *link;
    ngx_iot_session_t   *s;

    sh = w->ctx->sh;
    n = 0;

    for (i = 0; i <= sh->sessions.mask; i++) {
        pp = &sh->sessions.buckets[i];

        while (*pp) {
            link = *pp;
            s = ngx_iot_session_of(link);

            if (s->gateway != op->gateway->key) {
                pp = &link->next;
                continue;
            }

            *pp = link->next;
            sh->sessions.nelts--;
            ngx_slab_free_locked(w->ctx->shpool, s);
            n++;
        }
    }

    ngx_log_error(NGX_LOG_INFO, w->log, 0,
                  "iot: gateway \"%V\" restarted: %ui sessions ended",
                  &op->gateway->name, n);

    return NGX_IOT_OK;
}


ngx_iot_rc_e
ngx_iot_session_device(ngx_cycle_t *cycle, in_addr_t addr, ngx_pool_t *pool,
    ngx_iot_device_t *out)
{
    ngx_iot_rc_e         irc;
    ngx_iot_link_t      *link;
    ngx_iot_device_t    *d;
    ngx_iot_session_t   *s;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    link = ngx_iot_index_find(&ctx->sh->sessions, addr);
    s = link ? ngx_iot_session_of(link) : NULL;
    d = s ? ngx_iot_device_find(ctx, s->device_id) : NULL;

    irc = d ? ngx_iot_device_copy(d, pool, out) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return irc;
}
