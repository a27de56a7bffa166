
/*
 * Copyright (C) nginx-iot authors
 *
 * The delivering worker.  One worker at a time holds an exclusive lock on
 * "<iot_store>-outputs.lock" (flock): it delivers for every output.  The
 * kernel lets the lock go when its holder dies, and a worker that stops
 * (reload, shutdown) lets it go once its rounds in flight are done, so
 * another worker (of this or of the next generation) takes it within a
 * second and goes on from the cursors in the store.
 *
 * Each enabled output reads its collection's messages from the history,
 * by id after its cursor: the history is the output's queue, bounded by
 * iot_outputs_queue (beyond it the oldest are dropped, counted and
 * logged).  A round runs in nginx's thread pool: read up to a batch,
 * render each as the collections dialect does (with the collection's
 * field mask), send, then store the new cursor, the counts and the log in
 * one transaction.  A failed round is tried again after a back-off (1 s,
 * doubling up to 60 s); an idle output looks again every 100 ms.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <sys/file.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_outputs.h"
#include "ngx_iot_outputs_send.h"


#define NGX_IOT_OUTPUTS_TICK       1000    /* ms: election, changes */
#define NGX_IOT_OUTPUTS_POLL       100     /* ms: an idle output */
#define NGX_IOT_OUTPUTS_BACKOFF    1000
#define NGX_IOT_OUTPUTS_BACKOFF_MAX  60000
#define NGX_IOT_OUTPUTS_BATCH      100     /* a webhook's, IFTTT's, UDP's */


typedef struct ngx_iot_deliverer_s  ngx_iot_deliverer_t;


typedef struct {
    ngx_queue_t                queue;
    ngx_iot_deliverer_t       *dl;
    ngx_iot_output_t           row;
    u_char                    *config;       /* row.config's copy */

    ngx_iot_sender_t           sender;
    ngx_iot_store_t           *history;      /* the rounds' connection */
    ngx_iot_output_state_t     state;
    uint64_t                   counted;      /* received up to this id */

#if (NGX_THREADS)
    ngx_thread_task_t         *task;
#endif
    ngx_event_t                timer;
    ngx_msec_t                 backoff;
    ngx_uint_t                 batch;        /* messages a round takes */

    /* the last round's outcome */
    ngx_uint_t                 taken;        /* messages it read */
    ngx_uint_t                 sent;
    ngx_uint_t                 skipped;

    unsigned                   busy:1;
    unsigned                   seen:1;       /* in the last tick's list */
    unsigned                   gone:1;
    unsigned                   loaded:1;     /* state read */
    unsigned                   failing:1;
} ngx_iot_out_t;


struct ngx_iot_deliverer_s {
    ngx_cycle_t               *cycle;
    ngx_iot_conf_t            *conf;
    ngx_log_t                 *log;
    ngx_event_t                tick;
    ngx_fd_t                   lock;
    ngx_uint_t                 owner;
    ngx_queue_t                outputs;
    ngx_str_t                  lock_path;
};


typedef struct {
    ngx_iot_out_t             *out;
    ngx_pool_t                *pool;
    ngx_iot_out_msg_t         *msgs;
    ngx_uint_t                 n;
} ngx_iot_round_t;


static void ngx_iot_outputs_tick(ngx_event_t *ev);
static void ngx_iot_outputs_stop(ngx_iot_deliverer_t *dl);
static ngx_int_t ngx_iot_outputs_seen(ngx_iot_output_t *o, void *data);
static ngx_iot_out_t *ngx_iot_outputs_add(ngx_iot_deliverer_t *dl,
    ngx_iot_output_t *o);
static void ngx_iot_outputs_free(ngx_iot_out_t *out);
static void ngx_iot_outputs_wake(ngx_event_t *ev);
#if (NGX_THREADS)
static void ngx_iot_outputs_round(void *data, ngx_log_t *log);
static void ngx_iot_outputs_round_done(ngx_event_t *ev);
static void ngx_iot_outputs_count(ngx_iot_out_t *out);
static ngx_int_t ngx_iot_outputs_take(void *row, void *data);
static void ngx_iot_outputs_note(ngx_iot_out_t *out, ngx_pool_t *pool,
    const char *fmt, ...);
