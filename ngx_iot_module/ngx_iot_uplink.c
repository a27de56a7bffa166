
/*
 * Copyright (C) nginx-iot authors
 *
 * An uplink message, whichever transport brought it: attributed to its
 * device, then handed as it is to the bus (every live subscriber in every
 * worker renders it in its own dialect) and to the history.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_bus.h"
#include "ngx_iot_session.h"
#include "ngx_iot_uplink.h"
#include "ngx_iot_iotda.h"


static ngx_iot_rc_e ngx_iot_uplink(ngx_cycle_t *cycle, ngx_iot_rc_e found,
    ngx_iot_device_t *d, ngx_iot_message_t *m, ngx_log_t *log,
    ngx_iot_wait_t *wait);


ngx_iot_rc_e
ngx_iot_uplink_from(ngx_cycle_t *cycle, struct sockaddr *sa,
    ngx_iot_message_t *m, ngx_pool_t *pool, ngx_log_t *log)
{
    ngx_iot_rc_e         rc;
    ngx_iot_device_t     d;
    struct sockaddr_in  *sin;

    switch (sa->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        rc = ngx_iot_session_device(cycle, ntohl(sin->sin_addr.s_addr), pool,
                                    &d);
        break;

    default:
        /*
         * an IPv6 address (or another family): the address map holds what
         * RADIUS hands out, IPv4 addresses (Framed-IPv6-Prefix is not
         * handled yet), so no device has it
         */
        rc = NGX_IOT_NOT_FOUND;
        break;
    }

    return ngx_iot_uplink(cycle, rc, &d, m, log, NULL);
}


ngx_iot_rc_e
ngx_iot_uplink_durable(ngx_cycle_t *cycle, struct sockaddr *sa,
    uint64_t device_id, ngx_iot_message_t *m, ngx_pool_t *pool,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_rc_e         rc;
    ngx_iot_device_t     d;
    struct sockaddr_in  *sin;

    if (device_id) {
        rc = ngx_iot_device_get(cycle, device_id, 0, pool, &d);

    } else if (sa->sa_family == AF_INET) {
        sin = (struct sockaddr_in *) sa;
        rc = ngx_iot_session_device(cycle, ntohl(sin->sin_addr.s_addr), pool,
                                    &d);

    } else {
        rc = NGX_IOT_NOT_FOUND;
    }

    rc = ngx_iot_uplink(cycle, rc, &d, m, log, wait);

    return (rc == NGX_IOT_OK) ? NGX_IOT_QUEUED : rc;
}


/* the device found (or not): the message goes to the bus and the history */

static ngx_iot_rc_e
ngx_iot_uplink(ngx_cycle_t *cycle, ngx_iot_rc_e found, ngx_iot_device_t *d,
    ngx_iot_message_t *m, ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf(cycle);

    /* a frozen device (the iotda dialect's) is not heard */

    if (found == NGX_IOT_OK && ngx_iot_iotda_frozen(cycle, d->id.key)) {
        found = NGX_IOT_NOT_FOUND;
    }

    if (found != NGX_IOT_OK) {
        (void) ngx_atomic_fetch_add(&ngx_iot_zone_ctx(cycle)->sh->unknown, 1);
        return found;
    }

    m->device_id = d->id.key;
    m->collection_id = d->collection_id;
    m->received = ngx_iot_now_ms();

    (void) ngx_atomic_fetch_add(&ngx_iot_zone_ctx(cycle)->sh->received, 1);

    if (m->transport < NGX_IOT_METRICS_TRANSPORTS) {
        ngx_iot_metrics_count(
            ngx_iot_zone_ctx(cycle)->sh->metrics.uplinks[m->transport]);
    }

    if (icf->bus) {
        (void) ngx_iot_bus_publish(icf->bus, m);
    }

    /* delivered live either way; the history logs its own trouble */

    if (ngx_iot_history_add_wait(cycle, m, wait, log) != NGX_OK) {
        (void) ngx_atomic_fetch_add(&ngx_iot_zone_ctx(cycle)->sh->unrecorded,
                                    1);

        /* one who waits hears that it is not recorded */
        return wait ? NGX_IOT_STORE_ERROR : NGX_IOT_OK;
    }

    /* a property report of a device of the iotda dialect: its shadow */

    ngx_iot_iotda_report(cycle, m, log);

    return NGX_IOT_OK;
}
