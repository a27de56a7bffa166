
/*
 * Copyright (C) nginx-iot authors
 *
 * Downlink: a message to a device, by one of the transports the core
 * knows.  A transport's module registers its sender (the stream module
 * the UDP one; the CoAP link coap-push and coap-pull); dialects name the
 * transport and call ngx_iot_downlink(), and know nothing of sockets.
 *
 * Every downlink is kept in the store with its state, for the dialects to
 * show: a dialect sends through a batch (one message, to one device or to
 * each device of a collection) and keeps the batch, which is answered once
 * the store has it (docs/dataplane.md, "Downlink state").
 */


#ifndef _NGX_IOT_DOWNLINK_H_INCLUDED_
#define _NGX_IOT_DOWNLINK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"
#include "ngx_iot_registry.h"


typedef enum {
    NGX_IOT_DOWNLINK_UDP = 0,
    NGX_IOT_DOWNLINK_COAP_PUSH,
    NGX_IOT_DOWNLINK_COAP_PULL,
    NGX_IOT_DOWNLINK_LAST = NGX_IOT_DOWNLINK_TRANSPORTS
} ngx_iot_downlink_e;


/* the store keeps these numbers: never renumber, only append */

typedef enum {
    NGX_IOT_DOWNLINK_QUEUED = 0,      /* waits for the device (coap-pull) */
    NGX_IOT_DOWNLINK_SENT = 1,        /* handed to the network */
    NGX_IOT_DOWNLINK_DELIVERED = 2,   /* the device acknowledged it */
    NGX_IOT_DOWNLINK_FAILED = 3,      /* the reason says why */
    NGX_IOT_DOWNLINK_EXPIRED = 4      /* not taken in time */
} ngx_iot_downlink_state_e;

typedef enum {
    NGX_IOT_DOWNLINK_NO_REASON = 0,
    NGX_IOT_DOWNLINK_NO_ADDRESS = 1,    /* the device cannot be reached */
    NGX_IOT_DOWNLINK_UNAVAILABLE = 2,   /* nothing to send from */
    NGX_IOT_DOWNLINK_SEND_FAILED = 3,   /* the network refused it */
    NGX_IOT_DOWNLINK_NO_TRANSPORT = 4,  /* not given by this server */
    NGX_IOT_DOWNLINK_QUEUE_FULL = 5,    /* coap-pull: too many wait */
    NGX_IOT_DOWNLINK_REFUSED = 6,       /* coap-push: the device said no */
    NGX_IOT_DOWNLINK_NO_ANSWER = 7      /* coap-push: nothing came back */
} ngx_iot_downlink_reason_e;


/* one message to a device */
typedef struct {
    ngx_uint_t                 port;      /* the device's */
    ngx_str_t                  payload;
    ngx_str_t                  coap_path;     /* coap-push */
    ngx_msec_t                 ttl;       /* a waiting one's, if ttl_set */
    unsigned                   ttl_set:1; /* else iot_downlink_ttl */
} ngx_iot_downlink_t;


/*
 * A transport's sender: NGX_IOT_OK, NGX_IOT_QUEUED (kept for the device
 * to take: the state is "queued" and the dialect hears NGX_IOT_OK),
 * NGX_IOT_NO_ADDRESS (the device cannot be reached by it),
 * NGX_IOT_UNAVAILABLE (nothing to send from), NGX_IOT_QUEUE_FULL or
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


/* a downlink as the store keeps it */
typedef struct {
    uint64_t                   id;        /* 0 until the store has it */
    uint64_t                   device;
    uint64_t                   collection;  /* the device's, when sent */
    ngx_uint_t                 transport;   /* ngx_iot_downlink_e */
    ngx_uint_t                 port;
    ngx_uint_t                 state;       /* ngx_iot_downlink_state_e */
    ngx_uint_t                 reason;      /* ngx_iot_downlink_reason_e */
    uint64_t                   created;     /* ms */
    uint64_t                   updated;     /* ms */
    ngx_str_t                  payload;
    ngx_str_t                  coap_path;   /* coap-push */
    uint64_t                   expires;     /* ms; 0: never (queued only) */
} ngx_iot_downlink_row_t;


