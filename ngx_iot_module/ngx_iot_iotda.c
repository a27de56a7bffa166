
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's part of a device: reads from the zone, writes
 * through the write sequence (ngx_iot_write.h), with its device or alone.
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
#include "ngx_iot_iotda.h"


static ngx_iot_rc_e ngx_iot_iotda_check(ngx_iot_write_t *w,
    ngx_iot_device_t *d, void *data);
static ngx_int_t ngx_iot_iotda_store(ngx_iot_write_t *w, void *data);
static void ngx_iot_iotda_apply(ngx_iot_write_t *w, void *data);
static ngx_iot_rc_e ngx_iot_iotda_alone_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_iotda_alone_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_iotda_alone_apply(ngx_iot_write_t *w);
static void ngx_iot_iotda_done(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_iotda_fill(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_device_t *d, ngx_pool_t *pool, ngx_uint_t model,
    ngx_iot_iotda_view_t *v);
static ngx_int_t ngx_iot_iotda_str(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_str_t *out);
static ngx_uint_t ngx_iot_iotda_same(ngx_str_t *s, ngx_iot_text_t *t);
static ngx_iot_rc_e ngx_iot_iotda_reported(ngx_iot_iotda_op_t *op);
static void ngx_iot_iotda_reported_done(ngx_iot_wait_t *wait);


ngx_iot_iotda_t *
ngx_iot_iotda_find(ngx_iot_zone_ctx_t *ctx, uint64_t id)
{
    return (ngx_iot_iotda_t *) ngx_iot_index_find(&ctx->sh->iotda, id);
}


ngx_iot_iotda_t *
ngx_iot_iotda_find_did(ngx_iot_zone_ctx_t *ctx, u_char *did, size_t len)
{
    ngx_iot_link_t   *link;
    ngx_iot_iotda_t  *x;

    for (link = ngx_iot_index_find(&ctx->sh->iotda_dids,
                                   ngx_iot_index_hash(did, len));
         link;
         link = ngx_iot_index_find_next(link))
    {
        x = ngx_iot_container_of(link, ngx_iot_iotda_t, did_link);

        if (x->did_len == len && ngx_memcmp(x->ids.data, did, len) == 0) {
            return x;
        }
    }

    return NULL;
}


ngx_uint_t
ngx_iot_iotda_has_children(ngx_iot_zone_ctx_t *ctx, uint64_t id)
{
    return ngx_iot_index_find(&ctx->sh->iotda_children, id) != NULL;
}


uint64_t
ngx_iot_iotda_imei(u_char *node, size_t len)
{
    uint64_t  key;

    if (len != 15 || ngx_iot_ident_decode(node, len, &key) != NGX_OK) {
        return 0;
    }

    return key;
}


/*
 * The node id a device shows: its part's, else its IMEI, its IMSI, its
 * id.  A node id that is not an IMEI is taken if a part keeps it or a
 * device without one shows it as its IMSI or its id.
 */

ngx_uint_t
ngx_iot_iotda_node_taken(ngx_iot_zone_ctx_t *ctx, u_char *node, size_t len,
    uint64_t self)
{
    uint64_t           key;
    ngx_iot_link_t    *link;
    ngx_iot_iotda_t   *x;
    ngx_iot_device_t  *d;

    for (link = ngx_iot_index_find(&ctx->sh->iotda_nodes,
                                   ngx_iot_index_hash(node, len));
         link;
         link = ngx_iot_index_find_next(link))
    {
        x = ngx_iot_container_of(link, ngx_iot_iotda_t, node_link);

        if (x->id.key != self && x->ids.len - x->did_len == len
            && ngx_memcmp(x->ids.data + x->did_len, node, len) == 0)
        {
            return 1;
        }
    }

    if (ngx_iot_ident_decode(node, len, &key) == NGX_OK) {
        d = ngx_iot_ident_find(ctx, NGX_IOT_IDENT_IMSI, key);

        if (d && d->id.key != self && d->imei.key == 0
            && ngx_iot_iotda_find(ctx, d->id.key) == NULL)
        {
            return 1;
        }
    }

    if (ngx_iot_id_decode(node, len, &key) == NGX_OK) {
        d = ngx_iot_device_find(ctx, key);

        if (d && d->id.key != self && d->imei.key == 0 && d->imsi.key == 0
            && ngx_iot_iotda_find(ctx, key) == NULL)
        {
            return 1;
        }
    }

    return 0;
}


ngx_uint_t
ngx_iot_iotda_did_taken(ngx_iot_zone_ctx_t *ctx, u_char *did, size_t len,
    uint64_t self)
{
    uint64_t          key;
    ngx_iot_iotda_t  *x;

    x = ngx_iot_iotda_find_did(ctx, did, len);

    if (x && x->id.key != self) {
        return 1;
    }

    /* a device's own id names it in every dialect */

    return ngx_iot_id_decode(did, len, &key) == NGX_OK
           && key != self
           && ngx_iot_device_find(ctx, key) != NULL;
}


ngx_iot_device_side_t *
ngx_iot_iotda_side(ngx_iot_iotda_op_t *op)
{
    op->side.check = ngx_iot_iotda_check;
    op->side.write = ngx_iot_iotda_store;
    op->side.apply = ngx_iot_iotda_apply;
    op->side.data = op;

    return &op->side;
}


/*
 * The check: the part as it is (or a new one, whose device id is the
 * device's own), the edit, the texts that change copied into the zone.
 */

static ngx_iot_rc_e
ngx_iot_iotda_check(ngx_iot_write_t *w, ngx_iot_device_t *d, void *data)
{
    ngx_iot_iotda_op_t  *op = data;

    u_char               *p;
    ngx_iot_rc_e          rc;
    ngx_iot_store_key_t   key;

    op->ctx = w->ctx;
    op->pool = w->pool;
    op->d = d;
    op->device_id = d->id.key;
    op->cur = ngx_iot_iotda_find(w->ctx, d->id.key);

    if (op->cur) {
        op->row = *op->cur;

        if (ngx_iot_iotda_str(w->pool, op->cur->ids.data, op->cur->ids.len,
                              &op->ids)
            != NGX_OK
            || ngx_iot_iotda_str(w->pool, op->cur->doc.data,
                                 op->cur->doc.len, &op->doc)
               != NGX_OK)
        {
            return NGX_IOT_STORE_ERROR;
        }

    } else {
        ngx_memzero(&op->row, sizeof(ngx_iot_iotda_t));
        op->row.id.key = d->id.key;

        p = ngx_pnalloc(w->pool, NGX_IOT_ID_LEN);
        if (p == NULL) {
            return NGX_IOT_STORE_ERROR;
        }

        op->ids.data = p;
        op->ids.len = ngx_iot_id_encode(p, d->id.key) - p;
        op->row.did_len = (uint16_t) op->ids.len;
        ngx_str_set(&op->doc, "{}");
    }

    rc = op->edit(op);

    if (rc != NGX_IOT_OK || op->unchanged) {
        if (op->unchanged) {
            w->unchanged = 1;
        }

        return rc;
    }

    op->node.data = op->ids.data + op->row.did_len;
    op->node.len = op->ids.len - op->row.did_len;

    if (op->cur && ngx_iot_iotda_same(&op->ids, &op->cur->ids)) {
        op->zids = op->cur->ids;

    } else if (ngx_iot_journal_text(w->ctx, &op->ids, NGX_IOT_TEXT_PLAIN,
                                    &op->zids)
               != NGX_OK)
    {
        goto full;
    }

    if (op->cur && ngx_iot_iotda_same(&op->doc, &op->cur->doc)) {
        op->zdoc = op->cur->doc;

    } else if (ngx_iot_journal_text(w->ctx, &op->doc, NGX_IOT_TEXT_PLAIN,
                                    &op->zdoc)
               != NGX_OK)
    {
        goto full;
    }

    if (op->cur == NULL) {
        op->e = ngx_iot_journal_alloc(w->ctx, sizeof(ngx_iot_iotda_t));
        if (op->e == NULL) {
            goto full;
        }
    }

    /* the store gets the texts from the pool */

    op->row.ids.data = op->ids.data;
    op->row.ids.len = (uint32_t) op->ids.len;
    op->row.doc.data = op->doc.data;
    op->row.doc.len = (uint32_t) op->doc.len;

    key.id = d->id.key;
    key.data = NULL;
    key.len = 0;

    ngx_iot_journal_note(w->ctx, NGX_IOT_ENTITY_IOTDA, &key);

    return NGX_IOT_OK;

full:

    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "iot zone \"%V\" is full: cannot change a device; make "
                  "the zone larger (iot_zone)", &w->ctx->name);

    return NGX_IOT_ZONE_FULL;
}


