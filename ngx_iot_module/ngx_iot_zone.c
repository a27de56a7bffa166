
/*
 * Copyright (C) nginx-iot authors
 *
 * The shared memory zone of the registry: made and filled from the store
 * at start, and its locks.  SQLite holds the data of record; the zone
 * holds every entity and its indexes, so reads never touch SQLite and
 * every worker sees a write once it is answered.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_entities.h"
#include "ngx_iot_journal.h"


static void ngx_iot_registry_retire(ngx_cycle_t *old);
static ngx_uint_t ngx_iot_shmtx_orphaned(ngx_shmtx_t *mtx);
static void ngx_iot_shmtx_wait(ngx_shmtx_t *mtx);
static ngx_int_t ngx_iot_zone_lock_init(ngx_iot_zone_ctx_t *ctx,
    ngx_log_t *log);
static ngx_int_t ngx_iot_registry_load(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, ngx_log_t *log);
static ngx_iot_zone_ctx_t *ngx_iot_lock(ngx_cycle_t *cycle,
    ngx_iot_store_t *store, ngx_log_t *log);


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

    if (ngx_iot_zone_lock_init(ctx, shm_zone->shm.log) != NGX_OK) {
        return NGX_ERROR;
    }

    shpool->log_ctx = ngx_slab_alloc(shpool,
                                     sizeof(" in iot zone \"\"")
                                     + shm_zone->shm.name.len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in iot zone \"%V\"%Z",
                &shm_zone->shm.name);

    if (ngx_iot_journal_init(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

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
        rc = ngx_iot_store_team(store, &ctx->sh->team_id,
                                ctx->sh->team_uuid, shm_zone->shm.log);
    }

    if (rc == NGX_OK) {
        rc = ngx_iot_store_first_user(store, ctx->sh->team_id,
                                      &ctx->sh->user_id, shm_zone->shm.log);
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

    ngx_iot_zone_lock(octx);
    octx->sh->retired = 1;
    ngx_iot_zone_unlock(octx);
}


static ngx_int_t
ngx_iot_registry_load(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_log_t *log)
{
    ngx_int_t    rc;
    ngx_uint_t   n[NGX_IOT_ENTITY_LAST];
    ngx_msec_t   start, spent;

    ngx_time_update();
    start = ngx_current_msec;

    ngx_memzero(n, sizeof(n));

    rc = ngx_iot_entities_init(ctx, store, n, log);

    if (rc == NGX_OK) {
        rc = ngx_iot_entities_load(ctx, store, log);
    }

    if (rc == NGX_ERROR) {
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
                  &ctx->name, n[NGX_IOT_ENTITY_DEVICE],
                  n[NGX_IOT_ENTITY_COLLECTION], n[NGX_IOT_ENTITY_TOKEN],
                  &ctx->conf->store_path);
    return NGX_ERROR;

failed:

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "iot store \"%V\" cannot be read: %s",
                  &ctx->conf->store_path, ngx_iot_store_error(store));
    return NGX_ERROR;
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

    ngx_iot_zone_lock(ctx);
    pages = ctx->shpool->pfree;
    ngx_iot_zone_unlock(ctx);

    free = pages << ngx_pagesize_shift;

    return ngx_iot_zone_size(ctx) - free;
}


uint64_t
ngx_iot_team_id(ngx_cycle_t *cycle)
{
    /* set at start and never changed */
    return ngx_iot_zone_ctx(cycle)->sh->team_id;
}


uint64_t
ngx_iot_first_user(ngx_cycle_t *cycle)
{
    return ngx_iot_zone_ctx(cycle)->sh->user_id;
}


u_char *
ngx_iot_team_uuid(ngx_cycle_t *cycle)
{
    /* set at start and never changed */
    return ngx_iot_zone_ctx(cycle)->sh->team_uuid;
}


/* locking */

/*
 * Writers take the writer mutex, one at a time across all workers, and the
 * zone's mutex, which they let go while SQLite works: readers need only the
 * zone's mutex and so never wait for the disk.  nginx frees the zone's
 * mutex of a worker that died; every other lock of ours in the zone (the
 * writer mutex, the bus's) is taken with ngx_iot_shmtx_lock(), which frees
 * it itself when its holder is gone.
 */

