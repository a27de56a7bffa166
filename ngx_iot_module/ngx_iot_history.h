
/*
 * Copyright (C) nginx-iot authors
 *
 * The history of uplink messages, written in batches by a thread
 * (ngx_iot_history.c).
 */


#ifndef _NGX_IOT_HISTORY_H_INCLUDED_
#define _NGX_IOT_HISTORY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"


ngx_int_t ngx_iot_history_path(ngx_pool_t *pool, ngx_str_t *store,
    ngx_str_t *path);
ngx_int_t ngx_iot_history_init_process(ngx_cycle_t *cycle,
    ngx_iot_conf_t *icf);
void ngx_iot_history_exit_process(ngx_iot_history_t *h);
ngx_int_t ngx_iot_history_add(ngx_cycle_t *cycle, ngx_iot_message_t *m,
    ngx_log_t *log);

/*
 * The same, and wait's handler is called on the event loop once the
 * message is in the history (rc NGX_IOT_OK) or was given up
 * (NGX_IOT_STORE_ERROR); not called if the worker exits first.
 */
ngx_int_t ngx_iot_history_add_wait(ngx_cycle_t *cycle, ngx_iot_message_t *m,
    struct ngx_iot_wait_s *wait, ngx_log_t *log);

/* this worker's connection for reading the history */
ngx_iot_store_t *ngx_iot_history_reader(ngx_cycle_t *cycle, ngx_log_t *log);


#endif /* _NGX_IOT_HISTORY_H_INCLUDED_ */