#endif


static ngx_iot_render_pt   ngx_iot_outputs_render;
static ngx_iot_deliverer_t  *ngx_iot_outputs_deliverer;


void
ngx_iot_outputs_renderer(ngx_iot_render_pt render)
{
    ngx_iot_outputs_render = render;
}


ngx_int_t
ngx_iot_outputs_init_process(ngx_cycle_t *cycle)
{
    ngx_iot_conf_t       *icf;
    ngx_iot_deliverer_t  *dl;

    icf = ngx_iot_get_conf(cycle);

#if !(NGX_THREADS)
    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "iot outputs need nginx built with threads: outputs "
                  "deliver nothing");
    return NGX_OK;
#endif

    if (ngx_iot_outputs_render == NULL) {
        /* no http part: nothing renders messages */
        return NGX_OK;
    }

    if (ngx_iot_sender_global_init(cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    dl = ngx_pcalloc(cycle->pool, sizeof(ngx_iot_deliverer_t));
    if (dl == NULL) {
        return NGX_ERROR;
    }

    dl->cycle = cycle;
    dl->conf = icf;
    dl->log = cycle->log;
    dl->lock = NGX_INVALID_FILE;
    ngx_queue_init(&dl->outputs);

    dl->lock_path.len = icf->store_path.len + sizeof("-outputs.lock") - 1;
    dl->lock_path.data = ngx_pnalloc(cycle->pool, dl->lock_path.len + 1);
    if (dl->lock_path.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(dl->lock_path.data, "%V-outputs.lock%Z", &icf->store_path);

    dl->tick.handler = ngx_iot_outputs_tick;
    dl->tick.data = dl;
    dl->tick.log = cycle->log;
    dl->tick.cancelable = 1;

    ngx_add_timer(&dl->tick, 1);

    ngx_iot_outputs_deliverer = dl;

    return NGX_OK;
}


void
ngx_iot_outputs_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t          *q;
    ngx_iot_out_t        *out;
    ngx_iot_deliverer_t  *dl;

    dl = ngx_iot_outputs_deliverer;

    if (dl == NULL) {
        return;
    }

    /* the thread pool has finished its tasks by now (it exits first) */

    while (!ngx_queue_empty(&dl->outputs)) {
        q = ngx_queue_head(&dl->outputs);
        out = ngx_queue_data(q, ngx_iot_out_t, queue);
        out->busy = 0;
        ngx_iot_outputs_free(out);
    }

    if (dl->lock != NGX_INVALID_FILE) {
        (void) ngx_close_file(dl->lock);
        dl->lock = NGX_INVALID_FILE;
    }

    ngx_iot_sender_global_cleanup();

    ngx_iot_outputs_deliverer = NULL;
}


/* every second: take the lock if it is free; follow the store's outputs */

static void
ngx_iot_outputs_tick(ngx_event_t *ev)
{
    ngx_iot_deliverer_t *dl = ev->data;

    ngx_queue_t      *q, *next;
    ngx_iot_out_t    *out;
    ngx_iot_store_t  *store;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_iot_outputs_stop(dl);
        return;
    }

    ngx_add_timer(&dl->tick, NGX_IOT_OUTPUTS_TICK);

    if (!dl->owner) {
        if (dl->lock == NGX_INVALID_FILE) {
            dl->lock = ngx_open_file(dl->lock_path.data, NGX_FILE_RDWR,
                                     NGX_FILE_CREATE_OR_OPEN, 0600);

            if (dl->lock == NGX_INVALID_FILE) {
                ngx_log_error(NGX_LOG_ALERT, dl->log, ngx_errno,
                              ngx_open_file_n " \"%V\" failed",
                              &dl->lock_path);
                return;
            }
        }

        if (flock(dl->lock, LOCK_EX | LOCK_NB) == -1) {
            return;
        }

        dl->owner = 1;

        ngx_log_error(NGX_LOG_NOTICE, dl->log, 0,
                      "iot outputs: this worker delivers");
    }

    store = ngx_iot_store_get(dl->cycle, dl->log);
    if (store == NULL) {
        return;
    }

    for (q = ngx_queue_head(&dl->outputs);
         q != ngx_queue_sentinel(&dl->outputs);
         q = ngx_queue_next(q))
    {
        out = ngx_queue_data(q, ngx_iot_out_t, queue);
        out->seen = 0;
    }

    if (ngx_iot_store_output_list(store, 0, ngx_iot_outputs_seen, dl,
                                  dl->log)
        != NGX_OK)
    {
        /* the store cannot be read now: the outputs go on as they are */
        return;
    }

    for (q = ngx_queue_head(&dl->outputs);
         q != ngx_queue_sentinel(&dl->outputs);
         q = next)
    {
        next = ngx_queue_next(q);
        out = ngx_queue_data(q, ngx_iot_out_t, queue);

        if (!out->seen) {
            /* deleted or disabled */
            out->gone = 1;

            if (!out->busy) {
                ngx_iot_outputs_free(out);
            }
        }
    }
}


