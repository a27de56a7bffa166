
/*
 * Copyright (C) nginx-iot authors
 *
 * Outputs: a collection's data messages forwarded to a webhook, a UDP
 * address, an MQTT broker or IFTTT (docs/outputs.md).
 *
 *   ngx_iot_outputs.c          outputs in the registry: configs checked,
 *                              made, changed, deleted (registry writes)
 *   ngx_iot_outputs_deliver.c  the delivering worker: elected by a lock,
 *                              reads each output's messages from the
 *                              history after its cursor, retries, drops
 *   ngx_iot_outputs_send.c     the protocols (libcurl, libmosquitto, UDP),
 *                              run in nginx's thread pool
 *   ngx_iot_store_outputs.c    their rows, state and logs in the store
 */


#ifndef _NGX_IOT_OUTPUTS_H_INCLUDED_
#define _NGX_IOT_OUTPUTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_registry.h"


#define NGX_IOT_OUTPUT_WEBHOOK     1
#define NGX_IOT_OUTPUT_UDP         2
#define NGX_IOT_OUTPUT_MQTT        3
#define NGX_IOT_OUTPUT_IFTTT       4

/* a config's JSON text, at most */
#define NGX_IOT_OUTPUT_CONFIG_MAX  8192

/* log entries an output keeps */
#define NGX_IOT_OUTPUT_LOGS        20


typedef struct {
    uint64_t                   id;
    uint64_t                   collection_id;
    ngx_uint_t                 type;          /* NGX_IOT_OUTPUT_* */
    ngx_uint_t                 enabled;
    ngx_str_t                  config;        /* JSON text, with secrets */
    ngx_str_t                  tags;          /* JSON text */
    uint64_t                   since;         /* ms: made or enabled */
    uint64_t                   revision;      /* any change: another */
} ngx_iot_output_t;


/* where an output is, in the history's file */
typedef struct {
    uint64_t                   output_id;
    uint64_t                   since;         /* of the output it follows */
    uint64_t                   cursor;        /* last message taken */
    uint64_t                   received;
    uint64_t                   forwarded;
    uint64_t                   errors;
    uint64_t                   retries;
    uint64_t                   dropped;
} ngx_iot_output_state_t;


typedef struct {
    uint64_t                   time;          /* ms */
    ngx_str_t                  message;
    ngx_uint_t                 repeated;
} ngx_iot_output_log_t;


/* ngx_iot_outputs.c */

ngx_uint_t ngx_iot_output_type(ngx_str_t *name);
const char *ngx_iot_output_type_name(ngx_uint_t type);

/*
 * A config of type, checked for its form and normalized into out (the
 * secrets of old kept where the new one leaves them out or repeats the
 * mask); NGX_DECLINED and err naming the field when it is not valid.
 */
ngx_int_t ngx_iot_output_config(ngx_uint_t type, json_t *config,
    ngx_str_t *old, ngx_pool_t *pool, ngx_str_t *out, const char **err);
/* the config as answers show it: secrets masked */
ngx_int_t ngx_iot_output_config_shown(ngx_str_t *config, ngx_pool_t *pool,
    ngx_str_t *out);

/* NGX_IOT_NOT_FOUND: no such output in collection cid */
ngx_iot_rc_e ngx_iot_output_get(ngx_cycle_t *cycle, uint64_t cid,
    uint64_t oid, ngx_pool_t *pool, ngx_iot_output_t *out);

typedef ngx_int_t (*ngx_iot_output_pt)(ngx_iot_output_t *o, void *data);

ngx_iot_rc_e ngx_iot_output_list(ngx_cycle_t *cycle, uint64_t cid,
    ngx_iot_output_pt handler, void *data, ngx_log_t *log);

/*
 * Writes (the row complete: config checked, revision and since set by
 * update's caller; create sets id, since and revision), answered through
 * wait once durable.
 */
