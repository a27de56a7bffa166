
/*
 * Copyright (C) nginx-iot authors
 *
 * What the store keeps for the iotda dialect (ngx_iot_store_iotda.c):
 * its messages (a downlink's message_id and fields), its commands (a
 * downlink's command_id and fields) and access keys made like Huawei
 * IAM's permanent access keys.  Rows handed out point into
 * the store's memory until the handler returns, as every row does.
 */


#ifndef _NGX_IOT_STORE_IOTDA_H_INCLUDED_
#define _NGX_IOT_STORE_IOTDA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_downlink.h"


/* a message: its downlink (state, times, payload) and what iotda kept */
typedef struct {
    ngx_iot_downlink_row_t     dl;
    ngx_str_t                  message_id;
    ngx_str_t                  fields;        /* a JSON object's text */
} ngx_iot_store_message_t;


/* an access key; the secret is read only to check a signature */
typedef struct {
    ngx_str_t                  ak;
    uint64_t                   team_id;
    ngx_str_t                  sk;
    ngx_uint_t                 write;
    ngx_str_t                  description;
    uint64_t                   created_at;    /* ms */
} ngx_iot_store_access_key_t;


/* in a write: the message of downlink row dl (its id set) */
ngx_int_t ngx_iot_store_message_add(ngx_iot_store_t *store,
    ngx_iot_downlink_row_t *dl, ngx_str_t *message_id, ngx_str_t *fields,
    ngx_log_t *log);

/* in a write: the command of downlink row dl (its id set) */
ngx_int_t ngx_iot_store_command_add(ngx_iot_store_t *store,
    ngx_iot_downlink_row_t *dl, ngx_str_t *command_id, ngx_str_t *fields,
    ngx_log_t *log);

/* device's message: NGX_OK (given to handler), NGX_DECLINED, NGX_ERROR */
ngx_int_t ngx_iot_store_message_find(ngx_iot_store_t *store,
    uint64_t device, ngx_str_t *message_id, ngx_iot_store_row_pt handler,
    void *data, ngx_log_t *log);

/* every message of the device, newest first: NGX_OK or NGX_ERROR */
ngx_int_t ngx_iot_store_messages(ngx_iot_store_t *store, uint64_t device,
    ngx_iot_store_row_pt handler, void *data, ngx_log_t *log);

/* in a write */
ngx_int_t ngx_iot_store_access_key_put(ngx_iot_store_t *store,
    ngx_iot_store_access_key_t *k, ngx_log_t *log);
ngx_int_t ngx_iot_store_access_key_delete(ngx_iot_store_t *store,
    ngx_str_t *ak, ngx_uint_t *deleted, ngx_log_t *log);

/* NGX_OK (given to handler), NGX_DECLINED: none, NGX_ERROR */
ngx_int_t ngx_iot_store_access_key_find(ngx_iot_store_t *store,
    ngx_str_t *ak, ngx_iot_store_row_pt handler, void *data,
    ngx_log_t *log);

/* the keys of a team, by AK: NGX_OK or NGX_ERROR */
ngx_int_t ngx_iot_store_access_keys(ngx_iot_store_t *store,
    uint64_t team_id, ngx_iot_store_row_pt handler, void *data,
    ngx_log_t *log);


#endif /* _NGX_IOT_STORE_IOTDA_H_INCLUDED_ */
