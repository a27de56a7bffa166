
/*
 * Copyright (C) nginx-iot authors
 *
 * The registry's operations on collections, devices and tokens.  Reads
 * come from the zone; every write is three steps of the one write
 * sequence (ngx_iot_write.h): check, write the store, apply to the zone.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_id.h"
#include "ngx_iot_json.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_entities.h"
#include "ngx_iot_ident.h"
#include "ngx_iot_journal.h"
#include "ngx_iot_intern.h"
#include "ngx_iot_write.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_products.h"
#include "ngx_iot_token.h"
#include "ngx_iot_bus.h"
#include "ngx_iot_iotda.h"


/* one registry write: what it is asked, what it finds, what it makes */
typedef struct {
    ngx_iot_entity_e               what;
    uint64_t                       id;
    uint64_t                       cid;       /* a device's collection */
    u_char                        *hash;      /* a token's */
    void                          *change;
    ngx_str_t                      tags;      /* the new tags */
    void                          *e;         /* the entity in the zone */
    ngx_iot_collection_t          *target;    /* a device's new collection */
    ngx_iot_text_t                 text;      /* the new tags in the zone */
    ngx_iot_text_t                 resource;  /* a token's new resource */
    ngx_iot_text_t                 about;     /* a device's new about */
    uint16_t                       description_len;
    ngx_uint_t                     write;     /* a token's new write flag */
    uint64_t                       keys[NGX_IOT_IDENT_LAST];
    u_char                        *secret;    /* a new token's */
    void                          *out;

    union {
        ngx_iot_collection_t       c;
        ngx_iot_device_t           d;
        ngx_iot_token_t            t;
    } row;                                    /* as the store gets it */
} ngx_iot_op_t;


static ngx_iot_collection_t *ngx_iot_collection_find(ngx_iot_zone_ctx_t *ctx,
    uint64_t id);
static ngx_iot_collection_t *ngx_iot_collection_find_uuid(
    ngx_iot_zone_ctx_t *ctx, u_char *uuid);
static ngx_iot_device_t *ngx_iot_device_find_uuid(ngx_iot_zone_ctx_t *ctx,
    u_char *uuid);
static ngx_iot_token_t *ngx_iot_token_find(ngx_iot_zone_ctx_t *ctx,
    u_char *hash);
static ngx_iot_rc_e ngx_iot_device_things(ngx_iot_write_t *w,
    ngx_iot_op_t *op, ngx_iot_device_t *d, ngx_iot_device_change_t *ch);
static ngx_iot_rc_e ngx_iot_zone_full(ngx_iot_zone_ctx_t *ctx,
    const char *what, ngx_log_t *log);
static ngx_iot_rc_e ngx_iot_tags_new(ngx_iot_text_t *cur, json_t *patch,
    ngx_pool_t *pool, ngx_str_t *out);
static ngx_iot_rc_e ngx_iot_op_tags(ngx_iot_write_t *w, ngx_iot_op_t *op,
    ngx_iot_text_t *cur, json_t *patch, const char *what);
static void ngx_iot_op_note(ngx_iot_write_t *w, ngx_iot_entity_e what,
    uint64_t id, u_char *hash);
static void ngx_iot_text_swap(ngx_iot_zone_ctx_t *ctx, ngx_iot_text_t *cur,
    ngx_iot_text_t *next);
static ngx_iot_rc_e ngx_iot_collection_copy(ngx_iot_collection_t *c,
    ngx_pool_t *pool, ngx_iot_collection_t *out);
static ngx_iot_rc_e ngx_iot_token_copy(ngx_iot_token_t *t, ngx_pool_t *pool,
    ngx_iot_token_t *out);
static ngx_iot_rc_e ngx_iot_op_write(ngx_cycle_t *cycle, ngx_iot_op_t *op,
    ngx_iot_write_pt check, ngx_iot_write_store_pt write,
    ngx_iot_write_pt apply, ngx_pool_t *pool, ngx_log_t *log,
    ngx_iot_wait_t *wait);
static void ngx_iot_op_done(ngx_iot_write_t *w);
static void ngx_iot_op_revise(ngx_iot_op_t *op, ngx_iot_rc_e rc);
static json_t *ngx_iot_op_change_tags(ngx_iot_op_t *op);
static ngx_int_t ngx_iot_row_store(ngx_iot_write_t *w, ngx_uint_t fresh);
static ngx_int_t ngx_iot_row_put(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_row_add(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_entity_added(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_delete_row(ngx_iot_write_t *w);

static ngx_iot_rc_e ngx_iot_collection_create_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_collection_update_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_collection_update_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_collection_delete_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_device_create_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_device_update_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_device_update_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_device_delete_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_token_create_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_token_update_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_token_update_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_token_delete_check(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_entity_dropped(ngx_iot_write_t *w);


/* finding */

static ngx_iot_collection_t *
ngx_iot_collection_find(ngx_iot_zone_ctx_t *ctx, uint64_t id)
{
    ngx_iot_store_key_t  key;

    key.id = id;
    key.data = NULL;
    key.len = 0;

    return ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_COLLECTION, &key);
}


ngx_iot_device_t *
ngx_iot_device_find(ngx_iot_zone_ctx_t *ctx, uint64_t id)
{
    ngx_iot_store_key_t  key;

    key.id = id;
    key.data = NULL;
    key.len = 0;

    return ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_DEVICE, &key);
}


/* by UUID: the index holds the first 8 bytes, the entity all 16 */

static ngx_iot_collection_t *
ngx_iot_collection_find_uuid(ngx_iot_zone_ctx_t *ctx, u_char *uuid)
{
    ngx_iot_link_t        *link;
    ngx_iot_collection_t  *c;

    for (link = ngx_iot_index_find(&ctx->sh->collection_uuids,
                                   ngx_iot_uuid_key(uuid));
         link;
         link = ngx_iot_index_find_next(link))
    {
        c = ngx_iot_container_of(link, ngx_iot_collection_t, uuid_link);

        if (ngx_memcmp(c->uuid, uuid, NGX_IOT_UUID_SIZE) == 0) {
            return c;
        }
    }

    return NULL;
}


static ngx_iot_device_t *
ngx_iot_device_find_uuid(ngx_iot_zone_ctx_t *ctx, u_char *uuid)
{
    ngx_iot_link_t    *link;
    ngx_iot_device_t  *d;

    for (link = ngx_iot_index_find(&ctx->sh->device_uuids,
                                   ngx_iot_uuid_key(uuid));
         link;
         link = ngx_iot_index_find_next(link))
    {
        d = ngx_iot_container_of(link, ngx_iot_device_t, uuid_link);

        if (ngx_memcmp(d->uuid, uuid, NGX_IOT_UUID_SIZE) == 0) {
            return d;
        }
    }

    return NULL;
}


static ngx_iot_token_t *
ngx_iot_token_find(ngx_iot_zone_ctx_t *ctx, u_char *hash)
{
    ngx_iot_store_key_t  key;

    key.id = 0;
    key.data = hash;
    key.len = NGX_IOT_HASH_LEN;

    return ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_TOKEN, &key);
}


/* helpers of the operations */

static ngx_iot_rc_e
ngx_iot_zone_full(ngx_iot_zone_ctx_t *ctx, const char *what, ngx_log_t *log)
{
    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "iot zone \"%V\" is full: cannot %s; make the zone larger "
                  "(iot_zone)", &ctx->name, what);

    return NGX_IOT_ZONE_FULL;
}


