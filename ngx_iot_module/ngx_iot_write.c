
/*
 * Copyright (C) nginx-iot authors
 *
 * The one write sequence of the registry (ngx_iot_write.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_journal.h"
#include "ngx_iot_write.h"


static ngx_int_t ngx_iot_write_step(ngx_iot_write_t *w, ngx_uint_t batch);


#if (NGX_THREADS)

/* a worker's posted writes; the batch belongs to the thread while it runs */
struct ngx_iot_writer_s {
    ngx_cycle_t               *cycle;
    ngx_iot_conf_t            *conf;
    ngx_queue_t                waiting;
    ngx_queue_t                batch;
    ngx_thread_task_t         *task;
    ngx_iot_store_t           *store;     /* the thread's connection */
    ngx_event_t                keep;      /* an exiting worker waits */
    unsigned                   busy:1;
};


static void ngx_iot_writer_run(ngx_iot_writer_t *wr);
static void ngx_iot_writer_thread(void *data, ngx_log_t *log);
static void ngx_iot_writer_batch(ngx_iot_writer_t *wr,
    ngx_iot_zone_ctx_t *ctx, ngx_log_t *log);
static void ngx_iot_writer_answer(ngx_iot_writer_t *wr, ngx_iot_rc_e rc);
static void ngx_iot_writer_done(ngx_event_t *ev);
static void ngx_iot_writer_keep(ngx_event_t *ev);

#endif


