
/*
 * Copyright (C) nginx-iot authors
 *
 * Uplink: a message from a device enters the core, whichever transport
 * brought it, by the device's address or, when the transport has
 * identified the device itself (a DTLS identity), by the device.
 */


#ifndef _NGX_IOT_UPLINK_H_INCLUDED_
#define _NGX_IOT_UPLINK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_message.h"
#include "ngx_iot_registry.h"


/*
 * From the device that has the address sa (IPv4 or IPv6) now: NGX_IOT_OK,
 * NGX_IOT_NOT_FOUND (no device has it; counted).  The transport fills m's
 * transport, ports and payload; the core its ids and time.
 */
ngx_iot_rc_e ngx_iot_uplink_from(ngx_cycle_t *cycle, struct sockaddr *sa,
    ngx_iot_message_t *m, ngx_pool_t *pool, ngx_log_t *log);

/*
 * For a transport that acknowledges (CoAP, SenML over HTTP): from the
 * device with this id (not 0) or else the address sa.  NGX_IOT_QUEUED:
 * the wait's handler is called once the message is in the history (rc
 * NGX_IOT_OK) or could not be recorded; NGX_IOT_NOT_FOUND;
 * NGX_IOT_STORE_ERROR (not recorded, though delivered live).
 */
ngx_iot_rc_e ngx_iot_uplink_durable(ngx_cycle_t *cycle, struct sockaddr *sa,
    uint64_t device_id, ngx_iot_message_t *m, ngx_pool_t *pool,
    ngx_log_t *log, ngx_iot_wait_t *wait);


#endif /* _NGX_IOT_UPLINK_H_INCLUDED_ */
