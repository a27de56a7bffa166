
/*
 * Copyright (C) nginx-iot authors
 *
 * Device groups and their memberships: reads from the zone, writes
 * through the write sequence (ngx_iot_write.h) like every registry write.
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
#include "ngx_iot_groups.h"


/* one write of a group or a membership */
typedef struct {
    ngx_iot_write_t                w;
    ngx_iot_group_change_t         ch;
    uint64_t                       group_id;
    uint64_t                       device_id;
    u_char                         key[NGX_IOT_MEMBER_KEY_LEN];
    u_char                         by[NGX_IOT_UUID_SIZE];

    ngx_iot_group_t               *g;         /* in the zone */
    ngx_iot_member_t              *m;         /* in the zone */
    ngx_iot_group_t                grow;      /* as the store gets it */
    ngx_iot_member_t               mrow;
    ngx_uint_t                     fresh;

    void                          *out;
    ngx_iot_wait_t                *wait;
} ngx_iot_group_op_t;


static ngx_iot_group_t *ngx_iot_group_find(ngx_iot_zone_ctx_t *ctx,
    uint64_t id);
static ngx_iot_group_t *ngx_iot_group_find_uuid(ngx_iot_zone_ctx_t *ctx,
    u_char *uuid);
static ngx_iot_member_t *ngx_iot_member_find(ngx_iot_zone_ctx_t *ctx,
    u_char *key);
static ngx_iot_rc_e ngx_iot_group_copy(ngx_iot_group_t *g, ngx_pool_t *pool,
    ngx_iot_group_t *out);
static void ngx_iot_group_note(ngx_iot_group_op_t *op, ngx_uint_t member);
static ngx_iot_rc_e ngx_iot_group_full(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_group_run(ngx_cycle_t *cycle,
    ngx_iot_group_op_t *op, ngx_iot_write_pt check,
    ngx_iot_write_store_pt write, ngx_iot_write_pt apply, ngx_pool_t *pool,
    ngx_log_t *log, ngx_iot_wait_t *wait);
static void ngx_iot_group_done(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_group_texts(ngx_iot_write_t *w,
    ngx_iot_group_op_t *op);
static ngx_iot_rc_e ngx_iot_group_create_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_group_create_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_group_create_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_group_update_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_group_update_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_group_update_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_group_delete_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_group_delete_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_group_delete_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_member_add_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_member_add_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_member_add_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_member_remove_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_member_remove_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_member_remove_apply(ngx_iot_write_t *w);


static ngx_iot_group_t *
ngx_iot_group_find(ngx_iot_zone_ctx_t *ctx, uint64_t id)
{
    ngx_iot_store_key_t  key;

    key.id = id;
    key.data = NULL;
    key.len = 0;

    return ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_GROUP, &key);
}


static ngx_iot_group_t *
ngx_iot_group_find_uuid(ngx_iot_zone_ctx_t *ctx, u_char *uuid)
{
    ngx_iot_link_t   *link;
    ngx_iot_group_t  *g;

    for (link = ngx_iot_index_find(&ctx->sh->group_uuids,
                                   ngx_iot_uuid_key(uuid));
         link;
         link = ngx_iot_index_find_next(link))
    {
        g = ngx_iot_container_of(link, ngx_iot_group_t, uuid_link);

        if (ngx_memcmp(g->uuid, uuid, NGX_IOT_UUID_SIZE) == 0) {
            return g;
        }
    }

    return NULL;
}


static ngx_iot_member_t *
ngx_iot_member_find(ngx_iot_zone_ctx_t *ctx, u_char *key)
{
    ngx_iot_store_key_t  k;

    k.id = 0;
    k.data = key;
    k.len = NGX_IOT_MEMBER_KEY_LEN;

    return ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_MEMBER, &k);
}


static ngx_iot_rc_e
ngx_iot_group_copy(ngx_iot_group_t *g, ngx_pool_t *pool, ngx_iot_group_t *out)
{
    *out = *g;

    if (ngx_iot_text_copy(pool, &g->name, &out->name) != NGX_OK
        || ngx_iot_text_copy(pool, &g->description, &out->description)
           != NGX_OK)
    {
        return NGX_IOT_STORE_ERROR;
    }

    return NGX_IOT_OK;
}