ngx_iot_rc_e
ngx_iot_write(ngx_cycle_t *cycle, ngx_iot_write_t *w)
{
    ngx_iot_rc_e         rc;
    ngx_iot_zone_ctx_t  *ctx;

    w->store = ngx_iot_store_get(cycle, w->log);
    if (w->store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ctx = ngx_iot_lock_write(cycle, NULL, w->log, &rc);
    if (ctx == NULL) {
        return rc;
    }

    w->ctx = ctx;

    ngx_iot_journal_begin(ctx);
    (void) ngx_iot_write_step(w, 0);
    ngx_iot_journal_end(ctx);

    /* readers go on while the writer keeps the store's log bounded */

    ngx_iot_zone_unlock(ctx);
    (void) ngx_iot_store_wal_restart(w->store, w->log);
    ngx_iot_writer_unlock(ctx);

    return w->rc;
}


/*
 * One write, under the writer's lock with the zone locked: check, the
 * store's part with the zone let go (in a savepoint of its batch's
 * transaction), apply.  The answer is in w->rc.  NGX_OK: the zone
 * changed; NGX_DECLINED: nothing changed; NGX_ABORT: the batch's
 * transaction is in no known state.
 */

static ngx_int_t
ngx_iot_write_step(ngx_iot_write_t *w, ngx_uint_t batch)
{
    ngx_int_t                src;
    ngx_uint_t               broken;
    ngx_iot_zone_ctx_t      *ctx;
    ngx_iot_journal_mark_t   mark;

    ctx = w->ctx;
    w->unchanged = 0;
    w->applied = 0;

    ngx_iot_journal_mark(ctx, &mark);

    w->rc = w->check(w);

    if (w->rc != NGX_IOT_OK || w->unchanged) {
        ngx_iot_journal_abort_to(ctx, &mark);
        return NGX_DECLINED;
    }

    /* the store first: readers see the zone as it was until it is done */

    ngx_iot_zone_unlock(ctx);

    /* a lone write is a transaction, a batch's write a savepoint in one */

    broken = 0;
    src = batch ? ngx_iot_store_write_begin(w->store, w->log)
                : ngx_iot_store_begin(w->store, w->log);

    if (src == NGX_OK) {
        src = w->write(w);

        if (batch) {
            if (ngx_iot_store_write_end(w->store, src == NGX_OK, w->log)
                != NGX_OK)
            {
                broken = 1;
            }

        } else if (src != NGX_OK
                   || ngx_iot_store_commit(w->store, w->log) != NGX_OK)
        {
            ngx_iot_store_rollback(w->store, w->log);
            src = NGX_ERROR;
        }
    }

    ngx_iot_zone_lock(ctx);

    if (src != NGX_OK || broken) {
        ngx_iot_journal_abort_to(ctx, &mark);
        w->rc = NGX_IOT_STORE_ERROR;
        return broken ? NGX_ABORT : NGX_DECLINED;
    }

    w->rc = w->apply(w);
    w->applied = 1;

    return NGX_OK;
}


ngx_iot_rc_e
ngx_iot_write_post(ngx_cycle_t *cycle, ngx_iot_write_t *w)
{
#if (NGX_THREADS)
    ngx_iot_conf_t    *icf;
    ngx_iot_writer_t  *wr;

    icf = ngx_iot_get_conf(cycle);
    wr = icf->writer;

    if (wr) {
        ngx_queue_insert_tail(&wr->waiting, &w->queue);

        if (!wr->busy) {
            ngx_iot_writer_run(wr);
        }

        return NGX_IOT_QUEUED;
    }
#endif

    return ngx_iot_write(cycle, w);
}


#if (NGX_THREADS)

ngx_int_t
ngx_iot_writer_init_process(ngx_cycle_t *cycle, ngx_iot_conf_t *icf)
{
    ngx_iot_writer_t  *wr;

    if (icf->thread_pool == NULL) {
        return NGX_OK;
    }

    wr = ngx_pcalloc(cycle->pool, sizeof(ngx_iot_writer_t));
    if (wr == NULL) {
        return NGX_ERROR;
    }

    wr->task = ngx_thread_task_alloc(cycle->pool, 0);
    if (wr->task == NULL) {
        return NGX_ERROR;
    }

    wr->cycle = cycle;
    wr->conf = icf;
    ngx_queue_init(&wr->waiting);
    ngx_queue_init(&wr->batch);

    wr->task->ctx = wr;
    wr->task->handler = ngx_iot_writer_thread;
    wr->task->event.handler = ngx_iot_writer_done;
    wr->task->event.data = wr;
    wr->task->event.log = cycle->log;

    /* a timer that is not cancelable: a worker exits after its batch */
    wr->keep.handler = ngx_iot_writer_keep;
    wr->keep.data = wr;
    wr->keep.log = cycle->log;

    icf->writer = wr;

    return NGX_OK;
}


/* the thread pool's threads have finished by now (it exits first) */

void
ngx_iot_writer_exit_process(ngx_iot_conf_t *icf)
{
    if (icf->writer && icf->writer->store) {
        ngx_iot_store_close(icf->writer->store);
        icf->writer->store = NULL;
    }

    icf->writer = NULL;
}


/* the next batch: what waits, up to what the crash journal can name */

static void
ngx_iot_writer_run(ngx_iot_writer_t *wr)
{
    ngx_uint_t    n;
    ngx_queue_t  *q;

    for (n = 0; n < NGX_IOT_WRITE_BATCH && !ngx_queue_empty(&wr->waiting);
         n++)
    {
        q = ngx_queue_head(&wr->waiting);
        ngx_queue_remove(q);
        ngx_queue_insert_tail(&wr->batch, q);
    }

    if (n == 0) {
        return;
    }

    wr->busy = 1;

    if (!wr->keep.timer_set) {
        ngx_add_timer(&wr->keep, 60000);
    }

    if (ngx_thread_task_post(wr->conf->thread_pool, wr->task) != NGX_OK) {
        /* the pool's queue is full: answered on the event loop, soon */
        ngx_iot_writer_answer(wr, NGX_IOT_STORE_ERROR);
        ngx_post_event(&wr->task->event, &ngx_posted_events);
    }
}


/* in a thread: the whole write sequence for the batch */

static void
ngx_iot_writer_thread(void *data, ngx_log_t *log)
{
    ngx_iot_writer_t  *wr = data;

    ngx_iot_rc_e         rc;
    ngx_iot_zone_ctx_t  *ctx;

    if (wr->store == NULL) {
        wr->store = ngx_iot_store_open(&wr->conf->store_path, wr->conf->sync,
                                       log);
        if (wr->store == NULL) {
            ngx_iot_writer_answer(wr, NGX_IOT_STORE_ERROR);
            return;
        }

        ngx_iot_store_watch(wr->store,
                            &ngx_iot_zone_ctx(wr->cycle)->sh->store_fault,
                            log);
    }

    ctx = ngx_iot_lock_write(wr->cycle, wr->store, log, &rc);
    if (ctx == NULL) {
        ngx_iot_writer_answer(wr, rc);
        return;
    }

    ngx_iot_writer_batch(wr, ctx, log);

    /* readers go on while the writer keeps the store's log bounded */

    ngx_iot_zone_unlock(ctx);
    (void) ngx_iot_store_wal_restart(wr->store, log);
    ngx_iot_writer_unlock(ctx);
}


/*
 * Under the writer's lock, the zone locked: each write is checked, written
 * in a savepoint and applied to the zone in turn, so that each sees the
 * ones before it as a lone write would; then one commit.  A batch that
 * does not commit is undone in the zone from the store.
 */

static void
ngx_iot_writer_batch(ngx_iot_writer_t *wr, ngx_iot_zone_ctx_t *ctx,
    ngx_log_t *log)
{
    ngx_int_t         rc;
    ngx_uint_t        applied, broken, committed;
    ngx_queue_t      *q;
    ngx_iot_write_t  *w;

    ngx_iot_journal_begin(ctx);

    /* another process may hold the store's lock: readers go on meanwhile */

    ngx_iot_zone_unlock(ctx);
    rc = ngx_iot_store_begin(wr->store, log);
    ngx_iot_zone_lock(ctx);

    if (rc != NGX_OK) {
        ngx_iot_journal_abort(ctx);
        ngx_iot_writer_answer(wr, NGX_IOT_STORE_ERROR);
        return;
    }

    applied = 0;
    broken = 0;

    for (q = ngx_queue_head(&wr->batch);
         q != ngx_queue_sentinel(&wr->batch);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_iot_write_t, queue);

        w->ctx = ctx;
        w->store = wr->store;

        if (broken) {
            /* the transaction is in no known state: none commits */
            w->applied = 0;
            w->rc = NGX_IOT_STORE_ERROR;
            continue;
        }

        switch (ngx_iot_write_step(w, 1)) {

        case NGX_OK:
            applied++;
            break;

        case NGX_ABORT:
            broken = 1;
            break;

        default:
            break;
        }
    }

    /* readers go on while the batch commits (and the disk syncs) */

    ngx_iot_zone_unlock(ctx);

    committed = (!broken && ngx_iot_store_commit(wr->store, log) == NGX_OK);

    if (!committed) {
        ngx_iot_store_rollback(wr->store, log);
    }

    ngx_iot_zone_lock(ctx);

    if (committed) {
        ngx_iot_journal_end(ctx);
        return;
    }

    if (applied) {
        ngx_iot_journal_undo(ctx, wr->store, log);
    } else {
        ngx_iot_journal_abort(ctx);
    }

    for (q = ngx_queue_head(&wr->batch);
         q != ngx_queue_sentinel(&wr->batch);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_iot_write_t, queue);

        if (w->applied) {
            w->rc = NGX_IOT_STORE_ERROR;
        }
    }
}


