
/*
 * Copyright (C) nginx-iot authors
 *
 * The history of uplink messages: a SQLite file of its own beside the
 * store ("<iot_store>-history"), so that history writes never hold up the
 * registry's.  A worker collects messages for a few milliseconds and a
 * thread writes them in one transaction, so the event loop never waits for
 * the disk.  A message that someone waits for (a confirmable CoAP uplink)
 * is written at once if the thread is idle, else with the next batch
 * right after the one being written (group commit): the wait is the
 * write, not the timer.  The same thread keeps the retention limits.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_history.h"
#include "ngx_iot_id.h"
#include "ngx_iot_registry.h"


#define NGX_IOT_HISTORY_FLUSH      10          /* ms */
#define NGX_IOT_HISTORY_ROWS       1024        /* flushed at once */
#define NGX_IOT_HISTORY_LIMIT      (16 * 1024 * 1024)
#define NGX_IOT_HISTORY_RETENTION  10          /* s between runs, at most */
#define NGX_IOT_HISTORY_TRIM       1           /* s, while messages come */
#define NGX_IOT_HISTORY_CHECKPOINT 4000        /* pages of the log */
#define NGX_IOT_HISTORY_CACHE      32768       /* KiB of the writer's pages */


#define ngx_iot_history_sh(h)                                                 \
    (((ngx_iot_zone_ctx_t *) (h)->conf->shm_zone->data)->sh)


/* a message waiting to be written, followed by its payload */
typedef struct {
    uint64_t                   collection_id;
    uint64_t                   device_id;
    uint64_t                   received;
    uint32_t                   transport;
    uint16_t                   local_port;
    uint16_t                   remote_port;
    uint32_t                   len;       /* payload */
    uint16_t                   method_len;    /* CoAP, after the payload */
    uint16_t                   path_len;      /* after the method */
    uint32_t                   size;      /* of the row, aligned */
} ngx_iot_history_row_t;


typedef struct {
    u_char                    *data;
    size_t                     used;
    size_t                     size;
    ngx_uint_t                 rows;
    ngx_iot_wait_t           **waits;     /* of messages in this batch */
    ngx_uint_t                 nwaits;
    ngx_uint_t                 waits_size;
    ngx_uint_t                 lost;      /* given up, by the writer */
} ngx_iot_history_batch_t;


struct ngx_iot_history_s {
    ngx_iot_conf_t            *conf;
    ngx_str_t                  path;
    ngx_iot_store_t           *reader;    /* queries, in the event loop */
    ngx_iot_store_t           *writer;    /* in the thread, one task */
    ngx_iot_history_batch_t    batch[2];
    ngx_uint_t                 filling;
    ngx_uint_t                 busy;
    ngx_uint_t                 dropped;
    ngx_uint_t                 failures;  /* of the batch being written */
    ngx_uint_t                 written;   /* since the last retention run */
    ngx_iot_history_peer_t    *me;        /* in the zone, or NULL */
    ngx_event_t                timer;
    ngx_event_t                commit;    /* posted: someone waits */
    ngx_event_t                retention;
    ngx_log_t                 *log;
#if (NGX_THREADS)
    ngx_thread_task_t         *task;
    ngx_event_t                keep;      /* an exiting worker waits */
#endif
};


static void ngx_iot_history_flush(ngx_event_t *ev);
static void ngx_iot_history_retention(ngx_event_t *ev);
static void ngx_iot_history_write(void *data, ngx_log_t *log);
static void ngx_iot_history_retain(ngx_iot_history_t *h, ngx_log_t *log);
static void ngx_iot_history_peer(ngx_iot_history_t *h);
static void ngx_iot_history_lost(ngx_iot_history_t *h, ngx_uint_t n);
static void ngx_iot_history_settle(ngx_iot_history_batch_t *b);
#if (NGX_THREADS)
static void ngx_iot_history_written(ngx_event_t *ev);
static void ngx_iot_history_keep(ngx_event_t *ev);
#endif