ngx_iot_rc_e
ngx_iot_group_get(ngx_cycle_t *cycle, uint64_t id, u_char *uuid,
    ngx_pool_t *pool, ngx_iot_group_t *out)
{
    ngx_iot_rc_e         rc;
    ngx_iot_group_t     *g;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    g = uuid ? ngx_iot_group_find_uuid(ctx, uuid)
             : ngx_iot_group_find(ctx, id);
    rc = g ? ngx_iot_group_copy(g, pool, out) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_member_get(ngx_cycle_t *cycle, uint64_t group_id, uint64_t device_id,
    ngx_iot_member_t *out)
{
    u_char               key[NGX_IOT_MEMBER_KEY_LEN];
    ngx_iot_rc_e         rc;
    ngx_iot_member_t    *m;
    ngx_iot_zone_ctx_t  *ctx;

    ngx_iot_member_key(key, group_id, device_id);

    ctx = ngx_iot_lock_read(cycle);

    m = ngx_iot_member_find(ctx, key);

    if (m) {
        *out = *m;
        rc = NGX_IOT_OK;

    } else {
        rc = NGX_IOT_NOT_FOUND;
    }

    ngx_iot_unlock_read(ctx);

    return rc;
}


/* what a write changes, for the crash journal */

static void
ngx_iot_group_note(ngx_iot_group_op_t *op, ngx_uint_t member)
{
    ngx_iot_store_key_t  key;

    if (member) {
        key.id = 0;
        key.data = op->key;
        key.len = NGX_IOT_MEMBER_KEY_LEN;

        ngx_iot_journal_note(op->w.ctx, NGX_IOT_ENTITY_MEMBER, &key);
        return;
    }

    key.id = op->group_id;
    key.data = NULL;
    key.len = 0;

    ngx_iot_journal_note(op->w.ctx, NGX_IOT_ENTITY_GROUP, &key);
}


static ngx_iot_rc_e
ngx_iot_group_full(ngx_iot_write_t *w)
{
    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "iot zone \"%V\" is full: cannot change a device group; "
                  "make the zone larger (iot_zone)", &w->ctx->name);

    return NGX_IOT_ZONE_FULL;
}


/* one write, here and now or posted for a caller that waits */

static ngx_iot_rc_e
ngx_iot_group_run(ngx_cycle_t *cycle, ngx_iot_group_op_t *op,
    ngx_iot_write_pt check, ngx_iot_write_store_pt write,
    ngx_iot_write_pt apply, ngx_pool_t *pool, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    void                *out;
    ngx_iot_rc_e         rc;
    ngx_iot_group_op_t  *p;

    out = op->out;

    if (wait) {
        p = ngx_palloc(wait->pool, sizeof(ngx_iot_group_op_t));
        if (p == NULL) {
            return NGX_IOT_STORE_ERROR;
        }

        *p = *op;
        p->wait = wait;

        if (p->out) {
            p->out = &wait->out;
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

    op->w.done = ngx_iot_group_done;
    op->w.done_data = op;

    rc = ngx_iot_write_post(cycle, &op->w);

    if (rc == NGX_IOT_QUEUED) {
        return rc;
    }

    /* no writer: answered here and now */

    if (rc == NGX_IOT_OK && out && out != (void *) &wait->out) {
        ngx_memcpy(out, &wait->out, sizeof(wait->out));
    }

    return rc;
}


static void
ngx_iot_group_done(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->done_data;

    op->wait->rc = w->rc;
    op->wait->handler(op->wait);
}


/* a group's new name and description in the zone (unchanged: kept) */

static ngx_iot_rc_e
ngx_iot_group_texts(ngx_iot_write_t *w, ngx_iot_group_op_t *op)
{
    ngx_uint_t       i;
    ngx_str_t       *src[2];
    ngx_iot_text_t  *dst[2];

    src[0] = &op->ch.name;
    src[1] = &op->ch.description;
    dst[0] = &op->grow.name;
    dst[1] = &op->grow.description;

    for (i = 0; i < 2; i++) {
        if (src[i]->len == dst[i]->len
            && (src[i]->len == 0
                || ngx_memcmp(src[i]->data, dst[i]->data, src[i]->len) == 0))
        {
            continue;
        }

        if (ngx_iot_journal_text(w->ctx, src[i], NGX_IOT_TEXT_PLAIN, dst[i])
            != NGX_OK)
        {
            return ngx_iot_group_full(w);
        }
    }

    return NGX_IOT_OK;
}


/* groups */

ngx_iot_rc_e
ngx_iot_group_create(ngx_cycle_t *cycle, ngx_iot_group_change_t *ch,
    ngx_pool_t *pool, ngx_iot_group_t *out, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_group_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_group_op_t));
    op.ch = *ch;
    op.out = out;

    return ngx_iot_group_run(cycle, &op, ngx_iot_group_create_check,
                             ngx_iot_group_create_store,
                             ngx_iot_group_create_apply, pool, log, wait);
}


