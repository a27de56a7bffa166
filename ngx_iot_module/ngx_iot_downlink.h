
/*
 * Copyright (C) nginx-iot authors
 *
 * Downlink: a message to a device, by one of the transports the core
 * knows.  A transport's module registers its sender (the stream module
 * the UDP one; the CoAP link coap-push and coap-pull); dialects name the
 * transport and call ngx_iot_downlink(), and know nothing of sockets.
 */


#ifndef _NGX_IOT_DOWNLINK_H_INCLUDED_
#define _NGX_IOT_DOWNLINK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"


typedef enum {
    NGX_IOT_DOWNLINK_UDP = 0,
    NGX_IOT_DOWNLINK_COAP_PUSH,
    NGX_IOT_DOWNLINK_COAP_PULL,
    NGX_IOT_DOWNLINK_LAST = NGX_IOT_DOWNLINK_TRANSPORTS
} ngx_iot_downlink_e;


/* one message to a device */
typedef struct {
    ngx_uint_t                 port;      /* the device's */
    ngx_str_t                  payload;
} ngx_iot_downlink_t;


/*
 * A transport's sender: NGX_IOT_OK, NGX_IOT_NO_ADDRESS (the device cannot
 * be reached by it), NGX_IOT_UNAVAILABLE (nothing to send from) or
 * NGX_IOT_SEND_FAILED.
 */
typedef ngx_iot_rc_e (*ngx_iot_downlink_send_pt)(ngx_cycle_t *cycle,
    ngx_iot_device_t *d, ngx_iot_downlink_t *m, ngx_log_t *log);

/* NGX_IOT_OK when the transport can send now, else NGX_IOT_UNAVAILABLE */
typedef ngx_iot_rc_e (*ngx_iot_downlink_ready_pt)(ngx_cycle_t *cycle);


struct ngx_iot_downlink_sender_s {
    ngx_iot_downlink_send_pt   send;
    ngx_iot_downlink_ready_pt  ready;
};


/* "udp", "coap-push", "coap-pull": the transport, or NGX_ERROR */
ngx_int_t ngx_iot_downlink_transport(ngx_str_t *name);

/* at configuration: the module of a transport gives its sender */
void ngx_iot_downlink_register(ngx_cycle_t *cycle,
    ngx_iot_downlink_e transport, ngx_iot_downlink_sender_t *sender);

/*
 * NGX_IOT_OK: the transport can send; NGX_IOT_NO_TRANSPORT: no module
 * gives it in this server; NGX_IOT_UNAVAILABLE: it has nothing to send
 * from (its listener is not configured).
 */
ngx_iot_rc_e ngx_iot_downlink_ready(ngx_cycle_t *cycle,
    ngx_iot_downlink_e transport);

/* the message to the device: the sender's answer, or NGX_IOT_NO_TRANSPORT */
ngx_iot_rc_e ngx_iot_downlink(ngx_cycle_t *cycle, ngx_iot_device_t *d,
    ngx_iot_downlink_e transport, ngx_iot_downlink_t *m, ngx_log_t *log);


#endif /* _NGX_IOT_DOWNLINK_H_INCLUDED_ */