ngx_int_t
ngx_iot_history_path(ngx_pool_t *pool, ngx_str_t *store, ngx_str_t *path)
{
    u_char  *p;

    path->len = store->len + sizeof("-history") - 1;
    path->data = ngx_pnalloc(pool, path->len + 1);

    if (path->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(path->data, store->data, store->len);
    ngx_memcpy(p, "-history", sizeof("-history"));

    return NGX_OK;
}


ngx_int_t
ngx_iot_history_init_process(ngx_cycle_t *cycle, ngx_iot_conf_t *icf)
{
    ngx_iot_history_t  *h;

    h = ngx_pcalloc(cycle->pool, sizeof(ngx_iot_history_t));
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->conf = icf;
    h->log = cycle->log;
    h->path = icf->history_path;

    h->timer.handler = ngx_iot_history_flush;
    h->timer.data = h;
    h->timer.log = cycle->log;

    h->commit.handler = ngx_iot_history_flush;
    h->commit.data = h;
    h->commit.log = cycle->log;

    /* retention runs even when no message arrives */
    h->retention.handler = ngx_iot_history_retention;
    h->retention.data = h;
    h->retention.log = cycle->log;
    h->retention.cancelable = 1;

    ngx_add_timer(&h->retention, 1000);

#if (NGX_THREADS)
    /*
     * A timer that is not cancelable while a batch is being written: a
     * worker that is told to exit waits for it, and answers those who
     * wait for their messages to be stored (SenML, CoAP) before it goes.
     */
    h->keep.handler = ngx_iot_history_keep;
    h->keep.data = h;
    h->keep.log = cycle->log;

    h->task = ngx_thread_task_alloc(cycle->pool, 0);
    if (h->task == NULL) {
        return NGX_ERROR;
    }

    h->task->ctx = h;
    h->task->handler = ngx_iot_history_write;
    h->task->event.handler = ngx_iot_history_written;
    h->task->event.data = h;
    h->task->event.log = cycle->log;
#endif

    ngx_iot_history_peer(h);

    icf->history = h;

    return NGX_OK;
}


/*
 * A place among the workers for the count of this worker's messages that
 * are not in the history yet.  A worker that was killed left its count
 * behind: those messages were never recorded, and are counted so now.
 */

static void
ngx_iot_history_peer(ngx_iot_history_t *h)
{
    ngx_pid_t                pid;
    ngx_uint_t               i, n;
    ngx_iot_sh_t            *sh;
    ngx_iot_history_peer_t  *peer;

    sh = ngx_iot_history_sh(h);

    for (i = 0; i < NGX_IOT_HISTORY_PEERS; i++) {
        peer = &sh->history_peers[i];
        pid = (ngx_pid_t) peer->pid;

        if (pid == 0 || pid == ngx_pid
            || kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH)
        {
            continue;
        }

        n = peer->pending;

        if (!ngx_atomic_cmp_set(&peer->pid, (ngx_atomic_uint_t) pid, 0)) {
            continue;
        }

        peer->pending = 0;

        if (n) {
            (void) ngx_atomic_fetch_add(&sh->unrecorded, n);

            ngx_log_error(NGX_LOG_WARN, h->log, 0,
                          "iot history: %ui messages taken in by process "
                          "%P, which is gone, were not recorded", n, pid);
        }
    }

    for (i = 0; i < NGX_IOT_HISTORY_PEERS; i++) {
        peer = &sh->history_peers[i];

        if (ngx_atomic_cmp_set(&peer->pid, 0, (ngx_atomic_uint_t) ngx_pid)) {
            peer->pending = 0;
            h->me = peer;
            return;
        }
    }
}


/* n messages taken in will never be in the history */

static void
ngx_iot_history_lost(ngx_iot_history_t *h, ngx_uint_t n)
{
    if (n == 0) {
        return;
    }

    (void) ngx_atomic_fetch_add(&ngx_iot_history_sh(h)->unrecorded, n);

    if (h->me) {
        (void) ngx_atomic_fetch_add(&h->me->pending, -n);
    }
}


void
ngx_iot_history_exit_process(ngx_iot_history_t *h)
{
    ngx_uint_t  i;

    if (h == NULL) {
        return;
    }

    if (h->commit.posted) {
        ngx_delete_posted_event(&h->commit);
    }

    /*
     * nginx's thread pool, a static module, has let its threads finish
     * before this runs: a task that was under way is done, and what is
     * still collected is written here.
     */

    h->filling ^= 1;
    ngx_iot_history_write(h, h->log);
    h->filling ^= 1;
    ngx_iot_history_write(h, h->log);

    /* what could not be written now never will be */

    for (i = 0; i < 2; i++) {
        if (h->batch[i].rows) {
            ngx_log_error(NGX_LOG_ERR, h->log, 0,
                          "iot history: %ui messages could not be recorded "
                          "before the worker exited", h->batch[i].rows);
            ngx_iot_history_lost(h, h->batch[i].rows);
            h->batch[i].rows = 0;
        }
    }

    if (h->me) {
        h->me->pending = 0;
        (void) ngx_atomic_cmp_set(&h->me->pid, (ngx_atomic_uint_t) ngx_pid, 0);
        h->me = NULL;
    }

    if (h->reader) {
        ngx_iot_store_close(h->reader);
        h->reader = NULL;
    }

    if (h->writer) {
        ngx_iot_store_close(h->writer);
        h->writer = NULL;
    }

    for (i = 0; i < 2; i++) {
        if (h->batch[i].data) {
            ngx_free(h->batch[i].data);
            h->batch[i].data = NULL;
        }

        /* their callers go with this worker */
        if (h->batch[i].waits) {
            ngx_free(h->batch[i].waits);
            h->batch[i].waits = NULL;
            h->batch[i].nwaits = 0;
        }
    }
}


ngx_int_t
ngx_iot_history_add(ngx_cycle_t *cycle, ngx_iot_message_t *m, ngx_log_t *log)
{
    return ngx_iot_history_add_wait(cycle, m, NULL, log);
}


ngx_int_t
ngx_iot_history_add_wait(ngx_cycle_t *cycle, ngx_iot_message_t *m,
    ngx_iot_wait_t *wait, ngx_log_t *log)
{
    u_char                   *data, *p;
    ngx_iot_wait_t          **waits;
    size_t                    need, size, method, path;
    ngx_iot_conf_t           *icf;
    ngx_iot_history_t        *h;
    ngx_iot_history_row_t    *row;
    ngx_iot_history_batch_t  *b;

    icf = ngx_iot_get_conf(cycle);
    h = icf->history;

    if (h == NULL) {
        return NGX_ERROR;
    }

    b = &h->batch[h->filling];

    method = ngx_min(m->coap_method.len, 0xffff);
    path = ngx_min(m->coap_path.len, 0xffff);

    need = ngx_align(sizeof(ngx_iot_history_row_t) + m->payload.len
                     + method + path, 8);

    if (b->used + need > b->size) {
        size = ngx_max(b->size * 2, 65536);

        while (size < b->used + need) {
            size *= 2;
        }

        if (size > NGX_IOT_HISTORY_LIMIT) {
            /* the disk cannot keep up: say so rather than grow forever */
            if (h->dropped++ % 10000 == 0) {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              "iot history: writes fall behind, %ui "
                              "messages not recorded so far", h->dropped);
            }

            return NGX_ERROR;
        }

        data = ngx_alloc(size, log);
        if (data == NULL) {
            return NGX_ERROR;
        }

        if (b->data) {
            ngx_memcpy(data, b->data, b->used);
            ngx_free(b->data);
        }

        b->data = data;
        b->size = size;
    }

    if (wait && b->nwaits == b->waits_size) {
        size = ngx_max(b->waits_size * 2, 64);

        waits = ngx_alloc(size * sizeof(ngx_iot_wait_t *), log);
        if (waits == NULL) {
            return NGX_ERROR;
        }

        if (b->waits) {
            ngx_memcpy(waits, b->waits, b->nwaits * sizeof(ngx_iot_wait_t *));
            ngx_free(b->waits);
        }

        b->waits = waits;
        b->waits_size = size;
    }

    if (wait) {
        b->waits[b->nwaits++] = wait;
    }

    row = (ngx_iot_history_row_t *) (b->data + b->used);

    row->collection_id = m->collection_id;
    row->device_id = m->device_id;
    row->received = m->received;
    row->transport = (uint32_t) m->transport;
    row->local_port = (uint16_t) m->local_port;
    row->remote_port = (uint16_t) m->remote_port;
    row->len = (uint32_t) m->payload.len;
    row->method_len = (uint16_t) method;
    row->path_len = (uint16_t) path;
    row->size = (uint32_t) need;

    p = ngx_cpymem((u_char *) row + sizeof(ngx_iot_history_row_t),
                   m->payload.data, m->payload.len);
    p = ngx_cpymem(p, m->coap_method.data, method);
    (void) ngx_cpymem(p, m->coap_path.data, path);

    b->used += need;
    b->rows++;

    if (h->me) {
        (void) ngx_atomic_fetch_add(&h->me->pending, 1);
    }

    if (b->rows >= NGX_IOT_HISTORY_ROWS && !h->busy) {
        ngx_iot_history_flush(&h->timer);

    } else if (wait && !h->busy && h->failures == 0) {
        /* after this round of events: what else came in goes along */
        if (!h->commit.posted) {
            ngx_post_event(&h->commit, &ngx_posted_events);
        }

    } else if (!h->timer.timer_set) {
        ngx_add_timer(&h->timer, NGX_IOT_HISTORY_FLUSH);
    }

    return NGX_OK;
}