ngx_iot_rc_e ngx_iot_output_create(ngx_cycle_t *cycle, ngx_iot_output_t *o,
    ngx_log_t *log, ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_output_update(ngx_cycle_t *cycle, ngx_iot_output_t *o,
    ngx_log_t *log, ngx_iot_wait_t *wait);
ngx_iot_rc_e ngx_iot_output_delete(ngx_cycle_t *cycle, uint64_t cid,
    uint64_t oid, ngx_log_t *log, ngx_iot_wait_t *wait);

/* status and logs, from the history's file: NGX_DECLINED: none yet */
ngx_int_t ngx_iot_output_status(ngx_cycle_t *cycle, uint64_t oid,
    ngx_iot_output_state_t *state, ngx_log_t *log);

typedef ngx_int_t (*ngx_iot_output_log_pt)(ngx_iot_output_log_t *l,
    void *data);

ngx_int_t ngx_iot_output_logs(ngx_cycle_t *cycle, uint64_t oid,
    ngx_iot_output_log_pt handler, void *data, ngx_log_t *log);


/* ngx_iot_outputs_deliver.c */

/* how a dialect renders a data message for outputs (the collections') */
void ngx_iot_outputs_renderer(ngx_iot_render_pt render);
ngx_int_t ngx_iot_outputs_init_process(ngx_cycle_t *cycle);
void ngx_iot_outputs_exit_process(ngx_cycle_t *cycle);


/* ngx_iot_store_outputs.c: the registry's rows */

typedef ngx_int_t (*ngx_iot_store_output_pt)(ngx_iot_output_t *o,
    void *data);

/* NGX_OK and the row to handler, NGX_DECLINED: none, NGX_ERROR */
ngx_int_t ngx_iot_store_output_get(ngx_iot_store_t *store, uint64_t id,
    ngx_iot_store_output_pt handler, void *data, ngx_log_t *log);
/* the outputs of collection cid (0: all), by id */
ngx_int_t ngx_iot_store_output_list(ngx_iot_store_t *store, uint64_t cid,
    ngx_iot_store_output_pt handler, void *data, ngx_log_t *log);
ngx_int_t ngx_iot_store_output_put(ngx_iot_store_t *store,
    ngx_iot_output_t *o, ngx_uint_t fresh, ngx_log_t *log);
ngx_int_t ngx_iot_store_output_delete(ngx_iot_store_t *store, uint64_t id,
    ngx_log_t *log);

/* the history's file: state, logs, messages */
ngx_int_t ngx_iot_store_output_state(ngx_iot_store_t *store, uint64_t oid,
    ngx_iot_output_state_t *state, ngx_log_t *log);
ngx_int_t ngx_iot_store_output_state_put(ngx_iot_store_t *store,
    ngx_iot_output_state_t *state, ngx_log_t *log);
/* the last message id received before since (ms), 0: none */
ngx_int_t ngx_iot_store_output_start(ngx_iot_store_t *store, uint64_t since,
    uint64_t *cursor, ngx_log_t *log);
/*
 * How many messages of collection cid wait after *cursor; beyond keep, the
 * cursor moves past the oldest, *skipped says how many and *fresh how
 * many of them lie beyond counted (no round had read them).
 */
ngx_int_t ngx_iot_store_output_skip(ngx_iot_store_t *store, uint64_t cid,
    uint64_t *cursor, ngx_uint_t keep, uint64_t counted, ngx_uint_t *skipped,
    ngx_uint_t *fresh, ngx_log_t *log);
/* at most max messages of cid after cursor, by id, to handler */
ngx_int_t ngx_iot_store_output_messages(ngx_iot_store_t *store, uint64_t cid,
    uint64_t cursor, ngx_uint_t max, ngx_iot_store_row_pt handler,
    void *data, ngx_log_t *log);
/* an entry; the same message as the last one is counted as repeated */
ngx_int_t ngx_iot_store_output_log_add(ngx_iot_store_t *store, uint64_t oid,
    uint64_t time, ngx_str_t *message, ngx_log_t *log);
ngx_int_t ngx_iot_store_output_logs(ngx_iot_store_t *store, uint64_t oid,
    ngx_iot_output_log_pt handler, void *data, ngx_log_t *log);
/* the state and logs of an output that is gone */
ngx_int_t ngx_iot_store_output_forget(ngx_iot_store_t *store, uint64_t oid,
    ngx_log_t *log);


#endif /* _NGX_IOT_OUTPUTS_H_INCLUDED_ */
