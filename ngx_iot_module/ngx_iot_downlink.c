
/*
 * Copyright (C) nginx-iot authors
 *
 * The core's downlink: the transports and their senders
 * (ngx_iot_downlink.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_store.h"
#include "ngx_iot_write.h"
#include "ngx_iot_bus.h"
#include "ngx_iot_downlink.h"
#include "ngx_iot_id.h"


/* how often one worker looks for waiting downlinks whose time is up */
#define NGX_IOT_DOWNLINK_SWEEP        1000
/* how many expire in one write, at most */
#define NGX_IOT_DOWNLINK_EXPIRE_MAX   256


/* a batch on its way into the store */
typedef struct {
    ngx_iot_write_t            w;
    ngx_iot_downlink_batch_t  *batch;
    ngx_uint_t                 keep;
} ngx_iot_downlink_write_t;


static ngx_iot_rc_e ngx_iot_downlink_nothing(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_downlink_store(ngx_iot_write_t *w);
static void ngx_iot_downlink_kept(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_downlink_settle_store(ngx_iot_write_t *w);
static void ngx_iot_downlink_settled(ngx_iot_write_t *w);
static void ngx_iot_downlink_announce_rows(ngx_cycle_t *cycle,
    ngx_iot_downlink_batch_t *b);
static void ngx_iot_downlink_sweep(ngx_event_t *ev);
static ngx_int_t ngx_iot_downlink_expire_store(ngx_iot_write_t *w);
static void ngx_iot_downlink_expired(ngx_iot_write_t *w);


/* waiting downlinks whose time is up, on their way to "expired" */
typedef struct {
    ngx_iot_write_t            w;
    ngx_pool_t                *pool;
    uint64_t                   now;
    ngx_uint_t                 n;
    ngx_iot_downlink_row_t     rows[NGX_IOT_DOWNLINK_EXPIRE_MAX];
} ngx_iot_downlink_expire_t;


static ngx_event_t  ngx_iot_downlink_sweeper;
static ngx_uint_t   ngx_iot_downlink_sweeping;


/* a queued downlink on its way to its last state */
typedef struct {
    ngx_iot_write_t            w;
    uint64_t                   id;
    uint64_t                   device;
    ngx_uint_t                 transport;
    ngx_uint_t                 state;
    ngx_uint_t                 reason;
    ngx_iot_rc_e               found;
    ngx_iot_wait_t            *wait;
    ngx_cycle_t               *cycle;
    ngx_iot_downlink_row_t     row;       /* as settled, to announce */
} ngx_iot_downlink_settle_t;


static ngx_iot_rc_e ngx_iot_downlink_settle_count(
    ngx_iot_downlink_settle_t *ds, ngx_iot_rc_e rc);


static ngx_str_t  ngx_iot_downlink_names[NGX_IOT_DOWNLINK_LAST] = {
    ngx_string("udp"),
    ngx_string("coap-push"),
    ngx_string("coap-pull")
};


static ngx_str_t  ngx_iot_downlink_states[] = {
    ngx_string("queued"),
    ngx_string("sent"),
    ngx_string("delivered"),
    ngx_string("failed"),
    ngx_string("expired")
};


ngx_str_t *
ngx_iot_downlink_transport_name(ngx_uint_t transport)
{
    static ngx_str_t  unknown = ngx_string("unknown");

    return (transport < NGX_IOT_DOWNLINK_LAST)
           ? &ngx_iot_downlink_names[transport] : &unknown;
}


ngx_str_t *
ngx_iot_downlink_state_name(ngx_uint_t state)
{
    static ngx_str_t  unknown = ngx_string("unknown");

    return (state < sizeof(ngx_iot_downlink_states) / sizeof(ngx_str_t))
           ? &ngx_iot_downlink_states[state] : &unknown;
}


ngx_iot_rc_e
ngx_iot_downlink_reason_rc(ngx_uint_t reason)
{
    switch (reason) {

    case NGX_IOT_DOWNLINK_NO_REASON:
        return NGX_IOT_OK;

    case NGX_IOT_DOWNLINK_NO_ADDRESS:
        return NGX_IOT_NO_ADDRESS;

    case NGX_IOT_DOWNLINK_UNAVAILABLE:
        return NGX_IOT_UNAVAILABLE;

    case NGX_IOT_DOWNLINK_NO_TRANSPORT:
        return NGX_IOT_NO_TRANSPORT;

    case NGX_IOT_DOWNLINK_QUEUE_FULL:
        return NGX_IOT_QUEUE_FULL;

    case NGX_IOT_DOWNLINK_REFUSED:
        return NGX_IOT_REFUSED;

    case NGX_IOT_DOWNLINK_NO_ANSWER:
        return NGX_IOT_NO_ANSWER;

    default:
        return NGX_IOT_SEND_FAILED;
    }
}


static ngx_uint_t
ngx_iot_downlink_reason(ngx_iot_rc_e rc)
{
    switch (rc) {

    case NGX_IOT_OK:
        return NGX_IOT_DOWNLINK_NO_REASON;

    case NGX_IOT_NO_ADDRESS:
        return NGX_IOT_DOWNLINK_NO_ADDRESS;

    case NGX_IOT_UNAVAILABLE:
        return NGX_IOT_DOWNLINK_UNAVAILABLE;

    case NGX_IOT_NO_TRANSPORT:
        return NGX_IOT_DOWNLINK_NO_TRANSPORT;

    case NGX_IOT_QUEUE_FULL:
        return NGX_IOT_DOWNLINK_QUEUE_FULL;

    default:
        return NGX_IOT_DOWNLINK_SEND_FAILED;
    }
}


ngx_int_t
ngx_iot_downlink_transport(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_DOWNLINK_LAST; i++) {
        if (name->len == ngx_iot_downlink_names[i].len
            && ngx_strncmp(name->data, ngx_iot_downlink_names[i].data,
                           name->len)
               == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


void
ngx_iot_downlink_register(ngx_cycle_t *cycle, ngx_iot_downlink_e transport,
    ngx_iot_downlink_sender_t *sender)
{
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf(cycle);

    if (icf) {
        icf->downlink[transport] = sender;
    }
}


ngx_iot_rc_e
ngx_iot_downlink_ready(ngx_cycle_t *cycle, ngx_iot_downlink_e transport)
{
    ngx_iot_conf_t             *icf;
    ngx_iot_downlink_sender_t  *sender;

    icf = ngx_iot_get_conf(cycle);
    sender = icf ? icf->downlink[transport] : NULL;

    if (sender == NULL) {
        return NGX_IOT_NO_TRANSPORT;
    }

    return sender->ready(cycle);
}


ngx_int_t
ngx_iot_downlink_batch_init(ngx_iot_downlink_batch_t *b, ngx_pool_t *pool,
    ngx_iot_downlink_e transport, ngx_iot_downlink_t *m)
{
    b->transport = transport;
    b->message = m;
    b->wait = NULL;
    b->also = NULL;
    b->also_data = NULL;

    return ngx_array_init(&b->rows, pool, 1, sizeof(ngx_iot_downlink_row_t));
}


ngx_iot_rc_e
ngx_iot_downlink(ngx_cycle_t *cycle, ngx_iot_downlink_batch_t *b,
    ngx_iot_device_t *d, ngx_log_t *log)
{
    ngx_time_t                 *tp;
    ngx_iot_rc_e                rc;
    ngx_iot_conf_t             *icf;
    ngx_iot_downlink_row_t     *row;
    ngx_iot_downlink_sender_t  *sender;

    row = ngx_array_push(&b->rows);
    if (row == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    icf = ngx_iot_get_conf(cycle);
    sender = icf ? icf->downlink[b->transport] : NULL;

    rc = sender ? sender->send(cycle, d, b->message, log)
                : NGX_IOT_NO_TRANSPORT;

    tp = ngx_timeofday();

    if (rc == NGX_IOT_QUEUED) {
        /* the device takes it later (coap-pull) */
        row->state = NGX_IOT_DOWNLINK_QUEUED;
        rc = NGX_IOT_OK;

    } else {
        row->state = (rc == NGX_IOT_OK) ? NGX_IOT_DOWNLINK_SENT
                                        : NGX_IOT_DOWNLINK_FAILED;
    }

    row->id = 0;
    row->device = d->id.key;
    row->collection = d->collection_id;
    row->transport = b->transport;
    row->port = b->message->port;
    row->reason = ngx_iot_downlink_reason(rc);
    row->created = (uint64_t) tp->sec * 1000 + tp->msec;
    row->updated = row->created;
    row->payload = b->message->payload;
    row->coap_path = b->message->coap_path;
    row->expires = 0;

    if (row->state == NGX_IOT_DOWNLINK_QUEUED) {
        /* a waiting one has its time: the request's, or the default */

        if (b->message->ttl_set) {
            row->expires = row->created + b->message->ttl;

        } else if (icf->downlink_ttl) {
            row->expires = row->created + icf->downlink_ttl;
        }
    }

    ngx_iot_metrics_downlink(cycle, b->transport, row->state);

    return rc;
}


ngx_iot_rc_e
ngx_iot_downlink_keep(ngx_cycle_t *cycle, ngx_iot_downlink_batch_t *b,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_rc_e               rc;
    ngx_iot_conf_t            *icf;
    ngx_iot_downlink_write_t  *dw, here;

    if (b->rows.nelts == 0) {
        return NGX_IOT_OK;
    }

    icf = ngx_iot_get_conf(cycle);

    if (wait) {
        dw = ngx_pcalloc(wait->pool, sizeof(ngx_iot_downlink_write_t));
        if (dw == NULL) {
            return NGX_IOT_STORE_ERROR;
        }

    } else {
        ngx_memzero(&here, sizeof(ngx_iot_downlink_write_t));
        dw = &here;
    }

    dw->batch = b;
    dw->keep = icf->downlink_keep;
    dw->w.check = ngx_iot_downlink_nothing;
    dw->w.write = ngx_iot_downlink_store;
    dw->w.apply = ngx_iot_downlink_nothing;
    dw->w.data = dw;
    dw->w.log = log;

    if (wait == NULL) {
        rc = ngx_iot_write(cycle, &dw->w);

        if (rc == NGX_IOT_OK) {
            ngx_iot_downlink_announce_rows(cycle, b);
        }

        return rc;
    }

    b->wait = wait;
    dw->w.pool = wait->pool;
    dw->w.done = ngx_iot_downlink_kept;
    dw->w.done_data = dw;

    rc = ngx_iot_write_post(cycle, &dw->w);

    if (rc == NGX_IOT_OK) {
        /* written here and now: no thread pool */
        ngx_iot_downlink_announce_rows(cycle, b);
    }

    if (rc != NGX_IOT_QUEUED) {
        wait->rc = rc;
    }

    return rc;
}


/* the zone has no part in a downlink */

static ngx_iot_rc_e
ngx_iot_downlink_nothing(ngx_iot_write_t *w)
{
    return NGX_IOT_OK;
}


/* in the writer: the rows, and the oldest finished ones beyond the limit */

static ngx_int_t
ngx_iot_downlink_store(ngx_iot_write_t *w)
{
    ngx_iot_downlink_write_t  *dw = w->data;

    if (ngx_iot_store_downlink_add(w->store, dw->batch->rows.elts,
                                   dw->batch->rows.nelts, dw->keep, w->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return dw->batch->also ? dw->batch->also(w->store, dw->batch, w->log)
                           : NGX_OK;
}


static void
ngx_iot_downlink_kept(ngx_iot_write_t *w)
{
    ngx_iot_downlink_write_t  *dw = w->done_data;

    ngx_iot_wait_t  *wait;

    if (w->rc == NGX_IOT_OK) {
        ngx_iot_downlink_announce_rows((ngx_cycle_t *) ngx_cycle, dw->batch);
    }

    wait = dw->batch->wait;
    wait->rc = w->rc;
    wait->handler(wait);
}


ngx_iot_rc_e
ngx_iot_downlink_settle(ngx_cycle_t *cycle, uint64_t id, uint64_t device,
    ngx_uint_t transport, ngx_uint_t state, ngx_uint_t reason, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_pool_t                 *pool;
    ngx_iot_rc_e                rc;
    ngx_iot_downlink_settle_t  *ds, here;

    pool = NULL;

    if (wait) {
        ds = ngx_pcalloc(wait->pool, sizeof(ngx_iot_downlink_settle_t));
        if (ds == NULL) {
            return NGX_IOT_STORE_ERROR;
        }

    } else {
        ngx_memzero(&here, sizeof(ngx_iot_downlink_settle_t));
        ds = &here;

        /* the settled row, read back to be announced */
        pool = ngx_create_pool(1024, log);
        if (pool == NULL) {
            return NGX_IOT_STORE_ERROR;
        }
    }

    ds->id = id;
    ds->device = device;
    ds->transport = transport;
    ds->cycle = cycle;
    ds->state = state;
    ds->reason = reason;
    ds->found = NGX_IOT_OK;
    ds->wait = wait;
    ds->w.check = ngx_iot_downlink_nothing;
    ds->w.write = ngx_iot_downlink_settle_store;
    ds->w.apply = ngx_iot_downlink_nothing;
    ds->w.data = ds;
    ds->w.log = log;

    if (wait == NULL) {
        ds->w.pool = pool;
        rc = ngx_iot_write(cycle, &ds->w);
        rc = ngx_iot_downlink_settle_count(ds, rc);

        ngx_destroy_pool(pool);

        return rc;
    }

    ds->w.pool = wait->pool;
    ds->w.done = ngx_iot_downlink_settled;
    ds->w.done_data = ds;

    rc = ngx_iot_write_post(cycle, &ds->w);

    if (rc == NGX_IOT_QUEUED) {
        return rc;
    }

    rc = ngx_iot_downlink_settle_count(ds, rc);
    wait->rc = rc;

    return rc;
}


/*
 * The write's answer: a downlink that took its state is counted and
 * announced.
 */

static ngx_iot_rc_e
ngx_iot_downlink_settle_count(ngx_iot_downlink_settle_t *ds, ngx_iot_rc_e rc)
{
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    if (ds->found == NGX_IOT_OK) {
        ngx_iot_metrics_downlink(ds->cycle, ds->transport, ds->state);
        ngx_iot_downlink_announce(ds->cycle, &ds->row);
    }

    return ds->found;
}


static ngx_int_t
ngx_iot_downlink_settle_store(ngx_iot_write_t *w)
{
    ngx_iot_downlink_settle_t  *ds = w->data;

    ngx_int_t  rc;

    rc = ngx_iot_store_downlink_settle(w->store, ds->id, ds->device,
                                       ds->state, ds->reason,
                                       ngx_iot_now_ms(), w->log);

    if (rc == NGX_DECLINED) {
        ds->found = NGX_IOT_NOT_FOUND;
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_iot_store_downlink_get(w->store, ds->id, w->pool, &ds->row,
                                      w->log);
}


static void
ngx_iot_downlink_settled(ngx_iot_write_t *w)
{
    ngx_iot_downlink_settle_t  *ds = w->done_data;

    ds->wait->rc = ngx_iot_downlink_settle_count(ds, w->rc);
    ds->wait->handler(ds->wait);
}


/*
 * A downlink's state, as the store has it now, to the live streams of its
 * device and collection in every worker, through the bus.
 */

void
ngx_iot_downlink_announce(ngx_cycle_t *cycle, ngx_iot_downlink_row_t *row)
{
    ngx_iot_conf_t     *icf;
    ngx_iot_message_t   m;

    icf = ngx_iot_get_conf(cycle);

    if (icf == NULL || icf->bus == NULL || row->id == 0) {
        return;
    }

    ngx_memzero(&m, sizeof(ngx_iot_message_t));

    m.kind = NGX_IOT_MESSAGE_DOWNLINK;
    m.id = row->id;
    m.device_id = row->device;
    m.collection_id = row->collection;
    m.transport = row->transport;
    m.remote_port = row->port;
    m.state = row->state;
    m.reason = row->reason;
    m.created = row->created;
    m.received = row->updated;
    m.payload = row->payload;
    m.coap_path = row->coap_path;

    (void) ngx_iot_bus_publish(icf->bus, &m);
}


static void
ngx_iot_downlink_announce_rows(ngx_cycle_t *cycle,
    ngx_iot_downlink_batch_t *b)
{
    ngx_uint_t               i;
    ngx_iot_downlink_row_t  *rows;

    rows = b->rows.elts;

    for (i = 0; i < b->rows.nelts; i++) {
        ngx_iot_downlink_announce(cycle, &rows[i]);
    }
}


/*
 * Expiry: one worker (the first) looks every second for waiting downlinks
 * whose time is up, with a read; when there are, a write makes them
 * "expired" (through the registry's writer, as a settle) and announces
 * them.  The device is never handed one whose time is up: the store's
 * queries leave them out, whether the sweep has come yet or not.
 */

void
ngx_iot_downlink_init_process(ngx_cycle_t *cycle)
{
    if (ngx_process == NGX_PROCESS_WORKER && ngx_worker != 0) {
        return;
    }

    ngx_iot_downlink_sweeper.handler = ngx_iot_downlink_sweep;
    ngx_iot_downlink_sweeper.log = cycle->log;
    ngx_iot_downlink_sweeper.data = cycle;     /* debug logs read it */
    ngx_iot_downlink_sweeper.cancelable = 1;
    ngx_iot_downlink_sweeping = 0;

    ngx_add_timer(&ngx_iot_downlink_sweeper, NGX_IOT_DOWNLINK_SWEEP);
}


static void
ngx_iot_downlink_sweep(ngx_event_t *ev)
{
    uint64_t                    id, device, now;
    ngx_uint_t                  found;
    ngx_pool_t                 *pool;
    ngx_iot_rc_e                rc;
    ngx_iot_store_t            *store;
    ngx_iot_downlink_expire_t  *de;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_IOT_DOWNLINK_SWEEP);

    if (ngx_iot_downlink_sweeping) {
        return;
    }

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, ev->log);
    if (store == NULL) {
        return;
    }

    now = ngx_iot_now_ms();

    if (ngx_iot_store_downlink_due(store, now, &id, &device, 1, &found,
                                   ev->log)
        != NGX_OK
        || found == 0)
    {
        return;
    }

    pool = ngx_create_pool(4096, ev->log);
    if (pool == NULL) {
        return;
    }

    de = ngx_pcalloc(pool, sizeof(ngx_iot_downlink_expire_t));
    if (de == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    de->pool = pool;
    de->now = now;
    de->w.check = ngx_iot_downlink_nothing;
    de->w.write = ngx_iot_downlink_expire_store;
    de->w.apply = ngx_iot_downlink_nothing;
    de->w.data = de;
    de->w.log = ev->log;
    de->w.pool = pool;
    de->w.done = ngx_iot_downlink_expired;
    de->w.done_data = de;

    ngx_iot_downlink_sweeping = 1;

    rc = ngx_iot_write_post((ngx_cycle_t *) ngx_cycle, &de->w);

    if (rc == NGX_IOT_QUEUED) {
        return;
    }

    /* written here and now (no thread pool), or refused */

    de->w.rc = rc;
    ngx_iot_downlink_expired(&de->w);
}


/* in the writer: the ones whose time is up, each settled as expired */

static ngx_int_t
ngx_iot_downlink_expire_store(ngx_iot_write_t *w)
{
    ngx_iot_downlink_expire_t  *de = w->data;

    uint64_t    ids[NGX_IOT_DOWNLINK_EXPIRE_MAX];
    uint64_t    devices[NGX_IOT_DOWNLINK_EXPIRE_MAX];
    ngx_int_t   rc;
    ngx_uint_t  i, n;

    de->n = 0;

    if (ngx_iot_store_downlink_due(w->store, de->now, ids, devices,
                                   NGX_IOT_DOWNLINK_EXPIRE_MAX, &n, w->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        rc = ngx_iot_store_downlink_settle(w->store, ids[i], devices[i],
                                           NGX_IOT_DOWNLINK_EXPIRED,
                                           NGX_IOT_DOWNLINK_NO_REASON,
                                           de->now, w->log);

        if (rc == NGX_DECLINED) {
            /* taken meanwhile */
            continue;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        rc = ngx_iot_store_downlink_get(w->store, ids[i], de->pool,
                                        &de->rows[de->n], w->log);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            de->n++;
        }
    }

    return NGX_OK;
}


static void
ngx_iot_downlink_expired(ngx_iot_write_t *w)
{
    ngx_iot_downlink_expire_t  *de = w->done_data;

    ngx_uint_t  i;

    if (w->rc == NGX_IOT_OK) {
        for (i = 0; i < de->n; i++) {
            ngx_iot_metrics_downlink((ngx_cycle_t *) ngx_cycle,
                                     de->rows[i].transport,
                                     NGX_IOT_DOWNLINK_EXPIRED);
            ngx_iot_downlink_announce((ngx_cycle_t *) ngx_cycle,
                                      &de->rows[i]);
        }

        if (de->n) {
            ngx_log_error(NGX_LOG_INFO, w->log, 0,
                          "iot downlink: %ui waiting downlinks expired",
                          de->n);
        }
    }

    ngx_iot_downlink_sweeping = 0;

    ngx_destroy_pool(de->pool);
}