typedef struct ngx_iot_downlink_batch_s  ngx_iot_downlink_batch_t;

/*
 * What a dialect keeps of its own beside the batch's rows (the iotda
 * dialect: a message's id and fields), written in the same transaction
 * once the rows have their ids.  NGX_OK or NGX_ERROR.
 */
typedef ngx_int_t (*ngx_iot_downlink_also_pt)(ngx_iot_store_t *store,
    ngx_iot_downlink_batch_t *b, ngx_log_t *log);

/* one message sent to one or more devices, until the store has it */
struct ngx_iot_downlink_batch_s {
    ngx_iot_downlink_e         transport;
    ngx_iot_downlink_t        *message;
    ngx_array_t                rows;      /* ngx_iot_downlink_row_t */
    ngx_iot_wait_t            *wait;
    ngx_iot_downlink_also_pt   also;      /* NULL: nothing more */
    void                      *also_data;
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

/* what the store's numbers mean, for the dialects' answers */
ngx_str_t *ngx_iot_downlink_transport_name(ngx_uint_t transport);
ngx_str_t *ngx_iot_downlink_state_name(ngx_uint_t state);
ngx_iot_rc_e ngx_iot_downlink_reason_rc(ngx_uint_t reason);

ngx_int_t ngx_iot_downlink_batch_init(ngx_iot_downlink_batch_t *b,
    ngx_pool_t *pool, ngx_iot_downlink_e transport, ngx_iot_downlink_t *m);

/*
 * The batch's message to the device, noted in the batch with its state:
 * the sender's answer, or NGX_IOT_NO_TRANSPORT; NGX_IOT_STORE_ERROR when
 * there is no memory to note it (nothing was sent then).
 */
ngx_iot_rc_e ngx_iot_downlink(ngx_cycle_t *cycle,
    ngx_iot_downlink_batch_t *b, ngx_iot_device_t *d, ngx_log_t *log);

/*
 * The batch into the store.  With a wait: NGX_IOT_QUEUED, and the wait's
 * handler is called once the store has it (rc NGX_IOT_OK) or could not
 * take it; else, or without a writer, the store's answer here and now.
 * The batch lives in the wait's pool until then.
 */
ngx_iot_rc_e ngx_iot_downlink_keep(ngx_cycle_t *cycle,
    ngx_iot_downlink_batch_t *b, ngx_log_t *log, ngx_iot_wait_t *wait);

/*
 * A queued downlink of the device (of that transport) has come to its end
 * (delivered, failed or expired), through the registry's writer:
 * NGX_IOT_QUEUED and the wait's handler later (rc NGX_IOT_OK, or
 * NGX_IOT_NOT_FOUND when it was no longer queued), or the answer here and
 * now without a wait.  A state taken is counted for the metrics.
 */
ngx_iot_rc_e ngx_iot_downlink_settle(ngx_cycle_t *cycle, uint64_t id,
    uint64_t device, ngx_uint_t transport, ngx_uint_t state,
    ngx_uint_t reason, ngx_log_t *log, ngx_iot_wait_t *wait);

/*
 * The downlink's state as row has it, to the live streams of its device
 * and collection in every worker (the bus: a message of kind
 * NGX_IOT_MESSAGE_DOWNLINK).  Keeping a batch and settling a downlink
 * announce their rows themselves once the store has them.
 */
void ngx_iot_downlink_announce(ngx_cycle_t *cycle,
    ngx_iot_downlink_row_t *row);


/*
 * In each worker: the first one makes waiting downlinks whose time is up
 * (row.expires: the message's ttl, else iot_downlink_ttl) "expired".
 */
void ngx_iot_downlink_init_process(ngx_cycle_t *cycle);


#endif /* _NGX_IOT_DOWNLINK_H_INCLUDED_ */