static ngx_int_t
ngx_iot_iotda_store(ngx_iot_write_t *w, void *data)
{
    ngx_iot_iotda_op_t  *op = data;

    return ngx_iot_store_iotda_put(w->store, &op->row, &op->node,
                                   op->set_secret, &op->secret,
                                   op->set_secondary, &op->secondary,
                                   w->log);
}


/* the zone: out of its indexes, the new texts in, back into them */

static void
ngx_iot_iotda_apply(ngx_iot_write_t *w, void *data)
{
    ngx_iot_iotda_op_t  *op = data;

    ngx_iot_text_t     old;
    ngx_iot_iotda_t   *x;
    ngx_iot_entity_t  *ent;

    ent = &ngx_iot_entities[NGX_IOT_ENTITY_IOTDA];

    if (op->cur == NULL) {
        x = op->e;
        *x = op->row;
        x->ids = op->zids;
        x->doc = op->zdoc;

        ngx_iot_entity_link(w->ctx, NGX_IOT_ENTITY_IOTDA, x);
        return;
    }

    x = op->cur;

    ent->unlink(w->ctx, x);

    if (x->ids.data != op->zids.data) {
        old = x->ids;
        x->ids = op->zids;
        ngx_iot_text_free(w->ctx->shpool, &old);
    }

    if (x->doc.data != op->zdoc.data) {
        old = x->doc;
        x->doc = op->zdoc;
        ngx_iot_text_free(w->ctx->shpool, &old);
    }

    x->product = op->row.product;
    x->gateway = op->row.gateway;
    x->timeout = op->row.timeout;
    x->did_len = op->row.did_len;
    x->flags = op->row.flags;
    x->depth = op->row.depth;

    ent->link(w->ctx, x);
}


