
/*
 * Copyright (C) nginx-iot authors
 *
 * The crash journal of the write under way.  The caller holds the zone's
 * mutex (and, but for repair on read, the writer mutex).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_entities.h"
#include "ngx_iot_journal.h"
#include "ngx_iot_fixed.h"


#define NGX_IOT_JOURNAL_ALLOCS  8


static ngx_int_t ngx_iot_journal_record(ngx_iot_zone_ctx_t *ctx, void *p);
static void ngx_iot_journal_clear(ngx_iot_journal_t *j);
static void ngx_iot_journal_free(ngx_iot_zone_ctx_t *ctx, void *p);
static void ngx_iot_journal_reload(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, ngx_log_t *log);


ngx_int_t
ngx_iot_journal_init(ngx_iot_zone_ctx_t *ctx)
{
    ngx_iot_journal_t  *j;

    j = &ctx->sh->journal;

    j->alloc = ngx_slab_calloc(ctx->shpool,
                               NGX_IOT_JOURNAL_ALLOCS * sizeof(void *));
    if (j->alloc == NULL) {
        return NGX_ERROR;
    }

    j->size = NGX_IOT_JOURNAL_ALLOCS;

    return NGX_OK;
}


void
ngx_iot_journal_begin(ngx_iot_zone_ctx_t *ctx)
{
    ngx_iot_journal_t  *j;

    j = &ctx->sh->journal;

    j->nkeys = 0;
    j->nalloc = 0;
    j->pid = ngx_pid;
}


void
ngx_iot_journal_note(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what,
    ngx_iot_store_key_t *key)
{
    ngx_iot_journal_t      *j;
    ngx_iot_journal_key_t  *k;

    j = &ctx->sh->journal;

    if (j->nkeys == NGX_IOT_JOURNAL_KEYS) {
        /* a write changes two entities at most, a batch is bounded */
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "iot journal: too many entities in one write");
        return;
    }

    k = &j->keys[j->nkeys];

    k->entity = what;
    k->id = key->id;
    k->len = ngx_min(key->len, NGX_IOT_HASH_LEN);

    if (k->len) {
        ngx_memcpy(k->bytes, key->data, k->len);
    }

    j->nkeys++;
}


/* the array grows by doubling; a crash while it grows leaks the old one */