static void
ngx_iot_history_retention(ngx_event_t *ev)
{
    ngx_iot_history_t  *h = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, 1000);

    if (h->busy || h->batch[h->filling].rows) {
        /* a flush is on its way: it keeps the limits too */
        return;
    }

#if (NGX_THREADS)

    /* an empty batch: the task only keeps the limits */
    h->filling ^= 1;

    if (ngx_thread_task_post(h->conf->thread_pool, h->task) == NGX_OK) {
        h->busy = 1;
        return;
    }

    h->filling ^= 1;

#endif
}


static void
ngx_iot_history_flush(ngx_event_t *ev)
{
    ngx_iot_history_t  *h = ev->data;

    if (h->busy || h->batch[h->filling].rows == 0) {
        return;
    }

    if (h->timer.timer_set) {
        ngx_del_timer(&h->timer);
    }

    if (h->commit.posted) {
        ngx_delete_posted_event(&h->commit);
    }

    /* the batch goes to the writer; new messages go into the other one */
    h->filling ^= 1;

#if (NGX_THREADS)

    if (ngx_thread_task_post(h->conf->thread_pool, h->task) == NGX_OK) {
        h->busy = 1;

        if (!h->keep.timer_set) {
            ngx_add_timer(&h->keep, 60000);
        }

        return;
    }

#endif

    ngx_iot_history_write(h, ev->log);

    ngx_iot_history_settle(&h->batch[h->filling ^ 1]);
}