static ngx_iot_rc_e
ngx_iot_tags_new(ngx_iot_text_t *cur, json_t *patch, ngx_pool_t *pool,
    ngx_str_t *out)
{
    if (patch == NULL) {
        out->data = cur->data;
        out->len = cur->len;
        return NGX_IOT_OK;
    }

    return ngx_iot_tags_merge(cur, patch, pool, out);
}


/* the new tags, merged into cur, and their copy in the zone */

static ngx_iot_rc_e
ngx_iot_op_tags(ngx_iot_write_t *w, ngx_iot_op_t *op, ngx_iot_text_t *cur,
    json_t *patch, const char *what)
{
    ngx_iot_rc_e    rc;
    ngx_iot_text_t  none;

    if (cur == NULL) {
        ngx_memzero(&none, sizeof(ngx_iot_text_t));
        cur = &none;
    }

    rc = ngx_iot_tags_new(cur, patch, w->pool, &op->tags);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    if (patch == NULL) {
        op->text = *cur;
        return NGX_IOT_OK;
    }

    if (ngx_iot_journal_text(w->ctx, &op->tags, 0, &op->text) != NGX_OK) {
        return ngx_iot_zone_full(w->ctx, what, w->log);
    }

    return NGX_IOT_OK;
}


static void
ngx_iot_op_note(ngx_iot_write_t *w, ngx_iot_entity_e what, uint64_t id,
    u_char *hash)
{
    ngx_iot_store_key_t  key;

    key.id = id;
    key.data = hash;
    key.len = hash ? NGX_IOT_HASH_LEN : 0;

    ngx_iot_journal_note(w->ctx, what, &key);
}


/* the new text in place first, then the old one freed: a crash between
 * the two leaks the old text rather than freeing it twice */

static void
ngx_iot_text_swap(ngx_iot_zone_ctx_t *ctx, ngx_iot_text_t *cur,
    ngx_iot_text_t *next)
{
    ngx_iot_text_t  old;

    if (cur->data == next->data) {
        return;
    }

    old = *cur;
    *cur = *next;
    ngx_iot_text_free(ctx->shpool, &old);
}


static ngx_iot_rc_e
ngx_iot_collection_copy(ngx_iot_collection_t *c, ngx_pool_t *pool,
    ngx_iot_collection_t *out)
{
    *out = *c;

    return (ngx_iot_text_copy(pool, &c->tags, &out->tags) == NGX_OK)
           ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;
}


/*
 * A device of the zone as a whole struct: its zone part and the UUIDs its
 * handles stand for (the texts still point into the zone).
 */

void
ngx_iot_device_unpack(ngx_iot_device_t *d, ngx_iot_device_t *out)
{
    ngx_slab_pool_t  *shpool;

    shpool = ngx_iot_fixed_pool(d);

    ngx_memcpy(out, d, NGX_IOT_DEVICE_ZONE_SIZE);
    ngx_memcpy(out->spec, ngx_iot_intern_uuid(shpool, d->spec_ref),
               NGX_IOT_UUID_SIZE);
    ngx_memcpy(out->created_by, ngx_iot_intern_uuid(shpool, d->created_ref),
               NGX_IOT_UUID_SIZE);
    ngx_memcpy(out->modified_by,
               ngx_iot_intern_uuid(shpool, d->modified_ref),
               NGX_IOT_UUID_SIZE);
}


ngx_iot_rc_e
ngx_iot_device_copy(ngx_iot_device_t *d, ngx_pool_t *pool,
    ngx_iot_device_t *out)
{
    ngx_iot_device_unpack(d, out);

    if (ngx_iot_text_copy(pool, &d->tags, &out->tags) != NGX_OK
        || ngx_iot_text_copy(pool, &d->about, &out->about) != NGX_OK)
    {
        return NGX_IOT_STORE_ERROR;
    }

    return NGX_IOT_OK;
}


static ngx_iot_rc_e
ngx_iot_token_copy(ngx_iot_token_t *t, ngx_pool_t *pool, ngx_iot_token_t *out)
{
    *out = *t;

    if (ngx_iot_text_copy(pool, &t->tags, &out->tags) != NGX_OK
        || ngx_iot_text_copy(pool, &t->resource, &out->resource) != NGX_OK)
    {
        return NGX_IOT_STORE_ERROR;
    }

    return NGX_IOT_OK;
}


/* a posted write, and what it needs until it is answered */
typedef struct {
    ngx_iot_write_t                w;
    ngx_iot_op_t                   op;
    union {
        ngx_iot_collection_change_t  c;
        ngx_iot_device_change_t      d;
        ngx_iot_token_change_t       t;
    } change;
    u_char                         hash[NGX_IOT_HASH_LEN];
    ngx_iot_wait_t                *wait;
} ngx_iot_posted_t;


static size_t  ngx_iot_op_sizes[][2] = {
    { sizeof(ngx_iot_collection_change_t), sizeof(ngx_iot_collection_t) },
    { sizeof(ngx_iot_device_change_t), sizeof(ngx_iot_device_t) },
    { sizeof(ngx_iot_token_change_t), sizeof(ngx_iot_token_t) }
};


