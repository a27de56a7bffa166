
/*
 * Copyright (C) nginx-iot authors
 *
 * The registry: collections, devices and tokens.  SQLite holds the data of
 * record; the shared memory zone holds every entity and its indexes, so
 * reads never touch SQLite and every worker sees a write once it is
 * answered.
 *
 * A write holds the zone's mutex across its SQLite statement and its
 * shared memory update, so the two never disagree for a reader.  The write
 * is noted in sh->pending while it runs: if the worker dies in between,
 * the next process to take the mutex reloads that one entity from SQLite.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_json.h"
#include "ngx_iot_id.h"
#include "ngx_iot_token.h"
#include "ngx_iot_session.h"


static void ngx_iot_registry_retire(ngx_cycle_t *old);
static ngx_iot_zone_ctx_t *ngx_iot_lock(ngx_cycle_t *cycle, ngx_log_t *log);
static void ngx_iot_device_reload(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, uint64_t id, void **alloc);
static void ngx_iot_repair(ngx_iot_zone_ctx_t *ctx, ngx_cycle_t *cycle,
    ngx_log_t *log);
static ngx_int_t ngx_iot_text_alloc(ngx_slab_pool_t *shpool, ngx_str_t *src,
    ngx_iot_text_t *dst);
static void ngx_iot_text_free(ngx_slab_pool_t *shpool, ngx_iot_text_t *t);
static ngx_int_t ngx_iot_text_copy(ngx_pool_t *pool, ngx_iot_text_t *src,
    ngx_iot_text_t *dst);
static ngx_iot_rc_e ngx_iot_zone_full(ngx_iot_zone_ctx_t *ctx,
    const char *what, ngx_log_t *log);
static ngx_iot_rc_e ngx_iot_tags_new(ngx_iot_text_t *cur, json_t *patch,
    ngx_pool_t *pool, ngx_str_t *out);
static ngx_int_t ngx_iot_collection_load(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_collection_t *row);
static ngx_int_t ngx_iot_device_load(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_device_t *row);
static ngx_int_t ngx_iot_token_load(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_token_t *row);
static void ngx_iot_collection_drop(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_collection_t *c);
static void ngx_iot_device_drop(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_device_t *d);
static void ngx_iot_token_drop(ngx_iot_zone_ctx_t *ctx, ngx_iot_token_t *t);
static ngx_iot_collection_t *ngx_iot_collection_find(ngx_iot_zone_ctx_t *ctx,
    uint64_t id);
static ngx_iot_token_t *ngx_iot_token_find(ngx_iot_zone_ctx_t *ctx,
    u_char *hash);
static ngx_int_t ngx_iot_registry_load(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, ngx_log_t *log);
static ngx_int_t ngx_iot_collection_loaded(void *row, void *data);
static ngx_int_t ngx_iot_device_loaded(void *row, void *data);
static ngx_int_t ngx_iot_token_loaded(void *row, void *data);
static ngx_int_t ngx_iot_session_loaded(void *row, void *data);


#define ngx_iot_container(link, type, field)                                  \
    ((type *) ((u_char *) (link) - offsetof(type, field)))


/* shared memory zone */

