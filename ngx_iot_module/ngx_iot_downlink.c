
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
#include "ngx_iot_downlink.h"


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
        return ngx_iot_write(cycle, &dw->w);
    }

    b->wait = wait;
    dw->w.pool = wait->pool;
    dw->w.done = ngx_iot_downlink_kept;
    dw->w.done_data = dw;

    rc = ngx_iot_write_post(cycle, &dw->w);

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

    wait = dw->batch->wait;
    wait->rc = w->rc;
    wait->handler(wait);
}


ngx_iot_rc_e
ngx_iot_downlink_settle(ngx_cycle_t *cycle, uint64_t id, uint64_t device,
    ngx_uint_t transport, ngx_uint_t state, ngx_uint_t reason, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_rc_e                rc;
    ngx_iot_downlink_settle_t  *ds, here;

    if (wait) {
        ds = ngx_pcalloc(wait->pool, sizeof(ngx_iot_downlink_settle_t));
        if (ds == NULL) {
            return NGX_IOT_STORE_ERROR;
        }

    } else {
        ngx_memzero(&here, sizeof(ngx_iot_downlink_settle_t));
        ds = &here;
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
        rc = ngx_iot_write(cycle, &ds->w);
        return ngx_iot_downlink_settle_count(ds, rc);
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


/* the write's answer: a downlink that took its state is counted */

static ngx_iot_rc_e
ngx_iot_downlink_settle_count(ngx_iot_downlink_settle_t *ds, ngx_iot_rc_e rc)
{
    if (rc != NGX_IOT_OK) {
        return rc;
    }

    if (ds->found == NGX_IOT_OK) {
        ngx_iot_metrics_downlink(ds->cycle, ds->transport, ds->state);
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

    return rc;
}


static void
ngx_iot_downlink_settled(ngx_iot_write_t *w)
{
    ngx_iot_downlink_settle_t  *ds = w->done_data;

    ds->wait->rc = ngx_iot_downlink_settle_count(ds, w->rc);
    ds->wait->handler(ds->wait);
}
