
/*
 * Copyright (C) nginx-iot authors
 *
 * The message bus: every uplink message, whichever worker received it,
 * reaches the subscribers in every worker, each once, in order.  The bus
 * carries the message itself (ngx_iot_message_t); a subscriber names the
 * renderer of its dialect, and each worker renders a message once per
 * renderer, however many of its subscribers use it.
 */


#ifndef _NGX_IOT_BUS_H_INCLUDED_
#define _NGX_IOT_BUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_message.h"


typedef struct ngx_iot_subscriber_s  ngx_iot_subscriber_t;

/*
 * One data message, as the subscriber's renderer made it; the text lives
 * until deliver returns.
 */
typedef void (*ngx_iot_deliver_pt)(ngx_iot_subscriber_t *s, ngx_str_t *text);

/*
 * This worker fell so far behind the bus that messages were lost for its
 * subscribers: each is told once and should close its stream.
 */
typedef void (*ngx_iot_lost_pt)(ngx_iot_subscriber_t *s);


struct ngx_iot_subscriber_s {
    ngx_queue_t                queue;          /* the bus's */
    uint64_t                   collection_id;
    uint64_t                   device_id;      /* 0: the whole collection */
    ngx_iot_render_pt          render;
    ngx_iot_render_pt          render_downlink;   /* NULL: not wanted */
    ngx_iot_deliver_pt         deliver;
    ngx_iot_lost_pt            lost;
    void                      *data;
};


/*
 * Something that live streams depend on has changed (a token): every
 * worker runs its revised handler, this one's at once, the others' when
 * the bus wakes them.
 */
typedef void (*ngx_iot_bus_revised_pt)(void);

void ngx_iot_bus_revise(void);
void ngx_iot_bus_on_revise(ngx_iot_bus_revised_pt handler);


/*
 * The caller fills collection_id, device_id, render, render_downlink,
 * deliver, lost, data.
 */
void ngx_iot_bus_subscribe(ngx_iot_subscriber_t *s);
void ngx_iot_bus_unsubscribe(ngx_iot_subscriber_t *s);

/*
 * Hands m to every subscriber of its collection in every worker, this
 * one's first; NGX_DECLINED: too large for the ring, not published.
 */
ngx_int_t ngx_iot_bus_publish(ngx_iot_bus_local_t *bl, ngx_iot_message_t *m);

/* the ring's size, the bytes its records take, messages published */
void ngx_iot_bus_usage(ngx_iot_bus_t *bus, uint64_t *size, uint64_t *used,
    uint64_t *published);


#endif /* _NGX_IOT_BUS_H_INCLUDED_ */