/*
 * On the event loop, once a batch was written: those who wait for its
 * messages hear that they are durable, or lost.  A batch kept for another
 * try keeps its waits.
 */

static void
ngx_iot_history_settle(ngx_iot_history_batch_t *b)
{
    ngx_uint_t       i, n;
    ngx_iot_rc_e     rc;
    ngx_iot_wait_t  *wait;

    if (b->rows && !b->lost) {
        return;
    }

    rc = b->lost ? NGX_IOT_STORE_ERROR : NGX_IOT_OK;
    b->lost = 0;

    n = b->nwaits;
    b->nwaits = 0;

    for (i = 0; i < n; i++) {
        wait = b->waits[i];
        wait->rc = rc;
        wait->handler(wait);
    }
}


#if (NGX_THREADS)

static void
ngx_iot_history_written(ngx_event_t *ev)
{
    ngx_iot_history_t  *h = ev->data;

    h->busy = 0;

    if (h->keep.timer_set) {
        ngx_del_timer(&h->keep);
    }

    ngx_iot_history_settle(&h->batch[h->filling ^ 1]);

    if (h->batch[h->filling].nwaits && h->failures == 0) {
        /* waiting messages came in meanwhile: they go now (a retry waits) */
        ngx_iot_history_flush(&h->timer);

    } else if (h->batch[h->filling].rows && !h->timer.timer_set) {
        ngx_add_timer(&h->timer, NGX_IOT_HISTORY_FLUSH);
    }
}


static void
ngx_iot_history_keep(ngx_event_t *ev)
{
    ngx_iot_history_t  *h = ev->data;

    if (h->busy) {
        ngx_add_timer(ev, 60000);
    }
}

#endif


/* in a thread: writes the batch that is not being filled */