static void
ngx_iot_outputs_stop(ngx_iot_deliverer_t *dl)
{
    ngx_queue_t    *q, *next;
    ngx_iot_out_t  *out;
    ngx_uint_t      busy;

    busy = 0;

    for (q = ngx_queue_head(&dl->outputs);
         q != ngx_queue_sentinel(&dl->outputs);
         q = next)
    {
        next = ngx_queue_next(q);
        out = ngx_queue_data(q, ngx_iot_out_t, queue);

        out->gone = 1;

        if (out->busy) {
            busy = 1;

        } else {
            ngx_iot_outputs_free(out);
        }
    }

    /* the next deliverer may start once no round is in flight here */

    if (!busy && dl->lock != NGX_INVALID_FILE) {
        (void) ngx_close_file(dl->lock);
        dl->lock = NGX_INVALID_FILE;

        if (dl->owner) {
            ngx_log_error(NGX_LOG_NOTICE, dl->log, 0,
                          "iot outputs: this worker stops delivering");
        }

        dl->owner = 0;
    }
}


static ngx_int_t
ngx_iot_outputs_seen(ngx_iot_output_t *o, void *data)
{
    ngx_iot_deliverer_t *dl = data;

    ngx_queue_t    *q;
    ngx_iot_out_t  *out;

    /* disabled, or of a collection deleted since: not delivered */

    if (!o->enabled || !ngx_iot_collection_exists(dl->cycle, o->collection_id))
    {
        return NGX_OK;
    }

    for (q = ngx_queue_head(&dl->outputs);
         q != ngx_queue_sentinel(&dl->outputs);
         q = ngx_queue_next(q))
    {
        out = ngx_queue_data(q, ngx_iot_out_t, queue);

        if (out->row.id != o->id) {
            continue;
        }

        if (!out->gone && out->row.revision == o->revision) {
            out->seen = 1;
            return NGX_OK;
        }

        /*
         * changed: the output starts again with its new config, once its
         * round in flight is done (never two rounds of one output)
         */

        out->gone = 1;

        if (out->busy) {
            return NGX_OK;
        }

        ngx_iot_outputs_free(out);

        break;
    }

    out = ngx_iot_outputs_add(dl, o);

    if (out == NULL) {
        return NGX_OK;
    }

    out->seen = 1;

    return NGX_OK;
}