/*
 * A waiter sleeps rather than yields once a short spin has not got the
 * lock: the registry's writer keeps it for a whole batch and its commit,
 * and a waiter that spun or yielded all that time would take the CPU from
 * the event loops (on two cores, the read latency of benchmark 2).  It
 * sleeps on the lock's semaphore, which nginx's ngx_shmtx_unlock() posts,
 * so that the lock passes to it as soon as it is let go (a waiter that
 * slept a fixed time left the lock idle up to a millisecond a turn, and
 * the two workers' batches then ran one after another with gaps).  It
 * wakes every NGX_IOT_SHMTX_CHECK ms all the same: a holder killed with
 * the lock never posts it.  The lock's value is its holder's pid.
 */

#define NGX_IOT_SHMTX_CHECK  10


void
ngx_iot_shmtx_lock(ngx_shmtx_t *mtx)
{
    ngx_uint_t  n, i;

    for (n = 0; /* void */ ; n++) {

        if (ngx_shmtx_trylock(mtx)) {
            return;
        }

        if (n < 4 && ngx_ncpu > 1) {
            for (i = 0; i < (ngx_uint_t) 64 << n; i++) {
                ngx_cpu_pause();
            }

            continue;
        }

        if (ngx_iot_shmtx_orphaned(mtx)) {
            continue;
        }

        ngx_iot_shmtx_wait(mtx);
    }
}


/* the lock's holder is gone: the lock is taken back */

static ngx_uint_t
ngx_iot_shmtx_orphaned(ngx_shmtx_t *mtx)
{
    ngx_pid_t  pid;

    pid = (ngx_pid_t) *mtx->lock;

    if (pid == 0 || kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH
        || !ngx_shmtx_force_unlock(mtx, pid))
    {
        return 0;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "iot zone: a lock held by process %P, which is gone, "
                  "was taken back", pid);

    return 1;
}


/*
 * Until the lock is let go, NGX_IOT_SHMTX_CHECK ms at most.  A waiter is
 * counted in mtx->wait as nginx's own ngx_shmtx_lock() counts it; one
 * that wakes without a post takes itself off the count unless the holder
 * did so already (its post then wakes a later waiter once for nothing,
 * which tries the lock and waits again).
 */

static void
ngx_iot_shmtx_wait(ngx_shmtx_t *mtx)
{
    struct timespec    ts;
#if (NGX_HAVE_POSIX_SEM)
    ngx_atomic_uint_t  wait;

    if (mtx->semaphore) {
        (void) ngx_atomic_fetch_add(mtx->wait, 1);

        if (*mtx->lock != 0 && clock_gettime(CLOCK_REALTIME, &ts) == 0) {
            ts.tv_nsec += NGX_IOT_SHMTX_CHECK * 1000000L;

            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }

            if (sem_timedwait(&mtx->sem, &ts) == 0) {
                return;
            }
        }

        do {
            wait = *mtx->wait;

        } while ((ngx_atomic_int_t) wait > 0
                 && !ngx_atomic_cmp_set(mtx->wait, wait, wait - 1));

        return;
    }
#endif

    /* no semaphores: a short sleep, then the lock is tried again */

    ts.tv_sec = 0;
    ts.tv_nsec = 100000L;

    (void) nanosleep(&ts, NULL);
}


static ngx_iot_zone_ctx_t *
ngx_iot_lock(ngx_cycle_t *cycle, ngx_iot_store_t *store, ngx_log_t *log)
{
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_zone_ctx(cycle);

    ngx_iot_shmtx_lock(&ctx->sh->writer);
    ngx_iot_zone_lock(ctx);

    if (ngx_iot_journal_orphaned(ctx, 1)) {
        ngx_iot_journal_repair(ctx, cycle, store, log);
    }

    return ctx;
}


/* NULL with *rc set when the zone takes no more writes */

ngx_iot_zone_ctx_t *
ngx_iot_lock_write(ngx_cycle_t *cycle, ngx_iot_store_t *store, ngx_log_t *log,
    ngx_iot_rc_e *rc)
{
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock(cycle, store, log);

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
    ngx_iot_zone_unlock(ctx);
    ngx_shmtx_unlock(&ctx->sh->writer);
}