static ngx_int_t
ngx_iot_journal_record(ngx_iot_zone_ctx_t *ctx, void *p)
{
    void               **alloc;
    ngx_iot_journal_t   *j;

    j = &ctx->sh->journal;

    if (j->nalloc == j->size) {
        alloc = ngx_slab_alloc_locked(ctx->shpool,
                                      2 * j->size * sizeof(void *));
        if (alloc == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(alloc, j->alloc, j->nalloc * sizeof(void *));

        p = j->alloc;
        j->alloc = alloc;
        j->size *= 2;

        ngx_slab_free_locked(ctx->shpool, p);

        return NGX_AGAIN;
    }

    j->alloc[j->nalloc++] = p;

    return NGX_OK;
}


void *
ngx_iot_journal_alloc(ngx_iot_zone_ctx_t *ctx, size_t size)
{
    void       *p;
    ngx_int_t   rc;

    p = ngx_slab_calloc_locked(ctx->shpool, size);
    if (p == NULL) {
        return NULL;
    }

    rc = ngx_iot_journal_record(ctx, p);

    if (rc == NGX_AGAIN) {
        rc = ngx_iot_journal_record(ctx, p);
    }

    if (rc != NGX_OK) {
        ngx_slab_free_locked(ctx->shpool, p);
        return NULL;
    }

    return p;
}


/*
 * An object of a fixed-size allocator: recorded with its lowest bit set
 * (objects are word-aligned), so that it is freed to its allocator.
 */

void *
ngx_iot_journal_alloc_fixed(ngx_iot_zone_ctx_t *ctx, ngx_iot_fixed_t *f)
{
    void       *p;
    ngx_int_t   rc;

    p = ngx_iot_fixed_alloc(f);
    if (p == NULL) {
        return NULL;
    }

    rc = ngx_iot_journal_record(ctx, (u_char *) p + 1);

    if (rc == NGX_AGAIN) {
        rc = ngx_iot_journal_record(ctx, (u_char *) p + 1);
    }

    if (rc != NGX_OK) {
        ngx_iot_fixed_free(p);
        return NULL;
    }

    return p;
}


static void
ngx_iot_journal_free(ngx_iot_zone_ctx_t *ctx, void *p)
{
    if ((uintptr_t) p & 1) {
        ngx_iot_fixed_free((u_char *) p - 1);
        return;
    }

    ngx_slab_free_locked(ctx->shpool, p);
}


/* tags ("{}" and empty: none), or a text kept even when empty */

ngx_int_t
ngx_iot_journal_text(ngx_iot_zone_ctx_t *ctx, ngx_str_t *src,
    ngx_uint_t always, ngx_iot_text_t *dst)
{
    if (always != NGX_IOT_TEXT_ALWAYS
        && (src->len == 0
            || (always == NGX_IOT_TEXT_TAGS && src->len == 2
                && src->data[0] == '{')))
    {
        dst->data = NULL;
        dst->len = 0;
        return NGX_OK;
    }

    dst->data = ngx_iot_journal_alloc(ctx, src->len
                                      + (always == NGX_IOT_TEXT_ALWAYS));
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->len = (uint32_t) src->len;

    return NGX_OK;
}


static void
ngx_iot_journal_clear(ngx_iot_journal_t *j)
{
    j->pid = 0;
    j->nkeys = 0;
    j->nalloc = 0;
}


void
ngx_iot_journal_abort(ngx_iot_zone_ctx_t *ctx)
{
    ngx_iot_journal_mark_t  start;

    start.nkeys = 0;
    start.nalloc = 0;

    ngx_iot_journal_abort_to(ctx, &start);
    ngx_iot_journal_clear(&ctx->sh->journal);
}


void
ngx_iot_journal_mark(ngx_iot_zone_ctx_t *ctx, ngx_iot_journal_mark_t *mark)
{
    mark->nkeys = ctx->sh->journal.nkeys;
    mark->nalloc = ctx->sh->journal.nalloc;
}


void
ngx_iot_journal_abort_to(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_journal_mark_t *mark)
{
    ngx_uint_t          i;
    ngx_iot_journal_t  *j;

    j = &ctx->sh->journal;

    for (i = mark->nalloc; i < j->nalloc; i++) {
        ngx_iot_journal_free(ctx, j->alloc[i]);
    }

    j->nalloc = mark->nalloc;
    j->nkeys = mark->nkeys;
}


void
ngx_iot_journal_end(ngx_iot_zone_ctx_t *ctx)
{
    ngx_iot_journal_clear(&ctx->sh->journal);
}


/* alive: also when its writer still runs (a write cannot be repaired then) */

ngx_uint_t
ngx_iot_journal_orphaned(ngx_iot_zone_ctx_t *ctx, ngx_uint_t alive)
{
    ngx_pid_t  pid;

    pid = ctx->sh->journal.pid;

    if (pid == 0 || pid == ngx_pid) {
        return 0;
    }

    if (alive) {
        return 1;
    }

    return (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH);
}


/*
 * A worker died between a write's store statement and the end of its zone
 * update: what it allocated and no entity holds is freed, and what the
 * zone holds of the entities it changed is loaded again from the store.
 */

void
ngx_iot_journal_repair(ngx_iot_zone_ctx_t *ctx, ngx_cycle_t *cycle,
    ngx_iot_store_t *store, ngx_log_t *log)
{
    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "iot zone \"%V\": process %P died during a write, "
                  "reloading that entity from the store",
                  &ctx->name, ctx->sh->journal.pid);

    if (store == NULL) {
        store = ngx_iot_store_get(cycle, log);
        if (store == NULL) {
            /* leave it for a process that can read the store */
            return;
        }
    }

    ngx_iot_journal_reload(ctx, store, log);
}


void
ngx_iot_journal_undo(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_log_t *log)
{
    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "iot zone \"%V\": a batch of writes did not commit, "
                  "reloading its entities from the store", &ctx->name);

    ngx_iot_journal_reload(ctx, store, log);
}


/*
 * What the journal allocated and no entity holds is freed, and what the
 * zone holds of the entities it names is loaded again from the store.
 */

static void
ngx_iot_journal_reload(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_log_t *log)
{
    void                   *e, *p;
    ngx_uint_t              i, k, owned;
    ngx_iot_journal_t      *j;
    ngx_iot_store_key_t     key;
    ngx_iot_journal_key_t  *jk;

    j = &ctx->sh->journal;

    for (i = 0; i < j->nalloc; i++) {
        owned = 0;
        p = (void *) ((uintptr_t) j->alloc[i] & ~(uintptr_t) 1);

        for (k = 0; k < j->nkeys && !owned; k++) {
            jk = &j->keys[k];

            key.id = jk->id;
            key.data = jk->bytes;
            key.len = jk->len;

            e = ngx_iot_entity_find(ctx, jk->entity, &key);
            owned = (e && ngx_iot_entity_owns(jk->entity, e, p));
        }

        if (!owned) {
            ngx_iot_journal_free(ctx, j->alloc[i]);
        }
    }

    for (k = 0; k < j->nkeys; k++) {
        jk = &j->keys[k];

        key.id = jk->id;
        key.data = jk->bytes;
        key.len = jk->len;

        ngx_iot_entity_repair(ctx, store, jk->entity, &key, log);
    }

    ngx_iot_journal_clear(j);
}