/*
 * One operation through the write sequence: here and now, or posted to
 * this worker's writer for a caller that waits.
 */

static ngx_iot_rc_e
ngx_iot_op_write(ngx_cycle_t *cycle, ngx_iot_op_t *op, ngx_iot_write_pt check,
    ngx_iot_write_store_pt write, ngx_iot_write_pt apply, ngx_pool_t *pool,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    void              *out;
    ngx_iot_rc_e       rc;
    ngx_iot_write_t    w, *pw;
    ngx_iot_posted_t  *p;

    out = op->out;

    if (wait == NULL) {
        pw = &w;

    } else {
        p = ngx_pcalloc(wait->pool, sizeof(ngx_iot_posted_t));
        if (p == NULL) {
            return NGX_IOT_STORE_ERROR;
        }

        p->op = *op;
        p->wait = wait;
        op = &p->op;

        if (op->out) {
            op->out = &wait->out;
        }

        if (op->change) {
            ngx_memcpy(&p->change, op->change, ngx_iot_op_sizes[op->what][0]);
            op->change = &p->change;
        }

        if (op->hash) {
            ngx_memcpy(p->hash, op->hash, NGX_IOT_HASH_LEN);
            op->hash = p->hash;
        }

        if (op->secret && op->secret != wait->secret) {
            ngx_memcpy(wait->secret, op->secret, NGX_IOT_TOKEN_LEN);
            op->secret = wait->secret;
        }

        /* the thread reads them: they live until the answer */
        json_incref(ngx_iot_op_change_tags(op));

        pw = &p->w;
    }

    ngx_memzero(pw, sizeof(ngx_iot_write_t));
    pw->check = check;
    pw->write = write;
    pw->apply = apply;
    pw->data = op;
    pw->pool = pool;
    pw->log = log;

    if (wait == NULL) {
        rc = ngx_iot_write(cycle, pw);
        ngx_iot_op_revise(op, rc);
        return rc;
    }

    pw->done = ngx_iot_op_done;
    pw->done_data = p;

    rc = ngx_iot_write_post(cycle, pw);

    if (rc == NGX_IOT_QUEUED) {
        return rc;
    }

    /* no writer: answered here and now */

    json_decref(ngx_iot_op_change_tags(op));
    ngx_iot_op_revise(op, rc);

    if (rc == NGX_IOT_OK && out && out != (void *) &wait->out) {
        ngx_memcpy(out, &wait->out, ngx_iot_op_sizes[op->what][1]);
    }

    return rc;
}


/* on the event loop: the posted write is answered */

static void
ngx_iot_op_done(ngx_iot_write_t *w)
{
    ngx_iot_posted_t  *p = w->done_data;

    json_decref(ngx_iot_op_change_tags(&p->op));
    ngx_iot_op_revise(&p->op, w->rc);

    p->wait->rc = w->rc;
    p->wait->handler(p->wait);
}


/*
 * A token changed or went, or a collection changed team: the live
 * streams it concerns, in every worker, are checked again
 * (ngx_iot_bus_revise).  The zone has the change by now.
 */

static void
ngx_iot_op_revise(ngx_iot_op_t *op, ngx_iot_rc_e rc)
{
    if (rc == NGX_IOT_OK && op->what == NGX_IOT_ENTITY_TOKEN && op->hash) {
        ngx_iot_bus_revise();
    }

    /* a collection moved to another team: its streams are checked too */
    if (rc == NGX_IOT_OK && op->what == NGX_IOT_ENTITY_COLLECTION
        && op->id && op->change
        && ((ngx_iot_collection_change_t *) op->change)->team_id)
    {
        ngx_iot_bus_revise();
    }
}


/* the tags of a change, if any */

static json_t *
ngx_iot_op_change_tags(ngx_iot_op_t *op)
{
    if (op->change == NULL) {
        return NULL;
    }

    switch (op->what) {

    case NGX_IOT_ENTITY_COLLECTION:
        return ((ngx_iot_collection_change_t *) op->change)->tags;

    case NGX_IOT_ENTITY_DEVICE:
        return ((ngx_iot_device_change_t *) op->change)->tags;

    default:
        return ((ngx_iot_token_change_t *) op->change)->tags;
    }
}


/* creations and changes: the row as the check made it, into the store */