static ngx_iot_out_t *
ngx_iot_outputs_add(ngx_iot_deliverer_t *dl, ngx_iot_output_t *o)
{
    ngx_iot_out_t  *out;

    out = ngx_calloc(sizeof(ngx_iot_out_t), dl->log);
    if (out == NULL) {
        return NULL;
    }

    out->config = ngx_alloc(o->config.len + 1, dl->log);
    if (out->config == NULL) {
        ngx_free(out);
        return NULL;
    }

    out->dl = dl;
    out->row = *o;
    out->row.config.data = out->config;
    ngx_memcpy(out->config, o->config.data, o->config.len);
    out->row.tags.len = 0;
    out->row.tags.data = NULL;

    /*
     * MQTT publishes a round's messages one by one and waits for all their
     * PUBACKs at the end: a larger round spreads the round's fixed costs
     * (the history's read and commit, the hops between the thread and the
     * event loop) over more messages.  A webhook's round is its POST.
     */
    out->batch = (o->type == NGX_IOT_OUTPUT_MQTT) ? NGX_IOT_SEND_MQTT_BATCH
                                                  : NGX_IOT_OUTPUTS_BATCH;

    if (ngx_iot_sender_init(&out->sender, &out->row,
                            dl->conf->outputs_private,
                            &dl->conf->outputs_ifttt,
                            &dl->conf->outputs_ca_file)
        != NGX_OK)
    {
        ngx_free(out->config);
        ngx_free(out);
        return NULL;
    }

#if (NGX_THREADS)
    out->task = ngx_calloc(sizeof(ngx_thread_task_t), dl->log);
    if (out->task == NULL) {
        ngx_iot_sender_cleanup(&out->sender);
        ngx_free(out->config);
        ngx_free(out);
        return NULL;
    }

    out->task->ctx = out;
    out->task->handler = ngx_iot_outputs_round;
    out->task->event.handler = ngx_iot_outputs_round_done;
    out->task->event.data = out;
    out->task->event.log = dl->log;
#endif

    out->timer.handler = ngx_iot_outputs_wake;
    out->timer.data = out;
    out->timer.log = dl->log;
    out->timer.cancelable = 1;

    ngx_queue_insert_tail(&dl->outputs, &out->queue);

    ngx_add_timer(&out->timer, 1);

    return out;
}


static void
ngx_iot_outputs_free(ngx_iot_out_t *out)
{
    if (out->timer.timer_set) {
        ngx_del_timer(&out->timer);
    }

    ngx_queue_remove(&out->queue);

    ngx_iot_sender_cleanup(&out->sender);

    if (out->history) {
        ngx_iot_store_close(out->history);
    }

#if (NGX_THREADS)
    ngx_free(out->task);
#endif
    ngx_free(out->config);
    ngx_free(out);
}


/*
 * The next round, with the output as the store has it now: a change
 * (a new config, disabled, deleted) takes effect from the next round, not
 * only at the next tick.
 */

static ngx_int_t
ngx_iot_outputs_current(ngx_iot_output_t *o, void *data)
{
    ngx_iot_out_t *out = data;

    if (o->revision == out->row.revision && o->enabled) {
        out->seen = 1;
    }

    return NGX_OK;
}


