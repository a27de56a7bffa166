
/*
 * Copyright (C) nginx-iot authors
 *
 * The protocols of outputs (ngx_iot_outputs_send.c): blocking calls of
 * libcurl and libmosquitto with bounded timeouts, and UDP, made only in a
 * thread of nginx's thread pool, one round of one output at a time.
 */


#ifndef _NGX_IOT_OUTPUTS_SEND_H_INCLUDED_
#define _NGX_IOT_OUTPUTS_SEND_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_outputs.h"


/*
 * The most messages of an MQTT round: all are published at once, then
 * their PUBACKs awaited (the library's window of in-flight messages)
 */
#define NGX_IOT_SEND_MQTT_BATCH    500


/* a message as an output sends it */
typedef struct {
    uint64_t                   id;
    ngx_str_t                  json;      /* the dialect's data message */
    ngx_str_t                  payload;
    u_char                     device[NGX_IOT_ID_LEN];
} ngx_iot_out_msg_t;


typedef struct {
    ngx_uint_t                 type;
    uint64_t                   output_id;
    json_t                    *config;
    ngx_uint_t                 private_ok;    /* private destinations */
    ngx_str_t                  ifttt;         /* the maker service's URL */
    ngx_str_t                  ca_file;       /* "": the system's */

    void                      *curl;
    void                      *mosq;
    ngx_uint_t                 connected;
    ngx_uint_t                 connack;       /* 1: accepted, 2: refused */
    ngx_uint_t                 acked;
    ngx_uint_t                 refused;       /* a private address */

    char                       error[512];
} ngx_iot_sender_t;


/* once per process, before any thread uses the libraries */
ngx_int_t ngx_iot_sender_global_init(ngx_log_t *log);
void ngx_iot_sender_global_cleanup(void);

/*
 * a sender for the row's config (parsed); NGX_ERROR: not valid.  ca_file:
 * the CA certificates trusted for https:// and ssl:// ("": the system's),
 * NUL-terminated
 */
ngx_int_t ngx_iot_sender_init(ngx_iot_sender_t *s, ngx_iot_output_t *row,
    ngx_uint_t private_ok, ngx_str_t *ifttt, ngx_str_t *ca_file);
/* closes its connections and frees what it holds */
void ngx_iot_sender_cleanup(ngx_iot_sender_t *s);

/*
 * Sends msgs[0..n) in order: how many went (a prefix), s->error says why
 * the rest did not.
 */
ngx_uint_t ngx_iot_sender_send(ngx_iot_sender_t *s, ngx_iot_out_msg_t *msgs,
    ngx_uint_t n, ngx_pool_t *pool, ngx_log_t *log);
/* between rounds: keeps a connection alive (MQTT pings) */
void ngx_iot_sender_idle(ngx_iot_sender_t *s);


#endif /* _NGX_IOT_OUTPUTS_SEND_H_INCLUDED_ */