static ngx_int_t
ngx_iot_row_store(ngx_iot_write_t *w, ngx_uint_t fresh)
{
    ngx_iot_op_t  *op = w->data;

    ngx_iot_device_side_t  *side;

    switch (op->what) {

    case NGX_IOT_ENTITY_COLLECTION:
        return ngx_iot_store_collection_put(w->store, &op->row.c, fresh,
                                            w->log);

    case NGX_IOT_ENTITY_DEVICE:
        if (ngx_iot_store_device_put(w->store, &op->row.d, fresh, w->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        side = ((ngx_iot_device_change_t *) op->change)->side;

        if (side && side->write(w, side->data) != NGX_OK) {
            return NGX_ERROR;
        }

        /* a device that moves to another collection leaves its groups */

        if (!fresh
            && op->row.d.collection_id
               != ((ngx_iot_device_t *) op->e)->collection_id)
        {
            return ngx_iot_store_device_leave(w->store, op->row.d.id.key,
                                              w->log);
        }

        return NGX_OK;

    default:
        /* a token: its public prefix may, very rarely, be taken */
        return ngx_iot_store_token_put(w->store, &op->row.t, fresh, w->log);
    }
}


static ngx_int_t
ngx_iot_row_put(ngx_iot_write_t *w)
{
    return ngx_iot_row_store(w, 0);
}


static ngx_int_t
ngx_iot_row_add(ngx_iot_write_t *w)
{
    return ngx_iot_row_store(w, 1);
}


/* a creation: the entity the check allocated goes into the zone */

static ngx_iot_rc_e
ngx_iot_entity_added(ngx_iot_write_t *w)
{
    ngx_iot_op_t  *op = w->data;

    ngx_iot_device_side_t  *side;

    ngx_iot_entity_link(w->ctx, op->what, op->e);

    switch (op->what) {

    case NGX_IOT_ENTITY_COLLECTION:
        return ngx_iot_collection_copy(op->e, w->pool, op->out);

    case NGX_IOT_ENTITY_DEVICE:
        side = ((ngx_iot_device_change_t *) op->change)->side;

        if (side) {
            side->apply(w, side->data);
        }

        return ngx_iot_device_copy(op->e, w->pool, op->out);

    default:
        return ngx_iot_token_copy(op->e, w->pool, op->out);
    }
}


/* deletes: the store row, then the entity in the zone */

static ngx_int_t
ngx_iot_delete_row(ngx_iot_write_t *w)
{
    ngx_iot_op_t         *op = w->data;
    ngx_iot_store_key_t   key;

    key.id = op->id;
    key.data = op->hash;
    key.len = op->hash ? NGX_IOT_HASH_LEN : 0;

    return ngx_iot_store_delete(w->store, ngx_iot_entities[op->what].kind,
                                &key, w->log);
}


static ngx_iot_rc_e
ngx_iot_entity_dropped(ngx_iot_write_t *w)
{
    ngx_iot_op_t  *op = w->data;

    ngx_iot_entity_drop(w->ctx, op->what, op->e);

    return NGX_IOT_OK;
}


/* collections */

ngx_uint_t
ngx_iot_collection_exists(ngx_cycle_t *cycle, uint64_t id)
{
    ngx_uint_t           found;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);
    found = (ngx_iot_collection_find(ctx, id) != NULL);
    ngx_iot_unlock_read(ctx);

    return found;
}


ngx_iot_rc_e
ngx_iot_collection_get(ngx_cycle_t *cycle, uint64_t id, ngx_pool_t *pool,
    ngx_iot_collection_t *out)
{
    ngx_iot_rc_e           rc;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;

    ctx = ngx_iot_lock_read(cycle);

    c = ngx_iot_collection_find(ctx, id);
    rc = c ? ngx_iot_collection_copy(c, pool, out) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_collection_create(ngx_cycle_t *cycle, ngx_iot_collection_change_t *ch,
    ngx_pool_t *pool, ngx_iot_collection_t *out, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_op_t));
    op.what = NGX_IOT_ENTITY_COLLECTION;
    op.change = ch;
    op.out = out;

    return ngx_iot_op_write(cycle, &op, ngx_iot_collection_create_check,
                            ngx_iot_row_add, ngx_iot_entity_added,
                            pool, log, wait);
}


static ngx_iot_rc_e
ngx_iot_collection_create_check(ngx_iot_write_t *w)
{
    ngx_iot_op_t                 *op = w->data;
    ngx_iot_collection_change_t  *ch = op->change;

    uint64_t               id;
    ngx_iot_rc_e           rc;
    ngx_iot_collection_t  *c;

    rc = ngx_iot_op_tags(w, op, NULL, ch->tags, "add a collection");
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    c = ngx_iot_journal_alloc(w->ctx, sizeof(ngx_iot_collection_t));
    if (c == NULL) {
        return ngx_iot_zone_full(w->ctx, "add a collection", w->log);
    }

    do {
        id = ngx_iot_id_new();
    } while (ngx_iot_collection_find(w->ctx, id));

    do {
        if (ngx_iot_uuid_new(c->uuid) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, w->log, ngx_errno,
                          "getrandom() failed");
            return NGX_IOT_STORE_ERROR;
        }
    } while (ngx_iot_collection_find_uuid(w->ctx, c->uuid));

    c->id.key = id;
    c->team_id = ch->team_id ? ch->team_id : w->ctx->sh->team_id;
    /* what the request does not say comes from iot_field_mask_default */
    c->field_mask = (ngx_iot_get_conf((ngx_cycle_t *) ngx_cycle)
                         ->field_mask_default & ~ch->mask_set)
                    | (ch->mask_value & ch->mask_set);
    c->tags = op->text;

    ngx_iot_op_note(w, NGX_IOT_ENTITY_COLLECTION, id, NULL);

    op->e = c;
    op->row.c = *c;
    op->row.c.tags.data = op->tags.data;
    op->row.c.tags.len = (uint32_t) op->tags.len;

    return NGX_IOT_OK;
}





ngx_iot_rc_e
ngx_iot_collection_update(ngx_cycle_t *cycle, uint64_t id,
    ngx_iot_collection_change_t *ch, ngx_pool_t *pool,
    ngx_iot_collection_t *out, ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_op_t));
    op.what = NGX_IOT_ENTITY_COLLECTION;
    op.id = id;
    op.change = ch;
    op.out = out;

    return ngx_iot_op_write(cycle, &op, ngx_iot_collection_update_check,
                            ngx_iot_row_put, ngx_iot_collection_update_apply,
                            pool, log, wait);
}


static ngx_iot_rc_e
ngx_iot_collection_update_check(ngx_iot_write_t *w)
{
    ngx_iot_op_t                 *op = w->data;
    ngx_iot_collection_change_t  *ch = op->change;

    ngx_iot_rc_e           rc;
    ngx_iot_collection_t  *c;

    c = ngx_iot_collection_find(w->ctx, op->id);
    if (c == NULL) {
        return NGX_IOT_NOT_FOUND;
    }

    rc = ngx_iot_op_tags(w, op, &c->tags, ch->tags, "change a collection");
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    ngx_iot_op_note(w, NGX_IOT_ENTITY_COLLECTION, op->id, NULL);

    op->e = c;
    op->row.c = *c;
    op->row.c.field_mask = (c->field_mask & ~ch->mask_set)
                           | (ch->mask_value & ch->mask_set);

    if (ch->team_id) {
        /* moved to another team (the caller is a member of both) */
        op->row.c.team_id = ch->team_id;
    }
    op->row.c.tags.data = op->tags.data;
    op->row.c.tags.len = (uint32_t) op->tags.len;

    return NGX_IOT_OK;
}


static ngx_iot_rc_e
ngx_iot_collection_update_apply(ngx_iot_write_t *w)
{
    ngx_iot_op_t          *op = w->data;
    ngx_iot_collection_t  *c = op->e;

    c->field_mask = op->row.c.field_mask;
    c->team_id = op->row.c.team_id;
    ngx_iot_text_swap(w->ctx, &c->tags, &op->text);

    return ngx_iot_collection_copy(c, w->pool, op->out);
}


