
/*
 * Copyright (C) nginx-iot authors
 *
 * Products: reads from the zone, writes through the write sequence
 * (ngx_iot_write.h) like every registry write.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_id.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_entities.h"
#include "ngx_iot_journal.h"
#include "ngx_iot_write.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_products.h"


/* one write of a product */
typedef struct {
    ngx_iot_write_t                w;
    ngx_iot_product_change_t       ch;
    u_char                         pid[NGX_IOT_PRODUCT_ID_MAX];
    size_t                         pid_len;
    uint64_t                       cid;

    ngx_iot_product_t             *p;         /* in the zone */
    ngx_iot_product_t              row;       /* as the store gets it */

    ngx_iot_product_t             *out;
    ngx_iot_wait_t                *wait;
} ngx_iot_product_op_t;


static ngx_iot_product_t *ngx_iot_product_find(ngx_iot_zone_ctx_t *ctx,
    u_char *pid, size_t len);
static ngx_iot_rc_e ngx_iot_product_copy(ngx_iot_product_t *p,
    ngx_pool_t *pool, ngx_iot_product_t *out);
static void ngx_iot_product_note(ngx_iot_product_op_t *op, uint64_t id);
static ngx_iot_rc_e ngx_iot_product_full(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_product_run(ngx_cycle_t *cycle,
    ngx_iot_product_op_t *op, ngx_iot_write_pt check,
    ngx_iot_write_store_pt write, ngx_iot_write_pt apply, ngx_pool_t *pool,
    ngx_log_t *log, ngx_iot_wait_t *wait);
static void ngx_iot_product_done(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_product_create_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_product_create_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_product_create_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_product_delete_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_product_delete_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_product_delete_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_product_update_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_product_update_apply(ngx_iot_write_t *w);


static ngx_iot_product_t *
ngx_iot_product_find(ngx_iot_zone_ctx_t *ctx, u_char *pid, size_t len)
{
    ngx_iot_link_t     *link;
    ngx_iot_product_t  *p;

    for (link = ngx_iot_index_find(&ctx->sh->product_ids,
                                   ngx_iot_index_hash(pid, len));
         link;
         link = ngx_iot_index_find_next(link))
    {
        p = ngx_iot_container_of(link, ngx_iot_product_t, pid_link);

        if (p->pid_len == len && ngx_memcmp(p->pid, pid, len) == 0) {
            return p;
        }
    }

    return NULL;
}


static ngx_iot_rc_e
ngx_iot_product_copy(ngx_iot_product_t *p, ngx_pool_t *pool,
    ngx_iot_product_t *out)
{
    *out = *p;

    if (ngx_iot_text_copy(pool, &p->name, &out->name) != NGX_OK
        || ngx_iot_text_copy(pool, &p->model, &out->model) != NGX_OK)
    {
        return NGX_IOT_STORE_ERROR;
    }

    return NGX_IOT_OK;
}


ngx_iot_rc_e
ngx_iot_product_get(ngx_cycle_t *cycle, ngx_str_t *pid, ngx_pool_t *pool,
    ngx_iot_product_t *out)
{
    ngx_iot_rc_e         rc;
    ngx_iot_product_t   *p;
    ngx_iot_zone_ctx_t  *ctx;

    if (pid->len == 0 || pid->len > NGX_IOT_PRODUCT_ID_MAX) {
        return NGX_IOT_NOT_FOUND;
    }

    ctx = ngx_iot_lock_read(cycle);

    p = ngx_iot_product_find(ctx, pid->data, pid->len);
    rc = p ? ngx_iot_product_copy(p, pool, out) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return rc;
}


/* the products that match, and the first n by id above after */

ngx_iot_rc_e
ngx_iot_product_select(ngx_cycle_t *cycle, uint64_t after,
    ngx_iot_product_match_pt match, void *data, ngx_pool_t *pool,
    ngx_iot_product_t *out, ngx_uint_t n, ngx_uint_t *found,
    ngx_uint_t *count)
{
    ngx_uint_t            i, k, kept;
    ngx_iot_rc_e          rc;
    ngx_iot_link_t       *link;
    ngx_iot_index_t      *idx;
    ngx_iot_product_t    *p, **page;
    ngx_iot_zone_ctx_t   *ctx;

    *found = 0;
    *count = 0;

    page = ngx_palloc(pool, (n ? n : 1) * sizeof(ngx_iot_product_t *));
    if (page == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    kept = 0;
    rc = NGX_IOT_OK;

    ctx = ngx_iot_lock_read(cycle);

    idx = &ctx->sh->products;

    for (i = 0; idx->buckets && i <= idx->mask; i++) {

        for (link = idx->buckets[i]; link; link = link->next) {
            p = (ngx_iot_product_t *) link;

            if (!match(p, data)) {
                continue;
            }

            (*count)++;

            if (p->id.key <= after || n == 0
                || (kept == n && p->id.key >= page[n - 1]->id.key))
            {
                continue;
            }

            for (k = (kept < n) ? kept++ : n - 1;
                 k > 0 && page[k - 1]->id.key > p->id.key;
                 k--)
            {
                page[k] = page[k - 1];
            }

            page[k] = p;
        }
    }

    for (k = 0; k < kept && rc == NGX_IOT_OK; k++) {
        rc = ngx_iot_product_copy(page[k], pool, &out[k]);
    }

    ngx_iot_unlock_read(ctx);

    if (rc == NGX_IOT_OK) {
        *found = kept;
    }

    return rc;
}


/* a walk of the products: they are few, and a collection is seldom deleted */

ngx_uint_t
ngx_iot_products_in(ngx_iot_zone_ctx_t *ctx, uint64_t cid)
{
    ngx_uint_t        i;
    ngx_iot_link_t   *link;
    ngx_iot_index_t  *idx;

    idx = &ctx->sh->products;

    for (i = 0; idx->buckets && i <= idx->mask; i++) {
        for (link = idx->buckets[i]; link; link = link->next) {
            if (((ngx_iot_product_t *) link)->collection_id == cid) {
                return 1;
            }
        }
    }

    return 0;
}


static void
ngx_iot_product_note(ngx_iot_product_op_t *op, uint64_t id)
{
    ngx_iot_store_key_t  key;

    key.id = id;
    key.data = NULL;
    key.len = 0;

    ngx_iot_journal_note(op->w.ctx, NGX_IOT_ENTITY_PRODUCT, &key);
}


static ngx_iot_rc_e
ngx_iot_product_full(ngx_iot_write_t *w)
{
    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "iot zone \"%V\" is full: cannot add a product; make "
                  "the zone larger (iot_zone)", &w->ctx->name);

    return NGX_IOT_ZONE_FULL;
}


/* one write, here and now or posted for a caller that waits */

static ngx_iot_rc_e
ngx_iot_product_run(ngx_cycle_t *cycle, ngx_iot_product_op_t *op,
    ngx_iot_write_pt check, ngx_iot_write_store_pt write,
    ngx_iot_write_pt apply, ngx_pool_t *pool, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_rc_e           rc;
    ngx_iot_product_t     *out;
    ngx_iot_product_op_t  *p;

    out = op->out;

    if (wait) {
        p = ngx_palloc(wait->pool, sizeof(ngx_iot_product_op_t));
        if (p == NULL) {
            return NGX_IOT_STORE_ERROR;
        }

        *p = *op;
        p->wait = wait;

        if (p->out) {
            p->out = &wait->out.p;
        }

        op = p;
    }

    ngx_memzero(&op->w, sizeof(ngx_iot_write_t));
    op->w.check = check;
    op->w.write = write;
    op->w.apply = apply;
    op->w.data = op;
    op->w.pool = pool;
    op->w.log = log;

    if (wait == NULL) {
        return ngx_iot_write(cycle, &op->w);
    }

    op->w.done = ngx_iot_product_done;
    op->w.done_data = op;

    rc = ngx_iot_write_post(cycle, &op->w);

    if (rc == NGX_IOT_QUEUED) {
        return rc;
    }

    /* no writer: answered here and now */

    if (rc == NGX_IOT_OK && out && out != &wait->out.p) {
        *out = wait->out.p;
    }

    return rc;
}


static void
ngx_iot_product_done(ngx_iot_write_t *w)
{
    ngx_iot_product_op_t  *op = w->done_data;

    op->wait->rc = w->rc;
    op->wait->handler(op->wait);
}


ngx_iot_rc_e
ngx_iot_product_create(ngx_cycle_t *cycle, ngx_iot_product_change_t *ch,
    ngx_pool_t *pool, ngx_iot_product_t *out, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_product_op_t  op;

    if (ch->pid.len == 0 || ch->pid.len > NGX_IOT_PRODUCT_ID_MAX) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_memzero(&op, sizeof(ngx_iot_product_op_t));
    op.ch = *ch;
    ngx_memcpy(op.pid, ch->pid.data, ch->pid.len);
    op.pid_len = ch->pid.len;
    op.out = out;

    return ngx_iot_product_run(cycle, &op, ngx_iot_product_create_check,
                               ngx_iot_product_create_store,
                               ngx_iot_product_create_apply, pool, log,
                               wait);
}


static ngx_iot_rc_e
ngx_iot_product_create_check(ngx_iot_write_t *w)
{
    ngx_iot_product_op_t  *op = w->data;

    ngx_iot_store_key_t  key;

    key.id = op->ch.collection_id;
    key.data = NULL;
    key.len = 0;

    if (ngx_iot_entity_find(w->ctx, NGX_IOT_ENTITY_COLLECTION, &key) == NULL)
    {
        return NGX_IOT_COLLECTION_NOT_FOUND;
    }

    if (ngx_iot_product_find(w->ctx, op->pid, op->pid_len)) {
        return NGX_IOT_EXISTS;
    }

    ngx_memzero(&op->row, sizeof(ngx_iot_product_t));

    if (ngx_iot_journal_text(w->ctx, &op->ch.name, NGX_IOT_TEXT_PLAIN,
                             &op->row.name)
        != NGX_OK
        || ngx_iot_journal_text(w->ctx, &op->ch.model, NGX_IOT_TEXT_PLAIN,
                                &op->row.model)
           != NGX_OK)
    {
        return ngx_iot_product_full(w);
    }

    op->p = ngx_iot_journal_alloc(w->ctx, sizeof(ngx_iot_product_t));
    if (op->p == NULL) {
        return ngx_iot_product_full(w);
    }

    do {
        key.id = ngx_iot_id_new();
    } while (key.id == 0
             || ngx_iot_entity_find(w->ctx, NGX_IOT_ENTITY_PRODUCT, &key));

    op->row.id.key = key.id;
    op->row.collection_id = op->ch.collection_id;
    ngx_memcpy(op->row.pid, op->pid, op->pid_len);
    op->row.pid_len = (uint32_t) op->pid_len;
    op->row.created_at = ngx_iot_now_ms();

    ngx_iot_product_note(op, key.id);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_product_create_store(ngx_iot_write_t *w)
{
    ngx_iot_product_op_t  *op = w->data;

    return ngx_iot_store_product_put(w->store, &op->row, w->log);
}


static ngx_iot_rc_e
ngx_iot_product_create_apply(ngx_iot_write_t *w)
{
    ngx_iot_product_op_t  *op = w->data;

    *op->p = op->row;
    ngx_iot_entity_link(w->ctx, NGX_IOT_ENTITY_PRODUCT, op->p);

    return op->out ? ngx_iot_product_copy(op->p, w->pool, op->out)
                   : NGX_IOT_OK;
}


ngx_iot_rc_e
ngx_iot_product_delete(ngx_cycle_t *cycle, ngx_str_t *pid, uint64_t cid,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_product_op_t  op;

    if (pid->len == 0 || pid->len > NGX_IOT_PRODUCT_ID_MAX) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_memzero(&op, sizeof(ngx_iot_product_op_t));
    ngx_memcpy(op.pid, pid->data, pid->len);
    op.pid_len = pid->len;
    op.cid = cid;

    return ngx_iot_product_run(cycle, &op, ngx_iot_product_delete_check,
                               ngx_iot_product_delete_store,
                               ngx_iot_product_delete_apply, NULL, log,
                               wait);
}


static ngx_iot_rc_e
ngx_iot_product_delete_check(ngx_iot_write_t *w)
{
    ngx_iot_product_op_t  *op = w->data;

    op->p = ngx_iot_product_find(w->ctx, op->pid, op->pid_len);

    if (op->p == NULL || (op->cid && op->p->collection_id != op->cid)) {
        return NGX_IOT_NOT_FOUND;
    }

    if (op->p->ndevices) {
        return NGX_IOT_NOT_EMPTY;
    }

    ngx_iot_product_note(op, op->p->id.key);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_product_delete_store(ngx_iot_write_t *w)
{
    ngx_iot_product_op_t  *op = w->data;

    ngx_iot_store_key_t  key;

    key.id = op->p->id.key;
    key.data = NULL;
    key.len = 0;

    return ngx_iot_store_delete(w->store, NGX_IOT_STORE_PRODUCTS, &key,
                                w->log);
}


static ngx_iot_rc_e
ngx_iot_product_delete_apply(ngx_iot_write_t *w)
{
    ngx_iot_product_op_t  *op = w->data;

    ngx_iot_entity_drop(w->ctx, NGX_IOT_ENTITY_PRODUCT, op->p);

    return NGX_IOT_OK;
}


/* a product's name and model changed; its id, space and time stay */

ngx_iot_rc_e
ngx_iot_product_update(ngx_cycle_t *cycle, ngx_iot_product_change_t *ch,
    uint64_t cid, ngx_pool_t *pool, ngx_iot_product_t *out, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_product_op_t  op;

    if (ch->pid.len == 0 || ch->pid.len > NGX_IOT_PRODUCT_ID_MAX) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_memzero(&op, sizeof(ngx_iot_product_op_t));
    op.ch = *ch;
    ngx_memcpy(op.pid, ch->pid.data, ch->pid.len);
    op.pid_len = ch->pid.len;
    op.cid = cid;
    op.out = out;

    return ngx_iot_product_run(cycle, &op, ngx_iot_product_update_check,
                               ngx_iot_product_create_store,
                               ngx_iot_product_update_apply, pool, log,
                               wait);
}


static ngx_iot_rc_e
ngx_iot_product_update_check(ngx_iot_write_t *w)
{
    ngx_iot_product_op_t  *op = w->data;

    op->p = ngx_iot_product_find(w->ctx, op->pid, op->pid_len);

    if (op->p == NULL || (op->cid && op->p->collection_id != op->cid)) {
        return NGX_IOT_NOT_FOUND;
    }

    op->row = *op->p;

    if (ngx_iot_journal_text(w->ctx, &op->ch.name, NGX_IOT_TEXT_PLAIN,
                             &op->row.name)
        != NGX_OK
        || ngx_iot_journal_text(w->ctx, &op->ch.model, NGX_IOT_TEXT_PLAIN,
                                &op->row.model)
           != NGX_OK)
    {
        return ngx_iot_product_full(w);
    }

    ngx_iot_product_note(op, op->p->id.key);

    return NGX_IOT_OK;
}


/* the new texts in place first, then the old ones freed */

static ngx_iot_rc_e
ngx_iot_product_update_apply(ngx_iot_write_t *w)
{
    ngx_iot_product_op_t  *op = w->data;

    ngx_iot_text_t  name, model;

    name = op->p->name;
    model = op->p->model;

    op->p->name = op->row.name;
    op->p->model = op->row.model;

    ngx_iot_text_free(w->ctx->shpool, &name);
    ngx_iot_text_free(w->ctx->shpool, &model);

    return op->out ? ngx_iot_product_copy(op->p, w->pool, op->out)
                   : NGX_IOT_OK;
}
