
/*
 * Copyright (C) nginx-iot authors
 *
 * The core's downlink: the transports and their senders
 * (ngx_iot_downlink.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_downlink.h"


static ngx_str_t  ngx_iot_downlink_names[NGX_IOT_DOWNLINK_LAST] = {
    ngx_string("udp"),
    ngx_string("coap-push"),
    ngx_string("coap-pull")
};


ngx_int_t
ngx_iot_downlink_transport(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_DOWNLINK_LAST; i++) {
        if (name->len == ngx_iot_downlink_names[i].len
            && ngx_strncmp(name->data, ngx_iot_downlink_names[i].data,
                           name->len)
               == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


void
ngx_iot_downlink_register(ngx_cycle_t *cycle, ngx_iot_downlink_e transport,
    ngx_iot_downlink_sender_t *sender)
{
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf(cycle);

    if (icf) {
        icf->downlink[transport] = sender;
    }
}


ngx_iot_rc_e
ngx_iot_downlink_ready(ngx_cycle_t *cycle, ngx_iot_downlink_e transport)
{
    ngx_iot_conf_t             *icf;
    ngx_iot_downlink_sender_t  *sender;

    icf = ngx_iot_get_conf(cycle);
    sender = icf ? icf->downlink[transport] : NULL;

    if (sender == NULL) {
        return NGX_IOT_NO_TRANSPORT;
    }

    return sender->ready(cycle);
}


ngx_iot_rc_e
ngx_iot_downlink(ngx_cycle_t *cycle, ngx_iot_device_t *d,
    ngx_iot_downlink_e transport, ngx_iot_downlink_t *m, ngx_log_t *log)
{
    ngx_iot_conf_t             *icf;
    ngx_iot_downlink_sender_t  *sender;

    icf = ngx_iot_get_conf(cycle);
    sender = icf ? icf->downlink[transport] : NULL;

    if (sender == NULL) {
        return NGX_IOT_NO_TRANSPORT;
    }

    return sender->send(cycle, d, m, log);
}