ngx_iot_rc_e
ngx_iot_collection_delete(ngx_cycle_t *cycle, uint64_t id, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_op_t));
    op.what = NGX_IOT_ENTITY_COLLECTION;
    op.id = id;

    return ngx_iot_op_write(cycle, &op, ngx_iot_collection_delete_check,
                            ngx_iot_delete_row, ngx_iot_entity_dropped,
                            NULL, log, wait);
}


static ngx_iot_rc_e
ngx_iot_collection_delete_check(ngx_iot_write_t *w)
{
    ngx_iot_op_t          *op = w->data;
    ngx_iot_collection_t  *c;

    c = ngx_iot_collection_find(w->ctx, op->id);
    if (c == NULL) {
        return NGX_IOT_NOT_FOUND;
    }

    if (c->ndevices) {
        return NGX_IOT_NOT_EMPTY;
    }

    if (c->ngroups) {
        return NGX_IOT_HAS_GROUPS;
    }

    if (ngx_iot_products_in(w->ctx, op->id)) {
        return NGX_IOT_HAS_PRODUCTS;
    }

    ngx_iot_op_note(w, NGX_IOT_ENTITY_COLLECTION, op->id, NULL);
    op->e = c;

    return NGX_IOT_OK;
}


/* devices */

ngx_iot_rc_e
ngx_iot_device_get(ngx_cycle_t *cycle, uint64_t id, uint64_t cid,
    ngx_pool_t *pool, ngx_iot_device_t *out)
{
    ngx_iot_rc_e         rc;
    ngx_iot_device_t    *d;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    d = ngx_iot_device_find(ctx, id);

    if (d == NULL || (cid && d->collection_id != cid)) {
        rc = NGX_IOT_NOT_FOUND;

    } else {
        rc = ngx_iot_device_copy(d, pool, out);
    }

    ngx_iot_unlock_read(ctx);

    return rc;
}


/*
 * One walk of the zone's devices: every one that matches is counted, and
 * the n with the smallest ids above after are kept in order (an insertion
 * into at most n pointers), then copied.  The walk holds the read lock
 * for as long as it takes: a list costs time in the number of devices.
 */

ngx_iot_rc_e
ngx_iot_device_select(ngx_cycle_t *cycle, uint64_t after,
    ngx_iot_device_match_pt match, void *data, ngx_pool_t *pool,
    ngx_iot_device_t *out, ngx_uint_t n, ngx_uint_t *found,
    ngx_uint_t *count)
{
    ngx_uint_t           i, k, kept;
    ngx_iot_rc_e         rc;
    ngx_iot_link_t      *link;
    ngx_iot_index_t     *idx;
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

            if (!match(d, data)) {
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
        rc = ngx_iot_device_copy(page[k], pool, &out[k]);
    }

    ngx_iot_unlock_read(ctx);

    if (rc == NGX_IOT_OK) {
        *found = kept;
    }

    return rc;
}


ngx_iot_rc_e
ngx_iot_device_create(ngx_cycle_t *cycle, ngx_iot_device_change_t *ch,
    ngx_pool_t *pool, ngx_iot_device_t *out, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_op_t));
    op.what = NGX_IOT_ENTITY_DEVICE;
    op.change = ch;
    op.out = out;

    return ngx_iot_op_write(cycle, &op, ngx_iot_device_create_check,
                            ngx_iot_row_add, ngx_iot_entity_added,
                            pool, log, wait);
}


static ngx_iot_rc_e
ngx_iot_device_create_check(ngx_iot_write_t *w)
{
    ngx_iot_op_t             *op = w->data;
    ngx_iot_device_change_t  *ch = op->change;

    uint64_t               id;
    ngx_iot_rc_e           rc;
    ngx_iot_device_t      *d;
    ngx_iot_collection_t  *c;

    c = ngx_iot_collection_find(w->ctx, ch->collection_id);
    if (c == NULL) {
        return NGX_IOT_COLLECTION_NOT_FOUND;
    }

    ngx_iot_ident_keys(NULL, ch, op->keys);

    rc = ngx_iot_ident_check(w->ctx, NULL, op->keys);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    rc = ngx_iot_op_tags(w, op, NULL, ch->tags, "add a device");
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    d = ngx_iot_journal_alloc_fixed(w->ctx, &w->ctx->sh->device_mem);
    if (d == NULL) {
        return ngx_iot_zone_full(w->ctx, "add a device", w->log);
    }

    do {
        id = ngx_iot_id_new_ordered();
    } while (ngx_iot_device_find(w->ctx, id));

    do {
        if (ngx_iot_uuid_new(d->uuid) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, w->log, ngx_errno,
                          "getrandom() failed");
            return NGX_IOT_STORE_ERROR;
        }
    } while (ngx_iot_device_find_uuid(w->ctx, d->uuid));

    d->id.key = id;
    d->collection_id = c->id.key;
    d->tags = op->text;
    ngx_iot_ident_set(d, op->keys);

    d->created_at = ngx_iot_now_ms();
    d->modified_at = d->created_at;

    rc = ngx_iot_device_things(w, op, NULL, ch);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    if (ngx_iot_intern(w->ctx->shpool, &w->ctx->sh->interned, ch->by,
                       &d->created_ref)
        != NGX_OK
        || (ch->things
            && ngx_iot_intern(w->ctx->shpool, &w->ctx->sh->interned,
                              ch->spec, &d->spec_ref)
               != NGX_OK))
    {
        return ngx_iot_zone_full(w->ctx, "add a device", w->log);
    }

    d->modified_ref = d->created_ref;

    if (ch->things) {
        d->status = (u_char) ch->status;
        d->about = op->about;
        d->description_len = op->description_len;
    }

    if (ch->side) {
        rc = ch->side->check(w, d, ch->side->data);
        if (rc != NGX_IOT_OK) {
            return rc;
        }
    }

    ngx_iot_op_note(w, NGX_IOT_ENTITY_DEVICE, id, NULL);

    op->e = d;
    ngx_memcpy(&op->row.d, d, NGX_IOT_DEVICE_ZONE_SIZE);
    ngx_memcpy(op->row.d.created_by, ch->by, NGX_IOT_UUID_SIZE);
    ngx_memcpy(op->row.d.modified_by, ch->by, NGX_IOT_UUID_SIZE);

    if (ch->things) {
        ngx_memcpy(op->row.d.spec, ch->spec, NGX_IOT_UUID_SIZE);
    }

    op->row.d.tags.data = op->tags.data;
    op->row.d.tags.len = (uint32_t) op->tags.len;

    return NGX_IOT_OK;
}