static ngx_iot_rc_e
ngx_iot_group_create_check(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    ngx_iot_rc_e          rc;
    ngx_iot_store_key_t   key;

    key.id = op->ch.collection_id;
    key.data = NULL;
    key.len = 0;

    if (ngx_iot_entity_find(w->ctx, NGX_IOT_ENTITY_COLLECTION, &key) == NULL)
    {
        return NGX_IOT_COLLECTION_NOT_FOUND;
    }

    ngx_memzero(&op->grow, sizeof(ngx_iot_group_t));

    rc = ngx_iot_group_texts(w, op);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    op->g = ngx_iot_journal_alloc(w->ctx, sizeof(ngx_iot_group_t));
    if (op->g == NULL) {
        return ngx_iot_group_full(w);
    }

    do {
        op->group_id = ngx_iot_id_new();
    } while (ngx_iot_group_find(w->ctx, op->group_id));

    do {
        if (ngx_iot_uuid_new(op->grow.uuid) != NGX_OK) {
            return NGX_IOT_STORE_ERROR;
        }
    } while (ngx_iot_group_find_uuid(w->ctx, op->grow.uuid));

    op->grow.id.key = op->group_id;
    op->grow.collection_id = op->ch.collection_id;
    op->grow.created_at = ngx_iot_now_ms();
    op->grow.modified_at = op->grow.created_at;
    ngx_memcpy(op->grow.created_by, op->ch.by, NGX_IOT_UUID_SIZE);
    ngx_memcpy(op->grow.modified_by, op->ch.by, NGX_IOT_UUID_SIZE);

    ngx_iot_group_note(op, 0);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_group_create_store(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    return ngx_iot_store_group_put(w->store, &op->grow, 1, w->log);
}


static ngx_iot_rc_e
ngx_iot_group_create_apply(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    *op->g = op->grow;
    ngx_iot_entity_link(w->ctx, NGX_IOT_ENTITY_GROUP, op->g);

    return ngx_iot_group_copy(op->g, w->pool, op->out);
}


ngx_iot_rc_e
ngx_iot_group_update(ngx_cycle_t *cycle, uint64_t id,
    ngx_iot_group_change_t *ch, ngx_pool_t *pool, ngx_iot_group_t *out,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_group_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_group_op_t));
    op.ch = *ch;
    op.group_id = id;
    op.out = out;

    return ngx_iot_group_run(cycle, &op, ngx_iot_group_update_check,
                             ngx_iot_group_update_store,
                             ngx_iot_group_update_apply, pool, log, wait);
}


static ngx_iot_rc_e
ngx_iot_group_update_check(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    ngx_iot_rc_e  rc;

    op->g = ngx_iot_group_find(w->ctx, op->group_id);

    if (op->g == NULL || op->g->collection_id != op->ch.collection_id) {
        return NGX_IOT_NOT_FOUND;
    }

    op->grow = *op->g;

    rc = ngx_iot_group_texts(w, op);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    op->grow.modified_at = ngx_iot_now_ms();
    ngx_memcpy(op->grow.modified_by, op->ch.by, NGX_IOT_UUID_SIZE);

    ngx_iot_group_note(op, 0);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_group_update_store(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    return ngx_iot_store_group_put(w->store, &op->grow, 0, w->log);
}


static ngx_iot_rc_e
ngx_iot_group_update_apply(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    ngx_uint_t        i;
    ngx_iot_text_t    old, *cur[2], *next[2];
    ngx_iot_group_t  *g;

    g = op->g;

    cur[0] = &g->name;
    cur[1] = &g->description;
    next[0] = &op->grow.name;
    next[1] = &op->grow.description;

    /* the new text in place first, then the old one freed */

    for (i = 0; i < 2; i++) {
        if (cur[i]->data == next[i]->data) {
            continue;
        }

        old = *cur[i];
        *cur[i] = *next[i];
        ngx_iot_text_free(w->ctx->shpool, &old);
    }

    g->modified_at = op->grow.modified_at;
    ngx_memcpy(g->modified_by, op->grow.modified_by, NGX_IOT_UUID_SIZE);

    return ngx_iot_group_copy(g, w->pool, op->out);
}


ngx_iot_rc_e
ngx_iot_group_delete(ngx_cycle_t *cycle, uint64_t id, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_group_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_group_op_t));
    op.group_id = id;

    return ngx_iot_group_run(cycle, &op, ngx_iot_group_delete_check,
                             ngx_iot_group_delete_store,
                             ngx_iot_group_delete_apply, NULL, log, wait);
}