ngx_int_t
ngx_iot_registry_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_iot_zone_ctx_t  *octx = data;

    ngx_int_t            rc;
    ngx_iot_store_t     *store;
    ngx_slab_pool_t     *shpool;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* reload: the zone and everything in it stay as they are */

        if (ctx->conf->store_path.len != octx->conf->store_path.len
            || ngx_strncmp(ctx->conf->store_path.data,
                           octx->conf->store_path.data,
                           ctx->conf->store_path.len) != 0)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "iot zone \"%V\" holds the registry of \"%V\": "
                          "a new iot_store takes a restart, or a new zone "
                          "name or size", &ctx->name,
                          &octx->conf->store_path);
            return NGX_ERROR;
        }

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ngx_iot_registry_retire((ngx_cycle_t *) ngx_cycle);

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    ctx->shpool = shpool;
    ctx->sh = ngx_slab_calloc(shpool, sizeof(ngx_iot_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ctx->sh;

    if (ngx_shmtx_create(&ctx->sh->writer, &ctx->sh->writer_lock, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a full zone is answered with 503 and logged by us, not as crit */
    shpool->log_nomem = 0;

    shpool->log_ctx = ngx_slab_alloc(shpool,
                                     sizeof(" in iot zone \"\"")
                                     + shm_zone->shm.name.len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in iot zone \"%V\"%Z",
                &shm_zone->shm.name);

    if (ngx_iot_bus_init_zone(shpool, ctx->sh, ctx->conf->bus_size)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "iot zone \"%V\" is too small for its bus "
                      "(iot_bus_size)", &ctx->name);
        return NGX_ERROR;
    }

    if (ngx_process == NGX_PROCESS_SIGNALLER || ngx_test_config) {
        /* "nginx -s" and "nginx -t" do not read the store */
        return NGX_OK;
    }

    store = ngx_iot_store_open(&ctx->conf->store_path, ctx->conf->sync,
                               shm_zone->shm.log);
    if (store == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_iot_store_migrate(store, 0, shm_zone->shm.log);

    if (rc == NGX_OK) {
        rc = ngx_iot_store_team(store, &ctx->sh->team_id, shm_zone->shm.log);
    }

    if (rc == NGX_OK) {
        rc = ngx_iot_registry_load(ctx, store, shm_zone->shm.log);
    }

    ngx_iot_store_close(store);

    if (rc != NGX_OK) {
        return rc;
    }

    /* the history's file: made, or brought up to date, by the master */

    store = ngx_iot_store_open(&ctx->conf->history_path, ctx->conf->sync,
                               shm_zone->shm.log);
    if (store == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_iot_store_migrate(store, 1, shm_zone->shm.log);

    ngx_iot_store_close(store);

    return rc;
}


/*
 * A new zone is built from the store while the old workers may still be
 * finishing requests in the old one: from now on they may read but not
 * write there, or their writes would be missing from the new zone.
 */

static void
ngx_iot_registry_retire(ngx_cycle_t *old)
{
    ngx_iot_conf_t      *conf;
    ngx_iot_zone_ctx_t  *octx;

    if (ngx_process != NGX_PROCESS_MASTER) {
        return;
    }

    conf = ngx_iot_get_conf(old);

    if (conf == NULL || conf->shm_zone == NULL) {
        return;
    }

    octx = conf->shm_zone->data;

    if (octx == NULL || octx->sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&octx->shpool->mutex);
    octx->sh->retired = 1;
    ngx_shmtx_unlock(&octx->shpool->mutex);
}


static ngx_int_t
ngx_iot_registry_load(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_log_t *log)
{
    ngx_int_t                rc;
    ngx_msec_t               start, spent;
    ngx_uint_t               ncollections, ndevices, ntokens, nsessions;
    ngx_slab_pool_t         *shpool;
    ngx_iot_store_cursor_t   cur;

    ngx_time_update();
    start = ngx_current_msec;

    shpool = ctx->shpool;

    if (ngx_iot_store_count(store, NGX_IOT_STORE_COLLECTIONS, 0,
                            &ncollections, log)
        != NGX_OK
        || ngx_iot_store_count(store, NGX_IOT_STORE_DEVICES, 0, &ndevices,
                               log)
           != NGX_OK
        || ngx_iot_store_count(store, NGX_IOT_STORE_TOKENS, 0, &ntokens,
                               log)
           != NGX_OK
        || ngx_iot_store_count(store, NGX_IOT_STORE_SESSIONS, 0, &nsessions,
                               log)
           != NGX_OK)
    {
        goto failed;
    }

    if (ngx_iot_index_init(shpool, &ctx->sh->collections, ncollections)
        != NGX_OK
        || ngx_iot_index_init(shpool, &ctx->sh->devices, ndevices) != NGX_OK
        || ngx_iot_index_init(shpool, &ctx->sh->imsi, ndevices) != NGX_OK
        || ngx_iot_index_init(shpool, &ctx->sh->imei, ndevices) != NGX_OK
        || ngx_iot_index_init(shpool, &ctx->sh->tokens, ntokens) != NGX_OK
        || ngx_iot_index_init(shpool, &ctx->sh->sessions, nsessions)
           != NGX_OK)
    {
        goto full;
    }

    /* collections first: a device counts itself in its collection */

    ngx_memzero(&cur, sizeof(ngx_iot_store_cursor_t));
    cur.kind = NGX_IOT_STORE_COLLECTIONS;
    rc = ngx_iot_store_list(store, &cur, 0, ngx_iot_collection_loaded, ctx,
                            log);

    if (rc == NGX_OK) {
        ngx_memzero(&cur, sizeof(ngx_iot_store_cursor_t));
        cur.kind = NGX_IOT_STORE_DEVICES;
        rc = ngx_iot_store_list(store, &cur, 0, ngx_iot_device_loaded, ctx,
                                log);
    }

    if (rc == NGX_OK) {
        ngx_memzero(&cur, sizeof(ngx_iot_store_cursor_t));
        cur.kind = NGX_IOT_STORE_TOKENS;
        rc = ngx_iot_store_list(store, &cur, 0, ngx_iot_token_loaded, ctx,
                                log);
    }

    if (rc == NGX_OK) {
        ngx_memzero(&cur, sizeof(ngx_iot_store_cursor_t));
        cur.kind = NGX_IOT_STORE_SESSIONS;
        rc = ngx_iot_store_list(store, &cur, 0, ngx_iot_session_loaded, ctx,
                                log);
    }

    if (rc == NGX_AGAIN) {
        goto full;
    }

    if (rc != NGX_OK) {
        goto failed;
    }

    ngx_time_update();
    spent = ngx_current_msec - start;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "iot zone \"%V\": loaded %ui devices, %ui collections, "
                  "%ui tokens, %ui sessions from \"%V\" in %M.%03M s; "
                  "%uz of %uz bytes used",
                  &ctx->name, ctx->sh->devices.nelts,
                  ctx->sh->collections.nelts, ctx->sh->tokens.nelts,
                  ctx->sh->sessions.nelts,
                  &ctx->conf->store_path, spent / 1000, spent % 1000,
                  ngx_iot_zone_used(ctx), ngx_iot_zone_size(ctx));

    return NGX_OK;

full:

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "iot zone \"%V\" is too small for the %ui devices, "
                  "%ui collections and %ui tokens in \"%V\": make it larger",
                  &ctx->name, ndevices, ncollections, ntokens,
                  &ctx->conf->store_path);
    return NGX_ERROR;

failed:

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "iot store \"%V\" cannot be read: %s",
                  &ctx->conf->store_path, ngx_iot_store_error(store));
    return NGX_ERROR;
}


/* row handlers: a row from the store into the zone; NGX_AGAIN: no room */

static ngx_int_t
ngx_iot_collection_loaded(void *row, void *data)
{
    return (ngx_iot_collection_load(data, row) == NGX_OK) ? NGX_OK
                                                           : NGX_AGAIN;
}


static ngx_int_t
ngx_iot_device_loaded(void *row, void *data)
{
    return (ngx_iot_device_load(data, row) == NGX_OK) ? NGX_OK : NGX_AGAIN;
}


static ngx_int_t
ngx_iot_token_loaded(void *row, void *data)
{
    return (ngx_iot_token_load(data, row) == NGX_OK) ? NGX_OK : NGX_AGAIN;
}


static ngx_int_t
ngx_iot_session_loaded(void *row, void *data)
{
    ngx_iot_session_row_t  *r = row;

    r->session.gateway = ngx_iot_gateway_key(&r->gateway);

    return (ngx_iot_session_load(data, &r->session) == NGX_OK) ? NGX_OK
                                                               : NGX_AGAIN;
}


size_t
ngx_iot_zone_size(ngx_iot_zone_ctx_t *ctx)
{
    return ctx->shpool->end - (u_char *) ctx->shpool;
}


size_t
ngx_iot_zone_used(ngx_iot_zone_ctx_t *ctx)
{
    size_t       free;
    ngx_uint_t   pages;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    pages = ctx->shpool->pfree;
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    free = pages << ngx_pagesize_shift;

    return ngx_iot_zone_size(ctx) - free;
}


uint64_t
ngx_iot_team_id(ngx_cycle_t *cycle)
{
    /* set at start and never changed */
    return ngx_iot_zone_ctx(cycle)->sh->team_id;
}


/* locking and repair */

/*
 * Writers take the writer mutex, one at a time across all workers, and the
 * zone's mutex, which they let go while SQLite works: readers need only the
 * zone's mutex and so never wait for the disk.  nginx frees the zone's
 * mutex of a worker that died; the writer mutex is freed here.
 */

static void
ngx_iot_writer_lock(ngx_iot_sh_t *sh)
{
    ngx_pid_t   pid;
    ngx_uint_t  n;

    for (n = 1; /* void */ ; n++) {

        if (ngx_shmtx_trylock(&sh->writer)) {
            return;
        }

        if (n % 4096 == 0) {
            pid = (ngx_pid_t) sh->writer_lock.lock;

            if (pid && kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH) {
                (void) ngx_shmtx_force_unlock(&sh->writer, pid);
            }
        }

        if (ngx_ncpu > 1 && n % 64) {
            ngx_cpu_pause();

        } else {
            ngx_sched_yield();
        }
    }
}


static ngx_iot_zone_ctx_t *
ngx_iot_lock(ngx_cycle_t *cycle, ngx_log_t *log)
{
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_zone_ctx(cycle);

    ngx_iot_writer_lock(ctx->sh);
    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (ctx->sh->pending.pid && ctx->sh->pending.pid != ngx_pid) {
        ngx_iot_repair(ctx, cycle, log);
    }

    return ctx;
}


/* NULL with *rc set when the zone takes no more writes */

ngx_iot_zone_ctx_t *
ngx_iot_lock_write(ngx_cycle_t *cycle, ngx_log_t *log, ngx_iot_rc_e *rc)
{
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        ngx_iot_unlock(ctx);
        *rc = NGX_IOT_RETIRED;
        return NULL;
    }

    return ctx;
}


