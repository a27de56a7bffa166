
/*
 * Copyright (C) nginx-iot authors
 *
 * NB-IoT attach.  RADIUS gives each registered device an address from its
 * gateway's pool (the same one again while it is free), and accounting
 * keeps the map from a device's current address to the device, which is
 * how an uplink datagram is attributed.  Both live in the store and in the
 * zone, written the way the registry writes (ngx_iot_registry.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_id.h"
#include "ngx_iot_session.h"


#define ngx_iot_session_of(link)                                              \
    ((ngx_iot_session_t *) ((u_char *) (link)                                 \
                            - offsetof(ngx_iot_session_t, addr)))


static ngx_iot_device_t *ngx_iot_session_owner(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_session_info_t *info);
static void ngx_iot_session_note(ngx_iot_device_t *d,
    ngx_iot_session_info_t *info);
static ngx_int_t ngx_iot_session_reload(void *row, void *data);


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


ngx_iot_rc_e
ngx_iot_session_attach(ngx_cycle_t *cycle, ngx_iot_session_info_t *info,
    in_addr_t *addr, ngx_log_t *log)
{
    in_addr_t            cur, a, net;
    uint64_t             size, i, host;
    ngx_int_t            rc;
    ngx_iot_rc_e         irc;
    ngx_iot_link_t      *link;
    ngx_iot_store_t     *store;
    ngx_iot_device_t    *d, saved, next;
    ngx_iot_gateway_t   *gw;
    ngx_iot_zone_ctx_t  *ctx;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    gw = info->gateway;

    ctx = ngx_iot_lock_write(cycle, log, &irc);
    if (ctx == NULL) {
        return irc;
    }

    link = ngx_iot_index_find(&ctx->sh->imsi, info->imsi);
    if (link == NULL) {
        irc = NGX_IOT_NOT_FOUND;
        goto done;
    }

    d = (ngx_iot_device_t *) ((u_char *) link
                              - offsetof(ngx_iot_device_t, imsi));

    cur = 0;

    if (d->net_family == 4) {
        ngx_memcpy(&net, d->net_addr, 4);
        cur = ntohl(net);
    }

    if (cur == 0 || !ngx_iot_session_in_pool(gw, cur)) {

        /* a free address: one that no device holds */

        size = (uint64_t) (~gw->pool_mask) + 1;
        a = 0;

        /* writers are kept out by the writer mutex; readers may go on */
        ngx_iot_zone_unlock(ctx);

        for (i = 0; i < size; i++) {
            host = (gw->next + i) % size;

            /* not the network and broadcast addresses of a real subnet */
            if (size > 2 && (host == 0 || host == size - 1)) {
                continue;
            }

            a = (gw->pool_addr & gw->pool_mask) | (in_addr_t) host;

            rc = ngx_iot_store_address_taken(store, a, log);

            if (rc == NGX_DECLINED) {
                gw->next = host + 1;
                break;
            }

            if (rc != NGX_OK) {
                ngx_iot_zone_lock(ctx);
                irc = NGX_IOT_STORE_ERROR;
                goto done;
            }

            a = 0;
        }

        ngx_iot_zone_lock(ctx);

        if (a == 0) {
            irc = NGX_IOT_POOL_EXHAUSTED;
            goto done;
        }

        cur = a;
    }

    saved = *d;

    net = htonl(cur);
    d->net_family = 4;
    ngx_memzero(d->net_addr, sizeof(d->net_addr));
    ngx_memcpy(d->net_addr, &net, 4);
    d->net_at = ngx_iot_now_ms();
    ngx_iot_session_note(d, info);

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_DEVICE, d->id.key, NULL, NULL,
                        NULL);

    /* the store first, as the registry does; readers see the old one */
    next = *d;
    *d = saved;

    ngx_iot_zone_unlock(ctx);
    rc = ngx_iot_store_device_net(store, &next, log);
    ngx_iot_zone_lock(ctx);

    if (rc != NGX_OK) {
        ngx_iot_pending_clear(ctx);
        irc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    *d = next;
    ngx_iot_pending_clear(ctx);

    *addr = cur;
    irc = NGX_IOT_OK;

done:

    ngx_iot_unlock(ctx);

    return irc;
}


static ngx_iot_device_t *
ngx_iot_session_owner(ngx_iot_zone_ctx_t *ctx, ngx_iot_session_info_t *info)
{
    ngx_iot_link_t  *link;

    if (info->imsi == 0) {
        return NULL;
    }

    link = ngx_iot_index_find(&ctx->sh->imsi, info->imsi);
    if (link == NULL) {
        return NULL;
    }

    return (ngx_iot_device_t *) ((u_char *) link
                                 - offsetof(ngx_iot_device_t, imsi));
}


