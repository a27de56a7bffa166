
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


ngx_iot_rc_e
ngx_iot_uplink(ngx_cycle_t *cycle, in_addr_t addr, ngx_iot_message_t *m,
    ngx_pool_t *pool, ngx_log_t *log)
{
    ngx_iot_rc_e       rc;
    ngx_iot_conf_t    *icf;
    ngx_iot_device_t   d;

    icf = ngx_iot_get_conf(cycle);

    rc = ngx_iot_session_device(cycle, addr, pool, &d);

    if (rc != NGX_IOT_OK) {
        (void) ngx_atomic_fetch_add(&ngx_iot_zone_ctx(cycle)->sh->unknown, 1);
        return rc;
    }

    m->device_id = d.id.key;
    m->collection_id = d.collection_id;
    m->received = ngx_iot_now_ms();

    (void) ngx_atomic_fetch_add(&ngx_iot_zone_ctx(cycle)->sh->received, 1);

    if (icf->bus) {
        (void) ngx_iot_bus_publish(icf->bus, m);
    }

    /* delivered live either way; the history logs its own trouble */

    if (ngx_iot_history_add(cycle, m, log) != NGX_OK) {
        (void) ngx_atomic_fetch_add(&ngx_iot_zone_ctx(cycle)->sh->unrecorded,
                                    1);
    }

    return NGX_IOT_OK;
}
