
/*
 * Copyright (C) nginx-iot authors
 *
 * The write sequence every registry write runs: take the writer lock,
 * check and prepare under the zone's lock (recording allocations in the
 * crash journal), write the store with the zone unlocked for readers,
 * update the zone once the store has the write, end the journal, unlock.
 *
 * Posted writes run it in nginx's thread pool, never on the event loop:
 * the writes a worker posts while a batch runs form the next batch, one
 * transaction for all of them (group commit), each write in a savepoint of
 * its own so that one that fails does not take the others with it.  Each
 * is answered once the transaction has committed.
 */


#ifndef _NGX_IOT_WRITE_H_INCLUDED_
#define _NGX_IOT_WRITE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"


typedef struct ngx_iot_write_s  ngx_iot_write_t;

typedef ngx_iot_rc_e (*ngx_iot_write_pt)(ngx_iot_write_t *w);
typedef ngx_int_t (*ngx_iot_write_store_pt)(ngx_iot_write_t *w);
typedef void (*ngx_iot_write_done_pt)(ngx_iot_write_t *w);


struct ngx_iot_write_s {
    /*
     * Under both locks: find what the write is about, decide (conflicts,
     * not found, ...), allocate the zone memory it needs with
     * ngx_iot_journal_alloc() and name the entities it changes with
     * ngx_iot_journal_note().  NGX_IOT_OK goes on; anything else is the
     * answer, and what was allocated is freed.  Setting w->unchanged
     * answers NGX_IOT_OK with nothing written.
     */
    ngx_iot_write_pt           check;

    /*
     * The store's part, with the zone unlocked (the writer mutex keeps
     * other writers out, readers go on and see the zone as it was), in a
     * transaction of the write sequence's: a lone write's own, or a
     * savepoint of its batch's.  NGX_OK or NGX_ERROR.
     */
    ngx_iot_write_store_pt     write;

    /* the zone's part, once the store has the write; the answer */
    ngx_iot_write_pt           apply;

    void                      *data;      /* the operation's */
    ngx_pool_t                *pool;      /* for the answer */
    ngx_log_t                 *log;

    /* a posted write: called on the event loop with the answer in rc */
    ngx_iot_write_done_pt      done;
    void                      *done_data;
    ngx_iot_rc_e               rc;
    ngx_queue_t                queue;

    /* set by ngx_iot_write() and the batch */
    ngx_iot_zone_ctx_t        *ctx;
    ngx_iot_store_t           *store;

    unsigned                   unchanged:1;
    unsigned                   applied:1;
};


/* the write, here and now: its answer */
ngx_iot_rc_e ngx_iot_write(ngx_cycle_t *cycle, ngx_iot_write_t *w);

/*
 * The write, in this worker's next batch: NGX_IOT_QUEUED, and w->done is
 * called with the answer once the batch has committed.  Without nginx's
 * threads it runs here and now and its answer is returned.
 */
ngx_iot_rc_e ngx_iot_write_post(ngx_cycle_t *cycle, ngx_iot_write_t *w);

ngx_int_t ngx_iot_writer_init_process(ngx_cycle_t *cycle,
    ngx_iot_conf_t *icf);
void ngx_iot_writer_exit_process(ngx_iot_conf_t *icf);


#endif /* _NGX_IOT_WRITE_H_INCLUDED_ */