ngx_iot_rc_e
ngx_iot_session_start(ngx_cycle_t *cycle, ngx_iot_session_info_t *info,
    ngx_log_t *log)
{
    size_t                  sid;
    in_addr_t               net;
    ngx_uint_t              fresh, moved;
    ngx_iot_rc_e            irc;
    ngx_iot_link_t         *link;
    ngx_iot_store_t        *store;
    ngx_iot_device_t       *d, saved;
    ngx_iot_session_t      *s, old;
    ngx_iot_zone_ctx_t     *ctx;
    ngx_iot_session_row_t   row;

    if (info->addr == 0) {
        return NGX_IOT_NOT_FOUND;
    }

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    sid = ngx_min(info->session_id.len, NGX_IOT_SESSION_ID_MAX);

    ctx = ngx_iot_lock_write(cycle, log, &irc);
    if (ctx == NULL) {
        return irc;
    }

    d = ngx_iot_session_owner(ctx, info);
    if (d == NULL) {
        irc = NGX_IOT_NOT_FOUND;
        goto done;
    }

    link = ngx_iot_index_find(&ctx->sh->sessions, info->addr);
    s = link ? ngx_iot_session_of(link) : NULL;

    fresh = (s == NULL);

    if (s == NULL) {
        s = ngx_slab_calloc_locked(ctx->shpool, sizeof(ngx_iot_session_t));
        if (s == NULL) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "iot zone \"%V\" is full: cannot add a session; "
                          "make the zone larger (iot_zone)", &ctx->name);
            irc = NGX_IOT_ZONE_FULL;
            goto done;
        }

        s->addr.key = info->addr;
    }

    saved = *d;
    old = *s;

    net = htonl(info->addr);
    moved = (d->net_family != 4 || ngx_memcmp(d->net_addr, &net, 4) != 0);

    if (moved) {
        d->net_family = 4;
        ngx_memzero(d->net_addr, sizeof(d->net_addr));
        ngx_memcpy(d->net_addr, &net, 4);
        d->net_at = ngx_iot_now_ms();
    }

    ngx_iot_session_note(d, info);

    /* an Interim-Update that changes nothing is not written again */

    if (!fresh && !moved
        && s->device_id == d->id.key
        && s->gateway == info->gateway->key
        && s->session_id_len == sid
        && ngx_memcmp(s->session_id, info->session_id.data, sid) == 0
        && saved.net_imeisv == d->net_imeisv
        && saved.net_msisdn == d->net_msisdn)
    {
        irc = NGX_IOT_OK;
        goto done;
    }

    s->device_id = d->id.key;
    s->gateway = info->gateway->key;
    s->session_id_len = sid;
    ngx_memcpy(s->session_id, info->session_id.data, sid);

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_SESSION, info->addr, NULL,
                        fresh ? s : NULL, NULL);
    ctx->sh->pending.id2 = d->id.key;

    row.session = *s;
    row.gateway = info->gateway->name;

    if (ngx_iot_store_begin(store, log) != NGX_OK) {
        goto failed;
    }

    if (ngx_iot_store_session_put(store, &row, log) != NGX_OK
        || ngx_iot_store_device_net(store, d, log) != NGX_OK
        || ngx_iot_store_commit(store, log) != NGX_OK)
    {
        ngx_iot_store_rollback(store, log);
        goto failed;
    }

    if (fresh) {
        ngx_iot_index_insert(ctx->shpool, &ctx->sh->sessions, &s->addr);
    }

    ngx_iot_pending_clear(ctx);

    irc = NGX_IOT_OK;
    goto done;

failed:

    *d = saved;

    if (fresh) {
        ngx_slab_free_locked(ctx->shpool, s);

    } else {
        *s = old;
    }

    ngx_iot_pending_clear(ctx);
    irc = NGX_IOT_STORE_ERROR;

done:

    ngx_iot_unlock(ctx);

    return irc;
}