/* the part alone */

ngx_iot_rc_e
ngx_iot_iotda_write(ngx_cycle_t *cycle, ngx_iot_iotda_op_t *op,
    ngx_pool_t *pool, ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_rc_e  rc;

    op->wait = wait;

    ngx_memzero(&op->w, sizeof(ngx_iot_write_t));
    op->w.check = ngx_iot_iotda_alone_check;
    op->w.write = ngx_iot_iotda_alone_store;
    op->w.apply = ngx_iot_iotda_alone_apply;
    op->w.data = op;
    op->w.pool = pool;
    op->w.log = log;

    if (wait == NULL) {
        return ngx_iot_write(cycle, &op->w);
    }

    op->w.done = ngx_iot_iotda_done;
    op->w.done_data = op;

    rc = ngx_iot_write_post(cycle, &op->w);

    return rc;
}


static ngx_iot_rc_e
ngx_iot_iotda_alone_check(ngx_iot_write_t *w)
{
    ngx_iot_iotda_op_t  *op = w->data;

    ngx_iot_device_t  *d;

    d = ngx_iot_device_find(w->ctx, op->device_id);

    if (d == NULL || (op->cid && d->collection_id != op->cid)) {
        return NGX_IOT_NOT_FOUND;
    }

    return ngx_iot_iotda_check(w, d, op);
}