/*
 * A things write replaces the description and the barcode: one text in
 * the zone, the description first (an unchanged one is kept, not copied).
 */

static ngx_iot_rc_e
ngx_iot_device_things(ngx_iot_write_t *w, ngx_iot_op_t *op,
    ngx_iot_device_t *d, ngx_iot_device_change_t *ch)
{
    u_char          *p;
    ngx_str_t        about;
    ngx_iot_text_t   none;

    ngx_memzero(&none, sizeof(ngx_iot_text_t));

    op->about = d ? d->about : none;
    op->description_len = d ? d->description_len : 0;

    if (!ch->things) {
        return NGX_IOT_OK;
    }

    about.len = ch->description.len + ch->barcode.len;

    if (about.len == op->about.len
        && ch->description.len == op->description_len
        && (about.len == 0
            || (ngx_memcmp(op->about.data, ch->description.data,
                           ch->description.len) == 0
                && ngx_memcmp(op->about.data + ch->description.len,
                              ch->barcode.data, ch->barcode.len) == 0)))
    {
        return NGX_IOT_OK;
    }

    about.data = ngx_pnalloc(w->pool, about.len + 1);
    if (about.data == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    p = ngx_cpymem(about.data, ch->description.data, ch->description.len);
    ngx_memcpy(p, ch->barcode.data, ch->barcode.len);

    op->description_len = (uint16_t) ch->description.len;

    if (ngx_iot_journal_text(w->ctx, &about, NGX_IOT_TEXT_PLAIN, &op->about)
        != NGX_OK)
    {
        return ngx_iot_zone_full(w->ctx, d ? "change a device"
                                           : "add a device", w->log);
    }

    return NGX_IOT_OK;
}


ngx_iot_rc_e
ngx_iot_device_update(ngx_cycle_t *cycle, uint64_t id, uint64_t cid,
    ngx_iot_device_change_t *ch, ngx_pool_t *pool, ngx_iot_device_t *out,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_op_t));
    op.what = NGX_IOT_ENTITY_DEVICE;
    op.id = id;
    op.cid = cid;
    op.change = ch;
    op.out = out;

    return ngx_iot_op_write(cycle, &op, ngx_iot_device_update_check,
                            ngx_iot_row_put, ngx_iot_device_update_apply,
                            pool, log, wait);
}


static ngx_iot_rc_e
ngx_iot_device_update_check(ngx_iot_write_t *w)
{
    ngx_iot_op_t             *op = w->data;
    ngx_iot_device_change_t  *ch = op->change;

    uint64_t           to;
    ngx_iot_rc_e       rc;
    ngx_iot_device_t  *d;

    d = ngx_iot_device_find(w->ctx, op->id);
    if (d == NULL || d->collection_id != op->cid) {
        return NGX_IOT_NOT_FOUND;
    }

    to = ch->collection_id ? ch->collection_id : d->collection_id;

    op->target = ngx_iot_collection_find(w->ctx, to);

    if (to != d->collection_id && op->target == NULL) {
        return NGX_IOT_COLLECTION_NOT_FOUND;
    }

    ngx_iot_ident_keys(d, ch, op->keys);

    rc = ngx_iot_ident_check(w->ctx, d, op->keys);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    rc = ngx_iot_op_tags(w, op, &d->tags, ch->tags, "change a device");
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    rc = ngx_iot_device_things(w, op, d, ch);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    if (ch->side) {
        rc = ch->side->check(w, d, ch->side->data);
        if (rc != NGX_IOT_OK) {
            return rc;
        }
    }

    ngx_iot_op_note(w, NGX_IOT_ENTITY_DEVICE, op->id, NULL);

    op->e = d;
    ngx_iot_device_unpack(d, &op->row.d);

    /* the handles the zone will hold (apply), of the UUIDs it will have */

    if (ngx_iot_intern(w->ctx->shpool, &w->ctx->sh->interned, ch->by,
                       &op->row.d.modified_ref)
        != NGX_OK
        || (ch->things
            && ngx_iot_intern(w->ctx->shpool, &w->ctx->sh->interned,
                              ch->spec, &op->row.d.spec_ref)
               != NGX_OK))
    {
        return ngx_iot_zone_full(w->ctx, "change a device", w->log);
    }
    op->row.d.collection_id = to;
    ngx_iot_ident_set(&op->row.d, op->keys);
    op->row.d.tags.data = op->tags.data;
    op->row.d.tags.len = (uint32_t) op->tags.len;
    op->row.d.modified_at = ngx_iot_now_ms();
    ngx_memcpy(op->row.d.modified_by, ch->by, NGX_IOT_UUID_SIZE);

    if (ch->things) {
        op->row.d.status = (u_char) ch->status;
        ngx_memcpy(op->row.d.spec, ch->spec, NGX_IOT_UUID_SIZE);
        op->row.d.about = op->about;
        op->row.d.description_len = op->description_len;
    }

    return NGX_IOT_OK;
}


static ngx_iot_rc_e
ngx_iot_device_update_apply(ngx_iot_write_t *w)
{
    ngx_iot_op_t             *op = w->data;
    ngx_iot_device_t         *d = op->e;
    ngx_iot_collection_t     *from;
    ngx_iot_device_change_t  *ch = op->change;

    ngx_iot_ident_move(w->ctx, d, op->keys);

    if (ch->side) {
        ch->side->apply(w, ch->side->data);
    }

    if (op->row.d.collection_id != d->collection_id) {
        ngx_iot_members_drop(w->ctx, d->id.key, 0);

        from = ngx_iot_collection_find(w->ctx, d->collection_id);

        if (from && from->ndevices) {
            from->ndevices--;
        }

        op->target->ndevices++;
        d->collection_id = op->row.d.collection_id;
    }

    ngx_iot_text_swap(w->ctx, &d->tags, &op->text);
    ngx_iot_text_swap(w->ctx, &d->about, &op->row.d.about);

    d->description_len = op->row.d.description_len;
    d->status = op->row.d.status;
    d->modified_at = op->row.d.modified_at;

    /* held before the old ones are let go: they may be the same */

    ngx_iot_intern_hold(w->ctx->shpool, op->row.d.spec_ref);
    ngx_iot_intern_hold(w->ctx->shpool, op->row.d.modified_ref);
    ngx_iot_intern_release(w->ctx->shpool, &w->ctx->sh->interned,
                           d->spec_ref);
    ngx_iot_intern_release(w->ctx->shpool, &w->ctx->sh->interned,
                           d->modified_ref);

    d->spec_ref = op->row.d.spec_ref;
    d->modified_ref = op->row.d.modified_ref;

    return ngx_iot_device_copy(d, w->pool, op->out);
}


