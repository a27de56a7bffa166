
/*
 * Copyright (C) nginx-iot authors
 *
 * The store: the data of record, behind typed calls (docs/store.md).  A
 * connection belongs to one process, or to one thread task at a time.
 */


#ifndef _NGX_IOT_STORE_H_INCLUDED_
#define _NGX_IOT_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"


ngx_iot_store_t *ngx_iot_store_open(ngx_str_t *path, ngx_uint_t sync,
    ngx_log_t *log);
void ngx_iot_store_close(ngx_iot_store_t *store);
ngx_int_t ngx_iot_store_migrate(ngx_iot_store_t *store, ngx_uint_t history,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_team(ngx_iot_store_t *store, uint64_t *team_id,
    ngx_log_t *log);
ngx_int_t ngx_iot_store_checkpoint(ngx_iot_store_t *store, ngx_log_t *log);

/* this process's connection to the registry's store (ngx_iot_module.c) */
ngx_iot_store_t *ngx_iot_store_get(ngx_cycle_t *cycle, ngx_log_t *log);


#endif /* _NGX_IOT_STORE_H_INCLUDED_ */