void
ngx_iot_writer_unlock(ngx_iot_zone_ctx_t *ctx)
{
    ngx_shmtx_unlock(&ctx->sh->writer);
}


/*
 * The zone's lock is held for microseconds at a time, by the event loops
 * and by the store's writer threads.  It inherits priority (a robust,
 * process-shared PTHREAD_PRIO_INHERIT mutex): a writer thread in the
 * normal class that holds it while an event loop in the realtime class
 * (iot_event_loop_realtime) waits for it runs at the loop's priority until
 * it lets go, instead of waiting for a CPU behind everything else.  With
 * nginx's shmtx the loop spun for it for tens of microseconds and then
 * slept with the holder still off the CPU.  A holder that dies leaves it
 * to the next taker (EOWNERDEAD); the crash journal repairs the zone.
 */

static ngx_int_t
ngx_iot_zone_lock_init(ngx_iot_zone_ctx_t *ctx, ngx_log_t *log)
{
    int                  err;
    pthread_mutexattr_t  attr;

    err = pthread_mutexattr_init(&attr);
    if (err != 0) {
        ngx_log_error(NGX_LOG_EMERG, log, err,
                      "pthread_mutexattr_init() failed");
        return NGX_ERROR;
    }

    err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);

    if (err == 0) {
        err = pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
    }

    if (err == 0) {
        err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    }

    if (err == 0) {
        err = pthread_mutex_init(&ctx->sh->lock, &attr);
    }

    (void) pthread_mutexattr_destroy(&attr);

    if (err != 0) {
        ngx_log_error(NGX_LOG_EMERG, log, err,
                      "iot zone \"%V\": its lock cannot be made", &ctx->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_iot_zone_lock(ngx_iot_zone_ctx_t *ctx)
{
    int         err;
    ngx_uint_t  i, n;

    /*
     * A hold is short: a holder on another CPU lets go within the spin
     * (about 6 us), and one that is off the CPU is lent the waiter's
     * priority once the waiter asks the kernel.
     */

    err = pthread_mutex_trylock(&ctx->sh->lock);

    for (n = 1;
         err == EBUSY && ngx_ncpu > 1 && n < NGX_IOT_ZONE_SPIN;
         n <<= 1)
    {

        for (i = 0; i < n; i++) {
            ngx_cpu_pause();
        }

        err = pthread_mutex_trylock(&ctx->sh->lock);
    }

    if (err == EBUSY) {
        err = pthread_mutex_lock(&ctx->sh->lock);
    }

    if (err == 0) {
        return;
    }

    if (err == EOWNERDEAD) {
        /* what the holder left half done is in the crash journal */
        (void) pthread_mutex_consistent(&ctx->sh->lock);
        return;
    }

    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, err,
                  "iot zone \"%V\": its lock failed", &ctx->name);
}


/* a writer lets readers in while SQLite works */

void
ngx_iot_zone_unlock(ngx_iot_zone_ctx_t *ctx)
{
    (void) pthread_mutex_unlock(&ctx->sh->lock);
}


/*
 * How many read locks of the zone this thread holds: code that runs
 * under one (a scan's filter) and asks the registry again reads without
 * taking the lock a second time (ngx_iot_collection_team).
 */
static __thread ngx_uint_t  ngx_iot_zone_reading;


ngx_uint_t
ngx_iot_zone_read_held(void)
{
    return ngx_iot_zone_reading;
}


ngx_iot_zone_ctx_t *
ngx_iot_lock_read(ngx_cycle_t *cycle)
{
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_zone_ctx(cycle);

    if (ngx_iot_zone_reading++) {
        return ctx;
    }

    if (ngx_iot_journal_orphaned(ctx, 0)) {
        /* a writer died half way: repair before reading */
        ngx_iot_unlock(ngx_iot_lock(cycle, NULL, cycle->log));
    }

    ngx_iot_zone_lock(ctx);

    return ctx;
}


void
ngx_iot_unlock_read(ngx_iot_zone_ctx_t *ctx)
{
    if (--ngx_iot_zone_reading) {
        return;
    }

    ngx_iot_zone_unlock(ctx);
}