ngx_iot_rc_e
ngx_iot_device_delete(ngx_cycle_t *cycle, uint64_t id, uint64_t cid,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_op_t));
    op.what = NGX_IOT_ENTITY_DEVICE;
    op.id = id;
    op.cid = cid;

    return ngx_iot_op_write(cycle, &op, ngx_iot_device_delete_check,
                            ngx_iot_delete_row, ngx_iot_entity_dropped,
                            NULL, log, wait);
}


static ngx_iot_rc_e
ngx_iot_device_delete_check(ngx_iot_write_t *w)
{
    ngx_iot_op_t      *op = w->data;
    ngx_iot_device_t  *d;

    d = ngx_iot_device_find(w->ctx, op->id);
    if (d == NULL || d->collection_id != op->cid) {
        return NGX_IOT_NOT_FOUND;
    }

    /* a gateway of the iotda dialect goes after its child devices */

    if (ngx_iot_iotda_has_children(w->ctx, op->id)) {
        return NGX_IOT_HAS_CHILDREN;
    }

    ngx_iot_op_note(w, NGX_IOT_ENTITY_DEVICE, op->id, NULL);
    op->e = d;

    return NGX_IOT_OK;
}


/* the things dialect's look-ups: by UUID, by an identifier */

ngx_iot_rc_e
ngx_iot_device_get_uuid(ngx_cycle_t *cycle, u_char *uuid, ngx_pool_t *pool,
    ngx_iot_device_t *out)
{
    ngx_iot_rc_e         rc;
    ngx_iot_device_t    *d;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    d = ngx_iot_device_find_uuid(ctx, uuid);
    rc = d ? ngx_iot_device_copy(d, pool, out) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_device_get_ident(ngx_cycle_t *cycle, ngx_uint_t which, uint64_t key,
    ngx_pool_t *pool, ngx_iot_device_t *out)
{
    ngx_iot_rc_e         rc;
    ngx_iot_device_t    *d;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    d = ngx_iot_ident_find(ctx, which, key);
    rc = d ? ngx_iot_device_copy(d, pool, out) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return rc;
}


/* a device's UUID, by its id */

ngx_iot_rc_e
ngx_iot_device_uuid(ngx_cycle_t *cycle, uint64_t id, u_char *uuid)
{
    ngx_iot_rc_e         rc;
    ngx_iot_device_t    *d;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    d = ngx_iot_device_find(ctx, id);

    if (d) {
        ngx_memcpy(uuid, d->uuid, NGX_IOT_UUID_SIZE);
        rc = NGX_IOT_OK;

    } else {
        rc = NGX_IOT_NOT_FOUND;
    }

    ngx_iot_unlock_read(ctx);

    return rc;
}


/* a collection's UUID, by its id: for what shows a device's projectId */

ngx_iot_rc_e
ngx_iot_collection_uuid(ngx_cycle_t *cycle, uint64_t id, u_char *uuid)
{
    ngx_iot_rc_e           rc;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;

    ctx = ngx_iot_lock_read(cycle);

    c = ngx_iot_collection_find(ctx, id);

    if (c) {
        ngx_memcpy(uuid, c->uuid, NGX_IOT_UUID_SIZE);
        rc = NGX_IOT_OK;

    } else {
        rc = NGX_IOT_NOT_FOUND;
    }

    ngx_iot_unlock_read(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_collection_get_uuid(ngx_cycle_t *cycle, u_char *uuid,
    ngx_pool_t *pool, ngx_iot_collection_t *out)
{
    ngx_iot_rc_e           rc;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;

    ctx = ngx_iot_lock_read(cycle);

    c = ngx_iot_collection_find_uuid(ctx, uuid);
    rc = c ? ngx_iot_collection_copy(c, pool, out) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return rc;
}


/* tokens */

ngx_iot_rc_e
ngx_iot_token_get(ngx_cycle_t *cycle, u_char *hash, ngx_pool_t *pool,
    ngx_iot_token_t *out)
{
    ngx_iot_rc_e         rc;
    ngx_iot_token_t     *t;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    t = ngx_iot_token_find(ctx, hash);

    rc = t ? ngx_iot_token_copy(t, pool, out) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_token_create(ngx_cycle_t *cycle, ngx_iot_token_change_t *ch,
    ngx_pool_t *pool, ngx_iot_token_t *out, u_char *secret, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    u_char        raw[NGX_IOT_TOKEN_LEN / 2];
    ngx_iot_op_t  op;

    if (ngx_iot_random(raw, sizeof(raw)) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno, "getrandom() failed");
        return NGX_IOT_STORE_ERROR;
    }

    ngx_hex_dump(secret, raw, sizeof(raw));
    ngx_explicit_memzero(raw, sizeof(raw));

    ngx_memzero(&op, sizeof(ngx_iot_op_t));
    op.what = NGX_IOT_ENTITY_TOKEN;
    op.change = ch;
    op.secret = secret;
    op.out = out;

    return ngx_iot_op_write(cycle, &op, ngx_iot_token_create_check,
                            ngx_iot_row_add, ngx_iot_entity_added,
                            pool, log, wait);
}


static ngx_iot_rc_e
ngx_iot_token_create_check(ngx_iot_write_t *w)
{
    ngx_iot_op_t            *op = w->data;
    ngx_iot_token_change_t  *ch = op->change;

    ngx_iot_rc_e      rc;
    ngx_iot_token_t  *t;

    rc = ngx_iot_op_tags(w, op, NULL, ch->tags, "add a token");
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    t = ngx_iot_journal_alloc(w->ctx, sizeof(ngx_iot_token_t));

    if (t == NULL
        || ngx_iot_journal_text(w->ctx, &ch->resource, 1, &t->resource)
           != NGX_OK)
    {
        return ngx_iot_zone_full(w->ctx, "add a token", w->log);
    }

    t->resource.data[t->resource.len] = '\0';
    t->write = (ch->write == 1);
    t->tags = op->text;
    t->user_id = ch->user_id;
    t->team_id = ch->team_id;

    ngx_iot_token_hash(op->secret, NGX_IOT_TOKEN_LEN, t->hash);
    ngx_memcpy(t->hint, op->secret, NGX_IOT_TOKEN_HINT_LEN);

    ngx_iot_op_note(w, NGX_IOT_ENTITY_TOKEN, 0, t->hash);

    op->e = t;
    op->row.t = *t;
    op->row.t.tags.data = op->tags.data;
    op->row.t.tags.len = (uint32_t) op->tags.len;

    return NGX_IOT_OK;
}





ngx_iot_rc_e
ngx_iot_token_update(ngx_cycle_t *cycle, u_char *hash,
    ngx_iot_token_change_t *ch, ngx_pool_t *pool, ngx_iot_token_t *out,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_op_t));
    op.what = NGX_IOT_ENTITY_TOKEN;
    op.hash = hash;
    op.change = ch;
    op.out = out;

    return ngx_iot_op_write(cycle, &op, ngx_iot_token_update_check,
                            ngx_iot_row_put, ngx_iot_token_update_apply,
                            pool, log, wait);
}


static ngx_iot_rc_e
ngx_iot_token_update_check(ngx_iot_write_t *w)
{
    ngx_iot_op_t            *op = w->data;
    ngx_iot_token_change_t  *ch = op->change;

    ngx_iot_rc_e      rc;
    ngx_iot_token_t  *t;

    t = ngx_iot_token_find(w->ctx, op->hash);
    if (t == NULL) {
        return NGX_IOT_NOT_FOUND;
    }

    rc = ngx_iot_op_tags(w, op, &t->tags, ch->tags, "change a token");
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    if (ch->resource.len) {
        if (ngx_iot_journal_text(w->ctx, &ch->resource, 1, &op->resource)
            != NGX_OK)
        {
            return ngx_iot_zone_full(w->ctx, "change a token", w->log);
        }

        op->resource.data[op->resource.len] = '\0';

    } else {
        op->resource = t->resource;
    }

    op->write = (ch->write == -1) ? t->write : (ngx_uint_t) ch->write;

    ngx_iot_op_note(w, NGX_IOT_ENTITY_TOKEN, 0, op->hash);

    op->e = t;
    op->row.t = *t;
    op->row.t.resource = op->resource;
    op->row.t.write = op->write;
    op->row.t.tags.data = op->tags.data;
    op->row.t.tags.len = (uint32_t) op->tags.len;

    return NGX_IOT_OK;
}


static ngx_iot_rc_e
ngx_iot_token_update_apply(ngx_iot_write_t *w)
{
    ngx_iot_op_t     *op = w->data;
    ngx_iot_token_t  *t = op->e;

    ngx_iot_text_swap(w->ctx, &t->tags, &op->text);
    ngx_iot_text_swap(w->ctx, &t->resource, &op->resource);
    t->write = op->write;

    return ngx_iot_token_copy(t, w->pool, op->out);
}


ngx_iot_rc_e
ngx_iot_token_delete(ngx_cycle_t *cycle, u_char *hash, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_op_t));
    op.what = NGX_IOT_ENTITY_TOKEN;
    op.hash = hash;

    return ngx_iot_op_write(cycle, &op, ngx_iot_token_delete_check,
                            ngx_iot_delete_row, ngx_iot_entity_dropped,
                            NULL, log, wait);
}