static ngx_int_t
ngx_iot_iotda_alone_store(ngx_iot_write_t *w)
{
    return ngx_iot_iotda_store(w, w->data);
}


static ngx_iot_rc_e
ngx_iot_iotda_alone_apply(ngx_iot_write_t *w)
{
    ngx_iot_iotda_apply(w, w->data);

    return NGX_IOT_OK;
}


static void
ngx_iot_iotda_done(ngx_iot_write_t *w)
{
    ngx_iot_iotda_op_t  *op = w->done_data;

    op->wait->rc = w->rc;
    op->wait->handler(op->wait);
}


/* reads */

ngx_iot_rc_e
ngx_iot_iotda_resolve(ngx_cycle_t *cycle, ngx_str_t *did, uint64_t *id)
{
    uint64_t             key;
    ngx_iot_rc_e         rc;
    ngx_iot_iotda_t     *x;
    ngx_iot_zone_ctx_t  *ctx;

    if (did->len == 0 || did->len > NGX_IOT_IOTDA_DID_MAX) {
        return NGX_IOT_NOT_FOUND;
    }

    ctx = ngx_iot_lock_read(cycle);

    x = ngx_iot_iotda_find_did(ctx, did->data, did->len);
    rc = NGX_IOT_OK;

    if (x) {
        *id = x->id.key;

    } else if (ngx_iot_id_decode(did->data, did->len, &key) == NGX_OK
               && ngx_iot_device_find(ctx, key))
    {
        *id = key;

    } else {
        rc = NGX_IOT_NOT_FOUND;
    }

    ngx_iot_unlock_read(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_iotda_view(ngx_cycle_t *cycle, uint64_t id, ngx_pool_t *pool,
    ngx_uint_t model, ngx_iot_iotda_view_t *v)
{
    ngx_iot_rc_e         rc;
    ngx_iot_device_t    *d;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    d = ngx_iot_device_find(ctx, id);
    rc = d ? ngx_iot_iotda_fill(ctx, d, pool, model, v) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return rc;
}


/* one walk of the zone's devices, as ngx_iot_device_select() does */

ngx_iot_rc_e
ngx_iot_iotda_select(ngx_cycle_t *cycle, uint64_t after,
    ngx_iot_iotda_match_pt match, void *data, ngx_pool_t *pool,
    ngx_iot_iotda_view_t *out, ngx_uint_t n, ngx_uint_t *found,
    ngx_uint_t *count)
{
    uint64_t             grand;
    ngx_uint_t           i, k, kept;
    ngx_iot_rc_e         rc;
    ngx_iot_link_t      *link;
    ngx_iot_index_t     *idx;
    ngx_iot_iotda_t     *x, *gx;
    ngx_iot_device_t    *d, **page;
    ngx_iot_zone_ctx_t  *ctx;

    *found = 0;
    *count = 0;

    page = ngx_palloc(pool, (n ? n : 1) * sizeof(ngx_iot_device_t *));
    if (page == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    kept = 0;
    rc = NGX_IOT_OK;

    ctx = ngx_iot_lock_read(cycle);

    idx = &ctx->sh->devices;

    for (i = 0; idx->buckets && i <= idx->mask; i++) {

        for (link = idx->buckets[i]; link; link = link->next) {
            d = (ngx_iot_device_t *) link;

            x = ctx->sh->iotda.nelts ? ngx_iot_iotda_find(ctx, d->id.key)
                                     : NULL;
            grand = 0;

            if (x && x->gateway) {
                gx = ngx_iot_iotda_find(ctx, x->gateway);
                grand = gx ? gx->gateway : 0;
            }

            if (!match(d, x, grand, data)) {
                continue;
            }

            (*count)++;

            if (d->id.key <= after || n == 0
                || (kept == n && d->id.key >= page[n - 1]->id.key))
            {
                continue;
            }

            for (k = (kept < n) ? kept++ : n - 1;
                 k > 0 && page[k - 1]->id.key > d->id.key;
                 k--)
            {
                page[k] = page[k - 1];
            }

            page[k] = d;
        }
    }

    for (k = 0; k < kept && rc == NGX_IOT_OK; k++) {
        rc = ngx_iot_iotda_fill(ctx, page[k], pool, 0, &out[k]);
    }

    ngx_iot_unlock_read(ctx);

    if (rc == NGX_IOT_OK) {
        *found = kept;
    }

    return rc;
}


/* a device, its part and what it names, copied; under the read lock */

static ngx_iot_rc_e
ngx_iot_iotda_fill(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *d,
    ngx_pool_t *pool, ngx_uint_t model, ngx_iot_iotda_view_t *v)
{
    u_char               *p;
    ngx_iot_iotda_t      *x, *gx;
    ngx_iot_product_t    *pr;
    ngx_iot_store_key_t   key;

    ngx_memzero(v, sizeof(ngx_iot_iotda_view_t));

    if (ngx_iot_device_copy(d, pool, &v->d) != NGX_IOT_OK) {
        return NGX_IOT_STORE_ERROR;
    }

    x = ngx_iot_iotda_find(ctx, d->id.key);

    p = ngx_pnalloc(pool, 3 * (NGX_IOT_ID_LEN + NGX_IOT_IDENT_MAX_DIGITS));
    if (p == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    /* device id, node id and gateway id of a device without a part */

    v->device_id.data = p;
    v->device_id.len = ngx_iot_id_encode(p, d->id.key) - p;
    p += v->device_id.len;

    v->node_id.data = p;
    p = d->imei.key ? ngx_iot_ident_encode(p, d->imei.key)
        : d->imsi.key ? ngx_iot_ident_encode(p, d->imsi.key)
        : ngx_iot_id_encode(p, d->id.key);
    v->node_id.len = p - v->node_id.data;

    v->gateway_id = v->device_id;
    v->children = ngx_iot_iotda_has_children(ctx, d->id.key);

    if (x == NULL) {
        return NGX_IOT_OK;
    }

    v->x = *x;

    if (ngx_iot_iotda_str(pool, x->ids.data, x->did_len, &v->device_id)
        != NGX_OK
        || ngx_iot_iotda_str(pool, x->doc.data, x->doc.len, &v->doc)
           != NGX_OK)
    {
        return NGX_IOT_STORE_ERROR;
    }

    v->gateway_id = v->device_id;

    if (x->ids.len > x->did_len
        && ngx_iot_iotda_str(pool, x->ids.data + x->did_len,
                             x->ids.len - x->did_len, &v->node_id)
           != NGX_OK)
    {
        return NGX_IOT_STORE_ERROR;
    }

    if (x->gateway) {
        gx = ngx_iot_iotda_find(ctx, x->gateway);

        if (gx) {
            if (ngx_iot_iotda_str(pool, gx->ids.data, gx->did_len,
                                  &v->gateway_id)
                != NGX_OK)
            {
                return NGX_IOT_STORE_ERROR;
            }

        } else {
            v->gateway_id.data = p;
            v->gateway_id.len = ngx_iot_id_encode(p, x->gateway) - p;
        }
    }

    key.id = x->product;
    key.data = NULL;
    key.len = 0;

    pr = x->product ? ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_PRODUCT, &key)
                    : NULL;

    if (pr) {
        if (ngx_iot_iotda_str(pool, pr->pid, pr->pid_len, &v->product_id)
            != NGX_OK
            || ngx_iot_iotda_str(pool, pr->name.data, pr->name.len,
                                 &v->product_name)
               != NGX_OK
            || (model
                && ngx_iot_iotda_str(pool, pr->model.data, pr->model.len,
                                     &v->model)
                   != NGX_OK))
        {
            return NGX_IOT_STORE_ERROR;
        }
    }

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_iotda_str(ngx_pool_t *pool, u_char *p, size_t len, ngx_str_t *out)
{
    out->len = len;
    out->data = ngx_pnalloc(pool, len + 1);

    if (out->data == NULL) {
        return NGX_ERROR;
    }

    if (len) {
        ngx_memcpy(out->data, p, len);
    }

    out->data[len] = '\0';

    return NGX_OK;
}


static ngx_uint_t
ngx_iot_iotda_same(ngx_str_t *s, ngx_iot_text_t *t)
{
    return s->len == t->len
           && (s->len == 0 || ngx_memcmp(s->data, t->data, s->len) == 0);
}


/* a frozen device's uplinks are refused; no part, no lock */

ngx_uint_t
ngx_iot_iotda_frozen(ngx_cycle_t *cycle, uint64_t device_id)
{
    ngx_uint_t           frozen;
    ngx_iot_iotda_t     *x;
    ngx_iot_zone_ctx_t  *ctx;

    if (ngx_iot_zone_ctx(cycle)->sh->iotda.nelts == 0) {
        return 0;
    }

    ctx = ngx_iot_lock_read(cycle);

    x = ngx_iot_iotda_find(ctx, device_id);
    frozen = (x && (x->flags & NGX_IOT_IOTDA_FROZEN));

    ngx_iot_unlock_read(ctx);

    return frozen;
}


/* the device whose node id is node (one that is no IMEI): its id, or 0 */

uint64_t
ngx_iot_iotda_node_device(ngx_cycle_t *cycle, u_char *node, size_t len)
{
    uint64_t             id;
    ngx_iot_link_t      *link;
    ngx_iot_iotda_t     *x;
    ngx_iot_zone_ctx_t  *ctx;

    if (ngx_iot_zone_ctx(cycle)->sh->iotda.nelts == 0) {
        return 0;
    }

    id = 0;

    ctx = ngx_iot_lock_read(cycle);

    for (link = ngx_iot_index_find(&ctx->sh->iotda_nodes,
                                   ngx_iot_index_hash(node, len));
         link;
         link = ngx_iot_index_find_next(link))
    {
        x = ngx_iot_container_of(link, ngx_iot_iotda_t, node_link);

        if (x->ids.len - x->did_len == len
            && ngx_memcmp(x->ids.data + x->did_len, node, len) == 0)
        {
            id = x->id.key;
            break;
        }
    }

    ngx_iot_unlock_read(ctx);

    return id;
}


/*
 * A device reports its properties: an uplink whose payload is a JSON
 * object {"services":[{"service_id", "properties":{...}, "event_time"}]}
 * (IoTDA's property report) from a device with a product whose model has
 * those services sets their reported properties in its shadow (those the
 * model has; the others are left out).  Posted to the writer, answered
 * to no one: its pool goes with the answer.
 */

void
ngx_iot_iotda_report(ngx_cycle_t *cycle, ngx_iot_message_t *m,
    ngx_log_t *log)
{
    u_char              *p;
    uint64_t             product;
    ngx_pool_t          *pool;
    ngx_iot_wait_t      *wait;
    ngx_iot_iotda_t     *x;
    ngx_iot_iotda_op_t  *op;
    ngx_iot_zone_ctx_t  *ctx;

    if (ngx_iot_zone_ctx(cycle)->sh->iotda.nelts == 0
        || m->payload.len < sizeof("{\"services\":[]}") - 1)
    {
        return;
    }

    for (p = m->payload.data;
         p < m->payload.data + m->payload.len
         && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n');
         p++)
    {
        /* void */
    }

    if (p == m->payload.data + m->payload.len || *p != '{'
        || ngx_strlcasestrn(p, m->payload.data + m->payload.len,
                            (u_char *) "\"services\"",
                            sizeof("\"services\"") - 2)
           == NULL)
    {
        return;
    }

    /* only a device with a product has a model to report against */

    ctx = ngx_iot_lock_read(cycle);
    x = ngx_iot_iotda_find(ctx, m->device_id);
    product = x ? x->product : 0;
    ngx_iot_unlock_read(ctx);

    if (product == 0) {
        return;
    }

    /*
     * the write outlives the uplink's connection (and its log): the
     * cycle's log for the pool and the write
     */

    log = cycle->log;

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return;
    }

    op = ngx_pcalloc(pool, sizeof(ngx_iot_iotda_op_t));
    wait = ngx_pcalloc(pool, sizeof(ngx_iot_wait_t));
    p = ngx_pnalloc(pool, m->payload.len);

    if (op == NULL || wait == NULL || p == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    ngx_memcpy(p, m->payload.data, m->payload.len);

    op->device_id = m->device_id;
    op->edit = ngx_iot_iotda_reported;
    op->secret.data = p;                  /* the payload, for the edit */
    op->secret.len = m->payload.len;

    wait->handler = ngx_iot_iotda_reported_done;
    wait->data = pool;
    wait->pool = pool;

    if (ngx_iot_iotda_write(cycle, op, pool, log, wait) != NGX_IOT_QUEUED) {
        ngx_destroy_pool(pool);
    }
}


static void
ngx_iot_iotda_reported_done(ngx_iot_wait_t *wait)
{
    ngx_destroy_pool(wait->data);
}


static ngx_iot_rc_e
ngx_iot_iotda_reported(ngx_iot_iotda_op_t *op)
{
    u_char               *p, time[sizeof("yyyyMMddTHHmmssZ")];
    size_t                i, j, size;
    json_t               *report, *services, *svc, *doc, *model, *shadow;
    json_t               *entry, *reported, *props, *v, *mprops, *caps;
    ngx_tm_t              tm;
    ngx_uint_t            changed;
    const char           *sid, *key, *name;
    ngx_iot_product_t    *pr;
    ngx_iot_store_key_t   k;

    /* the payload travels in op->secret: nothing is set as a secret */

    report = json_loadb((char *) op->secret.data, op->secret.len, 0, NULL);
    ngx_str_null(&op->secret);

    services = json_object_get(report, "services");

    k.id = op->cur ? op->cur->product : 0;
    k.data = NULL;
    k.len = 0;

    pr = k.id ? ngx_iot_entity_find(op->ctx, NGX_IOT_ENTITY_PRODUCT, &k)
              : NULL;

    model = pr ? json_loadb((char *) pr->model.data, pr->model.len, 0, NULL)
               : NULL;
    doc = json_loadb((char *) op->doc.data, op->doc.len, 0, NULL);

    changed = 0;
    caps = json_object_get(model, "service_capabilities");
    shadow = json_object_get(doc, "shadow");

    if (!json_is_array(services) || !json_is_array(caps)
        || !json_is_object(doc))
    {
        goto done;
    }

    if (!json_is_array(shadow)) {
        shadow = json_array();
        (void) json_object_set_new(doc, "shadow", shadow);
    }

    ngx_gmtime(ngx_time(), &tm);
    (void) ngx_sprintf(time, "%4d%02d%02dT%02d%02d%02dZ%Z",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    for (i = 0; i < json_array_size(services); i++) {
        svc = json_array_get(services, i);
        sid = json_string_value(json_object_get(svc, "service_id"));
        props = json_object_get(svc, "properties");

        if (sid == NULL || !json_is_object(props)) {
            continue;
        }

        /* the model's service and its properties */

        mprops = NULL;

        for (j = 0; j < json_array_size(caps); j++) {
            name = json_string_value(json_object_get(json_array_get(caps, j),
                                                     "service_id"));
            if (name && ngx_strcmp(name, sid) == 0) {
                mprops = json_object_get(json_array_get(caps, j),
                                         "properties");
                break;
            }
        }

        if (!json_is_array(mprops)) {
            continue;
        }

        entry = NULL;

        for (j = 0; j < json_array_size(shadow); j++) {
            name = json_string_value(
                       json_object_get(json_array_get(shadow, j),
                                       "service_id"));
            if (name && ngx_strcmp(name, sid) == 0) {
                entry = json_array_get(shadow, j);
                break;
            }
        }

        if (entry == NULL) {
            entry = json_pack("{s:s, s:I}", "service_id", sid, "version",
                              (json_int_t) 0);
            if (entry == NULL || json_array_append_new(shadow, entry) != 0) {
                continue;
            }
        }

        reported = json_object_get(entry, "reported");

        if (!json_is_object(reported)) {
            reported = json_pack("{s:{}}", "properties");
            (void) json_object_set_new(entry, "reported", reported);
        }

        json_object_foreach(props, key, v) {
            for (j = 0; j < json_array_size(mprops); j++) {
                name = json_string_value(
                           json_object_get(json_array_get(mprops, j),
                                           "property_name"));

                if (name && ngx_strcmp(name, key) == 0) {
                    (void) json_object_set(json_object_get(reported,
                                                           "properties"),
                                           key, v);
                    changed = 1;
                    break;
                }
            }
        }

        v = json_object_get(svc, "event_time");
        (void) json_object_set_new(reported, "event_time",
                                   json_is_string(v) ? json_copy(v)
                                   : json_string((char *) time));
    }

done:

    if (changed) {
        size = json_dumpb(doc, NULL, 0, JSON_COMPACT);
        p = ngx_pnalloc(op->pool, size ? size : 1);

        if (p) {
            op->doc.data = p;
            op->doc.len = json_dumpb(doc, (char *) p, size, JSON_COMPACT);
        }

    } else {
        op->unchanged = 1;
    }

    json_decref(report);
    json_decref(model);
    json_decref(doc);

    return NGX_IOT_OK;
}


/* how many devices the collections that reach() takes have (cid: one) */

ngx_uint_t
ngx_iot_iotda_count(ngx_cycle_t *cycle, uint64_t cid,
    ngx_iot_iotda_reach_pt reach, void *data)
{
    ngx_uint_t             i, n;
    ngx_iot_link_t        *link;
    ngx_iot_index_t       *idx;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;

    n = 0;

    ctx = ngx_iot_lock_read(cycle);

    idx = &ctx->sh->collections;

    for (i = 0; idx->buckets && i <= idx->mask; i++) {
        for (link = idx->buckets[i]; link; link = link->next) {
            c = (ngx_iot_collection_t *) link;

            if ((cid == 0 || c->id.key == cid) && reach(c->id.key, data)) {
                n += c->ndevices;
            }
        }
    }

    ngx_iot_unlock_read(ctx);

    return n;
}


/* the devices of ids[] (those still there) into out[], under one lock */

ngx_iot_rc_e
ngx_iot_iotda_views(ngx_cycle_t *cycle, uint64_t *ids, ngx_uint_t n,
    ngx_pool_t *pool, ngx_iot_iotda_view_t *out, ngx_uint_t *found)
{
    ngx_uint_t           i, k;
    ngx_iot_rc_e         rc;
    ngx_iot_device_t    *d;
    ngx_iot_zone_ctx_t  *ctx;

    k = 0;
    rc = NGX_IOT_OK;

    ctx = ngx_iot_lock_read(cycle);

    for (i = 0; i < n && rc == NGX_IOT_OK; i++) {
        d = ngx_iot_device_find(ctx, ids[i]);

        if (d) {
            rc = ngx_iot_iotda_fill(ctx, d, pool, 0, &out[k]);
            k++;
        }
    }

    ngx_iot_unlock_read(ctx);

    *found = k;

    return rc;
}