static void
ngx_iot_writer_answer(ngx_iot_writer_t *wr, ngx_iot_rc_e rc)
{
    ngx_queue_t      *q;
    ngx_iot_write_t  *w;

    for (q = ngx_queue_head(&wr->batch);
         q != ngx_queue_sentinel(&wr->batch);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_iot_write_t, queue);
        w->rc = rc;
    }
}


/* back on the event loop: every write of the batch is answered */

static void
ngx_iot_writer_done(ngx_event_t *ev)
{
    ngx_iot_writer_t  *wr = ev->data;

    ngx_queue_t       done, *q;
    ngx_iot_write_t  *w;

    ngx_queue_init(&done);

    if (!ngx_queue_empty(&wr->batch)) {
        ngx_queue_add(&done, &wr->batch);
        ngx_queue_init(&wr->batch);
    }

    wr->busy = 0;

    if (ngx_queue_empty(&wr->waiting)) {
        if (wr->keep.timer_set) {
            ngx_del_timer(&wr->keep);
        }

    } else {
        ngx_iot_writer_run(wr);
    }

    while (!ngx_queue_empty(&done)) {
        q = ngx_queue_head(&done);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_iot_write_t, queue);
        w->done(w);
    }
}


static void
ngx_iot_writer_keep(ngx_event_t *ev)
{
    ngx_iot_writer_t  *wr = ev->data;

    if (wr->busy) {
        ngx_add_timer(ev, 60000);
    }
}

#else

ngx_int_t
ngx_iot_writer_init_process(ngx_cycle_t *cycle, ngx_iot_conf_t *icf)
{
    return NGX_OK;
}


void
ngx_iot_writer_exit_process(ngx_iot_conf_t *icf)
{
}

#endif