static ngx_iot_rc_e
ngx_iot_token_delete_check(ngx_iot_write_t *w)
{
    ngx_iot_op_t     *op = w->data;
    ngx_iot_token_t  *t;

    t = ngx_iot_token_find(w->ctx, op->hash);
    if (t == NULL) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_iot_op_note(w, NGX_IOT_ENTITY_TOKEN, 0, op->hash);
    op->e = t;

    return NGX_IOT_OK;
}


/* authentication: the caller's token, by its hash */

ngx_int_t
ngx_iot_token_principal(ngx_cycle_t *cycle, u_char *hash, ngx_pool_t *pool,
    ngx_iot_principal_t *who)
{
    ngx_int_t            rc;
    ngx_iot_token_t     *t;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    t = ngx_iot_token_find(ctx, hash);

    if (t == NULL) {
        rc = NGX_DECLINED;

    } else {
        who->admin = 0;
        who->write = t->write;
        who->user_id = t->user_id;
        who->team_id = t->team_id;
        ngx_memcpy(who->hash, hash, NGX_IOT_HASH_LEN);
        who->token = 1;
        who->resource.len = t->resource.len;
        who->resource.data = ngx_pnalloc(pool, t->resource.len);

        if (who->resource.data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(who->resource.data, t->resource.data,
                       t->resource.len);
            rc = NGX_OK;
        }
    }

    ngx_iot_unlock_read(ctx);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_iot_auth_teams(cycle, who, pool);
}


/* what a collection's devices show of themselves: its mask and the forced */

ngx_uint_t
ngx_iot_field_mask(ngx_cycle_t *cycle, ngx_uint_t mask)
{
    return mask | ngx_iot_get_conf(cycle)->field_mask_forced;
}


uint64_t
ngx_iot_collection_team(ngx_cycle_t *cycle, uint64_t cid)
{
    uint64_t               team;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;

    ctx = ngx_iot_lock_read(cycle);

    c = ngx_iot_collection_find(ctx, cid);
    team = c ? c->team_id : 0;

    ngx_iot_unlock_read(ctx);

    return team;
}


ngx_uint_t
ngx_iot_collection_mask(ngx_cycle_t *cycle, uint64_t cid)
{
    ngx_uint_t             mask;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;

    ctx = ngx_iot_lock_read(cycle);

    c = ngx_iot_collection_find(ctx, cid);
    mask = c ? c->field_mask : 0;

    ngx_iot_unlock_read(ctx);

    return ngx_iot_field_mask(cycle, mask);
}
