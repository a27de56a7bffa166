
/*
 * Copyright (C) nginx-iot authors
 *
 * An uplink data message, as the core knows it: no dialect's format.  The
 * bus carries it between workers and each subscriber renders it in its
 * own dialect; the history stores it.  The bus carries downlinks' changes
 * of state the same way (kind NGX_IOT_MESSAGE_DOWNLINK), for the live
 * streams only.
 */


#ifndef _NGX_IOT_MESSAGE_H_INCLUDED_
#define _NGX_IOT_MESSAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_IOT_TRANSPORT_UDP      1
#define NGX_IOT_TRANSPORT_COAP     2
#define NGX_IOT_TRANSPORT_HTTP     3      /* SenML over HTTP (things) */

#define NGX_IOT_PAYLOAD_MAX        2048

#define NGX_IOT_MESSAGE_DATA       0
#define NGX_IOT_MESSAGE_DOWNLINK   1      /* a downlink's new state */


typedef struct {
    uint64_t                   id;            /* in the history */
    uint64_t                   device_id;
    uint64_t                   collection_id;
    uint64_t                   received;      /* ms since the epoch */
    ngx_uint_t                 transport;
    ngx_uint_t                 local_port;
    ngx_uint_t                 remote_port;
    ngx_str_t                  coap_method;
    ngx_str_t                  coap_path;
    ngx_str_t                  payload;

    /*
     * A downlink (kind NGX_IOT_MESSAGE_DOWNLINK): id is the downlink's,
     * received its time of update, transport its ngx_iot_downlink_e,
     * remote_port the device's port, coap_path its path (coap-push).
     */
    ngx_uint_t                 kind;
    ngx_uint_t                 state;         /* ngx_iot_downlink_state_e */
    ngx_uint_t                 reason;        /* ngx_iot_downlink_reason_e */
    uint64_t                   created;       /* ms */
} ngx_iot_message_t;


/*
 * A dialect's rendering of a message, for its live streams: the text in
 * out, allocated from pool (which lives as long as the delivery of this
 * one message).  NGX_OK, or NGX_ERROR: nothing to send.
 */
typedef ngx_int_t (*ngx_iot_render_pt)(ngx_iot_message_t *m,
    ngx_pool_t *pool, ngx_str_t *out);


#endif /* _NGX_IOT_MESSAGE_H_INCLUDED_ */