static ngx_iot_rc_e
ngx_iot_group_delete_check(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    op->g = ngx_iot_group_find(w->ctx, op->group_id);

    if (op->g == NULL) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_iot_group_note(op, 0);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_group_delete_store(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    ngx_iot_store_key_t  key;

    key.id = op->group_id;
    key.data = NULL;
    key.len = 0;

    return ngx_iot_store_delete(w->store, NGX_IOT_STORE_GROUPS, &key, w->log);
}


static ngx_iot_rc_e
ngx_iot_group_delete_apply(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    /* its memberships go with it (ngx_iot_entities.c) */
    ngx_iot_entity_drop(w->ctx, NGX_IOT_ENTITY_GROUP, op->g);

    return NGX_IOT_OK;
}


/* memberships */

ngx_iot_rc_e
ngx_iot_member_add(ngx_cycle_t *cycle, uint64_t group_id, uint64_t device_id,
    u_char *by, ngx_iot_member_t *out, ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_group_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_group_op_t));
    op.group_id = group_id;
    op.device_id = device_id;
    ngx_memcpy(op.by, by, NGX_IOT_UUID_SIZE);
    ngx_iot_member_key(op.key, group_id, device_id);
    op.out = out;

    return ngx_iot_group_run(cycle, &op, ngx_iot_member_add_check,
                             ngx_iot_member_add_store,
                             ngx_iot_member_add_apply, NULL, log, wait);
}


static ngx_iot_rc_e
ngx_iot_member_add_check(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    ngx_iot_device_t  *d;

    op->g = ngx_iot_group_find(w->ctx, op->group_id);
    d = ngx_iot_device_find(w->ctx, op->device_id);

    if (op->g == NULL || d == NULL) {
        return NGX_IOT_NOT_FOUND;
    }

    if (d->collection_id != op->g->collection_id) {
        return NGX_IOT_OTHER_COLLECTION;
    }

    if (ngx_iot_member_find(w->ctx, op->key)) {
        return NGX_IOT_EXISTS;
    }

    op->m = ngx_iot_journal_alloc(w->ctx, sizeof(ngx_iot_member_t));
    if (op->m == NULL) {
        return ngx_iot_group_full(w);
    }

    ngx_memzero(&op->mrow, sizeof(ngx_iot_member_t));
    ngx_memcpy(op->mrow.key, op->key, NGX_IOT_MEMBER_KEY_LEN);
    op->mrow.group_id = op->group_id;
    op->mrow.device_id = op->device_id;
    op->mrow.created_at = ngx_iot_now_ms();
    ngx_memcpy(op->mrow.created_by, op->by, NGX_IOT_UUID_SIZE);

    ngx_iot_group_note(op, 1);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_member_add_store(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    return ngx_iot_store_member_put(w->store, &op->mrow, w->log);
}


static ngx_iot_rc_e
ngx_iot_member_add_apply(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    *op->m = op->mrow;
    ngx_iot_entity_link(w->ctx, NGX_IOT_ENTITY_MEMBER, op->m);

    if (op->out) {
        *(ngx_iot_member_t *) op->out = *op->m;
    }

    return NGX_IOT_OK;
}


ngx_iot_rc_e
ngx_iot_member_remove(ngx_cycle_t *cycle, uint64_t group_id,
    uint64_t device_id, ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_group_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_group_op_t));
    op.group_id = group_id;
    op.device_id = device_id;
    ngx_iot_member_key(op.key, group_id, device_id);

    return ngx_iot_group_run(cycle, &op, ngx_iot_member_remove_check,
                             ngx_iot_member_remove_store,
                             ngx_iot_member_remove_apply, NULL, log, wait);
}


static ngx_iot_rc_e
ngx_iot_member_remove_check(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    op->m = ngx_iot_member_find(w->ctx, op->key);

    if (op->m == NULL) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_iot_group_note(op, 1);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_member_remove_store(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    ngx_iot_store_key_t  key;

    key.id = 0;
    key.data = op->key;
    key.len = NGX_IOT_MEMBER_KEY_LEN;

    return ngx_iot_store_delete(w->store, NGX_IOT_STORE_MEMBERS, &key,
                                w->log);
}


static ngx_iot_rc_e
ngx_iot_member_remove_apply(ngx_iot_write_t *w)
{
    ngx_iot_group_op_t  *op = w->data;

    ngx_iot_entity_drop(w->ctx, NGX_IOT_ENTITY_MEMBER, op->m);

    return NGX_IOT_OK;
}