static void
ngx_iot_outputs_wake(ngx_event_t *ev)
{
    ngx_iot_out_t *out = ev->data;

    ngx_int_t             rc;
    ngx_iot_store_t      *store;
    ngx_iot_deliverer_t  *dl;

    if (out->busy || out->gone || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    dl = out->dl;

    store = ngx_iot_store_get(dl->cycle, dl->log);

    if (store) {
        out->seen = 0;

        rc = ngx_iot_store_output_get(store, out->row.id,
                                      ngx_iot_outputs_current, out, dl->log);

        if (rc != NGX_ERROR && !out->seen) {
            /* changed, disabled or deleted: the tick sees what it is now */
            ngx_iot_outputs_free(out);

            if (dl->tick.timer_set) {
                ngx_del_timer(&dl->tick);
            }

            ngx_add_timer(&dl->tick, 1);
            return;
        }

        out->seen = 1;
    }

#if (NGX_THREADS)
    out->busy = 1;

    if (ngx_thread_task_post(out->dl->conf->thread_pool, out->task)
        != NGX_OK)
    {
        out->busy = 0;
        ngx_add_timer(&out->timer, NGX_IOT_OUTPUTS_BACKOFF);
    }
#endif
}


#if (NGX_THREADS)

/* in a thread: one round of one output */

static void
ngx_iot_outputs_round(void *data, ngx_log_t *log)
{
    ngx_iot_out_t *out = data;

    ngx_int_t                rc;
    ngx_uint_t               i, fresh, wrote;
    ngx_pool_t              *pool;
    ngx_iot_round_t          rd;
    ngx_iot_store_t         *h;
    ngx_iot_output_state_t  *st;

    out->taken = 0;
    out->sent = 0;
    out->skipped = 0;

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return;
    }

    if (out->history == NULL) {
        out->history = ngx_iot_store_open(&out->dl->conf->history_path,
                                          out->dl->conf->sync, log);
        if (out->history == NULL) {
            goto failed;
        }
    }

    h = out->history;
    st = &out->state;

    if (!out->loaded) {
        rc = ngx_iot_store_output_state(h, out->row.id, st, log);

        if (rc == NGX_ERROR) {
            goto failed;
        }

        if (rc == NGX_DECLINED || st->since != out->row.since) {
            /* new, or enabled again: from its start on */
            if (ngx_iot_store_output_start(h, out->row.since, &st->cursor,
                                           log)
                != NGX_OK)
            {
                goto failed;
            }

            st->since = out->row.since;
        }

        out->counted = st->cursor;
        out->loaded = 1;
    }

    /* a full queue: the oldest go */

    if (ngx_iot_store_output_skip(h, out->row.collection_id, &st->cursor,
                                  out->dl->conf->outputs_queue, out->counted,
                                  &out->skipped, &fresh, log)
        != NGX_OK)
    {
        goto failed;
    }

    if (out->skipped) {
        st->dropped += out->skipped;
        st->received += fresh;
        out->counted = ngx_max(out->counted, st->cursor);

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "iot output %uL: %ui messages dropped, its queue of "
                      "%ui was full", out->row.id, out->skipped,
                      out->dl->conf->outputs_queue);

        ngx_iot_outputs_note(out, pool, "%ui messages dropped: the queue "
                             "of %ui messages was full", out->skipped,
                             out->dl->conf->outputs_queue);
    }

    rd.out = out;
    rd.pool = pool;
    rd.n = 0;
    rd.msgs = ngx_pcalloc(pool, out->batch * sizeof(ngx_iot_out_msg_t));
    if (rd.msgs == NULL) {
        goto failed;
    }

    if (ngx_iot_store_output_messages(h, out->row.collection_id, st->cursor,
                                      out->batch,
                                      ngx_iot_outputs_take, &rd, log)
        != NGX_OK)
    {
        goto failed;
    }

    out->taken = rd.n;

    fresh = 0;

    for (i = 0; i < rd.n; i++) {
        if (rd.msgs[i].id > out->counted) {
            fresh++;
            out->counted = rd.msgs[i].id;
        }
    }

    st->received += fresh;
    wrote = (out->skipped || fresh);

    if (rd.n == 0) {
        ngx_iot_sender_idle(&out->sender);

    } else {
        out->sent = ngx_iot_sender_send(&out->sender, rd.msgs, rd.n, pool,
                                        log);

        if (out->sent) {
            st->forwarded += out->sent;
            st->cursor = rd.msgs[out->sent - 1].id;
        }

        if (out->failing) {
            st->retries++;
        }

        if (out->sent < rd.n) {
            st->errors++;

            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "iot output %uL: %s", out->row.id,
                          out->sender.error);

            ngx_iot_outputs_note(out, pool, "%s", out->sender.error);
        }

        wrote = 1;
    }

    if (wrote) {
        /* the cursor and counts, durable before the next round */
        if (ngx_iot_store_begin(h, log) != NGX_OK
            || ngx_iot_store_output_state_put(h, st, log) != NGX_OK
            || ngx_iot_store_commit(h, log) != NGX_OK)
        {
            ngx_iot_store_rollback(h, log);
        }
    }

    ngx_destroy_pool(pool);

    return;