static void
ngx_iot_history_write(void *data, ngx_log_t *log)
{
    ngx_iot_history_t *h = data;

    u_char                   *p, *last;
    ngx_iot_store_t          *store;
    ngx_iot_message_t         m;
    ngx_iot_history_row_t    *row;
    ngx_iot_history_batch_t  *b;

    b = &h->batch[h->filling ^ 1];

    if (h->writer == NULL) {
        h->writer = ngx_iot_store_open(&h->path, h->conf->sync, log);

        /*
         * This connection lives in a thread: it may checkpoint as it
         * commits, which keeps the history's log from growing forever.
         */

        if (h->writer) {
            ngx_iot_store_watch(h->writer,
                                &ngx_iot_history_sh(h)->history_fault, log);
            (void) ngx_iot_store_autocheckpoint(h->writer,
                                           NGX_IOT_HISTORY_CHECKPOINT, log);
            (void) ngx_iot_store_cache(h->writer, NGX_IOT_HISTORY_CACHE, log);
        }
    }

    store = h->writer;

    if (store == NULL) {
        goto failed;
    }

    if (b->rows == 0) {
        goto retain;
    }

    if (ngx_iot_store_begin(store, log) != NGX_OK) {
        goto failed;
    }

    ngx_memzero(&m, sizeof(ngx_iot_message_t));

    p = b->data;
    last = b->data + b->used;

    while (p < last) {
        row = (ngx_iot_history_row_t *) p;

        m.collection_id = row->collection_id;
        m.device_id = row->device_id;
        m.received = row->received;
        m.transport = row->transport;
        m.local_port = row->local_port;
        m.remote_port = row->remote_port;
        m.payload.data = p + sizeof(ngx_iot_history_row_t);
        m.payload.len = row->len;
        m.coap_method.data = m.payload.data + row->len;
        m.coap_method.len = row->method_len;
        m.coap_path.data = m.coap_method.data + row->method_len;
        m.coap_path.len = row->path_len;

        if (ngx_iot_store_history_add(store, &m, log) != NGX_OK) {
            ngx_iot_store_rollback(store, log);
            goto failed;
        }

        p += row->size;
    }

    if (ngx_iot_store_commit(store, log) != NGX_OK) {
        ngx_iot_store_rollback(store, log);
        goto failed;
    }

    if (h->me) {
        (void) ngx_atomic_fetch_add(&h->me->pending, -b->rows);
    }

    h->written += b->rows;
    b->used = 0;
    b->rows = 0;
    h->failures = 0;

retain:

    ngx_iot_history_retain(h, log);

    return;

failed:

    /*
     * The batch is kept and becomes the one that new messages are added
     * to, so the next flush writes it again, a few times at most.
     */

    if (++h->failures > 3) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                       "iot history: %ui messages could not be recorded",
                       b->rows);
        ngx_iot_history_lost(h, b->rows);
        b->used = 0;
        b->rows = 0;
        b->lost = 1;
        h->failures = 0;
    }
}


/*
 * Retention: one worker at a time, every few seconds, deletes what is
 * older than iot_history_max_age, and the oldest messages of a collection
 * beyond iot_history_max_count.
 */

static void
ngx_iot_history_retain(ngx_iot_history_t *h, ngx_log_t *log)
{
    time_t                now, last, every;
    ngx_uint_t            deleted;
    ngx_iot_store_t      *store;
    ngx_iot_conf_t       *icf;
    ngx_iot_zone_ctx_t   *ctx;

    icf = h->conf;
    ctx = icf->shm_zone->data;
    store = h->writer;

    now = ngx_time();
    last = (time_t) ctx->sh->retained;

    /* a short age is kept to within a quarter of it */
    every = NGX_IOT_HISTORY_RETENTION;

    if (icf->history_max_age) {
        every = ngx_max(1, ngx_min(every, icf->history_max_age / 4));
    }

    /* the count, while messages come, to within a second of them */
    if (icf->history_max_count && h->written) {
        every = ngx_min(every, NGX_IOT_HISTORY_TRIM);
    }

    if (now - last < every
        || !ngx_atomic_cmp_set(&ctx->sh->retained, (ngx_atomic_uint_t) last,
                               (ngx_atomic_uint_t) now))
    {
        return;
    }

    h->written = 0;

    if (icf->history_max_age) {
        (void) ngx_iot_store_history_expire(store,
                                            ngx_iot_now_ms()
                                            - icf->history_max_age * 1000,
                                            &deleted, log);
    }

    if (icf->history_max_count) {
        (void) ngx_iot_store_history_trim(store, icf->history_max_count,
                                          log);
    }
}


/* this worker's connection for reading the history */

ngx_iot_store_t *
ngx_iot_history_reader(ngx_cycle_t *cycle, ngx_log_t *log)
{
    ngx_iot_history_t  *h;

    h = ngx_iot_get_conf(cycle)->history;

    if (h == NULL) {
        return NULL;
    }

    if (h->reader == NULL) {
        h->reader = ngx_iot_store_open(&h->path, h->conf->sync, log);

        if (h->reader) {
            ngx_iot_store_watch(h->reader,
                                &ngx_iot_history_sh(h)->history_fault, log);
        }
    }

    return h->reader;
}

