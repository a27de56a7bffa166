
/*
 * Copyright (C) nginx-iot authors
 *
 * Metrics in the Prometheus text format (version 0.0.4), for every worker
 * together: the counters the core keeps in the zone (ngx_iot_metrics_sh_t,
 * described by one table in ngx_iot_metrics.c), what the zone holds, and
 * what other parts of the module add as sources (the RADIUS counters of the
 * stream part).  Counters are atomics, read without the zone's lock.
 *
 * To add a series:
 *   - a counter of the core: an ngx_atomic_t in ngx_iot_metrics_sh_t (or
 *     anywhere in ngx_iot_sh_t), counted with ngx_iot_metrics_count(), and
 *     one line in ngx_iot_metrics_table[] (name, type, help, labels);
 *   - a value of each worker: one NGX_IOT_WORKER_* below and one line in
 *     ngx_iot_metrics_worker_values[]; set it with ngx_iot_metrics_worker();
 *   - anything another module keeps: ngx_iot_metrics_add_source() at
 *     configuration, with a function that writes its families through
 *     ngx_iot_metrics_family() and ngx_iot_metrics_sample().
 */


#ifndef _NGX_IOT_METRICS_H_INCLUDED_
#define _NGX_IOT_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

/* included by ngx_iot_zone.h: ngx_iot.h comes first */


/* the uplink transports (NGX_IOT_TRANSPORT_* of ngx_iot_message.h) */
#define NGX_IOT_METRICS_TRANSPORTS     4

/* the downlink states (ngx_iot_downlink_state_e) */
#define NGX_IOT_METRICS_DOWNLINK_STATES  5

/* the output types (NGX_IOT_OUTPUT_* of ngx_iot_outputs.h) */
#define NGX_IOT_METRICS_OUTPUTS        5

/* workers that report values of their own at the same time */
#define NGX_IOT_METRICS_WORKERS        64


/* what each worker reports of itself */
typedef enum {
    NGX_IOT_WORKER_STREAMS = 0,       /* its open WebSocket streams */
    NGX_IOT_WORKER_VALUES
} ngx_iot_worker_value_e;


/* why a WebSocket handshake was refused for a limit */
typedef enum {
    NGX_IOT_WS_REFUSED_TOKEN = 0,
    NGX_IOT_WS_REFUSED_COLLECTION,
    NGX_IOT_WS_REFUSED_WORKER,
    NGX_IOT_WS_REFUSED_ZONE,
    NGX_IOT_WS_REFUSED_REASONS
} ngx_iot_ws_refused_e;


typedef struct {
    ngx_atomic_t               pid;       /* 0: free */
    ngx_atomic_t               value[NGX_IOT_WORKER_VALUES];
} ngx_iot_metrics_worker_t;


/* in the zone's root (ngx_iot_sh_t): the core's counters */
typedef struct {
    ngx_atomic_t               uplinks[NGX_IOT_METRICS_TRANSPORTS];
    ngx_atomic_t               downlinks[NGX_IOT_DOWNLINK_TRANSPORTS]
                                        [NGX_IOT_METRICS_DOWNLINK_STATES];
    ngx_atomic_t               ws_refused[NGX_IOT_WS_REFUSED_REASONS];
    ngx_atomic_t               ws_opened;
    ngx_atomic_t               outputs_forwarded[NGX_IOT_METRICS_OUTPUTS];
    ngx_atomic_t               outputs_dropped[NGX_IOT_METRICS_OUTPUTS];
    ngx_atomic_t               outputs_errors[NGX_IOT_METRICS_OUTPUTS];
    ngx_iot_metrics_worker_t   workers[NGX_IOT_METRICS_WORKERS];
} ngx_iot_metrics_sh_t;


typedef struct ngx_iot_metrics_s  ngx_iot_metrics_t;

/* a source writes its families: NGX_OK or NGX_ERROR (no memory) */
typedef ngx_int_t (*ngx_iot_metrics_pt)(ngx_iot_metrics_t *m, void *data);


/* at configuration (any module): a source of series of its own */
ngx_int_t ngx_iot_metrics_add_source(ngx_cycle_t *cycle,
    ngx_iot_metrics_pt handler, void *data);

/* the whole text, in pool: a chain of buffers; NULL on failure */
ngx_chain_t *ngx_iot_metrics_text(ngx_cycle_t *cycle, ngx_pool_t *pool);

/*
 * A family's # HELP and # TYPE lines ("counter", "gauge"); then its
 * samples: labels is empty or the text between the braces, already
 * escaped (label values of ours never need escaping but a pid's digits).
 */
ngx_int_t ngx_iot_metrics_family(ngx_iot_metrics_t *m, const char *name,
    const char *type, const char *help);
ngx_int_t ngx_iot_metrics_sample(ngx_iot_metrics_t *m, const char *name,
    const char *labels, uint64_t value);

/* counters of the core: +1 */
#define ngx_iot_metrics_count(counter)                                       \
    (void) ngx_atomic_fetch_add(&(counter), 1)

/* a downlink's state, noted each time one takes it (ngx_iot_downlink.c) */
void ngx_iot_metrics_downlink(ngx_cycle_t *cycle, ngx_uint_t transport,
    ngx_uint_t state);

/* this worker's place among the workers, at its start and its exit */
void ngx_iot_metrics_init_process(ngx_cycle_t *cycle);
void ngx_iot_metrics_exit_process(ngx_cycle_t *cycle);

/* one of this worker's own values, set (no-op before its start) */
void ngx_iot_metrics_worker(ngx_iot_worker_value_e what, ngx_uint_t value);


#endif /* _NGX_IOT_METRICS_H_INCLUDED_ */