void
ngx_iot_unlock(ngx_iot_zone_ctx_t *ctx)
{
    ngx_shmtx_unlock(&ctx->shpool->mutex);
    ngx_shmtx_unlock(&ctx->sh->writer);
}


/* a writer lets readers in while SQLite works */

void
ngx_iot_zone_unlock(ngx_iot_zone_ctx_t *ctx)
{
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


void
ngx_iot_zone_lock(ngx_iot_zone_ctx_t *ctx)
{
    ngx_shmtx_lock(&ctx->shpool->mutex);
}


ngx_iot_zone_ctx_t *
ngx_iot_lock_read(ngx_cycle_t *cycle)
{
    ngx_pid_t            pid;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_zone_ctx(cycle);

    pid = ctx->sh->pending.pid;

    if (pid && pid != ngx_pid && kill(pid, 0) == -1
        && ngx_errno == NGX_ESRCH)
    {
        /* a writer died half way: repair before reading */
        ngx_iot_unlock(ngx_iot_lock(cycle, cycle->log));
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    return ctx;
}


void
ngx_iot_unlock_read(ngx_iot_zone_ctx_t *ctx)
{
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


void
ngx_iot_pending_set(ngx_iot_zone_ctx_t *ctx, ngx_iot_pending_e kind,
    uint64_t id, u_char *hash, void *a0, void *a1)
{
    ngx_iot_pending_t  *p;

    p = &ctx->sh->pending;

    p->kind = kind;
    p->id = id;

    if (hash) {
        ngx_memcpy(p->hash, hash, NGX_IOT_HASH_LEN);
    }

    p->alloc[0] = a0;
    p->alloc[1] = a1;
    p->pid = ngx_pid;
}


void
ngx_iot_pending_clear(ngx_iot_zone_ctx_t *ctx)
{
    ngx_memzero(&ctx->sh->pending, sizeof(ngx_iot_pending_t));
}


static void
ngx_iot_device_reload(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    uint64_t id, void **alloc)
{
    ngx_uint_t            i;
    ngx_iot_device_t     *d;
    ngx_iot_store_key_t   key;

    d = ngx_iot_device_find(ctx, id);

    for (i = 0; i < 2; i++) {
        if (alloc[i] && (d == NULL
                         || (alloc[i] != d && alloc[i] != d->tags.data)))
        {
            ngx_slab_free_locked(ctx->shpool, alloc[i]);
        }
    }

    if (d) {
        ngx_iot_device_drop(ctx, d);
    }

    key.id = id;
    key.data = NULL;
    key.len = 0;

    (void) ngx_iot_store_find(store, NGX_IOT_STORE_DEVICES, &key,
                              ngx_iot_device_loaded, ctx, ngx_cycle->log);
}


/*
 * A worker died between a write's SQLite statement and the end of its
 * shared memory update: throw away what the zone holds of that entity and
 * load it again from the store, which has it as it was committed (or not).
 */

static void
ngx_iot_repair(ngx_iot_zone_ctx_t *ctx, ngx_cycle_t *cycle, ngx_log_t *log)
{
    ngx_uint_t             i, n;
    ngx_iot_store_t       *store;
    ngx_iot_pending_t     *p;
    ngx_iot_token_t       *t;
    ngx_iot_collection_t  *c;
    ngx_iot_store_key_t    key;

    p = &ctx->sh->pending;

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "iot zone \"%V\": process %P died during a write, "
                  "reloading that entity from the store",
                  &ctx->name, p->pid);

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        /* leave it for a process that can read the store */
        return;
    }

    key.id = p->id;
    key.data = p->hash;
    key.len = NGX_IOT_HASH_LEN;

    switch (p->kind) {

    case NGX_IOT_PENDING_COLLECTION:
        c = ngx_iot_collection_find(ctx, p->id);

        for (i = 0; i < 2; i++) {
            if (p->alloc[i] && (c == NULL
                                || (p->alloc[i] != c
                                    && p->alloc[i] != c->tags.data)))
            {
                ngx_slab_free_locked(ctx->shpool, p->alloc[i]);
            }
        }

        if (c) {
            ngx_iot_collection_drop(ctx, c);
        }

        (void) ngx_iot_store_find(store, NGX_IOT_STORE_COLLECTIONS, &key,
                                  ngx_iot_collection_loaded, ctx, log);

        c = ngx_iot_collection_find(ctx, p->id);

        if (c && ngx_iot_store_count(store, NGX_IOT_STORE_DEVICES, p->id, &n,
                                     log)
                 == NGX_OK)
        {
            c->ndevices = (uint32_t) n;
        }

        break;

    case NGX_IOT_PENDING_DEVICE:
        ngx_iot_device_reload(ctx, store, p->id, p->alloc);
        break;

    case NGX_IOT_PENDING_TOKEN:
        t = ngx_iot_token_find(ctx, p->hash);

        for (i = 0; i < 2; i++) {
            if (p->alloc[i] && (t == NULL
                                || (p->alloc[i] != t
                                    && p->alloc[i] != t->tags.data
                                    && p->alloc[i] != t->resource.data)))
            {
                ngx_slab_free_locked(ctx->shpool, p->alloc[i]);
            }
        }

        if (t) {
            ngx_iot_token_drop(ctx, t);
        }

        (void) ngx_iot_store_find(store, NGX_IOT_STORE_TOKENS, &key,
                                  ngx_iot_token_loaded, ctx, log);
        break;

    case NGX_IOT_PENDING_SESSION:
        ngx_iot_session_repair(ctx, store, p);

        if (p->id2) {
            p->alloc[0] = NULL;
            p->alloc[1] = NULL;
            ngx_iot_device_reload(ctx, store, p->id2, p->alloc);
        }

        break;

    default:
        break;
    }

    ngx_iot_pending_clear(ctx);
}


/* memory */

static ngx_int_t
ngx_iot_text_alloc(ngx_slab_pool_t *shpool, ngx_str_t *src,
    ngx_iot_text_t *dst)
{
    if (src->len == 0 || (src->len == 2 && src->data[0] == '{')) {
        dst->data = NULL;
        dst->len = 0;
        return NGX_OK;
    }

    dst->data = ngx_slab_alloc_locked(shpool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->len = (uint32_t) src->len;

    return NGX_OK;
}


static void
ngx_iot_text_free(ngx_slab_pool_t *shpool, ngx_iot_text_t *t)
{
    if (t->data) {
        ngx_slab_free_locked(shpool, t->data);
        t->data = NULL;
        t->len = 0;
    }
}


static ngx_int_t
ngx_iot_text_copy(ngx_pool_t *pool, ngx_iot_text_t *src, ngx_iot_text_t *dst)
{
    dst->len = src->len;

    if (src->len == 0) {
        dst->data = NULL;
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return NGX_OK;
}


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


/* the store works while readers go on; the writer mutex keeps writers out */

static ngx_int_t
ngx_iot_delete_row(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_iot_store_kind_e kind, uint64_t id, u_char *hash, ngx_log_t *log)
{
    ngx_int_t            rc;
    ngx_iot_store_key_t  key;

    key.id = id;
    key.data = hash;
    key.len = hash ? NGX_IOT_HASH_LEN : 0;

    ngx_iot_zone_unlock(ctx);
    rc = ngx_iot_store_delete(store, kind, &key, log);
    ngx_iot_zone_lock(ctx);

    return rc;
}


/* loading rows into the zone: at start and in repair */

static ngx_int_t
ngx_iot_collection_load(ngx_iot_zone_ctx_t *ctx, ngx_iot_collection_t *row)
{
    ngx_str_t              tags;
    ngx_iot_collection_t  *c;

    c = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_iot_collection_t));
    if (c == NULL) {
        return NGX_ERROR;
    }

    *c = *row;
    c->ndevices = 0;

    tags.data = row->tags.data;
    tags.len = row->tags.len;

    if (ngx_iot_text_alloc(ctx->shpool, &tags, &c->tags) != NGX_OK) {
        ngx_slab_free_locked(ctx->shpool, c);
        return NGX_ERROR;
    }

    ngx_iot_index_insert(ctx->shpool, &ctx->sh->collections, &c->id);

    return NGX_OK;
}


static ngx_int_t
ngx_iot_device_load(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *row)
{
    ngx_str_t              tags;
    ngx_iot_device_t      *d;
    ngx_iot_collection_t  *c;

    d = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_iot_device_t));
    if (d == NULL) {
        return NGX_ERROR;
    }

    *d = *row;

    tags.data = row->tags.data;
    tags.len = row->tags.len;

    if (ngx_iot_text_alloc(ctx->shpool, &tags, &d->tags) != NGX_OK) {
        ngx_slab_free_locked(ctx->shpool, d);
        return NGX_ERROR;
    }

    ngx_iot_index_insert(ctx->shpool, &ctx->sh->devices, &d->id);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->imsi, &d->imsi);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->imei, &d->imei);

    c = ngx_iot_collection_find(ctx, d->collection_id);
    if (c) {
        c->ndevices++;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iot_token_load(ngx_iot_zone_ctx_t *ctx, ngx_iot_token_t *row)
{
    ngx_str_t         s;
    ngx_iot_token_t  *t;

    t = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_iot_token_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    *t = *row;

    s.data = row->tags.data;
    s.len = row->tags.len;

    if (ngx_iot_text_alloc(ctx->shpool, &s, &t->tags) != NGX_OK) {
        ngx_slab_free_locked(ctx->shpool, t);
        return NGX_ERROR;
    }

    t->resource.data = ngx_slab_alloc_locked(ctx->shpool,
                                             row->resource.len + 1);
    if (t->resource.data == NULL) {
        ngx_iot_text_free(ctx->shpool, &t->tags);
        ngx_slab_free_locked(ctx->shpool, t);
        return NGX_ERROR;
    }

    ngx_memcpy(t->resource.data, row->resource.data, row->resource.len);

    ngx_iot_index_insert(ctx->shpool, &ctx->sh->tokens, &t->id);

    return NGX_OK;
}


static void
ngx_iot_collection_drop(ngx_iot_zone_ctx_t *ctx, ngx_iot_collection_t *c)
{
    ngx_iot_index_remove(&ctx->sh->collections, &c->id);
    ngx_iot_text_free(ctx->shpool, &c->tags);
    ngx_slab_free_locked(ctx->shpool, c);
}


static void
ngx_iot_device_drop(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *d)
{
    ngx_iot_collection_t  *c;

    ngx_iot_index_remove(&ctx->sh->devices, &d->id);
    ngx_iot_index_remove(&ctx->sh->imsi, &d->imsi);
    ngx_iot_index_remove(&ctx->sh->imei, &d->imei);

    c = ngx_iot_collection_find(ctx, d->collection_id);
    if (c && c->ndevices) {
        c->ndevices--;
    }

    ngx_iot_text_free(ctx->shpool, &d->tags);
    ngx_slab_free_locked(ctx->shpool, d);
}


static void
ngx_iot_token_drop(ngx_iot_zone_ctx_t *ctx, ngx_iot_token_t *t)
{
    ngx_iot_index_remove(&ctx->sh->tokens, &t->id);
    ngx_iot_text_free(ctx->shpool, &t->tags);
    ngx_slab_free_locked(ctx->shpool, t->resource.data);
    ngx_slab_free_locked(ctx->shpool, t);
}


static ngx_iot_collection_t *
ngx_iot_collection_find(ngx_iot_zone_ctx_t *ctx, uint64_t id)
{
    ngx_iot_link_t  *link;

    link = ngx_iot_index_find(&ctx->sh->collections, id);

    return link ? ngx_iot_container(link, ngx_iot_collection_t, id) : NULL;
}


ngx_iot_device_t *
ngx_iot_device_find(ngx_iot_zone_ctx_t *ctx, uint64_t id)
{
    ngx_iot_link_t  *link;

    link = ngx_iot_index_find(&ctx->sh->devices, id);

    return link ? ngx_iot_container(link, ngx_iot_device_t, id) : NULL;
}


static ngx_iot_token_t *
ngx_iot_token_find(ngx_iot_zone_ctx_t *ctx, u_char *hash)
{
    uint64_t          key;
    ngx_iot_link_t   *link;
    ngx_iot_token_t  *t;

    ngx_memcpy(&key, hash, sizeof(uint64_t));

    /* the index is keyed by the hash's first 8 bytes: compare them all */

    for (link = ngx_iot_index_find(&ctx->sh->tokens, key);
         link;
         link = link->next)
    {
        if (link->key != key) {
            continue;
        }

        t = ngx_iot_container(link, ngx_iot_token_t, id);

        if (ngx_memcmp(t->hash, hash, NGX_IOT_HASH_LEN) == 0) {
            return t;
        }
    }

    return NULL;
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

    if (c == NULL) {
        rc = NGX_IOT_NOT_FOUND;

    } else {
        *out = *c;
        rc = (ngx_iot_text_copy(pool, &c->tags, &out->tags) == NGX_OK)
             ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;
    }

    ngx_iot_unlock_read(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_collection_create(ngx_cycle_t *cycle, ngx_iot_collection_change_t *ch,
    ngx_pool_t *pool, ngx_iot_collection_t *out, ngx_log_t *log)
{
    uint64_t               id;
    ngx_str_t              tags;
    ngx_iot_rc_e           rc;
    ngx_int_t           src;
    ngx_iot_text_t         none;
    ngx_iot_store_t       *store;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;
    ngx_iot_collection_t row;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ngx_memzero(&none, sizeof(ngx_iot_text_t));

    rc = ngx_iot_tags_new(&none, ch->tags, pool, &tags);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        rc = NGX_IOT_RETIRED;
        goto done;
    }

    c = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_iot_collection_t));
    if (c == NULL) {
        rc = ngx_iot_zone_full(ctx, "add a collection", log);
        goto done;
    }

    ngx_memzero(c, sizeof(ngx_iot_collection_t));

    if (ngx_iot_text_alloc(ctx->shpool, &tags, &c->tags) != NGX_OK) {
        ngx_slab_free_locked(ctx->shpool, c);
        rc = ngx_iot_zone_full(ctx, "add a collection", log);
        goto done;
    }

    do {
        id = ngx_iot_id_new();
    } while (ngx_iot_collection_find(ctx, id));

    c->id.key = id;
    c->team_id = ctx->sh->team_id;
    c->field_mask = ch->mask_value & ch->mask_set;

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_COLLECTION, id, NULL, c,
                        c->tags.data);

    row = *c;
    row.tags.data = tags.data;
    row.tags.len = (uint32_t) tags.len;

    ngx_iot_zone_unlock(ctx);
    src = ngx_iot_store_collection_put(store, &row, 1, log);
    ngx_iot_zone_lock(ctx);

    if (src != NGX_OK) {
        ngx_iot_text_free(ctx->shpool, &c->tags);
        ngx_slab_free_locked(ctx->shpool, c);
        ngx_iot_pending_clear(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    ngx_iot_index_insert(ctx->shpool, &ctx->sh->collections, &c->id);
    ngx_iot_pending_clear(ctx);

    *out = *c;
    rc = (ngx_iot_text_copy(pool, &c->tags, &out->tags) == NGX_OK)
         ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;

done:

    ngx_iot_unlock(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_collection_update(ngx_cycle_t *cycle, uint64_t id,
    ngx_iot_collection_change_t *ch, ngx_pool_t *pool,
    ngx_iot_collection_t *out, ngx_log_t *log)
{
    uint32_t               mask;
    ngx_str_t              tags;
    ngx_iot_rc_e           rc;
    ngx_int_t           src;
    ngx_iot_text_t         text;
    ngx_iot_store_t       *store;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;
    ngx_iot_collection_t row;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        rc = NGX_IOT_RETIRED;
        goto done;
    }

    c = ngx_iot_collection_find(ctx, id);
    if (c == NULL) {
        rc = NGX_IOT_NOT_FOUND;
        goto done;
    }

    rc = ngx_iot_tags_new(&c->tags, ch->tags, pool, &tags);
    if (rc != NGX_IOT_OK) {
        goto done;
    }

    text = c->tags;

    if (ch->tags) {
        if (ngx_iot_text_alloc(ctx->shpool, &tags, &text) != NGX_OK) {
            rc = ngx_iot_zone_full(ctx, "change a collection", log);
            goto done;
        }
    }

    mask = (c->field_mask & ~ch->mask_set) | (ch->mask_value & ch->mask_set);

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_COLLECTION, id, NULL,
                        ch->tags ? text.data : NULL, NULL);

    row = *c;
    row.field_mask = mask;
    row.tags.data = tags.data;
    row.tags.len = (uint32_t) tags.len;

    ngx_iot_zone_unlock(ctx);
    src = ngx_iot_store_collection_put(store, &row, 0, log);
    ngx_iot_zone_lock(ctx);

    if (src != NGX_OK) {
        if (ch->tags) {
            ngx_iot_text_free(ctx->shpool, &text);
        }

        ngx_iot_pending_clear(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    c->field_mask = mask;

    if (ch->tags) {
        ngx_iot_text_free(ctx->shpool, &c->tags);
        c->tags = text;
    }

    ngx_iot_pending_clear(ctx);

    *out = *c;
    rc = (ngx_iot_text_copy(pool, &c->tags, &out->tags) == NGX_OK)
         ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;

done:

    ngx_iot_unlock(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_collection_delete(ngx_cycle_t *cycle, uint64_t id, ngx_log_t *log)
{
    ngx_iot_rc_e           rc;
    ngx_iot_store_t       *store;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        rc = NGX_IOT_RETIRED;
        goto done;
    }

    c = ngx_iot_collection_find(ctx, id);
    if (c == NULL) {
        rc = NGX_IOT_NOT_FOUND;
        goto done;
    }

    if (c->ndevices) {
        rc = NGX_IOT_NOT_EMPTY;
        goto done;
    }

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_COLLECTION, id, NULL, NULL,
                        NULL);

    if (ngx_iot_delete_row(ctx, store, NGX_IOT_STORE_COLLECTIONS, id, NULL,
                           log)
        != NGX_OK)
    {
        ngx_iot_pending_clear(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    ngx_iot_collection_drop(ctx, c);
    ngx_iot_pending_clear(ctx);

    rc = NGX_IOT_OK;

done:

    ngx_iot_unlock(ctx);

    return rc;
}


/* devices */

ngx_iot_rc_e
ngx_iot_device_copy(ngx_iot_device_t *d, ngx_pool_t *pool,
    ngx_iot_device_t *out)
{
    *out = *d;

    return (ngx_iot_text_copy(pool, &d->tags, &out->tags) == NGX_OK)
           ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;
}


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


ngx_iot_rc_e
ngx_iot_device_create(ngx_cycle_t *cycle, ngx_iot_device_change_t *ch,
    ngx_pool_t *pool, ngx_iot_device_t *out, ngx_log_t *log)
{
    uint64_t               id;
    ngx_str_t              tags;
    ngx_iot_rc_e           rc;
    ngx_int_t           src;
    ngx_iot_text_t         none;
    ngx_iot_store_t       *store;
    ngx_iot_device_t      *d;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *c;
    ngx_iot_device_t    row;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ngx_memzero(&none, sizeof(ngx_iot_text_t));

    rc = ngx_iot_tags_new(&none, ch->tags, pool, &tags);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        rc = NGX_IOT_RETIRED;
        goto done;
    }

    c = ngx_iot_collection_find(ctx, ch->collection_id);
    if (c == NULL) {
        rc = NGX_IOT_COLLECTION_NOT_FOUND;
        goto done;
    }

    if (ngx_iot_index_find(&ctx->sh->imsi, ch->imsi)) {
        rc = NGX_IOT_CONFLICT_IMSI;
        goto done;
    }

    if (ngx_iot_index_find(&ctx->sh->imei, ch->imei)) {
        rc = NGX_IOT_CONFLICT_IMEI;
        goto done;
    }

    d = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_iot_device_t));
    if (d == NULL) {
        rc = ngx_iot_zone_full(ctx, "add a device", log);
        goto done;
    }

    ngx_memzero(d, sizeof(ngx_iot_device_t));

    if (ngx_iot_text_alloc(ctx->shpool, &tags, &d->tags) != NGX_OK) {
        ngx_slab_free_locked(ctx->shpool, d);
        rc = ngx_iot_zone_full(ctx, "add a device", log);
        goto done;
    }

    do {
        id = ngx_iot_id_new();
    } while (ngx_iot_device_find(ctx, id));

    d->id.key = id;
    d->imsi.key = ch->imsi;
    d->imei.key = ch->imei;
    d->collection_id = c->id.key;

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_DEVICE, id, NULL, d,
                        d->tags.data);

    row = *d;
    row.tags.data = tags.data;
    row.tags.len = (uint32_t) tags.len;

    ngx_iot_zone_unlock(ctx);
    src = ngx_iot_store_device_put(store, &row, 1, log);
    ngx_iot_zone_lock(ctx);

    if (src != NGX_OK) {
        ngx_iot_text_free(ctx->shpool, &d->tags);
        ngx_slab_free_locked(ctx->shpool, d);
        ngx_iot_pending_clear(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    ngx_iot_index_insert(ctx->shpool, &ctx->sh->devices, &d->id);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->imsi, &d->imsi);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->imei, &d->imei);
    c->ndevices++;

    ngx_iot_pending_clear(ctx);

    rc = ngx_iot_device_copy(d, pool, out);

done:

    ngx_iot_unlock(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_device_update(ngx_cycle_t *cycle, uint64_t id, uint64_t cid,
    ngx_iot_device_change_t *ch, ngx_pool_t *pool, ngx_iot_device_t *out,
    ngx_log_t *log)
{
    uint64_t               to, imsi, imei;
    ngx_str_t              tags;
    ngx_iot_rc_e           rc;
    ngx_int_t           src;
    ngx_iot_link_t        *link;
    ngx_iot_text_t         text;
    ngx_iot_store_t       *store;
    ngx_iot_device_t      *d;
    ngx_iot_zone_ctx_t    *ctx;
    ngx_iot_collection_t  *from, *target;
    ngx_iot_device_t    row;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        rc = NGX_IOT_RETIRED;
        goto done;
    }

    d = ngx_iot_device_find(ctx, id);
    if (d == NULL || d->collection_id != cid) {
        rc = NGX_IOT_NOT_FOUND;
        goto done;
    }

    to = ch->collection_id ? ch->collection_id : d->collection_id;
    imsi = ch->imsi ? ch->imsi : d->imsi.key;
    imei = ch->imei ? ch->imei : d->imei.key;

    from = ngx_iot_collection_find(ctx, d->collection_id);
    target = from;

    if (to != d->collection_id) {
        target = ngx_iot_collection_find(ctx, to);
        if (target == NULL) {
            rc = NGX_IOT_COLLECTION_NOT_FOUND;
            goto done;
        }
    }

    link = ngx_iot_index_find(&ctx->sh->imsi, imsi);
    if (link && link != &d->imsi) {
        rc = NGX_IOT_CONFLICT_IMSI;
        goto done;
    }

    link = ngx_iot_index_find(&ctx->sh->imei, imei);
    if (link && link != &d->imei) {
        rc = NGX_IOT_CONFLICT_IMEI;
        goto done;
    }

    rc = ngx_iot_tags_new(&d->tags, ch->tags, pool, &tags);
    if (rc != NGX_IOT_OK) {
        goto done;
    }

    text = d->tags;

    if (ch->tags) {
        if (ngx_iot_text_alloc(ctx->shpool, &tags, &text) != NGX_OK) {
            rc = ngx_iot_zone_full(ctx, "change a device", log);
            goto done;
        }
    }

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_DEVICE, id, NULL,
                        ch->tags ? text.data : NULL, NULL);

    row = *d;
    row.collection_id = to;
    row.imsi.key = imsi;
    row.imei.key = imei;
    row.tags.data = tags.data;
    row.tags.len = (uint32_t) tags.len;

    ngx_iot_zone_unlock(ctx);
    src = ngx_iot_store_device_put(store, &row, 0, log);
    ngx_iot_zone_lock(ctx);

    if (src != NGX_OK) {
        if (ch->tags) {
            ngx_iot_text_free(ctx->shpool, &text);
        }

        ngx_iot_pending_clear(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    if (imsi != d->imsi.key) {
        ngx_iot_index_remove(&ctx->sh->imsi, &d->imsi);
        d->imsi.key = imsi;
        ngx_iot_index_insert(ctx->shpool, &ctx->sh->imsi, &d->imsi);
    }

    if (imei != d->imei.key) {
        ngx_iot_index_remove(&ctx->sh->imei, &d->imei);
        d->imei.key = imei;
        ngx_iot_index_insert(ctx->shpool, &ctx->sh->imei, &d->imei);
    }

    if (target != from) {
        if (from && from->ndevices) {
            from->ndevices--;
        }

        target->ndevices++;
        d->collection_id = to;
    }

    if (ch->tags) {
        ngx_iot_text_free(ctx->shpool, &d->tags);
        d->tags = text;
    }

    ngx_iot_pending_clear(ctx);

    rc = ngx_iot_device_copy(d, pool, out);

done:

    ngx_iot_unlock(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_device_delete(ngx_cycle_t *cycle, uint64_t id, uint64_t cid,
    ngx_log_t *log)
{
    ngx_iot_rc_e         rc;
    ngx_iot_store_t     *store;
    ngx_iot_device_t    *d;
    ngx_iot_zone_ctx_t  *ctx;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        rc = NGX_IOT_RETIRED;
        goto done;
    }

    d = ngx_iot_device_find(ctx, id);
    if (d == NULL || d->collection_id != cid) {
        rc = NGX_IOT_NOT_FOUND;
        goto done;
    }

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_DEVICE, id, NULL, NULL, NULL);

    if (ngx_iot_delete_row(ctx, store, NGX_IOT_STORE_DEVICES, id, NULL, log)
        != NGX_OK)
    {
        ngx_iot_pending_clear(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    ngx_iot_device_drop(ctx, d);
    ngx_iot_pending_clear(ctx);

    rc = NGX_IOT_OK;

done:

    ngx_iot_unlock(ctx);

    return rc;
}


/* tokens */

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


static u_char *
ngx_iot_resource_alloc(ngx_slab_pool_t *shpool, ngx_str_t *resource)
{
    u_char  *p;

    p = ngx_slab_alloc_locked(shpool, resource->len + 1);

    if (p) {
        ngx_memcpy(p, resource->data, resource->len);
        p[resource->len] = '\0';
    }

    return p;
}


ngx_iot_rc_e
ngx_iot_token_create(ngx_cycle_t *cycle, ngx_iot_token_change_t *ch,
    ngx_pool_t *pool, ngx_iot_token_t *out, u_char *secret, ngx_log_t *log)
{
    u_char               raw[NGX_IOT_TOKEN_LEN / 2];
    ngx_str_t            tags;
    ngx_iot_rc_e         rc;
    ngx_int_t         src;
    ngx_iot_text_t       none;
    ngx_iot_store_t     *store;
    ngx_iot_token_t     *t;
    ngx_iot_zone_ctx_t  *ctx;
    ngx_iot_token_t   row;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ngx_memzero(&none, sizeof(ngx_iot_text_t));

    rc = ngx_iot_tags_new(&none, ch->tags, pool, &tags);
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    if (ngx_iot_random(raw, sizeof(raw)) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno, "getrandom() failed");
        return NGX_IOT_STORE_ERROR;
    }

    ngx_hex_dump(secret, raw, sizeof(raw));
    ngx_explicit_memzero(raw, sizeof(raw));

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        rc = NGX_IOT_RETIRED;
        goto done;
    }

    t = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_iot_token_t));
    if (t == NULL) {
        rc = ngx_iot_zone_full(ctx, "add a token", log);
        goto done;
    }

    ngx_memzero(t, sizeof(ngx_iot_token_t));

    t->resource.data = ngx_iot_resource_alloc(ctx->shpool, &ch->resource);

    if (t->resource.data == NULL
        || ngx_iot_text_alloc(ctx->shpool, &tags, &t->tags) != NGX_OK)
    {
        if (t->resource.data) {
            ngx_slab_free_locked(ctx->shpool, t->resource.data);
        }

        ngx_slab_free_locked(ctx->shpool, t);
        rc = ngx_iot_zone_full(ctx, "add a token", log);
        goto done;
    }

    t->resource.len = ch->resource.len;
    t->write = (ch->write == 1);

    ngx_iot_token_hash(secret, NGX_IOT_TOKEN_LEN, t->hash);
    ngx_memcpy(&t->id.key, t->hash, sizeof(uint64_t));
    ngx_memcpy(t->hint, secret, NGX_IOT_TOKEN_HINT_LEN);

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_TOKEN, 0, t->hash, t,
                        t->tags.data);

    row = *t;
    row.tags.data = tags.data;
    row.tags.len = (uint32_t) tags.len;

    ngx_iot_zone_unlock(ctx);
    src = ngx_iot_store_token_put(store, &row, 1, log);
    ngx_iot_zone_lock(ctx);

    if (src != NGX_OK) {
        /* the public prefix may, very rarely, be taken: the caller retries */
        ngx_iot_text_free(ctx->shpool, &t->tags);
        ngx_slab_free_locked(ctx->shpool, t->resource.data);
        ngx_slab_free_locked(ctx->shpool, t);
        ngx_iot_pending_clear(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    ngx_iot_index_insert(ctx->shpool, &ctx->sh->tokens, &t->id);
    ngx_iot_pending_clear(ctx);

    rc = ngx_iot_token_copy(t, pool, out);

done:

    ngx_iot_unlock(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_token_update(ngx_cycle_t *cycle, u_char *hash,
    ngx_iot_token_change_t *ch, ngx_pool_t *pool, ngx_iot_token_t *out,
    ngx_log_t *log)
{
    u_char              *resource;
    ngx_str_t            tags, res;
    ngx_uint_t           write;
    ngx_iot_rc_e         rc;
    ngx_int_t         src;
    ngx_iot_text_t       text;
    ngx_iot_store_t     *store;
    ngx_iot_token_t     *t;
    ngx_iot_zone_ctx_t  *ctx;
    ngx_iot_token_t   row;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        rc = NGX_IOT_RETIRED;
        goto done;
    }

    t = ngx_iot_token_find(ctx, hash);
    if (t == NULL) {
        rc = NGX_IOT_NOT_FOUND;
        goto done;
    }

    rc = ngx_iot_tags_new(&t->tags, ch->tags, pool, &tags);
    if (rc != NGX_IOT_OK) {
        goto done;
    }

    text = t->tags;
    resource = t->resource.data;

    if (ch->tags) {
        if (ngx_iot_text_alloc(ctx->shpool, &tags, &text) != NGX_OK) {
            rc = ngx_iot_zone_full(ctx, "change a token", log);
            goto done;
        }
    }

    if (ch->resource.len) {
        resource = ngx_iot_resource_alloc(ctx->shpool, &ch->resource);
        if (resource == NULL) {
            if (ch->tags) {
                ngx_iot_text_free(ctx->shpool, &text);
            }

            rc = ngx_iot_zone_full(ctx, "change a token", log);
            goto done;
        }

        res = ch->resource;

    } else {
        res.data = t->resource.data;
        res.len = t->resource.len;
    }

    write = (ch->write == -1) ? t->write : (ngx_uint_t) ch->write;

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_TOKEN, 0, hash,
                        ch->tags ? text.data : NULL,
                        ch->resource.len ? resource : NULL);

    row = *t;
    row.resource.data = res.data;
    row.resource.len = (uint32_t) res.len;
    row.write = write;
    row.tags.data = tags.data;
    row.tags.len = (uint32_t) tags.len;

    ngx_iot_zone_unlock(ctx);
    src = ngx_iot_store_token_put(store, &row, 0, log);
    ngx_iot_zone_lock(ctx);

    if (src != NGX_OK) {
        if (ch->tags) {
            ngx_iot_text_free(ctx->shpool, &text);
        }

        if (ch->resource.len) {
            ngx_slab_free_locked(ctx->shpool, resource);
        }

        ngx_iot_pending_clear(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    if (ch->tags) {
        ngx_iot_text_free(ctx->shpool, &t->tags);
        t->tags = text;
    }

    if (ch->resource.len) {
        ngx_slab_free_locked(ctx->shpool, t->resource.data);
        t->resource.data = resource;
        t->resource.len = (uint32_t) ch->resource.len;
    }

    t->write = write;

    ngx_iot_pending_clear(ctx);

    rc = ngx_iot_token_copy(t, pool, out);

done:

    ngx_iot_unlock(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_token_delete(ngx_cycle_t *cycle, u_char *hash, ngx_log_t *log)
{
    ngx_iot_rc_e         rc;
    ngx_iot_store_t     *store;
    ngx_iot_token_t     *t;
    ngx_iot_zone_ctx_t  *ctx;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ctx = ngx_iot_lock(cycle, log);

    if (ctx->sh->retired) {
        rc = NGX_IOT_RETIRED;
        goto done;
    }

    t = ngx_iot_token_find(ctx, hash);
    if (t == NULL) {
        rc = NGX_IOT_NOT_FOUND;
        goto done;
    }

    ngx_iot_pending_set(ctx, NGX_IOT_PENDING_TOKEN, 0, hash, NULL, NULL);

    if (ngx_iot_delete_row(ctx, store, NGX_IOT_STORE_TOKENS, 0, hash, log)
        != NGX_OK)
    {
        ngx_iot_pending_clear(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    ngx_iot_token_drop(ctx, t);
    ngx_iot_pending_clear(ctx);

    rc = NGX_IOT_OK;

done:

    ngx_iot_unlock(ctx);

    return rc;
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

    return rc;
}
