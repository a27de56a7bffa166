
/*
 * Copyright (C) nginx-iot authors
 *
 * The message bus: every uplink message, whichever worker received it,
 * reaches the subscribers in every worker, each once, in order.
 */


#ifndef _NGX_IOT_BUS_H_INCLUDED_
#define _NGX_IOT_BUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"


typedef struct ngx_iot_subscriber_s  ngx_iot_subscriber_t;

/* one data message, as JSON in the collections format */
typedef void (*ngx_iot_deliver_pt)(ngx_iot_subscriber_t *s, ngx_str_t *json);

/*
 * This worker fell so far behind the bus that messages were lost for its
 * subscribers: each is told once and should close its stream.
 */
typedef void (*ngx_iot_lost_pt)(ngx_iot_subscriber_t *s);


struct ngx_iot_subscriber_s {
    ngx_queue_t                queue;          /* the bus's */
    uint64_t                   collection_id;
    uint64_t                   device_id;      /* 0: the whole collection */
    ngx_iot_deliver_pt         deliver;
    ngx_iot_lost_pt            lost;
    void                      *data;
};


/* the caller fills collection_id, device_id, deliver, lost and data */
void ngx_iot_bus_subscribe(ngx_iot_subscriber_t *s);
void ngx_iot_bus_unsubscribe(ngx_iot_subscriber_t *s);


#endif /* _NGX_IOT_BUS_H_INCLUDED_ */