failed:

    out->taken = 1;
    out->sent = 0;
    ngx_cpystrn((u_char *) out->sender.error,
                (u_char *) "the history cannot be read",
                sizeof(out->sender.error));

    ngx_destroy_pool(pool);
}


/* a message of the round: copied, rendered in the collections dialect */

static ngx_int_t
ngx_iot_outputs_take(void *row, void *data)
{
    ngx_iot_message_t *m = row;
    ngx_iot_round_t *rd = data;

    ngx_iot_out_msg_t  *msg;

    msg = &rd->msgs[rd->n];

    msg->id = m->id;
    (void) ngx_iot_id_encode(msg->device, m->device_id);

    msg->payload.len = m->payload.len;
    msg->payload.data = ngx_pnalloc(rd->pool, m->payload.len + 1);
    if (msg->payload.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(msg->payload.data, m->payload.data, m->payload.len);

    if (ngx_iot_outputs_render(m, rd->pool, &msg->json) != NGX_OK) {
        return NGX_ERROR;
    }

    rd->n++;

    return NGX_OK;
}


/* an entry of the output's log (in the round's transaction's file) */

static void
ngx_iot_outputs_note(ngx_iot_out_t *out, ngx_pool_t *pool, const char *fmt,
    ...)
{
    u_char     buf[600];
    va_list    args;
    ngx_str_t  text;

    va_start(args, fmt);
    text.data = buf;
    text.len = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args) - buf;
    va_end(args);

    (void) ngx_iot_store_output_log_add(out->history, out->row.id,
                                        ngx_iot_now_ms(), &text,
                                        out->dl->log);
}


/* back on the event loop: the next round, now, later, or after a pause */

static void
ngx_iot_outputs_round_done(ngx_event_t *ev)
{
    ngx_iot_out_t *out = ev->data;

    ngx_msec_t  wait;

    out->busy = 0;

    ngx_iot_outputs_count(out);

    if (out->gone) {
        ngx_iot_outputs_free(out);

        if (ngx_exiting || ngx_quit || ngx_terminate) {
            ngx_iot_outputs_stop(ngx_iot_outputs_deliverer);
        }

        return;
    }

    if (out->taken && out->sent < out->taken) {
        out->failing = 1;
        out->backoff = out->backoff ? ngx_min(out->backoff * 2,
                                              NGX_IOT_OUTPUTS_BACKOFF_MAX)
                                    : NGX_IOT_OUTPUTS_BACKOFF;
        wait = out->backoff;

    } else {
        out->failing = 0;
        out->backoff = 0;
        wait = (out->taken == out->batch || out->skipped)
               ? 1 : NGX_IOT_OUTPUTS_POLL;
    }

    ngx_add_timer(&out->timer, wait);
}


/* a round's outcome, for the metrics (docs/metrics.md) */

static void
ngx_iot_outputs_count(ngx_iot_out_t *out)
{
    ngx_uint_t            type;
    ngx_iot_metrics_sh_t  *m;

    type = out->row.type;

    if (type >= NGX_IOT_METRICS_OUTPUTS) {
        return;
    }

    m = &ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)->sh->metrics;

    if (out->sent) {
        (void) ngx_atomic_fetch_add(&m->outputs_forwarded[type], out->sent);
    }

    if (out->skipped) {
        (void) ngx_atomic_fetch_add(&m->outputs_dropped[type],
                                    out->skipped);
    }

    if (out->taken && out->sent < out->taken) {
        ngx_iot_metrics_count(m->outputs_errors[type]);
    }
}

#endif