ngx_iot_rc_e
ngx_iot_session_stop(ngx_cycle_t *cycle, ngx_iot_session_info_t *info,
    ngx_log_t *log)
{
    size_t                sid;
    ngx_iot_rc_e          irc;
    ngx_iot_link_t       *link;
    ngx_iot_store_t      *store;
    ngx_iot_session_t    *s;
    ngx_iot_zone_ctx_t   *ctx;
    ngx_iot_store_key_t   key;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    sid = ngx_min(info->session_id.len, NGX_IOT_SESSION_ID_MAX);

    ctx = ngx_iot_lock_write(cycle, log, &irc);
    if (ctx == NULL) {
        return irc;
    }

    link = info->addr ? ngx_iot_index_find(&ctx->sh->sessions, info->addr)
                      : NULL;
    s = link ? ngx_iot_session_of(link) : NULL;

    /* addresses are reused: a Stop ends only the session it names */

    if (s == NULL
        || s->session_id_len != sid
        || ngx_memcmp(s->session_id, info->session_id.data, sid) != 0)
    {
        irc = NGX_IOT_OK;
        goto done;
    }

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_SESSION, info->addr, NULL, NULL,
                        NULL);

    key.id = info->addr;
    key.data = NULL;
    key.len = 0;

    if (ngx_iot_store_delete(store, NGX_IOT_STORE_SESSIONS, &key, log)
        != NGX_OK)
    {
        ngx_iot_pending_clear(ctx);
        irc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    ngx_iot_index_remove(&ctx->sh->sessions, &s->addr);
    ngx_slab_free_locked(ctx->shpool, s);

    ngx_iot_pending_clear(ctx);
    irc = NGX_IOT_OK;

done:

    ngx_iot_unlock(ctx);

    return irc;
}


ngx_iot_rc_e
ngx_iot_session_purge(ngx_cycle_t *cycle, ngx_iot_gateway_t *gateway,
    ngx_log_t *log)
{
    ngx_uint_t           i, n;
    ngx_iot_rc_e         irc;
    ngx_iot_link_t     **pp, *link;
    ngx_iot_store_t     *store;
    ngx_iot_session_t   *s;
    ngx_iot_zone_ctx_t  *ctx;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ctx = ngx_iot_lock_write(cycle, log, &irc);
    if (ctx == NULL) {
        return irc;
    }

    if (ngx_iot_store_session_purge(store, &gateway->name, log) != NGX_OK) {
        irc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    /* the store is done with them: a crash here leaves only stale zone
     * entries, which the next Start of each address replaces */

    n = 0;

    for (i = 0; i <= ctx->sh->sessions.mask; i++) {
        pp = &ctx->sh->sessions.buckets[i];

        while (*pp) {
            link = *pp;
            s = ngx_iot_session_of(link);

            if (s->gateway != gateway->key) {
                pp = &link->next;
                continue;
            }

            *pp = link->next;
            ctx->sh->sessions.nelts--;
            ngx_slab_free_locked(ctx->shpool, s);
            n++;
        }
    }

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "iot: gateway \"%V\" restarted: %ui sessions ended",
                  &gateway->name, n);

    irc = NGX_IOT_OK;

done:

    ngx_iot_unlock(ctx);

    return irc;
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


/* loading at start and in repair; the caller holds the lock */

ngx_int_t
ngx_iot_session_load(ngx_iot_zone_ctx_t *ctx, ngx_iot_session_t *row)
{
    ngx_iot_session_t  *s;

    if (row->addr.key == 0) {
        return NGX_OK;
    }

    s = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_iot_session_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    *s = *row;

    ngx_iot_index_insert(ctx->shpool, &ctx->sh->sessions, &s->addr);

    return NGX_OK;
}


static ngx_int_t
ngx_iot_session_reload(void *row, void *data)
{
    ngx_iot_session_row_t  *r = row;

    r->session.gateway = ngx_iot_gateway_key(&r->gateway);

    return ngx_iot_session_load(data, &r->session);
}


void
ngx_iot_session_repair(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_iot_pending_t *p)
{
    ngx_iot_link_t       *link;
    ngx_iot_session_t    *s;
    ngx_iot_store_key_t   key;

    link = ngx_iot_index_find(&ctx->sh->sessions, p->id);
    s = link ? ngx_iot_session_of(link) : NULL;

    if (p->alloc[0] && p->alloc[0] != s) {
        ngx_slab_free_locked(ctx->shpool, p->alloc[0]);
    }

    if (s) {
        ngx_iot_index_remove(&ctx->sh->sessions, &s->addr);
        ngx_slab_free_locked(ctx->shpool, s);
    }

    key.id = p->id;
    key.data = NULL;
    key.len = 0;

    (void) ngx_iot_store_find(store, NGX_IOT_STORE_SESSIONS, &key,
                              ngx_iot_session_reload, ctx, ngx_cycle->log);
}
